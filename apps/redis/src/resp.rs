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
    // As Redis: a count of zero or less is an empty request (which the server skips).
    let n = match line[1..].strip_prefix(b"-") {
        Some(digits) if number(digits).is_ok() => 0,
        _ => number(&line[1..]).map_err(|_| bad("invalid multibulk length"))?,
    };
    if n > MAX_ARGS {
        return Err(bad("too many arguments"));
    }
    let mut args = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let head = read_line(r)?.ok_or_else(|| bad("unexpected end of stream"))?;
        if head.first() != Some(&b'$') {
            return Err(bad("expected a bulk string"));
        }
        // (`len + 2` cannot overflow whatever `max_bulk` is: a length past it is refused.)
        let want = number(&head[1..])
            .ok()
            .filter(|&len| len <= max_bulk)
            .and_then(|len| len.checked_add(2))
            .ok_or_else(|| bad("invalid bulk length"))?;
        let len = want - 2;
        let mut buf = Vec::with_capacity(want.min(64 << 10));
        let got = (&mut *r).take(want as u64).read_to_end(&mut buf)?;
        if got < want {
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
    if line.last() != Some(&b'\n') {
        if line.len() >= MAX_LINE {
            return Err(bad("too big inline request"));
        }
        // The stream ended inside a line: no request (Redis would still be waiting for
        // the rest), and inside a request, an unfinished one.
        return Ok(None);
    }
    while line.last().is_some_and(|&c| c == b'\n' || c == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// A length: decimal digits only (no sign: `str::parse` would take `+5`, Redis does not).
fn number(b: &[u8]) -> io::Result<usize> {
    std::str::from_utf8(b)
        .ok()
        .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("invalid length"))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("Protocol error: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(mut input: &[u8], max_bulk: usize) -> Vec<io::Result<Option<Vec<Vec<u8>>>>> {
        let mut out = Vec::new();
        loop {
            let r = read_request(&mut input, max_bulk);
            let end = !matches!(r, Ok(Some(_)));
            out.push(r);
            if end {
                return out;
            }
        }
    }

    fn error(r: &io::Result<Option<Vec<Vec<u8>>>>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{v:?}, not an error"),
        }
    }

    /// Regression (the property test `tests/resp.rs` finds it in the old parser): with a
    /// bulk limit near `usize::MAX` (`--proto-max-bulk-len`), a bulk length near it
    /// overflowed `len + 2`: a panic in a debug build, an out-of-bounds slice in a release
    /// build (either way the connection's thread died).
    #[test]
    fn a_bulk_length_near_usize_max_is_refused() {
        for len in [usize::MAX, usize::MAX - 1] {
            let input = format!("*1\r\n${len}\r\nabc\r\n");
            for max_bulk in [usize::MAX, usize::MAX - 1, usize::MAX - 2] {
                let r = read_request(&mut input.as_bytes(), max_bulk);
                assert!(r.is_err(), "{len} under {max_bulk}: {r:?}");
            }
        }
    }

    /// As Redis: `*0` and `*-1` are empty requests (skipped), a signed or non-decimal count
    /// or bulk length is a protocol error.
    #[test]
    fn counts_and_lengths_as_redis_reads_them() {
        let rs = parse_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 16);
        assert_eq!(rs.len(), 4);
        assert_eq!(rs[0].as_ref().unwrap(), &Some(vec![]));
        assert_eq!(rs[1].as_ref().unwrap(), &Some(vec![]));
        assert_eq!(rs[2].as_ref().unwrap(), &Some(vec![b"PING".to_vec()]));
        assert!(matches!(rs[3], Ok(None)));
        for bad in ["*+1\r\n$1\r\na\r\n", "*1x\r\n", "*-\r\n", "*--1\r\n"] {
            let r = read_request(&mut bad.as_bytes(), 16);
            assert!(
                error(&r).contains("invalid multibulk length"),
                "{bad:?}: {r:?}"
            );
        }
        for bad in ["*1\r\n$+1\r\na\r\n", "*1\r\n$-1\r\n", "*1\r\n$17\r\n"] {
            let r = read_request(&mut bad.as_bytes(), 16);
            assert!(error(&r).contains("invalid bulk length"), "{bad:?}: {r:?}");
        }
    }

    /// A stream that ends inside a line carries no request: an unfinished inline command is
    /// not run; inside an array it is an unfinished request.
    #[test]
    fn a_line_cut_by_the_end_of_the_stream_is_no_request() {
        let rs = parse_all(b"PING\r\nSET a", 16);
        assert_eq!(rs[0].as_ref().unwrap(), &Some(vec![b"PING".to_vec()]));
        assert!(matches!(rs[1], Ok(None)), "{:?}", rs[1]);
        let r = read_request(&mut &b"*2\r\n$3\r\nGET\r\n$1"[..], 16);
        assert!(error(&r).contains("unexpected end of stream"), "{r:?}");
    }
}
