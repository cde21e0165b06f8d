//! `myna-hil`: the test and certification harness's command line.

use super::args::{
    Cli, ClipsCommand, Command, FaceCommand, PlanCommand, ReportCommand, RulesCommand,
};
use super::{certify, clips, finish, plan, run, tools, CliError, Exit};
use clap::Parser;
use std::process::ExitCode;

/// `myna-hil`'s `main`.
pub fn main() -> ExitCode {
    finish(dispatch(Cli::parse()))
}

fn dispatch(cli: Cli) -> Result<Exit, CliError> {
    match cli.command {
        Command::Run(args) => run::run_scenarios(args),
        Command::Conformance(args) => run::run_conformance(args),
        Command::Check { paths, vars } => tools::check(&paths, &vars),
        Command::Schema { format } => tools::schema(format),
        Command::Photos => tools::photos(),
        Command::Report {
            command:
                ReportCommand::Merge {
                    shards,
                    out,
                    junit,
                    json,
                },
        } => run::merge_reports(&shards, &out, junit.as_deref(), json.as_deref()),
        Command::Report {
            command: ReportCommand::Rebuild { out, junit, json },
        } => run::rebuild_reports(&out, junit.as_deref(), json.as_deref()),
        Command::Readers => tools::readers(),
        Command::Certify(args) => certify::certify(args),
        Command::Verify { bundle, key } => certify::verify(&bundle, &key),
        Command::Keygen { out } => certify::keygen(&out),
        Command::Plan {
            command: PlanCommand::Check { plans },
        } => plan::check(&plans),
        Command::Plan {
            command: PlanCommand::Show { plan, ics },
        } => plan::show(&plan, &ics),
        Command::Clips {
            command: ClipsCommand::Export(args),
        } => clips::export(args),
        Command::Rules {
            command: RulesCommand::Explain(args),
        } => tools::explain(args),
        Command::Face {
            command:
                FaceCommand::Compare {
                    a,
                    b,
                    grey_enrolment,
                    chip,
                    threshold,
                },
        } => {
            let enrolment = match (chip, grey_enrolment) {
                (true, _) => crate::face::Enrolment::ChipPhoto,
                (false, true) => crate::face::Enrolment::Greyscale,
                (false, false) => crate::face::Enrolment::AsIs,
            };
            tools::face_compare(&a, &b, enrolment, threshold)
        }
        Command::Accuracy(args) => {
            // A report that could not be written is never a bad input: exit 4.
            let outcome = crate::accuracy::run_campaign(&args).map_err(|e| match e {
                crate::accuracy::CampaignError::Output(m) => CliError::Unwritten(m),
                other => other.into(),
            })?;
            Ok(if outcome.fails(&args)? {
                Exit::CasesFailed
            } else {
                Exit::Ok
            })
        }
        Command::ServeQualification(args) => tools::serve_qualification(args),
    }
}
