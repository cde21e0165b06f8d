//! Corpus-seeded fuzzing of the card's APDU input (proptest on stable; cargo-fuzz needs
//! nightly). `tests/model.rs` already throws random bytes and generated commands at fresh
//! cards; this file starts from what real host software sends — the command sequences in
//! `card-emulator/fuzz-corpus/apdu/*.hex` (OpenSC binding, reading and signing, the
//! reference reader's PIN and face paths, PIN changes and blocking, extended and odd
//! lengths, foreign drivers' probes) — and mutates them, APDU by APDU and as sequences, on
//! one card whose state carries over from command to command.
//!
//! Checked after every APDU: `Card::transmit` did not panic and answered at least a status
//! word; data came only with 9000 and never more than the command's Le allows (at most 256
//! bytes beyond it for the signature and the attach check, never above 65,536); an APDU
//! that does not parse is 6700. Checked on the card's state: no PIN counter rises except on
//! a VERIFY or CHANGE REFERENCE DATA answered 9000, a blocked secret stays blocked, a reset
//! clears every verification, and the same sequence on a fresh card gives the same status
//! words (and the same data, GET CHALLENGE aside).
//!
//! The default case counts keep the file to a few seconds in a debug build. For a longer
//! round set `PROPTEST_CASES` (it raises every property to that many cases), e.g.
//! `PROPTEST_CASES=50000 cargo test --release -p card-emulator --test apdu_fuzz`. A
//! failure is saved in `card-emulator/fuzz-corpus/apdu-regressions.txt` (commit it) and
//! replayed first next time.

use card_emulator::apdu::Command;
use card_emulator::profile::{CardKind, TokenKind};
use card_emulator::{Card, CardImage, CardProfile, Delivery, PinRef};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::path::Path;
use std::sync::{Arc, LazyLock};

// ---------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Apdu(Vec<u8>),
    Reset,
}

struct CorpusFile {
    name: String,
    /// Each step with the status word the sample card must answer (when given) and its line.
    steps: Vec<(Step, Option<u16>, usize)>,
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

fn parse_corpus_file(name: &str, text: &str) -> CorpusFile {
    let mut steps = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (command, expect) = match line.split_once("=>") {
            Some((c, sw)) => (
                c.trim(),
                Some(
                    u16::from_str_radix(sw.trim(), 16)
                        .unwrap_or_else(|_| panic!("{name}:{}: bad status word", n + 1)),
                ),
            ),
            None => (line, None),
        };
        let step = match command {
            "reset" => Step::Reset,
            "empty" => Step::Apdu(Vec::new()),
            hex => {
                Step::Apdu(parse_hex(hex).unwrap_or_else(|| panic!("{name}:{}: bad hex", n + 1)))
            }
        };
        steps.push((step, expect, n + 1));
    }
    CorpusFile {
        name: name.to_owned(),
        steps,
    }
}

static CORPUS: LazyLock<Vec<CorpusFile>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus/apdu");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the APDU corpus folder")
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    files.sort();
    let corpus: Vec<_> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            parse_corpus_file(&name, &std::fs::read_to_string(p).expect("a corpus file"))
        })
        .collect();
    assert!(corpus.len() >= 10, "the corpus is too small");
    corpus
});

/// Every APDU of the corpus (the pool that random sequences draw from).
static POOL: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    CORPUS
        .iter()
        .flat_map(|f| &f.steps)
        .filter_map(|(s, _, _)| match s {
            Step::Apdu(a) => Some(a.clone()),
            Step::Reset => None,
        })
        .collect()
});

fn sequences() -> Vec<Vec<Step>> {
    CORPUS
        .iter()
        .map(|f| f.steps.iter().map(|(s, _, _)| s.clone()).collect())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Cards
// ---------------------------------------------------------------------------------------

const ATTACH_SECRET: [u8; 32] = [7; 32];

fn build(profile: &CardProfile) -> Arc<CardImage> {
    Arc::new(CardImage::build(profile).expect("profile builds"))
}

static SAMPLE: LazyLock<Arc<CardImage>> = LazyLock::new(|| build(&CardProfile::sample()));

static FACE: LazyLock<Arc<CardImage>> = LazyLock::new(|| {
    let mut profile = CardProfile::sample();
    profile.name = "face".into();
    profile.kind = CardKind::FaceAuthentication;
    profile.auth_pin = None;
    profile.sign_password = None;
    profile.text_pin = None;
    build(&profile)
});

static PHONE: LazyLock<Arc<CardImage>> = LazyLock::new(|| {
    let mut profile = CardProfile::sample();
    profile.name = "phone".into();
    profile.token = TokenKind::Smartphone;
    build(&profile)
});

#[derive(Clone, Copy, Debug)]
enum Which {
    Sample,
    Face,
    Phone,
}

fn card(which: Which) -> Card {
    let image = match which {
        Which::Sample => &*SAMPLE,
        Which::Face => &*FACE,
        Which::Phone => &*PHONE,
    };
    let mut card = Card::new(Arc::clone(image)).with_attach_secret(ATTACH_SECRET);
    card.reset();
    card
}

fn which() -> impl Strategy<Value = Which> {
    prop_oneof![6 => Just(Which::Sample), 1 => Just(Which::Face), 1 => Just(Which::Phone)]
}

const PINS: [PinRef; 7] = [
    PinRef::AuthPin,
    PinRef::SignPassword,
    PinRef::TextPin,
    PinRef::TextCodeA,
    PinRef::TextCodeB,
    PinRef::SurfaceCodeB,
    PinRef::SurfaceCodeA,
];

/// The most tries each secret can have (Card::new).
const MAX_TRIES: [u8; 7] = [3, 5, 3, 10, 10, 10, 10];

/// Most data any response may carry.
const MAX_RESPONSE_DATA: usize = 65_536;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz-corpus/apdu-regressions.txt"
        )))),
        ..ProptestConfig::default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

// ---------------------------------------------------------------------------------------
// Running a sequence and checking every answer
// ---------------------------------------------------------------------------------------

/// One response: its status word and data.
type Answer = (u16, Vec<u8>);

fn check_response(apdu: &[u8], out: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(out.len() >= 2, "{} answered {}", hex(apdu), hex(out));
    let (data, sw) = out.split_at(out.len() - 2);
    let sw = u16::from_be_bytes([sw[0], sw[1]]);
    if sw != 0x9000 {
        prop_assert!(data.is_empty(), "{:04X} with data for {}", sw, hex(apdu));
    }
    prop_assert!(data.len() <= MAX_RESPONSE_DATA);
    match Command::parse(apdu) {
        Err(_) => prop_assert_eq!(sw, 0x6700, "an unparsable APDU {}", hex(apdu)),
        Ok(cmd) => {
            let le = cmd.le.unwrap_or(0);
            // READ BINARY and GET CHALLENGE give at most what Le asks for; the signature and
            // the attach check have fixed sizes up to 256.
            let bound = if cmd.cla == 0x00 && matches!(cmd.ins, 0xB0 | 0x84) {
                le
            } else {
                le.max(256)
            };
            prop_assert!(
                data.len() <= bound,
                "{} bytes for {} (Le {:?})",
                data.len(),
                hex(apdu),
                cmd.le
            );
        }
    }
    let sw1 = (sw >> 8) as u8;
    prop_assert!(
        matches!(
            sw1,
            0x90 | 0x63 | 0x67 | 0x69 | 0x6A | 0x6B | 0x6D | 0x6E | 0x6F
        ),
        "SW {:04X} for {}",
        sw,
        hex(apdu)
    );
    Ok(())
}

fn counters(card: &Card) -> [u8; 7] {
    PINS.map(|p| card.tries_left(p))
}

/// Runs `steps` on `card`, checking every answer and the state invariants; returns the
/// answers (`None` for a reset).
fn run(card: &mut Card, steps: &[Step]) -> Result<Vec<Option<Answer>>, TestCaseError> {
    let mut answers = Vec::with_capacity(steps.len());
    let mut out = Vec::new();
    for step in steps {
        let before = counters(card);
        match step {
            Step::Reset => {
                card.reset();
                prop_assert_eq!(counters(card), before, "a reset changed a PIN counter");
                for p in PINS {
                    prop_assert!(!card.is_verified(p), "{:?} verified after a reset", p);
                }
                answers.push(None);
            }
            Step::Apdu(apdu) => {
                card.transmit(apdu, &mut out);
                check_response(apdu, &out)?;
                prop_assert_eq!(card.delivery(), Delivery::Normal);
                let sw = u16::from_be_bytes([out[out.len() - 2], out[out.len() - 1]]);
                let after = counters(card);
                let verified_ok = sw == 0x9000
                    && apdu.len() >= 2
                    && apdu[0] == 0x00
                    && matches!(apdu[1], 0x20 | 0x24);
                for (i, p) in PINS.iter().enumerate() {
                    prop_assert!(after[i] <= MAX_TRIES[i], "{:?} has {} tries", p, after[i]);
                    if after[i] > before[i] {
                        prop_assert!(
                            verified_ok,
                            "{:?} went from {} to {} tries on {} ({:04X})",
                            p,
                            before[i],
                            after[i],
                            hex(apdu),
                            sw
                        );
                    }
                    if before[i] == 0 {
                        prop_assert_eq!(after[i], 0, "{:?} was unblocked by {}", p, hex(apdu));
                    }
                }
                answers.push(Some((sw, out[..out.len() - 2].to_vec())));
            }
        }
    }
    Ok(answers)
}

/// The same sequence on a fresh card answers the same (GET CHALLENGE's random data aside).
fn check_deterministic(
    which: Which,
    steps: &[Step],
    first: &[Option<Answer>],
) -> Result<(), TestCaseError> {
    let mut again = card(which);
    let second = run(&mut again, steps)?;
    for ((step, a), b) in steps.iter().zip(first).zip(&second) {
        let (Some((sw_a, data_a)), Some((sw_b, data_b))) = (a, b) else {
            continue;
        };
        let Step::Apdu(apdu) = step else { continue };
        prop_assert_eq!(
            sw_a,
            sw_b,
            "{} answered differently the second time",
            hex(apdu)
        );
        let random = apdu.len() >= 2 && apdu[0] == 0x00 && apdu[1] == 0x84;
        if !random {
            prop_assert_eq!(data_a, data_b, "{} gave other data", hex(apdu));
        }
    }
    Ok(())
}

#[test]
fn the_corpus_replays_as_annotated_on_a_fresh_card() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in CORPUS.iter() {
        let mut card = card(Which::Sample);
        let steps: Vec<Step> = file.steps.iter().map(|(s, _, _)| s.clone()).collect();
        let answers = run(&mut card, &steps).unwrap_or_else(|e| panic!("{}: {e}", file.name));
        for ((_, expect, line), answer) in file.steps.iter().zip(&answers) {
            if let (Some(want), Some((sw, _))) = (expect, answer) {
                if sw != want {
                    wrong.push(format!(
                        "{}:{line}: answered {sw:04X}, the corpus says {want:04X}",
                        file.name
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked > 150, "only {checked} annotated answers");
    // The corpus reaches the states worth fuzzing from: a signature, the card-surface
    // record, a blocked PIN.
    let all: String = CORPUS.iter().map(|f| f.name.clone()).collect();
    for needed in [
        "opensc-sign",
        "reader-face-path",
        "pin-blocking",
        "odd-lengths",
    ] {
        assert!(all.contains(needed), "{needed}.hex is missing");
    }
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

/// Header values worth trying.
const HEADER_BYTES: &[u8] = &[
    0x00, 0x80, 0x84, 0x0C, 0xFF, 0xA4, 0xB0, 0x20, 0x24, 0x84, 0x2A, 0xE8, 0xC0, 0x04, 0x02, 0x01,
    0x0C, 0x4D, 0x48,
];

#[derive(Clone, Debug)]
enum ApduMutation {
    Flip(usize, u8),
    Set(usize, u8),
    Header(usize, usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Append(Vec<u8>),
    /// Set the byte after the header (Lc or Le, or the extended marker).
    LengthByte(u8),
    /// Set the last byte (a short Le, or the end of an extended one).
    LastByte(u8),
    /// Re-encode in the extended form.
    ToExtended,
    /// Re-encode in the short form (when it fits).
    ToShort,
    /// Replace the Le (or remove it).
    Le(Option<usize>),
    /// Replace the data with a piece of another corpus APDU.
    Data(usize, usize),
}

fn apdu_mutation() -> impl Strategy<Value = ApduMutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| ApduMutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| ApduMutation::Set(i, b)),
        (0usize..4, any::<usize>()).prop_map(|(i, v)| ApduMutation::Header(i, v)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(i, b)| ApduMutation::Insert(i, b)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| ApduMutation::Delete(i, n)),
        any::<usize>().prop_map(ApduMutation::Truncate),
        prop::collection::vec(any::<u8>(), 1..4).prop_map(ApduMutation::Append),
        prop_oneof![Just(0u8), Just(1), Just(0xFF), any::<u8>()].prop_map(ApduMutation::LengthByte),
        prop_oneof![Just(0u8), Just(1), Just(0xFF), any::<u8>()].prop_map(ApduMutation::LastByte),
        Just(ApduMutation::ToExtended),
        Just(ApduMutation::ToShort),
        prop_oneof![
            Just(None),
            Just(Some(256)),
            Just(Some(65536)),
            (1usize..=65536).prop_map(Some)
        ]
        .prop_map(ApduMutation::Le),
        (any::<usize>(), any::<usize>()).prop_map(|(k, s)| ApduMutation::Data(k, s)),
    ]
}

/// Encodes header, data and Le, short or extended.
fn encode(header: [u8; 4], data: &[u8], le: Option<usize>, extended: bool) -> Vec<u8> {
    let mut apdu = header.to_vec();
    if extended {
        if !data.is_empty() || le.is_some() {
            apdu.push(0);
            if !data.is_empty() {
                apdu.extend_from_slice(&(data.len().min(65535) as u16).to_be_bytes());
                apdu.extend_from_slice(&data[..data.len().min(65535)]);
            }
            if let Some(le) = le {
                apdu.extend_from_slice(&((le % 65536) as u16).to_be_bytes());
            }
        }
    } else {
        if !data.is_empty() {
            apdu.push(data.len().min(255) as u8);
            apdu.extend_from_slice(&data[..data.len().min(255)]);
        }
        if let Some(le) = le {
            apdu.push((le % 256) as u8);
        }
    }
    apdu
}

/// Re-encodes `apdu` through `f(header, data, le, extended)` when it parses.
fn reencode(
    apdu: &mut Vec<u8>,
    f: impl FnOnce([u8; 4], &[u8], Option<usize>, bool) -> Option<Vec<u8>>,
) {
    let replaced = match Command::parse(apdu) {
        Ok(c) => f([c.cla, c.ins, c.p1, c.p2], c.data, c.le, c.extended),
        Err(_) => None,
    };
    if let Some(new) = replaced {
        *apdu = new;
    }
}

fn mutate_apdu(apdu: &mut Vec<u8>, m: &ApduMutation) {
    let len = apdu.len();
    match m {
        ApduMutation::Flip(i, bit) if len > 0 => apdu[i % len] ^= 1 << bit,
        ApduMutation::Set(i, b) if len > 0 => apdu[i % len] = *b,
        ApduMutation::Header(i, v) if *i < len => apdu[*i] = HEADER_BYTES[v % HEADER_BYTES.len()],
        ApduMutation::Insert(i, bytes) => {
            let i = i % (len + 1);
            apdu.splice(i..i, bytes.iter().copied());
        }
        ApduMutation::Delete(i, n) if len > 0 => {
            let i = i % len;
            apdu.drain(i..(i + n).min(len));
        }
        ApduMutation::Truncate(i) => apdu.truncate(i % (len + 1)),
        ApduMutation::Append(bytes) => apdu.extend_from_slice(bytes),
        ApduMutation::LengthByte(b) if len > 4 => apdu[4] = *b,
        ApduMutation::LastByte(b) if len > 4 => apdu[len - 1] = *b,
        ApduMutation::ToExtended => reencode(apdu, |h, d, le, _| Some(encode(h, d, le, true))),
        ApduMutation::ToShort => reencode(apdu, |h, d, le, _| {
            (d.len() <= 255 && le.is_none_or(|l| l <= 256)).then(|| encode(h, d, le, false))
        }),
        ApduMutation::Le(new) => reencode(apdu, |h, d, _, ext| Some(encode(h, d, *new, ext))),
        ApduMutation::Data(k, start) => {
            let other = &POOL[k % POOL.len()];
            let piece = other
                .get(start % (other.len() + 1)..)
                .unwrap_or(&[])
                .to_vec();
            reencode(apdu, |h, _, le, ext| Some(encode(h, &piece, le, ext)));
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum SeqMutation {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    /// Insert an APDU of the whole corpus.
    Borrow(usize, usize),
    Reset(usize),
    Apdu(usize, ApduMutation),
}

fn seq_mutation() -> impl Strategy<Value = SeqMutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(SeqMutation::Drop),
        1 => any::<usize>().prop_map(SeqMutation::Duplicate),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| SeqMutation::Swap(i, j)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(i, k)| SeqMutation::Borrow(i, k)),
        1 => any::<usize>().prop_map(SeqMutation::Reset),
        6 => (any::<usize>(), apdu_mutation()).prop_map(|(i, m)| SeqMutation::Apdu(i, m)),
    ]
}

fn mutate_sequence(steps: &mut Vec<Step>, m: &SeqMutation) {
    let len = steps.len();
    match m {
        SeqMutation::Drop(i) if len > 1 => {
            steps.remove(i % len);
        }
        SeqMutation::Duplicate(i) if len > 0 => {
            let s = steps[i % len].clone();
            steps.insert(i % len, s);
        }
        SeqMutation::Swap(i, j) if len > 0 => steps.swap(i % len, j % len),
        SeqMutation::Borrow(i, k) => {
            steps.insert(i % (len + 1), Step::Apdu(POOL[k % POOL.len()].clone()))
        }
        SeqMutation::Reset(i) => steps.insert(i % (len + 1), Step::Reset),
        SeqMutation::Apdu(i, am) if len > 0 => {
            if let Step::Apdu(apdu) = &mut steps[i % len] {
                mutate_apdu(apdu, am);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn mutated_corpus_sequences_keep_the_card_sound(
        which in which(),
        steps in prop::sample::select(sequences()),
        mutations in prop::collection::vec(seq_mutation(), 1..12),
    ) {
        let mut steps = steps;
        for m in &mutations {
            mutate_sequence(&mut steps, m);
        }
        let mut card = card(which);
        run(&mut card, &steps)?;
    }

    #[test]
    fn random_sequences_of_corpus_apdus_keep_the_card_sound_and_deterministic(
        which in which(),
        picks in prop::collection::vec(
            (any::<usize>(), prop::option::weighted(0.3, apdu_mutation()), 0u8..20),
            1..40,
        ),
    ) {
        let steps: Vec<Step> = picks
            .iter()
            .map(|(k, m, r)| {
                if *r == 0 {
                    return Step::Reset;
                }
                let mut apdu = POOL[k % POOL.len()].clone();
                if let Some(m) = m {
                    mutate_apdu(&mut apdu, m);
                }
                Step::Apdu(apdu)
            })
            .collect();
        let mut card = card(which);
        let answers = run(&mut card, &steps)?;
        check_deterministic(which, &steps, &answers)?;
    }
}

#[test]
fn the_mutators_reach_every_encoding() {
    // Sanity of the mutators themselves: the short and extended re-encodings parse back to
    // the same command, so mutated inputs are not all trivially malformed.
    for apdu in POOL.iter() {
        let Ok(c) = Command::parse(apdu) else {
            continue;
        };
        let mut ext = apdu.clone();
        mutate_apdu(&mut ext, &ApduMutation::ToExtended);
        let e = Command::parse(&ext).expect("the extended form parses");
        assert_eq!(
            (e.cla, e.ins, e.p1, e.p2, e.data, e.le),
            (c.cla, c.ins, c.p1, c.p2, c.data, c.le)
        );
        let mut short = ext.clone();
        mutate_apdu(&mut short, &ApduMutation::ToShort);
        let s = Command::parse(&short).expect("the short form parses");
        assert_eq!((s.data, s.le), (c.data, c.le));
    }
}

/// What the runs reached (to show the fuzzing goes past the first command).
#[derive(Debug, Default)]
struct Reached {
    cases: u32,
    apdus: u32,
    signatures: u32,
    surface_reads: u32,
    blocked: u32,
    extended_ok: u32,
    wrong_length: u32,
}

impl Reached {
    fn add(&mut self, card: &Card, steps: &[Step], answers: &[Option<Answer>]) {
        self.cases += 1;
        let mut surface = false;
        for (step, answer) in steps.iter().zip(answers) {
            let (Step::Apdu(apdu), Some((sw, data))) = (step, answer) else {
                continue;
            };
            self.apdus += 1;
            if let Ok(c) = Command::parse(apdu) {
                if c.ins == 0xA4 && c.data == card_emulator::card::AID_SURFACE {
                    surface = *sw == 0x9000;
                }
                if *sw == 0x9000 {
                    self.signatures += u32::from(c.ins == 0x2A && data.len() == 256);
                    self.surface_reads += u32::from(surface && c.ins == 0xB0);
                    self.extended_ok += u32::from(c.extended);
                }
            }
            self.wrong_length += u32::from(*sw == 0x6700);
        }
        self.blocked += u32::from(PINS.iter().any(|&p| card.tries_left(p) == 0));
    }
}

#[test]
fn the_fuzzers_reach_signatures_surface_records_and_blocked_pins() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        prop::sample::select(sequences()),
        prop::collection::vec(seq_mutation(), 1..12),
    );
    let mut reached = Reached::default();
    let started = std::time::Instant::now();
    for _ in 0..300 {
        let (mut steps, mutations) = strategy.new_tree(&mut runner).unwrap().current();
        for m in &mutations {
            mutate_sequence(&mut steps, m);
        }
        let mut card = card(Which::Sample);
        let answers = run(&mut card, &steps).unwrap();
        reached.add(&card, &steps, &answers);
    }
    eprintln!("{reached:?} in {:?}", started.elapsed());
    assert!(reached.signatures > 10, "{reached:?}");
    assert!(reached.surface_reads > 10, "{reached:?}");
    assert!(reached.blocked > 5, "{reached:?}");
    assert!(reached.extended_ok > 10, "{reached:?}");
    assert!(reached.wrong_length > 50, "{reached:?}");
}
