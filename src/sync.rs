//! The one place that chooses std or loom synchronisation. Under `RUSTFLAGS="--cfg loom"`
//! every lock and atomic the pool uses comes from loom, so `tests/loom.rs` model-checks the
//! same calling code (the registry's thread-locals switch the same way, in `txn/core.rs`,
//! because std's take `const` initialisers and loom's do not). Pool-resident data never holds these types (loom's are not
//! `repr(transparent)`); they live in process memory beside the mapping.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Gives the processor to another thread while spinning on a flag.
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// Locks a mutex, ignoring poison: every structure behind these locks is restored to a
/// consistent state before a panic can unwind through it (rollback runs in guards' drops).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    match l.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    match l.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
