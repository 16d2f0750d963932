//! Property tests of the RESP2 request parser (`src/resp.rs`, the library target):
//! - requests encoded as RESP arrays, the bytes cut at random points (as reads from a socket
//!   may cut them), parse back to exactly the requests, then the end of the stream;
//! - random garbage (RESP-like tokens: markers, lengths up to `usize::MAX`, CRLFs, bytes)
//!   under random bulk limits never panics, and gives the same requests and error whether it
//!   arrives at once or cut at random points.
//!
//! The fuzz target `fuzz/fuzz_targets/resp.rs` checks the same on inputs libFuzzer finds,
//! and counts what the parser allocates.

use std::io::{self, BufRead, Read};

use pcoll_redis::resp::{Reply, read_request};
use proptest::prelude::*;

/// `data` delivered in pieces, cut at `cuts` (offsets, in any order).
struct Cut<'a> {
    data: &'a [u8],
    pos: usize,
    cuts: Vec<usize>,
}

impl<'a> Cut<'a> {
    fn new(data: &'a [u8], cuts: &[prop::sample::Index]) -> Self {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        cuts.sort_unstable();
        Cut { data, pos: 0, cuts }
    }
}

impl Read for Cut<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.len().min(out.len());
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Cut<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let end = self.cuts.iter().copied().find(|&c| c > self.pos);
        Ok(&self.data[self.pos..end.unwrap_or(self.data.len())])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

type Parsed = Result<Option<Vec<Vec<u8>>>, String>;

/// Every request up to the end of the stream or the first error (where the server closes
/// the connection), that end included.
fn parse_all(r: &mut impl BufRead, max_bulk: usize) -> Vec<Parsed> {
    let mut out = Vec::new();
    loop {
        let p = read_request(r, max_bulk).map_err(|e| e.to_string());
        let end = !matches!(p, Ok(Some(_)));
        out.push(p);
        if end {
            return out;
        }
    }
}

fn encode(reqs: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for req in reqs {
        let items = req.iter().map(|a| Reply::Bulk(Some(a.clone()))).collect();
        Reply::Array(Some(items)).write(&mut out).unwrap();
    }
    out
}

/// Pieces of RESP-like garbage: whole headers (`*3\r\n`, `$5\r\n`) with lengths up to
/// `usize::MAX`, their parts, line ends, bytes.
fn token() -> impl Strategy<Value = Vec<u8>> {
    let number = || {
        prop_oneof![
            (0usize..20).prop_map(|n| n.to_string()),
            Just(usize::MAX.to_string()),
            Just((usize::MAX - 1).to_string()),
            Just((usize::MAX - 2).to_string()),
            Just("-1".to_string()),
            Just("+3".to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
        ]
    };
    let marker = prop_oneof![Just("*"), Just("$")];
    prop_oneof![
        4 => (marker.clone(), number()).prop_map(|(m, n)| format!("{m}{n}\r\n").into_bytes()),
        2 => Just(b"\r\n".to_vec()),
        1 => marker.prop_map(|m| m.as_bytes().to_vec()),
        1 => number().prop_map(String::into_bytes),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"PING \r\n".to_vec()),
        2 => prop::collection::vec(any::<u8>(), 1..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn requests_cut_anywhere_parse_back(
        reqs in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
            1..10,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let bytes = encode(&reqs);
        let got = parse_all(&mut Cut::new(&bytes, &cuts), 64);
        let mut want: Vec<Parsed> = reqs.into_iter().map(|r| Ok(Some(r))).collect();
        want.push(Ok(None));
        prop_assert_eq!(got, want);
    }

    #[test]
    fn garbage_never_panics_and_parses_alike_however_cut(
        tokens in prop::collection::vec(token(), 0..40),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        max_bulk in prop_oneof![
            0usize..32,
            Just(usize::MAX),
            Just(usize::MAX - 1),
            Just(usize::MAX - 2),
            any::<usize>(),
        ],
    ) {
        let bytes = tokens.concat();
        let whole = parse_all(&mut &bytes[..], max_bulk);
        let cut = parse_all(&mut Cut::new(&bytes, &cuts), max_bulk);
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn replies_encode_as_resp2_spells_them(
        n in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0i64), -11i64..11],
        bulk in prop::collection::vec(any::<u8>(), 0..300),
        text in "[ -~]{0,40}",
    ) {
        let enc = |r: Reply| {
            let mut out = Vec::new();
            r.write(&mut out).unwrap();
            out
        };
        prop_assert_eq!(enc(Reply::Int(n)), format!(":{n}\r\n").into_bytes());
        let mut want = format!("${}\r\n", bulk.len()).into_bytes();
        want.extend_from_slice(&bulk);
        want.extend_from_slice(b"\r\n");
        prop_assert_eq!(enc(Reply::Bulk(Some(bulk.clone()))), want.clone());
        let mut arr = b"*2\r\n".to_vec();
        arr.extend_from_slice(&want);
        arr.extend_from_slice(format!(":{n}\r\n").as_bytes());
        prop_assert_eq!(enc(Reply::Array(Some(vec![Reply::Bulk(Some(bulk)), Reply::Int(n)]))), arr);
        prop_assert_eq!(enc(Reply::Error(text.clone())), format!("-{text}\r\n").into_bytes());
        prop_assert_eq!(enc(Reply::Simple("OK")), b"+OK\r\n".to_vec());
        prop_assert_eq!(enc(Reply::Bulk(None)), b"$-1\r\n".to_vec());
        prop_assert_eq!(enc(Reply::Array(None)), b"*-1\r\n".to_vec());
    }
}
