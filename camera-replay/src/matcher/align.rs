//! 5-point alignment to SFace's 112×112 template, as OpenCV's `FaceRecognizerSF::alignCrop`.
//!
//! OpenCV estimates a similarity transform (Umeyama, no reflection) from the five landmarks
//! to a fixed template with an SVD of the 2×2 cross-covariance. In two dimensions that has a
//! closed form: the best rotation angle is `atan2(a10 - a01, a00 + a11)` and the sum of the
//! signed singular values is `hypot(a00 + a11, a10 - a01)` (it is s1 + s2 when the
//! determinant is non-negative and s1 - s2 when negative, exactly OpenCV's `d` correction).

/// SFace's template: right eye, left eye, nose tip, right and left mouth corners (in the
/// image, "right eye" is the one on the left).
pub const TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// The template mean as OpenCV hard-codes it (not exactly the mean of [`TEMPLATE`]).
const TEMPLATE_MEAN: [f32; 2] = [56.0262, 71.9008];

/// The forward 2×3 matrix (row-major) mapping source landmarks onto the template, or `None`
/// when the landmarks are degenerate (all at one point, or collinear enough that no rotation
/// is defined).
pub fn similarity_transform(src: &[[f32; 2]; 5]) -> Option<[f64; 6]> {
    // Means and de-meaned points in single precision, as OpenCV.
    let avg0 = (src[0][0] + src[1][0] + src[2][0] + src[3][0] + src[4][0]) / 5.0;
    let avg1 = (src[0][1] + src[1][1] + src[2][1] + src[3][1] + src[4][1]) / 5.0;
    let sd: [[f32; 2]; 5] = std::array::from_fn(|j| [src[j][0] - avg0, src[j][1] - avg1]);
    let dd: [[f32; 2]; 5] = std::array::from_fn(|j| {
        [
            TEMPLATE[j][0] - TEMPLATE_MEAN[0],
            TEMPLATE[j][1] - TEMPLATE_MEAN[1],
        ]
    });
    let cov = |a: usize, b: usize| -> f64 {
        (0..5).map(|i| f64::from(dd[i][a] * sd[i][b])).sum::<f64>() / 5.0
    };
    let (a00, a01, a10, a11) = (cov(0, 0), cov(0, 1), cov(1, 0), cov(1, 1));
    let var: f64 = (0..5).map(|i| f64::from(sd[i][0] * sd[i][0])).sum::<f64>() / 5.0
        + (0..5).map(|i| f64::from(sd[i][1] * sd[i][1])).sum::<f64>() / 5.0;
    let (p, q) = (a00 + a11, a10 - a01);
    let signed_sv_sum = p.hypot(q);
    let usable = |v: f64| v.is_finite() && v > 0.0;
    if !usable(var) || !usable(signed_sv_sum) {
        return None;
    }
    let (c, s) = (p / signed_sv_sum, q / signed_sv_sum);
    let scale = signed_sv_sum / var;
    let (mx, my) = (f64::from(avg0), f64::from(avg1));
    let ts0 = c * mx - s * my;
    let ts1 = s * mx + c * my;
    let t0 = f64::from(TEMPLATE_MEAN[0]) - scale * ts0;
    let t1 = f64::from(TEMPLATE_MEAN[1]) - scale * ts1;
    Some([scale * c, -scale * s, t0, scale * s, scale * c, t1])
}

/// Applies a 2×3 matrix to a point.
pub fn apply(m: &[f64; 6], p: [f32; 2]) -> [f32; 2] {
    let (x, y) = (f64::from(p[0]), f64::from(p[1]));
    [
        (m[0] * x + m[1] * y + m[2]) as f32,
        (m[3] * x + m[4] * y + m[5]) as f32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
        (a[0] - b[0]).abs() <= tol && (a[1] - b[1]).abs() <= tol
    }

    #[test]
    fn template_maps_onto_itself() {
        let m = similarity_transform(&TEMPLATE).unwrap();
        for p in TEMPLATE {
            assert!(
                close(apply(&m, p), p, 2e-3),
                "{:?} -> {:?}",
                p,
                apply(&m, p)
            );
        }
        assert!((m[0] - 1.0).abs() < 1e-4 && m[1].abs() < 1e-4);
    }

    #[test]
    fn rotated_scaled_shifted_template_maps_back() {
        for &(angle, scale, tx, ty) in &[
            (0.3f64, 2.5f64, 300.0f64, -40.0f64),
            (-1.2, 0.4, 10.0, 10.0),
            (3.0, 1.7, -5.0, 700.0),
        ] {
            let (c, s) = (angle.cos(), angle.sin());
            let src: [[f32; 2]; 5] = std::array::from_fn(|i| {
                let (x, y) = (f64::from(TEMPLATE[i][0]), f64::from(TEMPLATE[i][1]));
                [
                    (scale * (c * x - s * y) + tx) as f32,
                    (scale * (s * x + c * y) + ty) as f32,
                ]
            });
            let m = similarity_transform(&src).unwrap();
            for i in 0..5 {
                let got = apply(&m, src[i]);
                assert!(
                    close(got, TEMPLATE[i], 5e-3),
                    "angle {angle}: {got:?} vs {:?}",
                    TEMPLATE[i]
                );
            }
            // It is a similarity: equal scale on both axes, no shear.
            assert!((m[0] - m[4]).abs() < 1e-9 && (m[1] + m[3]).abs() < 1e-9);
            assert!(((m[0] * m[0] + m[1] * m[1]).sqrt() - 1.0 / scale).abs() < 1e-4);
        }
    }

    #[test]
    fn mirrored_landmarks_still_give_a_rotation() {
        // Mirror image of the template: a reflection is not allowed, so the result is the
        // best proper similarity (OpenCV's detA < 0 branch).
        let src: [[f32; 2]; 5] = std::array::from_fn(|i| [112.0 - TEMPLATE[i][0], TEMPLATE[i][1]]);
        let m = similarity_transform(&src).unwrap();
        assert!((m[0] - m[4]).abs() < 1e-9 && (m[1] + m[3]).abs() < 1e-9);
        assert!(m[0] * m[4] - m[1] * m[3] > 0.0);
    }

    #[test]
    fn degenerate_landmarks_are_refused() {
        assert!(similarity_transform(&[[5.0, 5.0]; 5]).is_none());
        assert!(similarity_transform(&[[f32::NAN, 0.0]; 5]).is_none());
    }
}
