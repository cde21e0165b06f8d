//! Reading lines with bounded memory.

use super::codec::{decode, WireError};
use super::{WireMessage, MAX_LINE, READ_CHUNK};
use std::io::{self, Read};

/// Reads `\n`-terminated lines from any [`Read`], holding at most `max_line` bytes of a line
/// plus one read chunk: a longer line is refused as soon as the limit is passed
/// ([`WireError::LineTooLong`]), and the rest of it is skipped without being kept.
///
/// I/O errors are returned as they come and leave the reader as it was: after `TimedOut` or
/// `WouldBlock` (a serial port with nothing to read yet) call again and the partial line
/// goes on. `Interrupted` is retried.
pub struct LineReader<R> {
    inner: R,
    /// `buf[start..]` is read but not yet returned.
    buf: Vec<u8>,
    start: usize,
    /// `buf[start..scanned]` holds no `\n`.
    scanned: usize,
    max_line: usize,
    chunk: usize,
    /// Inside a line that was too long: drop bytes up to its `\n`.
    skipping: bool,
    /// The source said end of input.
    eof: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader with the protocol's limits ([`MAX_LINE`], [`READ_CHUNK`]).
    pub fn new(inner: R) -> Self {
        LineReader::with_limits(inner, MAX_LINE, READ_CHUNK)
    }

    /// A reader with other limits (`chunk` at least 1).
    pub fn with_limits(inner: R, max_line: usize, chunk: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max_line,
            chunk: chunk.max(1),
            skipping: false,
            eof: false,
        }
    }

    /// The next line without its `\n` (a `\r` before it stays), or `None` at the end of the
    /// input.
    pub fn read_line(&mut self) -> Result<Option<&[u8]>, WireError> {
        loop {
            if let Some(offset) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + offset;
                let begin = self.start;
                self.start = end + 1;
                self.scanned = self.start;
                if self.skipping {
                    self.skipping = false;
                    continue;
                }
                if end - begin > self.max_line {
                    return Err(WireError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                return Ok(Some(&self.buf[begin..end]));
            }
            self.scanned = self.buf.len();
            if self.skipping {
                // Nothing of the too-long line is kept.
                self.buf.clear();
                self.start = 0;
                self.scanned = 0;
            } else if self.buf.len() - self.start > self.max_line {
                // No newline within the limit: refuse now, skip the rest later.
                self.skipping = true;
                self.buf.clear();
                self.start = 0;
                self.scanned = 0;
                return Err(WireError::LineTooLong {
                    limit: self.max_line,
                });
            }
            if self.eof {
                let len = self.buf.len() - self.start;
                self.buf.clear();
                self.start = 0;
                self.scanned = 0;
                if len == 0 || self.skipping {
                    // A too-long last line was reported when it passed the limit.
                    self.skipping = false;
                    return Ok(None);
                }
                return Err(WireError::Unterminated { len });
            }
            self.fill()?;
        }
    }

    /// The next message, skipping blank lines; `None` at the end of the input.
    pub fn read_message<M: WireMessage>(&mut self) -> Result<Option<M>, WireError> {
        loop {
            match self.read_line()? {
                None => return Ok(None),
                Some(line) if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) => {}
                Some(line) => return decode(line).map(Some),
            }
        }
    }

    /// Reads one chunk after the unread bytes, never growing the buffer past
    /// `max_line + chunk`.
    fn fill(&mut self) -> Result<(), WireError> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        let len = self.buf.len();
        let want = len + self.chunk;
        if self.buf.capacity() < want {
            let ceiling = self.max_line.saturating_add(self.chunk);
            let target = want.max(self.buf.capacity().saturating_mul(2)).min(ceiling);
            self.buf.reserve_exact(target.max(want) - len);
        }
        self.buf.resize(want, 0);
        let read = loop {
            match self.inner.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(n) => {
                self.buf.truncate(len + n.min(self.chunk));
                if n == 0 {
                    self.eof = true;
                }
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(len);
                Err(WireError::Io(e))
            }
        }
    }

    /// Bytes held for lines not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The buffer's allocation: never above `max_line + chunk` (for tests of the bound).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// Decodes every line of `bytes` as [`LineReader`] would read them from a stream: blank
/// lines are skipped, a line past [`MAX_LINE`] is one error, and input that does not end
/// in `\n` ends in [`WireError::Unterminated`].
pub fn decode_lines<M: WireMessage>(bytes: &[u8]) -> Vec<Result<M, WireError>> {
    let mut reader = LineReader::new(bytes);
    let mut out = Vec::new();
    loop {
        match reader.read_message::<M>() {
            Ok(Some(message)) => out.push(Ok(message)),
            Ok(None) => return out,
            Err(WireError::Io(e)) => {
                // A slice never fails to read; stop rather than loop.
                out.push(Err(WireError::Io(e)));
                return out;
            }
            Err(e) => out.push(Err(e)),
        }
    }
}
