//! Fuzzing of the adapter-protocol codec with proptest (stable Rust; cargo-fuzz needs
//! nightly): arbitrary bytes, byte-level and structure-aware mutations of the corpus in
//! `harness/fuzz-corpus/dut-protocol/*.jsonl`, arbitrary messages, arbitrary chunking of a
//! stream, and the line reader's memory bound.
//!
//! Properties: decoding never panics; whatever decodes is valid and decodes again to itself
//! after encoding; unknown fields never change a message; how a stream is cut into reads
//! never changes what is read; the reader never holds more than its line limit plus one read
//! chunk, and gives up on a line as soon as the limit is passed.
//!
//! Each property runs a few hundred to a few thousand cases by default (the file takes a few
//! seconds in a debug build). For a longer round set `PROPTEST_CASES`, which raises every
//! property to that many cases, e.g.
//! `PROPTEST_CASES=200000 cargo test --release -p harness --test dut_protocol_fuzz`.
//! A failure is saved in `harness/fuzz-corpus/dut-protocol/regressions.txt` (commit it) and
//! replayed first on the next run.

use harness::dut::protocol::{
    decode, decode_lines, encode, FromDevice, LineReader, ToDevice, WireError, WireMessage,
    MAX_LINE, READ_CHUNK,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::Value;
use std::io::{self, Read};
use std::path::Path;
use std::sync::LazyLock;

// ---------------------------------------------------------------------------------------
// Corpus and configuration
// ---------------------------------------------------------------------------------------

fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus/dut-protocol")
}

/// Every line of every `*.jsonl` of the corpus, with its file name.
static CORPUS: LazyLock<Vec<(String, Vec<u8>)>> = LazyLock::new(|| {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("the corpus folder")
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&file).expect("a corpus file");
        for line in bytes.split(|&b| b == b'\n') {
            lines.push((name.clone(), line.to_vec()));
        }
    }
    assert!(lines.len() > 200, "the corpus is too small");
    lines
});

fn corpus_lines() -> Vec<Vec<u8>> {
    CORPUS.iter().map(|(_, l)| l.clone()).collect()
}

/// The corpus lines that parse as JSON objects (the seeds of structure-aware mutation).
static CORPUS_OBJECTS: LazyLock<Vec<serde_json::Map<String, Value>>> = LazyLock::new(|| {
    CORPUS
        .iter()
        .filter_map(|(_, l)| match serde_json::from_slice::<Value>(l) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
        .collect()
});

/// `default` cases, or `PROPTEST_CASES` when set.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz-corpus/dut-protocol/regressions.txt"
        )))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// The properties every decoded line must have
// ---------------------------------------------------------------------------------------

/// Decoding `line` in one direction: no panic (proptest reports one as a failure); a
/// message that decodes is valid, fits a line, and survives encode → decode unchanged.
fn check_direction<M: WireMessage + PartialEq>(line: &[u8]) -> Result<(), TestCaseError> {
    match decode::<M>(line) {
        Ok(message) => {
            prop_assert_eq!(message.validate(), Ok(()));
            let again = encode(&message);
            prop_assert_eq!(again.iter().filter(|&&b| b == b'\n').count(), 1);
            let back = decode::<M>(&again[..again.len() - 1]);
            prop_assert!(
                matches!(&back, Ok(b) if *b == message),
                "{:?} re-encoded as {} decodes as {:?}",
                message,
                String::from_utf8_lossy(&again),
                back
            );
        }
        Err(e) => {
            // Every line error says something, and a device could answer it.
            prop_assert!(!e.to_string().is_empty());
            prop_assert!(e.code().is_some(), "{:?} has no error code", e);
        }
    }
    Ok(())
}

fn check_line(line: &[u8]) -> Result<(), TestCaseError> {
    check_direction::<ToDevice>(line)?;
    check_direction::<FromDevice>(line)
}

#[test]
fn every_corpus_line_is_handled_and_the_valid_ones_decode() {
    let mut decoded = 0;
    for (file, line) in CORPUS.iter() {
        check_line(line).unwrap_or_else(|e| panic!("{file}: {e}"));
        let blank = line.iter().all(|b| b" \t\r".contains(b));
        if file.starts_with("to-device") && !blank {
            decode::<ToDevice>(line)
                .unwrap_or_else(|e| panic!("{file}: {e}: {}", String::from_utf8_lossy(line)));
            decoded += 1;
        }
        if file.starts_with("from-device") && !blank {
            decode::<FromDevice>(line)
                .unwrap_or_else(|e| panic!("{file}: {e}: {}", String::from_utf8_lossy(line)));
            decoded += 1;
        }
    }
    assert!(decoded > 100);
    // The corpus as one stream, too.
    let stream: Vec<u8> = CORPUS
        .iter()
        .flat_map(|(_, l)| l.iter().copied().chain([b'\n']))
        .collect();
    let results = decode_lines::<FromDevice>(&stream);
    assert!(results.iter().filter(|r| r.is_ok()).count() > 50);
}

// ---------------------------------------------------------------------------------------
// Arbitrary bytes and byte-level mutations
// ---------------------------------------------------------------------------------------

/// Tokens that break parsers more often than random bytes do.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\n",
    b"\r",
    b"\0",
    b"null",
    b"true",
    b"-1",
    b"-0",
    b"1e999",
    b"18446744073709551616",
    b"9007199254740993",
    b"0.1e-400",
    b"\\u0000",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"\xFF",
    b"\xC3",
    b"\xE3\x81",
    b"\xF0\x9F\x98\x80",
    b"\xEF\xBB\xBF",
    b"\"type\":\"hello\"",
    b"\"type\":\"reset\"",
    b"\"type\":\"screen\"",
    b"\"id\":",
    b"\"at_ms\":",
    b"\"protocol\":\"myna-hil-dut\",\"version\":1",
    b"\"version\":2",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

#[derive(Clone, Debug)]
enum ByteMutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Token(usize, usize),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
    Splice(usize, usize),
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| ByteMutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| ByteMutation::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| ByteMutation::Insert(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, t)| ByteMutation::Token(i, t)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| ByteMutation::Delete(i, n)),
        (any::<usize>(), 1usize..32).prop_map(|(i, n)| ByteMutation::Duplicate(i, n)),
        any::<usize>().prop_map(ByteMutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(i, l)| ByteMutation::Splice(i, l)),
    ]
}

fn apply_bytes(line: &mut Vec<u8>, m: &ByteMutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        ByteMutation::Flip(i, bit) if !line.is_empty() => {
            let i = i % line.len();
            line[i] ^= 1 << bit;
        }
        ByteMutation::Set(i, b) if !line.is_empty() => {
            let i = i % line.len();
            line[i] = *b;
        }
        ByteMutation::Insert(i, bytes) => {
            let i = at(*i, line.len());
            line.splice(i..i, bytes.iter().copied());
        }
        ByteMutation::Token(i, t) => {
            let i = at(*i, line.len());
            line.splice(i..i, TOKENS[t % TOKENS.len()].iter().copied());
        }
        ByteMutation::Delete(i, n) if !line.is_empty() => {
            let i = i % line.len();
            let end = (i + n).min(line.len());
            line.drain(i..end);
        }
        ByteMutation::Duplicate(i, n) if !line.is_empty() => {
            let i = i % line.len();
            let end = (i + n).min(line.len());
            let piece = line[i..end].to_vec();
            line.splice(end..end, piece);
        }
        ByteMutation::Truncate(i) => {
            let i = at(*i, line.len());
            line.truncate(i);
        }
        ByteMutation::Splice(i, l) => {
            let lines = &*CORPUS;
            let other = &lines[l % lines.len()].1;
            let i = at(*i, line.len());
            let from = if other.is_empty() { 0 } else { i % other.len() };
            line.truncate(i);
            line.extend_from_slice(&other[from..]);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_line(&bytes)?;
        let _ = decode_lines::<ToDevice>(&bytes);
        let _ = decode_lines::<FromDevice>(&bytes);
    }

    #[test]
    fn mutated_corpus_lines_never_panic(
        line in prop::sample::select(corpus_lines()),
        mutations in prop::collection::vec(byte_mutation(), 1..6),
    ) {
        let mut line = line;
        for m in &mutations {
            apply_bytes(&mut line, m);
        }
        check_line(&line)?;
    }
}

// ---------------------------------------------------------------------------------------
// Structure-aware mutations
// ---------------------------------------------------------------------------------------

const TYPE_NAMES: &[&str] = &[
    "hello",
    "case_start",
    "card_present",
    "card_removed",
    "camera_start",
    "camera_frame",
    "camera_stop",
    "choose_method",
    "pin_keys",
    "consent",
    "register",
    "show_documents",
    "reset",
    "done",
    "error",
    "screen",
    "keypad_layout",
    "keys_pressed",
    "verify_answered",
    "card_path",
    "face_attempt",
    "face_result",
    "qualification",
    "outcome",
    "timing",
    "note",
    "Reset",
    "",
];

/// JSON values that sit at the edges of the fields' types.
fn edge_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(9),
            Just(10),
            Just(100),
            Just(101),
            Just(255),
            Just(256),
            Just(65535),
            Just(65536),
            Just(i64::MAX),
            Just(i64::MIN),
            any::<i64>()
        ]
        .prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        prop_oneof![
            Just(0.5f64),
            Just(-0.0),
            Just(1e-300),
            Just(1e300),
            Just(9_007_199_254_740_992.0),
            Just(f64::from(f32::MAX) * 2.0),
            any::<f64>().prop_filter("finite", |f| f.is_finite())
        ]
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "9000",
            "63c2",
            "63C",
            "2025-11-04",
            "2025-02-29",
            "face",
            "pin",
            "all",
            "items",
            "none",
            "reuse",
            "medication",
            "card_pin",
            "matched",
            "portal_pdf",
            "myna-hil-dut",
            "/9j/",
            "==",
            "not_now",
            "desk",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,12}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Remove the n-th field.
    Remove(usize),
    /// Set the n-th field to a value.
    Set(usize, Value),
    /// Add a field (maybe a known name, maybe not).
    Add(String, Value),
    /// Change the type to another (of either direction, or none).
    Retype(usize),
    /// Descend into the n-th field's array or object and mutate there.
    Deep(usize, usize, Value),
    /// Swap the values of two fields.
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "id",
            "type",
            "at_ms",
            "version",
            "protocol",
            "positions",
            "digits",
            "items",
            "clip",
            "sw",
            "fps",
            "documents",
            "valid_until",
            "kind",
            "code",
            "route",
            "count",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), edge_value()).prop_map(|(i, v)| Mutation::Set(i, v)),
        (name, edge_value()).prop_map(|(n, v)| Mutation::Add(n, v)),
        any::<usize>().prop_map(Mutation::Retype),
        (any::<usize>(), any::<usize>(), edge_value())
            .prop_map(|(i, j, v)| Mutation::Deep(i, j, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
    ]
}

fn nth_key(object: &serde_json::Map<String, Value>, n: usize) -> Option<String> {
    if object.is_empty() {
        None
    } else {
        object.keys().nth(n % object.len()).cloned()
    }
}

fn apply(object: &mut serde_json::Map<String, Value>, m: &Mutation) {
    match m {
        Mutation::Remove(n) => {
            if let Some(k) = nth_key(object, *n) {
                object.remove(&k);
            }
        }
        Mutation::Set(n, v) => {
            if let Some(k) = nth_key(object, *n) {
                object.insert(k, v.clone());
            }
        }
        Mutation::Add(k, v) => {
            object.insert(k.clone(), v.clone());
        }
        Mutation::Retype(t) => {
            object.insert("type".into(), Value::from(TYPE_NAMES[t % TYPE_NAMES.len()]));
        }
        Mutation::Deep(n, j, v) => {
            if let Some(k) = nth_key(object, *n) {
                match object.get_mut(&k) {
                    Some(Value::Array(items)) if !items.is_empty() => {
                        let j = j % items.len();
                        items[j] = v.clone();
                    }
                    Some(Value::Array(items)) => items.push(v.clone()),
                    Some(Value::Object(inner)) => {
                        if let Some(ik) = nth_key(inner, *j) {
                            inner.insert(ik, v.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        Mutation::Swap(a, b) => {
            if let (Some(ka), Some(kb)) = (nth_key(object, *a), nth_key(object, *b)) {
                let va = object.get(&ka).cloned();
                let vb = object.get(&kb).cloned();
                if let (Some(va), Some(vb)) = (va, vb) {
                    object.insert(ka, vb);
                    object.insert(kb, va);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn structure_aware_mutations_never_panic(
        object in prop::sample::select(CORPUS_OBJECTS.clone()),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut object = object;
        for m in &mutations {
            apply(&mut object, m);
        }
        let line = serde_json::to_vec(&Value::Object(object)).unwrap();
        check_line(&line)?;
    }
}

/// Field names no message has (the codec must ignore them).
fn unknown_field() -> impl Strategy<Value = (String, Value)> {
    ("x_[a-z0-9_]{0,12}", edge_value())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn unknown_fields_never_change_a_message(
        object in prop::sample::select(CORPUS_OBJECTS.clone()),
        extra in prop::collection::vec(unknown_field(), 1..4),
    ) {
        let original = serde_json::to_vec(&Value::Object(object.clone())).unwrap();
        let mut extended = object;
        for (k, v) in extra {
            extended.insert(k, v);
        }
        let extended = serde_json::to_vec(&Value::Object(extended)).unwrap();
        let same = |a: Result<ToDevice, WireError>, b: Result<ToDevice, WireError>| {
            format!("{a:?}") == format!("{b:?}")
        };
        prop_assert!(same(decode(&original), decode(&extended)));
        let a = decode::<FromDevice>(&original);
        let b = decode::<FromDevice>(&extended);
        prop_assert_eq!(format!("{:?}", a), format!("{:?}", b));
    }
}

// ---------------------------------------------------------------------------------------
// Arbitrary messages round trip
// ---------------------------------------------------------------------------------------

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        ".{0,8}",
        "[\\x00-\\x1F\"\\\\\u{7F}\u{2028}\u{FEFF}]{0,8}"
    ]
}

fn at_ms() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        (0u64..1 << 40).prop_map(|us| us as f64 / 1000.0),
        0.0f64..9.0e15,
    ]
}

fn from_device() -> impl Strategy<Value = FromDevice> {
    use harness::dut::protocol::{ErrorCode, ErrorReply, WireFaceResult};
    let route = prop::sample::select(harness::rules::Route::ALL.to_vec());
    let face = prop::sample::select(vec![
        WireFaceResult::Matched,
        WireFaceResult::NoMatch,
        WireFaceResult::AttackRejected,
        WireFaceResult::Locked,
        WireFaceResult::Unavailable,
    ]);
    prop_oneof![
        (at_ms(), any_text()).prop_map(|(at_ms, name)| FromDevice::Screen { at_ms, name }),
        (at_ms(), any_text()).prop_map(|(at_ms, text)| FromDevice::Note { at_ms, text }),
        (at_ms(), any_text(), at_ms()).prop_map(|(at_ms, name, ms)| FromDevice::Timing {
            at_ms,
            name,
            ms
        }),
        (at_ms(), any::<[u8; 10]>(), prop::option::of(0u8..16)).prop_map(
            |(at_ms, d, tries_left)| FromDevice::KeypadLayout {
                at_ms,
                digits: d.map(|x| x % 10),
                tries_left,
            }
        ),
        (at_ms(), any::<u64>()).prop_map(|(at_ms, count)| FromDevice::KeysPressed { at_ms, count }),
        (at_ms(), any::<u16>()).prop_map(|(at_ms, sw)| FromDevice::VerifyAnswered { at_ms, sw }),
        (at_ms(), any::<bool>(), prop::option::of(any_text()))
            .prop_map(|(at_ms, ok, failure)| FromDevice::CardPath { at_ms, ok, failure }),
        (
            at_ms(),
            any::<u8>(),
            any::<u32>(),
            prop::option::of(any::<f32>().prop_filter("finite", |s| s.is_finite())),
            any::<bool>(),
            any_text()
        )
            .prop_map(
                |(at_ms, attempt, frames, best_score, matched, presentation)| {
                    FromDevice::FaceAttempt {
                        at_ms,
                        attempt,
                        frames,
                        best_score,
                        matched,
                        presentation,
                    }
                }
            ),
        (at_ms(), face, any::<u8>()).prop_map(|(at_ms, result, consecutive_failures)| {
            FromDevice::FaceResult {
                at_ms,
                result,
                consecutive_failures,
            }
        }),
        (at_ms(), route, 0u8..=100, any::<bool>(), any::<bool>()).prop_map(
            |(at_ms, route, share_percent, limit_applied, qualification_data_only)| {
                FromDevice::Outcome {
                    at_ms,
                    route,
                    share_percent,
                    limit_applied,
                    qualification_data_only,
                }
            }
        ),
        any::<u64>().prop_map(|id| FromDevice::Done { id }),
        (any::<u64>(), any::<u64>()).prop_map(|(id, offset)| FromDevice::ClipHave { id, offset }),
        (
            prop::option::of(any::<u64>()),
            any_text(),
            any_text(),
            prop::option::of(prop::collection::vec(any::<u32>(), 0..4))
        )
            .prop_map(|(id, code, message, supported_versions)| {
                FromDevice::Error(ErrorReply {
                    id,
                    code: ErrorCode::from(code),
                    message,
                    supported_versions,
                })
            }),
    ]
}

fn to_device() -> impl Strategy<Value = ToDevice> {
    use harness::dut::protocol::{KeyPositions, WireConsent, WireConsentItem};
    prop_oneof![
        (
            any::<u64>(),
            any_text(),
            prop::option::of(any_text()),
            any::<bool>()
        )
            .prop_map(|(id, profile, reader, real)| ToDevice::CardPresent {
                id,
                profile,
                reader,
                real
            }),
        (any::<u64>(), any_text(), prop::option::of(any_text())).prop_map(
            |(id, case, facility)| ToDevice::CaseStart {
                id,
                case,
                today: None,
                facility,
                service_url: None,
                service_deadline_ms: None,
                card_deadline_ms: None,
                consent_history: Vec::new(),
                limit_category: None,
                earlier_face_failures: None,
            }
        ),
        (any::<u64>(), prop::collection::vec(0u8..10, 0..17)).prop_map(|(id, p)| {
            ToDevice::PinKeys {
                id,
                positions: KeyPositions(p),
            }
        }),
        (at_ms(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(t_ms, jpeg)| ToDevice::CameraFrame { t_ms, jpeg }),
        (
            any::<u64>(),
            prop::collection::vec(
                prop::sample::select(vec![
                    WireConsentItem::PastSurgery,
                    WireConsentItem::CareAndMedication,
                    WireConsentItem::Medication,
                    WireConsentItem::HealthCheckups,
                ]),
                0..6
            )
        )
            .prop_map(|(id, items)| ToDevice::Consent {
                id,
                choice: WireConsent::Items,
                items
            }),
        any::<u64>().prop_map(|id| ToDevice::Reset { id }),
        (
            any::<u64>(),
            "[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}",
            0..harness::clips::MAX_CLIP_BYTES,
            prop::collection::vec(any::<u8>(), 0..300),
            "[0-9a-f]{64}"
        )
            .prop_map(|(id, name, offset, data, sha256)| ToDevice::ClipChunk {
                id,
                name,
                offset,
                data,
                sha256
            }),
        (
            any::<u64>(),
            "[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}",
            prop::sample::select(harness::clips::ClipFormat::ALL.to_vec()),
            0..=harness::clips::MAX_CLIP_BYTES,
            "[0-9a-f]{64}"
        )
            .prop_map(|(id, name, format, size, sha256)| ToDevice::ClipOffer {
                id,
                name,
                format,
                size,
                sha256
            }),
    ]
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn arbitrary_device_messages_round_trip(m in from_device()) {
        let line = encode(&m);
        prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let back = decode::<FromDevice>(&line[..line.len() - 1]);
        prop_assert!(matches!(&back, Ok(b) if *b == m), "{:?} → {:?}", m, back);
        // Through the harness's vocabulary and back, too.
        let report = harness::dut::protocol::Report::from(m.clone());
        let again = FromDevice::from(report);
        match (&m, &again) {
            // Times are kept to the microsecond.
            (a, b) if a.at_ms().is_some() => {
                let (x, y) = (a.at_ms().unwrap(), b.at_ms().unwrap());
                prop_assert!((x - y).abs() <= 0.0005 + x * 1e-15, "{} vs {}", x, y);
            }
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    #[test]
    fn arbitrary_harness_messages_round_trip(m in to_device()) {
        let line = encode(&m);
        let back = decode::<ToDevice>(&line[..line.len() - 1]);
        prop_assert!(matches!(&back, Ok(b) if *b == m), "{:?} → {:?}", m, back);
    }
}

// ---------------------------------------------------------------------------------------
// Streams: chunking and the memory bound
// ---------------------------------------------------------------------------------------

/// Gives its data in the piece sizes it is told (cycling), sometimes failing with
/// `Interrupted` or `TimedOut` first.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    next: usize,
    hiccups: Vec<u8>,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let step = self.next;
        self.next += 1;
        // Every other read may hiccup, so the data always comes in the end.
        if step.is_multiple_of(2) {
            match self.hiccups[step / 2 % self.hiccups.len()] {
                0 => return Err(io::ErrorKind::Interrupted.into()),
                1 => return Err(io::ErrorKind::TimedOut.into()),
                _ => {}
            }
        }
        let want = self.sizes[step % self.sizes.len()].max(1);
        let n = want.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Everything a reader yields, as comparable text; `TimedOut` is retried.
fn drain<R: Read>(reader: &mut LineReader<R>, limit: usize, chunk: usize) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let r = reader.read_message::<FromDevice>();
        assert!(
            reader.buffer_capacity() <= limit + chunk,
            "buffer {} > {limit} + {chunk}",
            reader.buffer_capacity()
        );
        match r {
            Ok(None) => return out,
            Err(WireError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {}
            other => out.push(format!("{other:?}")),
        }
    }
}

fn stream_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(corpus_lines()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (1usize..600).prop_map(|n| vec![b'x'; n]),
        1 => Just(b"\r\n".to_vec()),
    ]
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn how_a_stream_is_cut_never_changes_what_is_read(
        pieces in prop::collection::vec(stream_piece(), 0..20),
        newline_at_end in any::<bool>(),
        sizes in prop::collection::vec(1usize..300, 1..8),
        hiccups in prop::collection::vec(0u8..8, 1..8),
        limit in prop_oneof![Just(MAX_LINE), 16usize..400],
        chunk in prop_oneof![Just(READ_CHUNK), 1usize..64],
    ) {
        let mut data = Vec::new();
        for p in &pieces {
            data.extend_from_slice(p);
            data.push(b'\n');
        }
        if !newline_at_end {
            data.pop();
        }
        // One read takes the whole stream.
        let mut whole = LineReader::with_limits(&data[..], limit, data.len() + 1);
        let expected = {
            let mut out = Vec::new();
            loop {
                match whole.read_message::<FromDevice>() {
                    Ok(None) => break,
                    other => out.push(format!("{other:?}")),
                }
            }
            out
        };
        let source = Pieces { data: data.clone(), at: 0, sizes, next: 0, hiccups };
        let mut cut = LineReader::with_limits(source, limit, chunk);
        let got = drain(&mut cut, limit, chunk);
        prop_assert_eq!(got, expected);
        if limit == MAX_LINE {
            let slice: Vec<String> = decode_lines::<FromDevice>(&data)
                .into_iter()
                .map(|r| format!("{:?}", r.map(Some)))
                .collect();
            let from_reader: Vec<String> = {
                let mut r = LineReader::new(&data[..]);
                drain(&mut r, MAX_LINE, READ_CHUNK)
            };
            prop_assert_eq!(slice, from_reader);
        }
    }

    #[test]
    fn long_lines_never_grow_the_buffer(
        limit in 1usize..2048,
        chunk in 1usize..512,
        lines in prop::collection::vec((0usize..6000, any::<bool>()), 1..6),
    ) {
        let mut data = Vec::new();
        for (len, newline) in &lines {
            data.extend(std::iter::repeat_n(b'a', *len));
            if *newline {
                data.push(b'\n');
            }
        }
        let mut reader = LineReader::with_limits(&data[..], limit, chunk);
        loop {
            let r = reader.read_line().map(|l| l.map(<[u8]>::len));
            prop_assert!(reader.buffer_capacity() <= limit + chunk);
            match r {
                Ok(None) => break,
                Ok(Some(len)) => prop_assert!(len <= limit),
                Err(WireError::LineTooLong { .. } | WireError::Unterminated { .. }) => {}
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
    }
}

/// Counts what was taken from the source.
struct Counting<R> {
    inner: R,
    taken: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n as u64;
        Ok(n)
    }
}

#[test]
fn a_multi_megabyte_line_is_refused_at_the_limit() {
    const SIZE: u64 = 16 << 20;
    let source = Counting {
        inner: io::repeat(b'{')
            .take(SIZE)
            .chain(&b"\n{\"type\":\"done\",\"id\":7}\n"[..]),
        taken: 0,
    };
    let mut reader = LineReader::new(source);
    match reader.read_message::<FromDevice>() {
        Err(WireError::LineTooLong { limit }) => assert_eq!(limit, MAX_LINE),
        other => panic!("{other:?}"),
    }
    // It stopped at the limit: at most the limit and one chunk were read and kept.
    let taken = reader.get_ref().taken;
    assert!(
        taken <= (MAX_LINE + READ_CHUNK) as u64,
        "read {taken} bytes"
    );
    assert!(taken > MAX_LINE as u64);
    assert!(reader.buffer_capacity() <= MAX_LINE + READ_CHUNK);
    // The rest of the line is skipped without being kept; the next line reads fine.
    assert_eq!(
        reader.read_message::<FromDevice>().unwrap(),
        Some(FromDevice::Done { id: 7 })
    );
    assert!(reader.buffer_capacity() <= MAX_LINE + READ_CHUNK);
    assert_eq!(reader.get_ref().taken, SIZE + 24);
    assert_eq!(reader.read_message::<FromDevice>().unwrap(), None);
}

#[test]
fn an_endless_line_is_refused_without_reading_it_all() {
    // A peer that never sends a newline: the reader still answers.
    let mut reader = LineReader::new(Counting {
        inner: io::repeat(b'a'),
        taken: 0,
    });
    assert!(matches!(
        reader.read_line(),
        Err(WireError::LineTooLong { .. })
    ));
    assert!(reader.get_ref().taken <= (MAX_LINE + READ_CHUNK) as u64);
    assert!(reader.buffer_capacity() <= MAX_LINE + READ_CHUNK);
}

#[test]
fn a_line_at_the_limit_is_read_and_one_byte_more_is_not() {
    for (extra, ok) in [(0usize, true), (1, false)] {
        let mut line = br#"{"type":"note","at_ms":0,"text":""#.to_vec();
        let close = br#""}"#;
        line.extend(std::iter::repeat_n(
            b'n',
            MAX_LINE + extra - line.len() - close.len(),
        ));
        line.extend_from_slice(close);
        assert_eq!(line.len(), MAX_LINE + extra);
        line.push(b'\n');
        let mut reader = LineReader::new(&line[..]);
        let r = reader.read_message::<FromDevice>();
        assert_eq!(r.is_ok(), ok, "{extra}: {r:?}");
        assert!(reader.buffer_capacity() <= MAX_LINE + READ_CHUNK);
    }
}
