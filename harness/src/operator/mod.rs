//! Questions put to the person at the bench (`operator:` steps), and their answers.
//!
//! Invariant: a prompt takes at most one answer, the first valid one from any source (the
//! terminal, the live page, a device's test UI, a file of scripted answers); an answer is
//! checked against the prompt's kind before it is taken; a prompt nobody answers by its
//! deadline stays unanswered, and the case is inconclusive, never a pass.
//!
//! The [`Desk`] holds the open prompts. The engine asks and waits; the sources answer
//! through [`Desk::answer`]; whoever shows prompts (the terminal, the live page) follows
//! [`DeskEvent`]s. Nothing here does I/O: the terminal and the page are the binary's.

pub mod script;

use crate::scenario::{OperatorAnswerKind, OperatorMeaning, OperatorPrompt};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A prompt of a run: the case's position and the prompt's id (unique in its case).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PromptKey {
    pub seq: usize,
    pub id: String,
}

impl std::fmt::Display for PromptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.seq, self.id)
    }
}

/// A prompt as put to the operator.
#[derive(Clone, Debug)]
pub struct Asked {
    pub key: PromptKey,
    pub case_id: String,
    pub prompt: OperatorPrompt,
    pub deadline: Duration,
    /// RFC 3339, UTC.
    pub asked_at: String,
}

impl Asked {
    /// The answers a person may give, as they are typed or clicked (empty: free text).
    pub fn offered(&self) -> Vec<String> {
        self.prompt.answer.offered()
    }
}

/// Who answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answerer {
    Terminal,
    /// The live page, from this peer address.
    Page(String),
    /// A device's own test UI, over the adapter protocol.
    Device(String),
    /// A file of scripted answers.
    Script(String),
}

impl std::fmt::Display for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answerer::Terminal => f.write_str("terminal"),
            Answerer::Page(peer) => write!(f, "live page ({peer})"),
            Answerer::Device(address) => write!(f, "device ({address})"),
            Answerer::Script(file) => write!(f, "script ({file})"),
        }
    }
}

/// An answer taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// As the prompt's kind names it: `yes`, `no`, a choice's label, or the free text.
    pub value: String,
    pub meaning: OperatorMeaning,
    pub by: Answerer,
    /// RFC 3339, UTC.
    pub at: String,
}

/// The most bytes of a free-text answer kept.
pub const MAX_FREE_TEXT: usize = 200;

/// `text` as an answer to `prompt`: its canonical form and what it means. A confirm takes
/// yes/no (also y/n, はい/いいえ, 1/2), a choice its label or its number from 1; free text is
/// trimmed and cut to [`MAX_FREE_TEXT`] bytes (the caller masks secrets).
pub fn read_answer(
    prompt: &OperatorPrompt,
    text: &str,
) -> Result<(String, OperatorMeaning), String> {
    let text = text.trim();
    match &prompt.answer {
        OperatorAnswerKind::Confirm { yes, no } => match text.to_lowercase().as_str() {
            "yes" | "y" | "はい" | "1" => Ok(("yes".into(), *yes)),
            "no" | "n" | "いいえ" | "2" => Ok(("no".into(), *no)),
            _ => Err("answer yes or no".into()),
        },
        OperatorAnswerKind::Choose(choices) => {
            // A label as written wins over a number (labels may look like numbers).
            let by_number = || {
                text.parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| choices.get(i))
            };
            choices
                .iter()
                .find(|(l, _)| l == text)
                .or_else(by_number)
                .map(|(l, m)| (l.clone(), *m))
                .ok_or_else(|| {
                    let labels: Vec<String> = choices
                        .iter()
                        .enumerate()
                        .map(|(i, (l, _))| format!("{} {l}", i + 1))
                        .collect();
                    format!("answer one of: {}", labels.join(", "))
                })
        }
        OperatorAnswerKind::Text(meaning) => {
            if text.is_empty() {
                return Err("the answer is empty".into());
            }
            Ok((common::text::head(text, MAX_FREE_TEXT).to_owned(), *meaning))
        }
    }
}

/// What the desk tells those who show prompts.
#[derive(Clone, Debug)]
pub enum DeskEvent {
    Asked(Asked),
    Answered(PromptKey, Answer),
    /// Nobody answered by the deadline, or the case ended first.
    Closed(PromptKey),
}

/// Why an answer was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("no open prompt {0}")]
    NotOpen(String),
    #[error("{0}")]
    Invalid(String),
}

type Listener = Box<dyn Fn(&DeskEvent) + Send + Sync>;

/// Masks what a free-text answer discloses of the case's card, before it is kept or shown.
pub type Mask = Box<dyn Fn(&mut String) + Send + Sync>;

struct OpenPrompt {
    asked: Asked,
    mask: Option<Mask>,
}

#[derive(Default)]
struct Open {
    prompts: Vec<OpenPrompt>,
    answers: Vec<(PromptKey, Answer)>,
}

/// The open prompts of a run, shared by the engine and every source of answers.
#[derive(Clone, Default)]
pub struct Desk(Arc<DeskInner>);

#[derive(Default)]
struct DeskInner {
    open: Mutex<Open>,
    answered: Condvar,
    listeners: Mutex<Vec<Listener>>,
    script: Option<script::Answers>,
    /// A person can answer (a terminal, the live page or a device's test UI is there).
    live: bool,
}

impl Desk {
    /// A desk answered by `script` (if any) and, when `live`, by a person.
    pub fn new(script: Option<script::Answers>, live: bool) -> Desk {
        Desk(Arc::new(DeskInner {
            script,
            live,
            ..DeskInner::default()
        }))
    }

    /// Whether anyone can answer at all: a run with operator steps and no source of
    /// answers must not start.
    pub fn can_answer(&self) -> bool {
        self.0.live || self.0.script.is_some()
    }

    /// Whether a person may answer (otherwise only the script does, at once).
    pub fn is_live(&self) -> bool {
        self.0.live
    }

    /// Calls `f` with every event from now on.
    pub fn subscribe(&self, f: impl Fn(&DeskEvent) + Send + Sync + 'static) {
        if let Ok(mut l) = self.0.listeners.lock() {
            l.push(Box::new(f));
        }
    }

    fn tell(&self, event: &DeskEvent) {
        if let Ok(listeners) = self.0.listeners.lock() {
            for l in listeners.iter() {
                l(event);
            }
        }
    }

    /// The prompts open now, oldest first.
    pub fn open(&self) -> Vec<Asked> {
        self.0
            .open
            .lock()
            .map(|o| o.prompts.iter().map(|p| p.asked.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether `key` is open: asked, and neither answered nor closed.
    pub fn is_open(&self, key: &PromptKey) -> bool {
        self.0
            .open
            .lock()
            .is_ok_and(|o| o.prompts.iter().any(|p| p.asked.key == *key))
    }

    /// Opens `asked`; a scripted answer, if the script has one, is taken at once. `mask`
    /// masks the card's secrets in a free-text answer.
    pub fn ask(&self, asked: Asked, mask: Option<Mask>) {
        let key = asked.key.clone();
        let scripted = self
            .0
            .script
            .as_ref()
            .and_then(|s| s.find(&asked.case_id, &asked.prompt.id))
            .map(|(text, file)| (text.to_owned(), file.to_owned()));
        if let Ok(mut open) = self.0.open.lock() {
            open.prompts.push(OpenPrompt {
                asked: asked.clone(),
                mask,
            });
        }
        self.tell(&DeskEvent::Asked(asked));
        if let Some((text, file)) = scripted {
            // A scripted answer that does not fit the prompt is no answer: the prompt
            // stays open for a person, or runs to its deadline.
            let _ = self.answer(&key, &text, Answerer::Script(file));
        }
    }

    /// Takes `text` as the answer to `key`, if that prompt is open and the text fits it.
    pub fn answer(&self, key: &PromptKey, text: &str, by: Answerer) -> Result<(), Refused> {
        let answer = {
            let mut open = self
                .0
                .open
                .lock()
                .map_err(|_| Refused::NotOpen(key.to_string()))?;
            let at = open
                .prompts
                .iter()
                .position(|p| p.asked.key == *key)
                .ok_or_else(|| Refused::NotOpen(key.to_string()))?;
            let prompt = &open.prompts[at];
            let (mut value, meaning) =
                read_answer(&prompt.asked.prompt, text).map_err(Refused::Invalid)?;
            if let (OperatorAnswerKind::Text(_), Some(mask)) =
                (&prompt.asked.prompt.answer, &prompt.mask)
            {
                mask(&mut value);
            }
            let answer = Answer {
                value,
                meaning,
                by,
                at: crate::units::now_rfc3339(),
            };
            open.prompts.remove(at);
            open.answers.push((key.clone(), answer.clone()));
            answer
        };
        self.0.answered.notify_all();
        self.tell(&DeskEvent::Answered(key.clone(), answer));
        Ok(())
    }

    /// Waits up to `deadline` (real time) for `key`'s answer; `None` closes the prompt
    /// unanswered. Without a person to answer, an unanswered prompt is closed at once: the
    /// caller lets its deadline pass on the case's clock.
    pub fn wait(&self, key: &PromptKey, deadline: Duration) -> Option<Answer> {
        let until = Instant::now() + deadline;
        let mut answer = None;
        if let Ok(mut open) = self.0.open.lock() {
            loop {
                if let Some(i) = open.answers.iter().position(|(k, _)| k == key) {
                    answer = Some(open.answers.remove(i).1);
                    break;
                }
                let left = until.saturating_duration_since(Instant::now());
                if !self.0.live || left.is_zero() {
                    open.prompts.retain(|p| p.asked.key != *key);
                    break;
                }
                match self.0.answered.wait_timeout(open, left) {
                    Ok((o, _)) => open = o,
                    Err(_) => return None,
                }
            }
        }
        if answer.is_none() {
            self.tell(&DeskEvent::Closed(key.clone()));
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(answer: OperatorAnswerKind) -> OperatorPrompt {
        OperatorPrompt {
            id: "p".into(),
            ja: "質問".into(),
            en: "Question?".into(),
            answer,
        }
    }

    fn confirm() -> OperatorPrompt {
        prompt(OperatorAnswerKind::Confirm {
            yes: OperatorMeaning::Continue,
            no: OperatorMeaning::Fail,
        })
    }

    fn asked(seq: usize, p: OperatorPrompt) -> Asked {
        Asked {
            key: PromptKey {
                seq,
                id: p.id.clone(),
            },
            case_id: format!("c{seq}"),
            prompt: p,
            deadline: Duration::from_secs(5),
            asked_at: crate::units::now_rfc3339(),
        }
    }

    #[test]
    fn answers_are_read_by_the_prompts_kind() {
        let c = confirm();
        assert_eq!(
            read_answer(&c, " Y ").unwrap(),
            ("yes".into(), OperatorMeaning::Continue)
        );
        assert_eq!(
            read_answer(&c, "いいえ").unwrap(),
            ("no".into(), OperatorMeaning::Fail)
        );
        assert_eq!(read_answer(&c, "1").unwrap().0, "yes");
        assert!(read_answer(&c, "maybe").is_err());
        let choose = prompt(OperatorAnswerKind::Choose(vec![
            ("four items".into(), OperatorMeaning::Continue),
            ("fewer".into(), OperatorMeaning::Fail),
        ]));
        assert_eq!(read_answer(&choose, "2").unwrap().0, "fewer");
        assert_eq!(read_answer(&choose, "four items").unwrap().0, "four items");
        let numbered = prompt(OperatorAnswerKind::Choose(vec![
            ("3".into(), OperatorMeaning::Fail),
            ("1".into(), OperatorMeaning::Continue),
        ]));
        assert_eq!(read_answer(&numbered, "1").unwrap().0, "1");
        assert_eq!(read_answer(&numbered, "2").unwrap().0, "1");
        assert_eq!(
            read_answer(&choose, "3").unwrap_err(),
            "answer one of: 1 four items, 2 fewer"
        );
        let text = prompt(OperatorAnswerKind::Text(OperatorMeaning::Continue));
        assert!(read_answer(&text, "  ").is_err());
        let long = "あ".repeat(100);
        let (kept, _) = read_answer(&text, &long).unwrap();
        assert!(kept.len() <= MAX_FREE_TEXT && long.starts_with(&kept));
    }

    #[test]
    fn the_first_valid_answer_wins_and_a_second_is_refused() {
        let desk = Desk::new(None, true);
        let a = asked(0, confirm());
        let key = a.key.clone();
        desk.ask(a, None);
        assert!(matches!(
            desk.answer(&key, "perhaps", Answerer::Terminal),
            Err(Refused::Invalid(_))
        ));
        desk.answer(&key, "no", Answerer::Page("127.0.0.1:1".into()))
            .unwrap();
        assert_eq!(
            desk.answer(&key, "yes", Answerer::Terminal),
            Err(Refused::NotOpen("0/p".into()))
        );
        let got = desk.wait(&key, Duration::from_secs(1)).unwrap();
        assert_eq!(
            (got.value.as_str(), got.meaning),
            ("no", OperatorMeaning::Fail)
        );
        assert_eq!(got.by, Answerer::Page("127.0.0.1:1".into()));
    }

    #[test]
    fn an_unanswered_prompt_closes_at_its_deadline() {
        let desk = Desk::new(None, true);
        let closed = Arc::new(Mutex::new(Vec::new()));
        let seen = closed.clone();
        desk.subscribe(move |e| {
            if let DeskEvent::Closed(k) = e {
                seen.lock().unwrap().push(k.clone());
            }
        });
        let a = asked(3, confirm());
        let key = a.key.clone();
        desk.ask(a, None);
        assert_eq!(desk.wait(&key, Duration::from_millis(30)), None);
        assert!(desk.open().is_empty());
        assert_eq!(*closed.lock().unwrap(), vec![key.clone()]);
        // Too late: the prompt is closed.
        assert!(desk.answer(&key, "yes", Answerer::Terminal).is_err());
    }

    #[test]
    fn an_answer_from_another_thread_wakes_the_case() {
        let desk = Desk::new(None, true);
        let a = asked(1, confirm());
        let key = a.key.clone();
        desk.ask(a, None);
        let (d, k) = (desk.clone(), key.clone());
        let person = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            d.answer(&k, "yes", Answerer::Terminal)
        });
        let got = desk.wait(&key, Duration::from_secs(10));
        assert!(person.join().unwrap().is_ok());
        assert_eq!(got.map(|a| a.meaning), Some(OperatorMeaning::Continue));
    }

    #[test]
    fn free_text_is_masked_before_it_is_kept() {
        let desk = Desk::new(None, true);
        let a = asked(
            2,
            prompt(OperatorAnswerKind::Text(OperatorMeaning::Continue)),
        );
        let key = a.key.clone();
        desk.ask(
            a,
            Some(Box::new(|text: &mut String| {
                *text = text.replace("1234", "‹redacted›")
            })),
        );
        desk.answer(&key, "the pad showed 1234", Answerer::Terminal)
            .unwrap();
        let got = desk.wait(&key, Duration::from_secs(1)).unwrap();
        assert_eq!(got.value, "the pad showed ‹redacted›");
    }
}
