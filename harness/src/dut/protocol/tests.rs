//! Unit tests of the codec: every message round trips, every error is typed, the
//! conversions are one to one, the line reader is bounded. The examples of
//! docs/adapter-protocol.md are checked by harness/tests/dut_protocol_doc.rs, the fuzzing is
//! harness/tests/dut_protocol_fuzz.rs.

use super::*;
use crate::reader::{Event, EventKind, FaceResult, ObservedOutcome, Stimulus};
use crate::rules::{ConsentChoice, ConsentItem, ConsentItems, ConsentStep, Document};
use crate::scenario::Method;
use std::collections::BTreeSet;
use std::io::{self, Read};
use std::time::Duration;
use time::macros::date;

fn every_to_device() -> Vec<ToDevice> {
    vec![
        ToDevice::hello(),
        ToDevice::CaseStart {
            id: 1,
            case: "pin.correct".into(),
            today: Some(date!(2025 - 11 - 01)),
            facility: Some("1312345678".into()),
            service_url: Some("http://192.0.2.1:8080/".into()),
            service_deadline_ms: Some(8000.0),
            card_deadline_ms: Some(5000.5),
            consent_history: vec![
                WireConsentRecord {
                    facility: "clinic-a".into(),
                    on: date!(2025 - 10 - 01),
                    choice: WireConsent::All,
                    items: vec![],
                },
                WireConsentRecord {
                    facility: "clinic-b".into(),
                    on: date!(2025 - 10 - 02),
                    choice: WireConsent::Items,
                    items: vec![WireConsentItem::Medication],
                },
                WireConsentRecord {
                    facility: "clinic-c".into(),
                    on: date!(2025 - 10 - 03),
                    choice: WireConsent::None,
                    items: vec![],
                },
            ],
            limit_category: Some(crate::rules::LimitCategory::General),
            earlier_face_failures: Some(9),
        },
        ToDevice::CaseStart {
            id: 1,
            case: "x".into(),
            today: None,
            facility: None,
            service_url: None,
            service_deadline_ms: None,
            card_deadline_ms: None,
            consent_history: vec![],
            limit_category: None,
            earlier_face_failures: None,
        },
        ToDevice::CardPresent {
            id: 2,
            profile: "valid".into(),
            reader: Some("Virtual PCD 00 00".into()),
            real: false,
        },
        ToDevice::CardPresent {
            id: 2,
            profile: "vendor-card-7".into(),
            reader: None,
            real: true,
        },
        ToDevice::CardRemoved { id: 3 },
        ToDevice::ClipOffer {
            id: 4,
            name: "clip-abababababababab.avi".into(),
            format: ClipFormat::AviMjpeg,
            size: 300_000,
            sha256: "ab".repeat(32),
        },
        ToDevice::ClipChunk {
            id: 4,
            name: "clip-abababababababab.avi".into(),
            offset: 98_304,
            data: vec![0, 1, 2, 255],
            sha256: "cd".repeat(32),
        },
        ToDevice::ClipEnd {
            id: 4,
            name: "clip-abababababababab.avi".into(),
        },
        ToDevice::CameraStart {
            id: 4,
            fps: 15.0,
            clip: Some(Clip {
                name: "clip-abababababababab.avi".into(),
                sha256: "ab".repeat(32),
            }),
        },
        ToDevice::CameraStart {
            id: 4,
            fps: 29.97,
            clip: None,
        },
        ToDevice::CameraFrame {
            t_ms: 66.667,
            jpeg: vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0xFF, 0xD9],
        },
        ToDevice::CameraStop { id: 5 },
        ToDevice::ChooseMethod {
            id: 6,
            method: WireMethod::Face,
        },
        ToDevice::ChooseMethod {
            id: 6,
            method: WireMethod::Pin,
        },
        ToDevice::PinKeys {
            id: 7,
            positions: KeyPositions(vec![3, 0, 9, 5]),
        },
        ToDevice::Consent {
            id: 8,
            choice: WireConsent::All,
            items: vec![],
        },
        ToDevice::Consent {
            id: 8,
            choice: WireConsent::Items,
            items: vec![WireConsentItem::Medication, WireConsentItem::HealthCheckups],
        },
        ToDevice::Consent {
            id: 8,
            choice: WireConsent::Reuse,
            items: vec![],
        },
        ToDevice::Consent {
            id: 8,
            choice: WireConsent::None,
            items: vec![],
        },
        ToDevice::Register {
            id: 9,
            accept: true,
        },
        ToDevice::StaffCheck {
            id: 9,
            confirm: false,
        },
        ToDevice::ShowDocuments {
            id: 10,
            documents: vec![
                WireDocument::PortalScreen,
                WireDocument::PortalPdf,
                WireDocument::QualificationNotice,
                WireDocument::QualificationCertificate {
                    valid_until: date!(2026 - 11 - 01),
                },
                WireDocument::OldInsuranceCard { valid_until: None },
                WireDocument::OldInsuranceCard {
                    valid_until: Some(date!(2025 - 12 - 01)),
                },
            ],
        },
        ToDevice::OperatorPrompt {
            id: 11,
            prompt: "consent-four-items".into(),
            ja: "同意画面に4つの項目がありますか？".into(),
            en: "Four items on the consent screen?".into(),
            kind: WireAnswerKind::Confirm,
            offered: vec!["yes".into(), "no".into()],
            deadline_ms: 300_000.0,
        },
        ToDevice::OperatorPrompt {
            id: 12,
            prompt: "what-shown".into(),
            ja: "表示は？".into(),
            en: "What is shown?".into(),
            kind: WireAnswerKind::Choose,
            offered: vec!["rejected".into(), "accepted".into()],
            deadline_ms: 1.5,
        },
        ToDevice::OperatorPrompt {
            id: 13,
            prompt: "note".into(),
            ja: "メモ".into(),
            en: "Note".into(),
            kind: WireAnswerKind::Text,
            offered: vec![],
            deadline_ms: 0.0,
        },
        ToDevice::OperatorWithdraw {
            prompt: "what-shown".into(),
        },
        ToDevice::Reset { id: u64::MAX },
    ]
}

fn every_from_device() -> Vec<FromDevice> {
    vec![
        FromDevice::Hello(DeviceHello {
            protocol: PROTOCOL.into(),
            version: VERSION,
            vendor: "Example 株式会社".into(),
            model: "FR-1".into(),
            firmware: "1.2.3".into(),
            serial: Some("SN0001".into()),
            capabilities: vec![
                Capability::Pin,
                Capability::Face,
                Capability::CameraClips,
                Capability::CameraFrames,
                Capability::Consent,
                Capability::Registration,
                Capability::Desk,
                Capability::Other("nfc".into()),
            ],
            clip_formats: vec!["avi_mjpeg".into(), "y4m".into()],
        }),
        FromDevice::Done { id: 7 },
        FromDevice::ClipHave {
            id: 8,
            offset: 98_304,
        },
        FromDevice::Error(ErrorReply {
            id: None,
            code: ErrorCode::VersionMismatch,
            message: "this device speaks version 2".into(),
            supported_versions: Some(vec![2, 3]),
        }),
        FromDevice::error(Some(4), ErrorCode::Other("printer_jam".into()), ""),
        FromDevice::Screen {
            at_ms: 0.0,
            name: "pin_entry".into(),
        },
        FromDevice::KeypadLayout {
            at_ms: 1.5,
            digits: [7, 2, 9, 0, 4, 1, 8, 3, 6, 5],
            tries_left: Some(3),
        },
        FromDevice::KeysPressed {
            at_ms: 2.0,
            count: 4,
        },
        FromDevice::VerifyAnswered {
            at_ms: 3.25,
            sw: 0x63C2,
        },
        FromDevice::CardPath {
            at_ms: 4.0,
            ok: false,
            failure: Some("PinLocked: no PIN tries left".into()),
        },
        FromDevice::CardPath {
            at_ms: 4.0,
            ok: true,
            failure: None,
        },
        FromDevice::FaceAttempt {
            at_ms: 812.004,
            attempt: 1,
            frames: 12,
            best_score: Some(0.8125),
            matched: true,
            presentation: "live".into(),
        },
        FromDevice::FaceAttempt {
            at_ms: 812.004,
            attempt: 2,
            frames: 0,
            best_score: None,
            matched: false,
            presentation: "printed_photo".into(),
        },
        FromDevice::FaceResult {
            at_ms: 900.0,
            result: WireFaceResult::AttackRejected,
            consecutive_failures: 2,
        },
        FromDevice::Qualification {
            at_ms: 950.0,
            summary: "valid, 30%, limit A03".into(),
        },
        FromDevice::Outcome {
            at_ms: 1000.0,
            route: crate::rules::Route::CardFace,
            share_percent: 30,
            limit_applied: true,
            qualification_data_only: false,
        },
        FromDevice::Timing {
            at_ms: 1000.0,
            name: "face.match".into(),
            ms: 412.75,
        },
        FromDevice::Note {
            at_ms: 1001.0,
            text: "line one\nline two \"quoted\" \u{0}".into(),
        },
        FromDevice::OperatorAnswer {
            at_ms: 1002.0,
            prompt: "consent-four-items".into(),
            answer: "はい".into(),
        },
    ]
}

fn round_trip<M: WireMessage + PartialEq>(message: &M) {
    let line = encode(message);
    assert_eq!(line.last(), Some(&b'\n'));
    assert_eq!(
        line.iter().filter(|&&b| b == b'\n').count(),
        1,
        "one line: {}",
        String::from_utf8_lossy(&line)
    );
    let back: M = decode(&line[..line.len() - 1])
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&line)));
    assert_eq!(&back, message);
    let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(value["type"], message.type_name());
}

#[test]
fn every_message_type_round_trips() {
    let mut seen = BTreeSet::new();
    for m in every_to_device() {
        round_trip(&m);
        seen.insert(m.type_name());
    }
    assert_eq!(seen, ToDevice::TYPES.iter().copied().collect());
    let mut seen = BTreeSet::new();
    for m in every_from_device() {
        round_trip(&m);
        seen.insert(m.type_name());
    }
    assert_eq!(seen, FromDevice::TYPES.iter().copied().collect());
}

#[test]
fn wire_forms_are_as_documented() {
    let line = |m: &dyn Fn() -> Vec<u8>| String::from_utf8(m()).unwrap();
    assert_eq!(
        line(&|| encode(&FromDevice::VerifyAnswered {
            at_ms: 3.0,
            sw: 0x63C2
        })),
        "{\"type\":\"verify_answered\",\"at_ms\":3.0,\"sw\":\"63C2\"}\n"
    );
    assert_eq!(
        line(&|| encode(&ToDevice::PinKeys {
            id: 7,
            positions: KeyPositions(vec![3, 0])
        })),
        "{\"type\":\"pin_keys\",\"id\":7,\"positions\":[3,0]}\n"
    );
    assert_eq!(
        line(&|| encode(&ToDevice::ShowDocuments {
            id: 1,
            documents: vec![WireDocument::QualificationCertificate {
                valid_until: date!(2026 - 01 - 02)
            }]
        })),
        "{\"type\":\"show_documents\",\"id\":1,\"documents\":\
         [{\"kind\":\"qualification_certificate\",\"valid_until\":\"2026-01-02\"}]}\n"
    );
    assert_eq!(
        line(&|| encode(&ToDevice::CameraFrame {
            t_ms: 0.0,
            jpeg: b"\xFF\xD8".to_vec()
        })),
        "{\"type\":\"camera_frame\",\"t_ms\":0.0,\"jpeg\":\"/9g=\"}\n"
    );
    assert_eq!(
        line(&|| encode(&ToDevice::hello())),
        format!(
            "{{\"type\":\"hello\",\"protocol\":\"myna-hil-dut\",\"version\":1,\"harness\":\"{}\"}}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn lenient_forms_are_read() {
    // Integers for times, lower-case status words, a CRLF ending, unknown fields, `null`
    // for optional fields.
    let m: FromDevice =
        decode(br#"{"type":"verify_answered","at_ms":3,"sw":"63c2","extra":{"nested":[1,2]}}"#)
            .unwrap();
    assert_eq!(
        m,
        FromDevice::VerifyAnswered {
            at_ms: 3.0,
            sw: 0x63C2
        }
    );
    let m: ToDevice =
        decode(b"{\"id\":5,\"type\":\"card_present\",\"profile\":\"valid\",\"reader\":null,\"real\":false}\r")
            .unwrap();
    assert_eq!(
        m,
        ToDevice::CardPresent {
            id: 5,
            profile: "valid".into(),
            reader: None,
            real: false
        }
    );
    let m: FromDevice = decode(br#"{"type":"error","code":"not_now"}"#).unwrap();
    assert_eq!(m, FromDevice::error(None, ErrorCode::NotNow, ""));
    // The bench settings of case_start may all be null.
    let m: ToDevice = decode(
        br#"{"type":"case_start","id":1,"case":"x","today":null,"service_deadline_ms":null,"card_deadline_ms":null,"consent_history":null,"limit_category":null,"earlier_face_failures":null}"#,
    )
    .unwrap();
    match m.to_action().unwrap().1 {
        Action::StartCase { bench, .. } => assert_eq!(bench, BenchSettings::default()),
        other => panic!("{other:?}"),
    }
    let m: ToDevice = decode(
        br#"{"type":"case_start","id":1,"case":"x","service_deadline_ms":8000,"limit_category":"A03","consent_history":[{"facility":"clinic-a","on":"2025-10-01","choice":"items","items":["medication"]}]}"#,
    )
    .unwrap();
    match m.to_action().unwrap().1 {
        Action::StartCase { bench, .. } => {
            assert_eq!(bench.service_deadline, Some(Duration::from_secs(8)));
            assert_eq!(
                bench.limit_category,
                Some(crate::rules::LimitCategory::from_code("A03").unwrap())
            );
            assert_eq!(
                bench.consent_history[0].choice,
                ConsentChoice::Individually([ConsentItem::Medication].into_iter().collect())
            );
        }
        other => panic!("{other:?}"),
    }
    let m: ToDevice = decode(br#"{"type":"consent","id":1,"choice":"items","items":[]}"#).unwrap();
    assert_eq!(
        m.to_action().unwrap().1,
        Action::Consent(ConsentStep::Choose(ConsentChoice::Individually(
            ConsentItems::none()
        )))
    );
}

fn decode_err<M: WireMessage>(line: &[u8]) -> WireError {
    match decode::<M>(line) {
        Ok(m) => panic!("{} decoded as {m:?}", String::from_utf8_lossy(line)),
        Err(e) => e,
    }
}

#[test]
fn every_error_is_typed() {
    use WireError as E;
    let long = vec![b' '; MAX_LINE + 1];
    assert!(matches!(
        decode_err::<ToDevice>(&long),
        E::LineTooLong { limit: MAX_LINE }
    ));
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"type\":\"reset\",\"id\":1,\"x\":\"\xFF\"}"),
        E::InvalidUtf8 { valid_up_to: 28 }
    ));
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"type\":"),
        E::InvalidJson { .. }
    ));
    assert!(matches!(decode_err::<ToDevice>(b""), E::InvalidJson { .. }));
    assert!(matches!(decode_err::<ToDevice>(b"[1,2]"), E::NotAnObject));
    assert!(matches!(
        decode_err::<ToDevice>(b"\"reset\""),
        E::NotAnObject
    ));
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"id\":1}"),
        E::MissingType
    ));
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"type\":7}"),
        E::InvalidValue { .. }
    ));
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"type\":\"teleport\",\"id\":1}"),
        E::UnknownType { type_name } if type_name == "teleport"
    ));
    // Each direction knows only its own types.
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"type\":\"done\",\"id\":1}"),
        E::UnknownType { .. }
    ));
    assert!(matches!(
        decode_err::<FromDevice>(b"{\"type\":\"reset\",\"id\":1}"),
        E::UnknownType { .. }
    ));
    assert!(matches!(
        decode_err::<ToDevice>(b"{\"type\":\"reset\"}"),
        E::MissingField { type_name, field } if type_name == "reset" && field == "id"
    ));
    assert!(matches!(
        decode_err::<FromDevice>(b"{\"type\":\"screen\",\"name\":\"idle\"}"),
        E::MissingField { field, .. } if field == "at_ms"
    ));
    assert!(matches!(
        decode_err::<ToDevice>(
            br#"{"type":"hello","protocol":"myna-hil-dut","version":2,"harness":"9"}"#
        ),
        E::VersionMismatch { version: 2, .. }
    ));
    assert!(matches!(
        decode_err::<FromDevice>(br#"{"type":"hello","protocol":"other","version":1}"#),
        E::VersionMismatch { protocol, version: 1 } if protocol == "other"
    ));
    assert!(matches!(
        decode_err::<FromDevice>(br#"{"type":"hello","protocol":"myna-hil-dut"}"#),
        E::MissingField { field, .. } if field == "version"
    ));
    assert!(matches!(
        decode_err::<FromDevice>(br#"{"type":"hello","protocol":"myna-hil-dut","version":"1"}"#),
        E::InvalidValue { .. }
    ));
    assert!(matches!(
        decode_err::<FromDevice>(br#"{"type":"hello","protocol":"myna-hil-dut","version":1}"#),
        E::MissingField { field, .. } if field == "vendor"
    ));
}

#[test]
fn bad_values_are_refused_at_decoding() {
    let bad_from: &[&[u8]] = &[
        br#"{"type":"keypad_layout","at_ms":0,"digits":[0,1,2,3,4,5,6,7,8,12]}"#,
        br#"{"type":"keypad_layout","at_ms":0,"digits":[0,1,2,3,4,5,6,7,8]}"#,
        br#"{"type":"keypad_layout","at_ms":0,"digits":[0,1,2,3,4,5,6,7,8,9,0]}"#,
        br#"{"type":"keypad_layout","at_ms":0,"digits":[0,1,2,3,4,5,6,7,8,9],"tries_left":16}"#,
        br#"{"type":"keypad_layout","at_ms":0,"digits":[0,1,2,3,4,5,6,7,8,9],"tries_left":-1}"#,
        br#"{"type":"outcome","at_ms":0,"route":"card_pin","share_percent":300,"limit_applied":false,"qualification_data_only":false}"#,
        br#"{"type":"outcome","at_ms":0,"route":"card_pn","share_percent":30,"limit_applied":false,"qualification_data_only":false}"#,
        br#"{"type":"screen","at_ms":-1,"name":"idle"}"#,
        br#"{"type":"screen","at_ms":1e300,"name":"idle"}"#,
        br#"{"type":"screen","at_ms":"5","name":"idle"}"#,
        br#"{"type":"verify_answered","at_ms":0,"sw":"63C"}"#,
        br#"{"type":"verify_answered","at_ms":0,"sw":"+3C2"}"#,
        br#"{"type":"verify_answered","at_ms":0,"sw":25538}"#,
        br#"{"type":"timing","at_ms":0,"name":"face.match","ms":-0.5}"#,
        br#"{"type":"face_attempt","at_ms":0,"attempt":1,"frames":1,"best_score":1e39,"matched":true,"presentation":"live"}"#,
        br#"{"type":"face_result","at_ms":0,"result":"maybe","consecutive_failures":0}"#,
        br#"{"type":"operator_answer","at_ms":0,"prompt":"Bad`id","answer":"yes"}"#,
        br#"{"type":"operator_answer","at_ms":0,"prompt":"p","answer":" "}"#,
        br#"{"type":"done","id":-1}"#,
        br#"{"type":"done","id":1.5}"#,
        br#"{"type":"done","id":18446744073709551616}"#,
    ];
    for line in bad_from {
        assert!(
            matches!(
                decode_err::<FromDevice>(line),
                WireError::InvalidValue { .. }
            ),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    let bad_to: &[&[u8]] = &[
        br#"{"type":"pin_keys","id":1,"positions":[1,10]}"#,
        br#"{"type":"pin_keys","id":1,"positions":[1,-1]}"#,
        br#"{"type":"pin_keys","id":1,"positions":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"#,
        br#"{"type":"camera_start","id":1,"fps":0}"#,
        br#"{"type":"camera_start","id":1,"fps":15,"clip":{"path":"a","sha256":"ABCD"}}"#,
        br#"{"type":"camera_frame","t_ms":0,"jpeg":"not base64!"}"#,
        br#"{"type":"consent","id":1,"choice":"all","items":["medication"]}"#,
        br#"{"type":"consent","id":1,"choice":"some"}"#,
        br#"{"type":"show_documents","id":1,"documents":[{"kind":"qualification_certificate"}]}"#,
        br#"{"type":"show_documents","id":1,"documents":[{"kind":"qualification_certificate","valid_until":"2026-02-30"}]}"#,
        br#"{"type":"show_documents","id":1,"documents":[{"kind":"passport"}]}"#,
        br#"{"type":"case_start","id":1,"case":"x","today":"01/11/2025"}"#,
        br#"{"type":"case_start","id":1,"case":"x","service_deadline_ms":-1}"#,
        br#"{"type":"case_start","id":1,"case":"x","card_deadline_ms":"5000"}"#,
        br#"{"type":"case_start","id":1,"case":"x","limit_category":"Z99"}"#,
        br#"{"type":"case_start","id":1,"case":"x","earlier_face_failures":300}"#,
        br#"{"type":"case_start","id":1,"case":"x","consent_history":[{"facility":"a","on":"2025-10-01","choice":"reuse"}]}"#,
        br#"{"type":"case_start","id":1,"case":"x","consent_history":[{"facility":"a","on":"2025-10-01","choice":"all","items":["medication"]}]}"#,
        br#"{"type":"case_start","id":1,"case":"x","consent_history":[{"facility":"a","choice":"all"}]}"#,
        br#"{"type":"choose_method","id":1,"method":"iris"}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"Bad Id","ja":"a","en":"a","kind":"text","deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":" ","en":"a","kind":"text","deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"confirm","offered":["no","yes"],"deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"choose","deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"choose","offered":["1","2","3","4","5","6","7","8","9"],"deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"text","offered":["x"],"deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"vote","deadline_ms":1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"text","deadline_ms":-1}"#,
        br#"{"type":"operator_prompt","id":1,"prompt":"p","ja":"a","en":"a","kind":"text"}"#,
        br#"{"type":"operator_withdraw","prompt":"-p"}"#,
    ];
    for line in bad_to {
        let e = decode_err::<ToDevice>(line);
        assert!(
            matches!(
                e,
                WireError::InvalidValue { .. } | WireError::MissingField { .. }
            ),
            "{}: {e:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn error_codes_a_device_answers() {
    assert_eq!(
        WireError::LineTooLong { limit: 1 }.code(),
        Some(ErrorCode::LineTooLong)
    );
    assert_eq!(
        decode_err::<ToDevice>(b"{\"type\":\"x\"}").code(),
        Some(ErrorCode::UnknownType)
    );
    assert_eq!(
        decode_err::<ToDevice>(b"{").code(),
        Some(ErrorCode::BadMessage)
    );
    assert_eq!(
        decode_err::<ToDevice>(br#"{"type":"hello","protocol":"myna-hil-dut","version":9}"#).code(),
        Some(ErrorCode::VersionMismatch)
    );
    assert_eq!(WireError::Io(io::ErrorKind::TimedOut.into()).code(), None);
}

#[test]
fn unknown_names_are_kept() {
    for code in ErrorCode::KNOWN {
        assert_eq!(ErrorCode::from(String::from(code.clone())), code);
    }
    for cap in Capability::KNOWN {
        assert_eq!(Capability::from(String::from(cap.clone())), cap);
    }
    let m: FromDevice =
        decode(br#"{"type":"error","id":3,"code":"tray_open","message":"m"}"#).unwrap();
    assert_eq!(
        m,
        FromDevice::error(Some(3), ErrorCode::Other("tray_open".into()), "m")
    );
    assert_eq!(m.answers(), Some(3));
}

#[test]
fn key_positions_never_reach_a_log() {
    let m = ToDevice::PinKeys {
        id: 7,
        positions: KeyPositions(vec![3, 0, 9, 5]),
    };
    assert_eq!(
        m.redacted(),
        r#"{"type":"pin_keys","id":7,"positions":"<4 redacted>"}"#
    );
    let debug = format!("{m:?}");
    assert!(!debug.contains("3, 0, 9, 5"), "{debug}");
    let action = m.to_action().unwrap().1;
    let debug = format!("{action:?}");
    assert_eq!(debug, "PressKeys(<4 redacted>)");
    let frame = ToDevice::CameraFrame {
        t_ms: 1.0,
        jpeg: vec![0; 1000],
    };
    assert_eq!(
        frame.redacted(),
        r#"{"type":"camera_frame","t_ms":1,"jpeg":"<1000 bytes>"}"#
    );
    assert_eq!(
        ToDevice::Reset { id: 2 }.redacted(),
        r#"{"type":"reset","id":2}"#
    );
}

#[test]
fn ids_and_answers() {
    for m in every_to_device() {
        let expect = !matches!(
            m,
            ToDevice::Hello(_) | ToDevice::CameraFrame { .. } | ToDevice::OperatorWithdraw { .. }
        );
        assert_eq!(m.id().is_some(), expect, "{m:?}");
        assert_eq!(m.to_action().is_some(), expect, "{m:?}");
    }
    assert_eq!(FromDevice::Done { id: 4 }.answers(), Some(4));
    assert_eq!(
        FromDevice::Screen {
            at_ms: 0.0,
            name: "x".into()
        }
        .answers(),
        None
    );
}

// ---------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------

fn every_event_kind() -> Vec<EventKind> {
    vec![
        EventKind::Screen {
            name: "choose_method".into(),
        },
        EventKind::KeypadLayout {
            digits: [3, 1, 4, 5, 9, 2, 6, 8, 7, 0],
            tries_left: Some(2),
        },
        EventKind::KeypadLayout {
            digits: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            tries_left: None,
        },
        EventKind::KeysPressed { count: 4 },
        EventKind::VerifyAnswered { sw: 0x9000 },
        EventKind::CardPath {
            ok: false,
            failure: Some("ServiceDown: timeout".into()),
        },
        EventKind::CardPath {
            ok: true,
            failure: None,
        },
        EventKind::FaceAttempt {
            attempt: 1,
            frames: 30,
            best_score: Some(0.41),
            matched: false,
            presentation: "live".into(),
        },
        EventKind::FaceAttempt {
            attempt: 3,
            frames: 0,
            best_score: None,
            matched: false,
            presentation: "screen_replay".into(),
        },
        EventKind::FaceResult {
            result: FaceResult::Matched,
            consecutive_failures: 0,
        },
        EventKind::FaceResult {
            result: FaceResult::NoMatch,
            consecutive_failures: 1,
        },
        EventKind::FaceResult {
            result: FaceResult::AttackRejected,
            consecutive_failures: 2,
        },
        EventKind::FaceResult {
            result: FaceResult::Locked,
            consecutive_failures: 5,
        },
        EventKind::FaceResult {
            result: FaceResult::Unavailable,
            consecutive_failures: 0,
        },
        EventKind::Qualification {
            summary: "no answer: timed out".into(),
        },
        EventKind::Outcome(ObservedOutcome {
            route: crate::rules::Route::PortalPdf,
            share_percent: 20,
            limit_applied: false,
            qualification_data_only: true,
        }),
        EventKind::Note {
            text: "step not asked for".into(),
        },
    ]
}

#[test]
fn events_convert_one_to_one_both_ways_and_over_the_wire() {
    let kinds = every_event_kind();
    for (i, kind) in kinds.into_iter().enumerate() {
        let event = Event {
            at: Duration::from_micros(1_234_567 * i as u64 + 1),
            kind,
        };
        let message = FromDevice::from_event(&event);
        let line = encode(&message);
        let back: FromDevice = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(back.to_event().as_ref(), Some(&event));
        assert_eq!(Report::from(back.clone()), Report::Event(event.clone()));
        assert_eq!(FromDevice::from(Report::Event(event)), back);
    }
}

#[test]
fn timings_and_answers_convert() {
    let m = FromDevice::timing(
        Duration::from_micros(2_000_500),
        "face.match",
        Duration::from_micros(412_750),
    );
    assert_eq!(
        String::from_utf8(encode(&m)).unwrap(),
        "{\"type\":\"timing\",\"at_ms\":2000.5,\"name\":\"face.match\",\"ms\":412.75}\n"
    );
    let report = Report::from(m.clone());
    assert_eq!(
        report,
        Report::Timing {
            at: Duration::from_micros(2_000_500),
            name: "face.match".into(),
            took: Duration::from_micros(412_750)
        }
    );
    assert_eq!(FromDevice::from(report), m);
    assert_eq!(m.to_event(), None);
    for m in [
        FromDevice::Done { id: 1 },
        FromDevice::error(Some(2), ErrorCode::Busy, "busy"),
    ] {
        assert_eq!(FromDevice::from(Report::from(m.clone())), m);
    }
    let not_now = ErrorReply {
        id: Some(1),
        code: ErrorCode::NotNow,
        message: "no PIN pad".into(),
        supported_versions: None,
    };
    assert_eq!(
        not_now.driver_error(),
        Some(crate::reader::DriverError::NotNow("no PIN pad".into()))
    );
    let unsupported = ErrorReply {
        code: ErrorCode::Unsupported,
        ..not_now.clone()
    };
    assert!(matches!(
        unsupported.driver_error(),
        Some(crate::reader::DriverError::Unsupported(_))
    ));
    let internal = ErrorReply {
        code: ErrorCode::Internal,
        ..not_now
    };
    assert_eq!(internal.driver_error(), None);
}

#[test]
fn millis_keep_microseconds() {
    for us in [0u64, 1, 999, 1_000, 123_456_789, 86_400_000_000, 1 << 40] {
        let d = Duration::from_micros(us);
        assert_eq!(millis_to_duration(millis(d)), d, "{us} µs");
    }
    assert_eq!(millis_to_duration(-1.0), Duration::ZERO);
    assert_eq!(millis_to_duration(f64::NAN), Duration::ZERO);
    assert_eq!(millis_to_duration(f64::INFINITY), Duration::ZERO);
    assert!(millis_to_duration(1e300) > Duration::from_secs(1 << 40));
}

fn every_action() -> Vec<Action> {
    let items: ConsentItems = [ConsentItem::PastSurgery, ConsentItem::HealthCheckups]
        .into_iter()
        .collect();
    vec![
        Action::StartCase {
            case: "face.match".into(),
            today: Some(date!(2026 - 04 - 01)),
            facility: Some("F1".into()),
            service_url: None,
            bench: BenchSettings::default(),
        },
        Action::StartCase {
            case: "consent.reuse".into(),
            today: None,
            facility: None,
            service_url: Some("http://127.0.0.1:1/".into()),
            bench: BenchSettings {
                service_deadline: Some(Duration::from_micros(8_000_001)),
                card_deadline: Some(Duration::from_secs(5)),
                consent_history: vec![
                    crate::scenario::PastConsent {
                        facility: "clinic-a".into(),
                        on: date!(2025 - 10 - 01),
                        choice: ConsentChoice::AgreeToAll,
                    },
                    crate::scenario::PastConsent {
                        facility: "clinic-b".into(),
                        on: date!(2025 - 10 - 02),
                        choice: ConsentChoice::Individually(items),
                    },
                    crate::scenario::PastConsent {
                        facility: "clinic-c".into(),
                        on: date!(2025 - 10 - 03),
                        choice: ConsentChoice::Individually(ConsentItems::none()),
                    },
                ],
                limit_category: Some(crate::rules::LimitCategory::U),
                earlier_face_failures: Some(10),
            },
        },
        Action::PlaceCard(CardInfo {
            profile: "valid".into(),
            reader: Some("Virtual PCD 00 01".into()),
            real: false,
        }),
        Action::RemoveCard,
        Action::CameraStart(CameraSource::Clip {
            name: "clip-0f0f0f0f0f0f0f0f.y4m".into(),
            sha256: "0f".repeat(32),
            fps: 15.0,
        }),
        Action::CameraStart(CameraSource::Frames { fps: 30.0 }),
        Action::CameraStop,
        Action::Choose(Method::Face),
        Action::Choose(Method::Pin),
        Action::PressKeys(vec![9, 0, 4, 4]),
        Action::PressKeys(vec![]),
        Action::Consent(ConsentStep::Reuse),
        Action::Consent(ConsentStep::Choose(ConsentChoice::AgreeToAll)),
        Action::Consent(ConsentStep::Choose(ConsentChoice::Individually(
            ConsentItems::none(),
        ))),
        Action::Consent(ConsentStep::Choose(ConsentChoice::Individually(items))),
        Action::Consent(ConsentStep::Choose(ConsentChoice::Individually(
            ConsentItems::all(),
        ))),
        Action::Register(false),
        Action::Show(vec![
            Document::PortalScreen,
            Document::QualificationCertificate {
                valid_until: date!(2026 - 12 - 31),
            },
            Document::OldInsuranceCard { valid_until: None },
        ]),
        Action::Show(vec![]),
        Action::Reset,
    ]
}

#[test]
fn actions_round_trip_over_the_wire() {
    for (id, action) in every_action().into_iter().enumerate() {
        let message = action.to_message(id as u64).unwrap();
        let line = encode(&message);
        let back: ToDevice = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(back.to_action(), Some((id as u64, action)));
    }
}

#[test]
fn consent_forms() {
    let wire = |step| match Action::Consent(step).to_message(1).unwrap() {
        ToDevice::Consent { choice, items, .. } => (choice, items),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        wire(ConsentStep::Choose(ConsentChoice::Individually(
            ConsentItems::none()
        ))),
        (WireConsent::None, vec![])
    );
    assert_eq!(
        wire(ConsentStep::Choose(ConsentChoice::Individually(
            [ConsentItem::Medication, ConsentItem::PastSurgery]
                .into_iter()
                .collect()
        ))),
        (
            WireConsent::Items,
            vec![WireConsentItem::PastSurgery, WireConsentItem::Medication]
        )
    );
}

#[test]
fn actions_without_a_wire_form_are_errors() {
    assert_eq!(
        Action::PressKeys(vec![1, 10]).to_message(1),
        Err(ConvertError::KeyOffPad(10))
    );
    assert_eq!(
        Action::PressKeys(vec![1; 17]).to_message(1),
        Err(ConvertError::TooManyKeys(17))
    );
    assert!(matches!(
        Action::CameraStart(CameraSource::Frames { fps: f64::NAN }).to_message(1),
        Err(ConvertError::Invalid(_))
    ));
    assert!(matches!(
        Action::CameraStart(CameraSource::Clip {
            name: "a".into(),
            sha256: "xyz".into(),
            fps: 15.0
        })
        .to_message(1),
        Err(ConvertError::Invalid(_))
    ));
}

#[test]
fn stimuli_convert() {
    assert_eq!(
        Action::from_stimulus(&Stimulus::PressKeys(vec![1, 2]), None).unwrap(),
        Action::PressKeys(vec![1, 2])
    );
    assert_eq!(
        Action::from_stimulus(&Stimulus::Choose(Method::Face), None).unwrap(),
        Action::Choose(Method::Face)
    );
    assert_eq!(
        Action::from_stimulus(&Stimulus::Register(true), None).unwrap(),
        Action::Register(true)
    );
    assert_eq!(
        Action::from_stimulus(&Stimulus::RemoveCard, None).unwrap(),
        Action::RemoveCard
    );
    for action in every_action() {
        let needs = action.needs();
        match action.clone().try_into_stimulus(None) {
            Ok(stimulus) => {
                assert_eq!(Action::from_stimulus(&stimulus, None).unwrap(), action);
            }
            Err(back) => {
                assert_eq!(back, action);
                assert!(matches!(
                    action,
                    Action::StartCase { .. }
                        | Action::PlaceCard(_)
                        | Action::CameraStart(_)
                        | Action::CameraStop
                        | Action::Reset
                ));
            }
        }
        let expected = match &action {
            Action::Choose(Method::Face) => Some(Capability::Face),
            Action::Choose(Method::Pin) | Action::PressKeys(_) => Some(Capability::Pin),
            Action::CameraStart(CameraSource::Clip { .. }) => Some(Capability::CameraClips),
            Action::CameraStart(CameraSource::Frames { .. }) => Some(Capability::CameraFrames),
            Action::Consent(_) => Some(Capability::Consent),
            Action::Register(_) => Some(Capability::Registration),
            Action::Show(_) => Some(Capability::Desk),
            _ => None,
        };
        assert_eq!(needs, expected);
    }
}

// ---------------------------------------------------------------------------------------
// The line reader
// ---------------------------------------------------------------------------------------

/// Gives its bytes `step` at a time, with a `TimedOut` before every piece (a serial port
/// polled before data arrived).
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
    stall: bool,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stall = !self.stall;
        if self.stall && self.at < self.data.len() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let n = self.step.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn timeouts_keep_the_partial_line() {
    let mut data = Vec::new();
    for m in every_to_device() {
        data.extend(encode(&m));
    }
    let mut reader = LineReader::with_limits(
        Trickle {
            data,
            at: 0,
            step: 3,
            stall: false,
        },
        MAX_LINE,
        5,
    );
    let mut got = Vec::new();
    let mut timeouts = 0;
    loop {
        match reader.read_message::<ToDevice>() {
            Ok(Some(m)) => got.push(m),
            Ok(None) => break,
            Err(WireError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => timeouts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, every_to_device());
    assert!(timeouts > 100);
}

#[test]
fn blank_lines_crlf_and_chunk_boundaries() {
    let mut data = b"\n  \r\n".to_vec();
    for m in every_from_device() {
        let mut line = encode(&m);
        line.insert(line.len() - 1, b'\r');
        data.extend(line);
        data.extend(b"\t\n");
    }
    for chunk in [1, 2, 7, 64, 4096] {
        let mut reader = LineReader::with_limits(&data[..], MAX_LINE, chunk);
        let mut got = Vec::new();
        while let Some(m) = reader.read_message::<FromDevice>().unwrap() {
            got.push(m);
        }
        assert_eq!(got, every_from_device(), "chunk {chunk}");
    }
}

#[test]
fn a_long_line_is_refused_at_the_limit_and_reading_goes_on() {
    let limit = 100;
    let mut data = b"{\"type\":\"done\",\"id\":1}\n".to_vec();
    data.extend(vec![b'x'; 1000]);
    data.extend(b"\n{\"type\":\"done\",\"id\":2}\n");
    data.extend(vec![b'y'; 101]);
    data.extend(b"\n");
    data.extend(vec![b'z'; 100]);
    data.extend(b"\n{\"type\":\"done\",\"id\":3}\n");
    data.extend(vec![b'w'; 500]);
    let mut reader = LineReader::with_limits(&data[..], limit, 16);
    assert_eq!(reader.read_line().unwrap().map(<[u8]>::len), Some(22));
    assert!(matches!(
        reader.read_line(),
        Err(WireError::LineTooLong { limit: 100 })
    ));
    assert!(reader.buffer_capacity() <= limit + 16);
    assert_eq!(
        reader.read_message::<FromDevice>().unwrap(),
        Some(FromDevice::Done { id: 2 })
    );
    assert!(matches!(
        reader.read_line(),
        Err(WireError::LineTooLong { .. })
    ));
    assert_eq!(reader.read_line().unwrap().map(<[u8]>::len), Some(100));
    assert_eq!(
        reader.read_message::<FromDevice>().unwrap(),
        Some(FromDevice::Done { id: 3 })
    );
    assert!(matches!(
        reader.read_line(),
        Err(WireError::LineTooLong { .. })
    ));
    assert_eq!(reader.read_line().unwrap(), None);
    assert_eq!(reader.read_line().unwrap(), None);
    assert!(reader.buffer_capacity() <= limit + 16);
}

#[test]
fn an_unterminated_last_line_is_an_error_once() {
    let mut reader = LineReader::new(&b"{\"type\":\"done\",\"id\":1}\n{\"type\":\"do"[..]);
    assert!(reader.read_message::<FromDevice>().unwrap().is_some());
    assert!(matches!(
        reader.read_message::<FromDevice>(),
        Err(WireError::Unterminated { len: 11 })
    ));
    assert!(reader.read_message::<FromDevice>().unwrap().is_none());
    let all = decode_lines::<FromDevice>(b"{\"type\":\"done\",\"id\":1}\n\n{\"type\":\"x\"}\n{");
    assert_eq!(all.len(), 3);
    assert!(matches!(all[0], Ok(FromDevice::Done { id: 1 })));
    assert!(matches!(all[1], Err(WireError::UnknownType { .. })));
    assert!(matches!(all[2], Err(WireError::Unterminated { len: 1 })));
}

#[test]
fn writing_refuses_lines_past_the_limit() {
    let mut out = Vec::new();
    write_message(&mut out, &ToDevice::Reset { id: 1 }).unwrap();
    assert_eq!(out, b"{\"type\":\"reset\",\"id\":1}\n");
    let big = ToDevice::CameraFrame {
        t_ms: 0.0,
        jpeg: vec![0; MAX_LINE],
    };
    assert!(matches!(
        write_message(&mut out, &big),
        Err(WireError::LineTooLong { .. })
    ));
    let fits = ToDevice::CameraFrame {
        t_ms: 0.0,
        jpeg: vec![0; MAX_LINE / 4 * 3 - 100],
    };
    let line = encode_checked(&fits).unwrap();
    assert!(line.len() <= MAX_LINE + 1);
    assert!(decode::<ToDevice>(&line[..line.len() - 1]).is_ok());
}

#[test]
fn numbers_decode_to_exactly_what_was_sent() {
    // Found by fuzzing: serde_json's default float parser can be one ulp off for numbers
    // of 17 significant digits; the harness enables `float_roundtrip`.
    for at_ms in [
        8_387_244_010_968_836.0,
        0.123_456_789_012_345_67,
        1e-300,
        4_503_599_627_370_497.5,
    ] {
        let m = FromDevice::Screen {
            at_ms,
            name: String::new(),
        };
        let line = encode(&m);
        assert_eq!(decode::<FromDevice>(&line[..line.len() - 1]).unwrap(), m);
    }
    let m = FromDevice::FaceAttempt {
        at_ms: 0.0,
        attempt: 1,
        frames: 1,
        best_score: Some(f32::MAX),
        matched: false,
        presentation: String::new(),
    };
    let line = encode(&m);
    assert_eq!(decode::<FromDevice>(&line[..line.len() - 1]).unwrap(), m);
}
