//! One case, start to finish: bench up, steps with deadlines, teardown, verdict.
//!
//! The reader runs on a thread of its own; the engine hands it one stimulus at a time and
//! waits at most the step's deadline. A reader that overruns is abandoned (its thread ends
//! when its I/O deadlines fire) and the case ends in `error`; teardown always runs.

use super::ground_truth::FaceClaim;
use super::oracle::{self, Unjudgeable};
use super::verdict::{judge_case, Observed};
use crate::cards::LoadedCard;
use crate::channel::guard::{GuardedChannel, Policy, RunSecret};
use crate::channel::inprocess::InProcessChannel;
use crate::channel::pcsc_driver::PcscChannel;
use crate::channel::{CardChannel, ChannelError};
use crate::qualification::{
    BlockingQualificationClient, CaseService, Fault, InsuredRecord, QualificationClient,
    ServerConfig, ServerControl, ServerHandle,
};
use crate::reader::{DriverError, PlacedCard, ReaderDriver, ReaderSetup, Stimulus, VirtualReader};
use crate::rules::{ConsentStep, ConsentStore, FacilityId, PatientId};
use crate::scenario::{Case, CaseKind, ConformanceCheck, PinEntry, ServiceFault, StepKind};
use crate::sim_clock::{thread_cpu_time, SimClock};
use card_emulator::Card;
use reports::log::Planned;
use reports::{CaseResult, Measurement, Verdict};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a case needs from the run.
pub struct CaseContext<'a> {
    /// The case's position in the run (names its operator prompts).
    pub seq: usize,
    /// Where operator steps are asked.
    pub desk: Option<&'a crate::operator::Desk>,
    /// Told as each step starts.
    pub events: Option<&'a super::RunEvents>,
    pub card: Option<&'a LoadedCard>,
    pub secret: &'a RunSecret,
    pub ca_der: &'a [u8],
    pub crl_der: &'a [u8],
    pub runtime: &'a tokio::runtime::Handle,
    /// The vpcd readers when cards go through pcscd; `None`: in process.
    pub vpcd: Option<&'a super::vpcd_pool::VpcdPool>,
    /// Face matchers, loaded when the first face case needs one.
    pub faces: &'a crate::face::MatcherPool,
    /// The device under test; `None`: the reference reader in process.
    pub device: Option<&'a Arc<crate::dut::driver::Device>>,
    /// The run's qualification service, for the reference reader in process; `None`: a
    /// server of the case's own.
    pub service: Option<&'a RunService>,
    /// The case's card is a real card on the device under test, handled under this policy.
    pub real_card: Option<Policy>,
    /// The case's card lies in this PC/SC reader (a vendor's card), handled under this
    /// policy unless it answers the run's nonce.
    pub card_reader: Option<(&'a str, Policy)>,
}

/// The run's qualification service: one server for every in-process case, each case with
/// a service of its own on it (records, faults, date, consents, journal: nothing shared),
/// reached over the run's kept-alive connections. A device under test gets a server of the
/// case's own instead: it must not reach another case's service, even by guessing a path.
pub struct RunService {
    pub control: ServerControl,
    pub client: QualificationClient,
}

/// Where a case's service runs.
enum CaseServer {
    /// A server started for the case alone (a device under test).
    Own(ServerHandle),
    /// The case's own service on the run's server.
    OnRun(CaseService),
}

impl CaseServer {
    fn set_fault(&self, fault: Option<Fault>) {
        match self {
            CaseServer::Own(server) => server.set_fault(fault),
            CaseServer::OnRun(case) => case.set_fault(fault),
        }
    }

    fn url(&self) -> String {
        match self {
            CaseServer::Own(server) => server.url(),
            CaseServer::OnRun(case) => case.url(),
        }
    }

    /// What it served; a server of the case's own stops.
    fn close(self) -> Vec<crate::qualification::Served> {
        match self {
            CaseServer::Own(server) => {
                let served = server.served();
                server.stop();
                served
            }
            CaseServer::OnRun(case) => case.served(),
        }
    }
}

/// A finished case: its result, and the face decision the reader reported in it, typed and
/// held to the card's journal (for campaigns that count decisions, `accuracy --reader`).
pub struct CaseRun {
    pub result: CaseResult,
    pub face: Option<FaceClaim>,
}

impl From<CaseResult> for CaseRun {
    /// A case that never reached a reader: no face decision.
    fn from(result: CaseResult) -> Self {
        CaseRun { result, face: None }
    }
}

/// Runs one case of any kind (a reception scenario or a conformance check) on the test
/// bench `ctx` describes: the reference reader or a device under test; the card in process,
/// in a vpcd reader, in a named reader or on the device. Never fails: a bench fault is the
/// case's `error`.
pub fn run_case(case: &Case, ctx: &CaseContext<'_>) -> CaseRun {
    let start = Instant::now();
    // A panic is the harness's own bug: the case still gets its result (and the run its
    // record), never a silent gap.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case_inner(case, ctx, start)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        error_result(case, start, format!("bench: the harness panicked: {what}")).into()
    })
}

fn run_case_inner(case: &Case, ctx: &CaseContext<'_>, start: Instant) -> CaseRun {
    if let CaseKind::Conformance { check } = &case.kind {
        return run_conformance_case(case, *check, ctx, start).into();
    }
    if let Some(why) = ctx
        .real_card
        .and_then(|policy| refused_on_a_real_card(case, policy))
    {
        return not_run(case, Verdict::Skip, start, why).into();
    }
    if let Some(why) = ctx.device.and_then(|d| {
        let steps: Vec<StepKind> = case.steps.iter().map(|s| s.kind.clone()).collect();
        crate::dut::driver::missing_capability(d.hello(), &steps)
    }) {
        return not_run(case, Verdict::Skip, start, why).into();
    }
    let (situation, face) = match oracle::situation(case, ctx.card) {
        Ok(s) => s,
        Err(why @ Unjudgeable::NoCamera(_)) => {
            return error_result(case, start, why.to_string()).into()
        }
    };
    let mut bench = match Bench::up(case, ctx) {
        Ok(b) => b,
        Err(why) => return error_result(case, start, format!("bench: {why}")).into(),
    };
    let run = bench.run_steps(case, ctx);
    let operator = std::mem::take(&mut bench.operator);
    let stack_failed = bench.stack_failed.clone();
    let clock = bench.clock.clone();
    let (mut observed, reader_cpu) = bench.finish(case);
    // The reader's claims against what the card did (the same for every reader).
    let contradicted =
        super::ground_truth::contradictions(&observed, ctx.card.map(|c| &c.certificate_key));
    observed.breaches.extend(contradicted);
    let (verdict, reason, mut measurements) = match run {
        Ok(StepsRun {
            times: mut step_times,
            refused,
        }) => {
            observed.refused = refused;
            step_times.extend(observed.timings.iter().cloned());
            // Only the harness's own emulated card counts its tries as the profile says.
            let emulated = ctx.real_card.is_none() && ctx.card_reader.is_none();
            let verify_sws = ctx
                .card
                .filter(|_| emulated)
                .and_then(|c| oracle::predict_verify_sws(case, &c.profile));
            judge_case(
                case,
                &situation,
                face,
                verify_sws.as_deref(),
                &observed,
                &step_times,
            )
        }
        Err((verdict, why)) => (verdict, Some(why), Vec::new()),
    };
    // A device that broke the contract fails, whatever else the case came to: its breaches
    // come first in the reason.
    let (verdict, reason) = if observed.breaches.is_empty() {
        (verdict, reason)
    } else {
        let mut why = observed.breaches.join("; ");
        if let Some(r) = reason {
            why.push_str(&format!("; {r}"));
        }
        (Verdict::Fail, Some(why))
    };
    // On a simulated clock the case's time is its work plus what it waited; its wall time
    // and its reader's CPU time come beside it.
    let simulated = clock.total();
    measurements.push(Measurement::millis("total", start.elapsed() + simulated));
    if clock.is_simulated() {
        measurements.push(Measurement::millis("total.wall", start.elapsed()));
    }
    if let Some(cpu) = reader_cpu {
        measurements.push(Measurement::millis("total.cpu", cpu));
    }
    // The PC/SC stack failing under the case (pcscd stopped or restarted) is the bench's
    // fault: whatever the reader made of it, the case is an error, not the reader's fail.
    let (verdict, reason) = match stack_failed.lock().ok().and_then(|f| f.clone()) {
        Some(why) => (
            verdict.merge(Verdict::Error),
            Some(format!(
                "the PC/SC stack failed under the case ({why}): a bench fault{}",
                reason.map(|r| format!("; {r}")).unwrap_or_default()
            )),
        ),
        None => (verdict, reason),
    };
    let mut evidence = evidence(&observed);
    // Which device ran the case (in a pool of devices, each case names its own).
    if let Some(device) = ctx.device {
        evidence.insert_str(0, &format!("device under test: dut:{}\n", device.address()));
    }
    // Every question put to the operator, and its answer, with times and who answered.
    for a in &operator {
        evidence.push_str(&format!(
            "operator: `{}` asked {}; {}\n",
            a.prompt,
            a.asked_at,
            match (&a.answer, &a.by, &a.answered_at) {
                (Some(answer), Some(by), Some(at)) =>
                    format!("answered `{answer}` {at} by {by}: {}", a.meaning),
                _ => "unanswered: inconc".to_owned(),
            }
        ));
    }
    let mut result = result(case, verdict, reason, start, measurements, evidence);
    result.duration += simulated;
    result.operator = operator;
    CaseRun {
        result,
        face: super::ground_truth::face_claim(&observed),
    }
}

/// A card channel that remembers a failure of the PC/SC stack itself.
struct StackWatch {
    inner: Box<dyn CardChannel>,
    failed: Arc<std::sync::Mutex<Option<String>>>,
}

impl StackWatch {
    fn note<T>(&self, r: Result<T, ChannelError>) -> Result<T, ChannelError> {
        if let Err(ChannelError::Stack(why)) = &r {
            if let Ok(mut f) = self.failed.lock() {
                f.get_or_insert_with(|| why.clone());
            }
        }
        r
    }
}

impl CardChannel for StackWatch {
    fn transmit(&mut self, apdu: &[u8]) -> Result<crate::channel::Response, ChannelError> {
        let r = self.inner.transmit(apdu);
        self.note(r)
    }
    fn reset(&mut self) -> Result<(), ChannelError> {
        let r = self.inner.reset();
        self.note(r)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn trace_text(&self) -> String {
        self.inner.trace_text()
    }
    fn journal(&self) -> Option<Vec<card_emulator::card::Exchange>> {
        self.inner.journal()
    }
}

/// One conformance check on the case's card (in process or through a vpcd reader).
fn run_conformance_case(
    case: &Case,
    check: ConformanceCheck,
    ctx: &CaseContext<'_>,
    start: Instant,
) -> CaseResult {
    use crate::conformance::{apdu_measurements, run_check, verdict_of, Ctx};
    let Some(loaded) = ctx.card else {
        return error_result(case, start, "no card");
    };
    if ctx.real_card.is_some() {
        let why = "an APDU-level check needs the card within the harness's reach \
                   (--card inprocess or pcsc), not on the device under test";
        return not_run(case, Verdict::Skip, start, why);
    }
    let (mut channel, slot) = match card_channel(case, ctx, loaded, &SimClock::real()) {
        Ok(c) => c,
        Err(why) => return error_result(case, start, format!("bench: {why}")),
    };
    let outcome = run_check(
        check,
        &mut Ctx {
            channel: &mut channel,
            profile: &loaded.profile,
        },
    );
    let (verdict, reason) = verdict_of(outcome);
    let mut measurements = vec![Measurement::millis("total", start.elapsed())];
    measurements.extend(apdu_measurements(channel.trace()));
    let evidence = format!(
        "card: {} via {}\nAPDU trace (secrets redacted):\n{}",
        channel.identity(),
        channel.describe(),
        channel.trace_text()
    );
    // The case's connection closes before its vpcd reader goes back: the reader's check
    // after the case (vpcd_pool) must not race the connection's own disconnect.
    drop(channel);
    drop(slot);
    result(case, verdict, reason, start, measurements, evidence)
}

/// Why `case` is not run at all on a real card: without `--allow-destructive` no PIN is
/// typed on one (the tries left are checked step by step otherwise).
fn refused_on_a_real_card(case: &Case, policy: Policy) -> Option<String> {
    if policy.allow_destructive {
        return None;
    }
    let step = case
        .steps
        .iter()
        .find(|s| matches!(s.kind, StepKind::EnterPin(_)))?;
    let why = crate::channel::guard::pin_entry_refusal(policy, None)?;
    Some(format!(
        "refused to protect a real card: {}: {why}",
        step.origin
    ))
}

/// A case that could not be run: `error` with the reason, no measurements or evidence.
fn error_result(case: &Case, start: Instant, why: impl Into<String>) -> CaseResult {
    not_run(case, Verdict::Error, start, why)
}

/// A case that was not run (`error`: it could not be; `skip`: it was refused), with why.
fn not_run(case: &Case, verdict: Verdict, start: Instant, why: impl Into<String>) -> CaseResult {
    result(
        case,
        verdict,
        Some(why.into()),
        start,
        Vec::new(),
        String::new(),
    )
}

/// How the reports name `case`: its id, its group (the id's first part) and its name.
pub fn planned(case: &Case) -> Planned {
    Planned {
        id: case.id.clone(),
        group: case.id.split('.').next().unwrap_or("scenarios").to_owned(),
        name: format!("{} — {}", case.id, case.title),
    }
}

fn result(
    case: &Case,
    verdict: Verdict,
    reason: Option<String>,
    start: Instant,
    measurements: Vec<Measurement>,
    evidence: String,
) -> CaseResult {
    let Planned { id, group, name } = planned(case);
    CaseResult {
        id,
        group,
        name,
        verdict,
        reason,
        duration: start.elapsed(),
        measurements,
        evidence,
        operator: Vec::new(),
    }
}

/// Puts `prompt` to the operator and waits for the answer (real time: a person answers).
/// `asked` is called once the prompt is open (to show it on a device's test UI too). The
/// answer's record, and the verdict it ends the case with, if it does.
fn ask_operator(
    case: &Case,
    ctx: &CaseContext<'_>,
    prompt: &crate::scenario::OperatorPrompt,
    deadline: Duration,
    asked: impl FnOnce(&crate::operator::Desk, &crate::operator::PromptKey),
) -> (reports::OperatorAnswer, Option<(Verdict, String)>) {
    use crate::operator::{Asked, PromptKey};
    use crate::scenario::OperatorMeaning;
    let asked_at = crate::units::now_rfc3339();
    let mut record = reports::OperatorAnswer {
        prompt: prompt.id.clone(),
        question: prompt.en.clone(),
        asked_at: asked_at.clone(),
        answered_at: None,
        answer: None,
        by: None,
        meaning: "unanswered".into(),
    };
    let Some(desk) = ctx.desk else {
        let why = format!("no one can answer the operator prompt `{}`", prompt.id);
        return (record, Some((Verdict::Error, why)));
    };
    let key = PromptKey {
        seq: ctx.seq,
        id: prompt.id.clone(),
    };
    // A free-text answer never keeps the card's secrets (a PIN typed by mistake).
    let mask = ctx.card.map(|c| {
        let secrets = crate::dut::secrets::Secrets::of_card(&c.profile);
        Box::new(move |text: &mut String| {
            secrets.mask(text);
        }) as crate::operator::Mask
    });
    desk.ask(
        Asked {
            key: key.clone(),
            case_id: case.id.clone(),
            prompt: prompt.clone(),
            deadline,
            asked_at,
        },
        mask,
    );
    asked(desk, &key);
    let Some(answer) = desk.wait(&key, deadline) else {
        let why = match desk.is_live() {
            true => format!(
                "no operator answer to `{}` within its deadline of {deadline:?}",
                prompt.id
            ),
            false => format!(
                "the operator answers have none for `{}`, and no one else can answer",
                prompt.id
            ),
        };
        return (record, Some((Verdict::Inconc, why)));
    };
    record.answered_at = Some(answer.at.clone());
    record.answer = Some(answer.value.clone());
    record.by = Some(answer.by.to_string());
    record.meaning = answer.meaning.name().to_owned();
    let said = format!(
        "the operator answered `{}` to `{}` ({}), by {}",
        answer.value, prompt.id, prompt.en, answer.by
    );
    let stop = match answer.meaning {
        OperatorMeaning::Continue => None,
        OperatorMeaning::Fail => Some((Verdict::Fail, said)),
        OperatorMeaning::Inconc => Some((Verdict::Inconc, said)),
    };
    (record, stop)
}

fn evidence(observed: &Observed) -> String {
    let mut out = String::from("events:\n");
    for e in &observed.events {
        out.push_str(&format!("  {e}\n"));
    }
    if !observed.trace.is_empty() {
        out.push_str("APDU trace (secrets redacted):\n");
        out.push_str(&observed.trace);
    }
    out
}

/// One prompt of the run's desk, as a device's test UI answers it.
struct DeskRelay {
    desk: crate::operator::Desk,
    key: crate::operator::PromptKey,
    /// The device, as the evidence names who answered.
    by: crate::operator::Answerer,
}

impl crate::reader::OperatorRelay for DeskRelay {
    fn is_open(&self) -> bool {
        self.desk.is_open(&self.key)
    }

    fn answer(&self, text: &str) -> Result<(), String> {
        self.desk
            .answer(&self.key, text, self.by.clone())
            .map_err(|e| e.to_string())
    }
}

enum Job {
    Apply(Stimulus),
    /// Show an operator prompt on the device's test UI until it is answered or closed.
    RelayOperator {
        prompt: crate::scenario::OperatorPrompt,
        deadline: Duration,
        relay: DeskRelay,
    },
    /// The device under test reaches the case's card itself.
    PlaceRemoteCard,
    /// Type `digits` on the pad now on screen; `right`: the card's PIN.
    TypePin {
        digits: String,
        right: bool,
    },
    Finish,
}

type Reply = Result<(), DriverError>;

/// The reader thread and the service of one case.
struct Bench<'a> {
    /// The reader thread: joined at teardown, so none outlives its case.
    thread: std::thread::JoinHandle<()>,
    jobs: mpsc::Sender<Job>,
    replies: mpsc::Receiver<Reply>,
    finished: mpsc::Receiver<(Observed, Option<Duration>)>,
    server: CaseServer,
    /// The case's clock: simulated when everything runs in process, real otherwise.
    clock: SimClock,
    card: Option<Box<dyn CardChannel>>,
    /// Set when the PC/SC stack failed under the case (a bench fault).
    stack_failed: Arc<std::sync::Mutex<Option<String>>>,
    /// The vpcd reader this case holds (given back when the bench goes).
    _slot: Option<super::vpcd_pool::SlotGuard<'a>>,
    /// The in-process face path's work on its virtual clock, added to a step's deadline.
    face_clock: Option<crate::face::StoppedClock>,
    /// The operator's answers so far (evidence, and the mark on the verdict).
    operator: Vec<reports::OperatorAnswer>,
}

/// The steps of a case that ran: each one's time, and the refusals the scenario expected.
struct StepsRun {
    times: Vec<(String, Duration)>,
    /// The indices of the steps refused as the scenario expected.
    refused: Vec<usize>,
}

/// A case's card behind the guard, and the vpcd reader it holds (if any).
type CaseCard<'a> = (
    GuardedChannel<Box<dyn CardChannel>>,
    Option<super::vpcd_pool::SlotGuard<'a>>,
);

/// The case's card: in process, swapped into a vpcd reader and reached through pcscd, or
/// whatever card lies in a named reader; always behind the guard.
fn card_channel<'a>(
    case: &Case,
    ctx: &CaseContext<'a>,
    loaded: &LoadedCard,
    clock: &SimClock,
) -> Result<CaseCard<'a>, String> {
    let card = || Card::new(loaded.image.clone()).with_attach_secret(ctx.secret.bytes());
    // The card's own deadline is below the step's, so a silent card is the card's failure.
    let deadline = case.step_deadline / 2;
    let emulator_only = Policy {
        allow_destructive: false,
    };
    let connect = |reader: &str| -> Result<Box<dyn CardChannel>, String> {
        Ok(Box::new(PcscChannel::connect_fresh(reader, deadline)?))
    };
    let guarded = |inner, policy| GuardedChannel::new(inner, Some(ctx.secret), policy);
    if let Some((reader, policy)) = ctx.card_reader {
        return Ok((guarded(connect(reader)?, policy), None));
    }
    match ctx.vpcd {
        None => {
            let channel: Box<dyn CardChannel> =
                Box::new(InProcessChannel::new(card(), deadline).on_clock(clock.clone()));
            Ok((guarded(channel, emulator_only), None))
        }
        Some(pool) => {
            let guard = pool.take().ok_or("no vpcd reader available")?;
            let slot = guard.slot();
            slot.swap_in(card())?;
            Ok((guarded(connect(&slot.reader)?, emulator_only), Some(guard)))
        }
    }
}

impl<'a> Bench<'a> {
    fn up(case: &Case, ctx: &CaseContext<'a>) -> Result<Bench<'a>, String> {
        let records = records(case, ctx.card)?;
        let patient = oracle::patient(case, ctx.card.map(|c| &c.profile));
        // Waits pass on a simulated clock when the harness runs the reader and the service
        // (`wait` steps, held or slow answers); an emulated card in process waits on it too.
        // A device, a real card and an emulated card behind pcscd keep real time (the
        // harness cannot stop their clocks); a step's time is then its real time plus the
        // simulated waits in it.
        let in_process =
            ctx.device.is_none() && ctx.card_reader.is_none() && ctx.real_card.is_none();
        let clock = match in_process {
            true => SimClock::simulated(),
            false => SimClock::real(),
        };
        let (server, service) = match ctx.service.filter(|_| ctx.device.is_none()) {
            Some(run) => {
                let delays = match clock.is_simulated() {
                    true => crate::qualification::Delays::Simulated,
                    false => crate::qualification::Delays::Real,
                };
                let case_service = run
                    .control
                    .open_case(records, Some(case.date), delays)
                    .map_err(|e| format!("qualification service: {e}"))?;
                let client = run
                    .client
                    .for_case(&case_service.path())
                    .on_clock(clock.clone());
                (
                    CaseServer::OnRun(case_service),
                    BlockingQualificationClient::with_client(client, ctx.runtime.clone()),
                )
            }
            None => {
                let mut config =
                    ServerConfig::new(records, ctx.ca_der.to_vec(), ctx.crl_der.to_vec());
                config.today = Some(case.date);
                let server = ctx
                    .runtime
                    .block_on(crate::qualification::Server::start(config))
                    .map_err(|e| format!("qualification service: {e}"))?;
                let client =
                    BlockingQualificationClient::on_runtime(server.addr(), ctx.runtime.clone());
                (CaseServer::Own(server), client)
            }
        };
        server.set_fault(fault(&case.service));
        let (face, face_clock) = match (ctx.card, case.chooses(crate::scenario::Method::Face)) {
            (Some(card), true) => {
                let kit = crate::face::FaceKit::for_case(case, card, ctx.faces)?;
                // Only the in-process reader plays the clip on its virtual clock.
                let clock = ctx.device.is_none().then(|| kit.stopped_clock());
                (
                    Some(Box::new(kit) as Box<dyn crate::reader::FaceCamera>),
                    clock,
                )
            }
            _ => (None, None),
        };
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, replies) = mpsc::channel::<Reply>();
        let (done, finished) = mpsc::channel::<(Observed, Option<Duration>)>();
        let stack_failed = Arc::new(std::sync::Mutex::new(None));
        let real_card = ctx.real_card;
        let (reader, card, slot): (Box<dyn ReaderDriver>, _, _) = match ctx.device {
            Some(device) => {
                let (card, slot) = match ctx.card {
                    Some(loaded) => {
                        let (info, slot) = remote_card(ctx, loaded)?;
                        (Some(info), slot)
                    }
                    None => (None, None),
                };
                let info = crate::dut::driver::CaseInfo {
                    case_id: case.id.clone(),
                    today: case.date,
                    facility: case.facility.clone(),
                    service_url: server.url(),
                    card,
                    secrets: ctx
                        .card
                        .map(|c| crate::dut::secrets::Secrets::of_card(&c.profile))
                        .unwrap_or_default(),
                    desk: crate::reader::desk::DeskSetup {
                        today: case.date,
                        rule_set: case.rule_set,
                        visit: case.visit,
                        patient,
                    },
                    step_deadline: case.step_deadline,
                    bench: crate::dut::protocol::BenchSettings {
                        service_deadline: Some(oracle::service_deadline(case)),
                        card_deadline: Some(case.step_deadline / 2),
                        consent_history: case.consent_history.clone(),
                        limit_category: Some(patient.limit),
                        earlier_face_failures: face.as_ref().map(|k| k.earlier_failures()),
                    },
                    camera: face,
                };
                let reader = crate::dut::driver::DutReader::start(device.clone(), info)
                    .map_err(|e| format!("device under test: {e}"))?;
                (Box::new(reader), None, slot)
            }
            None => {
                let (card, slot) = match ctx.card {
                    Some(loaded) => {
                        let (channel, slot) = card_channel(case, ctx, loaded, &clock)?;
                        let watched: Box<dyn CardChannel> = Box::new(StackWatch {
                            inner: Box::new(channel),
                            failed: stack_failed.clone(),
                        });
                        (Some(watched), slot)
                    }
                    None => (None, None),
                };
                let setup = ReaderSetup {
                    today: case.date,
                    facility: case.facility.clone(),
                    rule_set: case.rule_set,
                    visit: case.visit,
                    service,
                    service_deadline: oracle::service_deadline(case),
                    consent: consent_history(case, ctx.card),
                    patient,
                    face,
                };
                (Box::new(VirtualReader::new(setup)), card, slot)
            }
        };
        let thread = std::thread::Builder::new()
            .name(format!("reader:{}", case.id))
            .spawn(move || reader_thread(reader, real_card, inbox, outbox, done))
            .map_err(|e| format!("reader thread: {e}"))?;
        Ok(Bench {
            thread,
            jobs,
            replies,
            finished,
            server,
            clock,
            card,
            stack_failed,
            _slot: slot,
            face_clock,
            operator: Vec::new(),
        })
    }

    /// Runs every step; returns each step's duration, or the verdict and why the case
    /// stopped early (`error` when it broke, `skip` when a step was refused).
    fn run_steps(
        &mut self,
        case: &Case,
        ctx: &CaseContext<'a>,
    ) -> Result<StepsRun, (Verdict, String)> {
        let broke = |why: String| (Verdict::Error, why);
        let mut times = Vec::new();
        let mut refused = Vec::new();
        let expected_refusals = case.expected_refusals();
        for (index, step) in case.steps.iter().enumerate() {
            if let Some(tell) = ctx.events {
                tell(&super::RunEvent::Step {
                    seq: ctx.seq,
                    index,
                    name: step.kind.name(),
                });
            }
            let deadline = step.deadline.unwrap_or(case.step_deadline);
            let started = Instant::now();
            let simulated = self.clock.total();
            // The step's time: real time plus what passed on the simulated clock.
            let took = || started.elapsed() + self.clock.total().saturating_sub(simulated);
            let job = match &step.kind {
                // A device under test reaches the case's card itself.
                StepKind::PlaceCard if ctx.device.is_some() => Job::PlaceRemoteCard,
                StepKind::PlaceCard => match self.card.take() {
                    Some(chip) => Job::Apply(Stimulus::PlaceCard(PlacedCard {
                        chip,
                        surface_code_b: ctx.card.map(printed_surface_code_b),
                    })),
                    None => {
                        return Err(broke(format!(
                            "{}: the case has no card to place",
                            step.origin
                        )))
                    }
                },
                StepKind::RemoveCard => Job::Apply(Stimulus::RemoveCard),
                StepKind::Choose(m) => Job::Apply(Stimulus::Choose(*m)),
                StepKind::EnterPin(entry) => {
                    let (digits, right) = pin_digits(entry, ctx.card);
                    Job::TypePin { digits, right }
                }
                StepKind::Consent(c) => Job::Apply(Stimulus::Consent(*c)),
                StepKind::Register(accept) => Job::Apply(Stimulus::Register(*accept)),
                StepKind::StaffCheck(confirm) => Job::Apply(Stimulus::StaffCheck(*confirm)),
                StepKind::Show(shown) => Job::Apply(Stimulus::Show(
                    shown
                        .iter()
                        .filter_map(|s| oracle::document(*s, case.date))
                        .collect(),
                )),
                StepKind::Service(f) => {
                    self.server.set_fault(fault(f));
                    times.push((step.kind.name().to_owned(), took()));
                    continue;
                }
                // A person's answer, on the bench's desk: the reader is not asked.
                StepKind::Operator(prompt) => {
                    // A device with a test UI shows the prompt too; its reader thread
                    // relays a person's answer there to the desk.
                    let ui = ctx
                        .device
                        .filter(|d| d.hello().has(&crate::dut::protocol::Capability::OperatorUi));
                    let mut relayed = false;
                    let (record, stop) = ask_operator(case, ctx, prompt, deadline, |desk, key| {
                        if let Some(device) = ui {
                            let job = Job::RelayOperator {
                                prompt: (**prompt).clone(),
                                deadline,
                                relay: DeskRelay {
                                    desk: desk.clone(),
                                    key: key.clone(),
                                    by: crate::operator::Answerer::Device(
                                        device.address().to_string(),
                                    ),
                                },
                            };
                            relayed = self.jobs.send(job).is_ok();
                        }
                    });
                    self.operator.push(record);
                    if relayed {
                        // The device lets go of the prompt within its withdraw deadline of
                        // the desk closing it.
                        let bound =
                            crate::dut::protocol::WITHDRAW_DEADLINE + Duration::from_secs(1);
                        match self.replies.recv_timeout(bound) {
                            Ok(Ok(())) | Ok(Err(DriverError::Unsupported(_))) => {}
                            Ok(Err(e)) => {
                                return Err(broke(format!(
                                    "{}: step `operator` on the device's test UI: {e}",
                                    step.origin
                                )))
                            }
                            Err(_) => {
                                return Err(broke(format!(
                                    "{}: the device's test UI kept the prompt `{}` past its \
                                     deadline",
                                    step.origin, prompt.id
                                )))
                            }
                        }
                    }
                    times.push((step.kind.name().to_owned(), took()));
                    match stop {
                        None => continue,
                        Some((verdict, why)) => {
                            return Err((verdict, format!("{}: {why}", step.origin)))
                        }
                    }
                }
                // A wait is a step like any other: it ends at its deadline at the latest
                // (scenario files cannot ask for more: `parse::wait_fits`).
                StepKind::Wait(d) => {
                    wait(*d, deadline, &self.clock)
                        .map_err(|why| broke(format!("{}: {why}", step.origin)))?;
                    times.push((step.kind.name().to_owned(), took()));
                    continue;
                }
            };
            self.jobs
                .send(job)
                .map_err(|_| broke("the reader thread stopped".to_owned()))?;
            match self.reply_within(started, deadline) {
                Ok(Ok(())) => {}
                // A refusal the scenario expects: noted, and the case goes on.
                Ok(Err(DriverError::NotNow(_))) if expected_refusals.contains(&index) => {
                    refused.push(index);
                }
                Ok(Err(DriverError::Unsupported(why))) => {
                    return Err(broke(format!("{}: {why}", step.origin)))
                }
                Ok(Err(e @ DriverError::Refused(_))) => {
                    return Err((Verdict::Skip, format!("{}: {e}", step.origin)))
                }
                Ok(Err(e)) => {
                    return Err(broke(format!(
                        "{}: step `{}`: {e}",
                        step.origin,
                        step.kind.name()
                    )))
                }
                Err(_) => {
                    return Err(broke(format!(
                        "{}: step `{}` did not finish within its deadline of {deadline:?}",
                        step.origin,
                        step.kind.name()
                    )))
                }
            }
            times.push((step.kind.name().to_owned(), took()));
        }
        Ok(StepsRun { times, refused })
    }

    /// The reader's reply to a step started at `started`, waiting until its deadline plus the
    /// time the in-process face path spent on its virtual clock meanwhile (so machine load
    /// cannot make a try miss a deadline it keeps on a quiet machine).
    fn reply_within(
        &self,
        started: Instant,
        deadline: Duration,
    ) -> Result<Reply, mpsc::RecvTimeoutError> {
        let credit = || {
            self.face_clock
                .as_ref()
                .map_or(Duration::ZERO, |c| c.total())
        };
        let at_start = (credit(), self.clock.total());
        // The step's deadline in real time: later by the face credit, earlier by what
        // passed on the simulated clock.
        let until = || {
            (started + deadline + credit().saturating_sub(at_start.0))
                .checked_sub(self.clock.total().saturating_sub(at_start.1))
                .unwrap_or(started)
        };
        let mut waited_until = until();
        loop {
            match self
                .replies
                .recv_timeout(waited_until.saturating_duration_since(Instant::now()))
            {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let later = until();
                    if later <= waited_until {
                        return Err(mpsc::RecvTimeoutError::Timeout);
                    }
                    waited_until = later;
                }
                // A reply whose simulated waits took it past the deadline came too late,
                // as it would have on a bench.
                Ok(_) if Instant::now() > until() => return Err(mpsc::RecvTimeoutError::Timeout),
                other => return other,
            }
        }
    }

    /// Teardown: always runs; collects what the reader saw. Every wait of the reader ends
    /// at its deadline (a stimulus at the step's, the device's `reset` at its own), so the
    /// thread reports within the longest of those and is joined: no thread, link or card
    /// outlives the case. A reader past that bound is a harness bug; the case says so.
    fn finish(self, case: &Case) -> (Observed, Option<Duration>) {
        let _ = self.jobs.send(Job::Finish);
        let longest_step = case
            .steps
            .iter()
            .map(|s| s.deadline.unwrap_or(case.step_deadline))
            .max()
            .unwrap_or(case.step_deadline);
        let bound = longest_step + crate::dut::protocol::RESET_DEADLINE + Duration::from_secs(5);
        let (mut observed, cpu) = match self.finished.recv_timeout(bound) {
            Ok(done) => {
                let _ = self.thread.join();
                done
            }
            Err(_) => (Observed::gone(), None),
        };
        // A card in a vpcd reader: what it recorded (before the slot goes back).
        if observed.journal.is_none() {
            observed.journal = self._slot.as_ref().map(|g| g.slot().journal());
        }
        observed.served = self.server.close();
        (observed, cpu)
    }
}

/// Drives `reader` job by job; on a real card (`real_card`: its policy) PINs are typed only
/// as the policy allows.
fn reader_thread(
    mut reader: Box<dyn ReaderDriver>,
    real_card: Option<Policy>,
    inbox: mpsc::Receiver<Job>,
    outbox: mpsc::Sender<Reply>,
    done: mpsc::Sender<(Observed, Option<Duration>)>,
) {
    for job in inbox {
        let reply = match job {
            Job::Apply(s) => reader.apply(s),
            Job::PlaceRemoteCard => reader.place_remote_card(),
            Job::RelayOperator {
                prompt,
                deadline,
                relay,
            } => reader.relay_operator(&prompt, deadline, &relay),
            Job::TypePin { digits, right } => match reader
                .layout()
                .and_then(|l| l.positions_for(&digits))
            {
                Some(positions) => match real_card.and_then(|p| match reader.tries_left_known() {
                    Err(contradiction) => Some(contradiction),
                    Ok(known) => crate::channel::guard::pin_entry_refusal(p, known),
                }) {
                    Some(why) => Err(DriverError::Refused(why)),
                    None => {
                        reader.typing(right);
                        reader.apply(Stimulus::PressKeys(positions))
                    }
                },
                // Not asked for (the reader says so in its log).
                None if !reader.pin_pad_expected() => reader.apply(Stimulus::PressKeys(Vec::new())),
                None => Err(DriverError::NotNow("no PIN pad on screen".into())),
            },
            Job::Finish => break,
        };
        if outbox.send(reply).is_err() {
            break;
        }
    }
    let report = reader.finish();
    let cpu = thread_cpu_time();
    let _ = done.send((
        Observed {
            events: report.events,
            outcome: report.outcome,
            last_verify_sw: report.last_verify_sw,
            timings: report.timings,
            trace: report.trace,
            breaches: report.breaches,
            refused: Vec::new(),
            journal: report.journal,
            served: Vec::new(),
        },
        cpu,
    ));
}

/// The case's card for a device under test: a real card on the device itself, or the
/// emulated card swapped into a vpcd reader the device reaches.
fn remote_card<'a>(
    ctx: &CaseContext<'a>,
    loaded: &LoadedCard,
) -> Result<
    (
        crate::dut::protocol::CardInfo,
        Option<super::vpcd_pool::SlotGuard<'a>>,
    ),
    String,
> {
    if ctx.real_card.is_some() {
        let info = crate::dut::protocol::CardInfo {
            profile: loaded.profile.name.clone(),
            reader: None,
            real: true,
        };
        return Ok((info, None));
    }
    let pool = ctx
        .vpcd
        .ok_or("a device under test reads the card through pcscd: run with --card pcsc")?;
    let card = Card::new(loaded.image.clone()).with_attach_secret(ctx.secret.bytes());
    let guard = pool.take().ok_or("no vpcd reader available")?;
    let slot = guard.slot();
    slot.swap_in(card)?;
    let info = crate::dut::protocol::CardInfo {
        profile: loaded.profile.name.clone(),
        reader: Some(slot.reader.clone()),
        real: false,
    };
    Ok((info, Some(guard)))
}

/// 照合番号B as printed on the card (what the reader's OCR reads): a secret.
fn printed_surface_code_b(card: &LoadedCard) -> card_emulator::profile::Secret {
    let p = &card.profile;
    card_emulator::profile::Secret::new(card_emulator::records::surface_code_b(
        p.holder.birth_date,
        p.card_expiry_year,
        p.security_code.expose(),
    ))
}

/// The digits a patient types on this case's card, and whether they are its PIN.
fn pin_digits(entry: &PinEntry, card: Option<&LoadedCard>) -> (String, bool) {
    let pin = card
        .and_then(|c| c.profile.auth_pin.as_ref())
        .map(|p| p.value.expose().to_owned());
    let digits = entry.digits(pin.as_deref().unwrap_or("0000"));
    let right = pin.as_deref() == Some(digits.as_str());
    (digits, right)
}

fn fault(f: &ServiceFault) -> Option<Fault> {
    match f {
        ServiceFault::None => None,
        ServiceFault::Slow(d) => Some(Fault::Slow(*d)),
        ServiceFault::Timeout => Some(Fault::Timeout),
        ServiceFault::Http(code) => Some(Fault::Http5xx(*code)),
        ServiceFault::Malformed => Some(Fault::MalformedBody),
        ServiceFault::Invalid => Some(Fault::QualificationInvalid),
        ServiceFault::SeveralMatches => Some(Fault::SeveralMatches),
    }
}

/// The records the service holds for this case.
fn records(case: &Case, card: Option<&LoadedCard>) -> Result<Vec<InsuredRecord>, String> {
    let (Some(insurance), Some(card)) = (&case.insurance, card) else {
        return Ok(Vec::new());
    };
    let mut record = InsuredRecord::example(card.certificate_key.clone());
    let q = &mut record.qualification;
    q.insurer_number = insurance.insurer_number.clone();
    q.insured_card_symbol = (!insurance.symbol.is_empty()).then(|| insurance.symbol.clone());
    q.insured_identification_number = insurance.number.clone();
    q.insured_branch_number = Some(insurance.branch.clone());
    q.qualification_date = insurance.qualification_date;
    let patient = oracle::patient(case, Some(&card.profile));
    q.insured_partial_contribution_ratio = match patient.copayment_percent(case.date) {
        10 => crate::qualification::PartialContributionRatio::Ten,
        20 => crate::qualification::PartialContributionRatio::Twenty,
        _ => crate::qualification::PartialContributionRatio::Thirty,
    };
    // The category the oracle assumes too when the scenario names none.
    q.limit_application_certificate_classification_flag = Some(patient.limit);
    record.registered_for_insurance = card.profile.registered_for_insurance;
    Ok(vec![record])
}

/// Earlier visits' consent, in the reader's store.
fn consent_history(case: &Case, card: Option<&LoadedCard>) -> ConsentStore {
    let mut store = ConsentStore::new();
    let Some(card) = card else { return store };
    let patient = PatientId(hex::encode(openssl::sha::sha256(
        &card.image.auth_certificate,
    )));
    for past in &case.consent_history {
        let _ = store.visit(
            &patient,
            &FacilityId(past.facility.clone()),
            past.on,
            ConsentStep::Choose(past.choice),
        );
    }
    store
}

/// The step `wait: d`: `d` passes on the case's clock, but never more than the step's
/// `deadline`; a wait that would outlast it ends there as an overrun.
fn wait(d: Duration, deadline: Duration, clock: &SimClock) -> Result<(), String> {
    clock.pass(d.min(deadline));
    if d > deadline {
        return Err(format!(
            "step `wait` of {d:?} did not finish within its deadline of {deadline:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_at_its_deadline() {
        let real = SimClock::real();
        let started = Instant::now();
        let err = wait(Duration::from_secs(5), Duration::from_millis(20), &real).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            err,
            "step `wait` of 5s did not finish within its deadline of 20ms"
        );
        assert_eq!(
            wait(Duration::from_millis(5), Duration::from_millis(5), &real),
            Ok(())
        );
        // Simulated: the deadline's time passes on the clock, none on the wall.
        let simulated = SimClock::simulated();
        let started = Instant::now();
        assert!(wait(Duration::from_secs(50), Duration::from_secs(30), &simulated).is_err());
        assert_eq!(simulated.total(), Duration::from_secs(30));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
