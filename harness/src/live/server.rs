//! The live view over HTTP: `GET /` (the page: no external asset, its script inline),
//! `GET /events` (server-sent events: the state, then every change), `POST /answer` (an
//! operator's answer, as JSON). Its own server on its own thread, so a slow browser can
//! never hold up a case.
//!
//! A page on loopback is still reachable by other pages in the same browser, so an answer
//! needs the run's token (in the page, sent in a header no cross-site form can set), and a
//! loopback server answers only requests addressed to it by name (no DNS rebinding).

use super::Hub;
use crate::operator::{Answerer, Desk, PromptKey, Refused};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The page, with `__TOKEN__` in place of the run's token.
const PAGE: &str = include_str!("page.html");
/// The most connections open at once (a page holds two: its events and an answer).
pub const MAX_CONNECTIONS: usize = 32;
/// The largest answer accepted, in bytes.
pub const MAX_ANSWER_BYTES: usize = 4096;
/// The header that carries the run's token.
pub const TOKEN_HEADER: &str = "x-myna-token";
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Why the live view could not start: the bench's fault (a port in use, a bad address).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("the live view cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("the live view cannot start: {0}")]
    Start(std::io::Error),
}

impl crate::failure::Classified for LiveError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Bench
    }
}

/// A running live view; stopped (and its thread joined) when dropped.
pub struct LiveServer {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveServer {
    /// The address it listens on (the port chosen when `bind` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, to open in a browser.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Ctx {
    hub: Arc<Hub>,
    desk: Desk,
    token: String,
    /// The `Host` values a loopback server answers; empty: any (an exposed server).
    hosts: Vec<String>,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// Starts the live view on `bind`; blocks until it listens.
pub fn start(bind: SocketAddr, hub: Arc<Hub>, desk: Desk) -> Result<LiveServer, LiveError> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let mut token = [0u8; 16];
    openssl::rand::rand_bytes(&mut token)
        .map_err(|e| LiveError::Start(std::io::Error::other(e)))?;
    let token = hex::encode(token);
    let thread = std::thread::Builder::new()
        .name("live-view".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(LiveError::Start(e)));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(bind).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(LiveError::Bind(bind, e)));
                        return;
                    }
                };
                let addr = listener.local_addr().unwrap_or(bind);
                let hosts = match addr.ip().is_loopback() {
                    true => vec![addr.to_string(), format!("localhost:{}", addr.port())],
                    false => Vec::new(),
                };
                let ctx = Arc::new(Ctx {
                    hub,
                    desk,
                    token,
                    hosts,
                    stop: stopped,
                });
                let _ = ready_tx.send(Ok(addr));
                accept_loop(listener, ctx).await;
            });
        })
        .map_err(LiveError::Start)?;
    let addr = ready_rx
        .recv()
        .map_err(|_| LiveError::Start(std::io::Error::other("the live view's thread ended")))??;
    Ok(LiveServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

async fn accept_loop(listener: tokio::net::TcpListener, ctx: Arc<Ctx>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut stop = ctx.stop.clone();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        // Over the limit, a connection is closed unanswered.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let ctx = ctx.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut stop = ctx.stop.clone();
            let service = service_fn(move |request| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(handle(request, &ctx, peer).await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(16 * 1024);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
                }
            }
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn reply(status: StatusCode, kind: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .body(Full::new(body.into()).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn error(status: StatusCode, why: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": why }).to_string();
    reply(status, "application/json", body)
}

async fn handle(request: Request<Incoming>, ctx: &Ctx, peer: SocketAddr) -> Response<Body> {
    let host = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !ctx.hosts.is_empty() && !ctx.hosts.iter().any(|h| h == host) {
        return error(StatusCode::MISDIRECTED_REQUEST, "not this server's name");
    }
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => {
            let mut page = reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                PAGE.replace("__TOKEN__", &ctx.token),
            );
            // Nothing from anywhere else, no frame of it elsewhere.
            if let Ok(csp) = "default-src 'none'; script-src 'unsafe-inline'; \
                 style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"
                .parse()
            {
                page.headers_mut().insert("content-security-policy", csp);
            }
            page
        }
        (&Method::GET, "/events") => events(ctx),
        (&Method::POST, "/answer") => answer(request, ctx, peer).await,
        (_, "/" | "/events" | "/answer") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerRequest {
    seq: usize,
    id: String,
    answer: String,
}

async fn answer(request: Request<Incoming>, ctx: &Ctx, peer: SocketAddr) -> Response<Body> {
    let token = request
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|t| t.to_str().ok());
    if token != Some(ctx.token.as_str()) {
        return error(StatusCode::FORBIDDEN, "the run's token is missing or wrong");
    }
    let body = match Limited::new(request.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "the answer is too large"),
    };
    let Ok(asked) = serde_json::from_slice::<AnswerRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"seq\": N, \"id\": PROMPT, \"answer\": TEXT}",
        );
    };
    let key = PromptKey {
        seq: asked.seq,
        id: asked.id,
    };
    match ctx
        .desk
        .answer(&key, &asked.answer, Answerer::Page(peer.to_string()))
    {
        Ok(()) => reply(StatusCode::NO_CONTENT, "text/plain", Bytes::new()),
        Err(e @ Refused::NotOpen(_)) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ Refused::Invalid(_)) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

/// The stream of server-sent events: the state now, then each change; a follower too slow
/// to keep up gets the state again.
fn events(ctx: &Ctx) -> Response<Body> {
    let (send, receive) = tokio::sync::mpsc::channel::<Bytes>(64);
    let hub = ctx.hub.clone();
    let mut stop = ctx.stop.clone();
    tokio::spawn(async move {
        let frame = |json: &str| Bytes::from(format!("data: {json}\n\n"));
        let (snapshot, mut changes) = hub.follow();
        if send.send(frame(&snapshot)).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                // The run is over: what it said last (its end) still goes out.
                _ = stop.changed() => {
                    while let Ok(json) = changes.try_recv() {
                        if send.send(frame(&json)).await.is_err() {
                            break;
                        }
                    }
                    return;
                }
                _ = tokio::time::sleep(KEEP_ALIVE) => Bytes::from_static(b": keep-alive\n\n"),
                change = changes.recv() => match change {
                    Ok(json) => frame(&json),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let (snapshot, newer) = hub.follow();
                        changes = newer;
                        frame(&snapshot)
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            };
            if send.send(next).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .body(EventBody(receive).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

/// A response body fed by a channel: ends when the sender does.
struct EventBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}
