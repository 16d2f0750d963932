//! The guards through which the root is read and changed: [`ReadGuard`] (shared) and
//! [`WriteGuard`] (one transaction: commit on drop, rollback on panic or `abort`). Allowed
//! `unsafe`: turning the root's pool offset into `&R` / `&mut R` under the guard that makes
//! it shared or exclusive.

#![allow(unsafe_code)]

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::{Pool, PoolStats};
use crate::error::Result;
use crate::persistent::Persistent;
use crate::sync::RwLockWriteGuard;
use crate::txn::core::ReadLock;

/// Shared access to the root. Derefs to `&R`.
pub struct ReadGuard<'a, R: Persistent> {
    pub(super) pool: &'a Pool<R>,
    pub(super) _lock: ReadLock<'a>,
    pub(super) _not_send: PhantomData<*const ()>,
}

impl<R: Persistent> Deref for ReadGuard<'_, R> {
    type Target = R;
    fn deref(&self) -> &R {
        // SAFETY: the reader lock excludes writers; the root is a valid R (created by
        // format, type checked on open) and lives as long as the pool this guard borrows.
        unsafe { &*self.pool.root_ptr() }
    }
}

impl<R: Persistent + fmt::Debug> fmt::Debug for ReadGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// One write transaction. Derefs to `&mut R` (logging the root on first mutable access).
///
/// Ends in one of three ways:
/// - [`WriteGuard::commit`]: commits and returns the outcome (`Err` when the commit failed,
///   the transaction then rolled back, and the pool goes on);
/// - [`WriteGuard::abort`]: rolls back;
/// - drop: commits, and rolls back if dropped during a panic. A commit that fails in `drop`
///   (out of space, an I/O error) rolls back and then **panics**, since `drop` cannot return
///   the error and a silent rollback would look like success to the code that made the
///   changes. Code that must handle commit failures calls `commit()`, or uses
///   [`Pool::transaction`], which returns them as `Err`. It never panics while another panic
///   unwinds.
pub struct WriteGuard<'a, R: Persistent> {
    pub(super) pool: &'a Pool<R>,
    pub(super) lock: Option<RwLockWriteGuard<'a, ()>>,
    pub(super) root_logged: bool,
    pub(super) _not_send: PhantomData<*const ()>,
}

impl<R: Persistent + fmt::Debug> fmt::Debug for WriteGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<R: Persistent> Deref for WriteGuard<'_, R> {
    type Target = R;
    fn deref(&self) -> &R {
        // SAFETY: this guard holds the writer lock; the root is a valid R for the pool's life.
        unsafe { &*self.pool.root_ptr() }
    }
}

impl<R: Persistent> DerefMut for WriteGuard<'_, R> {
    fn deref_mut(&mut self) -> &mut R {
        let p = self.pool.root_ptr();
        if !self.root_logged {
            // Rule 2: log before handing out &mut (no reference to the root is live here).
            let res = self.pool.core.tx().log_ptr(p.cast(), size_of::<R>());
            if let Err(e) = res {
                panic!("pcoll: cannot log the root: {e}");
            }
            // Values assigned into the root (`w.b = PBox::new(x)`) move in at commit.
            crate::collections::handle::hand_out(&self.pool.core, self.pool.root_off, p, 1);
            self.root_logged = true;
        }
        // SAFETY: the writer lock is held and `&mut self` excludes other borrows of the root.
        unsafe { &mut *p }
    }
}

impl<R: Persistent> WriteGuard<'_, R> {
    /// Commits now, reporting failure (the transaction is rolled back then).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let mut w = pool.write();
    /// w.v.push(1);
    /// w.commit()?;
    /// assert_eq!(pool.read().v[0], 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<()> {
        self.finish(true)
    }

    /// Rolls back every change made through this guard.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let mut w = pool.write();
    /// w.v.push(1);
    /// w.abort();
    /// assert!(pool.read().v.is_empty());
    /// assert_eq!(pool.stats().txn.aborts, 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn abort(mut self) {
        let _ = self.finish(false);
    }

    fn finish(&mut self, commit: bool) -> Result<()> {
        let Some(lock) = self.lock.take() else {
            return Ok(());
        };
        let core = &self.pool.core;
        // Ends the writer role even when finishing panics (a value that cannot be moved into
        // the pool at commit, a panicking `Drop`): the transaction is rolled back by then.
        let role = core.writer_role();
        let res = core.finish(commit);
        drop(role);
        drop(lock);
        res
    }

    /// Counters of the pool (same as [`Pool::stats`], readable inside the transaction).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let mut w = pool.write();
    /// w.v.push(1);
    /// let inside = w.stats().txn.commits;
    /// w.commit()?;
    /// assert_eq!(pool.stats().txn.commits, inside + 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn stats(&self) -> PoolStats {
        PoolStats::of(self.pool.core.tx().st)
    }
}

impl<R: Persistent> Drop for WriteGuard<'_, R> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.finish(false);
        } else if let Err(e) = self.finish(true) {
            panic!("pcoll: commit failed, the transaction was rolled back: {e}");
        }
    }
}
