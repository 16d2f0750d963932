//! WATCH: optimistic locking for MULTI/EXEC. Every write command bumps the version of each
//! key it names (hashed into 65,536 buckets, in process memory: watches do not outlive a
//! connection, so versions need not outlive the process); EXEC runs only if no watched
//! bucket moved, which it checks inside its own transaction, where no other write can come
//! in between. Two keys sharing a bucket can abort an EXEC that Redis would run (a client
//! retries, as after any abort), never the reverse.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::cmd::Cmd;

const BUCKETS: usize = 1 << 16;

struct Versions {
    buckets: Vec<AtomicU64>,
    /// Bumped by FLUSHDB / FLUSHALL: every key changed.
    all: AtomicU64,
}

/// Connections watching at least one key.
static WATCHING: AtomicUsize = AtomicUsize::new(0);

fn versions() -> &'static Versions {
    static V: OnceLock<Versions> = OnceLock::new();
    V.get_or_init(|| Versions {
        buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        all: AtomicU64::new(0),
    })
}

fn bucket(key: &[u8]) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish() as usize % BUCKETS
}

/// The keys a write command names.
fn written_keys<'a>(c: Cmd, args: &'a [Vec<u8>]) -> Box<dyn Iterator<Item = &'a [u8]> + 'a> {
    let rest = args.iter().skip(1).map(Vec::as_slice);
    match c {
        Cmd::Mset => Box::new(rest.step_by(2)),
        Cmd::Del | Cmd::Unlink | Cmd::Rename | Cmd::Blpop | Cmd::Brpop => Box::new(rest),
        _ => Box::new(rest.take(1)),
    }
}

/// Notes that the write command `c` (its request `args`) changed its keys. Called
/// inside the command's transaction.
pub fn bump(c: Cmd, args: &[Vec<u8>]) {
    let v = versions();
    if matches!(c, Cmd::Flushdb | Cmd::Flushall) {
        v.all.fetch_add(1, Ordering::SeqCst);
        return;
    }
    // Versions only matter from a WATCH on, which reads them when it begins: with no
    // connection watching, a write has nothing to bump. (Connections and their writes run
    // on the event loop's one thread; the expiry thread's `touch` always bumps.)
    if WATCHING.load(Ordering::SeqCst) == 0 {
        return;
    }
    for k in written_keys(c, args) {
        v.buckets[bucket(k)].fetch_add(1, Ordering::SeqCst);
    }
}

/// Notes that `key` changed outside a command (active expiry deleted it). Called inside the
/// transaction that deletes it.
pub fn touch(key: &[u8]) {
    versions().buckets[bucket(key)].fetch_add(1, Ordering::SeqCst);
}

/// The versions of a connection's watched keys when it watched them.
#[derive(Debug, Default)]
pub struct Watched {
    seen: Vec<(usize, u64)>,
    all: Option<u64>,
}

impl Watched {
    /// Adds `keys` at their current versions.
    pub fn add<'a>(&mut self, keys: impl IntoIterator<Item = &'a [u8]>) {
        let v = versions();
        if self.all.is_none() {
            WATCHING.fetch_add(1, Ordering::SeqCst);
        }
        self.all.get_or_insert_with(|| v.all.load(Ordering::SeqCst));
        for k in keys {
            let b = bucket(k);
            self.seen.push((b, v.buckets[b].load(Ordering::SeqCst)));
        }
    }

    /// True when no watched key was written since it was watched (call inside EXEC's
    /// transaction).
    pub fn unchanged(&self) -> bool {
        let v = versions();
        self.all.is_none_or(|a| a == v.all.load(Ordering::SeqCst))
            && self
                .seen
                .iter()
                .all(|&(b, n)| v.buckets[b].load(Ordering::SeqCst) == n)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.all.is_some() {
            WATCHING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
