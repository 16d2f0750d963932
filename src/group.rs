//! Group commit: [`Pool::combine`]. Threads hand their transaction functions to the pool;
//! whichever thread gets the writer lock runs every function waiting then, in one
//! transaction, and commits once: one barrier (`Durability::Sync`) makes them all durable.
//! Each caller returns only after that commit, with its own function's result, so nothing is
//! acknowledged before it is durable.
//!
//! A function that fails (returns `Err` or panics) must not undo the others, and a transaction
//! cannot be rolled back in part: the batch then rolls back whole, and each of its functions
//! runs again alone, in a transaction of its own (which is why they are `FnMut`: a function
//! may run twice, the first run rolled back). A failed group commit (rolled back whole) is
//! handled the same way: each function alone then meets the failure, or not, itself.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;
use crate::persistent::Persistent;
use crate::pool::Pool;

/// A function's outcome, type-erased: `Ok(T)` or `Err(E)`, or the payload of its panic.
type Outcome = std::thread::Result<std::result::Result<Box<dyn Any + Send>, Box<dyn Any + Send>>>;

type Work<R> =
    Box<dyn FnMut(&mut R) -> std::result::Result<Box<dyn Any + Send>, Box<dyn Any + Send>> + Send>;

struct Job<R> {
    work: Work<R>,
    /// A commit error turned into the caller's `E` (the batch's commit failed).
    on_commit_error: Box<dyn Fn(Error) -> Box<dyn Any + Send> + Send>,
    done: Arc<Mutex<Option<Outcome>>>,
    /// The caller, parked until its outcome is set (`finish`) or the writer lock frees.
    waiter: std::thread::Thread,
}

impl<R> Job<R> {
    /// Sets the caller's outcome and wakes it (that thread alone: a shared condition variable
    /// woke every waiting caller, each then taking the queue's lock in turn).
    fn finish(self, o: Outcome) {
        *lock(&self.done) = Some(o);
        self.waiter.unpark();
    }
}

/// The functions waiting for a combiner, per pool.
pub(crate) struct Group<R> {
    queue: Mutex<Vec<Job<R>>>,
    /// Jobs in the last batch: a new combiner waits briefly for as many (see `gather`).
    last_batch: std::sync::atomic::AtomicUsize,
    /// Threads inside `combine` now, and the most there were since the last `gather`: the
    /// callers a combiner can expect (those of the last batch, and those that queued while
    /// it committed).
    active: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl<R> Default for Group<R> {
    fn default() -> Self {
        Group {
            queue: Mutex::new(Vec::new()),
            last_batch: std::sync::atomic::AtomicUsize::new(0),
            active: std::sync::atomic::AtomicUsize::new(0),
            peak: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

/// Functions one transaction takes at most.
const MAX_BATCH: usize = 256;

/// Counts a caller inside `combine` (and the most there were) until it leaves, also by
/// unwinding.
struct Active<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Active<'a> {
    fn enter<R>(g: &'a Group<R>) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let now = g.active.fetch_add(1, Relaxed) + 1;
        g.peak.fetch_max(now, Relaxed);
        Active(&g.active)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How long a combiner waits for the functions it expects (see `gather`).
const GATHER: Duration = Duration::from_micros(40);

/// How long a waiting caller yields before it parks (see `wait_or_combine`).
const SPIN: Duration = Duration::from_micros(100);

impl<R: Persistent> Pool<R> {
    /// Runs `f` in a transaction shared with the functions other threads hand in at the same
    /// time ([`Pool::transaction`] with group commit): one commit, in `Durability::Sync` one
    /// barrier, makes the whole group durable. Returns `f`'s result once that commit is
    /// done. On `Err` (or a panic) `f`'s changes are rolled back and the others' are not; `f`
    /// may then have run twice (the group rolled back, then `f` alone), which is why it is
    /// `FnMut`. `f` runs on whichever thread commits the group, so it and its result are
    /// `Send + 'static`; it works through the `&mut R` it is given only (another guard of this
    /// pool inside it panics, as nested guards do).
    ///
    /// ```
    /// use pcoll::{PHashMap, Persistent, Pool};
    /// #[derive(Persistent, Default)]
    /// struct Root { hits: PHashMap<u64, u64> }
    ///
    /// let pool = std::sync::Arc::new(Pool::<Root>::options().in_memory()?);
    /// let threads: Vec<_> = (0..4u64)
    ///     .map(|t| {
    ///         let pool = pool.clone();
    ///         std::thread::spawn(move || {
    ///             for i in 0..100 {
    ///                 pool.combine(move |r| {
    ///                     *r.hits.entry(t * 1000 + i).or_insert(0) += 1;
    ///                     Ok::<_, pcoll::Error>(())
    ///                 })
    ///                 .unwrap();
    ///             }
    ///         })
    ///     })
    ///     .collect();
    /// threads.into_iter().for_each(|t| t.join().unwrap());
    /// assert_eq!(pool.read().hits.len(), 400);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn combine<T, E, F>(&self, mut f: F) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnMut(&mut R) -> std::result::Result<T, E> + Send + 'static,
    {
        let done = Arc::new(Mutex::new(None));
        let job = Job {
            work: Box::new(move |r: &mut R| match f(r) {
                Ok(t) => Ok(Box::new(t) as Box<dyn Any + Send>),
                Err(e) => Err(Box::new(e) as Box<dyn Any + Send>),
            }),
            on_commit_error: Box::new(|e| Box::new(E::from(e)) as Box<dyn Any + Send>),
            done: done.clone(),
            waiter: std::thread::current(),
        };
        let _active = Active::enter(&self.group);
        lock(&self.group.queue).push(job);
        let outcome = self.wait_or_combine(&done);
        match outcome {
            Ok(Ok(t)) => Ok(*t.downcast::<T>().expect("the caller's type")),
            Ok(Err(e)) => Err(*e.downcast::<E>().expect("the caller's type")),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Until `done` is set: becomes the combiner whenever the writer lock is free.
    fn wait_or_combine(&self, done: &Mutex<Option<Outcome>>) -> Outcome {
        let mut spun = false;
        loop {
            if let Some(o) = lock(done).take() {
                return o;
            }
            match self.try_write() {
                Ok(g) => {
                    let batch = self.gather();
                    self.run_batch(g, batch);
                    // The writer lock is free: the first caller queued meanwhile combines next.
                    if let Some(next) = lock(&self.group.queue).first() {
                        next.waiter.unpark();
                    }
                }
                Err(Error::WouldBlock { .. }) => {
                    // Another thread commits (perhaps this function): wait until it sets this
                    // outcome or hands over, or a little (a plain `write()` does not wake).
                    // Yielding first (once a call: a long plain transaction is not worth
                    // the cycles) keeps an idle core from sleeping through the barrier:
                    // waking a halted virtual CPU costs tens of microseconds.
                    if !spun {
                        spun = true;
                        let until = std::time::Instant::now() + SPIN;
                        while lock(done).is_none() && std::time::Instant::now() < until {
                            std::thread::yield_now();
                        }
                    }
                    if lock(done).is_none() {
                        std::thread::park_timeout(Duration::from_micros(200));
                    }
                }
                Err(e) => {
                    let mut q = lock(&self.group.queue);
                    let mine = q.iter().position(|j| std::ptr::eq(&*j.done, done));
                    if let Some(i) = mine {
                        let job = q.remove(i);
                        return Ok(Err((job.on_commit_error)(e)));
                    }
                }
            }
        }
    }

    /// The jobs for the next batch. The threads of the last batch submit their next functions
    /// just after it, and others queued while it committed: waiting up to `GATHER` for as
    /// many callers as were in `combine` since the last batch (or as the last batch had)
    /// costs less than the commit that each late one would otherwise need.
    fn gather(&self) -> Vec<Job<R>> {
        use std::sync::atomic::Ordering::Relaxed;
        let seen = self
            .group
            .peak
            .swap(self.group.active.load(Relaxed), Relaxed);
        let want = self.group.last_batch.load(Relaxed).max(seen).min(MAX_BATCH);
        let deadline = std::time::Instant::now() + GATHER;
        let mut q = lock(&self.group.queue);
        while q.len() < want && std::time::Instant::now() < deadline {
            drop(q);
            std::thread::yield_now();
            q = lock(&self.group.queue);
        }
        let n = q.len().min(MAX_BATCH);
        self.group.last_batch.store(n, Relaxed);
        q.drain(..n).collect()
    }

    /// Runs `batch` in `g`'s transaction; on a failure in it, each job alone.
    fn run_batch(&self, mut g: crate::pool::WriteGuard<'_, R>, mut batch: Vec<Job<R>>) {
        let mut outcomes = Vec::with_capacity(batch.len());
        for job in &mut batch {
            let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.work)(&mut *g)));
            let failed = !matches!(o, Ok(Ok(_)));
            outcomes.push(o);
            if failed {
                break;
            }
        }
        if outcomes.len() == batch.len() && outcomes.iter().all(|o| matches!(o, Ok(Ok(_)))) {
            if g.commit().is_ok() {
                for (job, o) in batch.into_iter().zip(outcomes) {
                    job.finish(o);
                }
                return;
            }
        } else {
            g.abort();
        }
        // Each alone: its own transaction commits or rolls back by its own outcome.
        for mut job in batch {
            let o = self.run_alone(&mut job);
            job.finish(o);
        }
    }

    fn run_alone(&self, job: &mut Job<R>) -> Outcome {
        let mut g = match self.write_timeout(Duration::from_secs(3600)) {
            Ok(g) => g,
            Err(e) => return Ok(Err((job.on_commit_error)(e))),
        };
        let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.work)(&mut *g)));
        match &o {
            Ok(Ok(_)) => {
                if let Err(e) = g.commit() {
                    return Ok(Err((job.on_commit_error)(e)));
                }
            }
            _ => g.abort(),
        }
        o
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
