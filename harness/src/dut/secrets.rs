//! What a device must never disclose (docs/adapter-protocol.md, "Secrets"): the emulated
//! card's PINs, its signature password, 照合番号B and the holder's 個人番号. Every text a
//! device sends is searched for them before the harness keeps it; a hit is masked, and the
//! device fails the case.
//!
//! A leak is rarely written plainly, so the search folds what a log line does to a value:
//! full-width forms, digits grouped by spaces or hyphens (long numbers also by dots,
//! slashes and the like), letters around the digits, the ASCII bytes in hex, base64. A PIN
//! is found as a whole run of digits equal to it (`1234` in `PIN=1234`, not in `12345`);
//! long secrets (照合番号B, 個人番号) also inside longer runs. Numbers outside text (times,
//! counts) are never searched: they are JSON numbers, not text.

use base64::Engine;
use card_emulator::profile::CardProfile;
use common::text::fold_width;

/// Which secret a text disclosed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretKind {
    Pin,
    Password,
    SurfaceCodeB,
    MyNumber,
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecretKind::Pin => "a PIN of the card",
            SecretKind::Password => "the card's signature password",
            SecretKind::SurfaceCodeB => "照合番号B",
            SecretKind::MyNumber => "the holder's 個人番号",
        })
    }
}

/// What replaces a disclosed secret.
pub const MASK: &str = "‹redacted›";

/// The secrets of one card, in the form the search compares (ASCII, upper case).
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    items: Vec<(SecretKind, String)>,
}

/// Shorter digit secrets must equal a whole run; these may sit inside a longer one.
const LONG: usize = 8;
/// The shortest hex or base64 token worth decoding (a 4-digit PIN is 8 hex digits).
const MIN_ENCODED: usize = 8;

impl Secrets {
    pub fn of_card(profile: &CardProfile) -> Secrets {
        let mut items = Vec::new();
        for pin in [&profile.auth_pin, &profile.text_pin].into_iter().flatten() {
            items.push((SecretKind::Pin, pin.value.expose().to_owned()));
        }
        if let Some(password) = &profile.sign_password {
            items.push((SecretKind::Password, password.value.expose().to_owned()));
        }
        items.push((
            SecretKind::SurfaceCodeB,
            card_emulator::records::surface_code_b(
                profile.holder.birth_date,
                profile.card_expiry_year,
                profile.security_code.expose(),
            ),
        ));
        items.push((SecretKind::MyNumber, profile.holder.my_number.clone()));
        Secrets::new(items)
    }

    /// Secrets given directly (tests, other sources).
    pub fn new(items: impl IntoIterator<Item = (SecretKind, String)>) -> Secrets {
        let mut items: Vec<(SecretKind, String)> = items
            .into_iter()
            .map(|(kind, value)| (kind, fold(&value)))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        items.sort();
        items.dedup();
        Secrets { items }
    }

    /// Masks every secret in `text`; the kinds found, each once (empty: nothing found).
    pub fn mask(&self, text: &mut String) -> Vec<SecretKind> {
        if self.items.is_empty() {
            return Vec::new();
        }
        let chars: Vec<(usize, char)> = text
            .char_indices()
            .map(|(i, c)| (i, fold_width(c).to_ascii_uppercase()))
            .collect();
        let mut hits: Vec<(std::ops::Range<usize>, SecretKind)> = Vec::new();
        self.plain(&chars, &mut hits);
        self.encoded(text, &chars, &mut hits);
        if hits.is_empty() {
            return Vec::new();
        }
        let mut kinds: Vec<SecretKind> = hits.iter().map(|(_, k)| *k).collect();
        kinds.sort();
        kinds.dedup();
        // Byte ranges of the original text, merged, replaced from the end.
        let byte = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
        let mut ranges: Vec<(usize, usize)> = hits
            .iter()
            .map(|(r, _)| (byte(r.start), byte(r.end)))
            .collect();
        ranges.sort();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        for (start, end) in merged.into_iter().rev() {
            text.replace_range(start..end, MASK);
        }
        kinds
    }

    /// Whether `text` holds a secret (tests, and decoded tokens).
    pub fn found_in(&self, text: &str) -> bool {
        !self.mask(&mut text.to_owned()).is_empty()
    }

    /// Secrets written as they are (digits grouped or not, letters in any case).
    fn plain(&self, chars: &[(usize, char)], hits: &mut Vec<(std::ops::Range<usize>, SecretKind)>) {
        for (kind, value) in &self.items {
            if value.chars().all(|c| c.is_ascii_digit()) {
                let loose = value.len() >= LONG;
                for (range, digits) in digit_runs(chars, loose) {
                    let found = if loose {
                        digits.contains(value.as_str())
                    } else {
                        digits == *value
                    };
                    if found {
                        hits.push((range, *kind));
                    }
                }
            } else {
                let folded: Vec<char> = value.chars().collect();
                for start in 0..chars.len() {
                    let fits = chars[start..].len() >= folded.len()
                        && chars[start..start + folded.len()]
                            .iter()
                            .zip(&folded)
                            .all(|((_, c), v)| c == v);
                    if fits {
                        hits.push((start..start + folded.len(), *kind));
                    }
                }
            }
        }
    }

    /// Secrets hidden in a hex or base64 token: the token is decoded and searched as text.
    fn encoded(
        &self,
        text: &str,
        chars: &[(usize, char)],
        hits: &mut Vec<(std::ops::Range<usize>, SecretKind)>,
    ) {
        type Decoder = fn(&str) -> Option<Vec<u8>>;
        let hex_token = |i: usize| chars[i].1.is_ascii_hexdigit() || is_spaced_hex(chars, i);
        let b64_token = |i: usize| {
            let c = chars[i].1;
            c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_')
        };
        let scans: [(&dyn Fn(usize) -> bool, Decoder); 2] =
            [(&hex_token, decode_hex), (&b64_token, decode_base64)];
        for (in_token, decode) in scans {
            let mut start = 0;
            while start < chars.len() {
                if chars[start].1 == ' ' || !in_token(start) {
                    start += 1;
                    continue;
                }
                let mut end = start;
                while end < chars.len() && in_token(end) {
                    end += 1;
                }
                // base64 padding ends a token.
                let mut padded = end;
                while padded < chars.len() && padded < end + 2 && chars[padded].1 == '=' {
                    padded += 1;
                }
                let token = original(text, chars, start, padded);
                if token.len() >= MIN_ENCODED {
                    if let Some(kind) = decode(&token)
                        .and_then(|bytes| self.mask_plain_only(&String::from_utf8_lossy(&bytes)))
                    {
                        hits.push((start..padded, kind));
                    }
                }
                start = padded.max(start + 1);
            }
        }
    }

    /// The first kind found in `text` written plainly (a decoded token is not decoded again).
    fn mask_plain_only(&self, text: &str) -> Option<SecretKind> {
        let chars: Vec<(usize, char)> = text
            .char_indices()
            .map(|(i, c)| (i, fold_width(c).to_ascii_uppercase()))
            .collect();
        let mut hits = Vec::new();
        self.plain(&chars, &mut hits);
        hits.into_iter().map(|(_, k)| k).min()
    }
}

/// A secret as the search compares it.
fn fold(value: &str) -> String {
    value
        .chars()
        .map(|c| fold_width(c).to_ascii_uppercase())
        .collect()
}

/// Runs of digits, with the character range each covers and its digits. Between two
/// digits a run may hold one separator: a space or a hyphen; with `loose`, also what groups
/// long numbers (dots, slashes, underscores, commas, dashes, the long vowel mark).
fn digit_runs(chars: &[(usize, char)], loose: bool) -> Vec<(std::ops::Range<usize>, String)> {
    let separator = |c: char| {
        matches!(c, ' ' | '-' | '\t')
            || (loose
                && matches!(
                    c,
                    '.' | '/' | '_' | ',' | '\u{2010}'
                        ..='\u{2015}' | '\u{2212}' | '\u{30fc}' | '\u{30fb}' | '\u{ff65}'
                ))
    };
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        let mut end = i;
        while i < chars.len() {
            let c = chars[i].1;
            if c.is_ascii_digit() {
                digits.push(c);
                i += 1;
                end = i;
            } else if separator(c) && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit()) {
                i += 1;
            } else {
                break;
            }
        }
        runs.push((start..end, digits));
        i = end.max(start + 1);
    }
    if !loose {
        // Each group of a run on its own too: `5 1234` holds `1234`.
        let groups: Vec<_> = runs
            .iter()
            .flat_map(|(range, _)| {
                let mut groups = Vec::new();
                let mut g = range.start;
                while g < range.end {
                    let from = g;
                    while g < range.end && chars[g].1.is_ascii_digit() {
                        g += 1;
                    }
                    if g > from {
                        let digits = chars[from..g].iter().map(|(_, c)| *c).collect();
                        groups.push((from..g, digits));
                    }
                    g += 1;
                }
                groups
            })
            .collect();
        runs.extend(groups);
    }
    runs
}

/// A single space between two hex byte pairs (`31 32 33 34`).
fn is_spaced_hex(chars: &[(usize, char)], i: usize) -> bool {
    chars[i].1 == ' '
        && i >= 2
        && chars[i - 2..i].iter().all(|(_, c)| c.is_ascii_hexdigit())
        && chars
            .get(i + 1..i + 3)
            .is_some_and(|next| next.iter().all(|(_, c)| c.is_ascii_hexdigit()))
}

/// The token as sent (base64 is case-sensitive; the search upper-cased it).
fn original(text: &str, chars: &[(usize, char)], start: usize, end: usize) -> String {
    let byte = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    text[byte(start)..byte(end)]
        .chars()
        .map(fold_width)
        .filter(|c| *c != ' ')
        .collect()
}

fn decode_hex(token: &str) -> Option<Vec<u8>> {
    (token.len().is_multiple_of(2) && token.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex::decode(token).ok())
        .flatten()
}

fn decode_base64(token: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(token).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::of_card(&CardProfile::sample())
    }

    fn masked(text: &str) -> (String, Vec<SecretKind>) {
        let mut text = text.to_owned();
        let kinds = secrets().mask(&mut text);
        (text, kinds)
    }

    #[test]
    fn a_pin_is_found_however_it_is_written() {
        let pin = CardProfile::sample()
            .auth_pin
            .unwrap()
            .value
            .expose()
            .to_owned();
        let spaced: String = pin.chars().flat_map(|c| [c, ' ']).collect();
        let wide: String = pin
            .chars()
            .map(|c| char::from_u32(u32::from(c) + 0xfee0).unwrap())
            .collect();
        let hex_ascii = hex::encode(pin.as_bytes());
        let spaced_hex: Vec<String> = pin.bytes().map(|b| format!("{b:02X}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(pin.as_bytes());
        for text in [
            format!("debug: typed {pin}"),
            format!("PIN={pin}"),
            format!("pin {}", spaced.trim()),
            format!("pin {}", pin.replace("", "-").trim_matches('-')),
            format!("入力 {wide}"),
            format!("apdu 00 20 00 80 04 {}", spaced_hex.join(" ")),
            format!("data={hex_ascii}"),
            format!("b64 {b64}"),
        ] {
            let (out, kinds) = masked(&text);
            assert_eq!(kinds, vec![SecretKind::Pin], "{text}");
            assert!(
                out.contains(MASK) && !secrets().found_in(&out),
                "{text} -> {out}"
            );
        }
    }

    #[test]
    fn long_numbers_are_found_inside_other_text() {
        let p = CardProfile::sample();
        let n = &p.holder.my_number;
        let dotted = format!("{}.{}.{}", &n[..4], &n[4..8], &n[8..]);
        for text in [
            format!("id A{n}Z"),
            format!("番号: {dotted}"),
            format!("x{n}99"),
        ] {
            // (The sample's 個人番号 starts with its PIN: `1234.` is a PIN too.)
            let (out, kinds) = masked(&text);
            assert!(kinds.contains(&SecretKind::MyNumber), "{text}");
            assert!(!out.chars().any(|c| c.is_ascii_digit()), "{out}");
        }
        let b = card_emulator::records::surface_code_b(
            p.holder.birth_date,
            p.card_expiry_year,
            p.security_code.expose(),
        );
        assert_eq!(
            masked(&format!("ocr read {b}")).1,
            vec![SecretKind::SurfaceCodeB]
        );
        let password = p.sign_password.unwrap().value.expose().to_lowercase();
        assert_eq!(
            masked(&format!("pw {password}")).1,
            vec![SecretKind::Password]
        );
    }

    #[test]
    fn ordinary_device_text_is_left_alone() {
        for text in [
            "カメラ: 9 frames, 0 dropped",
            "PinLocked: no PIN tries left",
            "segment Ok, validity Some(Valid), error None",
            "attack suspected (printed photo)",
            "face.match took 702.4 ms",
            "12345 frames",
            "reader Virtual PCD 00 00",
            "",
        ] {
            let (out, kinds) = masked(text);
            assert!(kinds.is_empty(), "{text}: {kinds:?}");
            assert_eq!(out, text);
        }
    }

    proptest::proptest! {
        #[test]
        fn masking_never_panics_and_leaves_no_secret(text in "\\PC{0,60}", pin_at in 0usize..60) {
            let pin = CardProfile::sample().auth_pin.unwrap().value.expose().to_owned();
            let cut = pin_at.min(text.chars().count());
            let mut with: String = text.chars().take(cut).collect();
            with.push(' ');
            with.push_str(&pin);
            with.push(' ');
            with.extend(text.chars().skip(cut));
            let mut out = with.clone();
            let kinds = secrets().mask(&mut out);
            proptest::prop_assert!(!kinds.is_empty());
            proptest::prop_assert!(!secrets().found_in(&out), "{} -> {}", with, out);
        }
    }
}
