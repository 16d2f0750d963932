//! Prefetching a round's keys: the event loop runs every request of a round in one
//! transaction, and the keys of a `redis-benchmark -r 1000000` round are random, so each
//! lookup is a few cache misses. Hinting them all first (`PHashMap::prefetch`, then
//! `prefetch_entry`) lets those misses overlap (`probe.rs` measures it).

use crate::db::Db;

/// Starts loading the buckets a round's requests will look up (`PHashMap::prefetch`), then,
/// once those have arrived, the blocks of their entries (`prefetch_entry`): the cache misses
/// of random keys overlap instead of coming one request after another. A round of 400
/// requests over ~700,000 keys, run in process without the network (`probe.rs`): a third
/// less time per GET, about a sixth per SET (BENCHMARKS.md). `requests` gives the round's requests
/// in order, once per pass.
pub fn round<'a, I>(db: &Db, requests: impl Fn() -> I)
where
    I: Iterator<Item = &'a [Vec<u8>]>,
{
    // A key repeated by consecutive requests (a pipeline of LPUSHes to one list) is
    // prefetched once: its lines are in cache after the first lookup.
    let fresh = || {
        let mut last: Option<&[u8]> = None;
        requests().filter(move |r| {
            let k = r.get(1).map(Vec::as_slice);
            std::mem::replace(&mut last, k) != k
        })
    };
    for r in fresh() {
        prefetch(db, r, false);
    }
    for r in fresh() {
        prefetch(db, r, true);
    }
}

/// Hints the CPU to load the buckets a command's key will be looked up in (see
/// `PHashMap::prefetch`): `strings` (every keyed command looks there), and the map of the
/// command's own type. With `entries`, instead: the blocks of the key's likely entry in
/// `strings` (`PHashMap::prefetch_entry`: a second pass, once the buckets have arrived).
fn prefetch(db: &Db, args: &[Vec<u8>], entries: bool) {
    let Some(k) = args.get(1).map(Vec::as_slice) else {
        return;
    };
    if entries {
        db.strings.prefetch_entry(k);
        return;
    }
    db.strings.prefetch(k);
    match args[0].first().map(u8::to_ascii_uppercase) {
        Some(b'L' | b'R' | b'B') => db.lists.prefetch(k),
        Some(b'H') => db.hashes.prefetch(k),
        Some(b'S')
            if !args[0]
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"SET")) =>
        {
            db.sets.prefetch(k)
        }
        Some(b'Z') => db.zsets.prefetch(k),
        _ => {}
    }
}
