//! The accuracy section: the numbers of [`AccuracySummary`] (and of a [`PadSummary`]) as
//! tables, their typed warnings set apart before anything is trusted, per-comparison and
//! generalised rates side by side, both kinds of interval labelled, and the DET curve and the
//! score histograms drawn by [`crate::plots`] (the same figures as its `.svg` files, inline).
//! The words come from [`crate::accuracy::markdown`], so the page and the Markdown agree.

use super::{escape, HtmlAccuracy, HtmlError};
use crate::accuracy::markdown::{
    facts, interval, level, pct, proportion, rate_rows, target_rows, RATES_NOTE, TARGETS_NOTE,
};
use crate::accuracy::pad::PadSummary;
use crate::accuracy::{AccuracySummary, Warning};
use std::fmt::Write;

fn row(out: &mut String, key: &str, value: &str) {
    let _ = write!(
        out,
        "<tr><th>{}</th><td>{}</td></tr>",
        escape(key),
        escape(value)
    );
}

fn warnings(out: &mut String, warnings: &[Warning]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str("<div class=\"warn\"><strong>Warnings</strong><ul>");
    for w in warnings {
        let _ = write!(
            out,
            "<li data-warning=\"{}\"><code>{}</code>: {}</li>",
            escape(w.code.name()),
            escape(w.code.name()),
            escape(&w.message)
        );
    }
    out.push_str("</ul></div>");
}

/// The section, `<section id="accuracy">…</section>`.
pub(super) fn section(out: &mut String, a: &HtmlAccuracy<'_>) -> Result<(), HtmlError> {
    out.push_str("<section id=\"accuracy\"><h2>Face verification accuracy</h2>");
    verification(out, a.summary);
    if let Some(scores) = a.scores {
        let svgs = crate::plots::accuracy_svgs(scores, a.summary)?;
        out.push_str("<div class=\"plots\">");
        if let Some(det) = &svgs.det {
            let _ = write!(
                out,
                "<figure id=\"det\"><figcaption>DET curve</figcaption>{det}</figure>"
            );
        }
        let _ = write!(
            out,
            "<figure id=\"score-histograms\"><figcaption>Comparison scores</figcaption>{}</figure>",
            svgs.scores
        );
        out.push_str("</div>");
    }
    if let Some(pad) = a.pad {
        pad_section(out, pad);
    }
    out.push_str("</section>");
    Ok(())
}

fn verification(out: &mut String, s: &AccuracySummary) {
    warnings(out, &s.warnings);
    out.push_str("<table class=\"kv\" id=\"accuracy-summary\">");
    for (k, v) in facts(s) {
        row(out, &k, &v);
    }
    out.push_str("</table>");

    let rows = rate_rows(s);
    if !rows.is_empty() {
        let generalised = s.generalised.is_some();
        let _ = write!(
            out,
            "<h3>Per comparison and generalised</h3><p class=\"muted\">{}</p>\
             <table id=\"accuracy-rates\"><thead><tr><th>rate</th>\
             <th>per comparison (FMR / FNMR)</th>",
            escape(RATES_NOTE)
        );
        if generalised {
            out.push_str("<th>generalised (FAR / FRR)</th>");
        }
        out.push_str("</tr></thead><tbody>");
        for r in &rows {
            let _ = write!(
                out,
                "<tr><th>{}</th><td>{}</td>",
                escape(&r.what),
                escape(&r.per_comparison)
            );
            if let Some(g) = &r.generalised {
                let _ = write!(out, "<td>{}</td>", escape(g));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if !generalised {
            out.push_str(
                "<p class=\"muted\">Generalised rates (FAR / FRR) are not given: the lost \
                 comparisons were not recorded.</p>",
            );
        }
    }

    for (generalised, id, title, fa, fr) in [
        (
            false,
            "fnmr-at-fmr",
            "FNMR at fixed FMR (per comparison)",
            "FMR",
            "FNMR",
        ),
        (
            true,
            "frr-at-far",
            "FRR at fixed FAR (generalised)",
            "FAR",
            "FRR",
        ),
    ] {
        let rows = target_rows(s, generalised);
        if rows.is_empty() {
            continue;
        }
        let boot = rows[0].bootstrap.is_some();
        let _ = write!(
            out,
            "<h3>{}</h3><p class=\"muted\">{}</p><table id=\"{id}\"><thead><tr><th>{fa} target</th>\
             <th>accept score &gt;</th><th>{fa} achieved</th><th>{fr}</th>",
            escape(title),
            escape(TARGETS_NOTE)
        );
        if boot {
            let _ = write!(out, "<th>{fr} bootstrap</th>");
        }
        out.push_str("<th>impostors needed (rule of 3)</th></tr></thead><tbody>");
        for r in rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td>",
                escape(&r.target),
                escape(&r.boundary),
                escape(&r.false_accepts),
                escape(&r.false_rejects)
            );
            if let Some(b) = &r.bootstrap {
                let _ = write!(out, "<td>{}</td>", escape(b));
            }
            let _ = write!(
                out,
                "<td>{} {}</td></tr>",
                r.needed,
                if r.enough {
                    "(enough)"
                } else {
                    "<strong>(too few)</strong>"
                }
            );
        }
        out.push_str("</tbody></table>");
    }
}

fn pad_section(out: &mut String, s: &PadSummary) {
    let ci = level(s.confidence);
    out.push_str("<h3>Presentation attack detection (ISO/IEC 30107-3)</h3>");
    warnings(out, &s.warnings);
    if !s.apcer.is_empty() {
        let _ = write!(
            out,
            "<table id=\"apcer\"><thead><tr><th>attack species</th><th>accepted / presentations</th>\
             <th>APCER</th><th>{ci} interval</th></tr></thead><tbody>"
        );
        for a in &s.apcer {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                escape(&a.species),
                a.apcer.count,
                a.apcer.trials,
                escape(&pct(a.apcer.rate)),
                escape(&interval(&a.apcer.interval))
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<table class=\"kv\">");
    if let Some(m) = &s.max_apcer {
        row(
            out,
            "highest APCER",
            &format!("{} ({})", proportion(&m.apcer, s.confidence), m.species),
        );
    }
    if let Some(b) = &s.bpcer {
        row(out, "BPCER", &proportion(b, s.confidence));
    }
    row(out, "intervals", &format!("{ci} {}", s.interval_method));
    out.push_str("</table>");
}
