//! The `dut` reader driver: the engine's stimuli sent to a device under test over the
//! adapter protocol (docs/adapter-protocol.md), its events read back. The device is a card
//! reader only: the harness plays the front desk behind it (`reader::desk`), and puts the
//! emulated card into the PC/SC reader the device is told about.
//!
//! Strict with the device: a line that is not a message, silence past the step's deadline,
//! or a vanished link ends the case in `error`; the next case reconnects and says `hello`
//! again. A well-formed line of an unknown type is kept as a note.

use super::link::{self, Address, Link};
use super::protocol::{
    write_message, Action, BenchSettings, CameraSource, Capability, CardInfo, DeviceHello,
    ErrorCode, FromDevice, LineReader, Report, ToDevice, WireError, PROTOCOL, VERSION,
};
use crate::reader::desk::{self, DeskSetup};
use crate::reader::{
    DriverError, Event, EventKind, FaceResult, Layout, ReaderDriver, ReaderReport, Stimulus,
};
use crate::rules::{CardFailure, CardPath};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the device may take to answer `hello`.
const HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// How long a `reset` at the end of a case may take before the link is dropped.
const RESET_DEADLINE: Duration = Duration::from_secs(3);
/// The link's read timeout: how often a waiting reader looks at its deadline.
const POLL: Duration = Duration::from_millis(50);

/// One open session with the device: the link and what the device said it can do.
pub struct Session {
    lines: LineReader<Box<dyn Link>>,
    out: Box<dyn Link>,
    pub hello: DeviceHello,
    next_id: u64,
}

impl Session {
    /// Opens the link and exchanges `hello`.
    pub fn open(address: &Address) -> Result<Session, String> {
        let mut link = link::connect(address, HELLO_DEADLINE).map_err(|e| e.to_string())?;
        link.set_read_timeout(POLL).map_err(|e| e.to_string())?;
        let mut out = link.try_clone_link().map_err(|e| e.to_string())?;
        let mut lines = LineReader::new(link);
        write_message(&mut out, &ToDevice::hello()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + HELLO_DEADLINE;
        loop {
            match next_message(&mut lines, deadline)? {
                FromDevice::Hello(hello) if hello.protocol == PROTOCOL && hello.version == VERSION => {
                    return Ok(Session {
                        lines,
                        out,
                        hello,
                        next_id: 1,
                    });
                }
                FromDevice::Hello(h) => {
                    return Err(format!(
                        "the device speaks {:?} version {}; the harness speaks {PROTOCOL:?} version {VERSION}",
                        h.protocol, h.version
                    ))
                }
                FromDevice::Error(e) if e.code == ErrorCode::VersionMismatch => {
                    return Err(format!(
                        "the device does not speak {PROTOCOL:?} version {VERSION} (it speaks {:?}): {}",
                        e.supported_versions.unwrap_or_default(),
                        e.message
                    ))
                }
                FromDevice::Error(e) => return Err(format!("the device refused hello: {}", e.message)),
                // Anything before the device's hello is ignored (a device may log first).
                _ => {}
            }
        }
    }

    /// The next message before `deadline`.
    fn next_message(&mut self, deadline: Instant) -> Result<FromDevice, String> {
        next_message(&mut self.lines, deadline)
    }

    fn send(&mut self, action: &Action) -> Result<u64, String> {
        let id = self.next_id;
        self.next_id += 1;
        let message = action.to_message(id).map_err(|e| e.to_string())?;
        write_message(&mut self.out, &message).map_err(|e| format!("the link failed: {e}"))?;
        Ok(id)
    }
}

/// The next message of `lines` before `deadline` (the link's read timeout is the poll).
fn next_message(
    lines: &mut LineReader<Box<dyn Link>>,
    deadline: Instant,
) -> Result<FromDevice, String> {
    loop {
        match lines.read_message::<FromDevice>() {
            Ok(Some(m)) => return Ok(m),
            Ok(None) => return Err("the device closed the link".into()),
            Err(WireError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                if Instant::now() >= deadline {
                    return Err("the device did not answer in time".into());
                }
            }
            Err(WireError::Io(e)) => return Err(format!("the link failed: {e}")),
            Err(e) => return Err(format!("the device sent a bad line: {e}")),
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
        }))
    }

    pub fn hello(&self) -> &DeviceHello {
        &self.hello
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

/// What a case tells the device at its start.
pub struct CaseInfo {
    pub case_id: String,
    pub today: time::Date,
    pub facility: String,
    pub service_url: String,
    pub card: Option<CardInfo>,
    pub desk: DeskSetup,
    /// The longest a stimulus may take.
    pub step_deadline: Duration,
    /// The case's camera, written as a clip when the patient chooses face.
    pub camera: Option<Box<dyn crate::reader::FaceCamera>>,
    /// Where clips are written (the device reads them from there).
    pub clip_dir: std::path::PathBuf,
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
    /// The PIN tries left the device's pad showed with the layout.
    tries_left_shown: Option<u8>,
    card_path: Option<CardPath>,
    face_failed: bool,
    authenticated: bool,
    /// The case's camera written as a clip (at setup, so no step waits for it): path,
    /// SHA-256, frame rate. Deleted when the case ends.
    clip: Option<(std::path::PathBuf, String, f64)>,
}

impl DutReader {
    /// Takes the device's session and starts the case on it.
    pub fn start(device: Arc<Device>, mut info: CaseInfo) -> Result<DutReader, String> {
        // The camera first: no session is held while the clip is written.
        let clip = match info.camera.take() {
            Some(kit) => {
                let path = info
                    .clip_dir
                    .join(format!("{}.y4m", sanitise(&info.case_id)));
                let (sha256, fps) = kit.write_clip(&path)?;
                Some((path, sha256, fps))
            }
            None => None,
        };
        let session = device.take(info.step_deadline)?;
        let mut reader = DutReader {
            device,
            session: Some(session),
            broken: None,
            info,
            report: ReaderReport::default(),
            layout: None,
            tries_left_shown: None,
            card_path: None,
            face_failed: false,
            authenticated: false,
            clip,
        };

        let start = Action::StartCase {
            case: reader.info.case_id.clone(),
            today: Some(reader.info.today),
            facility: Some(reader.info.facility.clone()),
            service_url: Some(reader.info.service_url.clone()),
            bench: reader.info.bench.clone(),
        };
        if let Err(e) = reader.exchange(&start) {
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

    fn exchange_until(&mut self, action: &Action, deadline: Instant) -> Result<(), DriverError> {
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| DriverError::Device("no session".into()))?;
        let id = session.send(action).map_err(DriverError::Device)?;
        loop {
            let message = self
                .session
                .as_mut()
                .ok_or_else(|| DriverError::Device("no session".into()))?
                .next_message(deadline)
                .map_err(DriverError::Device)?;
            if message.answers() == Some(id) {
                return match message {
                    FromDevice::Done { .. } => Ok(()),
                    FromDevice::Error(e) => Err(e.driver_error().unwrap_or_else(|| {
                        DriverError::Device(format!("{}: {}", e.code.as_str(), e.message))
                    })),
                    _ => Ok(()),
                };
            }
            self.take_report(message);
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
            Report::Hello(_) | Report::Done { .. } => {}
        }
    }

    fn take_event(&mut self, event: Event) {
        match &event.kind {
            EventKind::KeypadLayout { digits, tries_left } => {
                self.layout = Some(Layout { digits: *digits });
                self.tries_left_shown = *tries_left;
            }
            EventKind::VerifyAnswered { sw } => self.report.last_verify_sw = Some(*sw),
            EventKind::Outcome(o) => self.report.outcome = Some(o.clone()),
            EventKind::CardPath { ok, failure } => {
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
        self.report.events.push(event);
    }

    fn now(&self) -> Duration {
        self.report.events.last().map(|e| e.at).unwrap_or_default()
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

    /// Before `choose: face`: the device is handed the case's camera clip.
    fn start_camera(&mut self) -> Result<(), DriverError> {
        let Some((path, sha256, fps)) = self.clip.clone() else {
            return Ok(());
        };
        self.exchange(&Action::CameraStart(CameraSource::Clip {
            path: path.display().to_string(),
            sha256,
            fps,
        }))
    }
}

fn sanitise(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
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
        match stimulus {
            Stimulus::Show(documents) if !self.device.hello.has(&Capability::Desk) => {
                self.desk(documents)
            }
            Stimulus::PlaceCard(_) => Err(DriverError::Unsupported(
                "a device reaches the card itself: place it in a PC/SC reader".into(),
            )),
            Stimulus::Choose(crate::scenario::Method::Face) => {
                self.start_camera()?;
                self.exchange(&Action::Choose(crate::scenario::Method::Face))
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

    fn tries_left_shown(&self) -> Option<u8> {
        self.layout.and(self.tries_left_shown)
    }

    fn pin_pad_expected(&self) -> bool {
        self.card_path.is_none() && self.report.outcome.is_none() && !self.authenticated
    }

    fn finish(mut self: Box<Self>) -> ReaderReport {
        // Back to idle for the next case; a device that does not manage that loses the link.
        let healthy = self.broken.is_none()
            && self.session.is_some()
            && self
                .exchange_until(&Action::Reset, Instant::now() + RESET_DEADLINE)
                .is_ok();
        let session = if healthy { self.session.take() } else { None };
        self.device.give_back(session);
        if let Some((path, ..)) = &self.clip {
            let _ = std::fs::remove_file(path);
        }
        std::mem::take(&mut self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
