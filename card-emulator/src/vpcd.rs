//! The vpcd transport: shows a [`Card`] to a real pcscd through vsmartcard's vpcd driver.
//!
//! Wire format (the only place in the project that knows it): each message is a 2-byte
//! big-endian length and a payload. A 1-byte payload is a control code (0 power off, 1 power
//! on, 2 reset, 4 get ATR; only 4 is answered, with the ATR); any other payload is a command
//! APDU answered with the response APDU.
//!
//! Latency: Debian 12's vpcd writes length and payload in two sends without TCP_NODELAY, so
//! the card side sets TCP_QUICKACK again after every read (the length, then the payload);
//! without it each message costs ~44 ms.

use crate::card::{Card, Delivery};
use socket2::SockRef;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Port of the first vpcd reader ("Virtual PCD 00 00"); the n-th reader listens on +n.
pub const DEFAULT_PORT: u16 = 35963;

const CTRL_POWER_OFF: u8 = 0;
const CTRL_POWER_ON: u8 = 1;
const CTRL_RESET: u8 = 2;
const CTRL_GET_ATR: u8 = 4;

/// pcscd notices a removal only at its 400 ms poll; re-inserting sooner may go unseen.
const REINSERT_PAUSE: Duration = Duration::from_millis(500);

/// One exchange on the wire, as the transport saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Control(u8),
    Apdu(&'a [u8]),
}

impl<'a> Message<'a> {
    pub fn classify(payload: &'a [u8]) -> Self {
        match payload {
            [code] => Message::Control(*code),
            apdu => Message::Apdu(apdu),
        }
    }
}

/// Writes one framed message (length prefix and payload in one send).
pub fn write_frame(stream: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than 65535"))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// Reads one framed message into `buf`; `Ok(false)` on a clean end of stream.
/// `after_read` runs after each of the two reads (length, then payload).
pub fn read_frame<R: Read>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    mut after_read: impl FnMut(&mut R) -> io::Result<()>,
) -> io::Result<bool> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    after_read(stream)?;
    buf.resize(usize::from(u16::from_be_bytes(len)), 0);
    stream.read_exact(buf)?;
    after_read(stream)?;
    Ok(true)
}

/// Acknowledges at once what was just read. vpcd sends length and payload as two writes
/// without TCP_NODELAY, so its second write waits for our ACK; a delayed ACK costs ~40 ms
/// per message. Quick-ACK mode does not stick, hence after every read.
fn quickack(stream: &mut TcpStream) -> io::Result<()> {
    SockRef::from(&*stream).set_tcp_quickack(true)
}

/// Where the card plugs in.
#[derive(Clone, Debug)]
pub struct VpcdAddress {
    pub host: String,
    pub port: u16,
}

impl Default for VpcdAddress {
    fn default() -> Self {
        VpcdAddress {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
        }
    }
}

#[derive(Default)]
struct Shared {
    inserted: AtomicBool,
    stop: AtomicBool,
    stream: Mutex<Option<TcpStream>>,
}

/// A card plugged into a vpcd reader, served by a background thread.
/// Dropping the handle removes the card and stops the thread.
pub struct VirtualCard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    card: Arc<Mutex<Card>>,
    _reader: ReaderLock,
}

/// A vpcd reader is one resource for the whole machine. Whoever plugs a card into it holds
/// an advisory lock (a file in the temporary folder) while the card is in, so a second run
/// cannot swap its cards into a reader another run is using: each would judge the other's
/// cards (two runs at once gave false `fail` verdicts before this lock).
struct ReaderLock {
    _file: std::fs::File,
}

/// How long to wait for a reader another process is letting go of.
const READER_LOCK_GRACE: Duration = Duration::from_secs(2);

impl ReaderLock {
    fn take(address: &VpcdAddress) -> io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "myna-hil-vpcd-{}-{}.lock",
            address.host, address.port
        ));
        // Another user's lock file can still be locked through a read-only handle.
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => std::fs::File::open(&path)?,
            other => other?,
        };
        let deadline = std::time::Instant::now() + READER_LOCK_GRACE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(ReaderLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "the vpcd reader on port {} is in use by another process \
                             (another myna-hil run or myna-vicc; lock {})",
                            address.port,
                            path.display()
                        ),
                    ))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

impl VirtualCard {
    /// Connects `card` to vpcd at `address` and serves it until stopped. Fails when another
    /// process holds the reader (`AddrInUse`) or vpcd does not accept the connection
    /// (pcscd not running).
    pub fn attach(card: Card, address: &VpcdAddress) -> io::Result<Self> {
        let reader = ReaderLock::take(address)?;
        let first = connect(address).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "vpcd on port {} takes no card: {e} (is pcscd running with vsmartcard-vpcd?)",
                    address.port
                ),
            )
        })?;
        let shared = Arc::new(Shared::default());
        shared.inserted.store(true, Ordering::SeqCst);
        let card = Arc::new(Mutex::new(card));
        let thread = {
            let shared = Arc::clone(&shared);
            let card = Arc::clone(&card);
            let address = address.clone();
            std::thread::Builder::new()
                .name(format!("vpcd:{}", address.port))
                .spawn(move || serve_loop(first, &shared, &card, &address))?
        };
        Ok(VirtualCard {
            shared,
            thread: Some(thread),
            card,
            _reader: reader,
        })
    }

    /// Takes the card out of the reader (pcscd sees it at its next poll, about 0.4 s).
    pub fn remove(&self) {
        self.shared.inserted.store(false, Ordering::SeqCst);
        self.drop_connection();
    }

    /// Puts the card back (after a pause so pcscd sees the removal first).
    pub fn insert(&self) {
        self.shared.inserted.store(true, Ordering::SeqCst);
    }

    pub fn is_inserted(&self) -> bool {
        self.shared.inserted.load(Ordering::SeqCst)
    }

    /// The live card, e.g. to inspect its counters after a test.
    pub fn card(&self) -> &Arc<Mutex<Card>> {
        &self.card
    }

    fn drop_connection(&self) {
        if let Ok(guard) = self.shared.stream.lock() {
            if let Some(stream) = guard.as_ref() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.drop_connection();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn connect(address: &VpcdAddress) -> io::Result<TcpStream> {
    let addr = (address.host.as_str(), address.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "vpcd address did not resolve"))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn serve_loop(first: TcpStream, shared: &Shared, card: &Mutex<Card>, address: &VpcdAddress) {
    let mut next = Some(first);
    while !shared.stop.load(Ordering::SeqCst) {
        let stream = match next.take() {
            Some(s) => s,
            None => {
                std::thread::sleep(REINSERT_PAUSE);
                if !shared.inserted.load(Ordering::SeqCst) {
                    continue;
                }
                match connect(address) {
                    Ok(s) => s,
                    Err(_) => continue,
                }
            }
        };
        if let Ok(clone) = stream.try_clone() {
            if let Ok(mut guard) = shared.stream.lock() {
                *guard = Some(clone);
            }
        }
        // A session ends when vpcd or the harness closes the socket, or the card tears.
        if let Ok(SessionEnd::Torn) = serve_session(stream, shared, card) {
            shared.inserted.store(false, Ordering::SeqCst);
        }
        if let Ok(mut guard) = shared.stream.lock() {
            *guard = None;
        }
    }
}

/// Why a connection to vpcd ended.
enum SessionEnd {
    /// vpcd, or the harness, closed it.
    Closed,
    /// The card tore off mid-response and stays out until `insert`.
    Torn,
}

fn serve_session(
    mut stream: TcpStream,
    shared: &Shared,
    card: &Mutex<Card>,
) -> io::Result<SessionEnd> {
    let mut request = Vec::with_capacity(512);
    let mut response = Vec::with_capacity(512);
    loop {
        if !read_frame(&mut stream, &mut request, quickack)? || shared.stop.load(Ordering::SeqCst) {
            return Ok(SessionEnd::Closed);
        }
        let mut card = card
            .lock()
            .map_err(|_| io::Error::other("card state poisoned"))?;
        match Message::classify(&request) {
            Message::Control(CTRL_GET_ATR) => {
                let atr = crate::card::ATR;
                drop(card);
                write_frame(&mut stream, &atr)?;
            }
            Message::Control(CTRL_POWER_ON | CTRL_RESET | CTRL_POWER_OFF) => {
                card.reset();
            }
            Message::Control(_) => {}
            Message::Apdu(apdu) => {
                card.transmit(apdu, &mut response);
                let delivery = card.delivery();
                drop(card);
                match delivery {
                    Delivery::Normal => write_frame(&mut stream, &response)?,
                    Delivery::Delayed(d) => {
                        std::thread::sleep(d);
                        write_frame(&mut stream, &response)?;
                    }
                    // Keep reading: the host sees no answer, and pcscd may still poll.
                    Delivery::Silent => {}
                    Delivery::Torn => {
                        // Announce the response, then vanish before a byte of it: a reader
                        // never passes on a broken frame.
                        let len = (response.len() as u16).to_be_bytes();
                        stream.write_all(&len)?;
                        let _ = stream.shutdown(Shutdown::Both);
                        return Ok(SessionEnd::Torn);
                    }
                }
            }
        }
    }
}
