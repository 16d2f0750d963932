//! SCAN: keys in a fixed hash order, so a cursor stays valid while keys come and go.
//!
//! Each call used to hash and sort the whole keyspace: O(n log n) a call, so a full
//! iteration with COUNT 10 over a million keys took hours, and every call held the event
//! loop for a tenth of a second. Now a call with cursor 0 takes a snapshot of the keys in
//! hash order, and the later calls read it from the cursor on: O(log n + COUNT) a call.
//!
//! Redis's guarantee holds: every key present from an iteration's first call to its last is
//! returned. The snapshot in use is never older than the one an iteration's first call made
//! (a snapshot is replaced only by a newer one, at a cursor-0 call, or rebuilt when gone), so
//! it holds every key present since that first call. Keys it holds that are gone or expired
//! now are skipped; keys added since may be returned or not, as in Redis.

use std::sync::{Mutex, PoisonError};

use crate::db::{Db, all_keys, expired, glob, int, type_of, upper};
use crate::resp::Reply;

/// The keys in hash order, as of the last SCAN with cursor 0 (empty: none kept). One per
/// process: the process serves one keyspace (SELECT takes only database 0).
static SNAPSHOT: Mutex<Vec<(u64, Vec<u8>)>> = Mutex::new(Vec::new());

/// A key's place in SCAN's order: a fixed hash (FNV-1a).
fn scan_hash(k: &[u8]) -> u64 {
    k.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]: keys in hash order from the cursor on;
/// the next cursor is the hash after the last one returned (0 when done). Keys sharing a
/// hash come together, so none falls between two calls.
pub(crate) fn scan(db: &Db, a: &[Vec<u8>], now: u64) -> Reply {
    let Some(cursor) = std::str::from_utf8(&a[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Reply::err("invalid cursor");
    };
    let (mut pat, mut count, mut ty) = (&b"*"[..], 10usize, None);
    let mut i = 2;
    while i + 1 < a.len() {
        match upper(&a[i]).as_str() {
            "MATCH" => pat = &a[i + 1],
            "COUNT" => match int(&a[i + 1]) {
                Some(n) if n > 0 => count = n as usize,
                _ => return Reply::err("syntax error"),
            },
            "TYPE" => ty = Some(String::from_utf8_lossy(&a[i + 1]).to_lowercase()),
            _ => return Reply::err("syntax error"),
        }
        i += 2;
    }
    let mut snap = SNAPSHOT.lock().unwrap_or_else(PoisonError::into_inner);
    if cursor == 0 || snap.is_empty() {
        *snap = all_keys(db).map(|k| (scan_hash(k), k.to_vec())).collect();
        snap.sort_unstable();
    }
    let from = snap.partition_point(|(h, _)| *h < cursor);
    let mut out = Vec::new();
    let mut next = 0;
    for (n, (h, k)) in snap[from..].iter().enumerate() {
        if n >= count && snap[from + n - 1].0 != *h {
            next = *h;
            break;
        }
        let Some(t) = type_of(db, k) else {
            continue; // gone since the snapshot
        };
        if !expired(db, k, now) && ty.as_deref().is_none_or(|want| want == t) && glob(pat, k) {
            out.push(Reply::bulk(k));
        }
    }
    if next == 0 {
        // The end: the memory goes back (an iteration still under way takes a new one).
        *snap = Vec::new();
    }
    Reply::Array(Some(vec![
        Reply::bulk(next.to_string().as_bytes()),
        Reply::Array(Some(out)),
    ]))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use pcoll::Pool;

    use crate::db::{self, Db, words as cmd};
    use crate::resp::Reply;

    /// One SCAN call: the next cursor and the keys returned.
    fn call(pool: &Pool<Db>, cursor: &str, count: &str) -> (String, Vec<String>) {
        let Reply::Array(Some(r)) =
            super::scan(&pool.read(), &cmd(&["SCAN", cursor, "COUNT", count]), 0)
        else {
            panic!("SCAN reply");
        };
        let text = |r: &Reply| match r {
            Reply::Bulk(Some(b)) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("bulk expected, got {other:?}"),
        };
        let Reply::Array(Some(keys)) = &r[1] else {
            panic!("keys");
        };
        (text(&r[0]), keys.iter().map(text).collect())
    }

    fn write(pool: &Pool<Db>, words: &[&str]) {
        pool.transaction(|d| {
            db::run(d, &cmd(words), 0);
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
    }

    /// Keys come and go between the calls of an iteration, and a second iteration starts in
    /// the middle of the first (a new snapshot): every key present throughout the first is
    /// returned by it, and no key that is gone is.
    #[test]
    fn an_iteration_returns_every_key_present_throughout() {
        let pool = db::test_pool();
        for i in 0..1000 {
            write(&pool, &["SET", &format!("k{i}"), "v"]);
        }
        let (mut cursor, mut seen, mut step) = ("0".to_string(), HashSet::new(), 0);
        loop {
            let (next, keys) = call(&pool, &cursor, "7");
            seen.extend(keys);
            step += 1;
            write(&pool, &["SET", &format!("new{step}"), "v"]);
            write(&pool, &["DEL", &format!("k{}", 500 + step)]);
            if step == 40 {
                // Another client starts its own iteration: a newer snapshot.
                let _ = call(&pool, "0", "3");
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
        assert!(step > 1000 / 7 / 2, "{step} calls");
        for i in (0..500).chain(500 + step + 1..1000) {
            assert!(seen.contains(&format!("k{i}")), "k{i} was there throughout");
        }
        let (_, after) = call(&pool, "0", "100000");
        assert!(
            !after.contains(&"k501".to_string()),
            "a deleted key is not returned"
        );
    }
}
