//! What a device campaign measured, from its transactions' decisions: FAR and FRR at the
//! device's own operating point (Clopper-Pearson, transaction-level, and a bootstrap by
//! subject), APCER and IAPAR per attack species and BPCER (ISO/IEC 30107-3), transaction
//! times, and the policy's claims judged; written as `accuracy.json` and `accuracy.md`.

use super::evidence::{median_p95, subject_bootstrap, BootstrapBounds, Tally};
use super::policy::{judge, Claim, Evidence, Judged, Measure, Policy};
use super::transactions::{Decision, Truth};
use reports::accuracy::{pad_summary, AttackCounts, PadCounts, PadSummary, Proportion, Warning};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The confidence of every two-sided interval of the report.
pub const REPORT_CONFIDENCE: f64 = 0.95;

/// One transaction as it ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Record {
    /// The case id the device saw (opaque: it says nothing of the ground truth).
    pub id: String,
    pub truth: &'static str,
    pub species: Option<&'static str>,
    /// `person/file` on the chip, and before the camera.
    pub chip: String,
    pub camera: String,
    pub decision: Decision,
    /// Why, for an error.
    pub why: Option<String>,
    /// The device reported a face decision the card's journal does not back (an error
    /// that is the device's fail: it decided without the chip's photo).
    pub unbacked: bool,
    /// Card on the reader to decision.
    pub millis: Option<f64>,
    #[serde(skip)]
    pub kind: Truth,
    /// The chip's person: the subject a bootstrap resamples.
    #[serde(skip)]
    pub subject: String,
}

/// A rate with its intervals.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rate {
    /// Clopper-Pearson at [`REPORT_CONFIDENCE`], transaction-level.
    pub proportion: Proportion,
    pub subjects: u64,
    /// The subject bootstrap (two-sided at the report's confidence, one-sided upper at the
    /// policy's), when asked for.
    pub bootstrap: Option<BootstrapBounds>,
}

/// Everything the report says.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Transactions by ground truth (`genuine`, `impostor`, `attack:<species>`) and decision.
    pub counts: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// False rejects (rejections, attack rejections and errors) of genuine transactions.
    pub frr: Option<Rate>,
    /// False accepts of impostor transactions.
    pub far: Option<Rate>,
    /// Attack presentations accepted (a match) per species, errors left out.
    pub iapar: BTreeMap<String, Rate>,
    /// APCER per species (attack presentations not rejected as attacks) and BPCER (bona
    /// fide transactions rejected as attacks), errors left out.
    pub pad: Option<PadSummary>,
    pub times: Option<Times>,
    pub claims: Vec<Judged>,
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Times {
    pub transactions: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// How the bootstrap runs.
#[derive(Clone, Copy, Debug)]
pub struct Resampling {
    pub replicates: u32,
    pub seed: u64,
    /// The one-sided level of its upper bound (the policy's, else 0.8).
    pub one_sided: f64,
}

/// Events and trials per subject of the records `counted` decides about (`Some(true)`: an
/// event, `Some(false)`: a trial without one, `None`: not a trial of this rate).
fn tallies(records: &[Record], counted: impl Fn(&Record) -> Option<bool>) -> Vec<Tally> {
    let mut by_subject: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in records {
        if let Some(event) = counted(r) {
            let t = by_subject.entry(r.subject.as_str()).or_default();
            t.trials += 1;
            t.events += u64::from(event);
        }
    }
    by_subject.into_values().collect()
}

fn rate(tallies: &[Tally], resampling: &Resampling) -> Option<Rate> {
    let events = tallies.iter().map(|t| t.events).sum();
    let trials = tallies.iter().map(|t| t.trials).sum();
    Some(Rate {
        proportion: Proportion::new(events, trials, REPORT_CONFIDENCE)?,
        subjects: tallies.len() as u64,
        bootstrap: subject_bootstrap(
            tallies,
            resampling.replicates,
            resampling.seed,
            REPORT_CONFIDENCE,
            resampling.one_sided,
        ),
    })
}

/// Which records a measure counts, and which of them are its events.
fn counting<'a>(
    measure: &'a Measure,
    species: Option<&str>,
) -> impl Fn(&Record) -> Option<bool> + 'a {
    let species = species.map(str::to_owned);
    move |r: &Record| {
        let decided = r.decision != Decision::Error;
        match measure {
            Measure::Frr => (r.kind == Truth::Genuine).then_some(r.decision != Decision::Accepted),
            Measure::Far => (r.kind == Truth::Impostor).then_some(r.decision == Decision::Accepted),
            Measure::Bpcer => {
                (r.kind.bona_fide() && decided).then_some(r.decision == Decision::AttackRejected)
            }
            Measure::Apcer(_) => {
                (r.kind.species() == species.as_deref() && species.is_some() && decided)
                    .then_some(r.decision != Decision::AttackRejected)
            }
            Measure::Iapar(_) => {
                (r.kind.species() == species.as_deref() && species.is_some() && decided)
                    .then_some(r.decision == Decision::Accepted)
            }
        }
    }
}

/// The summary of `records`, the claims of `policy` judged on it.
pub fn summarise(
    records: &[Record],
    policy: Option<&Policy>,
    resampling: &Resampling,
) -> Result<Summary, String> {
    let mut counts: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    for r in records {
        let key = match r.species {
            Some(s) => format!("attack:{s}"),
            None => r.truth.to_owned(),
        };
        let row = counts
            .entry(key)
            .or_insert_with(|| Decision::ALL.iter().map(|d| (d.name(), 0)).collect());
        *row.entry(r.decision.name()).or_default() += 1;
    }
    let ran: BTreeSet<&'static str> = records.iter().filter_map(|r| r.species).collect();
    let of =
        |measure: &Measure, species: Option<&str>| tallies(records, counting(measure, species));
    let frr = rate(&of(&Measure::Frr, None), resampling);
    let far = rate(&of(&Measure::Far, None), resampling);
    let mut iapar = BTreeMap::new();
    let mut pad_counts = PadCounts::default();
    for s in &ran {
        let apcer = of(&Measure::Apcer(None), Some(s));
        pad_counts.attacks.insert(
            (*s).to_owned(),
            AttackCounts {
                presentations: apcer.iter().map(|t| t.trials).sum(),
                accepted: apcer.iter().map(|t| t.events).sum(),
            },
        );
        if let Some(r) = rate(&of(&Measure::Iapar(None), Some(s)), resampling) {
            iapar.insert((*s).to_owned(), r);
        }
    }
    let bpcer = of(&Measure::Bpcer, None);
    pad_counts.bona_fide_presentations = bpcer.iter().map(|t| t.trials).sum();
    pad_counts.bona_fide_rejected = bpcer.iter().map(|t| t.events).sum();
    let pad = if ran.is_empty() {
        None
    } else {
        Some(pad_summary(&pad_counts, REPORT_CONFIDENCE).map_err(|e| e.to_string())?)
    };
    let millis: Vec<f64> = records.iter().filter_map(|r| r.millis).collect();
    let times = median_p95(&millis).map(|(median_ms, p95_ms)| Times {
        transactions: millis.len(),
        median_ms,
        p95_ms,
    });
    let mut claims = Vec::new();
    if let Some(policy) = policy {
        let evidence = |measure: &Measure, species: Option<&str>| {
            let t = of(measure, species);
            let r = rate(
                &t,
                &Resampling {
                    one_sided: policy.confidence,
                    ..*resampling
                },
            )?;
            Some(Evidence {
                events: r.proportion.count,
                trials: r.proportion.trials,
                subjects: r.subjects,
                bootstrap_upper: r.bootstrap.map(|b| b.upper),
            })
        };
        for claim in &policy.claims {
            match &claim.measure {
                // `any`: one claim per species the campaign ran (none ran: one unsupported).
                Measure::Apcer(None) | Measure::Iapar(None) if !ran.is_empty() => {
                    for s in &ran {
                        let named = Claim {
                            measure: match claim.measure {
                                Measure::Apcer(_) => Measure::Apcer(Some((*s).to_owned())),
                                _ => Measure::Iapar(Some((*s).to_owned())),
                            },
                            ..claim.clone()
                        };
                        let e = evidence(&named.measure, Some(s));
                        claims.push(judge(&named, policy.confidence, e.as_ref()));
                    }
                }
                Measure::Apcer(s) | Measure::Iapar(s) => {
                    let e = s.as_deref().and_then(|s| evidence(&claim.measure, Some(s)));
                    claims.push(judge(claim, policy.confidence, e.as_ref()));
                }
                m => claims.push(judge(claim, policy.confidence, evidence(m, None).as_ref())),
            }
        }
    }
    let mut warnings: Vec<Warning> = pad.iter().flat_map(|p| p.warnings.clone()).collect();
    use reports::accuracy::WarningCode;
    if frr.is_none() {
        warnings.push(Warning::new(
            WarningCode::NoGenuine,
            "no genuine transaction: FRR is not defined",
        ));
    }
    if far.is_none() {
        warnings.push(Warning::new(
            WarningCode::NoImpostor,
            "no impostor transaction: FAR is not defined",
        ));
    }
    Ok(Summary {
        counts,
        frr,
        far,
        iapar,
        pad,
        times,
        claims,
        warnings,
    })
}

/// Who and what the campaign measured, for the report's head.
pub struct Header<'a> {
    pub device: &'a crate::dut::protocol::DeviceHello,
    pub card: &'a str,
    pub set: &'a Path,
    pub policy: Option<(&'a Path, &'a Policy)>,
    pub frames: u32,
    pub seed: u64,
    pub replicates: u32,
}

fn pct(p: f64) -> String {
    format!("{:.4}", p)
}

fn rate_cell(r: Option<&Rate>) -> String {
    let Some(r) = r else { return "n/a".into() };
    let p = &r.proportion;
    let boot = r.bootstrap.map_or(String::new(), |b| {
        format!(
            "; subject bootstrap {}–{}",
            pct(b.interval.lower),
            pct(b.interval.upper)
        )
    });
    format!(
        "{} ({} of {}; {} subjects; Clopper-Pearson {}–{}{boot})",
        pct(p.rate),
        p.count,
        p.trials,
        r.subjects,
        pct(p.interval.lower),
        pct(p.interval.upper)
    )
}

/// The Markdown report.
pub fn markdown(h: &Header<'_>, s: &Summary, records: &[Record]) -> String {
    use common::text::markdown_cell as cell;
    let mut md = String::from("# Device accuracy campaign\n\n");
    md.push_str(&format!(
        "Device: {} {} firmware {}. Card profile `{}` (its chip photo replaced by each \
         enrolment image). Face set `{}`; camera clips of {} frames at 15 fps (seed {}).\n\n",
        cell(&h.device.vendor),
        cell(&h.device.model),
        cell(&h.device.firmware),
        cell(h.card),
        cell(&h.set.display().to_string()),
        h.frames,
        h.seed
    ));
    md.push_str(
        "Rates are of the device's own decisions at its own operating point (no score). \
         FRR counts every genuine transaction not accepted (errors too); FAR every impostor \
         transaction accepted. A match counts as accepted only when the bench backs it (the \
         card's journal shows 照合番号B verified and the chip photo read, and every other \
         claim of the device holds); otherwise it is an error. Intervals at 95 %: \
         Clopper-Pearson is transaction-level (it assumes independent transactions); the \
         subject bootstrap resamples people",
    );
    md.push_str(&format!(" ({} replicates).\n\n", h.replicates));
    md.push_str("## Decisions\n\n| transactions | accepted | rejected | attack rejected | error |\n|---|---:|---:|---:|---:|\n");
    for (kind, row) in &s.counts {
        md.push_str(&format!("| {kind} |"));
        for d in Decision::ALL {
            md.push_str(&format!(" {} |", row.get(d.name()).copied().unwrap_or(0)));
        }
        md.push('\n');
    }
    md.push_str(&format!(
        "\n## Verification\n\n- FRR: {}\n- FAR: {}\n",
        rate_cell(s.frr.as_ref()),
        rate_cell(s.far.as_ref())
    ));
    if let Some(t) = &s.times {
        md.push_str(&format!(
            "\nTransaction time (card on the reader to the face decision), {} transactions: \
             median {:.0} ms, p95 {:.0} ms.\n",
            t.transactions, t.median_ms, t.p95_ms
        ));
    }
    if let Some(pad) = &s.pad {
        md.push_str("\n## Presentation attacks (ISO/IEC 30107-3)\n\n");
        md.push_str("APCER: attack presentations the device did not reject as attacks; IAPAR: those it accepted; BPCER: bona fide transactions (genuine and impostor) rejected as attacks. Errors are left out.\n\n");
        md.push_str(&pad.to_markdown());
        md.push_str("\n| species | IAPAR |\n|---|---|\n");
        for (species, r) in &s.iapar {
            md.push_str(&format!("| {species} | {} |\n", rate_cell(Some(r))));
        }
    }
    if let Some((path, policy)) = h.policy {
        md.push_str(&format!(
            "\n## Policy `{}` ({})\n\n",
            cell(&policy.name),
            cell(&path.display().to_string())
        ));
        if let Some(source) = &policy.source {
            md.push_str(&format!("Source: {}.\n\n", cell(source)));
        }
        md.push_str(&format!(
            "Each claim is judged on the larger of the Clopper-Pearson and the subject \
             bootstrap one-sided upper bounds at {:.0} %; the transactions it needs are the \
             policy's, or the zero-failure minimum ⌈ln(1 − {}) / ln(1 − limit)⌉ if more.\n\n",
            policy.confidence * 100.0,
            policy.confidence
        ));
        md.push_str("| claim | limit | verdict | observed | upper bound | transactions (needed) | subjects (needed) | why |\n|---|---:|---|---:|---:|---:|---:|---|\n");
        for j in &s.claims {
            md.push_str(&format!(
                "| {} | {} | **{}** | {} | {} | {} ({}) | {} ({}) | {} |\n",
                j.claim,
                j.max,
                j.verdict.words(),
                j.rate.map_or("n/a".into(), pct),
                j.upper.map_or("n/a".into(), pct),
                j.trials,
                j.needed_transactions,
                j.subjects,
                j.needed_subjects,
                cell(&j.why)
            ));
        }
    }
    // The attack summary lists its own.
    let shown: &[Warning] = s.pad.as_ref().map_or(&[], |p| &p.warnings);
    let rest: Vec<&Warning> = s.warnings.iter().filter(|w| !shown.contains(w)).collect();
    if !rest.is_empty() {
        md.push_str("\n## Warnings\n\n");
        for w in rest {
            md.push_str(&format!("- {}\n", cell(&w.to_string())));
        }
    }
    let errors: Vec<&Record> = records
        .iter()
        .filter(|r| r.decision == Decision::Error)
        .collect();
    let unbacked = records.iter().filter(|r| r.unbacked).count();
    if unbacked > 0 {
        md.push_str(&format!(
            "\n**{unbacked} transaction(s): the device reported a face decision the bench does \
             not back** (no 照合番号B verified, or the chip's photo never read): the device \
             fails the campaign whatever its rates.\n"
        ));
    }
    if !errors.is_empty() {
        md.push_str("\n## Errors\n\n| transaction | truth | why |\n|---|---|---|\n");
        for r in errors {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                r.id,
                r.truth,
                cell(r.why.as_deref().unwrap_or(""))
            ));
        }
    }
    md
}

/// `accuracy.json` and `accuracy.md` in `out`.
pub fn write(out: &Path, h: &Header<'_>, s: &Summary, records: &[Record]) -> Result<(), String> {
    let json = serde_json::json!({
        "kind": "device",
        "device": {
            "vendor": h.device.vendor,
            "model": h.device.model,
            "firmware": h.device.firmware,
            "serial": h.device.serial,
        },
        "card_profile": h.card,
        "face_set": h.set,
        "clip_frames": h.frames,
        "seed": h.seed,
        "bootstrap_replicates": h.replicates,
        "confidence": REPORT_CONFIDENCE,
        "policy": h.policy.map(|(path, p)| serde_json::json!({
            "file": path,
            "name": p.name,
            "confidence": p.confidence,
            "passed": s.claims.iter().all(|c| c.verdict == super::policy::ClaimVerdict::Met),
        })),
        "summary": s,
        "transactions": records,
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    for (name, bytes) in [
        ("accuracy.json", text.into_bytes()),
        ("accuracy.md", markdown(h, s, records).into_bytes()),
    ] {
        let path = out.join(name);
        common::fs::write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use camera_replay::attack::AttackSpecies;

    fn record(kind: Truth, subject: &str, decision: Decision) -> Record {
        Record {
            id: "t".into(),
            truth: kind.name(),
            species: kind.species(),
            chip: format!("{subject}/1.jpg"),
            camera: "x/1.jpg".into(),
            decision,
            why: None,
            unbacked: false,
            millis: Some(1000.0),
            kind,
            subject: subject.into(),
        }
    }

    #[test]
    fn rates_count_what_the_bench_saw() {
        let print = Truth::Attack(AttackSpecies::ALL[0]);
        let records = vec![
            record(Truth::Genuine, "a", Decision::Accepted),
            record(Truth::Genuine, "a", Decision::Error),
            record(Truth::Genuine, "b", Decision::AttackRejected),
            record(Truth::Impostor, "a", Decision::Rejected),
            record(Truth::Impostor, "b", Decision::Accepted),
            record(Truth::Impostor, "b", Decision::Error),
            record(print, "a", Decision::AttackRejected),
            record(print, "b", Decision::Rejected),
            record(print, "b", Decision::Error),
        ];
        let resampling = Resampling {
            replicates: 100,
            seed: 1,
            one_sided: 0.8,
        };
        let s = summarise(&records, None, &resampling).unwrap();
        // FRR: the error and the attack rejection count against the device.
        let frr = s.frr.as_ref().unwrap();
        assert_eq!(
            (frr.proportion.count, frr.proportion.trials, frr.subjects),
            (2, 3, 2)
        );
        // FAR: the error is no accept.
        let far = s.far.as_ref().unwrap();
        assert_eq!((far.proportion.count, far.proportion.trials), (1, 3));
        let pad = s.pad.as_ref().unwrap();
        // APCER: of the two decided attacks, the one not rejected as an attack.
        assert_eq!(pad.apcer[0].apcer.count, 1);
        assert_eq!(pad.apcer[0].apcer.trials, 2);
        // BPCER: one of the four decided bona fide transactions rejected as an attack.
        let b = pad.bpcer.unwrap();
        assert_eq!((b.count, b.trials), (1, 4));
        let iapar = &s.iapar[AttackSpecies::ALL[0].name()];
        assert_eq!(iapar.proportion.count, 0);
        assert_eq!(s.counts["genuine"]["error"], 1);
        assert_eq!(s.times.unwrap().median_ms, 1000.0);

        let policy = super::super::policy::parse_policy(
            Path::new("p.yaml"),
            "name: p\nconfidence: 0.8\nfrr: {max: 1}\nattacks: {any: {max_iapar: 1}, still-photo: {max_apcer: 0.5}}\n",
        )
        .unwrap();
        let s = summarise(&records, Some(&policy), &resampling).unwrap();
        let verdicts: Vec<(&str, &str)> = s
            .claims
            .iter()
            .map(|c| (c.claim.as_str(), c.verdict.words()))
            .collect();
        let species = AttackSpecies::ALL[0].name();
        assert_eq!(
            verdicts,
            [
                ("FRR", "met"),
                (
                    "APCER (still-photo)",
                    "the campaign cannot support this claim"
                ),
                (format!("IAPAR ({species})").as_str(), "met"),
            ]
        );
        let md = markdown(
            &Header {
                device: &crate::dut::protocol::DeviceHello {
                    protocol: "myna-hil-dut".into(),
                    version: 1,
                    vendor: "v".into(),
                    model: "m".into(),
                    firmware: "f".into(),
                    serial: None,
                    capabilities: Vec::new(),
                    clip_formats: Vec::new(),
                },
                card: "valid",
                set: Path::new("set"),
                policy: Some((Path::new("p.yaml"), &policy)),
                frames: 45,
                seed: 1,
                replicates: 100,
            },
            &s,
            &records,
        );
        assert!(md.contains("| genuine | 1 | 0 | 1 | 1 |"), "{md}");
        assert!(
            md.contains("**the campaign cannot support this claim**"),
            "{md}"
        );
    }
}
