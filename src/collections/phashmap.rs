//! `PHashMap<K, V, S>`: a hash map in the pool with `HashMap`'s API, over the SwissTable-style
//! engine in `table.rs`. The header `{ table, mask, items, growth_left, hasher }` lives where
//! the map lives; the entries live in one pool block.
//!
//! Logging (`docs/ARCHITECTURE.md`, "Writing a container"): the header was logged by whoever
//! handed out `&mut PHashMap`. An insert logs the control byte(s) it sets and writes the slot
//! with no undo entry, noting it for write-back: a slot whose byte is `EMPTY`/`DELETED` holds
//! no committed entry, unless it was vacated earlier in this transaction, and **every
//! operation that vacates a slot (`remove`, `retain`, `drain`) logs it first**, so a rollback
//! that restores the control byte also restores the entry. A table allocated by the current
//! transaction (after growth) is fresh: nothing in it is logged. Growth builds a fresh table
//! and frees the old one at commit, so it logs nothing but the header.
//!
//! This file holds the header, lookup, insert/remove, growth, `Drop` and the `Persistent`
//! impl. The entry API (`OccupiedEntry`, `VacantEntry`) is in `phashmap/entry.rs`; the
//! borrowing iterators (`Iter`, `Keys`, `Values`, `IterMut`, `ValuesMut`) and the methods
//! that make them in `phashmap/iter.rs`; `clear`, `drain`, `retain` and `shrink_*` in
//! `phashmap/bulk.rs`; the std trait impls in `phashmap/traits.rs`.

#![allow(unsafe_code)]

mod bulk;
mod entry;
mod iter;
mod traits;

pub use super::std_api::MapExtractIf as ExtractIf;
use crate::collections::equivalent::Equivalent;
pub use entry::{Entry, OccupiedEntry, VacantEntry};
use iter::IterAt;
pub use iter::{Iter, IterMut, Keys, Values, ValuesMut};
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use super::convert::IntoPersistent;
use super::handle::{self, off_of, pack};
use super::hasher::PRandomState;
use super::lent;
use super::table::{self, EMPTY, RawTable};
use crate::error::{Error, Result};
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent, Relocator};
use crate::txn::core::{PoolCore, Tx};

/// A hash map in pool memory.
///
/// Keys are looked up by their borrowed forms: a `PHashMap<PString, V>` by `&str`, a
/// `PHashMap<PVec<u8>, V>` by `&[u8]`. `insert` and `entry` take anything that converts
/// into the stored types ([`IntoPersistent`]), so a `&str` key is converted to a `PString`
/// only when it is inserted.
///
/// ```
/// use pcoll::{PHashMap, PString, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { users: PHashMap<PString, u64> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// {
///     let mut root = pool.write();
///     root.users.insert("alice", 30);
///     *root.users.entry("bob").or_insert(0) += 1;
/// }
/// let root = pool.read();
/// assert_eq!(root.users.get("alice"), Some(&30));
/// assert_eq!(root.users["bob"], 1);
/// # Ok::<(), pcoll::Error>(())
/// ```
///
/// Differences from `HashMap`: `clear` and `drain` release the table (capacity 0), which
/// costs less than logging a reset of every control byte; `drain` is eager. Keys and values
/// that are pcoll handles, once removed, read anywhere: stored back into the same pool in the
/// same transaction they copy nothing, and read or kept they become copies in process memory.
#[repr(C)]
pub struct PHashMap<K: Persistent, V: Persistent, S: Persistent = PRandomState> {
    raw: u64,
    mask: u64,
    items: u64,
    growth_left: u64,
    hash_builder: S,
    _own: PhantomData<((K, V), *const ())>,
}

type Table<'a, K, V> = RawTable<'a, (K, V)>;

impl<K: Persistent, V: Persistent> PHashMap<K, V> {
    /// An empty map with a fresh random seed; it allocates on the first insert.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// assert!(map.is_empty());
    /// assert_eq!(map.capacity(), 0); // allocates on the first insert
    /// ```
    pub fn new() -> Self {
        Self::with_hasher(PRandomState::new())
    }

    /// An empty map with room for `n` entries (in process memory until stored).
    ///
    /// # Panics
    /// When the memory is full.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let map: PHashMap<u64, u64> = PHashMap::with_capacity(10);
    /// assert!(map.capacity() >= 10);
    /// assert!(map.is_empty());
    /// ```
    pub fn with_capacity(n: usize) -> Self
    where
        K: Hash,
    {
        Self::with_capacity_and_hasher(n, PRandomState::new())
    }
}

impl<K: Persistent, V: Persistent, S: Persistent + Default> Default for PHashMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// An empty map hashing with `hash_builder` (stored in the map).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PRandomState};
    ///
    /// let s = PRandomState::with_seeds(1, 2, 3, 4);
    /// let mut map = PHashMap::with_hasher(s);
    /// map.insert(1u64, 2u64);
    /// assert_eq!(map[&1], 2);
    /// ```
    pub const fn with_hasher(hash_builder: S) -> Self {
        PHashMap {
            raw: 0,
            mask: 0,
            items: 0,
            growth_left: 0,
            hash_builder,
            _own: PhantomData,
        }
    }

    /// An empty map with room for `n` entries, hashing with `hash_builder`.
    ///
    /// # Panics
    /// When the memory is full.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PRandomState};
    ///
    /// let s = PRandomState::with_seeds(1, 2, 3, 4);
    /// let mut map = PHashMap::with_capacity_and_hasher(10, s);
    /// map.insert(1u64, 2u64);
    /// assert!(map.capacity() >= 10);
    /// ```
    pub fn with_capacity_and_hasher(n: usize, hash_builder: S) -> Self
    where
        K: Hash,
        S: BuildHasher,
    {
        let mut m = Self::with_hasher(hash_builder);
        m.reserve(n);
        m
    }

    /// The map's hasher.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PRandomState};
    ///
    /// let seed = PRandomState::with_seeds(1, 2, 3, 4);
    /// let map: PHashMap<u64, u64, _> = PHashMap::with_hasher(seed);
    /// assert_eq!(*map.hasher(), seed);
    /// ```
    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    /// Number of entries.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut a: PHashMap<u64, u64> = PHashMap::new();
    /// assert_eq!(a.len(), 0);
    /// a.insert(1, 10);
    /// assert_eq!(a.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.items as usize
    }

    /// True when the map has no entries.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut a: PHashMap<u64, u64> = PHashMap::new();
    /// assert!(a.is_empty());
    /// a.insert(1, 10);
    /// assert!(!a.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Entries the table holds without growing.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let map: PHashMap<u64, u64> = PHashMap::with_capacity(100);
    /// assert!(map.capacity() >= 100);
    /// ```
    pub fn capacity(&self) -> usize {
        self.len() + self.growth_left as usize
    }

    fn buckets(&self) -> usize {
        if self.raw == 0 {
            0
        } else {
            (self.mask as usize).wrapping_add(1)
        }
    }

    /// The table in pool `core` (this map's pool), if allocated.
    #[inline]
    fn table<'a>(&'a self, core: &'a PoolCore) -> Option<Table<'a, K, V>> {
        if self.raw == 0 {
            return None;
        }
        let buckets = self.buckets();
        assert!(
            buckets.is_power_of_two() && buckets >= table::GROUP,
            "pcoll: PHashMap with {buckets} buckets: the pool is damaged"
        );
        let size = table::layout::<(K, V)>(buckets).map_or(usize::MAX, |l| l.0);
        let base = core.ptr_aligned(off_of(self.raw), size, table::align_of_table::<(K, V)>());
        // SAFETY: the map's invariants: `raw` names its table block, of this layout (`ptr`
        // checked the bounds), with `items` full slots; the view borrows `self`.
        Some(unsafe { RawTable::from_base(base, buckets) })
    }

    /// The table, for reading through `&self` (the map must be in pool memory).
    #[inline]
    fn view(&self) -> Option<Table<'_, K, V>> {
        if self.items == 0 {
            return None;
        }
        if lent::is_lent(self.raw) {
            return self.lent_view();
        }
        self.table(handle::home(self, self.raw, "PHashMap"))
    }

    /// [`view`](Self::view) of a map handed out: its copy's table (see `lent.rs`); out of
    /// line, so that `view` stays small in every lookup.
    #[cold]
    #[inline(never)]
    fn lent_view(&self) -> Option<Table<'_, K, V>> {
        lent::target(self, self.raw).view()
    }

    /// Runs `f` with this map's pool, for a change. Panics without a write transaction.
    #[inline]
    fn with_pool<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        handle::own(self, self.raw);
        let (addr, raw) = (self as *const Self as usize, self.raw);
        handle::with_writer_at(addr, raw, "PHashMap", |core| {
            self.expect_block(core);
            self.settle(core);
            f(self, core)
        })
    }

    /// Before a change: the table block is as large as the bucket count says (issue 13).
    #[inline]
    fn expect_block(&self, core: &PoolCore) {
        if self.raw != 0 {
            let size = table::layout::<(K, V)>(self.buckets()).map_or(usize::MAX, |l| l.0);
            core.expect_block(off_of(self.raw), size, "PHashMap");
        }
    }

    /// Moves values that user code stored through `&mut V` into the pool, before entries
    /// move (see `handle::hand_out`). Only where no `&mut V` of this map can be alive.
    #[inline]
    fn settle(&self, core: &PoolCore) {
        if self.raw != 0 {
            handle::settle::<V>(core, off_of(self.raw));
        }
    }

    /// [`with_pool`](Self::with_pool) for methods handing out `&mut` into the table: the
    /// map must be in pool memory, so its pool outlives the borrow.
    #[inline]
    fn with_home<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        handle::own(self, self.raw);
        let (addr, raw) = (self as *const Self as usize, self.raw);
        handle::with_home_at(addr, raw, "PHashMap", |core| {
            self.expect_block(core);
            f(self, core)
        })
    }

    /// True when the table was allocated by the current transaction (needs no undo).
    #[inline]
    fn fresh(&self, core: &PoolCore) -> bool {
        core.tx().is_fresh(off_of(self.raw))
    }

    /// Logs the control byte(s) of bucket `i` of `t` unless the table is fresh (`tx`: the
    /// caller's transaction handle, taken once per operation).
    fn log_ctrl(t: &Table<'_, K, V>, tx: &mut Tx<'_>, fresh: bool, i: usize) -> Result<()> {
        if fresh {
            return Ok(());
        }
        let (p, mirror) = t.ctrl_bytes(i);
        tx.log_ptr(p, 1)?;
        mirror.map_or(Ok(()), |m| tx.log_ptr(m, 1))
    }

    /// Logs `len` bytes at `p` inside the table unless the table is fresh.
    fn log_in_table(&self, core: &PoolCore, p: *const u8, len: usize) -> Result<()> {
        if len == 0 || self.fresh(core) {
            return Ok(());
        }
        core.tx().log_ptr(p, len)
    }

    /// A pointer to the value of full bucket `i`, logged (for `&mut V`).
    fn value_ptr(&self, core: &PoolCore, i: usize) -> Result<*mut V> {
        let t = self.table(core).expect("a full bucket has a table");
        let p = value_slot(&t, i);
        self.log_in_table(core, p.cast(), size_of::<V>())?;
        Ok(p)
    }

    /// A mutable reference to the value of full bucket `i`, logged first (and noted as
    /// handed out, see `handle::hand_out`).
    fn value_mut_at(&mut self, i: usize, what: &str) -> &mut V {
        let p = self.with_home(|m, core| {
            let p = m.value_ptr(core, i)?;
            handle::hand_out(core, off_of(m.raw), p, 1);
            Ok::<_, Error>(p)
        });
        let p = p.unwrap_or_else(|e| panic!("pcoll: PHashMap::{what}: {e}"));
        // SAFETY: bucket i is full (caller) and its value logged; `&mut self` makes it
        // exclusive, and the pool holding the map outlives the borrow (with_home).
        unsafe { &mut *p }
    }

    /// Vacates full bucket `i` and moves its entry out (slot and control bytes logged).
    fn take_at(&mut self, core: &PoolCore, i: usize) -> Result<(K, V)> {
        let t = self.table(core).expect("a full bucket has a table");
        {
            let mut tx = core.tx();
            let fresh = tx.is_fresh(off_of(self.raw));
            if !fresh && size_of::<(K, V)>() > 0 {
                tx.log_ptr(t.slot(i).cast(), size_of::<(K, V)>())?;
            }
            Self::log_ctrl(&t, &mut tx, fresh, i)?;
        }
        // SAFETY: bucket i is full; its control byte is erased right after, so the entry
        // is moved out exactly once.
        let kv = unsafe { t.slot(i).read() };
        let byte = t.erase_byte(i);
        t.set_ctrl(i, byte);
        self.items -= 1;
        if byte == EMPTY {
            self.growth_left += 1;
        }
        Ok(kv)
    }

    /// Writes an entry known to be absent into bucket `i` (from `find_insert_slot`, with
    /// room: `growth_left > 0` or a `DELETED` byte).
    fn put_at(&mut self, core: &PoolCore, i: usize, hash: u64, kv: (K, V)) -> Result<()> {
        let t = self.table(core).expect("put_at needs a table");
        let old = t.ctrl(i);
        debug_assert!(!t.is_full(i) && (old != EMPTY || self.growth_left > 0));
        {
            let mut tx = core.tx();
            let fresh = tx.is_fresh(off_of(self.raw));
            Self::log_ctrl(&t, &mut tx, fresh, i)?;
            // No undo entry for the slot (module comment); it must reach the medium at commit.
            if !fresh {
                tx.wrote(t.slot(i).cast(), size_of::<(K, V)>());
            }
        }
        // SAFETY: bucket i is not full, so the slot holds no live entry.
        unsafe { t.slot(i).write(kv) };
        t.set_ctrl(i, table::h2(hash));
        self.items += 1;
        if old == EMPTY {
            self.growth_left -= 1;
        }
        Ok(())
    }

    /// Releases the table block (entries already moved out or dropped).
    fn release_table(&mut self, core: &PoolCore) {
        if self.raw != 0 {
            core.tx().free(off_of(self.raw));
        }
        self.raw = 0;
        self.mask = 0;
        self.items = 0;
        self.growth_left = 0;
    }

    /// The count an iterator starts from: `len`, but never more than the table's buckets,
    /// so a damaged count cannot make `collect()` ask for terabytes.
    fn iter_len(&self) -> usize {
        self.len().min(self.buckets())
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// Fills this empty map (being built in `to`'s pool, with `src`'s hasher state) with
    /// copies of `src`'s entries in the same buckets, so no key is hashed again. On error
    /// the buckets not yet copied are marked deleted, leaving a valid smaller map to drop.
    fn copy_entries(&mut self, src: &Self, to: &Relocator<'_>) -> Result<()> {
        let Some(st) = src.view() else {
            return Ok(());
        };
        let buckets = st.buckets();
        self.with_pool(|m, core| {
            let (size, align, _) =
                table::layout::<(K, V)>(buckets).ok_or_else(|| overflow(core))?;
            let off = core.tx().alloc(size, align)?;
            // SAFETY: a fresh block of this layout, owned by nobody yet; ctrl written next.
            let t: Table<'_, K, V> = unsafe { RawTable::from_base(core.ptr(off, size), buckets) };
            (0..buckets).for_each(|i| t.set_ctrl(i, st.ctrl(i)));
            m.raw = pack(core.tag, off);
            m.mask = src.mask;
            m.growth_left = src.growth_left;
            m.items = src.items;
            let full: Vec<usize> = st.full().collect();
            for (n, &i) in full.iter().enumerate() {
                let kv = if <(K, V)>::HANDLES {
                    match st.get(i).copy_to(to) {
                        Ok(kv) => kv,
                        Err(e) => {
                            full[n..]
                                .iter()
                                .for_each(|&j| t.set_ctrl(j, table::DELETED));
                            m.items = n as u64;
                            return Err(e);
                        }
                    }
                } else {
                    // SAFETY: a full bucket; without handles a bitwise copy is a value.
                    unsafe { st.slot(i).read() }
                };
                // SAFETY: bucket i of the fresh table, marked full above, written once.
                unsafe { t.slot(i).write(kv) };
            }
            Ok(())
        })
    }
}

/// Frees a table allocated by an interrupted resize (a panicking `Hash`).
struct FreeOnUnwind<'a> {
    core: &'a PoolCore,
    off: u64,
}

impl Drop for FreeOnUnwind<'_> {
    fn drop(&mut self) {
        self.core.tx().free(self.off);
    }
}

impl<K: Persistent + Hash, V: Persistent, S: Persistent + BuildHasher> PHashMap<K, V, S> {
    #[inline]
    fn hash_of<Q: Hash + ?Sized>(&self, q: &Q) -> u64 {
        self.hash_builder.hash_one(q)
    }

    /// The full bucket holding `q`, in a table read through `t`.
    #[inline]
    fn find_in<Q>(&self, t: Option<Table<'_, K, V>>, hash: u64, q: &Q) -> Option<usize>
    where
        Q: Equivalent<K> + ?Sized,
    {
        t?.find(hash, |(k, _)| q.equivalent(k))
    }

    /// The bucket holding `q` (the map must be in pool memory when it is not empty).
    #[inline]
    fn find<Q>(&self, q: &Q) -> Option<(Table<'_, K, V>, usize)>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let t = self.view()?;
        let i = self.find_in(Some(t), self.hash_of(q), q)?;
        Some((t, i))
    }

    /// Starts loading into the CPU caches what a lookup of `q` reads first (the control
    /// bytes and first slots of its probe group), without waiting for it, and returns. A
    /// hint: it changes nothing and no result depends on it. For batches of independent
    /// lookups in a large map, whose buckets are cache misses: prefetch every key of the
    /// batch, then look them up, and the misses overlap instead of coming one after another.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// let mut m: PHashMap<u64, u64> = (0..1000).map(|i| (i, i * i)).collect();
    /// let batch = [3, 500, 999];
    /// for k in &batch {
    ///     m.prefetch(k);
    /// }
    /// let sum: u64 = batch.iter().map(|k| m[k]).sum();
    /// assert_eq!(sum, 9 + 250_000 + 998_001);
    /// ```
    #[inline]
    pub fn prefetch<Q: Hash + Equivalent<K> + ?Sized>(&self, q: &Q) {
        if let Some(t) = self.view() {
            t.prefetch(self.hash_of(q));
        }
    }

    /// The second stage of [`prefetch`](Self::prefetch): reads the control bytes and the
    /// slot of the bucket where a lookup of `q` most likely ends, and starts loading the
    /// blocks its key and value point to (a `PVec`'s elements, a `PString`'s bytes). Call it
    /// for a batch's keys after `prefetch` for all of them (the bytes it reads have arrived
    /// by then), then look the keys up.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    /// let mut m: PHashMap<u64, PString> = PHashMap::new();
    /// m.insert(7, "seven");
    /// m.prefetch(&7);
    /// m.prefetch_entry(&7);
    /// assert_eq!(m[&7], "seven");
    /// ```
    #[inline]
    pub fn prefetch_entry<Q: Hash + Equivalent<K> + ?Sized>(&self, q: &Q) {
        if !K::HANDLES && !V::HANDLES {
            return;
        }
        if let Some(t) = self.view()
            && let Some(i) = t.likely(self.hash_of(q))
        {
            let (k, v) = t.get(i);
            k.prefetch();
            v.prefetch();
        }
    }

    /// Moves every entry into a fresh table of `buckets` buckets and frees the old one at
    /// commit: no entry is logged, and a panicking `Hash` leaves the map as it was.
    fn resize(&mut self, core: &PoolCore, buckets: usize) -> Result<()> {
        let (size, align, _) = table::layout::<(K, V)>(buckets).ok_or_else(|| overflow(core))?;
        let off = core.tx().alloc(size, align)?;
        let guard = FreeOnUnwind { core, off };
        // SAFETY: a fresh block of this layout, owned by nobody yet; ctrl initialised next.
        let new: Table<'_, K, V> = unsafe { RawTable::from_base(core.ptr(off, size), buckets) };
        new.init_empty();
        if let Some(old) = self.table(core) {
            for i in old.full() {
                let hash = self.hash_of(&old.get(i).0);
                let j = new.find_insert_slot(hash);
                // SAFETY: a bitwise move into an empty slot of the fresh table; the old table
                // is freed (never dropped) at commit, or kept on rollback with `new` freed.
                unsafe { std::ptr::copy_nonoverlapping(old.slot(i), new.slot(j), 1) };
                new.set_ctrl(j, table::h2(hash));
            }
            core.tx().free(off_of(self.raw));
        }
        std::mem::forget(guard);
        self.raw = pack(core.tag, off);
        self.mask = buckets as u64 - 1;
        self.growth_left = (table::capacity_of(buckets) - self.len()) as u64;
        Ok(())
    }

    /// Makes room for `additional` more entries: a bigger table, or the same size rebuilt
    /// without tombstones when at least half of it is free.
    fn reserve_in(&mut self, core: &PoolCore, additional: usize) -> Result<()> {
        if additional as u64 <= self.growth_left {
            return Ok(());
        }
        let need = self
            .len()
            .checked_add(additional)
            .ok_or_else(|| overflow(core))?;
        let full = table::capacity_of(self.buckets());
        let buckets = if need <= full / 2 {
            self.buckets()
        } else {
            table::buckets_for(need.max(full + 1)).ok_or_else(|| overflow(core))?
        };
        self.resize(core, buckets)
    }

    /// Inserts an entry whose key is absent; returns its bucket.
    fn insert_new(&mut self, core: &PoolCore, hash: u64, kv: (K, V)) -> Result<usize> {
        let slot = self.table(core).map(|t| (t, t.find_insert_slot(hash)));
        let i = match slot {
            Some((t, i)) if t.ctrl(i) != EMPTY || self.growth_left > 0 => i,
            _ => {
                self.reserve_in(core, 1)?;
                let t = self.table(core).expect("reserved");
                t.find_insert_slot(hash)
            }
        };
        self.put_at(core, i, hash, kv)?;
        Ok(i)
    }

    /// Reserves room for `additional` more entries.
    ///
    /// # Panics
    /// When the pool is full (see [`try_reserve`](Self::try_reserve)).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// map.reserve(10);
    /// assert!(map.capacity() >= 10);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.try_reserve(additional)
            .unwrap_or_else(|e| panic!("pcoll: PHashMap::reserve: {e}"));
    }

    /// Reserves room for `additional` more entries, or returns `Error::OutOfSpace`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// map.try_reserve(10)?;
    /// assert!(map.capacity() >= 10);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        if additional as u64 <= self.growth_left {
            return Ok(());
        }
        self.with_pool(|m, core| m.reserve_in(core, additional))
    }

    /// Inserts `k → v`; returns the previous value (the stored key is kept, as in
    /// `HashMap`).
    ///
    /// # Panics
    /// When the pool is full (see [`try_insert`](Self::try_insert)).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<u64, PString> = PHashMap::new();
    /// assert_eq!(map.insert(37, "a"), None);
    /// assert!(!map.is_empty());
    /// map.insert(37, "b");
    /// assert_eq!(map.insert(37, "c").unwrap(), "b");
    /// assert_eq!(map[&37], "c");
    /// ```
    pub fn insert<I, W>(&mut self, k: I, v: W) -> Option<V>
    where
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Hash + Equivalent<K>,
    {
        self.try_insert(k, v)
            .unwrap_or_else(|e| panic!("pcoll: PHashMap::insert: {e}"))
    }

    /// [`insert`](Self::insert), returning `Error::OutOfSpace` when the pool is full (the
    /// map is then unchanged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<u64, PString> = PHashMap::new();
    /// assert_eq!(map.try_insert(37, "a")?, None);
    /// assert_eq!(map.try_insert(37, "b")?.unwrap(), "a");
    /// assert_eq!(map[&37], "b");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert<I, W>(&mut self, k: I, v: W) -> Result<Option<V>>
    where
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Hash + Equivalent<K>,
    {
        let hash = self.hash_of(k.probe());
        self.with_pool(|m, core| {
            match m.find_in(m.table(core), hash, k.probe()) {
                Some(i) => {
                    let v = handle::convert_in(v, core)?;
                    let p = m.value_ptr(core, i)?;
                    // SAFETY: bucket i is full and its value logged; the old value moves out.
                    Ok(Some(unsafe { std::ptr::replace(p, v) }))
                }
                None => {
                    let kv = (handle::convert_in(k, core)?, handle::convert_in(v, core)?);
                    m.insert_new(core, hash, kv).map(|_| None)
                }
            }
        })
        .map(|old| old.map(handle::detach))
    }

    /// The value of `k`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u64> = PHashMap::new();
    /// map.insert("a", 1);
    /// assert_eq!(map.get("a"), Some(&1)); // looked up by &str
    /// assert_eq!(map.get("b"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.find(k).map(|(t, i)| &t.get(i).1)
    }

    /// The stored key and the value of `k`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u64> = PHashMap::new();
    /// map.insert("a", 1);
    /// let (k, v) = map.get_key_value("a").unwrap();
    /// assert_eq!((k.as_str(), *v), ("a", 1));
    /// assert!(map.get_key_value("b").is_none());
    /// ```
    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.find(k).map(|(t, i)| {
            let (k, v) = t.get(i);
            (k, v)
        })
    }

    /// An entry chosen by `seed`, `None` when the map is empty: not in std, it is what Redis's
    /// `SPOP` needs. For random seeds each entry is equally likely while the map fills at
    /// least a tenth of its table (buckets are drawn until one is full, up to 32 draws); in
    /// a map emptied far below its capacity (`shrink_to_fit` restores the fill), the last
    /// resort is a scan to the next entry, which favours entries after long empty runs.
    /// O(1) expected.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let map: PHashMap<u64, u64> = (0..100).map(|i| (i, i * 10)).collect();
    /// let (k, v) = map.pick(0x9E37_79B9_7F4A_7C15).unwrap();
    /// assert_eq!(*v, k * 10);
    /// assert!(PHashMap::<u64, u64>::new().pick(7).is_none());
    /// ```
    pub fn pick(&self, seed: u64) -> Option<(&K, &V)> {
        let t = self.view()?;
        let (k, v) = t.get(t.pick_full(seed)?);
        Some((k, v))
    }

    /// True when the map holds `k`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// map.insert(1, 10);
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.find(k).is_some()
    }

    /// The value of `k`, mutably (only it is logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// map.insert(1, 10);
    /// if let Some(x) = map.get_mut(&1) {
    ///     *x = 20;
    /// }
    /// assert_eq!(map[&1], 20);
    /// ```
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let i = self.find(k)?.1;
        Some(self.value_mut_at(i, "get_mut"))
    }

    /// Mutable references to the values of `N` keys at once (each logged), `None` for an
    /// absent key, as `HashMap::get_disjoint_mut`.
    ///
    /// # Panics
    /// If two of the keys are equal.
    ///
    /// ```
    /// let mut m: pcoll::PHashMap<u64, u64> = [(1, 10), (2, 20)].into();
    /// let [a, b, c] = m.get_disjoint_mut([&1, &2, &3]);
    /// std::mem::swap(a.unwrap(), b.unwrap());
    /// assert!(c.is_none());
    /// assert_eq!((m[&1], m[&2]), (20, 10));
    /// ```
    pub fn get_disjoint_mut<Q, const N: usize>(&mut self, ks: [&Q; N]) -> [Option<&mut V>; N]
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        let at: [Option<usize>; N] = ks.map(|k| self.find(k).map(|(_, i)| i));
        for (n, i) in at.iter().enumerate() {
            assert!(
                i.is_none() || !at[..n].contains(i),
                "pcoll: PHashMap::get_disjoint_mut: duplicate keys"
            );
        }
        let ptrs =
            at.map(|i| i.map(|i| std::ptr::from_mut(self.value_mut_at(i, "get_disjoint_mut"))));
        // SAFETY: distinct full buckets (checked above), each value logged and handed out;
        // `&mut self` makes them exclusive for its borrow.
        ptrs.map(|p| p.map(|p| unsafe { &mut *p }))
    }

    /// Removes `k`; returns its value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// map.insert(1, 10);
    /// assert_eq!(map.remove(&1), Some(10));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.remove_entry(k).map(|(_, v)| v)
    }

    /// Removes `k`; returns the stored key and its value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u64> = PHashMap::new();
    /// map.insert("a", 1);
    /// let (k, v) = map.remove_entry("a").unwrap();
    /// assert_eq!((k.as_str(), v), ("a", 1));
    /// assert_eq!(map.remove_entry("a"), None);
    /// ```
    pub fn remove_entry<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        if self.items == 0 {
            return None;
        }
        let hash = self.hash_of(k);
        let kv = self.with_pool(|m, core| {
            let i = m.find_in(m.table(core), hash, k)?;
            let kv = m.take_at(core, i);
            Some(kv.unwrap_or_else(|e| panic!("pcoll: PHashMap::remove: {e}")))
        });
        kv.map(handle::detach)
    }

    /// The entry of `key`, for in-place changes.
    ///
    /// ```
    /// # use pcoll::{PHashMap, PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { words: PHashMap<PString, u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// for w in "a b a c a".split(' ') {
    ///     *root.words.entry(w).or_insert(0) += 1;
    /// }
    /// assert_eq!(root.words["a"], 3);
    /// root.words.entry("b").and_modify(|n| *n += 10).or_default();
    /// assert_eq!(root.words["b"], 11);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn entry<I>(&mut self, key: I) -> Entry<'_, K, V, I, S>
    where
        I: IntoPersistent<K>,
        I::Probe: Hash + Equivalent<K>,
    {
        let hash = self.hash_of(key.probe());
        let found = self.with_home(|m, core| m.find_in(m.table(core), hash, key.probe()));
        match found {
            Some(index) => Entry::Occupied(OccupiedEntry { map: self, index }),
            None => Entry::Vacant(VacantEntry {
                map: self,
                hash,
                key,
            }),
        }
    }
}

/// A pointer to the value half of slot `i`.
#[inline]
fn value_slot<K, V>(t: &Table<'_, K, V>, i: usize) -> *mut V {
    // SAFETY: `slot(i)` points into the table block (i is a bucket); no reference is made.
    unsafe { &raw mut (*t.slot(i)).1 }
}

fn overflow(core: &PoolCore) -> Error {
    Error::OutOfSpace {
        path: core.path().to_owned(),
        requested: u64::MAX,
        limit: 0,
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> Drop for PHashMap<K, V, S> {
    fn drop(&mut self) {
        if self.raw == 0 {
            return;
        }
        let raw = self.raw;
        // Outside pool memory with its transaction gone, the table leaks (check() says so).
        handle::with_core(&*self, raw, |core| {
            if std::mem::needs_drop::<(K, V)>()
                && let Some(t) = self.table(core)
            {
                for i in t.full() {
                    let off = core.offset_of(t.slot(i).cast());
                    // SAFETY: each full bucket's entry is dropped exactly once, here.
                    unsafe { handle::drop_at::<(K, V)>(core, off) }
                        .unwrap_or_else(|e| panic!("pcoll: PHashMap drop: {e}"));
                }
            }
            core.tx().free(off_of(raw));
        });
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// Structural checks of the table for `Pool::check()`: bucket count, control bytes and
    /// their mirrors against `items` and `growth_left`. Returns false (after reporting) when
    /// the table must not be read.
    fn check_table(&self, t: &Table<'_, K, V>, v: &mut Visitor<'_>) -> bool {
        let buckets = t.buckets();
        let full = t.full().count();
        let empty = (0..buckets).filter(|&i| t.ctrl(i) == EMPTY).count();
        let mirrors = (0..table::GROUP).all(|i| t.ctrl(i) == t.ctrl(buckets + i));
        let ok = full as u64 == self.items
            && mirrors
            && self.growth_left <= empty as u64
            && self.items.saturating_add(self.growth_left) <= table::capacity_of(buckets) as u64
            && empty > 0;
        if !ok {
            v.problem(format!(
                "PHashMap table damaged: {full} full buckets for {} items, {empty} empty, \
                 growth_left {}, mirrors {}",
                self.items,
                self.growth_left,
                if mirrors { "agree" } else { "differ" }
            ));
        }
        ok
    }

    /// Test support: every entry is found by its own key through the hasher (the probe
    /// invariant), besides the structural checks of `Pool::check()`.
    #[doc(hidden)]
    pub fn verify_probing(&self) -> std::result::Result<(), String>
    where
        K: Hash + Eq,
        S: BuildHasher,
    {
        let Some(t) = self.view() else {
            return Ok(());
        };
        for (k, _, i) in IterAt(self.iter()) {
            if t.find(self.hash_builder.hash_one(k), |(q, _)| q == k) != Some(i) {
                return Err(format!("entry in bucket {i} is not found by its key"));
            }
        }
        Ok(())
    }
}

// SAFETY: a PHashMap holds a pool offset, counters and its hasher state (Persistent); layout
// names K, V and S; visit reports the table block and every entry's blocks.
unsafe impl<K: Persistent, V: Persistent, S: Persistent> Persistent for PHashMap<K, V, S> {
    handle::handle_moves!(raw);
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        let mut out = PHashMap::with_hasher(self.hash_builder.copy_to(to)?);
        out.copy_entries(self, to)?;
        Ok(out)
    }
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PHashMap", size_of::<Self>(), align_of::<Self>()) {
            K::layout(fp);
            V::layout(fp);
            S::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        self.hash_builder.visit(v);
        if self.raw == 0 {
            return;
        }
        let buckets = self.buckets();
        let size = table::layout::<(K, V)>(buckets).map(|l| l.0);
        let sane =
            self.mask < u64::from(u32::MAX) && buckets.is_power_of_two() && buckets >= table::GROUP;
        let Some(size) = size.filter(|_| sane) else {
            return v.problem(format!("PHashMap bucket mask {:#x}", self.mask));
        };
        // The block is checked against the allocator before any byte of it is read.
        if !handle::visit_block(self, self.raw, size, v) {
            return;
        }
        let core = handle::home(self, self.raw, "PHashMap");
        let Some(t) = self.table(core) else { return };
        if self.check_table(&t, v) {
            for i in t.full() {
                let (k, val) = t.get(i);
                k.visit(v);
                val.visit(v);
            }
        }
    }
}

/// `Debug` for the iterators and entries: their type name (the entries are in the map).
macro_rules! opaque_debug {
    ($($name:ident [$($g:tt)*] [$($a:tt)*]),* $(,)?) => {$(
        impl<$($g)*> std::fmt::Debug for $name<$($a)*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), " { .. }"))
            }
        }
    )*};
}
pub(crate) use opaque_debug;

opaque_debug!(
    Iter ['a, K, V] ['a, K, V],
    Keys ['a, K, V] ['a, K, V],
    Values ['a, K, V] ['a, K, V],
    IterMut ['a, K: Persistent, V: Persistent, S: Persistent] ['a, K, V, S],
    ValuesMut ['a, K: Persistent, V: Persistent, S: Persistent] ['a, K, V, S],
    OccupiedEntry ['a, K: Persistent, V: Persistent, S: Persistent] ['a, K, V, S],
    VacantEntry ['a, K: Persistent, V: Persistent, I, S: Persistent] ['a, K, V, I, S],
    Entry ['a, K: Persistent, V: Persistent, I, S: Persistent] ['a, K, V, I, S],
);
