//! Plots of the accuracy and latency results, each written as PNG and SVG.
//!
//! - [`det_plot`]: the DET curve on normal-deviate axes, the EER point and the FNMR@FMR
//!   operating points marked;
//! - [`score_histograms`]: genuine and impostor score distributions with threshold lines;
//! - [`latency_histograms`]: one latency histogram per scenario step, median and p95 marked;
//! - [`accuracy_plots`]: the DET plot and the score histograms of one accuracy run in one call;
//!   [`accuracy_svgs`]: the same two figures as SVG text, for the HTML report.
//!
//! Drawing is `plotters` without system fonts: DejaVu Sans is embedded in the binary and
//! registered with plotters' `ab_glyph` text renderer. The bitmap is encoded to PNG with the
//! `image` crate the workspace already uses (plotters-bitmap's own encoder would pull a second,
//! older `image`). Every file is written atomically (temporary file + rename).

mod det;
mod hist;

pub use det::det_plot;
pub use hist::{latency_histograms, score_histograms, Marker};

use crate::accuracy::{AccuracySummary, DetCurve, Scores};
use common::fs::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// DejaVu Sans (Debian fonts-dejavu-core 2.37-6; licence in reports/fonts/).
static FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

/// Size of every figure, in pixels (PNG) and SVG user units.
pub const FIGURE_SIZE: (u32, u32) = (1000, 720);

/// The two files of one figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotFiles {
    pub png: PathBuf,
    pub svg: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("drawing {figure}: {message}")]
    Draw { figure: String, message: String },
    #[error("encoding {figure} as PNG: {message}")]
    Png { figure: String, message: String },
    #[error("the embedded font could not be loaded")]
    Font,
    #[error("{0}")]
    Data(String),
}

/// Registers the embedded font as plotters' "sans-serif" (once per process).
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// A figure that can draw itself on any plotters backend.
pub(crate) trait Figure {
    fn name(&self) -> String;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draws `figure` to `<dir>/<stem>.png` and `<dir>/<stem>.svg`.
pub(crate) fn render(figure: &impl Figure, dir: &Path, stem: &str) -> Result<PlotFiles, PlotError> {
    ensure_font()?;
    let (w, h) = FIGURE_SIZE;
    let draw_error = |message: String| PlotError::Draw {
        figure: figure.name(),
        message,
    };

    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(draw_error)?;
        root.present().map_err(|e| draw_error(e.to_string()))?;
    }
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| PlotError::Png {
                figure: figure.name(),
                message: e.to_string(),
            })?;
    }
    let svg = svg_string(figure)?;

    std::fs::create_dir_all(dir).map_err(|source| PlotError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let files = PlotFiles {
        png: dir.join(format!("{stem}.png")),
        svg: dir.join(format!("{stem}.svg")),
    };
    for (path, bytes) in [(&files.png, &png[..]), (&files.svg, svg.as_bytes())] {
        write_atomic(path, bytes).map_err(|source| PlotError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(files)
}

/// `figure` as one SVG document in a string: the `.svg` file's text, and what the HTML report
/// inlines.
pub(crate) fn svg_string(figure: &impl Figure) -> Result<String, PlotError> {
    ensure_font()?;
    let draw_error = |message: String| PlotError::Draw {
        figure: figure.name(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        figure.draw(&root).map_err(draw_error)?;
        root.present().map_err(|e| draw_error(e.to_string()))?;
    }
    Ok(svg)
}

/// The files of [`accuracy_plots`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccuracyPlots {
    /// `det.png` / `det.svg`; `None` without genuine or without impostor scores.
    pub det: Option<PlotFiles>,
    /// `scores.png` / `scores.svg`.
    pub scores: PlotFiles,
}

/// `<dir>/det.{png,svg}` and `<dir>/scores.{png,svg}` for `scores` and its `summary` (from
/// [`crate::accuracy::summarise`] with the same scores): the score histograms mark the
/// summary's operating threshold and the FNMR@FMR thresholds.
pub fn accuracy_plots(
    scores: &Scores,
    summary: &AccuracySummary,
    dir: &Path,
) -> Result<AccuracyPlots, PlotError> {
    let (det, hist) = accuracy_figures(scores, summary)?;
    Ok(AccuracyPlots {
        det: det.map(|f| render(&f, dir, "det")).transpose()?,
        scores: render(&hist, dir, "scores")?,
    })
}

/// The figures of [`accuracy_plots`] as SVG text, for the HTML report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccuracySvgs {
    /// `None` without genuine or without impostor scores.
    pub det: Option<String>,
    pub scores: String,
}

/// The same figures as [`accuracy_plots`], as SVG documents in strings (nothing written).
pub fn accuracy_svgs(
    scores: &Scores,
    summary: &AccuracySummary,
) -> Result<AccuracySvgs, PlotError> {
    let (det, hist) = accuracy_figures(scores, summary)?;
    Ok(AccuracySvgs {
        det: det.map(|f| svg_string(&f)).transpose()?,
        scores: svg_string(&hist)?,
    })
}

/// The DET figure (with both score sets) and the score histograms, markers from `summary`.
fn accuracy_figures(
    scores: &Scores,
    summary: &AccuracySummary,
) -> Result<(Option<det::DetFigure>, hist::Histogram), PlotError> {
    let det = if scores.genuine.is_empty() || scores.impostor.is_empty() {
        None
    } else {
        let curve = DetCurve::new(&scores.genuine, &scores.impostor)
            .map_err(|e| PlotError::Data(e.to_string()))?;
        Some(det::det_figure(&curve, summary))
    };
    let mut markers = Vec::new();
    if let Some(op) = &summary.at_threshold {
        markers.push(Marker::new(
            format!("operating threshold {}", op.threshold),
            op.threshold,
        ));
    }
    for op in &summary.fnmr_at_fmr {
        markers.push(Marker::new(
            format!(
                "FMR ≤ {} (score > {:.4})",
                pct(op.target_fmr),
                op.boundary_score
            ),
            op.boundary_score,
        ));
    }
    let hist = hist::score_figure(&scores.genuine, &scores.impostor, &markers)?;
    Ok((det, hist))
}

/// `e.to_string()` for plotters' drawing errors, to use with `?` in [`Figure::draw`].
pub(crate) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A rate as a short percentage label (3 significant digits, no trailing zeros).
pub(crate) fn pct(r: f64) -> String {
    let s = crate::accuracy::markdown::pct(r);
    let number = s.trim_end_matches('%');
    if number.contains('.') {
        format!("{}%", number.trim_end_matches('0').trim_end_matches('.'))
    } else {
        s
    }
}

/// Which corner of the plot holds the fewest of `points` (coordinates scaled to 0..1, y up),
/// for the legend box (about 38% wide and 30% high); ties go to the first of `corners`.
pub(crate) fn emptiest_corner(
    points: impl Iterator<Item = (f64, f64)> + Clone,
    corners: &[SeriesLabelPosition],
) -> SeriesLabelPosition {
    let count = |c: &SeriesLabelPosition| {
        let (right, upper) = match c {
            SeriesLabelPosition::UpperRight => (true, true),
            SeriesLabelPosition::LowerRight => (true, false),
            SeriesLabelPosition::LowerLeft => (false, false),
            _ => (false, true),
        };
        points
            .clone()
            .filter(|&(x, y)| {
                (if right { x >= 0.62 } else { x <= 0.38 })
                    && (if upper { y >= 0.70 } else { y <= 0.30 })
            })
            .count()
    };
    let mut best = corners[0].clone();
    let mut best_count = count(&best);
    for c in &corners[1..] {
        let n = count(c);
        if n < best_count {
            best = c.clone();
            best_count = n;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_percentages() {
        assert_eq!(pct(0.01), "1%");
        assert_eq!(pct(1e-4), "0.01%");
        assert_eq!(pct(0.0027), "0.27%");
        assert_eq!(pct(0.398), "39.8%");
        assert_eq!(pct(0.0), "0%");
    }

    #[test]
    fn legend_goes_where_the_data_is_not() {
        let pts = [(0.9, 0.9), (0.8, 0.8), (0.1, 0.1)];
        let corners = [
            SeriesLabelPosition::UpperRight,
            SeriesLabelPosition::LowerLeft,
            SeriesLabelPosition::UpperLeft,
        ];
        let c = emptiest_corner(pts.iter().copied(), &corners);
        assert!(matches!(c, SeriesLabelPosition::UpperLeft));
    }
}
