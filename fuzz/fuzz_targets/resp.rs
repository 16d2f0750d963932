//! The RESP2 request parser of pcoll-redis on arbitrary bytes. The first three bytes choose
//! how the rest arrives: split at one point (a two-byte offset) and in reads of at most the
//! third byte (0: no limit), as a socket may deliver it. Checked, request by request until
//! the end of the stream or the first error (where the server closes the connection):
//! - no panic;
//! - the chunked reader gives the very same requests and error as the whole input at once;
//! - with a 1 KiB bulk limit, no request makes the parser hold more than a fixed amount
//!   plus a small multiple of the bytes it read (a header that promises much costs nothing
//!   until the bytes arrive);
//! - a parsed request encodes (as a RESP array of bulk strings) to bytes that parse back to it.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use pcoll_redis::resp::{self, Reply};

/// Counts the bytes the Rust side holds (libFuzzer's own allocations are not Rust's).
struct Counting;
static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = HELD.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            HELD.fetch_sub(l.size(), Ordering::Relaxed);
            grew(new);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The bulk limit under test.
const LIMIT: usize = 1024;

/// The input, delivered in two parts split at `split`, in reads of at most `most` bytes.
struct Chunked<'a> {
    data: &'a [u8],
    pos: usize,
    split: usize,
    most: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.len().min(out.len());
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let end = if self.pos < self.split { self.split } else { self.data.len() };
        Ok(&self.data[self.pos..end.min(self.pos.saturating_add(self.most))])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

type Parsed = Result<Option<Vec<Vec<u8>>>, String>;

/// One request, and what parsing it held at most beyond what was held before.
fn parse(r: &mut impl BufRead) -> (Parsed, usize) {
    let before = HELD.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let got = std::hint::black_box(resp::read_request(r, LIMIT)).map_err(|e| e.to_string());
    let held = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    (got, held)
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 3 {
        return;
    }
    let data = &input[3..];
    let split = usize::from(u16::from_le_bytes([input[0], input[1]])) % (data.len() + 1);
    let most = if input[2] == 0 { usize::MAX } else { usize::from(input[2]) };
    let mut whole: &[u8] = data;
    let mut chunked = Chunked { data, pos: 0, split, most };
    loop {
        let read_before = data.len() - whole.len();
        let (a, held) = parse(&mut whole);
        let (b, _) = parse(&mut chunked);
        assert_eq!(a, b, "whole and chunked input parse differently");
        // After an error the server closes the connection: what was consumed then does not
        // matter (a reader that got the bytes one at a time has taken more of them).
        if a.is_ok() {
            assert_eq!(data.len() - whole.len(), chunked.pos, "consumed differently");
        }
        let read = data.len() - whole.len() - read_before;
        assert!(
            held <= 4 * LIMIT + (256 << 10) + 64 * read,
            "held {held} bytes for a request of {read} bytes"
        );
        let req = match a {
            Ok(Some(req)) => req,
            Ok(None) | Err(_) => break,
        };
        let mut bytes = Vec::new();
        Reply::Array(Some(req.iter().map(|a| Reply::Bulk(Some(a.clone()))).collect()))
            .write(&mut bytes)
            .unwrap();
        let mut again: &[u8] = &bytes;
        let back = resp::read_request(&mut again, usize::MAX).map_err(|e| e.to_string());
        assert_eq!(back, Ok(Some(req)), "a request does not survive its encoding");
        assert!(again.is_empty(), "the encoding has bytes left over");
    }
});
