//! Consent to share data with the facility, as the face-authentication card reader asks it
//! (docs/reception-rules.md, "The face-authentication card reader": "agree to all" or "choose
//! individually" — past surgery; care and medication other than surgery; medication; health
//! checkups. On a return visit to the same facility the earlier choices can be reused as-is or
//! re-chosen; consent is never shared between facilities).
//!
//! [`ConsentStore`] keeps the latest choice per (patient, facility). A lookup is by the exact
//! pair, so nothing can be carried to another facility.

use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;
use time::Date;

/// One item of the "choose individually" screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentItem {
    /// Past surgery (手術情報).
    PastSurgery,
    /// Care and medication other than surgery (診療情報).
    CareAndMedication,
    /// Medication (薬剤情報).
    Medication,
    /// Health checkups (健診情報).
    HealthCheckups,
}

impl ConsentItem {
    /// Every item, in the screen's order.
    pub const ALL: [ConsentItem; 4] = [
        ConsentItem::PastSurgery,
        ConsentItem::CareAndMedication,
        ConsentItem::Medication,
        ConsentItem::HealthCheckups,
    ];

    /// Every item with its name, in the screen's order: the one owner of these names.
    /// Scenarios (`consent: [past_surgery, medication]`), the scenario schema and the
    /// adapter protocol's wire (`"items": ["health_checkups"]`) all say them.
    pub const NAMES: [(&'static str, ConsentItem); 4] = [
        ("past_surgery", ConsentItem::PastSurgery),
        ("care_and_medication", ConsentItem::CareAndMedication),
        ("medication", ConsentItem::Medication),
        ("health_checkups", ConsentItem::HealthCheckups),
    ];

    /// This item's name (see [`ConsentItem::NAMES`]).
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, item)| *item == self)
            .map_or("", |(name, _)| name)
    }

    /// The item called `name` (see [`ConsentItem::NAMES`]).
    pub fn from_name(name: &str) -> Option<ConsentItem> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, item)| *item)
    }

    const fn bit(self) -> u8 {
        match self {
            ConsentItem::PastSurgery => 1,
            ConsentItem::CareAndMedication => 2,
            ConsentItem::Medication => 4,
            ConsentItem::HealthCheckups => 8,
        }
    }
}

/// A set of consent items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConsentItems {
    bits: u8,
}

impl ConsentItems {
    /// No item.
    pub const fn none() -> Self {
        ConsentItems { bits: 0 }
    }

    /// Every item.
    pub const fn all() -> Self {
        ConsentItems { bits: 0b1111 }
    }

    /// This set plus `item`.
    pub const fn with(self, item: ConsentItem) -> Self {
        ConsentItems {
            bits: self.bits | item.bit(),
        }
    }

    pub const fn contains(self, item: ConsentItem) -> bool {
        self.bits & item.bit() != 0
    }

    /// The items in the screen's order.
    pub fn iter(self) -> impl Iterator<Item = ConsentItem> {
        ConsentItem::ALL
            .into_iter()
            .filter(move |item| self.contains(*item))
    }
}

impl FromIterator<ConsentItem> for ConsentItems {
    fn from_iter<I: IntoIterator<Item = ConsentItem>>(items: I) -> Self {
        items
            .into_iter()
            .fold(ConsentItems::none(), ConsentItems::with)
    }
}

/// What the patient chose on the consent screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentChoice {
    /// "Agree to all".
    AgreeToAll,
    /// "Choose individually": the items agreed to (possibly none).
    Individually(ConsentItems),
}

impl ConsentChoice {
    pub const fn agrees_to(self, item: ConsentItem) -> bool {
        match self {
            ConsentChoice::AgreeToAll => true,
            ConsentChoice::Individually(items) => items.contains(item),
        }
    }

    /// The items agreed to.
    pub const fn agreed(self) -> ConsentItems {
        match self {
            ConsentChoice::AgreeToAll => ConsentItems::all(),
            ConsentChoice::Individually(items) => items,
        }
    }
}

/// A patient, as the store keys them (any stable identifier the scenario uses).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatientId(pub String);

/// A medical facility (医療機関・薬局).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FacilityId(pub String);

impl fmt::Display for PatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for FacilityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Rule ids of the consent steps.
pub mod rule_names {
    /// An earlier consent at the same facility: a reuse applies it as it is.
    pub const REUSE: &str = "consent.reuse";
    /// No earlier consent at this facility: a reuse is refused.
    pub const NOTHING_TO_REUSE: &str = "consent.nothing_to_reuse";
}

/// The consent step of one visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStep {
    /// Reuse the earlier choice at this facility as-is (offered on a return visit only).
    Reuse,
    /// Choose (again).
    Choose(ConsentChoice),
}

/// The choice held for one (patient, facility).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentRecord {
    pub choice: ConsentChoice,
    /// The day the choice was made.
    pub chosen_on: Date,
    /// The last visit that used it (the choice day, or a later reuse).
    pub last_used_on: Date,
}

/// Why a consent step was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsentError {
    #[error("patient {patient} has no earlier consent at facility {facility} to reuse")]
    NothingToReuse {
        patient: PatientId,
        facility: FacilityId,
    },
}

/// Consent choices keyed by (patient, facility).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentStore {
    records: BTreeMap<(PatientId, FacilityId), ConsentRecord>,
}

impl ConsentStore {
    pub fn new() -> Self {
        ConsentStore::default()
    }

    /// The earlier choice of `patient` at `facility`, if any; never one made elsewhere.
    pub fn earlier(&self, patient: &PatientId, facility: &FacilityId) -> Option<&ConsentRecord> {
        self.records.get(&(patient.clone(), facility.clone()))
    }

    /// Whether the reader should offer "reuse the earlier choice" on this visit.
    pub fn offers_reuse(&self, patient: &PatientId, facility: &FacilityId) -> bool {
        self.earlier(patient, facility).is_some()
    }

    /// Applies the consent step of a visit on `on` and returns the choice in force for it.
    /// Reusing needs an earlier choice at the same facility.
    pub fn visit(
        &mut self,
        patient: &PatientId,
        facility: &FacilityId,
        on: Date,
        step: ConsentStep,
    ) -> Result<ConsentChoice, ConsentError> {
        let key = (patient.clone(), facility.clone());
        match step {
            ConsentStep::Reuse => {
                let record =
                    self.records
                        .get_mut(&key)
                        .ok_or_else(|| ConsentError::NothingToReuse {
                            patient: patient.clone(),
                            facility: facility.clone(),
                        })?;
                record.last_used_on = on;
                Ok(record.choice)
            }
            ConsentStep::Choose(choice) => {
                self.records.insert(
                    key,
                    ConsentRecord {
                        choice,
                        chosen_on: on,
                        last_used_on: on,
                    },
                );
                Ok(choice)
            }
        }
    }

    /// The number of (patient, facility) pairs held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn every_item_has_one_name() {
        for item in ConsentItem::ALL {
            assert_eq!(ConsentItem::from_name(item.name()), Some(item));
        }
        assert_eq!(ConsentItem::from_name("surgery"), None);
    }

    fn ids() -> (PatientId, FacilityId, FacilityId) {
        (
            PatientId("p-1".into()),
            FacilityId("clinic-a".into()),
            FacilityId("pharmacy-b".into()),
        )
    }

    #[test]
    fn agree_to_all_covers_every_item() {
        for item in ConsentItem::ALL {
            assert!(ConsentChoice::AgreeToAll.agrees_to(item));
        }
        assert_eq!(ConsentChoice::AgreeToAll.agreed().iter().count(), 4);
    }

    #[test]
    fn individual_items_are_kept_apart() {
        let items: ConsentItems = [ConsentItem::Medication, ConsentItem::HealthCheckups]
            .into_iter()
            .collect();
        let choice = ConsentChoice::Individually(items);
        assert!(choice.agrees_to(ConsentItem::Medication));
        assert!(choice.agrees_to(ConsentItem::HealthCheckups));
        assert!(!choice.agrees_to(ConsentItem::PastSurgery));
        assert!(!choice.agrees_to(ConsentItem::CareAndMedication));
        assert_eq!(
            items.iter().collect::<Vec<_>>(),
            vec![ConsentItem::Medication, ConsentItem::HealthCheckups]
        );
        let nothing = ConsentChoice::Individually(ConsentItems::none());
        assert!(ConsentItem::ALL
            .iter()
            .all(|item| !nothing.agrees_to(*item)));
    }

    #[test]
    fn first_visit_cannot_reuse() {
        let (patient, clinic, _) = ids();
        let mut store = ConsentStore::new();
        assert!(!store.offers_reuse(&patient, &clinic));
        let err = store
            .visit(&patient, &clinic, date!(2025 - 06 - 01), ConsentStep::Reuse)
            .expect_err("nothing to reuse");
        assert_eq!(
            err,
            ConsentError::NothingToReuse {
                patient,
                facility: clinic
            }
        );
        assert!(store.is_empty());
    }

    #[test]
    fn return_visit_reuses_the_earlier_choice() {
        let (patient, clinic, _) = ids();
        let mut store = ConsentStore::new();
        let choice =
            ConsentChoice::Individually(ConsentItems::none().with(ConsentItem::PastSurgery));
        store
            .visit(
                &patient,
                &clinic,
                date!(2025 - 06 - 01),
                ConsentStep::Choose(choice),
            )
            .expect("choose");
        assert!(store.offers_reuse(&patient, &clinic));
        let reused = store
            .visit(&patient, &clinic, date!(2025 - 07 - 01), ConsentStep::Reuse)
            .expect("reuse");
        assert_eq!(reused, choice);
        let record = store.earlier(&patient, &clinic).expect("held");
        assert_eq!(
            (record.chosen_on, record.last_used_on),
            (date!(2025 - 06 - 01), date!(2025 - 07 - 01))
        );
    }

    #[test]
    fn return_visit_can_choose_again() {
        let (patient, clinic, _) = ids();
        let mut store = ConsentStore::new();
        store
            .visit(
                &patient,
                &clinic,
                date!(2025 - 06 - 01),
                ConsentStep::Choose(ConsentChoice::AgreeToAll),
            )
            .expect("choose");
        let narrower =
            ConsentChoice::Individually(ConsentItems::none().with(ConsentItem::Medication));
        store
            .visit(
                &patient,
                &clinic,
                date!(2025 - 07 - 01),
                ConsentStep::Choose(narrower),
            )
            .expect("re-choose");
        assert_eq!(
            store.earlier(&patient, &clinic).map(|r| r.choice),
            Some(narrower)
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn consent_is_never_carried_to_another_facility() {
        let (patient, clinic, pharmacy) = ids();
        let mut store = ConsentStore::new();
        store
            .visit(
                &patient,
                &clinic,
                date!(2025 - 06 - 01),
                ConsentStep::Choose(ConsentChoice::AgreeToAll),
            )
            .expect("choose");
        assert!(!store.offers_reuse(&patient, &pharmacy));
        assert!(store.earlier(&patient, &pharmacy).is_none());
        assert!(store
            .visit(
                &patient,
                &pharmacy,
                date!(2025 - 06 - 02),
                ConsentStep::Reuse
            )
            .is_err());
        let other = PatientId("p-2".into());
        assert!(!store.offers_reuse(&other, &clinic));
    }
}
