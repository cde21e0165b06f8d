//! The operator's side of a run on the command line: the file of scripted answers, and the
//! terminal (when stdin is one). A run with operator steps and no way to answer them is
//! refused before it starts (exit 2): it would only hang, or end every such case inconc.

use super::args::OperatorArgs;
use super::CliError;
use crate::dut::driver::Device;
use crate::dut::protocol::Capability;
use crate::live::server::LiveServer;
use crate::live::Hub;
use crate::operator::{script, Answerer, Desk, DeskEvent};
use crate::scenario::{Case, StepKind};
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

/// The people's side of a run: the desk where prompts are asked, and the live view's
/// address, if one is served.
#[derive(Clone)]
pub(super) struct People {
    pub desk: Desk,
    pub serve: Option<std::net::SocketAddr>,
}

/// The run's desk: the answers file read and checked, the terminal listening when stdin is
/// one. `Err` (exit 2) when cases have operator steps and nothing can answer them, or when
/// the live view would listen beyond loopback without --serve-exposed. A person may also
/// answer on the devices' own test UI, when every device of the run has one (a case may
/// go to any of them).
pub(super) fn desk_for(
    cases: &[Case],
    args: &OperatorArgs,
    devices: &[Arc<Device>],
) -> Result<People, CliError> {
    if let Some(addr) = args.serve {
        if !addr.ip().is_loopback() && !args.serve_exposed {
            return Err(CliError::bad_input(format!(
                "--serve {addr} is not a loopback address: anyone who reaches it could                  answer the run's prompts; add --serve-exposed to mean it"
            )));
        }
    }
    let script = args.answers.as_deref().map(script::load).transpose()?;
    let asking: Vec<&Case> = cases.iter().filter(|c| has_operator_steps(c)).collect();
    let terminal = std::io::stdin().is_terminal() && !asking.is_empty();
    let device_ui = !devices.is_empty()
        && devices
            .iter()
            .all(|d| d.hello().has(&Capability::OperatorUi));
    let desk = Desk::new(script, terminal || args.serve.is_some() || device_ui);
    if let Some(first) = asking.first() {
        if !desk.can_answer() {
            return Err(CliError::bad_input(format!(
                "{} case(s) ask the operator (the first: {}) and nothing can answer: run it \
                 on a terminal, serve the live view (--serve 127.0.0.1:PORT), give the \
                 answers with --operator FILE, or use a device whose test UI answers \
                 (capability `operator_ui`) (docs/operator.md)",
                asking.len(),
                first.id
            )));
        }
    }
    if terminal {
        listen_on_the_terminal(&desk);
    }
    Ok(People {
        desk,
        serve: args.serve,
    })
}

/// The live view of a run, if one is asked for: started, its address printed; the hub
/// follows the desk from now on.
pub(super) fn serve(
    people: &People,
    title: &str,
    cases: &[Case],
) -> Result<Option<(Arc<Hub>, LiveServer)>, CliError> {
    let Some(addr) = people.serve else {
        return Ok(None);
    };
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    let hub = Arc::new(Hub::new(title, &ids));
    let follower = hub.clone();
    people.desk.subscribe(move |e| follower.desk_event(e));
    let server = crate::live::server::start(addr, hub.clone(), people.desk.clone())?;
    if !server.addr().ip().is_loopback() {
        super::warn(format!(
            "the live view listens on {}: anyone who reaches it sees the run and can answer \
             its prompts",
            server.addr()
        ));
    }
    super::say(format!("live view: {}", server.url()));
    Ok(Some((hub, server)))
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
