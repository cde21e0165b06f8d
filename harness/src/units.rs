//! Units in the house's text formats: the one duration parser that scenario files, card
//! profiles, the service's faults and the command line share (`--fault slow:1.5s` means
//! what `slow: 1.5s` means in YAML), and the one date parser of the same files and command
//! lines (visit dates, history dates, birth dates, certificate validity, `--date`), and
//! the one timestamp of reports and evidence (RFC 3339, UTC).

use std::time::Duration;
use time::Date;

/// The years a date may have. Every date of the house is a person's or a card's in the
/// present era: a birth date, a visit, a certificate's validity. Outside these years it is a
/// typing mistake (`0025`, `9999`), never a test of anything.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;

/// Why a text is not a date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateError {
    /// Not `YYYY-MM-DD` with four digits of year, or a day that does not exist.
    Format,
    /// A real date outside [`DATE_YEARS`].
    Year(i32),
}

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateError::Format => f.write_str("expected a date (YYYY-MM-DD)"),
            DateError::Year(year) => write!(
                f,
                "the year {year} is out of range ({} to {})",
                DATE_YEARS.start(),
                DATE_YEARS.end()
            ),
        }
    }
}

/// Parses `2025-12-01`: four digits of year in [`DATE_YEARS`], two of month and of day, a
/// day that exists. No sign, no other width.
pub fn parse_date(text: &str) -> Result<Date, DateError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(DateError::Format);
    }
    let year: i32 = text[..4].parse().map_err(|_| DateError::Format)?;
    if !DATE_YEARS.contains(&year) {
        return Err(DateError::Year(year));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format).map_err(|_| DateError::Format)
}

/// Parses `250us`, `50ms`, `1.5s`, `2min`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "min" => value * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// Now, as RFC 3339 in UTC: when a run started, a bundle was made, a prompt was answered.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("50ms"), Some(Duration::from_millis(50)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("50"), None);
        assert_eq!(parse_duration("ms"), None);
    }

    #[test]
    fn fractions_and_minutes() {
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration(" 3s "), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("1e9999s"), None);
    }

    #[test]
    fn dates_are_four_digit_years_in_range() {
        assert_eq!(
            parse_date("2025-12-01"),
            Ok(time::macros::date!(2025 - 12 - 01))
        );
        assert_eq!(parse_date("0000-01-01"), Err(DateError::Year(0)));
        assert_eq!(parse_date("9999-01-01"), Err(DateError::Year(9999)));
        assert_eq!(parse_date("-2025-01-01"), Err(DateError::Format));
        assert_eq!(parse_date("+2025-01-01"), Err(DateError::Format));
        assert_eq!(parse_date("2025-02-30"), Err(DateError::Format));
        assert_eq!(parse_date("2025-1-01"), Err(DateError::Format));
        assert_eq!(parse_date("１９９０-01-01"), Err(DateError::Format));
        assert_eq!(
            DateError::Year(9999).to_string(),
            "the year 9999 is out of range (1900 to 2100)"
        );
    }
}
