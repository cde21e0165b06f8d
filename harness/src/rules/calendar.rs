//! Calendar arithmetic the rules need, in Japanese-law terms (docs/reception-rules.md, "Co-payment by age"):
//! an age is attained on the day before the birthday. Every function returns `None` instead of
//! panicking when a date would leave the range `time::Date` can hold; callers treat such an
//! edge as "never reached".

use time::{Date, Month};

/// The first day of `month` in `year`.
pub(crate) fn first_of_month(year: i32, month: Month) -> Option<Date> {
    Date::from_calendar_date(year, month, 1).ok()
}

/// The last day of `month` in `year`.
pub(crate) fn last_of_month(year: i32, month: Month) -> Option<Date> {
    Date::from_calendar_date(year, month, month.length(year)).ok()
}

/// The month `n` months after `month` of `year`, as (year, month).
pub(crate) fn months_after(year: i32, month: Month, n: u32) -> Option<(i32, Month)> {
    let index = i64::from(year) * 12 + i64::from(u8::from(month)) - 1 + i64::from(n);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = u8::try_from(index.rem_euclid(12) + 1).ok()?;
    Some((year, Month::try_from(month).ok()?))
}

/// The last day of the `n`th month after the month of `day` (`n = 3` for the certificate's
/// grace period: expiry 2025-09-30 → 2025-12-31).
pub(crate) fn end_of_nth_month_after(day: Date, n: u32) -> Option<Date> {
    let (year, month) = months_after(day.year(), day.month(), n)?;
    last_of_month(year, month)
}

/// The first day of the month after the month of `day`.
pub(crate) fn first_of_next_month(day: Date) -> Option<Date> {
    let (year, month) = months_after(day.year(), day.month(), 1)?;
    first_of_month(year, month)
}

/// The day on which the age `years` is attained: the day before the `years`th anniversary of
/// the birth. For a birth on 29 February the anniversary in a common year does not exist and
/// the age is attained on 28 February (民法143条: a period ending in a month without the
/// corresponding day ends on that month's last day).
pub(crate) fn age_attained(birth: Date, years: u16) -> Option<Date> {
    let year = birth.year().checked_add(i32::from(years))?;
    if birth.month() == Month::February && birth.day() == 29 && !time::util::is_leap_year(year) {
        return Date::from_calendar_date(year, Month::February, 28).ok();
    }
    Date::from_calendar_date(year, birth.month(), birth.day())
        .ok()?
        .previous_day()
}

/// The `years`th birthday: the day after the age is attained (1 March in a common year for a
/// birth on 29 February).
pub(crate) fn birthday(birth: Date, years: u16) -> Option<Date> {
    age_attained(birth, years)?.next_day()
}

/// The 31 March on or after `day`.
pub(crate) fn march_31_on_or_after(day: Date) -> Option<Date> {
    let this_year = Date::from_calendar_date(day.year(), Month::March, 31).ok()?;
    if day <= this_year {
        Some(this_year)
    } else {
        Date::from_calendar_date(day.year().checked_add(1)?, Month::March, 31).ok()
    }
}

/// Whole years of age on `on` (0 before the first year is attained, and before birth).
pub(crate) fn age_on(birth: Date, on: Date) -> u16 {
    let mut age = u16::try_from((on.year() - birth.year()).max(0)).unwrap_or(u16::MAX);
    // The age attained in the year of `on` may still be ahead.
    while age > 0 && age_attained(birth, age).is_none_or(|attained| on < attained) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn age_is_attained_the_day_before_the_birthday() {
        assert_eq!(
            age_attained(date!(2000 - 05 - 10), 20),
            Some(date!(2020 - 05 - 09))
        );
        assert_eq!(
            age_attained(date!(2000 - 01 - 01), 1),
            Some(date!(2000 - 12 - 31))
        );
        assert_eq!(
            birthday(date!(2000 - 05 - 10), 20),
            Some(date!(2020 - 05 - 10))
        );
    }

    #[test]
    fn leap_day_birth_attains_on_28_february_in_common_years() {
        assert_eq!(
            age_attained(date!(2004 - 02 - 29), 1),
            Some(date!(2005 - 02 - 28))
        );
        assert_eq!(
            birthday(date!(2004 - 02 - 29), 1),
            Some(date!(2005 - 03 - 01))
        );
        assert_eq!(
            age_attained(date!(2004 - 02 - 29), 4),
            Some(date!(2008 - 02 - 28))
        );
        assert_eq!(
            birthday(date!(2004 - 02 - 29), 4),
            Some(date!(2008 - 02 - 29))
        );
    }

    #[test]
    fn month_arithmetic_wraps_years() {
        assert_eq!(
            months_after(2025, Month::November, 3),
            Some((2026, Month::February))
        );
        assert_eq!(
            end_of_nth_month_after(date!(2023 - 11 - 30), 3),
            Some(date!(2024 - 02 - 29))
        );
        assert_eq!(
            first_of_next_month(date!(2025 - 12 - 31)),
            Some(date!(2026 - 01 - 01))
        );
    }

    #[test]
    fn march_31_on_or_after_includes_the_day_itself() {
        assert_eq!(
            march_31_on_or_after(date!(2025 - 03 - 31)),
            Some(date!(2025 - 03 - 31))
        );
        assert_eq!(
            march_31_on_or_after(date!(2025 - 04 - 01)),
            Some(date!(2026 - 03 - 31))
        );
    }

    #[test]
    fn age_on_counts_attained_years() {
        let birth = date!(1950 - 06 - 15);
        assert_eq!(age_on(birth, date!(2025 - 06 - 13)), 74);
        assert_eq!(age_on(birth, date!(2025 - 06 - 14)), 75);
        assert_eq!(age_on(birth, date!(1940 - 01 - 01)), 0);
        assert_eq!(age_on(birth, birth), 0);
    }

    #[test]
    fn edges_beyond_the_calendar_are_none() {
        assert_eq!(age_attained(Date::MAX, 1), None);
        assert_eq!(first_of_next_month(Date::MAX), None);
    }
}
