//! RESP2, the Redis protocol: requests are arrays of bulk strings (or inline commands, as a
//! terminal sends them); replies are the five RESP2 types.

use std::io::{self, BufRead, Read, Write};

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(&'static str),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Int(i64),
    /// `$3\r\nfoo`, or the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n...`, or the null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Simple("OK");

    /// A bulk string of these bytes.
    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(Some(b.to_vec()))
    }

    /// `-ERR <msg>`.
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(format!("ERR {}", msg.into()))
    }

    /// The error of a command applied to a key of another type.
    pub fn wrong_type() -> Reply {
        Reply::Error(
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_string(),
        )
    }

    /// Writes the reply in RESP2.
    pub fn write(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Reply::Simple(s) => write!(w, "+{s}\r\n"),
            Reply::Error(e) => write!(w, "-{e}\r\n"),
            Reply::Int(n) => write!(w, ":{n}\r\n"),
            Reply::Bulk(None) => w.write_all(b"$-1\r\n"),
            Reply::Bulk(Some(b)) => {
                write!(w, "${}\r\n", b.len())?;
                w.write_all(b)?;
                w.write_all(b"\r\n")
            }
            Reply::Array(None) => w.write_all(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                write!(w, "*{}\r\n", items.len())?;
                items.iter().try_for_each(|r| r.write(w))
            }
        }
    }
}

/// Longest bulk string accepted by default (Redis's `proto-max-bulk-len`).
pub const MAX_BULK: usize = 512 << 20;
/// Most arguments in one request.
const MAX_ARGS: usize = 1 << 20;
/// Longest line (an inline command, a length header).
const MAX_LINE: usize = 64 << 10;

/// Reads one request; `Ok(None)` at the end of the stream. Bulk strings longer than
/// `max_bulk` are refused; nothing is allocated ahead of the bytes that arrive (a header
/// that promises a gigabyte costs nothing until the gigabyte comes).
pub fn read_request(r: &mut impl BufRead, max_bulk: usize) -> io::Result<Option<Vec<Vec<u8>>>> {
    let Some(line) = read_line(r)? else {
        return Ok(None);
    };
    if line.first() != Some(&b'*') {
        // Inline command: words separated by spaces.
        let args = line
            .split(|&c| c == b' ')
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        return Ok(Some(args));
    }
    let n = number(&line[1..])?;
    if n > MAX_ARGS {
        return Err(bad("too many arguments"));
    }
    let mut args = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let head = read_line(r)?.ok_or_else(|| bad("unexpected end of stream"))?;
        if head.first() != Some(&b'$') {
            return Err(bad("expected a bulk string"));
        }
        let len = number(&head[1..])?;
        if len > max_bulk {
            return Err(bad("invalid bulk length"));
        }
        let mut buf = Vec::with_capacity((len + 2).min(64 << 10));
        let got = (&mut *r).take(len as u64 + 2).read_to_end(&mut buf)?;
        if got < len + 2 {
            return Err(bad("unexpected end of stream"));
        }
        if &buf[len..] != b"\r\n" {
            return Err(bad("bulk string not terminated"));
        }
        buf.truncate(len);
        args.push(buf);
    }
    Ok(Some(args))
}

fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)?
        == 0
    {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && line.len() >= MAX_LINE {
        return Err(bad("too big inline request"));
    }
    while line.last().is_some_and(|&c| c == b'\n' || c == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn number(b: &[u8]) -> io::Result<usize> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("invalid length"))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("Protocol error: {what}"),
    )
}
