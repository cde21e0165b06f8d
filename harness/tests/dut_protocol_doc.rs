//! docs/adapter-protocol.md and the codec agree: every example message decodes as written,
//! every message type, error code and capability is documented, the example sessions obey
//! the session rules, the screen and timing names are the reference reader's, and the
//! Python adapter sketch talks to the harness's codec (when `python3` is installed; on CI it
//! must be).

use harness::dut::protocol::{
    decode, encode, write_message, Capability, ErrorCode, FromDevice, LineReader, ToDevice,
    WireError, WireMessage, MAX_LINE,
};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn doc() -> String {
    repo_file("docs/adapter-protocol.md")
}

/// The fenced code blocks of `markdown` whose info string is `info`, as (first line number,
/// body).
fn blocks(markdown: &str, info: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None => {
                if let Some(rest) = line.strip_prefix("```") {
                    if rest.trim() == info {
                        current = Some((n + 2, String::new()));
                    }
                }
            }
            Some((_, body)) => {
                if line.starts_with("```") {
                    out.push(current.take().unwrap());
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    assert!(current.is_none(), "unclosed ```{info} block");
    out
}

fn decode_or_panic<M: WireMessage>(line: &str, at: usize) -> M {
    decode(line.as_bytes()).unwrap_or_else(|e| panic!("doc line {at}: {e}\n{line}"))
}

/// Decodes, encodes and decodes again: the example is a message, and the codec keeps it.
fn check_example<M: WireMessage + PartialEq>(line: &str, at: usize) -> M {
    let message: M = decode_or_panic(line, at);
    let again = encode(&message);
    let back: M = decode(&again[..again.len() - 1]).unwrap();
    assert_eq!(back, message, "doc line {at}");
    message
}

#[test]
fn every_example_message_decodes_and_every_type_has_one() {
    let doc = doc();
    let mut to_types = BTreeSet::new();
    for (start, body) in blocks(&doc, "jsonl to-device") {
        for (i, line) in body.lines().enumerate() {
            let m: ToDevice = check_example(line, start + i);
            to_types.insert(m.type_name());
        }
    }
    assert_eq!(to_types, ToDevice::TYPES.iter().copied().collect());
    let mut from_types = BTreeSet::new();
    for (start, body) in blocks(&doc, "jsonl from-device") {
        for (i, line) in body.lines().enumerate() {
            let m: FromDevice = check_example(line, start + i);
            from_types.insert(m.type_name());
        }
    }
    assert_eq!(from_types, FromDevice::TYPES.iter().copied().collect());
}

#[test]
fn every_type_code_and_capability_is_in_the_tables() {
    let doc = doc();
    let table_rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
    let documented = |name: &str| {
        let cell = format!("| `{name}`");
        table_rows.iter().any(|row| row.starts_with(&cell))
    };
    for t in ToDevice::TYPES.iter().chain(FromDevice::TYPES) {
        assert!(documented(t), "type `{t}` has no table row");
    }
    for cap in Capability::KNOWN {
        assert!(documented(cap.as_str()), "capability `{}`", cap.as_str());
    }
    for code in ErrorCode::KNOWN {
        let named = table_rows
            .iter()
            .any(|row| row.contains(&format!("`{}`", code.as_str())));
        assert!(named, "error code `{code}` has no table row");
    }
    assert_eq!(
        MAX_LINE, 262_144,
        "the doc and the Python sketch say 262,144"
    );
    assert!(doc.contains("262,144 bytes"));
    assert!(doc.contains("PROTOCOL, VERSION, MAX_LINE = \"myna-hil-dut\", 1, 262144"));
    assert!(doc.contains("`\"myna-hil-dut\"`"));
}

#[test]
fn the_reference_readers_screen_and_timing_names_are_documented() {
    let doc = doc();
    let mut names = BTreeSet::new();
    for file in [
        "harness/src/reader/virtual_reader.rs",
        "harness/src/reader/virtual_reader/face_path.rs",
    ] {
        let source = repo_file(file);
        for piece in source.split("screen(\"").skip(1) {
            names.insert(piece.split('"').next().unwrap().to_owned());
        }
    }
    assert!(names.len() > 15, "found only {names:?}");
    for name in &names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "screen `{name}` is not documented"
        );
    }
    assert!(doc.contains("`desk_<route>`"));
    for measure in harness::scenario::READER_MEASURES {
        assert!(doc.contains(&format!("`{measure}`")), "timing `{measure}`");
    }
}

/// Follows a transcript as both sides would and checks the session rules: hello first, one
/// outstanding stimulus answered exactly once (frames and withdrawals excepted),
/// non-decreasing `at_ms` within a case, refused lines answered with the matching error code,
/// operator answers and withdrawals naming the pending prompt.
fn check_transcript(start: usize, body: &str) {
    let mut outstanding: Option<u64> = None;
    let mut last_at = 0.0f64;
    let mut hello_seen = false;
    let mut expect_error: Option<(Option<u64>, ErrorCode)> = None;
    let mut layout_shown = false;
    // The operator prompt pending on the device's test UI.
    let mut asked: Option<String> = None;
    for (i, line) in body.lines().enumerate() {
        let at = start + i;
        if let Some(json) = line.strip_prefix(">! ") {
            let err = decode::<ToDevice>(json.as_bytes())
                .map(|m| panic!("doc line {at}: refused line decodes as {m:?}"))
                .unwrap_err();
            let id = serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("id").and_then(|id| id.as_u64()));
            expect_error = Some((id, err.code().expect("a line error has a code")));
            hello_seen = true;
        } else if let Some(json) = line.strip_prefix("> ") {
            assert!(
                expect_error.is_none(),
                "doc line {at}: the refusal was not answered"
            );
            let m: ToDevice = check_example(json, at);
            if let ToDevice::ClipChunk { data, sha256, .. } = &m {
                let refused = body
                    .lines()
                    .nth(i + 1)
                    .is_some_and(|next| next.contains(r#""code":"clip_mismatch""#));
                assert_eq!(
                    harness::clips::sha256_hex(data) == *sha256,
                    !refused,
                    "doc line {at}: a chunk's sha256 is its data's, unless the device refuses it"
                );
            }
            assert_eq!(
                matches!(m, ToDevice::Hello(_)),
                !hello_seen,
                "doc line {at}: hello comes first, once"
            );
            hello_seen = true;
            if let Some(id) = m.id() {
                assert_eq!(
                    outstanding, None,
                    "doc line {at}: a stimulus is outstanding"
                );
                outstanding = Some(id);
            }
            match &m {
                ToDevice::OperatorPrompt { prompt, .. } => asked = Some(prompt.clone()),
                ToDevice::OperatorWithdraw { prompt } => assert_eq!(
                    asked.as_ref(),
                    Some(prompt),
                    "doc line {at}: a withdrawal names the pending prompt"
                ),
                _ => {}
            }
            match m {
                ToDevice::CaseStart { .. } => last_at = 0.0,
                ToDevice::PinKeys { .. } => {
                    assert!(layout_shown, "doc line {at}: keys without a keypad layout");
                    layout_shown = false;
                }
                _ => {}
            }
        } else if let Some(json) = line.strip_prefix("< ") {
            let m: FromDevice = check_example(json, at);
            if let Some((id, code)) = expect_error.take() {
                match &m {
                    FromDevice::Error(e) => {
                        assert_eq!((e.id, &e.code), (id, &code), "doc line {at}");
                    }
                    other => panic!("doc line {at}: expected an error, got {other:?}"),
                }
                continue;
            }
            if let Some(at_ms) = m.at_ms() {
                assert!(at_ms >= last_at, "doc line {at}: at_ms goes back");
                last_at = at_ms;
            }
            if matches!(m, FromDevice::KeypadLayout { .. }) {
                layout_shown = true;
            }
            if let FromDevice::OperatorAnswer { prompt, .. } = &m {
                assert_eq!(
                    asked.as_ref(),
                    Some(prompt),
                    "doc line {at}: an answer to a prompt that is not pending"
                );
            }
            if let FromDevice::Done { .. } | FromDevice::ClipHave { .. } | FromDevice::Error(_) = m
            {
                let answered = m.answers();
                assert_eq!(answered, outstanding, "doc line {at}: answers another id");
                outstanding = None;
                asked = None;
            }
        } else {
            panic!("doc line {at}: a transcript line starts with `> `, `>! ` or `< `");
        }
    }
    assert!(expect_error.is_none(), "the last refusal was not answered");
    assert_eq!(outstanding, None, "a stimulus was never answered");
}

#[test]
fn the_example_sessions_decode_and_follow_the_rules() {
    let doc = doc();
    let transcripts = blocks(&doc, "text transcript");
    assert!(transcripts.len() >= 4);
    let mut lines = 0;
    for (start, body) in &transcripts {
        check_transcript(*start, body);
        lines += body.lines().count();
    }
    assert!(lines > 80);
}

#[test]
fn the_example_pin_entry_is_consistent() {
    // The PIN transcript types the wrong PIN 2234, then the test card's PIN 1234: the
    // positions must say so on each layout (the layout changes after the wrong PIN).
    let doc = doc();
    let (start, body) = &blocks(&doc, "text transcript")[0];
    let mut layout = None;
    let mut typed = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if let Some(json) = line.strip_prefix("< ") {
            if let FromDevice::KeypadLayout { digits, .. } = decode_or_panic(json, start + i) {
                layout = Some(digits);
            }
        } else if let Some(json) = line.strip_prefix("> ") {
            if let ToDevice::PinKeys { positions, .. } = decode_or_panic(json, start + i) {
                let digits = layout.take().unwrap();
                typed.push(
                    positions
                        .0
                        .iter()
                        .map(|&p| char::from(b'0' + digits[usize::from(p)]))
                        .collect::<String>(),
                );
            }
        }
    }
    assert_eq!(typed, ["2234", "1234"]);
}

// ---------------------------------------------------------------------------------------
// The Python sketch
// ---------------------------------------------------------------------------------------

/// Kills the sketch when the test ends, however it ends.
struct Sketch(Child);

impl Drop for Sketch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sketch() -> Option<(Sketch, u16)> {
    let doc = doc();
    let python = blocks(&doc, "python");
    assert_eq!(python.len(), 1, "one python block");
    let spawned = Command::new("python3")
        .arg("-c")
        .arg(&python[0].1)
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => Sketch(child),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: python3 is not available ({e})");
            return None;
        }
        Err(e) => panic!("python3 is needed on CI: {e}"),
    };
    let mut first = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the sketch said {first:?}"));
    Some((child, port))
}

struct Peer {
    out: TcpStream,
    lines: LineReader<TcpStream>,
}

impl Peer {
    fn connect(port: u16) -> Peer {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Peer {
            out: stream.try_clone().unwrap(),
            lines: LineReader::new(stream),
        }
    }

    fn send(&mut self, m: &ToDevice) {
        write_message(&mut self.out, m).unwrap();
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.out.write_all(bytes).unwrap();
    }

    fn next(&mut self) -> Option<FromDevice> {
        match self.lines.read_message::<FromDevice>() {
            Ok(m) => m,
            Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("the sketch sent a bad line: {e}"),
        }
    }

    fn expect(&mut self) -> FromDevice {
        self.next().expect("the sketch closed the connection")
    }

    fn screen(&mut self, want: &str) {
        match self.expect() {
            FromDevice::Screen { name, .. } => assert_eq!(name, want),
            other => panic!("expected screen {want}, got {other:?}"),
        }
    }

    fn error(&mut self, id: Option<u64>, code: ErrorCode) {
        match self.expect() {
            FromDevice::Error(e) => assert_eq!((e.id, e.code), (id, code), "{}", e.message),
            other => panic!("expected error {code}, got {other:?}"),
        }
    }
}

#[test]
fn the_python_sketch_speaks_the_protocol() {
    let Some((_sketch, port)) = start_sketch() else {
        return;
    };
    let mut peer = Peer::connect(port);
    peer.send(&ToDevice::hello());
    match peer.expect() {
        FromDevice::Hello(h) => assert_eq!((h.version, h.capabilities.len()), (1, 0)),
        other => panic!("{other:?}"),
    }
    peer.send(&ToDevice::CaseStart {
        id: 1,
        case: "sketch".into(),
        today: None,
        facility: None,
        service_url: None,
        service_deadline_ms: None,
        card_deadline_ms: None,
        consent_history: Vec::new(),
        limit_category: None,
        earlier_face_failures: None,
    });
    peer.screen("idle");
    assert_eq!(peer.expect(), FromDevice::Done { id: 1 });
    peer.send(&ToDevice::CardPresent {
        id: 2,
        profile: "valid".into(),
        reader: Some("Virtual PCD 00 00".into()),
        real: false,
    });
    peer.screen("reading_card");
    peer.screen("choose_method");
    assert_eq!(peer.expect(), FromDevice::Done { id: 2 });
    peer.send(&ToDevice::ChooseMethod {
        id: 3,
        method: harness::dut::protocol::WireMethod::Pin,
    });
    peer.error(Some(3), ErrorCode::Unsupported);
    peer.send_raw(b"{\"type\":\"teleport\",\"id\":4}\n");
    peer.error(Some(4), ErrorCode::UnknownType);
    let mut long = vec![b'x'; MAX_LINE + 10];
    long.push(b'\n');
    peer.send_raw(&long);
    peer.error(None, ErrorCode::LineTooLong);
    peer.send_raw(b"not json\n{\"type\":\"reset\",\"id\":\"\xFF\"}\n");
    peer.error(None, ErrorCode::BadMessage);
    peer.error(None, ErrorCode::BadMessage);
    peer.send(&ToDevice::Reset { id: 5 });
    peer.screen("idle");
    assert_eq!(peer.expect(), FromDevice::Done { id: 5 });
    drop(peer);

    let mut peer = Peer::connect(port);
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
    assert_eq!(
        peer.next(),
        None,
        "the sketch closes after a version mismatch"
    );
}

/// The "Deadlines" table lists the fixed deadlines the driver uses, with their values, and
/// the limits stated in the text are the codec's.
#[test]
fn the_documented_deadlines_and_limits_are_the_codes() {
    use harness::dut::protocol::{FIXED_DEADLINES, MAX_DEVICE_TEXT, MAX_LINES_PER_CASE};
    let doc = doc();
    let section = doc
        .split("\n## Deadlines\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Deadlines section");
    let rows: Vec<(String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Some((
                cells.first()?.trim_matches('`').to_owned(),
                cells.get(1)?.to_string(),
            ))
        })
        .collect();
    for (name, value) in FIXED_DEADLINES {
        let row = rows
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no row for `{name}` in {rows:?}"));
        assert_eq!(row.1, format!("{} s", value.as_secs()), "`{name}`");
    }
    assert!(
        doc.contains(&format!("cut to {MAX_DEVICE_TEXT} bytes")),
        "the text limit"
    );
    let lines = MAX_LINES_PER_CASE
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        doc.contains(&format!("At most {lines} lines per case")),
        "the line limit"
    );
}

/// The failure names a `card_path` may start with are the harness's `CardFailure`s.
#[test]
fn the_documented_card_path_failures_are_the_harness_names() {
    let doc = doc();
    let list = doc
        .split("ideally starting with one of")
        .nth(1)
        .and_then(|rest| rest.split("and a colon").next())
        .expect("the card_path failure list");
    let documented: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
    let ours: Vec<String> = harness::rules::CardFailure::ALL
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    assert_eq!(documented, ours);
}
