//! Model-based (proptest) and targeted tests of the card state machine, `Card`.
//!
//! Every expected status word comes from docs/card.md ("The card at APDU level") and
//! docs/platform.md (what OpenSC sends and needs). The card images are built once per process:
//! building one issues certificates, and a fresh `Card` over a shared image costs nothing.

use card_emulator::apdu::Command;
use card_emulator::card::{
    attach_answer, AID_JPKI, AID_SURFACE, AID_TEXT_SUPPORT, ATTACH_CHECK_HEADER,
};
use card_emulator::commands::{
    change_reference_data, read_binary, select_aid, select_ef, sha256_digest_info, sign, verify,
};
use card_emulator::profile::{CardKind, Faults, TokenKind};
use card_emulator::records::surface_code_b;
use card_emulator::{Card, CardImage, CardProfile, Delivery, PinRef, ATR};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use proptest::prelude::*;
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Card images (one per profile per process) and small helpers
// ---------------------------------------------------------------------------------------

fn build(profile: &CardProfile) -> Arc<CardImage> {
    Arc::new(CardImage::build(profile).expect("profile builds"))
}

static SAMPLE: LazyLock<Arc<CardImage>> = LazyLock::new(|| build(&CardProfile::sample()));

/// A face-authentication card: no PIN set anywhere, no signature certificate.
static FACE: LazyLock<Arc<CardImage>> = LazyLock::new(|| {
    let mut profile = CardProfile::sample();
    profile.name = "face".into();
    profile.kind = CardKind::FaceAuthentication;
    profile.auth_pin = None;
    profile.sign_password = None;
    profile.text_pin = None;
    build(&profile)
});

/// A smartphone secure element: JPKI only.
static PHONE: LazyLock<Arc<CardImage>> = LazyLock::new(|| {
    let mut profile = CardProfile::sample();
    profile.name = "phone".into();
    profile.token = TokenKind::Smartphone;
    build(&profile)
});

/// 照合番号B of the sample holder, as the reader would type it off the card surface.
static SAMPLE_CODE_B: LazyLock<String> = LazyLock::new(|| {
    let sample = CardProfile::sample();
    surface_code_b(sample.holder.birth_date, 2035, "2285")
});

const AUTH_PIN: &[u8] = b"1234";
const SIGN_PASSWORD: &[u8] = b"ABC123";

/// A fresh card over `image`, powered up.
fn card_of(image: &Arc<CardImage>) -> Card {
    let mut card = Card::new(Arc::clone(image));
    assert_eq!(card.reset(), &ATR);
    card
}

fn sample_card() -> Card {
    card_of(&SAMPLE)
}

/// One response APDU split into its data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Response {
    data: Vec<u8>,
    sw: u16,
}

fn send(card: &mut Card, apdu: &[u8]) -> Response {
    let mut out = Vec::new();
    card.transmit(apdu, &mut out);
    assert!(
        out.len() >= 2,
        "response to {} has no status word: {}",
        hex(apdu),
        hex(&out)
    );
    let (data, sw) = out.split_at(out.len() - 2);
    Response {
        data: data.to_vec(),
        sw: u16::from_be_bytes([sw[0], sw[1]]),
    }
}

/// Sends `apdu` and checks its status word; returns the response data.
#[track_caller]
fn expect_sw(card: &mut Card, apdu: &[u8], sw: u16) -> Vec<u8> {
    let r = send(card, apdu);
    assert_eq!(
        r.sw,
        sw,
        "APDU {} answered {:04X}, expected {:04X}",
        hex(apdu),
        r.sw,
        sw
    );
    if sw != 0x9000 {
        assert!(r.data.is_empty(), "error {sw:04X} came with data");
    }
    r.data
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Reads a whole certificate EF the way OpenSC does: 4 bytes for the `30 82 LL LL` header,
/// then 256-byte chunks with short Le.
fn read_certificate(card: &mut Card) -> Vec<u8> {
    let head = expect_sw(card, &read_binary(0, 4), 0x9000);
    assert_eq!(&head[..2], &[0x30, 0x82], "a certificate EF starts 30 82");
    let size = ((usize::from(head[2]) << 8) | usize::from(head[3])) + 4;
    let mut cert = Vec::with_capacity(size);
    while cert.len() < size {
        let chunk = expect_sw(card, &read_binary(cert.len() as u16, 0x00), 0x9000);
        assert!(!chunk.is_empty());
        cert.extend_from_slice(&chunk);
    }
    cert.truncate(size);
    cert
}

fn attach_check(nonce: &[u8]) -> Vec<u8> {
    let mut apdu = ATTACH_CHECK_HEADER.to_vec();
    apdu.push(nonce.len() as u8);
    apdu.extend_from_slice(nonce);
    apdu.push(0x20);
    apdu
}

/// Proptest config: modest case counts (the whole file runs in seconds in a debug build),
/// failures saved where they can be committed.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/model.txt"
        )))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Robustness: whatever the bytes, the card answers with a status word and never panics
// ---------------------------------------------------------------------------------------

/// A command APDU by fields, encoded short or extended.
#[derive(Clone, Debug)]
struct RawCommand {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
    /// 1..=65536 (short Le 00 means 256, extended 00 00 means 65536).
    le: Option<usize>,
    extended: bool,
}

impl RawCommand {
    /// Short encoding when asked and possible, else extended.
    fn encode(&self) -> Vec<u8> {
        let mut apdu = vec![self.cla, self.ins, self.p1, self.p2];
        let fits_short = self.data.len() <= 255 && self.le.is_none_or(|le| le <= 256);
        if !self.extended && fits_short {
            if !self.data.is_empty() {
                apdu.push(self.data.len() as u8);
                apdu.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                apdu.push((le % 256) as u8);
            }
        } else if !self.data.is_empty() || self.le.is_some() {
            apdu.push(0x00);
            if !self.data.is_empty() {
                apdu.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                apdu.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                apdu.extend_from_slice(&((le % 65536) as u16).to_be_bytes());
            }
        }
        apdu
    }

    /// Whether the encoding actually used the extended form.
    fn encoded_extended(&self) -> bool {
        let fits_short = self.data.len() <= 255 && self.le.is_none_or(|le| le <= 256);
        (self.extended || !fits_short) && (!self.data.is_empty() || self.le.is_some())
    }
}

fn raw_command() -> impl Strategy<Value = RawCommand> {
    let cla = prop_oneof![Just(0x00u8), Just(0x80u8), any::<u8>()];
    let ins = prop_oneof![
        Just(0xA4u8),
        Just(0xB0),
        Just(0x20),
        Just(0x24),
        Just(0x84),
        Just(0x2A),
        Just(0xE8),
        any::<u8>()
    ];
    // Mostly P1/P2 pairs the card knows, so commands get past the first check.
    let p1p2 = prop_oneof![
        Just((0x04u8, 0x0Cu8)),
        Just((0x02, 0x0C)),
        Just((0x00, 0x80)),
        Just((0x01, 0x80)),
        Just((0x00, 0x00)),
        Just((ATTACH_CHECK_HEADER[2], ATTACH_CHECK_HEADER[3])),
        any::<(u8, u8)>(),
    ];
    // Mostly data the card knows (AIDs, FIDs, the PIN, a DigestInfo), sometimes anything.
    let data = prop_oneof![
        Just(AID_JPKI.to_vec()),
        Just(AID_SURFACE.to_vec()),
        prop::sample::select(vec![0x000Au16, 0x0018, 0x0017, 0x001B, 0x0001, 0x0006])
            .prop_map(|fid| fid.to_be_bytes().to_vec()),
        Just(AUTH_PIN.to_vec()),
        Just(sha256_digest_info(b"fuzz")),
        prop::collection::vec(any::<u8>(), 0..300),
    ];
    let le = prop_oneof![
        Just(None),
        (1usize..=256).prop_map(Some),
        (1usize..=65536).prop_map(Some)
    ];
    (cla, ins, p1p2, data, le, any::<bool>()).prop_map(
        |(cla, ins, (p1, p2), data, le, extended)| RawCommand {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
            extended,
        },
    )
}

/// The shape of every response: at least a status word; data only with 9000; SW1 from
/// the families this card uses.
fn check_response_shape(apdu: &[u8], out: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        out.len() >= 2,
        "{} answered {} (no status word)",
        hex(apdu),
        hex(out)
    );
    let sw = u16::from_be_bytes([out[out.len() - 2], out[out.len() - 1]]);
    if sw != 0x9000 {
        prop_assert_eq!(out.len(), 2, "error {:04X} came with data", sw);
    }
    let sw1 = (sw >> 8) as u8;
    prop_assert!(
        matches!(
            sw1,
            0x90 | 0x63 | 0x67 | 0x69 | 0x6A | 0x6B | 0x6D | 0x6E | 0x6F
        ),
        "unexpected SW {:04X} for {}",
        sw,
        hex(apdu)
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn random_bytes_always_get_a_status_word(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut card = sample_card();
        let mut out = Vec::new();
        card.transmit(&bytes, &mut out);
        check_response_shape(&bytes, &out)?;
    }
}

/// Well-formed commands that move the card into states worth fuzzing from.
fn stateful_command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => raw_command().prop_map(|c| c.encode()),
        1 => Just(select_aid(&AID_JPKI)),
        1 => Just(select_aid(&AID_SURFACE)),
        1 => prop::sample::select(vec![0x000Au16, 0x0018, 0x0017, 0x001B, 0x0001, 0x0012])
            .prop_map(select_ef),
        1 => Just(verify(AUTH_PIN)),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn structured_apdu_sequences_never_panic_and_always_end_with_a_status_word(
        apdus in prop::collection::vec(stateful_command(), 1..24)
    ) {
        let mut card = sample_card();
        let mut out = Vec::new();
        for apdu in &apdus {
            card.transmit(apdu, &mut out);
            check_response_shape(apdu, &out)?;
            // The fault hook runs after every APDU on the transport; it must not panic either.
            prop_assert_eq!(card.delivery(), Delivery::Normal);
        }
    }

    #[test]
    fn structured_apdus_parse_back_to_their_fields(cmd in raw_command()) {
        let bytes = cmd.encode();
        let parsed = Command::parse(&bytes).expect("a well-formed APDU parses");
        prop_assert_eq!(
            (parsed.cla, parsed.ins, parsed.p1, parsed.p2),
            (cmd.cla, cmd.ins, cmd.p1, cmd.p2)
        );
        prop_assert_eq!(parsed.data, &cmd.data[..]);
        prop_assert_eq!(parsed.le, cmd.le);
        prop_assert_eq!(parsed.extended, cmd.encoded_extended());
    }

    #[test]
    fn every_structured_apdu_gets_a_status_word_on_a_fresh_card(cmd in raw_command()) {
        let bytes = cmd.encode();
        let mut card = sample_card();
        let mut out = Vec::new();
        card.transmit(&bytes, &mut out);
        check_response_shape(&bytes, &out)?;
    }
}

// ---------------------------------------------------------------------------------------
// Reference model of one secret (PIN, password or 照合番号B) and the files it guards
// ---------------------------------------------------------------------------------------

/// The files around one secret, and the secret's rules.
struct SecretSpec {
    aid: [u8; 10],
    pin: PinRef,
    pin_fid: u16,
    max_tries: u8,
    correct: Vec<u8>,
    /// A binary EF: read with `00 B0 00 00 00` (first 256 bytes).
    data_fid: u16,
    /// Whether reading `data_fid` needs this secret verified.
    data_protected: bool,
    data: fn(&CardImage) -> &[u8],
    /// The key EF this secret unlocks, if any.
    key_fid: Option<u16>,
}

fn auth_pin_spec() -> SecretSpec {
    SecretSpec {
        aid: AID_JPKI,
        pin: PinRef::AuthPin,
        pin_fid: 0x0018,
        max_tries: 3,
        correct: AUTH_PIN.to_vec(),
        data_fid: 0x000A,
        data_protected: false,
        data: |image| &image.auth_certificate,
        key_fid: Some(0x0017),
    }
}

fn sign_password_spec() -> SecretSpec {
    SecretSpec {
        aid: AID_JPKI,
        pin: PinRef::SignPassword,
        pin_fid: 0x001B,
        max_tries: 5,
        correct: SIGN_PASSWORD.to_vec(),
        data_fid: 0x0001,
        data_protected: true,
        data: |image| &image.sign_certificate,
        key_fid: Some(0x001A),
    }
}

fn surface_code_b_spec() -> SecretSpec {
    SecretSpec {
        aid: AID_SURFACE,
        pin: PinRef::SurfaceCodeB,
        pin_fid: 0x0012,
        max_tries: 10,
        correct: SAMPLE_CODE_B.as_bytes().to_vec(),
        data_fid: 0x0002,
        data_protected: true,
        data: |image| &image.surface_ef,
        key_fid: None,
    }
}

#[derive(Clone, Debug)]
enum Step {
    SelectApplication,
    SelectPinEf,
    SelectDataEf,
    VerifyEmpty,
    VerifyCorrect,
    VerifyWrong(Vec<u8>),
    ReadBinary,
    /// SELECT the key EF, then sign a SHA-256 DigestInfo.
    SelectKeyAndSign,
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelEf {
    Pin,
    Data,
    Key,
}

/// What the card should hold: selection, the counter and the verified flag of one secret.
#[derive(Debug)]
struct Model {
    app_selected: bool,
    ef: Option<ModelEf>,
    tries: u8,
    verified: bool,
}

impl Model {
    fn new(max_tries: u8) -> Self {
        Model {
            app_selected: false,
            ef: None,
            tries: max_tries,
            verified: false,
        }
    }

    /// SELECT of one of the spec's EFs: found only inside the application; a failed
    /// selection keeps the current EF.
    fn select(&mut self, ef: ModelEf) -> u16 {
        if self.app_selected {
            self.ef = Some(ef);
            0x9000
        } else {
            0x6A82
        }
    }

    /// The error a command gets when the current EF is not of the kind it needs.
    fn wrong_ef(&self) -> u16 {
        match self.ef {
            None => 0x6986,
            Some(_) => 0x6981,
        }
    }

    fn verify_empty(&self) -> u16 {
        match self.ef {
            // Reports tries left, never spends one; 63C0 once blocked.
            Some(ModelEf::Pin) => 0x63C0 | u16::from(self.tries),
            _ => self.wrong_ef(),
        }
    }

    fn verify(&mut self, correct: bool, max_tries: u8) -> u16 {
        if self.ef != Some(ModelEf::Pin) {
            return self.wrong_ef();
        }
        if self.tries == 0 {
            return 0x6984;
        }
        if correct {
            self.tries = max_tries;
            self.verified = true;
            0x9000
        } else {
            self.tries -= 1;
            self.verified = false;
            0x63C0 | u16::from(self.tries)
        }
    }

    fn forget_verification(&mut self) {
        self.ef = None;
        self.verified = false;
    }
}

fn run_model(spec: &SecretSpec, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut card = sample_card();
    let mut model = Model::new(spec.max_tries);
    let digest_info = sha256_digest_info(b"model");
    for (i, step) in steps.iter().enumerate() {
        // Each step: (the APDU sent, the SW expected, the data expected with 9000).
        let mut exchanges: Vec<(Vec<u8>, u16, Option<Vec<u8>>)> = Vec::new();
        match step {
            Step::SelectApplication => {
                model.app_selected = true;
                // Selecting the application again clears its verified state.
                model.forget_verification();
                exchanges.push((select_aid(&spec.aid), 0x9000, None));
            }
            Step::SelectPinEf => {
                let sw = model.select(ModelEf::Pin);
                exchanges.push((select_ef(spec.pin_fid), sw, None));
            }
            Step::SelectDataEf => {
                let sw = model.select(ModelEf::Data);
                exchanges.push((select_ef(spec.data_fid), sw, None));
            }
            Step::VerifyEmpty => exchanges.push((verify(&[]), model.verify_empty(), None)),
            Step::VerifyCorrect => {
                let sw = model.verify(true, spec.max_tries);
                exchanges.push((verify(&spec.correct), sw, None));
            }
            Step::VerifyWrong(candidate) => {
                let sw = model.verify(false, spec.max_tries);
                exchanges.push((verify(candidate), sw, None));
            }
            Step::ReadBinary => {
                let (sw, data) = match model.ef {
                    Some(ModelEf::Data) if spec.data_protected && !model.verified => (0x6982, None),
                    Some(ModelEf::Data) => {
                        let bytes = (spec.data)(&SAMPLE);
                        (0x9000, Some(bytes[..bytes.len().min(256)].to_vec()))
                    }
                    _ => (model.wrong_ef(), None),
                };
                exchanges.push((read_binary(0, 0), sw, data));
            }
            Step::SelectKeyAndSign => {
                let key_fid = spec
                    .key_fid
                    .expect("sign steps only for secrets with a key");
                let sw = model.select(ModelEf::Key);
                exchanges.push((select_ef(key_fid), sw, None));
                let sw = match model.ef {
                    Some(ModelEf::Key) if model.verified => 0x9000,
                    Some(ModelEf::Key) => 0x6982,
                    _ => model.wrong_ef(),
                };
                exchanges.push((sign(&digest_info), sw, None));
            }
            Step::Reset => {
                // Reset forgets selection and verification; counters stay.
                prop_assert_eq!(card.reset(), &ATR[..]);
                model.app_selected = false;
                model.forget_verification();
            }
        }
        for (apdu, want_sw, want_data) in exchanges {
            let r = send(&mut card, &apdu);
            prop_assert_eq!(
                r.sw,
                want_sw,
                "step {} {:?}: {} answered {:04X}, model says {:04X} (model {:?})",
                i,
                step,
                hex(&apdu),
                r.sw,
                want_sw,
                model
            );
            match (want_sw, want_data) {
                (0x9000, Some(data)) => prop_assert_eq!(r.data, data),
                // A signature is one RSA-2048 block.
                (0x9000, None) if apdu[..2] == [0x80, 0x2A] => prop_assert_eq!(r.data.len(), 256),
                _ => prop_assert!(r.data.is_empty(), "step {}: unexpected data", i),
            }
        }
        prop_assert_eq!(
            card.tries_left(spec.pin),
            model.tries,
            "tries after step {}",
            i
        );
        prop_assert_eq!(
            card.is_verified(spec.pin),
            model.verified,
            "verified after step {}",
            i
        );
    }
    Ok(())
}

/// Random steps over `spec`; `wrong` draws wrong candidates (never the right value).
/// Steps come in short phrases (log in, a burst of wrong attempts) so that sequences reach
/// the verified and the blocked states often; `model_sequences_reach_…` checks that.
fn steps(
    spec: &SecretSpec,
    wrong: BoxedStrategy<Vec<u8>>,
    correct_weight: u32,
    max_phrases: usize,
) -> impl Strategy<Value = Vec<Step>> {
    let single = |step: Step| Just(vec![step]).boxed();
    let max_burst = usize::from(spec.max_tries).div_ceil(2) + 1;
    let mut phrases: Vec<(u32, BoxedStrategy<Vec<Step>>)> = vec![
        (
            2,
            Just(vec![Step::SelectApplication, Step::SelectPinEf]).boxed(),
        ),
        (
            correct_weight,
            Just(vec![
                Step::SelectApplication,
                Step::SelectPinEf,
                Step::VerifyCorrect,
            ])
            .boxed(),
        ),
        (1, single(Step::SelectApplication)),
        (2, single(Step::SelectPinEf)),
        (2, single(Step::SelectDataEf)),
        (2, single(Step::VerifyEmpty)),
        (correct_weight, single(Step::VerifyCorrect)),
        (
            4,
            prop::collection::vec(wrong.prop_map(Step::VerifyWrong), 1..=max_burst).boxed(),
        ),
        (2, single(Step::ReadBinary)),
        (1, single(Step::Reset)),
    ];
    if spec.key_fid.is_some() {
        phrases.push((3, single(Step::SelectKeyAndSign)));
    }
    prop::collection::vec(Union::new_weighted(phrases), 1..max_phrases)
        .prop_map(|phrases| phrases.concat())
}

fn not(value: &'static [u8]) -> impl Fn(&Vec<u8>) -> bool {
    move |candidate| candidate.as_slice() != value
}

fn as_bytes(s: String) -> Vec<u8> {
    s.into_bytes()
}

/// Wrong authentication PINs: other 4-digit values, or digits of a wrong length.
fn wrong_auth_pin() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => "[0-9]{4}".prop_map(as_bytes).prop_filter("not the PIN", not(AUTH_PIN)),
        1 => "[0-9]{1,3}|[0-9]{5,12}".prop_map(as_bytes),
        1 => prop::collection::vec(any::<u8>(), 1..20).prop_filter("not the PIN", not(AUTH_PIN)),
    ]
    .boxed()
}

/// Wrong signature passwords: other valid-format values, lower case, wrong lengths.
fn wrong_sign_password() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => "[A-Z0-9]{6,16}".prop_map(as_bytes).prop_filter("not the password", not(SIGN_PASSWORD)),
        1 => Just(b"abc123".to_vec()),
        1 => "[A-Z0-9]{1,5}|[A-Z0-9]{17,24}".prop_map(as_bytes),
    ]
    .boxed()
}

/// Wrong 照合番号B: other 14-digit values (the 12-digit 照合番号A among the wrong lengths).
fn wrong_code_b() -> BoxedStrategy<Vec<u8>> {
    let code: &'static [u8] = SAMPLE_CODE_B.as_bytes();
    prop_oneof![
        3 => "[0-9]{14}".prop_map(as_bytes).prop_filter("not the code", not(code)),
        1 => "[0-9]{1,13}|[0-9]{15,20}".prop_map(as_bytes),
        1 => Just(CardProfile::sample().holder.my_number.into_bytes()),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn auth_pin_follows_the_reference_model(
        steps in steps(&auth_pin_spec(), wrong_auth_pin(), 2, 24)
    ) {
        run_model(&auth_pin_spec(), &steps)?;
    }

    #[test]
    fn sign_password_follows_the_reference_model(
        steps in steps(&sign_password_spec(), wrong_sign_password(), 2, 24)
    ) {
        run_model(&sign_password_spec(), &steps)?;
    }

    #[test]
    fn surface_code_b_follows_the_reference_model(
        // Ten tries: correct attempts are rarer here so that blocking is still reached.
        steps in steps(&surface_code_b_spec(), wrong_code_b(), 1, 32)
    ) {
        run_model(&surface_code_b_spec(), &steps)?;
    }
}

/// The model tests only prove something if their sequences reach the interesting states.
#[test]
fn model_sequences_reach_blocking_and_signing() {
    fn reaches(spec: &SecretSpec, strategy: impl Strategy<Value = Vec<Step>>) -> (u32, u32) {
        let mut runner = TestRunner::deterministic();
        let (mut blocked, mut signed) = (0, 0);
        for _ in 0..96 {
            let steps = strategy.new_tree(&mut runner).unwrap().current();
            let mut model = Model::new(spec.max_tries);
            let mut was_blocked = false;
            let mut did_sign = false;
            for step in &steps {
                match step {
                    Step::SelectApplication => {
                        model.app_selected = true;
                        model.forget_verification();
                    }
                    Step::SelectPinEf => {
                        model.select(ModelEf::Pin);
                    }
                    Step::SelectDataEf => {
                        model.select(ModelEf::Data);
                    }
                    Step::VerifyCorrect => {
                        model.verify(true, spec.max_tries);
                    }
                    Step::VerifyWrong(_) => {
                        model.verify(false, spec.max_tries);
                    }
                    Step::SelectKeyAndSign => {
                        model.select(ModelEf::Key);
                        did_sign |= model.ef == Some(ModelEf::Key) && model.verified;
                    }
                    Step::Reset => {
                        model.app_selected = false;
                        model.forget_verification();
                    }
                    Step::VerifyEmpty | Step::ReadBinary => {}
                }
                was_blocked |= model.tries == 0;
            }
            blocked += u32::from(was_blocked);
            signed += u32::from(did_sign);
        }
        (blocked, signed)
    }
    let (blocked, signed) = reaches(
        &auth_pin_spec(),
        steps(&auth_pin_spec(), wrong_auth_pin(), 2, 24),
    );
    eprintln!("auth: {blocked} blocked, {signed} signed");
    assert!(
        blocked >= 10 && signed >= 10,
        "auth: {blocked} blocked, {signed} signed"
    );
    let (blocked, signed) = reaches(
        &sign_password_spec(),
        steps(&sign_password_spec(), wrong_sign_password(), 2, 24),
    );
    eprintln!("sign: {blocked} blocked, {signed} signed");
    assert!(
        blocked >= 5 && signed >= 10,
        "sign: {blocked} blocked, {signed} signed"
    );
    let (blocked, _) = reaches(
        &surface_code_b_spec(),
        steps(&surface_code_b_spec(), wrong_code_b(), 1, 32),
    );
    eprintln!("surface: {blocked} blocked");
    assert!(blocked >= 5, "surface: {blocked} blocked");
}

// ---------------------------------------------------------------------------------------
// Targeted tests: one exact status word each
// ---------------------------------------------------------------------------------------

#[test]
fn select_master_file_3f00_is_not_found() {
    let mut card = sample_card();
    expect_sw(
        &mut card,
        &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00],
        0x6A82,
    );
    // Also from inside an application.
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(
        &mut card,
        &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00],
        0x6A82,
    );
}

#[test]
fn select_unknown_aid_is_not_found() {
    let mut card = sample_card();
    // PIV, one of the AIDs other OpenSC drivers probe before JPKI matches.
    expect_sw(
        &mut card,
        &select_aid(&[0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00]),
        0x6A82,
    );
    // A truncated JPKI AID is no partial match.
    expect_sw(&mut card, &select_aid(&AID_JPKI[..9]), 0x6A82);
}

#[test]
fn select_unknown_ef_or_ef_without_application_is_not_found() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_ef(0x000A), 0x6A82);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x1234), 0x6A82);
    // 0012 belongs to the card-surface application, not to JPKI.
    expect_sw(&mut card, &select_ef(0x0012), 0x6A82);
}

#[test]
fn wrong_p1_p2_is_6a86() {
    let mut card = sample_card();
    let mut select_bad_p2 = select_aid(&AID_JPKI);
    select_bad_p2[3] = 0x04;
    expect_sw(&mut card, &select_bad_p2, 0x6A86);
    let mut select_bad_p1 = select_aid(&AID_JPKI);
    select_bad_p1[2] = 0x01;
    expect_sw(&mut card, &select_bad_p1, 0x6A86);

    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(
        &mut card,
        &[0x00, 0x20, 0x00, 0x81, 0x04, b'1', b'2', b'3', b'4'],
        0x6A86,
    );
    expect_sw(
        &mut card,
        &[0x00, 0x24, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'],
        0x6A86,
    );
    // Short EF identifiers (P1 bit 8) are not offered.
    expect_sw(&mut card, &[0x00, 0xB0, 0x8A, 0x00, 0x00], 0x6A86);
    expect_sw(&mut card, &[0x00, 0x84, 0x01, 0x00, 0x08], 0x6A86);
    let mut sign_bad_p2 = sign(&sha256_digest_info(b"x"));
    sign_bad_p2[3] = 0x9A;
    expect_sw(&mut card, &sign_bad_p2, 0x6A86);
    // No tries were spent by the VERIFY with wrong P2.
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
}

#[test]
fn bad_lengths_are_6700() {
    let mut card = sample_card();
    // Fewer than 4 header bytes.
    expect_sw(&mut card, &[], 0x6700);
    expect_sw(&mut card, &[0x00, 0xA4, 0x04], 0x6700);
    // Lc says 5 but one data byte follows.
    expect_sw(&mut card, &[0x00, 0xA4, 0x02, 0x0C, 0x05, 0x01], 0x6700);
    // Extended Lc of zero.
    expect_sw(
        &mut card,
        &[0x00, 0xA4, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x01],
        0x6700,
    );

    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    // A file identifier is two bytes.
    expect_sw(
        &mut card,
        &[0x00, 0xA4, 0x02, 0x0C, 0x03, 0x00, 0x0A, 0x00],
        0x6700,
    );
    expect_sw(&mut card, &[0x00, 0xA4, 0x02, 0x0C, 0x01, 0x0A], 0x6700);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    // READ BINARY without Le, or with data.
    expect_sw(&mut card, &[0x00, 0xB0, 0x00, 0x00], 0x6700);
    expect_sw(
        &mut card,
        &[0x00, 0xB0, 0x00, 0x00, 0x01, 0xAA, 0x00],
        0x6700,
    );
    // VERIFY with an Le.
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &[0x00, 0x20, 0x00, 0x80, 0x00], 0x6700);
    // CHANGE REFERENCE DATA without a new value.
    expect_sw(&mut card, &[0x00, 0x24, 0x01, 0x80], 0x6700);
    // GET CHALLENGE without Le, or asking for more than 256 bytes.
    expect_sw(&mut card, &[0x00, 0x84, 0x00, 0x00], 0x6700);
    expect_sw(
        &mut card,
        &[0x00, 0x84, 0x00, 0x00, 0x00, 0x01, 0x01],
        0x6700,
    );
    // A signature input must be 1..=245 bytes (PKCS#1 v1.5 with a 2048-bit key).
    expect_sw(&mut card, &select_ef(0x0017), 0x9000);
    expect_sw(&mut card, &[0x80, 0x2A, 0x00, 0x80, 0x00], 0x6700);
    let mut too_long = vec![0x80, 0x2A, 0x00, 0x80, 0xF6];
    too_long.extend_from_slice(&[0x11; 0xF6]);
    expect_sw(&mut card, &too_long, 0x6700);
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
}

#[test]
fn unknown_instruction_is_6d00() {
    let mut card = sample_card();
    // GET DATA and GET RESPONSE: not offered (OpenSC's JPKI driver uses neither).
    expect_sw(&mut card, &[0x00, 0xCA, 0x01, 0x00, 0x00], 0x6D00);
    expect_sw(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], 0x6D00);
    expect_sw(&mut card, &[0x80, 0xCA, 0x9F, 0x7F, 0x00], 0x6D00);
    // Signing is proprietary class 80; with class 00 it is not an instruction of this card.
    expect_sw(&mut card, &[0x00, 0x2A, 0x00, 0x80, 0x01, 0x00], 0x6D00);
}

#[test]
fn unknown_class_is_6e00() {
    let mut card = sample_card();
    expect_sw(&mut card, &[0xFF, 0xA4, 0x04, 0x0C], 0x6E00);
    expect_sw(&mut card, &[0x0C, 0xB0, 0x00, 0x00, 0x00], 0x6E00);
}

#[test]
fn read_binary_past_the_end_is_6b00() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    let len = SAMPLE.auth_certificate.len() as u16;
    // The last byte is still readable; one past it is not.
    let last = expect_sw(&mut card, &read_binary(len - 1, 0x00), 0x9000);
    assert_eq!(last, [*SAMPLE.auth_certificate.last().unwrap()]);
    expect_sw(&mut card, &read_binary(len, 0x01), 0x6B00);
    expect_sw(&mut card, &read_binary(0x7FFF, 0x01), 0x6B00);
}

#[test]
fn read_binary_without_a_binary_ef_is_refused() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    // No current EF.
    expect_sw(&mut card, &read_binary(0, 0), 0x6986);
    // A PIN EF is no binary file.
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &read_binary(0, 0), 0x6981);
}

#[test]
fn signature_certificate_0001_needs_the_signature_password() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0001), 0x9000);
    expect_sw(&mut card, &read_binary(0, 4), 0x6982);
    // The authentication PIN does not open it.
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    expect_sw(&mut card, &select_ef(0x0001), 0x9000);
    expect_sw(&mut card, &read_binary(0, 4), 0x6982);
    // The signature password does.
    expect_sw(&mut card, &select_ef(0x001B), 0x9000);
    expect_sw(&mut card, &verify(SIGN_PASSWORD), 0x9000);
    expect_sw(&mut card, &select_ef(0x0001), 0x9000);
    assert_eq!(read_certificate(&mut card), SAMPLE.sign_certificate);
}

#[test]
fn auth_certificate_000a_is_readable_without_pin_and_starts_30_82() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    let cert = read_certificate(&mut card);
    assert_eq!(cert, SAMPLE.auth_certificate);
    X509::from_der(&cert).expect("EF 000A holds a DER certificate");
    // The CA certificates 000B and 0002 are free as well and start the same way.
    for fid in [0x000B, 0x0002] {
        expect_sw(&mut card, &select_ef(fid), 0x9000);
        assert_eq!(read_certificate(&mut card), SAMPLE.ca_certificate);
    }
    assert!(!card.is_verified(PinRef::AuthPin));
}

#[test]
fn token_info_names_a_my_number_card() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0006), 0x9000);
    let info = expect_sw(&mut card, &read_binary(0, 32), 0x9000);
    let mut want = b"JPKIAPICCTOKEN2".to_vec();
    want.resize(32, b' ');
    assert_eq!(info, want);
}

#[test]
fn change_reference_data_needs_a_verify_then_only_the_new_pin_works() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &change_reference_data(b"5678"), 0x6982);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    // The new value must have the PIN's format: 4 digits.
    expect_sw(&mut card, &change_reference_data(b"56789"), 0x6A80);
    expect_sw(&mut card, &change_reference_data(b"56a8"), 0x6A80);
    expect_sw(&mut card, &change_reference_data(b"5678"), 0x9000);

    card.reset();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x63C2);
    expect_sw(&mut card, &verify(b"5678"), 0x9000);
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
}

#[test]
fn change_reference_data_of_the_signature_password_checks_its_format() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x001B), 0x9000);
    expect_sw(&mut card, &verify(SIGN_PASSWORD), 0x9000);
    for bad in [&b"ABC12"[..], b"abc1234", b"ABCDEFGHIJ1234567", b"ABC-123"] {
        expect_sw(&mut card, &change_reference_data(bad), 0x6A80);
    }
    expect_sw(&mut card, &change_reference_data(b"NEWPASS2025"), 0x9000);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x001B), 0x9000);
    expect_sw(&mut card, &verify(SIGN_PASSWORD), 0x63C4);
    expect_sw(&mut card, &verify(b"NEWPASS2025"), 0x9000);
}

#[test]
fn get_challenge_returns_le_random_bytes() {
    let mut card = sample_card();
    let a = expect_sw(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x08], 0x9000);
    let b = expect_sw(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x08], 0x9000);
    assert_eq!((a.len(), b.len()), (8, 8));
    // 2^-64 chance of a false failure.
    assert_ne!(a, b);
    // Short Le 00 asks for 256 bytes.
    let long = expect_sw(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x00], 0x9000);
    assert_eq!(long.len(), 256);
    assert!(long.iter().any(|&byte| byte != 0));
    // No application needed.
    assert_eq!(
        expect_sw(&mut card, &[0x00, 0x84, 0x00, 0x00, 0x01], 0x9000).len(),
        1
    );
}

#[test]
fn auth_signature_verifies_with_the_public_key_of_the_auth_certificate() {
    let mut card = sample_card();
    let message = b"myna-hil: sign me";
    // The flow OpenSC uses: VERIFY on 0018, SELECT 0017, sign a SHA-256 DigestInfo.
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    let cert = X509::from_der(&read_certificate(&mut card)).unwrap();
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    expect_sw(&mut card, &select_ef(0x0017), 0x9000);
    let apdu = sign(&sha256_digest_info(message));
    assert_eq!(apdu[4], 0x33, "Lc of a SHA-256 DigestInfo");
    let signature = expect_sw(&mut card, &apdu, 0x9000);
    assert_eq!(signature.len(), 256);

    let public_key = cert.public_key().unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public_key).unwrap();
    verifier.update(message).unwrap();
    assert!(
        verifier.verify(&signature).unwrap(),
        "signature does not verify"
    );
    // And not over another message.
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public_key).unwrap();
    verifier.update(b"something else").unwrap();
    assert!(!verifier.verify(&signature).unwrap());
}

#[test]
fn signature_key_001a_signs_for_the_signature_certificate_only_after_the_password() {
    let mut card = sample_card();
    let message = b"contract";
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    // The authentication PIN does not unlock the signature key.
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    expect_sw(&mut card, &select_ef(0x001A), 0x9000);
    expect_sw(&mut card, &sign(&sha256_digest_info(message)), 0x6982);
    expect_sw(&mut card, &select_ef(0x001B), 0x9000);
    expect_sw(&mut card, &verify(SIGN_PASSWORD), 0x9000);
    expect_sw(&mut card, &select_ef(0x001A), 0x9000);
    let signature = expect_sw(&mut card, &sign(&sha256_digest_info(message)), 0x9000);

    let cert = X509::from_der(&SAMPLE.sign_certificate).unwrap();
    let public_key = cert.public_key().unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public_key).unwrap();
    verifier.update(message).unwrap();
    assert!(verifier.verify(&signature).unwrap());
}

#[test]
fn auth_pin_blocks_after_three_wrong_attempts_and_then_answers_6984() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(&[]), 0x63C3);
    expect_sw(&mut card, &verify(b"0000"), 0x63C2);
    // Failures count across resets.
    card.reset();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(b"1111"), 0x63C1);
    expect_sw(&mut card, &verify(b"2222"), 0x63C0);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x6984);
    expect_sw(&mut card, &verify(b"3333"), 0x6984);
    // OpenSC binds only if an empty VERIFY answers SW1 = 63, blocked or not.
    expect_sw(&mut card, &verify(&[]), 0x63C0);
    assert_eq!(card.tries_left(PinRef::AuthPin), 0);
}

#[test]
fn empty_verify_after_reselecting_jpki_answers_63cx_not_9000() {
    // OpenSC re-selects the application and expects 63Cx even after an earlier login.
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    assert!(!card.is_verified(PinRef::AuthPin));
    for fid in [0x0018, 0x001B] {
        expect_sw(&mut card, &select_ef(fid), 0x9000);
        let sw = send(&mut card, &verify(&[])).sw;
        assert_eq!(sw >> 8, 0x63, "empty VERIFY on {fid:04X} answered {sw:04X}");
    }
}

#[test]
fn surface_code_b_opens_the_card_surface_record() {
    let mut card = sample_card();
    assert_eq!(SAMPLE_CODE_B.as_str(), "55021720352285");
    expect_sw(&mut card, &select_aid(&AID_SURFACE), 0x9000);
    expect_sw(&mut card, &select_ef(0x0002), 0x9000);
    expect_sw(&mut card, &read_binary(0, 0), 0x6982);
    expect_sw(&mut card, &select_ef(0x0012), 0x9000);
    expect_sw(&mut card, &verify(&[]), 0x63CA);
    expect_sw(&mut card, &verify(SAMPLE_CODE_B.as_bytes()), 0x9000);
    expect_sw(&mut card, &select_ef(0x0002), 0x9000);
    let head = expect_sw(&mut card, &read_binary(0, 0), 0x9000);
    assert_eq!(&head[..2], &[0xFF, 0x20]);
    assert_eq!(head, SAMPLE.surface_ef[..256]);
}

#[test]
fn surface_code_b_blocks_after_ten_wrong_attempts() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_SURFACE), 0x9000);
    expect_sw(&mut card, &select_ef(0x0012), 0x9000);
    for left in (0..10u16).rev() {
        expect_sw(&mut card, &verify(b"00000000000000"), 0x63C0 | left);
    }
    expect_sw(&mut card, &verify(SAMPLE_CODE_B.as_bytes()), 0x6984);
    expect_sw(&mut card, &verify(&[]), 0x63C0);
}

#[test]
fn code_a_the_my_number_also_opens_the_card_surface_record() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_SURFACE), 0x9000);
    expect_sw(&mut card, &select_ef(0x0013), 0x9000);
    let my_number = CardProfile::sample().holder.my_number;
    expect_sw(&mut card, &verify(my_number.as_bytes()), 0x9000);
    expect_sw(&mut card, &select_ef(0x0002), 0x9000);
    expect_sw(&mut card, &read_binary(0, 4), 0x9000);
    // 照合番号B was not touched.
    assert_eq!(card.tries_left(PinRef::SurfaceCodeB), 10);
}

#[test]
fn text_support_pin_opens_my_number_and_basic_four() {
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_TEXT_SUPPORT), 0x9000);
    for fid in [0x0001, 0x0002] {
        expect_sw(&mut card, &select_ef(fid), 0x9000);
        expect_sw(&mut card, &read_binary(0, 0), 0x6982);
    }
    expect_sw(&mut card, &select_ef(0x0011), 0x9000);
    expect_sw(&mut card, &verify(b"1234"), 0x9000);
    expect_sw(&mut card, &select_ef(0x0001), 0x9000);
    let my_number = expect_sw(&mut card, &read_binary(0, 0x11), 0x9000);
    let mut want = vec![0xFF, 0x10, 0x0C];
    want.extend_from_slice(CardProfile::sample().holder.my_number.as_bytes());
    want.extend_from_slice(&[0xFF, 0xFF]);
    assert_eq!(my_number, want);
    expect_sw(&mut card, &select_ef(0x0002), 0x9000);
    assert_eq!(
        expect_sw(&mut card, &read_binary(0, 0), 0x9000),
        SAMPLE.basic_four_ef
    );
}

#[test]
fn each_secret_has_its_own_counter() {
    // The text-support PIN and the authentication PIN share a value, not a counter.
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_TEXT_SUPPORT), 0x9000);
    expect_sw(&mut card, &select_ef(0x0011), 0x9000);
    expect_sw(&mut card, &verify(b"9999"), 0x63C2);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(&[]), 0x63C3);
    expect_sw(&mut card, &select_ef(0x001B), 0x9000);
    expect_sw(&mut card, &verify(&[]), 0x63C5);
    assert_eq!(card.tries_left(PinRef::TextPin), 2);
    assert_eq!(card.tries_left(PinRef::AuthPin), 3);
    assert_eq!(card.tries_left(PinRef::SignPassword), 5);
}

#[test]
fn foreign_driver_probes_never_get_9000() {
    // Other OpenSC drivers probe before JPKI matches: PIV, OpenPGP, CAC-style GET DATA.
    let mut card = sample_card();
    let piv = [
        0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x00,
    ];
    expect_sw(&mut card, &piv, 0x6A82);
    let openpgp = [
        0x00, 0xA4, 0x04, 0x00, 0x06, 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01,
    ];
    expect_sw(&mut card, &openpgp, 0x6A82);
    expect_sw(&mut card, &[0x80, 0xCA, 0x9F, 0x7F, 0x00], 0x6D00);
    expect_sw(&mut card, &[0x00, 0xCB, 0x3F, 0xFF, 0x00], 0x6D00);
}

#[test]
fn sha512_digest_info_signs_too() {
    // pkcs11-tool with SHA512-RSA-PKCS sends Lc 0x53.
    const SHA512_PREFIX: [u8; 19] = [
        0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
        0x05, 0x00, 0x04, 0x40,
    ];
    let message = b"sha-512";
    let mut digest_info = SHA512_PREFIX.to_vec();
    digest_info.extend_from_slice(&openssl::sha::sha512(message));
    let mut card = sample_card();
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    expect_sw(&mut card, &select_ef(0x0017), 0x9000);
    let apdu = sign(&digest_info);
    assert_eq!(apdu[4], 0x53);
    let signature = expect_sw(&mut card, &apdu, 0x9000);
    let cert = X509::from_der(&SAMPLE.auth_certificate).unwrap();
    let public_key = cert.public_key().unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha512(), &public_key).unwrap();
    verifier.update(message).unwrap();
    assert!(verifier.verify(&signature).unwrap());
}

// ---------------------------------------------------------------------------------------
// Other kinds of card
// ---------------------------------------------------------------------------------------

#[test]
fn face_card_answers_verify_as_a_blocked_pin() {
    let mut card = card_of(&FACE);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    for fid in [0x0018, 0x001B] {
        expect_sw(&mut card, &select_ef(fid), 0x9000);
        expect_sw(&mut card, &verify(&[]), 0x63C0);
        expect_sw(&mut card, &verify(AUTH_PIN), 0x6984);
        expect_sw(&mut card, &verify(SIGN_PASSWORD), 0x6984);
        expect_sw(&mut card, &change_reference_data(b"1234"), 0x6982);
    }
    assert_eq!(card.tries_left(PinRef::AuthPin), 0);
    assert!(!card.is_verified(PinRef::AuthPin));
    // The text-support PIN is unset as well.
    expect_sw(&mut card, &select_aid(&AID_TEXT_SUPPORT), 0x9000);
    expect_sw(&mut card, &select_ef(0x0011), 0x9000);
    expect_sw(&mut card, &verify(&[]), 0x63C0);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x6984);
}

#[test]
fn face_card_has_no_signature_certificate() {
    let mut card = card_of(&FACE);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0001), 0x6A82);
    // The authentication certificate is still there, free to read.
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    assert_eq!(read_certificate(&mut card), FACE.auth_certificate);
}

#[test]
fn face_card_still_opens_the_surface_record_with_code_b() {
    // The face path reads 照合番号B off the card and needs no PIN.
    let mut card = card_of(&FACE);
    expect_sw(&mut card, &select_aid(&AID_SURFACE), 0x9000);
    expect_sw(&mut card, &select_ef(0x0012), 0x9000);
    expect_sw(&mut card, &verify(SAMPLE_CODE_B.as_bytes()), 0x9000);
    expect_sw(&mut card, &select_ef(0x0002), 0x9000);
    expect_sw(&mut card, &read_binary(0, 4), 0x9000);
}

#[test]
fn smartphone_token_info_is_jpkiapgpsetoken() {
    let mut card = card_of(&PHONE);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x0006), 0x9000);
    let info = expect_sw(&mut card, &read_binary(0, 32), 0x9000);
    let mut want = b"JPKIAPGPSETOKEN".to_vec();
    want.resize(32, b' ');
    assert_eq!(info, want);
}

#[test]
fn smartphone_has_no_surface_or_text_support_application() {
    let mut card = card_of(&PHONE);
    expect_sw(&mut card, &select_aid(&AID_SURFACE), 0x6A82);
    expect_sw(&mut card, &select_aid(&AID_TEXT_SUPPORT), 0x6A82);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
}

#[test]
fn smartphone_auth_certificate_needs_the_pin_first() {
    let mut card = card_of(&PHONE);
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    expect_sw(&mut card, &read_binary(0, 4), 0x6982);
    expect_sw(&mut card, &select_ef(0x0018), 0x9000);
    expect_sw(&mut card, &verify(AUTH_PIN), 0x9000);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    assert_eq!(read_certificate(&mut card), PHONE.auth_certificate);
    // Re-selecting the application locks it again.
    expect_sw(&mut card, &select_aid(&AID_JPKI), 0x9000);
    expect_sw(&mut card, &select_ef(0x000A), 0x9000);
    expect_sw(&mut card, &read_binary(0, 4), 0x6982);
}

// ---------------------------------------------------------------------------------------
// Attach check and faults
// ---------------------------------------------------------------------------------------

#[test]
fn attach_check_is_an_unknown_instruction_without_a_secret() {
    let mut card = sample_card();
    expect_sw(&mut card, &attach_check(&[0x42; 32]), 0x6D00);
}

#[test]
fn attach_check_answers_sha256_of_secret_and_nonce() {
    let secret = [0x5A; 32];
    let mut card = Card::new(Arc::clone(&SAMPLE)).with_attach_secret(secret);
    card.reset();
    let nonce: Vec<u8> = (0..32).collect();
    let answer = expect_sw(&mut card, &attach_check(&nonce), 0x9000);
    assert_eq!(answer, attach_answer(&secret, &nonce));
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(&secret);
    hasher.update(&nonce);
    assert_eq!(answer, hasher.finish());
    // Another secret gives another answer.
    assert_ne!(answer, attach_answer(&[0xA5; 32], &nonce));
    // Malformed checks.
    expect_sw(&mut card, &attach_check(&nonce[..31]), 0x6700);
    let mut bad_p2 = attach_check(&nonce);
    bad_p2[3] = 0x49;
    expect_sw(&mut card, &bad_p2, 0x6A86);
}

fn card_with_faults(faults: Faults) -> Card {
    let mut profile = CardProfile::sample();
    profile.faults = faults;
    card_of(&build(&profile))
}

/// Transmits a harmless APDU and asks how its response is to be delivered.
fn deliver_one(card: &mut Card) -> (Delivery, usize) {
    let mut out = Vec::new();
    card.transmit(&[0x00, 0x84, 0x00, 0x00, 0x08], &mut out);
    (card.delivery(), out.len())
}

#[test]
fn sample_card_delivers_every_response_normally() {
    let mut card = sample_card();
    for _ in 0..10 {
        assert_eq!(deliver_one(&mut card).0, Delivery::Normal);
    }
}

#[test]
fn mute_card_never_answers() {
    let mut card = card_with_faults(Faults {
        mute: true,
        ..Faults::default()
    });
    for _ in 0..5 {
        assert_eq!(deliver_one(&mut card).0, Delivery::Silent);
    }
    card.reset();
    assert_eq!(deliver_one(&mut card).0, Delivery::Silent);
}

#[test]
fn slow_card_delays_every_response() {
    let delay = Duration::from_millis(250);
    let mut card = card_with_faults(Faults {
        delay_per_apdu: Some(delay),
        ..Faults::default()
    });
    for _ in 0..5 {
        assert_eq!(deliver_one(&mut card).0, Delivery::Delayed(delay));
    }
}

#[test]
fn torn_card_tears_exactly_the_nth_apdu_after_each_reset() {
    let mut card = card_with_faults(Faults {
        tear_on_apdu: Some(3),
        ..Faults::default()
    });
    for _power_cycle in 0..2 {
        let deliveries: Vec<_> = (0..6).map(|_| deliver_one(&mut card)).collect();
        for (i, (delivery, _len)) in deliveries.iter().enumerate() {
            if i + 1 == 3 {
                // The card drops off the bus before the response is complete.
                assert_eq!(*delivery, Delivery::Torn);
            } else {
                assert_eq!(*delivery, Delivery::Normal, "APDU {}", i + 1);
            }
        }
        card.reset();
    }
}

#[test]
fn torn_slow_card_is_delayed_except_on_the_tear() {
    let delay = Duration::from_millis(10);
    let mut card = card_with_faults(Faults {
        delay_per_apdu: Some(delay),
        tear_on_apdu: Some(1),
        ..Faults::default()
    });
    assert!(matches!(deliver_one(&mut card).0, Delivery::Torn));
    assert_eq!(deliver_one(&mut card).0, Delivery::Delayed(delay));
}

// ---------------------------------------------------------------------------------------
// The journal: what was done to the card, without its data
// ---------------------------------------------------------------------------------------

#[test]
fn the_journal_records_every_command_and_its_status_word_but_no_data() {
    use card_emulator::card::{Data, Exchange, KeyRef, Operation};
    let mut card = Card::new(SAMPLE.clone());
    let mut out = Vec::new();
    let mut send = |card: &mut Card, apdu: Vec<u8>| card.transmit(&apdu, &mut out);
    card.reset();
    send(&mut card, select_aid(&card_emulator::card::AID_JPKI));
    send(&mut card, select_ef(0x000A));
    send(&mut card, read_binary(0, 16));
    send(&mut card, select_ef(0x0018));
    send(&mut card, verify(b"9999"));
    send(&mut card, verify(b"1234"));
    send(&mut card, select_ef(0x0017));
    send(
        &mut card,
        sign(&card_emulator::commands::sha256_digest_info(b"x")),
    );
    let ops: Vec<(Operation, u16)> = card
        .journal()
        .iter()
        .map(|Exchange { operation, sw }| (*operation, *sw))
        .collect();
    assert_eq!(
        ops,
        vec![
            (Operation::Reset, 0x9000),
            (
                Operation::SelectApplication(Some(card_emulator::card::Application::Jpki)),
                0x9000
            ),
            (Operation::SelectFile(0x000A), 0x9000),
            (
                Operation::ReadBinary(Some(Data::AuthCertificate), 16),
                0x9000
            ),
            (Operation::SelectFile(0x0018), 0x9000),
            (
                Operation::Verify {
                    pin: Some(PinRef::AuthPin),
                    with_data: true
                },
                0x63C2
            ),
            (
                Operation::Verify {
                    pin: Some(PinRef::AuthPin),
                    with_data: true
                },
                0x9000
            ),
            (Operation::SelectFile(0x0017), 0x9000),
            (Operation::Sign(Some(KeyRef::Auth)), 0x9000),
        ]
    );
    let shown = format!("{:?}", card.journal());
    assert!(
        !shown.contains("1234") && !shown.contains("9999"),
        "{shown}"
    );
    assert_eq!(card.journal_dropped(), 0);
}
