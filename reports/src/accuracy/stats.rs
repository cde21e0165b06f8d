//! Exact binomial (Clopper-Pearson) intervals and the normal quantile for DET axes.
//!
//! The beta quantile is computed here rather than through a statistics crate: the regularized
//! incomplete beta function by its continued fraction, inverted by bisection to full `f64`
//! precision. Zero and all-errors counts use the closed forms (`1 - (α/2)^(1/n)` and its mirror).

use serde::{Deserialize, Serialize};

/// A two-sided confidence interval for a rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// `count` events out of `trials`, the rate and its exact (Clopper-Pearson) interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub count: u64,
    pub trials: u64,
    pub rate: f64,
    /// Clopper-Pearson interval at the summary's confidence level.
    pub interval: Interval,
}

impl Proportion {
    /// `None` when there are no trials (the rate is undefined).
    ///
    /// # Panics
    /// If `count > trials` or `confidence` is not inside (0, 1); callers validate first.
    pub fn new(count: u64, trials: u64, confidence: f64) -> Option<Proportion> {
        assert!(count <= trials, "{count} events out of {trials} trials");
        if trials == 0 {
            return None;
        }
        Some(Proportion {
            count,
            trials,
            rate: count as f64 / trials as f64,
            interval: clopper_pearson(count, trials, confidence),
        })
    }
}

/// The exact two-sided Clopper-Pearson interval for `x` events in `n` trials at `confidence`
/// (e.g. 0.95): lower = B⁻¹(α/2; x, n−x+1), upper = B⁻¹(1−α/2; x+1, n−x), α = 1 − confidence.
///
/// # Panics
/// If `n == 0`, `x > n` or `confidence` is not inside (0, 1).
pub fn clopper_pearson(x: u64, n: u64, confidence: f64) -> Interval {
    assert!(n > 0 && x <= n, "clopper_pearson({x}, {n})");
    assert!(
        confidence > 0.0 && confidence < 1.0,
        "confidence {confidence} not in (0, 1)"
    );
    let half = (1.0 - confidence) / 2.0;
    let nf = n as f64;
    let xf = x as f64;
    // (α/2)^(1/n) and 1 − (α/2)^(1/n), without cancellation for large n.
    let ln_half_over_n = half.ln() / nf;
    let lower = if x == 0 {
        0.0
    } else if x == n {
        ln_half_over_n.exp()
    } else {
        beta_quantile(half, xf, nf - xf + 1.0)
    };
    let upper = if x == n {
        1.0
    } else if x == 0 {
        -ln_half_over_n.exp_m1()
    } else {
        beta_quantile(1.0 - half, xf + 1.0, nf - xf)
    };
    Interval { lower, upper }
}

/// The one-sided upper confidence bound of a rate observed as 0 in `trials` trials:
/// 1 − (1 − confidence)^(1/trials) (exact; ≈ 3 / trials at 95%, the "rule of 3"). What a 0 can
/// honestly be reported as: "≤ this".
///
/// # Panics
/// If `trials == 0` or `confidence` is not inside (0, 1).
pub fn zero_upper_bound(trials: u64, confidence: f64) -> f64 {
    assert!(trials > 0, "zero_upper_bound with no trials");
    assert!(
        confidence > 0.0 && confidence < 1.0,
        "confidence {confidence} not in (0, 1)"
    );
    -((1.0 - confidence).ln() / trials as f64).exp_m1()
}

fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// The regularized incomplete beta function I_x(a, b), a, b > 0.
pub fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    // x^a (1−x)^b / B(a, b), in logs.
    let ln_front = a * x.ln() + b * (-x).ln_1p() - ln_beta(a, b);
    // The continued fraction converges quickly below the mean-ish point; use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) above it.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction 1 / (1 + d₁ / (1 + d₂ / (1 + …))) of the incomplete beta function,
/// with d₂ₘ₊₁ = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and d₂ₘ = m(b−m)x / ((a+2m−1)(a+2m)),
/// evaluated by the modified Lentz method.
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    // First term: 1 + d₁.
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut c = 1.0;
    let mut h = d;
    for m in 1..100_000u32 {
        let m = f64::from(m);
        let two_m = 2.0 * m;
        // Even step d₂ₘ.
        let even = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        // Odd step d₂ₘ₊₁.
        let odd = -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The p-quantile of the Beta(a, b) distribution, by bisection on I_x(a, b) (monotone in x).
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..400 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if regularized_incomplete_beta(mid, a, b) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 2.0 * f64::EPSILON * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The standard normal cumulative distribution Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile Φ⁻¹(p) (the "normal deviate" of DET axes); ±∞ at 0 and 1.
///
/// Start from the Abramowitz & Stegun 26.2.23 rational approximation (error < 4.5e-4) and
/// polish with Newton steps on Φ (computed through `erfc`, accurate in the tails).
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    // Work in the lower tail for precision, mirror at the end.
    let q = if p > 0.5 { 1.0 - p } else { p };
    let t = (-2.0 * q.ln()).sqrt();
    let mut z = -(t
        - (2.515517 + 0.802853 * t + 0.010328 * t * t)
            / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
    for _ in 0..4 {
        let density = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if density == 0.0 {
            break;
        }
        let step = (normal_cdf(z) - q) / density;
        z -= step;
        if step.abs() < 1e-15 * z.abs().max(1.0) {
            break;
        }
    }
    if p > 0.5 {
        -z
    } else {
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn zero_of_thirty_thousand_upper_bound() {
        let i = clopper_pearson(0, 30_000, 0.95);
        assert_eq!(i.lower, 0.0);
        let exact = 1.0 - 0.025f64.powf(1.0 / 30_000.0);
        assert!(close(i.upper, exact, 1e-9), "{} vs {exact}", i.upper);
        assert!(close(i.upper, 1.229_550_888_738e-4, 1e-9), "{}", i.upper);
    }

    #[test]
    fn zero_upper_bound_is_the_rule_of_three() {
        let b = zero_upper_bound(500, 0.95);
        assert!(close(b, 1.0 - 0.05f64.powf(1.0 / 500.0), 1e-12), "{b}");
        assert!(b > 0.0059 && b < 0.0060, "{b}");
        // The one-sided 95% bound is the two-sided 90% Clopper-Pearson upper bound.
        assert!(close(b, clopper_pearson(0, 500, 0.90).upper, 1e-12));
    }

    #[test]
    fn five_of_hundred_matches_table() {
        // R binom.test(5, 100): 0.01643188 0.11283491 (also an exact bisection on the binomial
        // tail in rational-free double precision: 0.016431879182, 0.112834911105).
        let i = clopper_pearson(5, 100, 0.95);
        assert!(close(i.lower, 0.016_431_879_182, 1e-8), "{}", i.lower);
        assert!(close(i.upper, 0.112_834_911_105, 1e-8), "{}", i.upper);
    }

    #[test]
    fn all_events_mirror_zero_events() {
        let zero = clopper_pearson(0, 50, 0.95);
        let all = clopper_pearson(50, 50, 0.95);
        assert_eq!(all.upper, 1.0);
        assert!(close(all.lower, 1.0 - zero.upper, 1e-12));
        // The general path agrees with the closed form near the boundary.
        let one = clopper_pearson(1, 50, 0.95);
        let mirrored = clopper_pearson(49, 50, 0.95);
        assert!(close(one.lower, 1.0 - mirrored.upper, 1e-9));
        assert!(close(one.upper, 1.0 - mirrored.lower, 1e-9));
    }

    #[test]
    fn large_counts_are_sane() {
        // 100 errors in 1e6: the interval brackets 1e-4 tightly (normal approx ±1.96·1e-5).
        let i = clopper_pearson(100, 1_000_000, 0.95);
        assert!(i.lower > 0.8e-4 && i.lower < 0.82e-4, "{}", i.lower);
        assert!(i.upper > 1.2e-4 && i.upper < 1.23e-4, "{}", i.upper);
    }

    #[test]
    fn incomplete_beta_known_values() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_0.5(a, a) = 0.5.
        assert!(close(
            regularized_incomplete_beta(0.3, 1.0, 1.0),
            0.3,
            1e-14
        ));
        assert!(close(
            regularized_incomplete_beta(0.7, 3.0, 1.0),
            0.343,
            1e-13
        ));
        assert!(close(
            regularized_incomplete_beta(0.5, 7.5, 7.5),
            0.5,
            1e-13
        ));
    }

    #[test]
    fn normal_quantile_round_trips() {
        for p in [
            1e-12,
            1e-6,
            1e-4,
            0.01,
            0.1,
            0.3,
            0.5,
            0.8,
            0.99,
            1.0 - 1e-9,
        ] {
            let z = normal_quantile(p);
            assert!(close(normal_cdf(z), p, 1e-10), "p {p}: z {z}");
        }
        assert!(close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-12));
        assert_eq!(normal_quantile(0.5), 0.0);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
    }
}
