//! The JSON results file: every case of a run plus the latency table, written from the run
//! log ([`crate::log`]) when the run ends. Shards of a partitioned run are joined with
//! [`merge`], which insists on every shard.

use crate::cases::Cases;
use crate::latency::{latency_table, LatencyRow};
use crate::verdict::CaseResult;
use common::fs::write_atomic_with;
use std::io::Write;
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
    #[error("the shards do not make up one run: {0}")]
    Shards(String),
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
            tool: tool(),
            partition,
            cases,
            latency,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        write_results(path, self.partition.as_deref(), &self.cases, &self.latency)
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

fn tool() -> String {
    format!("myna-hil {}", env!("CARGO_PKG_VERSION"))
}

/// Writes the results file of `cases` (the layout of [`ResultsFile`], one case a line),
/// reading the cases one at a time, atomically.
pub fn write_results(
    path: &Path,
    partition: Option<&str>,
    cases: &dyn Cases,
    latency: &[LatencyRow],
) -> Result<(), ResultsError> {
    let fill = |w: &mut dyn Write| -> std::io::Result<()> {
        write!(
            w,
            "{{\"format_version\":{FORMAT_VERSION},\"tool\":{},\"partition\":{},\"cases\":[",
            json(&tool())?,
            json(&partition)?
        )?;
        for i in 0..cases.count() {
            let c = cases.case(i)?;
            w.write_all(if i == 0 { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut *w, &*c).map_err(std::io::Error::other)?;
        }
        write!(w, "\n],\"latency\":{}}}\n", json(latency)?)
    };
    write_atomic_with(path, fill).map_err(|source| ResultsError::Write {
        path: path.display().to_string(),
        source,
    })
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> std::io::Result<String> {
    serde_json::to_string(value).map_err(std::io::Error::other)
}

/// Joins the shards into one run, cases sorted by id; a case in two shards is an error.
/// Shards of a partition (`k/N`) must be all N of them, each once, so a merge never
/// passes with a shard forgotten; files of whole runs (no partition) join as they are.
pub fn merge(shards: Vec<ResultsFile>) -> Result<ResultsFile, ResultsError> {
    check_partition(&shards)?;
    let mut cases: Vec<CaseResult> = shards.into_iter().flat_map(|s| s.cases).collect();
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(w) = cases.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(ResultsError::Duplicate(w[0].id.clone()));
    }
    Ok(ResultsFile::new(None, cases))
}

/// Every shard of one partition, or no partition at all.
fn check_partition(shards: &[ResultsFile]) -> Result<(), ResultsError> {
    let parts: Vec<Option<(u32, u32)>> = shards
        .iter()
        .map(|s| {
            s.partition
                .as_deref()
                .map(|p| {
                    p.split_once('/')
                        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
                        .ok_or_else(|| ResultsError::Shards(format!("partition `{p}` is not k/N")))
                })
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    if parts.iter().all(Option::is_none) {
        return Ok(());
    }
    let Some(parts) = parts.into_iter().collect::<Option<Vec<(u32, u32)>>>() else {
        return Err(ResultsError::Shards(
            "some files are shards of a partition and some are whole runs".into(),
        ));
    };
    let count = parts[0].1;
    if let Some((k, n)) = parts.iter().find(|(_, n)| *n != count) {
        return Err(ResultsError::Shards(format!(
            "shard {k}/{n} is of another partition than {}/{count}",
            parts[0].0
        )));
    }
    let mut seen = vec![false; count as usize];
    for (k, n) in &parts {
        match seen.get_mut(k.wrapping_sub(1) as usize) {
            Some(s) if !*s => *s = true,
            Some(_) => return Err(ResultsError::Shards(format!("shard {k}/{n} appears twice"))),
            None => {
                return Err(ResultsError::Shards(format!(
                    "shard {k}/{n} is out of range"
                )))
            }
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen[*k as usize - 1])
        .map(|k| format!("{k}/{count}"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ResultsError::Shards(format!(
            "missing shard(s) {} (every shard of a partition must be merged)",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::verdict::sample_case as case;

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

    #[test]
    fn a_partition_merges_only_whole() {
        let shard = |p: &str, id: &str| ResultsFile::new(Some(p.into()), vec![case(id)]);
        let whole = |id: &str| ResultsFile::new(None, vec![case(id)]);
        let err = |shards| match merge(shards) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("merged"),
        };
        assert!(err(vec![shard("1/3", "a"), shard("2/3", "b")]).contains("missing shard(s) 3/3"));
        assert!(err(vec![shard("1/2", "a"), shard("1/2", "b")]).contains("appears twice"));
        assert!(err(vec![shard("1/2", "a"), shard("2/3", "b")]).contains("another partition"));
        assert!(err(vec![shard("1/2", "a"), whole("b")]).contains("whole runs"));
        assert!(err(vec![shard("3/2", "a")]).contains("out of range"));
        assert_eq!(
            merge(vec![shard("2/2", "b"), shard("1/2", "a")])
                .unwrap()
                .cases
                .len(),
            2
        );
        assert_eq!(merge(vec![whole("b"), whole("a")]).unwrap().cases.len(), 2);
    }
}
