//! The set commands that draw members at random: `SPOP` and `SRANDMEMBER`, with Redis's
//! counts and order of checks. Members are drawn with `PHashSet::pick` from a fresh random
//! seed each time (uniform over the members, as Redis's draw).

use std::collections::HashSet;

use crate::db::{Db, int};
use crate::resp::Reply;

/// `SPOP key [count]`, in Redis's order of checks: the arguments, the count, the type. Each
/// member is drawn with `PHashSet::pick` from a fresh random seed (uniform, as Redis's); the
/// set's key goes when it empties.
pub(crate) fn spop(db: &mut Db, a: &[Vec<u8>], wrong_type: bool) -> Reply {
    let count = match a.len() {
        2 => None,
        // (Redis gives one message for a count that is negative or not a number.)
        3 => match int(&a[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Reply::err("value is out of range, must be positive"),
        },
        _ => return Reply::err("syntax error"),
    };
    if wrong_type {
        return Reply::wrong_type();
    }
    let k = &a[1][..];
    let mut out = Vec::new();
    if let Some(s) = db.sets.get_mut(k) {
        for _ in 0..count.unwrap_or(1) {
            let Some(m) = s.pick(random()).map(|m| m.to_vec()) else {
                break;
            };
            s.remove(&m[..]);
            out.push(m);
        }
        if s.is_empty() {
            db.sets.remove(k);
        }
    }
    match count {
        None => Reply::Bulk(out.pop()),
        Some(_) => Reply::Array(Some(
            out.into_iter().map(|m| Reply::Bulk(Some(m))).collect(),
        )),
    }
}

/// A random number (xorshift64*, one sequence per process, seeded from the clock).
fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        x = now.map_or(1, |d| d.as_nanos() as u64) | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    STATE.store(x, Ordering::Relaxed);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// The most members one `SRANDMEMBER` with a negative count draws (16 M).
const MAX_DRAWS: u64 = 1 << 24;

/// `SRANDMEMBER key [count]`, in Redis's order of checks (the arguments, the count, the
/// type). A positive count gives distinct members, all of them when it reaches the set's
/// size; a negative one gives that many draws, repeats allowed.
pub(crate) fn srandmember(db: &Db, a: &[Vec<u8>], alive: bool, wrong_type: bool) -> Reply {
    let count = match a.len() {
        2 => None,
        3 => match int(&a[2]) {
            // (Draws with repeats are capped, so that one request cannot make a reply of
            // terabytes.)
            Some(n) if n.unsigned_abs() <= MAX_DRAWS => Some(n),
            Some(_) => return Reply::err("value is out of range"),
            None => return Reply::err("value is not an integer or out of range"),
        },
        _ => return Reply::err("syntax error"),
    };
    if wrong_type {
        return Reply::wrong_type();
    }
    let set = db.sets.get(&a[1][..]).filter(|_| alive);
    let Some(n) = count else {
        return Reply::Bulk(set.and_then(|s| s.pick(random())).map(|m| m.to_vec()));
    };
    let Some(s) = set else {
        return Reply::Array(Some(Vec::new()));
    };
    let draw = || {
        Reply::bulk(
            s.pick(random())
                .expect("a set in the keyspace is not empty"),
        )
    };
    let members: Vec<Reply> = if n < 0 {
        (0..n.unsigned_abs()).map(|_| draw()).collect()
    } else if n as u64 >= s.len() as u64 {
        s.iter().map(|m| Reply::bulk(m)).collect()
    } else {
        // Distinct draws until `n` (fewer than the members, so this ends; at most a few
        // times `n` draws while `n` is under the set's size).
        let mut seen = HashSet::new();
        while seen.len() < n as usize {
            seen.insert(s.pick(random()).expect("not empty").to_vec());
        }
        seen.into_iter().map(|m| Reply::Bulk(Some(m))).collect()
    };
    Reply::Array(Some(members))
}
