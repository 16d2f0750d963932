//! Active expiry, as Redis does it: besides deleting an expired key when a command touches
//! it (lazy expiry, `db.rs`), a thread deletes expired keys nobody touches. Ten times a
//! second it reads the keys due, soonest first, from the deadline index (`deadlines.rs`),
//! up to [`MAX_PER_CYCLE`] of them, and deletes them in one pcoll transaction. A cycle that
//! stopped at that bound with more keys due is followed by the next one after 10 ms instead
//! of 100 ms.
//!
//! Redis samples 20 keys with a deadline at a time, because its deadlines are not ordered;
//! pcoll's index is, so a cycle finds exactly the expired keys and nothing else, in
//! O(log n + due) (a few microseconds), and reads under a read guard (readers go on).
//!
//! The deletions run in their own transaction, which checks each key again (a write may have
//! come in since the read) and counts it as a write for WATCH, as Redis does for an expired
//! key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pcoll::Pool;

use crate::commit;
use crate::db::{self, Db};
use crate::watch;

/// Most keys one cycle deletes.
pub const MAX_PER_CYCLE: usize = 400;
/// Between two cycles.
const PERIOD: Duration = Duration::from_millis(100);
/// Between two cycles when the last one stopped at its bound with expired keys left.
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
    /// Keys found due.
    pub due: usize,
    /// Keys deleted (those due that no write gave a new life in between).
    pub deleted: usize,
    /// The cycle stopped at its bound with more keys due.
    pub more: bool,
}

/// Starts the thread that runs a cycle ten times a second, for the life of the process.
pub fn start(pool: Arc<Pool<Db>>) {
    std::thread::Builder::new()
        .name("expire".into())
        .spawn(move || {
            let mut idle = commit::Idle::default();
            loop {
                // A cycle that fails (a failed commit, a panic: its transaction rolled back)
                // deleted nothing; the next one tries again.
                let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    cycle(&pool, db::now_ms())
                }));
                if matches!(c, Ok(Ok(Cycle { deleted: 1.., .. }))) {
                    idle.wrote();
                }
                idle.tick(&pool);
                let more = matches!(c, Ok(Ok(Cycle { more: true, .. })));
                std::thread::sleep(if more { CATCH_UP } else { PERIOD });
            }
        })
        .expect("spawn the expire thread");
}

/// One cycle at time `now` (Unix ms): deletes the keys due, soonest first, up to
/// [`MAX_PER_CYCLE`], in one transaction.
pub fn cycle(pool: &Pool<Db>, now: u64) -> pcoll::Result<Cycle> {
    let mut found = due(&pool.read(), now);
    let more = found.len() > MAX_PER_CYCLE;
    found.truncate(MAX_PER_CYCLE);
    let mut c = Cycle {
        due: found.len(),
        deleted: 0,
        more,
    };
    if !found.is_empty() {
        c.deleted = delete(pool, &found, now)?;
        note(c.deleted as u64);
    }
    Ok(c)
}

/// The keys due at `now`, soonest first: one more than a cycle deletes, when there are.
fn due(d: &Db, now: u64) -> Vec<Vec<u8>> {
    d.expires
        .due(now)
        .take(MAX_PER_CYCLE + 1)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Deletes the keys `found` that are still expired at `now`, in one transaction: how many
/// it deleted.
fn delete(pool: &Pool<Db>, found: &[Vec<u8>], now: u64) -> pcoll::Result<usize> {
    pool.transaction(|d| {
        let mut gone = 0;
        for k in found {
            // Still expired: a write since the read may have given it a new life.
            if db::expired(d, k, now) {
                db::remove_key(d, k);
                watch::touch(k);
                gone += 1;
            }
        }
        Ok(gone)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_with(live: usize, dead: usize) -> Pool<Db> {
        let pool = db::test_pool();
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
        // Before the deadline (1050): nothing is due.
        let c = cycle(&pool, 1049).unwrap();
        assert_eq!(c, Cycle::default());
        let mut cycles = Vec::new();
        while counts(&pool).1 > 0 {
            cycles.push(cycle(&pool, 1050).unwrap());
            assert!(cycles.len() <= 3, "{cycles:?}");
        }
        assert_eq!(counts(&pool), (100, 0));
        // 1000 due: two full cycles that ask for more, then the rest.
        let full = Cycle {
            due: MAX_PER_CYCLE,
            deleted: MAX_PER_CYCLE,
            more: true,
        };
        let rest = 1000 - 2 * MAX_PER_CYCLE;
        let last = Cycle {
            due: rest,
            deleted: rest,
            more: false,
        };
        assert_eq!(cycles, [full, full, last]);
        assert!(pool.read().expires.consistent());
        assert_eq!(cycle(&pool, 1050).unwrap(), Cycle::default());
    }

    #[test]
    fn a_cycle_finds_exactly_the_keys_due_soonest_first() {
        // 2000 keys with deadlines 1..=2000 ms, set in a shuffled order.
        let pool = db::test_pool();
        pool.transaction(|d| {
            for i in 0..2000u64 {
                let n = i * 7919 % 2000 + 1; // a permutation of 1..=2000
                let cmd = [b"SET".to_vec(), format!("k{n}").into(), b"v".to_vec()];
                db::run(d, &cmd, 0);
                let ttl = [
                    b"PEXPIRE".to_vec(),
                    format!("k{n}").into(),
                    n.to_string().into(),
                ];
                db::run(d, &ttl, 0);
            }
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
        let due_at = |t| due(&pool.read(), t);
        assert!(due_at(0).is_empty());
        assert_eq!(due_at(3), [b"k1".to_vec(), b"k2".to_vec(), b"k3".to_vec()]);
        assert_eq!(due_at(1999).len(), MAX_PER_CYCLE + 1);
        let c = cycle(&pool, 2).unwrap();
        assert_eq!((c.due, c.deleted, c.more), (2, 2, false));
        assert_eq!(counts(&pool), (1998, 1998));
        assert_eq!(due_at(3), [b"k3".to_vec()]);
        assert!(pool.read().expires.consistent());
    }

    #[test]
    fn a_key_written_between_read_and_delete_survives() {
        let pool = pool_with(0, 1);
        let found = due(&pool.read(), 2000);
        assert_eq!(found, [b"dead0".to_vec()]);
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
        assert_eq!(delete(&pool, &found, 2000).unwrap(), 0);
        assert_eq!(counts(&pool), (1, 0));
    }
}
