//! The operator's side of a run on the command line: the file of scripted answers, and the
//! terminal (when stdin is one). A run with operator steps and no way to answer them is
//! refused before it starts (exit 2): it would only hang, or end every such case inconc.

use super::args::OperatorArgs;
use super::CliError;
use crate::operator::{script, Answerer, Desk, DeskEvent};
use crate::scenario::{Case, StepKind};
use std::io::{BufRead, IsTerminal};

/// The run's desk: the answers file read and checked, the terminal listening when stdin is
/// one. `Err` (exit 2) when cases have operator steps and nothing can answer them.
pub(super) fn desk_for(cases: &[Case], args: &OperatorArgs) -> Result<Desk, CliError> {
    let script = args.answers.as_deref().map(script::load).transpose()?;
    let asking: Vec<&Case> = cases.iter().filter(|c| has_operator_steps(c)).collect();
    let terminal = std::io::stdin().is_terminal() && !asking.is_empty();
    let desk = Desk::new(script, terminal);
    if let Some(first) = asking.first() {
        if !desk.can_answer() {
            return Err(CliError::bad_input(format!(
                "{} case(s) ask the operator (the first: {}) and nothing can answer: run it \
                 on a terminal, or give the answers with --operator FILE (docs/operator.md)",
                asking.len(),
                first.id
            )));
        }
    }
    if terminal {
        listen_on_the_terminal(&desk);
    }
    Ok(desk)
}

fn has_operator_steps(case: &Case) -> bool {
    case.steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Operator(_)))
}

/// Shows each prompt on stderr and takes answers typed on stdin, for the oldest open
/// prompt. The reading thread is left blocked on stdin when the run ends (the process
/// exits with it).
fn listen_on_the_terminal(desk: &Desk) {
    desk.subscribe(|event| {
        let text = match event {
            DeskEvent::Asked(a) => {
                let offered = a.offered();
                format!(
                    "\r\x1b[2K── operator ── {} · {} (within {} s)\n  {}\n  {}\n  answer ({}): ",
                    a.case_id,
                    a.prompt.id,
                    a.deadline.as_secs(),
                    a.prompt.ja,
                    a.prompt.en,
                    if offered.is_empty() {
                        "free text".to_owned()
                    } else {
                        offered
                            .iter()
                            .enumerate()
                            .map(|(i, o)| format!("{} {o}", i + 1))
                            .collect::<Vec<_>>()
                            .join(" / ")
                    }
                )
            }
            DeskEvent::Answered(key, answer) if answer.by != Answerer::Terminal => format!(
                "\r\x1b[2K── operator ── {key}: `{}` answered by {}\n",
                answer.value, answer.by
            ),
            DeskEvent::Answered(..) => return,
            DeskEvent::Closed(key) => {
                format!("\r\x1b[2K── operator ── {key}: no answer in time (inconc)\n")
            }
        };
        let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
    });
    let desk = desk.clone();
    let _ = std::thread::Builder::new()
        .name("operator-terminal".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let Some(open) = desk.open().into_iter().next() else {
                    continue;
                };
                if let Err(e) = desk.answer(&open.key, &line, Answerer::Terminal) {
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        format!("  {e}: ").as_bytes(),
                    );
                }
            }
        });
}
