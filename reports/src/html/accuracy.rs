//! The accuracy section: the numbers of [`AccuracySummary`] (and of a [`PadSummary`]) as
//! tables, their warnings set apart before anything is trusted, and the DET curve and the
//! score histograms drawn by [`crate::plots`] (the same figures as its `.svg` files, inline).

use super::{escape, HtmlAccuracy, HtmlError};
use crate::accuracy::markdown::{eer_where, interval, level, pct, proportion, stats};
use crate::accuracy::pad::PadSummary;
use crate::accuracy::AccuracySummary;
use std::fmt::Write;

fn row(out: &mut String, key: &str, value: &str) {
    let _ = write!(
        out,
        "<tr><th>{}</th><td>{}</td></tr>",
        escape(key),
        escape(value)
    );
}

fn warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str("<div class=\"warn\"><strong>Warnings</strong><ul>");
    for w in warnings {
        let _ = write!(out, "<li>{}</li>", escape(w));
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
    let ci = level(s.confidence);
    warnings(out, &s.warnings);
    out.push_str("<table class=\"kv\" id=\"accuracy-summary\">");
    row(
        out,
        "genuine comparisons",
        &format!("{} ({})", s.genuine_comparisons, stats(&s.genuine_scores)),
    );
    row(
        out,
        "impostor comparisons",
        &format!("{} ({})", s.impostor_comparisons, stats(&s.impostor_scores)),
    );
    if let Some(e) = &s.eer {
        let (at, boot) = eer_where(s, e);
        row(
            out,
            "EER",
            &format!(
                "{} (FMR {}, FNMR {} at {at}){boot}",
                pct(e.eer),
                pct(e.fmr),
                pct(e.fnmr)
            ),
        );
    }
    if let Some(f) = &s.fta {
        row(out, "failure to acquire (FTA)", &proportion(f));
    }
    if let Some(op) = &s.at_threshold {
        row(
            out,
            &format!("at threshold {}", op.threshold),
            &format!("FMR {}, FNMR {}", proportion(&op.fmr), proportion(&op.fnmr)),
        );
    }
    row(out, "intervals", &format!("Clopper-Pearson, {ci}"));
    out.push_str("</table>");
    if s.fnmr_at_fmr.is_empty() {
        return;
    }
    out.push_str(
        "<h3>FNMR at fixed FMR</h3><table id=\"fnmr-at-fmr\"><thead><tr><th>FMR target</th>\
         <th>accept score &gt;</th><th>FMR achieved</th><th>FNMR</th>",
    );
    if s.bootstrap.is_some() {
        out.push_str("<th>FNMR bootstrap</th>");
    }
    out.push_str("<th>impostors needed (rule of 3)</th></tr></thead><tbody>");
    for (i, op) in s.fnmr_at_fmr.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{:.6}</td><td>{}</td><td>{}</td>",
            escape(&format!("{:e}", op.target_fmr)),
            op.boundary_score,
            escape(&proportion(&op.fmr)),
            escape(&proportion(&op.fnmr))
        );
        if let Some(b) = &s.bootstrap {
            let cell = b
                .fnmr_at_fmr
                .get(i)
                .map(|t| interval(&t.fnmr))
                .unwrap_or_else(|| "–".into());
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        let _ = write!(
            out,
            "<td>{} {}</td></tr>",
            op.impostors_needed,
            if op.enough_impostors {
                "(enough)"
            } else {
                "<strong>(too few)</strong>"
            }
        );
    }
    out.push_str("</tbody></table>");
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
            &format!("{} ({})", proportion(&m.apcer), m.species),
        );
    }
    if let Some(b) = &s.bpcer {
        row(out, "BPCER", &proportion(b));
    }
    out.push_str("</table>");
}
