//! The files of one run's reports, checked before the run and written after it: the run
//! log, JUnit, the JSON results, the latency table and its histograms, and the HTML page.
//! Every file goes through [`common::fs::write_atomic`] (special files are never replaced),
//! and every failure comes back with its path: a report that could not be written is never
//! silent.

use crate::cases::{Cases, Tally};
use crate::html::{HtmlExtras, HtmlInput};
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
    /// The self-contained HTML report.
    pub html: PathBuf,
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
            html: folder.join("report.html"),
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
        for file in [
            &self.log,
            &self.junit,
            &self.json,
            &self.latency_table,
            &self.html,
        ] {
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

    /// Writes JUnit, JSON, the latency table, the histograms and the HTML report of `cases`,
    /// reading them one at a time; tries every file. Returns the tally and the latency table
    /// for the console, and every failure with its path.
    pub fn write(&self, cases: &dyn Cases, partition: Option<&str>, stamp: &RunStamp) -> Written {
        self.write_with(cases, partition, stamp, &HtmlExtras::default())
    }

    /// [`ReportPaths::write`], with what the HTML report shows beyond the cases (a plan's
    /// requirements, the device, an accuracy section).
    pub fn write_with(
        &self,
        cases: &dyn Cases,
        partition: Option<&str>,
        stamp: &RunStamp,
        extras: &HtmlExtras<'_>,
    ) -> Written {
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
        if let Err(e) = self.write_html(cases, partition, stamp, &latency, extras) {
            failures.push(WriteFailure::new(&self.html, e));
        }
        Written {
            tally,
            latency,
            failures,
        }
    }

    /// The HTML report: the run's identity (with the caller's rows), then the page of
    /// [`crate::html::render`].
    fn write_html(
        &self,
        cases: &dyn Cases,
        partition: Option<&str>,
        stamp: &RunStamp,
        latency: &[LatencyRow],
        extras: &HtmlExtras<'_>,
    ) -> io::Result<()> {
        // Whole seconds: a person reads these.
        let rfc3339 = |t: time::OffsetDateTime| {
            t.replace_nanosecond(0)
                .unwrap_or(t)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let base = vec![
            (
                "tool".to_owned(),
                format!("myna-hil {}", env!("CARGO_PKG_VERSION")),
            ),
            (
                "partition".to_owned(),
                partition.map_or_else(|| "whole run".to_owned(), |p| format!("shard {p}")),
            ),
            ("host".to_owned(), stamp.hostname.clone()),
            ("started".to_owned(), rfc3339(stamp.started)),
            (
                "report written".to_owned(),
                rfc3339(time::OffsetDateTime::now_utc()),
            ),
        ];
        let title = extras.title.clone().unwrap_or_else(|| match partition {
            Some(p) => format!("myna-hil report (shard {p})"),
            None => "myna-hil report".to_owned(),
        });
        let html = crate::html::render(&HtmlInput {
            title,
            identity: crate::html::merge_identity(base, &extras.identity),
            cases,
            latency,
            requirements: extras.requirements.as_deref(),
            accuracy: extras.accuracy,
        })
        .map_err(io::Error::other)?;
        common::fs::write_atomic(&self.html, html.as_bytes())
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
