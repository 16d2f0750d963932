//! `PoolCore`: one open pool without its root type — the heap, the transaction state, the
//! reader/writer lock. The process-wide registry that finds the pool a handle belongs to is
//! `txn/registry.rs`.
//!
//! Invariants this file relies on (and the rest of the crate keeps):
//! - `state` is touched only by the thread in `writer` (through [`PoolCore::tx`], which also
//!   refuses re-entry), or by open/close when no guard exists;
//! - every reference into pool memory is derived from a guard that borrows the `Pool`, which
//!   owns this core; so a reference found inside a registered reservation proves the core
//!   alive for as long as that reference;
//! - pcoll handles are `!Send`, so `&mut` into the pool stays on the writer's thread.

#![allow(unsafe_code)]

use std::cell::{Cell, UnsafeCell};
use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::Txn;
use super::registry;
pub(crate) use super::registry::{
    BuildIn, Found, OwnerScope, core_of, find, owner_drops, relocating, scratch, tag_in_use,
};
use crate::error::{Error, Result};
use crate::heap::Heap;
use crate::sync::{self, AtomicU64, AtomicUsize, Ordering, RwLock};

/// Per pointer, how many copies of a handle may be outside pool memory after rollbacks gave
/// its block back to the pool (see [`PoolCore::disowns`]).
pub(crate) type Disowned = HashMap<u64, u32>;

/// What only the writer touches (through `PoolCore::tx`): the heap, the transaction, and the
/// values' bookkeeping.
pub(crate) struct State {
    pub heap: Heap,
    pub txn: Txn,
    /// Blocks (as handle pointers) that a rolled-back transaction gave back to the pool while
    /// a copy of their handle was outside pool memory: dropping that copy must not free them.
    pub disowned: Disowned,
    /// `&mut` borrows of pool memory handed to user code in this transaction, in types that
    /// hold handles (see [`Fixup`]).
    pub fixups: Fixups,
    /// Noted regions already settled, or whose block was freed: a rollback still reads their
    /// handles (a value taken out of them must not own what the rollback gives back), but
    /// they hold nothing foreign to drop.
    pub settled: Vec<Fixup>,
    /// What ends the values this transaction lent (`collections/lent.rs`), if it lent any.
    pub lent_end: Option<LentEnd>,
}

/// Ends the values a transaction of the pool lent: at a commit (`true`) or a rollback.
pub(crate) type LentEnd = fn(&PoolCore, bool) -> Result<()>;

/// The noted regions of a transaction, by block: a container settles its own block in
/// constant time, however many regions other containers handed out.
#[derive(Default)]
pub(crate) struct Fixups {
    by_block:
        std::collections::HashMap<u64, Vec<Fixup>, std::hash::BuildHasherDefault<ahash::AHasher>>,
    count: usize,
}

impl Fixups {
    fn push(&mut self, f: Fixup) {
        let list = self.by_block.entry(f.block).or_default();
        if list.last().is_some_and(|l| l.at == f.at && l.n == f.n) {
            return;
        }
        list.push(f);
        self.count += 1;
    }

    /// The regions in `block` (all of them for `None`), removed.
    fn take(&mut self, block: Option<u64>) -> Vec<Fixup> {
        let out: Vec<Fixup> = match block {
            Some(b) => self.by_block.remove(&b).unwrap_or_default(),
            None => self.by_block.drain().flat_map(|(_, v)| v).collect(),
        };
        self.count -= out.len();
        out
    }

    fn put_back(&mut self, fs: Vec<Fixup>) {
        self.count += fs.len();
        for f in fs {
            self.by_block.entry(f.block).or_default().push(f);
        }
    }
}

/// Adds `f` to the settled regions, merged with the last one when it continues it (a loop
/// over a vector's elements keeps one entry, not one per element).
fn note_settled(settled: &mut Vec<Fixup>, f: Fixup) {
    if let Some(last) = settled.last_mut()
        && last.block == f.block
        && std::ptr::fn_addr_eq(last.raws, f.raws)
        && last.size == f.size
    {
        let (a, b) = (last.at, last.at + last.n * last.size);
        if f.at >= a && f.at + f.n * f.size <= b {
            return; // inside it
        }
        if f.at == b {
            last.n += f.n;
            return;
        }
    }
    settled.push(f);
}

/// A callback over the handle pointers of some values (see `Persistent::handles`).
pub(crate) type HandleVisit<'a> = &'a mut dyn FnMut(&mut u64);

/// Says whether a handle pointer names a block that is not the pool's own (to be dropped).
pub(crate) type ForeignFilter<'a> = &'a mut dyn FnMut(u64) -> bool;

/// A `&mut T` into pool memory that user code received, with `T`'s monomorphic helpers.
/// Through it user code may have stored a value whose blocks live elsewhere
/// (`w.b = Some(PBox::new(x))` builds the box in the scratch pool, std's `mem::swap` brings
/// another pool's handle): before the transaction commits, and before the container owning
/// the memory moves its elements, `run` moves such values into the pool. On rollback, `raws`
/// tells which handles left the region (see `PoolCore::finish`).
#[derive(Clone, Copy)]
pub(crate) struct Fixup {
    /// The block holding the region (its registrations die with it).
    pub block: u64,
    /// Address and size of the region: `n` values of `size` bytes.
    pub at: usize,
    pub n: usize,
    pub size: usize,
    pub align: usize,
    /// Relocates each value of the region into the pool.
    pub run: unsafe fn(*mut u8, usize, &PoolCore) -> Result<()>,
    /// Hands `f` the pointer of every handle directly in each value of the region.
    pub raws: unsafe fn(*mut u8, usize, HandleVisit<'_>),
    /// On a copy of the region (see `PoolCore::rollback`): clears each handle pointer for
    /// which the callback says false, and drops each value that kept one.
    pub drop_foreign: unsafe fn(*mut u8, usize, ForeignFilter<'_>),
}

pub(crate) struct PoolCore {
    /// Unique for the life of the process (never reused, unlike an address).
    id: u64,
    base: usize,
    reserved: usize,
    pub(crate) tag: u16,
    pub(crate) read_only: bool,
    /// Set by a read through a handle outside pool memory (see [`PoolCore::escaped`]).
    escaped: AtomicUsize,
    /// Found by its tag (its registry entry's `by_tag`): its `disowned` set is carried to
    /// the next open of the same file when it closes.
    by_tag: std::sync::atomic::AtomicBool,
    /// `state.fixups.len()`, readable without taking the state (a check on hot paths).
    fixups: AtomicUsize,
    /// Blocks [`Self::expect_block`] looked up in this transaction, and their sizes.
    checked: [(AtomicU64, AtomicU64); CHECKED],
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
        /// This thread's identity for `PoolCore::writer` (see `token`).
        pub(super) static TOKEN: Cell<usize> = const { Cell::new(0) };
        /// True while this thread holds the scratch pool's lock (see `scratch_tx`).
        pub(super) static IN_SCRATCH: Cell<bool> = const { Cell::new(false) };
        /// The reader lock this thread holds, by pool (`PoolCore::id`): its shared guard.
        pub(super) static READS: std::cell::RefCell<Vec<(u64, *const ())>> = const { std::cell::RefCell::new(Vec::new()) };
    }
}

#[cfg(loom)]
#[allow(clippy::missing_const_for_thread_local)]
mod tls {
    use super::*;
    loom::thread_local! {
        pub(super) static TOKEN: Cell<usize> = Cell::new(0);
        pub(super) static IN_SCRATCH: Cell<bool> = Cell::new(false);
        pub(super) static READS: std::cell::RefCell<Vec<(u64, *const ())>> = std::cell::RefCell::new(Vec::new());
    }
}
use tls::{IN_SCRATCH, READS, TOKEN};

/// This thread's identity: a number no other thread ever gets. (It was the address of a
/// thread-local; a new thread can get the address of one that exited, and a stale read of
/// `writer`, which other threads store to, could then name it: loom found the false "nested
/// write()" that follows.)
fn token() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    TOKEN.with(|t| match t.get() {
        0 => {
            let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            t.set(id);
            id
        }
        id => id,
    })
}

/// The shared reader lock this thread holds on the pool `id`, if any.
fn held_read(id: u64) -> Option<*const ()> {
    READS.with(|r| r.borrow().iter().find(|e| e.0 == id).map(|e| e.1))
}

/// Entries of `PoolCore::checked`: enough that a B-tree's upper nodes, which every edit of a
/// transaction writes (their edges' counts), stay known between the edits (4 KiB).
const CHECKED: usize = 256;

/// The `PoolCore::checked` entry of the block at `off`.
#[inline]
fn checked_slot(off: u64) -> usize {
    (off.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % CHECKED
}

#[cold]
#[inline(never)]
fn bad_pointer(off: u64, len: usize, align: usize) -> ! {
    if off != 0 && off & (align as u64 - 1) != 0 {
        panic!("pcoll: handle points at offset {off}, not aligned to {align}: the pool is damaged")
    }
    panic!("pcoll: handle points outside its pool (offset {off}, {len} bytes): the pool is damaged")
}

/// How long a writer waits for the lock.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    Forever,
    /// Until the instant, or (`None`) not at all.
    Until(Option<std::time::Instant>),
}

/// A reader's hold on a pool. All the read guards one thread holds on one pool share one
/// lock guard (reference counted, found through the thread's `READS` entry): the lock is
/// released when the last of them drops, in whatever order they drop. Keyed by the pool's
/// unique `id`, not its address, so a guard leaked with `mem::forget` (the lock then stays
/// held, as std's would) never lends its lock to a later pool at the same address.
pub(crate) struct ReadLock<'a> {
    id: u64,
    guard: std::rc::Rc<sync::RwLockReadGuard<'a, ()>>,
}

impl Drop for ReadLock<'_> {
    fn drop(&mut self) {
        if std::rc::Rc::strong_count(&self.guard) == 1 {
            READS.with(|r| r.borrow_mut().retain(|e| e.0 != self.id));
        }
    }
}

impl PoolCore {
    /// Wraps an opened heap and registers it (at a stable address, see [`CoreBox`]).
    /// Registers the pool; fails when an open pool has its tag (handles outside pool memory
    /// name their pool by tag). An `image` (a crash-test copy of a pool, opened beside it)
    /// instead stays out of tag lookups when its tag is taken: it hands no values out.
    pub(crate) fn open(heap: Heap, txn: Txn, read_only: bool, image: bool) -> Result<CoreBox> {
        let heap_tag = heap.hdr.tag();
        Self::with_tag(heap, txn, read_only, heap_tag, image)
    }

    fn with_tag(heap: Heap, txn: Txn, read_only: bool, tag: u16, image: bool) -> Result<CoreBox> {
        let base = heap.io.map.base() as usize;
        let reserved = heap.io.map.reserved();
        let uuid = heap.hdr.uuid;
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let core = CoreBox::new(PoolCore {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            base,
            reserved,
            tag,
            escaped: AtomicUsize::new(0),
            by_tag: std::sync::atomic::AtomicBool::new(false),
            fixups: AtomicUsize::new(0),
            checked: std::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0))),
            read_only,
            len: AtomicU64::new(heap.io.map.len() as u64),
            lock: RwLock::new(()),
            writer: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            state: UnsafeCell::new(State {
                heap,
                txn,
                disowned: Default::default(),
                fixups: Fixups::default(),
                settled: Vec::new(),
                lent_end: None,
            }),
        });
        let (start, end) = (core.base, core.base + core.reserved);
        let Some(by_tag) = registry::register(
            (start, end),
            core.0.as_ptr() as usize,
            tag,
            read_only,
            image,
        ) else {
            return Err(Error::AmbiguousPool {
                path: core.path().to_owned(),
                tag,
            });
        };
        let mut core = core;
        core.by_tag.store(by_tag, Ordering::Relaxed);
        if by_tag && let Some(disowned) = registry::take_carried(tag, uuid) {
            core.state_mut().disowned = disowned;
            ANY_DISOWNED.store(true, Ordering::Relaxed);
        }
        Ok(core)
    }

    /// The scratch pool: process memory under the pool engines, for values outside any pool
    /// (built before being stored, or handed out by a container). Tag 0; one endless
    /// volatile transaction, shared by every thread under a lock (`scratch_tx`).
    pub(super) fn scratch() -> Result<CoreBox> {
        let mut heap = Heap::scratch()?;
        Txn::format(&mut heap)?;
        let mut txn = Txn::open(&mut heap)?;
        txn.make_volatile();
        Self::with_tag(heap, txn, false, 0, true)
    }

    /// True for the scratch pool.
    #[inline]
    pub(crate) fn is_scratch(&self) -> bool {
        self.tag == 0
    }

    /// Removes the core from the registry; called by `Pool::drop` before the core drops.
    pub(crate) fn unregister(&self) {
        registry::unregister(self.base);
    }

    /// True when a value of this pool was read from outside pool memory (a handle moved out
    /// with `mem::take` or held by `sort`): a reference from such a read is not tied to the
    /// pool's guards, so the pool's memory must stay mapped after the pool closes.
    pub(crate) fn escaped(&self) -> bool {
        self.escaped.load(Ordering::Relaxed) != 0
    }

    pub(crate) fn mark_escaped(&self) {
        if !self.is_scratch() {
            self.escaped.store(1, Ordering::Relaxed);
        }
    }

    // ---- values stored through `&mut` (see `Fixup`) ----

    /// Notes a region handed to user code as `&mut` (scratch memory needs no note: it never
    /// commits).
    pub(crate) fn hand_out(&self, f: Fixup) {
        if self.is_scratch() {
            return;
        }
        let tx = self.tx();
        tx.st.fixups.push(f);
        self.fixups.store(tx.st.fixups.count, Ordering::Relaxed);
    }

    /// Notes that this transaction lent values (`collections/lent.rs`): `end` ends them with
    /// the transaction.
    pub(crate) fn note_lent(&self, end: LentEnd) {
        self.tx().st.lent_end = Some(end);
    }

    /// Ends the values this transaction lent (before the commit record, or before the
    /// rollback restores anything): see `lent::finish`. Noted until that succeeds, so a
    /// failed commit's rollback still ends them.
    fn end_lent(&self, commit: bool) -> Result<()> {
        let end = self.tx().st.lent_end;
        if let Some(end) = end {
            end(self, commit)?;
            self.tx().st.lent_end = None;
        }
        Ok(())
    }

    /// True when regions handed out in this transaction wait for [`PoolCore::settle`].
    #[inline]
    pub(crate) fn has_fixups(&self) -> bool {
        self.fixups.load(Ordering::Relaxed) != 0
    }

    /// Runs the fixups of the regions in `block` (all of them for `None`), and forgets them.
    /// Called by a container before it moves the elements of its block (no borrow handed out
    /// of it can be alive then: the container is borrowed mutably), and by commit. On error
    /// the fixups not yet run are kept.
    pub(crate) fn settle(&self, block: Option<u64>) -> Result<()> {
        if !self.has_fixups() {
            return Ok(());
        }
        let mut due = {
            let tx = self.tx();
            let due = tx.st.fixups.take(block);
            self.fixups.store(tx.st.fixups.count, Ordering::Relaxed);
            due
        };
        // In order, by index: removing each from the front made a commit after n `get_mut`s
        // on one map O(n^2) (7.7 s for 80,000).
        for i in 0..due.len() {
            let f = due[i];
            // SAFETY: the region was handed out as `&mut [T; n]` of this pool in this
            // transaction and its block is still allocated (a free forgets its fixups); no
            // borrow of it is alive (see above).
            if let Err(e) = unsafe { (f.run)(f.at as *mut u8, f.n, self) } {
                let tx = self.tx();
                tx.st.fixups.put_back(due.split_off(i));
                self.fixups.store(tx.st.fixups.count, Ordering::Relaxed);
                return Err(e);
            }
            note_settled(&mut self.tx().st.settled, f);
        }
        Ok(())
    }

    /// Ends the write transaction: commit (fixups first) or rollback. See [`Self::rollback`].
    /// A failed commit is rolled back like an abort. Blocks the transaction freed or
    /// allocated leave the [`Self::expect_block`] cache, which otherwise lasts across
    /// transactions (a block keeps its size until it is freed).
    pub(crate) fn finish(&self, commit: bool) -> Result<()> {
        let res = self.finish_txn(commit);
        self.forget_checked();
        res
    }

    /// Drops the `expect_block` entries of the blocks this transaction freed or allocated
    /// (both: a commit frees the first, a rollback the second).
    fn forget_checked(&self) {
        let gone = self.tx().st.txn.take_ended_blocks();
        for off in gone {
            let (last, _) = &self.checked[checked_slot(off)];
            if last.load(Ordering::Relaxed) == off {
                last.store(0, Ordering::Relaxed);
            }
        }
    }

    fn finish_txn(&self, commit: bool) -> Result<()> {
        let settled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if commit {
                self.settle(None)?;
                self.end_lent(true)
            } else {
                Ok(())
            }
        }));
        let res = match settled {
            Ok(res) => res,
            Err(panic) => {
                // A value could not be moved in (its pool is closed, a `Drop` panicked): roll
                // back, then let the panic go on.
                let _ = self.rollback();
                std::panic::resume_unwind(panic);
            }
        };
        if commit && res.is_ok() {
            let tx = self.tx();
            let st = &mut *tx.st;
            match st.txn.try_commit(&mut st.heap) {
                Ok(()) => {
                    st.settled.clear();
                    return Ok(());
                }
                Err(e) => {
                    drop(tx);
                    // The first error says what failed; a failed undo poisons the pool.
                    let _ = self.rollback();
                    return Err(e);
                }
            }
        }
        res.and(self.rollback())
    }

    /// Rolls back, and settles what user code moved through handed-out regions with std's
    /// `mem::take`/`swap`/assignment:
    /// - a handle the rollback brings back into a region, whose copy went out of pool memory,
    ///   and a handle to a block the transaction allocated (freed now), are noted in
    ///   `disowned`, one count per rollback: dropping such a copy must free nothing, even
    ///   after the pool freed or reused the block (the drop takes one count off). The counts
    ///   are an upper bound: pointers that changed for other reasons (stale bytes past a
    ///   node's end) are noted too, but not a tree's old root that its split kept under the
    ///   new one (`Txn::keep`). Only handles outside pool memory
    ///   consult it, and a container's own hand-out or drop of a value is its owner's
    ///   (`OwnerScope`): a stray count can only make a later `mem::take` copy leak (or be
    ///   copied when changed or stored), never free a block in use;
    /// - a value from elsewhere (process memory, another pool) that the rollback overwrites
    ///   is dropped, as std drops a value it overwrites.
    fn rollback(&self) -> Result<()> {
        // Lent values get their copies while their blocks still hold what they lent.
        let _ = self.end_lent(false);
        let tx = self.tx();
        self.fixups.store(0, Ordering::Relaxed);
        let st = &mut *tx.st;
        let live = st.fixups.take(None);
        let settled = std::mem::take(&mut st.settled);
        // Blocks still owned where they are: freed ones, and old roots kept under new ones.
        let freed: HashSet<u64> = st
            .txn
            .frees()
            .iter()
            .chain(st.txn.kept())
            .copied()
            .collect();
        let old_kind = |f: &&Fixup| !st.txn.is_fresh(f.block);
        let lasting: Vec<Fixup> = live
            .iter()
            .chain(&settled)
            .filter(old_kind)
            .copied()
            .collect();
        let mut copies: Vec<(Fixup, Vec<u128>)> = Vec::new();
        for f in live.iter().filter(|f| f.align <= 16) {
            let bytes = f.n * f.size;
            let mut buf = vec![0u128; bytes.div_ceil(16)];
            // SAFETY: the region is `bytes` bytes of pool memory that nothing borrows (the
            // transaction is ending); `buf` is at least that long and 16-aligned.
            unsafe {
                std::ptr::copy_nonoverlapping(f.at as *const u8, buf.as_mut_ptr().cast(), bytes)
            };
            copies.push((*f, buf));
        }
        let now = raws_in(&lasting);
        // A copy of a handle to a block this transaction allocated dangles once the rollback
        // frees the block: whatever copy went out, its drop must free nothing. Except a
        // handle that a field of the root holds now: a handle is never in two places (only
        // a rollback makes duplicates, of older blocks), so none of it went out. Only the
        // root's fields can be trusted so: a container's slots are shifted, which leaves
        // stale bits of a handle past its end (`a_fresh_handle_taken_out_after_a_shift_owns_
        // nothing`). Counting the root's too made the values a retried transaction stored
        // in the root "stale copies" once taken out and changed later: copied, and leaked.
        let root = st.heap.hdr.root_off;
        let root_regions: Vec<Fixup> = lasting
            .iter()
            .filter(|f| f.block == root)
            .copied()
            .collect();
        let in_root = raws_in(&root_regions);
        let tag = u64::from(self.tag) << OFF_BITS;
        let fresh: Vec<u64> = st
            .txn
            .fresh_blocks()
            .map(|off| tag | off)
            .filter(|raw| !in_root.contains(raw))
            .collect();
        let undone = st.txn.abort(&mut st.heap);
        let old = raws_in(&lasting);
        // Counted: each rollback can leave one more copy of the same handle outside (two
        // rolled-back `mem::take`s of one field), and each copy's drop must free nothing.
        let gone = old
            .difference(&now)
            .filter(|r| !freed.contains(&(**r & OFF_MASK)));
        for &raw in gone.chain(&fresh) {
            *st.disowned.entry(raw).or_default() += 1;
        }
        if !st.disowned.is_empty() {
            ANY_DISOWNED.store(true, Ordering::Relaxed);
        }
        drop(tx);
        // The copies hold the regions as user code left them: what is neither this pool's
        // (restored, or freed with its fresh block) nor dropped already is dropped now.
        let mut dropped = HashSet::new();
        for (f, mut buf) in copies {
            let p = buf.as_mut_ptr().cast::<u8>();
            // SAFETY: `buf` holds `n` bitwise copies of the region's values; handles that
            // must not drop are cleared first, so each remaining block drops once, and a value
            // with none left is not dropped at all.
            unsafe {
                (f.drop_foreign)(p, f.n, &mut |r| {
                    // (A lent pointer carries the pool's tag but is a value of its own.)
                    let own = (r >> OFF_BITS) as u16 == self.tag && r & LENT_BIT == 0;
                    !own && !old.contains(&r) && dropped.insert(r)
                })
            };
        }
        undone
    }

    /// True when the open transaction frees the block at `off` (at its commit).
    pub(crate) fn frees(&self, off: u64) -> bool {
        self.tx().st.txn.frees().contains(&off)
    }

    /// True when `addr` lies in this pool's reserved memory.
    #[inline]
    pub(crate) fn in_memory(&self, addr: usize) -> bool {
        (self.base..self.base + self.reserved).contains(&addr)
    }

    /// True when a handle with pointer `raw` outside pool memory is a copy left over from a
    /// rolled-back transaction (see [`Self::disowns`]), judged without forgetting it: `raw`
    /// is in `disowned`, and its block was not allocated by the open transaction (such a
    /// block belongs to the value that allocated it: a stale copy of an older handle to the
    /// same offset cannot be told from it, see ARCHITECTURE.md). False off the writer
    /// thread (only this pool's transaction touches the set).
    pub(crate) fn is_stale_copy(&self, raw: u64) -> bool {
        if !ANY_DISOWNED.load(Ordering::Relaxed) || !self.is_writer() {
            return false;
        }
        let tx = self.tx();
        !tx.st.disowned.is_empty()
            && tx.st.disowned.contains_key(&raw)
            && !tx.st.txn.is_fresh(raw & OFF_MASK)
    }

    /// True when `raw` names a block that a rolled-back transaction gave back to the pool
    /// while a copy of the handle was outside: that copy's drop must free nothing. Counts the
    /// copy off (`disowned` holds one count per copy that may be outside).
    pub(crate) fn disowns(&self, raw: u64) -> bool {
        let mut tx = self.tx();
        let tx = &mut tx;
        if tx.st.disowned.is_empty() {
            return false;
        }
        match tx.st.disowned.get_mut(&raw) {
            Some(1) => {
                tx.st.disowned.remove(&raw);
                true
            }
            Some(n) => {
                *n -= 1;
                true
            }
            None => false,
        }
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
        self.ptr_aligned(off, len, 1)
    }

    /// [`Self::ptr`] for a typed value that needs `align` (a power of two): a damaged
    /// pointer that is not aligned panics clearly instead of making a misaligned reference.
    /// (The mapping's base is page aligned, so an aligned offset is an aligned address.)
    #[inline]
    pub(crate) fn ptr_aligned(&self, off: u64, len: usize, align: usize) -> *mut u8 {
        let end = off.wrapping_add(len as u64);
        let bad = off == 0
            || off & (align as u64 - 1) != 0
            || end < off
            || end > self.len.load(Ordering::Relaxed);
        if bad {
            bad_pointer(off, len, align);
        }
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

    pub(crate) fn read_lock(&self) -> ReadLock<'_> {
        self.try_read_lock(true)
            .expect("a blocking read lock is always taken")
    }

    /// The reader lock for a `ReadGuard`. Re-entrant: a thread that holds a read guard of
    /// this pool gets another without locking again (its first one already excludes
    /// writers), so a second `read()` never queues behind a waiting writer. `None` when
    /// `wait` is false and a writer holds the lock.
    pub(crate) fn try_read_lock(&self, wait: bool) -> Option<ReadLock<'_>> {
        assert!(
            self.writer.load(Ordering::Relaxed) != token(),
            "pcoll: read() while this thread holds write() on the same pool would deadlock; \
             read through the write guard"
        );
        if let Some(p) = held_read(self.id) {
            let p = p.cast::<sync::RwLockReadGuard<'_, ()>>();
            // SAFETY: `p` came from `Rc::into_raw`-style `Rc::as_ptr` of this pool's shared
            // guard, which is alive (the entry leaves `READS` before its last Rc drops); the
            // guard borrows this same core, which outlives the new `ReadLock`.
            let guard = unsafe {
                std::rc::Rc::increment_strong_count(p);
                std::rc::Rc::from_raw(p)
            };
            return Some(ReadLock { id: self.id, guard });
        }
        let lock = if wait {
            sync::read(&self.lock)
        } else {
            match self.lock.try_read() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            }
        };
        let guard = std::rc::Rc::new(lock);
        let p = std::rc::Rc::as_ptr(&guard).cast::<()>();
        READS.with(|r| r.borrow_mut().push((self.id, p)));
        Some(ReadLock { id: self.id, guard })
    }

    /// True when the calling thread holds a read guard of this pool.
    fn holds_read(&self) -> bool {
        held_read(self.id).is_some()
    }

    /// Takes the writer lock and opens a transaction.
    pub(crate) fn write_lock(&self) -> Result<sync::RwLockWriteGuard<'_, ()>> {
        self.try_write_lock(Wait::Forever)
    }

    /// [`Self::write_lock`], waiting as `wait` says: `Err(WouldBlock)` when the lock is not
    /// free in time.
    pub(crate) fn try_write_lock(&self, wait: Wait) -> Result<sync::RwLockWriteGuard<'_, ()>> {
        if self.read_only {
            return Err(Error::ReadOnly {
                path: self.path().to_owned(),
            });
        }
        self.lock_for_writing(wait)
    }

    /// The writer lock and an open transaction, on read-only pools too: for `Pool::check`,
    /// whose transaction changes only the allocator's own bookkeeping (on a read-only pool,
    /// in its private mapping: nothing reaches the file).
    pub(crate) fn check_lock(&self) -> Result<sync::RwLockWriteGuard<'_, ()>> {
        self.lock_for_writing(Wait::Forever)
    }

    fn lock_for_writing(&self, wait: Wait) -> Result<sync::RwLockWriteGuard<'_, ()>> {
        assert!(
            !self.holds_read(),
            "pcoll: write() while this thread holds read() on the same pool would deadlock; \
             drop the read guard first"
        );
        assert!(
            self.writer.load(Ordering::Relaxed) != token(),
            "pcoll: nested write() on the same pool in one thread; use the outer guard \
             (its transaction already covers the inner work)"
        );
        let g = match wait {
            Wait::Forever => sync::write(&self.lock),
            Wait::Until(deadline) => self.write_until(deadline)?,
        };
        self.writer.store(token(), Ordering::Relaxed);
        let tx = self.tx();
        if tx.st.txn.poisoned {
            drop(tx);
            self.write_unlock();
            return Err(Error::Poisoned {
                path: self.path().to_owned(),
            });
        }
        tx.st.txn.begin();
        Ok(g)
    }

    /// Takes the writer lock (waiting for a writer of another thread), then runs
    /// [`Txn::checkpoint_all`](crate::txn::Txn::checkpoint_all) outside any transaction.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let lock = self.try_write_lock(Wait::Forever)?;
        let role = self.writer_role();
        // The lock opened a transaction: end it, empty (no barrier, no record).
        let res = self.finish(true).and_then(|()| {
            let tx = self.tx();
            let st = &mut *tx.st;
            st.txn.checkpoint_all(&mut st.heap)
        });
        drop(role);
        drop(lock);
        res
    }

    /// Tries the writer lock until `deadline` (`None`: once), sleeping between tries: std's
    /// lock has no timed form.
    fn write_until(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<sync::RwLockWriteGuard<'_, ()>> {
        let mut pause = std::time::Duration::from_micros(20);
        loop {
            match self.lock.try_write() {
                Ok(g) => return Ok(g),
                Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            match deadline {
                Some(d) if std::time::Instant::now() < d => {
                    std::thread::sleep(pause.min(d - std::time::Instant::now()));
                    pause = (pause * 2).min(std::time::Duration::from_millis(2));
                }
                _ => {
                    return Err(Error::WouldBlock {
                        path: self.path().to_owned(),
                    });
                }
            }
        }
    }

    /// Ends the writer role (after commit or abort); the caller then drops the lock guard.
    pub(crate) fn write_unlock(&self) {
        self.writer.store(0, Ordering::Relaxed);
    }

    /// The writer role as a guard: it ends when the guard drops, also when the code it covers
    /// panics. Take it right after the lock and drop it before the lock.
    pub(crate) fn writer_role(&self) -> WriterRole<'_> {
        WriterRole(self)
    }

    /// Exclusive access to the heap and transaction. Panics unless this thread is the writer,
    /// or if another `Tx` of this pool is alive (re-entry).
    #[inline]
    pub(crate) fn tx(&self) -> Tx<'_> {
        if self.is_scratch() {
            return self.scratch_tx();
        }
        assert!(
            self.is_writer(),
            "pcoll: pool memory can change only inside a write transaction on this thread \
             (a value moved out of its pool with mem::take/swap can change only while that \
             pool's write guard is open)"
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

    /// The scratch pool is shared by every thread: its `busy` flag is a lock, held for one
    /// allocator call at a time (values' blocks are disjoint, and reading them takes no
    /// lock). Re-entry on one thread panics instead of spinning forever.
    #[cold]
    fn scratch_tx(&self) -> Tx<'_> {
        assert!(
            !IN_SCRATCH.with(Cell::get),
            "pcoll: re-entrant scratch pool access"
        );
        while self
            .busy
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            sync::yield_now();
        }
        IN_SCRATCH.with(|c| c.set(true));
        // SAFETY: the busy flag is held (above) until this Tx drops: no other reference to
        // `state` exists.
        let st = unsafe { &mut *self.state.get() };
        Tx { core: self, st }
    }

    /// True when this thread holds the pool's write transaction (always, for the scratch
    /// pool, whose transaction never ends and whose access is locked per call).
    #[inline]
    /// Before a change through a handle whose header (read from the pool) says its block
    /// holds `size` bytes at `off`: panics clearly unless an allocated block that large starts
    /// there, so a damaged header never turns a write into one past its block. One allocator
    /// lookup; the scratch pool (written only by this process) and readers skip it.
    pub(crate) fn expect_block(&self, off: u64, size: usize, what: &str) {
        if self.knows_block(off, size) || self.is_scratch() || !self.is_writer() {
            return;
        }
        self.look_up_block(&mut self.tx(), off, size, what);
    }

    /// [`Self::expect_block`] for a caller that holds the transaction already.
    pub(crate) fn expect_block_in(&self, tx: &mut Tx<'_>, off: u64, size: usize, what: &str) {
        if !self.knows_block(off, size) && !self.is_scratch() {
            self.look_up_block(tx, off, size, what);
        }
    }

    /// True when the cache knows a block of at least `size` bytes at `off`. A block keeps
    /// its size until it is freed (frees wait for commit), and the blocks a transaction
    /// freed or allocated leave the cache when it ends (`finish`): a loop over a few
    /// containers pays two loads and a compare per change. Only the writer sets it.
    #[inline]
    fn knows_block(&self, off: u64, size: usize) -> bool {
        let (last, room) = &self.checked[checked_slot(off)];
        last.load(Ordering::Relaxed) == off && size as u64 <= room.load(Ordering::Relaxed)
    }

    #[cold]
    fn look_up_block(&self, tx: &mut Tx<'_>, off: u64, size: usize, what: &str) {
        let block = tx.st.heap.block_at(off).map(|b| b.size());
        let fits = block.as_ref().is_ok_and(|&b| b >= size);
        if let Ok(b) = block {
            let (last, room) = &self.checked[checked_slot(off)];
            last.store(off, Ordering::Relaxed);
            room.store(b as u64, Ordering::Relaxed);
        }
        assert!(
            fits,
            "pcoll: this {what} says it has {size} bytes at offset {off}, more than the block \
             there holds: the pool is damaged"
        );
    }

    /// Bytes of pool memory mapped: no count read from the pool can exceed it.
    pub(crate) fn mapped_len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    pub(crate) fn is_writer(&self) -> bool {
        self.is_scratch() || self.writer.load(Ordering::Relaxed) == token()
    }

    /// Shared access to the state while a reader lock is held (no writer can be active).
    pub(crate) fn with_state<T>(&self, _read: &ReadLock<'_>, f: impl FnOnce(&State) -> T) -> T {
        // SAFETY: the caller holds this pool's reader lock, itself or through an earlier read
        // guard of this thread (the proof argument), so no writer (the only mutator of
        // `state`) is active.
        f(unsafe { &*self.state.get() })
    }

    /// Re-reads the mapped length after the heap grew.
    fn sync_len(&self, st: &State) {
        self.len
            .store(st.heap.io.map.len() as u64, Ordering::Relaxed);
    }
}

impl Drop for PoolCore {
    fn drop(&mut self) {
        // A clean close leaves every committed byte at its home and retires a rollback that
        // open left to the first commit: the next open replays and restores nothing. A
        // failure changes nothing: the redo records and the undo log still hold those bytes.
        let read_only = self.read_only;
        let st = self.state.get_mut();
        if !st.txn.poisoned && !st.txn.is_open() && !read_only {
            let heap = &mut st.heap;
            let _ = st
                .txn
                .settle_recovery(heap)
                .and_then(|()| st.txn.checkpoint(heap, true))
                .and_then(|()| st.txn.new_epoch(heap));
        }
        self.unregister();
    }
}

/// An open pool's core, owned through a raw pointer rather than a `Box`: the registry hands
/// out shared references made from this same pointer, which a `Box` would invalidate each
/// time it moved (a `Box` asserts uniqueness; Miri's Stacked Borrows checks it).
pub(crate) struct CoreBox(std::ptr::NonNull<PoolCore>);

// SAFETY: owns a PoolCore, which is Send + Sync.
unsafe impl Send for CoreBox {}
// SAFETY: as above.
unsafe impl Sync for CoreBox {}

impl CoreBox {
    fn new(core: PoolCore) -> CoreBox {
        CoreBox(std::ptr::NonNull::from(Box::leak(Box::new(core))))
    }

    /// State access for open paths, when no guard can exist (`&mut self`).
    pub(crate) fn state_mut(&mut self) -> &mut State {
        // SAFETY: the pointer is live (owned by self); `&mut self` excludes other users of
        // the state (no guard exists yet).
        unsafe { (*self.0.as_ptr()).state.get_mut() }
    }

    /// Leaks the core (the scratch pools live as long as the process).
    pub(super) fn leak(self) -> *const PoolCore {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl std::ops::Deref for CoreBox {
    type Target = PoolCore;
    fn deref(&self) -> &PoolCore {
        // SAFETY: the pointer is live while self is (dropped in Drop only).
        unsafe { self.0.as_ref() }
    }
}

impl Drop for CoreBox {
    fn drop(&mut self) {
        if self.by_tag.load(Ordering::Relaxed) {
            let st = self.state_mut();
            let disowned = std::mem::take(&mut st.disowned);
            if !disowned.is_empty() {
                let (tag, uuid) = (st.heap.hdr.tag(), st.heap.hdr.uuid);
                registry::carry(tag, uuid, disowned);
            }
        }
        if self.escaped() {
            // A value read from outside pool memory may still borrow this pool's memory:
            // unregister, close and unlock the file, keep the memory mapped (process life).
            self.unregister();
            self.state_mut().heap.io.map.close_file();
            return;
        }
        // SAFETY: made by Box::leak in `new`, dropped once, here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// Set once any pool has a `disowned` entry: until then, changes through handles outside
/// pool memory skip the check for stale copies (`handle::own`).
static ANY_DISOWNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True when some pool may have `disowned` entries (see [`PoolCore::is_stale_copy`]).
#[inline]
pub(crate) fn any_disowned() -> bool {
    ANY_DISOWNED.load(Ordering::Relaxed)
}

/// A handle's pointer: the pool's tag in the top 16 bits (0: the scratch pool), the block's
/// offset below.
pub(crate) const OFF_BITS: u32 = 48;
pub(crate) const OFF_MASK: u64 = (1 << OFF_BITS) - 1;
/// Bit 47 of the offset marks a lent handle (`collections/lent.rs`): pool offsets stay
/// below 2^47, since no address space holds a larger pool.
pub(crate) const LENT_BIT: u64 = 1 << 47;

/// The handle pointers directly in `regions`.
fn raws_in(regions: &[Fixup]) -> HashSet<u64> {
    let mut out = HashSet::new();
    for f in regions {
        // SAFETY: the region holds `n` initialised values of its type (a handed-out `&mut`,
        // in a block neither fresh nor freed in this transaction); only their handles'
        // pointers are read.
        unsafe {
            (f.raws)(f.at as *mut u8, f.n, &mut |r| {
                out.insert(*r);
            })
        };
    }
    out
}

/// Exclusive access to one pool's heap and open transaction.
pub(crate) struct Tx<'a> {
    pub(crate) core: &'a PoolCore,
    pub(crate) st: &'a mut State,
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        self.core.sync_len(self.st);
        if self.core.is_scratch() {
            IN_SCRATCH.with(|c| c.set(false));
        }
        self.core.busy.store(0, Ordering::Release);
    }
}

impl Tx<'_> {
    /// Logs `len` bytes at `p` (a pointer into this pool derived from the caller's reference).
    pub(crate) fn log_ptr(&mut self, p: *const u8, len: usize) -> Result<()> {
        let off = self.core.offset_of(p);
        let State { heap, txn, .. } = &mut *self.st;
        txn.log(heap, off, len as u64, Some(p))
    }

    /// Allocates `size` bytes; returns the offset.
    pub(crate) fn alloc(&mut self, size: usize, align: usize) -> Result<u64> {
        let State { heap, txn, .. } = &mut *self.st;
        let off = txn.alloc(heap, size, align)?;
        self.core.sync_len(self.st);
        Ok(off)
    }

    /// Resizes a block (see `Txn::realloc`); returns its (possibly new) offset.
    pub(crate) fn realloc(
        &mut self,
        off: u64,
        old: usize,
        new: usize,
        align: usize,
    ) -> Result<u64> {
        let State { heap, txn, .. } = &mut *self.st;
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
    pub(crate) fn is_fresh(&self, off: u64) -> bool {
        self.st.txn.is_fresh(off)
    }

    /// See [`Txn::keep`].
    pub(crate) fn keep(&mut self, off: u64) {
        self.st.txn.keep(off);
    }

    /// See [`Txn::unkeep`].
    pub(crate) fn unkeep(&mut self, off: u64) {
        self.st.txn.unkeep(off);
    }

    pub(crate) fn free(&mut self, off: u64) {
        self.st.txn.free(off);
        if self.core.has_fixups() {
            // The block's contents are gone (dropped or moved): its regions need nothing.
            for f in self.st.fixups.take(Some(off)) {
                note_settled(&mut self.st.settled, f);
            }
            self.core
                .fixups
                .store(self.st.fixups.count, Ordering::Relaxed);
        }
    }
}

/// Ends the writer role on drop ([`PoolCore::writer_role`]): a panic between taking the
/// writer lock and releasing it (a panicking `Drop` at commit, a progress callback) must not
/// leave this thread marked as the writer after the lock is gone.
pub(crate) struct WriterRole<'a>(&'a PoolCore);

impl Drop for WriterRole<'_> {
    fn drop(&mut self) {
        self.0.write_unlock();
    }
}
