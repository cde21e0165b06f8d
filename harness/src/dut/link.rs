//! The byte link to a device under test: a serial line (`serialport`, a real port or one
//! end of a socat pty pair) or a TCP connection. Both sides of the adapter protocol use it:
//! the harness's `dut` driver and the reference device `myna-dut-ref`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Where the device is: `serial:PATH[@BAUD]` or `tcp:HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Serial { path: String, baud: u32 },
    Tcp(String),
}

/// The default baud rate: what a USB-serial adapter on a vendor's bench does reliably.
pub const DEFAULT_BAUD: u32 = 115_200;

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Address, String> {
        if let Some(rest) = text.strip_prefix("serial:") {
            let (path, baud) = match rest.rsplit_once('@') {
                Some((path, baud)) => (
                    path,
                    baud.parse()
                        .map_err(|_| format!("`{baud}` is not a baud rate"))?,
                ),
                None => (rest, DEFAULT_BAUD),
            };
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
        Err(format!(
            "`{text}`: expected serial:PATH[@BAUD] or tcp:HOST:PORT"
        ))
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
        assert!("usb:1"
            .parse::<Address>()
            .unwrap_err()
            .contains("serial:PATH"));
    }
}
