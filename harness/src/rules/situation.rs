//! What the oracle is asked about: one patient at one reception counter on one day.

use super::copayment::{copayment_percent, IncomeClass};
use super::documents::Document;
use super::high_cost::LimitCategory;
use super::route::Route;
use super::rule_set::RuleSet;
use time::Date;

/// First visit to this facility, or a return visit (the facility already holds the patient's
/// details).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Visit {
    #[default]
    First,
    Return,
}

/// How the card path authenticated the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Face authentication at the reader → `card_face`.
    Face,
    /// 4-digit PIN (also the smartphone token) → `card_pin`.
    Pin,
    /// Staff visual check (目視確認) → `card_visual`.
    Visual,
}

impl AuthMethod {
    /// The card route of this method.
    pub const fn route(self) -> Route {
        match self {
            AuthMethod::Face => Route::CardFace,
            AuthMethod::Pin => Route::CardPin,
            AuthMethod::Visual => Route::CardVisual,
        }
    }
}

/// Why the card path failed. Every failure leads to the fallback ladder; the oracle does not
/// distinguish them except [`CardFailure::ServiceDown`], which (by the rule set's policy) also
/// rules out an online lookup by a document's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardFailure {
    /// The reader could not talk to the card (broken card, reader fault, removed card).
    ReaderError,
    /// The PIN is blocked and no other method was used.
    PinLocked,
    /// Face authentication failed (including its lock after 10 failures) and no other
    /// method was used.
    FaceMismatch,
    /// The certificate is beyond its grace period.
    CertificateExpired,
    /// The certificate was revoked.
    CertificateRevoked,
    /// The card is not registered for insurance use.
    NotRegistered,
    /// The qualification service (online qualification check) did not answer.
    ServiceDown,
    /// The service answered but found no qualification record for the card.
    NoRecord,
    /// The patient stopped before the end (walked away, declined the screens).
    Abandoned,
}

impl CardFailure {
    /// Every failure.
    pub const ALL: [CardFailure; 9] = [
        CardFailure::ReaderError,
        CardFailure::PinLocked,
        CardFailure::FaceMismatch,
        CardFailure::CertificateExpired,
        CardFailure::CertificateRevoked,
        CardFailure::NotRegistered,
        CardFailure::ServiceDown,
        CardFailure::NoRecord,
        CardFailure::Abandoned,
    ];
}

/// How the card path ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardPath {
    /// The patient was authenticated and the service answered. The certificate's expiry
    /// decides whether this is a card route (valid, or in grace with qualification data only)
    /// or a failure (beyond grace).
    Succeeded {
        method: AuthMethod,
        certificate_not_after: Date,
    },
    Failed(CardFailure),
}

/// Whether the My Number Card was presented at the reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CardPresentation {
    #[default]
    NotPresented,
    Presented {
        path: CardPath,
    },
}

/// The patient as the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Patient {
    pub birth: Date,
    /// Decides the co-payment share.
    pub income: IncomeClass,
    /// Decides the high-cost limit (the qualification result's code).
    pub limit: LimitCategory,
    /// The qualification is valid on the day (QualificationValidity 1). When `false`, no route
    /// confirms it: `not_confirmed`, share 100%.
    pub insured: bool,
}

impl Patient {
    /// An insured patient whose income class follows the limit category
    /// ([`LimitCategory::copayment_income`]).
    pub const fn new(birth: Date, limit: LimitCategory) -> Self {
        Patient {
            birth,
            income: limit.copayment_income(),
            limit,
            insured: true,
        }
    }

    /// The same patient with another co-payment income class (e.g. 一定以上所得, which the
    /// limit category does not show).
    pub const fn with_income(self, income: IncomeClass) -> Self {
        Patient { income, ..self }
    }

    /// The same patient with an invalid qualification.
    pub const fn uninsured(self) -> Self {
        Patient {
            insured: false,
            ..self
        }
    }

    /// The normal share on `on`.
    pub fn copayment_percent(&self, on: Date) -> u8 {
        copayment_percent(self.birth, on, self.income)
    }

    /// The rule (row of the co-payment table) that decides the normal share on `on`.
    pub fn share_rule(&self, on: Date) -> &'static str {
        super::copayment::share_row(self.birth, on, self.income).map_or("share.default", |r| r.rule)
    }
}

/// One reception: the question the oracle answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    /// The day of the visit: the rules in force on this day apply.
    pub on: Date,
    pub rule_set: RuleSet,
    pub visit: Visit,
    pub card: CardPresentation,
    /// Everything else the patient shows at the counter.
    pub documents: Vec<Document>,
    pub patient: Patient,
    /// The facility can look a qualification up online by a document's numbers (needed by the
    /// interim rule). The lookup confirms only an insured patient.
    pub online_lookup: bool,
    /// The patient can name their insurer on the statement form. When not, the claim uses
    /// the rule set's unknown-insurer number (77777777). (A return visit's verbal check
    /// takes it from the facility's records; card and document routes show it.)
    pub insurer_known: bool,
}

impl Situation {
    /// A first visit under the seed rules, no card, no documents, online lookup available,
    /// insurer known.
    pub fn new(on: Date, patient: Patient) -> Self {
        Situation {
            on,
            rule_set: RuleSet::Seed,
            visit: Visit::First,
            card: CardPresentation::NotPresented,
            documents: Vec::new(),
            patient,
            online_lookup: true,
            insurer_known: true,
        }
    }

    pub fn with_rule_set(mut self, rule_set: RuleSet) -> Self {
        self.rule_set = rule_set;
        self
    }

    pub fn with_visit(mut self, visit: Visit) -> Self {
        self.visit = visit;
        self
    }

    /// The card was presented and its path ended as `path`.
    pub fn with_card(mut self, path: CardPath) -> Self {
        self.card = CardPresentation::Presented { path };
        self
    }

    pub fn with_document(mut self, document: Document) -> Self {
        self.documents.push(document);
        self
    }

    pub fn with_online_lookup(mut self, available: bool) -> Self {
        self.online_lookup = available;
        self
    }

    pub fn with_insurer_known(mut self, known: bool) -> Self {
        self.insurer_known = known;
        self
    }
}
