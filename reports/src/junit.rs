//! JUnit XML that the Jenkins xUnit plugin's `junit-10.xsd` and the Apache Ant JUnit schema
//! (`JUnit.xsd`) both accept (docs/junit.md), written by hand: the format is small, and its
//! two schemas constrain element order, required attributes and number formats in ways a
//! generic writer does not follow.
//!
//! One testsuite per group. Fail → `failure`, error and inconc → `error` (its `type` names
//! the verdict), skip → `skipped`; each carries the reason as `message` and as text, failures
//! and errors with the end of the evidence after it. Ant allows no output and no properties
//! inside a testcase, so the suite holds them: a property per case for the verdict and each
//! measurement, and a `system-out` with every case's verdict, measurements and evidence.

use crate::cases::{Cases, Tally};
use crate::verdict::{CaseResult, Verdict};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// Evidence lines at most in a failure's or error's text (the whole is in `system-out`).
const EXCERPT_LINES: usize = 40;

/// What the suites need from outside the results; the caller learns it (the clock, the host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStamp {
    /// When the run started.
    pub started: time::OffsetDateTime,
    /// The host the cases ran on; "localhost" is written when it is blank, as Ant asks.
    pub hostname: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The JUnit XML of `results`: one testsuite per group, groups in name order, cases in the
/// order given.
pub fn to_xml(results: &[CaseResult], stamp: &RunStamp) -> String {
    let mut xml = Vec::new();
    write_to(&mut xml, &results, stamp).expect("writing to memory cannot fail");
    String::from_utf8(xml).expect("the writer writes UTF-8")
}

/// Writes the XML atomically (temporary file, then rename), so a reader never sees half a
/// file, reading the cases one at a time.
pub fn write(path: &Path, cases: &dyn Cases, stamp: &RunStamp) -> Result<(), JunitError> {
    common::fs::write_atomic_with(path, |w| write_to(w, cases, stamp)).map_err(|source| {
        JunitError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}

/// One group's cases and what its `testsuite` element counts.
#[derive(Default)]
struct Group {
    cases: Vec<usize>,
    tally: Tally,
    time: Duration,
}

/// The XML into `out`: one pass over the cases for the groups and their counts, then three
/// per group (properties, testcases, output), each holding one case at a time.
pub fn write_to(out: &mut dyn Write, cases: &dyn Cases, stamp: &RunStamp) -> io::Result<()> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for i in 0..cases.count() {
        let c = cases.case(i)?;
        let g = groups.entry(c.group.clone()).or_default();
        g.cases.push(i);
        g.tally.add(c.verdict);
        g.time += c.duration;
    }
    out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n")?;
    for (id, (group, g)) in groups.iter().enumerate() {
        suite(out, id, group, g, cases, stamp)?;
    }
    out.write_all(b"</testsuites>\n")
}

fn suite(
    out: &mut dyn Write,
    id: usize,
    group: &str,
    g: &Group,
    cases: &dyn Cases,
    stamp: &RunStamp,
) -> io::Result<()> {
    // Ant wants a non-blank suite name, package and host name.
    let name = non_blank(group, "ungrouped");
    writeln!(
        out,
        "  <testsuite name=\"{name}\" package=\"{name}\" id=\"{id}\" timestamp=\"{}\" \
         hostname=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        timestamp(stamp.started),
        attr(non_blank(&stamp.hostname, "localhost")),
        g.cases.len(),
        g.tally.fail,
        g.tally.error + g.tally.inconc,
        g.tally.skip,
        seconds(g.time),
        name = attr(name),
    )?;
    let mut chunk = String::new();
    let mut each = |out: &mut dyn Write, f: &dyn Fn(&mut String, &CaseResult)| {
        for &i in &g.cases {
            chunk.clear();
            f(&mut chunk, &*cases.case(i)?);
            out.write_all(chunk.as_bytes())?;
        }
        io::Result::Ok(())
    };
    out.write_all(b"    <properties>\n")?;
    each(out, &|xml, c| {
        property(xml, &c.id, "verdict", c.verdict.as_str());
        // A verdict that rests on a person's answer says so, with each answer.
        if c.operator_decided() {
            property(xml, &c.id, "operator_decided", "true");
            for a in &c.operator {
                let said = match (&a.answer, &a.by) {
                    (Some(answer), Some(by)) => format!("{answer} by {by}: {}", a.meaning),
                    _ => a.meaning.clone(),
                };
                property(xml, &c.id, &format!("operator.{}", a.prompt), &said);
            }
        }
        for m in &c.measurements {
            property(xml, &c.id, &m.name, &format!("{} {}", m.value, m.unit));
        }
    })?;
    out.write_all(b"    </properties>\n")?;
    each(out, &testcase)?;
    out.write_all(b"    <system-out>")?;
    each(out, &|xml, c| xml.push_str(&text(&output(c))))?;
    out.write_all(b"</system-out>\n")?;
    // Ant requires the element; nothing goes to stderr.
    out.write_all(b"    <system-err></system-err>\n  </testsuite>\n")
}

fn property(xml: &mut String, case: &str, key: &str, value: &str) {
    let _ = writeln!(
        xml,
        "      <property name=\"{}\" value=\"{}\"/>",
        attr(&format!("{case}.{key}")),
        attr(value)
    );
}

fn testcase(xml: &mut String, c: &CaseResult) {
    let _ = write!(
        xml,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        attr(&c.name),
        attr(&c.group),
        seconds(c.duration)
    );
    let element = match c.verdict {
        Verdict::Pass => None,
        Verdict::Skip => Some("skipped"),
        Verdict::Fail => Some("failure"),
        Verdict::Error | Verdict::Inconc => Some("error"),
    };
    let Some(element) = element else {
        xml.push_str("/>\n");
        return;
    };
    xml.push_str(">\n      <");
    xml.push_str(element);
    // Ant requires `type` on failure and error; skipped takes any attributes.
    if element != "skipped" {
        let _ = write!(xml, " type=\"{}\"", c.verdict.as_str());
    }
    if let Some(reason) = &c.reason {
        let _ = write!(xml, " message=\"{}\"", attr(reason));
    }
    let body = if element == "skipped" {
        c.reason.clone().unwrap_or_default()
    } else {
        failure_text(c)
    };
    let _ = write!(xml, ">{}</{element}>\n    </testcase>\n", text(&body));
}

/// The reason, then the end of the evidence: what a reader of one failed case (GitLab shows
/// only this text) needs to see where it went wrong.
fn failure_text(c: &CaseResult) -> String {
    let mut out = c
        .reason
        .clone()
        .unwrap_or_else(|| format!("verdict {}", c.verdict));
    let lines: Vec<&str> = c.evidence.lines().collect();
    if lines.is_empty() {
        return out;
    }
    let start = lines.len().saturating_sub(EXCERPT_LINES);
    out.push_str("\n\n");
    if start > 0 {
        let _ = writeln!(out, "[{start} earlier lines of evidence in system-out]");
    }
    out.push_str(&lines[start..].join("\n"));
    out
}

/// A case's verdict line, measurements and evidence, for the suite's output.
fn output(c: &CaseResult) -> String {
    let mut out = String::new();
    {
        let _ = write!(out, "--- {}: {}", c.name, c.verdict);
        if c.operator_decided() {
            out.push_str(" [operator-decided]");
        }
        if let Some(reason) = &c.reason {
            let _ = write!(out, " ({reason})");
        }
        out.push('\n');
        for m in &c.measurements {
            let _ = writeln!(out, "{} = {} {}", m.name, m.value, m.unit);
        }
        if !c.evidence.is_empty() {
            out.push_str(&c.evidence);
            if !c.evidence.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

fn non_blank<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.trim().is_empty() {
        fallback
    } else {
        value
    }
}

/// Seconds with three decimals: both `xs:decimal` (Ant) and junit-10's SUREFIRE_TIME pattern,
/// which allows no more than three.
fn seconds(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC: Ant's pattern allows no zone, so the zone is fixed instead.
fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Characters XML 1.0 cannot carry at all, even as references: C0 controls but tab, line
/// feed and carriage return, and U+FFFE/U+FFFF (Rust strings hold no surrogates).
fn not_xml(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\u{fffe}' | '\u{ffff}')
}

/// Text content: markup escaped, characters XML cannot carry written visibly (`\x1b`), and
/// carriage returns as references so a parser does not turn them into line feeds.
fn text(value: &str) -> String {
    escape(value, false)
}

/// An attribute value: as [`text`], and tab, line feed and carriage return as references,
/// which attribute-value normalisation would otherwise turn into spaces.
fn attr(value: &str) -> String {
    escape(value, true)
}

fn escape(value: &str, attribute: bool) -> String {
    let visible: Cow<'_, str> = common::text::escape_chars(value, not_xml);
    let mut out = String::with_capacity(visible.len());
    for c in visible.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Measurement;

    fn stamp() -> RunStamp {
        RunStamp {
            started: time::macros::datetime!(2026-04-01 09:30:05.250 +09:00),
            hostname: "bench-1".into(),
        }
    }

    fn case(group: &str, name: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            reason: (verdict != Verdict::Pass).then(|| format!("{name} went {verdict}")),
            duration: Duration::from_millis(3),
            measurements: vec![Measurement::new("apdu_ms", 0.25, "ms")],
            evidence: "> 00A4\n< 9000".into(),
            ..CaseResult::new(group, name, verdict)
        }
    }

    /// The value of `attribute` on the first `element` tag.
    fn attribute<'a>(xml: &'a str, element: &str, attribute: &str) -> &'a str {
        let tag = &xml[xml.find(&format!("<{element} ")).unwrap()..];
        let tag = &tag[..tag.find('>').unwrap()];
        let start = tag.find(&format!(" {attribute}=\"")).unwrap() + attribute.len() + 3;
        &tag[start..start + tag[start..].find('"').unwrap()]
    }

    #[test]
    fn counts_each_verdict_where_junit_expects_it() {
        let results = [
            case("g", "a", Verdict::Pass),
            case("g", "b", Verdict::Fail),
            case("g", "c", Verdict::Error),
            case("g", "d", Verdict::Inconc),
            case("g", "e", Verdict::Skip),
            case("g", "f", Verdict::Skip),
        ];
        let xml = to_xml(&results, &stamp());
        for (name, value) in [
            ("tests", "6"),
            ("failures", "1"),
            ("errors", "2"),
            ("skipped", "2"),
            ("time", "0.018"),
            ("timestamp", "2026-04-01T00:30:05"),
            ("hostname", "bench-1"),
            ("package", "g"),
            ("id", "0"),
        ] {
            assert_eq!(attribute(&xml, "testsuite", name), value, "{name}\n{xml}");
        }
        assert!(!xml.contains("disabled"), "{xml}");
        assert_eq!(xml.matches("<skipped ").count(), 2, "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
        assert_eq!(xml.matches("<error ").count(), 2, "{xml}");
        assert!(xml.contains(r#"<error type="inconc" message="d went inconc">"#));
        assert!(xml.contains(r#"<property name="g.d.verdict" value="inconc"/>"#));
        assert!(xml.contains(r#"<property name="g.a.apdu_ms" value="0.25 ms"/>"#));
    }

    #[test]
    fn failure_text_carries_the_reason_and_the_end_of_the_evidence() {
        let mut long = case("g", "b", Verdict::Fail);
        long.evidence = (1..=50).map(|i| format!("line {i}\n")).collect();
        let xml = to_xml(&[long], &stamp());
        let body_start = xml.find("<failure ").unwrap();
        let body = &xml[body_start..xml.find("</failure>").unwrap()];
        let body = &body[body.find('>').unwrap() + 1..];
        assert!(
            body.starts_with("b went fail\n\n[10 earlier lines"),
            "{body}"
        );
        assert!(
            body.contains("line 11\n") && body.ends_with("line 50"),
            "{body}"
        );
        assert!(!body.contains("line 10\n"), "{body}");
        // The whole evidence stays in the suite's output.
        assert!(xml.contains("line 1\nline 2\n"), "{xml}");
    }

    #[test]
    fn characters_xml_cannot_carry_are_written_visibly() {
        let hostile = "a\u{fffe}b\u{ffff}c\x1bd\0e\x0bf";
        let mut c = case(hostile, hostile, Verdict::Error);
        c.reason = Some(hostile.into());
        c.evidence = hostile.into();
        c.measurements = vec![Measurement::new(hostile, 1.0, hostile)];
        let xml = to_xml(&[c], &stamp());
        assert!(!xml.chars().any(not_xml), "{xml:?}");
        let visible = r"a\u{fffe}b\u{ffff}c\x1bd\x00e\x0bf";
        // name, package, classname, message, error text, property name and value, output.
        assert!(xml.matches(visible).count() >= 8, "{xml}");
    }

    #[test]
    fn markup_and_line_breaks_survive_a_parser() {
        assert_eq!(text("a<b>&]]>\"\r\n\t"), "a&lt;b&gt;&amp;]]&gt;\"&#13;\n\t");
        assert_eq!(attr("\"x\"\n\ty\r"), "&quot;x&quot;&#10;&#9;y&#13;");
        assert_eq!(text("保険者"), "保険者");
    }

    #[test]
    fn blank_names_get_what_ant_requires() {
        let mut s = stamp();
        s.hostname = " \n".into();
        let xml = to_xml(&[case(" ", "a", Verdict::Pass)], &s);
        assert_eq!(attribute(&xml, "testsuite", "hostname"), "localhost");
        assert_eq!(attribute(&xml, "testsuite", "name"), "ungrouped");
    }

    #[test]
    fn times_have_three_decimals_at_most() {
        assert_eq!(seconds(Duration::from_micros(1_234_567)), "1.234");
        assert_eq!(seconds(Duration::ZERO), "0.000");
        assert_eq!(seconds(Duration::from_secs(4000)), "4000.000");
    }

    #[test]
    fn no_results_is_an_empty_list_of_suites() {
        assert_eq!(
            to_xml(&[], &stamp()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n</testsuites>\n"
        );
    }
}
