//! The typed scenario: what happens at the front desk and what must come of it.
//! Built from YAML by [`super::parse`]; the engine never sees YAML.

use crate::rules::{ConsentChoice, ConsentItems, ConsentStep, Income, Route, RuleSet, Visit};
use crate::yaml::Spot;
use std::path::PathBuf;
use std::time::Duration;
use time::Date;

/// Where a step or an expectation was written, for messages at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// What a reader measures of its own sub-steps (beside the engine's step times), named for
/// latency limits: the face path's chip photo read (照合番号B VERIFY and EF 0002), its
/// decoding, the enrolment, camera start to decision, and the mean work per frame.
pub const READER_MEASURES: &[&str] = &[
    "face.read_chip_photo",
    "face.decode_chip_photo",
    "face.enrol",
    "face.match",
    "face.frame",
];

/// The keys a scenario file may have (an include file may have the same keys).
pub const SCENARIO_KEYS: &[&str] = &[
    "title",
    "description",
    "tags",
    "include",
    "vars",
    "matrix",
    "card",
    "date",
    "facility",
    "visit",
    "rule_set",
    "insurance",
    "birth_date",
    "income",
    "cost",
    "patient_knows_insurer",
    "consent_history",
    "service",
    "camera",
    "matcher",
    "step_deadline",
    "steps",
    "expect",
];

/// `income:`, the names of the rules' income classes.
pub const INCOMES: &[(&str, Income)] = &Income::NAMES;

/// `cost:` and `expect.payment:`, in yen (a month's care; 1,000,000,000 is far beyond any
/// clinic's month and keeps every product exact).
pub const YEN: std::ops::RangeInclusive<i64> = 0..=1_000_000_000;

/// `expect.claim_insurer:` when no claim is made (not confirmed: the patient pays 10割).
pub const NO_CLAIM: &str = "none";

/// The most cases one matrix may make unless [`MAX_CASES_ENV`] says otherwise: a matrix is
/// refused before it is expanded (its size is the product of its lists' lengths), so a
/// mistyped matrix costs nothing instead of all the memory there is.
pub const DEFAULT_MAX_CASES: u64 = 100_000;

/// The environment variable that sets the most cases one matrix may make.
pub const MAX_CASES_ENV: &str = "MYNA_HIL_MAX_CASES";

/// "Nothing" for `card:` (no card) and `insurance:` (the service knows no one).
pub const NONE: &str = "none";

/// The keys a scenario must have once its includes are read.
pub const REQUIRED_SCENARIO_KEYS: &[&str] = &["title", "date", "steps"];

/// The keys whose values are secrets, masked in every diagnostic (with the variables they
/// name): the PIN a step types. Paths of keys; the last segment names the key.
pub const SECRET_KEYS: crate::yaml::SecretKeys = &["steps.enter_pin"];

/// The scenario format (scenarios, include-only files, conformance files), for its
/// diagnostics.
pub const SCENARIO_FORMAT: crate::yaml::Format = crate::yaml::Format {
    top_keys: &[SCENARIO_KEYS, CONFORMANCE_KEYS],
    secrets: SECRET_KEYS,
};

/// How an include-only file's name ends: an include is YAML, never any file a path names.
pub const INCLUDE_EXTENSIONS: &[&str] = &["yaml", "yml"];

/// How deep includes nest: a scenario's includes are at depth 1, theirs at 2, …
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// The most files one scenario includes, all depths together.
pub const MAX_INCLUDED_FILES: usize = 64;

/// The keys of a conformance file: `conformance:` lists card profiles; every check of the
/// conformance suite runs on each. A file with a `conformance` key is a conformance file.
pub const CONFORMANCE_KEYS: &[&str] = &["title", "description", "tags", "conformance", "deadline"];

/// The keys a conformance file must have.
pub const REQUIRED_CONFORMANCE_KEYS: &[&str] = &["title", "conformance"];

/// `visit:`.
pub const VISITS: &[(&str, Visit)] = &[("first", Visit::First), ("return", Visit::Return)];

/// `rule_set:`.
pub const RULE_SETS: &[(&str, RuleSet)] = &[
    ("seed", RuleSet::Seed),
    ("interim-2026", RuleSet::Interim2026),
];

/// The keys of `insurance:`, and those it must have.
pub const INSURANCE_KEYS: &[&str] = &[
    "insurer_number",
    "symbol",
    "number",
    "branch",
    "family",
    "limit_category",
    "qualification_date",
];
pub const REQUIRED_INSURANCE_KEYS: &[&str] = &["insurer_number", "number"];

/// Lengths of an insurer number (digits).
pub const INSURER_NUMBER_DIGITS: std::ops::RangeInclusive<usize> = 6..=8;

/// LimitApplicationCertificateClassificationFlag values (docs/reception-rules.md).
pub const LIMIT_CODES: &[&str] = &[
    "A01", "A02", "A03", "A04", "A05", "A06", "B01", "B02", "B03", "B04", "B05", "B06", "B07",
    "B08",
];

/// The keys of an entry of `consent_history:`, and those it must have.
pub const PAST_CONSENT_KEYS: &[&str] = &["facility", "on", "choice"];
pub const REQUIRED_PAST_CONSENT_KEYS: &[&str] = &["facility", "choice"];

/// The consent answers besides a list of items (whose names are
/// [`crate::rules::ConsentItem::NAMES`]); an earlier visit records every one but `reuse`.
pub const CONSENT_ANSWERS: &[(&str, ConsentStep)] = &[
    ("all", ConsentStep::Choose(ConsentChoice::AgreeToAll)),
    ("reuse", ConsentStep::Reuse),
    (
        "none",
        ConsentStep::Choose(ConsentChoice::Individually(ConsentItems::none())),
    ),
];

/// Consent item names scenarios used before the names became the wire's, with the name
/// that replaced each (for a hint).
pub const RENAMED_CONSENT_ITEMS: &[(&str, &str)] =
    &[("surgery", "past_surgery"), ("checkups", "health_checkups")];

/// A fault of the qualification service given by name (`service: timeout`); the others are
/// mappings with one of [`SERVICE_FAULT_KEYS`].
pub const SERVICE_FAULTS: &[(&str, ServiceFault)] = &[
    ("none", ServiceFault::None),
    ("timeout", ServiceFault::Timeout),
    ("malformed", ServiceFault::Malformed),
    ("invalid", ServiceFault::Invalid),
    ("several_matches", ServiceFault::SeveralMatches),
];

/// `service: { slow: 2s }` or `service: { http: 503 }`: exactly one of these keys.
pub const SERVICE_FAULT_KEYS: &[&str] = &["slow", "http"];

/// The HTTP status codes a service fault may answer with.
pub const SERVICE_HTTP_CODES: std::ops::RangeInclusive<i64> = 400..=599;

/// The keys of `camera:`.
pub const CAMERA_KEYS: &[&str] = &[
    "photo",
    "clip",
    "person",
    "attack",
    "perturb",
    "seed",
    "fps",
    "frames",
    "earlier_failures",
];

/// The keys of `matcher:` (the reference reader's face matcher in this case).
pub const MATCHER_KEYS: &[&str] = &[
    "detector_threshold",
    "enrol_margin",
    "enrol_fallback_threshold",
];
/// Range of `matcher.detector_threshold` (a YuNet score; 0 and 1 would take everything or
/// nothing).
pub const DETECTOR_THRESHOLDS: std::ops::RangeInclusive<f64> = 0.01..=0.99;
/// Range of `matcher.enrol_margin` (a fraction of the enrolment image's side).
pub const ENROL_MARGINS: std::ops::RangeInclusive<f64> = 0.0..=4.0;
/// Range of `matcher.enrol_fallback_threshold` (a YuNet score; 0 turns the second try off).
pub const ENROL_FALLBACK_THRESHOLDS: std::ops::RangeInclusive<f64> = 0.0..=0.99;

/// Ranges of the camera's numbers.
pub const CAMERA_FPS: std::ops::RangeInclusive<f64> = 1.0..=120.0;
pub const CAMERA_FRAMES: std::ops::RangeInclusive<i64> = 1..=3600;
pub const CAMERA_EARLIER_FAILURES: std::ops::RangeInclusive<i64> = 0..=10;

/// The step names, for messages and the schema.
pub const STEP_NAMES: &[&str] = &[
    "place_card",
    "remove_card",
    "choose",
    "enter_pin",
    "consent",
    "register",
    "staff_check",
    "show",
    "service",
    "wait",
    "operator",
];

/// The steps the bench carries out itself, which never reach the reader (an `operator`
/// question may be shown on a device's own test UI, but the reader cannot refuse it).
pub const BENCH_STEPS: &[&str] = &["service", "wait", "operator"];

/// `operator:`'s keys: the prompt's id, its text, and exactly one kind of answer.
pub const OPERATOR_KEYS: &[&str] = &["id", "ask", "confirm", "choose", "text"];
/// The kinds of answer an operator step may ask for.
pub const OPERATOR_ANSWER_KINDS: &[&str] = &["confirm", "choose", "text"];
/// `ask:`'s languages: both are required (the bench's operator may read either).
pub const OPERATOR_LANGUAGES: &[&str] = &["ja", "en"];
/// `confirm:`'s answers.
pub const CONFIRM_ANSWERS: &[&str] = &["yes", "no"];
/// What an answer means for the verdict.
pub const OPERATOR_MEANINGS: &[(&str, OperatorMeaning)] = &[
    ("continue", OperatorMeaning::Continue),
    ("fail", OperatorMeaning::Fail),
    ("inconc", OperatorMeaning::Inconc),
];
/// An operator step's deadline when it sets none: a person needs longer than a reader.
pub const OPERATOR_DEADLINE: Duration = Duration::from_secs(300);
/// The most choices of `choose:`, and the longest prompt text and choice label (bytes).
pub const MAX_OPERATOR_CHOICES: usize = 8;
pub const MAX_OPERATOR_TEXT: usize = 500;
pub const MAX_CHOICE_LABEL: usize = 60;
/// The longest prompt id; ids are `[a-z0-9]` and inner `-`.
pub const MAX_PROMPT_ID: usize = 40;

/// Whether `id` is a prompt id: 1 to [`MAX_PROMPT_ID`] of `a-z`, `0-9` and inner `-` (what
/// scenarios, answer files and the adapter protocol accept).
pub fn is_prompt_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PROMPT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

/// The steps `expect.refused` may name: those that reach the reader.
pub fn refusable_steps() -> Vec<(&'static str, &'static str)> {
    STEP_NAMES
        .iter()
        .filter(|s| !BENCH_STEPS.contains(s))
        .map(|s| (*s, *s))
        .collect()
}

/// The steps that take no argument, and so may be written as a bare name (`- place_card`).
pub const STEPS_WITHOUT_ARGUMENT: &[&str] = &["place_card", "remove_card"];

/// The key beside a step's name that sets its deadline (`{ remove_card, deadline: 2s }`).
pub const STEP_DEADLINE_KEY: &str = "deadline";

/// `choose:`.
pub const METHODS: &[(&str, Method)] = &[("face", Method::Face), ("pin", Method::Pin)];

/// `enter_pin:` by word; otherwise [`PIN_DIGITS`] digits in quotes.
pub const PIN_WORDS: &[(&str, PinEntry)] =
    &[("correct", PinEntry::Correct), ("wrong", PinEntry::Wrong)];

/// How many digits a PIN typed as digits has.
pub const PIN_DIGITS: usize = 4;

/// `staff_check:`.
pub const STAFF_CHECK_ANSWERS: &[(&str, bool)] = &[("confirm", true), ("reject", false)];

/// `register:`.
pub const REGISTER_ANSWERS: &[(&str, bool)] = &[("accept", true), ("decline", false)];

/// The keys of a dated document shown (`{ qualification_certificate: { valid_until: … } }`).
pub const SHOWN_DOCUMENT_KEYS: &[&str] = &["valid_until"];

/// A shown document with its printed last day.
pub type DatedForm = fn(Date) -> Shown;

/// The documents of [`DOCUMENTS_SHOWN`] that may carry a date, with their dated form.
pub const DATED_DOCUMENTS: &[(&str, DatedForm)] = &[
    ("qualification_certificate", |d| {
        Shown::QualificationCertificate {
            valid_until: Some(d),
        }
    }),
    ("old_insurance_card", |d| Shown::OldInsuranceCard {
        valid_until: Some(d),
    }),
];

/// `show:` (one or a list).
pub const DOCUMENTS_SHOWN: &[(&str, Shown)] = &[
    ("portal_screen", Shown::PortalScreen),
    ("portal_pdf", Shown::PortalPdf),
    ("qualification_notice", Shown::QualificationNotice),
    (
        "qualification_certificate",
        Shown::QualificationCertificate { valid_until: None },
    ),
    (
        "old_insurance_card",
        Shown::OldInsuranceCard { valid_until: None },
    ),
    ("nothing", Shown::Nothing),
];

/// The route names (docs/reception-rules.md, "Routes").
pub const ROUTES: &[(&str, Route)] = &[
    ("card_face", Route::CardFace),
    ("card_pin", Route::CardPin),
    ("card_visual", Route::CardVisual),
    ("portal_screen", Route::PortalScreen),
    ("portal_pdf", Route::PortalPdf),
    ("qualification_notice", Route::QualificationNotice),
    ("qualification_certificate", Route::QualificationCertificate),
    ("old_insurance_card", Route::OldInsuranceCard),
    ("verbal_check", Route::VerbalCheck),
    ("statement_form", Route::StatementForm),
    ("not_confirmed", Route::NotConfirmed),
];

/// The keys of `expect:`.
pub const EXPECT_KEYS: &[&str] = &[
    "route",
    "share",
    "limit_applied",
    "qualification_data_only",
    "payment",
    "claim_insurer",
    "screens",
    "screens_exactly",
    "screens_absent",
    "last_verify_sw",
    "verify_sws",
    "refused",
    "latency",
    "face",
];

/// The screen names of the harness's vocabulary (docs/adapter-protocol.md, `screen`), which
/// `expect.screens`, `screens_exactly` and `screens_absent` may name; besides these, the
/// desk's `desk_<route>` ([`DESK_SCREEN_PREFIX`] and a route of [`ROUTES`]).
pub const SCREENS: &[&str] = &[
    "idle",
    "reading_card",
    "card_error",
    "choose_method",
    "pin_entry",
    "pin_wrong",
    "pin_locked",
    "face_auth",
    "face_camera",
    "face_retry",
    "face_ok",
    "face_failed",
    "face_locked",
    "querying",
    "registration",
    "registration_terms",
    "registration_done",
    "visual_check",
    "consent",
    "consent_reuse",
    "consent_items",
    "result",
    "not_insured",
];

/// How the desk's screens begin: `desk_portal_pdf`.
pub const DESK_SCREEN_PREFIX: &str = "desk_";

/// Whether `name` is a screen of the vocabulary.
pub fn is_screen(name: &str) -> bool {
    SCREENS.contains(&name)
        || name
            .strip_prefix(DESK_SCREEN_PREFIX)
            .is_some_and(|route| ROUTES.iter().any(|(r, _)| *r == route))
}

/// `expect.share:`, in percent.
pub const SHARES: &[(&str, u8)] = &[("10%", 10), ("20%", 20), ("30%", 30), ("100%", 100)];

/// `expect.face:`.
pub const FACE_EXPECTS: &[(&str, FaceExpect)] = &[
    ("match", FaceExpect::Match),
    ("no_match", FaceExpect::NoMatch),
    ("attack_rejected", FaceExpect::AttackRejected),
    ("locked", FaceExpect::Locked),
];

/// The keys of a latency limit, and those it must have.
pub const LATENCY_LIMIT_KEYS: &[&str] = &["max", "marginal"];
pub const REQUIRED_LATENCY_LIMIT_KEYS: &[&str] = &["max"];

/// The measure of a whole case, for `expect.latency.total`.
pub const TOTAL_MEASURE: &str = "total";

/// Everything `expect.latency` may limit: the steps, the reader's own measures
/// ([`READER_MEASURES`]) and the whole case.
pub fn latency_measures() -> Vec<&'static str> {
    let mut out = STEP_NAMES.to_vec();
    out.extend(READER_MEASURES);
    out.push(TOTAL_MEASURE);
    out
}

/// The attack species by their scenario names (`print_greyscale`), from camera-replay's
/// `AttackSpecies::KINDS`.
pub fn attack_names() -> Vec<String> {
    camera_replay::attack::AttackSpecies::KINDS
        .iter()
        .map(|(n, _)| n.replace('-', "_"))
        .collect()
}

/// How the patient proves the card is theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Face,
    Pin,
}

/// Which PIN the patient types. The value itself never reaches a report.
#[derive(Clone, PartialEq, Eq)]
pub enum PinEntry {
    /// The card's own authentication PIN (from its profile).
    Correct,
    /// A PIN that is not the card's.
    Wrong,
    /// These digits.
    Digits(String),
}

impl PinEntry {
    /// The digits a patient types, given the card's `right` PIN. A wrong PIN is one digit
    /// off the right one.
    pub fn digits(&self, right: &str) -> String {
        match self {
            PinEntry::Correct => right.to_owned(),
            PinEntry::Digits(d) => d.clone(),
            PinEntry::Wrong => right
                .bytes()
                .enumerate()
                .map(|(i, b)| {
                    if i == 0 {
                        char::from(b'0' + (b - b'0' + 1) % 10)
                    } else {
                        char::from(b)
                    }
                })
                .collect(),
        }
    }
}

impl std::fmt::Debug for PinEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinEntry::Correct => f.write_str("Correct"),
            PinEntry::Wrong => f.write_str("Wrong"),
            PinEntry::Digits(_) => f.write_str("Digits(<redacted>)"),
        }
    }
}

/// A document the patient shows at the desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    PortalScreen,
    PortalPdf,
    QualificationNotice,
    /// 資格確認書, valid to `valid_until` (`None`: a year from the visit).
    QualificationCertificate {
        valid_until: Option<Date>,
    },
    /// The old 健康保険証, with the date printed on it, if any.
    OldInsuranceCard {
        valid_until: Option<Date>,
    },
    Nothing,
}

/// A fault of the qualification service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceFault {
    None,
    Slow(Duration),
    Timeout,
    Http(u16),
    Malformed,
    Invalid,
    SeveralMatches,
}

/// One thing that happens, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    PlaceCard,
    RemoveCard,
    Choose(Method),
    EnterPin(PinEntry),
    Consent(ConsentStep),
    /// Register the card for insurance use at the reader (accept the terms) or decline.
    Register(bool),
    /// The staff's visual check (目視確認) after a face-authentication card's face path
    /// failed: the holder confirmed against the card, or not.
    StaffCheck(bool),
    /// Show documents at the desk after the card path.
    Show(Vec<Shown>),
    /// Change the qualification service's behaviour from here on.
    Service(ServiceFault),
    Wait(Duration),
    /// A question put to the person at the bench (docs/operator.md).
    Operator(Box<OperatorPrompt>),
}

/// `operator:`: what the bench asks a person, and what each answer means for the verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorPrompt {
    /// Unique within the case: what an answer file names.
    pub id: String,
    pub ja: String,
    pub en: String,
    pub answer: OperatorAnswerKind,
}

/// The kind of answer a prompt asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum OperatorAnswerKind {
    /// Yes or no.
    Confirm {
        yes: OperatorMeaning,
        no: OperatorMeaning,
    },
    /// One of these labels, in the scenario's order.
    Choose(Vec<(String, OperatorMeaning)>),
    /// Free text (kept, its card secrets masked); any answer means this.
    Text(OperatorMeaning),
}

impl OperatorAnswerKind {
    /// Its name in [`OPERATOR_ANSWER_KINDS`].
    pub fn name(&self) -> &'static str {
        match self {
            OperatorAnswerKind::Confirm { .. } => OPERATOR_ANSWER_KINDS[0],
            OperatorAnswerKind::Choose(_) => OPERATOR_ANSWER_KINDS[1],
            OperatorAnswerKind::Text(_) => OPERATOR_ANSWER_KINDS[2],
        }
    }

    /// The answers a person may give, as they are typed or clicked (empty: free text).
    pub fn offered(&self) -> Vec<String> {
        match self {
            OperatorAnswerKind::Confirm { .. } => {
                CONFIRM_ANSWERS.iter().map(|a| (*a).to_owned()).collect()
            }
            OperatorAnswerKind::Choose(choices) => choices.iter().map(|(l, _)| l.clone()).collect(),
            OperatorAnswerKind::Text(_) => Vec::new(),
        }
    }
}

/// What an operator's answer does to the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorMeaning {
    /// The case goes on; its verdict comes from the rest (and rests on this answer).
    Continue,
    /// The case fails, on the operator's word.
    Fail,
    /// The case cannot be judged: inconclusive.
    Inconc,
}

impl OperatorMeaning {
    pub fn name(self) -> &'static str {
        OPERATOR_MEANINGS
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("continue", |(n, _)| n)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// Longest this step may take; the scenario default applies when `None`.
    pub deadline: Option<Duration>,
    pub origin: Origin,
}

impl StepKind {
    /// A short name for reports and latency tables (never holds a secret).
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::PlaceCard => "place_card",
            StepKind::RemoveCard => "remove_card",
            StepKind::Choose(_) => "choose",
            StepKind::EnterPin(_) => "enter_pin",
            StepKind::Consent(_) => "consent",
            StepKind::Register(_) => "register",
            StepKind::StaffCheck(_) => "staff_check",
            StepKind::Show(_) => "show",
            StepKind::Service(_) => "service",
            StepKind::Wait(_) => "wait",
            StepKind::Operator(_) => "operator",
        }
    }
}

impl Case {
    /// The card this case uses (`crate::cards::CardKey`): its profile, and the birth date
    /// the scenario sets instead of the profile's.
    pub fn card_key(&self) -> Option<(PathBuf, Option<Date>)> {
        self.card
            .as_ref()
            .map(|p| (p.clone(), self.patient.birth_date))
    }

    /// The indices (into `steps`) of the steps `expect.refused` names: for a name given n
    /// times, the first n steps of that name.
    pub fn expected_refusals(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let name = step.kind.name();
            let wanted = self.expect.refused.iter().filter(|n| *n == name).count();
            let taken = out
                .iter()
                .filter(|&&j: &&usize| self.steps[j].kind.name() == name)
                .count();
            if taken < wanted {
                out.push(i);
            }
        }
        out
    }

    /// Whether the patient chooses `method` at some step.
    pub fn chooses(&self, method: Method) -> bool {
        self.steps
            .iter()
            .any(|s| s.kind == StepKind::Choose(method))
    }
}

/// A limit on a measured duration, with an optional marginal band below it: above `max`
/// fails, between `marginal` and `max` passes with a warning.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyLimit {
    /// A step name (`enter_pin`) or `total`.
    pub measure: String,
    pub max: Duration,
    pub marginal: Option<Duration>,
    pub origin: Origin,
}

/// What must come of the case. Unset fields are judged by the rules alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expect {
    pub route: Option<Route>,
    pub share_percent: Option<u8>,
    pub limit_applied: Option<bool>,
    pub qualification_data_only: Option<bool>,
    /// What the patient pays at the counter, in yen (needs the case's `cost`).
    pub payment_yen: Option<u64>,
    /// The insurer number the claim uses.
    pub claim_insurer: Option<ClaimInsurer>,
    /// Screens that must have been shown, in this order (others may come between).
    pub screens: Vec<String>,
    /// The screens shown, all of them, in this order.
    pub screens_exactly: Option<Vec<String>>,
    /// Screens that must not have been shown.
    pub screens_absent: Vec<String>,
    /// Status word of the last VERIFY the reader sent, e.g. 63C0.
    pub last_verify_sw: Option<u16>,
    /// Status words of every VERIFY the reader sent, in order.
    pub verify_sws: Option<Vec<u16>>,
    /// Steps the reader must refuse (`not_now`), by name: the first step of that name (the
    /// first two when named twice, …). The case goes on after them; any other refusal is
    /// still an error. [`Case::expected_refusals`] gives the steps.
    pub refused: Vec<String>,
    pub latency: Vec<LatencyLimit>,
    /// How the face path must end.
    pub face: Option<FaceExpect>,
    pub origin: Option<Origin>,
}

/// `expect.claim_insurer:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimInsurer {
    /// This insurer number (the insurer's own, or 77777777).
    Number(String),
    /// No claim: not confirmed.
    NoClaim,
}

/// What the desk learns of the patient besides the card and the service's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientInputs {
    /// The holder's birth date, instead of the card profile's (the card is built with it).
    pub birth_date: Option<Date>,
    /// Where `birth_date` was written (a birth after the visit is reported there).
    pub birth_date_at: Option<Spot>,
    /// The income class the insurer records (`None`: as the limit category implies).
    pub income: Option<Income>,
    /// The month's cost of care (10割), in yen, for `expect.payment`.
    pub cost_yen: Option<u64>,
    /// The patient can name their insurer on the statement form (default: yes).
    pub knows_insurer: bool,
}

impl Default for PatientInputs {
    fn default() -> Self {
        PatientInputs {
            birth_date: None,
            birth_date_at: None,
            income: None,
            cost_yen: None,
            knows_insurer: true,
        }
    }
}

/// Limit certificate category for the record the service holds (docs/reception-rules.md result field).
pub type LimitCode = String;

/// The record the qualification service holds for this case's card.
#[derive(Clone, Debug, PartialEq)]
pub struct Insurance {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub family: bool,
    pub limit_category: Option<LimitCode>,
    pub qualification_date: Date,
}

/// An earlier visit's consent choice (for carry-over).
#[derive(Clone, Debug, PartialEq)]
pub struct PastConsent {
    pub facility: String,
    pub on: Date,
    pub choice: ConsentChoice,
}

/// What the reader's camera sees while the case runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    pub source: CameraSource,
    /// Presentation attack species (a `camera_replay::attack` name): the clip is then an
    /// attack made from the source photo, never a live person.
    pub attack: Option<String>,
    /// Perturbations, applied in order to every frame.
    pub perturb: Vec<camera_replay::perturb::Perturbation>,
    /// Seed of the synthesised motion, perturbations and attack.
    pub seed: u64,
    pub fps: f64,
    pub frames: u32,
    /// Consecutive face failures before this visit (the reader locks the face path at 10).
    pub earlier_failures: u8,
    pub origin: Origin,
}

/// The reference reader's face matcher settings for one case; `None`: the default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MatcherSettings {
    /// Face detector score threshold (camera_replay's `DetectorConfig::score_threshold`).
    pub detector_threshold: Option<f32>,
    /// Border added around the chip photo before detection (`EnrolmentConfig::margin`).
    pub enrol_margin: Option<f32>,
    /// Score of the second detection on the chip photo where the first found no face
    /// (`EnrolmentConfig::fallback_score_threshold`); 0: no second try.
    pub enrol_fallback_threshold: Option<f32>,
}

/// Where the camera's frames come from.
#[derive(Clone, Debug, PartialEq)]
pub enum CameraSource {
    /// A live clip synthesised from this photo of the photo cache; whose face it is comes
    /// from the cache's labels.
    Photo(String),
    /// A recorded clip (video file or image folder) of this person.
    Clip { path: PathBuf, person: String },
}

/// What must come of the face path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaceExpect {
    /// The reader matched the face to the chip photo.
    Match,
    /// The reader found no match (and offered the PIN).
    NoMatch,
    /// The reader refused a presentation attack.
    AttackRejected,
    /// The face path was locked by earlier failures and not attempted.
    Locked,
}

/// What a case exercises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseKind {
    /// A reception flow at the reader (steps and expectations).
    Reception,
    /// One APDU-level conformance check (by name) on the case's card.
    Conformance { check: ConformanceCheck },
}

/// One runnable case (a scenario after includes, variables and matrix expansion).
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// Stable id: `<scenario file stem>` plus the matrix values, e.g.
    /// `reception.pin-first-visit[card=valid,visit=first]`.
    pub id: String,
    pub kind: CaseKind,
    pub file: PathBuf,
    pub title: String,
    pub tags: Vec<String>,
    pub date: Date,
    /// Where the visit date was written (`None` for conformance cases, whose date is fixed):
    /// a date that conflicts with the card (a birth after the visit) is reported there.
    pub date_at: Option<Spot>,
    pub facility: String,
    pub visit: Visit,
    pub rule_set: RuleSet,
    /// The card profile file, if the patient brings a card.
    pub card: Option<PathBuf>,
    /// Insurance record held by the service; `None` means the service knows no one.
    pub insurance: Option<Insurance>,
    /// Income, the month's cost, what the patient can tell.
    pub patient: PatientInputs,
    pub consent_history: Vec<PastConsent>,
    pub service: ServiceFault,
    /// The camera; `None` means the card profile's patient, live, with default settings.
    pub camera: Option<Camera>,
    /// The reference reader's matcher settings (a device under test uses its own).
    pub matcher: MatcherSettings,
    pub step_deadline: Duration,
    pub steps: Vec<Step>,
    pub expect: Expect,
    /// The scenario variables its file declares (`vars`, `matrix`, also through includes) or
    /// refers to (`${name}`): a `--var` no selected file knows is a mistake.
    pub variables: Vec<String>,
}

/// The attack species of a scenario name (`print_greyscale` for camera-replay's
/// `print-greyscale`); `Err` is a hint listing them.
pub fn attack_species(name: &str) -> Result<camera_replay::attack::AttackSpecies, String> {
    use camera_replay::attack::AttackSpecies;
    AttackSpecies::from_name(&name.replace('_', "-"))
        .map_err(|_| format!("one of: {}", attack_names().join(", ")))
}

/// The APDU-level conformance checks, in the order they run: the destructive ones (they
/// spend PIN tries or change a PIN, so they leave the card changed and are refused on real
/// cards) come last. The names are the case ids' last part; `conformance` implements each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConformanceCheck {
    SelectJpkiAp,
    SelectMasterFile,
    SelectUnknownAid,
    SelectOtherAps,
    TokenInfo,
    AuthenticationCertificate,
    CaCertificate,
    SignatureCertificateLocked,
    EmptyVerify,
    ReadPastEnd,
    WrongP1P2,
    WrongLength,
    UnknownInstruction,
    GetChallenge,
    SignNeedsPin,
    VerifyAndSign,
    SelectClearsVerified,
    TextSupportMyNumber,
    SurfaceRecord,
    WrongPinThenRight,
    ChangeReferenceData,
    PinBlocks,
}

impl ConformanceCheck {
    /// Every check with its name, in the order they run.
    pub const ALL: [(ConformanceCheck, &'static str); 22] = [
        (ConformanceCheck::SelectJpkiAp, "select_jpki_ap"),
        (
            ConformanceCheck::SelectMasterFile,
            "select_master_file_is_not_supported",
        ),
        (ConformanceCheck::SelectUnknownAid, "select_unknown_aid"),
        (
            ConformanceCheck::SelectOtherAps,
            "select_text_support_and_surface_aps",
        ),
        (ConformanceCheck::TokenInfo, "token_info"),
        (
            ConformanceCheck::AuthenticationCertificate,
            "authentication_certificate",
        ),
        (
            ConformanceCheck::CaCertificate,
            "ca_certificate_readable_without_pin",
        ),
        (
            ConformanceCheck::SignatureCertificateLocked,
            "signature_certificate_needs_password",
        ),
        (
            ConformanceCheck::EmptyVerify,
            "empty_verify_reports_tries_left",
        ),
        (ConformanceCheck::ReadPastEnd, "read_binary_past_end"),
        (ConformanceCheck::WrongP1P2, "wrong_p1_p2"),
        (ConformanceCheck::WrongLength, "wrong_length"),
        (ConformanceCheck::UnknownInstruction, "unknown_instruction"),
        (ConformanceCheck::GetChallenge, "get_challenge"),
        (ConformanceCheck::SignNeedsPin, "sign_needs_verified_pin"),
        (
            ConformanceCheck::VerifyAndSign,
            "authentication_pin_verify_and_sign",
        ),
        (
            ConformanceCheck::SelectClearsVerified,
            "select_clears_verified_state",
        ),
        (
            ConformanceCheck::TextSupportMyNumber,
            "text_support_my_number",
        ),
        (
            ConformanceCheck::SurfaceRecord,
            "surface_record_with_code_b",
        ),
        (
            ConformanceCheck::WrongPinThenRight,
            "wrong_pin_counts_down_and_success_resets",
        ),
        (
            ConformanceCheck::ChangeReferenceData,
            "change_reference_data",
        ),
        (ConformanceCheck::PinBlocks, "pin_blocks_after_three_wrong"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }

    /// Spends PIN tries or changes a PIN.
    pub fn destructive(self) -> bool {
        use ConformanceCheck::*;
        matches!(
            self,
            VerifyAndSign
                | SelectClearsVerified
                | TextSupportMyNumber
                | SurfaceRecord
                | WrongPinThenRight
                | ChangeReferenceData
                | PinBlocks
        )
    }
}

/// The conformance cases of `cards`: one per (card, check), with ids
/// `STEM[PROFILE].CHECK`. A `conformance:` scenario file and `myna-hil conformance` both
/// build their cases here, so a check has one id scheme and one runner.
pub fn conformance_cases(
    file: &std::path::Path,
    stem: &str,
    title: &str,
    tags: &[String],
    cards: &[PathBuf],
    step_deadline: Duration,
) -> Vec<Case> {
    let mut cases = Vec::new();
    for card in cards {
        let profile = card
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (check, name) in ConformanceCheck::ALL {
            cases.push(Case {
                id: format!("{stem}[{profile}].{name}"),
                kind: CaseKind::Conformance { check },
                file: file.to_path_buf(),
                title: title.to_owned(),
                tags: tags.to_vec(),
                date: time::macros::date!(2025 - 11 - 04),
                date_at: None,
                facility: String::new(),
                visit: Visit::First,
                rule_set: RuleSet::Seed,
                card: Some(card.clone()),
                insurance: None,
                patient: PatientInputs::default(),
                consent_history: Vec::new(),
                service: ServiceFault::None,
                camera: None,
                matcher: MatcherSettings::default(),
                step_deadline,
                steps: Vec::new(),
                expect: Expect::default(),
                variables: Vec::new(),
            });
        }
    }
    cases
}
