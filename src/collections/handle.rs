//! What every container handle shares: its in-pool pointer (`raw` = pool tag << 48 | offset),
//! finding its pool, and turning offsets into references tied to the handle's borrow.
//!
//! A handle reads through the pool whose mapping contains the handle itself: a handle in
//! pool memory was reached through a guard, so its pool is alive while it is borrowed. A
//! handle outside pool memory (moved out with `mem::take`, or built but not yet stored) can
//! still be moved, stored and dropped inside its pool's write transaction, but not read:
//! nothing would keep its pool mapped while the reference lived.

#![allow(unsafe_code)]

use crate::error::Result;
use crate::heap::check::Visitor;
use crate::txn::core::{self, PoolCore};

const OFF_BITS: u32 = 48;
const OFF_MASK: u64 = (1 << OFF_BITS) - 1;

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

/// The pool holding `h` in its memory; panics with a clear message otherwise, or when the
/// handle's pointer belongs to another pool.
#[inline]
pub(crate) fn home<'a, T: ?Sized>(h: &'a T, raw: u64, what: &str) -> &'a PoolCore {
    let Some(core) = core::core_of(h) else {
        panic!(
            "pcoll: this {what} is not in pool memory (moved out with mem::take/replace?); \
             store it into the pool before reading it"
        )
    };
    let tag = tag_of(raw);
    assert!(
        raw == 0 || tag == core.tag,
        "pcoll: this {what} points into another pool (tag {tag:#x}, found in pool {:#x})",
        core.tag
    );
    core
}

/// Runs `f` with the pool `h` belongs to: the pool whose memory holds it, else this thread's
/// write transaction on the pool its pointer is tagged with (or the only one open, for a
/// handle without a pointer yet). `None` when there is no such pool.
pub(crate) fn with_core<T: ?Sized, R>(
    h: &T,
    raw: u64,
    f: impl FnOnce(&PoolCore) -> R,
) -> Option<R> {
    if let Some(core) = core::core_of(h) {
        return Some(f(core));
    }
    core::with_active(tag_of(raw), |c| c.map(f))
}

/// [`with_core`] by the handle's address, for a method holding `&mut self`: `f` may use the
/// handle mutably while it has the pool. Panics with a clear message when there is none.
#[inline]
pub(crate) fn with_writer_at<R>(
    addr: usize,
    raw: u64,
    what: &str,
    f: impl FnOnce(&PoolCore) -> R,
) -> R {
    let found = core::with_core_at(addr, |c| c.map(|c| c as *const PoolCore));
    let run = |core: &PoolCore| f(core);
    match found {
        // SAFETY: the handle at `addr` lies in this pool's memory and the caller holds a live
        // reference to it for the whole call, so the pool is alive while `run` executes.
        Some(p) => run(unsafe { &*p }),
        None => core::with_active(tag_of(raw), |c| match c {
            Some(core) => run(core),
            None => panic!(
                "pcoll: a {what} outside pool memory was changed with no write transaction on its \
                 pool open in this thread (or with several open)"
            ),
        }),
    }
}

/// [`with_writer_at`] for a method that hands out references into pool memory (`get_mut`,
/// `IndexMut`, `iter_mut`): the handle must lie in pool memory, whose pool then outlives the
/// `&mut` borrow those references follow. A handle outside pool memory could outlive its pool.
#[inline]
pub(crate) fn with_home_at<R>(
    addr: usize,
    raw: u64,
    what: &str,
    f: impl FnOnce(&PoolCore) -> R,
) -> R {
    core::with_core_at(addr, |c| {
        let Some(core) = c else {
            panic!(
                "pcoll: this {what} is not in pool memory (moved out with mem::take/replace?); \
                 store it into the pool before borrowing into it"
            )
        };
        let tag = tag_of(raw);
        assert!(
            raw == 0 || tag == core.tag,
            "pcoll: this {what} points into another pool (tag {tag:#x}, found in pool {:#x})",
            core.tag
        );
        f(core)
    })
}

/// [`with_core`] for changes: panics with a clear message when there is no pool to change.
pub(crate) fn with_writer<T: ?Sized, R>(
    h: &T,
    raw: u64,
    what: &str,
    f: impl FnOnce(&PoolCore) -> R,
) -> R {
    with_core(h, raw, f).unwrap_or_else(|| {
        panic!(
            "pcoll: a {what} outside pool memory was changed with no write transaction on its \
             pool open in this thread (or with several open)"
        )
    })
}

/// A shared reference to the `T` that handle `h` (pointer `raw`) owns, living as long as
/// the borrow of `h`.
///
/// # Safety
/// - `raw` is `h`'s pointer and its target holds an initialised `T` owned by `h` (the
///   container's invariants keep it so).
pub(crate) unsafe fn value<'a, T, H: ?Sized>(h: &'a H, raw: u64, what: &str) -> &'a T {
    let core = home(h, raw, what);
    let p = core.ptr(off_of(raw), size_of::<T>().max(1)).cast::<T>();
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
pub(crate) unsafe fn value_mut<'a, T, H: ?Sized>(
    h: &'a mut H,
    raw: u64,
    what: &str,
) -> Result<&'a mut T> {
    let p = {
        let core = home(&*h, raw, what);
        let p = core.ptr(off_of(raw), size_of::<T>().max(1)).cast::<T>();
        core.tx().log_ptr(p.cast(), size_of::<T>())?;
        p
    };
    // SAFETY: as for `value`; exclusivity follows from the `&mut` borrow of the handle.
    Ok(unsafe { &mut *p })
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
