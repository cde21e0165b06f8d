//! A serial line on another machine, reached through a terminal server that speaks telnet
//! with the COM-PORT-OPTION (`rfc2217://HOST:PORT[@BAUD]`; ser2net, Moxa NPort, Lantronix,
//! Digi and the like).
//!
//! The invariant: **the bytes a side writes are the bytes the other side reads**. Data is
//! 8-bit clean because TRANSMIT-BINARY is on both ways (no NVT CR/NUL rules) and the only
//! byte telnet claims, IAC (0xFF), is doubled when written and undoubled when read; every
//! other telnet sequence the server sends (option negotiation, NOTIFY-LINESTATE and
//! NOTIFY-MODEMSTATE subnegotiations, NOP, …) is taken out of the data, however the
//! stream is cut into reads (the decoder is a state machine fed byte by byte, so a
//! sequence split across reads is as good as a whole one).
//!
//! The codec here is pure (no I/O): [`escape`] for what is written, [`Decoder`] for what is
//! read, [`Negotiator`] for the answers to the server's DO/DONT/WILL/WONT, [`Client`] for
//! the whole client side (negotiation, the port settings and the server's answers to them).
//! [`Rfc2217Link`] puts it on a `TcpStream`; `link.rs` makes it a `Link` (three delegating
//! lines there, so that this module needs nothing of `link` and the two are no cycle).
//!
//! Sources (public):
//! - RFC 854, Telnet Protocol Specification (IAC, commands, DO/DONT/WILL/WONT, escaping
//!   0xFF as IAC IAC): <https://www.rfc-editor.org/rfc/rfc854>.
//! - RFC 855, Telnet Option Specifications (IAC SB … IAC SE):
//!   <https://www.rfc-editor.org/rfc/rfc855>.
//! - RFC 856, Telnet Binary Transmission (TRANSMIT-BINARY, option 0):
//!   <https://www.rfc-editor.org/rfc/rfc856>.
//! - RFC 1143, The Q Method of Implementing TELNET Option Negotiation (no reply to a request
//!   that confirms the state in force, so negotiation never loops):
//!   <https://www.rfc-editor.org/rfc/rfc1143>.
//! - RFC 2217, Telnet Com Port Control Option (option 44, SET-BAUDRATE … SET-CONTROL, the
//!   server's answers at command + 100, NOTIFY-LINESTATE, NOTIFY-MODEMSTATE):
//!   <https://www.rfc-editor.org/rfc/rfc2217>.
//! - `ser2net.yaml(5)` and `ser2net(8)` (Debian's ser2net 4.3): the server the tests use.
//!
//! Why not a crate: in December 2026 crates.io has `rfc2217` (0.1.0, a sans-IO client and
//! server, one release of October 2026 by one author, about 5,600 lines) and `rfc2217-rs`
//! (0.1.0 of 2022, a server and a parser, no client negotiation). The first would fit, but
//! this link needs only a small part of it (one fixed 8N1 setting, no modem lines, no
//! flow-control suspension), its one `Client` mixes the read and the write side that this
//! link keeps on two threads, and it is too young to be a dependency the harness's
//! verdicts rest on; the part needed here is under 600 lines of code, link included.
//!
//! What is not done: the server's FLOWCONTROL-SUSPEND is ignored (the adapter protocol's
//! lines are small and answered one at a time); modem and line states are not reported;
//! no signature is asked for.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Interpret As Command: starts every telnet sequence; doubled, a data byte 0xFF.
pub const IAC: u8 = 255;
pub const DONT: u8 = 254;
pub const DO: u8 = 253;
pub const WONT: u8 = 252;
pub const WILL: u8 = 251;
/// Subnegotiation begin and end (RFC 855).
pub const SB: u8 = 250;
pub const SE: u8 = 240;
/// TRANSMIT-BINARY (RFC 856).
pub const BINARY: u8 = 0;
/// COM-PORT-OPTION (RFC 2217).
pub const COM_PORT: u8 = 44;

/// The COM-PORT-OPTION commands a client sends (RFC 2217); the server answers each with
/// the same command plus [`SERVER`].
pub mod command {
    pub const SET_BAUDRATE: u8 = 1;
    pub const SET_DATASIZE: u8 = 2;
    pub const SET_PARITY: u8 = 3;
    pub const SET_STOPSIZE: u8 = 4;
    pub const SET_CONTROL: u8 = 5;
    /// What the server adds to a command in its answers and notifications.
    pub const SERVER: u8 = 100;
    /// SET-PARITY's value for no parity.
    pub const PARITY_NONE: u8 = 1;
    /// SET-STOPSIZE's value for one stop bit.
    pub const STOPSIZE_1: u8 = 1;
    /// SET-CONTROL's value for no flow control (outbound, and both ways on most servers).
    pub const NO_FLOW_CONTROL: u8 = 1;
}

/// The longest subnegotiation kept; the rest of a longer one is dropped (RFC 2217's are at
/// most a few bytes; a signature may be longer, and none is asked for).
pub const MAX_SUBNEGOTIATION: usize = 256;

/// A negotiation verb (RFC 854).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Will,
    Wont,
    Do,
    Dont,
}

impl Verb {
    pub fn byte(self) -> u8 {
        match self {
            Verb::Will => WILL,
            Verb::Wont => WONT,
            Verb::Do => DO,
            Verb::Dont => DONT,
        }
    }

    fn from_byte(b: u8) -> Option<Verb> {
        match b {
            WILL => Some(Verb::Will),
            WONT => Some(Verb::Wont),
            DO => Some(Verb::Do),
            DONT => Some(Verb::Dont),
            _ => None,
        }
    }
}

/// A telnet sequence taken out of the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// IAC WILL/WONT/DO/DONT option.
    Negotiation(Verb, u8),
    /// IAC SB option data… IAC SE, with IAC IAC in the data undoubled (at most
    /// [`MAX_SUBNEGOTIATION`] bytes of data kept).
    Subnegotiation { option: u8, data: Vec<u8> },
    /// Any other command: NOP, data mark, break, go ahead, …
    Command(u8),
}

/// Appends `data` to `out` as telnet data: every 0xFF doubled.
pub fn escape(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len());
    for chunk in data.split_inclusive(|&b| b == IAC) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&IAC) {
            out.push(IAC);
        }
    }
}

/// Appends IAC `verb` `option`.
pub fn negotiation(verb: Verb, option: u8, out: &mut Vec<u8>) {
    out.extend_from_slice(&[IAC, verb.byte(), option]);
}

/// Appends IAC SB `option` `data` IAC SE, with 0xFF in the data doubled.
pub fn subnegotiation(option: u8, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[IAC, SB, option]);
    escape(data, out);
    out.extend_from_slice(&[IAC, SE]);
}

/// Where the decoder is in the byte stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    /// After IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT: the option comes next.
    Verb(Verb),
    /// After IAC SB: the option comes next.
    SbOption,
    /// Inside a subnegotiation.
    SbData,
    /// After IAC inside a subnegotiation.
    SbIac,
}

/// The read side's state machine: telnet bytes in, data bytes and [`Event`]s out. Any cut
/// of the input into calls gives the same output as the whole input in one call.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    state: State,
    sub_option: u8,
    sub: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// True between sequences (nothing of a sequence is held back).
    pub fn is_idle(&self) -> bool {
        self.state == State::Data
    }

    /// Decodes `input`: its data bytes appended to `data`, its sequences to `events`.
    pub fn decode(&mut self, input: &[u8], data: &mut Vec<u8>, events: &mut Vec<Event>) {
        let mut rest = input;
        while !rest.is_empty() {
            if self.state == State::Data {
                // Plain data up to the next IAC, in one copy.
                let n = rest.iter().position(|&b| b == IAC).unwrap_or(rest.len());
                data.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if let Some((_, tail)) = rest.split_first() {
                    self.state = State::Iac;
                    rest = tail;
                }
                continue;
            }
            let (&b, tail) = rest.split_first().expect("not empty");
            rest = tail;
            self.byte(b, data, events);
        }
    }

    fn byte(&mut self, b: u8, data: &mut Vec<u8>, events: &mut Vec<Event>) {
        self.state = match self.state {
            State::Data if b == IAC => State::Iac,
            State::Data => {
                data.push(b);
                State::Data
            }
            State::Iac => self.after_iac(b, data, events),
            State::Verb(verb) => {
                events.push(Event::Negotiation(verb, b));
                State::Data
            }
            State::SbOption => {
                self.sub_option = b;
                self.sub.clear();
                State::SbData
            }
            State::SbData if b == IAC => State::SbIac,
            State::SbData => {
                self.keep_sub(b);
                State::SbData
            }
            State::SbIac if b == IAC => {
                self.keep_sub(IAC);
                State::SbData
            }
            State::SbIac if b == SE => {
                events.push(Event::Subnegotiation {
                    option: self.sub_option,
                    data: std::mem::take(&mut self.sub),
                });
                State::Data
            }
            // IAC and anything but SE or IAC inside a subnegotiation: a broken one (RFC 855
            // allows no other command there). It ends, and the byte is read as a command.
            State::SbIac => {
                self.sub.clear();
                self.after_iac(b, data, events)
            }
        };
    }

    fn after_iac(&mut self, b: u8, data: &mut Vec<u8>, events: &mut Vec<Event>) -> State {
        if b == IAC {
            data.push(IAC);
            return State::Data;
        }
        if b == SB {
            return State::SbOption;
        }
        if let Some(verb) = Verb::from_byte(b) {
            return State::Verb(verb);
        }
        events.push(Event::Command(b));
        State::Data
    }

    fn keep_sub(&mut self, b: u8) {
        if self.sub.len() < MAX_SUBNEGOTIATION {
            self.sub.push(b);
        }
    }
}

/// One side of one option (RFC 1143's states, without the queue: this side asks once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptionState {
    #[default]
    Off,
    /// Asked for, no answer yet.
    Asked,
    On,
}

/// Who performs an option: this client (WILL/WONT; the server says DO/DONT) or the
/// server (WILL/WONT; this client says DO/DONT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Us,
    Him,
}

/// The options this client wants or accepts, each side, and the answers to the server's
/// requests: TRANSMIT-BINARY both ways, COM-PORT-OPTION on our side (accepted on his too,
/// as pyserial does); every other option refused (WONT to a DO, DONT to a WILL). A request
/// that confirms the state in force gets no reply, so negotiation never loops.
#[derive(Clone, Debug, Default)]
pub struct Negotiator {
    /// [binary us, binary him, com-port us, com-port him].
    states: [OptionState; 4],
    /// Options the server refused when asked (option, side).
    refused: Vec<(u8, Side)>,
}

impl Negotiator {
    pub fn new() -> Negotiator {
        Negotiator::default()
    }

    fn slot(option: u8, side: Side) -> Option<usize> {
        match (option, side) {
            (BINARY, Side::Us) => Some(0),
            (BINARY, Side::Him) => Some(1),
            (COM_PORT, Side::Us) => Some(2),
            (COM_PORT, Side::Him) => Some(3),
            _ => None,
        }
    }

    pub fn state(&self, option: u8, side: Side) -> OptionState {
        Negotiator::slot(option, side).map_or(OptionState::Off, |i| self.states[i])
    }

    /// What the server refused when asked.
    pub fn refused(&self) -> &[(u8, Side)] {
        &self.refused
    }

    /// The client's own requests: WILL BINARY, DO BINARY, WILL COM-PORT-OPTION.
    pub fn requests(&mut self, out: &mut Vec<u8>) {
        for (option, side) in [
            (BINARY, Side::Us),
            (BINARY, Side::Him),
            (COM_PORT, Side::Us),
        ] {
            let i = Negotiator::slot(option, side).expect("a wanted option");
            if self.states[i] == OptionState::Off {
                self.states[i] = OptionState::Asked;
                let verb = match side {
                    Side::Us => Verb::Will,
                    Side::Him => Verb::Do,
                };
                negotiation(verb, option, out);
            }
        }
    }

    /// Answers the server's `verb` `option` (appending the reply, if any, to `out`).
    pub fn answer(&mut self, verb: Verb, option: u8, out: &mut Vec<u8>) {
        // (whose option, whether the server says yes, our yes, our no)
        let (side, yes, agree, decline) = match verb {
            Verb::Do => (Side::Us, true, Verb::Will, Verb::Wont),
            Verb::Dont => (Side::Us, false, Verb::Will, Verb::Wont),
            Verb::Will => (Side::Him, true, Verb::Do, Verb::Dont),
            Verb::Wont => (Side::Him, false, Verb::Do, Verb::Dont),
        };
        let Some(i) = Negotiator::slot(option, side) else {
            // Not one we want: a request to turn it on is refused; it is off already.
            if yes {
                negotiation(decline, option, out);
            }
            return;
        };
        let state = &mut self.states[i];
        match (*state, yes) {
            (OptionState::Off, true) => {
                negotiation(agree, option, out);
                *state = OptionState::On;
            }
            (OptionState::Asked, true) => *state = OptionState::On,
            (OptionState::On, true) | (OptionState::Off, false) => {}
            (OptionState::Asked, false) => {
                *state = OptionState::Off;
                self.refused.push((option, side));
            }
            (OptionState::On, false) => {
                negotiation(decline, option, out);
                *state = OptionState::Off;
            }
        }
    }
}

/// The port settings the client asks for: `baud`, 8 data bits, no parity, 1 stop bit, no
/// flow control. Appends the five COM-PORT-OPTION subnegotiations to `out`.
pub fn settings_requests(baud: u32, out: &mut Vec<u8>) {
    use command::*;
    subnegotiation(
        COM_PORT,
        &[&[SET_BAUDRATE][..], &baud.to_be_bytes()].concat(),
        out,
    );
    subnegotiation(COM_PORT, &[SET_DATASIZE, 8], out);
    subnegotiation(COM_PORT, &[SET_PARITY, PARITY_NONE], out);
    subnegotiation(COM_PORT, &[SET_STOPSIZE, STOPSIZE_1], out);
    subnegotiation(COM_PORT, &[SET_CONTROL, NO_FLOW_CONTROL], out);
}

/// The five settings, by name, with the value asked for.
fn wanted(baud: u32) -> [(u8, &'static str, u32); 5] {
    use command::*;
    [
        (SET_BAUDRATE, "baud rate", baud),
        (SET_DATASIZE, "data size", 8),
        (SET_PARITY, "parity", PARITY_NONE.into()),
        (SET_STOPSIZE, "stop size", STOPSIZE_1.into()),
        (SET_CONTROL, "flow control", NO_FLOW_CONTROL.into()),
    ]
}

/// The client side of a link: decoder, negotiation, the settings asked for and the
/// server's answers to them. Pure: bytes in, data and replies out.
#[derive(Clone, Debug)]
pub struct Client {
    decoder: Decoder,
    negotiator: Negotiator,
    baud: u32,
    settings_sent: bool,
    /// The server's answer to each of the five settings (index as in [`wanted`]).
    answers: [Option<u32>; 5],
}

impl Client {
    /// A client that will ask for `baud` 8N1; its opening requests appended to `out`.
    pub fn new(baud: u32, out: &mut Vec<u8>) -> Client {
        let mut client = Client {
            decoder: Decoder::new(),
            negotiator: Negotiator::new(),
            baud,
            settings_sent: false,
            answers: [None; 5],
        };
        client.negotiator.requests(out);
        client
    }

    pub fn negotiator(&self) -> &Negotiator {
        &self.negotiator
    }

    /// Takes the server's bytes: data appended to `data`, replies for the server to `out`
    /// (negotiation answers; the settings once the server agreed to COM-PORT-OPTION).
    pub fn receive(&mut self, input: &[u8], data: &mut Vec<u8>, out: &mut Vec<u8>) {
        let mut events = Vec::new();
        self.decoder.decode(input, data, &mut events);
        for event in events {
            match event {
                Event::Negotiation(verb, option) => self.negotiator.answer(verb, option, out),
                Event::Subnegotiation {
                    option: COM_PORT,
                    data,
                } => self.answered(&data),
                // NOP, data mark, other options' subnegotiations: nothing to do.
                Event::Subnegotiation { .. } | Event::Command(_) => {}
            }
        }
        if !self.settings_sent && self.negotiator.state(COM_PORT, Side::Us) == OptionState::On {
            settings_requests(self.baud, out);
            self.settings_sent = true;
        }
    }

    /// Records the server's answer to a setting; notifications and the rest are dropped.
    fn answered(&mut self, sub: &[u8]) {
        let Some((&code, value)) = sub.split_first() else {
            return;
        };
        let Some(i) = wanted(self.baud)
            .iter()
            .position(|(c, _, _)| c + command::SERVER == code)
        else {
            return;
        };
        let value = match value.len() {
            0 => return,
            1 => u32::from(value[0]),
            _ if value.len() >= 4 => u32::from_be_bytes([value[0], value[1], value[2], value[3]]),
            _ => return,
        };
        self.answers[i] = Some(value);
    }

    /// `Ok(true)` once every option is on and every setting confirmed as asked; `Err` when
    /// the server refused one or set another value; `Ok(false)` while answers are missing.
    pub fn ready(&self) -> Result<bool, String> {
        if let Some(&(option, side)) = self.negotiator.refused().first() {
            let (name, hint) = match option {
                COM_PORT => (
                    "COM-PORT-OPTION (RFC 2217)",
                    ": is it an RFC 2217 server? (ser2net: accepter telnet(rfc2217),tcp,…)",
                ),
                _ => (
                    "TRANSMIT-BINARY (RFC 856)",
                    ": bytes would not pass 8-bit clean",
                ),
            };
            let whose = match side {
                Side::Us => "for the client",
                Side::Him => "on its side",
            };
            return Err(format!("the server refused {name} {whose}{hint}"));
        }
        for (i, (_, name, asked)) in wanted(self.baud).into_iter().enumerate() {
            match self.answers[i] {
                Some(got) if got != asked => {
                    return Err(format!("the server set the {name} to {got}, not {asked}"))
                }
                _ => {}
            }
        }
        Ok(self.missing().is_empty())
    }

    /// What the client still waits for, in words.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (option, side, name) in [
            (BINARY, Side::Us, "TRANSMIT-BINARY from the client"),
            (BINARY, Side::Him, "TRANSMIT-BINARY from the server"),
            (COM_PORT, Side::Us, "COM-PORT-OPTION"),
        ] {
            if self.negotiator.state(option, side) != OptionState::On {
                out.push(name);
            }
        }
        for (i, (_, name, _)) in wanted(self.baud).into_iter().enumerate() {
            if self.answers[i].is_none() {
                out.push(name);
            }
        }
        out
    }
}

// --- The link ------------------------------------------------------------------------------

/// The read side, shared by every handle of one link (reads happen on one thread).
struct ReadSide {
    client: Client,
    /// Data decoded but not yet read.
    pending: Vec<u8>,
    start: usize,
    /// What one read from the socket lands in.
    raw: Box<[u8]>,
}

impl ReadSide {
    fn take(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.pending.len() - self.start);
        buf[..n].copy_from_slice(&self.pending[self.start..self.start + n]);
        self.start += n;
        if self.start == self.pending.len() {
            self.pending.clear();
            self.start = 0;
        }
        n
    }
}

struct Shared {
    read: Mutex<ReadSide>,
    /// Held for each whole write, so a negotiation reply the reading thread sends never lands
    /// inside an escaped write of the writing thread.
    write: Mutex<()>,
    /// The read timeout asked for (the socket's may be shortened during one read).
    timeout: Mutex<Option<Duration>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A device's serial line behind an RFC 2217 server. Handles made by
/// [`Rfc2217Link::try_clone`] share the socket, the decoder and its undelivered data, and
/// the write lock: one thread may read while another writes.
pub struct Rfc2217Link {
    stream: TcpStream,
    shared: Arc<Shared>,
}

impl Rfc2217Link {
    /// Connects to `host_port`, negotiates and sets the line to `baud` 8N1 without flow
    /// control, all within `timeout`.
    pub fn connect(host_port: &str, baud: u32, timeout: Duration) -> io::Result<Rfc2217Link> {
        let deadline = Instant::now() + timeout;
        let stream = connect_tcp(host_port, timeout)?;
        let failed = |why: String| io::Error::other(format!("rfc2217://{host_port}: {why}"));
        let mut out = Vec::new();
        let mut client = Client::new(baud, &mut out);
        (&stream).write_all(&out)?;
        let mut pending = Vec::new();
        let mut raw = [0u8; 1024];
        loop {
            match client.ready() {
                Ok(true) => break,
                Ok(false) => {}
                Err(why) => return Err(failed(why)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "rfc2217://{host_port}: no answer within {timeout:?} about: {}",
                        client.missing().join(", ")
                    ),
                ));
            }
            stream.set_read_timeout(Some(left))?;
            let n = match (&stream).read(&mut raw) {
                Ok(0) => return Err(failed("the server closed the connection".into())),
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            };
            quickack(&stream);
            out.clear();
            client.receive(&raw[..n], &mut pending, &mut out);
            (&stream).write_all(&out)?;
        }
        let default = Duration::from_millis(100);
        stream.set_read_timeout(Some(default))?;
        Ok(Rfc2217Link {
            stream,
            shared: Arc::new(Shared {
                read: Mutex::new(ReadSide {
                    client,
                    pending,
                    start: 0,
                    raw: vec![0u8; 16 * 1024].into_boxed_slice(),
                }),
                write: Mutex::new(()),
                timeout: Mutex::new(Some(default)),
            }),
        })
    }

    /// Writes raw telnet bytes, whole, under the write lock.
    fn send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let _turn = lock(&self.shared.write);
        (&self.stream).write_all(bytes)
    }
}

/// Asks the kernel to acknowledge at once what comes next (Linux `tcp(7)`, TCP_QUICKACK;
/// the kernel drops back to delayed acknowledgements by itself, so it is set after every
/// read). A server that sends with Nagle's algorithm on (ser2net's TCP accepter without
/// `nodelay`, for one) holds its second small segment until the first is acknowledged: with
/// delayed acknowledgements each line after the first would wait ~40 ms. Best effort.
fn quickack(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on the socket this handle owns, with a pointer to a live c_int and
    // its size; the result is ignored (a socket that refuses keeps delayed ACKs).
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn connect_tcp(host_port: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::other(format!("{host_port}: no address"));
    for a in std::net::ToSocketAddrs::to_socket_addrs(host_port)? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                // Lines are small and answered one by one: no Nagle delay.
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(io::Error::new(last.kind(), format!("{host_port}: {last}")))
}

impl Read for Rfc2217Link {
    /// Data only, never telnet: a read that brings only telnet sequences waits on for the
    /// rest of the read timeout, so a timeout means what it means on a TCP link.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut side = lock(&self.shared.read);
        if side.start < side.pending.len() {
            return Ok(side.take(buf));
        }
        let started = Instant::now();
        let mut shortened = false;
        let side = &mut *side;
        let result = loop {
            let n = match (&self.stream).read(&mut side.raw) {
                Ok(0) => break Ok(0),
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            quickack(&self.stream);
            let mut replies = Vec::new();
            side.client
                .receive(&side.raw[..n], &mut side.pending, &mut replies);
            if !replies.is_empty() {
                if let Err(e) = self.send_raw(&replies) {
                    break Err(e);
                }
            }
            if side.start < side.pending.len() {
                break Ok(side.take(buf));
            }
            // Only telnet: wait for data for what is left of the timeout.
            if let Some(timeout) = *lock(&self.shared.timeout) {
                let left = timeout.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break Err(io::ErrorKind::WouldBlock.into());
                }
                if let Err(e) = self.stream.set_read_timeout(Some(left)) {
                    break Err(e);
                }
                shortened = true;
            }
        };
        if shortened {
            let timeout = *lock(&self.shared.timeout);
            self.stream.set_read_timeout(timeout)?;
        }
        result
    }
}

impl Write for Rfc2217Link {
    /// Writes all of `buf` (escaped) or fails: a partial escaped write could not be
    /// resumed without cutting a doubled 0xFF.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 8);
        escape(buf, &mut out);
        self.send_raw(&out)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Rfc2217Link {
    /// A second handle on the same link (the `Link`'s `try_clone_link`).
    pub fn try_clone(&self) -> io::Result<Rfc2217Link> {
        Ok(Rfc2217Link {
            stream: self.stream.try_clone()?,
            shared: Arc::clone(&self.shared),
        })
    }

    /// The socket's read timeout (shared by all handles, as on a TCP link), at least 1 ms.
    /// Called from the reading thread, as the driver does.
    pub fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        *lock(&self.shared.timeout) = timeout;
        self.stream.set_read_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::TcpListener;

    /// What ser2net 4.3 sends first on an `accepter: telnet(rfc2217),tcp,…` (recorded):
    /// WILL SGA, DO SGA, WILL ECHO, DONT ECHO, DO BINARY, WILL BINARY, DO COM-PORT-OPTION.
    const SER2NET_OPENING: [u8; 21] = [
        255, 251, 3, 255, 253, 3, 255, 251, 1, 255, 254, 1, 255, 253, 0, 255, 251, 0, 255, 253, 44,
    ];

    /// ser2net's answers to the five settings at 115200 (recorded), with a NOTIFY-MODEMSTATE
    /// before them.
    const SER2NET_ANSWERS: [u8; 45] = [
        255, 250, 44, 107, 0, 255, 240, // NOTIFY-MODEMSTATE 0
        255, 250, 44, 101, 0, 1, 194, 0, 255, 240, // baud 115200
        255, 250, 44, 102, 8, 255, 240, // data size 8
        255, 250, 44, 103, 1, 255, 240, // parity none
        255, 250, 44, 104, 1, 255, 240, // stop size 1
        255, 250, 44, 105, 1, 255, 240, // no flow control
    ];

    fn decode_all(input: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let (mut data, mut events) = (Vec::new(), Vec::new());
        Decoder::new().decode(input, &mut data, &mut events);
        (data, events)
    }

    #[test]
    fn escaping_doubles_0xff_and_nothing_else() {
        let mut out = Vec::new();
        escape(&[1, 255, 2, 255, 255, 3], &mut out);
        assert_eq!(out, [1, 255, 255, 2, 255, 255, 255, 255, 3]);
        let mut none = Vec::new();
        escape(b"plain {\"json\":1}\n", &mut none);
        assert_eq!(none, b"plain {\"json\":1}\n");
    }

    #[test]
    fn the_decoder_takes_telnet_out_of_the_data() {
        let mut input = b"ab".to_vec();
        input.extend([IAC, IAC, b'c', IAC, 241, IAC, WILL, 3]); // 0xFF, c, NOP, WILL SGA
        input.extend([IAC, SB, COM_PORT, 107, IAC, IAC, IAC, SE]); // MODEMSTATE 0xFF
        input.extend(b"d\n");
        let (data, events) = decode_all(&input);
        assert_eq!(data, [b'a', b'b', 255, b'c', b'd', b'\n']);
        assert_eq!(
            events,
            [
                Event::Command(241),
                Event::Negotiation(Verb::Will, 3),
                Event::Subnegotiation {
                    option: COM_PORT,
                    data: vec![107, 255]
                },
            ]
        );
    }

    #[test]
    fn a_sequence_cut_anywhere_decodes_as_a_whole() {
        let mut input = SER2NET_OPENING.to_vec();
        input.extend([b'x', IAC, IAC, b'y']);
        input.extend(SER2NET_ANSWERS);
        let whole = decode_all(&input);
        for cut in 0..=input.len() {
            let (mut data, mut events) = (Vec::new(), Vec::new());
            let mut decoder = Decoder::new();
            decoder.decode(&input[..cut], &mut data, &mut events);
            decoder.decode(&input[cut..], &mut data, &mut events);
            assert!(decoder.is_idle());
            assert_eq!((data, events), whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_broken_subnegotiation_ends_and_its_command_counts() {
        let (data, events) = decode_all(&[IAC, SB, COM_PORT, 1, 2, IAC, WILL, 3, b'z']);
        assert_eq!(data, b"z");
        assert_eq!(events, [Event::Negotiation(Verb::Will, 3)]);
    }

    #[test]
    fn a_long_subnegotiation_is_cut_to_the_limit() {
        let mut input = vec![IAC, SB, COM_PORT];
        input.extend(std::iter::repeat_n(7u8, MAX_SUBNEGOTIATION + 50));
        input.extend([IAC, SE, b'k']);
        let (data, events) = decode_all(&input);
        assert_eq!(data, b"k");
        match &events[..] {
            [Event::Subnegotiation { data, .. }] => assert_eq!(data.len(), MAX_SUBNEGOTIATION),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ser2net_opening_is_answered_and_the_settings_follow() {
        let mut out = Vec::new();
        let mut client = Client::new(115_200, &mut out);
        assert_eq!(out, [IAC, WILL, 0, IAC, DO, 0, IAC, WILL, 44]);
        assert_eq!(client.ready(), Ok(false));

        out.clear();
        let mut data = Vec::new();
        client.receive(&SER2NET_OPENING, &mut data, &mut out);
        assert!(data.is_empty());
        let mut expected = vec![
            IAC, DONT, 3, // his SGA refused
            IAC, WONT, 3, // ours too
            IAC, DONT, 1, // his ECHO refused; his DONT ECHO needs no reply
        ];
        settings_requests(115_200, &mut expected);
        assert_eq!(
            out, expected,
            "no reply to the answers BINARY and COM-PORT got"
        );
        assert_eq!(client.ready(), Ok(false));
        assert!(client.missing().contains(&"baud rate"));

        out.clear();
        client.receive(&SER2NET_ANSWERS, &mut data, &mut out);
        assert!(out.is_empty() && data.is_empty());
        assert_eq!(client.ready(), Ok(true));
        assert!(client.missing().is_empty());
    }

    #[test]
    fn the_settings_go_as_rfc_2217_says() {
        let mut out = Vec::new();
        // 0x0001_FFFF: a 0xFF in the baud rate is doubled inside the subnegotiation.
        settings_requests(0x0001_FFFF, &mut out);
        assert_eq!(
            &out[..12],
            [IAC, SB, 44, 1, 0, 1, 255, 255, 255, 255, IAC, SE]
        );
        assert_eq!(
            &out[12..],
            [
                IAC, SB, 44, 2, 8, IAC, SE, IAC, SB, 44, 3, 1, IAC, SE, IAC, SB, 44, 4, 1, IAC, SE,
                IAC, SB, 44, 5, 1, IAC, SE
            ]
        );
    }

    #[test]
    fn negotiation_never_loops() {
        let mut n = Negotiator::new();
        let mut out = Vec::new();
        n.requests(&mut out);
        out.clear();
        n.answer(Verb::Do, BINARY, &mut out); // the answer to our WILL
        n.answer(Verb::Do, BINARY, &mut out); // again: in force already
        n.answer(Verb::Will, 3, &mut out);
        assert_eq!(out, [IAC, DONT, 3]);
        out.clear();
        n.answer(Verb::Wont, 3, &mut out); // off already
        n.answer(Verb::Dont, 1, &mut out);
        assert!(out.is_empty());
        // The server turns BINARY off on our side: we comply once, and do not ask again.
        n.answer(Verb::Dont, BINARY, &mut out);
        assert_eq!(out, [IAC, WONT, BINARY]);
        assert_eq!(n.state(BINARY, Side::Us), OptionState::Off);
        out.clear();
        n.answer(Verb::Dont, BINARY, &mut out);
        assert!(out.is_empty());
        // An unasked-for WILL COM-PORT-OPTION is accepted (as pyserial does).
        n.answer(Verb::Will, COM_PORT, &mut out);
        assert_eq!(out, [IAC, DO, COM_PORT]);
        assert!(n.refused().is_empty());
    }

    #[test]
    fn a_server_without_rfc_2217_or_with_other_settings_is_refused_clearly() {
        let mut out = Vec::new();
        let mut client = Client::new(115_200, &mut out);
        client.receive(&[IAC, DONT, COM_PORT], &mut Vec::new(), &mut out);
        let why = client.ready().unwrap_err();
        assert!(
            why.contains("COM-PORT-OPTION") && why.contains("telnet(rfc2217)"),
            "{why}"
        );

        let mut client = Client::new(9600, &mut out);
        client.receive(&SER2NET_OPENING, &mut Vec::new(), &mut out);
        client.receive(&SER2NET_ANSWERS, &mut Vec::new(), &mut out);
        let why = client.ready().unwrap_err();
        assert!(why.contains("115200") && why.contains("9600"), "{why}");
    }

    /// What can be on the wire from the server: data, or a telnet sequence.
    #[derive(Clone, Debug)]
    enum Piece {
        Data(Vec<u8>),
        Event(Event),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        let verb = prop_oneof![
            Just(Verb::Will),
            Just(Verb::Wont),
            Just(Verb::Do),
            Just(Verb::Dont)
        ];
        let command = any::<u8>().prop_filter("a plain command", |b| {
            *b != IAC && *b != SB && Verb::from_byte(*b).is_none()
        });
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Piece::Data),
            // Bytes that are mostly 0xFF: the escape's worst case.
            2 => proptest::collection::vec(prop_oneof![Just(255u8), any::<u8>()], 0..20)
                .prop_map(Piece::Data),
            1 => (verb, any::<u8>()).prop_map(|(v, o)| Piece::Event(Event::Negotiation(v, o))),
            1 => (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..12)).prop_map(
                |(option, data)| Piece::Event(Event::Subnegotiation { option, data })
            ),
            1 => command.prop_map(|c| Piece::Event(Event::Command(c))),
        ]
    }

    proptest! {
        /// Any bytes escaped, with any telnet sequences between them, decode to the same
        /// bytes and sequences however the stream is cut into reads.
        #[test]
        fn escaped_bytes_round_trip_through_any_cuts(
            pieces in proptest::collection::vec(piece(), 0..30),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
        ) {
            let (mut wire, mut sent, mut sequences) = (Vec::new(), Vec::new(), Vec::new());
            for p in &pieces {
                match p {
                    Piece::Data(d) => {
                        escape(d, &mut wire);
                        sent.extend_from_slice(d);
                    }
                    Piece::Event(Event::Negotiation(v, o)) => negotiation(*v, *o, &mut wire),
                    Piece::Event(Event::Subnegotiation { option, data }) => {
                        subnegotiation(*option, data, &mut wire)
                    }
                    Piece::Event(Event::Command(c)) => wire.extend([IAC, *c]),
                }
                if let Piece::Event(e) = p {
                    sequences.push(e.clone());
                }
            }
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            at.push(0);
            at.push(wire.len());
            at.sort_unstable();
            let (mut data, mut events) = (Vec::new(), Vec::new());
            let mut decoder = Decoder::new();
            for w in at.windows(2) {
                decoder.decode(&wire[w[0]..w[1]], &mut data, &mut events);
            }
            prop_assert!(decoder.is_idle());
            prop_assert_eq!(data, sent);
            prop_assert_eq!(events, sequences);
        }
    }

    // --- The link against a small RFC 2217 server on loopback ---------------------------

    /// How the test server behaves.
    #[derive(Clone, Copy)]
    enum Server {
        /// Like ser2net: negotiates, answers the settings, echoes data, and sends a
        /// NOTIFY-MODEMSTATE 0xFF before each echo.
        Echo,
        /// Negotiates, answers the settings, then sends a NOTIFY-MODEMSTATE every 5 ms and
        /// never any data.
        Chatty,
        /// Refuses COM-PORT-OPTION.
        Plain,
        /// Says nothing.
        Silent,
    }

    fn server(kind: Server) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let opening: &[u8] = match kind {
                Server::Plain => &[IAC, DONT, COM_PORT, IAC, DO, BINARY, IAC, WILL, BINARY],
                Server::Silent => {
                    std::thread::sleep(Duration::from_secs(3));
                    return;
                }
                _ => &SER2NET_OPENING,
            };
            if s.write_all(opening).is_err() {
                return;
            }
            let mut decoder = Decoder::new();
            let mut buf = [0u8; 4096];
            let mut answered = 0;
            loop {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let (mut data, mut events) = (Vec::new(), Vec::new());
                decoder.decode(&buf[..n], &mut data, &mut events);
                let mut out = Vec::new();
                for e in events {
                    if let Event::Subnegotiation {
                        option: COM_PORT,
                        data,
                    } = e
                    {
                        let (code, value) = data.split_first().unwrap();
                        subnegotiation(COM_PORT, &[&[code + 100][..], value].concat(), &mut out);
                        answered += 1;
                    }
                }
                if !data.is_empty() {
                    subnegotiation(COM_PORT, &[107, 255], &mut out);
                    escape(&data, &mut out);
                }
                if s.write_all(&out).is_err() {
                    return;
                }
                if answered == 5 && matches!(kind, Server::Chatty) {
                    for _ in 0..200 {
                        let mut note = Vec::new();
                        subnegotiation(COM_PORT, &[107, 0], &mut note);
                        if s.write_all(&note).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    return;
                }
            }
        });
        addr
    }

    #[test]
    fn every_byte_value_passes_both_ways_with_one_thread_writing_and_one_reading() {
        let addr = server(Server::Echo);
        let mut link = Rfc2217Link::connect(&addr, 115_200, Duration::from_secs(5)).unwrap();
        link.set_read_timeout(Duration::from_secs(5)).unwrap();
        let mut writer = link.try_clone().unwrap();
        let sent: Vec<u8> = (0..=255u8).cycle().take(256 * 20).collect();
        let to_send = sent.clone();
        let writing = std::thread::spawn(move || {
            for chunk in to_send.chunks(97) {
                writer.write_all(chunk).unwrap();
            }
        });
        let mut got = vec![0u8; sent.len()];
        link.read_exact(&mut got).unwrap();
        writing.join().unwrap();
        assert_eq!(got, sent);
    }

    #[test]
    fn telnet_alone_does_not_end_a_read_before_its_timeout_nor_stretch_it() {
        let addr = server(Server::Chatty);
        let mut link = Rfc2217Link::connect(&addr, 115_200, Duration::from_secs(5)).unwrap();
        link.set_read_timeout(Duration::from_millis(200)).unwrap();
        let start = Instant::now();
        let err = link.read(&mut [0u8; 16]).unwrap_err();
        let took = start.elapsed();
        assert!(is_timeout(&err), "{err}");
        // Notifications every 5 ms: without the remaining-time rule the read would end
        // after the first (too early) or wait 200 ms after the last (too late).
        assert!(took >= Duration::from_millis(190), "{took:?}");
        assert!(took < Duration::from_millis(800), "{took:?}");
    }

    #[test]
    fn a_server_that_refuses_or_says_nothing_fails_the_connect_with_the_reason() {
        let plain = server(Server::Plain);
        let err = Rfc2217Link::connect(&plain, 115_200, Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(err.to_string().contains("COM-PORT-OPTION"), "{err}");

        let silent = server(Server::Silent);
        let start = Instant::now();
        let err = Rfc2217Link::connect(&silent, 115_200, Duration::from_millis(300))
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("baud rate"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
