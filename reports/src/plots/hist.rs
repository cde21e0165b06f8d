//! Histograms: genuine/impostor score distributions, and latency per scenario step. Marker
//! lines (thresholds, percentiles) carry text labels beside them (see `labels.rs`), so two
//! lines with nearby values stay readable; the legend names only the data sets.

use super::labels::{self, LineLabel};
use super::{draw_titles, err, render, Figure, PlotError, PlotFiles};
use crate::latency::percentile;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A labelled vertical line (a threshold, a percentile).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub label: String,
    pub value: f64,
}

impl Marker {
    pub fn new(label: impl Into<String>, value: f64) -> Marker {
        Marker {
            label: label.into(),
            value,
        }
    }
}

const GENUINE: RGBColor = RGBColor(31, 119, 180);
const IMPOSTOR: RGBColor = RGBColor(255, 127, 14);
const LATENCY: RGBColor = RGBColor(44, 160, 44);
const MARKERS: [RGBColor; 4] = [
    RGBColor(214, 39, 40),
    RGBColor(0, 0, 0),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One data set drawn as bars.
struct Series {
    label: String,
    colour: RGBColor,
    /// Bar heights, one per bin.
    heights: Vec<f64>,
}

pub(super) struct Histogram {
    title: String,
    /// A second, smaller title line (the counts behind the figure).
    subtitle: Option<String>,
    x_desc: String,
    y_desc: String,
    /// Bin edges: lo + i·width.
    lo: f64,
    width: f64,
    bins: usize,
    series: Vec<Series>,
    markers: Vec<Marker>,
    /// Heights are counts: label the y axis with whole numbers.
    counts: bool,
}

/// A y tick label: whole numbers without decimals, others in plotters' usual short form.
fn y_label(v: f64, counts: bool) -> String {
    if counts {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Counts of `values` in `bins` equal bins from `lo` (the last bin includes its upper edge).
fn bin_counts(values: &[f64], lo: f64, width: f64, bins: usize) -> Vec<u64> {
    let mut counts = vec![0u64; bins];
    for &v in values {
        let i = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
}

/// `bins` bins covering every value of every set (a unit-wide range around a single value).
fn bin_range<'a>(sets: impl Iterator<Item = &'a [f64]>, bins: usize) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in sets.flatten() {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
        let pad = (lo.abs() * 0.05).max(0.5);
        return (lo - pad, 2.0 * pad / bins as f64);
    }
    // A small margin so the extreme values sit inside bars, not on the frame.
    let pad = (hi - lo) * 0.01;
    (lo - pad, (hi - lo + 2.0 * pad) / bins as f64)
}

impl Histogram {
    pub(super) fn set_titles(&mut self, title: String, subtitle: Option<String>) {
        self.title = title;
        self.subtitle = subtitle;
    }
}

impl Figure for Histogram {
    fn name(&self) -> String {
        self.title.clone()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let x0 = self.lo;
        let x1 = self.lo + self.width * self.bins as f64;
        let top = self
            .series
            .iter()
            .flat_map(|s| s.heights.iter().copied())
            .fold(0.0, f64::max);
        // Headroom above the bars for the legend (about 4% of the height per entry) and the
        // rows of marker labels.
        let rows = self.markers.len() as f64;
        let y1 = if self.counts && top < 10.0 {
            // Few samples: whole-number ticks.
            (top.ceil() + 1.0 + 0.6 * rows).ceil()
        } else if top > 0.0 {
            top * (1.08 + 0.06 * self.series.len() as f64 + 0.05 * rows)
        } else {
            1.0
        };
        let area = draw_titles(root, &self.title, self.subtitle.as_deref())?;
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(err)?;
        let y_fmt = |v: &f64| y_label(*v, self.counts);
        let mut mesh = chart.configure_mesh();
        if self.counts && top < 10.0 {
            mesh.y_labels(y1 as usize + 1);
        }
        mesh.y_label_formatter(&y_fmt)
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .axis_desc_style(("sans-serif", 18))
            .label_style(("sans-serif", 15))
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;

        for s in &self.series {
            let colour = s.colour;
            let bars = s
                .heights
                .iter()
                .enumerate()
                .filter(|(_, h)| **h > 0.0)
                .map(|(i, &h)| {
                    let a = self.lo + self.width * i as f64;
                    Rectangle::new([(a, 0.0), (a + self.width, h)], colour.mix(0.35).filled())
                });
            chart.draw_series(bars).map_err(err)?;
            // The outline as a step line, so overlapping sets stay readable.
            let mut outline = Vec::with_capacity(2 * self.bins + 2);
            outline.push((self.lo, 0.0));
            for (i, &h) in s.heights.iter().enumerate() {
                let a = self.lo + self.width * i as f64;
                outline.push((a, h));
                outline.push((a + self.width, h));
            }
            outline.push((x1, 0.0));
            let style = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(outline, style))
                .map_err(err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 24, y + 6)], colour.mix(0.5).filled())
                });
        }

        let mut line_labels = Vec::new();
        for (m, colour) in self.markers.iter().zip(MARKERS.iter().cycle()) {
            if !(m.value >= x0 && m.value <= x1) {
                continue;
            }
            let style = colour.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(m.value, 0.0), (m.value, y1)],
                    8,
                    5,
                    style,
                ))
                .map_err(err)?;
            line_labels.push(LineLabel {
                x: chart.backend_coord(&(m.value, y1)).0,
                text: m.label.clone(),
                colour: *colour,
            });
        }
        let (px, py) = chart.plotting_area().get_pixel_range();

        // Bars are tall in the upper corners only where they reach up there.
        let tops = self.series.iter().flat_map(|s| {
            s.heights
                .iter()
                .enumerate()
                .map(move |(i, &h)| ((i as f64 + 0.5) / self.bins as f64, h / y1))
        });
        // The labels' rows hang from the top of the plot; keep the legend off them too.
        let placed = labels::layout(root, &line_labels, (px.start, px.end), py.start + 4)?;
        let corner = super::emptiest_corner(
            tops.chain(labels::occupied(&placed, (px, py)))
                .collect::<Vec<_>>()
                .into_iter(),
            &[
                SeriesLabelPosition::UpperRight,
                SeriesLabelPosition::UpperLeft,
            ],
        );
        chart
            .configure_series_labels()
            .position(corner)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)?;
        labels::paint(root, &placed)?;
        Ok(())
    }
}

/// Genuine and impostor score distributions on one axis (each as its share of its own set per
/// bin, so 10⁴ genuine and 10⁶ impostor scores compare), with a dashed line per marker (e.g.
/// the operating threshold, the FMR = 1e-3 threshold; the axis extends to show each). Writes `<dir>/<stem>.png` and `.svg`.
pub fn score_histograms(
    genuine: &[f64],
    impostor: &[f64],
    markers: &[Marker],
    dir: &Path,
    stem: &str,
) -> Result<PlotFiles, PlotError> {
    render(&score_figure(genuine, impostor, markers)?, dir, stem)
}

/// The figure of [`score_histograms`], to draw on any backend.
pub(super) fn score_figure(
    genuine: &[f64],
    impostor: &[f64],
    markers: &[Marker],
) -> Result<Histogram, PlotError> {
    for (kind, v) in [("genuine", genuine), ("impostor", impostor)] {
        if let Some(bad) = v.iter().find(|s| !s.is_finite()) {
            return Err(PlotError::Data(format!("a {kind} score is {bad}")));
        }
    }
    if genuine.is_empty() && impostor.is_empty() {
        return Err(PlotError::Data("no scores to plot".into()));
    }
    const BINS: usize = 100;
    // The range covers the markers too, so a threshold line is always drawn.
    let marks: Vec<f64> = markers
        .iter()
        .map(|m| m.value)
        .filter(|v| v.is_finite())
        .collect();
    let (lo, width) = bin_range([genuine, impostor, &marks[..]].into_iter(), BINS);
    let share = |v: &[f64]| {
        let n = v.len().max(1) as f64;
        bin_counts(v, lo, width, BINS)
            .into_iter()
            .map(|c| c as f64 / n)
            .collect::<Vec<_>>()
    };
    let mut series = Vec::new();
    if !genuine.is_empty() {
        series.push(Series {
            label: format!("genuine (n = {})", genuine.len()),
            colour: GENUINE,
            heights: share(genuine),
        });
    }
    if !impostor.is_empty() {
        series.push(Series {
            label: format!("impostor (n = {})", impostor.len()),
            colour: IMPOSTOR,
            heights: share(impostor),
        });
    }
    Ok(Histogram {
        title: "Comparison scores".into(),
        subtitle: None,
        x_desc: "similarity score (accept when score ≥ threshold)".into(),
        y_desc: "share of the comparisons of its kind per bin".into(),
        lo,
        width,
        bins: BINS,
        series,
        markers: markers.to_vec(),
        counts: false,
    })
}

/// `step` as a file-name part: ASCII letters, digits, `-` and `_`; anything else becomes `_`.
fn slug(step: &str) -> String {
    let s: String = step
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "step".into()
    } else {
        s
    }
}

/// One latency histogram per step (in milliseconds, median and p95 by nearest rank marked), as
/// `<dir>/latency-<step>.png` and `.svg` (the step name reduced to `[A-Za-z0-9_-]`, with `-2`,
/// `-3`, … added if two steps reduce to the same name). Steps without samples are skipped.
/// Returns the step names with their files, in step-name order.
pub fn latency_histograms(
    samples: &BTreeMap<String, Vec<Duration>>,
    dir: &Path,
) -> Result<Vec<(String, PlotFiles)>, PlotError> {
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (step, durations) in samples {
        if durations.is_empty() {
            continue;
        }
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let bins = (ms.len() as f64).sqrt().ceil().clamp(10.0, 60.0) as usize;
        let (lo, width) = bin_range(std::iter::once(&ms[..]), bins);
        let lo = lo.max(0.0);
        let counts = bin_counts(&ms, lo, width, bins);
        let p50 = percentile(&ms, 0.50);
        let p95 = percentile(&ms, 0.95);
        let figure = Histogram {
            title: format!("Latency of step \"{step}\" (n = {})", ms.len()),
            subtitle: None,
            x_desc: "duration (ms)".into(),
            y_desc: "samples per bin".into(),
            lo,
            width,
            bins,
            series: vec![Series {
                label: step.clone(),
                colour: LATENCY,
                heights: counts.into_iter().map(|c| c as f64).collect(),
            }],
            markers: vec![
                Marker::new(format!("median {p50:.3} ms"), p50),
                Marker::new(format!("p95 {p95:.3} ms"), p95),
            ],
            counts: true,
        };
        let base = format!("latency-{}", slug(step));
        let mut stem = base.clone();
        let mut n = 1;
        while !used.insert(stem.clone()) {
            n += 1;
            stem = format!("{base}-{n}");
        }
        out.push((step.clone(), render(&figure, dir, &stem)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_every_value() {
        let v = [0.0, 0.5, 1.0];
        let (lo, w) = bin_range(std::iter::once(&v[..]), 10);
        let c = bin_counts(&v, lo, w, 10);
        assert_eq!(c.iter().sum::<u64>(), 3);
        assert_eq!(c[0], 1);
        assert_eq!(c[9], 1);
        let same = [2.0; 4];
        let (lo, w) = bin_range(std::iter::once(&same[..]), 10);
        assert!(lo < 2.0 && lo + 10.0 * w > 2.0);
        assert_eq!(bin_counts(&same, lo, w, 10).iter().sum::<u64>(), 4);
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("read card/JPKI"), "read_card_JPKI");
        assert_eq!(slug("顔照合"), "___");
        assert_eq!(slug(""), "step");
    }
}
