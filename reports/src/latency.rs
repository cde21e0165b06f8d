//! Latency statistics per measure (p50 / p95 / p99), from the measurements of all cases.

use crate::cases::Cases;
use crate::verdict::CaseResult;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Percentiles of one measure over all cases, in milliseconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyRow {
    pub measure: String,
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The value at quantile `q` (0..=1) of sorted `values`, nearest-rank method.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Every `ms` measurement of a run, by measure name: what the table and the histograms are
/// made of (a few numbers a case, not its evidence).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples(BTreeMap<String, Vec<f64>>);

impl Samples {
    /// The measurements of every case, read one case at a time.
    pub fn of(cases: &dyn Cases) -> std::io::Result<Samples> {
        let mut samples = Samples::default();
        for i in 0..cases.count() {
            samples.add(&*cases.case(i)?);
        }
        Ok(samples)
    }

    pub fn add(&mut self, r: &CaseResult) {
        for m in r.measurements.iter().filter(|m| m.unit == "ms") {
            match self.0.get_mut(&m.name) {
                Some(values) => values.push(m.value),
                None => {
                    self.0.insert(m.name.clone(), vec![m.value]);
                }
            }
        }
    }

    /// The samples of each measure as durations, for the latency histograms.
    pub fn durations(&self) -> BTreeMap<String, Vec<std::time::Duration>> {
        self.0
            .iter()
            .map(|(name, values)| {
                let durations = values
                    .iter()
                    .filter(|v| v.is_finite() && **v >= 0.0)
                    .map(|v| std::time::Duration::from_secs_f64(v / 1e3))
                    .collect();
                (name.clone(), durations)
            })
            .collect()
    }

    /// One row per measure.
    pub fn table(&self) -> Vec<LatencyRow> {
        self.0
            .iter()
            .map(|(measure, values)| {
                let mut values = values.clone();
                values.sort_by(f64::total_cmp);
                LatencyRow {
                    measure: measure.clone(),
                    count: values.len(),
                    p50_ms: percentile(&values, 0.50),
                    p95_ms: percentile(&values, 0.95),
                    p99_ms: percentile(&values, 0.99),
                    max_ms: values.last().copied().unwrap_or(f64::NAN),
                }
            })
            .collect()
    }
}

/// One row per measure with unit `ms`, over every case that has it.
pub fn latency_table(results: &[CaseResult]) -> Vec<LatencyRow> {
    in_memory(results).table()
}

fn in_memory(results: &[CaseResult]) -> Samples {
    let mut samples = Samples::default();
    for r in results {
        samples.add(r);
    }
    samples
}

/// The table as Markdown (for the console and `latency.md`).
pub fn to_markdown(rows: &[LatencyRow]) -> String {
    let mut out = String::from(
        "| measure | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.measure, r.count, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
