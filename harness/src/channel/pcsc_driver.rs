//! The PC/SC host driver: any card in any reader through the real pcscd.
//!
//! pcsc-lite has no transmit timeout (a silent card blocks the caller forever), so each
//! channel owns a worker thread that makes the blocking calls; the caller waits for the
//! answer at most its deadline. A worker stuck on a silent card is abandoned and a new one
//! (with a new context) serves the next call. After pcscd restarts an old context keeps
//! failing, so a service error also retires the worker and its context.

use crate::channel::{checked_response, CardChannel, ChannelError, Response};
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use std::ffi::CString;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

/// The readers pcscd lists now (empty when it lists none).
pub fn list_readers() -> Result<Vec<String>, ChannelError> {
    with_context(|ctx| match ctx.list_readers_owned() {
        Ok(readers) => Ok(readers
            .into_iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(reader_error(e)),
    })
}

/// Waits until a card is present in `reader`, at most `timeout`.
pub fn wait_for_card(reader: &str, timeout: Duration) -> Result<(), ChannelError> {
    wait_for_state(reader, timeout, true)
}

/// Waits until `reader` is empty, at most `timeout`.
pub fn wait_for_removal(reader: &str, timeout: Duration) -> Result<(), ChannelError> {
    wait_for_state(reader, timeout, false)
}

fn wait_for_state(reader: &str, timeout: Duration, present: bool) -> Result<(), ChannelError> {
    let name = reader_name(reader)?;
    with_context(|ctx| wait_on(ctx, name, timeout, present))
}

fn wait_on(
    ctx: &Context,
    name: CString,
    timeout: Duration,
    present: bool,
) -> Result<(), ChannelError> {
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    let end = Instant::now() + timeout;
    loop {
        match ctx.get_status_change(Some(Duration::ZERO), &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(reader_error(e)),
        }
        if states[0].event_state().contains(State::PRESENT) == present {
            return Ok(());
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ChannelError::Timeout(timeout));
        }
        states[0].sync_current_state();
        match ctx.get_status_change(Some(left), &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(reader_error(e)),
        }
    }
}

/// Runs `f` on a fresh context and releases it.
fn with_context<T>(f: impl FnOnce(&Context) -> Result<T, ChannelError>) -> Result<T, ChannelError> {
    let ctx = Context::establish(Scope::User).map_err(reader_error)?;
    let result = f(&ctx);
    release(ctx);
    result
}

fn reader_name(reader: &str) -> Result<CString, ChannelError> {
    CString::new(reader).map_err(|_| ChannelError::Reader("reader name holds a NUL byte".into()))
}

fn reader_error(e: pcsc::Error) -> ChannelError {
    match e {
        pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard => ChannelError::Removed,
        // pcscd refusing a handle it gave out (seen on the first transmit right after a
        // pcscd restart) is the stack's fault, never the card's or the reader's.
        pcsc::Error::NoService
        | pcsc::Error::ServiceStopped
        | pcsc::Error::InvalidHandle
        | pcsc::Error::SecurityViolation
        | pcsc::Error::CommError => ChannelError::Stack(e.to_string()),
        other => ChannelError::Reader(other.to_string()),
    }
}

/// How long a caller polls for the reply before it sleeps: longer than a vpcd round trip.
const REPLY_POLL: Duration = Duration::from_micros(300);

enum Request {
    Transmit(Vec<u8>),
    Reset,
}

type Reply = Result<Vec<u8>, pcsc::Error>;

/// Keeps pcsc-lite's handle lists consistent across the threads of this process.
///
/// libpcsclite (1.9.9 here, and its master too) finds the context of a card handle by
/// walking the handle list of *every* context in the process under its global lock, while
/// `SCardConnect` and `SCardDisconnect` change their own context's list under that
/// context's lock only. A transmit in one worker racing a connect or disconnect in another
/// walks a list that is being changed: runs died of a general protection fault in that walk
/// (`list_seek`), and `tests/tests/pcsc_churn.rs` reproduces it with the bare `pcsc` crate.
///
/// So calls on a card handle ([`walk`]) and calls that change the lists ([`change`]) are
/// kept apart. Calls on handles still run in parallel. A change waits for the calls in
/// flight, except those in flight longer than [`PRESUMED_BLOCKED`]: pcsc-lite walks the
/// lists before it talks to pcscd, so a call that old is blocked on its card (a silent
/// card may never answer) and no longer walking.
mod handle_lists {
    use std::sync::{Condvar, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    pub const PRESUMED_BLOCKED: Duration = Duration::from_millis(500);

    struct Lists {
        /// Start times of the calls on card handles in flight.
        walking: Vec<(u64, Instant)>,
        next_id: u64,
        changing: bool,
    }

    static LISTS: Mutex<Lists> = Mutex::new(Lists {
        walking: Vec::new(),
        next_id: 0,
        changing: false,
    });
    static SETTLED: Condvar = Condvar::new();

    fn lock() -> MutexGuard<'static, Lists> {
        LISTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a call on a card handle (transmit, reconnect).
    pub fn walk<T>(call: impl FnOnce() -> T) -> T {
        let id = {
            let mut lists = lock();
            while lists.changing {
                lists = SETTLED.wait(lists).unwrap_or_else(|p| p.into_inner());
            }
            lists.next_id += 1;
            let id = lists.next_id;
            lists.walking.push((id, Instant::now()));
            id
        };
        let result = call();
        lock().walking.retain(|(other, _)| *other != id);
        SETTLED.notify_all();
        result
    }

    /// Runs a call that changes the handle lists (connect, disconnect, context release).
    pub fn change<T>(call: impl FnOnce() -> T) -> T {
        {
            let mut lists = lock();
            while lists.changing {
                lists = SETTLED.wait(lists).unwrap_or_else(|p| p.into_inner());
            }
            lists.changing = true;
            loop {
                let now = Instant::now();
                let youngest = lists
                    .walking
                    .iter()
                    .map(|(_, start)| now.duration_since(*start))
                    .filter(|age| *age < PRESUMED_BLOCKED)
                    .min();
                let Some(age) = youngest else { break };
                lists = SETTLED
                    .wait_timeout(lists, PRESUMED_BLOCKED - age)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        let result = call();
        lock().changing = false;
        SETTLED.notify_all();
        result
    }
}

use handle_lists::{change, walk};

/// Releases a context (its handle list goes with it).
fn release(ctx: Context) {
    change(|| drop(ctx));
}

/// One worker thread holding a context and a connection to the card.
struct Worker {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
}

impl Worker {
    /// Starts a worker that connects to the card in `reader`. Connecting can block too
    /// (pcscd holds the reader while another handle waits on a silent card), so it happens
    /// on the worker thread and the caller waits at most `deadline`.
    fn start(reader: &CString, deadline: Duration) -> Result<Self, ChannelError> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, replies) = mpsc::channel::<Reply>();
        let reader = reader.clone();
        std::thread::Builder::new()
            .name("pcsc-worker".into())
            .spawn(move || {
                let connected = Context::establish(Scope::User).and_then(|ctx| {
                    match change(|| ctx.connect(&reader, ShareMode::Shared, Protocols::ANY)) {
                        Ok(card) => Ok((ctx, card)),
                        Err(e) => {
                            release(ctx);
                            Err(e)
                        }
                    }
                });
                // The context must outlive the card handle.
                let (ctx, mut card) = match connected {
                    Ok(pair) => pair,
                    Err(e) => {
                        let _ = outbox.send(Err(e));
                        return;
                    }
                };
                if outbox.send(Ok(Vec::new())).is_err() {
                    return;
                }
                let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
                for request in inbox {
                    let reply = match request {
                        Request::Transmit(apdu) => {
                            walk(|| card.transmit(&apdu, &mut buf).map(<[u8]>::to_vec))
                        }
                        Request::Reset => walk(|| {
                            card.reconnect(
                                ShareMode::Shared,
                                Protocols::ANY,
                                Disposition::UnpowerCard,
                            )
                        })
                        .map(|()| Vec::new()),
                    };
                    if outbox.send(reply).is_err() {
                        break;
                    }
                }
                // The pcsc crate's Drop would reset the card for every other handle on
                // the reader; leaving it alone is what an abandoned worker should do.
                // (When disconnecting fails, the returned card is dropped in here too.)
                change(|| drop(card.disconnect(Disposition::LeaveCard)));
                release(ctx);
            })
            .map_err(|e| ChannelError::Reader(format!("cannot start worker: {e}")))?;
        match replies.recv_timeout(deadline) {
            Ok(Ok(_)) => Ok(Worker { requests, replies }),
            Ok(Err(e)) => Err(reader_error(e)),
            Err(RecvTimeoutError::Timeout) => Err(ChannelError::Timeout(deadline)),
            Err(RecvTimeoutError::Disconnected) => {
                Err(ChannelError::Reader("the PC/SC worker stopped".into()))
            }
        }
    }

    fn call(&self, request: Request, deadline: Duration) -> Result<Vec<u8>, CallError> {
        self.requests
            .send(request)
            .map_err(|_| CallError::WorkerGone)?;
        // Poll first, yielding the CPU, so a busy APDU loop never sleeps: on this VM a
        // sleeping thread halts its vCPU and each wake-up costs ~20 µs (measured with
        // tests/benches/pcsc_roundtrip.rs). A slow card costs at most REPLY_POLL of CPU.
        let start = Instant::now();
        let poll = REPLY_POLL.min(deadline);
        loop {
            match self.replies.try_recv() {
                Ok(reply) => return reply.map_err(CallError::Pcsc),
                Err(TryRecvError::Disconnected) => return Err(CallError::WorkerGone),
                Err(TryRecvError::Empty) if start.elapsed() < poll => std::thread::yield_now(),
                Err(TryRecvError::Empty) => break,
            }
        }
        match self
            .replies
            .recv_timeout(deadline.saturating_sub(start.elapsed()))
        {
            Ok(reply) => reply.map_err(CallError::Pcsc),
            Err(RecvTimeoutError::Timeout) => Err(CallError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(CallError::WorkerGone),
        }
    }
}

enum CallError {
    Timeout,
    WorkerGone,
    Pcsc(pcsc::Error),
}

/// A card in a PC/SC reader.
pub struct PcscChannel {
    reader: String,
    reader_c: CString,
    deadline: Duration,
    worker: Option<Worker>,
}

impl PcscChannel {
    /// Connects to the card in `reader` and resets it (a fresh power-on, as between
    /// cases); the error names the reader.
    pub fn connect_fresh(reader: &str, deadline: Duration) -> Result<PcscChannel, String> {
        let mut channel =
            PcscChannel::connect(reader, deadline).map_err(|e| format!("{reader}: {e}"))?;
        channel
            .reset()
            .map_err(|e| format!("{reader}: reset: {e}"))?;
        Ok(channel)
    }

    /// Connects to the card in `reader` (shared mode, any protocol).
    pub fn connect(reader: &str, deadline: Duration) -> Result<Self, ChannelError> {
        let reader_c = reader_name(reader)?;
        let worker = Worker::start(&reader_c, deadline)?;
        Ok(PcscChannel {
            reader: reader.to_owned(),
            reader_c,
            deadline,
            worker: Some(worker),
        })
    }

    fn worker(&mut self) -> Result<&Worker, ChannelError> {
        if self.worker.is_none() {
            self.worker = Some(Worker::start(&self.reader_c, self.deadline)?);
        }
        self.worker
            .as_ref()
            .ok_or_else(|| ChannelError::Reader("no worker".into()))
    }

    fn call(&mut self, request: Request) -> Result<Vec<u8>, ChannelError> {
        let deadline = self.deadline;
        let result = self.worker()?.call(request, deadline);
        match result {
            Ok(bytes) => Ok(bytes),
            Err(CallError::Timeout) => {
                // The worker is stuck in SCardTransmit; leave it and start afresh next time.
                self.worker = None;
                Err(ChannelError::Timeout(deadline))
            }
            Err(CallError::WorkerGone) => {
                self.worker = None;
                Err(ChannelError::Reader("the PC/SC worker stopped".into()))
            }
            Err(CallError::Pcsc(e)) => {
                if needs_new_context(e) {
                    self.worker = None;
                }
                Err(reader_error(e))
            }
        }
    }
}

/// Errors after which the context or the card handle is dead (pcscd restarted, card
/// removed or reset by someone else).
fn needs_new_context(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::SecurityViolation
            | pcsc::Error::UnknownReader
            | pcsc::Error::ReaderUnavailable
            | pcsc::Error::RemovedCard
            | pcsc::Error::ResetCard
            | pcsc::Error::NoSmartcard
            | pcsc::Error::CommError
    )
}

impl CardChannel for PcscChannel {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Response, ChannelError> {
        let start = Instant::now();
        let bytes = self.call(Request::Transmit(apdu.to_vec()))?;
        checked_response(bytes, start.elapsed())
    }

    fn reset(&mut self) -> Result<(), ChannelError> {
        self.call(Request::Reset).map(|_| ())
    }

    fn describe(&self) -> String {
        self.reader.clone()
    }
}
