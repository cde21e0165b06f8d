//! The 個人番号 (Individual Number) check digit (docs/card.md).

/// The check digit for the first 11 digits, or `None` when `first11` is not 11 ASCII digits.
pub fn check_digit(first11: &str) -> Option<u8> {
    check_digit_bytes(first11.as_bytes())
}

fn check_digit_bytes(bytes: &[u8]) -> Option<u8> {
    if bytes.len() != 11 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // P(n) is the n-th digit from the right; Q(n) = n + 1 for n <= 6, else n - 5.
    let sum: u32 = (1..=11u32)
        .map(|n| {
            let p = u32::from(bytes[11 - n as usize] - b'0');
            let q = if n <= 6 { n + 1 } else { n - 5 };
            p * q
        })
        .sum();
    let r = sum % 11;
    Some(if r <= 1 { 0 } else { (11 - r) as u8 })
}

/// True when `number` is 12 ASCII digits whose last digit is the check digit.
pub fn is_valid(number: &str) -> bool {
    match number.as_bytes() {
        [first11 @ .., last] if first11.len() == 11 => {
            check_digit_bytes(first11).is_some_and(|d| *last == b'0' + d)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // Worked by hand from the rule: 12345678901 -> sum 212, r = 3, check 8.
        assert_eq!(check_digit("12345678901"), Some(8));
        assert!(is_valid("123456789018"));
        assert!(!is_valid("123456789010"));
        assert!(!is_valid("1234567890é"));
        assert!(!is_valid("12345678901"));
        assert!(!is_valid("1234567890１5"));
        assert_eq!(check_digit("00000000000"), Some(0));
    }
}
