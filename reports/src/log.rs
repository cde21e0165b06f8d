//! The run log: the one record of a run while it runs. JSON lines, appended as each case
//! finishes; JUnit, JSON and the latency table are all written from it, at the end, on an
//! interrupt, or later by `myna-hil report rebuild`.
//!
//! Invariant: a case is in the log (whole, on its own line) before anything says it
//! finished, so a run killed at any moment (SIGKILL, power loss after the last sync) leaves
//! every finished case readable. A torn last line (a kill mid-write) is dropped, never read
//! as a case. Appending costs the same for the first case and the millionth.
//!
//! ```text
//! {"run":{"log_format":1,"tool":"myna-hil 0.1.0","partition":"1/3","started":…,"selected":[…]}}
//! {"case":{"seq":4,"result":{…}}}
//! {"end":{"interrupted":false}}
//! ```

use crate::cases::Cases;
use crate::results::ResultsFile;
use crate::verdict::{CaseResult, Verdict};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Version of the log's layout; bumped on incompatible changes.
pub const LOG_FORMAT: u32 = 1;

/// The log's name in a run's output folder.
pub const LOG_FILE: &str = "results.jsonl";

/// How often appended cases are forced to disk (a kill of the process loses nothing
/// written; this bounds what a power loss can).
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The first line: what the run was asked to do.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunHeader {
    pub log_format: u32,
    pub tool: String,
    /// Which shard this is, e.g. "1/3"; `None` for a whole run.
    pub partition: Option<String>,
    /// When the run started, RFC 3339 UTC.
    pub started: String,
    pub hostname: String,
    /// Every selected case, in run order: a case without a result line did not finish.
    pub selected: Vec<Planned>,
}

/// A selected case, as the reports name it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Planned {
    pub id: String,
    pub group: String,
    pub name: String,
}

impl RunHeader {
    /// When and where the run ran, for JUnit (now, if `started` cannot be read).
    pub fn stamp(&self) -> crate::junit::RunStamp {
        crate::junit::RunStamp {
            started: time::OffsetDateTime::parse(
                &self.started,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
            hostname: self.hostname.clone(),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Line {
    Run(RunHeader),
    Case { seq: usize, result: CaseResult },
    End { interrupted: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path}:{line}: not a myna-hil run log: {source}")]
    Parse {
        path: String,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{path}: the first line is not a run header")]
    NoHeader { path: String },
    #[error("{path} has log format {found}, this myna-hil reads {LOG_FORMAT}")]
    Version { path: String, found: u32 },
    #[error("{path}:{line}: case {seq} is not one of the {selected} selected cases")]
    UnknownCase {
        path: String,
        line: usize,
        seq: usize,
        selected: usize,
    },
}

/// Appends to a run log. Each case is one `write` of one whole line.
pub struct LogWriter {
    file: File,
    last_sync: Instant,
}

impl LogWriter {
    /// Starts the log in `file` (already opened for writing, empty): writes the header.
    pub fn start(file: File, header: &RunHeader) -> io::Result<Self> {
        let mut w = LogWriter {
            file,
            last_sync: Instant::now(),
        };
        w.line(&Line::Run(header.clone()))?;
        w.file.sync_data()?;
        Ok(w)
    }

    /// Appends the result of the `seq`-th selected case.
    pub fn append(&mut self, seq: usize, result: &CaseResult) -> io::Result<()> {
        self.line(&Line::Case {
            seq,
            result: result.clone(),
        })?;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.file.sync_data()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Ends the log and forces it to disk.
    pub fn finish(mut self, interrupted: bool) -> io::Result<()> {
        self.line(&Line::End { interrupted })?;
        self.file.sync_all()
    }

    fn line(&mut self, line: &Line) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.file.write_all(&bytes)
    }
}

/// A log read back: its header, and where each finished case's line is, so the cases are
/// read one at a time (the log of 100,000 cases is never held in memory).
#[derive(Debug)]
pub struct RunLog {
    pub header: RunHeader,
    /// `None`: the log has no end line (the run was killed, or is still running).
    pub interrupted: Option<bool>,
    /// Byte range of each selected case's line, by its position in `header.selected`.
    lines: Vec<Option<(u64, usize)>>,
    file: File,
    path: String,
}

/// Why a selected case has no result.
pub const NOT_RUN: &str = "not run: the run ended before this case finished (interrupted or \
     killed); `myna-hil report rebuild` rewrites the reports from the run log";

impl RunLog {
    pub fn read(path: &Path) -> Result<Self, LogError> {
        let name = || path.display().to_string();
        let file = File::open(path).map_err(|source| LogError::Read {
            path: name(),
            source,
        })?;
        let mut reader = io::BufReader::new(file.try_clone().map_err(|source| LogError::Read {
            path: name(),
            source,
        })?);
        let mut header: Option<RunHeader> = None;
        let mut lines = Vec::new();
        let mut interrupted = None;
        let mut buf = Vec::new();
        let mut number = 0;
        let mut offset = 0u64;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|source| LogError::Read {
                    path: name(),
                    source,
                })?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break; // the end, or a line torn by a kill: never half a case
            }
            number += 1;
            let at = offset;
            offset += n as u64;
            // Only the line's kind and seq are needed now: the case is parsed when read.
            let line: Peek = serde_json::from_slice(&buf).map_err(|source| LogError::Parse {
                path: name(),
                line: number,
                source,
            })?;
            match (line, &header) {
                (Peek::Run(h), None) => {
                    if h.log_format != LOG_FORMAT {
                        return Err(LogError::Version {
                            path: name(),
                            found: h.log_format,
                        });
                    }
                    lines = vec![None; h.selected.len()];
                    header = Some(h);
                }
                (_, None) | (Peek::Run(_), Some(_)) => {
                    return Err(LogError::NoHeader { path: name() })
                }
                (Peek::Case { seq }, Some(_)) => match lines.get_mut(seq) {
                    Some(slot) => *slot = Some((at, n)),
                    None => {
                        return Err(LogError::UnknownCase {
                            path: name(),
                            line: number,
                            seq,
                            selected: lines.len(),
                        })
                    }
                },
                (Peek::End { interrupted: i }, Some(_)) => interrupted = Some(i),
            }
        }
        let header = header.ok_or_else(|| LogError::NoHeader { path: name() })?;
        Ok(RunLog {
            header,
            interrupted,
            lines,
            file: reader.into_inner(),
            path: name(),
        })
    }

    /// How many selected cases finished.
    pub fn finished(&self) -> usize {
        self.lines.iter().filter(|r| r.is_some()).count()
    }

    /// Every case in memory (for merging shards).
    pub fn into_results(self) -> Result<ResultsFile, LogError> {
        let cases = (0..self.count())
            .map(|i| self.case(i).map(Cow::into_owned))
            .collect::<io::Result<Vec<_>>>()
            .map_err(|source| LogError::Read {
                path: self.path.clone(),
                source,
            })?;
        Ok(ResultsFile::new(self.header.partition, cases))
    }
}

impl Cases for RunLog {
    fn count(&self) -> usize {
        self.header.selected.len()
    }

    /// The case's own line, read again; one that did not finish is an `error` saying so,
    /// so an interrupted run is never green.
    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseResult>> {
        use std::os::unix::fs::FileExt;
        let Some((at, len)) = self.lines[i] else {
            let planned = &self.header.selected[i];
            return Ok(Cow::Owned(CaseResult {
                id: planned.id.clone(),
                group: planned.group.clone(),
                name: planned.name.clone(),
                verdict: Verdict::Error,
                reason: Some(NOT_RUN.to_owned()),
                duration: Duration::ZERO,
                measurements: Vec::new(),
                evidence: String::new(),
                operator: Vec::new(),
            }));
        };
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, at)?;
        match serde_json::from_slice(&buf).map_err(io::Error::other)? {
            Line::Case { result, .. } => Ok(Cow::Owned(result)),
            _ => Err(io::Error::other(format!(
                "{}: the line of case {i} changed since it was read",
                self.path
            ))),
        }
    }
}

/// A log line with only what [`RunLog::read`] needs of it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Peek {
    Run(RunHeader),
    Case { seq: usize },
    End { interrupted: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::verdict::sample_case as case;

    fn header(ids: &[&str]) -> RunHeader {
        RunHeader {
            log_format: LOG_FORMAT,
            tool: "myna-hil test".into(),
            partition: Some("2/3".into()),
            started: "2026-12-02T00:00:00Z".into(),
            hostname: "bench".into(),
            selected: ids
                .iter()
                .map(|id| Planned {
                    id: (*id).into(),
                    group: "g".into(),
                    name: (*id).into(),
                })
                .collect(),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("reports-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(LOG_FILE)
    }

    #[test]
    fn finished_cases_in_any_order_come_back_in_run_order() {
        let path = scratch("order");
        let mut w =
            LogWriter::start(File::create(&path).unwrap(), &header(&["a", "b", "c"])).unwrap();
        w.append(2, &case("c")).unwrap();
        w.append(0, &case("a")).unwrap();
        w.append(1, &case("b")).unwrap();
        w.finish(false).unwrap();
        let log = RunLog::read(&path).unwrap();
        assert_eq!(log.interrupted, Some(false));
        let file = log.into_results().unwrap();
        let ids: Vec<&str> = file.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(file.partition.as_deref(), Some("2/3"));
        assert_eq!(file.latency[0].count, 3);
    }

    #[test]
    fn a_killed_run_keeps_its_cases_and_the_rest_are_errors() {
        let path = scratch("killed");
        let mut w =
            LogWriter::start(File::create(&path).unwrap(), &header(&["a", "b", "c"])).unwrap();
        w.append(1, &case("b")).unwrap();
        drop(w); // killed: no end line
                 // …and a line torn mid-write.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"case":{"seq":0,"result":{"id":"a","#)
            .unwrap();
        let log = RunLog::read(&path).unwrap();
        assert_eq!(log.interrupted, None);
        assert_eq!(log.finished(), 1);
        let file = log.into_results().unwrap();
        assert_eq!(file.cases[1].verdict, Verdict::Pass);
        for i in [0, 2] {
            assert_eq!(file.cases[i].verdict, Verdict::Error);
            assert_eq!(file.cases[i].reason.as_deref(), Some(NOT_RUN));
        }
    }

    #[test]
    fn a_foreign_or_broken_file_is_refused() {
        let path = scratch("foreign");
        std::fs::write(&path, "{\"case\":{}}\n").unwrap();
        assert!(matches!(RunLog::read(&path), Err(LogError::Parse { .. })));
        std::fs::write(&path, "{\"end\":{\"interrupted\":true}}\n").unwrap();
        assert!(matches!(
            RunLog::read(&path),
            Err(LogError::NoHeader { .. })
        ));
        let mut w = LogWriter::start(File::create(&path).unwrap(), &header(&["a"])).unwrap();
        w.append(5, &case("x")).unwrap();
        assert!(matches!(
            RunLog::read(&path),
            Err(LogError::UnknownCase { seq: 5, .. })
        ));
    }
}
