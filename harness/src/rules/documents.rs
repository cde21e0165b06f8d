//! Which documents are accepted, by date and rule set, as one table of dated rows (docs/reception-rules.md,
//! "Fallback ladder when the card path fails" and "Certificate validity").
//!
//! The table's order is the oracle's preference when several rows accept: first the ladder's
//! steps that go with the card (Mynaportal screen, its PDF, 資格情報のお知らせ), then the
//! documents that stand alone (資格確認書, old 健康保険証), then the interim rule's
//! online-lookup rows \[soft: the sources order only the ladder].

use super::route::Route;
use super::rule_set::RuleSet;
use time::macros::date;
use time::Date;

/// A document the patient shows at the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Document {
    /// The Mynaportal qualification screen (on the patient's phone).
    PortalScreen,
    /// The downloaded PDF of that screen.
    PortalPdf,
    /// 資格情報のお知らせ, sent by the insurer.
    QualificationNotice,
    /// 資格確認書, valid to `valid_until` inclusive.
    QualificationCertificate { valid_until: Date },
    /// The old 健康保険証; `valid_until` is the date printed on it, if any (inclusive).
    OldInsuranceCard { valid_until: Option<Date> },
}

/// A document's kind, without its dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    PortalScreen,
    PortalPdf,
    QualificationNotice,
    QualificationCertificate,
    OldInsuranceCard,
}

impl Document {
    pub const fn kind(&self) -> DocumentKind {
        match self {
            Document::PortalScreen => DocumentKind::PortalScreen,
            Document::PortalPdf => DocumentKind::PortalPdf,
            Document::QualificationNotice => DocumentKind::QualificationNotice,
            Document::QualificationCertificate { .. } => DocumentKind::QualificationCertificate,
            Document::OldInsuranceCard { .. } => DocumentKind::OldInsuranceCard,
        }
    }

    /// Whether the document's own printed validity covers `on` (always, for documents
    /// without one).
    pub fn valid_on(&self, on: Date) -> bool {
        match self {
            Document::QualificationCertificate { valid_until } => on <= *valid_until,
            Document::OldInsuranceCard { valid_until } => valid_until.is_none_or(|last| on <= last),
            Document::PortalScreen | Document::PortalPdf | Document::QualificationNotice => true,
        }
    }
}

impl DocumentKind {
    /// The route a document of this kind confirms by.
    pub const fn route(self) -> Route {
        match self {
            DocumentKind::PortalScreen => Route::PortalScreen,
            DocumentKind::PortalPdf => Route::PortalPdf,
            DocumentKind::QualificationNotice => Route::QualificationNotice,
            DocumentKind::QualificationCertificate => Route::QualificationCertificate,
            DocumentKind::OldInsuranceCard => Route::OldInsuranceCard,
        }
    }
}

/// Whether a row needs the document's own printed validity to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnValidity {
    /// The document must be within its printed validity.
    MustHold,
    /// Accepted even when expired (the interim rule's lookup confirms instead).
    MayBeExpired,
}

/// The facts a row is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Circumstances {
    pub on: Date,
    pub rule_set: RuleSet,
    /// The card was presented and its path failed (including a certificate beyond grace).
    pub card_failed: bool,
    /// An online lookup by the document's numbers confirms the qualification.
    pub lookup_confirms: bool,
}

/// One dated acceptance rule.
#[derive(Debug, Clone, Copy)]
pub struct Acceptance {
    /// The rule's name in reports (`Outcome::rule`).
    pub rule: &'static str,
    pub kind: DocumentKind,
    pub rule_sets: &'static [RuleSet],
    /// First day in force (`Date::MIN`: the sources give no start; in force for every date
    /// the oracle judges).
    pub since: Date,
    /// Last day in force, inclusive (`None`: open).
    pub until: Option<Date>,
    /// Only together with the card, after its path failed.
    pub with_card: bool,
    /// Only when an online lookup by the document's numbers confirms the qualification.
    pub online_lookup: bool,
    pub own_validity: OwnValidity,
    /// Where the rule comes from.
    pub source: &'static str,
}

impl Acceptance {
    /// Whether this row accepts `document` in `c`.
    pub fn accepts(&self, document: &Document, c: &Circumstances) -> bool {
        document.kind() == self.kind
            && self.rule_sets.contains(&c.rule_set)
            && self.since <= c.on
            && self.until.is_none_or(|last| c.on <= last)
            && (!self.with_card || c.card_failed)
            && (!self.online_lookup || c.lookup_confirms)
            && (self.own_validity == OwnValidity::MayBeExpired || document.valid_on(c.on))
    }
}

const EVERY_RULE_SET: &[RuleSet] = &[RuleSet::Seed, RuleSet::Interim2026];
const INTERIM_2026: &[RuleSet] = &[RuleSet::Interim2026];

/// The first day a 資格確認書 exists (docs/reception-rules.md: "issued from 2024-12-02" \[firm]).
pub const QUALIFICATION_CERTIFICATE_SINCE: Date = date!(2024 - 12 - 02);
/// The last day the old 健康保険証 is accepted under the seed (docs/reception-rules.md: "Until 2025-12-01"
/// \[firm], read as inclusive).
pub const OLD_INSURANCE_CARD_UNTIL: Date = date!(2025 - 12 - 01);
/// The last day of the interim rule (docs/reception-rules.md: "Interim rule to 2026-03-31" \[soft]).
pub const INTERIM_UNTIL: Date = date!(2026 - 03 - 31);

/// The acceptance table, in the oracle's order of preference.
pub const ACCEPTANCES: &[Acceptance] = &[
    Acceptance {
        rule: "ladder.portal_screen",
        kind: DocumentKind::PortalScreen,
        rule_sets: EVERY_RULE_SET,
        since: Date::MIN,
        until: None,
        with_card: true,
        online_lookup: false,
        own_validity: OwnValidity::MustHold,
        source: "docs/reception-rules.md, Fallback ladder 1: Mynaportal qualification screen, with the card [firm]",
    },
    Acceptance {
        rule: "ladder.portal_pdf",
        kind: DocumentKind::PortalPdf,
        rule_sets: EVERY_RULE_SET,
        since: Date::MIN,
        until: None,
        with_card: true,
        online_lookup: false,
        own_validity: OwnValidity::MustHold,
        source: "docs/reception-rules.md, Fallback ladder 1: its downloaded PDF, with the card [firm]",
    },
    Acceptance {
        rule: "ladder.notice_with_card",
        kind: DocumentKind::QualificationNotice,
        rule_sets: EVERY_RULE_SET,
        since: Date::MIN,
        until: None,
        with_card: true,
        online_lookup: false,
        own_validity: OwnValidity::MustHold,
        source: "docs/reception-rules.md, Fallback ladder 2: 資格情報のお知らせ with the card (alone not enough) [firm]",
    },
    Acceptance {
        rule: "documents.qualification_certificate",
        kind: DocumentKind::QualificationCertificate,
        rule_sets: EVERY_RULE_SET,
        since: QUALIFICATION_CERTIFICATE_SINCE,
        until: None,
        with_card: false,
        online_lookup: false,
        own_validity: OwnValidity::MustHold,
        source: "docs/reception-rules.md: a 資格確認書 (issued from 2024-12-02) is accepted any time it is valid [firm]",
    },
    Acceptance {
        rule: "documents.old_insurance_card",
        kind: DocumentKind::OldInsuranceCard,
        rule_sets: EVERY_RULE_SET,
        since: Date::MIN,
        until: Some(OLD_INSURANCE_CARD_UNTIL),
        with_card: false,
        online_lookup: false,
        own_validity: OwnValidity::MustHold,
        source: "docs/reception-rules.md: until 2025-12-01 the old 健康保険証 is also accepted [firm]",
    },
    Acceptance {
        rule: "interim-2026.old_card_with_lookup",
        kind: DocumentKind::OldInsuranceCard,
        rule_sets: INTERIM_2026,
        since: Date::MIN,
        until: Some(INTERIM_UNTIL),
        with_card: false,
        online_lookup: true,
        own_validity: OwnValidity::MayBeExpired,
        source: "docs/reception-rules.md, interim rule to 2026-03-31: an expired 健康保険証, when an online lookup confirms [soft]",
    },
    Acceptance {
        rule: "interim-2026.notice_with_lookup",
        kind: DocumentKind::QualificationNotice,
        rule_sets: INTERIM_2026,
        since: Date::MIN,
        until: Some(INTERIM_UNTIL),
        with_card: false,
        online_lookup: true,
        own_validity: OwnValidity::MustHold,
        source: "docs/reception-rules.md, interim rule to 2026-03-31: a 資格情報のお知らせ on its own, when an online lookup confirms [soft]",
    },
];

/// Every (row, document) pair that accepts, in the table's order of preference.
pub fn accepted<'a>(
    documents: &'a [Document],
    c: &'a Circumstances,
) -> impl Iterator<Item = (&'static Acceptance, &'a Document)> + 'a {
    ACCEPTANCES.iter().flat_map(move |row| {
        documents
            .iter()
            .filter(move |document| row.accepts(document, c))
            .map(move |document| (row, document))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circumstances(
        on: Date,
        rule_set: RuleSet,
        card_failed: bool,
        lookup: bool,
    ) -> Circumstances {
        Circumstances {
            on,
            rule_set,
            card_failed,
            lookup_confirms: lookup,
        }
    }

    fn rules(document: Document, c: Circumstances) -> Vec<&'static str> {
        accepted(&[document], &c).map(|(row, _)| row.rule).collect()
    }

    #[test]
    fn portal_and_notice_need_the_failed_card() {
        let with_card = circumstances(date!(2025 - 06 - 01), RuleSet::Seed, true, true);
        let alone = circumstances(date!(2025 - 06 - 01), RuleSet::Seed, false, true);
        for (document, rule) in [
            (Document::PortalScreen, "ladder.portal_screen"),
            (Document::PortalPdf, "ladder.portal_pdf"),
            (Document::QualificationNotice, "ladder.notice_with_card"),
        ] {
            assert_eq!(rules(document, with_card), vec![rule]);
            assert!(rules(document, alone).is_empty(), "{rule} alone");
        }
    }

    #[test]
    fn qualification_certificate_from_2024_12_02_while_valid() {
        let certificate = Document::QualificationCertificate {
            valid_until: date!(2026 - 07 - 31),
        };
        for rule_set in RuleSet::ALL {
            let on = |day| circumstances(day, rule_set, false, false);
            assert!(rules(certificate, on(date!(2024 - 12 - 01))).is_empty());
            assert_eq!(
                rules(certificate, on(date!(2024 - 12 - 02))),
                vec!["documents.qualification_certificate"]
            );
            assert_eq!(rules(certificate, on(date!(2026 - 07 - 31))).len(), 1);
            assert!(rules(certificate, on(date!(2026 - 08 - 01))).is_empty());
        }
    }

    #[test]
    fn old_card_to_2025_12_01_inclusive_under_seed() {
        let card = Document::OldInsuranceCard { valid_until: None };
        let seed = |day| circumstances(day, RuleSet::Seed, false, true);
        assert_eq!(
            rules(card, seed(date!(2025 - 12 - 01))),
            vec!["documents.old_insurance_card"]
        );
        assert!(rules(card, seed(date!(2025 - 12 - 02))).is_empty());
    }

    #[test]
    fn old_card_with_its_own_expiry_passed_is_refused_under_seed() {
        let card = Document::OldInsuranceCard {
            valid_until: Some(date!(2025 - 07 - 31)),
        };
        let seed = |day| circumstances(day, RuleSet::Seed, false, true);
        assert_eq!(rules(card, seed(date!(2025 - 07 - 31))).len(), 1);
        assert!(rules(card, seed(date!(2025 - 08 - 01))).is_empty());
    }

    #[test]
    fn interim_accepts_expired_old_card_with_lookup_to_2026_03_31() {
        let card = Document::OldInsuranceCard {
            valid_until: Some(date!(2025 - 12 - 01)),
        };
        let interim = |day, lookup| circumstances(day, RuleSet::Interim2026, false, lookup);
        assert_eq!(
            rules(card, interim(date!(2025 - 12 - 02), true)),
            vec!["interim-2026.old_card_with_lookup"]
        );
        assert_eq!(rules(card, interim(date!(2026 - 03 - 31), true)).len(), 1);
        assert!(rules(card, interim(date!(2026 - 04 - 01), true)).is_empty());
        assert!(rules(card, interim(date!(2026 - 01 - 05), false)).is_empty());
    }

    #[test]
    fn interim_accepts_notice_alone_with_lookup_to_2026_03_31() {
        let notice = Document::QualificationNotice;
        let interim = |day, lookup| circumstances(day, RuleSet::Interim2026, false, lookup);
        assert_eq!(
            rules(notice, interim(date!(2026 - 03 - 31), true)),
            vec!["interim-2026.notice_with_lookup"]
        );
        assert!(rules(notice, interim(date!(2026 - 04 - 01), true)).is_empty());
        assert!(rules(notice, interim(date!(2026 - 03 - 31), false)).is_empty());
        let seed = circumstances(date!(2026 - 03 - 31), RuleSet::Seed, false, true);
        assert!(rules(notice, seed).is_empty());
    }

    #[test]
    fn preference_follows_the_table_not_the_order_shown() {
        let documents = [
            Document::OldInsuranceCard { valid_until: None },
            Document::QualificationNotice,
            Document::PortalScreen,
        ];
        let c = circumstances(date!(2025 - 06 - 01), RuleSet::Seed, true, true);
        let order: Vec<_> = accepted(&documents, &c)
            .map(|(row, _)| row.kind.route())
            .collect();
        assert_eq!(
            order,
            vec![
                Route::PortalScreen,
                Route::QualificationNotice,
                Route::OldInsuranceCard
            ]
        );
    }
}
