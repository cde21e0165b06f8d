//! The HTML report: one self-contained page a person reads, written beside JUnit and the JSON.
//!
//! Invariant: every text that comes from a run (case ids, reasons, evidence, requirement
//! titles, device and identity values) goes through [`escape`] before it reaches the page,
//! and the page loads nothing: no script, no external style sheet, font or image, its CSS
//! and SVG inline. A Content-Security-Policy meta tag tells the browser the same, so a missed
//! escape still cannot run script or reach the network. Why: the page is opened from the
//! evidence bundles of devices under test, whose strings the harness does not control, on
//! benches that may have no network, long after the run.
//!
//! [`render`] is pure (data in, text out; the file is written by [`crate::set`]). It reads
//! the cases one at a time, twice (the failures first, then the rest), and keeps only what it
//! renders plus a few numbers a case: evidence is bounded per case and in all
//! ([`EVIDENCE_LINES`], [`EVIDENCE_BYTES`], [`FAILURE_EVIDENCE_BUDGET`],
//! [`OTHER_EVIDENCE_BUDGET`]), so the shipped suite's page stays far under 2 MB and a
//! 100,000-case run's page stays openable. The counts are taken in the same pass that
//! renders the rows: they cannot disagree.
//!
//! Stable hooks for tests and scripts: `#count-{pass,fail,error,inconc,skip,total}` hold the
//! tally; every case is exactly one element with `data-verdict` (passed and skipped ones up
//! to [`OTHER_ROWS`], the rest counted in a note); with a plan,
//! `#count-req-{met,not-met,mandatory-not-met}` and one `tr[data-requirement]` per
//! requirement.

mod accuracy;
mod svg;

use crate::accuracy::pad::PadSummary;
use crate::accuracy::{AccuracySummary, Scores};
use crate::cases::{Cases, Tally};
use crate::latency::{percentile, LatencyRow};
use crate::plots::PlotError;
use crate::verdict::{CaseResult, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// At most this many lines of one case's evidence are shown…
pub const EVIDENCE_LINES: usize = 200;
/// …and at most this many bytes of it.
pub const EVIDENCE_BYTES: usize = 16 * 1024;
/// Bytes of failing cases' evidence on one page (escaped); past it a failure shows its
/// reason and measurements only.
pub const FAILURE_EVIDENCE_BUDGET: usize = 1024 * 1024;
/// Bytes of passing and skipped cases' evidence on one page (escaped); they come after the
/// failures and never take from their budget.
pub const OTHER_EVIDENCE_BUDGET: usize = 512 * 1024;
/// Rows of the table of passing and skipped cases; the rest are counted, not listed.
pub const OTHER_ROWS: usize = 10_000;
/// Measurements listed under one failing case.
const MEASUREMENTS_SHOWN: usize = 40;

const STYLE: &str = include_str!("style.css");

/// The verdicts in the order the page lists them.
const VERDICTS: [Verdict; 5] = [
    Verdict::Pass,
    Verdict::Fail,
    Verdict::Error,
    Verdict::Inconc,
    Verdict::Skip,
];

/// A requirement of a test plan and the cases that test it (the traceability matrix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    /// Where it comes from (a standard's clause, a procurement document).
    pub source: String,
    pub mandatory: bool,
    /// Case ids, as in the results.
    pub cases: Vec<String>,
}

/// The accuracy of a face-verification campaign: its summary, the scores to draw the DET
/// curve and the histograms from (no plots without them), and presentation-attack results.
#[derive(Clone, Copy, Debug)]
pub struct HtmlAccuracy<'a> {
    pub summary: &'a AccuracySummary,
    pub scores: Option<&'a Scores>,
    pub pad: Option<&'a PadSummary>,
}

/// Everything the page shows.
pub struct HtmlInput<'a> {
    pub title: String,
    /// The identity block, in order: tool, partition, host, times, and whatever the caller
    /// adds (device vendor, model and firmware, plan id and version…).
    pub identity: Vec<(String, String)>,
    pub cases: &'a dyn Cases,
    /// The latency table (as in results.json).
    pub latency: &'a [LatencyRow],
    /// The plan's requirements, when the run follows a plan.
    pub requirements: Option<&'a [Requirement]>,
    pub accuracy: Option<HtmlAccuracy<'a>>,
}

/// What a caller adds to the page of [`crate::set::ReportPaths::write_with`]: the title,
/// identity rows (a row whose key is already there replaces it), a plan's requirements and an
/// accuracy section.
#[derive(Clone, Debug, Default)]
pub struct HtmlExtras<'a> {
    pub title: Option<String>,
    pub identity: Vec<(String, String)>,
    pub requirements: Option<Vec<Requirement>>,
    pub accuracy: Option<HtmlAccuracy<'a>>,
}

#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error("cannot read case {index} back: {source}")]
    Case {
        index: usize,
        source: std::io::Error,
    },
    #[error("cannot draw the accuracy plots: {0}")]
    Plot(#[from] PlotError),
}

/// `base` with `extra` merged in: a key already in `base` gets the extra value in place, a
/// new key is added at the end.
pub fn merge_identity(
    mut base: Vec<(String, String)>,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    for (key, value) in extra {
        match base.iter_mut().find(|(k, _)| k == key) {
            Some(row) => row.1 = value.clone(),
            None => base.push((key.clone(), value.clone())),
        }
    }
    base
}

/// `text` as HTML text or a quoted attribute value; control characters but line feed and tab
/// (and the bidi overrides) as visible escapes, as on the console.
pub fn escape(text: &str) -> String {
    let text = common::text::escape_chars(text, |c| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn is_problem(v: Verdict) -> bool {
    matches!(v, Verdict::Fail | Verdict::Error | Verdict::Inconc)
}

/// What the first pass keeps of every case: a few numbers, not its evidence.
#[derive(Default)]
struct Pass1 {
    tally: Tally,
    /// Case id → (verdict, anchor index), for the traceability matrix.
    verdicts: HashMap<String, (Verdict, usize)>,
    /// Step measurements (ms) by name.
    steps: BTreeMap<String, Vec<f64>>,
    /// Case durations (ms) by group; skipped cases did not run and are left out.
    groups: BTreeMap<String, Vec<f64>>,
    problems: String,
    problem_count: usize,
}

/// The page.
pub fn render(input: &HtmlInput<'_>) -> Result<String, HtmlError> {
    let cases = input.cases;
    let read = |index: usize| {
        cases
            .case(index)
            .map_err(|source| HtmlError::Case { index, source })
    };

    let mut p = Pass1::default();
    let mut budget = FAILURE_EVIDENCE_BUDGET;
    for i in 0..cases.count() {
        let c = read(i)?;
        p.tally.add(c.verdict);
        if input.requirements.is_some() {
            p.verdicts.insert(c.id.clone(), (c.verdict, i));
        }
        for m in c.measurements.iter().filter(|m| m.unit == "ms") {
            p.steps.entry(m.name.clone()).or_default().push(m.value);
        }
        if c.verdict != Verdict::Skip {
            p.groups
                .entry(c.group.clone())
                .or_default()
                .push(c.duration.as_secs_f64() * 1e3);
        }
        if is_problem(c.verdict) {
            p.problem_count += 1;
            problem(&mut p.problems, i, &c, &mut budget);
        }
    }

    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &input.title);
    identity(&mut out, &input.identity);
    summary(&mut out, &p.tally);
    if let Some(reqs) = input.requirements {
        traceability(&mut out, reqs, &p.verdicts);
    }
    let _ = write!(
        out,
        "<section id=\"problems\"><h2>Failures, errors and inconclusive cases ({})</h2>",
        p.problem_count
    );
    if p.problem_count == 0 {
        out.push_str("<p>None.</p>");
    }
    out.push_str(&p.problems);
    out.push_str("</section>");
    drop(p.problems);

    // Second pass: everything else, in run order.
    let others = p.tally.total() - p.problem_count;
    let _ = write!(
        out,
        "<section id=\"cases\"><h2>Passed and skipped cases ({others})</h2>"
    );
    if others > 0 {
        out.push_str(
            "<table class=\"wide cases\"><thead><tr><th>verdict</th><th>case</th>\
             <th class=\"n\">duration</th><th>reason and evidence</th></tr></thead><tbody>",
        );
        let mut budget = OTHER_EVIDENCE_BUDGET;
        let mut listed = 0;
        for i in 0..cases.count() {
            let c = read(i)?;
            if is_problem(c.verdict) {
                continue;
            }
            if listed == OTHER_ROWS {
                break;
            }
            listed += 1;
            other_row(&mut out, i, &c, &mut budget);
        }
        out.push_str("</tbody></table>");
        if listed < others {
            let _ = write!(
                out,
                "<p class=\"muted\">{} more passed or skipped case(s) are not listed here: \
                 they are in results.json.</p>",
                others - listed
            );
        }
    }
    out.push_str("</section>");

    latency(&mut out, input.latency, &p.steps, &p.groups);
    if let Some(a) = &input.accuracy {
        accuracy::section(&mut out, a)?;
    }
    let _ = writeln!(
        out,
        "<footer>Written by myna-hil {}. This page is self-contained: it loads nothing and \
         runs no script.</footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(out)
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{t}</title><style>\n{STYLE}</style></head>\n\
         <body><h1>{t}</h1>",
        t = escape(title)
    );
}

fn identity(out: &mut String, rows: &[(String, String)]) {
    out.push_str("<section id=\"identity-block\"><table class=\"kv\" id=\"identity\">");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    out.push_str("</table></section>");
}

fn summary(out: &mut String, t: &Tally) {
    out.push_str("<section id=\"summary\"><h2>Summary</h2>");
    let (class, text) = if t.total() == 0 {
        ("empty", "No case ran.".to_owned())
    } else if t.any_bad() {
        (
            "bad",
            format!(
                "{} of {} cases did not pass: {} failed, {} ended in error, {} inconclusive.",
                t.fail + t.error + t.inconc,
                t.total(),
                t.fail,
                t.error,
                t.inconc
            ),
        )
    } else {
        (
            "good",
            format!(
                "Every case that ran passed: {} passed, {} skipped.",
                t.pass, t.skip
            ),
        )
    };
    let _ = write!(
        out,
        "<p id=\"outcome\" class=\"outcome {class}\" data-outcome=\"{class}\">{text}</p><ul class=\"counts\">"
    );
    for v in VERDICTS {
        let _ = write!(
            out,
            "<li class=\"{v}\"><span class=\"n\" id=\"count-{v}\">{}</span>{}</li>",
            t.count(v),
            verdict_word(v)
        );
    }
    let _ = write!(
        out,
        "<li><span class=\"n\" id=\"count-total\">{}</span>total</li></ul>",
        t.total()
    );
    if t.total() > 0 {
        out.push_str("<div class=\"bar\" aria-hidden=\"true\">");
        for v in VERDICTS {
            let n = t.count(v);
            if n > 0 {
                let _ = write!(
                    out,
                    "<span class=\"{v}\" style=\"flex:{n}\" title=\"{n} {}\"></span>",
                    verdict_word(v)
                );
            }
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "passed",
        Verdict::Fail => "failed",
        Verdict::Error => "error",
        Verdict::Inconc => "inconclusive",
        Verdict::Skip => "skipped",
    }
}

fn badge(out: &mut String, v: Verdict) {
    let _ = write!(out, "<span class=\"v {v}\">{v}</span>");
}

/// The mark of a verdict that rests on a person's answer.
fn operator_mark(out: &mut String, c: &CaseResult) {
    if c.operator_decided() {
        out.push_str(
            " <span class=\"operator-mark\" title=\"the verdict rests on an operator's answer\">\
             operator-decided</span>",
        );
    }
}

/// The questions put to the operator in a case, each with its answer, when and by whom.
fn operator_answers(out: &mut String, c: &CaseResult) {
    if !c.operator_decided() {
        return;
    }
    out.push_str(
        "<table class=\"kv operator\"><thead><tr><th>prompt</th><th>question</th>\
         <th>answer</th><th>by</th><th>asked · answered</th><th>meaning</th></tr></thead><tbody>",
    );
    for a in &c.operator {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{} · {}</td>\
             <td>{}</td></tr>",
            escape(&a.prompt),
            escape(&a.question),
            escape(a.answer.as_deref().unwrap_or("—")),
            escape(a.by.as_deref().unwrap_or("—")),
            escape(&a.asked_at),
            escape(a.answered_at.as_deref().unwrap_or("—")),
            escape(&a.meaning)
        );
    }
    out.push_str("</tbody></table>");
}

fn traceability(
    out: &mut String,
    reqs: &[Requirement],
    verdicts: &HashMap<String, (Verdict, usize)>,
) {
    // Met: every case of the requirement ran and passed. Anything else (a failure, an
    // error, an inconclusive or skipped case, a case with no result, no case at all) is not.
    let met = |r: &Requirement| {
        !r.cases.is_empty()
            && r.cases
                .iter()
                .all(|id| matches!(verdicts.get(id), Some((Verdict::Pass, _))))
    };
    let met_count = reqs.iter().filter(|r| met(r)).count();
    let mandatory_not_met = reqs.iter().filter(|r| r.mandatory && !met(r)).count();
    let _ = write!(
        out,
        "<section id=\"traceability\"><h2>Requirements</h2><p><span id=\"count-req-met\">{met_count}</span> \
         met, <span id=\"count-req-not-met\">{}</span> not met, of which \
         <span id=\"count-req-mandatory-not-met\">{mandatory_not_met}</span> mandatory. A \
         requirement is met when every one of its cases passed.</p><table class=\"wide\">\
         <thead><tr><th>requirement</th><th>source</th><th>kind</th><th>status</th>\
         <th>cases</th></tr></thead><tbody>",
        reqs.len() - met_count
    );
    for r in reqs {
        let status = if met(r) { "met" } else { "not-met" };
        let _ = write!(
            out,
            "<tr class=\"{status}\" data-requirement=\"{status}\"><td><strong>{}</strong><br>{}</td>\
             <td>{}</td><td>{}</td><td><span class=\"status {status}\">{}</span></td>\
             <td><ul class=\"req-cases\">",
            escape(&r.id),
            escape(&r.title),
            escape(&r.source),
            if r.mandatory {
                "<strong>mandatory</strong>"
            } else {
                "optional"
            },
            status.replace('-', " ")
        );
        if r.cases.is_empty() {
            out.push_str("<li class=\"muted\">no case</li>");
        }
        for id in &r.cases {
            match verdicts.get(id) {
                Some((v, i)) => {
                    let _ = write!(out, "<li><a href=\"#c{i}\">");
                    badge(out, *v);
                    let _ = write!(out, " <code>{}</code></a></li>", escape(id));
                }
                None => {
                    let _ = write!(
                        out,
                        "<li><span class=\"v none\">no result</span> <code>{}</code></li>",
                        escape(id)
                    );
                }
            }
        }
        out.push_str("</ul></td></tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// One failing, erring or inconclusive case: verdict, id, reason, measurements, evidence.
fn problem(out: &mut String, i: usize, c: &CaseResult, budget: &mut usize) {
    let _ = write!(
        out,
        "<article class=\"case {v}\" id=\"c{i}\" data-verdict=\"{v}\"><h3>",
        v = c.verdict
    );
    badge(out, c.verdict);
    operator_mark(out, c);
    let _ = write!(
        out,
        " <code>{}</code> <span class=\"muted\">{} · {}</span></h3>",
        escape(&c.id),
        escape(&c.group),
        svg::duration(c.duration.as_secs_f64() * 1e3)
    );
    if let Some(r) = &c.reason {
        let _ = write!(out, "<p class=\"reason\">{}</p>", escape(r));
    }
    operator_answers(out, c);
    if !c.measurements.is_empty() {
        let _ = write!(
            out,
            "<details><summary>measurements ({})</summary><table class=\"kv\">",
            c.measurements.len()
        );
        for m in c.measurements.iter().take(MEASUREMENTS_SHOWN) {
            let _ = write!(
                out,
                "<tr><th>{}</th><td class=\"n\">{} {}</td></tr>",
                escape(&m.name),
                m.value,
                escape(&m.unit)
            );
        }
        out.push_str("</table>");
        if c.measurements.len() > MEASUREMENTS_SHOWN {
            let _ = write!(
                out,
                "<p class=\"muted\">… {} more in results.json</p>",
                c.measurements.len() - MEASUREMENTS_SHOWN
            );
        }
        out.push_str("</details>");
    }
    evidence(out, &c.evidence, budget);
    out.push_str("</article>");
}

/// One row of the table of passing and skipped cases.
fn other_row(out: &mut String, i: usize, c: &CaseResult, budget: &mut usize) {
    let _ = write!(out, "<tr id=\"c{i}\" data-verdict=\"{}\"><td>", c.verdict);
    badge(out, c.verdict);
    operator_mark(out, c);
    let _ = write!(
        out,
        "</td><td><code>{}</code></td><td class=\"n\">{}</td><td>",
        escape(&c.id),
        svg::duration(c.duration.as_secs_f64() * 1e3)
    );
    if let Some(r) = &c.reason {
        let _ = write!(out, "<div class=\"reason\">{}</div>", escape(r));
    }
    operator_answers(out, c);
    if !c.evidence.is_empty() {
        evidence(out, &c.evidence, budget);
    }
    out.push_str("</td></tr>");
}

/// The first [`EVIDENCE_LINES`] lines (at most [`EVIDENCE_BYTES`]) of `evidence` in a
/// `<details>`, with how much was left out; nothing but a note once `budget` is spent.
fn evidence(out: &mut String, evidence: &str, budget: &mut usize) {
    if evidence.is_empty() {
        out.push_str("<p class=\"muted\">No evidence recorded.</p>");
        return;
    }
    let (shown, left_lines) = bounded(evidence);
    // The budget counts the bytes the page gets, escapes included.
    let text = escape(shown.trim_end_matches('\n'));
    if text.len() > *budget {
        out.push_str(
            "<p class=\"muted\">Evidence not shown: this page's evidence budget is spent \
             (it is in results.json).</p>",
        );
        *budget = 0;
        return;
    }
    *budget -= text.len();
    let lines = evidence.lines().count();
    let _ = write!(
        out,
        "<details><summary>evidence ({lines} line{})</summary><pre>{text}</pre>",
        if lines == 1 { "" } else { "s" },
    );
    if shown.len() < evidence.len() {
        let _ = write!(
            out,
            "<p class=\"muted\">… {left_lines} more line(s), {} bytes: the whole evidence is \
             in results.json.</p>",
            evidence.len() - shown.len()
        );
    }
    out.push_str("</details>");
}

/// The head of `evidence` within the bounds, and how many lines follow it.
fn bounded(evidence: &str) -> (&str, usize) {
    let mut end = 0;
    for (n, line) in evidence.split_inclusive('\n').enumerate() {
        if n == EVIDENCE_LINES || end + line.len() > EVIDENCE_BYTES {
            break;
        }
        end += line.len();
    }
    if end == 0 {
        // One first line longer than the bound: cut it at a character boundary.
        end = common::text::head(evidence, EVIDENCE_BYTES).len();
    }
    (&evidence[..end], evidence[end..].lines().count())
}

fn latency(
    out: &mut String,
    rows: &[LatencyRow],
    steps: &BTreeMap<String, Vec<f64>>,
    groups: &BTreeMap<String, Vec<f64>>,
) {
    out.push_str("<section id=\"latency\"><h2>Latency</h2>");
    if rows.is_empty() && groups.is_empty() {
        out.push_str("<p>No measurement.</p></section>");
        return;
    }
    if !rows.is_empty() {
        out.push_str(
            "<table id=\"latency-table\"><thead><tr><th>measure</th><th class=\"n\">n</th>\
             <th class=\"n\">p50 ms</th><th class=\"n\">p95 ms</th><th class=\"n\">p99 ms</th>\
             <th class=\"n\">max ms</th></tr></thead><tbody>",
        );
        for r in rows {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td>\
                 <td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td></tr>",
                escape(&r.measure),
                r.count,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.max_ms
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(
        "<p class=\"muted\">Histograms on a log scale, four bins a decade (values under 1 µs in \
         the first); the dashed lines are the median (p50) and p95.</p>",
    );
    for (id, title, sets) in [
        ("latency-steps", "Per step", steps),
        ("latency-groups", "Per group (case duration)", groups),
    ] {
        if sets.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{title}</h3><div class=\"plots\" id=\"{id}\">");
        for (name, values) in sets {
            let Some(chart) = svg::log_histogram(name, values) else {
                continue;
            };
            let mut sorted: Vec<f64> = values
                .iter()
                .copied()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .collect();
            sorted.sort_by(f64::total_cmp);
            let _ = write!(
                out,
                "<figure><figcaption><code>{}</code> <span class=\"muted\">n = {}, p50 {}, \
                 p95 {}</span></figcaption>{chart}</figure>",
                escape(name),
                sorted.len(),
                svg::duration(percentile(&sorted, 0.5)),
                svg::duration(percentile(&sorted, 0.95))
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests;
