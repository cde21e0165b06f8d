//! The files of one run's reports, checked before the run and written after it: the run
//! log, JUnit, the JSON results, the latency table and its histograms. Every file goes
//! through [`common::fs::write_atomic`] (special files are never replaced), and every failure
//! comes back with its path: a report that could not be written is never silent.

use crate::cases::{Cases, Tally};
use crate::junit::RunStamp;
use crate::latency::{LatencyRow, Samples};
use crate::log::{LogError, RunLog, LOG_FILE};
use crate::results::{ResultsError, ResultsFile};
use std::io;
use std::path::{Path, PathBuf};

/// Where a run's reports go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportPaths {
    pub folder: PathBuf,
    pub log: PathBuf,
    pub junit: PathBuf,
    pub json: PathBuf,
    pub latency_table: PathBuf,
    pub latency_plots: PathBuf,
}

/// A report path that cannot be written, with the OS's reason.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteFailure {
    pub path: String,
    pub source: io::Error,
}

impl WriteFailure {
    fn new(path: &Path, source: io::Error) -> Self {
        WriteFailure {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Why a run's results could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Reads a results file, or a run log (`.jsonl`: its cases, the unfinished ones as errors).
pub fn read_results(path: &Path) -> Result<ResultsFile, ReadError> {
    if path.extension().is_some_and(|e| e == "jsonl") {
        Ok(RunLog::read(path)?.into_results()?)
    } else {
        Ok(ResultsFile::read(path)?)
    }
}

impl ReportPaths {
    /// The files in `folder`, JUnit and JSON elsewhere when asked.
    pub fn in_folder(folder: &Path, junit: Option<&Path>, json: Option<&Path>) -> Self {
        ReportPaths {
            folder: folder.to_path_buf(),
            log: folder.join(LOG_FILE),
            junit: junit.map_or_else(|| folder.join("junit.xml"), Path::to_path_buf),
            json: json.map_or_else(|| folder.join("results.json"), Path::to_path_buf),
            latency_table: folder.join("latency.md"),
            latency_plots: folder.join("latency"),
        }
    }

    /// Creates the folders and checks that every file can be written, before any work:
    /// a folder where a file belongs, a block device, a missing or read-only folder all
    /// fail here, with the path.
    pub fn prepare(&self) -> Result<(), WriteFailure> {
        for folder in [&self.folder, &self.latency_plots] {
            std::fs::create_dir_all(folder).map_err(|e| WriteFailure::new(folder, e))?;
            common::fs::probe_folder(folder).map_err(|e| WriteFailure::new(folder, e))?;
        }
        for file in [&self.log, &self.junit, &self.json, &self.latency_table] {
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| WriteFailure::new(parent, e))?;
            }
            match common::fs::output_target(file).map_err(|e| WriteFailure::new(file, e))? {
                common::fs::Output::Replace(target) => {
                    let folder = target.parent().unwrap_or(Path::new("."));
                    common::fs::probe_folder(folder).map_err(|e| WriteFailure::new(file, e))?;
                }
                common::fs::Output::InPlace(_) if file == &self.log => {
                    return Err(WriteFailure::new(
                        file,
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "the run log must be a regular file (it is read back)",
                        ),
                    ))
                }
                common::fs::Output::InPlace(_) => {}
            }
        }
        Ok(())
    }

    /// Writes JUnit, JSON, the latency table and the histograms of `cases`, reading them one
    /// at a time; tries every file. Returns the tally and the latency table for the
    /// console, and every failure with its path.
    pub fn write(&self, cases: &dyn Cases, partition: Option<&str>, stamp: &RunStamp) -> Written {
        let mut failures = Vec::new();
        let mut tally = Tally::default();
        let mut samples = Samples::default();
        // One pass for the numbers; each report then reads the cases again.
        for i in 0..cases.count() {
            match cases.case(i) {
                Ok(c) => {
                    tally.add(c.verdict);
                    samples.add(&c);
                }
                Err(e) => {
                    failures.push(WriteFailure::new(&self.log, e));
                    return Written {
                        tally,
                        latency: Vec::new(),
                        failures,
                    };
                }
            }
        }
        let latency = samples.table();
        if let Err(crate::junit::JunitError::Io { source, .. }) =
            crate::junit::write(&self.junit, cases, stamp)
        {
            failures.push(WriteFailure::new(&self.junit, source));
        }
        if let Err(e) = crate::results::write_results(&self.json, partition, cases, &latency) {
            failures.push(match e {
                ResultsError::Write { source, .. } => WriteFailure::new(&self.json, source),
                other => WriteFailure::new(&self.json, io::Error::other(other.to_string())),
            });
        }
        let table = crate::latency::to_markdown(&latency);
        if let Err(e) = common::fs::write_atomic(&self.latency_table, table.as_bytes()) {
            failures.push(WriteFailure::new(&self.latency_table, e));
        }
        let plotted = std::fs::create_dir_all(&self.latency_plots)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::plots::latency_histograms(&samples.durations(), &self.latency_plots)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = plotted {
            failures.push(WriteFailure::new(&self.latency_plots, io::Error::other(e)));
        }
        Written {
            tally,
            latency,
            failures,
        }
    }
}

/// What [`ReportPaths::write`] did.
#[derive(Debug)]
pub struct Written {
    pub tally: Tally,
    pub latency: Vec<LatencyRow>,
    /// Every report that could not be written.
    pub failures: Vec<WriteFailure>,
}
