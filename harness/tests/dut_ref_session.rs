//! The reference device under test (`myna-dut-ref`, `harness::dut_ref`) speaks the
//! adapter protocol: the binary over TCP (hello, version mismatch, lines it cannot read, a
//! peer that vanishes), and the device in process over a socket pair with the emulated card
//! behind it (a PIN case with a wrong PIN and a reused consent against the qualification
//! service, a real card whose PIN the device never tries, a card it cannot reach, clips it
//! refuses). The end-to-end case through pcscd and a socat pty pair is in
//! tests/tests/dut_ref.rs.

use card_emulator::pki::TestPki;
use card_emulator::{Card, CardImage, CardProfile};
use harness::channel::inprocess::InProcessChannel;
use harness::channel::CardChannel;
use harness::clips::ClipFormat;
use harness::dut::protocol::{
    write_message, Action, BenchSettings, CardInfo, Clip, ErrorCode, FromDevice, LineReader,
    ToDevice, WireConsent, WireError, WireMethod, MAX_LINE,
};
use harness::dut::transcript::{keypad_layout, screens, verify_sws};
use harness::dut_ref::{serve, DeviceConfig, Log, Profiles, SessionEnd, CAPABILITIES};
use harness::qualification::{
    BackgroundServer, CertificateKey, InsuredRecord, Server, ServerConfig,
};
use harness::rules::ConsentChoice;
use harness::scenario::{PastConsent, PinEntry};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use time::macros::date;

const TODAY: time::Date = date!(2025 - 11 - 04);
const READ_TIMEOUT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shipped `valid` card (no photo: the PIN path does not need one) and its image.
fn valid() -> &'static (CardProfile, Arc<CardImage>) {
    static CARD: OnceLock<(CardProfile, Arc<CardImage>)> = OnceLock::new();
    CARD.get_or_init(|| {
        let profile = harness::cards::load_profile(
            &repo().join("scenarios/cards/valid.yaml"),
            &harness::cards::no_photos,
        )
        .expect("valid.yaml");
        let image = Arc::new(CardImage::build(&profile).expect("card image"));
        (profile, image)
    })
}

fn pin() -> String {
    valid()
        .0
        .auth_pin
        .as_ref()
        .expect("a PIN")
        .value
        .expose()
        .to_owned()
}

/// The qualification service with a record for the valid card.
fn service() -> BackgroundServer {
    let (profile, image) = valid();
    let pki = TestPki::shared().expect("test PKI");
    let crl = pki.crl_for([profile], TODAY).expect("CRL");
    let key = CertificateKey::from_der(&image.auth_certificate).expect("certificate key");
    let mut config = ServerConfig::new(
        vec![InsuredRecord::example(key)],
        pki.ca_certificate_der().to_vec(),
        crl,
    );
    config.today = Some(TODAY);
    Server::start_background(config).expect("qualification service")
}

// ---------------------------------------------------------------------------------------
// The harness's side of a session
// ---------------------------------------------------------------------------------------

struct Peer<S: Read> {
    out: Box<dyn Write + Send>,
    lines: LineReader<S>,
    next_id: u64,
}

impl<S: Read> Peer<S> {
    fn send(&mut self, m: &ToDevice) {
        write_message(&mut self.out, m).expect("send");
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).expect("send");
        self.out.flush().expect("flush");
    }

    fn next(&mut self) -> Option<FromDevice> {
        match self.lines.read_message::<FromDevice>() {
            Ok(m) => m,
            Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("the device sent a bad line: {e}"),
        }
    }

    fn expect(&mut self) -> FromDevice {
        self.next().expect("the device closed the session")
    }

    fn hello(&mut self) {
        self.send(&ToDevice::hello());
        match self.expect() {
            FromDevice::Hello(h) => {
                assert_eq!((h.protocol.as_str(), h.version), ("myna-hil-dut", 1));
                assert_eq!(h.capabilities, CAPABILITIES.to_vec());
            }
            other => panic!("expected hello, got {other:?}"),
        }
    }

    /// Sends `action` and collects the messages up to its answer: (events, answer).
    fn exchange(&mut self, action: &Action) -> (Vec<FromDevice>, FromDevice) {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&action.to_message(id).expect("a wire form"));
        let mut events = Vec::new();
        loop {
            let m = self.expect();
            if m.answers() == Some(id) {
                return (events, m);
            }
            assert!(
                !matches!(m, FromDevice::Done { .. } | FromDevice::Error(_)),
                "an answer to another id: {m:?}"
            );
            events.push(m);
        }
    }

    /// [`Peer::exchange`], expecting `done`.
    fn done(&mut self, action: &Action) -> Vec<FromDevice> {
        let (events, answer) = self.exchange(action);
        assert!(
            matches!(answer, FromDevice::Done { .. }),
            "{action:?} answered {answer:?} after {events:?}"
        );
        events
    }

    /// [`Peer::exchange`], expecting `error` with `code`.
    fn refused(&mut self, action: &Action, code: ErrorCode) -> String {
        let (_, answer) = self.exchange(action);
        match answer {
            FromDevice::Error(e) => {
                assert_eq!(e.code, code, "{action:?}: {}", e.message);
                e.message
            }
            other => panic!("{action:?}: expected error {code}, got {other:?}"),
        }
    }

    fn error(&mut self, id: Option<u64>, code: ErrorCode) {
        match self.expect() {
            FromDevice::Error(e) => assert_eq!((e.id, e.code), (id, code), "{}", e.message),
            other => panic!("expected error {code}, got {other:?}"),
        }
    }
}

fn start_case(service_url: Option<String>, bench: BenchSettings) -> Action {
    Action::StartCase {
        case: "dut-ref.test".into(),
        today: Some(TODAY),
        facility: Some("clinic-a".into()),
        service_url,
        bench,
    }
}

fn place(real: bool) -> Action {
    Action::PlaceCard(CardInfo {
        profile: "valid".into(),
        reader: Some("in-process".into()),
        real,
    })
}

// ---------------------------------------------------------------------------------------
// The device in process, over a socket pair
// ---------------------------------------------------------------------------------------

/// A log kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A device whose cards are the valid card's emulator in process (`None`: unreachable).
fn device(reachable: bool, log: &Captured) -> DeviceConfig {
    let mut config =
        DeviceConfig::new(Profiles::from_profiles([&valid().0])).expect("device runtime");
    config.connector = Arc::new(move |info: &CardInfo, deadline: Duration| {
        if !reachable {
            return Err(format!("{:?}: no card there", info.reader));
        }
        let card = Card::new(valid().1.clone());
        Ok(Box::new(InProcessChannel::new(card, deadline)) as Box<dyn CardChannel>)
    });
    config.log = Some(Log::to_writer(Box::new(log.clone())));
    config
}

/// Runs `talk` as the harness against a device serving one session in process; returns
/// how the session ended.
fn in_process(
    config: &DeviceConfig,
    close_on_mismatch: bool,
    talk: impl FnOnce(&mut Peer<UnixStream>),
) -> SessionEnd {
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    ours.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let input = theirs.try_clone().unwrap();
    input
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    std::thread::scope(|s| {
        let served = s.spawn(move || {
            let mut output = theirs;
            serve(config, input, &mut output, close_on_mismatch)
        });
        let mut peer = Peer {
            out: Box::new(ours.try_clone().unwrap()),
            lines: LineReader::new(ours),
            next_id: 1,
        };
        talk(&mut peer);
        drop(peer);
        served.join().expect("the device panicked")
    })
}

#[test]
fn a_pin_case_with_a_wrong_pin_and_a_reused_consent() {
    let server = service();
    let log = Captured::default();
    let config = device(true, &log);
    let end = in_process(&config, true, |peer| {
        peer.hello();
        let bench = BenchSettings {
            service_deadline: Some(Duration::from_secs(5)),
            card_deadline: Some(Duration::from_secs(2)),
            consent_history: vec![PastConsent {
                facility: "clinic-a".into(),
                on: date!(2025 - 10 - 01),
                choice: ConsentChoice::AgreeToAll,
            }],
            ..BenchSettings::default()
        };
        let mut all = peer.done(&start_case(Some(server.control().url()), bench));
        let events = peer.done(&place(false));
        assert_eq!(screens(&events), ["reading_card", "choose_method"]);
        all.extend(events);

        let events = peer.done(&Action::Choose(harness::scenario::Method::Pin));
        assert_eq!(screens(&events), ["pin_entry"]);
        let wrong = PinEntry::Wrong.digits(&pin());
        let keys = keypad_layout(&events)
            .expect("a keypad layout")
            .positions_for(&wrong)
            .unwrap();
        all.extend(events);
        let events = peer.done(&Action::PressKeys(keys));
        assert_eq!(verify_sws(&events), [0x63C2]);
        assert_eq!(screens(&events), ["pin_wrong", "pin_entry"]);
        let keys = keypad_layout(&events)
            .expect("a keypad layout")
            .positions_for(&pin())
            .unwrap();
        all.extend(events);
        let events = peer.done(&Action::PressKeys(keys));
        assert_eq!(verify_sws(&events), [0x9000]);
        assert_eq!(
            screens(&events),
            ["querying", "consent_reuse"],
            "{events:?}"
        );
        all.extend(events);

        let events = peer.done(&Action::Consent(harness::rules::ConsentStep::Reuse));
        let outcome = events.iter().find_map(|e| match e {
            FromDevice::Outcome {
                route,
                share_percent,
                ..
            } => Some((route.to_string(), *share_percent)),
            _ => None,
        });
        assert_eq!(outcome, Some(("card_pin".to_owned(), 30)), "{events:?}");
        all.extend(events);
        all.extend(peer.done(&Action::RemoveCard));
        assert!(peer.done(&Action::Reset).is_empty(), "reset shows nothing");

        let times: Vec<f64> = all.iter().filter_map(FromDevice::at_ms).collect();
        assert!(times.len() > 15);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    });
    assert_eq!(end, SessionEnd::Closed);

    // The log shows the session but neither the pad's layout nor the keys pressed, and
    // never 照合番号B.
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains(r#""type":"pin_keys""#), "{log}");
    assert!(log.contains(r#""positions":"<4 redacted>""#), "{log}");
    assert!(!log.contains(r#""positions":["#), "{log}");
    assert!(!log.contains(r#""digits":["#), "{log}");
    let p = &valid().0;
    let code_b = card_emulator::records::surface_code_b(
        p.holder.birth_date,
        p.card_expiry_year,
        p.security_code.expose(),
    );
    assert!(!log.contains(&code_b));
}

/// The tries left the last pad among `events` showed.
fn tries_shown(events: &[FromDevice]) -> Option<u8> {
    events.iter().rev().find_map(|e| match e {
        FromDevice::KeypadLayout { tries_left, .. } => Some(*tries_left),
        _ => None,
    })?
}

#[test]
fn a_real_card_gets_the_patients_pin_but_never_its_last_try() {
    let log = Captured::default();
    let config = device(true, &log);
    let wrong = PinEntry::Wrong.digits(&pin());
    in_process(&config, true, |peer| {
        peer.hello();
        peer.done(&start_case(None, BenchSettings::default()));
        peer.done(&place(true));
        // Asking for the tries left (an empty VERIFY) spends none: the pad shows them.
        let events = peer.done(&Action::Choose(harness::scenario::Method::Pin));
        assert_eq!(tries_shown(&events), Some(3));
        let mut events = events;
        for left in [2, 1] {
            let keys = keypad_layout(&events)
                .expect("a keypad layout")
                .positions_for(&wrong)
                .unwrap();
            events = peer.done(&Action::PressKeys(keys));
            assert_eq!(verify_sws(&events), vec![0x63C0 | u16::from(left)]);
            assert_eq!(tries_shown(&events), Some(left));
        }
        // One try left: the device's own guard never spends it, whatever is typed.
        let keys = keypad_layout(&events)
            .expect("a keypad layout")
            .positions_for(&wrong)
            .unwrap();
        let events = peer.done(&Action::PressKeys(keys));
        assert!(
            verify_sws(&events).is_empty(),
            "the last try reached the card"
        );
        let failure = events.iter().find_map(|e| match e {
            FromDevice::CardPath {
                ok: false, failure, ..
            } => failure.clone(),
            _ => None,
        });
        let failure = failure.expect("the card path failed");
        assert!(
            failure.starts_with("ReaderError") && failure.contains("last try"),
            "{failure}"
        );
        peer.done(&Action::Reset);
    });
}

#[test]
fn a_card_out_of_reach_fails_the_card_path_and_bad_stimuli_are_refused() {
    let log = Captured::default();
    let mut config = device(false, &log);
    let dir = std::env::temp_dir().join(format!("myna-dut-ref-test-{}", std::process::id()));
    config.clips = harness::dut_ref::ClipStore::open(&dir, vec![ClipFormat::Y4m]).unwrap();
    std::fs::write(dir.join("clip.y4m"), b"YUV4MPEG2 W2 H2 F15:1\n").unwrap();
    in_process(&config, true, |peer| {
        // Nothing before hello.
        peer.refused(&Action::RemoveCard, ErrorCode::NotNow);
        peer.hello();
        peer.done(&start_case(None, BenchSettings::default()));
        peer.refused(
            &Action::Choose(harness::scenario::Method::Pin),
            ErrorCode::NotNow,
        );
        peer.refused(&Action::Show(Vec::new()), ErrorCode::Unsupported);
        peer.refused(
            &Action::CameraStart(harness::dut::protocol::CameraSource::Frames { fps: 15.0 }),
            ErrorCode::Unsupported,
        );
        let missing = harness::dut::protocol::CameraSource::Clip {
            name: "absent.y4m".into(),
            sha256: "0".repeat(64),
            fps: 15.0,
        };
        peer.refused(&Action::CameraStart(missing), ErrorCode::ClipMissing);
        let changed = harness::dut::protocol::CameraSource::Clip {
            name: "clip.y4m".into(),
            sha256: "0".repeat(64),
            fps: 15.0,
        };
        peer.refused(&Action::CameraStart(changed), ErrorCode::ClipMismatch);

        let events = peer.done(&place(false));
        assert_eq!(screens(&events), ["reading_card", "card_error"]);
        assert!(events.iter().any(|e| matches!(
            e,
            FromDevice::CardPath { ok: false, failure: Some(f), .. }
                if f.starts_with("ReaderError") && f.contains("no card there")
        )));
        peer.done(&Action::Reset);
        // A camera_frame has no answer: the next stimulus is answered as usual.
        peer.send(&ToDevice::CameraFrame {
            t_ms: 0.0,
            jpeg: vec![0xFF, 0xD8, 0xFF, 0xD9],
        });
        peer.done(&Action::Reset);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_a_serial_line_a_version_mismatch_waits_for_another_hello() {
    let log = Captured::default();
    let config = device(true, &log);
    let end = in_process(&config, false, |peer| {
        peer.send_raw(
            b"{\"type\":\"hello\",\"protocol\":\"myna-hil-dut\",\"version\":2,\"harness\":\"9\"}\n",
        );
        match peer.expect() {
            FromDevice::Error(e) => {
                assert_eq!(e.code, ErrorCode::VersionMismatch);
                assert_eq!(e.supported_versions, Some(vec![1]));
            }
            other => panic!("{other:?}"),
        }
        peer.refused(&Action::Reset, ErrorCode::NotNow);
        peer.hello();
        peer.done(&Action::Reset);
    });
    assert_eq!(end, SessionEnd::Closed);
}

// ---------------------------------------------------------------------------------------
// The binary over TCP
// ---------------------------------------------------------------------------------------

/// The device process, killed when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `myna-dut-ref --listen 127.0.0.1:0` with the shipped profiles; its address.
fn binary_over_tcp() -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_myna-dut-ref"))
        .args(["--listen", "127.0.0.1:0", "--profiles"])
        .arg(repo().join("scenarios/cards"))
        .arg(repo().join("scenarios/cards/faults"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start myna-dut-ref");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("myna-dut-ref said {first:?}"))
        .to_owned();
    (Running(child), addr)
}

fn connect(addr: &str) -> Peer<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    Peer {
        out: Box::new(stream.try_clone().unwrap()),
        lines: LineReader::new(stream),
        next_id: 1,
    }
}

#[test]
fn the_binary_says_hello_refuses_another_version_and_serves_the_next_connection() {
    let (_device, addr) = binary_over_tcp();
    let mut peer = connect(&addr);
    peer.hello();
    peer.done(&start_case(None, BenchSettings::default()));
    // Gone without a reset: the device lets the session go.
    drop(peer);

    let mut peer = connect(&addr);
    peer.send_raw(
        b"{\"type\":\"hello\",\"protocol\":\"myna-hil-dut\",\"version\":2,\"harness\":\"9\"}\n",
    );
    match peer.expect() {
        FromDevice::Error(e) => {
            assert_eq!(e.code, ErrorCode::VersionMismatch);
            assert_eq!(e.id, None);
            assert_eq!(e.supported_versions, Some(vec![1]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        peer.next(),
        None,
        "the device closes after a version mismatch"
    );

    let mut peer = connect(&addr);
    peer.hello();
    peer.done(&Action::Reset);
}

#[test]
fn the_binary_answers_lines_it_cannot_read_and_goes_on() {
    let (_device, addr) = binary_over_tcp();
    let mut peer = connect(&addr);
    peer.hello();
    peer.send_raw(b"garbage\n");
    peer.error(None, ErrorCode::BadMessage);
    let mut long = vec![b'x'; MAX_LINE + 10];
    long.push(b'\n');
    peer.send_raw(&long);
    peer.error(None, ErrorCode::LineTooLong);
    peer.send_raw(b"{\"type\":\"teleport\",\"id\":40}\n");
    peer.error(Some(40), ErrorCode::UnknownType);
    peer.send_raw(b"{\"type\":\"pin_keys\",\"id\":41,\"positions\":[10]}\n");
    peer.error(Some(41), ErrorCode::BadMessage);
    peer.send_raw(b"{\"type\":\"reset\",\"id\":\"\xFF\"}\n\r\n   \n");
    peer.error(None, ErrorCode::BadMessage);
    peer.send(&ToDevice::ChooseMethod {
        id: 42,
        method: WireMethod::Face,
    });
    peer.error(Some(42), ErrorCode::NotNow);
    peer.send(&ToDevice::Consent {
        id: 43,
        choice: WireConsent::All,
        items: Vec::new(),
    });
    peer.error(Some(43), ErrorCode::NotNow);
    peer.send(&ToDevice::CameraStart {
        id: 44,
        fps: 15.0,
        clip: Some(Clip {
            name: "nonexistent.y4m".into(),
            sha256: "a".repeat(64),
        }),
    });
    peer.error(Some(44), ErrorCode::ClipMissing);
    // The session is intact.
    peer.done(&start_case(None, BenchSettings::default()));
    peer.done(&Action::Reset);
}

/// What the device must answer to one line of the corpus: nothing, its `hello`, or exactly
/// one `done`/`error` (for `id`, when the line has a readable one).
enum Expected {
    Nothing,
    Hello,
    Answer(Option<u64>),
}

fn expected(line: &[u8]) -> Expected {
    if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
        return Expected::Nothing;
    }
    match harness::dut::protocol::decode::<ToDevice>(line) {
        Ok(ToDevice::CameraFrame { .. }) => Expected::Nothing,
        Ok(ToDevice::Hello(_)) => Expected::Hello,
        Ok(m) => Expected::Answer(m.id()),
        Err(WireError::VersionMismatch { .. }) => Expected::Answer(None),
        Err(_) => Expected::Answer(
            serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("id").and_then(|id| id.as_u64())),
        ),
    }
}

#[test]
fn every_line_of_the_corpus_is_answered_exactly_once() {
    let corpus = repo().join("harness/fuzz-corpus/dut-protocol");
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for file in ["to-device-valid.jsonl", "tricky.jsonl"] {
        let bytes = std::fs::read(corpus.join(file)).expect("corpus file");
        lines.extend(bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec));
    }
    assert!(lines.len() > 100);
    let log = Captured::default();
    let config = device(true, &log);
    // Serial-line rules: a version mismatch does not end the session.
    in_process(&config, false, |peer| {
        peer.hello();
        for line in &lines {
            let mut sent = line.clone();
            sent.push(b'\n');
            peer.send_raw(&sent);
            let want = expected(line);
            let shown = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
            if let Expected::Nothing = want {
                continue;
            }
            let answer = loop {
                match peer.expect() {
                    m @ (FromDevice::Hello(_)
                    | FromDevice::Done { .. }
                    | FromDevice::ClipHave { .. }
                    | FromDevice::Error(_)) => break m,
                    _event => {}
                }
            };
            match (&want, &answer) {
                (Expected::Hello, FromDevice::Hello(_)) => {}
                (
                    Expected::Answer(id),
                    m @ (FromDevice::Done { .. }
                    | FromDevice::ClipHave { .. }
                    | FromDevice::Error(_)),
                ) => {
                    assert_eq!(m.answers(), *id, "{shown}: {m:?}")
                }
                _ => panic!("{shown}: answered {answer:?}"),
            }
        }
        // Nothing answered twice: the next answer is this reset's.
        peer.send(&ToDevice::hello());
        assert!(matches!(peer.expect(), FromDevice::Hello(_)));
        peer.send(&ToDevice::Reset { id: 777_777 });
        loop {
            match peer.expect() {
                FromDevice::Done { id } => {
                    assert_eq!(id, 777_777);
                    break;
                }
                m @ (FromDevice::Hello(_) | FromDevice::Error(_)) => panic!("stray {m:?}"),
                _event => {}
            }
        }
    });
}
