//! What a reader shows and does, as a time-stamped log. Events never hold a secret: the
//! keypad layout is logged, the keys pressed are not (together they would be the PIN).

use crate::rules::Route;
use std::fmt;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A screen appeared, e.g. `pin_entry`.
    Screen { name: String },
    /// The digit at each of the ten key positions of the shuffled PIN pad, and the PIN
    /// tries left the pad shows (when the reader knows them).
    KeypadLayout {
        digits: [u8; 10],
        tries_left: Option<u8>,
    },
    /// The patient pressed this many keys (which ones is a secret).
    KeysPressed { count: usize },
    /// Status word of a VERIFY the reader sent.
    VerifyAnswered { sw: u16 },
    /// The card path ended; `failure` says why when it failed.
    CardPath { ok: bool, failure: Option<String> },
    /// One face-matching try: frames seen, the best score, and whether the presentation
    /// looked live (never the face itself).
    FaceAttempt {
        attempt: u8,
        frames: u32,
        best_score: Option<f32>,
        matched: bool,
        presentation: String,
    },
    /// How the face path ended, and the consecutive face failures after it.
    FaceResult {
        result: FaceResult,
        consecutive_failures: u8,
    },
    /// The qualification service answered (or not).
    Qualification { summary: String },
    /// The reader's (or the desk's) final answer.
    Outcome(ObservedOutcome),
    /// Anything worth knowing in a failed case.
    Note { text: String },
}

/// How a face path ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceResult {
    Matched,
    NoMatch,
    AttackRejected,
    /// Locked by earlier consecutive failures; not attempted.
    Locked,
    /// No face path on this card (a smartphone), or the reader could not run it.
    Unavailable,
}

impl FaceResult {
    /// Whether this end compares the camera with the chip's photo (so the reader must have
    /// read it): a match, a non-match or a rejected attack. `locked` and `unavailable` end
    /// the path before any comparison.
    pub fn compares_photo(self) -> bool {
        matches!(
            self,
            FaceResult::Matched | FaceResult::NoMatch | FaceResult::AttackRejected
        )
    }
}

impl fmt::Display for FaceResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaceResult::Matched => "matched",
            FaceResult::NoMatch => "no match",
            FaceResult::AttackRejected => "attack rejected",
            FaceResult::Locked => "locked",
            FaceResult::Unavailable => "unavailable",
        })
    }
}

/// The outcome a reader reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ObservedOutcome {
    pub route: Route,
    pub share_percent: u8,
    pub limit_applied: bool,
    pub qualification_data_only: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Event {
    /// Since the case started.
    #[serde(serialize_with = "millis")]
    pub at: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.as_secs_f64() * 1e3;
        match &self.kind {
            EventKind::Screen { name } => write!(f, "{at:9.3} ms  screen {name}"),
            EventKind::KeypadLayout { digits, tries_left } => {
                let d: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                write!(f, "{at:9.3} ms  keypad layout {d}")?;
                match tries_left {
                    Some(n) => write!(f, " ({n} tries left)"),
                    None => Ok(()),
                }
            }
            EventKind::KeysPressed { count } => write!(f, "{at:9.3} ms  {count} key(s) pressed"),
            EventKind::VerifyAnswered { sw } => write!(f, "{at:9.3} ms  VERIFY answered {sw:04X}"),
            EventKind::CardPath { ok: true, .. } => write!(f, "{at:9.3} ms  card path succeeded"),
            EventKind::CardPath { failure, .. } => write!(
                f,
                "{at:9.3} ms  card path failed: {}",
                failure.as_deref().unwrap_or("?")
            ),
            EventKind::FaceAttempt {
                attempt,
                frames,
                best_score,
                matched,
                presentation,
            } => {
                let score = best_score.map_or("none".into(), |s| format!("{s:.3}"));
                write!(
                    f,
                    "{at:9.3} ms  face try {attempt}: {frames} frames, best score {score}, \
                     {}, presentation {presentation}",
                    if *matched { "match" } else { "no match" }
                )
            }
            EventKind::FaceResult {
                result,
                consecutive_failures,
            } => write!(
                f,
                "{at:9.3} ms  face path: {result} ({consecutive_failures} consecutive failures)"
            ),
            EventKind::Qualification { summary } => {
                write!(f, "{at:9.3} ms  qualification: {summary}")
            }
            EventKind::Outcome(o) => write!(
                f,
                "{at:9.3} ms  outcome {} share {}% limit {} data-only {}",
                o.route, o.share_percent, o.limit_applied, o.qualification_data_only
            ),
            EventKind::Note { text } => write!(f, "{at:9.3} ms  {text}"),
        }
    }
}
