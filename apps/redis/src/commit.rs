//! One round of requests, from every connection, as one pcoll transaction (`server.rs`
//! gathers them): one commit (in `sync` mode, one `fdatasync`) serves them all, and the
//! replies go out after it, so nothing is acknowledged before it is durable and a crash
//! loses only commands no client was told about. Each command stays all-or-nothing (the
//! round is); a command's error reply changes nothing (checked before it writes), so it does
//! not spoil the others; a failed commit answers the error to every keyspace command of the
//! round, none of which then happened. A round with no write runs under a read guard.

use std::time::{Duration, Instant};

use pcoll::{Pool, PoolStats};

use crate::cmd::Cmd;
use crate::db::{self, Db};
use crate::resp::Reply;
use crate::watch::Watched;

/// The keyspace as a round sees it.
pub struct Access<'a> {
    db: Keyspace<'a>,
    /// The pool's counters when the round began (INFO).
    pub stats: PoolStats,
    /// The round's clock (Unix ms): every command of a round sees the same time.
    now: u64,
}

enum Keyspace<'a> {
    Read(&'a Db),
    Write(&'a mut Db),
}

impl Access<'_> {
    /// The keyspace, for reading.
    pub fn db(&self) -> &Db {
        match &self.db {
            Keyspace::Read(d) => d,
            Keyspace::Write(d) => d,
        }
    }
}

/// Runs `f` over the keyspace in one transaction (`writes`) or under a read guard: `Err`
/// with the error every keyspace reply of the round becomes when the round did not happen.
pub fn run_round(
    pool: &Pool<Db>,
    writes: bool,
    f: impl FnOnce(&mut Access<'_>),
) -> Result<(), String> {
    let stats = pool.stats();
    let now = db::now_ms();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if !writes {
            let r = pool.read();
            f(&mut Access {
                db: Keyspace::Read(&r),
                stats,
                now,
            });
            return Ok(());
        }
        pool.transaction(|d| {
            f(&mut Access {
                db: Keyspace::Write(d),
                stats,
                now,
            });
            Ok::<_, pcoll::Error>(())
        })
    }));
    match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e @ pcoll::Error::OutOfSpace { .. })) => Err(oom(&e.to_string())),
        Ok(Err(e)) => Err(format!("ERR pool: {e}")),
        // The transaction rolled back: none of the round happened. A container that cannot
        // grow panics as std's do on allocation failure: that is Redis's OOM.
        Err(panic) => match panic_text(&*panic) {
            Some(t) if t.contains("out of space") => Err(oom(t)),
            _ => Err("ERR internal error (the round was rolled back)".into()),
        },
    }
}

/// A checkpoint (`Pool::checkpoint`) a second after the last write: a kill while the server
/// is idle then leaves a file with no redo records to replay. The event loop and the expiry
/// thread each keep one (two checkpoints in a row: the second finds nothing to do).
#[derive(Default)]
pub struct Idle {
    /// When the last write ran, if no checkpoint came after it.
    wrote_at: Option<Instant>,
}

impl Idle {
    /// How long after the last write the checkpoint comes.
    const AFTER: Duration = Duration::from_secs(1);

    /// A write committed just now.
    pub fn wrote(&mut self) {
        self.wrote_at = Some(Instant::now());
    }

    /// When the checkpoint is due, if one is.
    pub fn deadline(&self) -> Option<Instant> {
        self.wrote_at.map(|t| t + Self::AFTER)
    }

    /// Checkpoints if it is due. A failure loses nothing (the records keep every write and
    /// the next open replays them): it is reported and tried again a second later.
    pub fn tick(&mut self, pool: &Pool<Db>) {
        let now = Instant::now();
        if self.deadline().is_none_or(|d| now < d) {
            return;
        }
        self.wrote_at = None;
        if let Err(e) = pool.checkpoint() {
            eprintln!("pcoll-redis: idle checkpoint: {e} (the redo records keep every write)");
            self.wrote_at = Some(now);
        }
    }
}

/// Runs one keyspace command: `cmd`, what `args` names ([`Cmd::of`]).
pub fn command(a: &mut Access<'_>, cmd: Option<Cmd>, args: &[Vec<u8>]) -> Reply {
    match &mut a.db {
        Keyspace::Write(d) => db::run_as(d, cmd, args, a.now),
        Keyspace::Read(d) => db::run_read(d, cmd, args, a.now),
    }
}

/// MULTI ... EXEC: a null reply, and nothing run, when a watched key was written since it
/// was watched (checked here, inside the transaction: no other write can come in between).
pub fn exec(a: &mut Access<'_>, cmds: &[Vec<Vec<u8>>], watched: &Watched) -> Reply {
    if !watched.unchanged() {
        return Reply::Array(None);
    }
    Reply::Array(Some(
        cmds.iter().map(|c| command(a, Cmd::of(c), c)).collect(),
    ))
}

/// BLPOP/BRPOP: the pop's reply, or `None` when every list is empty (the caller waits).
pub fn pop_or_wait(a: &mut Access<'_>, args: &[Vec<u8>]) -> Option<Reply> {
    match command(a, Cmd::of(args), args) {
        Reply::Array(None) => None,
        r => Some(r),
    }
}

/// Redis's answer when `maxmemory` is reached (here: the pool's `max_size`).
fn oom(why: &str) -> String {
    format!("OOM command not allowed when used memory > 'maxmemory' ({why})")
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> Option<&str> {
    p.downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| p.downcast_ref::<&str>().copied())
}
