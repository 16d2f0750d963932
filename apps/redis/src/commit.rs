//! Group commit: write commands from every connection go to one committer thread, which runs
//! whatever is waiting, from all connections, as one pcoll transaction: one commit (in
//! `sync` mode, one `fdatasync`) serves them all. Each connection gets its replies only after
//! that commit, so nothing is acknowledged before it is durable, and a crash loses only
//! commands no client was told about. Each command stays all-or-nothing (the batch is); a
//! command's error reply changes nothing (checked before it writes), so it does not spoil the
//! others; a failed commit answers the error to every command of the batch, none of which
//! then happened.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use pcoll::Pool;

use crate::db::{self, Db};
use crate::resp::Reply;
use crate::watch::Watched;

/// Commands of one connection that go to the committer together.
#[derive(Debug)]
pub enum Unit {
    /// One write command.
    Command(Vec<Vec<u8>>),
    /// MULTI ... EXEC: the queued commands, and the keys the connection watched.
    Exec(Vec<Vec<Vec<u8>>>, Watched),
}

struct Job {
    units: Vec<Unit>,
    done: Sender<Vec<Reply>>,
}

/// Units one transaction takes at most (it stays short: readers wait for it).
const MAX_UNITS: usize = 4096;

/// The handle connections submit through.
#[derive(Clone)]
pub struct Committer {
    jobs: Sender<Job>,
    changes: Arc<Changes>,
    /// `--durability process`: a commit costs no barrier, so there is nothing to share, and
    /// each connection runs its units itself (one transaction per submission) instead of
    /// handing them to the committer thread and waiting for it to come back.
    direct: Option<Arc<Pool<Db>>>,
}

/// Counts the batches that may have changed the keyspace: what blocked BLPOPs wait for.
#[derive(Default)]
struct Changes {
    generation: Mutex<u64>,
    bumped: Condvar,
}

impl Committer {
    /// Starts the committer thread of `pool`; with `direct`, connections commit themselves.
    pub fn start(pool: Arc<Pool<Db>>, direct: bool) -> Committer {
        let (jobs, rx) = mpsc::channel();
        let changes = Arc::new(Changes::default());
        let ch = changes.clone();
        let direct = direct.then(|| pool.clone());
        std::thread::Builder::new()
            .name("committer".into())
            .spawn(move || committer(&pool, &rx, &ch))
            .expect("spawn the committer thread");
        Committer {
            jobs,
            changes,
            direct,
        }
    }

    /// Batches committed so far that may have changed something.
    pub fn generation(&self) -> u64 {
        *lock(&self.changes.generation)
    }

    /// Waits until a batch after generation `seen` commits, or `until` passes (`false`).
    pub fn wait_change(&self, seen: u64, until: Option<Instant>) -> bool {
        let mut g = lock(&self.changes.generation);
        while *g == seen {
            match until {
                None => {
                    g = self
                        .changes
                        .bumped
                        .wait(g)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    g = self
                        .changes
                        .bumped
                        .wait_timeout(g, left)
                        .map_or_else(|e| e.into_inner().0, |r| r.0);
                }
            }
        }
        true
    }

    /// Runs `units` in the next group transaction; their replies, in order, once committed.
    pub fn run(&self, units: Vec<Unit>) -> Vec<Reply> {
        if let Some(pool) = &self.direct {
            let (done, _) = mpsc::channel();
            let jobs = [Job { units, done }];
            let replies = run_group(pool, &jobs);
            announce(&self.changes, &jobs, &replies);
            return replies.into_iter().next().unwrap_or_default();
        }
        let n = units.len();
        let (done, rx) = mpsc::channel();
        let lost = || vec![Reply::err("the committer stopped"); n];
        if self.jobs.send(Job { units, done }).is_err() {
            return lost();
        }
        rx.recv().unwrap_or_else(|_| lost())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn committer(pool: &Pool<Db>, rx: &Receiver<Job>, changes: &Changes) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut units = jobs[0].units.len();
        while units < MAX_UNITS {
            let Ok(j) = rx.try_recv() else { break };
            units += j.units.len();
            jobs.push(j);
        }
        let replies = run_group(pool, &jobs);
        announce(changes, &jobs, &replies);
        for (job, r) in jobs.into_iter().zip(replies) {
            let _ = job.done.send(r); // a connection that went away needs no answer
        }
    }
}

/// Wakes the blocked BLPOPs after a batch that may have changed the keyspace. A BLPOP that
/// found nothing changed nothing: it must not wake the others.
fn announce(changes: &Changes, jobs: &[Job], replies: &[Vec<Reply>]) {
    let idle = |u: &Unit, r: &Reply| match u {
        Unit::Command(a) => {
            matches!(r, Reply::Array(None) | Reply::Error(_))
                && matches!(&db::upper(&a[0])[..], "BLPOP" | "BRPOP")
        }
        Unit::Exec(..) => false,
    };
    let changed = jobs
        .iter()
        .zip(replies)
        .any(|(j, rs)| j.units.iter().zip(rs).any(|(u, r)| !idle(u, r)));
    if changed {
        *lock(&changes.generation) += 1;
        changes.bumped.notify_all();
    }
}

/// One transaction for every unit of `jobs`: the replies, job by job.
fn run_group(pool: &Pool<Db>, jobs: &[Job]) -> Vec<Vec<Reply>> {
    let now = db::now_ms();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.transaction(|d| {
            let replies = jobs
                .iter()
                .map(|j| j.units.iter().map(|u| run_unit(d, u, now)).collect())
                .collect();
            Ok::<_, pcoll::Error>(replies)
        })
    }));
    let fail = |msg: String| -> Vec<Vec<Reply>> {
        jobs.iter()
            .map(|j| vec![Reply::Error(msg.clone()); j.units.len()])
            .collect()
    };
    match res {
        Ok(Ok(replies)) => replies,
        Ok(Err(e @ pcoll::Error::OutOfSpace { .. })) => fail(oom(&e.to_string())),
        Ok(Err(e)) => fail(format!("ERR pool: {e}")),
        // The transaction rolled back: none of the batch happened. A container that cannot
        // grow panics as std's do on allocation failure: that is Redis's OOM.
        Err(panic) => match panic_text(&*panic) {
            Some(t) if t.contains("out of space") => fail(oom(t)),
            _ => fail("ERR internal error (the batch was rolled back)".into()),
        },
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

fn run_unit(d: &mut Db, u: &Unit, now: u64) -> Reply {
    match u {
        Unit::Command(args) => db::run(d, args, now),
        // A null reply, and nothing run, when a watched key was written since it was watched
        // (checked here, inside the transaction: no other write can come in between).
        Unit::Exec(_, w) if !w.unchanged() => Reply::Array(None),
        Unit::Exec(cmds, _) => {
            Reply::Array(Some(cmds.iter().map(|a| db::run(d, a, now)).collect()))
        }
    }
}
