//! What every container handle shares: its in-pool pointer (`raw` = pool tag << 48 | offset),
//! finding its pool, and turning offsets into references tied to the handle's borrow.
//!
//! A handle's blocks live in the pool its pointer's tag names: tag 0 is the process's scratch
//! pool (process memory, for values outside any pool), any other tag a pool file. A handle
//! inside the memory of the pool it points into is found by its address (the fast path, and
//! the proof that the pool outlives the borrow); anywhere else, by its tag (`txn/core.rs`).
//! A handle whose offset has `LENT_BIT` set is a value handed out while its transaction is
//! open, named by an entry of `lent.rs`. Values move between pools only through
//! [`Persistent::relocate`]: storing into a container, handing a value out of one, and a
//! commit that finds a value stored by assignment.

#![allow(unsafe_code)]

use super::convert::IntoPersistent;
use super::lent;
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Persistent, Relocator};
use crate::txn::core::{self, Fixup, Found, PoolCore};

use crate::txn::core::{OFF_BITS, OFF_MASK};

#[inline]
pub(crate) fn pack(tag: u16, off: u64) -> u64 {
    debug_assert!(off <= OFF_MASK);
    u64::from(tag) << OFF_BITS | off
}

#[inline]
pub(crate) fn tag_of(raw: u64) -> u16 {
    (raw >> OFF_BITS) as u16
}

#[inline]
pub(crate) fn off_of(raw: u64) -> u64 {
    raw & OFF_MASK
}

/// The pool that the handle at `addr` (pointer `raw`) reads and changes its blocks in:
/// the pool whose memory holds it, the scratch pool, or an open pool named by its
/// tag. Panics with a clear message when that pool is closed.
///
/// The pointer is valid for as long as the caller holds a reference to the handle: a pool
/// holding the handle in its memory is alive while the handle is borrowed; the scratch pool
/// is never unmapped; a pool found by tag keeps its memory mapped after it closes (it is
/// marked escaped here), since the handle's borrow is not tied to that pool's guards.
#[inline]
fn resolve(addr: usize, raw: u64, what: &str, reads: bool) -> *const PoolCore {
    match core::find(addr, raw, tag_of(raw)) {
        Found::Home(p) => p,
        other => resolve_elsewhere(other, raw, what, reads),
    }
}

#[cold]
fn resolve_elsewhere(found: Found, raw: u64, what: &str, reads: bool) -> *const PoolCore {
    match found {
        Found::Home(p) | Found::Scratch(p) => p,
        Found::Away(p) => {
            if reads && !core::relocating() {
                // SAFETY: registered pools are alive while registered.
                unsafe { &*p }.mark_escaped();
            }
            p
        }
        Found::Lost => panic!(
            "pcoll: this {what} was moved out of its pool with std's mem::take/swap, and that \
             pool is closed now (tag {:#x}); values that pcoll methods hand out (remove, pop, \
             take, ...) are readable anywhere",
            tag_of(raw)
        ),
    }
}

/// The pool holding `h`'s blocks (see [`resolve`]), for reading.
#[inline]
pub(crate) fn home<'a, T: ?Sized>(h: &'a T, raw: u64, what: &str) -> &'a PoolCore {
    let p = resolve(h as *const T as *const u8 as usize, raw, what, true);
    // SAFETY: `resolve` keeps the pool's memory and core alive for as long as `h` is borrowed.
    unsafe { &*p }
}

/// Runs `f` with the pool `h`'s blocks live in, for a drop: `None` when that pool cannot
/// be changed from here (it is closed, or its write transaction is not open on this thread):
/// the blocks then stay where they are, which `check()` reports as a leak (never a free of
/// memory the pool may still use).
pub(crate) fn with_core<T: ?Sized, R>(
    h: &T,
    raw: u64,
    f: impl FnOnce(&PoolCore) -> R,
) -> Option<R> {
    if lent::is_lent(raw) {
        lent::release(raw);
        return None;
    }
    let addr = h as *const T as *const u8 as usize;
    let (p, away) = match core::find(addr, raw, tag_of(raw)) {
        Found::Home(p) | Found::Scratch(p) => (p, false),
        Found::Away(p) => (p, true),
        Found::Lost => return None,
    };
    // SAFETY: as in `home`, for the duration of the call.
    let core = unsafe { &*p };
    // Only a copy outside pool memory can be one that a rollback disowned.
    if !core.is_writer() || (away && !core::owner_drops() && core.disowns(raw)) {
        return None;
    }
    Some(f(core))
}

/// [`resolve`] for a method holding `&mut self` at `addr` that hands out no reference into
/// the pool: `f` may use the handle mutably while it has the pool. Panics with a clear
/// message when the pool is closed.
#[inline]
pub(crate) fn with_writer_at<R>(
    addr: usize,
    raw: u64,
    what: &str,
    f: impl FnOnce(&PoolCore) -> R,
) -> R {
    let p = resolve(addr, raw, what, false);
    // SAFETY: the caller holds `&mut` to the handle for the whole call, and `f` hands out no
    // reference into the pool (see `resolve`).
    f(unsafe { &*p })
}

/// [`with_writer_at`] for a method that hands out references into the handle's blocks
/// (`get_mut`, `IndexMut`, `iter_mut`): they follow the `&mut` borrow of the handle, which
/// the pool outlives (see [`resolve`]).
#[inline]
pub(crate) fn with_home_at<R>(
    addr: usize,
    raw: u64,
    what: &str,
    f: impl FnOnce(&PoolCore) -> R,
) -> R {
    let p = resolve(addr, raw, what, true);
    // SAFETY: the caller holds `&mut` to the handle for the whole call (see `resolve`).
    f(unsafe { &*p })
}

/// [`with_core`] for changes: panics with a clear message when there is no pool to change.
pub(crate) fn with_writer<T: ?Sized, R>(
    h: &T,
    raw: u64,
    what: &str,
    f: impl FnOnce(&PoolCore) -> R,
) -> R {
    with_writer_at(h as *const T as *const u8 as usize, raw, what, f)
}

/// A shared reference to the `T` that handle `h` (pointer `raw`) owns, living as long as
/// the borrow of `h`.
///
/// # Safety
/// - `raw` is `h`'s pointer and its target holds an initialised `T` owned by `h` (the
///   container's invariants keep it so).
pub(crate) unsafe fn value<'a, T, H: ?Sized>(h: &'a H, raw: u64, what: &str) -> &'a T {
    let core = home(h, raw, what);
    let p = core
        .ptr_aligned(off_of(raw), size_of::<T>().max(1), align_of::<T>())
        .cast::<T>();
    // SAFETY: in bounds (ptr checks), initialised (caller), and `h` being in pool memory
    // keeps the pool mapped for 'a.
    unsafe { &*p }
}

/// For `Pool::check()`: the `T` that `h` owns, if its pointer is sound — tagged for the
/// pool holding `h`, naming an allocated block of at least `size_of::<T>()` bytes, reached for
/// the first time. Otherwise the damage is recorded in `v` and nothing is read.
///
/// # Safety
/// As for [`value`], for a pool whose metadata is intact.
pub(crate) unsafe fn visit_target<'a, T, H: ?Sized>(
    h: &'a H,
    raw: u64,
    v: &mut Visitor<'_>,
) -> Option<&'a T> {
    if !visit_block(h, raw, size_of::<T>(), v) {
        return None;
    }
    // SAFETY: the block is allocated and large enough (enter); the caller promises it holds a T.
    Some(unsafe { value(h, raw, "handle") })
}

/// For `Pool::check()`: true when `raw`, the pointer of the handle `h`, is tagged for the
/// pool holding `h` and names an allocated block of at least `size` bytes, reached for the
/// first time. Otherwise the damage is recorded in `v`.
pub(crate) fn visit_block<H: ?Sized>(h: &H, raw: u64, size: usize, v: &mut Visitor<'_>) -> bool {
    if raw == 0 {
        return false;
    }
    let Some(core) = core::core_of(h) else {
        return false;
    };
    if tag_of(raw) != core.tag {
        v.problem(format!("pointer {raw:#x} carries another pool's tag"));
        return false;
    }
    v.enter(off_of(raw), size)
}

/// The mutable counterpart of [`value`], after logging the value (rule 2).
///
/// # Safety
/// As for [`value`]; `h` is borrowed mutably, so no other reference to the value lives.
pub(crate) unsafe fn value_mut<'a, T: Persistent, H: ?Sized>(
    h: &'a mut H,
    raw: u64,
    what: &str,
) -> Result<&'a mut T> {
    let p = {
        let core = home(&*h, raw, what);
        let p = core
            .ptr_aligned(off_of(raw), size_of::<T>().max(1), align_of::<T>())
            .cast::<T>();
        core.tx().log_ptr(p.cast(), size_of::<T>())?;
        hand_out(core, off_of(raw), p, 1);
        p
    };
    // SAFETY: as for `value`; exclusivity follows from the `&mut` borrow of the handle.
    Ok(unsafe { &mut *p })
}

/// A prefetch hint for the first line of the block `raw` of the handle `h` (see
/// `Persistent::prefetch`): nothing for a null pointer or a pool that is not open.
#[inline]
pub(crate) fn prefetch_block<T: ?Sized>(h: &T, raw: u64) {
    if raw == 0 {
        return;
    }
    let base = match core::find(h as *const T as *const u8 as usize, raw, tag_of(raw)) {
        Found::Home(p) | Found::Scratch(p) | Found::Away(p) => {
            // SAFETY: registered pools are alive while registered (this call).
            unsafe { &*p }.base()
        }
        Found::Lost => return,
    };
    // (No bounds check: a prefetch of any address is harmless.)
    crate::collections::table::prefetch_line(base.wrapping_add(off_of(raw) as usize));
}

/// Moves `v` into fresh pool memory at `off` of `tx`'s pool.
pub(crate) fn write_fresh<T>(core: &PoolCore, off: u64, v: T) {
    let p = core.ptr(off, size_of::<T>().max(1)).cast::<T>();
    // SAFETY: `off` was just allocated by this transaction for a T (size and alignment), so
    // it is in bounds, aligned and referenced by nobody.
    unsafe { p.write(v) }
}

/// Moves the `T` at `off` out of pool memory (the caller then frees the block).
///
/// # Safety
/// `off` holds an initialised `T` that nothing will read or drop again.
pub(crate) unsafe fn read_out<T>(core: &PoolCore, off: u64) -> T {
    let p = core.ptr(off, size_of::<T>().max(1)).cast::<T>();
    // SAFETY: initialised, and ownership passes to the caller (see contract).
    unsafe { p.read() }
}

/// Drops the `T` at `off` in place (logging it first if dropping may write to it).
///
/// # Safety
/// `off` holds an initialised `T` that nothing will read or drop again.
pub(crate) unsafe fn drop_at<T>(core: &PoolCore, off: u64) -> Result<()> {
    if !std::mem::needs_drop::<T>() {
        return Ok(());
    }
    let p = core.ptr(off, size_of::<T>().max(1)).cast::<T>();
    core.tx().log_ptr(p.cast(), size_of::<T>())?;
    // SAFETY: initialised and never used again (contract); nested handles inside resolve
    // their own pool from their address.
    unsafe { std::ptr::drop_in_place(p) };
    Ok(())
}

/// Moves `v` into `core`'s pool before a container stores it there (see
/// [`Persistent::relocate`]): a value from the scratch pool or another pool is copied in, one
/// already in `core`'s pool stays as it is.
#[inline]
pub(crate) fn store<T: Persistent>(v: &mut T, core: &PoolCore) -> Result<()> {
    if !T::HANDLES {
        return Ok(());
    }
    v.relocate(&Relocator::new(core))
}

/// A value a container hands out (`remove`, `pop`, an old value): lent while its pool's
/// transaction is open (stored back into that pool in it, nothing is copied), then a copy in
/// the scratch pool, so it reads anywhere, for as long as it lives, whatever becomes of its
/// pool; its blocks in the pool are freed by the transaction (see `lent.rs`).
#[inline]
pub(crate) fn detach<T: Persistent>(mut v: T) -> T {
    if T::HANDLES {
        // The original drops as its blocks' owner (see `drop_owned`).
        let _owner = core::OwnerScope::new();
        // SAFETY: the scratch pool is never unmapped nor freed.
        let s = unsafe { &*core::scratch() };
        if let Err(e) = v.relocate(&Relocator::lending(s)) {
            panic!("pcoll: cannot copy a value out of the pool into process memory: {e}");
        }
    }
    v
}

/// A deep copy of `v` in the scratch pool (`Clone` of every container): reads `v` only.
pub(crate) fn clone_out<T: Persistent>(v: &T) -> T {
    // SAFETY: the scratch pool is never unmapped nor freed.
    let s = unsafe { &*core::scratch() };
    v.copy_to(&Relocator::new(s))
        .unwrap_or_else(|e| panic!("pcoll: cannot clone a value into process memory: {e}"))
}

/// Drops `v`, which a container's own code moved out of pool memory (`retain`'s removed
/// entries, a replaced value): it owns its blocks, so they are freed, whatever copies a
/// rolled-back transaction left of its handles (`core::OwnerScope`).
pub(crate) fn drop_owned<T: Persistent>(v: T) {
    let _owner = T::HANDLES.then(core::OwnerScope::new);
    drop(v);
}

/// Converts `v` for storing into `core`'s pool: the conversion builds straight in that pool
/// (a `&str` becomes a `PString` there, copied once).
pub(crate) fn convert_in<T: Persistent, I: IntoPersistent<T>>(v: I, core: &PoolCore) -> Result<T> {
    if !T::HANDLES {
        return v.into_persistent();
    }
    let to = Relocator::new(core);
    let mut t = v.into_persistent()?;
    t.relocate(&to)?;
    Ok(t)
}

/// The shared body of `relocate` for a handle type: nothing to do when its blocks are in
/// `to`'s pool already (or it has none), else a deep copy replaces it and the original drops.
pub(crate) fn relocate_handle<T: Persistent>(
    h: &mut T,
    raw: u64,
    to: &Relocator<'_>,
) -> Result<()> {
    if raw == 0 {
        return Ok(());
    }
    if lent::is_lent(raw) {
        // Back into the pool that lent it, or its copy from here on.
        lent::give_back(h, raw, to.core);
        return h.relocate(to);
    }
    if to.lends && lend(h, raw) {
        return Ok(());
    }
    if to.holds(tag_of(raw)) {
        if !to.core.is_stale_copy(raw) {
            return Ok(());
        }
        // In pool memory, a stale copy is told from the pool's own handle by its block being
        // freed in this transaction (it was assigned over its original).
        if to.core.in_memory(h as *const T as usize) && !to.core.frees(off_of(raw)) {
            return Ok(());
        }
        return own_copy(h, raw, to.core, to);
    }
    let copy = h.copy_to(to)?;
    drop(std::mem::replace(h, copy));
    Ok(())
}

/// For a value handed out: lends the handle `h` (pointer `raw`, outside pool memory) when
/// its pool's write transaction is open on this thread.
fn lend<T: Persistent>(h: &mut T, raw: u64) -> bool {
    let Found::Away(p) = core::find(h as *const T as usize, raw, tag_of(raw)) else {
        return false;
    };
    // SAFETY: a registered pool, alive while registered (this call).
    let core = unsafe { &*p };
    if !core.is_writer() {
        return false;
    }
    lent::lend(h, raw, core);
    true
}

/// Before a change through `h` (pointer `raw`): a lent handle becomes a value of its own
/// (`lent::own`). And when `h` is a copy, outside pool memory, of
/// a handle that a rolled-back transaction gave back to its pool (`disowned`), it first
/// becomes a value of its own, a deep copy in the scratch pool (as a value handed out by a
/// container), and the old handle is forgotten: the change must not reach (or free) the
/// blocks the pool's value owns. One relaxed load when no pool ever had such a copy.
#[inline]
pub(crate) fn own<T: Persistent>(h: &mut T, raw: u64) {
    if raw != 0 && (lent::is_lent(raw) || core::any_disowned()) {
        own_slow(h, raw);
    }
}

#[cold]
fn own_slow<T: Persistent>(h: &mut T, raw: u64) {
    if lent::is_lent(raw) {
        return lent::own(h, raw);
    }
    let Found::Away(p) = core::find(h as *const T as usize, raw, tag_of(raw)) else {
        return;
    };
    // SAFETY: a registered pool, alive while registered (this call).
    let core = unsafe { &*p };
    if core.is_stale_copy(raw) {
        // SAFETY: the scratch pool is never unmapped nor freed.
        let scratch = unsafe { &*core::scratch() };
        if let Err(e) = own_copy(h, raw, core, &Relocator::new(scratch)) {
            panic!("pcoll: cannot copy a value left over from a rolled-back transaction: {e}");
        }
    }
}

/// Replaces the stale copy `h` (pointer `raw` into `pool`, see [`own`]) with a deep copy in
/// `to`, and forgets it: its blocks are the pool's, its drop must free nothing.
fn own_copy<T: Persistent>(h: &mut T, raw: u64, pool: &PoolCore, to: &Relocator<'_>) -> Result<()> {
    let copy = h.copy_to(to)?;
    pool.disowns(raw);
    std::mem::forget(std::mem::replace(h, copy));
    Ok(())
}

/// Notes that `n` values of `T` at `p` (in the block at `block`) are handed to user code as
/// `&mut`: user code may store a value from another pool or from process memory there,
/// which the commit (or the container's next change) moves into the pool. See `Fixup`.
#[inline]
pub(crate) fn hand_out<T: Persistent>(core: &PoolCore, block: u64, p: *const T, n: usize) {
    if T::HANDLES && n > 0 && size_of::<T>() > 0 {
        core.hand_out(Fixup {
            block,
            at: p as usize,
            n,
            size: size_of::<T>(),
            align: align_of::<T>(),
            run: run_fixup::<T>,
            raws: raws_of::<T>,
            drop_foreign: drop_foreign::<T>,
        });
    }
}

/// Before a container moves or drops the values of its block at `block`: values that user
/// code stored there through `&mut` move into the pool first (see [`hand_out`]).
#[inline]
pub(crate) fn settle<T: Persistent>(core: &PoolCore, block: u64) {
    if T::HANDLES
        && core.has_fixups()
        && let Err(e) = core.settle(Some(block))
    {
        panic!("pcoll: cannot move a stored value into the pool: {e}");
    }
}

/// # Safety
/// `p` points to `n` initialised `T`s in `core`'s memory that nothing borrows.
unsafe fn run_fixup<T: Persistent>(p: *mut u8, n: usize, core: &PoolCore) -> Result<()> {
    let to = Relocator::new(core);
    for i in 0..n {
        // SAFETY: see the contract.
        unsafe { &mut *p.cast::<T>().add(i) }.relocate(&to)?;
    }
    Ok(())
}

/// # Safety
/// `p` points to `n` initialised `T`s that nothing borrows.
unsafe fn raws_of<T: Persistent>(p: *mut u8, n: usize, f: core::HandleVisit<'_>) {
    for i in 0..n {
        // SAFETY: see the contract.
        unsafe { &mut *p.cast::<T>().add(i) }.handles(f);
    }
}

/// # Safety
/// `p` points to `n` initialised `T`s that nothing else will drop or use.
unsafe fn drop_foreign<T: Persistent>(p: *mut u8, n: usize, foreign: core::ForeignFilter<'_>) {
    for i in 0..n {
        // SAFETY: see the contract.
        let x = unsafe { &mut *p.cast::<T>().add(i) };
        let mut any = false;
        x.handles(&mut |r| {
            if foreign(*r) {
                any = true;
            } else {
                *r = 0;
            }
        });
        if any {
            // SAFETY: see the contract; dropped once.
            unsafe { std::ptr::drop_in_place(x) };
        }
    }
}

/// `HANDLES`, `handles` and `relocate` of a container handle whose block pointer is the field
/// `$raw` (inside `unsafe impl Persistent`).
macro_rules! handle_moves {
    ($raw:ident) => {
        const HANDLES: bool = true;
        fn handles(&mut self, f: &mut dyn FnMut(&mut u64)) {
            if self.$raw != 0 {
                f(&mut self.$raw);
            }
        }
        fn relocate(&mut self, to: &crate::Relocator<'_>) -> crate::Result<()> {
            let raw = self.$raw;
            crate::collections::handle::relocate_handle(self, raw, to)
        }
        #[inline]
        fn prefetch(&self) {
            crate::collections::handle::prefetch_block(self, self.$raw);
        }
    };
}
pub(crate) use handle_moves;

/// `HANDLES`, `handles`, `relocate` and `copy_to` of a type that wraps one handle in the
/// field `$inner` (a string over its bytes, a set over its map).
macro_rules! wrapper_moves {
    ($ty:ident, $inner:ident) => {
        const HANDLES: bool = true;
        fn handles(&mut self, f: &mut dyn FnMut(&mut u64)) {
            self.$inner.handles(f);
        }
        fn relocate(&mut self, to: &crate::Relocator<'_>) -> crate::Result<()> {
            self.$inner.relocate(to)
        }
        fn copy_to(&self, to: &crate::Relocator<'_>) -> crate::Result<Self> {
            Ok($ty {
                $inner: self.$inner.copy_to(to)?,
            })
        }
        #[inline]
        fn prefetch(&self) {
            self.$inner.prefetch();
        }
    };
}
pub(crate) use wrapper_moves;
