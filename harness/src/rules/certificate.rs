//! The user-authentication certificate's validity and its grace period (docs/reception-rules.md,
//! "Certificate validity" \[firm]): after expiry the card still confirms the qualification until
//! the end of the 3rd month after the month of expiry, passing qualification data only (no
//! care or medication data). After that the card path counts as failed and the fallback
//! ladder applies.

use super::calendar;
use time::Date;

/// Where a certificate stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateStatus {
    /// On or before `not_after`.
    Valid,
    /// Expired, but the card still confirms the qualification (data only) to `until`
    /// inclusive.
    Grace { until: Date },
    /// Beyond the grace period: the card path fails.
    Expired,
}

/// A grace-period rule: for certificates expiring from `since`, the card confirms the
/// qualification to the last day of the `months_after`th month after the month of expiry.
#[derive(Debug, Clone, Copy)]
pub struct GraceRule {
    /// The first expiry date the rule covers (`Date::MIN`: the sources give no start).
    pub since: Date,
    pub months_after: u32,
}

/// The grace-period rules, oldest first; the rule is chosen by the certificate's expiry date.
pub const GRACE_RULES: &[GraceRule] = &[GraceRule {
    since: Date::MIN,
    months_after: 3,
}];

/// The last day of the grace period of a certificate that expires on `not_after`: expiry
/// 2025-09-30 → 2025-12-31; expiry 31 January → 30 April. `None` when no rule covers the
/// date or the end lies beyond the calendar.
pub fn grace_until(not_after: Date) -> Option<Date> {
    let rule = GRACE_RULES
        .iter()
        .filter(|rule| rule.since <= not_after)
        .max_by_key(|rule| rule.since)?;
    calendar::end_of_nth_month_after(not_after, rule.months_after)
}

/// The certificate's status on `on`. The last day of validity is `not_after` itself.
pub fn certificate_status(not_after: Date, on: Date) -> CertificateStatus {
    if on <= not_after {
        return CertificateStatus::Valid;
    }
    match grace_until(not_after) {
        Some(until) if on <= until => CertificateStatus::Grace { until },
        _ => CertificateStatus::Expired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn valid_to_the_expiry_day_inclusive() {
        let not_after = date!(2025 - 09 - 30);
        assert_eq!(
            certificate_status(not_after, date!(2020 - 01 - 01)),
            CertificateStatus::Valid
        );
        assert_eq!(
            certificate_status(not_after, not_after),
            CertificateStatus::Valid
        );
    }

    #[test]
    fn grace_from_the_day_after_expiry_to_the_end_of_the_third_month() {
        let not_after = date!(2025 - 09 - 30);
        let grace = CertificateStatus::Grace {
            until: date!(2025 - 12 - 31),
        };
        assert_eq!(certificate_status(not_after, date!(2025 - 10 - 01)), grace);
        assert_eq!(certificate_status(not_after, date!(2025 - 12 - 31)), grace);
        assert_eq!(
            certificate_status(not_after, date!(2026 - 01 - 01)),
            CertificateStatus::Expired
        );
    }

    #[test]
    fn expiry_on_31_january_ends_grace_on_30_april() {
        let not_after = date!(2026 - 01 - 31);
        assert_eq!(grace_until(not_after), Some(date!(2026 - 04 - 30)));
        assert!(matches!(
            certificate_status(not_after, date!(2026 - 04 - 30)),
            CertificateStatus::Grace { .. }
        ));
        assert_eq!(
            certificate_status(not_after, date!(2026 - 05 - 01)),
            CertificateStatus::Expired
        );
    }

    #[test]
    fn expiry_mid_month_and_across_a_leap_february() {
        assert_eq!(
            grace_until(date!(2025 - 03 - 15)),
            Some(date!(2025 - 06 - 30))
        );
        assert_eq!(
            grace_until(date!(2027 - 11 - 01)),
            Some(date!(2028 - 02 - 29))
        );
        assert_eq!(
            grace_until(date!(2026 - 11 - 30)),
            Some(date!(2027 - 02 - 28))
        );
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        assert_eq!(
            certificate_status(Date::MAX, Date::MAX),
            CertificateStatus::Valid
        );
        assert_eq!(
            certificate_status(Date::MIN, Date::MAX),
            CertificateStatus::Expired
        );
    }
}
