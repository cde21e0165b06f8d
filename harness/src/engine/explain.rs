//! `myna-hil rules explain`: the chain of rules that decides a case, in words, from the
//! same functions the verdict uses (`oracle::situation`, `rules::judge`, `rules::payment`),
//! so what it prints is what a run judges by. Pure: the caller loads and prints.

use super::oracle::{self, FacePrediction, Unjudgeable};
use super::verdict;
use crate::cards::LoadedCard;
use crate::rules::copayment::{age_band, age_on, AgeBand};
use crate::rules::{judge, legal_routes, CardPath, CardPresentation, Income};
use crate::scenario::Case;
use std::fmt::Write as _;

/// The explanation of `case` (its card loaded as a run loads it), a line each.
pub fn explain(case: &Case, card: Option<&LoadedCard>) -> String {
    let mut out = format!("{} — {}\n", case.id, case.title);
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<15} {value}");
    };
    line(
        "day",
        format!(
            "{} (the rules in force that day), rule set {}, {} visit, facility {}",
            case.date,
            case.rule_set,
            match case.visit {
                crate::rules::Visit::First => "first",
                crate::rules::Visit::Return => "return",
            },
            case.facility
        ),
    );
    let (situation, face) = match oracle::situation(case, card) {
        Ok(s) => s,
        Err(why @ Unjudgeable::NoCamera(_)) => {
            line("unjudgeable", why.to_string());
            return out;
        }
    };
    let p = &situation.patient;
    let band = match age_band(p.birth, case.date) {
        AgeBand::Preschool => "preschool",
        AgeBand::SchoolTo69 => "school age to 69",
        AgeBand::SeventyTo74 => "70 to 74",
        AgeBand::SeventyFivePlus => "後期高齢者, 75 and over",
    };
    let born = match (card, case.patient.birth_date) {
        (Some(_), Some(d)) => format!("the card's holder, born {d} (the scenario's `birth_date`)"),
        (Some(c), None) => format!("the card's holder, born {}", c.profile.holder.birth_date),
        (None, _) => format!("no card: an adult born {} is assumed", p.birth),
    };
    line(
        "patient",
        format!("{born}; {} on the day ({band})", age_on(p.birth, case.date)),
    );
    let declared = case
        .insurance
        .as_ref()
        .and_then(|i| i.limit_category.as_deref());
    let income = match case.patient.income {
        Some(i) => format!("{} ({}, the scenario's `income`)", i.label(), i.name()),
        None => {
            let i = Income::of_category(p.limit);
            format!("{} (from the limit category)", i.label())
        }
    };
    line("income", income);
    line(
        "limit category",
        format!(
            "{} {} ({})",
            p.limit.code(),
            p.limit.label(),
            match (declared, case.patient.income) {
                (Some(_), _) => "the record's `limit_category`",
                (None, Some(_)) => "the income's, for the age",
                (None, None) => "the default for the age",
            }
        ),
    );
    line(
        "insured",
        if p.insured {
            "yes".into()
        } else {
            "no: the service answers the qualification invalid".into()
        },
    );
    let card_path = match &situation.card {
        CardPresentation::NotPresented => "not presented".to_owned(),
        CardPresentation::Presented {
            path: CardPath::Succeeded {
                method,
                certificate_not_after,
            },
        } => format!(
            "succeeded by {} (predicted from the card and the steps), certificate valid to {certificate_not_after}",
            method.route()
        ),
        CardPresentation::Presented {
            path: CardPath::Failed(f),
        } => format!("failed: {f:?} (predicted from the card and the steps)"),
    };
    line("card path", card_path);
    if let Some(face) = face {
        line("face path", face_words(face).into());
    }
    if !situation.documents.is_empty() {
        let shown: Vec<String> = situation.documents.iter().map(document_words).collect();
        line("documents", shown.join("; "));
    }
    let rules = judge(&situation);
    let rule = |value: String, rule: &str| format!("{value:<16} rule `{rule}`");
    line("route", rule(rules.route.to_string(), rules.rule));
    line(
        "share",
        rule(format!("{}%", rules.share_percent), rules.share_rule),
    );
    line(
        "limit applied",
        rule(rules.limit_applied.to_string(), rules.limit_rule),
    );
    line(
        "data only",
        rule(rules.qualification_data_only.to_string(), rules.rule),
    );
    // The verdict's own functions: what is printed is what a run judges by.
    let insurer = match verdict::claim_insurer(case, &rules) {
        Ok(claim) => verdict::claim_name(&claim),
        Err(why) => format!("unknown: {why}"),
    };
    line("claim insurer", rule(insurer, rules.insurer_rule));
    if let Some(cost) = case.patient.cost_yen {
        line(
            "payment",
            match verdict::expected_payment(case, &situation, &rules) {
                Ok(paid) => rule(
                    format!(
                        "¥{} of ¥{cost} (share ¥{}{})",
                        paid.yen,
                        paid.share_yen,
                        paid.limit_yen
                            .map(|l| format!(", limit ¥{l}"))
                            .unwrap_or_default()
                    ),
                    paid.rule,
                ),
                Err(e) => format!("unknown: {e}"),
            },
        );
    }
    let legal: Vec<String> = legal_routes(&situation)
        .iter()
        .map(ToString::to_string)
        .collect();
    line("legal routes", legal.join(", "));
    out
}

fn document_words(d: &crate::rules::Document) -> String {
    use crate::rules::Document;
    match d {
        Document::PortalScreen => "the Mynaportal screen".into(),
        Document::PortalPdf => "the Mynaportal PDF".into(),
        Document::QualificationNotice => "資格情報のお知らせ".into(),
        Document::QualificationCertificate { valid_until } => {
            format!("資格確認書, valid to {valid_until}")
        }
        Document::OldInsuranceCard { valid_until: None } => "old 健康保険証, no printed end".into(),
        Document::OldInsuranceCard {
            valid_until: Some(d),
        } => format!("old 健康保険証, printed valid to {d}"),
    }
}

fn face_words(face: FacePrediction) -> &'static str {
    match face {
        FacePrediction::Match => "match: the chip's person, live (rule `face.prediction`)",
        FacePrediction::NoMatch => {
            "no match: someone else, or a chip photo without a usable face (rule `face.prediction`)"
        }
        FacePrediction::AttackRejected => {
            "attack rejected: a presentation attack (rule `face.prediction`)"
        }
        FacePrediction::Locked => "locked: too many earlier failures (rule `face.prediction`)",
        FacePrediction::Unavailable => {
            "unavailable: no card-surface application, 照合番号B blocked or no chip photo (rule `face.prediction`)"
        }
    }
}
