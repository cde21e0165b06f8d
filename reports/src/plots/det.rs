//! The DET curve on normal-deviate axes (the classic DET scale: each axis is Φ⁻¹(rate), labelled
//! with the rate), with FMR = FNMR, the EER point and the FNMR@FMR operating points.

use super::{err, pct, render, Figure, PlotError, PlotFiles};
use crate::accuracy::stats::{normal_cdf, normal_quantile};
use crate::accuracy::{AccuracySummary, DetCurve};
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

/// Operating-point colours (the curve is blue, the EER red).
const OP_COLOURS: [RGBColor; 4] = [
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const CURVE: RGBColor = RGBColor(31, 119, 180);
const EER: RGBColor = RGBColor(214, 39, 40);

/// Largest power of ten ≤ x (x > 0).
fn decade_floor(x: f64) -> f64 {
    10f64.powf(x.log10().floor())
}

/// Φ⁻¹ with 0 and 1 mapped far outside any axis range (so segments to them clip cleanly).
fn deviate(p: f64) -> f64 {
    normal_quantile(p).clamp(-40.0, 40.0)
}

struct OpMark {
    target: f64,
    fmr: f64,
    fnmr: f64,
}

pub(super) struct DetFigure {
    title: String,
    /// The visible part of the curve, in deviate coordinates.
    curve: Vec<(f64, f64)>,
    x_range: (f64, f64),
    y_range: (f64, f64),
    eer: Option<f64>,
    ops: Vec<OpMark>,
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
/// scores has 10⁶ points; a few thousand draw the same picture), then maps them to deviates and
/// clips to the axes.
fn visible_curve(curve: &DetCurve, x_range: (f64, f64), y_range: (f64, f64)) -> Vec<(f64, f64)> {
    const STEP: f64 = 0.004;
    let n = curve.len();
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut last = (f64::NAN, f64::NAN);
    for j in 0..n {
        let p = curve.point(j);
        let here = (p.fmr.ln(), p.fnmr.ln());
        let moved = |a: f64, b: f64| (a - b).abs() > STEP || (a.is_finite() != b.is_finite());
        if j == 0 || j == n - 1 || moved(here.0, last.0) || moved(here.1, last.1) {
            kept.push((p.fmr, p.fnmr));
            last = here;
        }
    }
    let pts: Vec<(f64, f64)> = kept
        .into_iter()
        .map(|(x, y)| (deviate(x), deviate(y)))
        .collect();
    let mut out: Vec<(f64, f64)> = Vec::new();
    for w in pts.windows(2) {
        if let Some((a, b)) = clip(w[0], w[1], x_range, y_range) {
            if out.last() != Some(&a) {
                out.push(a);
            }
            out.push(b);
        }
    }
    out
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
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let xt = ticks_in(normal_cdf(x0), 0.5);
        let yt = ticks_in(normal_cdf(y0), normal_cdf(y1));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 24))
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
            .x_desc("False match rate (FMR), normal deviate scale")
            .y_desc("False non-match rate (FNMR), normal deviate scale")
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

        let curve_style = CURVE.stroke_width(3);
        chart
            .draw_series(LineSeries::new(self.curve.iter().copied(), curve_style))
            .map_err(err)?
            .label("DET curve")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], curve_style));

        let clamp_x = |v: f64| v.clamp(x0, x1);
        let clamp_y = |v: f64| v.clamp(y0, y1);
        for (op, colour) in self.ops.iter().zip(OP_COLOURS.iter().cycle()) {
            let colour = *colour;
            let tx = normal_quantile(op.target);
            if tx > x0 && tx < x1 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(tx, y0), (tx, y1)],
                        4,
                        4,
                        colour.mix(0.8).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            let at = (clamp_x(deviate(op.fmr)), clamp_y(deviate(op.fnmr)));
            chart
                .draw_series(std::iter::once(TriangleMarker::new(at, 9, colour.filled())))
                .map_err(err)?
                .label(format!("FNMR {} at FMR ≤ {}", pct(op.fnmr), pct(op.target)))
                .legend(move |(x, y)| TriangleMarker::new((x + 12, y), 7, colour.filled()));
        }

        if let Some(eer) = self.eer {
            let at = (clamp_x(deviate(eer)), clamp_y(deviate(eer)));
            chart
                .draw_series(std::iter::once(Circle::new(at, 7, EER.filled())))
                .map_err(err)?
                .label(format!("EER {}", pct(eer)))
                .legend(|(x, y)| Circle::new((x + 12, y), 6, EER.filled()));
        }

        // The legend in the corner the curve and the markers leave free.
        let scale = |(x, y): (f64, f64)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0));
        let marks = self
            .ops
            .iter()
            .map(|o| (clamp_x(deviate(o.fmr)), clamp_y(deviate(o.fnmr))))
            .chain(self.eer.map(|e| (clamp_x(deviate(e)), clamp_y(deviate(e)))));
        let occupied = self.curve.iter().copied().chain(marks).map(scale);
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
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// Draws the DET curve of `curve` with the EER and FNMR@FMR points of `summary` to
/// `<dir>/<stem>.png` and `.svg`.
///
/// Axes: FMR from the lower of the smallest FMR target and 1/#impostor (to the decade below) up
/// to 50%; FNMR from 0.5/#genuine (decade below) up to 50%, 90%, 99% or 99.9%, as high as the
/// curve goes while FMR is on the axis. The EER is marked on the FMR = FNMR line (with few scores
/// it can lie off the stepped curve: it is the mean of the two rates at one threshold).
/// Operating points with a zero rate are drawn on the axis edge.
pub fn det_plot(
    curve: &DetCurve,
    summary: &AccuracySummary,
    dir: &Path,
    stem: &str,
) -> Result<PlotFiles, PlotError> {
    render(&det_figure(curve, summary), dir, stem)
}

/// The figure of [`det_plot`], to draw on any backend.
pub(super) fn det_figure(curve: &DetCurve, summary: &AccuracySummary) -> DetFigure {
    let min_target = summary
        .fnmr_at_fmr
        .iter()
        .map(|o| o.target_fmr)
        .fold(1e-2, f64::min);
    let x_lo = decade_floor(min_target.min(1.0 / curve.impostor_count() as f64)).max(1e-6);
    // Half a genuine comparison below 1/#genuine, so an FNMR of one error stays off the frame.
    let y_lo = decade_floor((0.5 / curve.genuine_count() as f64).min(1e-2)).max(1e-6);
    // As high as the curve climbs while FMR is still on the axis (from 50% up to 99.9%).
    let top = curve
        .points()
        .filter(|p| p.fmr >= x_lo)
        .map(|p| p.fnmr)
        .chain(summary.fnmr_at_fmr.iter().map(|o| o.fnmr.rate))
        .fold(0.0, f64::max);
    let y_hi = [0.5, 0.9, 0.99, 0.999]
        .into_iter()
        .find(|&h| top <= h)
        .unwrap_or(0.999);
    let x_range = (normal_quantile(x_lo), 0.0);
    let y_range = (normal_quantile(y_lo), normal_quantile(y_hi));
    DetFigure {
        title: format!(
            "DET curve: {} genuine, {} impostor comparisons",
            curve.genuine_count(),
            curve.impostor_count()
        ),
        curve: visible_curve(curve, x_range, y_range),
        x_range,
        y_range,
        eer: summary.eer.map(|e| e.eer),
        ops: summary
            .fnmr_at_fmr
            .iter()
            .map(|o| OpMark {
                target: o.target_fmr,
                fmr: o.fmr.rate,
                fnmr: o.fnmr.rate,
            })
            .collect(),
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
