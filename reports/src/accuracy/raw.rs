//! The raw comparison-score file: one CSV row per comparison, so every number in a report can be
//! recomputed (by [`super::summarise`] or by an independent tool such as
//! `reports/reference/check_metrics.py`).
//!
//! ```text
//! kind,subject_a,image_a,subject_b,image_b,score
//! genuine,Aaron_Peirsol,0001,Aaron_Peirsol,0002,0.71234
//! impostor,Aaron_Peirsol,0001,Abdullah,0003,0.0412
//! ```
//!
//! - `kind`: `genuine` (both samples of one subject) or `impostor` (two different subjects);
//! - `subject_*`, `image_*`: free text identifying the two samples (RFC 4180 quoting when needed);
//! - `score`: the similarity (higher = more alike), a finite decimal number, written in the
//!   shortest form that reads back to the same `f64`.
//!
//! The header is required and must be exactly this one. Attempts that failed to acquire a face
//! produce no comparison and so no row: they are counted in the summary's FTA rate.

use common::fs::write_atomic;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The header line of the raw score file.
pub const HEADER: [&str; 6] = [
    "kind",
    "subject_a",
    "image_a",
    "subject_b",
    "image_b",
    "score",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComparisonKind {
    Genuine,
    Impostor,
}

/// One comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub kind: ComparisonKind,
    pub subject_a: String,
    pub image_a: String,
    pub subject_b: String,
    pub image_b: String,
    pub score: f64,
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

fn check(record: &ScoreRecord, line: u64) -> Result<(), RawScoresError> {
    let invalid = |message: String| Err(RawScoresError::Invalid { line, message });
    if !record.score.is_finite() {
        return invalid(format!("score {} is not a finite number", record.score));
    }
    match record.kind {
        ComparisonKind::Genuine if record.subject_a != record.subject_b => invalid(format!(
            "genuine comparison of two subjects ({} and {})",
            record.subject_a, record.subject_b
        )),
        ComparisonKind::Impostor if record.subject_a == record.subject_b => invalid(format!(
            "impostor comparison of one subject ({})",
            record.subject_a
        )),
        _ => Ok(()),
    }
}

/// Writes the header and `records` as CSV (rows are checked as the reader would).
pub fn write_raw_scores_to<W: Write>(
    out: W,
    records: &[ScoreRecord],
) -> Result<(), RawScoresError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    w.write_record(HEADER)?;
    for (i, r) in records.iter().enumerate() {
        check(r, i as u64 + 2)?;
        w.serialize(r)?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// Writes the raw score file at `path` atomically (temporary file + rename).
pub fn write_raw_scores(path: &Path, records: &[ScoreRecord]) -> Result<(), RawScoresError> {
    let mut buf = Vec::with_capacity(records.len() * 64);
    write_raw_scores_to(&mut buf, records)?;
    write_atomic(path, &buf).map_err(|source| RawScoresError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Reads a raw score file: the exact header, then rows with a known kind, consistent subjects
/// and finite scores.
pub fn read_raw_scores_from<R: Read>(input: R) -> Result<Vec<ScoreRecord>, RawScoresError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let header = r.headers()?.clone();
    if header.iter().ne(HEADER) {
        return Err(RawScoresError::Header {
            found: header.iter().map(str::to_owned).collect(),
            expected: HEADER.join(","),
        });
    }
    let mut out = Vec::new();
    for row in r.deserialize::<ScoreRecord>() {
        let rec = row?;
        check(&rec, out.len() as u64 + 2)?;
        out.push(rec);
    }
    Ok(out)
}

/// Reads the raw score file at `path`.
pub fn read_raw_scores(path: &Path) -> Result<Vec<ScoreRecord>, RawScoresError> {
    let f = std::fs::File::open(path).map_err(|source| RawScoresError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_raw_scores_from(std::io::BufReader::new(f))
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
        assert!(text.starts_with("kind,subject_a,image_a,subject_b,image_b,score\n"));
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
