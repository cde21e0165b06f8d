//! YuNet 2023mar output decoding and non-maximum suppression, as OpenCV's `FaceDetectorYN`.

use super::imageops::Letterbox;

/// A face found by the detector, in the coordinates of the image it ran on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// Top-left corner, width and height.
    pub bbox: [f32; 4],
    /// Right eye, left eye, nose tip, right and left mouth corners (x, y). "Right eye" is
    /// the subject's right: on the left of the image.
    pub landmarks: [[f32; 2]; 5],
    /// sqrt(cls · obj), each clamped to [0, 1].
    pub score: f32,
}

impl Face {
    pub fn area(&self) -> f32 {
        self.bbox[2].max(0.0) * self.bbox[3].max(0.0)
    }

    /// The same face in the source image of a letterbox.
    pub fn to_source(&self, lb: &Letterbox) -> Face {
        let (sx, sy) = lb.scale();
        Face {
            bbox: [
                self.bbox[0] / sx,
                self.bbox[1] / sy,
                self.bbox[2] / sx,
                self.bbox[3] / sy,
            ],
            landmarks: self.landmarks.map(|[x, y]| [x / sx, y / sy]),
            score: self.score,
        }
    }

    /// The same face moved by `(dx, dy)` pixels (e.g. from a padded image back to the
    /// original: minus the padding).
    pub fn translated(&self, dx: f32, dy: f32) -> Face {
        Face {
            bbox: [
                self.bbox[0] + dx,
                self.bbox[1] + dy,
                self.bbox[2],
                self.bbox[3],
            ],
            landmarks: self.landmarks.map(|[x, y]| [x + dx, y + dy]),
            score: self.score,
        }
    }

    /// Distance between the two eye landmarks.
    pub fn interocular(&self) -> f32 {
        let [r, l] = [self.landmarks[0], self.landmarks[1]];
        (r[0] - l[0]).hypot(r[1] - l[1])
    }
}

/// Detector settings (OpenCV's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    pub score_threshold: f32,
    pub nms_threshold: f32,
    /// At most this many candidates enter NMS (best first).
    pub top_k: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            score_threshold: 0.9,
            nms_threshold: 0.3,
            top_k: 5000,
        }
    }
}

/// The output tensors of one stride: per anchor cell, `cls` and `obj` (1 value), `bbox`
/// (4) and `kps` (10), cells row-major over a `side / stride` square grid.
pub struct StrideOutputs<'a> {
    pub stride: u32,
    pub cls: &'a [f32],
    pub obj: &'a [f32],
    pub bbox: &'a [f32],
    pub kps: &'a [f32],
}

/// Turns raw outputs into candidates above the score threshold (OpenCV's `postProcess`
/// before NMS). Cells whose tensors are too short are skipped, never indexed out of range.
pub fn decode(outputs: &[StrideOutputs<'_>], side: u32, score_threshold: f32, out: &mut Vec<Face>) {
    for o in outputs {
        let cols = (side / o.stride) as usize;
        let rows = cols;
        let n = (rows * cols)
            .min(o.cls.len())
            .min(o.obj.len())
            .min(o.bbox.len() / 4)
            .min(o.kps.len() / 10);
        let st = o.stride as f32;
        for idx in 0..n {
            let cls = o.cls[idx].clamp(0.0, 1.0);
            let obj = o.obj[idx].clamp(0.0, 1.0);
            let score = (cls * obj).sqrt();
            // NaN scores are dropped too.
            if score.is_nan() || score < score_threshold {
                continue;
            }
            let (r, c) = ((idx / cols) as f32, (idx % cols) as f32);
            let b = &o.bbox[idx * 4..idx * 4 + 4];
            let cx = (c + b[0]) * st;
            let cy = (r + b[1]) * st;
            let w = b[2].exp() * st;
            let h = b[3].exp() * st;
            let k = &o.kps[idx * 10..idx * 10 + 10];
            let landmarks = std::array::from_fn(|n| [(k[2 * n] + c) * st, (k[2 * n + 1] + r) * st]);
            out.push(Face {
                bbox: [cx - w / 2.0, cy - h / 2.0, w, h],
                landmarks,
                score,
            });
        }
    }
}

/// Integer rectangle as OpenCV builds it for NMS (`Rect2i(int(x), int(y), int(w), int(h))`,
/// truncation toward zero).
fn int_rect(b: &[f32; 4]) -> [i64; 4] {
    let t = |v: f32| if v.is_finite() { v.trunc() as i64 } else { 0 };
    [t(b[0]), t(b[1]), t(b[2]), t(b[3])]
}

/// Intersection over union of two integer rectangles (OpenCV's `1 - jaccardDistance`).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let (a, b) = (int_rect(a), int_rect(b));
    let area = |r: &[i64; 4]| if r[2] > 0 && r[3] > 0 { r[2] * r[3] } else { 0 };
    let (aa, ab) = (area(&a), area(&b));
    if aa + ab <= 0 {
        return 1.0;
    }
    let x1 = a[0].max(b[0]);
    let y1 = a[1].max(b[1]);
    let x2 = (a[0] + a[2]).min(b[0] + b[2]);
    let y2 = (a[1] + a[3]).min(b[1] + b[3]);
    let inter = if x2 > x1 && y2 > y1 && aa > 0 && ab > 0 {
        (x2 - x1) * (y2 - y1)
    } else {
        0
    };
    let inter = inter as f64;
    let distance = 1.0 - inter / ((aa + ab) as f64 - inter);
    1.0 - distance as f32
}

/// Greedy NMS as OpenCV's `dnn::NMSBoxes` (eta = 1): candidates with a score above the
/// threshold, best first (stable), at most `top_k`; keep one unless it overlaps a kept one
/// by more than `nms_threshold`. OpenCV skips NMS entirely for a single candidate.
pub fn nms(mut dets: Vec<Face>, cfg: &DetectorConfig) -> Vec<Face> {
    if dets.len() <= 1 {
        return dets;
    }
    let mut order: Vec<usize> = (0..dets.len())
        .filter(|&i| dets[i].score > cfg.score_threshold)
        .collect();
    order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score));
    order.truncate(cfg.top_k.max(1));
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        if kept
            .iter()
            .all(|&k| iou(&dets[i].bbox, &dets[k].bbox) <= cfg.nms_threshold)
        {
            kept.push(i);
        }
    }
    let mut out = Vec::with_capacity(kept.len());
    for k in kept {
        out.push(std::mem::replace(
            &mut dets[k],
            Face {
                bbox: [0.0; 4],
                landmarks: [[0.0; 2]; 5],
                score: 0.0,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, w: f32, h: f32, score: f32) -> Face {
        Face {
            bbox: [x, y, w, h],
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn iou_of_integer_rects() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 10.0, 10.0]), 0.0);
        // Half overlap: 50 / 150.
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 10.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        // Truncation: 0.9 → 0, 10.9 → 10.
        assert_eq!(iou(&[0.9, 0.9, 10.9, 10.9], &[0.0, 0.0, 10.0, 10.0]), 1.0);
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_separate_faces() {
        let dets = vec![
            det(0.0, 0.0, 100.0, 100.0, 0.95),
            det(5.0, 5.0, 100.0, 100.0, 0.97),
            det(300.0, 300.0, 50.0, 50.0, 0.92),
            det(10.0, 0.0, 100.0, 100.0, 0.91),
        ];
        let kept = nms(dets, &DetectorConfig::default());
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.97, 0.92]);
    }

    #[test]
    fn nms_threshold_and_top_k() {
        // IoU of these two is 1/3: above 0.3 → suppressed; with 0.4 both stay.
        let dets = vec![
            det(0.0, 0.0, 10.0, 10.0, 0.99),
            det(5.0, 0.0, 10.0, 10.0, 0.98),
        ];
        assert_eq!(nms(dets.clone(), &DetectorConfig::default()).len(), 1);
        let loose = DetectorConfig {
            nms_threshold: 0.4,
            ..DetectorConfig::default()
        };
        assert_eq!(nms(dets.clone(), &loose).len(), 2);
        let one = DetectorConfig {
            nms_threshold: 0.4,
            top_k: 1,
            ..DetectorConfig::default()
        };
        assert_eq!(nms(dets, &one).len(), 1);
    }

    #[test]
    fn decode_places_boxes_and_landmarks_on_the_grid() {
        // Stride 32 on a 64 square: 2×2 cells; only cell (row 1, col 0) scores.
        let cls = [0.0, 0.0, 1.0, 0.0];
        let obj = [0.0, 0.0, 0.81, 0.0];
        let mut bbox = [0.0f32; 16];
        bbox[8..12].copy_from_slice(&[0.5, 0.5, 0.0, 1.0f32.ln()]);
        let mut kps = [0.0f32; 40];
        kps[20..30].copy_from_slice(&[0.25, 0.25, 0.75, 0.25, 0.5, 0.5, 0.25, 0.75, 0.75, 0.75]);
        let outs = [StrideOutputs {
            stride: 32,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        }];
        let mut v = Vec::new();
        decode(&outs, 64, 0.9, &mut v);
        assert_eq!(v.len(), 1);
        let d = v[0];
        assert!((d.score - 0.9).abs() < 1e-6);
        // centre (0.5, 1.5) cells → (16, 48); size 32 → top-left (0, 32).
        assert_eq!(d.bbox, [0.0, 32.0, 32.0, 32.0]);
        assert_eq!(d.landmarks[0], [8.0, 40.0]);
        assert_eq!(d.landmarks[4], [24.0, 56.0]);
        // Short tensors are not read past their end.
        let outs = [StrideOutputs {
            stride: 32,
            cls: &cls,
            obj: &obj,
            bbox: &bbox[..4],
            kps: &kps,
        }];
        v.clear();
        decode(&outs, 64, 0.9, &mut v);
        assert!(v.is_empty());
    }
}
