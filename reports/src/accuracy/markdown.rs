//! Short Markdown renderings of the summaries, and the words they share with the HTML report
//! ([`facts`], [`rate_rows`], [`target_rows`]): one source, so the two cannot disagree.

use super::stats::{zero_upper_bound, Interval, Proportion};
use super::{AccuracySummary, ScoreStats, Warning};
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

/// `rate [interval] (count / trials)`; a 0 also gets its one-sided upper bound, so it never
/// stands alone.
pub(crate) fn proportion(p: &Proportion, confidence: f64) -> String {
    let zero = if p.count == 0 {
        format!(
            "; ≤ {} one-sided {}",
            pct(zero_upper_bound(p.trials, confidence)),
            level(confidence)
        )
    } else {
        String::new()
    };
    format!(
        "{} {} ({} / {}{zero})",
        pct(p.rate),
        interval(&p.interval),
        p.count,
        p.trials
    )
}

pub(crate) fn level(confidence: f64) -> String {
    format!("{}%", (confidence * 1000.0).round() / 10.0)
}

fn threshold_words(t: Option<f64>) -> String {
    match t {
        Some(t) => format!("threshold {t:.6}"),
        None => "a threshold above every score".into(),
    }
}

/// "; bootstrap [a, b]" or nothing.
fn boot(i: Option<&Interval>) -> String {
    i.map(|i| format!("; bootstrap {}", interval(i)))
        .unwrap_or_default()
}

pub(crate) fn stats(s: &Option<ScoreStats>) -> String {
    match s {
        Some(s) => format!("min {:.4}, mean {:.4}, max {:.4}", s.min, s.mean, s.max),
        None => "none".into(),
    }
}

/// The key facts of a summary, as (label, value) lines.
pub(crate) fn facts(s: &AccuracySummary) -> Vec<(String, String)> {
    let ci = level(s.confidence);
    let mut out = vec![(
        "comparisons made".to_string(),
        format!(
            "{} genuine ({}), {} impostor ({})",
            s.genuine_comparisons,
            stats(&s.genuine_scores),
            s.impostor_comparisons,
            stats(&s.impostor_scores)
        ),
    )];
    let lost = match &s.lost {
        Some(l) => {
            let one = |kind: &str, p: &Option<Proportion>| match p {
                Some(p) => format!("{kind} {} of {} ({})", p.count, p.trials, pct(p.rate)),
                None => format!("{kind}: none attempted"),
            };
            format!(
                "{}, {}",
                one("genuine", &l.genuine),
                one("impostor", &l.impostor)
            )
        }
        None => "not recorded (the per-comparison rates leave them out; no generalised rates)"
            .to_string(),
    };
    out.push((
        "comparisons lost (a sample failed to enrol or acquire)".into(),
        lost,
    ));
    let limit = format!(" (limit {})", pct(s.fta_limit));
    if let Some(f) = &s.fte {
        out.push((
            "FTE (failure to enrol)".into(),
            format!("{}{limit}", proportion(f, s.confidence)),
        ));
    }
    if let Some(f) = &s.fta {
        out.push((
            "FTA (failure to acquire)".into(),
            format!("{}{limit}", proportion(f, s.confidence)),
        ));
    }
    out.push(("intervals".into(), format!("{ci} {}", s.interval_method)));
    if let Some(b) = &s.bootstrap {
        out.push((
            "bootstrap".into(),
            format!(
                "{ci} {}: {} replicates ({} used), {} subjects, seed {}",
                b.method, b.replicates, b.used_replicates, b.subjects, b.seed
            ),
        ));
    }
    out
}

/// One line of the side-by-side table: what, per comparison, generalised (`None`: not given).
pub(crate) struct RateRow {
    pub what: String,
    pub per_comparison: String,
    pub generalised: Option<String>,
}

/// Per-comparison and generalised rates side by side: EER, both rates at the operating
/// threshold, the false non-match / reject rate at each FMR / FAR target.
pub(crate) fn rate_rows(s: &AccuracySummary) -> Vec<RateRow> {
    let c = s.confidence;
    let b = s.bootstrap.as_ref();
    let bg = b.and_then(|b| b.generalised.as_ref());
    let g = s.generalised.as_ref();
    let mut rows = Vec::new();
    let dash = || "–".to_string();
    if s.eer.is_some() || g.is_some() {
        rows.push(RateRow {
            what: "EER".into(),
            per_comparison: s.eer.map_or_else(dash, |e| {
                format!(
                    "{} (FMR {}, FNMR {} at {}){}",
                    pct(e.eer),
                    pct(e.fmr),
                    pct(e.fnmr),
                    threshold_words(e.threshold),
                    boot(b.and_then(|b| b.eer.as_ref()))
                )
            }),
            generalised: g.map(|g| {
                let e = &g.eer;
                format!(
                    "{} (FAR {}, FRR {} at {}){}",
                    pct(e.eer),
                    pct(e.far),
                    pct(e.frr),
                    threshold_words(e.threshold),
                    boot(bg.map(|b| &b.eer))
                )
            }),
        });
    }
    let t = s
        .at_threshold
        .as_ref()
        .map(|o| o.threshold)
        .or_else(|| g.and_then(|g| g.at_threshold.as_ref()).map(|o| o.threshold));
    if let Some(t) = t {
        let bt = b.and_then(|b| b.at_threshold.as_ref());
        let bgt = bg.and_then(|b| b.at_threshold.as_ref());
        let gt = g.and_then(|g| g.at_threshold.as_ref());
        rows.push(RateRow {
            what: format!("false match / accept at threshold {t}"),
            per_comparison: s.at_threshold.as_ref().map_or_else(dash, |o| {
                format!("FMR {}{}", proportion(&o.fmr, c), boot(bt.map(|b| &b.fmr)))
            }),
            generalised: g.map(|_| {
                gt.map_or_else(dash, |o| {
                    format!("FAR {}{}", proportion(&o.far, c), boot(bgt.map(|b| &b.far)))
                })
            }),
        });
        rows.push(RateRow {
            what: format!("false non-match / reject at threshold {t}"),
            per_comparison: s.at_threshold.as_ref().map_or_else(dash, |o| {
                format!(
                    "FNMR {}{}",
                    proportion(&o.fnmr, c),
                    boot(bt.map(|b| &b.fnmr))
                )
            }),
            generalised: g.map(|_| {
                gt.map_or_else(dash, |o| {
                    format!("FRR {}{}", proportion(&o.frr, c), boot(bgt.map(|b| &b.frr)))
                })
            }),
        });
    }
    let targets: Vec<f64> = if !s.fnmr_at_fmr.is_empty() {
        s.fnmr_at_fmr.iter().map(|o| o.target_fmr).collect()
    } else {
        g.map(|g| g.frr_at_far.iter().map(|o| o.target_far).collect())
            .unwrap_or_default()
    };
    for (i, target) in targets.into_iter().enumerate() {
        rows.push(RateRow {
            what: format!("at FMR / FAR ≤ {target:e}"),
            per_comparison: s.fnmr_at_fmr.get(i).map_or_else(dash, |o| {
                format!(
                    "FNMR {}{}",
                    proportion(&o.fnmr, c),
                    boot(b.and_then(|b| b.fnmr_at_fmr.get(i)).map(|t| &t.fnmr))
                )
            }),
            generalised: g.map(|g| {
                g.frr_at_far.get(i).map_or_else(dash, |o| {
                    format!(
                        "FRR {}{}",
                        proportion(&o.frr, c),
                        boot(bg.and_then(|b| b.frr_at_far.get(i)).map(|t| &t.frr))
                    )
                })
            }),
        });
    }
    rows
}

/// One line of a fixed-target table (per comparison or generalised).
pub(crate) struct TargetRow {
    pub target: String,
    /// "accept score >" boundary, rounded (the JSON has it exactly).
    pub boundary: String,
    pub false_accepts: String,
    pub false_rejects: String,
    pub bootstrap: Option<String>,
    pub needed: u64,
    pub enough: bool,
}

/// The per-comparison (`generalised == false`: FNMR at FMR) or generalised (FRR at FAR) target
/// table.
pub(crate) fn target_rows(s: &AccuracySummary, generalised: bool) -> Vec<TargetRow> {
    let c = s.confidence;
    let b = s.bootstrap.as_ref();
    if !generalised {
        return s
            .fnmr_at_fmr
            .iter()
            .enumerate()
            .map(|(i, op)| TargetRow {
                target: format!("{:e}", op.target_fmr),
                boundary: format!("{:.6}", op.boundary_score),
                false_accepts: proportion(&op.fmr, c),
                false_rejects: proportion(&op.fnmr, c),
                bootstrap: b.map(|b| {
                    b.fnmr_at_fmr
                        .get(i)
                        .map_or_else(|| "–".into(), |t| interval(&t.fnmr))
                }),
                needed: op.impostors_needed,
                enough: op.enough_impostors,
            })
            .collect();
    }
    let Some(g) = &s.generalised else {
        return Vec::new();
    };
    let bg = b.and_then(|b| b.generalised.as_ref());
    g.frr_at_far
        .iter()
        .enumerate()
        .map(|(i, op)| TargetRow {
            target: format!("{:e}", op.target_far),
            boundary: op
                .boundary_score
                .map_or_else(|| "any (none to reject)".into(), |v| format!("{v:.6}")),
            false_accepts: proportion(&op.far, c),
            false_rejects: proportion(&op.frr, c),
            bootstrap: b.map(|_| {
                bg.and_then(|b| b.frr_at_far.get(i))
                    .map_or_else(|| "–".into(), |t| interval(&t.frr))
            }),
            needed: op.impostors_needed,
            enough: op.enough_impostors,
        })
        .collect()
}

/// The words above the side-by-side table.
pub(crate) const RATES_NOTE: &str = "Per comparison (ISO/IEC 19795-1 FMR, FNMR): only the \
     comparisons that were made. Generalised (FAR, FRR): every attempted comparison, a lost \
     genuine one counted as a false reject and a lost impostor one as a correct reject at every \
     threshold.";

/// The words above the target tables.
pub(crate) const TARGETS_NOTE: &str = "Threshold from the impostor scores: the smallest with a \
     false-accept rate ≤ target; accept when the score is above the boundary (shown rounded: \
     the JSON has it exactly).";

pub(crate) fn accuracy(s: &AccuracySummary) -> String {
    let mut out = String::from("### Face verification accuracy\n\n");
    for (k, v) in facts(s) {
        let _ = writeln!(out, "- {}{}: {v}", k[..1].to_uppercase(), &k[1..]);
    }
    let rows = rate_rows(s);
    if !rows.is_empty() {
        let generalised = s.generalised.is_some();
        let _ = writeln!(out, "\n{RATES_NOTE}\n");
        out.push_str("| rate | per comparison (FMR / FNMR) |");
        if generalised {
            out.push_str(" generalised (FAR / FRR) |");
        }
        out.push_str("\n|---|---|");
        if generalised {
            out.push_str("---|");
        }
        out.push('\n');
        for r in &rows {
            let _ = write!(out, "| {} | {} |", r.what, r.per_comparison);
            if let Some(g) = &r.generalised {
                let _ = write!(out, " {g} |");
            }
            out.push('\n');
        }
        if !generalised {
            out.push_str(
                "\nGeneralised rates (FAR / FRR) are not given: the lost comparisons were not \
                 recorded.\n",
            );
        }
    }
    for (generalised, title, fa, fr) in [
        (false, "FNMR at fixed FMR (per comparison)", "FMR", "FNMR"),
        (true, "FRR at fixed FAR (generalised)", "FAR", "FRR"),
    ] {
        let rows = target_rows(s, generalised);
        if rows.is_empty() {
            continue;
        }
        let boot = rows[0].bootstrap.is_some();
        let _ = writeln!(out, "\n{title}. {TARGETS_NOTE}\n");
        let _ = write!(
            out,
            "| {fa} target | accept score > | {fa} achieved | {fr} |"
        );
        if boot {
            let _ = write!(out, " {fr} bootstrap |");
        }
        out.push_str(" impostors needed (rule of 3) |\n|---|---|---|---|");
        if boot {
            out.push_str("---|");
        }
        out.push_str("---|\n");
        for r in rows {
            let _ = write!(
                out,
                "| {} | {} | {} | {} |",
                r.target, r.boundary, r.false_accepts, r.false_rejects
            );
            if let Some(b) = &r.bootstrap {
                let _ = write!(out, " {b} |");
            }
            let _ = writeln!(
                out,
                " {} {} |",
                r.needed,
                if r.enough {
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

pub(crate) fn warnings(out: &mut String, warnings: &[Warning]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str("\n**Warnings**\n\n");
    for w in warnings {
        let _ = writeln!(out, "- `{}`: {}", w.code, w.message);
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

    #[test]
    fn a_zero_never_stands_alone() {
        let p = Proportion::new(0, 500, 0.95).unwrap();
        assert_eq!(
            proportion(&p, 0.95),
            "0% [0%, 0.735%] (0 / 500; ≤ 0.597% one-sided 95%)"
        );
        let p = Proportion::new(5, 100, 0.95).unwrap();
        assert_eq!(proportion(&p, 0.95), "5.00% [1.64%, 11.3%] (5 / 100)");
    }
}
