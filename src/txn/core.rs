//! `PoolCore`: one open pool without its root type — the heap, the transaction state, the
//! reader/writer lock — and the process-wide registry that finds the pool a handle belongs to.
//!
//! Invariants this file relies on (and the rest of the crate keeps):
//! - `state` is touched only by the thread in `writer` (through [`PoolCore::tx`], which also
//!   refuses re-entry), or by open/close when no guard exists;
//! - every reference into pool memory is derived from a guard that borrows the `Pool`, which
//!   owns this core; so a reference found inside a registered reservation proves the core
//!   alive for as long as that reference;
//! - pcoll handles are `!Send`, so `&mut` into the pool stays on the writer's thread.

#![allow(unsafe_code)]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::path::Path;

use super::Txn;
use crate::error::{Error, Result};
use crate::heap::Heap;
use crate::sync::{self, AtomicU64, AtomicUsize, Mutex, Ordering, RwLock};

pub(crate) struct State {
    pub heap: Heap,
    pub txn: Txn,
}

pub(crate) struct PoolCore {
    base: usize,
    reserved: usize,
    pub(crate) tag: u16,
    pub(crate) read_only: bool,
    /// Bytes of pool memory mapped (grows under the writer; read by handles for bounds).
    len: AtomicU64,
    lock: RwLock<()>,
    writer: AtomicUsize,
    busy: AtomicUsize,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only accessed by the writer thread (see module invariants); the rest is
// atomics, locks and immutable fields.
unsafe impl Sync for PoolCore {}
// SAFETY: as above; no thread-affine data inside.
unsafe impl Send for PoolCore {}

impl std::fmt::Debug for PoolCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCore")
            .field("base", &self.base)
            .field("tag", &self.tag)
            .finish()
    }
}

// Per-thread state. std gets `const` initialisers (no lazy-init check on the read path);
// loom's thread_local! does not take them.
#[cfg(not(loom))]
mod tls {
    use super::*;
    std::thread_local! {
        pub(super) static TOKEN: u8 = const { 0 };
        /// Pools whose write transaction this thread holds (innermost last).
        pub(super) static ACTIVE: RefCell<Vec<(u16, usize)>> = const { RefCell::new(Vec::new()) };
        /// The last registry hit: (epoch, start, end, core).
        pub(super) static CACHE: Cell<(u64, usize, usize, usize)> = const { Cell::new((0, 0, 0, 0)) };
    }
}

#[cfg(loom)]
#[allow(clippy::missing_const_for_thread_local)]
mod tls {
    use super::*;
    loom::thread_local! {
        pub(super) static TOKEN: u8 = 0;
        pub(super) static ACTIVE: RefCell<Vec<(u16, usize)>> = RefCell::new(Vec::new());
        pub(super) static CACHE: Cell<(u64, usize, usize, usize)> = Cell::new((0, 0, 0, 0));
    }
}
use tls::{ACTIVE, CACHE, TOKEN};

fn token() -> usize {
    TOKEN.with(|t| t as *const u8 as usize)
}

/// Open pools by reserved address range, and a counter bumped whenever one closes so
/// per-thread caches never name a closed pool.
struct Registry {
    pools: Mutex<Vec<(usize, usize, usize)>>,
    epoch: AtomicU64,
}

#[cfg(not(loom))]
#[inline]
fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| Registry {
        pools: Mutex::new(Vec::new()),
        epoch: AtomicU64::new(1),
    })
}

#[cfg(loom)]
fn registry() -> &'static Registry {
    loom::lazy_static! {
        static ref R: Registry = Registry { pools: Mutex::new(Vec::new()), epoch: AtomicU64::new(1) };
    }
    &R
}

impl PoolCore {
    /// Wraps an opened heap and registers it. The box gives the core a stable address.
    pub(crate) fn new(heap: Heap, txn: Txn, read_only: bool) -> Box<PoolCore> {
        let base = heap.io.map.base() as usize;
        let reserved = heap.io.map.reserved();
        let core = Box::new(PoolCore {
            base,
            reserved,
            tag: heap.hdr.tag(),
            read_only,
            len: AtomicU64::new(heap.io.map.len() as u64),
            lock: RwLock::new(()),
            writer: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            state: UnsafeCell::new(State { heap, txn }),
        });
        let reg = registry();
        sync::lock(&reg.pools).push((base, base + reserved, &*core as *const PoolCore as usize));
        core
    }

    /// Removes the core from the registry; called by `Pool::drop` before the core drops.
    pub(crate) fn unregister(&self) {
        let reg = registry();
        sync::lock(&reg.pools).retain(|e| e.0 != self.base);
        reg.epoch.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.base as *mut u8
    }

    pub(crate) fn path(&self) -> &Path {
        // SAFETY: the path never changes after open; reading it races with nothing.
        unsafe { (*self.state.get()).heap.path() }
    }

    /// A raw pointer to `off .. off + len` of pool memory, after a bounds check.
    #[inline]
    pub(crate) fn ptr(&self, off: u64, len: usize) -> *mut u8 {
        let end = off.checked_add(len as u64);
        assert!(
            off != 0 && end.is_some_and(|e| e <= self.len.load(Ordering::Relaxed)),
            "pcoll: handle points outside its pool (offset {off}, {len} bytes): the pool is damaged"
        );
        self.base().wrapping_add(off as usize)
    }

    /// The pool offset of a pointer into this pool's mapping.
    #[inline]
    pub(crate) fn offset_of(&self, p: *const u8) -> u64 {
        let a = p as usize;
        debug_assert!(a >= self.base && a < self.base + self.reserved);
        (a - self.base) as u64
    }

    // ---- reader / writer admission ----

    pub(crate) fn read_lock(&self) -> sync::RwLockReadGuard<'_, ()> {
        assert!(
            self.writer.load(Ordering::Relaxed) != token(),
            "pcoll: read() while this thread holds write() on the same pool would deadlock; \
             read through the write guard"
        );
        sync::read(&self.lock)
    }

    /// Takes the writer lock and opens a transaction.
    pub(crate) fn write_lock(&self) -> Result<sync::RwLockWriteGuard<'_, ()>> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.path().to_owned(),
            });
        }
        assert!(
            self.writer.load(Ordering::Relaxed) != token(),
            "pcoll: nested write() on the same pool in one thread; use the outer guard \
             (its transaction already covers the inner work)"
        );
        let g = sync::write(&self.lock);
        self.writer.store(token(), Ordering::Relaxed);
        ACTIVE.with(|a| {
            a.borrow_mut()
                .push((self.tag, self as *const PoolCore as usize))
        });
        self.tx().st.txn.begin();
        Ok(g)
    }

    /// Ends the writer role (after commit or abort); the caller then drops the lock guard.
    pub(crate) fn write_unlock(&self) {
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if let Some(i) = a
                .iter()
                .rposition(|e| e.1 == self as *const PoolCore as usize)
            {
                a.remove(i);
            }
        });
        self.writer.store(0, Ordering::Relaxed);
    }

    /// Exclusive access to the heap and transaction. Panics unless this thread is the writer,
    /// or if another `Tx` of this pool is alive (re-entry).
    #[inline]
    pub(crate) fn tx(&self) -> Tx<'_> {
        assert!(
            self.writer.load(Ordering::Relaxed) == token(),
            "pcoll: pool memory can change only inside a write transaction on this thread"
        );
        assert!(
            self.busy.swap(1, Ordering::Acquire) == 0,
            "pcoll: re-entrant pool access"
        );
        // SAFETY: this thread is the writer (checked) and no other Tx is alive (busy flag), so
        // this is the only reference to `state`.
        let st = unsafe { &mut *self.state.get() };
        Tx { core: self, st }
    }

    /// Shared access to the state while a reader lock is held (no writer can be active).
    pub(crate) fn with_state<T>(
        &self,
        _read: &sync::RwLockReadGuard<'_, ()>,
        f: impl FnOnce(&State) -> T,
    ) -> T {
        // SAFETY: the caller holds this pool's reader lock (the proof argument), so no writer
        // (the only mutator of `state`) is active.
        f(unsafe { &*self.state.get() })
    }

    /// State access for open/close paths, when no guard can exist (`&mut self`).
    pub(crate) fn state_mut(&mut self) -> &mut State {
        self.state.get_mut()
    }

    /// Re-reads the mapped length after the heap grew.
    fn sync_len(&self, st: &State) {
        self.len
            .store(st.heap.io.map.len() as u64, Ordering::Relaxed);
    }
}

impl Drop for PoolCore {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// Exclusive access to one pool's heap and open transaction.
pub(crate) struct Tx<'a> {
    pub(crate) core: &'a PoolCore,
    pub(crate) st: &'a mut State,
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        self.core.sync_len(self.st);
        self.core.busy.store(0, Ordering::Release);
    }
}

impl Tx<'_> {
    /// Logs `len` bytes at `p` (a pointer into this pool derived from the caller's reference).
    pub(crate) fn log_ptr(&mut self, p: *const u8, len: usize) -> Result<()> {
        let off = self.core.offset_of(p);
        let State { heap, txn } = &mut *self.st;
        txn.log(heap, off, len as u64, Some(p))
    }

    /// Allocates `size` bytes; returns the offset.
    pub(crate) fn alloc(&mut self, size: usize, align: usize) -> Result<u64> {
        let State { heap, txn } = &mut *self.st;
        let off = txn.alloc(heap, size, align)?;
        self.core.sync_len(self.st);
        Ok(off)
    }

    /// Resizes a block (see `Txn::realloc`); returns its (possibly new) offset.
    #[allow(dead_code)] // for PVec, PString and the tables of the maps (issues 3-5)
    pub(crate) fn realloc(
        &mut self,
        off: u64,
        old: usize,
        new: usize,
        align: usize,
    ) -> Result<u64> {
        let State { heap, txn } = &mut *self.st;
        let to = txn.realloc(heap, off, old, new, align)?;
        self.core.sync_len(self.st);
        Ok(to)
    }

    /// Notes `len` bytes at `p`, written without an undo entry (their old contents do not
    /// matter: fresh memory, or slots past a container's committed length), so that a durable
    /// commit still writes them to the medium.
    #[inline]
    pub(crate) fn wrote(&mut self, p: *const u8, len: usize) {
        if self.st.heap.io.persist.is_durable() {
            let off = self.core.offset_of(p);
            self.st.txn.mark_fresh(off, len as u64);
        }
    }

    /// True when the block at `off` was allocated by this transaction (needs no undo).
    #[allow(dead_code)] // for PVec, PString and the tables of the maps (issues 3-5)
    pub(crate) fn is_fresh(&self, off: u64) -> bool {
        self.st.txn.is_fresh(off)
    }

    pub(crate) fn free(&mut self, off: u64) {
        self.st.txn.free(off);
    }
}

// ---- finding the pool of a handle ----

/// The pool whose reservation contains `r`, if any.
#[inline]
pub(crate) fn core_of<T: ?Sized>(r: &T) -> Option<&PoolCore> {
    let p = lookup(r as *const T as *const u8 as usize)?;
    // SAFETY: `r` lies in this pool's reservation, so it was derived from a guard borrowing
    // the Pool that owns the core (module invariants): the core outlives `r`'s lifetime.
    Some(unsafe { &*(p as *const PoolCore) })
}

/// Runs `f` with the pool whose reservation contains `addr`, the address of a value the
/// caller holds a live reference to (so the pool outlives the call; `f` cannot keep the
/// reference past it).
#[inline]
pub(crate) fn with_core_at<R>(addr: usize, f: impl FnOnce(Option<&PoolCore>) -> R) -> R {
    // SAFETY: as in `core_of`, for the duration of the call.
    f(lookup(addr).map(|p| unsafe { &*(p as *const PoolCore) }))
}

/// The registry entry (a `PoolCore` address) whose range contains `addr`.
#[inline]
fn lookup(addr: usize) -> Option<usize> {
    let reg = registry();
    let epoch = reg.epoch.load(Ordering::Acquire);
    let (e, s, t, p) = CACHE.with(Cell::get);
    if e == epoch && s <= addr && addr < t {
        return Some(p);
    }
    let pools = sync::lock(&reg.pools);
    let (s, t, p) = *pools.iter().find(|e| e.0 <= addr && addr < e.1)?;
    CACHE.with(|c| c.set((epoch, s, t, p)));
    Some(p)
}

/// Runs `f` with the pool of this thread's write transaction tagged `tag` (or the only one,
/// for tag 0). Used for handles outside pool memory (moved out, or not yet stored).
pub(crate) fn with_active<R>(tag: u16, f: impl FnOnce(Option<&PoolCore>) -> R) -> R {
    let found = ACTIVE.with(|a| {
        let a = a.borrow();
        match tag {
            0 if a.len() == 1 => Some(a[0].1),
            0 => None,
            _ => a.iter().rev().find(|e| e.0 == tag).map(|e| e.1),
        }
    });
    // SAFETY: ACTIVE lists only pools whose write guard is alive on this thread; the guard
    // borrows the Pool, so the core is alive during `f` (which cannot outlive this call).
    f(found.map(|p| unsafe { &*(p as *const PoolCore) }))
}
