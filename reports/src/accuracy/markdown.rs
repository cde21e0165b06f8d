//! Short Markdown renderings of the summaries.

use super::pad::PadSummary;
use super::stats::{Interval, Proportion};
use super::{AccuracySummary, ScoreStats};
use std::fmt::Write;

/// A rate as a percentage with three significant digits.
pub(crate) fn pct(r: f64) -> String {
    if r == 0.0 {
        return "0%".into();
    }
    let v = r * 100.0;
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}%")
}

pub(crate) fn interval(i: &Interval) -> String {
    format!("[{}, {}]", pct(i.lower), pct(i.upper))
}

pub(crate) fn proportion(p: &Proportion) -> String {
    format!(
        "{} {} ({} / {})",
        pct(p.rate),
        interval(&p.interval),
        p.count,
        p.trials
    )
}

pub(crate) fn level(confidence: f64) -> String {
    format!("{}%", (confidence * 1000.0).round() / 10.0)
}

/// Where the EER lies (its threshold) and, when the summary has one, its bootstrap
/// interval: the words the Markdown and the HTML reports share.
pub(crate) fn eer_where(s: &AccuracySummary, e: &crate::accuracy::curve::Eer) -> (String, String) {
    let at = match e.threshold {
        Some(t) => format!("threshold {t:.6}"),
        None => "a threshold above every score".into(),
    };
    let boot = match s.bootstrap.as_ref().and_then(|b| b.eer) {
        Some(i) => format!(
            "; bootstrap by subject {}: {}",
            level(s.confidence),
            interval(&i)
        ),
        None => String::new(),
    };
    (at, boot)
}

pub(crate) fn stats(s: &Option<ScoreStats>) -> String {
    match s {
        Some(s) => format!("min {:.4}, mean {:.4}, max {:.4}", s.min, s.mean, s.max),
        None => "none".into(),
    }
}

pub(crate) fn accuracy(s: &AccuracySummary) -> String {
    let mut out = String::from("### Face verification accuracy\n\n");
    let ci = level(s.confidence);
    let _ = writeln!(
        out,
        "- Comparisons: {} genuine ({}), {} impostor ({})",
        s.genuine_comparisons,
        stats(&s.genuine_scores),
        s.impostor_comparisons,
        stats(&s.impostor_scores)
    );
    if let Some(e) = &s.eer {
        let (at, boot) = eer_where(s, e);
        let _ = writeln!(
            out,
            "- EER: {} (FMR {}, FNMR {} at {at}; FVC2000 definition){boot}",
            pct(e.eer),
            pct(e.fmr),
            pct(e.fnmr)
        );
    }
    if let Some(f) = &s.fta {
        let _ = writeln!(out, "- Failure to acquire: {}", proportion(f));
    }
    if let Some(op) = &s.at_threshold {
        let _ = writeln!(
            out,
            "- At threshold {}: FMR {}, FNMR {}",
            op.threshold,
            proportion(&op.fmr),
            proportion(&op.fnmr)
        );
    }
    if !s.fnmr_at_fmr.is_empty() {
        let boot = s.bootstrap.is_some();
        let _ = writeln!(
            out,
            "\nFNMR at fixed FMR (threshold from the impostor scores: the smallest with FMR ≤ \
             target; accept when the score is above the boundary, shown rounded: the JSON has \
             it exactly). Intervals: Clopper-Pearson {ci}{}.\n",
            if boot {
                ", and bootstrap by subject"
            } else {
                ""
            }
        );
        out.push_str("| FMR target | accept score > | FMR achieved | FNMR |");
        out.push_str(if boot { " FNMR bootstrap |" } else { "" });
        out.push_str(" impostors needed (rule of 3) |\n|---|---|---|---|");
        out.push_str(if boot { "---|" } else { "" });
        out.push_str("---|\n");
        for (i, op) in s.fnmr_at_fmr.iter().enumerate() {
            let _ = write!(
                out,
                "| {:e} | {:.6} | {} | {} |",
                op.target_fmr,
                op.boundary_score,
                proportion(&op.fmr),
                proportion(&op.fnmr)
            );
            if let Some(b) = &s.bootstrap {
                let cell = b
                    .fnmr_at_fmr
                    .get(i)
                    .map(|t| interval(&t.fnmr))
                    .unwrap_or_else(|| "–".into());
                let _ = write!(out, " {cell} |");
            }
            let _ = writeln!(
                out,
                " {} {} |",
                op.impostors_needed,
                if op.enough_impostors {
                    "(enough)"
                } else {
                    "(**too few**)"
                }
            );
        }
    }
    warnings(&mut out, &s.warnings);
    out
}

impl PadSummary {
    /// A short Markdown report.
    pub fn to_markdown(&self) -> String {
        pad(self)
    }
}

fn pad(s: &PadSummary) -> String {
    let ci = level(s.confidence);
    let mut out = String::from("### Presentation attack detection (ISO/IEC 30107-3)\n\n");
    if !s.apcer.is_empty() {
        let _ = writeln!(
            out,
            "| attack species | accepted / presentations | APCER | {ci} interval |\n|---|---|---|---|"
        );
        for a in &s.apcer {
            let _ = writeln!(
                out,
                "| {} | {} / {} | {} | {} |",
                a.species,
                a.apcer.count,
                a.apcer.trials,
                pct(a.apcer.rate),
                interval(&a.apcer.interval)
            );
        }
        out.push('\n');
    }
    if let Some(m) = &s.max_apcer {
        let _ = writeln!(
            out,
            "- Highest APCER: {} ({})",
            proportion(&m.apcer),
            m.species
        );
    }
    if let Some(b) = &s.bpcer {
        let _ = writeln!(out, "- BPCER: {}", proportion(b));
    }
    warnings(&mut out, &s.warnings);
    out
}

fn warnings(out: &mut String, warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str("\n**Warnings**\n\n");
    for w in warnings {
        let _ = writeln!(out, "- {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_three_digits() {
        assert_eq!(pct(0.0123), "1.23%");
        assert_eq!(pct(1.2e-4), "0.0120%");
        assert_eq!(pct(1.0), "100%");
        assert_eq!(pct(0.5), "50.0%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(level(0.95), "95%");
    }
}
