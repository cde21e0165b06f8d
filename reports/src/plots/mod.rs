//! Plots of the accuracy and latency results, each written as PNG and SVG.
//!
//! - [`det_plot`] / [`det_plot_in`]: the DET curve on normal-deviate axes, the EER point, the
//!   FNMR@FMR operating points and the operating threshold marked; the part of the curve the
//!   data cannot support (FMR below 3 / #impostor, FNMR below 3 / #genuine) dashed and lighter,
//!   with a note; a rate of 0 drawn as an open marker at its one-sided upper bound, labelled
//!   "0 of N", never on the axis edge as if it were a small rate; the generalised curve
//!   (FAR / FRR, lost comparisons counted) beside the per-comparison one when comparisons were
//!   lost;
//! - [`score_histograms`]: genuine and impostor score distributions with threshold lines;
//! - [`latency_histograms`]: one latency histogram per scenario step, median and p95 marked;
//! - [`accuracy_plots_in`]: the DET plot and the score histograms of one accuracy run in one
//!   call, titled with a [`PlotContext`] (condition, enrolment) and the run's numbers (N genuine,
//!   N impostor, FTA, FTE, lost comparisons); [`accuracy_svgs_in`]: the same two figures as SVG
//!   text, for the HTML report. [`accuracy_plots`] and [`accuracy_svgs`] are these without a
//!   context.
//!
//! Threshold and target lines carry their own text labels, placed so that lines with nearby
//! values (the operating threshold beside an FNMR@FMR threshold) do not hide each other
//! (`labels.rs`).
//!
//! Drawing is `plotters` without system fonts: DejaVu Sans is embedded in the binary and
//! registered with plotters' `ab_glyph` text renderer. The bitmap is encoded to PNG with the
//! `image` crate the workspace already uses (plotters-bitmap's own encoder would pull a second,
//! older `image`). Every file is written atomically (temporary file + rename).

mod det;
mod hist;
mod labels;

pub use det::{det_plot, det_plot_in};
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

/// What the figures of one accuracy run are of, for their titles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlotContext {
    /// The condition measured, e.g. `baseline` or `blur=2`; empty: not named.
    pub condition: String,
    /// How the enrolment samples were taken, e.g. `as recorded` or `greyscale (as on the
    /// chip)`; empty: not named.
    pub enrolment: String,
}

/// The two title lines of an accuracy figure: what and of which condition; the counts a
/// reviewer needs to judge it (N genuine / N impostor, FTA, FTE, lost comparisons).
pub(crate) fn titles(
    what: &str,
    summary: &AccuracySummary,
    context: &PlotContext,
) -> (String, String) {
    let mut title = what.to_string();
    if !context.condition.is_empty() {
        title.push_str(&format!(" — {}", context.condition));
    }
    if !context.enrolment.is_empty() {
        let sep = if context.condition.is_empty() {
            " — "
        } else {
            ", "
        };
        title.push_str(&format!("{sep}enrolment {}", context.enrolment));
    }
    let mut sub = format!(
        "N genuine = {}, N impostor = {} comparisons",
        summary.genuine_comparisons, summary.impostor_comparisons
    );
    for (name, p) in [("FTA", &summary.fta), ("FTE", &summary.fte)] {
        match p {
            Some(p) => sub.push_str(&format!(
                " · {name} {} ({} / {})",
                pct(p.rate),
                p.count,
                p.trials
            )),
            None if name == "FTA" => sub.push_str(" · FTA not recorded"),
            None => {}
        }
    }
    if let Some(l) = &summary.lost {
        let n = |p: &Option<crate::accuracy::Proportion>| p.as_ref().map_or(0, |p| p.count);
        let (g, i) = (n(&l.genuine), n(&l.impostor));
        if g + i > 0 {
            sub.push_str(&format!(" · lost: {g} genuine, {i} impostor"));
        }
    }
    (title, sub)
}

/// Draws the title and the subtitle and returns the area below them. A subtitle wider than
/// the figure is broken at its ` · ` separators onto as many lines as it needs.
pub(crate) fn draw_titles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: Option<&str>,
) -> Result<DrawingArea<DB, Shift>, String> {
    let mut area = root.titled(title, ("sans-serif", 24)).map_err(err)?;
    let Some(s) = subtitle else {
        return Ok(area);
    };
    let grey = BLACK.mix(0.75);
    let style = TextStyle::from(("sans-serif", 16).into_font()).color(&grey);
    let room = area.dim_in_pixel().0 as i32 - 24;
    let mut lines: Vec<String> = Vec::new();
    for part in s.split(" · ") {
        let joined = match lines.last() {
            Some(l) => format!("{l} · {part}"),
            None => part.to_string(),
        };
        let (w, _) = area.estimate_text_size(&joined, &style).map_err(err)?;
        match lines.last_mut() {
            Some(l) if w as i32 <= room => *l = joined,
            None => lines.push(joined),
            Some(_) => lines.push(part.to_string()),
        }
    }
    for l in &lines {
        area = area.titled(l, style.clone()).map_err(err)?;
    }
    Ok(area)
}

/// Draws `notes` at the bottom of `area`, each wrapped to the width, and returns the area
/// above them.
pub(crate) fn draw_notes<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    notes: &[String],
) -> Result<DrawingArea<DB, Shift>, String> {
    if notes.is_empty() {
        return Ok(area);
    }
    let (w, h) = area.dim_in_pixel();
    let grey = BLACK.mix(0.8);
    let style = TextStyle::from(("sans-serif", 15).into_font()).color(&grey);
    let room = w as i32 - 48;
    let mut lines: Vec<String> = Vec::new();
    for n in notes {
        let mut line = String::new();
        for word in n.split(' ') {
            let longer = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            let (tw, _) = area.estimate_text_size(&longer, &style).map_err(err)?;
            if tw as i32 > room && !line.is_empty() {
                lines.push(std::mem::replace(&mut line, format!("  {word}")));
            } else {
                line = longer;
            }
        }
        lines.push(line);
    }
    let step = 19;
    let (upper, lower) = area.split_vertically(h as i32 - step * lines.len() as i32 - 8);
    for (i, l) in lines.iter().enumerate() {
        lower
            .draw_text(l, &style, (24, 2 + step * i as i32))
            .map_err(err)?;
    }
    Ok(upper)
}

/// The files of [`accuracy_plots`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccuracyPlots {
    /// `det.png` / `det.svg`; `None` without genuine or without impostor scores.
    pub det: Option<PlotFiles>,
    /// `scores.png` / `scores.svg`.
    pub scores: PlotFiles,
}

/// [`accuracy_plots_in`] without a context (titles name no condition or enrolment).
pub fn accuracy_plots(
    scores: &Scores,
    summary: &AccuracySummary,
    dir: &Path,
) -> Result<AccuracyPlots, PlotError> {
    accuracy_plots_in(scores, summary, &PlotContext::default(), dir)
}

/// `<dir>/det.{png,svg}` and `<dir>/scores.{png,svg}` for `scores` and its `summary` (from
/// [`crate::accuracy::summarise`] with the same scores), titled with `context`: the score
/// histograms mark the summary's operating threshold and the FNMR@FMR thresholds.
pub fn accuracy_plots_in(
    scores: &Scores,
    summary: &AccuracySummary,
    context: &PlotContext,
    dir: &Path,
) -> Result<AccuracyPlots, PlotError> {
    let (det, hist) = accuracy_figures(scores, summary, context)?;
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

/// [`accuracy_svgs_in`] without a context.
pub fn accuracy_svgs(
    scores: &Scores,
    summary: &AccuracySummary,
) -> Result<AccuracySvgs, PlotError> {
    accuracy_svgs_in(scores, summary, &PlotContext::default())
}

/// The same figures as [`accuracy_plots_in`], as SVG documents in strings (nothing written).
pub fn accuracy_svgs_in(
    scores: &Scores,
    summary: &AccuracySummary,
    context: &PlotContext,
) -> Result<AccuracySvgs, PlotError> {
    let (det, hist) = accuracy_figures(scores, summary, context)?;
    Ok(AccuracySvgs {
        det: det.map(|f| svg_string(&f)).transpose()?,
        scores: svg_string(&hist)?,
    })
}

/// The DET figure (with both score sets) and the score histograms, markers from `summary`.
fn accuracy_figures(
    scores: &Scores,
    summary: &AccuracySummary,
    context: &PlotContext,
) -> Result<(Option<det::DetFigure>, hist::Histogram), PlotError> {
    let det = if scores.genuine.is_empty() || scores.impostor.is_empty() {
        None
    } else {
        let curve = DetCurve::new(&scores.genuine, &scores.impostor)
            .map_err(|e| PlotError::Data(e.to_string()))?;
        Some(det::det_figure(&curve, summary, context))
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
    let (title, mut subtitle) = titles("Comparison scores", summary, context);
    if summary.lost.is_some() {
        subtitle.push_str(" (lost ones have no score: not drawn)");
    }
    let mut hist = hist::score_figure(&scores.genuine, &scores.impostor, &markers)?;
    hist.set_titles(title, Some(subtitle));
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

    use crate::accuracy::{summarise, AccuracyOptions, Lost, Subjects};

    /// The `y` of the SVG `<text>` element holding exactly `text`.
    fn text_y(svg: &str, text: &str) -> f64 {
        let end = svg
            .find(&format!(">\n{text}\n</text>"))
            .unwrap_or_else(|| panic!("no text {text:?}"));
        let start = svg[..end].rfind("<text").unwrap();
        let y = svg[start..end].split(" y=\"").nth(1).unwrap();
        y[..y.find('"').unwrap()].parse().unwrap()
    }

    fn context() -> PlotContext {
        PlotContext {
            condition: "blur=2".into(),
            enrolment: "greyscale (as on the chip)".into(),
        }
    }

    /// Removes `dir` unless the figures were asked to be kept (`$REPORTS_PLOT_DIR`).
    fn tidy(dir: &Path) {
        if std::env::var_os("REPORTS_PLOT_DIR").is_none() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// Where to keep the figures for a look: `$REPORTS_PLOT_DIR/<name>` or a temporary folder.
    fn out_dir(name: &str) -> std::path::PathBuf {
        match std::env::var_os("REPORTS_PLOT_DIR") {
            Some(d) => std::path::PathBuf::from(d).join(name),
            None => {
                std::env::temp_dir().join(format!("reports-unit-{name}-{}", std::process::id()))
            }
        }
    }

    #[test]
    fn zero_rates_are_open_markers_at_their_bound_with_notes() {
        // Perfectly separated: every error rate is 0 of N.
        let scores = Scores::new(
            vec![0.9; 50],
            (0..40).map(|i| f64::from(i) / 400.0).collect(),
        );
        let opts = AccuracyOptions {
            operating_threshold: Some(0.5),
            ..AccuracyOptions::default()
        };
        let summary = summarise(&scores, &opts).unwrap();
        let svgs = accuracy_svgs_in(&scores, &summary, &context()).unwrap();
        let det = svgs.det.unwrap();
        for words in [
            "DET curve — blur=2, enrolment greyscale (as on the chip)",
            "N genuine = 50, N impostor = 40 comparisons · FTA not recorded",
            "EER 0 (0 of 40 impostor, 0 of 50 genuine)",
            "threshold 0.5: FMR 0 of 40, FNMR 0 of 50",
            "FMR 0 of 40, FNMR 0 of 50",
            "Open markers: a rate of 0 (0 of N), drawn at its one-sided 95% upper bound",
            "No point of the curve is on the axes",
        ] {
            assert!(det.contains(words), "DET lacks {words:?}");
        }
        assert!(svgs.scores.contains("Comparison scores — blur=2"));
        let dir = out_dir("zero-rates");
        let files = accuracy_plots_in(&scores, &summary, &context(), &dir).unwrap();
        assert!(files.det.is_some());
        tidy(&dir);
    }

    #[test]
    fn lost_comparisons_draw_the_generalised_curve() {
        let mut rng = common::rng::Rng::new(11);
        let mut s = Scores::new(
            (0..400).map(|_| 0.45 + 0.4 * rng.next_f64()).collect(),
            (0..60).map(|_| 0.5 * rng.next_f64()).collect(),
        );
        s.subjects = Some(Subjects {
            genuine: (0..400).map(|i| i % 40).collect(),
            impostor: (0..60).map(|i| i % 40).collect(),
        });
        s.lost = Some(Lost {
            genuine_subjects: vec![1, 2, 3],
            impostor_subjects: vec![4, 5],
        });
        let opts = AccuracyOptions {
            operating_threshold: Some(0.363),
            ..AccuracyOptions::default()
        };
        let summary = summarise(&s, &opts).unwrap();
        let svgs = accuracy_svgs_in(&s, &summary, &context()).unwrap();
        let det = svgs.det.unwrap();
        for words in [
            "lost: 3 genuine, 2 impostor",
            "generalised (FAR / FRR), 3 + 2 lost counted",
            "Grey: generalised FAR / FRR (ISO/IEC 19795-1): the 3 genuine and 2 impostor",
            "false reject rate (FRR)",
            "generalised EER",
            // 60 impostors: the 1e-2 target line and beyond-support part are labelled.
            "FMR ≤ 1%",
            "3 / N impostor",
        ] {
            assert!(det.contains(words), "DET lacks {words:?}");
        }
        assert!(svgs.scores.contains("(lost ones have no score: not drawn)"));
        let dir = out_dir("lost");
        accuracy_plots_in(&s, &summary, &context(), &dir).unwrap();
        tidy(&dir);
    }

    #[test]
    fn nearby_threshold_labels_do_not_hide_each_other() {
        let markers = [
            Marker::new("operating threshold 0.363", 0.363),
            Marker::new("FMR ≤ 0.1% (score > 0.3631)", 0.3631),
            Marker::new("FMR ≤ 1% (score > 0.2000)", 0.2),
        ];
        let hist = hist::score_figure(&[0.5, 0.6, 0.7], &[0.0, 0.1, 0.2], &markers).unwrap();
        let svg = svg_string(&hist).unwrap();
        let a = text_y(&svg, "operating threshold 0.363");
        let b = text_y(&svg, "FMR ≤ 0.1% (score &gt; 0.3631)");
        let c = text_y(&svg, "FMR ≤ 1% (score &gt; 0.2000)");
        assert!((a - b).abs() >= f64::from(labels::ROW) - 1.0, "{a} {b}");
        assert_eq!(a.min(b), c, "a far line shares the first row");
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
