//! The raw comparison-score file: one CSV row per comparison attempted, so every number in a
//! report can be recomputed (by [`super::summarise`] or by an independent tool such as
//! `reports/reference/check_metrics.py`).
//!
//! ```text
//! kind,subject_a,image_a,subject_b,image_b,score,failure
//! genuine,Aaron_Peirsol,0001,Aaron_Peirsol,0002,0.71234,
//! impostor,Aaron_Peirsol,0001,Abdullah,0003,0.0412,
//! genuine,Abel_Pacheco,0001,Abel_Pacheco,0004,,probe: NoFace
//! ```
//!
//! - `kind`: `genuine` (both samples of one subject) or `impostor` (two different subjects);
//! - `subject_*`, `image_*`: free text identifying the two samples (RFC 4180 quoting when needed);
//! - `score`: the similarity (higher = more alike), a finite decimal number, written in the
//!   shortest form that reads back to the same `f64`; empty when the comparison could not be
//!   made;
//! - `failure`: empty for a comparison made; otherwise why it could not be (free text, not
//!   empty, e.g. `enrolment: NoFace` or `probe: LowQuality`). Such a *lost* comparison counts in
//!   the generalised rates (FAR, FRR) and is left out of the per-comparison ones (FMR, FNMR).
//!
//! The header is required and must be exactly this one, or the six columns without `failure`
//! of files written before lost comparisons were recorded (every row of those was made).
//! [`read_raw_rows`] reads every row; [`read_raw_scores`] only files without lost rows.

use common::fs::write_atomic;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The header line of the raw score file.
pub const HEADER: [&str; 7] = [
    "kind",
    "subject_a",
    "image_a",
    "subject_b",
    "image_b",
    "score",
    "failure",
];

/// The header of files written before lost comparisons were recorded (still read): the
/// same without its last column, `failure`.
pub const HEADER_V1: &[&str] = HEADER.split_at(HEADER.len() - 1).0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComparisonKind {
    Genuine,
    Impostor,
}

/// One comparison that was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub kind: ComparisonKind,
    pub subject_a: String,
    pub image_a: String,
    pub subject_b: String,
    pub image_b: String,
    pub score: f64,
}

/// One comparison that could not be made: a sample of the pair failed to enrol or acquire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostRecord {
    pub kind: ComparisonKind,
    pub subject_a: String,
    pub image_a: String,
    pub subject_b: String,
    pub image_b: String,
    /// Why (not empty), e.g. `probe: NoFace`.
    pub failure: String,
}

/// One row of the raw file.
#[derive(Clone, Debug, PartialEq)]
pub enum RawRow {
    Scored(ScoreRecord),
    Lost(LostRecord),
}

impl RawRow {
    pub fn kind(&self) -> ComparisonKind {
        match self {
            RawRow::Scored(r) => r.kind,
            RawRow::Lost(r) => r.kind,
        }
    }

    /// The score; `None` for a lost comparison.
    pub fn score(&self) -> Option<f64> {
        match self {
            RawRow::Scored(r) => Some(r.score),
            RawRow::Lost(_) => None,
        }
    }
}

impl From<ScoreRecord> for RawRow {
    fn from(r: ScoreRecord) -> RawRow {
        RawRow::Scored(r)
    }
}

impl From<LostRecord> for RawRow {
    fn from(r: LostRecord) -> RawRow {
        RawRow::Lost(r)
    }
}

/// A row as it is in the file (both kinds flattened: `None` is an empty field).
#[derive(Serialize, Deserialize)]
struct CsvRow {
    kind: ComparisonKind,
    subject_a: String,
    image_a: String,
    subject_b: String,
    image_b: String,
    score: Option<f64>,
    #[serde(default)]
    failure: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RawScoresError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("raw scores: {0}")]
    Csv(#[from] csv::Error),
    #[error("raw scores: header is {found:?}, expected {expected}")]
    Header {
        found: Vec<String>,
        expected: String,
    },
    #[error("raw scores: line {line}: {message}")]
    Invalid { line: u64, message: String },
}

fn check_subjects(kind: ComparisonKind, a: &str, b: &str) -> Result<(), String> {
    match kind {
        ComparisonKind::Genuine if a != b => {
            Err(format!("genuine comparison of two subjects ({a} and {b})"))
        }
        ComparisonKind::Impostor if a == b => {
            Err(format!("impostor comparison of one subject ({a})"))
        }
        _ => Ok(()),
    }
}

fn check(row: &RawRow) -> Result<(), String> {
    match row {
        RawRow::Scored(r) => {
            if !r.score.is_finite() {
                return Err(format!("score {} is not a finite number", r.score));
            }
            check_subjects(r.kind, &r.subject_a, &r.subject_b)
        }
        RawRow::Lost(r) => {
            if r.failure.trim().is_empty() {
                return Err("a lost comparison needs a failure".into());
            }
            check_subjects(r.kind, &r.subject_a, &r.subject_b)
        }
    }
}

fn to_csv(row: &RawRow) -> CsvRow {
    match row.clone() {
        RawRow::Scored(r) => CsvRow {
            kind: r.kind,
            subject_a: r.subject_a,
            image_a: r.image_a,
            subject_b: r.subject_b,
            image_b: r.image_b,
            score: Some(r.score),
            failure: None,
        },
        RawRow::Lost(r) => CsvRow {
            kind: r.kind,
            subject_a: r.subject_a,
            image_a: r.image_a,
            subject_b: r.subject_b,
            image_b: r.image_b,
            score: None,
            failure: Some(r.failure),
        },
    }
}

fn from_csv(r: CsvRow) -> Result<RawRow, String> {
    let failure = r.failure.filter(|f| !f.trim().is_empty());
    Ok(match (r.score, failure) {
        (Some(score), None) => RawRow::Scored(ScoreRecord {
            kind: r.kind,
            subject_a: r.subject_a,
            image_a: r.image_a,
            subject_b: r.subject_b,
            image_b: r.image_b,
            score,
        }),
        (None, Some(failure)) => RawRow::Lost(LostRecord {
            kind: r.kind,
            subject_a: r.subject_a,
            image_a: r.image_a,
            subject_b: r.subject_b,
            image_b: r.image_b,
            failure,
        }),
        (Some(s), Some(f)) => return Err(format!("both a score ({s}) and a failure ({f})")),
        (None, None) => return Err("neither a score nor a failure".into()),
    })
}

/// Writes the header and `rows` as CSV (rows are checked as the reader would).
pub fn write_raw_rows_to<W: Write>(out: W, rows: &[RawRow]) -> Result<(), RawScoresError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    w.write_record(HEADER)?;
    for (i, r) in rows.iter().enumerate() {
        check(r).map_err(|message| RawScoresError::Invalid {
            line: i as u64 + 2,
            message,
        })?;
        w.serialize(to_csv(r))?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Writes the header and `records` (comparisons made) as CSV.
pub fn write_raw_scores_to<W: Write>(
    out: W,
    records: &[ScoreRecord],
) -> Result<(), RawScoresError> {
    let rows: Vec<RawRow> = records.iter().cloned().map(RawRow::Scored).collect();
    write_raw_rows_to(out, &rows)
}

fn write_file(path: &Path, buf: &[u8]) -> Result<(), RawScoresError> {
    write_atomic(path, buf).map_err(|source| RawScoresError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes the raw file of `rows` at `path` atomically (temporary file + rename).
pub fn write_raw_rows(path: &Path, rows: &[RawRow]) -> Result<(), RawScoresError> {
    let mut buf = Vec::with_capacity(rows.len() * 64);
    write_raw_rows_to(&mut buf, rows)?;
    write_file(path, &buf)
}

/// Writes the raw file of `records` (comparisons made) at `path` atomically.
pub fn write_raw_scores(path: &Path, records: &[ScoreRecord]) -> Result<(), RawScoresError> {
    let mut buf = Vec::with_capacity(records.len() * 64);
    write_raw_scores_to(&mut buf, records)?;
    write_file(path, &buf)
}

/// Reads a raw file: the exact header (either version), then rows with a known kind,
/// consistent subjects, and a finite score or a failure.
pub fn read_raw_rows_from<R: Read>(input: R) -> Result<Vec<RawRow>, RawScoresError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let header = r.headers()?.clone();
    if header.iter().ne(HEADER) && header.iter().ne(HEADER_V1.iter().copied()) {
        return Err(RawScoresError::Header {
            found: header.iter().map(str::to_owned).collect(),
            expected: HEADER.join(","),
        });
    }
    let mut out = Vec::new();
    for row in r.deserialize::<CsvRow>() {
        let line = out.len() as u64 + 2;
        let invalid = |message| RawScoresError::Invalid { line, message };
        let row = from_csv(row?).map_err(invalid)?;
        check(&row).map_err(invalid)?;
        out.push(row);
    }
    Ok(out)
}

/// Reads a raw file whose every comparison was made. A lost row is an error (naming its
/// line): leaving it out would silently drop a failure; read such files with
/// [`read_raw_rows_from`].
pub fn read_raw_scores_from<R: Read>(input: R) -> Result<Vec<ScoreRecord>, RawScoresError> {
    read_raw_rows_from(input)?
        .into_iter()
        .enumerate()
        .map(|(i, row)| match row {
            RawRow::Scored(r) => Ok(r),
            RawRow::Lost(r) => Err(RawScoresError::Invalid {
                line: i as u64 + 2,
                message: format!(
                    "a comparison that was not made ({}): read this file with read_raw_rows",
                    r.failure
                ),
            }),
        })
        .collect()
}

fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>, RawScoresError> {
    let f = std::fs::File::open(path).map_err(|source| RawScoresError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(std::io::BufReader::new(f))
}

/// Reads every row of the raw file at `path`.
pub fn read_raw_rows(path: &Path) -> Result<Vec<RawRow>, RawScoresError> {
    read_raw_rows_from(open(path)?)
}

/// Reads the raw file at `path`, which must hold no lost row ([`read_raw_scores_from`]).
pub fn read_raw_scores(path: &Path) -> Result<Vec<ScoreRecord>, RawScoresError> {
    read_raw_scores_from(open(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: ComparisonKind, a: &str, b: &str, score: f64) -> ScoreRecord {
        ScoreRecord {
            kind,
            subject_a: a.into(),
            image_a: format!("{a}/0001.jpg"),
            subject_b: b.into(),
            image_b: format!("{b}/0002.jpg"),
            score,
        }
    }

    #[test]
    fn round_trip_is_exact_and_quotes_commas() {
        let records = vec![
            rec(
                ComparisonKind::Genuine,
                "Aaron_Peirsol",
                "Aaron_Peirsol",
                0.1 + 0.2,
            ),
            rec(
                ComparisonKind::Impostor,
                "Smith, \"J\"",
                "Doe",
                -1.234_567_890_123e-7,
            ),
            rec(ComparisonKind::Impostor, "a", "b", 0.0),
        ];
        let mut buf = Vec::new();
        write_raw_scores_to(&mut buf, &records).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(text.starts_with("kind,subject_a,image_a,subject_b,image_b,score,failure\n"));
        assert!(
            text.contains("genuine,Aaron_Peirsol,Aaron_Peirsol/0001.jpg"),
            "{text}"
        );
        let back = read_raw_scores_from(&buf[..]).unwrap();
        assert_eq!(back, records);
        assert_eq!(back[0].score.to_bits(), (0.1f64 + 0.2).to_bits());
    }

    #[test]
    fn bad_rows_name_their_line() {
        let text = "kind,subject_a,image_a,subject_b,image_b,score\n\
                    genuine,a,1,a,2,0.5\n\
                    impostor,a,1,b,2,NaN\n";
        let e = read_raw_scores_from(text.as_bytes()).unwrap_err();
        assert!(matches!(e, RawScoresError::Invalid { line: 3, .. }), "{e}");
        let text = "kind,subject_a,image_a,subject_b,image_b,score\ngenuine,a,1,b,2,0.5\n";
        assert!(read_raw_scores_from(text.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("line 2: genuine comparison of two subjects"));
        let text = "kind,subject_a,image_a,subject_b,image_b,score\nmaybe,a,1,b,2,0.5\n";
        assert!(matches!(
            read_raw_scores_from(text.as_bytes()),
            Err(RawScoresError::Csv(_))
        ));
        let text = "kind,score\ngenuine,0.5\n";
        assert!(matches!(
            read_raw_scores_from(text.as_bytes()),
            Err(RawScoresError::Header { .. })
        ));
        let mut buf = Vec::new();
        let bad = [rec(ComparisonKind::Impostor, "a", "a", 0.1)];
        assert!(write_raw_scores_to(&mut buf, &bad).is_err());
    }

    fn lost(kind: ComparisonKind, a: &str, b: &str, failure: &str) -> RawRow {
        RawRow::Lost(LostRecord {
            kind,
            subject_a: a.into(),
            image_a: format!("{a}/0001.jpg"),
            subject_b: b.into(),
            image_b: format!("{b}/0003.jpg"),
            failure: failure.into(),
        })
    }

    #[test]
    fn lost_rows_round_trip_and_old_files_still_read() {
        use ComparisonKind::{Genuine, Impostor};
        let rows = vec![
            RawRow::Scored(rec(Genuine, "x", "x", 0.8)),
            lost(Genuine, "x", "x", "probe: NoFace"),
            lost(Impostor, "y", "x", "enrolment: \"Low, quality\""),
            RawRow::Scored(rec(Impostor, "y", "x", 0.1)),
        ];
        let mut buf = Vec::new();
        write_raw_rows_to(&mut buf, &rows).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert!(
            text.contains("\ngenuine,x,x/0001.jpg,x,x/0002.jpg,0.8,\n"),
            "{text}"
        );
        assert!(
            text.contains("\ngenuine,x,x/0001.jpg,x,x/0003.jpg,,probe: NoFace\n"),
            "{text}"
        );
        assert_eq!(read_raw_rows_from(&buf[..]).unwrap(), rows);
        // The old reader refuses to drop a lost row.
        let e = read_raw_scores_from(&buf[..]).unwrap_err();
        assert!(
            matches!(&e, RawScoresError::Invalid { line: 3, message } if message.contains("read_raw_rows")),
            "{e}"
        );
        let scores = super::super::Scores::from_rows(&rows);
        assert_eq!(
            (scores.genuine.clone(), scores.impostor.clone()),
            (vec![0.8], vec![0.1])
        );
        let l = scores.lost.unwrap();
        assert_eq!(
            (l.genuine_subjects, l.impostor_subjects),
            (vec![0], vec![1])
        );
        let subj = scores.subjects.unwrap();
        assert_eq!((subj.genuine, subj.impostor), (vec![0], vec![1]));

        // A file of the six-column format reads as before: every row made.
        let old = "kind,subject_a,image_a,subject_b,image_b,score\n\
                   genuine,a,1,a,2,0.5\n\
                   impostor,a,1,b,2,0.25\n";
        let back = read_raw_rows_from(old.as_bytes()).unwrap();
        assert_eq!(
            back.iter().map(RawRow::score).collect::<Vec<_>>(),
            [Some(0.5), Some(0.25)]
        );
        assert_eq!(read_raw_scores_from(old.as_bytes()).unwrap().len(), 2);
        assert!(super::super::Scores::from_rows(&back).lost.unwrap() == Default::default());
        // …but an empty score there is no lost row: nothing says why.
        let no_score = "kind,subject_a,image_a,subject_b,image_b,score\ngenuine,a,1,a,2,\n";
        let e = read_raw_rows_from(no_score.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2: neither a score nor a failure"),
            "{e}"
        );

        let h = "kind,subject_a,image_a,subject_b,image_b,score,failure\n";
        let both = format!("{h}genuine,a,1,a,2,0.5,probe: NoFace\n");
        let e = read_raw_rows_from(both.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("line 2: both a score"), "{e}");
        let bad_subjects = format!("{h}impostor,a,1,a,2,,probe: NoFace\n");
        assert!(read_raw_rows_from(bad_subjects.as_bytes()).is_err());
        let mut buf = Vec::new();
        assert!(write_raw_rows_to(&mut buf, &[lost(Genuine, "a", "a", " ")]).is_err());
    }

    #[test]
    fn file_round_trip_and_scores() {
        let dir = std::env::temp_dir().join(format!("reports-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scores.csv");
        let records = vec![
            rec(ComparisonKind::Genuine, "x", "x", 0.8),
            rec(ComparisonKind::Impostor, "x", "y", 0.1),
            rec(ComparisonKind::Impostor, "y", "x", 0.2),
        ];
        write_raw_scores(&path, &records).unwrap();
        let back = read_raw_scores(&path).unwrap();
        let scores = super::super::Scores::from_records(&back);
        assert_eq!(scores.genuine, vec![0.8]);
        assert_eq!(scores.impostor, vec![0.1, 0.2]);
        let subj = scores.subjects.unwrap();
        assert_eq!(subj.genuine, vec![0]);
        assert_eq!(subj.impostor, vec![0, 1]);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("scores.csv")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
