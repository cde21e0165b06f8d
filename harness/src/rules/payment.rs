//! What the patient pays at the counter for a month's care (docs/reception-rules.md,
//! "What the patient pays"):
//! - the share of the full (10割) cost, rounded to 10 yen as the Health Insurance Act,
//!   Article 75, says of 一部負担金 (below 5 yen down, from 5 yen up);
//! - capped at the month's high-cost limit ([`super::high_cost::monthly_limit`], outpatient
//!   scope: a clinic's reception) where the limit applies at the counter, i.e. on a card
//!   route; uncapped on every other route (the patient claims the excess back from the
//!   insurer later), and the full cost when not confirmed (share 100 %).
//!
//! 多数回該当 (the lower limit from the 4th limit-reaching month in 12) is not modelled: the
//! qualification result does not tell the desk the count \[soft].

use super::high_cost::{monthly_limit, LimitCategory, Scope};
use super::RuleError;
use serde::Serialize;
use time::Date;

/// What the patient pays, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// At the counter, in yen.
    pub yen: u64,
    /// The share of the cost, rounded, before any cap.
    pub share_yen: u64,
    /// The month's limit, where it applies.
    pub limit_yen: Option<u64>,
    /// `payment.share` (the share, under the limit or with no limit) or `payment.capped`.
    pub rule: &'static str,
}

/// Why the payment of a patient on `on` is not modelled, if it is not: the 2割 配慮措置
/// (2022-10-01 to 2025-09-30, the outpatient increase of a 後期高齢者 at 20 % capped at 3,000
/// yen a month over the 10 % share) and the month a patient turns 75 (its limits halved,
/// unless born on the 1st). The rules refuse to guess these amounts.
pub fn unmodelled(patient: &super::Patient, on: Date) -> Option<&'static str> {
    use super::copayment::{late_elderly_from, IncomeClass};
    let relief_from = time::macros::date!(2022 - 10 - 01);
    let relief_until = time::macros::date!(2025 - 09 - 30);
    let seventy_five = late_elderly_from(patient.birth);
    let late = seventy_five.is_some_and(|d| on >= d);
    if late
        && patient.income == IncomeClass::CertainIncome
        && (relief_from..=relief_until).contains(&on)
    {
        return Some(
            "the 2割 配慮措置 (to 2025-09-30) is not modelled: the payment is unknown to the rules",
        );
    }
    let turning = seventy_five
        .is_some_and(|d| d.day() != 1 && d.year() == on.year() && d.month() == on.month());
    if turning {
        return Some("the month a patient turns 75 (limits halved) is not modelled: the payment is unknown to the rules");
    }
    None
}

/// The rule ids of a payment.
pub mod rule_names {
    pub const SHARE: &str = "payment.share";
    pub const CAPPED: &str = "payment.capped";
}

/// `share_percent` of `cost_yen`, rounded to 10 yen (Article 75): the amount in hundredths
/// of a yen is exact, so no float rounds the wrong way.
pub fn share_of(share_percent: u8, cost_yen: u64) -> u64 {
    let hundredths = u128::from(share_percent) * u128::from(cost_yen);
    let tens = hundredths / 1000 + u128::from(hundredths % 1000 >= 500);
    u64::try_from(tens * 10).unwrap_or(u64::MAX)
}

/// The payment for a month's care of `cost_yen` (10割) on `on`, given the share and whether
/// the limit of `category` applies at the counter. [`RuleError::NoLimitTable`] when the
/// limit applies on a day no known limit table covers.
pub fn payment(
    share_percent: u8,
    limit_applied: bool,
    category: LimitCategory,
    cost_yen: u64,
    on: Date,
) -> Result<Payment, RuleError> {
    let share_yen = share_of(share_percent, cost_yen);
    let limit_yen = if limit_applied {
        Some(monthly_limit(
            category,
            cost_yen,
            on,
            false,
            Scope::Outpatient,
        )?)
    } else {
        None
    };
    let capped = limit_yen.is_some_and(|limit| limit < share_yen);
    Ok(Payment {
        yen: if capped {
            limit_yen.unwrap_or(share_yen)
        } else {
            share_yen
        },
        share_yen,
        limit_yen,
        rule: if capped {
            rule_names::CAPPED
        } else {
            rule_names::SHARE
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const ON: Date = date!(2025 - 11 - 04);

    #[test]
    fn the_share_rounds_to_ten_yen_half_up() {
        assert_eq!(share_of(30, 12_345), 3_700); // 3,703.5 → 3,700
        assert_eq!(share_of(30, 12_350), 3_710); // 3,705 → 3,710
        assert_eq!(share_of(10, 12_340), 1_230); // 1,234 → 1,230
        assert_eq!(share_of(10, 12_350), 1_240); // 1,235 → 1,240
        assert_eq!(share_of(100, 5_004), 5_000);
        assert_eq!(share_of(20, 0), 0);
    }

    #[test]
    fn a_card_route_caps_at_the_limit_a_fallback_does_not() {
        // ウ, 1,000,000 yen: 30 % is 300,000; the limit 80,100 + 7,330.
        let card = payment(30, true, LimitCategory::U, 1_000_000, ON).unwrap();
        assert_eq!(
            (card.yen, card.share_yen, card.limit_yen, card.rule),
            (87_430, 300_000, Some(87_430), rule_names::CAPPED)
        );
        let fallback = payment(30, false, LimitCategory::U, 1_000_000, ON).unwrap();
        assert_eq!(
            (fallback.yen, fallback.limit_yen, fallback.rule),
            (300_000, None, rule_names::SHARE)
        );
        // Below the limit the share is paid.
        let small = payment(30, true, LimitCategory::U, 10_000, ON).unwrap();
        assert_eq!((small.yen, small.rule), (3_000, rule_names::SHARE));
        // 70+ 一般 outpatient: 18,000 a month.
        let old = payment(20, true, LimitCategory::General, 200_000, ON).unwrap();
        assert_eq!(old.yen, 18_000);
    }

    #[test]
    fn the_relief_window_and_the_75th_month_are_not_guessed() {
        use crate::rules::{IncomeClass, LimitCategory as L, Patient};
        let old =
            Patient::new(date!(1940 - 01 - 10), L::General).with_income(IncomeClass::CertainIncome);
        assert!(unmodelled(&old, date!(2025 - 09 - 30)).is_some());
        assert_eq!(unmodelled(&old, date!(2025 - 10 - 01)), None);
        let general = old.with_income(IncomeClass::General);
        assert_eq!(unmodelled(&general, date!(2025 - 06 - 01)), None);
        // Turning 75 on 1950-06-15: June 2025 is not modelled; born on the 1st, it is.
        let turning = Patient::new(date!(1950 - 06 - 15), L::General);
        assert!(unmodelled(&turning, date!(2025 - 06 - 20)).is_some());
        assert!(unmodelled(&turning, date!(2025 - 06 - 01)).is_some());
        assert_eq!(unmodelled(&turning, date!(2025 - 07 - 01)), None);
        let first = Patient::new(date!(1950 - 06 - 01), L::General);
        assert_eq!(unmodelled(&first, date!(2025 - 06 - 20)), None);
    }

    #[test]
    fn no_table_no_cap_invented() {
        let later = date!(2026 - 08 - 01);
        assert!(payment(30, true, LimitCategory::U, 1_000_000, later).is_err());
        assert_eq!(
            payment(30, false, LimitCategory::U, 1_000_000, later)
                .unwrap()
                .yen,
            300_000
        );
    }

    proptest! {
        #[test]
        fn the_payment_never_exceeds_the_share_or_the_limit(
            share in prop::sample::select(vec![10u8, 20, 30, 100]),
            cost in 0u64..50_000_000,
            applied in any::<bool>(),
            category in prop::sample::select(LimitCategory::ALL.to_vec()),
        ) {
            let p = payment(share, applied, category, cost, ON).unwrap();
            prop_assert!(p.yen <= p.share_yen);
            prop_assert!(p.yen.is_multiple_of(10) || p.rule == rule_names::CAPPED);
            if let Some(limit) = p.limit_yen {
                prop_assert!(p.yen <= limit);
            } else {
                prop_assert_eq!(p.yen, p.share_yen);
            }
            // Within 5 yen of the exact share.
            let exact = u128::from(share) * u128::from(cost);
            prop_assert!((u128::from(p.share_yen) * 100).abs_diff(exact) <= 500);
        }
    }
}
