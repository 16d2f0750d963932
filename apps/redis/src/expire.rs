//! Active expiry, as Redis does it: besides deleting an expired key when a write touches it
//! (lazy expiry, `db.rs`), a thread deletes expired keys nobody touches. Ten times a second
//! it examines keys that have a deadline, 20 at a time, and goes on while more than a quarter
//! of the last 20 had expired, up to [`MAX_PER_CYCLE`] keys or about a millisecond of
//! scanning; the expired keys it found are deleted in one pcoll transaction. A cycle that
//! stopped at its bound is followed by the next one after 10 ms instead of 100 ms.
//!
//! The deadlines are a hash map (key → deadline), with no order by deadline: a cycle resumes
//! where the last one stopped (a cursor over the map's iteration order, which is as good as a
//! random sample: it follows the keys' hashes), as Redis's own cycle scans its table with a
//! cursor. Reaching the cursor walks the entries before it, ~1.2 ns each (about 1 ms at a
//! million keys with a deadline): that walk runs under a read guard (readers go on; the
//! committer waits). A deadline-ordered index would make it exact and cheap, at the price of
//! another root type (existing pool files would no longer open).
//!
//! The scan runs under a read guard; the deletions run in their own transaction, which checks
//! each key again (a write may have come in between) and counts it as a write for WATCH, as
//! Redis does for an expired key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pcoll::Pool;

use crate::db::{self, Db};
use crate::watch;

/// Keys examined per round (Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const SAMPLE: usize = 20;
/// Most keys one cycle deletes.
pub const MAX_PER_CYCLE: usize = 400;
/// Time a cycle's scan may take before it stops at the end of a round.
const SCAN_BUDGET: Duration = Duration::from_millis(1);
/// Between two cycles.
const PERIOD: Duration = Duration::from_millis(100);
/// Between two cycles when the last one stopped at a bound with expired keys left.
const CATCH_UP: Duration = Duration::from_millis(10);

/// Keys deleted because they expired, actively or on access, since the process started
/// (INFO's `expired_keys`).
static EXPIRED: AtomicU64 = AtomicU64::new(0);

/// Counts `n` keys deleted because they expired.
pub fn note(n: u64) {
    EXPIRED.fetch_add(n, Ordering::Relaxed);
}

/// Keys deleted because they expired since the process started.
pub fn expired_keys() -> u64 {
    EXPIRED.load(Ordering::Relaxed)
}

/// What one cycle did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// Keys with a deadline examined.
    pub examined: usize,
    /// Keys deleted.
    pub deleted: usize,
    /// The cycle stopped at a bound (keys or time) while expired keys were still turning up.
    pub more: bool,
}

/// Starts the thread that runs a cycle ten times a second, for the life of the process.
pub fn start(pool: Arc<Pool<Db>>) {
    std::thread::Builder::new()
        .name("expire".into())
        .spawn(move || {
            let mut cursor = 0;
            loop {
                // A cycle that fails (a failed commit, a panic: its transaction rolled back)
                // deleted nothing; the next one tries again.
                let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    cycle(&pool, &mut cursor, db::now_ms())
                }));
                let more = matches!(c, Ok(Ok(Cycle { more: true, .. })));
                std::thread::sleep(if more { CATCH_UP } else { PERIOD });
            }
        })
        .expect("spawn the expire thread");
}

/// One cycle at time `now` (Unix ms): finds expired keys from `cursor` on (see the module
/// doc), deletes them in one transaction, and moves `cursor` to where the next cycle starts.
pub fn cycle(pool: &Pool<Db>, cursor: &mut usize, now: u64) -> pcoll::Result<Cycle> {
    let (found, examined, more, len) = {
        let d = pool.read();
        let len = d.expires.len();
        let (found, examined, more) = scan(&d, cursor, now);
        (found, examined, more, len)
    };
    let mut c = Cycle {
        examined,
        deleted: 0,
        more,
    };
    // Where the scan stopped, in the order of entries before the deletions.
    let end = if len == 0 {
        0
    } else {
        (*cursor + examined) % len
    };
    if found.is_empty() {
        *cursor = end;
        return Ok(c);
    }
    let gone = delete(pool, &found, now)?;
    c.deleted = gone.len();
    note(gone.len() as u64);
    // Entries deleted before `end` move the ones after it forward.
    *cursor = end.saturating_sub(gone.iter().filter(|&&at| at < end).count());
    Ok(c)
}

/// Deletes the keys `found` (with their places in the map's order) that are still expired
/// at `now`, in one transaction: the places of those it deleted.
fn delete(pool: &Pool<Db>, found: &[(usize, Vec<u8>)], now: u64) -> pcoll::Result<Vec<usize>> {
    pool.transaction(|d| {
        let mut gone = Vec::new();
        for (at, k) in found {
            // Still expired: a write since the scan may have given it a new life.
            if db::expired(d, k, now) {
                db::remove_key(d, k);
                watch::touch(k);
                gone.push(*at);
            }
        }
        Ok(gone)
    })
}

/// Examines entries of the deadline map from `cursor` on (wrapping around once at most):
/// the expired keys with their places in the map's order, how many entries it examined,
/// and whether it stopped at a bound while expired keys were still turning up.
fn scan(d: &Db, cursor: &mut usize, now: u64) -> (Vec<(usize, Vec<u8>)>, usize, bool) {
    let len = d.expires.len();
    if *cursor >= len {
        *cursor = 0;
    }
    let started = Instant::now();
    let mut entries = d
        .expires
        .iter()
        .enumerate()
        .skip(*cursor)
        .chain(d.expires.iter().enumerate())
        .take(len);
    let mut found = Vec::new();
    let mut examined = 0;
    let more = loop {
        let mut hits = 0;
        let mut round = 0;
        for (at, (k, &deadline)) in entries.by_ref().take(SAMPLE) {
            round += 1;
            if deadline <= now {
                hits += 1;
                found.push((at, k.to_vec()));
            }
        }
        examined += round;
        if round < SAMPLE || hits * 4 <= round {
            break false; // the whole map, or few expired keys left here
        }
        if found.len() + SAMPLE > MAX_PER_CYCLE || started.elapsed() >= SCAN_BUDGET {
            break true;
        }
    };
    (found, examined, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcoll::Durability;

    fn pool_with(live: usize, dead: usize) -> Pool<Db> {
        let pool = Pool::<Db>::options()
            .durability(Durability::Process)
            .in_memory()
            .unwrap();
        pool.transaction(|d| {
            for i in 0..live {
                let k = format!("live{i}");
                db::run(d, &[b"SET".to_vec(), k.into(), b"v".to_vec()], 1000);
            }
            for i in 0..dead {
                let k = format!("dead{i}");
                let px = b"PX".to_vec();
                db::run(
                    d,
                    &[b"SET".to_vec(), k.into(), b"v".to_vec(), px, b"50".to_vec()],
                    1000,
                );
            }
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
        pool
    }

    fn counts(pool: &Pool<Db>) -> (usize, usize) {
        db::counts(&pool.read())
    }

    #[test]
    fn cycles_delete_every_expired_key_and_nothing_else() {
        let pool = pool_with(100, 1000);
        assert_eq!(counts(&pool), (1100, 1000));
        let mut cursor = 0;
        // Before the deadline (1050): nothing is deleted.
        let c = cycle(&pool, &mut cursor, 1049).unwrap();
        assert_eq!((c.deleted, c.more), (0, false));
        let mut cycles = Vec::new();
        while counts(&pool).1 > 0 {
            let c = cycle(&pool, &mut cursor, 1050).unwrap();
            assert!(c.deleted <= MAX_PER_CYCLE, "{c:?}");
            assert!(
                c.deleted > 0,
                "a cycle found nothing with expired keys left: {c:?}"
            );
            cycles.push(c);
        }
        assert_eq!(counts(&pool), (100, 0));
        // All expired: each cycle but the last stops at its bound and asks for more.
        assert!(cycles.len() >= 1000 / MAX_PER_CYCLE, "{cycles:?}");
        assert!(
            cycles[..cycles.len() - 1].iter().all(|c| c.more),
            "{cycles:?}"
        );
        assert_eq!(cycles.iter().map(|c| c.deleted).sum::<usize>(), 1000);
    }

    #[test]
    fn a_cycle_stops_early_when_few_keys_expired() {
        // 2 expired keys among 2000 with a deadline: the first round of 20 holds at most a
        // few expired keys, so the cycle ends after it; the cursor moves on.
        let pool = Pool::<Db>::options()
            .durability(Durability::Process)
            .in_memory()
            .unwrap();
        pool.transaction(|d| {
            for i in 0..2000 {
                let k = format!("k{i}");
                let ttl = if i < 2 {
                    b"10".to_vec()
                } else {
                    b"100000".to_vec()
                };
                db::run(
                    d,
                    &[
                        b"SET".to_vec(),
                        k.into(),
                        b"v".to_vec(),
                        b"PX".to_vec(),
                        ttl,
                    ],
                    0,
                );
            }
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
        let mut cursor = 0;
        let c = cycle(&pool, &mut cursor, 20).unwrap();
        assert_eq!((c.examined, c.more), (SAMPLE, false), "{c:?}");
        assert_eq!(cursor, SAMPLE - c.deleted);
        // Cycles walk the whole map: both expired keys go, the others stay.
        for _ in 0..2000 / SAMPLE {
            cycle(&pool, &mut cursor, 20).unwrap();
        }
        assert_eq!(counts(&pool), (1998, 1998));
    }

    #[test]
    fn a_key_written_between_scan_and_delete_survives() {
        let pool = pool_with(0, 1);
        let d = pool.read();
        let mut cursor = 0;
        let (found, ..) = scan(&d, &mut cursor, 2000);
        drop(d);
        assert_eq!(found.len(), 1);
        // SET without a TTL gives the key a new life before the deletion transaction.
        pool.transaction(|d| {
            db::run(
                d,
                &[b"SET".to_vec(), b"dead0".to_vec(), b"w".to_vec()],
                2000,
            );
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
        assert_eq!(delete(&pool, &found, 2000).unwrap(), Vec::<usize>::new());
        assert_eq!(counts(&pool), (1, 0));
    }
}
