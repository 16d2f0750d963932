//! Values a container hands out (`remove`, `pop`, an old value) while its pool's write
//! transaction is open are *lent*, not copied: the value keeps its pool blocks, and its
//! handle's pointer becomes a lent id (`LENT_BIT` set in the offset) that names an entry here.
//!
//! An entry holds the original handle (`x`, its blocks in the lending pool) and, once made,
//! a deep copy in the scratch pool (`s`). What a lent handle does:
//! - **stored** in the same pool, in the same transaction: the original comes back, nothing is
//!   copied (`give_back`); stored elsewhere, its copy is stored (the caller relocates it);
//! - **read** (`target`): it reads its copy, made at the first read. A read hands out
//!   references that may outlive the transaction, so they must never point at blocks the
//!   commit frees: the copy lives in the scratch pool, never unmapped;
//! - **changed** (`own`): it becomes its copy, an ordinary scratch value;
//! - **dropped** (`release`): its copy is freed, and its original is dropped in the lending
//!   transaction, as any value the transaction removes;
//! - at the **end of the lending transaction** (`finish`): an original still lent is copied
//!   (if no read did so) and, at a commit, dropped in the transaction; at a rollback the pool
//!   owns it again. From then on the handle reads and drops its copy, after the pool closed
//!   too.
//!
//! pcoll handles are `!Send`, so a lent handle stays on the thread whose transaction lent it:
//! the entries are per thread, and that thread is the lending pool's writer while `x` is held.
//! A pointer with `LENT_BIT` that names no entry, or an entry of another type or pool, comes
//! from a damaged pool file: reads panic, a drop leaks.

#![allow(unsafe_code)]

use std::any::Any;
use std::cell::RefCell;
use std::mem::ManuallyDrop;

use super::handle::{off_of, pack, tag_of};
use crate::error::Result;
use crate::persistent::{Persistent, Relocator};
use crate::txn::core::{self, LENT_BIT, OwnerScope, PoolCore};

/// True when `raw` is a lent handle's pointer (see the module).
#[inline]
pub(crate) fn is_lent(raw: u64) -> bool {
    raw & LENT_BIT != 0
}

/// A handle of some container type, owned by an entry, type-erased.
trait Held {
    /// A deep copy in the scratch pool.
    fn copy_out(&self) -> Result<Box<dyn Held>>;
    /// Drops the handle: its blocks are freed (in its pool's open transaction, or the
    /// scratch pool).
    fn drop_value(self: Box<Self>);
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

struct Holder<H>(ManuallyDrop<H>);

impl<H: Persistent> Held for Holder<H> {
    fn copy_out(&self) -> Result<Box<dyn Held>> {
        // SAFETY: the scratch pool is never unmapped nor freed.
        let s = unsafe { &*core::scratch() };
        let copy = self.0.copy_to(&Relocator::new(s))?;
        Ok(Box::new(Holder(ManuallyDrop::new(copy))))
    }
    fn drop_value(self: Box<Self>) {
        // The container's own value: it owns its blocks, whatever a rolled-back
        // transaction left of its handles (see `OwnerScope`).
        let _owner = OwnerScope::new();
        drop(ManuallyDrop::into_inner(self.0));
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// One lent value (see the module).
#[derive(Clone, Copy)]
struct Entry {
    /// The lending pool's tag: a lent pointer carries it too.
    tag: u16,
    /// The lending pool, whose write transaction is open on this thread while `x` is held.
    core: *const PoolCore,
    /// The original handle, its blocks in the lending pool (until the transaction ends).
    x: Option<*mut dyn Held>,
    /// The copy in the scratch pool (from the first read, or the transaction's end).
    s: Option<*mut dyn Held>,
}

/// This thread's entries, by id (a slot index; freed slots are reused), and the ids whose
/// original is still held, to end with their transactions.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    held: Vec<usize>,
    /// The pools whose open transaction was told to end this thread's values (`note_lent`).
    noted: Vec<*const PoolCore>,
}

std::thread_local! {
    static SLAB: RefCell<Slab> = RefCell::new(Slab::default());
}

/// Runs `f` on this thread's entries; `None` during the thread's exit. The borrow is short:
/// `f` never copies, drops or lends a value (those may reach other entries).
fn with_slab<R>(f: impl FnOnce(&mut Slab) -> R) -> Option<R> {
    SLAB.try_with(|s| f(&mut s.borrow_mut())).ok()
}

fn id_of(raw: u64) -> usize {
    (off_of(raw) & !LENT_BIT) as usize
}

/// The entry of the lent pointer `raw`, if it names one of this thread's for the same tag.
fn entry(raw: u64) -> Option<Entry> {
    let e = with_slab(|s| s.slots.get(id_of(raw)).copied().flatten())??;
    (e.tag == tag_of(raw)).then_some(e)
}

/// Updates the entry of `raw` (still present: only its handle ends it).
fn set_entry(raw: u64, e: Entry) {
    with_slab(|s| s.slots[id_of(raw)] = Some(e));
}

/// Takes the entry of `raw` out (the handle is ending); its slot is free again.
fn take_entry(raw: u64) -> Option<Entry> {
    let e = entry(raw)?;
    with_slab(|s| {
        s.slots[id_of(raw)] = None;
        s.free.push(id_of(raw));
    });
    Some(e)
}

fn boxed(p: *mut dyn Held) -> Box<dyn Held> {
    // SAFETY: every `*mut dyn Held` here comes from `Box::into_raw` and is turned back into a
    // box once, when its entry gives it up.
    unsafe { Box::from_raw(p) }
}

/// Lends `h`, a handle with pointer `raw` of the pool `core`, whose write transaction is
/// open on this thread: `h` keeps its blocks, its pointer becomes a lent id.
pub(crate) fn lend<H: Persistent>(h: &mut H, raw: u64, core: &PoolCore) {
    // SAFETY: `h` is a valid H; the copy becomes the blocks' owner and `h` gets the lent
    // pointer below, so exactly one of the two owns them.
    let x = unsafe { std::ptr::read(h) };
    let x: Box<dyn Held> = Box::new(Holder(ManuallyDrop::new(x)));
    let tag = tag_of(raw);
    let e = Entry {
        tag,
        core,
        x: Some(Box::into_raw(x)),
        s: None,
    };
    let (id, first) = with_slab(|s| {
        let id = match s.free.pop() {
            Some(id) => {
                s.slots[id] = Some(e);
                id
            }
            None => {
                s.slots.push(Some(e));
                s.slots.len() - 1
            }
        };
        s.held.push(id);
        let first = !s.noted.contains(&(core as *const PoolCore));
        if first {
            s.noted.push(core);
        }
        (id, first)
    })
    .expect("pcoll: a value handed out during the thread's exit");
    assert!((id as u64) < LENT_BIT, "pcoll: lent ids exhausted");
    let lent = pack(tag, LENT_BIT | id as u64);
    h.handles(&mut |r| {
        if *r == raw {
            *r = lent;
        }
    });
    if first {
        core.note_lent(finish);
    }
}

/// Makes the copy of the entry of `raw` if it has none yet. Panics when the copy cannot be
/// made (process memory exhausted), as std does on allocation failure.
fn ensure_copy(raw: u64) -> *mut dyn Held {
    let e = entry(raw).unwrap_or_else(|| damaged(raw));
    if let Some(s) = e.s {
        return s;
    }
    let x = e.x.unwrap_or_else(|| {
        panic!("pcoll: a value handed out by a rolled-back transaction could not be copied")
    });
    // SAFETY: `x` is a live boxed handle of the entry (see `boxed`); no borrow of the slab is
    // held while it is copied.
    let copy = unsafe { &*x }.copy_out();
    let copy = copy.unwrap_or_else(|err| {
        panic!("pcoll: cannot copy a value out of the pool into process memory: {err}")
    });
    let s = Box::into_raw(copy);
    set_entry(raw, Entry { s: Some(s), ..e });
    s
}

/// The value that the lent handle `h` (pointer `raw`) reads: its copy in the scratch pool,
/// made now if no read made it before. Panics on a pointer from a damaged pool.
pub(crate) fn target<H: Persistent>(_h: &H, raw: u64) -> &H {
    let s = ensure_copy(raw);
    // SAFETY: a live boxed handle of the entry; it is freed only when the handle ends
    // (dropped, changed or stored, each through ownership of or `&mut` to it), so not
    // while `_h` is borrowed.
    let any = unsafe { &*s }.as_any();
    let held = any.downcast_ref::<Holder<H>>();
    &held.unwrap_or_else(|| damaged(raw)).0
}

#[cold]
fn damaged(raw: u64) -> ! {
    panic!("pcoll: pool damaged: pointer {raw:#x} names no value")
}

/// Moves the boxed `H` out of `p`.
fn unbox<H: Persistent>(p: *mut dyn Held, raw: u64) -> H {
    match boxed(p).into_any().downcast::<Holder<H>>() {
        Ok(h) => ManuallyDrop::into_inner(h.0),
        Err(_) => damaged(raw),
    }
}

/// Drops an original in its lending transaction, if the entry still held it.
fn drop_original(x: Option<*mut dyn Held>) {
    if let Some(x) = x {
        boxed(x).drop_value();
    }
}

/// The lent handle with pointer `raw` is dropped: its copy is freed, its original dropped
/// in the lending transaction. A pointer naming no entry (a damaged pool) frees nothing.
pub(crate) fn release(raw: u64) {
    let Some(e) = take_entry(raw) else { return };
    if let Some(s) = e.s {
        boxed(s).drop_value();
    }
    drop_original(e.x);
}

/// Before a change through the lent handle `h` (pointer `raw`): it becomes its copy, an
/// ordinary value of the scratch pool; the original is dropped in the lending transaction.
pub(crate) fn own<H: Persistent>(h: &mut H, raw: u64) {
    let s = ensure_copy(raw);
    let Some(e) = take_entry(raw) else {
        damaged(raw)
    };
    let copy = unbox::<H>(s, raw);
    // SAFETY: `h` holds a lent pointer, which owns nothing (its entry is gone): it is
    // overwritten without a drop.
    unsafe { std::ptr::write(h, copy) };
    drop_original(e.x);
}

/// Before the lent handle `h` (pointer `raw`) is stored into `to`'s pool: when that pool lent
/// it and its transaction is still open, the original comes back (nothing is copied);
/// otherwise `h` becomes its copy, which the caller moves on.
pub(crate) fn give_back<H: Persistent>(h: &mut H, raw: u64, to: &PoolCore) {
    let back = entry(raw).is_some_and(|e| e.x.is_some() && std::ptr::eq(e.core, to));
    if !back {
        return own(h, raw);
    }
    let Some(e) = take_entry(raw) else {
        damaged(raw)
    };
    let x = unbox::<H>(e.x.expect("checked above"), raw);
    // SAFETY: as in `own`.
    unsafe { std::ptr::write(h, x) };
    if let Some(s) = e.s {
        boxed(s).drop_value();
    }
}

/// At the end of `core`'s write transaction, for the values it lent that still hold their
/// original: each gets its copy; at a commit its original is then dropped in the
/// transaction (before the commit record), at a rollback the pool owns it again. A failed
/// copy at a commit returns the error with nothing dropped (the caller rolls back); at a
/// rollback the value is left without a copy (reading it panics, dropping it frees nothing).
pub(crate) fn finish(core: &PoolCore, commit: bool) -> Result<()> {
    let mine = |e: &Entry| e.x.is_some() && std::ptr::eq(e.core, core);
    // (`held` may name a slot twice: freed by a drop, then reused by another value.)
    let mut ids: Vec<usize> = with_slab(|s| {
        s.held
            .iter()
            .copied()
            .filter(|&id| s.slots.get(id).copied().flatten().is_some_and(|e| mine(&e)))
            .collect()
    })
    .unwrap_or_default();
    ids.sort_unstable();
    ids.dedup();
    let raw_of = |id: usize| pack(core.tag, LENT_BIT | id as u64);
    for &id in &ids {
        let raw = raw_of(id);
        let Some(e) = entry(raw).filter(|e| e.s.is_none()) else {
            continue;
        };
        let Some(x) = e.x else { continue };
        // SAFETY: as in `ensure_copy`.
        match unsafe { &*x }.copy_out() {
            Ok(copy) => set_entry(
                raw,
                Entry {
                    s: Some(Box::into_raw(copy)),
                    ..e
                },
            ),
            Err(err) if commit => return Err(err),
            Err(_) => {}
        }
    }
    for &id in &ids {
        let raw = raw_of(id);
        let Some((e, x)) = entry(raw).and_then(|e| Some((e, e.x?))) else {
            continue;
        };
        set_entry(raw, Entry { x: None, ..e });
        let x = boxed(x);
        if commit {
            x.drop_value();
        } else {
            // The rollback gives the blocks back to the pool: only the box goes (a `Holder`
            // does not drop its handle).
            drop(x);
        }
    }
    with_slab(|s| {
        let (slots, core) = (&s.slots, core as *const PoolCore);
        s.held.retain(|&id| {
            slots
                .get(id)
                .copied()
                .flatten()
                .is_some_and(|e| e.x.is_some())
        });
        s.noted.retain(|&c| c != core);
    });
    Ok(())
}
