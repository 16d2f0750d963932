//! The process-wide registry of open pools: which pool a handle belongs to, found from the
//! handle's address (the fast path: a per-thread cache of the last hit and a per-thread copy
//! of the registry, taken again only when a pool opens or closes) or from its pointer's tag;
//! the scratch pool; the pool new handles are built in during a relocation; and the
//! `disowned` sets that closed pools leave for the next open of the same file.
//!
//! Invariants: an entry names a live `PoolCore` (entries go before their core drops); a tag
//! found `by_tag` names one open pool (open refuses a second pool with a tag in use).

#![allow(unsafe_code)]

use std::cell::Cell;

use super::core::{Disowned, PoolCore};
use crate::sync::{self, AtomicU64, Mutex, Ordering};

// Per-thread state. std gets `const` initialisers (no lazy-init check on the read path);
// loom's thread_local! does not take them.
#[cfg(not(loom))]
mod tls {
    use super::*;
    std::thread_local! {
        /// The pool new handles outside pool memory are built in (0: the scratch pool), and
        /// how deep relocations nest (their reads do not let references escape).
        pub(super) static BUILD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
        /// The last registry hit: (epoch, start, end, core).
        pub(super) static CACHE: Cell<(u64, usize, usize, usize)> = const { Cell::new((0, 0, 0, 0)) };
        /// This thread's copy of the registry, as of an epoch (see `lookup`).
        pub(super) static RANGES: std::cell::RefCell<(u64, Vec<Entry>)> = const { std::cell::RefCell::new((0, Vec::new())) };
        /// How deep this thread is in [`OwnerScope`]s.
        pub(super) static OWNER: Cell<usize> = const { Cell::new(0) };
    }
}

#[cfg(loom)]
#[allow(clippy::missing_const_for_thread_local)]
mod tls {
    use super::*;
    loom::thread_local! {
        pub(super) static BUILD: Cell<(usize, usize)> = Cell::new((0, 0));
        pub(super) static CACHE: Cell<(u64, usize, usize, usize)> = Cell::new((0, 0, 0, 0));
        pub(super) static RANGES: std::cell::RefCell<(u64, Vec<Entry>)> = std::cell::RefCell::new((0, Vec::new()));
        pub(super) static OWNER: Cell<usize> = Cell::new(0);
    }
}
use tls::{BUILD, CACHE, OWNER, RANGES};

/// One open pool (or scratch pool) in the registry.
#[derive(Clone, Copy)]
struct Entry {
    start: usize,
    end: usize,
    core: usize,
    tag: u16,
    /// Found by `by_tag` (see [`register`]).
    by_tag: bool,
}

/// Open pools by reserved address range and tag, and a counter bumped whenever one closes
/// so per-thread caches never name a closed pool.
struct Registry {
    pools: Mutex<Vec<Entry>>,
    epoch: AtomicU64,
    /// The `disowned` sets of closed pools, by (tag, uuid): copies left over from their
    /// rolled-back transactions outlive the pool, and the next open of the same file in this
    /// process takes the set back, so their drops still free nothing there.
    carried: Mutex<Vec<(u16, u64, Disowned)>>,
}

#[cfg(not(loom))]
#[inline]
fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| Registry {
        pools: Mutex::new(Vec::new()),
        epoch: AtomicU64::new(1),
        carried: Mutex::new(Vec::new()),
    })
}

#[cfg(loom)]
fn registry() -> &'static Registry {
    loom::lazy_static! {
        static ref R: Registry = Registry {
            pools: Mutex::new(Vec::new()),
            epoch: AtomicU64::new(1),
            carried: Mutex::new(Vec::new()),
        };
    }
    &R
}

/// Registers the pool whose reservation is `start..end` (its core at `core`, its handles
/// tagged `tag`). Returns whether it is found by tag, or `None` when an open pool has its tag
/// and it is neither read-only nor an `image` (a crash-test copy opened beside its pool):
/// handles outside pool memory name their pool by tag, and two open pools with one tag could
/// not be told apart (a copy of the same file, or a 1-in-65536 collision).
pub(super) fn register(
    (start, end): (usize, usize),
    core: usize,
    tag: u16,
    read_only: bool,
    image: bool,
) -> Option<bool> {
    let reg = registry();
    let mut pools = sync::lock(&reg.pools);
    let taken = tag == 0 || pools.iter().any(|e| e.by_tag && e.tag == tag);
    if taken && !image && !read_only && tag != 0 {
        return None;
    }
    // A read-only pool is never looked up by tag: no safe code gets `&mut` into its memory,
    // so none of its handles leaves that memory bitwise (reads resolve from the handle's
    // address; clones are deep copies). So it takes no tag, and opens beside a pool that has
    // its tag.
    let by_tag = !taken && !read_only;
    pools.push(Entry {
        start,
        end,
        core,
        tag,
        by_tag,
    });
    // Threads keep a copy of the ranges (see `lookup`): a new one must reach them.
    reg.epoch.fetch_add(1, Ordering::Release);
    Some(by_tag)
}

/// Removes the pool whose reservation starts at `start` (no-op when it is gone already).
pub(super) fn unregister(start: usize) {
    let reg = registry();
    sync::lock(&reg.pools).retain(|e| e.start != start);
    reg.epoch.fetch_add(1, Ordering::Release);
}

/// Keeps the `disowned` set of a closing pool (tag, uuid) for the next open of its file.
pub(super) fn carry(tag: u16, uuid: u64, disowned: Disowned) {
    sync::lock(&registry().carried).push((tag, uuid, disowned));
}

/// The `disowned` set a closed pool (tag, uuid) left, if any (see [`carry`]).
pub(super) fn take_carried(tag: u16, uuid: u64) -> Option<Disowned> {
    let mut carried = sync::lock(&registry().carried);
    let i = carried.iter().position(|c| (c.0, c.1) == (tag, uuid))?;
    Some(carried.swap_remove(i).2)
}

// ---- finding the pool of a handle ----

/// The pool a handle's blocks live in, as found from the handle's address and pointer.
#[derive(Clone, Copy)]
pub(crate) enum Found {
    /// The handle lies in the memory of the pool its pointer names (or has no pointer and
    /// lies in pool memory): the pool outlives any borrow of the handle.
    Home(*const PoolCore),
    /// The scratch pool: never unmapped, so it outlives everything.
    Scratch(*const PoolCore),
    /// An open pool, named by the tag of a handle that lies outside its memory (moved out
    /// with `mem::take`, held by `sort`, or stored into another pool by assignment).
    Away(*const PoolCore),
    /// The pool the tag names is not open (or two open pools share the tag).
    Lost,
}

/// Where the handle at `addr` with pointer `raw` finds its blocks. The fast path (a handle in
/// the memory of its own pool) costs what the address lookup did before tags were read.
#[inline]
pub(crate) fn find(addr: usize, raw: u64, tag: u16) -> Found {
    let here = lookup(addr);
    if let Some(p) = here {
        // SAFETY: `addr` lies in this registered reservation and the caller holds a
        // reference to it, derived from a guard borrowing the Pool (module invariants).
        let core = unsafe { &*(p as *const PoolCore) };
        if raw == 0 || tag == core.tag {
            return Found::Home(p as *const PoolCore);
        }
    }
    find_elsewhere(here, raw, tag)
}

/// [`find`] for a handle outside the memory of the pool its pointer names.
#[cold]
fn find_elsewhere(here: Option<usize>, raw: u64, tag: u16) -> Found {
    if here.is_none() && raw == 0 {
        return match BUILD.with(Cell::get).0 {
            0 => Found::Scratch(scratch()),
            p => Found::Away(p as *const PoolCore),
        };
    }
    if tag == 0 {
        if let Some(p) = here {
            // A scratch handle stored into a pool by assignment: valid only on the thread that
            // stored it, until its transaction commits (which moves it into the pool).
            // SAFETY: as in `find`.
            let core = unsafe { &*(p as *const PoolCore) };
            assert!(
                core.is_writer(),
                "pcoll: pool damaged: a pointer to process memory is stored in the pool"
            );
        }
        return Found::Scratch(scratch());
    }
    match by_tag(tag) {
        Some(p) => Found::Away(p),
        None => Found::Lost,
    }
}

/// While alive, new handles outside pool memory (`PVec::new()` on the stack, a `&str` being
/// converted) are built in `core` instead of the scratch pool: a relocation or conversion
/// then writes each block once, straight into the pool that receives it.
pub(crate) struct BuildIn {
    prev: (usize, usize),
}

impl BuildIn {
    pub(crate) fn new(core: &PoolCore) -> BuildIn {
        let prev = BUILD.with(Cell::get);
        let p = if core.is_scratch() {
            0
        } else {
            core as *const PoolCore as usize
        };
        BUILD.with(|b| b.set((p, prev.1 + 1)));
        BuildIn { prev }
    }
}

impl Drop for BuildIn {
    fn drop(&mut self) {
        BUILD.with(|b| b.set(self.prev));
    }
}

/// While alive, handles that this thread drops outside pool memory are their blocks' owners
/// (a container's own code moved the value out: a value handed out being copied out, or
/// dropped): `disowned` is not consulted, since copies left over from a rolled-back
/// transaction may share the pointer but are not the value being dropped.
pub(crate) struct OwnerScope(());

impl OwnerScope {
    pub(crate) fn new() -> OwnerScope {
        OWNER.with(|o| o.set(o.get() + 1));
        OwnerScope(())
    }
}

impl Drop for OwnerScope {
    fn drop(&mut self) {
        OWNER.with(|o| o.set(o.get() - 1));
    }
}

/// True inside an [`OwnerScope`].
pub(crate) fn owner_drops() -> bool {
    OWNER.with(Cell::get) != 0
}

/// True inside a relocation or conversion: its reads of a value outside pool memory hand no
/// reference to user code, so they need not keep that pool's memory mapped after close.
pub(crate) fn relocating() -> bool {
    BUILD.with(Cell::get).1 != 0
}

/// The process's scratch pool, made on first use and never unmapped.
#[inline]
pub(crate) fn scratch() -> *const PoolCore {
    #[cfg(not(loom))]
    {
        static S: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *S.get_or_init(make_scratch) as *const PoolCore
    }
    // loom's objects live for one model execution: so does the scratch pool (leaked, small).
    #[cfg(loom)]
    {
        loom::lazy_static! {
            static ref S: usize = make_scratch();
        }
        *S as *const PoolCore
    }
}

fn make_scratch() -> usize {
    let core =
        PoolCore::scratch().unwrap_or_else(|e| panic!("pcoll: cannot make the scratch pool: {e}"));
    core.leak() as usize
}

/// True when an open pool's handles carry `tag`: a new pool draws another identity, since
/// open refuses a second pool with a tag in use (`Error::AmbiguousPool`).
pub(crate) fn tag_in_use(tag: u16) -> bool {
    by_tag(tag).is_some()
}

/// The open pool whose handles carry `tag` (open refuses a second pool with a tag in use).
fn by_tag(tag: u16) -> Option<*const PoolCore> {
    let epoch = registry().epoch.load(Ordering::Acquire);
    let e = registered(epoch, |e| e.by_tag && e.tag == tag)?;
    Some(e.core as *const PoolCore)
}

/// The pool whose reservation contains `r`, if any.
#[inline]
pub(crate) fn core_of<T: ?Sized>(r: &T) -> Option<&PoolCore> {
    let p = lookup(r as *const T as *const u8 as usize)?;
    // SAFETY: `r` lies in this pool's reservation, so it was derived from a guard borrowing
    // the Pool that owns the core (module invariants): the core outlives `r`'s lifetime.
    Some(unsafe { &*(p as *const PoolCore) })
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
    lookup_ranges(addr, epoch)
}

/// [`lookup`] past the last hit: this thread's copy of the registry (see [`registered`]).
/// An address in no pool (a handle on the stack) is answered without the lock.
#[cold]
fn lookup_ranges(addr: usize, epoch: u64) -> Option<usize> {
    let hit = registered(epoch, |e| e.start <= addr && addr < e.end)?;
    CACHE.with(|c| c.set((epoch, hit.start, hit.end, hit.core)));
    Some(hit.core)
}

/// The first registry entry that `pred` accepts, from this thread's copy of the registry,
/// taken again (under the registry's lock) only when the epoch moved from `epoch`.
/// While the thread exits, after its copy is gone (a handle dropped by another thread-local's
/// destructor), the registry itself is read, under its lock.
fn registered(epoch: u64, pred: impl Fn(&Entry) -> bool) -> Option<Entry> {
    let reg = registry();
    RANGES
        .try_with(|r| {
            let mut r = r.borrow_mut();
            if r.0 != epoch {
                let pools = sync::lock(&reg.pools);
                // Read again under the lock: the copy is at least as new as this epoch.
                r.0 = reg.epoch.load(Ordering::Acquire);
                r.1.clear();
                r.1.extend(pools.iter().copied());
            }
            r.1.iter().copied().find(|e| pred(e))
        })
        .unwrap_or_else(|_| sync::lock(&reg.pools).iter().copied().find(|e| pred(e)))
}
