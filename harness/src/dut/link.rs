//! The byte link to a device under test: a serial line (`serialport`, a real port or one
//! end of a socat pty pair), a TCP connection, or a serial line on another machine behind
//! an RFC 2217 server (`rfc2217.rs`; the harness side only). Both sides of the adapter
//! protocol use it: the harness's `dut` driver and the reference device `myna-dut-ref`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Where the device is: `serial:PATH[@BAUD]`, `tcp:HOST:PORT` or
/// `rfc2217://HOST:PORT[@BAUD]` (a serial line behind a telnet COM-PORT-OPTION server such
/// as ser2net; the baud rate is the one the server sets on its port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Serial { path: String, baud: u32 },
    Tcp(String),
    Rfc2217 { host_port: String, baud: u32 },
}

impl std::fmt::Display for Address {
    /// The form it was given in (`serial:PATH@BAUD`, `tcp:HOST:PORT`,
    /// `rfc2217://HOST:PORT@BAUD`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Serial { path, baud } => write!(f, "serial:{path}@{baud}"),
            Address::Tcp(host_port) => write!(f, "tcp:{host_port}"),
            Address::Rfc2217 { host_port, baud } => write!(f, "rfc2217://{host_port}@{baud}"),
        }
    }
}

/// What an address may look like, for error messages.
pub const FORMS: &str = "serial:PATH[@BAUD], tcp:HOST:PORT or rfc2217://HOST:PORT[@BAUD]";

/// The default baud rate: what a USB-serial adapter on a vendor's bench does reliably.
pub const DEFAULT_BAUD: u32 = 115_200;

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Address, String> {
        if let Some(rest) = text.strip_prefix("serial:") {
            let (path, baud) = with_baud(rest)?;
            if path.is_empty() {
                return Err("serial: needs a device path, e.g. serial:/dev/ttyUSB0@115200".into());
            }
            return Ok(Address::Serial {
                path: path.to_owned(),
                baud,
            });
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            if !rest.contains(':') {
                return Err("tcp: needs HOST:PORT, e.g. tcp:127.0.0.1:7700".into());
            }
            return Ok(Address::Tcp(rest.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("rfc2217://") {
            let (host_port, baud) = with_baud(rest)?;
            return match host_port.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(Address::Rfc2217 {
                        host_port: host_port.to_owned(),
                        baud,
                    })
                }
                _ => Err(format!(
                    "`{text}`: expected rfc2217://HOST:PORT[@BAUD], e.g. \
                     rfc2217://192.0.2.10:2217@115200"
                )),
            };
        }
        Err(format!("`{text}`: expected {FORMS}"))
    }
}

/// `WHERE[@BAUD]`: where, and the baud rate (the default when none is given).
fn with_baud(text: &str) -> Result<(&str, u32), String> {
    match text.rsplit_once('@') {
        Some((at, baud)) => baud
            .parse()
            .map(|baud| (at, baud))
            .map_err(|_| format!("`{baud}` is not a baud rate")),
        None => Ok((text, DEFAULT_BAUD)),
    }
}

/// An open link: bytes both ways, reads that time out after `read_timeout`.
pub trait Link: Read + Write + Send {
    /// A second handle on the same link (to write while another thread reads).
    fn try_clone_link(&self) -> io::Result<Box<dyn Link>>;
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Link for TcpStream {
    fn try_clone_link(&self) -> io::Result<Box<dyn Link>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        TcpStream::set_read_timeout(self, Some(timeout.max(Duration::from_millis(1))))
    }
}

impl Link for super::rfc2217::Rfc2217Link {
    fn try_clone_link(&self) -> io::Result<Box<dyn Link>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        super::rfc2217::Rfc2217Link::set_read_timeout(self, timeout)
    }
}

/// A serial port as a link.
pub struct SerialLink(Box<dyn serialport::SerialPort>);

impl Read for SerialLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for SerialLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Link for SerialLink {
    fn try_clone_link(&self) -> io::Result<Box<dyn Link>> {
        Ok(Box::new(SerialLink(
            self.0.try_clone().map_err(io::Error::other)?,
        )))
    }
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.0
            .set_timeout(timeout.max(Duration::from_millis(1)))
            .map_err(io::Error::other)
    }
}

/// Opens a serial line (8N1, no flow control).
pub fn open_serial(path: &str, baud: u32) -> io::Result<SerialLink> {
    serialport::new(path, baud)
        .timeout(Duration::from_millis(100))
        .open()
        .map(SerialLink)
        .map_err(|e| io::Error::other(format!("{path}: {e}")))
}

/// Connects to a device at `address` (the harness side).
pub fn connect(address: &Address, timeout: Duration) -> io::Result<Box<dyn Link>> {
    match address {
        Address::Serial { path, baud } => Ok(Box::new(open_serial(path, *baud)?)),
        Address::Rfc2217 { host_port, baud } => Ok(Box::new(super::rfc2217::Rfc2217Link::connect(
            host_port, *baud, timeout,
        )?)),
        Address::Tcp(addr) => {
            let mut last = io::Error::other(format!("{addr}: no address"));
            for a in std::net::ToSocketAddrs::to_socket_addrs(addr.as_str())? {
                match TcpStream::connect_timeout(&a, timeout) {
                    Ok(s) => {
                        // Lines are small and answered one by one: no Nagle delay.
                        s.set_nodelay(true)?;
                        return Ok(Box::new(s));
                    }
                    Err(e) => last = e,
                }
            }
            Err(io::Error::new(last.kind(), format!("{addr}: {last}")))
        }
    }
}

/// Waits for one harness to connect (the device side over TCP).
pub fn accept(listener: &TcpListener) -> io::Result<Box<dyn Link>> {
    let (s, _) = listener.accept()?;
    s.set_nodelay(true)?;
    Ok(Box::new(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_clear_errors() {
        assert_eq!(
            "serial:/tmp/a@9600".parse::<Address>(),
            Ok(Address::Serial {
                path: "/tmp/a".into(),
                baud: 9600
            })
        );
        assert_eq!(
            "serial:/dev/ttyUSB0".parse::<Address>(),
            Ok(Address::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: DEFAULT_BAUD
            })
        );
        assert_eq!(
            "tcp:127.0.0.1:7700".parse::<Address>(),
            Ok(Address::Tcp("127.0.0.1:7700".into()))
        );
        assert!("serial:".parse::<Address>().is_err());
        assert!("serial:/tmp/a@fast"
            .parse::<Address>()
            .unwrap_err()
            .contains("fast"));
        assert!("tcp:7700".parse::<Address>().is_err());
        assert_eq!(
            "rfc2217://127.0.0.1:2217".parse::<Address>(),
            Ok(Address::Rfc2217 {
                host_port: "127.0.0.1:2217".into(),
                baud: DEFAULT_BAUD
            })
        );
        assert_eq!(
            "rfc2217://[::1]:7000@9600".parse::<Address>(),
            Ok(Address::Rfc2217 {
                host_port: "[::1]:7000".into(),
                baud: 9600
            })
        );
        for wrong in [
            "rfc2217://",
            "rfc2217://host",
            "rfc2217://:2217",
            "rfc2217://host:port",
            "rfc2217://host:99999",
        ] {
            let why = wrong.parse::<Address>().unwrap_err();
            assert!(why.contains("rfc2217://HOST:PORT"), "{wrong}: {why}");
        }
        assert!("rfc2217://host:2217@fast"
            .parse::<Address>()
            .unwrap_err()
            .contains("fast"));
        for shown in [
            "serial:/tmp/a@9600",
            "tcp:127.0.0.1:7700",
            "rfc2217://[::1]:7000@9600",
        ] {
            let address: Address = shown.parse().expect("parses");
            assert_eq!(address.to_string(), shown);
        }
        let why = "usb:1".parse::<Address>().unwrap_err();
        for form in ["serial:PATH", "tcp:HOST:PORT", "rfc2217://HOST:PORT"] {
            assert!(why.contains(form), "{why}");
        }
    }
}
