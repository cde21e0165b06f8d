//! Answers one HTTP request: routing (by [`super::api::ROUTES`]), body limits, the query,
//! transport faults, and the served journal. The server's lifecycle (listening, connections,
//! shutdown) is in `server`; what both share is in [`super::state`].
//!
//! Faults do not touch `GET /health`: it tells the harness the process is up, not how the
//! service behaves.

use super::api::{self, Endpoint, Routed};
use super::fault::Fault;
use super::journal::Served;
use super::state::{bump, stopped, Delays, Shared, Tenant};
use super::wire::{self, ErrorBody, ErrorCode, RegistrationAnswer, RequestError};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
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
    let Some((tenant, path)) = shared.tenant(request.uri().path()) else {
        bump(&shared.counters.refused);
        return Ok(error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such case is open on this service".into(),
        ));
    };
    let answer = match (leak, api::route(request.method(), path)) {
        (leak, Routed::To(endpoint)) => serve(&shared, &tenant, endpoint, request, leak).await,
        (Some(where_), _) => Ok(request_error(&RequestError::MyNumberRefused(where_))),
        // Neither the method nor the path is echoed: they are the client's text, and could
        // carry anything.
        (None, Routed::WrongMethod) => Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("the routes are {}", api::route_list()),
        )),
        (None, Routed::NotFound) => Ok(error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("the routes are {}", api::route_list()),
        )),
    };
    if answer
        .as_ref()
        .is_ok_and(|response| response.status().is_client_error())
    {
        bump(&shared.counters.refused);
    }
    answer
}

/// A request to one of the routes, journaled if the route is.
async fn serve(
    shared: &Shared,
    tenant: &Tenant,
    endpoint: Endpoint,
    request: Request<Incoming>,
    leak: Option<String>,
) -> Answer {
    let mut served = tenant.journal.entry(endpoint);
    let answer = match (leak, endpoint) {
        (Some(where_), _) => Ok(request_error(&RequestError::MyNumberRefused(where_))),
        (None, Endpoint::Query) => query(shared, tenant, request, &mut served).await,
        (None, Endpoint::Registration) => registration(shared, tenant, request, &mut served).await,
        (None, Endpoint::Health) => Ok(json(StatusCode::OK, br#"{"Status":"ok"}"#.to_vec())),
        (None, Endpoint::OpenApi) => Ok(json(StatusCode::OK, api::openapi_bytes().to_vec())),
    };
    // A simulated hold is journaled as a real one: no answer reached the client.
    if let Some(response) = answer
        .as_ref()
        .ok()
        .filter(|r| r.extensions().get::<Held>().is_none())
    {
        served.status = Some(response.status().as_u16());
        served.error = response.extensions().get::<ErrorCode>().copied();
    }
    answer
}

/// Marks the answer to a request held on a simulated clock (never an answer to the client:
/// its client gives up at its deadline).
#[derive(Clone, Copy, Debug)]
struct Held;

/// `POST /qualification`: the lookup.
async fn query(
    shared: &Shared,
    tenant: &Tenant,
    request: Request<Incoming>,
    served: &mut Served,
) -> Answer {
    let bytes = match read_body(shared, request).await {
        Ok(bytes) => bytes,
        Err(refusal) => return Ok(refusal),
    };
    let query = match wire::parse_query_with(&bytes, &shared.certificates) {
        Ok(query) => query,
        Err(e) => return Ok(request_error(&e)),
    };
    served.certificate = Some(query.key.clone());
    served.facility = Some(query.facility.clone());
    served.consent = query.consent;
    let fault = tenant.service.fault_for(&query.key);
    served.fault.clone_from(&fault);
    if let Some(answer) = transport_fault(shared, tenant, fault.as_ref()).await {
        return answer;
    }
    let result = tenant.service.answer(&query, fault.as_ref());
    let answer = answer_json(shared, served, &result);
    served.result = Some(result);
    simulated_slow(shared, tenant, fault.as_ref(), answer)
}

/// `POST /registration`: the card is registered for insurance use (the reader's
/// "register" → terms → done). Transport faults apply; result faults do not.
async fn registration(
    shared: &Shared,
    tenant: &Tenant,
    request: Request<Incoming>,
    served: &mut Served,
) -> Answer {
    let bytes = match read_body(shared, request).await {
        Ok(bytes) => bytes,
        Err(refusal) => return Ok(refusal),
    };
    let registration = match wire::parse_registration_with(&bytes, &shared.certificates) {
        Ok(registration) => registration,
        Err(e) => return Ok(request_error(&e)),
    };
    served.certificate = Some(registration.key.clone());
    let fault = tenant.service.fault_for(&registration.key);
    served.fault.clone_from(&fault);
    if let Some(answer) = transport_fault(shared, tenant, fault.as_ref()).await {
        return answer;
    }
    match tenant.service.register(&registration) {
        Ok(()) => {
            served.registered = true;
            let answer = answer_json(shared, served, &RegistrationAnswer { registered: true });
            simulated_slow(shared, tenant, fault.as_ref(), answer)
        }
        Err(problem) => Ok(error(
            StatusCode::FORBIDDEN,
            problem.code().into(),
            problem.to_string(),
        )),
    }
}

/// 400 with the code and message of a request error.
fn request_error(e: &RequestError) -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, e.code(), e.to_string())
}

/// Reads a JSON body within the size and time limits; the error is the answer to send.
async fn read_body(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Bytes, Response<Full<Bytes>>> {
    let limits = &shared.limits;
    // Each refusal here leaves the body (partly) unread: the connection cannot carry
    // another request.
    let refuse = |status, code, message| closing(error(status, code, message));
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            format!("the body may be at most {} bytes", limits.max_body_bytes),
        )
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
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::NotJson,
                "the body must be application/json".into(),
            ));
        }
    }
    let body = Limited::new(request.into_body(), limits.max_body_bytes);
    match tokio::time::timeout(limits.body_read_timeout, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(e)) => Err(refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::BodyError,
            e.to_string(),
        )),
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::BodyTimeout,
            format!(
                "the body did not arrive within {:?}",
                limits.body_read_timeout
            ),
        )),
    }
}

/// Applies a transport fault: `Some(answer)` when the fault decides the answer (held, 5xx,
/// or released by a shutdown while slowed), `None` to go on and answer normally.
async fn transport_fault(
    shared: &Shared,
    tenant: &Tenant,
    fault: Option<&Fault>,
) -> Option<Answer> {
    let limits = &shared.limits;
    let simulated = tenant.delays == Delays::Simulated;
    match fault? {
        Fault::Timeout if simulated => {
            bump(&shared.counters.faulted);
            let mut held = error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceFault,
                "held (simulated)".into(),
            );
            held.extensions_mut().insert(Held);
            held.headers_mut().insert(
                api::SIMULATED_WAIT_HEADER,
                HeaderValue::from_static(api::SIMULATED_HELD),
            );
            Some(Ok(held))
        }
        Fault::Timeout => {
            bump(&shared.counters.faulted);
            hold(shared, limits.max_hold).await;
            Some(Err(Released))
        }
        // Answered at once; `simulated_slow` stamps the delay.
        Fault::Slow(_) if simulated => None,
        Fault::Http5xx(code) => {
            bump(&shared.counters.faulted);
            let status = StatusCode::from_u16(Fault::server_error_status(*code))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(Ok(error(
                status,
                ErrorCode::ServiceFault,
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

/// The answer of a case whose delays are simulated, stamped with its `Slow` fault's delay
/// (capped like a real one); any other answer as it is.
fn simulated_slow(
    shared: &Shared,
    tenant: &Tenant,
    fault: Option<&Fault>,
    answer: Answer,
) -> Answer {
    let (Delays::Simulated, Some(Fault::Slow(delay))) = (tenant.delays, fault) else {
        return answer;
    };
    answer.map(|mut response| {
        let nanos = (*delay).min(shared.limits.max_hold).as_nanos().to_string();
        if let Ok(value) = HeaderValue::from_str(&nanos) {
            response
                .headers_mut()
                .insert(api::SIMULATED_WAIT_HEADER, value);
        }
        response
    })
}

/// A 200 with `value` as JSON, cut in half under the request's `MalformedBody` fault (noted
/// in the journal).
fn answer_json(shared: &Shared, served: &mut Served, value: &impl serde::Serialize) -> Answer {
    let mut body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(e) => {
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                e.to_string(),
            ))
        }
    };
    if served.fault == Some(Fault::MalformedBody) {
        // A truncated answer: valid HTTP, invalid JSON, as from a proxy that cut it short.
        body.truncate(body.len() / 2);
        served.truncated = true;
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

/// An error answer. The code also travels in the response's extensions (never sent), so
/// the journal can take it from whatever answer a request ends with.
pub(super) fn error(status: StatusCode, code: ErrorCode, message: String) -> Response<Full<Bytes>> {
    let mut response = json(status, error_body(code, message));
    response.extensions_mut().insert(code);
    response
}

/// `{"Error": CODE, "Message": TEXT}`.
pub(super) fn error_body(code: ErrorCode, message: String) -> Vec<u8> {
    let body = ErrorBody {
        error: code,
        message,
    };
    serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec())
}

/// Marks an answer whose request body was not (fully) read: the connection cannot carry
/// another request.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
