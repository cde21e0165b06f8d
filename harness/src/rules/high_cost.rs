//! High-cost medical expense (高額療養費) monthly limits, as dated tables (docs/reception-rules.md,
//! "High-cost medical expense (高額療養費) monthly limits" \[firm]).
//!
//! The amounts of docs/reception-rules.md hold for dates before 2026-08-01. A revision from 2026-08 was
//! reported \[soft] but its amounts are not known here: for a date from 2026-08-01
//! [`monthly_limit`] answers [`RuleError::NoLimitTable`] instead of inventing them. Adding the
//! revision is one more entry in [`LIMIT_TABLES`].

use super::copayment::IncomeClass;
use super::RuleError;
use serde::{Deserialize, Serialize};
use time::macros::date;
use time::Date;

/// The limit category, as the qualification result's
/// `LimitApplicationCertificateClassificationFlag` codes it (docs/reception-rules.md, "Qualification
/// result").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LimitCategory {
    /// A01 ア (under 70).
    #[serde(rename = "A01")]
    A,
    /// A02 イ (under 70).
    #[serde(rename = "A02")]
    I,
    /// A03 ウ (under 70).
    #[serde(rename = "A03")]
    U,
    /// A04 エ (under 70).
    #[serde(rename = "A04")]
    E,
    /// A05 オ (under 70).
    #[serde(rename = "A05")]
    O,
    /// A06 オ(境) (under 70, boundary class). the sources give no amount of its own: the
    /// amounts of オ apply \[soft].
    #[serde(rename = "A06")]
    OBoundary,
    /// B01 現役並みⅢ (70+): the amounts of ア.
    #[serde(rename = "B01")]
    ActiveIII,
    /// B02 現役並みⅡ (70+): the amounts of イ.
    #[serde(rename = "B02")]
    ActiveII,
    /// B03 現役並みⅠ (70+): the amounts of ウ.
    #[serde(rename = "B03")]
    ActiveI,
    /// B04 一般 (70+).
    #[serde(rename = "B04")]
    General,
    /// B05 低所得Ⅱ (70+).
    #[serde(rename = "B05")]
    LowIncomeII,
    /// B06 低所得Ⅰ (70+).
    #[serde(rename = "B06")]
    LowIncomeI,
    /// B07, also 低所得Ⅰ in docs/reception-rules.md (the sub-code's meaning is not given) \[soft].
    #[serde(rename = "B07")]
    LowIncomeIB07,
    /// B08, also 低所得Ⅰ in docs/reception-rules.md (the sub-code's meaning is not given) \[soft].
    #[serde(rename = "B08")]
    LowIncomeIB08,
}

impl LimitCategory {
    /// Every category, in code order.
    pub const ALL: [LimitCategory; 14] = [
        LimitCategory::A,
        LimitCategory::I,
        LimitCategory::U,
        LimitCategory::E,
        LimitCategory::O,
        LimitCategory::OBoundary,
        LimitCategory::ActiveIII,
        LimitCategory::ActiveII,
        LimitCategory::ActiveI,
        LimitCategory::General,
        LimitCategory::LowIncomeII,
        LimitCategory::LowIncomeI,
        LimitCategory::LowIncomeIB07,
        LimitCategory::LowIncomeIB08,
    ];

    /// The result field's code, `A01`…`A06`, `B01`…`B08`.
    pub const fn code(self) -> &'static str {
        match self {
            LimitCategory::A => "A01",
            LimitCategory::I => "A02",
            LimitCategory::U => "A03",
            LimitCategory::E => "A04",
            LimitCategory::O => "A05",
            LimitCategory::OBoundary => "A06",
            LimitCategory::ActiveIII => "B01",
            LimitCategory::ActiveII => "B02",
            LimitCategory::ActiveI => "B03",
            LimitCategory::General => "B04",
            LimitCategory::LowIncomeII => "B05",
            LimitCategory::LowIncomeI => "B06",
            LimitCategory::LowIncomeIB07 => "B07",
            LimitCategory::LowIncomeIB08 => "B08",
        }
    }

    /// The category with the result field's `code`; [`RuleError::UnknownLimitCode`] otherwise.
    pub fn from_code(code: &str) -> Result<Self, RuleError> {
        LimitCategory::ALL
            .into_iter()
            .find(|category| category.code() == code)
            .ok_or_else(|| RuleError::UnknownLimitCode(code.to_owned()))
    }

    /// The category assumed when the record declares none: 一般 under the 70+ rules, ウ
    /// before (a choice where the sources are silent, docs/reception-rules.md). The 70+
    /// rules start when the share's do, on the 1st of the month after the 70th year is
    /// attained ([`super::copayment::seventy_rules_from`]), not on the birthday.
    pub fn default_for(birth: time::Date, on: time::Date) -> LimitCategory {
        if super::copayment::seventy_plus_rules(birth, on) {
            LimitCategory::General
        } else {
            LimitCategory::U
        }
    }

    /// The Japanese name (ア, オ(境), 現役並みⅢ, 低所得Ⅰ, …).
    pub const fn label(self) -> &'static str {
        match self {
            LimitCategory::A => "ア",
            LimitCategory::I => "イ",
            LimitCategory::U => "ウ",
            LimitCategory::E => "エ",
            LimitCategory::O => "オ",
            LimitCategory::OBoundary => "オ(境)",
            LimitCategory::ActiveIII => "現役並みⅢ",
            LimitCategory::ActiveII => "現役並みⅡ",
            LimitCategory::ActiveI => "現役並みⅠ",
            LimitCategory::General => "一般",
            LimitCategory::LowIncomeII => "低所得Ⅱ",
            LimitCategory::LowIncomeI
            | LimitCategory::LowIncomeIB07
            | LimitCategory::LowIncomeIB08 => "低所得Ⅰ",
        }
    }

    /// A category of patients aged 70 and over (the B codes).
    pub const fn is_seventy_plus(self) -> bool {
        !matches!(
            self,
            LimitCategory::A
                | LimitCategory::I
                | LimitCategory::U
                | LimitCategory::E
                | LimitCategory::O
                | LimitCategory::OBoundary
        )
    }

    /// The co-payment income class the category implies: 現役並みⅢ/Ⅱ/Ⅰ → 現役並み, every
    /// other category → 一般. 一定以上所得 (a 後期高齢者 class) is not visible in the category:
    /// such a patient is in 一般 (B04) for the limit.
    pub const fn copayment_income(self) -> IncomeClass {
        match self {
            LimitCategory::ActiveIII | LimitCategory::ActiveII | LimitCategory::ActiveI => {
                IncomeClass::ActiveLevel
            }
            _ => IncomeClass::General,
        }
    }
}

/// Which limit: outpatient care of one person (外来, individual) or the household (世帯).
/// Only 70+ 一般 and 低所得 have a separate outpatient limit; for the other categories both
/// scopes have the same amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Outpatient,
    Household,
}

/// How a limit is computed from the month's full (10割) cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// A fixed amount, in yen.
    Fixed(u64),
    /// `base + (cost − threshold) × 1%`. Below the threshold the limit is `base` \[soft: the
    /// share stays under the limit there, so what the patient pays is the same either way];
    /// the 1% is rounded to the nearest yen, halves up \[soft].
    Sliding { base: u64, threshold: u64 },
}

impl Amount {
    fn for_cost(self, full_cost_yen: u64) -> u64 {
        match self {
            Amount::Fixed(yen) => yen,
            Amount::Sliding { base, threshold } => {
                let excess = full_cost_yen.saturating_sub(threshold);
                base.saturating_add(excess.saturating_add(50) / 100)
            }
        }
    }
}

/// One row of a limit table.
#[derive(Debug, Clone, Copy)]
pub struct LimitRow {
    pub categories: &'static [LimitCategory],
    /// `None`: both scopes.
    pub scope: Option<Scope>,
    pub amount: Amount,
    /// The amount from the 4th limit-reaching month in 12 (多数回該当); `None` where docs/reception-rules.md
    /// gives none (70+ outpatient, 低所得): the regular amount applies.
    pub many_times: Option<u64>,
}

/// The limits in force from `since` to `until` (inclusive; `None`: open).
#[derive(Debug, Clone, Copy)]
pub struct LimitTable {
    pub since: Date,
    pub until: Option<Date>,
    pub rows: &'static [LimitRow],
}

use LimitCategory as C;

/// the amounts, in force for every date before 2026-08-01.
const ROWS_BEFORE_2026_08: &[LimitRow] = &[
    LimitRow {
        categories: &[C::A, C::ActiveIII],
        scope: None,
        amount: Amount::Sliding {
            base: 252_600,
            threshold: 842_000,
        },
        many_times: Some(140_100),
    },
    LimitRow {
        categories: &[C::I, C::ActiveII],
        scope: None,
        amount: Amount::Sliding {
            base: 167_400,
            threshold: 558_000,
        },
        many_times: Some(93_000),
    },
    LimitRow {
        categories: &[C::U, C::ActiveI],
        scope: None,
        amount: Amount::Sliding {
            base: 80_100,
            threshold: 267_000,
        },
        many_times: Some(44_400),
    },
    LimitRow {
        categories: &[C::E],
        scope: None,
        amount: Amount::Fixed(57_600),
        many_times: Some(44_400),
    },
    LimitRow {
        categories: &[C::O, C::OBoundary],
        scope: None,
        amount: Amount::Fixed(35_400),
        many_times: Some(24_600),
    },
    LimitRow {
        categories: &[C::General],
        scope: Some(Scope::Outpatient),
        amount: Amount::Fixed(18_000),
        many_times: None,
    },
    LimitRow {
        categories: &[C::General],
        scope: Some(Scope::Household),
        amount: Amount::Fixed(57_600),
        many_times: Some(44_400),
    },
    LimitRow {
        categories: &[C::LowIncomeII],
        scope: Some(Scope::Outpatient),
        amount: Amount::Fixed(8_000),
        many_times: None,
    },
    LimitRow {
        categories: &[C::LowIncomeII],
        scope: Some(Scope::Household),
        amount: Amount::Fixed(24_600),
        many_times: None,
    },
    LimitRow {
        categories: &[C::LowIncomeI, C::LowIncomeIB07, C::LowIncomeIB08],
        scope: Some(Scope::Outpatient),
        amount: Amount::Fixed(8_000),
        many_times: None,
    },
    LimitRow {
        categories: &[C::LowIncomeI, C::LowIncomeIB07, C::LowIncomeIB08],
        scope: Some(Scope::Household),
        amount: Amount::Fixed(15_000),
        many_times: None,
    },
];

/// The known limit tables, oldest first. The revision from 2026-08 goes here once its
/// amounts are known.
pub const LIMIT_TABLES: &[LimitTable] = &[LimitTable {
    since: Date::MIN,
    until: Some(date!(2026 - 07 - 31)),
    rows: ROWS_BEFORE_2026_08,
}];

/// The table in force on `on`.
pub fn limit_table(on: Date) -> Result<&'static LimitTable, RuleError> {
    LIMIT_TABLES
        .iter()
        .filter(|table| table.since <= on && table.until.is_none_or(|last| on <= last))
        .max_by_key(|table| table.since)
        .ok_or(RuleError::NoLimitTable { on })
}

/// The monthly limit in yen for `category`, given the month's full (10割) cost, on `on`.
/// `many_times`: the 4th or later limit-reaching month in 12 (多数回該当).
pub fn monthly_limit(
    category: LimitCategory,
    full_cost_yen: u64,
    on: Date,
    many_times: bool,
    scope: Scope,
) -> Result<u64, RuleError> {
    let table = limit_table(on)?;
    let row = table
        .rows
        .iter()
        .find(|row| row.categories.contains(&category) && row.scope.is_none_or(|s| s == scope))
        .ok_or(RuleError::NoLimitRow {
            category,
            scope,
            on,
        })?;
    Ok(match (many_times, row.many_times) {
        (true, Some(yen)) => yen,
        _ => row.amount.for_cost(full_cost_yen),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Date = date!(2025 - 06 - 01);

    fn limit(category: LimitCategory, cost: u64, many: bool, scope: Scope) -> u64 {
        monthly_limit(category, cost, ON, many, scope).expect("a table is known")
    }

    #[test]
    fn a_and_active_iii() {
        // 252,600 + (1,000,000 − 842,000) × 1% = 252,600 + 1,580
        for category in [C::A, C::ActiveIII] {
            assert_eq!(limit(category, 1_000_000, false, Scope::Household), 254_180);
            assert_eq!(limit(category, 1_000_000, true, Scope::Household), 140_100);
        }
    }

    #[test]
    fn i_and_active_ii() {
        // 167,400 + (1,000,000 − 558,000) × 1% = 167,400 + 4,420
        for category in [C::I, C::ActiveII] {
            assert_eq!(
                limit(category, 1_000_000, false, Scope::Outpatient),
                171_820
            );
            assert_eq!(limit(category, 1_000_000, true, Scope::Household), 93_000);
        }
    }

    #[test]
    fn u_and_active_i() {
        // 80,100 + (1,000,000 − 267,000) × 1% = 80,100 + 7,330
        for category in [C::U, C::ActiveI] {
            assert_eq!(limit(category, 1_000_000, false, Scope::Household), 87_430);
            assert_eq!(limit(category, 1_000_000, false, Scope::Outpatient), 87_430);
            assert_eq!(limit(category, 1_000_000, true, Scope::Household), 44_400);
        }
    }

    #[test]
    fn sliding_part_rounds_to_the_yen_and_stops_at_the_threshold() {
        assert_eq!(limit(C::U, 267_049, false, Scope::Household), 80_100);
        assert_eq!(limit(C::U, 267_050, false, Scope::Household), 80_101);
        assert_eq!(limit(C::U, 100_000, false, Scope::Household), 80_100);
        // Huge costs saturate instead of overflowing.
        assert_eq!(
            limit(C::U, u64::MAX, false, Scope::Household),
            80_100 + (u64::MAX - 267_000 + 50) / 100
        );
    }

    #[test]
    fn fixed_under_seventy() {
        assert_eq!(limit(C::E, 1_000_000, false, Scope::Household), 57_600);
        assert_eq!(limit(C::E, 1_000_000, true, Scope::Household), 44_400);
        for category in [C::O, C::OBoundary] {
            assert_eq!(limit(category, 1_000_000, false, Scope::Outpatient), 35_400);
            assert_eq!(limit(category, 1_000_000, true, Scope::Household), 24_600);
        }
    }

    #[test]
    fn seventy_plus_general() {
        assert_eq!(limit(C::General, 500_000, false, Scope::Outpatient), 18_000);
        assert_eq!(limit(C::General, 500_000, true, Scope::Outpatient), 18_000);
        assert_eq!(limit(C::General, 500_000, false, Scope::Household), 57_600);
        assert_eq!(limit(C::General, 500_000, true, Scope::Household), 44_400);
    }

    #[test]
    fn seventy_plus_low_income() {
        assert_eq!(
            limit(C::LowIncomeII, 500_000, false, Scope::Outpatient),
            8_000
        );
        assert_eq!(
            limit(C::LowIncomeII, 500_000, true, Scope::Household),
            24_600
        );
        for category in [C::LowIncomeI, C::LowIncomeIB07, C::LowIncomeIB08] {
            assert_eq!(limit(category, 500_000, false, Scope::Outpatient), 8_000);
            assert_eq!(limit(category, 500_000, true, Scope::Household), 15_000);
        }
    }

    #[test]
    fn every_category_and_scope_has_a_row() {
        for category in LimitCategory::ALL {
            for scope in [Scope::Outpatient, Scope::Household] {
                assert!(
                    monthly_limit(category, 0, ON, false, scope).is_ok(),
                    "{category:?}"
                );
            }
        }
    }

    #[test]
    fn no_table_from_august_2026() {
        assert!(monthly_limit(
            C::U,
            1_000_000,
            date!(2026 - 07 - 31),
            false,
            Scope::Household
        )
        .is_ok());
        let err = monthly_limit(
            C::U,
            1_000_000,
            date!(2026 - 08 - 01),
            false,
            Scope::Household,
        )
        .expect_err("the revision is not known");
        assert!(matches!(err, RuleError::NoLimitTable { on } if on == date!(2026 - 08 - 01)));
        assert!(err.to_string().contains("2026-08-01"), "{err}");
    }

    #[test]
    fn codes_round_trip_and_map_to_income() {
        for category in LimitCategory::ALL {
            assert_eq!(
                LimitCategory::from_code(category.code()).ok(),
                Some(category)
            );
            let json = serde_json::to_string(&category).expect("serialises");
            assert_eq!(json, format!("\"{}\"", category.code()));
        }
        assert!(LimitCategory::from_code("B09").is_err());
        assert_eq!(C::ActiveII.copayment_income(), IncomeClass::ActiveLevel);
        assert_eq!(C::General.copayment_income(), IncomeClass::General);
        assert_eq!(C::A.copayment_income(), IncomeClass::General);
        assert!(C::General.is_seventy_plus() && !C::OBoundary.is_seventy_plus());
        assert_eq!(C::LowIncomeIB08.label(), "低所得Ⅰ");
    }
}
