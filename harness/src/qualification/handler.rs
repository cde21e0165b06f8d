//! Answers one HTTP request: routing, body limits, the query, transport faults. The
//! server's lifecycle (listening, connections, shutdown) is in `server`; what both share is
//! in [`super::state`].
//!
//! Routes: `POST /qualification` (the query, see [`super::wire`]), `POST /registration`
//! (register the card for insurance use) and `GET /health`. Faults do not touch `/health`:
//! it tells the harness the process is up, not how the service behaves.

use super::client::{QUERY_PATH, REGISTRATION_PATH};
use super::fault::Fault;
use super::state::{bump, stopped, Shared};
use super::wire::{self, ErrorBody, RegistrationAnswer};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// The error a handler returns to make hyper drop the connection without a response (a
/// held request released at `max_hold` or at shutdown).
#[derive(Debug)]
pub(super) struct Released;

impl std::fmt::Display for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request held by a fault was released without an answer")
    }
}

impl std::error::Error for Released {}

pub(super) type Answer = Result<Response<Full<Bytes>>, Released>;

pub(super) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Answer {
    bump(&shared.counters.requests);
    // A 個人番号 in the URL or a header is refused like one in the body (the lookup is by
    // certificate only; a client that sends the number is leaking it).
    let leak = wire::find_my_number_in_head(
        request.uri().query(),
        request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    );
    if let Some(where_) = leak {
        let e = wire::RequestError::MyNumberRefused(where_);
        return refuse(&shared, StatusCode::BAD_REQUEST, e.code(), e.to_string());
    }
    let path = request.uri().path();
    let method = request.method();
    let response = match (method, path) {
        (&Method::POST, QUERY_PATH) => return query(&shared, request).await,
        (&Method::POST, REGISTRATION_PATH) => return registration(&shared, request).await,
        (&Method::GET, "/health") => json(StatusCode::OK, br#"{"Status":"ok"}"#.to_vec()),
        (_, QUERY_PATH) | (_, REGISTRATION_PATH) | (_, "/health") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not allowed on {path}"),
        ),
        // The path is not echoed: it is the client's text, and could carry anything.
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("the routes are POST {QUERY_PATH}, POST {REGISTRATION_PATH} and GET /health"),
        ),
    };
    if response.status().is_client_error() {
        bump(&shared.counters.refused);
    }
    Ok(response)
}

/// `POST /qualification`: the lookup.
async fn query(shared: &Shared, request: Request<Incoming>) -> Answer {
    let bytes = match read_body(shared, request).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let query = match wire::parse_query(&bytes) {
        Ok(query) => query,
        Err(e) => return refuse(shared, StatusCode::BAD_REQUEST, e.code(), e.to_string()),
    };
    let fault = shared.service.fault_for(&query.key);
    if let Some(answer) = transport_fault(shared, fault.as_ref()).await {
        return answer;
    }
    let result = shared.service.answer(&query, fault.as_ref());
    answer_json(shared, &result, fault.as_ref())
}

/// `POST /registration`: the card is registered for insurance use (the reader's
/// "register" → terms → done). Transport faults apply; result faults do not.
async fn registration(shared: &Shared, request: Request<Incoming>) -> Answer {
    let bytes = match read_body(shared, request).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refusal,
    };
    let registration = match wire::parse_registration(&bytes) {
        Ok(registration) => registration,
        Err(e) => return refuse(shared, StatusCode::BAD_REQUEST, e.code(), e.to_string()),
    };
    let fault = shared.service.fault_for(&registration.key);
    if let Some(answer) = transport_fault(shared, fault.as_ref()).await {
        return answer;
    }
    match shared.service.register(&registration) {
        Ok(()) => answer_json(
            shared,
            &RegistrationAnswer { registered: true },
            fault.as_ref(),
        ),
        Err(problem) => refuse(
            shared,
            StatusCode::FORBIDDEN,
            &format!("{:?}", problem.code()),
            problem.to_string(),
        ),
    }
}

/// Refuses with a 4xx and counts it.
fn refuse(shared: &Shared, status: StatusCode, code: &str, message: String) -> Answer {
    bump(&shared.counters.refused);
    Ok(error(status, code, message))
}

/// Reads a JSON body within the size and time limits; the error is the answer to send.
async fn read_body(shared: &Shared, request: Request<Incoming>) -> Result<Bytes, Answer> {
    let limits = &shared.limits;
    let too_large = || {
        refuse(
            shared,
            StatusCode::PAYLOAD_TOO_LARGE,
            "BodyTooLarge",
            format!("the body may be at most {} bytes", limits.max_body_bytes),
        )
        .map(closing)
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    if let Some(kind) = request.headers().get(CONTENT_TYPE) {
        let is_json = kind
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(refuse(
                shared,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "NotJson",
                "the body must be application/json".into(),
            )
            .map(closing));
        }
    }
    let body = Limited::new(request.into_body(), limits.max_body_bytes);
    match tokio::time::timeout(limits.body_read_timeout, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(e)) => {
            Err(refuse(shared, StatusCode::BAD_REQUEST, "BodyError", e.to_string()).map(closing))
        }
        Err(_) => Err(refuse(
            shared,
            StatusCode::REQUEST_TIMEOUT,
            "BodyTimeout",
            format!(
                "the body did not arrive within {:?}",
                limits.body_read_timeout
            ),
        )
        .map(closing)),
    }
}

/// Applies a transport fault: `Some(answer)` when the fault decides the answer (held, 5xx,
/// or released by a shutdown while slowed), `None` to go on and answer normally.
async fn transport_fault(shared: &Shared, fault: Option<&Fault>) -> Option<Answer> {
    let limits = &shared.limits;
    match fault? {
        Fault::Timeout => {
            bump(&shared.counters.faulted);
            hold(shared, limits.max_hold).await;
            Some(Err(Released))
        }
        Fault::Http5xx(code) => {
            bump(&shared.counters.faulted);
            let status = StatusCode::from_u16(Fault::server_error_status(*code))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(Ok(error(
                status,
                "ServiceFault",
                format!("fault injected: HTTP {}", status.as_u16()),
            )))
        }
        Fault::Slow(delay) => {
            let waited_in_full = hold(shared, (*delay).min(limits.max_hold)).await;
            (!waited_in_full).then_some(Err(Released))
        }
        Fault::MalformedBody | Fault::QualificationInvalid | Fault::SeveralMatches => None,
    }
}

/// A 200 with `value` as JSON, cut in half under `MalformedBody`.
fn answer_json(shared: &Shared, value: &impl serde::Serialize, fault: Option<&Fault>) -> Answer {
    let mut body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(e) => {
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                e.to_string(),
            ))
        }
    };
    if fault == Some(&Fault::MalformedBody) {
        // A truncated answer: valid HTTP, invalid JSON, as from a proxy that cut it short.
        body.truncate(body.len() / 2);
    }
    bump(&shared.counters.answered);
    Ok(json(StatusCode::OK, body))
}

/// Waits `duration` unless the server stops first; true when the full time passed.
async fn hold(shared: &Shared, duration: Duration) -> bool {
    let mut stop = shared.stop.subscribe();
    tokio::select! {
        _ = tokio::time::sleep(duration) => true,
        _ = stopped(&mut stop) => false,
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error(status: StatusCode, code: &str, message: String) -> Response<Full<Bytes>> {
    let body = ErrorBody {
        error: code.to_owned(),
        message,
    };
    let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    json(status, body)
}

/// Marks an answer whose request body was not (fully) read: the connection cannot carry
/// another request.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
