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

/// The body of a whole HTTP answer, as JSON.
fn body_of(answer: &str) -> Option<serde_json::Value> {
    serde_json::from_str(answer.split_once("\r\n\r\n")?.1).ok()
}

fn error_of(answer: &str) -> Option<ErrorCode> {
    serde_json::from_value(body_of(answer)?.get("Error")?.clone()).ok()
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// Reads and discards until the peer closes: the bytes read in all (`Some(0)`: closed
/// without a byte), or `None` on a reset (also a close).
async fn read_until_closed(stream: &mut TcpStream) -> Option<usize> {
    let mut sink = Vec::new();
    stream.read_to_end(&mut sink).await.ok()
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
async fn cases_on_one_server_keep_their_records_faults_and_journals_apart() {
    // The run's server holds no records of its own.
    let server = Server::start(config(Vec::new())).await.expect("server");
    let with_record = server
        .open_case(
            vec![InsuredRecord::example(key())],
            Some(date!(2025 - 11 - 04)),
            Delays::Real,
        )
        .expect("case a");
    let without = server
        .open_case(Vec::new(), Some(date!(2025 - 11 - 04)), Delays::Real)
        .expect("case b");
    assert_ne!(with_record.path(), without.path());
    let base = QualificationClient::new(server.addr());
    let a = base.for_case(&with_record.path());
    let b = base.for_case(&without.path());
    let ask = |client: &QualificationClient| {
        let client = client.clone();
        async move { client.query(certificate(), "F", DEADLINE).await }
    };
    let found = ask(&a).await.expect("answer");
    assert_eq!(
        found.qualification_validity,
        Some(QualificationValidity::Valid)
    );
    // The other case, and the server's own routes, do not know the card.
    let none = Some(QualificationValidity::None);
    assert_eq!(ask(&b).await.expect("answer").qualification_validity, none);
    assert_eq!(
        ask(&base).await.expect("answer").qualification_validity,
        none
    );
    // A fault is the case's alone.
    without.set_fault(Some(Fault::Http5xx(503)));
    assert_eq!(ask(&b).await, Err(QueryError::Http(503)));
    assert!(ask(&a).await.is_ok());
    // So is the journal.
    assert_eq!(with_record.served().len(), 2);
    assert_eq!(without.served().len(), 2);
    assert_eq!(server.served().len(), 1);
    // A closed case, or one never opened, is not found.
    let closed = with_record.path();
    drop(with_record);
    for path in [closed.as_str(), "/case/999", "/case/x"] {
        let answer = raw(
            server.addr(),
            format!("GET {path}/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(status_of(&answer), Some(404), "{path}: {answer}");
    }
    assert!(matches!(
        base.for_case(&closed)
            .query(certificate(), "F", DEADLINE)
            .await,
        Err(QueryError::Http(404))
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn simulated_delays_pass_on_the_clients_clock_not_the_wall() {
    let server = Server::start(config(Vec::new())).await.expect("server");
    let case = server
        .open_case(
            vec![InsuredRecord::example(key())],
            Some(date!(2025 - 11 - 04)),
            Delays::Simulated,
        )
        .expect("case");
    let clock = crate::sim_clock::SimClock::simulated();
    let client = QualificationClient::new(server.addr())
        .for_case(&case.path())
        .on_clock(clock.clone());
    let deadline = Duration::from_secs(5);
    let started = Instant::now();
    // Slow within the deadline: answered, and the delay passed on the clock.
    case.set_fault(Some(Fault::Slow(Duration::from_millis(1500))));
    assert!(client.query(certificate(), "F", deadline).await.is_ok());
    assert_eq!(clock.total(), Duration::from_millis(1500));
    // Slower than the deadline, or held: a timeout after the deadline's time.
    // (the server caps a delay at its max_hold, 2 s here, as it does in real time).
    case.set_fault(Some(Fault::Slow(Duration::from_secs(20))));
    let short = Duration::from_secs(1);
    assert_eq!(
        client.query(certificate(), "F", short).await,
        Err(QueryError::Timeout(short))
    );
    case.set_fault(Some(Fault::Timeout));
    assert_eq!(
        client.query(certificate(), "F", deadline).await,
        Err(QueryError::Timeout(deadline))
    );
    assert_eq!(clock.total(), Duration::from_millis(7_500));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wall time waited"
    );
    // The held request is journaled as unanswered, as a real hold is.
    let served = case.served();
    assert_eq!(served.len(), 3);
    assert_eq!(served[2].status, None);
    assert_eq!(served[2].fault, Some(Fault::Timeout));
    // A real-time case of the same server still waits.
    let real = server
        .open_case(Vec::new(), Some(date!(2025 - 11 - 04)), Delays::Real)
        .expect("real case");
    real.set_fault(Some(Fault::Slow(Duration::from_millis(300))));
    let started = Instant::now();
    let client = QualificationClient::new(server.addr()).for_case(&real.path());
    assert!(client.query(certificate(), "F", deadline).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(300));
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
async fn at_the_connection_cap_a_waiting_connection_gives_way_and_a_full_house_gets_503() {
    let mut config = one_record();
    config.limits.max_connections = 1;
    let server = Server::start(config).await.expect("server");
    // A client that connects and sends nothing holds the only place...
    let mut silent = TcpStream::connect(server.addr()).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...until someone else comes: it is closed, the newcomer served.
    let client = QualificationClient::new(server.addr());
    assert!(client.query(certificate(), "F", DEADLINE).await.is_ok());
    assert_eq!(read_until_closed(&mut silent).await, Some(0));
    assert_eq!(server.stats().evicted, 1);

    // A request in progress is never evicted: with the only place held by one, a newcomer
    // is answered 503 at once.
    server.set_fault(Some(Fault::Timeout));
    let held = tokio::spawn(async move { client.query(certificate(), "F", DEADLINE).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answer = raw(server.addr(), HEALTH).await;
    assert_eq!(status_of(&answer), Some(503), "{answer}");
    assert_eq!(error_of(&answer), Some(ErrorCode::Busy));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.stats().turned_away, 1);
    server.shutdown().await;
    assert!(matches!(
        held.await.expect("task"),
        Err(QueryError::Disconnected(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_do_not_starve_health_probes() {
    const SILENT: usize = 600;
    let mut config = one_record();
    config.limits.header_read_timeout = Duration::from_secs(3);
    assert!(
        SILENT > config.limits.max_connections,
        "the flood exceeds the cap"
    );
    let (header_timeout, cap) = (
        config.limits.header_read_timeout,
        config.limits.max_connections,
    );
    let server = Server::start(config).await.expect("server");
    let addr = server.addr();
    let flood_started = Instant::now();
    let mut flood = Vec::with_capacity(SILENT);
    for i in 0..SILENT {
        let mut socket = TcpStream::connect(addr).await.expect("connect");
        if i % 4 == 0 {
            socket
                .write_all(b"GET /health HT")
                .await
                .expect("half a line");
        }
        flood.push(socket);
    }
    for probe in 0..20 {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(2), raw(addr, HEALTH))
            .await
            .unwrap_or_else(|_| panic!("probe {probe} starved"));
        assert_eq!(status_of(&answer), Some(200), "probe {probe}: {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "probe {probe} took {:?}",
            started.elapsed()
        );
    }
    // Every flooding socket is closed by the server by the header timeout (the oldest ones
    // earlier, to make room), never answered.
    let bound = header_timeout + Duration::from_secs(3);
    for (i, socket) in flood.iter_mut().enumerate() {
        let left = bound.saturating_sub(flood_started.elapsed());
        let read = tokio::time::timeout(left, read_until_closed(socket)).await;
        // A reset is a close too (an evicted socket whose half line was still unread).
        assert!(matches!(read, Ok(Some(0) | None)), "socket {i}: {read:?}");
    }
    let stats = server.stats();
    // At least the flood beyond the cap gave way (a probe finds the place of the one
    // before it free).
    assert!(stats.evicted >= (SILENT - cap) as u64, "{stats:?}");
    assert_eq!(stats.turned_away, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let mut config = one_record();
    config.limits.header_read_timeout = Duration::from_millis(300);
    let server = Server::start(config).await.expect("server");
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).await.expect("answer");
    assert_eq!(status_of(&String::from_utf8_lossy(&answer[..n])), Some(200));
    let started = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(3), read_until_closed(&mut stream)).await;
    assert_eq!(rest, Ok(Some(0)), "closed without another answer");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
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

/// Sends `request` (a whole HTTP/1.1 request, `Connection: close`) and returns the status and
/// the JSON body of the answer.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> (Option<u16>, serde_json::Value) {
    let answer = raw(addr, request.as_bytes()).await;
    (
        status_of(&answer),
        body_of(&answer).unwrap_or(serde_json::Value::Null),
    )
}

fn post(path: &str, body: &str, extra_header: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra_header}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn certificate_b64() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(certificate())
}

#[tokio::test]
async fn the_journal_holds_what_was_served_and_no_my_number() {
    let mut config = one_record();
    config.limits.max_hold = Duration::from_millis(200);
    let server = Server::start(config).await.expect("server");
    let client = QualificationClient::new(server.addr());
    let agreed = Consent {
        medication: true,
        ..Consent::default()
    };
    let answered = client
        .query_with_consent(certificate(), "1312345678", Some(agreed), DEADLINE)
        .await
        .expect("answer");
    assert_eq!(client.register(certificate(), DEADLINE).await, Ok(()));
    let leak = post(
        QUERY_PATH,
        &format!(
            r#"{{"certificate":"{}","facility":"F","note":"1234-5678-9018"}}"#,
            certificate_b64()
        ),
        "",
    );
    assert_eq!(exchange(server.addr(), &leak).await.0, Some(400));
    let header_leak = post(REGISTRATION_PATH, "{}", "X-Patient: 123456789018\r\n");
    assert_eq!(exchange(server.addr(), &header_leak).await.0, Some(400));
    server.set_fault(Some(Fault::MalformedBody));
    assert!(client.query(certificate(), "F", DEADLINE).await.is_err());
    server.set_fault(Some(Fault::Http5xx(502)));
    assert_eq!(
        client.query(certificate(), "F", DEADLINE).await,
        Err(QueryError::Http(502))
    );
    server.set_fault(Some(Fault::Timeout));
    assert!(client.register(certificate(), DEADLINE).await.is_err());
    server.set_fault(None);
    assert_eq!(
        exchange(server.addr(), std::str::from_utf8(HEALTH).unwrap())
            .await
            .0,
        Some(200)
    );

    let served = server.served();
    let routes: Vec<Endpoint> = served.iter().map(|s| s.route).collect();
    use Endpoint::{Query, Registration};
    assert_eq!(
        routes,
        [
            Query,
            Registration,
            Query,
            Registration,
            Query,
            Query,
            Registration
        ],
        "health is not journaled"
    );
    let seqs: Vec<u64> = served.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, (0..7).collect::<Vec<_>>());

    let query = &served[0];
    assert_eq!(query.status, Some(200));
    assert_eq!(query.certificate, Some(key()));
    assert_eq!(query.facility.as_deref(), Some("1312345678"));
    assert_eq!(query.consent, Some(agreed));
    assert_eq!(query.result.as_ref(), Some(&answered));
    assert!(!query.truncated && query.fault.is_none() && !query.registered);

    let registration = &served[1];
    assert_eq!(registration.status, Some(200));
    assert!(registration.registered);
    assert_eq!(registration.certificate, Some(key()));
    assert_eq!(registration.result, None);

    for refused in &served[2..4] {
        assert_eq!(refused.status, Some(400));
        assert_eq!(refused.error, Some(ErrorCode::MyNumberRefused));
        assert_eq!(
            refused.certificate, None,
            "nothing of a leaking body is kept"
        );
        assert_eq!(refused.facility, None);
    }

    let malformed = &served[4];
    assert_eq!(malformed.status, Some(200));
    assert_eq!(malformed.fault, Some(Fault::MalformedBody));
    assert!(malformed.truncated);
    assert!(
        malformed.result.is_some(),
        "what the cut bytes would have said"
    );

    let failed = &served[5];
    assert_eq!(failed.status, Some(502));
    assert_eq!(failed.error, Some(ErrorCode::ServiceFault));
    assert_eq!(failed.fault, Some(Fault::Http5xx(502)));
    assert_eq!(failed.result, None);

    let held = &served[6];
    assert_eq!(held.status, None, "released without an answer");
    assert_eq!(held.fault, Some(Fault::Timeout));
    assert!(!held.registered);

    let everything = format!("{served:?}");
    for number in ["123456789018", "1234-5678-9018"] {
        assert!(!everything.contains(number), "{everything}");
    }
    assert_eq!(server.stats().served_dropped, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn the_journal_keeps_the_newest_entries_up_to_its_cap() {
    let mut config = one_record();
    config.limits.max_served = 3;
    let server = Server::start(config).await.expect("server");
    let client = QualificationClient::new(server.addr());
    for facility in ["A", "B", "C", "D", "E"] {
        assert!(client
            .query(certificate(), facility, DEADLINE)
            .await
            .is_ok());
    }
    let kept: Vec<(u64, Option<String>)> = server
        .served()
        .into_iter()
        .map(|s| (s.seq, s.facility))
        .collect();
    let expected: Vec<(u64, Option<String>)> = [(2, "C"), (3, "D"), (4, "E")]
        .map(|(seq, f)| (seq, Some(f.to_owned())))
        .to_vec();
    assert_eq!(kept, expected);
    assert_eq!(server.stats().served_dropped, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn every_route_of_the_table_is_served_and_nothing_else() {
    let server = Server::start(one_record()).await.expect("server");
    for route in &ROUTES {
        let request = format!(
            "{} {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            route.method, route.path
        );
        let (status, _) = exchange(server.addr(), &request).await;
        assert!(
            status.is_some_and(|s| s != 404 && s != 405),
            "{} {}: {status:?}",
            route.method,
            route.path
        );
    }
    let nowhere = "GET /qualification/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (status, body) = exchange(server.addr(), nowhere).await;
    assert_eq!((status, &body["Error"]), (Some(404), &"NotFound".into()));
    let wrong = "DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(server.addr(), wrong).await.0, Some(405));
    server.shutdown().await;
}

/// The schema the served document gives for an answer of `status` on `method path` (an
/// exact status, else its range such as `5XX`), as a validator.
fn answer_validator(
    document: &serde_json::Value,
    method: &str,
    path: &str,
    status: u16,
) -> jsonschema::Validator {
    let responses = &document["paths"][path][method]["responses"];
    let reply = [status.to_string(), format!("{}XX", status / 100)]
        .into_iter()
        .map(|key| &responses[key.as_str()])
        .find(|reply| !reply.is_null())
        .unwrap_or_else(|| panic!("{method} {path} does not list {status}"));
    let schema = &reply["content"]["application/json"]["schema"];
    // The reference resolves inside this root, which carries the document's components.
    let root = serde_json::json!({"$ref": schema["$ref"], "components": document["components"]});
    jsonschema::draft202012::new(&root).expect("a valid schema")
}

#[tokio::test]
async fn the_served_openapi_document_lists_the_table_and_real_answers_match_it() {
    let mut record = InsuredRecord::example(key());
    record.registered_for_insurance = false;
    record.consent.push(record::FacilityConsent {
        facility: "F".into(),
        consent: Consent::ALL,
    });
    let server = Server::start(config(vec![record])).await.expect("server");
    let addr = server.addr();
    let (status, document) = exchange(
        addr,
        "GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, Some(200));
    assert!(document["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    let mut listed: Vec<(String, String)> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            listed.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut table: Vec<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    listed.sort();
    table.sort();
    assert_eq!(listed, table);

    let query = |facility: &str| {
        post(
            QUERY_PATH,
            &format!(
                r#"{{"certificate":"{}","facility":"{facility}","consent":null}}"#,
                certificate_b64()
            ),
            "",
        )
    };
    let registration = post(
        REGISTRATION_PATH,
        &format!(r#"{{"certificate":"{}"}}"#, certificate_b64()),
        "",
    );
    let health = std::str::from_utf8(HEALTH).unwrap();
    let answers = [
        // Not registered yet: SegmentOfResult 9.
        ("post", QUERY_PATH, query("F")),
        ("post", REGISTRATION_PATH, registration.clone()),
        // Registered: the qualification, and the consent held for F.
        ("post", QUERY_PATH, query("F")),
        (
            "post",
            QUERY_PATH,
            post(QUERY_PATH, r#"{"certificate":"x"}"#, ""),
        ),
        (
            "post",
            QUERY_PATH,
            post(QUERY_PATH, "{}", "X-N: 123456789018\r\n"),
        ),
        ("get", HEALTH_PATH, health.to_owned()),
    ];
    let mut statuses = Vec::new();
    for (method, path, request) in answers {
        let (status, body) = exchange(addr, &request).await;
        let status = status.expect("an answer");
        let validator = answer_validator(&document, method, path, status);
        if let Err(e) = validator.validate(&body) {
            panic!("{method} {path} {status}: {e}\n{body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 400, 400, 200]);
    // The answers that matter most carry what the schemas describe.
    server.set_today(Some(date!(2031 - 01 - 01)));
    server.set_fault(None);
    let (status, body) = exchange(addr, &registration).await;
    assert_eq!(status, Some(403));
    assert!(answer_validator(&document, "post", REGISTRATION_PATH, 403).is_valid(&body));
    server.set_fault(Some(Fault::Http5xx(503)));
    let (status, body) = exchange(addr, &query("F")).await;
    assert_eq!(status, Some(503));
    assert!(answer_validator(&document, "post", QUERY_PATH, 503).is_valid(&body));
    // A schema that cannot fail proves nothing: a wrong answer is refused.
    let validator = answer_validator(&document, "post", QUERY_PATH, 200);
    assert!(!validator.is_valid(&serde_json::json!({"SegmentOfResult": "1"})));
    assert!(!validator.is_valid(&serde_json::json!({
        "ReferenceClassification": "1", "SegmentOfResult": "7"
    })));
    server.shutdown().await;
}

#[test]
fn the_openapi_document_is_pinned() {
    // A change to the API shows up as a diff to review
    // (`INSTA_UPDATE=always cargo test -p harness --lib qualification`).
    let pretty = serde_json::to_string_pretty(&openapi()).expect("json");
    insta::assert_snapshot!("openapi", pretty);
}
