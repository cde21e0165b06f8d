//! Seeded score generators shared by the integration tests and the bench.
#![allow(dead_code)]

/// SplitMix64 with Box-Muller normals: deterministic across platforms and crate versions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        mean + sd * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    pub fn normals(&mut self, n: usize, mean: f64, sd: f64) -> Vec<f64> {
        (0..n).map(|_| self.normal(mean, sd)).collect()
    }
}

/// Scores shaped like SFace cosine similarities: genuine N(0.62, 0.12), impostor N(0.05, 0.09),
/// both clamped to [-1, 1].
pub fn sface_like(seed: u64, genuine: usize, impostor: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let clamp = |v: Vec<f64>| {
        v.into_iter()
            .map(|s| s.clamp(-1.0, 1.0))
            .collect::<Vec<_>>()
    };
    let g = clamp(rng.normals(genuine, 0.62, 0.12));
    let i = clamp(rng.normals(impostor, 0.05, 0.09));
    (g, i)
}

/// Round to `decimals` places (makes many ties).
pub fn quantise(v: &[f64], decimals: i32) -> Vec<f64> {
    let f = 10f64.powi(decimals);
    v.iter().map(|s| (s * f).round() / f).collect()
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
