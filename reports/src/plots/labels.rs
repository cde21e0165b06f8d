//! Text labels beside vertical lines (thresholds, targets), placed so that lines with nearby
//! values never hide each other's words: each label sits beside its own line, and a label
//! that would overlap one already placed goes one row lower.

use super::err;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A label for the vertical line at pixel column `x`.
pub(crate) struct LineLabel {
    pub x: i32,
    pub text: String,
    pub colour: RGBColor,
}

/// Horizontal gap between a line and its label, and between labels of one row (pixels).
const GAP: i32 = 4;
/// Height of a row of labels (pixels), for a 14 px font.
pub(crate) const ROW: i32 = 19;
const FONT: u32 = 14;

/// Left edges and rows of labels of widths `w` beside lines at `x` (in that order), inside
/// `left..right`: right of the line when it fits, else left of it; on the first row where it
/// overlaps no label already placed.
pub(crate) fn place(items: &[(i32, i32)], left: i32, right: i32) -> Vec<(i32, usize)> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].0);
    let mut rows: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut out = vec![(0, 0); items.len()];
    for i in order {
        let (x, w) = items[i];
        let x0 = if x + GAP + w <= right {
            x + GAP
        } else {
            (x - GAP - w).max(left)
        };
        let span = (x0 - GAP, x0 + w + GAP);
        let free = |row: &Vec<(i32, i32)>| row.iter().all(|&(a, b)| span.1 <= a || span.0 >= b);
        let r = match rows.iter().position(free) {
            Some(r) => r,
            None => {
                rows.push(Vec::new());
                rows.len() - 1
            }
        };
        rows[r].push(span);
        out[i] = (x0, r);
    }
    out
}

/// A label placed: its box in pixels (left, top, width) and what to write.
pub(crate) struct Placed<'a> {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    label: &'a LineLabel,
}

/// Places `labels` on `root` (pixel coordinates), rows going down from `top`.
pub(crate) fn layout<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &'a [LineLabel],
    (left, right): (i32, i32),
    top: i32,
) -> Result<Vec<Placed<'a>>, String> {
    let mut sizes = Vec::with_capacity(labels.len());
    for l in labels {
        let style = TextStyle::from(("sans-serif", FONT).into_font());
        let (w, _) = root.estimate_text_size(&l.text, &style).map_err(err)?;
        sizes.push((l.x, w as i32));
    }
    Ok(place(&sizes, left, right)
        .into_iter()
        .zip(labels.iter().zip(&sizes))
        .map(|((x, row), (label, &(_, w)))| Placed {
            x,
            y: top + row as i32 * ROW,
            w,
            label,
        })
        .collect())
}

/// Draws placed labels, each on a pale box so a line crossing it does not hide it.
pub(crate) fn paint<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    placed: &[Placed<'_>],
) -> Result<(), String> {
    for p in placed {
        root.draw(&Rectangle::new(
            [(p.x - 2, p.y), (p.x + p.w + 2, p.y + ROW - 2)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(err)?;
        let style = ("sans-serif", FONT).into_font().color(&p.label.colour);
        root.draw_text(&p.label.text, &style, (p.x, p.y + 1))
            .map_err(err)?;
    }
    Ok(())
}

/// The corners of each placed label's box, scaled to the plot (0..1, y up), for
/// [`super::emptiest_corner`].
pub(crate) fn occupied(
    placed: &[Placed<'_>],
    (px, py): (std::ops::Range<i32>, std::ops::Range<i32>),
) -> Vec<(f64, f64)> {
    let w = f64::from(px.end - px.start);
    let h = f64::from(py.end - py.start);
    let sx = |x: i32| f64::from(x - px.start) / w;
    let sy = |y: i32| 1.0 - f64::from(y - py.start) / h;
    placed
        .iter()
        .flat_map(|p| {
            let (y0, y1) = (sy(p.y), sy(p.y + ROW));
            let (x0, x1) = (sx(p.x), sx(p.x + p.w));
            [
                (x0, y0),
                (x1, y0),
                (x0, y1),
                (x1, y1),
                ((x0 + x1) / 2.0, y0),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_lines_get_rows_of_their_own() {
        // 0.363 and 0.3631 a pixel apart, a third far away.
        let p = place(&[(500, 150), (501, 120), (900, 60)], 100, 1000);
        assert_eq!(p[0], (504, 0));
        assert_eq!(p[1].1, 1, "{p:?}");
        assert_eq!(p[2], (904, 0));
        // Near the right edge a label goes left of its line.
        let p = place(&[(980, 100)], 100, 1000);
        assert_eq!(p[0], (876, 0));
        // Far apart: one row.
        let p = place(&[(200, 100), (400, 100), (600, 100)], 100, 1000);
        assert!(p.iter().all(|&(_, r)| r == 0));
    }
}
