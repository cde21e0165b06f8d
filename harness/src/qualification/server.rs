//! The HTTP/1.1 server: a real socket (127.0.0.1:0 by default), so a reader under test
//! talks to it exactly as it would to a remote service, with every resource bounded.
//!
//! Requests are answered in `handler.rs` (private: routing and the query).
//!
//! Bounds: request body ([`Limits::max_body_bytes`], 413), header size (431 from hyper) and
//! header read time (which is also the idle time of a kept-alive connection), body read time
//! (408), open connections (at the cap the longest-waiting one gives way, or the newcomer is
//! answered 503: `slots.rs`), how long a held (`Timeout`) or slowed request may last, how
//! long a connection may live, how long shutdown may wait for connections to finish, and
//! how many entries the served journal keeps.

use super::fault::{Fault, FaultTable};
use super::handler;
use super::identity::CertificateKey;
use super::identity::ParsedCertificates;
use super::journal::{Journal, Served};
use super::record::{InsuredRecord, RecordError};
use super::service::lock;
use super::service::Service;
use super::slots::{Admission, Slot, Slots};
use super::state::{bump, stopped, Counters, Shared, Tenant};
pub use super::state::{Delays, Limits, ServerStats, MAX_OPEN_CASES};
use super::trust::{TrustAnchor, TrustError};
use super::wire::ErrorCode;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use time::Date;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Everything a server needs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen; `127.0.0.1:0` (an ephemeral loopback port) unless a bench needs a
    /// device on the network to reach it.
    pub bind: SocketAddr,
    pub records: Vec<InsuredRecord>,
    /// The trusted CA certificate, DER (`TestPki::shared()?.ca_certificate_der()`).
    pub ca_der: Vec<u8>,
    /// The CA's CRL, DER (`TestPki::crl_for(profiles, date)`); required, because the service
    /// is the one that checks revocation (see [`super::trust`]).
    pub crl_der: Vec<u8>,
    /// The service's date (the scenario's date); `None` = today, UTC.
    pub today: Option<Date>,
    /// Faults in force from the start.
    pub faults: FaultTable,
    pub limits: Limits,
}

impl ServerConfig {
    /// Loopback, ephemeral port, today's date, no faults, default limits.
    pub fn new(records: Vec<InsuredRecord>, ca_der: Vec<u8>, crl_der: Vec<u8>) -> Self {
        ServerConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            records,
            ca_der,
            crl_der,
            today: None,
            faults: FaultTable::default(),
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("insured record {index}: {error}")]
    Record { index: usize, error: RecordError },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the server's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the server thread ended before it started serving")]
    Thread,
    #[error("{MAX_OPEN_CASES} cases are open on the service already")]
    TooManyCases,
}

/// Starts servers. See [`Server::start`] and [`Server::start_background`].
pub struct Server;

impl Server {
    /// Binds and starts serving on the caller's tokio runtime; returns once the socket
    /// listens, so the address is usable at once.
    pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        let (shared, listener, addr) = prepare(config).await?;
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(ServerHandle {
            control: ServerControl { addr, shared },
            task: Some(task),
        })
    }

    /// Starts a server on its own thread with its own (single-threaded) runtime, for
    /// callers without one (blocking code, the end-to-end tests). Blocks until the socket
    /// listens. Dropping the returned value stops the server and joins the thread.
    pub fn start_background(config: ServerConfig) -> Result<BackgroundServer, ServerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("qualification-service".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(ServerError::Runtime(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Server::start(config).await {
                        Ok(handle) => {
                            let control = handle.control();
                            let _ = ready_tx.send(Ok(control.clone()));
                            control.stopped().await;
                            handle.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(ServerError::Runtime)?;
        let control = ready_rx.recv().map_err(|_| ServerError::Thread)??;
        Ok(BackgroundServer {
            control,
            thread: Some(thread),
        })
    }
}

async fn prepare(
    config: ServerConfig,
) -> Result<(Arc<Shared>, TcpListener, SocketAddr), ServerError> {
    let trust = Arc::new(TrustAnchor::from_der(&config.ca_der, &config.crl_der)?);
    let service = Service::new(config.records, trust.clone(), config.faults, config.today)
        .map_err(|(index, error)| ServerError::Record { index, error })?;
    let bind_error = |source| ServerError::Bind {
        addr: config.bind,
        source,
    };
    let listener = TcpListener::bind(config.bind).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let (stop, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        main: Arc::new(Tenant {
            service,
            journal: Journal::new(config.limits.max_served),
            delays: Delays::Real,
        }),
        cases: std::sync::Mutex::new(std::collections::HashMap::new()),
        next_case: AtomicU64::new(0),
        trust,
        certificates: ParsedCertificates::new(),
        limits: config.limits,
        stop,
        counters: Counters::default(),
    });
    Ok((shared, listener, addr))
}

/// Runs a server until `shutdown` completes: what `myna-hil serve-qualification` runs.
/// Prints one line, `qualification service listening on http://ADDR`, to stdout once the
/// socket listens (scripts may wait for it and take the address from it).
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let handle = Server::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "qualification service listening on {}", handle.url());
        let _ = out.flush();
    }
    shutdown.await;
    handle.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM: the usual `shutdown` for [`serve`].
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Controls a running server from any thread: faults, date, counters, stop. Cheap to clone;
/// clones do not keep the server alive (the [`ServerHandle`] or [`BackgroundServer`] does).
#[derive(Clone)]
pub struct ServerControl {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerControl")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServerControl {
    /// The bound address (the real port, not 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets (or with `None` clears) the fault for every query. Takes effect for requests
    /// whose body arrives after the call.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.main.service.set_fault(fault);
    }

    /// Sets (or clears) the fault for queries about one certificate.
    pub fn set_record_fault(&self, key: &CertificateKey, fault: Option<Fault>) {
        self.shared.main.service.set_record_fault(key, fault);
    }

    /// The faults in force.
    pub fn faults(&self) -> FaultTable {
        self.shared.main.service.faults()
    }

    /// Sets the service's date (`None`: today, UTC).
    pub fn set_today(&self, today: Option<Date>) {
        self.shared.main.service.set_today(today);
    }

    /// The CA and CRL the service checks certificates against (a reader may check with the
    /// same, see [`super::trust`]).
    pub fn trust(&self) -> &TrustAnchor {
        self.shared.main.service.trust()
    }

    /// Whether the card with this certificate is registered for insurance use now.
    pub fn is_registered(&self, key: &CertificateKey) -> bool {
        self.shared.main.service.is_registered(key)
    }

    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServerStats {
            connections: get(&c.connections),
            open_connections: get(&c.open_connections),
            requests: get(&c.requests),
            answered: get(&c.answered),
            refused: get(&c.refused),
            faulted: get(&c.faulted),
            evicted: get(&c.evicted),
            turned_away: get(&c.turned_away),
            served_dropped: self.shared.main.journal.dropped(),
        }
    }

    /// What the service served, request by request: every request that reached
    /// `POST /qualification` or `POST /registration`, refused ones included, oldest first.
    /// The newest [`Limits::max_served`] are kept; `stats().served_dropped` counts the rest.
    pub fn served(&self) -> Vec<Served> {
        self.shared.main.journal.served()
    }

    /// Asks the server to stop: no new connections, open ones are closed gracefully and held
    /// requests released. Returns at once; [`ServerHandle::shutdown`] waits.
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
    }

    async fn stopped(&self) {
        stopped(&mut self.shared.stop.subscribe()).await;
    }

    /// Opens a case's own service on this server: its records, date and faults, its own
    /// consents, registrations and served journal, reached under its
    /// [`CaseService::url`]. Nothing of it is seen by another case or by the server's own
    /// routes, and it is gone when the handle drops. One server can so serve a whole run,
    /// without a listener, a CA and a CRL parse per case.
    pub fn open_case(
        &self,
        records: Vec<InsuredRecord>,
        today: Option<Date>,
        delays: Delays,
    ) -> Result<CaseService, ServerError> {
        let service = Service::new(
            records,
            self.shared.trust.clone(),
            FaultTable::default(),
            today,
        )
        .map_err(|(index, error)| ServerError::Record { index, error })?;
        let tenant = Arc::new(Tenant {
            service,
            journal: Journal::new(self.shared.limits.max_served),
            delays,
        });
        let mut cases = lock(&self.shared.cases);
        if cases.len() >= MAX_OPEN_CASES {
            return Err(ServerError::TooManyCases);
        }
        let number = self.shared.next_case.fetch_add(1, Ordering::Relaxed);
        cases.insert(number, Arc::clone(&tenant));
        Ok(CaseService {
            control: self.clone(),
            number,
            tenant,
        })
    }
}

/// A case's own service on a run's server ([`ServerControl::open_case`]); closed on drop.
pub struct CaseService {
    control: ServerControl,
    number: u64,
    tenant: Arc<Tenant>,
}

impl std::fmt::Debug for CaseService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseService")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl CaseService {
    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// `/case/N`: what precedes the routes of this case's service.
    pub fn path(&self) -> String {
        format!("{}{}", super::api::CASE_PREFIX, self.number)
    }

    /// `http://ADDR/case/N`.
    pub fn url(&self) -> String {
        format!("{}{}", self.control.url(), self.path())
    }

    /// [`ServerControl::set_fault`] for this case only.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.tenant.service.set_fault(fault);
    }

    /// [`ServerControl::served`] for this case only.
    pub fn served(&self) -> Vec<Served> {
        self.tenant.journal.served()
    }
}

impl Drop for CaseService {
    fn drop(&mut self) {
        lock(&self.control.shared.cases).remove(&self.number);
    }
}

/// A server on the caller's runtime. Dropping it stops the server (without waiting).
pub struct ServerHandle {
    control: ServerControl,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// A control that other tasks or threads can keep.
    pub fn control(&self) -> ServerControl {
        self.control.clone()
    }

    /// Stops the server and waits until every connection is closed (at most
    /// `Limits::drain_timeout`, after which the rest are dropped).
    pub async fn shutdown(mut self) {
        self.control.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Deref for ServerHandle {
    type Target = ServerControl;
    fn deref(&self) -> &ServerControl {
        &self.control
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.control.stop();
    }
}

/// A server on its own thread. Dropping it stops the server and joins the thread.
pub struct BackgroundServer {
    control: ServerControl,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundServer {
    pub fn control(&self) -> ServerControl {
        self.control.clone()
    }

    /// Stops the server and waits for its thread (at most about `Limits::drain_timeout`).
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.control.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Deref for BackgroundServer {
    type Target = ServerControl;
    fn deref(&self) -> &ServerControl {
        &self.control
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Every connection is accepted at once, so none waits in the kernel's backlog behind
    // clients that connect and send nothing; `Slots` keeps the number open bounded.
    let slots = Slots::new(shared.limits.max_connections);
    let mut connections = JoinSet::new();
    let mut stop = shared.stop.subscribe();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Out of descriptors or a connection reset before accept: wait a little
                // rather than spin, and go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        match slots.admit() {
            Admission::In {
                slot,
                evicted_by,
                evicted,
            } => {
                if evicted {
                    bump(&shared.counters.evicted);
                }
                connections.spawn(serve_connection(
                    stream,
                    Arc::clone(&shared),
                    slot,
                    evicted_by,
                ));
            }
            Admission::Full => {
                bump(&shared.counters.turned_away);
                turn_away(stream);
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(shared.limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
}

/// Answers 503 Busy to a connection accepted when every connection has a request in
/// progress, and closes it, without a task and without reading the request. The socket's
/// send buffer is empty, so one `try_write` takes the whole answer; a client that had sent
/// its request may see a reset after the answer (the unread request), never a wait.
fn turn_away(stream: TcpStream) {
    let body = handler::error_body(
        ErrorCode::Busy,
        "every connection has a request in progress; try again".into(),
    );
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let _ = stream.try_write(&answer);
}

/// Decrements the open-connection count however the connection task ends.
struct OpenConnection<'a>(&'a Counters);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    evicted_by: oneshot::Receiver<()>,
) {
    bump(&shared.counters.connections);
    bump(&shared.counters.open_connections);
    let _open = OpenConnection(&shared.counters);
    let _ = stream.set_nodelay(true);
    let limits = shared.limits.clone();
    let for_service = Arc::clone(&shared);
    let service = service_fn(move |request| {
        // hyper calls this once the request's head is in: from now until the answer is
        // made the connection is not waiting, and cannot be evicted.
        let busy = slot.busy();
        let shared = Arc::clone(&for_service);
        async move {
            let _busy = busy;
            handler::handle(shared, request).await
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stop = shared.stop.subscribe();
    tokio::select! {
        _ = connection.as_mut() => return,
        // Its place was given to a newcomer while it waited for a request: close it at
        // once, there is nothing to answer.
        _ = evicted_by => return,
        _ = stopped(&mut stop) => {}
        _ = tokio::time::sleep(limits.connection_lifetime) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.drain_timeout, connection).await;
}
