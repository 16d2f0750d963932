//! `PBTreeMap<K, V>`: an ordered map in the pool with `BTreeMap`'s API, over the node engine
//! in `node.rs`. The header `{ root, height, len }` lives where the map lives.
//!
//! Every change runs in two phases. First the search (user `Ord`, which may panic) finds the
//! path, then the plan lists the edits the change needs — inserts, removals, splits into
//! freshly allocated nodes, rotations and merges — and **logs every byte range they will
//! write before the first write**, allocating any new nodes up front. A full pool or log
//! therefore fails before the tree changes, and the edits themselves are plain memory moves.
//! Fresh nodes (allocated by the current transaction) are never logged.
//!
//! This file holds the header, navigation, search, the public API and `Drop`. The two-phase
//! structural edits (`insert_at` with splits, `remove_at` with rotations and merges,
//! `rebalance`, the bulk builds) are in `map/edit.rs`; the entry API (`OccupiedEntry`,
//! `VacantEntry`) in `map/entry.rs`; the std trait impls in `map/traits.rs`; the
//! `Persistent` impl and the checks of a tree's shape (`Pool::check()`'s walk, `verify_tree`)
//! in `map/check.rs`.

#![allow(unsafe_code)]

mod check;
mod edit;
mod entry;
mod traits;

use crate::collections::equivalent::Comparable;
use crate::collections::lent;
pub use crate::collections::std_api::BTreeExtractIf as ExtractIf;
pub use entry::{Entry, OccupiedEntry, VacantEntry};
use std::marker::PhantomData;
use std::ops::RangeBounds;

use smallvec::SmallVec;

use super::iter::{
    Iter, IterMut, Keys, Range, RangeMut, RawRange, Values, ValuesMut, check_bounds,
};
use super::node::NodeRef;
use crate::collections::convert::IntoPersistent;
use crate::collections::handle::{self, off_of};
use crate::error::Result;
use crate::persistent::Persistent;
use crate::txn::core::PoolCore;

/// An ordered map in pool memory (a B-tree of up to 11 pairs per node).
///
/// ```
/// use pcoll::{PBTreeMap, PString, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { by_age: PBTreeMap<u64, PString> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// {
///     let mut root = pool.write();
///     root.by_age.insert(30, "alice");
///     root.by_age.insert(25, "bob");
///     root.by_age.insert(41, "carol");
/// }
/// let root = pool.read();
/// let young: Vec<&str> = root.by_age.range(..35).map(|(_, n)| n.as_str()).collect();
/// assert_eq!(young, ["bob", "alice"]);
/// assert_eq!(root.by_age.first_key_value().map(|(k, _)| *k), Some(25));
/// # Ok::<(), pcoll::Error>(())
/// ```
///
/// Keys and values that are pcoll handles, once removed, come back as handles outside pool
/// memory: store them again or drop them.
#[repr(C)]
pub struct PBTreeMap<K: Persistent, V: Persistent> {
    root: u64,
    /// The levels above the leaves, and [`RANKED`] for a map that keeps subtree counts.
    shape: u64,
    len: u64,
    _own: PhantomData<((K, V), *const ())>,
}

/// The bit of `shape` that marks a ranked map ([`PBTreeMap::ranked`]): its edges' counts are
/// kept, and positions are found by them.
const RANKED: u64 = 1 << 63;

/// A path from the root: at each level, a node's offset and the edge (or pair) index taken.
type Path = SmallVec<[(u64, usize); 8]>;

/// One planned edit: the node, its height, and the pairs and edges (offsets with counts) it
/// will write; or, with both ranges empty, only the count of edge `count`.
struct Span {
    off: u64,
    height: usize,
    pairs: (usize, usize),
    edges: (usize, usize),
    count: Option<usize>,
}

impl<K: Persistent, V: Persistent> Default for PBTreeMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Persistent, V: Persistent> PBTreeMap<K, V> {
    /// An empty map; it allocates on the first insert.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// assert!(map.is_empty());
    /// map.insert(1, 10);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub const fn new() -> Self {
        PBTreeMap {
            root: 0,
            shape: 0,
            len: 0,
            _own: PhantomData,
        }
    }

    /// An empty *ranked* map: each internal edge keeps the number of pairs under it, so
    /// positions cost one descent (O(log n)) where an ordinary map walks to them (O(k)):
    /// `iter().nth(k)`, `skip(k)`, `nth_back`, and `range(a..b).count()`, which makes a key's
    /// rank `range(..k).count()`. The price: each insert and removal also writes (and logs)
    /// one count per level above height 1 (random inserts about 1.45× an ordinary map's;
    /// BENCHMARKS.md, "Ranked B-trees"). The mark is kept in the pool and by `clone`,
    /// `split_off`, `retain`, `clear`, and `append` into an empty map (each map keeps its own
    /// kind); `Default` and deserialising make ordinary maps, which [`Self::set_ranked`]
    /// turns into ranked ones.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut scores: PBTreeMap<u64, u64> = PBTreeMap::ranked();
    /// scores.extend([(30, 3), (10, 1), (20, 2)]);
    /// assert_eq!(scores.range(..20).count(), 1); // the rank of 20
    /// assert_eq!(scores.iter().nth(2), Some((&30, &3)));
    /// assert!(scores.is_ranked());
    /// ```
    pub const fn ranked() -> Self {
        PBTreeMap {
            root: 0,
            shape: RANKED,
            len: 0,
            _own: PhantomData,
        }
    }

    /// True for a map made by [`Self::ranked`] (or cloned or split from one).
    pub fn is_ranked(&self) -> bool {
        self.shape & RANKED != 0
    }

    /// Makes this map ranked (`true`, see [`Self::ranked`]) or ordinary, in place. A map of
    /// more than one node is rebuilt: O(n), each pair moved bitwise into new nodes of the
    /// other layout (its blocks stay where they are) and the old nodes freed. This is how a
    /// map that deserialising, an import or an older build made ordinary becomes ranked.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = (0..1000).map(|x| (x, x)).collect();
    /// assert!(!map.is_ranked());
    /// map.set_ranked(true);
    /// assert!(map.is_ranked());
    /// assert_eq!(map.iter().nth(600), Some((&600, &600))); // one descent, not a walk
    /// ```
    pub fn set_ranked(&mut self, ranked: bool) {
        if self.is_ranked() == ranked {
            return;
        }
        if self.height() == 0 {
            // A single leaf, or none: leaves have the same layout in both kinds of tree. A
            // map handed out (lent) becomes a value of its own first, or its copy, made at
            // its next change, would not keep the mark.
            handle::own(self, self.root);
            self.shape ^= RANKED;
            return;
        }
        self.with_pool(|m, core| m.rebuild(core, &[], ranked))
            .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::set_ranked: {e}"));
    }

    /// Test support: levels above the leaves (0 for a single leaf or an empty map).
    #[doc(hidden)]
    pub fn height(&self) -> usize {
        (self.shape & !RANKED) as usize
    }

    /// An empty map, ranked if this one is.
    fn empty_like(&self) -> Self {
        if self.is_ranked() {
            Self::ranked()
        } else {
            Self::new()
        }
    }

    /// Sets the levels above the leaves, keeping the ranked mark.
    fn set_height(&mut self, h: u64) {
        self.shape = (self.shape & RANKED) | h;
    }

    /// Number of entries.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut a: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// assert_eq!(a.len(), 0);
    /// a.insert(1, 10);
    /// assert_eq!(a.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the map has no entries.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut a: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// assert!(a.is_empty());
    /// a.insert(1, 10);
    /// assert!(!a.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root node in pool `core` (this map's pool).
    #[inline]
    fn root_in<'a>(&self, core: &'a PoolCore) -> Option<NodeRef<'a, K, V>> {
        if self.root == 0 {
            return None;
        }
        // SAFETY: the map's invariants: `root` names its root node, `height` levels high.
        Some(unsafe { NodeRef::new(core, off_of(self.root), self.height(), self.is_ranked()) })
    }

    /// The count an iterator starts from: `len`, but never more pairs than the pool's bytes
    /// could hold, so a damaged count cannot make `collect()` ask for terabytes.
    fn iter_len(&self, core: Option<&PoolCore>) -> usize {
        let most = core.map_or(0, |c| c.mapped_len() as usize / size_of::<(K, V)>().max(1));
        self.len().min(most)
    }

    /// The root, for reading through `&self` (the map must be in pool memory).
    #[inline]
    fn view(&self) -> Option<(&PoolCore, NodeRef<'_, K, V>)> {
        if self.len == 0 {
            return None;
        }
        let this = if lent::is_lent(self.root) {
            self.lent_target()
        } else {
            self
        };
        let core = handle::home(this, this.root, "PBTreeMap");
        Some((core, this.root_in(core)?))
    }

    /// A map handed out reads its copy (see `lent.rs`); out of line, so that `view` stays
    /// small in every lookup.
    #[cold]
    #[inline(never)]
    fn lent_target(&self) -> &Self {
        lent::target(self, self.root)
    }

    /// The node at `off` on a path, `depth` levels below the root.
    #[inline]
    fn node_at<'a>(&self, core: &'a PoolCore, off: u64, depth: usize) -> NodeRef<'a, K, V> {
        let height = (self.height()).checked_sub(depth);
        let height = height.expect("pcoll: PBTreeMap path deeper than the tree");
        // SAFETY: paths are built by descending this tree, so `off` is a node `depth` levels
        // down, that is at `height`.
        unsafe { NodeRef::new(core, off, height, self.is_ranked()) }
    }

    /// Runs `f` with this map's pool, for a change. Panics without a write transaction.
    #[inline]
    fn with_pool<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        handle::own(self, self.root);
        let (addr, raw) = (self as *const Self as usize, self.root);
        handle::with_writer_at(addr, raw, "PBTreeMap", |core| f(self, core))
    }

    /// [`with_pool`](Self::with_pool) for methods handing out `&mut` into the nodes: the
    /// map must be in pool memory, so its pool outlives the borrow.
    #[inline]
    fn with_home<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        handle::own(self, self.root);
        let (addr, raw) = (self as *const Self as usize, self.root);
        handle::with_home_at(addr, raw, "PBTreeMap", |core| f(self, core))
    }

    /// The path to the first (`last == false`) or last pair.
    fn end_path(&self, core: &PoolCore, last: bool) -> Option<Path> {
        let mut n = self.root_in(core)?;
        let mut path = Path::new();
        loop {
            let len = n.len();
            if n.is_leaf() {
                if len == 0 {
                    return None;
                }
                path.push((n.off(), if last { len - 1 } else { 0 }));
                return Some(path);
            }
            let e = if last { len } else { 0 };
            path.push((n.off(), e));
            n = n.edge(e);
        }
    }

    /// Removes and returns the first pair.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(2, 20), (1, 10)]);
    /// assert_eq!(map.pop_first(), Some((1, 10)));
    /// assert_eq!(map.pop_first(), Some((2, 20)));
    /// assert_eq!(map.pop_first(), None);
    /// assert!(map.is_empty());
    /// ```
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        if self.len == 0 {
            return None;
        }
        let kv = self.with_pool(|m, core| {
            let path = m.end_path(core, false)?;
            Some(
                m.remove_at(core, &path)
                    .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::pop_first: {e}")),
            )
        });
        kv.map(handle::detach)
    }

    /// Removes and returns the last pair.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10), (2, 20)]);
    /// assert_eq!(map.pop_last(), Some((2, 20)));
    /// assert_eq!(map.pop_last(), Some((1, 10)));
    /// assert_eq!(map.pop_last(), None);
    /// assert!(map.is_empty());
    /// ```
    pub fn pop_last(&mut self) -> Option<(K, V)> {
        if self.len == 0 {
            return None;
        }
        let kv = self.with_pool(|m, core| {
            let path = m.end_path(core, true)?;
            Some(
                m.remove_at(core, &path)
                    .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::pop_last: {e}")),
            )
        });
        kv.map(handle::detach)
    }

    /// The first pair.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// assert_eq!(map.first_key_value(), None);
    /// map.insert(2, 20);
    /// map.insert(1, 10);
    /// assert_eq!(map.first_key_value(), Some((&1, &10)));
    /// ```
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.iter().next()
    }

    /// The last pair.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// assert_eq!(map.last_key_value(), None);
    /// map.insert(1, 10);
    /// map.insert(2, 20);
    /// assert_eq!(map.last_key_value(), Some((&2, &20)));
    /// ```
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.iter().next_back()
    }

    /// Removes every entry, dropping them, and frees every node.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut a: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10), (2, 20)]);
    /// a.clear();
    /// assert!(a.is_empty());
    /// assert_eq!(a.first_key_value(), None);
    /// ```
    pub fn clear(&mut self) {
        if self.root == 0 {
            return;
        }
        self.with_pool(|m, core| {
            let root = m.root_in(core).expect("a root");
            Self::drop_subtree(core, root);
            (m.root, m.len) = (0, 0);
            m.set_height(0);
        });
    }

    /// Drops every pair under `n` in place and frees its nodes (deferred to commit).
    fn drop_subtree(core: &PoolCore, n: NodeRef<'_, K, V>) {
        let len = n.len();
        if !n.is_leaf() {
            (0..=len).for_each(|i| Self::drop_subtree(core, n.edge(i)));
        }
        if std::mem::needs_drop::<(K, V)>() {
            for i in 0..len {
                let (kp, vp) = (n.key_ptr(i), n.val_ptr(i));
                // SAFETY: pairs below len are initialised and dropped exactly once, here; the
                // node is freed right after.
                unsafe {
                    handle::drop_at::<K>(core, core.offset_of(kp.cast()))
                        .and_then(|()| handle::drop_at::<V>(core, core.offset_of(vp.cast())))
                        .unwrap_or_else(|e| panic!("pcoll: PBTreeMap drop: {e}"));
                }
            }
        }
        core.tx().free(n.off());
    }

    /// The pool of a map in pool memory, for the whole mutable borrow.
    /// The pool of this map's nodes, with its root's offset, height and mark as `with_home`
    /// leaves them: read before it, they could name another pool's nodes (a copy left over
    /// from a rolled-back transaction becomes a copy of its own in the scratch pool there).
    fn home_root(&mut self) -> (&PoolCore, u64, usize, bool) {
        let (p, root, height, ranked) = self.with_home(|m, core| {
            let p = core as *const PoolCore;
            (p, off_of(m.root), m.height(), m.is_ranked())
        });
        // SAFETY: the map lies in this pool's memory (with_home checked), so the pool lives at
        // least as long as the borrow of the map the result is tied to.
        (unsafe { &*p }, root, height, ranked)
    }

    /// An iterator over the entries, in key order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let map: PBTreeMap<u64, u64> = PBTreeMap::from([(3, 30), (2, 20), (1, 10)]);
    /// let v: Vec<(u64, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
    /// assert_eq!(v, [(1, 10), (2, 20), (3, 30)]); // in key order
    /// let (first_key, first_value) = map.iter().next().unwrap();
    /// assert_eq!((*first_key, *first_value), (1, 10));
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        let view = self.view();
        let left = self.iter_len(view.as_ref().map(|v| v.0));
        let raw = match view {
            // SAFETY: the root is a node of this tree; no bound is compared.
            Some((core, root)) => RawRange::full(root, core),
            None => RawRange::empty(),
        };
        Iter {
            inner: Range { raw },
            left,
        }
    }

    /// An iterator over the keys, in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let map: PBTreeMap<u64, u64> = PBTreeMap::from([(2, 20), (1, 10)]);
    /// let keys: Vec<u64> = map.keys().cloned().collect();
    /// assert_eq!(keys, [1, 2]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// An iterator over the values, in key order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let map: PBTreeMap<u64, u64> = PBTreeMap::from([(2, 20), (1, 10)]);
    /// let values: Vec<u64> = map.values().cloned().collect();
    /// assert_eq!(values, [10, 20]);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// An iterator over the entries with mutable values, each logged as it is handed out.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 1), (2, 2), (3, 3)]);
    /// for (key, value) in map.iter_mut() {
    ///     *value += key * 10;
    /// }
    /// assert!(map.values().eq([11, 22, 33].iter()));
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        let left = self.iter_len(self.view().map(|v| v.0));
        IterMut {
            inner: self.full_mut(),
            left,
        }
    }

    /// An iterator over mutable values (each logged as it is handed out).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 1), (2, 2)]);
    /// for value in map.values_mut() {
    ///     *value += 10;
    /// }
    /// assert!(map.values().eq([11, 12].iter()));
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut {
            inner: self.iter_mut(),
        }
    }

    /// A mutable range over the tree, from `make(root, core)`.
    fn raw_mut<'a>(
        &'a mut self,
        make: impl FnOnce(NodeRef<'a, K, V>, &'a PoolCore) -> RawRange<'a, K, V>,
    ) -> RangeMut<'a, K, V> {
        if self.len == 0 {
            return RangeMut {
                raw: RawRange::empty(),
                note: handle::hand_out::<V>,
                _m: PhantomData,
            };
        }
        let (core, root, height, ranked) = self.home_root();
        // SAFETY: the map's root node, `height` levels high.
        let root = unsafe { NodeRef::new(core, root, height, ranked) };
        RangeMut {
            raw: make(root, core),
            note: handle::hand_out::<V>,
            _m: PhantomData,
        }
    }

    fn full_mut(&mut self) -> RangeMut<'_, K, V> {
        self.raw_mut(RawRange::full)
    }
}

impl<K: Persistent + Ord, V: Persistent> PBTreeMap<K, V> {
    /// The path to `q`: `(path, true)` ending at its pair, or `(path, false)` ending at the
    /// leaf edge where it would go (empty for an empty tree).
    fn search_path<Q>(&self, core: &PoolCore, q: &Q) -> (Path, bool)
    where
        Q: Comparable<K> + ?Sized,
    {
        let mut path = Path::new();
        let Some(mut n) = self.root_in(core) else {
            return (path, false);
        };
        loop {
            match n.search(q) {
                Ok(i) => {
                    path.push((n.off(), i));
                    return (path, true);
                }
                Err(i) => {
                    path.push((n.off(), i));
                    if n.is_leaf() {
                        return (path, false);
                    }
                    n = n.edge(i);
                }
            }
        }
    }

    /// The node and index of `q`'s pair (the map must be in pool memory when not empty).
    #[inline]
    fn find<Q>(&self, q: &Q) -> Option<(NodeRef<'_, K, V>, usize)>
    where
        Q: Comparable<K> + ?Sized,
    {
        let (_, mut n) = self.view()?;
        loop {
            match n.search(q) {
                Ok(i) => return Some((n, i)),
                Err(_) if n.is_leaf() => return None,
                Err(i) => n = n.edge(i),
            }
        }
    }

    /// The value of `k`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<PString, u64> = PBTreeMap::new();
    /// map.insert("a", 1);
    /// assert_eq!(map.get("a"), Some(&1)); // looked up by &str
    /// assert_eq!(map.get("b"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        Q: Comparable<K> + ?Sized,
    {
        self.find(k).map(|(n, i)| n.val(i))
    }

    /// The stored key and the value of `k`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<PString, u64> = PBTreeMap::new();
    /// map.insert("a", 1);
    /// let (k, v) = map.get_key_value("a").unwrap();
    /// assert_eq!((k.as_str(), *v), ("a", 1));
    /// assert!(map.get_key_value("b").is_none());
    /// ```
    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        Q: Comparable<K> + ?Sized,
    {
        self.find(k).map(|(n, i)| (n.key(i), n.val(i)))
    }

    /// True when the map holds `k`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// map.insert(1, 10);
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        Q: Comparable<K> + ?Sized,
    {
        self.find(k).is_some()
    }

    /// A pointer to the value of pair `i` of node `off`, logged (for `&mut V`).
    fn value_ptr(core: &PoolCore, n: NodeRef<'_, K, V>, i: usize) -> Result<*mut V> {
        assert!(i < n.len());
        let p = n.val_ptr(i);
        let mut tx = core.tx();
        if size_of::<V>() > 0 && !tx.is_fresh(n.off()) {
            tx.log_ptr(p.cast(), size_of::<V>())?;
        }
        Ok(p)
    }

    /// The value at the end of `path` (a pair), mutably and logged.
    fn value_mut_at(&mut self, path: &Path, what: &str) -> &mut V {
        let p = self.with_home(|m, core| {
            let d = path.len() - 1;
            let p = Self::value_ptr(core, m.node_at(core, path[d].0, d), path[d].1)?;
            handle::hand_out(core, path[d].0, p, 1);
            Ok::<_, crate::Error>(p)
        });
        let p = p.unwrap_or_else(|e| panic!("pcoll: PBTreeMap::{what}: {e}"));
        // SAFETY: an initialised, logged value; exclusive through `&mut self`, whose pool
        // (holding the map, with_home) outlives the borrow.
        unsafe { &mut *p }
    }

    /// The value of `k`, mutably (only it is logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// map.insert(1, 10);
    /// if let Some(x) = map.get_mut(&1) {
    ///     *x = 20;
    /// }
    /// assert_eq!(map[&1], 20);
    /// ```
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        Q: Comparable<K> + ?Sized,
    {
        if self.len == 0 {
            return None;
        }
        let (path, found) = self.with_home(|m, core| m.search_path(core, k));
        found.then(|| self.value_mut_at(&path, "get_mut"))
    }

    /// Inserts `k → v`; returns the previous value (the stored key is kept, as in
    /// `BTreeMap`).
    ///
    /// # Panics
    /// When the pool is full (see [`try_insert`](Self::try_insert)).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<u64, PString> = PBTreeMap::new();
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
        I::Probe: Comparable<K>,
    {
        self.try_insert(k, v)
            .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::insert: {e}"))
    }

    /// [`insert`](Self::insert), returning `Error::OutOfSpace` when the pool is full (the
    /// map is then unchanged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<u64, PString> = PBTreeMap::new();
    /// assert_eq!(map.try_insert(37, "a")?, None);
    /// assert_eq!(map.try_insert(37, "b")?.unwrap(), "a");
    /// assert_eq!(map[&37], "b");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert<I, W>(&mut self, k: I, v: W) -> Result<Option<V>>
    where
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Comparable<K>,
    {
        self.with_pool(|m, core| {
            let (path, found) = m.search_path(core, k.probe());
            if found {
                let v = handle::convert_in(v, core)?;
                let d = path.len() - 1;
                let p = Self::value_ptr(core, m.node_at(core, path[d].0, d), path[d].1)?;
                // SAFETY: an initialised, logged value; the old one moves out.
                return Ok(Some(unsafe { std::ptr::replace(p, v) }));
            }
            let (k, v) = (handle::convert_in(k, core)?, handle::convert_in(v, core)?);
            m.insert_at(core, &path, k, v).map(|_| None)
        })
        .map(|old| old.map(handle::detach))
    }

    /// Removes `k`; returns its value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// map.insert(1, 10);
    /// assert_eq!(map.remove(&1), Some(10));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        Q: Comparable<K> + ?Sized,
    {
        self.remove_entry(k).map(|(_, v)| v)
    }

    /// Removes `k`; returns the stored key and its value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<PString, u64> = PBTreeMap::new();
    /// map.insert("a", 1);
    /// let (k, v) = map.remove_entry("a").unwrap();
    /// assert_eq!((k.as_str(), v), ("a", 1));
    /// assert_eq!(map.remove_entry("a"), None);
    /// ```
    pub fn remove_entry<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        Q: Comparable<K> + ?Sized,
    {
        if self.len == 0 {
            return None;
        }
        let kv = self.with_pool(|m, core| {
            let (path, found) = m.search_path(core, k);
            found.then(|| {
                m.remove_at(core, &path)
                    .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::remove: {e}"))
            })
        });
        kv.map(handle::detach)
    }

    /// The entry of the smallest key, if any (as `BTreeMap::first_entry`).
    ///
    /// ```
    /// let mut m: pcoll::PBTreeMap<u64, u64> = [(1, 10), (2, 20)].into();
    /// if let Some(mut e) = m.first_entry() {
    ///     *e.get_mut() += 1;
    /// }
    /// assert_eq!(m.last_entry().map(|e| e.remove()), Some(20));
    /// assert_eq!(m.into_iter().collect::<Vec<_>>(), [(1, 11)]);
    /// ```
    pub fn first_entry(&mut self) -> Option<OccupiedEntry<'_, K, V>> {
        self.end_entry(false)
    }

    /// The entry of the largest key, if any (as `BTreeMap::last_entry`).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10), (2, 20)]);
    /// if let Some(mut entry) = map.last_entry() {
    ///     *entry.get_mut() += 1;
    /// }
    /// assert_eq!(map[&2], 21);
    /// assert_eq!(map.last_entry().map(|e| e.remove_entry()), Some((2, 21)));
    /// ```
    pub fn last_entry(&mut self) -> Option<OccupiedEntry<'_, K, V>> {
        self.end_entry(true)
    }

    fn end_entry(&mut self, last: bool) -> Option<OccupiedEntry<'_, K, V>> {
        if self.len == 0 {
            return None;
        }
        let path = self.with_home(|m, core| m.end_path(core, last))?;
        Some(OccupiedEntry { map: self, path })
    }

    /// The entry of `key`, for in-place changes.
    ///
    /// ```
    /// # use pcoll::{PBTreeMap, PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { words: PBTreeMap<PString, u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// for w in "b a b c b".split(' ') {
    ///     *root.words.entry(w).or_insert(0) += 1;
    /// }
    /// let counts: Vec<(&str, u64)> = root.words.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    /// assert_eq!(counts, [("a", 1), ("b", 3), ("c", 1)]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn entry<I>(&mut self, key: I) -> Entry<'_, K, V, I>
    where
        I: IntoPersistent<K>,
        I::Probe: Comparable<K>,
    {
        let (path, found) = self.with_home(|m, core| m.search_path(core, key.probe()));
        if found {
            Entry::Occupied(OccupiedEntry { map: self, path })
        } else {
            Entry::Vacant(VacantEntry {
                map: self,
                path,
                key,
            })
        }
    }

    /// The entries with keys in `range`, in order.
    ///
    /// # Panics
    /// As std: when the start lies after the end, or both are equal and excluded.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let map: PBTreeMap<u64, u64> = PBTreeMap::from([(3, 30), (5, 50), (8, 80)]);
    /// let keys: Vec<u64> = map.range(4..=8).map(|(k, _)| *k).collect();
    /// assert_eq!(keys, [5, 8]);
    /// assert_eq!(Some((&5, &50)), map.range(4..).next());
    /// assert_eq!(Some((&3, &30)), map.range(..5).next_back());
    /// ```
    pub fn range<Q, R>(&self, range: R) -> Range<'_, K, V>
    where
        Q: Ord + Comparable<K> + ?Sized,
        R: RangeBounds<Q>,
    {
        let (lo, hi) = (range.start_bound(), range.end_bound());
        check_bounds(lo, hi);
        match self.view() {
            Some((core, root)) => Range {
                raw: RawRange::new(root, core, lo, hi),
            },
            None => Range {
                raw: RawRange::empty(),
            },
        }
    }

    /// The entries with keys in `range`, values mutable (each logged as it is handed out).
    ///
    /// # Panics
    /// As [`range`](Self::range).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 0), (2, 0), (3, 0)]);
    /// for (_, balance) in map.range_mut(2..) {
    ///     *balance += 100;
    /// }
    /// assert!(map.values().eq([0, 100, 100].iter()));
    /// ```
    pub fn range_mut<Q, R>(&mut self, range: R) -> RangeMut<'_, K, V>
    where
        Q: Ord + Comparable<K> + ?Sized,
        R: RangeBounds<Q>,
    {
        let (lo, hi) = (range.start_bound(), range.end_bound());
        check_bounds(lo, hi);
        self.raw_mut(|root, core| RawRange::new(root, core, lo, hi))
    }

    /// Keeps the entries for which `f` returns true, visiting them in key order. Each value
    /// is logged before `f` sees it; when some go, the tree is rebuilt into fresh nodes
    /// (O(n), no per-entry log entries).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut map: PBTreeMap<u64, u64> = (0..8).map(|x| (x, x * 10)).collect();
    /// // Keep only the elements with even-numbered keys.
    /// map.retain(|&k, _| k % 2 == 0);
    /// assert!(map.into_iter().eq([(0, 0), (2, 20), (4, 40), (6, 60)]));
    /// ```
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, mut f: F) {
        let keep: Vec<bool> = self.iter_mut().map(|(k, v)| f(k, v)).collect();
        if keep.iter().all(|&k| k) {
            return;
        }
        self.with_pool(|m, core| m.rebuild(core, &keep, m.is_ranked()))
            .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::retain: {e}"));
    }

    /// Moves every entry of `other` into this map (a value of `other` wins over this map's
    /// for an equal key, as in std). O(m log n); when this map is empty the two just swap.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut a: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10), (2, 20), (3, 30)]);
    /// let mut b: PBTreeMap<u64, u64> = PBTreeMap::from([(3, 31), (4, 40)]);
    /// a.append(&mut b);
    /// assert_eq!(a.len(), 4);
    /// assert_eq!(b.len(), 0);
    /// assert_eq!(a[&3], 31); // `b`'s value wins
    /// ```
    pub fn append(&mut self, other: &mut PBTreeMap<K, V>) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            // The trees swap. If `other`'s lives in another pool, `self` (reached through a
            // noted `&mut`, or outside pool memory) is moved into its pool at commit. Each
            // map keeps its own kind (ranked or not).
            let (ranked, other_ranked) = (self.is_ranked(), other.is_ranked());
            std::mem::swap(self, other);
            other.set_ranked(other_ranked);
            return self.set_ranked(ranked);
        }
        // A map handed out (lent) becomes a value of its own first.
        let root = other.root;
        handle::own(other, root);
        while !other.is_empty() {
            // Searched while the key is still in `other` (a handle key moved out of pool
            // memory could not be read). `other` may lie outside pool memory: its first key is
            // read through its transaction's pool, only for this search.
            let (addr, raw) = (other as *const Self as usize, other.root);
            let (path, found) = handle::with_writer_at(addr, raw, "PBTreeMap", |core| {
                let first = other.end_path(core, false).expect("not empty");
                let d = first.len() - 1;
                let k = other.node_at(core, first[d].0, d).key(0);
                self.with_pool(|m, core| m.search_path(core, k))
            });
            let (mut k, mut v) = other.pop_first().expect("not empty");
            self.with_pool(|m, core| -> Result<()> {
                handle::store(&mut k, core)?;
                handle::store(&mut v, core)?;
                if found {
                    let d = path.len() - 1;
                    let p = Self::value_ptr(core, m.node_at(core, path[d].0, d), path[d].1)?;
                    // SAFETY: an initialised, logged value; the old one is dropped.
                    handle::drop_owned(unsafe { std::ptr::replace(p, v) });
                    drop(k);
                    Ok(())
                } else {
                    m.insert_at(core, &path, k, v).map(|_| ())
                }
            })
            .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::append: {e}"));
        }
    }

    /// Splits off the entries with keys at or after `key` into a new map, in process memory
    /// until it is stored. O(m log n) for m entries moved.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    ///
    /// let mut a: PBTreeMap<u64, u64> = (1..=5).map(|k| (k, k * 10)).collect();
    /// let b = a.split_off(&3);
    /// assert!(a.keys().eq([1, 2].iter()));
    /// assert!(b.keys().eq([3, 4, 5].iter()));
    /// ```
    pub fn split_off<Q>(&mut self, key: &Q) -> PBTreeMap<K, V>
    where
        Q: Comparable<K> + ?Sized,
    {
        let mut tail = Vec::new();
        while self
            .last_key_value()
            .is_some_and(|(k, _)| key.compare(k).is_le())
        {
            tail.push(self.pop_last().expect("not empty"));
        }
        let mut out = self.empty_like();
        if tail.is_empty() {
            return out;
        }
        out.with_pool(|m, core| {
            let mut res = Ok(());
            for (k, v) in tail.into_iter().rev() {
                if res.is_ok() {
                    res = m.bulk_push(core, k, v);
                }
            }
            m.bulk_finish(core);
            res
        })
        .unwrap_or_else(|e| panic!("pcoll: PBTreeMap::split_off: {e}"));
        out
    }
}

impl<K: Persistent, V: Persistent> Drop for PBTreeMap<K, V> {
    fn drop(&mut self) {
        if self.root == 0 {
            return;
        }
        let (raw, height, ranked) = (self.root, self.height(), self.is_ranked());
        // Outside pool memory with its transaction gone, the nodes leak (check() says so).
        handle::with_core(&*self, raw, |core| {
            // SAFETY: the map's root node, `height` levels high.
            let root = unsafe { NodeRef::new(core, off_of(raw), height, ranked) };
            Self::drop_subtree(core, root);
        });
    }
}

crate::collections::phashmap::opaque_debug!(
    OccupiedEntry ['a, K: Persistent, V: Persistent] ['a, K, V],
    VacantEntry ['a, K: Persistent, V: Persistent, I] ['a, K, V, I],
    Entry ['a, K: Persistent, V: Persistent, I] ['a, K, V, I],
);
