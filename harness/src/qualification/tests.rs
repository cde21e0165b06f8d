//! Server and client together over real loopback HTTP, on the test's runtime.

use super::*;
use card_emulator::pki::TestPki;
use card_emulator::{CardImage, CardProfile};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use time::macros::date;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(5);

/// The sample card's user-authentication certificate (built once).
fn certificate() -> &'static [u8] {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        CardImage::build(&CardProfile::sample())
            .expect("sample card")
            .auth_certificate
    })
}

fn key() -> CertificateKey {
    CertificateKey::test_card(CardProfile::sample().auth_certificate.serial)
}

fn config(records: Vec<InsuredRecord>) -> ServerConfig {
    let pki = TestPki::shared().expect("pki");
    let crl = pki
        .crl_for([&CardProfile::sample()], date!(2025 - 11 - 01))
        .expect("crl");
    let mut config = ServerConfig::new(records, pki.ca_certificate_der().to_vec(), crl);
    config.today = Some(date!(2025 - 11 - 04));
    config.limits.max_hold = Duration::from_secs(2);
    config.limits.drain_timeout = Duration::from_millis(500);
    config
}

fn one_record() -> ServerConfig {
    config(vec![InsuredRecord::example(key())])
}

/// Sends raw bytes and reads the answer until the server closes or 2 s pass.
async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> Option<u16> {
    answer.split(' ').nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_query_over_http_finds_the_record() {
    let server = Server::start(one_record()).await.expect("server");
    assert!(server.addr().ip().is_loopback());
    assert_ne!(server.addr().port(), 0);
    let client = QualificationClient::new(server.addr());
    let result = client
        .query(certificate(), "1312345678", DEADLINE)
        .await
        .expect("answer");
    assert_eq!(result.segment_of_result, SegmentOfResult::Ok);
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Valid)
    );
    assert!(result.qualification.is_some());
    let stats = server.stats();
    assert_eq!((stats.requests, stats.answered), (1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn a_my_number_in_the_url_or_a_header_is_refused_over_http() {
    let server = Server::start(one_record()).await.expect("server");
    for request in [
        // In the query, full width and percent-encoded (１２３４…).
        "GET /health?n=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94-5678-9018 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        // In a header, grouped by dots.
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Patient: 1234.5678.9018\r\nConnection: close\r\n\r\n",
    ] {
        let answer = raw(server.addr(), request.as_bytes()).await;
        assert_eq!(status_of(&answer), Some(400), "{answer}");
        assert!(answer.contains("MyNumberRefused"), "{answer}");
        assert!(!answer.contains("9018"), "the number is not echoed: {answer}");
    }
    // The same request without it is answered.
    let answer = raw(
        server.addr(),
        b"GET /health?at=2025-11-04 HTTP/1.1\r\nHost: 10.20.30.40:5000\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&answer), Some(200), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn transport_faults_give_typed_client_errors_and_flip_live() {
    let server = Server::start(one_record()).await.expect("server");
    let client = QualificationClient::new(server.addr());
    let ask = |deadline| client.query(certificate(), "F", deadline);

    server.set_fault(Some(Fault::Http5xx(503)));
    assert_eq!(ask(DEADLINE).await, Err(QueryError::Http(503)));
    server.set_fault(Some(Fault::Http5xx(42)));
    assert_eq!(ask(DEADLINE).await, Err(QueryError::Http(500)));
    server.set_fault(Some(Fault::MalformedBody));
    assert!(matches!(ask(DEADLINE).await, Err(QueryError::Malformed(_))));

    server.set_fault(Some(Fault::Slow(Duration::from_millis(300))));
    let started = Instant::now();
    assert!(ask(DEADLINE).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        ask(Duration::from_millis(100)).await,
        Err(QueryError::Timeout(Duration::from_millis(100)))
    );

    server.set_fault(Some(Fault::Timeout));
    let started = Instant::now();
    assert_eq!(
        ask(Duration::from_millis(200)).await,
        Err(QueryError::Timeout(Duration::from_millis(200)))
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    server.set_fault(None);
    server.set_record_fault(&key(), Some(Fault::Http5xx(502)));
    assert_eq!(ask(DEADLINE).await, Err(QueryError::Http(502)));
    server.set_record_fault(&key(), None);
    assert!(ask(DEADLINE).await.is_ok());
    server.shutdown().await;
}

#[tokio::test]
async fn a_held_request_is_released_at_max_hold_and_at_shutdown() {
    let mut config = one_record();
    config.limits.max_hold = Duration::from_millis(300);
    config.faults.server = Some(Fault::Timeout);
    let server = Server::start(config).await.expect("server");
    let client = QualificationClient::new(server.addr());
    let started = Instant::now();
    let answer = client.query(certificate(), "F", DEADLINE).await;
    assert!(
        matches!(answer, Err(QueryError::Disconnected(_))),
        "{answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // A longer hold ends at shutdown, not at max_hold.
    let mut config = one_record();
    config.limits.max_hold = Duration::from_secs(60);
    config.faults.server = Some(Fault::Timeout);
    let server = Server::start(config).await.expect("server");
    let client = QualificationClient::new(server.addr());
    let pending = tokio::spawn(async move { client.query(certificate(), "F", DEADLINE).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.stats().faulted, 1);
    let started = Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(1));
    let answer = pending.await.expect("task");
    assert!(
        matches!(answer, Err(QueryError::Disconnected(_))),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_dropped_handle_stops_the_server_and_a_closed_port_is_a_connect_error() {
    let server = Server::start(one_record()).await.expect("server");
    let addr = server.addr();
    drop(server);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = QualificationClient::new(addr);
    let answer = client.query(certificate(), "F", DEADLINE).await;
    assert!(matches!(answer, Err(QueryError::Connect(_))), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_client_works_inside_spawn_blocking_and_from_async_code() {
    let server = Server::start(one_record()).await.expect("server");
    let addr = server.addr();
    let answer = tokio::task::spawn_blocking(move || {
        let client = BlockingQualificationClient::new(addr).expect("client");
        client.query(certificate(), "F", DEADLINE)
    })
    .await
    .expect("no panic");
    assert!(answer.is_ok(), "{answer:?}");
    // Built, used and dropped on an async worker: blocks it briefly, never panics.
    let client = BlockingQualificationClient::new(addr).expect("client");
    assert!(client.query(certificate(), "F", DEADLINE).is_ok());
    drop(client);
    server.shutdown().await;
}

#[test]
fn a_background_server_serves_plain_threads() {
    let server = Server::start_background(one_record()).expect("server");
    let client = BlockingQualificationClient::new(server.addr()).expect("client");
    let result = client.query(certificate(), "F", DEADLINE).expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Valid)
    );
    server.set_fault(Some(Fault::SeveralMatches));
    let result = client.query(certificate(), "F", DEADLINE).expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Several)
    );
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_broken_setup_is_refused_before_listening() {
    let mut bad = InsuredRecord::example(key());
    bad.qualification.insured_branch_number = Some("1".into());
    match Server::start_background(config(vec![bad])) {
        Err(ServerError::Record { index: 0, .. }) => {}
        other => panic!("expected a record error, got {:?}", other.err()),
    }
    let mut config = one_record();
    config.crl_der = b"not a crl".to_vec();
    assert!(matches!(
        Server::start_background(config),
        Err(ServerError::Trust(_))
    ));
}

#[tokio::test]
async fn limits_hold_against_big_slow_and_odd_requests() {
    let mut config = one_record();
    config.limits.header_read_timeout = Duration::from_millis(300);
    config.limits.body_read_timeout = Duration::from_millis(300);
    let server = Server::start(config).await.expect("server");
    let addr = server.addr();

    let big = format!(
        "POST /qualification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        1024 * 1024
    );
    assert_eq!(status_of(&raw(addr, big.as_bytes()).await), Some(413));

    // Chunked, no length announced: the limit still applies while reading.
    let mut chunked =
        b"POST /qualification HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(b"1000\r\n");
        chunked.extend_from_slice(&[b' '; 0x1000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(status_of(&raw(addr, &chunked).await), Some(413));

    // A body that never comes.
    let stalled = b"POST /qualification HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
    assert_eq!(status_of(&raw(addr, stalled).await), Some(408));

    // Headers that never end: the connection is closed.
    let started = Instant::now();
    let answer = raw(addr, b"POST /qualification HTTP/1.1\r\nHost: x\r\n").await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "closed by the header timeout"
    );
    assert!(status_of(&answer).is_none_or(|s| s >= 400), "{answer}");

    let huge_header = format!(
        "GET /health HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert_eq!(
        status_of(&raw(addr, huge_header.as_bytes()).await),
        Some(431)
    );

    let wrong_type = b"POST /qualification HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(status_of(&raw(addr, wrong_type).await), Some(415));
    let get = b"GET /qualification HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&raw(addr, get).await), Some(405));
    let nowhere = b"GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&raw(addr, nowhere).await), Some(404));
    let health = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&raw(addr, health).await), Some(200));

    // Still serving.
    let client = QualificationClient::new(addr);
    assert!(client.query(certificate(), "F", DEADLINE).await.is_ok());
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_in_the_backlog() {
    let mut config = one_record();
    config.limits.max_connections = 1;
    let server = Server::start(config).await.expect("server");
    let idle = TcpStream::connect(server.addr()).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = QualificationClient::new(server.addr());
    let short = Duration::from_millis(300);
    assert_eq!(
        client.query(certificate(), "F", short).await,
        Err(QueryError::Timeout(short))
    );
    drop(idle);
    assert!(client.query(certificate(), "F", DEADLINE).await.is_ok());
    assert_eq!(
        server.stats().open_connections,
        1,
        "the client's pooled one"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_card_is_registered_over_http_and_then_found() {
    let mut record = InsuredRecord::example(key());
    record.registered_for_insurance = false;
    let server = Server::start(config(vec![record])).await.expect("server");
    let client = QualificationClient::new(server.addr());
    let result = client
        .query(certificate(), "F", DEADLINE)
        .await
        .expect("answer");
    assert_eq!(result.error_code, Some(ResultErrorCode::NotRegistered));

    server.set_fault(Some(Fault::Http5xx(503)));
    assert_eq!(
        client.register(certificate(), DEADLINE).await,
        Err(QueryError::Http(503))
    );
    assert!(!server.is_registered(&key()));
    server.set_fault(None);
    assert_eq!(client.register(certificate(), DEADLINE).await, Ok(()));
    assert!(server.is_registered(&key()));
    let result = client
        .query(certificate(), "F", DEADLINE)
        .await
        .expect("answer");
    assert_eq!(
        result.qualification_validity,
        Some(QualificationValidity::Valid)
    );

    server.set_today(Some(date!(2031 - 01 - 01)));
    assert_eq!(
        client.register(certificate(), DEADLINE).await,
        Err(QueryError::Http(403)),
        "an expired certificate cannot register"
    );
    server.shutdown().await;
}
