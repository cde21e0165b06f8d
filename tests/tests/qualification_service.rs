//! The qualification service simulator end to end: a real HTTP/1.1 server on 127.0.0.1 (its
//! own runtime on a thread, `Server::start_background`), queried with the user-authentication
//! certificate of an emulated card through the blocking client, and with raw bytes over a
//! `TcpStream` for what a well-behaved client never sends.
//!
//! This crate has no tokio, which is the point: it uses the service the way a blocking reader
//! or another process does.

use card_emulator::pki::TestPki;
use card_emulator::{CardImage, CardProfile};
use harness::qualification::record::yyyymmdd;
use harness::qualification::{
    BackgroundServer, BlockingQualificationClient, CertificateKey, CertificateStatus, Consent,
    FacilityConsent, Fault, InsuredRecord, QualificationValidity, QueryError, ResultErrorCode,
    SegmentOfResult, Server, ServerConfig,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A calendar day from `YYYYMMDD` (this crate has no `time` dependency of its own, so the
/// type is never named here).
macro_rules! day {
    ($text:literal) => {
        yyyymmdd::parse($text).expect("a date")
    };
}

const DEADLINE: Duration = Duration::from_secs(5);
const FACILITY: &str = "1312345678";

struct Card {
    profile: CardProfile,
    certificate: Vec<u8>,
}

impl Card {
    fn build(profile: CardProfile) -> Card {
        let image = CardImage::build(&profile).expect("card image");
        Card {
            certificate: image.auth_certificate.clone(),
            profile,
        }
    }

    fn key(&self) -> CertificateKey {
        CertificateKey::test_card(self.profile.auth_certificate.serial)
    }

    fn record(&self) -> InsuredRecord {
        InsuredRecord::example(self.key())
    }
}

/// The sample card (built once: issuing certificates costs RSA signatures).
fn sample() -> &'static Card {
    static CARD: OnceLock<Card> = OnceLock::new();
    CARD.get_or_init(|| Card::build(CardProfile::sample()))
}

/// A card whose user-authentication certificate the test CA has revoked.
fn revoked() -> &'static Card {
    static CARD: OnceLock<Card> = OnceLock::new();
    CARD.get_or_init(|| {
        let mut profile = CardProfile::sample();
        profile.name = "revoked".into();
        profile.auth_certificate.serial = 77;
        profile.auth_certificate.revoked = true;
        Card::build(profile)
    })
}

fn start(records: Vec<InsuredRecord>) -> (BackgroundServer, BlockingQualificationClient) {
    let pki = TestPki::shared().expect("test PKI");
    let crl = pki
        .crl_for([&sample().profile, &revoked().profile], day!("20251101"))
        .expect("CRL");
    let mut config = ServerConfig::new(records, pki.ca_certificate_der().to_vec(), crl);
    config.today = Some(day!("20251104"));
    config.limits.max_hold = Duration::from_secs(2);
    config.limits.drain_timeout = Duration::from_millis(500);
    let server = Server::start_background(config).expect("server");
    assert!(server.addr().ip().is_loopback());
    let client = BlockingQualificationClient::new(server.addr()).expect("client");
    (server, client)
}

/// One raw exchange: sends `bytes`, reads until the server closes (or 3 s), returns the
/// status code and the whole answer.
fn raw(addr: SocketAddr, bytes: &[u8]) -> (Option<u16>, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    // The server may close before taking everything it was sent; that is its right.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, answer)
}

fn post(body: &str) -> Vec<u8> {
    post_bytes(body.as_bytes())
}

fn post_bytes(body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /qualification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn base64(bytes: &[u8]) -> String {
    // A tiny encoder keeps this crate free of a base64 dev-dependency.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_record_of_the_card_is_found_by_its_certificate() {
    let card = sample();
    let mut record = card.record();
    record.consent.push(FacilityConsent {
        facility: FACILITY.into(),
        consent: Consent::ALL,
    });
    let (server, client) = start(vec![record.clone()]);
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(result.segment_of_result, SegmentOfResult::Ok);
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Valid)
    );
    assert_eq!(result.certificate_status, Some(CertificateStatus::Valid));
    assert_eq!(result.qualification, Some(record.qualification));
    assert_eq!(result.consent, Some(Consent::ALL), "held for this facility");
    let elsewhere = client
        .query(&card.certificate, "2712345678", DEADLINE)
        .expect("answer");
    assert_eq!(elsewhere.consent, None, "consent is never shared");
    assert_eq!(server.stats().answered, 2);
}

#[test]
fn an_unknown_certificate_is_validity_4_and_two_records_are_5() {
    let card = sample();
    let someone_else = InsuredRecord::example(CertificateKey::test_card(0xBEEF));
    let (_server, client) = start(vec![someone_else.clone()]);
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(result.segment_of_result, SegmentOfResult::Ok);
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::None)
    );
    assert_eq!(result.qualification, None);

    let (_server, client) = start(vec![card.record(), card.record(), someone_else]);
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Several)
    );
    assert_eq!(result.qualification, None);
}

#[test]
fn each_fault_gives_its_error_or_result_and_faults_flip_mid_case() {
    let card = sample();
    let (server, client) = start(vec![card.record()]);
    let ask = |deadline| client.query(&card.certificate, FACILITY, deadline);
    let short = Duration::from_millis(250);

    server.set_fault(Some(Fault::Slow(Duration::from_millis(300))));
    let started = Instant::now();
    assert!(ask(DEADLINE).is_ok());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(ask(short), Err(QueryError::Timeout(short)));

    server.set_fault(Some(Fault::Timeout));
    let started = Instant::now();
    assert_eq!(ask(short), Err(QueryError::Timeout(short)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the deadline holds"
    );

    server.set_fault(Some(Fault::Http5xx(503)));
    assert_eq!(ask(DEADLINE), Err(QueryError::Http(503)));

    server.set_fault(Some(Fault::MalformedBody));
    assert!(matches!(ask(DEADLINE), Err(QueryError::Malformed(_))));

    server.set_fault(Some(Fault::QualificationInvalid));
    let result = ask(DEADLINE).expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Invalid)
    );

    server.set_fault(Some(Fault::SeveralMatches));
    let result = ask(DEADLINE).expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Several)
    );

    // Per record, and the service recovering mid-case.
    server.set_fault(None);
    server.set_record_fault(&card.key(), Some(Fault::Http5xx(502)));
    assert_eq!(ask(DEADLINE), Err(QueryError::Http(502)));
    server.set_record_fault(&card.key(), None);
    let result = ask(DEADLINE).expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Valid)
    );
}

#[test]
fn a_body_with_a_my_number_is_refused() {
    let card = sample();
    let (server, _client) = start(vec![card.record()]);
    let certificate = base64(&card.certificate);
    let good = format!(r#"{{"certificate": "{certificate}", "facility": "{FACILITY}"}}"#);
    let (status, _) = raw(server.addr(), &post(&good));
    assert_eq!(status, Some(200), "the same body without it is fine");

    let my_number = &card.profile.holder.my_number;
    let leaking = [
        format!(
            r#"{{"certificate": "{certificate}", "facility": "{FACILITY}", "my_number": "{my_number}"}}"#
        ),
        format!(
            r#"{{"certificate": "{certificate}", "facility": "{FACILITY}", "MyNumber": {my_number}}}"#
        ),
        format!(r#"{{"certificate": "{certificate}", "facility": "{my_number}"}}"#),
    ];
    for body in leaking {
        let (status, answer) = raw(server.addr(), &post(&body));
        assert_eq!(status, Some(400), "{answer}");
        assert!(answer.contains("MyNumberRefused"), "{answer}");
        assert!(
            !answer.contains(my_number.as_str()),
            "the number is not echoed"
        );
    }
    assert_eq!(server.stats().answered, 1);
}

#[test]
fn a_revoked_certificate_is_refused_by_the_service() {
    let card = revoked();
    // The record exists: the refusal comes from the certificate check, not from the lookup.
    let (_server, client) = start(vec![card.record(), sample().record()]);
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("an answer, not a transport error");
    assert_eq!(result.segment_of_result, SegmentOfResult::Error);
    assert_eq!(result.error_code, Some(ResultErrorCode::CertificateRevoked));
    assert_eq!(result.qualification_validity, None);
    assert_eq!(result.qualification, None);
    let good = client
        .query(&sample().certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(good.segment_of_result, SegmentOfResult::Ok);
}

#[test]
fn an_expired_certificate_passes_qualification_data_only_in_its_grace_period() {
    let card = sample(); // expires 2030-02-17; grace to 2030-05-31
    let (server, client) = start(vec![card.record()]);
    server.set_today(Some(day!("20300401")));
    let result = client
        .query_with_consent(&card.certificate, FACILITY, Some(Consent::ALL), DEADLINE)
        .expect("answer");
    assert_eq!(
        result.certificate_status,
        Some(CertificateStatus::ExpiredInGracePeriod)
    );
    assert!(result.qualification.is_some());
    assert_eq!(result.consent, None, "no care or medication data");
    server.set_today(Some(day!("20300601")));
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(result.error_code, Some(ResultErrorCode::CertificateExpired));
}

#[test]
fn an_unregistered_card_is_refused_until_the_reader_registers_it() {
    let card = sample();
    let mut record = card.record();
    record.registered_for_insurance = false;
    let (server, client) = start(vec![record]);
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(result.segment_of_result, SegmentOfResult::Error);
    assert_eq!(result.error_code, Some(ResultErrorCode::NotRegistered));
    assert_eq!(result.qualification, None);
    assert_eq!(client.register(&card.certificate, DEADLINE), Ok(()));
    assert!(server.is_registered(&card.key()));
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Valid)
    );
    // A revoked card cannot register.
    assert_eq!(
        client.register(&revoked().certificate, DEADLINE),
        Err(QueryError::Http(403))
    );
}

#[test]
fn two_hundred_parallel_queries_are_all_answered() {
    let card = sample();
    let (server, client) = start(vec![card.record()]);
    let started = Instant::now();
    let answers: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let client = &client;
                scope.spawn(move || {
                    let facility = format!("13{i:08}");
                    client.query(&card.certificate, &facility, DEADLINE)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let failed: Vec<_> = answers.iter().filter(|a| a.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(answers.iter().all(|a| a
        .as_ref()
        .is_ok_and(|r| r.qualification_validity == Some(QualificationValidity::Valid))));
    assert_eq!(server.stats().answered, 200);
    eprintln!("200 parallel queries in {:?}", started.elapsed());
}

#[test]
fn garbage_gets_a_4xx_and_never_stops_the_server() {
    let card = sample();
    let (server, client) = start(vec![card.record()]);
    let addr = server.addr();
    let mut noise = Vec::new();
    let mut x: u32 = 0x2545_F491;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    let huge_body = post(&"x".repeat(100 * 1024));
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("not HTTP", b"GARBAGE\r\n\r\n".to_vec()),
        ("binary noise", noise),
        ("bad version", b"GET /health HTTP/9.9\r\n\r\n".to_vec()),
        (
            "bad header",
            b"POST /qualification HTTP/1.1\r\nHost x\r\n\r\n".to_vec(),
        ),
        ("empty JSON", post("")),
        ("JSON array", post("[]")),
        ("nested", post(&"[".repeat(5000))),
        ("not UTF-8", post_bytes(b"{\"certificate\": \"\xff\xfe\"}")),
        (
            "certificate not base64",
            post(r#"{"certificate": "%%%", "facility": "F"}"#),
        ),
        (
            "certificate not DER",
            post(r#"{"certificate": "AAAA", "facility": "F"}"#),
        ),
        (
            "unknown key",
            post(r#"{"certificate": "AAAA", "facility": "F", "x": 1}"#),
        ),
        ("too big", huge_body),
        (
            "bad length",
            b"POST /qualification HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
        ),
    ];
    for (what, bytes) in garbage {
        let (status, answer) = raw(addr, &bytes);
        assert!(
            status.is_some_and(|s| (400..500).contains(&s)),
            "{what}: {status:?} {answer}"
        );
    }
    let result = client
        .query(&card.certificate, FACILITY, DEADLINE)
        .expect("still serving");
    assert_eq!(result.segment_of_result, SegmentOfResult::Ok);
}
