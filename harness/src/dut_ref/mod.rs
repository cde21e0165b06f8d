//! The reference device under test (`myna-dut-ref`): the reference reader
//! ([`VirtualReader`]) behind the adapter protocol (docs/adapter-protocol.md), so the
//! shipped scenarios can run over a serial line or TCP and be judged as in process.
//!
//! One [`serve`] call is one session over any byte stream: a thread reads and decodes lines
//! (bounded, see [`LineReader`]) while the session handles one stimulus at a time and
//! answers it with the events it caused, the reader's new timings and `done` (or `error`).
//! The device is a card reader only (no `desk`): the harness plays the front desk.
//!
//! What the device needs beyond the stimuli:
//! - the card: `card_present` names a PC/SC reader (opened with [`PcscChannel`], the card
//!   reset first as the engine does; [`DeviceConfig::connector`] replaces that in tests);
//! - 照合番号B: what the reader's OCR would read off the printed card, computed from the card
//!   profile of that name ([`Profiles`]); it never crosses the wire and is never logged;
//! - the case's surroundings: `case_start`'s date, facility, service URL and test-bench
//!   settings ([`BenchSettings`]);
//! - the camera: clips received over the link or put in its folder before the run
//!   ([`ClipStore`]), each checked by SHA-256 before it is played.
//!
//! Architecture invariant: nothing a peer sends makes the device panic or stop serving: a
//! line it cannot read is answered with `error` and the session goes on; a vanished peer
//! ends the session, not the process.

use crate::channel::guard::{GuardedChannel, Policy};
use crate::channel::pcsc_driver::PcscChannel;
use crate::channel::{CardChannel, ChannelError, Response};
use crate::clips::ClipFormat;
use crate::dut::protocol::{
    Action, BenchSettings, CameraSource, Capability, CardInfo, DeviceHello, ErrorCode, ErrorReply,
    FromDevice, LineReader, OperatorQuestion, ToDevice, WireError, PROTOCOL, VERSION,
};
use crate::face::{FaceKit, MatcherPool};
use crate::qualification::BlockingQualificationClient;
use crate::reader::FaceCamera;
use crate::reader::{DriverError, PlacedCard, ReaderSetup, Stimulus, VirtualReader};
use crate::rules::{
    ConsentStep, ConsentStore, FacilityId, LimitCategory, Patient, PatientId, RuleSet, Visit,
};
use card_emulator::profile::Secret;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::Date;

mod clips;
pub use clips::ClipStore;

/// What this device can do (never `desk`: the harness plays the front desk; never
/// `camera_frames`: the camera plays clips stored on this side only).
pub const CAPABILITIES: [Capability; 6] = [
    Capability::Pin,
    Capability::Face,
    Capability::CameraClips,
    Capability::Consent,
    Capability::Registration,
    Capability::VisualCheck,
];

/// The engine's defaults for a 10 s step, used when `case_start` does not say.
const DEFAULT_SERVICE_DEADLINE: Duration = Duration::from_secs(8);
const DEFAULT_CARD_DEADLINE: Duration = Duration::from_secs(5);
/// The birth date the engine assumes without a card profile.
const DEFAULT_BIRTH: Date = time::macros::date!(1980 - 01 - 01);

// ---------------------------------------------------------------------------------------
// The card profiles this device knows
// ---------------------------------------------------------------------------------------

/// What the device knows of a card by its profile's name: what is printed on it.
#[derive(Clone)]
pub struct KnownCard {
    /// The holder's birth date (printed; the engine's patient is born then too).
    pub birth: Date,
    /// 照合番号B as printed: birth date, card expiry year and security code. A secret.
    surface_code_b: Secret,
    /// Who the consent store knows this card's holder as (the reference reader's key: the
    /// SHA-256 of the authentication certificate, which the test PKI issues
    /// deterministically); `None` when the card image could not be built.
    patient: Option<PatientId>,
}

impl std::fmt::Debug for KnownCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownCard")
            .field("birth", &self.birth)
            .field("surface_code_b", &"<redacted>")
            .field("patient", &self.patient)
            .finish()
    }
}

/// The card profiles this device knows, by name.
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    cards: BTreeMap<String, KnownCard>,
}

impl Profiles {
    /// Reads every `*.yaml` profile file directly in `dirs` (photos are not needed). Every
    /// broken file and every name given twice is reported at once.
    pub fn load(dirs: &[PathBuf]) -> Result<Profiles, String> {
        let mut profiles = Vec::new();
        let mut errors = Vec::new();
        for dir in dirs {
            let files = match crate::scenario::suite::yaml_files(
                std::slice::from_ref(dir),
                crate::scenario::suite::Wanted::Profiles,
            ) {
                Ok(files) => files,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            for path in files {
                match crate::cards::load_profile(&path, &crate::cards::no_photos) {
                    Ok(p) => profiles.push((path, p)),
                    Err(e) => errors.push(e.to_string()),
                }
            }
        }
        let mut known = Profiles::default();
        for (path, profile) in profiles {
            if known.cards.contains_key(&profile.name) {
                errors.push(format!(
                    "{}: a second profile named `{}`",
                    path.display(),
                    profile.name
                ));
                continue;
            }
            known.insert(&profile);
        }
        if errors.is_empty() {
            Ok(known)
        } else {
            Err(errors.join("\n"))
        }
    }

    /// Profiles given as values (for tests).
    pub fn from_profiles<'a>(
        profiles: impl IntoIterator<Item = &'a card_emulator::CardProfile>,
    ) -> Profiles {
        let mut known = Profiles::default();
        for p in profiles {
            known.insert(p);
        }
        known
    }

    fn insert(&mut self, p: &card_emulator::CardProfile) {
        let surface_code_b = Secret::new(card_emulator::records::surface_code_b(
            p.holder.birth_date,
            p.card_expiry_year,
            p.security_code.expose(),
        ));
        let patient = card_emulator::CardImage::build(p)
            .ok()
            .map(|image| PatientId(hex::encode(openssl::sha::sha256(&image.auth_certificate))));
        self.cards.insert(
            p.name.clone(),
            KnownCard {
                birth: p.holder.birth_date,
                surface_code_b,
                patient,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&KnownCard> {
        self.cards.get(name)
    }

    pub fn len(&self) -> usize {
        self.cards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    /// Every holder the consent store may meet.
    fn patients(&self) -> impl Iterator<Item = &PatientId> {
        self.cards.values().filter_map(|c| c.patient.as_ref())
    }
}

// ---------------------------------------------------------------------------------------
// Configuration and log
// ---------------------------------------------------------------------------------------

/// The clip store of a device not told where (`--clips`): shared in the temp folder, which
/// is safe because clips are named by their content.
pub fn default_clip_dir() -> PathBuf {
    std::env::temp_dir().join("myna-dut-ref-clips")
}

/// Opens the card of `card_present` within the given per-APDU deadline, reset and ready.
pub type Connector =
    dyn Fn(&CardInfo, Duration) -> Result<Box<dyn CardChannel>, String> + Send + Sync;

/// The card through PC/SC: the reader named in `card_present`, the card reset first (as the
/// engine does between cases).
pub fn pcsc_connector(info: &CardInfo, deadline: Duration) -> Result<Box<dyn CardChannel>, String> {
    let reader = info
        .reader
        .as_deref()
        .ok_or("the card is on no PC/SC reader this device can open")?;
    Ok(Box::new(PcscChannel::connect_fresh(reader, deadline)?))
}

/// A line log of the sessions (`--log FILE`): connections, every message in and out with
/// key positions, keypad layouts and frames redacted; never a PIN or 照合番号B, which no
/// message carries anyway.
#[derive(Clone)]
pub struct Log {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Log {
    /// Appends to `path`.
    pub fn to_file(path: &Path) -> io::Result<Log> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Log::to_writer(Box::new(file)))
    }

    pub fn to_writer(out: Box<dyn Write + Send>) -> Log {
        Log {
            out: Arc::new(Mutex::new(out)),
        }
    }

    pub fn line(&self, text: &str) {
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!(
            "{:02}:{:02}:{:02}.{:03}",
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond()
        );
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{} {stamp} {text}", now.date());
            let _ = out.flush();
        }
    }
}

/// Everything the device holds across sessions.
pub struct DeviceConfig {
    pub profiles: Profiles,
    /// Face matchers, loaded at the first face case and kept.
    pub faces: MatcherPool,
    /// Opens the card of `card_present` ([`pcsc_connector`] unless a test says otherwise).
    pub connector: Arc<Connector>,
    pub log: Option<Log>,
    /// The device's `hello`.
    pub vendor: String,
    pub model: String,
    pub firmware: String,
    pub serial: Option<String>,
    /// The clips the camera plays.
    pub clips: ClipStore,
    /// How long the device takes over each message it acts on, at least (a real reader's
    /// screens and animations; zero: as fast as it can).
    pub pace: std::time::Duration,
    /// The test UI's person: answers to operator prompts, by case and prompt (`None`: no
    /// test UI, no `operator_ui` capability). A prompt it has no answer for stays on screen
    /// until the harness withdraws it, as with a person who does not answer.
    pub operator_ui: Option<crate::operator::script::Answers>,
    /// Where the qualification queries run.
    runtime: tokio::runtime::Runtime,
}

impl DeviceConfig {
    /// A device with these profiles, cards through PC/SC, no log.
    pub fn new(profiles: Profiles) -> io::Result<DeviceConfig> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dut-ref-service")
            .enable_all()
            .build()?;
        Ok(DeviceConfig {
            profiles,
            faces: MatcherPool::new(),
            connector: Arc::new(pcsc_connector),
            log: None,
            vendor: "myna-hil".into(),
            model: "myna-dut-ref (reference reader)".into(),
            firmware: env!("CARGO_PKG_VERSION").into(),
            serial: None,
            clips: ClipStore::open(&default_clip_dir(), ClipFormat::ALL.to_vec())?,
            pace: std::time::Duration::ZERO,
            operator_ui: None,
            runtime,
        })
    }

    /// The `hello` this device answers with.
    pub fn hello(&self) -> DeviceHello {
        DeviceHello {
            protocol: PROTOCOL.into(),
            version: VERSION,
            vendor: self.vendor.clone(),
            model: self.model.clone(),
            firmware: self.firmware.clone(),
            serial: self.serial.clone(),
            capabilities: self.capabilities(),
            clip_formats: self
                .clips
                .formats
                .iter()
                .map(|f| f.name().to_owned())
                .collect(),
        }
    }

    /// [`CAPABILITIES`], and `operator_ui` with a test UI.
    pub fn capabilities(&self) -> Vec<Capability> {
        let mut all = CAPABILITIES.to_vec();
        if self.operator_ui.is_some() {
            all.push(Capability::OperatorUi);
        }
        all
    }

    fn log(&self, text: impl FnOnce() -> String) {
        if let Some(log) = &self.log {
            log.line(&text());
        }
    }
}

// ---------------------------------------------------------------------------------------
// One session
// ---------------------------------------------------------------------------------------

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The peer closed the stream (end of input).
    Closed,
    /// Reading or writing failed (a reset connection, a vanished pty).
    LinkFailed(String),
    /// The peer's `hello` named another protocol or version (answered, then closed).
    VersionMismatch,
}

/// What the reading thread hands the session.
enum Input {
    Message(ToDevice),
    /// A `camera_frame` (dropped as it is read: this device plays clips only).
    Frame,
    /// A line that is not a message, with the `id` it named if one could be read.
    Refused(WireError, Option<u64>),
    End(SessionEnd),
}

/// Serves one session: reads messages from `input` (on a thread of its own, so input is
/// drained while a stimulus is handled) and answers on `output` until the peer goes. With
/// `close_on_mismatch` (TCP) a version mismatch ends the session after its `error`;
/// without (a serial line, which cannot be closed) the device waits for another `hello`.
///
/// `input` should time out its reads (a serial port does; set a read timeout on a socket):
/// the reading thread notices the session's end at its next read.
pub fn serve<R>(
    config: &DeviceConfig,
    input: R,
    output: &mut dyn Write,
    close_on_mismatch: bool,
) -> SessionEnd
where
    R: Read + Send + 'static,
{
    // Bounded: a peer that floods the line while a stimulus is handled is slowed down (the
    // stream's own flow control), not buffered without end.
    let (tx, rx) = mpsc::sync_channel::<Input>(QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let reading = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("dut-ref-read".into())
            .spawn(move || read_lines(input, tx, &stop))
    };
    if let Err(e) = reading {
        return SessionEnd::LinkFailed(format!("cannot start the reading thread: {e}"));
    }
    config.log(|| "session: started".into());
    let mut session = Session {
        config,
        out: output,
        station: Station::new(config),
        hello_seen: false,
        frames_ignored: 0,
        prompt: None,
    };
    let end = loop {
        let Ok(input) = rx.recv() else {
            break SessionEnd::Closed;
        };
        let step = match input {
            Input::End(end) => break end,
            Input::Refused(error, id) => session.refused(&error, id),
            Input::Frame => {
                // Without `camera_frames` the harness sends none; a frame has no answer.
                session.frames_ignored += 1;
                Ok(Flow::Go)
            }
            Input::Message(message) => session.handle(message),
        };
        match step {
            Ok(Flow::Go) => {}
            Ok(Flow::Mismatch) if close_on_mismatch => break SessionEnd::VersionMismatch,
            Ok(Flow::Mismatch) => {
                session.hello_seen = false;
                session.station.idle();
            }
            Err(e) => break SessionEnd::LinkFailed(format!("writing: {e}")),
        }
    };
    stop.store(true, Ordering::SeqCst);
    // The card is let go now, not when the next session starts.
    session.station.idle();
    if session.frames_ignored > 0 {
        let n = session.frames_ignored;
        config.log(|| format!("session: {n} camera_frame line(s) ignored (no camera_frames)"));
    }
    config.log(|| format!("session: ended ({end:?})"));
    end
}

/// Lines read ahead of the session at most.
const QUEUE: usize = 64;

/// The reading thread: decoded messages and refused lines, in order, until the input ends
/// or the session is over.
fn read_lines<R: Read>(input: R, tx: mpsc::SyncSender<Input>, stop: &AtomicBool) {
    let mut lines = LineReader::new(input);
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let input = match lines.read_line() {
            Ok(None) => Input::End(SessionEnd::Closed),
            Ok(Some(line)) => {
                if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                    continue;
                }
                match crate::dut::protocol::decode::<ToDevice>(line) {
                    Ok(ToDevice::CameraFrame { .. }) => Input::Frame,
                    Ok(m) => Input::Message(m),
                    Err(e) => refused(e, line),
                }
            }
            Err(WireError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            // The input ended inside a line: the peer is gone.
            Err(WireError::Unterminated { .. }) => Input::End(SessionEnd::Closed),
            Err(WireError::Io(e)) => Input::End(SessionEnd::LinkFailed(format!("reading: {e}"))),
            Err(e) => Input::Refused(e, None),
        };
        let last = matches!(input, Input::End(_));
        if tx.send(input).is_err() || last {
            return;
        }
    }
}

/// A line that is not a message, with its `id` when it is JSON with a whole-number `id`.
/// A broken `pin_keys` is refused without the decoder's words, which may quote its values
/// (key positions, or digits a broken harness sent): they go neither into the log nor back.
fn refused(error: WireError, line: &[u8]) -> Input {
    let value = serde_json::from_slice::<serde_json::Value>(line).ok();
    let id = value.as_ref().and_then(|v| v.get("id")?.as_u64());
    let pin_keys = value
        .as_ref()
        .and_then(|v| v.get("type")?.as_str().map(|t| t == "pin_keys"))
        .unwrap_or(false);
    let error = match error {
        WireError::InvalidValue { type_name, .. } if pin_keys => WireError::InvalidValue {
            type_name,
            message: "positions must be 0-9, at most 16 of them".into(),
        },
        other => other,
    };
    Input::Refused(error, id)
}

/// The `id` of a line that was refused, when it is JSON with a whole-number `id`.
#[cfg(test)]
fn readable_id(line: &[u8]) -> Option<u64> {
    match refused(WireError::NotAnObject, line) {
        Input::Refused(_, id) => id,
        _ => None,
    }
}

enum Flow {
    Go,
    /// A `hello` of another version was answered.
    Mismatch,
}

struct Session<'a> {
    config: &'a DeviceConfig,
    out: &'a mut dyn Write,
    station: Station<'a>,
    hello_seen: bool,
    frames_ignored: u64,
    /// The operator prompt on the test UI, waiting for a person: its message id and name.
    prompt: Option<(u64, String)>,
}

impl Session<'_> {
    fn send(&mut self, message: &FromDevice) -> Result<(), WireError> {
        self.config.log(|| format!("< {}", redacted_out(message)));
        crate::dut::protocol::write_message(&mut self.out, message)
    }

    fn send_all(&mut self, messages: &[FromDevice]) -> Result<(), WireError> {
        for m in messages {
            self.send(m)?;
        }
        Ok(())
    }

    /// A line that is not a message: `error` (with its `id` if it had one); a `hello` of
    /// another version: `version_mismatch`.
    fn refused(&mut self, error: &WireError, id: Option<u64>) -> Result<Flow, WireError> {
        self.config.log(|| format!("> (refused: {error})"));
        if let WireError::VersionMismatch { .. } = error {
            self.send(&FromDevice::Error(ErrorReply {
                id: None,
                code: ErrorCode::VersionMismatch,
                message: format!("this device speaks {PROTOCOL} version {VERSION}"),
                supported_versions: Some(vec![VERSION]),
            }))?;
            return Ok(Flow::Mismatch);
        }
        let code = error.code().unwrap_or(ErrorCode::BadMessage);
        self.send(&FromDevice::error(id, code, error.to_string()))?;
        Ok(Flow::Go)
    }

    fn handle(&mut self, message: ToDevice) -> Result<Flow, WireError> {
        if !matches!(message, ToDevice::CameraFrame { .. }) {
            self.config.log(|| format!("> {}", message.redacted()));
        }
        // Whatever comes next but a withdrawal ends the prompt on screen.
        match &message {
            ToDevice::OperatorWithdraw { prompt } => return self.withdraw(prompt),
            ToDevice::CameraFrame { .. } => {}
            _ => self.abort_prompt()?,
        }
        let (id, action) = match message {
            ToDevice::Hello(_) => {
                // Also a fresh start: a harness that lost track says hello again.
                self.station.idle();
                self.station.restart_clock();
                self.hello_seen = true;
                self.send(&FromDevice::Hello(self.config.hello()))?;
                return Ok(Flow::Go);
            }
            ToDevice::CameraFrame { .. } => {
                self.frames_ignored += 1;
                return Ok(Flow::Go);
            }
            other => match other.to_action() {
                Some(pair) => pair,
                None => return Ok(Flow::Go),
            },
        };
        if !self.config.pace.is_zero() {
            std::thread::sleep(self.config.pace);
        }
        if !self.hello_seen {
            self.send(&FromDevice::error(
                Some(id),
                ErrorCode::NotNow,
                "no session: send hello first",
            ))?;
            return Ok(Flow::Go);
        }
        if let Some(needed) = action.needs() {
            if !self.config.capabilities().contains(&needed) {
                self.send(&FromDevice::error(
                    Some(id),
                    ErrorCode::Unsupported,
                    format!("this device has no `{}` capability", needed.as_str()),
                ))?;
                return Ok(Flow::Go);
            }
        }
        if let Action::OperatorPrompt(question) = &action {
            return self.show_prompt(id, question);
        }
        // The clip store is the device's, not the case's: it answers at once.
        let clips = &self.config.clips;
        let stored = match &action {
            Action::ClipOffer {
                name,
                format,
                size,
                sha256,
            } => Some(
                clips
                    .offer(name, *format, *size, sha256)
                    .map(|offset| FromDevice::ClipHave { id, offset }),
            ),
            Action::ClipChunk {
                name,
                offset,
                data,
                sha256,
            } => Some(
                clips
                    .chunk(name, *offset, data, sha256)
                    .map(|()| FromDevice::Done { id }),
            ),
            Action::ClipEnd { name } => Some(clips.end(name).map(|()| FromDevice::Done { id })),
            _ => None,
        };
        if let Some(reply) = stored {
            match reply {
                Ok(reply) => self.send(&reply)?,
                Err((code, text)) => {
                    self.config
                        .log(|| format!("< clip refused: {} {text}", code.as_str()));
                    self.send(&FromDevice::error(Some(id), code, text))?
                }
            }
            return Ok(Flow::Go);
        }
        let (messages, answer) = self.station.act(action);
        self.send_all(&messages)?;
        match answer {
            Ok(()) => self.send(&FromDevice::Done { id })?,
            Err((code, text)) => self.send(&FromDevice::error(Some(id), code, text))?,
        }
        Ok(Flow::Go)
    }
}

impl Session<'_> {
    /// The test UI shows `question`: the scripted person answers it at once when the
    /// answers have an answer for it, or the prompt stays until it is withdrawn.
    fn show_prompt(&mut self, id: u64, question: &OperatorQuestion) -> Result<Flow, WireError> {
        let answers = self.config.operator_ui.as_ref();
        let answer = answers
            .and_then(|a| a.find(&self.station.case.case, &question.prompt))
            .map(|(text, _)| text.to_owned());
        match answer {
            Some(answer) => {
                let at_ms = crate::dut::protocol::millis(self.station.now());
                self.send(&FromDevice::OperatorAnswer {
                    at_ms,
                    prompt: question.prompt.clone(),
                    answer,
                })?;
                self.send(&FromDevice::Done { id })?;
            }
            None => {
                self.config.log(|| {
                    format!(
                        "test UI: `{}` on screen, no answer scripted: waiting",
                        question.prompt
                    )
                });
                self.prompt = Some((id, question.prompt.clone()));
            }
        }
        Ok(Flow::Go)
    }

    /// `operator_withdraw`: the prompt on screen goes, and its `operator_prompt` is done.
    fn withdraw(&mut self, prompt: &str) -> Result<Flow, WireError> {
        match self.prompt.take() {
            Some((id, shown)) if shown == prompt => self.send(&FromDevice::Done { id })?,
            other => self.prompt = other,
        }
        Ok(Flow::Go)
    }

    /// Any other message while a prompt is on screen: the prompt ends `aborted`.
    fn abort_prompt(&mut self) -> Result<(), WireError> {
        if let Some((id, prompt)) = self.prompt.take() {
            self.send(&FromDevice::error(
                Some(id),
                ErrorCode::Aborted,
                format!("`{prompt}` taken off the test UI: another message came"),
            ))?;
        }
        Ok(())
    }
}

/// A message as the log shows it: keypad layouts redacted (with the key positions, which
/// the log never holds either, they would be the PIN).
fn redacted_out(message: &FromDevice) -> String {
    match message {
        FromDevice::KeypadLayout { at_ms, .. } => {
            format!(r#"{{"type":"keypad_layout","at_ms":{at_ms},"digits":"<redacted>"}}"#)
        }
        other => {
            let line = crate::dut::protocol::encode(other);
            String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned()
        }
    }
}

// ---------------------------------------------------------------------------------------
// The device's state: the reader of the case, its card and camera
// ---------------------------------------------------------------------------------------

/// The case's surroundings, from `case_start`.
struct CaseSettings {
    /// The case's id (what the test UI's answers name).
    case: String,
    today: Date,
    facility: String,
    service: SocketAddr,
    bench: BenchSettings,
}

impl CaseSettings {
    fn defaults() -> CaseSettings {
        CaseSettings {
            case: String::new(),
            today: time::OffsetDateTime::now_utc().date(),
            facility: String::new(),
            service: nowhere(),
            bench: BenchSettings::default(),
        }
    }
}

/// An address no service listens on: queries fail at once (the service is down).
fn nowhere() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

type Answer = Result<(), (ErrorCode, String)>;

struct Station<'a> {
    config: &'a DeviceConfig,
    /// The case clock: `at_ms` counts from here (the latest `case_start`, else `hello`).
    clock: Instant,
    case: CaseSettings,
    reader: Option<VirtualReader>,
    /// When the reader was made, on the case clock (its events count from then).
    reader_born: Duration,
    /// Events and timings of the reader already sent.
    events_sent: usize,
    timings_sent: usize,
    /// The camera started before the reader was made.
    camera: Option<FaceKit>,
    /// The last `at_ms` sent (kept non-decreasing).
    last_at: Duration,
}

impl<'a> Station<'a> {
    fn new(config: &'a DeviceConfig) -> Station<'a> {
        Station {
            config,
            clock: Instant::now(),
            case: CaseSettings::defaults(),
            reader: None,
            reader_born: Duration::ZERO,
            events_sent: 0,
            timings_sent: 0,
            camera: None,
            last_at: Duration::ZERO,
        }
    }

    fn restart_clock(&mut self) {
        self.clock = Instant::now();
        self.last_at = Duration::ZERO;
    }

    /// Back to idle: the reader, its card (the PC/SC connection is closed) and the camera
    /// are dropped.
    fn idle(&mut self) {
        if let Some(mut reader) = self.reader.take() {
            drop(reader.take_card());
        }
        self.camera = None;
        self.events_sent = 0;
        self.timings_sent = 0;
    }

    /// Handles one action; returns the messages it caused (events, timings) and the answer.
    fn act(&mut self, action: Action) -> (Vec<FromDevice>, Answer) {
        let answer = match action {
            Action::StartCase {
                case,
                today,
                facility,
                service_url,
                bench,
            } => self.start_case(case, today, facility, service_url, bench),
            Action::Reset => {
                self.idle();
                Ok(())
            }
            Action::PlaceCard(info) => self.place_card(&info),
            Action::CameraStart(CameraSource::Clip { name, sha256, fps }) => {
                self.start_camera(&name, &sha256, fps)
            }
            Action::CameraStart(CameraSource::Frames { .. }) => Err((
                ErrorCode::Unsupported,
                "this device has no `camera_frames` capability".into(),
            )),
            Action::CameraStop => {
                // A camera the reader holds already stops when its face path ends.
                self.camera = None;
                Ok(())
            }
            other => match other.try_into_stimulus(None) {
                Ok(Stimulus::Show(_)) => Err((
                    ErrorCode::Unsupported,
                    "this device has no `desk` capability".into(),
                )),
                Ok(stimulus) => self.apply(stimulus),
                // `operator_prompt` is the session's (its test UI), never the reader's.
                Err(action) => Err((ErrorCode::Internal, format!("{action:?} has no stimulus"))),
            },
        };
        (self.news(), answer)
    }

    fn start_case(
        &mut self,
        case: String,
        today: Option<Date>,
        facility: Option<String>,
        service_url: Option<String>,
        bench: BenchSettings,
    ) -> Answer {
        self.idle();
        self.restart_clock();
        let service = match service_url.as_deref() {
            None => nowhere(),
            Some(url) => service_address(url).map_err(|why| (ErrorCode::BadMessage, why))?,
        };
        self.case = CaseSettings {
            case,
            today: today.unwrap_or_else(|| time::OffsetDateTime::now_utc().date()),
            facility: facility.unwrap_or_default(),
            service,
            bench,
        };
        Ok(())
    }

    /// The case's reader, made now if there is none yet (with the patient of `card` when
    /// the card comes first, as it does).
    fn reader(&mut self, card: Option<&KnownCard>) -> &mut VirtualReader {
        if self.reader.is_none() {
            let setup = self.setup(card);
            self.reader_born = self.clock.elapsed();
            self.events_sent = 0;
            self.timings_sent = 0;
            self.reader = Some(VirtualReader::new(setup));
        }
        self.reader.as_mut().expect("made above")
    }

    /// What the reader needs of its surroundings, as the engine gives it in process.
    fn setup(&mut self, card: Option<&KnownCard>) -> ReaderSetup {
        let case = &self.case;
        let birth = card.map_or(DEFAULT_BIRTH, |c| c.birth);
        let limit = case
            .bench
            .limit_category
            .unwrap_or_else(|| LimitCategory::default_for(birth, case.today));
        // The history is this case's patient's; the store is keyed by who holds the card,
        // so every holder this device knows gets it (one of them is placed).
        let mut consent = ConsentStore::new();
        for patient in self.config.profiles.patients() {
            for past in &case.bench.consent_history {
                let _ = consent.visit(
                    patient,
                    &FacilityId(past.facility.clone()),
                    past.on,
                    ConsentStep::Choose(past.choice),
                );
            }
        }
        ReaderSetup {
            today: case.today,
            facility: case.facility.clone(),
            // The desk is the harness's: these are never used here.
            rule_set: RuleSet::default(),
            visit: Visit::default(),
            service: BlockingQualificationClient::on_runtime(
                case.service,
                self.config.runtime.handle().clone(),
            ),
            service_deadline: case
                .bench
                .service_deadline
                .unwrap_or(DEFAULT_SERVICE_DEADLINE),
            consent,
            patient: Patient::new(birth, limit),
            face: self
                .camera
                .take()
                .map(|k| Box::new(k) as Box<dyn crate::reader::FaceCamera>),
        }
    }

    fn place_card(&mut self, info: &CardInfo) -> Answer {
        let known = self.config.profiles.get(&info.profile).cloned();
        let deadline = self
            .case
            .bench
            .card_deadline
            .unwrap_or(DEFAULT_CARD_DEADLINE);
        let chip: Box<dyn CardChannel> = match (self.config.connector)(info, deadline) {
            // A real card: the device verifies only what the patient types (the harness
            // decides whether to type on a real card at all, from the tries the pad shows),
            // and its guard asks the tries left first and never spends the last one.
            Ok(channel) if info.real => Box::new(GuardedChannel::new(
                channel,
                None,
                Policy {
                    allow_destructive: true,
                },
            )),
            Ok(channel) => channel,
            // The reader finds out as it would: its first APDU fails.
            Err(why) => Box::new(UnreachableCard(why)),
        };
        let placed = PlacedCard {
            chip,
            surface_code_b: known.as_ref().map(|c| c.surface_code_b.clone()),
        };
        let reader = self.reader(known.as_ref());
        driver_answer(reader.apply(Stimulus::PlaceCard(placed)))
    }

    fn apply(&mut self, stimulus: Stimulus) -> Answer {
        let reader = self.reader(None);
        driver_answer(reader.apply(stimulus))
    }

    fn start_camera(&mut self, name: &str, sha256: &str, fps: f64) -> Answer {
        let path = self.config.clips.play(name, sha256)?;
        let mut kit = FaceKit::for_clip(&path, fps, &self.config.faces)
            .map_err(|why| (ErrorCode::Internal, why))?;
        if let Some(n) = self.case.bench.earlier_face_failures {
            kit.set_earlier_failures(n);
        }
        match self.reader.as_mut() {
            Some(reader) => reader.set_face(Box::new(kit)),
            None => self.camera = Some(kit),
        }
        Ok(())
    }

    /// Now on the case clock, never before the last `at_ms` sent.
    fn now(&mut self) -> Duration {
        self.last_at = self.clock.elapsed().max(self.last_at);
        self.last_at
    }

    /// The reader's events and timings not sent yet, on the case clock.
    fn news(&mut self) -> Vec<FromDevice> {
        let Some(reader) = self.reader.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for event in &reader.events()[self.events_sent.min(reader.events().len())..] {
            let at = (self.reader_born + event.at).max(self.last_at);
            self.last_at = at;
            let mut event = event.clone();
            event.at = at;
            out.push(FromDevice::from_event(&event));
        }
        self.events_sent = reader.events().len();
        let now = self.clock.elapsed().max(self.last_at);
        for (name, took) in &reader.timings()[self.timings_sent.min(reader.timings().len())..] {
            out.push(FromDevice::timing(now, name, *took));
        }
        self.timings_sent = reader.timings().len();
        self.last_at = now;
        out
    }
}

/// A reader's refusal as the protocol's error.
fn driver_answer(result: Result<(), DriverError>) -> Answer {
    result.map_err(|e| match e {
        DriverError::NotNow(why) => (ErrorCode::NotNow, why),
        DriverError::Unsupported(why) => (ErrorCode::Unsupported, why),
        other => (ErrorCode::Internal, other.to_string()),
    })
}

/// `host:port` of an `http://host:port/…` URL (a bare `host:port` too), resolved.
fn service_address(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if rest.is_empty() || !rest.contains(':') {
        return Err(format!(
            "service_url {url:?}: expected http://HOST:PORT/ (plain HTTP with a port)"
        ));
    }
    rest.to_socket_addrs()
        .map_err(|e| format!("service_url {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("service_url {url:?}: no address"))
}

/// A card the device could not open: every APDU fails with the reason, so the reader's own
/// failure path reports it (`card_path` ReaderError), as a card that does not answer would.
struct UnreachableCard(String);

impl CardChannel for UnreachableCard {
    fn transmit(&mut self, _apdu: &[u8]) -> Result<Response, ChannelError> {
        Err(ChannelError::Reader(self.0.clone()))
    }
    fn reset(&mut self) -> Result<(), ChannelError> {
        Err(ChannelError::Reader(self.0.clone()))
    }
    fn describe(&self) -> String {
        "unreachable card".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_give_addresses() {
        assert_eq!(
            service_address("http://127.0.0.1:8085/").unwrap(),
            "127.0.0.1:8085".parse().unwrap()
        );
        assert_eq!(
            service_address("127.0.0.1:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert!(service_address("http://127.0.0.1/").is_err());
        assert!(service_address("").is_err());
        assert!(service_address("http://").is_err());
    }

    #[test]
    fn refused_lines_keep_their_id() {
        assert_eq!(readable_id(br#"{"type":"teleport","id":3}"#), Some(3));
        assert_eq!(readable_id(br#"{"type":"pin_keys","id":"x"}"#), None);
        assert_eq!(readable_id(b"not json"), None);
    }

    #[test]
    fn a_broken_pin_keys_is_refused_without_its_values() {
        let line = br#"{"type":"pin_keys","id":4,"positions":"1234"}"#;
        let error = crate::dut::protocol::decode::<ToDevice>(line).unwrap_err();
        assert!(error.to_string().contains("1234"), "{error}");
        match refused(error, line) {
            Input::Refused(e, id) => {
                assert_eq!(id, Some(4));
                assert!(!e.to_string().contains("1234"), "{e}");
                assert_eq!(e.code(), Some(ErrorCode::BadMessage));
            }
            _ => panic!("not refused"),
        }
    }

    #[test]
    fn known_cards_never_show_their_code() {
        let profiles = Profiles::from_profiles([&card_emulator::CardProfile::sample()]);
        let card = profiles
            .get(&card_emulator::CardProfile::sample().name)
            .unwrap();
        let shown = format!("{card:?}");
        assert!(!shown.contains(card.surface_code_b.expose()), "{shown}");
        assert!(card.patient.is_some());
    }
}
