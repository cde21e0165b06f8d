//! The client a reader uses to ask the service, over real HTTP, with a deadline, and a
//! blocking wrapper for readers that run on a plain thread.

use super::api::{QUERY_PATH, REGISTRATION_PATH, SIMULATED_HELD, SIMULATED_WAIT_HEADER};
use super::record::{Consent, QualificationResult};
use super::wire::{QueryBody, RegistrationAnswer, RegistrationBody};
use crate::sim_clock::SimClock;
use base64::Engine as _;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// Largest answer the client reads; a result is well under 2 KB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why a query got no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No complete answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The service answered with a status other than 200.
    #[error("the service answered HTTP {0}")]
    Http(u16),
    /// A 200 whose body is not a qualification result.
    #[error("the answer is not a qualification result: {0}")]
    Malformed(String),
    /// No connection could be made.
    #[error("cannot connect to the qualification service: {0}")]
    Connect(String),
    /// The connection was made but closed before a whole answer came (a server that gave
    /// up on a held request, a crash, a reset).
    #[error("the connection closed before an answer: {0}")]
    Disconnected(String),
}

/// Asks the service at one address. Cheap to clone; clones share the connection pool.
///
/// Connections are pooled on the tokio runtime that first made them; a client used from
/// several runtimes works but each pooled connection lives on the runtime that opened it.
#[derive(Clone)]
pub struct QualificationClient {
    addr: SocketAddr,
    /// What precedes the routes: empty, or a case's `/case/N` on a run's server.
    path: String,
    /// Where a simulated wait the service stamps on an answer passes (real: none does).
    clock: SimClock,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for QualificationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QualificationClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl QualificationClient {
    /// A client for the service at `addr` (a `ServerControl::addr()`). Needs no runtime to
    /// build; `query` must run on a tokio runtime.
    pub fn new(addr: SocketAddr) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        QualificationClient {
            addr,
            path: String::new(),
            clock: SimClock::real(),
            http,
        }
    }

    /// This client with waits the service stamps (`api::SIMULATED_WAIT_HEADER`, from a
    /// case service with simulated delays) passing on `clock`: an answer stamped with more
    /// than the deadline, or held, is a [`QueryError::Timeout`] after the deadline's time.
    pub fn on_clock(mut self, clock: SimClock) -> Self {
        self.clock = clock;
        self
    }

    /// A client for one case's service on the same server (`CaseService::path`), sharing
    /// this client's kept-alive connections.
    pub fn for_case(&self, path: &str) -> Self {
        QualificationClient {
            path: path.to_owned(),
            ..self.clone()
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Asks for the qualification of the holder of `certificate_der` (the card's
    /// user-authentication certificate) on behalf of `facility`, without consent choices.
    /// The whole exchange (connect, send, answer) must finish within `deadline`.
    pub async fn query(
        &self,
        certificate_der: &[u8],
        facility: &str,
        deadline: Duration,
    ) -> Result<QualificationResult, QueryError> {
        self.query_with_consent(certificate_der, facility, None, deadline)
            .await
    }

    /// [`query`](Self::query) with the consent the patient chose at the reader (`None`:
    /// reuse what the service holds for this facility).
    pub async fn query_with_consent(
        &self,
        certificate_der: &[u8],
        facility: &str,
        consent: Option<Consent>,
        deadline: Duration,
    ) -> Result<QualificationResult, QueryError> {
        let body = QueryBody {
            certificate: base64::engine::general_purpose::STANDARD.encode(certificate_der),
            facility: facility.to_owned(),
            consent,
        };
        self.post(QUERY_PATH, &body, deadline).await
    }

    /// Registers the card whose user-authentication certificate this is for insurance use
    /// (the reader's "register" → accept the terms → done). A certificate the service
    /// refuses (revoked, expired, ...) is `Http(403)`.
    pub async fn register(
        &self,
        certificate_der: &[u8],
        deadline: Duration,
    ) -> Result<(), QueryError> {
        let body = RegistrationBody {
            certificate: base64::engine::general_purpose::STANDARD.encode(certificate_der),
        };
        let answer: RegistrationAnswer = self.post(REGISTRATION_PATH, &body, deadline).await?;
        if answer.registered {
            Ok(())
        } else {
            Err(QueryError::Malformed(
                "the service answered Registered: false".into(),
            ))
        }
    }

    /// POSTs `body` as JSON to `path` and reads a JSON answer, all within `deadline`.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        deadline: Duration,
    ) -> Result<T, QueryError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| QueryError::Malformed(format!("cannot encode the request: {e}")))?;
        let request = Request::post(format!("http://{}{}{path}", self.addr, self.path))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| QueryError::Connect(e.to_string()))?;
        match tokio::time::timeout(deadline, self.exchange(request, deadline)).await {
            Ok(answer) => answer,
            Err(_) => Err(QueryError::Timeout(deadline)),
        }
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        request: Request<Full<Bytes>>,
        deadline: Duration,
    ) -> Result<T, QueryError> {
        let response = self.http.request(request).await.map_err(|e| {
            if e.is_connect() {
                QueryError::Connect(chain(&e))
            } else {
                QueryError::Disconnected(chain(&e))
            }
        })?;
        if self.clock.is_simulated() {
            let stamped = response.headers().get(SIMULATED_WAIT_HEADER);
            let wait = stamped.and_then(|v| v.to_str().ok()).map(|v| match v {
                SIMULATED_HELD => None,
                nanos => nanos.parse::<u64>().ok().map(Duration::from_nanos),
            });
            match wait {
                Some(Some(wait)) if wait <= deadline => self.clock.pass(wait),
                // Held, too slow, or a stamp that does not parse: the client gives up at
                // its deadline.
                Some(_) => {
                    self.clock.pass(deadline);
                    return Err(QueryError::Timeout(deadline));
                }
                None => {}
            }
        }
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await;
        if status != StatusCode::OK {
            // The body (an error description) is read only so the connection can be reused.
            return Err(QueryError::Http(status.as_u16()));
        }
        let body = match body {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(QueryError::Malformed(format!(
                    "the answer is longer than {MAX_RESPONSE_BYTES} bytes"
                )))
            }
            Err(e) => return Err(QueryError::Disconnected(chain(e.as_ref()))),
        };
        serde_json::from_slice(&body).map_err(|e| QueryError::Malformed(e.to_string()))
    }
}

/// An error and its sources on one line (hyper's top-level messages say little alone).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A client for code that is not async, such as a reader on a blocking thread.
///
/// It owns a small runtime (one worker thread) and hands each query to it, waiting on a
/// plain channel. It never enters a runtime on the calling thread, so it works from any
/// thread, including `spawn_blocking` inside a tokio program (where `Runtime::block_on`
/// would panic with "cannot start a runtime from within a runtime"). Called from an async
/// task it works too, but blocks that task's worker: async code should use
/// [`QualificationClient`]. Dropping it is safe anywhere (the runtime is shut down in the
/// background, never blocking).
pub struct BlockingQualificationClient {
    client: QualificationClient,
    /// Where the queries run: the client's own runtime, or one it was given.
    handle: tokio::runtime::Handle,
    /// Owned only when built with [`BlockingQualificationClient::new`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for BlockingQualificationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingQualificationClient")
            .field("addr", &self.client.addr)
            .finish_non_exhaustive()
    }
}

/// Extra time the caller waits beyond the deadline for the runtime to report; the deadline
/// itself is enforced inside, this only guards against a stalled runtime.
const HANDOFF_GRACE: Duration = Duration::from_secs(1);

impl BlockingQualificationClient {
    pub fn new(addr: SocketAddr) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("qualification-client")
            .enable_all()
            .build()?;
        Ok(BlockingQualificationClient {
            client: QualificationClient::new(addr),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// A client whose queries run on an existing runtime (the engine's): no runtime is
    /// built per client, which is most of a short case's cost otherwise. Call it from a
    /// thread that is not driving that runtime (e.g. `spawn_blocking`).
    pub fn on_runtime(addr: SocketAddr, handle: tokio::runtime::Handle) -> Self {
        BlockingQualificationClient {
            client: QualificationClient::new(addr),
            handle,
            runtime: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.client.addr
    }

    /// `client`'s queries, run on `handle` (the engine's runtime), blocking the caller:
    /// a case's client on a run's server, sharing the run's kept-alive connections.
    pub fn with_client(client: QualificationClient, handle: tokio::runtime::Handle) -> Self {
        BlockingQualificationClient {
            client,
            handle,
            runtime: None,
        }
    }

    /// [`QualificationClient::query`], blocking.
    pub fn query(
        &self,
        certificate_der: &[u8],
        facility: &str,
        deadline: Duration,
    ) -> Result<QualificationResult, QueryError> {
        self.query_with_consent(certificate_der, facility, None, deadline)
    }

    /// [`QualificationClient::query_with_consent`], blocking.
    pub fn query_with_consent(
        &self,
        certificate_der: &[u8],
        facility: &str,
        consent: Option<Consent>,
        deadline: Duration,
    ) -> Result<QualificationResult, QueryError> {
        let certificate = certificate_der.to_vec();
        let facility = facility.to_owned();
        self.run(deadline, move |client| async move {
            client
                .query_with_consent(&certificate, &facility, consent, deadline)
                .await
        })
    }

    /// [`QualificationClient::register`], blocking.
    pub fn register(&self, certificate_der: &[u8], deadline: Duration) -> Result<(), QueryError> {
        let certificate = certificate_der.to_vec();
        self.run(deadline, move |client| async move {
            client.register(&certificate, deadline).await
        })
    }

    /// Runs `call` on the client's runtime and waits for its answer on a plain channel.
    fn run<T, F, Fut>(&self, deadline: Duration, call: F) -> Result<T, QueryError>
    where
        T: Send + 'static,
        F: FnOnce(QualificationClient) -> Fut,
        Fut: Future<Output = Result<T, QueryError>> + Send + 'static,
    {
        let stopped = || QueryError::Disconnected("the client's runtime has stopped".into());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let call = call(self.client.clone());
        self.handle.spawn(async move {
            let _ = tx.send(call.await);
        });
        match rx.recv_timeout(deadline.saturating_add(HANDOFF_GRACE)) {
            Ok(answer) => answer,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(QueryError::Timeout(deadline)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(stopped()),
        }
    }
}

impl Drop for BlockingQualificationClient {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
