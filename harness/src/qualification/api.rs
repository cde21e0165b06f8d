//! The service's HTTP API in one table, [`ROUTES`]: the handler routes by it, and
//! `GET /openapi.json` serves the OpenAPI 3.1 document made from it ([`openapi`]), with the
//! JSON Schemas each body type declares next to its definition.
//!
//! The wire format is the harness's own: the real online-qualification service's interface
//! is not public, so the bodies are JSON with the field names and codes of the MHLW 資格確認
//! result as far as they are known (see [`super::record`]).

use super::record::QualificationResult;
use super::schema::{described, object, one_of};
use super::wire::{ErrorBody, QueryBody, RegistrationAnswer, RegistrationBody};
use hyper::Method;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The query route.
pub const QUERY_PATH: &str = "/qualification";

/// The route that registers a card for insurance use.
pub const REGISTRATION_PATH: &str = "/registration";

/// The route that tells the process is up (faults never touch it).
pub const HEALTH_PATH: &str = "/health";

/// The route that serves [`openapi`].
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Where a case's own service answers on a run's server: `/case/N` then a route
/// (`/case/7/qualification`). A run serves every in-process case from one server, each case
/// with its own records, faults, date and journal (`ServerControl::open_case`).
pub const CASE_PREFIX: &str = "/case/";

/// The case number and the route of a path under [`CASE_PREFIX`]; `None` for any other path.
/// `N` is decimal digits only, so `/case/7/../x` or `/case/07x/...` name no case.
pub fn case_route(path: &str) -> Option<(u64, &str)> {
    let rest = path.strip_prefix(CASE_PREFIX)?;
    let (number, route) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // A malformed number names a case that is never open (u64::MAX), so it is a 404.
    let case = match number.bytes().all(|b| b.is_ascii_digit()) {
        true => number.parse().unwrap_or(u64::MAX),
        false => u64::MAX,
    };
    Some((case, route))
}

/// On a case's service whose delays are simulated (an in-process run), a delaying fault
/// does not wait: the answer comes at once with this header, `held` (a request held until
/// the client gives up) or the delay in nanoseconds, and the client (on the case's
/// simulated clock) lets that time pass on the clock instead. Never sent otherwise.
pub const SIMULATED_WAIT_HEADER: &str = "x-myna-hil-simulated-wait";

/// The value of [`SIMULATED_WAIT_HEADER`] for a held request.
pub const SIMULATED_HELD: &str = "held";

/// What a route does; the handler dispatches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Query,
    Registration,
    Health,
    OpenApi,
}

impl Endpoint {
    /// Whether requests to it are kept in the served journal (the routes a device is
    /// judged by).
    pub fn journaled(self) -> bool {
        matches!(self, Endpoint::Query | Endpoint::Registration)
    }
}

/// A body the document describes: a component schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    Query,
    Registration,
    QualificationResult,
    RegistrationAnswer,
    Health,
    OpenApi,
    Error,
}

impl Body {
    pub const ALL: [Body; 7] = [
        Body::Query,
        Body::Registration,
        Body::QualificationResult,
        Body::RegistrationAnswer,
        Body::Health,
        Body::OpenApi,
        Body::Error,
    ];

    /// Its name under `components/schemas`.
    pub fn name(self) -> &'static str {
        match self {
            Body::Query => "QueryBody",
            Body::Registration => "RegistrationBody",
            Body::QualificationResult => "QualificationResult",
            Body::RegistrationAnswer => "RegistrationAnswer",
            Body::Health => "HealthAnswer",
            Body::OpenApi => "OpenApiDocument",
            Body::Error => "ErrorBody",
        }
    }

    pub fn schema(self) -> Value {
        match self {
            Body::Query => QueryBody::json_schema(),
            Body::Registration => RegistrationBody::json_schema(),
            Body::QualificationResult => QualificationResult::json_schema(),
            Body::RegistrationAnswer => RegistrationAnswer::json_schema(),
            Body::Health => described(
                object(vec![("Status", one_of(&["ok"], "Always ok"))], &["Status"]),
                "The process is up.",
            ),
            Body::OpenApi => json!({"type": "object", "description": "This document."}),
            Body::Error => ErrorBody::json_schema(),
        }
    }

    /// `{"$ref": "#/components/schemas/NAME"}`.
    pub fn reference(self) -> Value {
        json!({"$ref": format!("#/components/schemas/{}", self.name())})
    }
}

/// One answer a route may give: the status (`"200"`, or a range such as `"5XX"`), what it
/// means, and its body.
#[derive(Debug)]
pub struct Reply {
    pub status: &'static str,
    pub description: &'static str,
    pub body: Option<Body>,
}

/// One route of the service.
#[derive(Debug)]
pub struct Route {
    pub endpoint: Endpoint,
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    /// The JSON request body, if the route takes one.
    pub request: Option<Body>,
    pub replies: &'static [Reply],
}

/// A reply with an error body.
const fn refusal(status: &'static str, description: &'static str) -> Reply {
    Reply {
        status,
        description,
        body: Some(Body::Error),
    }
}

const HEAD_REFUSED: Reply = refusal(
    "400",
    "Something like a 個人番号 in the URL query or a header (MyNumberRefused)",
);
const BODY_REFUSED: Reply = refusal(
    "400",
    "Not a request of this route (NotJson, WrongShape, CertificateEncoding, \
     NotACertificate, Facility, BodyError), or something like a 個人番号 anywhere in it \
     (MyNumberRefused)",
);
const BODY_TIMEOUT: Reply = refusal(
    "408",
    "The body did not arrive in time (BodyTimeout); the connection is closed",
);
const BODY_TOO_LARGE: Reply = refusal(
    "413",
    "The body is too large (BodyTooLarge); the connection is closed",
);
const NOT_JSON: Reply = refusal("415", "The Content-Type is not application/json (NotJson)");
const HEADERS_TOO_LARGE: Reply = Reply {
    status: "431",
    description: "The request headers are too large (no body)",
    body: None,
};
const SERVER_ERROR: Reply = refusal(
    "5XX",
    "503 Busy: every connection has a request in progress (the connection is closed, try \
     again); any 5xx ServiceFault: a fault injected by the test",
);
const BUSY: Reply = refusal(
    "503",
    "Busy: every connection has a request in progress (the connection is closed, try again)",
);

/// Every route: the single source of the router and of the document.
pub static ROUTES: [Route; 4] = [
    Route {
        endpoint: Endpoint::Query,
        method: Method::POST,
        path: QUERY_PATH,
        summary: "Confirm the qualification of the card's holder",
        request: Some(Body::Query),
        replies: &[
            Reply {
                status: "200",
                description: "The answer, refusals of the certificate included \
                    (SegmentOfResult 9 with an ErrorCode); a MalformedBody fault cuts it short",
                body: Some(Body::QualificationResult),
            },
            BODY_REFUSED,
            BODY_TIMEOUT,
            BODY_TOO_LARGE,
            NOT_JSON,
            HEADERS_TOO_LARGE,
            SERVER_ERROR,
        ],
    },
    Route {
        endpoint: Endpoint::Registration,
        method: Method::POST,
        path: REGISTRATION_PATH,
        summary: "Register the card for insurance use",
        request: Some(Body::Registration),
        replies: &[
            Reply {
                status: "200",
                description: "Registered",
                body: Some(Body::RegistrationAnswer),
            },
            BODY_REFUSED,
            refusal(
                "403",
                "The certificate cannot register: revoked, expired (even in its grace \
                 period), not yet valid, not trusted, or the service is full",
            ),
            BODY_TIMEOUT,
            BODY_TOO_LARGE,
            NOT_JSON,
            HEADERS_TOO_LARGE,
            SERVER_ERROR,
        ],
    },
    Route {
        endpoint: Endpoint::Health,
        method: Method::GET,
        path: HEALTH_PATH,
        summary: "Whether the service process is up",
        request: None,
        replies: &[
            Reply {
                status: "200",
                description: "Up",
                body: Some(Body::Health),
            },
            HEAD_REFUSED,
            HEADERS_TOO_LARGE,
            BUSY,
        ],
    },
    Route {
        endpoint: Endpoint::OpenApi,
        method: Method::GET,
        path: OPENAPI_PATH,
        summary: "This document",
        request: None,
        replies: &[
            Reply {
                status: "200",
                description: "The OpenAPI document",
                body: Some(Body::OpenApi),
            },
            HEAD_REFUSED,
            HEADERS_TOO_LARGE,
            BUSY,
        ],
    },
];

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routed {
    To(Endpoint),
    /// The path is a route's, the method is not.
    WrongMethod,
    NotFound,
}

pub fn route(method: &Method, path: &str) -> Routed {
    let mut on_path = ROUTES.iter().filter(|r| r.path == path).peekable();
    if on_path.peek().is_none() {
        return Routed::NotFound;
    }
    on_path
        .find(|r| r.method == method)
        .map_or(Routed::WrongMethod, |r| Routed::To(r.endpoint))
}

/// `POST /qualification, POST /registration, ...`: for a 404's message.
pub fn route_list() -> String {
    ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The version of the API (not of the harness): raised when a route or body changes.
pub const API_VERSION: &str = "1.0.0";

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in &ROUTES {
        let responses: Map<String, Value> = route
            .replies
            .iter()
            .map(|reply| {
                let mut response = json!({"description": reply.description});
                if let Some(body) = reply.body {
                    response["content"] = json!({"application/json": {"schema": body.reference()}});
                }
                (reply.status.to_owned(), response)
            })
            .collect();
        let mut operation = json!({
            "operationId": format!("{:?}", route.endpoint),
            "summary": route.summary,
            "responses": responses,
        });
        if let Some(body) = route.request {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": body.reference()}},
            });
        }
        let item = paths
            .entry(route.path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    let schemas: Map<String, Value> = Body::ALL
        .iter()
        .map(|body| (body.name().to_owned(), body.schema()))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "myna-hil qualification service simulator",
            "version": API_VERSION,
            "description": "The stand-in for オンライン資格確認 that a reader under test \
                queries during a myna-hil run. The wire format is the harness's own, JSON \
                with the field names and codes of the MHLW 資格確認 result; the real \
                service's interface is not public. The holder is identified by the card's \
                user-authentication certificate; a request holding anything like a 個人番号 \
                is refused.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// [`openapi`] as served, made once.
pub(crate) fn openapi_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| openapi().to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_routes_name_a_case_and_a_route() {
        assert_eq!(
            case_route("/case/7/qualification"),
            Some((7, "/qualification"))
        );
        assert_eq!(case_route("/case/0/health"), Some((0, "/health")));
        assert_eq!(case_route("/qualification"), None);
        assert_eq!(case_route("/cases/7/qualification"), None);
        for malformed in [
            "/case/",
            "/case//qualification",
            "/case/7x/health",
            "/case/-1/health",
        ] {
            assert_eq!(
                case_route(malformed).map(|(n, _)| n),
                Some(u64::MAX),
                "{malformed}"
            );
        }
        assert_eq!(
            case_route("/case/99999999999999999999999/health").map(|(n, _)| n),
            Some(u64::MAX)
        );
    }

    #[test]
    fn requests_are_routed_by_the_table() {
        assert_eq!(
            route(&Method::POST, QUERY_PATH),
            Routed::To(Endpoint::Query)
        );
        assert_eq!(
            route(&Method::GET, OPENAPI_PATH),
            Routed::To(Endpoint::OpenApi)
        );
        assert_eq!(route(&Method::GET, QUERY_PATH), Routed::WrongMethod);
        assert_eq!(route(&Method::GET, "/qualification/"), Routed::NotFound);
        assert_eq!(
            route_list(),
            "POST /qualification, POST /registration, GET /health, GET /openapi.json"
        );
    }

    #[test]
    fn every_reference_resolves_and_every_route_is_one_operation() {
        fn references<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
            match value {
                Value::Object(map) => {
                    out.extend(map.get("$ref").and_then(Value::as_str));
                    map.values().for_each(|v| references(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| references(v, out)),
                _ => {}
            }
        }
        let document = openapi();
        let mut refs = Vec::new();
        references(&document, &mut refs);
        assert!(refs.len() >= ROUTES.len());
        for reference in refs {
            let pointer = reference.strip_prefix('#').expect("local");
            assert!(document.pointer(pointer).is_some(), "{reference}");
        }
        for route in &ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            assert!(document["paths"][route.path][&method].is_object());
            let statuses: std::collections::BTreeSet<&str> =
                route.replies.iter().map(|r| r.status).collect();
            assert_eq!(statuses.len(), route.replies.len(), "{}", route.path);
        }
    }
}
