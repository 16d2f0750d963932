//! RESP2, the Redis protocol: requests are arrays of bulk strings (or inline commands, as a
//! terminal sends them); replies are the five RESP2 types.

use std::io::{self, BufRead, Write};

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
            Reply::Simple(s) => line(w, b'+', s.as_bytes()),
            Reply::Error(e) => line(w, b'-', e.as_bytes()),
            Reply::Int(n) => number_line(w, b':', *n),
            Reply::Bulk(None) => w.write_all(b"$-1\r\n"),
            Reply::Bulk(Some(b)) => {
                number_line(w, b'$', b.len() as i64)?;
                w.write_all(b)?;
                w.write_all(b"\r\n")
            }
            Reply::Array(None) => w.write_all(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                number_line(w, b'*', items.len() as i64)?;
                items.iter().try_for_each(|r| r.write(w))
            }
        }
    }
}

/// `kind`, `text`, CRLF.
fn line(w: &mut impl Write, kind: u8, text: &[u8]) -> io::Result<()> {
    w.write_all(&[kind])?;
    w.write_all(text)?;
    w.write_all(b"\r\n")
}

/// `kind`, `n` in decimal, CRLF, in one write and without `fmt` (every reply of a
/// pipelined round writes one or two of these).
fn number_line(w: &mut impl Write, kind: u8, n: i64) -> io::Result<()> {
    // kind, sign, 20 digits, CRLF.
    let mut b = [0u8; 24];
    let mut i = b.len() - 2;
    b[i..].copy_from_slice(b"\r\n");
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        b[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        b[i] = b'-';
    }
    i -= 1;
    b[i] = kind;
    w.write_all(&b[i..])
}

/// Longest bulk string accepted by default (Redis's `proto-max-bulk-len`).
pub const MAX_BULK: usize = 512 << 20;
/// Most arguments in one request.
const MAX_ARGS: usize = 1 << 20;
/// Longest line (an inline command, a length header).
const MAX_LINE: usize = 64 << 10;

/// What the front of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request, and the bytes it took.
    Request(Vec<Vec<u8>>, usize),
    /// The start of a request: at least this many bytes (the buffer's included) are needed
    /// before parsing again can find more.
    Incomplete(usize),
}

/// Parses the request at the front of `buf`. Bulk strings longer than `max_bulk` are
/// refused. Nothing is allocated ahead of the bytes in `buf`, and nothing is copied until
/// the whole request is there (a header that promises a gigabyte costs nothing until the
/// gigabyte comes; parsing again as bytes arrive re-reads the headers only).
pub fn parse(buf: &[u8], max_bulk: usize) -> io::Result<Parsed> {
    let more = || Ok(Parsed::Incomplete(buf.len() + 1));
    let Some((line, at)) = line_at(buf, 0)? else {
        return more();
    };
    if line.first() != Some(&b'*') {
        // Inline command: words separated by spaces.
        let mut args = spare::request();
        let words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
        args.extend(words.map(spare::arg));
        return Ok(Parsed::Request(args, at));
    }
    let n = count(line)?;
    // Checked whole first, each bulk's place noted, then copied: nothing is copied until
    // all of it is there, and the headers are read once.
    let mut places = Places::new();
    let end = match bulks(buf, at, n, max_bulk, &mut places)? {
        Ok(end) => end,
        Err(None) => return more(),
        Err(Some(need)) => return Ok(Parsed::Incomplete(need)),
    };
    let mut args = spare::request();
    args.extend(
        places
            .iter()
            .map(|&(at, len)| spare::arg(&buf[at..at + len])),
    );
    Ok(Parsed::Request(args, end))
}

/// Where a request's bulk strings are in the buffer (start, length): on the stack for the
/// requests clients send, which have a few arguments.
type Places = smallvec::SmallVec<[(usize, usize); 8]>;

/// Walks the `n` bulk strings from `at`, noting each one's place: `Ok(Ok(end))` past the
/// last, `Ok(Err(Some(n)))` when the buffer must hold `n` bytes first, `Ok(Err(None))` when
/// one more byte may finish a line.
fn bulks(
    buf: &[u8],
    mut at: usize,
    n: usize,
    max_bulk: usize,
    places: &mut Places,
) -> io::Result<Result<usize, Option<usize>>> {
    for _ in 0..n {
        let Some((head, next)) = line_at(buf, at)? else {
            return Ok(Err(None));
        };
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
        if buf.len() - next < want {
            return Ok(Err(Some(next.saturating_add(want))));
        }
        if &buf[next + len..next + want] != b"\r\n" {
            return Err(bad("bulk string not terminated"));
        }
        places.push((next, len));
        at = next + want;
    }
    Ok(Ok(at))
}

/// Requests and arguments whose memory is used again: a server parses and drops millions of
/// small requests a second, and the allocator's time on them was a tenth of its profile.
pub mod spare {
    use std::cell::RefCell;

    /// Arguments larger than this are not kept.
    const KEEP_ARG: usize = 4096;
    /// How many arguments and requests are kept, at most.
    const KEEP: usize = 4096;

    /// Kept arguments, and kept (empty) requests.
    type Kept = (Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>);

    thread_local! {
        static SPARE: RefCell<Kept> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    /// An empty request.
    pub fn request() -> Vec<Vec<u8>> {
        SPARE
            .try_with(|s| s.borrow_mut().1.pop())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// A copy of `b`.
    pub fn arg(b: &[u8]) -> Vec<u8> {
        let kept = SPARE.try_with(|s| s.borrow_mut().0.pop()).ok().flatten();
        match kept {
            Some(mut v) => {
                v.clear();
                v.extend_from_slice(b);
                v
            }
            None => b.to_vec(),
        }
    }

    /// Gives a request that has run back, for the next ones.
    pub fn recycle(mut req: Vec<Vec<u8>>) {
        let _ = SPARE.try_with(|s| {
            let (args, reqs) = &mut *s.borrow_mut();
            for a in req.drain(..) {
                if a.capacity() <= KEEP_ARG && args.len() < KEEP {
                    args.push(a);
                }
            }
            if req.capacity() <= 64 && reqs.len() < KEEP {
                reqs.push(req);
            }
        });
    }
}

/// An array header's count. As Redis: zero or less is an empty request (which the server
/// skips).
fn count(line: &[u8]) -> io::Result<usize> {
    let n = match line[1..].strip_prefix(b"-") {
        Some(digits) if number(digits).is_ok() => 0,
        _ => number(&line[1..]).map_err(|_| bad("invalid multibulk length"))?,
    };
    if n > MAX_ARGS {
        return Err(bad("too many arguments"));
    }
    Ok(n)
}

/// The line starting at `from` (its line end trimmed) and where the next one starts;
/// `None` while its end has not arrived.
fn line_at(buf: &[u8], from: usize) -> io::Result<Option<(&[u8], usize)>> {
    let rest = &buf[from..];
    let window = &rest[..rest.len().min(MAX_LINE)];
    let Some(i) = window.iter().position(|&c| c == b'\n') else {
        return if window.len() >= MAX_LINE {
            Err(bad("too big inline request"))
        } else {
            Ok(None)
        };
    };
    let mut line = &rest[..i];
    while let [head @ .., b'\r' | b'\n'] = line {
        line = head;
    }
    Ok(Some((line, from + i + 1)))
}

/// Reads one request from a stream ([`parse`] over the bytes as they come); `Ok(None)` at
/// the end of the stream. A stream that ends inside a request's first line carries no
/// request (Redis would still be waiting for the rest); one that ends after an array's
/// header is an unfinished request, an error.
pub fn read_request(r: &mut impl BufRead, max_bulk: usize) -> io::Result<Option<Vec<Vec<u8>>>> {
    let mut buf = Vec::new();
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return match line_at(&buf, 0)? {
                Some((line, _)) if line.first() == Some(&b'*') && count(line)? > 0 => {
                    Err(bad("unexpected end of stream"))
                }
                _ => Ok(None),
            };
        }
        let old = buf.len();
        buf.extend_from_slice(chunk);
        match parse(&buf, max_bulk)? {
            Parsed::Request(args, used) => {
                r.consume(used - old);
                return Ok(Some(args));
            }
            Parsed::Incomplete(_) => {
                let n = buf.len() - old;
                r.consume(n);
            }
        }
    }
}

/// A length: decimal digits only (no sign: `str::parse` would take `+5`, Redis does not).
/// Read from the bytes (no UTF-8 pass: it was 2.5% of a pipelined SET's server time).
fn number(b: &[u8]) -> io::Result<usize> {
    if b.is_empty() {
        return Err(bad("invalid length"));
    }
    b.iter().try_fold(0usize, |n, &c| {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(bad("invalid length"));
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d)))
            .ok_or_else(|| bad("invalid length"))
    })
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
