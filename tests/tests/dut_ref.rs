//! The reference device under test end to end: `myna-dut-ref` on one end of a socat pty
//! pair, the test as the harness on the other, the emulated card in a vpcd reader of the
//! real pcscd, and the qualification service on loopback. One PIN case (a wrong PIN, then
//! the right one, consent to all), driven message by message as docs/adapter-protocol.md
//! says, and the device's log checked for secrets.
//!
//! Needs pcscd with vsmartcard-vpcd and socat (docs/platform.md); without socat the test is
//! skipped locally and fails on CI.

use card_emulator::pki::TestPki;
use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use card_emulator::{Card, CardImage, PinRef};
use harness::channel::pcsc_driver::{wait_for_card, wait_for_removal};
use harness::dut::link::{open_serial, Link};
use harness::dut::protocol::{
    write_message, ErrorCode, FromDevice, LineReader, ToDevice, WireError,
};
use harness::dut::transcript::{keypad_layout, screens, verify_sws};
use harness::qualification::record::yyyymmdd;
use harness::qualification::{CertificateKey, InsuredRecord, Server, ServerConfig};
use myna_hil_tests::{fresh_dir, reader_slot, repo_root, workspace_binary, Running};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A socat pty pair with links `a` and `b` in `dir`; `None` when socat is not installed
/// (and this is not CI).
fn pty_pair(dir: &Path) -> Option<(Running, String, String)> {
    let a = dir.join("dut");
    let b = dir.join("harness");
    let spawned = Command::new("socat")
        .arg("-d")
        .arg("-d")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => Running(c),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: socat is not available ({e})");
            return None;
        }
        Err(e) => panic!("socat is needed on CI: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(a.exists() && b.exists()) {
        assert!(Instant::now() < deadline, "socat made no ptys");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((child, a.display().to_string(), b.display().to_string()))
}

/// The harness's end of the line.
struct Harness {
    out: Box<dyn Link>,
    lines: LineReader<Box<dyn Link>>,
    next_id: u64,
}

impl Harness {
    fn open(path: &str) -> Harness {
        let mut link: Box<dyn Link> = Box::new(open_serial(path, 115_200).expect("open the pty"));
        link.set_read_timeout(Duration::from_millis(100)).unwrap();
        Harness {
            out: link.try_clone_link().unwrap(),
            lines: LineReader::new(link),
            next_id: 1,
        }
    }

    fn send(&mut self, m: &ToDevice) {
        write_message(&mut self.out, m).expect("write to the pty");
    }

    /// Sends one line of JSON as written (for fields this crate has no types for).
    fn send_json(&mut self, json: &str) {
        let m: ToDevice = harness::dut::protocol::decode(json.as_bytes()).expect("a message");
        self.send(&m);
    }

    fn next(&mut self) -> FromDevice {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.lines.read_message::<FromDevice>() {
                Ok(Some(m)) => return m,
                Ok(None) => panic!("the line closed"),
                Err(WireError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    assert!(
                        Instant::now() < deadline,
                        "the device did not answer in 20 s"
                    );
                }
                Err(e) => panic!("the device sent a bad line: {e}"),
            }
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The events up to `done {id}`.
    fn until_done(&mut self, id: u64) -> Vec<FromDevice> {
        let mut events = Vec::new();
        loop {
            match self.next() {
                FromDevice::Done { id: done } if done == id => return events,
                FromDevice::Error(e) => panic!("stimulus {id}: error {}: {}", e.code, e.message),
                other => events.push(other),
            }
        }
    }

    fn stimulus(&mut self, json_without_id: &str) -> Vec<FromDevice> {
        let id = self.id();
        let json = json_without_id.replacen('{', &format!("{{\"id\":{id},"), 1);
        self.send_json(&json);
        self.until_done(id)
    }
}

fn pin_keys(positions: &[usize]) -> String {
    let list: Vec<String> = positions.iter().map(usize::to_string).collect();
    format!(r#"{{"type":"pin_keys","positions":[{}]}}"#, list.join(","))
}

#[test]
fn a_pin_case_over_a_pty_pair_with_the_card_in_pcscd() {
    let dir = fresh_dir("dut-ref");
    let Some((_socat, dut_end, harness_end)) = pty_pair(&dir) else {
        return;
    };
    let slot = reader_slot(0);
    let root = repo_root();

    // The card in the vpcd reader.
    let profile = harness::cards::load_profile(
        &root.join("scenarios/cards/valid.yaml"),
        &harness::cards::no_photos,
    )
    .expect("valid.yaml");
    let image = Arc::new(CardImage::build(&profile).expect("card image"));
    let address = VpcdAddress {
        port: slot.port(),
        ..VpcdAddress::default()
    };
    let card = VirtualCard::attach(Card::new(image.clone()), &address).expect("attach to vpcd");
    wait_for_card(slot.reader(), Duration::from_secs(3)).expect("pcscd sees the card");

    // The qualification service.
    let today = yyyymmdd::parse("20251104").expect("a date");
    let pki = TestPki::shared().expect("test PKI");
    let crl = pki.crl_for([&profile], today).expect("CRL");
    let key = CertificateKey::from_der(&image.auth_certificate).expect("certificate key");
    let mut config = ServerConfig::new(
        vec![InsuredRecord::example(key)],
        pki.ca_certificate_der().to_vec(),
        crl,
    );
    config.today = Some(today);
    let service = Server::start_background(config).expect("qualification service");

    // The device.
    let log = dir.join("device.log");
    let mut child = Command::new(workspace_binary("myna-dut-ref"))
        .args(["--serial", &format!("{dut_end}@115200"), "--profiles"])
        .arg(root.join("scenarios/cards"))
        .arg(root.join("scenarios/cards/faults"))
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start myna-dut-ref");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _device = Running(child);
    assert!(first.starts_with("serving on serial"), "{first:?}");

    let mut h = Harness::open(&harness_end);
    // A serial terminal's blank line is ignored; a broken one is answered and forgotten.
    h.out.write_all(b"\r\n{\"type\":\n").unwrap();
    match h.next() {
        FromDevice::Error(e) => assert_eq!((e.id, e.code), (None, ErrorCode::BadMessage)),
        other => panic!("{other:?}"),
    }
    h.send(&ToDevice::hello());
    match h.next() {
        FromDevice::Hello(hello) => {
            assert_eq!(hello.version, 1);
            assert!(hello.has(&harness::dut::protocol::Capability::Pin));
            assert!(!hello.has(&harness::dut::protocol::Capability::Desk));
        }
        other => panic!("expected hello, got {other:?}"),
    }

    let events = h.stimulus(&format!(
        r#"{{"type":"case_start","case":"dut-ref.pin","today":"2025-11-04","facility":"clinic-a","service_url":"{}/","service_deadline_ms":8000,"card_deadline_ms":5000,"limit_category":"A03"}}"#,
        service.control().url()
    ));
    assert!(events.is_empty(), "{events:?}");
    let events = h.stimulus(&format!(
        r#"{{"type":"card_present","profile":"valid","reader":"{}","real":false}}"#,
        slot.reader()
    ));
    assert_eq!(
        screens(&events),
        ["reading_card", "choose_method"],
        "{events:?}"
    );
    let events = h.stimulus(r#"{"type":"choose_method","method":"pin"}"#);
    assert_eq!(screens(&events), ["pin_entry"]);

    let right = profile.auth_pin.as_ref().unwrap().value.expose().to_owned();
    let wrong = harness::scenario::PinEntry::Wrong.digits(&right);
    let keys = keypad_layout(&events)
        .expect("a keypad layout")
        .positions_for(&wrong)
        .unwrap();
    let events = h.stimulus(&pin_keys(&keys));
    assert_eq!(verify_sws(&events), [0x63C2]);
    assert_eq!(screens(&events), ["pin_wrong", "pin_entry"]);
    let keys = keypad_layout(&events)
        .expect("a keypad layout")
        .positions_for(&right)
        .unwrap();
    let events = h.stimulus(&pin_keys(&keys));
    assert_eq!(verify_sws(&events), [0x9000]);
    assert_eq!(screens(&events), ["querying", "consent"], "{events:?}");
    let events = h.stimulus(r#"{"type":"consent","choice":"all"}"#);
    let outcome = events.iter().find_map(|e| match e {
        FromDevice::Outcome {
            route,
            share_percent,
            ..
        } => Some((route.to_string(), *share_percent)),
        _ => None,
    });
    assert_eq!(outcome, Some(("card_pin".to_owned(), 30)), "{events:?}");
    let events = h.stimulus(r#"{"type":"card_removed"}"#);
    assert_eq!(screens(&events), ["idle"]);
    assert!(h.stimulus(r#"{"type":"reset"}"#).is_empty());

    // The right PIN reset the counter the wrong one had lowered.
    assert_eq!(card.card().lock().unwrap().tries_left(PinRef::AuthPin), 3);

    // The log has the session but no layout, no key positions and no 照合番号B.
    let log = std::fs::read_to_string(&log).expect("the device's log");
    assert!(log.contains(r#""positions":"<4 redacted>""#), "{log}");
    assert!(!log.contains(r#""positions":["#), "{log}");
    assert!(!log.contains(r#""digits":["#), "{log}");
    let code_b = card_emulator::records::surface_code_b(
        profile.holder.birth_date,
        profile.card_expiry_year,
        profile.security_code.expose(),
    );
    assert!(!log.contains(&code_b));

    drop(h);
    service.shutdown();
    drop(card);
    let _ = wait_for_removal(slot.reader(), Duration::from_secs(3));
    // pcscd must see the removal before the next test inserts a card here.
    std::thread::sleep(Duration::from_millis(450));
}
