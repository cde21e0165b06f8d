//! Co-payment (自己負担割合) by age and income, as dated data (docs/reception-rules.md, "Co-payment by age"
//! \[firm]).
//!
//! The age edges follow docs/reception-rules.md exactly:
//! - an age is attained on the day before the birthday;
//! - preschool (未就学児, 20%) lasts to the 31 March on or after the day the 6th year is
//!   attained: a child born on 1 April leaves a year before one born on 2 April;
//! - the 70-74 rules start on the 1st of the month after the month in which the 70th year is
//!   attained: the birthday's month when born on the 1st, else the month after the birthday;
//! - 後期高齢者 (75+) starts on the 75th birthday itself.

use super::calendar;
use serde::{Deserialize, Serialize};
use time::macros::date;
use time::Date;

/// The income class that decides the co-payment share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeClass {
    /// 一般 (and, for the high-cost limit, every category below 現役並み).
    General,
    /// 一定以上所得: 20% for 後期高齢者 from 2022-10-01. Before 75 this class counts as 一般
    /// \[soft: the class exists only in the 後期高齢者 system]. For the high-cost limit such a
    /// patient is in 一般 (B04).
    CertainIncome,
    /// 現役並み所得: 30% from 70 (high-cost categories 現役並みⅢ/Ⅱ/Ⅰ, B01-B03).
    ActiveLevel,
}

/// The age bands of the co-payment table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgeBand {
    /// Before school (未就学児).
    Preschool,
    /// From school age to 69.
    SchoolTo69,
    /// 70-74 (from the month after the 70th year is attained).
    SeventyTo74,
    /// 後期高齢者 (from the 75th birthday).
    SeventyFivePlus,
}

/// The last day of preschool: the 31 March on or after the day the 6th year is attained.
pub fn preschool_until(birth: Date) -> Option<Date> {
    calendar::age_attained(birth, 6).and_then(calendar::march_31_on_or_after)
}

/// The first day of the 70-74 rules: the 1st of the month after the month in which the 70th
/// year is attained.
pub fn seventy_rules_from(birth: Date) -> Option<Date> {
    calendar::age_attained(birth, 70).and_then(calendar::first_of_next_month)
}

/// The first day of 後期高齢者: the 75th birthday itself (1 March in a common year for a birth
/// on 29 February, the day after the age is attained).
pub fn late_elderly_from(birth: Date) -> Option<Date> {
    calendar::birthday(birth, 75)
}

/// Whether the 70-and-over rules (share and high-cost categories) apply on `on`: from the
/// 1st of the month after the 70th year is attained.
pub fn seventy_plus_rules(birth: Date, on: Date) -> bool {
    seventy_rules_from(birth).is_some_and(|first| on >= first)
}

/// The age band on `on`. A date before the birth counts as preschool (no panic on bad input);
/// an edge beyond the calendar's range is never reached.
pub fn age_band(birth: Date, on: Date) -> AgeBand {
    if preschool_until(birth).is_none_or(|last| on <= last) {
        AgeBand::Preschool
    } else if late_elderly_from(birth).is_some_and(|first| on >= first) {
        AgeBand::SeventyFivePlus
    } else if seventy_rules_from(birth).is_some_and(|first| on >= first) {
        AgeBand::SeventyTo74
    } else {
        AgeBand::SchoolTo69
    }
}

/// Whole years of age on `on` (the age is attained the day before the birthday).
pub fn age_on(birth: Date, on: Date) -> u16 {
    calendar::age_on(birth, on)
}

/// One row of the co-payment table: the share of `band` for `incomes`, in force from `since`
/// until the next row for the same band and income.
#[derive(Debug, Clone, Copy)]
pub struct ShareRow {
    /// The rule's id in reports and `rules explain` (docs/reception-rules.md#rule-ids).
    pub rule: &'static str,
    pub band: AgeBand,
    pub incomes: &'static [IncomeClass],
    /// First day in force. `Date::MIN` where the sources give no start: in force for every
    /// date the oracle judges.
    pub since: Date,
    pub percent: u8,
}

const ALL_INCOMES: &[IncomeClass] = &[
    IncomeClass::General,
    IncomeClass::CertainIncome,
    IncomeClass::ActiveLevel,
];

/// The co-payment table (docs/reception-rules.md, "Co-payment by age" \[firm]).
pub const SHARE_TABLE: &[ShareRow] = &[
    ShareRow {
        rule: "share.preschool",
        band: AgeBand::Preschool,
        incomes: ALL_INCOMES,
        since: Date::MIN,
        percent: 20,
    },
    ShareRow {
        rule: "share.school_to_69",
        band: AgeBand::SchoolTo69,
        incomes: ALL_INCOMES,
        since: Date::MIN,
        percent: 30,
    },
    ShareRow {
        rule: "share.70_74",
        band: AgeBand::SeventyTo74,
        incomes: &[IncomeClass::General, IncomeClass::CertainIncome],
        since: Date::MIN,
        percent: 20,
    },
    ShareRow {
        rule: "share.70_74.active",
        band: AgeBand::SeventyTo74,
        incomes: &[IncomeClass::ActiveLevel],
        since: Date::MIN,
        percent: 30,
    },
    ShareRow {
        rule: "share.75_plus",
        band: AgeBand::SeventyFivePlus,
        incomes: &[IncomeClass::General, IncomeClass::CertainIncome],
        since: Date::MIN,
        percent: 10,
    },
    ShareRow {
        rule: "share.75_plus.certain_income",
        band: AgeBand::SeventyFivePlus,
        incomes: &[IncomeClass::CertainIncome],
        since: date!(2022 - 10 - 01),
        percent: 20,
    },
    ShareRow {
        rule: "share.75_plus.active",
        band: AgeBand::SeventyFivePlus,
        incomes: &[IncomeClass::ActiveLevel],
        since: Date::MIN,
        percent: 30,
    },
];

/// The share in force on `on`, in percent: 10, 20 or 30.
///
/// The table covers every band and income from `Date::MIN`, so the last-resort 30 is never
/// used (a unit test checks the coverage).
pub fn copayment_percent(birth: Date, on: Date, income: IncomeClass) -> u8 {
    share_row(birth, on, income).map_or(30, |row| row.percent)
}

/// The row of [`SHARE_TABLE`] that decides the share on `on` (its `rule` names it).
pub fn share_row(birth: Date, on: Date, income: IncomeClass) -> Option<&'static ShareRow> {
    let band = age_band(birth, on);
    SHARE_TABLE
        .iter()
        .filter(|row| row.band == band && row.incomes.contains(&income) && row.since <= on)
        .max_by_key(|row| row.since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncomeClass::*;

    fn share(birth: Date, on: Date) -> u8 {
        copayment_percent(birth, on, General)
    }

    #[test]
    fn born_1_april_leaves_preschool_a_year_before_2_april() {
        let april_1 = date!(2019 - 04 - 01);
        let april_2 = date!(2019 - 04 - 02);
        assert_eq!(preschool_until(april_1), Some(date!(2025 - 03 - 31)));
        assert_eq!(preschool_until(april_2), Some(date!(2026 - 03 - 31)));
        assert_eq!(share(april_1, date!(2025 - 03 - 31)), 20);
        assert_eq!(share(april_1, date!(2025 - 04 - 01)), 30);
        assert_eq!(share(april_2, date!(2025 - 04 - 01)), 20);
        assert_eq!(share(april_2, date!(2026 - 03 - 31)), 20);
        assert_eq!(share(april_2, date!(2026 - 04 - 01)), 30);
    }

    #[test]
    fn newborn_and_before_birth_are_preschool() {
        let birth = date!(2025 - 07 - 07);
        assert_eq!(share(birth, birth), 20);
        assert_eq!(share(birth, date!(2020 - 01 - 01)), 20);
    }

    #[test]
    fn seventy_born_on_the_1st_starts_in_the_birthday_month() {
        let birth = date!(1955 - 05 - 01);
        assert_eq!(seventy_rules_from(birth), Some(date!(2025 - 05 - 01)));
        assert_eq!(share(birth, date!(2025 - 04 - 30)), 30);
        assert_eq!(share(birth, date!(2025 - 05 - 01)), 20);
    }

    #[test]
    fn seventy_born_on_the_2nd_starts_the_month_after() {
        let birth = date!(1955 - 05 - 02);
        assert_eq!(seventy_rules_from(birth), Some(date!(2025 - 06 - 01)));
        assert_eq!(share(birth, date!(2025 - 05 - 02)), 30);
        assert_eq!(share(birth, date!(2025 - 05 - 31)), 30);
        assert_eq!(share(birth, date!(2025 - 06 - 01)), 20);
    }

    #[test]
    fn seventy_with_active_income_is_30() {
        let birth = date!(1955 - 05 - 02);
        assert_eq!(
            copayment_percent(birth, date!(2025 - 06 - 01), ActiveLevel),
            30
        );
        assert_eq!(
            copayment_percent(birth, date!(2025 - 06 - 01), CertainIncome),
            20
        );
    }

    #[test]
    fn late_elderly_starts_on_the_75th_birthday_itself() {
        let birth = date!(1950 - 06 - 15);
        assert_eq!(late_elderly_from(birth), Some(date!(2025 - 06 - 15)));
        assert_eq!(age_band(birth, date!(2025 - 06 - 14)), AgeBand::SeventyTo74);
        assert_eq!(share(birth, date!(2025 - 06 - 14)), 20);
        assert_eq!(
            age_band(birth, date!(2025 - 06 - 15)),
            AgeBand::SeventyFivePlus
        );
        assert_eq!(share(birth, date!(2025 - 06 - 15)), 10);
        assert_eq!(
            copayment_percent(birth, date!(2025 - 06 - 15), ActiveLevel),
            30
        );
    }

    #[test]
    fn late_elderly_born_29_february() {
        let birth = date!(1948 - 02 - 29);
        // 2023 is a common year: the age is attained on 28 February, the "birthday" is 1 March.
        assert_eq!(late_elderly_from(birth), Some(date!(2023 - 03 - 01)));
        assert_eq!(share(birth, date!(2023 - 02 - 28)), 20);
        assert_eq!(share(birth, date!(2023 - 03 - 01)), 10);
    }

    #[test]
    fn certain_income_is_20_from_1_october_2022() {
        let birth = date!(1940 - 01 - 10);
        assert_eq!(
            copayment_percent(birth, date!(2022 - 09 - 30), CertainIncome),
            10
        );
        assert_eq!(
            copayment_percent(birth, date!(2022 - 10 - 01), CertainIncome),
            20
        );
        assert_eq!(copayment_percent(birth, date!(2022 - 10 - 01), General), 10);
    }

    #[test]
    fn school_age_is_30_whatever_the_income() {
        for income in [General, CertainIncome, ActiveLevel] {
            assert_eq!(
                copayment_percent(date!(1990 - 01 - 01), date!(2025 - 01 - 01), income),
                30
            );
        }
    }

    #[test]
    fn table_covers_every_band_and_income_from_the_beginning() {
        for band in [
            AgeBand::Preschool,
            AgeBand::SchoolTo69,
            AgeBand::SeventyTo74,
            AgeBand::SeventyFivePlus,
        ] {
            for income in ALL_INCOMES {
                assert!(SHARE_TABLE.iter().any(|row| row.band == band
                    && row.incomes.contains(income)
                    && row.since == Date::MIN));
            }
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        for income in ALL_INCOMES {
            for (birth, on) in [
                (Date::MIN, Date::MAX),
                (Date::MAX, Date::MIN),
                (Date::MAX, Date::MAX),
            ] {
                let percent = copayment_percent(birth, on, *income);
                assert!([10, 20, 30].contains(&percent));
            }
        }
    }
}
