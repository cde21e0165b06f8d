//! The patient's income class as the insurer records it (a scenario's `income:`), and what
//! follows from it: the co-payment class ([`IncomeClass`]) and the high-cost limit categories
//! it goes with (docs/reception-rules.md, "Income classes").
//!
//! The classes are those of the 70-and-over system (一般, 一定以上所得, 現役並みⅠ-Ⅲ,
//! 低所得Ⅰ/Ⅱ). Under 70 the same income falls in one of the brackets ア-オ(境), whose
//! amounts are those of the 70+ class of the same income (現役並みⅢ = ア, Ⅱ = イ, Ⅰ = ウ;
//! 一般 = ウ or エ; 低所得 = オ or オ(境)), so a class goes with its B code and with the A codes
//! of the same income.

use super::copayment::{seventy_plus_rules, IncomeClass};
use super::high_cost::LimitCategory;
use time::Date;

/// An income class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Income {
    /// 一般.
    General,
    /// 一定以上所得 (後期高齢者 only: 20 % from 2022-10-01; 一般 before 75 and for the limit).
    CertainIncome,
    /// 現役並みⅠ (課税所得 145万円以上).
    ActiveI,
    /// 現役並みⅡ (380万円以上).
    ActiveII,
    /// 現役並みⅢ (690万円以上).
    ActiveIII,
    /// 低所得Ⅱ (住民税非課税).
    LowII,
    /// 低所得Ⅰ (住民税非課税, income 0 after deductions).
    LowI,
}

use LimitCategory as L;

impl Income {
    /// Every class, with the name a scenario writes.
    pub const NAMES: [(&'static str, Income); 7] = [
        ("general", Income::General),
        ("certain_income", Income::CertainIncome),
        ("active_i", Income::ActiveI),
        ("active_ii", Income::ActiveII),
        ("active_iii", Income::ActiveIII),
        ("low_ii", Income::LowII),
        ("low_i", Income::LowI),
    ];

    /// The scenario's name of the class.
    pub fn name(self) -> &'static str {
        Income::NAMES
            .iter()
            .find(|(_, i)| *i == self)
            .map_or("general", |(n, _)| n)
    }

    /// The Japanese name.
    pub const fn label(self) -> &'static str {
        match self {
            Income::General => "一般",
            Income::CertainIncome => "一定以上所得",
            Income::ActiveI => "現役並みⅠ",
            Income::ActiveII => "現役並みⅡ",
            Income::ActiveIII => "現役並みⅢ",
            Income::LowII => "低所得Ⅱ",
            Income::LowI => "低所得Ⅰ",
        }
    }

    /// The class that decides the co-payment share: 低所得 pays as 一般.
    pub const fn copayment_class(self) -> IncomeClass {
        match self {
            Income::General | Income::LowII | Income::LowI => IncomeClass::General,
            Income::CertainIncome => IncomeClass::CertainIncome,
            Income::ActiveI | Income::ActiveII | Income::ActiveIII => IncomeClass::ActiveLevel,
        }
    }

    /// The limit categories this income goes with: its 70+ code first, then the under-70
    /// brackets of the same income.
    pub const fn limit_categories(self) -> &'static [LimitCategory] {
        match self {
            Income::General | Income::CertainIncome => &[L::General, L::U, L::E],
            Income::ActiveI => &[L::ActiveI, L::U],
            Income::ActiveII => &[L::ActiveII, L::I],
            Income::ActiveIII => &[L::ActiveIII, L::A],
            Income::LowII => &[L::LowIncomeII, L::O, L::OBoundary],
            Income::LowI => &[
                L::LowIncomeI,
                L::LowIncomeIB07,
                L::LowIncomeIB08,
                L::O,
                L::OBoundary,
            ],
        }
    }

    /// Whether `category` is one of [`Income::limit_categories`].
    pub fn goes_with(self, category: LimitCategory) -> bool {
        self.limit_categories().contains(&category)
    }

    /// The limit category of this income for a patient born `birth` on `on` when the record
    /// names none: the B code under the 70+ rules (from the 1st of the month after the 70th
    /// year is attained, as the share), the first A code of the same income before.
    pub fn limit_category(self, birth: Date, on: Date) -> LimitCategory {
        let codes = self.limit_categories();
        if seventy_plus_rules(birth, on) {
            codes[0]
        } else {
            codes
                .iter()
                .copied()
                .find(|c| !c.is_seventy_plus())
                .unwrap_or(codes[0])
        }
    }

    /// The income a limit category implies when the scenario names none: the class whose
    /// codes include it (ア → 現役並みⅢ, イ → Ⅱ, ウ and エ → 一般, オ → 低所得Ⅱ); no code
    /// says 一定以上所得.
    pub const fn of_category(category: LimitCategory) -> Income {
        match category {
            L::ActiveIII | L::A => Income::ActiveIII,
            L::ActiveII | L::I => Income::ActiveII,
            L::ActiveI => Income::ActiveI,
            L::O | L::OBoundary => Income::LowII,
            L::LowIncomeII => Income::LowII,
            L::LowIncomeI | L::LowIncomeIB07 | L::LowIncomeIB08 => Income::LowI,
            _ => Income::General,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::copayment::copayment_percent;
    use time::macros::date;

    #[test]
    fn every_category_goes_with_the_income_it_implies() {
        for category in LimitCategory::ALL {
            let income = Income::of_category(category);
            assert!(income.goes_with(category), "{category:?} {income:?}");
            // The share is the one the category implied before `income:` (under 70 the
            // share does not depend on income).
            let (young, old) = (date!(1980 - 02 - 17), date!(1948 - 11 - 03));
            let on = date!(2025 - 11 - 04);
            let birth = if category.is_seventy_plus() {
                old
            } else {
                young
            };
            assert_eq!(
                copayment_percent(birth, on, income.copayment_class()),
                copayment_percent(birth, on, category.copayment_income()),
                "{category:?}"
            );
        }
    }

    #[test]
    fn contradictions_are_found() {
        assert!(!Income::LowI.goes_with(L::ActiveIII));
        assert!(!Income::ActiveIII.goes_with(L::General));
        assert!(!Income::General.goes_with(L::LowIncomeII));
        assert!(Income::CertainIncome.goes_with(L::General));
    }

    #[test]
    fn a_category_by_age_when_none_is_named() {
        let on = date!(2025 - 11 - 04);
        let old = date!(1948 - 11 - 03);
        let young = date!(1980 - 02 - 17);
        assert_eq!(Income::LowI.limit_category(old, on), L::LowIncomeI);
        assert_eq!(Income::LowI.limit_category(young, on), L::O);
        assert_eq!(Income::General.limit_category(young, on), L::U);
        assert_eq!(Income::CertainIncome.limit_category(old, on), L::General);
        assert_eq!(Income::ActiveII.limit_category(young, on), L::I);
        // Not on the 70th birthday: from the 1st of the next month, as the share.
        let seventy = date!(1955 - 05 - 15);
        assert_eq!(
            Income::General.limit_category(seventy, date!(2025 - 05 - 20)),
            L::U
        );
        assert_eq!(
            Income::General.limit_category(seventy, date!(2025 - 06 - 01)),
            L::General
        );
        // The default category of LimitCategory::default_for is the general income's.
        for birth in [old, young, seventy] {
            assert_eq!(
                Income::General.limit_category(birth, on),
                LimitCategory::default_for(birth, on)
            );
        }
    }

    #[test]
    fn names_round_trip_and_are_distinct() {
        for (name, income) in Income::NAMES {
            assert_eq!(income.name(), name);
        }
        let labels: std::collections::BTreeSet<_> =
            Income::NAMES.iter().map(|(_, i)| i.label()).collect();
        assert_eq!(labels.len(), Income::NAMES.len());
    }
}
