//! Text from files, devices and matrix values, made safe to print: a control character
//! (an ANSI escape, a carriage return, a NUL) would otherwise act on the user's terminal or
//! hide what follows it. The one place that decides how such characters look.

use std::borrow::Cow;

/// `text` with every control character (except tab) written as a visible escape, `\x1b`
/// or `\u{85}`; unchanged, and not copied, when it has none.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_chars(text, needs_escape)
}

/// `text` with every character `escaped` picks written as a visible escape in the same
/// notation; for other rules on other sinks (the JUnit XML cannot carry some characters).
pub fn escape_chars(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            let n = u32::from(c);
            if n < 0x80 {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` made safe for one cell of a Markdown table: control characters (a newline would
/// end the row) escaped as [`escape_controls`] does, and `|` (which would start a new cell)
/// written `\|`.
pub fn markdown_cell(text: &str) -> Cow<'_, str> {
    let visible = escape_controls(text);
    if !visible.contains('|') {
        return visible;
    }
    Cow::Owned(visible.replace('|', "\\|"))
}

/// `c` as its ASCII form when it is a full-width form of one (`０`→`0`, `Ａ`→`A`, the
/// ideographic space → a space), the part of NFKC that matters when a number or a word is
/// written to slip past a check; any other character unchanged.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Control characters (C0, DEL, C1) and the bidirectional overrides that reorder a line on
/// screen; tab stays, it only moves the cursor.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to at most `max` bytes at a character boundary, marked with `…` when cut.
pub fn clip(text: &mut String, max: usize) {
    if text.len() > max {
        let kept = head(text, max).len();
        text.truncate(kept);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_and_a_clip_end_on_a_character_boundary() {
        assert_eq!(head("あいう", 4), "あ");
        assert_eq!(head("abc", 10), "abc");
        let mut t = String::from("あいう");
        clip(&mut t, 7);
        assert_eq!(t, "あい…");
        let mut short = String::from("ab");
        clip(&mut short, 2);
        assert_eq!(short, "ab");
    }

    #[test]
    fn a_markdown_cell_keeps_its_row() {
        assert_eq!(markdown_cell("a/b.jpg"), "a/b.jpg");
        assert_eq!(markdown_cell("a|b\nc"), "a\\|b\\x0ac");
    }

    #[test]
    fn full_width_forms_fold_to_ascii() {
        let folded: String = "０１２９ＡｚＴＥＳＴ－．／\u{3000}あ"
            .chars()
            .map(fold_width)
            .collect();
        assert_eq!(folded, "0129AzTEST-./ あ");
    }

    #[test]
    fn escapes_what_acts_on_a_terminal_and_keeps_the_rest() {
        assert!(matches!(escape_controls("保険者 ok\tx"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(escape_controls("a\rb\n\0"), "a\\x0db\\x0a\\x00");
        assert_eq!(escape_controls("\u{85}\u{202e}z"), "\\u{85}\\u{202e}z");
    }

    #[test]
    fn escapes_only_what_the_rule_picks() {
        assert!(matches!(
            escape_chars("a\x1bb", |_| false),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            escape_chars("a\nb\u{ffff}", |c| c == '\u{ffff}'),
            "a\nb\\u{ffff}"
        );
    }
}
