//! The DET curve on normal-deviate axes (the classic DET scale: each axis is Φ⁻¹(rate), labelled
//! with the rate), with FMR = FNMR, the EER point, the FNMR@FMR operating points and the
//! operating threshold; the generalised curve (FAR / FRR) beside it when comparisons were lost.
//!
//! What the figure must not overstate: below FMR = 3 / #impostor (or FNMR = 3 / #genuine) fewer
//! than 3 errors stand behind a point, so that part of a curve is dashed and lighter, with a
//! note; a rate of 0 is not drawn on the axis edge (where it would read as the smallest tick)
//! but as an open marker at its one-sided upper bound, labelled "0 of N".

use super::labels::{self, LineLabel};
use super::{
    draw_notes, draw_titles, err, pct, render, titles, Figure, PlotContext, PlotError, PlotFiles,
};
use crate::accuracy::stats::{normal_cdf, normal_quantile, zero_upper_bound};
use crate::accuracy::{AccuracySummary, DetCurve, DetPoint};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Tick positions (rates) and their labels.
const TICKS: [(f64, &str); 16] = [
    (1e-6, "0.0001%"),
    (1e-5, "0.001%"),
    (1e-4, "0.01%"),
    (1e-3, "0.1%"),
    (1e-2, "1%"),
    (2e-2, "2%"),
    (5e-2, "5%"),
    (0.1, "10%"),
    (0.2, "20%"),
    (0.3, "30%"),
    (0.5, "50%"),
    (0.7, "70%"),
    (0.9, "90%"),
    (0.95, "95%"),
    (0.99, "99%"),
    (0.999, "99.9%"),
];

/// Operating-point colours (the curve is blue, the EER red, the generalised curve grey).
const OP_COLOURS: [RGBColor; 4] = [
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const CURVE: RGBColor = RGBColor(31, 119, 180);
const GENERALISED: RGBColor = RGBColor(70, 70, 70);
const EER: RGBColor = RGBColor(214, 39, 40);
const THRESHOLD: RGBColor = RGBColor(0, 0, 0);

/// Largest power of ten ≤ x (x > 0).
fn decade_floor(x: f64) -> f64 {
    10f64.powf(x.log10().floor())
}

/// Φ⁻¹ with 0 and 1 mapped far outside any axis range (so segments to them clip cleanly).
fn deviate(p: f64) -> f64 {
    normal_quantile(p.min(1.0)).clamp(-40.0, 40.0)
}

/// A marked point: where it is drawn (deviates), whether hollow (a rate of 0, drawn at its
/// upper bound), its legend text and the words beside it.
struct Mark {
    at: (f64, f64),
    open: bool,
    legend: String,
    note: Option<String>,
}

/// A rate for a legend: `FMR 1.2%`, or `FMR 0 of 3000` for a zero.
fn rate_words(name: &str, rate: f64, trials: u64) -> String {
    if rate == 0.0 {
        format!("{name} 0 of {trials}")
    } else {
        format!("{name} {}", pct(rate))
    }
}

/// The drawing position of (x, y) rates from `(nx, ny)` trials: a 0 at its upper bound.
fn mark_at(
    (x, y): (f64, f64),
    (nx, ny): (u64, u64),
    confidence: f64,
    names: (&str, &str),
    legend: String,
) -> Mark {
    let bound = |r: f64, n: u64| {
        if r == 0.0 && n > 0 {
            zero_upper_bound(n, confidence)
        } else {
            r
        }
    };
    let mut zeros = Vec::new();
    if x == 0.0 {
        zeros.push(format!("{} 0 of {nx}", names.0));
    }
    if y == 0.0 {
        zeros.push(format!("{} 0 of {ny}", names.1));
    }
    Mark {
        at: (deviate(bound(x, nx)), deviate(bound(y, ny))),
        open: !zeros.is_empty(),
        legend,
        note: (!zeros.is_empty()).then(|| zeros.join(", ")),
    }
}

/// The outline of an upward triangle of half-size `r` around pixel `(x, y)`.
fn hollow_triangle((x, y): (i32, i32), r: i32, style: ShapeStyle) -> PathElement<(i32, i32)> {
    PathElement::new(
        vec![
            (x, y - r),
            (x + r, y + r * 2 / 3),
            (x - r, y + r * 2 / 3),
            (x, y - r),
        ],
        style,
    )
}

/// A stretch of a curve drawn in one style: solid where the data support it, dashed beyond.
struct Run {
    points: Vec<(f64, f64)>,
    supported: bool,
}

pub(super) struct DetFigure {
    title: String,
    subtitle: String,
    x_desc: String,
    y_desc: String,
    x_range: (f64, f64),
    y_range: (f64, f64),
    /// The per-comparison curve, in deviate coordinates.
    curve: Vec<Run>,
    /// The generalised curve; empty when nothing was lost.
    generalised: Vec<Run>,
    generalised_legend: String,
    /// Deviates of 3 / #impostor and 3 / #genuine (where support ends).
    support: (f64, f64),
    /// FMR targets (rates) of the vertical lines.
    targets: Vec<f64>,
    eer: Option<Mark>,
    generalised_eer: Option<Mark>,
    ops: Vec<Mark>,
    operating: Option<Mark>,
    notes: Vec<String>,
}

/// Liang–Barsky: the part of segment a→b inside the box, if any.
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// Keeps the points whose log-rates moved visibly since the last kept one (a DET curve of 10⁶
/// scores has 10⁶ points; a few thousand draw the same picture), maps them to deviates, clips
/// them to the axes and cuts them into runs inside and outside the supported box
/// (FMR ≥ 3 / #impostor and FNMR ≥ 3 / #genuine, as deviates in `support`).
fn visible_runs(
    points: impl Iterator<Item = DetPoint>,
    n: usize,
    x_range: (f64, f64),
    y_range: (f64, f64),
    support: (f64, f64),
) -> Vec<Run> {
    const STEP: f64 = 0.004;
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut last = (f64::NAN, f64::NAN);
    for (j, p) in points.enumerate() {
        let here = (p.fmr.ln(), p.fnmr.ln());
        let moved = |a: f64, b: f64| (a - b).abs() > STEP || (a.is_finite() != b.is_finite());
        if j == 0 || j == n - 1 || moved(here.0, last.0) || moved(here.1, last.1) {
            kept.push((deviate(p.fmr), deviate(p.fnmr)));
            last = here;
        }
    }
    let supported_box = ((support.0, x_range.1), (support.1, y_range.1));
    let mut runs: Vec<Run> = Vec::new();
    let mut push = |a: (f64, f64), b: (f64, f64), supported: bool| {
        if a == b {
            return;
        }
        match runs.last_mut() {
            Some(r) if r.supported == supported && r.points.last() == Some(&a) => r.points.push(b),
            _ => runs.push(Run {
                points: vec![a, b],
                supported,
            }),
        }
    };
    for w in kept.windows(2) {
        let Some((a, b)) = clip(w[0], w[1], x_range, y_range) else {
            continue;
        };
        match clip(a, b, supported_box.0, supported_box.1) {
            Some((c0, c1)) => {
                push(a, c0, false);
                push(c0, c1, true);
                push(c1, b, false);
            }
            None => push(a, b, false),
        }
    }
    runs
}

fn tick_label(v: f64) -> String {
    TICKS
        .iter()
        .find(|(p, _)| (normal_quantile(*p) - v).abs() < 1e-9)
        .map(|(_, l)| (*l).to_string())
        .unwrap_or_else(|| pct(normal_cdf(v)))
}

/// A normal-deviate axis: linear in Φ⁻¹(rate), ticks at the [`TICKS`] rates, labelled as rates.
#[derive(Clone)]
struct DeviateAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for DeviateAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for DeviateAxis {
    fn format(value: &f64) -> String {
        tick_label(*value)
    }
}

fn ticks_in(lo: f64, hi: f64) -> Vec<f64> {
    TICKS
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| *p >= lo * (1.0 - 1e-12) && *p <= hi * (1.0 + 1e-12))
        .map(normal_quantile)
        .collect()
}

impl Figure for DetFigure {
    fn name(&self) -> String {
        "DET curve".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let area = draw_titles(root, &self.title, Some(&self.subtitle))?;
        let area = draw_notes(area, &self.notes)?;
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let xt = ticks_in(normal_cdf(x0), 0.5);
        let yt = ticks_in(normal_cdf(y0), normal_cdf(y1));
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(
                DeviateAxis {
                    lo: x0,
                    hi: x1,
                    ticks: xt,
                },
                DeviateAxis {
                    lo: y0,
                    hi: y1,
                    ticks: yt,
                },
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .axis_desc_style(("sans-serif", 18))
            .label_style(("sans-serif", 15))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;

        // FMR = FNMR.
        let d0 = x0.max(y0);
        let d1 = x1.min(y1);
        let grey = BLACK.mix(0.45).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(vec![(d0, d0), (d1, d1)], 6, 5, grey))
            .map_err(err)?
            .label("FMR = FNMR")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey));

        // Where the data stop supporting a rate: 3 errors.
        let faint = BLACK.mix(0.3).stroke_width(1);
        let (sx, sy) = self.support;
        let mut line_labels = Vec::new();
        if sx > x0 && sx < x1 {
            chart
                .draw_series(DashedLineSeries::new(vec![(sx, y0), (sx, y1)], 2, 4, faint))
                .map_err(err)?;
            line_labels.push(LineLabel {
                x: chart.backend_coord(&(sx, y1)).0,
                text: "3 / N impostor".into(),
                colour: RGBColor(90, 90, 90),
            });
        }
        if sy > y0 && sy < y1 {
            chart
                .draw_series(DashedLineSeries::new(vec![(x0, sy), (x1, sy)], 2, 4, faint))
                .map_err(err)?;
            let style = ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x1, sy)) + Text::new("3 / N genuine", (-100, -18), style),
                ))
                .map_err(err)?;
        }

        let mut dashed_legend = false;
        for (runs, colour, legend) in [
            (
                &self.curve,
                CURVE,
                "DET curve, per comparison (FMR / FNMR)".to_string(),
            ),
            (
                &self.generalised,
                GENERALISED,
                self.generalised_legend.clone(),
            ),
        ] {
            let mut labelled = false;
            for run in runs {
                if run.supported {
                    let style = colour.stroke_width(3);
                    let s = chart
                        .draw_series(LineSeries::new(run.points.iter().copied(), style))
                        .map_err(err)?;
                    if !labelled {
                        labelled = true;
                        s.label(legend.as_str()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 24, y)], style)
                        });
                    }
                } else {
                    let style = colour.mix(0.45).stroke_width(2);
                    let s = chart
                        .draw_series(DashedLineSeries::new(
                            run.points.iter().copied(),
                            7,
                            5,
                            style,
                        ))
                        .map_err(err)?;
                    if !dashed_legend {
                        dashed_legend = true;
                        s.label("beyond the data (fewer than 3 errors)")
                            .legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 10, y)], style)
                            });
                    }
                }
            }
            if !labelled && !runs.is_empty() {
                // All of it beyond the data: still name it.
                let style = colour.mix(0.45).stroke_width(2);
                chart
                    .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                    .map_err(err)?
                    .label(legend.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            }
        }

        let clamp = |(x, y): (f64, f64)| (x.clamp(x0, x1), y.clamp(y0, y1));
        let note_style = ("sans-serif", 14).into_font();
        let draw_note = |chart: &mut ChartContext<'_, DB, _>,
                         m: &Mark,
                         colour: RGBColor|
         -> Result<(), String> {
            if let Some(n) = &m.note {
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at(clamp(m.at))
                            + Text::new(n.clone(), (10, 6), note_style.color(&colour)),
                    ))
                    .map_err(err)?;
            }
            Ok(())
        };
        for (i, (op, colour)) in self.ops.iter().zip(OP_COLOURS.iter().cycle()).enumerate() {
            let colour = *colour;
            let target = self.targets[i];
            let tx = normal_quantile(target);
            if tx > x0 && tx < x1 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(tx, y0), (tx, y1)],
                        4,
                        4,
                        colour.mix(0.8).stroke_width(1),
                    ))
                    .map_err(err)?;
                line_labels.push(LineLabel {
                    x: chart.backend_coord(&(tx, y1)).0,
                    text: format!("FMR ≤ {}", pct(target)),
                    colour,
                });
            }
            if op.open {
                // plotters' TriangleMarker is always filled: draw the outline.
                let style = colour.stroke_width(2);
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at(clamp(op.at)) + hollow_triangle((0, 0), 9, style),
                    ))
                    .map_err(err)?
                    .label(op.legend.as_str())
                    .legend(move |(x, y)| hollow_triangle((x + 12, y), 7, style));
            } else {
                let style = colour.filled();
                chart
                    .draw_series(std::iter::once(TriangleMarker::new(clamp(op.at), 9, style)))
                    .map_err(err)?
                    .label(op.legend.as_str())
                    .legend(move |(x, y)| TriangleMarker::new((x + 12, y), 7, style));
            }
            draw_note(&mut chart, op, colour)?;
        }

        if let Some(m) = &self.operating {
            let style = THRESHOLD.stroke_width(3);
            chart
                .draw_series(std::iter::once(Cross::new(clamp(m.at), 8, style)))
                .map_err(err)?
                .label(m.legend.as_str())
                .legend(move |(x, y)| Cross::new((x + 12, y), 6, style));
            draw_note(&mut chart, m, THRESHOLD)?;
        }

        for (m, colour) in [(&self.eer, EER), (&self.generalised_eer, GENERALISED)] {
            let Some(m) = m else { continue };
            let style = if m.open {
                colour.stroke_width(2)
            } else {
                colour.filled()
            };
            chart
                .draw_series(std::iter::once(Circle::new(clamp(m.at), 7, style)))
                .map_err(err)?
                .label(m.legend.as_str())
                .legend(move |(x, y)| Circle::new((x + 12, y), 6, style));
            draw_note(&mut chart, m, colour)?;
        }

        // The legend in the corner the curves and the markers leave free.
        let scale = |(x, y): (f64, f64)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0));
        let marks = self
            .ops
            .iter()
            .chain(&self.operating)
            .chain(&self.eer)
            .chain(&self.generalised_eer)
            .map(|m| clamp(m.at));
        // The line labels hang from the top of the plot: keep the legend off them too.
        let (px, py) = chart.plotting_area().get_pixel_range();
        let placed = labels::layout(root, &line_labels, (px.start, px.end), py.start + 4)?;
        let tops = labels::occupied(&placed, (px, py));
        let occupied = self
            .curve
            .iter()
            .chain(&self.generalised)
            .flat_map(|r| r.points.iter().copied())
            .chain(marks)
            .map(scale)
            .chain(tops);
        let corner = super::emptiest_corner(
            occupied.collect::<Vec<_>>().into_iter(),
            &[
                SeriesLabelPosition::UpperRight,
                SeriesLabelPosition::LowerLeft,
                SeriesLabelPosition::UpperLeft,
                SeriesLabelPosition::LowerRight,
            ],
        );
        chart
            .configure_series_labels()
            .position(corner)
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)?;
        labels::paint(root, &placed)?;
        Ok(())
    }
}

/// [`det_plot_in`] without a context.
pub fn det_plot(
    curve: &DetCurve,
    summary: &AccuracySummary,
    dir: &Path,
    stem: &str,
) -> Result<PlotFiles, PlotError> {
    det_plot_in(curve, summary, &PlotContext::default(), dir, stem)
}

/// Draws the DET curve of `curve` with the EER, FNMR@FMR points and operating threshold of
/// `summary` (and its generalised curve, when it records lost comparisons) to
/// `<dir>/<stem>.png` and `.svg`, titled with `context`.
///
/// Axes: FMR from the lower of the smallest FMR target and 1/#impostor (to the decade below) up
/// to 50%; FNMR from 0.5/#genuine (decade below) up to 50%, 90%, 99% or 99.9%, as high as the
/// curves go while FMR is on the axis. The EER is marked on the FMR = FNMR line (with few scores
/// it can lie off the stepped curve: it is the mean of the two rates at one threshold).
pub fn det_plot_in(
    curve: &DetCurve,
    summary: &AccuracySummary,
    context: &PlotContext,
    dir: &Path,
    stem: &str,
) -> Result<PlotFiles, PlotError> {
    render(&det_figure(curve, summary, context), dir, stem)
}

/// The figure of [`det_plot_in`], to draw on any backend.
pub(super) fn det_figure(
    curve: &DetCurve,
    summary: &AccuracySummary,
    context: &PlotContext,
) -> DetFigure {
    let conf = summary.confidence;
    let (ng, ni) = (curve.genuine_count(), curve.impostor_count());
    let count = |p: Option<&crate::accuracy::Proportion>| p.map_or(0, |p| p.count);
    let (lg, li) = summary.lost.as_ref().map_or((0, 0), |l| {
        (count(l.genuine.as_ref()), count(l.impostor.as_ref()))
    });
    let lost = lg + li > 0;
    let generalised = curve.generalised(lg, li);

    let min_target = summary
        .fnmr_at_fmr
        .iter()
        .map(|o| o.target_fmr)
        .fold(1e-2, f64::min);
    let x_lo = decade_floor(min_target.min(1.0 / (ni + li) as f64)).max(1e-6);
    // Half a genuine comparison below 1/#genuine, so an FNMR of one error stays off the frame.
    let y_lo = decade_floor((0.5 / ng as f64).min(1e-2)).max(1e-6);
    // As high as the curves climb while FMR is still on the axis (from 50% up to 99.9%).
    let top = curve
        .points()
        .chain(generalised.points().filter(|_| lost))
        .filter(|p| p.fmr >= x_lo)
        .map(|p| p.fnmr)
        .chain(summary.fnmr_at_fmr.iter().map(|o| o.fnmr.rate))
        .chain(summary.at_threshold.iter().map(|o| o.fnmr.rate))
        .fold(0.0, f64::max);
    let y_hi = [0.5, 0.9, 0.99, 0.999]
        .into_iter()
        .find(|&h| top <= h)
        .unwrap_or(0.999);
    let x_range = (normal_quantile(x_lo), 0.0);
    let y_range = (normal_quantile(y_lo), normal_quantile(y_hi));
    let support = |ni: u64, ng: u64| (deviate(3.0 / ni as f64), deviate(3.0 / ng as f64));

    let fm = ("FMR", "FNMR");
    let eer = summary.eer.map(|e| {
        if e.eer == 0.0 {
            let legend = format!("EER 0 (0 of {ni} impostor, 0 of {ng} genuine)");
            mark_at((0.0, 0.0), (ni, ng), conf, fm, legend)
        } else {
            let legend = format!("EER {}", pct(e.eer));
            mark_at((e.eer, e.eer), (ni, ng), conf, fm, legend)
        }
    });
    let ops: Vec<Mark> = summary
        .fnmr_at_fmr
        .iter()
        .map(|o| {
            let legend = format!(
                "{} at FMR ≤ {}{}",
                rate_words("FNMR", o.fnmr.rate, ng),
                pct(o.target_fmr),
                if o.fmr.count == 0 {
                    format!(" (FMR 0 of {ni})")
                } else {
                    String::new()
                }
            );
            mark_at((o.fmr.rate, o.fnmr.rate), (ni, ng), conf, fm, legend)
        })
        .collect();
    let operating = summary.at_threshold.as_ref().map(|o| {
        let legend = format!(
            "threshold {}: {}, {}",
            o.threshold,
            rate_words("FMR", o.fmr.rate, ni),
            rate_words("FNMR", o.fnmr.rate, ng)
        );
        mark_at((o.fmr.rate, o.fnmr.rate), (ni, ng), conf, fm, legend)
    });

    let mut notes = Vec::new();
    let runs = visible_runs(
        curve.points(),
        curve.len(),
        x_range,
        y_range,
        support(ni, ng),
    );
    let g_runs = if lost {
        visible_runs(
            generalised.points(),
            generalised.len(),
            x_range,
            y_range,
            support(ni + li, ng + lg),
        )
    } else {
        Vec::new()
    };
    let generalised_eer = summary.generalised.as_ref().filter(|_| lost).map(|g| {
        let e = &g.eer;
        let legend = format!("generalised EER {}", pct(e.eer));
        let (a, b) = (g.impostor_attempted, g.genuine_attempted);
        mark_at((e.eer, e.eer), (a, b), conf, ("FAR", "FRR"), legend)
    });
    if runs.iter().chain(&g_runs).any(|r| !r.supported) {
        notes.push(format!(
            "Dashed, lighter: FMR below 3 / {ni} = {} or FNMR below 3 / {ng} = {}: fewer than 3 \
             errors behind those points, beyond what the data support.",
            pct((3.0 / ni as f64).min(1.0)),
            pct((3.0 / ng as f64).min(1.0))
        ));
    }
    if runs.is_empty() {
        // Every point has a rate of 0 (or 1): the curve runs along the edges, off the axes.
        notes.push(
            "No point of the curve is on the axes: at every threshold one of its rates is 0 or \
             1 (these scores separate completely)."
                .into(),
        );
    }
    if ops.iter().chain(&operating).chain(&eer).any(|m| m.open) {
        notes.push(format!(
            "Open markers: a rate of 0 (0 of N), drawn at its one-sided {} upper bound, not at 0.",
            crate::accuracy::markdown::level(conf)
        ));
    }
    if lost {
        notes.push(format!(
            "Grey: generalised FAR / FRR (ISO/IEC 19795-1): the {lg} genuine and {li} impostor \
             comparisons lost (failed to enrol or acquire) counted as rejections."
        ));
    }
    let (title, subtitle) = titles("DET curve", summary, context);
    let (x_desc, y_desc) = if lost {
        (
            "False match rate (FMR) / false accept rate (FAR), normal deviate scale",
            "False non-match rate (FNMR) / false reject rate (FRR), normal deviate scale",
        )
    } else {
        (
            "False match rate (FMR), normal deviate scale",
            "False non-match rate (FNMR), normal deviate scale",
        )
    };
    DetFigure {
        title,
        subtitle,
        x_desc: x_desc.into(),
        y_desc: y_desc.into(),
        x_range,
        y_range,
        curve: runs,
        generalised: g_runs,
        generalised_legend: format!("generalised (FAR / FRR), {lg} + {li} lost counted"),
        support: support(ni, ng),
        targets: summary.fnmr_at_fmr.iter().map(|o| o.target_fmr).collect(),
        eer,
        generalised_eer,
        ops,
        operating,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_the_inside_part() {
        let r = ((-1.0, 1.0), (-1.0, 1.0));
        let c = clip((-2.0, 0.0), (2.0, 0.0), r.0, r.1).unwrap();
        assert_eq!(c, ((-1.0, 0.0), (1.0, 0.0)));
        assert!(clip((2.0, 2.0), (3.0, 3.0), r.0, r.1).is_none());
        let inside = clip((0.0, 0.0), (0.5, 0.5), r.0, r.1).unwrap();
        assert_eq!(inside, ((0.0, 0.0), (0.5, 0.5)));
    }

    #[test]
    fn tick_labels_name_the_rate() {
        assert_eq!(tick_label(normal_quantile(1e-3)), "0.1%");
        assert_eq!(tick_label(0.0), "50%");
        assert_eq!(ticks_in(1e-4, 0.5).len(), 9);
    }
}
