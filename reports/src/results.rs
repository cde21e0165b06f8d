//! The JSON results file: every finished case plus the latency table; rewritten whole
//! after every case (temporary file, then rename), so a killed run leaves a valid file.
//! Shards of a partitioned run are joined with [`merge`].

use crate::latency::{latency_table, LatencyRow};
use crate::verdict::CaseResult;
use common::fs::write_atomic;
use std::path::Path;

/// Version of the JSON layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultsFile {
    pub format_version: u32,
    pub tool: String,
    /// Which shard this is, e.g. "1/3"; `None` for a whole or merged run.
    pub partition: Option<String>,
    pub cases: Vec<CaseResult>,
    pub latency: Vec<LatencyRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a myna-hil results file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path} has format version {found}, this myna-hil reads {FORMAT_VERSION}")]
    Version { path: String, found: u32 },
    #[error("case `{0}` appears in more than one shard")]
    Duplicate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl ResultsFile {
    pub fn new(partition: Option<String>, cases: Vec<CaseResult>) -> Self {
        let latency = latency_table(&cases);
        ResultsFile {
            format_version: FORMAT_VERSION,
            tool: format!("myna-hil {}", env!("CARGO_PKG_VERSION")),
            partition,
            cases,
            latency,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| ResultsError::Write {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(path, &json).map_err(|source| ResultsError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let text = std::fs::read(path).map_err(|source| ResultsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file: ResultsFile =
            serde_json::from_slice(&text).map_err(|source| ResultsError::Parse {
                path: path.display().to_string(),
                source,
            })?;
        if file.format_version != FORMAT_VERSION {
            return Err(ResultsError::Version {
                path: path.display().to_string(),
                found: file.format_version,
            });
        }
        Ok(file)
    }
}

/// Joins the shards into one run, cases sorted by id; a case in two shards is an error.
pub fn merge(shards: Vec<ResultsFile>) -> Result<ResultsFile, ResultsError> {
    let mut cases: Vec<CaseResult> = shards.into_iter().flat_map(|s| s.cases).collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = cases.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(ResultsError::Duplicate(w[0].id.clone()));
    }
    Ok(ResultsFile::new(None, cases))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Measurement, Verdict};
    use std::time::Duration;

    fn case(id: &str) -> CaseResult {
        CaseResult {
            id: id.into(),
            group: "g".into(),
            name: id.into(),
            verdict: Verdict::Pass,
            reason: None,
            duration: Duration::from_millis(5),
            measurements: vec![Measurement::new("total", 12.5, "ms")],
            evidence: String::new(),
        }
    }

    #[test]
    fn round_trips_and_merges_shards() {
        let dir = std::env::temp_dir().join(format!("myna-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = ResultsFile::new(Some("1/2".into()), vec![case("b"), case("c")]);
        let b = ResultsFile::new(Some("2/2".into()), vec![case("a")]);
        a.write(&dir.join("a.json")).unwrap();
        b.write(&dir.join("b.json")).unwrap();
        let shards = vec![
            ResultsFile::read(&dir.join("a.json")).unwrap(),
            ResultsFile::read(&dir.join("b.json")).unwrap(),
        ];
        let merged = merge(shards).unwrap();
        let ids: Vec<&str> = merged.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(merged.latency[0].count, 3);
        assert!(
            merge(vec![a.clone(), a]).is_err(),
            "a case twice is an error"
        );
    }
}
