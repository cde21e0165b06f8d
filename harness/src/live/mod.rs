//! The live view of a run (`--serve ADDRESS`): one page that shows the cases as they run,
//! the step each is at, the operator prompts open now (with their answers as buttons), and
//! each finished case's verdict and evidence (docs/operator.md).
//!
//! Invariant: the page shows only what the reports would (evidence as redacted there,
//! prompts as the scenario wrote them), and an answer from it goes through the operator
//! desk like any other: checked against its prompt, the first one wins. [`Hub`] holds the
//! state and is pure; `server.rs` serves it over HTTP with server-sent events.

pub mod server;

use crate::engine::RunEvent;
use crate::operator::{Asked, DeskEvent};
use crate::scenario::OperatorAnswerKind;
use reports::{CaseResult, OperatorAnswer};
use serde::Serialize;
use std::sync::Mutex;

/// The most bytes of a case's evidence the page gets (the rest is in the reports).
pub const EVIDENCE_BYTES: usize = 4096;

/// A case as the page shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CaseView {
    pub seq: usize,
    pub id: String,
    /// `queued`, `running`, or the verdict.
    pub state: String,
    /// The step running now.
    pub step: Option<String>,
    pub reason: Option<String>,
    pub evidence: String,
    pub operator: Vec<OperatorAnswer>,
}

/// An open prompt as the page shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PromptView {
    pub seq: usize,
    pub id: String,
    pub case_id: String,
    pub ja: String,
    pub en: String,
    /// `confirm`, `choose` or `text`.
    pub kind: &'static str,
    /// The answers offered, as they are sent back (empty: free text).
    pub offered: Vec<String>,
    pub deadline_s: u64,
    pub asked_at: String,
}

impl PromptView {
    fn of(a: &Asked) -> PromptView {
        PromptView {
            seq: a.key.seq,
            id: a.key.id.clone(),
            case_id: a.case_id.clone(),
            ja: a.prompt.ja.clone(),
            en: a.prompt.en.clone(),
            kind: match a.prompt.answer {
                OperatorAnswerKind::Confirm { .. } => "confirm",
                OperatorAnswerKind::Choose(_) => "choose",
                OperatorAnswerKind::Text(_) => "text",
            },
            offered: a.offered(),
            deadline_s: a.deadline.as_secs(),
            asked_at: a.asked_at.clone(),
        }
    }
}

/// Everything the page shows.
#[derive(Clone, Debug, Serialize, Default)]
pub struct State {
    pub title: String,
    pub cases: Vec<CaseView>,
    pub prompts: Vec<PromptView>,
    /// The run's summary once it has ended.
    pub ended: Option<String>,
}

/// One change, as sent to the page.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    Snapshot {
        state: State,
    },
    Case {
        case: CaseView,
    },
    Prompt {
        prompt: PromptView,
    },
    Answered {
        seq: usize,
        id: String,
        answer: String,
        by: String,
    },
    Closed {
        seq: usize,
        id: String,
    },
    Ended {
        summary: String,
    },
}

/// The live state of a run and those who follow it. Every change is applied and sent in
/// one step under the lock, so a follower that took a snapshot misses nothing after it.
pub struct Hub {
    state: Mutex<State>,
    send: tokio::sync::broadcast::Sender<String>,
}

impl Hub {
    /// A run of these cases (by id, in their order), none started.
    pub fn new(title: &str, case_ids: &[String]) -> Hub {
        let cases = case_ids
            .iter()
            .enumerate()
            .map(|(seq, id)| CaseView {
                seq,
                id: id.clone(),
                state: "queued".into(),
                step: None,
                reason: None,
                evidence: String::new(),
                operator: Vec::new(),
            })
            .collect();
        Hub {
            state: Mutex::new(State {
                title: title.to_owned(),
                cases,
                ..State::default()
            }),
            send: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// The state now, and a receiver of every change after it.
    pub fn follow(&self) -> (String, tokio::sync::broadcast::Receiver<String>) {
        let state = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        let receiver = self.send.subscribe();
        let snapshot = serde_json::to_string(&Update::Snapshot { state }).unwrap_or_default();
        (snapshot, receiver)
    }

    fn apply(&self, change: impl FnOnce(&mut State) -> Option<Update>) {
        if let Ok(mut state) = self.state.lock() {
            if let Some(update) = change(&mut state) {
                if let Ok(json) = serde_json::to_string(&update) {
                    // No follower is no error.
                    let _ = self.send.send(json);
                }
            }
        }
    }

    /// A case started, or one of its steps.
    pub fn run_event(&self, event: &RunEvent) {
        self.apply(|s| {
            let (seq, step) = match event {
                RunEvent::CaseStarted { seq, .. } => (*seq, None),
                RunEvent::Step { seq, name, .. } => (*seq, Some((*name).to_owned())),
            };
            let case = s.cases.get_mut(seq)?;
            case.state = "running".into();
            case.step = step;
            Some(Update::Case { case: case.clone() })
        });
    }

    /// A case finished.
    pub fn finished(&self, seq: usize, result: &CaseResult) {
        self.apply(|s| {
            let case = s.cases.get_mut(seq)?;
            case.state = result.verdict.as_str().to_owned();
            case.step = None;
            case.reason = result.reason.clone();
            case.evidence = result.evidence.clone();
            common::text::clip(&mut case.evidence, EVIDENCE_BYTES);
            case.operator = result.operator.clone();
            Some(Update::Case { case: case.clone() })
        });
    }

    /// A prompt opened, was answered or closed.
    pub fn desk_event(&self, event: &DeskEvent) {
        self.apply(|s| match event {
            DeskEvent::Asked(a) => {
                let prompt = PromptView::of(a);
                s.prompts.push(prompt.clone());
                Some(Update::Prompt { prompt })
            }
            DeskEvent::Answered(key, answer) => {
                s.prompts.retain(|p| !(p.seq == key.seq && p.id == key.id));
                Some(Update::Answered {
                    seq: key.seq,
                    id: key.id.clone(),
                    answer: answer.value.clone(),
                    by: answer.by.to_string(),
                })
            }
            DeskEvent::Closed(key) => {
                s.prompts.retain(|p| !(p.seq == key.seq && p.id == key.id));
                Some(Update::Closed {
                    seq: key.seq,
                    id: key.id.clone(),
                })
            }
        });
    }

    /// The run ended.
    pub fn ended(&self, summary: &str) {
        self.apply(|s| {
            s.ended = Some(summary.to_owned());
            Some(Update::Ended {
                summary: summary.to_owned(),
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::{Answer, Answerer, PromptKey};
    use crate::scenario::{OperatorMeaning, OperatorPrompt};
    use std::time::Duration;

    fn updates(rx: &mut tokio::sync::broadcast::Receiver<String>) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        while let Ok(json) = rx.try_recv() {
            out.push(serde_json::from_str(&json).unwrap());
        }
        out
    }

    #[test]
    fn a_follower_sees_the_state_then_every_change() {
        let hub = Hub::new("run", &["a".into(), "b".into()]);
        hub.run_event(&RunEvent::CaseStarted {
            seq: 1,
            id: "b".into(),
        });
        let (snapshot, mut rx) = hub.follow();
        let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
        assert_eq!(snapshot["type"], "snapshot");
        assert_eq!(snapshot["state"]["cases"][1]["state"], "running");
        assert_eq!(snapshot["state"]["cases"][0]["state"], "queued");

        hub.run_event(&RunEvent::Step {
            seq: 1,
            index: 0,
            name: "place_card",
        });
        let key = PromptKey {
            seq: 1,
            id: "p".into(),
        };
        hub.desk_event(&DeskEvent::Asked(Asked {
            key: key.clone(),
            case_id: "b".into(),
            prompt: OperatorPrompt {
                id: "p".into(),
                ja: "質問".into(),
                en: "Question?".into(),
                answer: OperatorAnswerKind::Confirm {
                    yes: OperatorMeaning::Continue,
                    no: OperatorMeaning::Fail,
                },
            },
            deadline: Duration::from_secs(60),
            asked_at: "t".into(),
        }));
        hub.desk_event(&DeskEvent::Answered(
            key,
            Answer {
                value: "yes".into(),
                meaning: OperatorMeaning::Continue,
                by: Answerer::Page("127.0.0.1:9".into()),
                at: "t".into(),
            },
        ));
        let mut result = CaseResult::new("g", "b", reports::Verdict::Pass);
        result.evidence = "x".repeat(EVIDENCE_BYTES + 10);
        hub.finished(1, &result);
        hub.ended("1 case");
        let got = updates(&mut rx);
        let types: Vec<&str> = got.iter().map(|u| u["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["case", "prompt", "answered", "case", "ended"]);
        assert_eq!(got[0]["case"]["step"], "place_card");
        assert_eq!(
            got[1]["prompt"]["offered"],
            serde_json::json!(["yes", "no"])
        );
        assert_eq!(got[2]["by"], "live page (127.0.0.1:9)");
        assert_eq!(got[3]["case"]["state"], "pass");
        assert!(got[3]["case"]["evidence"].as_str().unwrap().len() <= EVIDENCE_BYTES + 3);
        // A later follower sees no prompt open, and the end.
        let (snapshot, _) = hub.follow();
        let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
        assert_eq!(snapshot["state"]["prompts"], serde_json::json!([]));
        assert_eq!(snapshot["state"]["ended"], "1 case");
    }
}
