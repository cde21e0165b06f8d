//! The `dut` reader driver: the engine's stimuli sent to a device under test over the
//! adapter protocol (docs/adapter-protocol.md), its events read back. The device is a card
//! reader only: the harness plays the front desk behind it (`reader::desk`), and puts the
//! emulated card into the PC/SC reader the device is told about.
//!
//! Strict with the device, and never at its mercy: every wait ends at its deadline however
//! the device sends (a flood of lines or one byte at a time); a line that is not a message,
//! silence past the deadline, more than [`MAX_LINES_PER_CASE`] lines or a vanished link
//! ends the case in `error`, and the next case reconnects and says `hello` again. A
//! well-formed line of an unknown type is kept as a note. What the device says is checked
//! as it comes (a PIN pad that is a shuffled permutation, a clock that never goes back, no
//! secret in any text, PIN tries that agree with what the harness saw): a breach is the
//! device's `fail`, recorded in [`ReaderReport::breaches`].

use super::link::{self, Address, Link};
use super::protocol::{
    clip_device_text, write_message, Action, BenchSettings, CameraSource, Capability, CardInfo,
    DeviceHello, ErrorCode, ErrorReply, FromDevice, LineReader, OperatorQuestion, Report, ToDevice,
    WireError, WireMessage, CLIP_DEADLINE, HELLO_DEADLINE, MAX_LINES_PER_CASE, PROTOCOL,
    RESET_DEADLINE, VERSION, WITHDRAW_DEADLINE,
};
use super::secrets::Secrets;
use crate::channel::guard::TriesLedger;
use crate::clips::{ClipFile, ClipFormat, ClipId, MAX_RESUMES};
use crate::reader::desk::{self, DeskSetup};
use crate::reader::{
    DriverError, Event, EventKind, FaceResult, Layout, OperatorRelay, ReaderDriver, ReaderReport,
    Stimulus,
};
use crate::rules::{CardFailure, CardPath};
use crate::scenario::{Method, OperatorPrompt, StepKind};
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The link's read timeout: how often a waiting reader looks at its deadline.
const POLL: Duration = Duration::from_millis(50);
/// How long a case waits for lines the device sent after the last case ended, before it
/// starts (they are on the link by then: the device sent them before the harness did the
/// last case's bookkeeping).
const LATE: Duration = Duration::from_millis(2);
/// The most different breaches one case records.
const MAX_BREACHES: usize = 8;

/// The link's reading half, failing every read once its deadline has passed: a device that
/// drips a line one byte at a time cannot keep a read going past the deadline.
struct Bounded {
    link: Box<dyn Link>,
    deadline: Instant,
    /// The link's read timeout now: [`POLL`], or less close to the deadline.
    timeout: Duration,
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let timeout = left.min(POLL).max(Duration::from_millis(1));
        if timeout != self.timeout {
            self.link.set_read_timeout(timeout)?;
            self.timeout = timeout;
        }
        self.link.read(buf)
    }
}

/// One line from the device: a message, or a well-formed one of a type this harness does
/// not know (kept as a note).
enum Incoming {
    Message(FromDevice),
    Unknown(String),
}

/// One open session with the device: the link and what the device said it can do.
pub struct Session {
    lines: LineReader<Bounded>,
    out: Box<dyn Link>,
    pub hello: DeviceHello,
    next_id: u64,
}

impl Session {
    /// Opens the link and exchanges `hello`, all within [`HELLO_DEADLINE`] (lines before the
    /// device's `hello` are ignored, but do not extend it).
    pub fn open(address: &Address) -> Result<Session, String> {
        let deadline = Instant::now() + HELLO_DEADLINE;
        let mut link = link::connect(address, HELLO_DEADLINE).map_err(|e| e.to_string())?;
        link.set_read_timeout(POLL).map_err(|e| e.to_string())?;
        let mut out = link.try_clone_link().map_err(|e| e.to_string())?;
        let mut lines = LineReader::new(Bounded {
            link,
            deadline,
            timeout: POLL,
        });
        write_message(&mut out, &ToDevice::hello()).map_err(|e| e.to_string())?;
        loop {
            let message = match next_message(&mut lines, deadline)? {
                Incoming::Message(m) => m,
                Incoming::Unknown(_) => continue,
            };
            match message {
                FromDevice::Hello(mut hello)
                    if hello.protocol == PROTOCOL && hello.version == VERSION =>
                {
                    clip_hello(&mut hello);
                    return Ok(Session {
                        lines,
                        out,
                        hello,
                        next_id: 1,
                    });
                }
                FromDevice::Hello(mut h) => {
                    clip_hello(&mut h);
                    return Err(format!(
                        "the device speaks {:?} version {}; the harness speaks {PROTOCOL:?} version {VERSION}",
                        h.protocol, h.version
                    ));
                }
                FromDevice::Error(mut e) if e.code == ErrorCode::VersionMismatch => {
                    clip_device_text(&mut e.message);
                    return Err(format!(
                        "the device does not speak {PROTOCOL:?} version {VERSION} (it speaks {:?}): {}",
                        e.supported_versions.unwrap_or_default(),
                        e.message
                    ));
                }
                FromDevice::Error(mut e) => {
                    clip_device_text(&mut e.message);
                    return Err(format!("the device refused hello: {}", e.message));
                }
                // Anything before the device's hello is ignored (a device may log first).
                _ => {}
            }
        }
    }

    /// The next line before `deadline`.
    fn next(&mut self, deadline: Instant) -> Result<Incoming, String> {
        next_message(&mut self.lines, deadline)
    }

    fn send(&mut self, action: &Action) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id += 1;
        let message = action.to_message(id).map_err(|e| e.to_string())?;
        self.write(&message)?;
        Ok(id)
    }

    /// Sends a message that has no answer of its own (`operator_withdraw`).
    fn write(&mut self, message: &ToDevice) -> Result<(), String> {
        write_message(&mut self.out, message).map_err(|e| format!("the link failed: {e}"))
    }
}

/// The device's own words in its `hello`, cut to the length the harness keeps.
fn clip_hello(hello: &mut DeviceHello) {
    for text in hello.texts_mut() {
        clip_device_text(text);
    }
}

/// The next line of `lines` before `deadline`: the deadline bounds the whole wait, however
/// many lines or bytes come meanwhile.
fn next_message(lines: &mut LineReader<Bounded>, deadline: Instant) -> Result<Incoming, String> {
    lines.get_mut().deadline = deadline;
    loop {
        if Instant::now() >= deadline {
            return Err("the device did not answer in time".into());
        }
        match lines.read_message::<FromDevice>() {
            Ok(Some(m)) => return Ok(Incoming::Message(m)),
            Ok(None) => return Err("the device closed the link".into()),
            Err(WireError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) => {}
            Err(WireError::Io(e)) => return Err(format!("the link failed: {e}")),
            Err(WireError::UnknownType { mut type_name }) => {
                clip_device_text(&mut type_name);
                return Ok(Incoming::Unknown(type_name));
            }
            Err(e) => {
                let mut why = e.to_string();
                clip_device_text(&mut why);
                return Err(format!("the device sent a bad line: {why}"));
            }
        }
    }
}

/// The device of a run: its address, and the session cases take turns on.
pub struct Device {
    address: Address,
    /// The idle session (`None` once lost), and whether a case holds it now.
    session: Mutex<(Option<Session>, bool)>,
    returned: Condvar,
    hello: DeviceHello,
    /// What the harness remembers of this device across cases.
    memory: Mutex<Memory>,
}

/// Across cases: the last PIN pad the device showed (a layout is for one entry only), and
/// the PIN tries known of each real card (by profile), which outlive a case.
#[derive(Default)]
struct Memory {
    last_layout: Option<[u8; 10]>,
    ledgers: HashMap<String, TriesLedger>,
    /// The clips this device was sent, by what their footage is made from and their format:
    /// a later case with the same footage offers the clip without making it again.
    clips: HashMap<(String, ClipFormat), ClipId>,
}

/// The device under test could not be reached, or answered its `hello` wrongly (another
/// protocol or version): the test bench's fault.
#[derive(Debug, thiserror::Error)]
#[error("device under test: {0}")]
pub struct DeviceError(String);

impl crate::failure::Classified for DeviceError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Bench
    }
}

impl Device {
    /// Connects and says `hello`: a device that cannot be reached stops the run before any
    /// case (the bench's fault).
    pub fn connect(address: Address) -> Result<Arc<Device>, DeviceError> {
        let session = Session::open(&address).map_err(DeviceError)?;
        Ok(Arc::new(Device {
            address,
            hello: session.hello.clone(),
            session: Mutex::new((Some(session), false)),
            returned: Condvar::new(),
            memory: Mutex::default(),
        }))
    }

    pub fn hello(&self) -> &DeviceHello {
        &self.hello
    }

    /// Where the harness reaches the device (what `--reader` said, not what it says).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The session for one case: the idle one, or (once the last case lost it) a new one.
    /// Waits up to `wait` for a case still holding it.
    fn take(&self, wait: Duration) -> Result<Session, String> {
        let guard = self.session.lock().map_err(|_| "device session poisoned")?;
        let (mut guard, _) = self
            .returned
            .wait_timeout_while(guard, wait, |(_, lent)| *lent)
            .map_err(|_| "device session poisoned")?;
        let idle = guard.0.take();
        guard.1 = true;
        drop(guard);
        match idle {
            Some(s) => Ok(s),
            None => Session::open(&self.address).inspect_err(|_| self.give_back(None)),
        }
    }

    /// A session whose case ended cleanly; `None` marks it lost (the next case reconnects,
    /// and dropping it closes the link, which tells the device the session is over).
    fn give_back(&self, session: Option<Session>) {
        if let Ok(mut guard) = self.session.lock() {
            *guard = (session, false);
        }
        self.returned.notify_all();
    }
}

/// The capability a case's steps need that the device did not announce, if any: such a
/// case does not apply to the device and is skipped before anything is prepared for it.
pub fn missing_capability(hello: &DeviceHello, steps: &[StepKind]) -> Option<String> {
    let needs = |step: &StepKind| -> &'static [Capability] {
        match step {
            StepKind::Choose(Method::Face) => &[Capability::Face, Capability::CameraClips],
            StepKind::Choose(Method::Pin) | StepKind::EnterPin(_) => &[Capability::Pin],
            StepKind::Consent(_) => &[Capability::Consent],
            StepKind::Register(_) => &[Capability::Registration],
            StepKind::StaffCheck(_) => &[Capability::VisualCheck],
            // The harness plays the desk for a device without one; it asks the operator
            // itself.
            StepKind::Show(_)
            | StepKind::PlaceCard
            | StepKind::RemoveCard
            | StepKind::Service(_)
            | StepKind::Wait(_)
            | StepKind::Operator(_) => &[],
        }
    };
    let missing = steps.iter().find_map(|step| {
        needs(step).iter().find(|c| !hello.has(c)).map(|c| {
            format!(
                "the case's step `{}` needs the capability `{}`, which the device did not announce",
                step.name(),
                c.as_str()
            )
        })
    });
    missing.or_else(|| {
        let face = steps
            .iter()
            .any(|s| matches!(s, StepKind::Choose(Method::Face)));
        face.then(|| clip_format(hello).err()).flatten()
    })
}

/// What a case tells the device at its start.
pub struct CaseInfo {
    pub case_id: String,
    pub today: time::Date,
    pub facility: String,
    pub service_url: String,
    pub card: Option<CardInfo>,
    /// The secrets of the case's card, which the device must never disclose.
    pub secrets: Secrets,
    pub desk: DeskSetup,
    /// The longest a stimulus may take.
    pub step_deadline: Duration,
    /// The case's camera, made into a clip and sent to the device before the case starts.
    pub camera: Option<Box<dyn crate::reader::FaceCamera>>,
    /// Test-bench settings a reference or configurable device uses (a real one may not).
    pub bench: BenchSettings,
}

/// The driver of one case.
pub struct DutReader {
    device: Arc<Device>,
    session: Option<Session>,
    /// Why the link can no longer be trusted (later stimuli fail at once).
    broken: Option<String>,
    info: CaseInfo,
    report: ReaderReport,
    layout: Option<Layout>,
    /// The PIN tries left on the case's card, as far as the harness can tell.
    ledger: TriesLedger,
    /// The device reported the end of the card path (`card_path`), and how it failed.
    card_path_ended: bool,
    card_path: Option<CardPath>,
    face_failed: bool,
    authenticated: bool,
    /// The latest `at_ms` (a device's clock never goes back), and whether it did (said once).
    last_at: Duration,
    clock_went_back: bool,
    /// Lines the device sent in this case (bounded by [`MAX_LINES_PER_CASE`]).
    lines: usize,
    /// The clip of the case's camera the device holds (sent before the case started, so
    /// no step waits for it): name, SHA-256, frame rate.
    clip: Option<(String, String, f64)>,
}

/// How a clip exchange ended, when the device answered.
enum Answer {
    Done(FromDevice),
    Refused(ErrorReply),
}

impl DutReader {
    /// Takes the device's session and starts the case on it.
    pub fn start(device: Arc<Device>, mut info: CaseInfo) -> Result<DutReader, String> {
        let camera = match info.camera.take() {
            Some(kit) => Some((kit, clip_format(&device.hello)?)),
            None => None,
        };
        let session = device.take(info.step_deadline)?;
        // A real card's tries outlive the case; an emulated card is new in every case.
        let ledger = match &info.card {
            Some(card) if card.real => device
                .memory
                .lock()
                .ok()
                .and_then(|m| m.ledgers.get(&card.profile).cloned())
                .unwrap_or_default(),
            _ => TriesLedger::default(),
        };
        let mut reader = DutReader {
            device,
            session: Some(session),
            broken: None,
            info,
            report: ReaderReport::default(),
            layout: None,
            ledger,
            card_path_ended: false,
            card_path: None,
            face_failed: false,
            authenticated: false,
            last_at: Duration::ZERO,
            clock_went_back: false,
            lines: 0,
            clip: None,
        };

        let start = Action::StartCase {
            case: reader.info.case_id.clone(),
            today: Some(reader.info.today),
            facility: Some(reader.info.facility.clone()),
            service_url: Some(reader.info.service_url.clone()),
            bench: reader.info.bench.clone(),
        };
        // The fence: what the device sent after the last case's `reset` was done, before this
        // case starts, belongs to no case: it is dropped, and it is a breach (a device is
        // quiet between cases).
        let result = reader
            .drop_late_lines()
            .and_then(|()| match &camera {
                Some((kit, format)) => reader.provide_clip(kit.as_ref(), *format),
                None => Ok(()),
            })
            .and_then(|()| {
                reader.exchange_until(&start, Instant::now() + reader.info.step_deadline)
            });
        if let Err(e) = result {
            reader.device.give_back(None);
            return Err(e.to_string());
        }
        Ok(reader)
    }

    /// Sends `action` and reads until the device answers it.
    fn exchange(&mut self, action: &Action) -> Result<(), DriverError> {
        if let Some(why) = &self.broken {
            return Err(DriverError::Device(why.clone()));
        }
        if let Some(needed) = action.needs() {
            if !self.device.hello.has(&needed) {
                return Err(DriverError::Unsupported(format!(
                    "the device has no `{}` capability",
                    needed.as_str()
                )));
            }
        }
        let deadline = Instant::now() + self.info.step_deadline;
        let result = self.exchange_until(action, deadline);
        if let Err(DriverError::Device(why)) = &result {
            // The link's state is unknown: nothing more goes over it.
            self.broken = Some(why.clone());
            self.session = None;
        }
        result
    }

    /// Reads what the device has sent since its last `reset` was done (waiting [`LATE`] at
    /// most), drops it and notes it as a breach: right after the `reset` (the case that
    /// ended is the one whose events came late) and again before the next case starts.
    fn drop_late_lines(&mut self) -> Result<(), DriverError> {
        let until = Instant::now() + LATE;
        let mut late = 0usize;
        while let Some(session) = self.session.as_mut() {
            match session.next(until) {
                Ok(_) => late += 1,
                Err(_) if Instant::now() >= until => break,
                Err(why) => return Err(DriverError::Device(self.masked(why))),
            }
            if late > MAX_LINES_PER_CASE {
                break;
            }
        }
        if late > 0 {
            self.breach(format!(
                "the device sent {late} line(s) after a `reset` was done (dropped: a device \
                 is quiet between cases)"
            ));
        }
        Ok(())
    }

    /// Sends `action` and files what the device sends until it answers, all before
    /// `deadline`.
    fn exchange_until(&mut self, action: &Action, deadline: Instant) -> Result<(), DriverError> {
        match self.answer(action, deadline, true)? {
            Answer::Done(_) => Ok(()),
            Answer::Refused(e) => Err(e.driver_error().unwrap_or_else(|| {
                DriverError::Device(format!("{}: {}", e.code.as_str(), e.message))
            })),
        }
    }

    /// The case's session, while the link holds.
    fn session(&mut self) -> Result<&mut Session, DriverError> {
        self.session
            .as_mut()
            .ok_or_else(|| DriverError::Device("no session".into()))
    }

    /// The next line of the case from the device before `deadline`, counted against
    /// [`MAX_LINES_PER_CASE`] and checked ([`DutReader::checked`]); a line of an unknown
    /// type comes back as a note.
    fn next_line(&mut self, deadline: Instant) -> Result<FromDevice, DriverError> {
        let incoming = match self.session()?.next(deadline) {
            Ok(incoming) => incoming,
            Err(why) => return Err(DriverError::Device(self.masked(why))),
        };
        self.lines += 1;
        if self.lines > MAX_LINES_PER_CASE {
            return Err(DriverError::Device(format!(
                "the device sent more than {MAX_LINES_PER_CASE} lines in one case"
            )));
        }
        Ok(match incoming {
            Incoming::Message(m) => self.checked(m),
            Incoming::Unknown(type_name) => {
                let mut text =
                    format!("the device sent a message of an unknown type {type_name:?} (ignored)");
                self.mask_text(&mut text, "an unknown message type");
                FromDevice::Note {
                    at_ms: super::protocol::millis(self.now()),
                    text,
                }
            }
        })
    }

    /// Shows `question` on the device's test UI and reads, in slices of [`POLL`], until the
    /// device is done with it: a person's answer there goes to `relay`; once `relay` closes
    /// (answered elsewhere, or the deadline passed) the question is withdrawn, and the
    /// device has [`WITHDRAW_DEADLINE`] to say `done`.
    fn relay_question(
        &mut self,
        question: &OperatorQuestion,
        relay: &dyn OperatorRelay,
    ) -> Result<(), DriverError> {
        let session = self.session()?;
        let id = session
            .send(&Action::OperatorPrompt(question.clone()))
            .map_err(DriverError::Device)?;
        // However the desk behaves, the device is told to let go after the prompt's deadline.
        let close_at = Instant::now() + question.deadline;
        // Once the prompt is answered here or withdrawn: by when the device says `done`.
        let mut withdrawn: Option<Instant> = None;
        loop {
            if withdrawn.is_none() && (!relay.is_open() || Instant::now() >= close_at) {
                let withdraw = ToDevice::OperatorWithdraw {
                    prompt: question.prompt.clone(),
                };
                self.session()?
                    .write(&withdraw)
                    .map_err(DriverError::Device)?;
                self.harness_note(format!(
                    "harness: `{}` withdrawn from the device's test UI (answered elsewhere, \
                     or past its deadline)",
                    question.prompt
                ));
                withdrawn = Some(Instant::now() + WITHDRAW_DEADLINE);
            }
            let slice = Instant::now() + POLL;
            let until = withdrawn.map_or(slice, |d| d.min(slice));
            let message = match self.next_line(until) {
                Ok(m) => m,
                // Only the end of a slice: look at the desk again.
                Err(_) if Instant::now() >= until && withdrawn.is_none_or(|d| until < d) => {
                    continue
                }
                Err(DriverError::Device(why)) if withdrawn.is_some() => {
                    return Err(DriverError::Device(format!(
                        "`operator_prompt` {} answered or withdrawn, no `done`: {why}",
                        question.prompt
                    )))
                }
                Err(e) => return Err(e),
            };
            if message.answers() == Some(id) {
                if let FromDevice::Error(e) = message {
                    // Withdrawn prompts may end `aborted`; any other refusal is noted, and
                    // the prompt stays open for the other sources.
                    if !(withdrawn.is_some() && e.code == ErrorCode::Aborted) {
                        self.harness_note(format!(
                            "harness: the device refused `operator_prompt` {}: {} {}",
                            question.prompt,
                            e.code.as_str(),
                            e.message
                        ));
                    }
                }
                return Ok(());
            }
            match message {
                FromDevice::OperatorAnswer {
                    at_ms,
                    prompt,
                    answer,
                } if prompt == question.prompt => {
                    let taken = match relay.answer(&answer) {
                        Ok(()) => {
                            // Answered here: nothing to withdraw, the `done` is due.
                            withdrawn.get_or_insert(Instant::now() + WITHDRAW_DEADLINE);
                            "taken".to_owned()
                        }
                        Err(why) => format!("not taken: {why}"),
                    };
                    self.take_event(Event {
                        at: super::protocol::millis_to_duration(at_ms),
                        kind: EventKind::Note {
                            text: format!(
                                "operator: `{answer}` answered to `{prompt}` on the device's test UI ({taken})"
                            ),
                        },
                    });
                }
                other => self.take_report(other),
            }
        }
    }

    /// Sends `action` and reads until the device answers it, before `deadline`: its answer,
    /// or `Err` when the link failed. What else the device sends meanwhile is filed in the
    /// case's report (`file`), or dropped and counted as a breach (a clip transfer, before
    /// the case starts, has nothing else to say).
    fn answer(
        &mut self,
        action: &Action,
        deadline: Instant,
        file: bool,
    ) -> Result<Answer, DriverError> {
        let session = self.session()?;
        let id = session.send(action).map_err(DriverError::Device)?;
        loop {
            let message = self.next_line(deadline)?;
            if message.answers() == Some(id) {
                return Ok(match message {
                    FromDevice::Error(e) => Answer::Refused(e),
                    other => Answer::Done(other),
                });
            }
            if file {
                self.take_report(message);
            } else {
                self.breach(format!(
                    "the device sent a `{}` during a clip transfer (dropped: only answers \
                     come then)",
                    message.type_name()
                ));
            }
        }
    }

    /// The case's clip on the device before the case starts: a clip of the same footage it
    /// was sent before is only offered (held whole: nothing is made or sent); otherwise the
    /// clip is made and sent.
    fn provide_clip(
        &mut self,
        kit: &dyn crate::reader::FaceCamera,
        format: ClipFormat,
    ) -> Result<(), DriverError> {
        let key = (kit.footage_key(), format);
        let known = self
            .device
            .memory
            .lock()
            .ok()
            .and_then(|m| m.clips.get(&key).cloned());
        if let Some(id) = known {
            if let Ok(held) = self.offer(&id) {
                if held == id.size {
                    self.clip = Some((id.name.clone(), id.sha256.clone(), id.fps()));
                    return Ok(());
                }
            }
        }
        let clip = kit.clip(format).map_err(DriverError::Device)?;
        self.send_clip(&clip)?;
        if let Ok(mut memory) = self.device.memory.lock() {
            memory.clips.insert(key, clip.id());
        }
        Ok(())
    }

    /// `clip_offer`: how many bytes of the clip the device holds; `Err` says why not, and
    /// whether the link was lost.
    fn offer(&mut self, id: &ClipId) -> Result<u64, (String, bool)> {
        let offer = Action::ClipOffer {
            name: id.name.clone(),
            format: id.format,
            size: id.size,
            sha256: id.sha256.clone(),
        };
        let answer = self
            .answer(&offer, Instant::now() + CLIP_DEADLINE, false)
            .map_err(|e| (e.to_string(), true))?;
        match answer {
            Answer::Done(FromDevice::ClipHave { offset, .. }) if offset <= id.size => Ok(offset),
            Answer::Done(FromDevice::ClipHave { offset, .. }) => Err((
                format!(
                    "the device says it holds {offset} bytes of a clip of {}",
                    id.size
                ),
                false,
            )),
            Answer::Done(other) => Err((
                format!(
                    "the device answered `clip_offer` with `{}`, not `clip_have`",
                    other.type_name()
                ),
                false,
            )),
            Answer::Refused(e) => Err((refusal("clip_offer", &e), false)),
        }
    }

    /// Sends the case's clip before the case starts: offered, then the bytes the device
    /// does not hold yet in chunks, then confirmed. A broken link is reopened and a refused
    /// chunk sent again, the transfer resuming where the device's `clip_have` says, up to
    /// [`MAX_RESUMES`] times.
    fn send_clip(&mut self, clip: &ClipFile) -> Result<(), DriverError> {
        let started = Instant::now();
        let name = clip.name();
        let mut resumed = Vec::new();
        let result = loop {
            match self.try_send_clip(clip, &name) {
                Ok(()) => break Ok(()),
                Err((why, _)) if resumed.len() >= MAX_RESUMES => {
                    break Err(DriverError::Device(format!(
                        "sending clip {name}: {why} (after {} resumption(s))",
                        resumed.len()
                    )))
                }
                Err((why, link_lost)) => {
                    if link_lost {
                        // A new session; the device keeps what it held of the clip.
                        self.session = None;
                        match Session::open(&self.device.address) {
                            Ok(session) => self.session = Some(session),
                            Err(e) => {
                                break Err(DriverError::Device(format!(
                                    "sending clip {name}: {why}; reconnecting: {e}"
                                )))
                            }
                        }
                    }
                    resumed.push(why);
                }
            }
        };
        self.report
            .timings
            .push(("dut.clip_transfer".into(), started.elapsed()));
        for why in resumed {
            self.harness_note(format!(
                "harness: sending clip {name} started again after: {why}"
            ));
        }
        result?;
        self.clip = Some((name, clip.sha256.clone(), clip.fps));
        Ok(())
    }

    /// One go at sending `clip`: `Err` says why, and whether the link was lost.
    fn try_send_clip(&mut self, clip: &ClipFile, name: &str) -> Result<(), (String, bool)> {
        let deadline = || Instant::now() + CLIP_DEADLINE;
        let lost = |e: DriverError| (e.to_string(), true);
        let held = self.offer(&clip.id())?;
        if held == clip.size() {
            return Ok(());
        }
        for (offset, data) in clip.chunks_from(held) {
            let chunk = Action::ClipChunk {
                name: name.to_owned(),
                offset,
                data: data.to_vec(),
                sha256: crate::clips::sha256_hex(data),
            };
            if let Answer::Refused(e) = self.answer(&chunk, deadline(), false).map_err(lost)? {
                return Err((refusal("clip_chunk", &e), false));
            }
        }
        let end = Action::ClipEnd {
            name: name.to_owned(),
        };
        match self.answer(&end, deadline(), false).map_err(lost)? {
            Answer::Done(_) => Ok(()),
            Answer::Refused(e) => Err((refusal("clip_end", &e), false)),
        }
    }

    /// A device's message with its texts searched for secrets (masked; a breach) and cut
    /// to the length kept, and its clock checked.
    fn checked(&mut self, mut message: FromDevice) -> FromDevice {
        let kind = message.type_name();
        // A person's free text typed on the device's test UI is theirs, not the device's:
        // a secret in it is masked, as on the terminal, but it is no breach.
        if let FromDevice::OperatorAnswer { answer, .. } = &mut message {
            self.info.secrets.mask(answer);
        }
        for text in message.texts_mut() {
            self.mask_text(text, kind);
            clip_device_text(text);
        }
        if let Some(at_ms) = message.at_ms() {
            let at = super::protocol::millis_to_duration(at_ms);
            if at < self.last_at && !self.clock_went_back {
                self.clock_went_back = true;
                self.breach(format!(
                    "`at_ms` went back from {:.1} ms to {:.1} ms (a `{kind}`)",
                    super::protocol::millis(self.last_at),
                    at_ms
                ));
            }
            self.last_at = self.last_at.max(at);
        }
        message
    }

    /// Masks the card's secrets in `text`; finding one is a breach.
    fn mask_text(&mut self, text: &mut String, in_what: &str) {
        for kind in self.info.secrets.mask(text) {
            self.breach(format!(
                "the device disclosed {kind} (in a `{in_what}`; masked in every report)"
            ));
        }
    }

    /// `why` (a reason built from the device's words) with the card's secrets masked.
    fn masked(&mut self, mut why: String) -> String {
        self.mask_text(&mut why, "line the harness could not read");
        why
    }

    /// The device broke the protocol's contract: the case fails, whatever else happens.
    /// The first [`MAX_BREACHES`] different ones are kept (a reason stays readable).
    fn breach(&mut self, why: String) {
        if self.report.breaches.len() < MAX_BREACHES && !self.report.breaches.contains(&why) {
            self.report.breaches.push(why);
        }
    }

    /// Files one message of the device in the case's report.
    fn take_report(&mut self, message: FromDevice) {
        match Report::from(message) {
            Report::Event(event) => self.take_event(event),
            Report::Timing { name, took, .. } => self.report.timings.push((name, took)),
            Report::Error(e) => self.take_event(Event {
                at: self.now(),
                kind: EventKind::Note {
                    text: format!("device error {}: {}", e.code.as_str(), e.message),
                },
            }),
            Report::OperatorAnswer { prompt, .. } => self.breach(format!(
                "the device sent an `operator_answer` to `{prompt}`, which is not on its test \
                 UI now (dropped: a person answers only the prompt the harness shows)"
            )),
            Report::Hello(_) | Report::Done { .. } | Report::ClipHave { .. } => {}
        }
    }

    fn take_event(&mut self, event: Event) {
        match &event.kind {
            EventKind::KeypadLayout { digits, tries_left } => {
                self.check_layout(digits);
                self.layout = Some(Layout { digits: *digits });
                self.ledger.shown(*tries_left);
            }
            EventKind::VerifyAnswered { sw } => {
                self.report.last_verify_sw = Some(*sw);
                self.ledger.verify_answered(*sw);
            }
            EventKind::Outcome(o) => self.report.outcome = Some(o.clone()),
            EventKind::CardPath { ok, failure } => {
                self.card_path_ended = true;
                self.card_path = (!ok).then(|| CardPath::Failed(failure_of(failure.as_deref())));
            }
            EventKind::FaceResult { result, .. } => {
                self.face_failed = *result != FaceResult::Matched;
                self.authenticated |= *result == FaceResult::Matched;
            }
            EventKind::Screen { name } if name == "consent" || name == "consent_reuse" => {
                self.authenticated = true;
            }
            _ => {}
        }
        if let Some(why) = self.ledger.contradiction().map(str::to_owned) {
            self.breach(why);
        }
        self.report.events.push(event);
    }

    /// A PIN pad is a fresh shuffle of the ten digits every time it is shown.
    fn check_layout(&mut self, digits: &[u8; 10]) {
        let mut sorted = *digits;
        sorted.sort_unstable();
        if sorted != [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] {
            self.breach("the PIN pad is not a permutation of the digits 0-9".into());
            return;
        }
        if *digits == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] {
            self.breach("the PIN pad is not shuffled (the digits 0-9 in order)".into());
        }
        let repeated = self.device.memory.lock().ok().is_some_and(|mut m| {
            let repeated = m.last_layout == Some(*digits);
            m.last_layout = Some(*digits);
            repeated
        });
        if repeated {
            self.breach(
                "the PIN pad repeats the layout shown before (a layout is for one entry only)"
                    .into(),
            );
        }
    }

    /// Whether the device's latest screen asks the patient to register the card.
    fn shows_registration(&self) -> bool {
        self.report.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Screen { name } => {
                Some(name == "registration" || name == "registration_terms")
            }
            _ => None,
        }) == Some(true)
    }

    fn now(&self) -> Duration {
        self.report.events.last().map(|e| e.at).unwrap_or_default()
    }

    /// A step the harness does not send, and why (kept in the evidence).
    fn not_sent(&mut self, what: &str, why: &str) -> Result<(), DriverError> {
        self.harness_note(format!("harness: `{what}` not sent: {why}"));
        Ok(())
    }

    /// A note of the harness's in the evidence, at the device's latest time.
    fn harness_note(&mut self, text: String) {
        let at = self.now();
        self.report.events.push(Event {
            at,
            kind: EventKind::Note { text },
        });
    }

    /// The front desk, played by the harness for a device without one.
    fn desk(&mut self, documents: Vec<crate::rules::Document>) -> Result<(), DriverError> {
        if self.report.outcome.is_some() {
            return Ok(());
        }
        let card_path = self.card_path.or_else(|| {
            self.info.card.as_ref().map(|_| {
                CardPath::Failed(if self.face_failed {
                    CardFailure::FaceMismatch
                } else {
                    CardFailure::Abandoned
                })
            })
        });
        let (screen, outcome) = desk::decide(&self.info.desk, card_path, documents);
        let at = self.now();
        self.take_event(Event {
            at,
            kind: EventKind::Screen { name: screen },
        });
        self.take_event(Event {
            at,
            kind: EventKind::Outcome(outcome),
        });
        Ok(())
    }

    /// Before `choose: face`: the camera starts playing the case's clip.
    fn start_camera(&mut self) -> Result<(), DriverError> {
        let Some((name, sha256, fps)) = self.clip.clone() else {
            return Ok(());
        };
        self.exchange(&Action::CameraStart(CameraSource::Clip {
            name,
            sha256,
            fps,
        }))
    }
}

/// The clip format for `hello`'s device (its `clip_formats`); `Err` names what it lists.
pub fn clip_format(hello: &DeviceHello) -> Result<ClipFormat, String> {
    ClipFormat::choose(hello.clip_formats.iter().map(String::as_str)).ok_or_else(|| {
        format!(
            "the device plays none of the clip formats the harness writes: it lists {:?}, the \
             harness writes {:?}",
            hello.clip_formats,
            ClipFormat::ALL.map(ClipFormat::name)
        )
    })
}

/// A device's refusal of a clip message, for the evidence.
fn refusal(what: &str, e: &ErrorReply) -> String {
    format!(
        "the device refused `{what}`: {} {}",
        e.code.as_str(),
        e.message
    )
}

/// The failure named at the start of a card-path event's text (`PinLocked: …`).
fn failure_of(text: Option<&str>) -> CardFailure {
    let name = text.and_then(|t| t.split(':').next()).unwrap_or_default();
    CardFailure::ALL
        .into_iter()
        .find(|f| format!("{f:?}") == name)
        .unwrap_or(CardFailure::ReaderError)
}

impl ReaderDriver for DutReader {
    fn apply(&mut self, stimulus: Stimulus) -> Result<(), DriverError> {
        // One rule for the patient's steps once the card path is over (the device said so
        // with `card_path` or `outcome`): they are not sent, and the evidence says so.
        let ended = self.card_path_ended || self.report.outcome.is_some();
        match stimulus {
            Stimulus::Show(documents) if !self.device.hello.has(&Capability::Desk) => {
                self.desk(documents)
            }
            Stimulus::PlaceCard(_) => Err(DriverError::Unsupported(
                "a device reaches the card itself: place it in a PC/SC reader".into(),
            )),
            Stimulus::Choose(_)
            | Stimulus::PressKeys(_)
            | Stimulus::Consent(_)
            | Stimulus::Register(_)
            | Stimulus::StaffCheck(_)
                if ended =>
            {
                self.not_sent(stimulus_name(&stimulus), "the card path had ended")
            }
            Stimulus::PressKeys(keys) if keys.is_empty() && self.layout.is_none() => {
                self.not_sent("pin_keys", "no PIN pad on screen")
            }
            Stimulus::Choose(_) if self.authenticated => {
                self.not_sent("choose_method", "the patient is already authenticated")
            }
            Stimulus::Register(_) if !self.shows_registration() => {
                self.not_sent("register", "the device shows no registration screen")
            }
            Stimulus::Choose(Method::Face) => {
                self.start_camera()?;
                self.exchange(&Action::Choose(Method::Face))
            }
            other => {
                let action = Action::from_stimulus(&other, None)
                    .map_err(|e| DriverError::NotNow(e.to_string()))?;
                self.exchange(&action)
            }
        }
    }

    fn place_remote_card(&mut self) -> Result<(), DriverError> {
        let card = self
            .info
            .card
            .clone()
            .ok_or_else(|| DriverError::NotNow("the case has no card".into()))?;
        self.exchange(&Action::PlaceCard(card))
    }

    fn layout(&self) -> Option<Layout> {
        self.layout
    }

    fn tries_left_known(&self) -> Result<Option<u8>, String> {
        match self.ledger.contradiction() {
            Some(why) => Err(why.to_owned()),
            None => Ok(self.ledger.known()),
        }
    }

    fn typing(&mut self, right: bool) {
        self.ledger.typed(right);
    }

    fn pin_pad_expected(&self) -> bool {
        !self.card_path_ended && self.report.outcome.is_none() && !self.authenticated
    }

    fn relay_operator(
        &mut self,
        prompt: &OperatorPrompt,
        deadline: Duration,
        relay: &dyn OperatorRelay,
    ) -> Result<(), DriverError> {
        if let Some(why) = &self.broken {
            return Err(DriverError::Device(why.clone()));
        }
        if !self.device.hello.has(&Capability::OperatorUi) {
            return Err(DriverError::Unsupported(
                "the device has no `operator_ui` capability".into(),
            ));
        }
        // Answered already (a file of answers): the device is not asked.
        if !relay.is_open() {
            return Ok(());
        }
        let result = self.relay_question(&OperatorQuestion::of(prompt, deadline), relay);
        if let Err(DriverError::Device(why)) = &result {
            self.broken = Some(why.clone());
            self.session = None;
        }
        result
    }

    fn finish(mut self: Box<Self>) -> ReaderReport {
        // Back to idle for the next case; a device that does not manage that loses the link.
        let healthy = self.broken.is_none()
            && self.session.is_some()
            && self
                .exchange_until(&Action::Reset, Instant::now() + RESET_DEADLINE)
                .is_ok()
            && self.drop_late_lines().is_ok();
        let session = if healthy { self.session.take() } else { None };
        // Dropping a lost session here closes its link before the next case starts.
        drop(self.session.take());
        self.device.give_back(session);
        if let (Some(card), Ok(mut memory)) = (&self.info.card, self.device.memory.lock()) {
            if card.real {
                memory
                    .ledgers
                    .insert(card.profile.clone(), self.ledger.clone());
            }
        }
        std::mem::take(&mut self.report)
    }
}

fn stimulus_name(stimulus: &Stimulus) -> &'static str {
    match stimulus {
        Stimulus::PlaceCard(_) => "card_present",
        Stimulus::RemoveCard => "card_removed",
        Stimulus::Choose(_) => "choose_method",
        Stimulus::PressKeys(_) => "pin_keys",
        Stimulus::Consent(_) => "consent",
        Stimulus::Register(_) => "register",
        Stimulus::StaffCheck(_) => "staff_check",
        Stimulus::Show(_) => "show_documents",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(capabilities: &[Capability], clip_formats: &[&str]) -> DeviceHello {
        DeviceHello {
            protocol: PROTOCOL.into(),
            version: VERSION,
            vendor: "v".into(),
            model: "m".into(),
            firmware: "f".into(),
            serial: None,
            capabilities: capabilities.to_vec(),
            clip_formats: clip_formats.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn a_face_case_needs_face_camera_clips_and_a_clip_format_the_harness_writes() {
        let face = [StepKind::PlaceCard, StepKind::Choose(Method::Face)];
        let full = [Capability::Face, Capability::CameraClips];
        assert_eq!(missing_capability(&hello(&full, &[]), &face), None);
        assert_eq!(
            missing_capability(&hello(&full, &["h264", "avi_mjpeg"]), &face),
            None
        );
        let why = missing_capability(&hello(&full, &["h264"]), &face).unwrap();
        assert!(why.contains("none of the clip formats"), "{why}");
        let why = missing_capability(&hello(&[Capability::Face], &[]), &face).unwrap();
        assert!(why.contains("`camera_clips`"), "{why}");
        // The clip format matters to face cases only.
        let pin = [StepKind::PlaceCard];
        assert_eq!(missing_capability(&hello(&[], &["h264"]), &pin), None);
        assert_eq!(
            clip_format(&hello(&full, &["h264", "avi_mjpeg", "y4m"])),
            Ok(ClipFormat::AviMjpeg)
        );
    }

    #[test]
    fn failures_are_read_back_from_their_names() {
        assert_eq!(
            failure_of(Some("PinLocked: no tries")),
            CardFailure::PinLocked
        );
        assert_eq!(
            failure_of(Some("ServiceDown: 503")),
            CardFailure::ServiceDown
        );
        assert_eq!(failure_of(Some("???")), CardFailure::ReaderError);
        assert_eq!(failure_of(None), CardFailure::ReaderError);
    }
}
