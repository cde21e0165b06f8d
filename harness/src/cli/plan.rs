//! `myna-hil plan check PLAN…` and `myna-hil plan show PLAN --ics ICS`: a test plan checked
//! on its own (every requirement has scenarios, every scenario exists and loads, every
//! expression names capabilities of the ICS format), and the cases a device's ICS selects
//! from it, every one with the reason it is in or out.

use super::{say, warn, CliError, Exit};
use crate::certify::ics::load_ics;
use crate::certify::plan::{self, load_plan, Plan};
use crate::scenario::suite;
use std::path::{Path, PathBuf};

pub(super) fn check(plans: &[PathBuf]) -> Result<Exit, CliError> {
    let mut bad = 0;
    for path in plans {
        match load_plan(path) {
            Ok(p) => {
                let problems = plan::check(&p);
                if problems.is_empty() {
                    let cases: usize = plan::scenario_files(&p)
                        .iter()
                        .filter_map(|f| crate::scenario::load_cases(f, &[]).ok())
                        .map(|c| c.len())
                        .sum();
                    say(format!(
                        "ok     {} ({} {}: {} requirement(s), {} scenario file(s), {cases} case(s))",
                        path.display(),
                        p.id,
                        p.version,
                        p.requirements.len(),
                        plan::scenario_files(&p).len()
                    ));
                } else {
                    bad += 1;
                    for d in problems {
                        warn(format!("{d}\n"));
                    }
                }
            }
            Err(e) => {
                bad += 1;
                warn(format!("{e}\n"));
            }
        }
    }
    say(format!(
        "{} plan(s) checked, {bad} with errors",
        plans.len()
    ));
    Ok(if bad == 0 { Exit::Ok } else { Exit::BadInput })
}

/// The plan and its loaded cases, checked (a plan with a missing scenario never selects).
pub(crate) fn plan_and_cases(path: &Path) -> Result<(Plan, Vec<crate::scenario::Case>), CliError> {
    let p = load_plan(path)?;
    let problems = plan::check(&p);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        return Err(CliError::Diagnostics(text.join("\n")));
    }
    let cases = suite::load_all(&plan::scenario_files(&p), &[])?;
    Ok((p, cases))
}

pub(super) fn show(plan_path: &Path, ics_path: &Path) -> Result<Exit, CliError> {
    let ics = load_ics(ics_path)?;
    let (p, cases) = plan_and_cases(plan_path)?;
    say(format!("plan {} {}: {}", p.id, p.version, p.title));
    say(format!(
        "ICS {}: {} {} firmware {}",
        ics_path.display(),
        ics.identity.vendor,
        ics.identity.model,
        ics.identity.firmware
    ));
    say("\nrequirements:");
    for (r, (holds, why)) in p.requirements.iter().zip(plan::applicability(&p, &ics)) {
        say(format!(
            "  {:<12} {:<9} {:<14} {why}",
            r.id,
            if r.mandatory { "mandatory" } else { "optional" },
            if holds { "applies" } else { "does not apply" },
        ));
    }
    let selection = plan::select(&p, &ics, &cases);
    let selected = selection.iter().filter(|s| s.selected()).count();
    say(format!(
        "\ncases ({}: {selected} selected, {} excluded):",
        selection.len(),
        selection.len() - selected
    ));
    for s in &selection {
        say(format!(
            "  {:<8} {:<9} {}  ({})",
            if s.selected() { "selected" } else { "excluded" },
            if s.mandatory { "mandatory" } else { "" },
            s.case,
            s.reason
        ));
    }
    Ok(Exit::Ok)
}
