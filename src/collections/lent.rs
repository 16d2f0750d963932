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
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::rc::Rc;

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

type Shared = Rc<RefCell<Entry>>;

std::thread_local! {
    static ENTRIES: RefCell<HashMap<u64, Shared>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(1) };
}

fn id_of(raw: u64) -> u64 {
    off_of(raw) & !LENT_BIT
}

/// The entry of the lent pointer `raw`, if it names one of this thread's for the same tag.
fn entry(raw: u64) -> Option<Shared> {
    let e = ENTRIES
        .try_with(|m| m.borrow().get(&id_of(raw)).cloned())
        .ok()??;
    let same = e.borrow().tag == tag_of(raw);
    same.then_some(e)
}

/// Takes the entry of `raw` out of the table (the handle is ending).
fn take_entry(raw: u64) -> Option<Entry> {
    let e = entry(raw)?;
    ENTRIES.with(|m| m.borrow_mut().remove(&id_of(raw)));
    Rc::try_unwrap(e).ok().map(RefCell::into_inner)
}

fn boxed(p: *mut dyn Held) -> Box<dyn Held> {
    // SAFETY: every `*mut dyn Held` here comes from `Box::into_raw` and is turned back into a
    // box once, when its entry gives it up.
    unsafe { Box::from_raw(p) }
}

/// Lends `h`, a handle with pointer `raw` of the pool `core`, whose write transaction is
/// open on this thread: `h` keeps its blocks, its pointer becomes a lent id.
pub(crate) fn lend<H: Persistent>(h: &mut H, raw: u64, core: &PoolCore) {
    let id = NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    });
    assert!(id < LENT_BIT, "pcoll: lent ids exhausted");
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
    ENTRIES.with(|m| m.borrow_mut().insert(id, Rc::new(RefCell::new(e))));
    core.note_lent(id, finish);
    let lent = pack(tag, LENT_BIT | id);
    h.handles(&mut |r| {
        if *r == raw {
            *r = lent;
        }
    });
}

/// Makes the entry's copy if it has none yet. Panics when the copy cannot be made (process
/// memory exhausted), as std does on allocation failure.
fn ensure_copy(e: &Shared) -> *mut dyn Held {
    if let Some(s) = e.borrow().s {
        return s;
    }
    let x = e.borrow().x.unwrap_or_else(|| {
        panic!("pcoll: a value handed out by a rolled-back transaction could not be copied")
    });
    // SAFETY: `x` is a live boxed handle of the entry (see `boxed`); the entry is not
    // borrowed while it is copied (the copy may look up other entries).
    let copy = unsafe { &*x }.copy_out();
    let copy = copy.unwrap_or_else(|err| {
        panic!("pcoll: cannot copy a value out of the pool into process memory: {err}")
    });
    let s = Box::into_raw(copy);
    e.borrow_mut().s = Some(s);
    s
}

/// The value that the lent handle `h` (pointer `raw`) reads: its copy in the scratch pool,
/// made now if no read made it before. Panics on a pointer from a damaged pool.
pub(crate) fn target<H: Persistent>(_h: &H, raw: u64) -> &H {
    let e = entry(raw).unwrap_or_else(|| damaged(raw));
    let s = ensure_copy(&e);
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

/// Drops the entry's original in its lending transaction, if it still holds it.
fn drop_original(e: &mut Entry) {
    if let Some(x) = e.x.take() {
        boxed(x).drop_value();
    }
}

/// The lent handle with pointer `raw` is dropped: its copy is freed, its original dropped
/// in the lending transaction. A pointer naming no entry (a damaged pool) frees nothing.
pub(crate) fn release(raw: u64) {
    let Some(mut e) = take_entry(raw) else { return };
    if let Some(s) = e.s.take() {
        boxed(s).drop_value();
    }
    drop_original(&mut e);
}

/// Before a change through the lent handle `h` (pointer `raw`): it becomes its copy, an
/// ordinary value of the scratch pool; the original is dropped in the lending transaction.
pub(crate) fn own<H: Persistent>(h: &mut H, raw: u64) {
    let e = entry(raw).unwrap_or_else(|| damaged(raw));
    ensure_copy(&e);
    drop(e);
    let Some(mut e) = take_entry(raw) else {
        damaged(raw)
    };
    let copy = unbox::<H>(e.s.take().expect("made above"), raw);
    // SAFETY: `h` holds a lent pointer, which owns nothing (its entry is gone): it is
    // overwritten without a drop.
    unsafe { std::ptr::write(h, copy) };
    drop_original(&mut e);
}

/// Before the lent handle `h` (pointer `raw`) is stored into `to`'s pool: when that pool lent
/// it and its transaction is still open, the original comes back (nothing is copied);
/// otherwise `h` becomes its copy, which the caller moves on.
pub(crate) fn give_back<H: Persistent>(h: &mut H, raw: u64, to: &PoolCore) {
    let back = entry(raw).is_some_and(|e| {
        let e = e.borrow();
        e.x.is_some() && std::ptr::eq(e.core, to)
    });
    if !back {
        return own(h, raw);
    }
    let Some(mut e) = take_entry(raw) else {
        damaged(raw)
    };
    let x = unbox::<H>(e.x.take().expect("checked above"), raw);
    // SAFETY: as in `own`.
    unsafe { std::ptr::write(h, x) };
    if let Some(s) = e.s.take() {
        boxed(s).drop_value();
    }
}

/// At the end of `core`'s write transaction, for the values it lent (`ids`): each one still
/// lent gets its copy; at a commit its original is then dropped in the transaction (before
/// the commit record), at a rollback the pool owns it again. A failed copy at a commit
/// returns the error with nothing dropped (the caller rolls back); at a rollback the value
/// is left without a copy (reading it panics, dropping it frees nothing).
pub(crate) fn finish(ids: &[u64], commit: bool) -> Result<()> {
    let live: Vec<Shared> = ids
        .iter()
        .filter_map(|id| ENTRIES.with(|m| m.borrow().get(id).cloned()))
        .filter(|e| e.borrow().x.is_some())
        .collect();
    for e in &live {
        if e.borrow().s.is_some() {
            continue;
        }
        let x = e.borrow().x.expect("filtered");
        // SAFETY: as in `ensure_copy`.
        match unsafe { &*x }.copy_out() {
            Ok(copy) => e.borrow_mut().s = Some(Box::into_raw(copy)),
            Err(err) if commit => return Err(err),
            Err(_) => {}
        }
    }
    for e in &live {
        let x = e.borrow_mut().x.take().expect("filtered");
        if commit {
            boxed(x).drop_value();
        } else {
            // The rollback gives the blocks back to the pool: only the box goes (a `Holder`
            // does not drop its handle).
            drop(boxed(x));
        }
    }
    Ok(())
}
