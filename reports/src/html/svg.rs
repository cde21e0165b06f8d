//! Latency histograms on a log scale, as small inline SVG: durations spread over six decades
//! (a µs APDU, a 3 s face match), so linear bins would put nearly every sample in the first
//! bar. Bins are fixed quarter-decades from 1 µs, the resolution of the measurements (a
//! value below it, zero included, counts in the first bin): two charts of the same step
//! always share bin edges, and a chart is a few kB however many samples it has.

use super::escape;
use crate::latency::percentile;
use std::fmt::Write;

/// Bins per factor of ten.
const PER_DECADE: i32 = 4;
/// The smallest value told apart, in ms (1 µs).
const FLOOR_MS: f64 = 1e-3;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 24.0;

/// The bin of `ms` (bin `k` holds [10^(k/4), 10^((k+1)/4)) ms).
fn bin_of(ms: f64) -> i32 {
    (ms.max(FLOOR_MS).log10() * f64::from(PER_DECADE)).floor() as i32
}

/// The lower edge of bin `k`, in ms.
fn edge(k: i32) -> f64 {
    10f64.powf(f64::from(k) / f64::from(PER_DECADE))
}

/// A duration in ms, short and readable: `12 µs`, `3.16 ms`, `178 ms`, `1.91 s`.
pub(crate) fn duration(ms: f64) -> String {
    if !ms.is_finite() {
        "–".into()
    } else if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1e3 {
        format!("{ms:.0} ms")
    } else if ms < 1e4 {
        format!("{:.2} s", ms / 1e3)
    } else {
        format!("{:.1} s", ms / 1e3)
    }
}

/// The label of the decade tick 10^`e` ms.
fn decade(e: i32) -> String {
    match e {
        i32::MIN..=-1 => format!("{} µs", 10u64.pow((e + 3).max(0) as u32)),
        0..=2 => format!("{} ms", 10u64.pow(e as u32)),
        _ => format!("{} s", 10u64.pow((e - 3).min(9) as u32)),
    }
}

/// The histogram of `values` (ms; negative and non-finite ones are left out), with the
/// median and p95 (nearest rank) marked; `None` without a value. `label` names the chart for
/// screen readers.
pub(crate) fn log_histogram(label: &str, values: &[f64]) -> Option<String> {
    let mut ms: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(f64::total_cmp);
    let (lo, hi) = (bin_of(ms[0]), bin_of(ms[ms.len() - 1]));
    // Whole decades, so the axis starts and ends at a labelled tick.
    let first = lo.div_euclid(PER_DECADE) * PER_DECADE;
    let last = (hi.div_euclid(PER_DECADE) + 1) * PER_DECADE;
    let bins = (last - first) as usize;
    let mut counts = vec![0usize; bins];
    for &v in &ms {
        counts[(bin_of(v) - first) as usize] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let bar_w = plot_w / bins as f64;
    let x_of = |ms: f64| {
        let pos = ms.max(FLOOR_MS).log10() * f64::from(PER_DECADE) - f64::from(first);
        LEFT + pos.clamp(0.0, bins as f64) * bar_w
    };
    let base = TOP + plot_h;

    let mut s = String::with_capacity(2048);
    let _ = write!(
        s,
        "<svg class=\"hist\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(&format!("log-scale histogram of {label}"))
    );
    // Axes, the top grid line and its count.
    let _ = write!(
        s,
        "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.1}\" y2=\"{TOP}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{:.1}\" y2=\"{base}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{top}</text>\
         <text x=\"{:.1}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        LEFT + plot_w,
        LEFT + plot_w,
        LEFT - 4.0,
        TOP + 4.0,
        LEFT - 4.0,
    );
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let k = first + i as i32;
        let h = (n as f64 / top as f64 * plot_h).max(1.0);
        let range = if k == bin_of(0.0) {
            format!("≤ {}", duration(edge(k + 1)))
        } else {
            format!("{} – {}", duration(edge(k)), duration(edge(k + 1)))
        };
        let _ = write!(
            s,
            "<rect class=\"bin\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\">\
             <title>{range}: {n}</title></rect>",
            LEFT + i as f64 * bar_w + 0.5,
            base - h,
            (bar_w - 1.0).max(0.5),
        );
    }
    for k in (first..=last).step_by(PER_DECADE as usize) {
        let x = LEFT + f64::from(k - first) * bar_w;
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{base}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            base + 4.0,
            base + 16.0,
            decade(k / PER_DECADE),
        );
    }
    // The median's label left of its line, the p95's right of it: never on top of each other.
    for (class, q, dx, anchor) in [("p50", 0.50, -2.0, "end"), ("p95", 0.95, 2.0, "start")] {
        let v = percentile(&ms, q);
        let x = x_of(v);
        let _ = write!(
            s,
            "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{base}\">\
             <title>{class} {}</title></line>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{class}</text>",
            TOP - 2.0,
            duration(v),
            x + dx,
            TOP - 5.0,
        );
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_quarter_decades_from_one_microsecond() {
        assert_eq!(bin_of(0.0), -12);
        assert_eq!(bin_of(0.001), -12);
        assert_eq!(bin_of(1.0), 0);
        assert_eq!(bin_of(1.7), 0);
        assert_eq!(bin_of(1.8), 1);
        assert_eq!(bin_of(10.0), 4);
        assert_eq!(bin_of(2400.0), 13);
        assert!((edge(4) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn labels_read_as_durations() {
        assert_eq!(duration(0.012), "12 µs");
        assert_eq!(duration(3.162), "3.16 ms");
        assert_eq!(duration(177.8), "178 ms");
        assert_eq!(duration(1909.7), "1.91 s");
        assert_eq!(decade(-3), "1 µs");
        assert_eq!(decade(-1), "100 µs");
        assert_eq!(decade(0), "1 ms");
        assert_eq!(decade(4), "10 s");
    }

    #[test]
    fn every_sample_is_in_a_bar() {
        let svg = log_histogram("x", &[0.0, 0.5, 1.0, 1.0, 2500.0, f64::NAN, -1.0]).unwrap();
        let total: usize = svg
            .split("<title>")
            .skip(1)
            .filter_map(|t| t.split_once("</title>"))
            .filter(|(t, _)| !t.starts_with("p50") && !t.starts_with("p95"))
            .map(|(t, _)| t.rsplit(": ").next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(total, 5);
        assert!(svg.contains(">1 µs<") && svg.contains(">10 s<"), "{svg}");
        assert!(log_histogram("x", &[f64::NAN]).is_none());
    }
}
