use super::*;
use crate::accuracy::{summarise, AccuracyOptions, AcquisitionCounts};
use crate::verdict::Measurement;
use std::time::Duration;

fn case(group: &str, name: &str, verdict: Verdict, reason: Option<&str>) -> CaseResult {
    CaseResult {
        reason: reason.map(str::to_owned),
        duration: Duration::from_micros(12_345),
        ..CaseResult::new(group, name, verdict)
    }
}

/// A small fixed run: one case of each verdict, evidence on some.
fn small_run() -> Vec<CaseResult> {
    let mut pass = case("conformance.valid", "select_jpki_ap", Verdict::Pass, None);
    pass.measurements = vec![
        Measurement::new("step.place_card", 1.25, "ms"),
        Measurement::new("total", 12.345, "ms"),
    ];
    pass.evidence = "> 00A4040C0A\n< 9000\n".into();
    let mut fail = case(
        "reception.face",
        "match",
        Verdict::Fail,
        Some("expected route face, got card_pin"),
    );
    fail.duration = Duration::from_millis(2_400);
    fail.measurements = vec![
        Measurement::new("step.face.match", 2_301.5, "ms"),
        Measurement::new("total", 2_400.0, "ms"),
    ];
    fail.evidence =
        "events:\n      0.193 ms  screen reading_card\n   2301.5 ms  face try 1: no match".into();
    let skip = case(
        "conformance.phone",
        "surface_ap",
        Verdict::Skip,
        Some("a phone token has no card-surface AP"),
    );
    let inconc = case(
        "reception.grace",
        "in",
        Verdict::Inconc,
        Some("reader gone <USB>"),
    );
    let error = case(
        "reception.grace",
        "out",
        Verdict::Error,
        Some("bench: vpcd port 35963 busy"),
    );
    vec![pass, fail, skip, inconc, error]
}

fn identity() -> Vec<(String, String)> {
    [
        ("tool", "myna-hil 0.1.0"),
        ("partition", "whole run"),
        ("host", "bench-1"),
        ("started", "2026-04-01T09:30:05Z"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec()
}

fn requirements() -> Vec<Requirement> {
    vec![
        Requirement {
            id: "RQ-1".into(),
            title: "Selects the JPKI AP".into(),
            source: "JIS X 6320-4 §7".into(),
            mandatory: true,
            cases: vec!["conformance.valid.select_jpki_ap".into()],
        },
        Requirement {
            id: "RQ-2".into(),
            title: "Face match routes to face".into(),
            source: "MHLW spec 3.2".into(),
            mandatory: true,
            cases: vec![
                "reception.face.match".into(),
                "reception.face.never_ran".into(),
            ],
        },
        Requirement {
            id: "RQ-3".into(),
            title: "Phone token".into(),
            source: "MHLW spec 5".into(),
            mandatory: false,
            cases: vec!["conformance.phone.surface_ap".into()],
        },
    ]
}

fn input<'a>(cases: &'a dyn Cases, reqs: Option<&'a [Requirement]>) -> HtmlInput<'a> {
    HtmlInput {
        title: "myna-hil report".into(),
        identity: identity(),
        cases,
        latency: &[],
        requirements: reqs,
        accuracy: None,
    }
}

/// `id="name">N<` → N.
fn count_of(html: &str, id: &str) -> usize {
    let marker = format!("id=\"{id}\">");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no #{id}")) + marker.len();
    html[at..]
        .split('<')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("#{id} holds no number"))
}

#[test]
fn html_of_a_small_run() {
    let cases = small_run();
    let latency = crate::latency::latency_table(&cases);
    let reqs = requirements();
    let summary = summarise(
        &{
            let mut s = Scores::new(vec![0.8, 0.7, 0.3, 0.9], vec![0.1, 0.2, 0.4, 0.05]);
            s.acquisition = Some(AcquisitionCounts {
                attempts: 20,
                failures: 1,
            });
            s
        },
        &AccuracyOptions {
            operating_threshold: Some(0.363),
            ..AccuracyOptions::default()
        },
    )
    .unwrap();
    let html = render(&HtmlInput {
        latency: &latency,
        accuracy: Some(HtmlAccuracy {
            summary: &summary,
            scores: None,
            pad: None,
        }),
        ..input(&cases, Some(&reqs))
    })
    .unwrap();
    insta::assert_snapshot!("html_small_run", html);
}

#[test]
fn counts_rows_and_requirement_status_agree() {
    let cases = small_run();
    let reqs = requirements();
    let html = render(&input(&cases, Some(&reqs))).unwrap();
    for (id, n) in [
        ("count-pass", 1),
        ("count-fail", 1),
        ("count-error", 1),
        ("count-inconc", 1),
        ("count-skip", 1),
        ("count-total", 5),
        ("count-req-met", 1),
        ("count-req-not-met", 2),
        ("count-req-mandatory-not-met", 1),
    ] {
        assert_eq!(count_of(&html, id), n, "{id}");
    }
    assert_eq!(html.matches("data-verdict=").count(), 5);
    for v in VERDICTS {
        assert_eq!(html.matches(&format!("data-verdict=\"{v}\"")).count(), 1);
    }
    assert!(html.contains("<span class=\"v none\">no result</span> <code>reception.face.never_ran"));
    // Failures before the other cases; the traceability matrix before both.
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(at("id=\"traceability\"") < at("id=\"problems\""));
    assert!(at("data-verdict=\"fail\"") < at("data-verdict=\"pass\""));
    assert!(at("data-verdict=\"error\"") < at("data-verdict=\"skip\""));
    // Without a plan, no matrix.
    let plain = render(&input(&cases, None)).unwrap();
    assert!(!plain.contains("id=\"traceability\""));
}

#[test]
fn text_from_results_is_never_markup() {
    let mut c = case(
        "g",
        "<script>alert(1)</script>",
        Verdict::Fail,
        Some("<img src=x onerror=alert(2)> & \"quoted\" 'single'\u{1b}[31m"),
    );
    c.evidence = "</pre><script>alert(3)</script>".into();
    c.measurements = vec![Measurement::new("<b>step</b>", 1.0, "ms")];
    let reqs = vec![Requirement {
        id: "<i>R</i>".into(),
        title: "</td><script>".into(),
        source: "\"><svg onload=x>".into(),
        mandatory: true,
        cases: vec!["g.<script>alert(1)</script>".into()],
    }];
    let cases = vec![c];
    let mut page = input(&cases, Some(&reqs));
    page.title = "<title>x".into();
    page.identity
        .push(("device notes".into(), "<b>fw</b>".into()));
    let html = render(&page).unwrap();
    assert!(html.contains("<code>g.&lt;script&gt;alert(1)&lt;/script&gt;</code>"));
    assert!(html.contains(
        "&lt;img src=x onerror=alert(2)&gt; &amp; &quot;quoted&quot; &#39;single&#39;\\x1b[31m"
    ));
    assert!(html.contains("&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;fw&lt;/b&gt;"));
    assert!(html.contains("<title>&lt;title&gt;x</title>"));
    // The page's own markup has no script, no event handler, no link out.
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("<img"));
    assert!(!lower.contains("<svg onload"));
    assert!(!lower.contains("<i>r</i>") && !lower.contains("<b>"));
}

#[test]
fn the_page_loads_nothing() {
    let cases = small_run();
    let html = render(&input(&cases, Some(&requirements()))).unwrap();
    // Only SVG namespace URIs (not loaded) look like addresses.
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    for bad in [
        "http:",
        "https:",
        "<script",
        "<link rel=\"stylesheet",
        "@import",
        "url(",
    ] {
        assert!(!without_ns.contains(bad), "{bad}");
    }
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn evidence_is_bounded_per_case_and_in_all() {
    let long: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    let (shown, left) = bounded(&long);
    assert_eq!(shown.lines().count(), EVIDENCE_LINES);
    assert_eq!(left, 1000 - EVIDENCE_LINES);
    let wide = "é".repeat(EVIDENCE_BYTES);
    let (shown, left) = bounded(&wide);
    assert!(shown.len() <= EVIDENCE_BYTES && !shown.is_empty());
    assert_eq!(left, 1);

    // Many failing cases with big evidence: the page stays within the budget.
    let cases: Vec<CaseResult> = (0..400)
        .map(|i| {
            let mut c = case("g", &format!("c{i}"), Verdict::Fail, Some("x"));
            c.evidence = "0123456789abcdef\n".repeat(2000);
            c
        })
        .collect();
    let html = render(&input(&cases, None)).unwrap();
    assert!(
        html.len() < FAILURE_EVIDENCE_BUDGET + 400 * 1024,
        "{} bytes",
        html.len()
    );
    assert!(html.contains("evidence budget is spent"));
    assert!(html.contains("more line(s)"));
    assert_eq!(html.matches("data-verdict=\"fail\"").count(), 400);
}

#[test]
fn identity_rows_merge_in_place() {
    let merged = merge_identity(
        identity(),
        &[
            ("started".to_owned(), "2026-04-01T08:00:00Z".to_owned()),
            ("device".to_owned(), "Acme R1 firmware 2.0".to_owned()),
        ],
    );
    let keys: Vec<&str> = merged.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["tool", "partition", "host", "started", "device"]);
    assert_eq!(merged[3].1, "2026-04-01T08:00:00Z");
}

#[test]
fn accuracy_plots_are_inline_svg() {
    let scores = Scores::new(
        (0..200).map(|i| 0.5 + f64::from(i) / 500.0).collect(),
        (0..400).map(|i| f64::from(i) / 1000.0).collect(),
    );
    let summary = summarise(&scores, &AccuracyOptions::default()).unwrap();
    let cases: Vec<CaseResult> = Vec::new();
    let html = render(&HtmlInput {
        accuracy: Some(HtmlAccuracy {
            summary: &summary,
            scores: Some(&scores),
            pad: None,
        }),
        ..input(&cases, None)
    })
    .unwrap();
    let det = html.find("<figure id=\"det\">").expect("a DET figure");
    assert!(html[det..].contains("<svg"));
    assert!(html.contains("<figure id=\"score-histograms\">"));
    assert!(html.contains("rule of 3"), "the warning is shown");
    assert!(html.contains("No case ran."));
}

#[test]
fn an_unreadable_case_is_an_error() {
    struct Broken;
    impl Cases for Broken {
        fn count(&self) -> usize {
            1
        }
        fn case(&self, _: usize) -> std::io::Result<std::borrow::Cow<'_, CaseResult>> {
            Err(std::io::Error::other("torn"))
        }
    }
    let e = render(&input(&Broken, None)).unwrap_err();
    assert!(matches!(e, HtmlError::Case { index: 0, .. }), "{e}");
}
