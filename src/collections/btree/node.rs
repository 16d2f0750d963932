//! The raw node engine under `PBTreeMap`: B-tree nodes in pool blocks, typed references to
//! them, and the memory moves of inserts, removals, splits, merges and rotations. It knows
//! nothing of transactions: the front (`map.rs`) logs the ranges each edit names before it
//! calls it.
//!
//! A node holds up to `CAP` = 11 key-value pairs in sorted order (std's B = 6); an internal
//! node also holds `len + 1` child offsets, and in a ranked tree the number of pairs under
//! each child (so ranks and positions are found in one descent). Every node but the root
//! holds at least `MIN` = 5.
//! There are no parent pointers: a split or merge then changes only the nodes on its path,
//! never the children whose parent moved, and descent carries its path instead.
//!
//! The tree is untrusted on open: a node reference checks its block's bounds (`PoolCore::ptr`)
//! and its `len` on every access, and descent stops at `MAX_HEIGHT`; a damaged tree panics
//! clearly or is reported by `Pool::check()`, never read out of bounds.

#![allow(unsafe_code)]

use crate::collections::equivalent::Comparable;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::txn::core::PoolCore;

pub(crate) const B: usize = 6;
/// Most pairs in a node.
pub(crate) const CAP: usize = 2 * B - 1;
/// Fewest pairs in a node other than the root.
pub(crate) const MIN: usize = B - 1;
/// Taller trees are damaged: with at least 6 children per internal node, 26 levels exceed
/// 2^64 entries.
pub(crate) const MAX_HEIGHT: usize = 26;

/// A leaf: the pairs.
#[repr(C)]
pub(crate) struct Leaf<K, V> {
    len: u16,
    keys: [MaybeUninit<K>; CAP],
    vals: [MaybeUninit<V>; CAP],
}

/// An internal node: the pairs, then `len + 1` child offsets (child `i` holds the keys
/// between key `i - 1` and key `i`).
#[repr(C)]
pub(crate) struct Internal<K, V> {
    data: Leaf<K, V>,
    edges: [u64; CAP + 1],
}

/// An internal node of a ranked tree: an internal node, then the number of pairs under each
/// child. The counts come last so that the rest of the layout is an ordinary node's, and
/// descent reads the same lines in both (an unranked tree's nodes do not grow).
#[repr(C)]
pub(crate) struct RankedInternal<K, V> {
    node: Internal<K, V>,
    counts: [u64; CAP + 1],
}

/// A child as it moves between nodes: its offset and, in a ranked tree above height 1, the
/// pairs under it (0 where counts are not kept). Every move of an edge moves its count with
/// it; only the edits that change a subtree's size write a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub off: u64,
    pub count: u64,
}

/// Size and alignment of a node block at `height` (0 = leaf) of a tree, ranked or not.
pub(crate) fn node_layout<K, V>(height: usize, ranked: bool) -> (usize, usize) {
    match (height, ranked) {
        (0, _) => (size_of::<Leaf<K, V>>(), align_of::<Leaf<K, V>>()),
        (_, false) => (size_of::<Internal<K, V>>(), align_of::<Internal<K, V>>()),
        (_, true) => (
            size_of::<RankedInternal<K, V>>(),
            align_of::<RankedInternal<K, V>>(),
        ),
    }
}

/// A reference to the node at pool offset `off`, `height` levels above the leaves.
pub(crate) struct NodeRef<'a, K, V> {
    core: &'a PoolCore,
    /// The node's block, bounds-checked once in `new`.
    ptr: *mut Leaf<K, V>,
    off: u64,
    height: usize,
    /// The tree keeps counts: an internal node's block holds them (`RankedInternal`).
    ranked: bool,
    _m: PhantomData<&'a (K, V)>,
}

impl<K, V> Clone for NodeRef<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for NodeRef<'_, K, V> {}

impl<K, V> PartialEq for NodeRef<'_, K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.off == other.off
    }
}

impl<'a, K, V> NodeRef<'a, K, V> {
    /// A reference to the node at `off` of `core`.
    ///
    /// # Safety
    /// `off` names a node block of this height (a leaf when 0) of a tree of `K, V` in `core`,
    /// ranked or not as `ranked` says, whose first `len` pairs (and `len + 1` edges) are
    /// initialised; references made from it follow the borrow the caller holds on the tree
    /// for `'a`. Each access still checks bounds and `len`, so a damaged node panics instead
    /// of reading outside the pool.
    #[inline]
    pub(crate) unsafe fn new(core: &'a PoolCore, off: u64, height: usize, ranked: bool) -> Self {
        assert!(
            height < MAX_HEIGHT,
            "pcoll: PBTreeMap of height {height}: the pool is damaged"
        );
        let (size, align) = node_layout::<K, V>(height, ranked);
        let ptr = core.ptr_aligned(off, size, align).cast();
        NodeRef {
            core,
            ptr,
            off,
            height,
            ranked,
            _m: PhantomData,
        }
    }

    /// True when the tree keeps counts.
    #[inline]
    pub(crate) fn ranked(&self) -> bool {
        self.ranked
    }

    #[inline]
    pub(crate) fn off(&self) -> u64 {
        self.off
    }

    #[inline]
    pub(crate) fn height(&self) -> usize {
        self.height
    }

    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        self.height == 0
    }

    #[inline]
    fn leaf(&self) -> *mut Leaf<K, V> {
        self.ptr
    }

    #[inline]
    fn internal(&self) -> *mut Internal<K, V> {
        assert!(self.height > 0, "an internal node");
        self.leaf().cast()
    }

    /// Pairs in the node.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        // SAFETY: the block is in bounds (leaf()); len is a plain u16.
        let n = usize::from(unsafe { (*self.leaf()).len });
        assert!(
            n <= CAP,
            "pcoll: PBTreeMap node of {n} pairs: the pool is damaged"
        );
        n
    }

    pub(crate) fn len_ptr(&self) -> *mut u8 {
        // SAFETY: a field of an in-bounds block; no reference is made.
        unsafe { (&raw mut (*self.leaf()).len).cast() }
    }

    /// Pointer to key slot `i` (initialised only below `len`).
    #[inline]
    pub(crate) fn key_ptr(&self, i: usize) -> *mut K {
        assert!(i < CAP);
        // SAFETY: i < CAP is inside the keys array of an in-bounds block.
        unsafe { (&raw mut (*self.leaf()).keys).cast::<K>().add(i) }
    }

    /// Pointer to value slot `i` (initialised only below `len`).
    #[inline]
    pub(crate) fn val_ptr(&self, i: usize) -> *mut V {
        assert!(i < CAP);
        // SAFETY: as for key_ptr.
        unsafe { (&raw mut (*self.leaf()).vals).cast::<V>().add(i) }
    }

    /// Pointer to edge slot `i` of an internal node.
    #[inline]
    pub(crate) fn edge_ptr(&self, i: usize) -> *mut u64 {
        assert!(i <= CAP);
        // SAFETY: i <= CAP is inside the edges array of an in-bounds internal block.
        unsafe { (&raw mut (*self.internal()).edges).cast::<u64>().add(i) }
    }

    /// Pointer to the pair count of edge `i` of an internal node of a ranked tree.
    #[inline]
    pub(crate) fn count_ptr(&self, i: usize) -> *mut u64 {
        assert!(
            i <= CAP && self.ranked && self.height > 0,
            "a ranked internal node"
        );
        let node = self.leaf().cast::<RankedInternal<K, V>>();
        // SAFETY: a ranked internal node's block holds the counts (bounds-checked in `new`
        // with `RankedInternal`'s size); i <= CAP is inside the array.
        unsafe { (&raw mut (*node).counts).cast::<u64>().add(i) }
    }

    /// Edge `i` as it moves: its offset, and its count where the tree keeps one.
    fn edge_at(&self, i: usize) -> Edge {
        // SAFETY: an in-bounds edge slot; plain integers.
        let off = unsafe { self.edge_ptr(i).read() };
        let count = if self.keeps_counts() {
            // SAFETY: as for the offset.
            unsafe { self.count_ptr(i).read() }
        } else {
            0
        };
        Edge { off, count }
    }

    /// Writes edge `i` (its count only where the tree keeps counts).
    fn put_edge(&self, i: usize, e: Edge) {
        // SAFETY: an in-bounds edge slot; plain integers.
        unsafe { self.edge_ptr(i).write(e.off) };
        if self.keeps_counts() {
            // SAFETY: as for the offset.
            unsafe { self.count_ptr(i).write(e.count) }
        }
    }

    /// The pairs under child `i` of an internal node (of a ranked tree), as recorded (a
    /// damaged pool may lie: callers use it for arithmetic only, never for bounds). Above
    /// the leaves it is the leaf's own `len`: the counts that every insert and removal would
    /// change in a node picked at random are not kept (nor logged), and a rank reads up to
    /// 11 leaf headers instead.
    #[inline]
    pub(crate) fn count(&self, i: usize) -> u64 {
        assert!(i <= self.len());
        if self.height == 1 {
            return self.edge(i).len() as u64;
        }
        if !self.ranked {
            return 0;
        }
        // SAFETY: edges up to len are initialised plain integers.
        unsafe { self.count_ptr(i).read() }
    }

    /// True where edges keep their counts: internal nodes of ranked trees above height 1
    /// (see `count`).
    #[inline]
    pub(crate) fn keeps_counts(&self) -> bool {
        self.ranked && self.height > 1
    }

    /// Adds `d` (wrapping: a subtraction is a wrapped negative) to child `i`'s pair count.
    #[inline]
    pub(crate) fn add_count(&self, i: usize, d: u64) {
        assert!(i <= self.len());
        if self.keeps_counts() {
            let p = self.count_ptr(i);
            // SAFETY: as for count; a plain u64 write within the edge slot.
            unsafe { p.write(p.read().wrapping_add(d)) }
        }
    }

    /// Sets child `i`'s pair count.
    #[inline]
    pub(crate) fn set_count(&self, i: usize, c: u64) {
        assert!(i <= self.len());
        if self.keeps_counts() {
            // SAFETY: as for add_count.
            unsafe { self.count_ptr(i).write(c) }
        }
    }

    /// Pairs in this node's subtree: its own and its children's recorded counts.
    pub(crate) fn size(&self) -> u64 {
        let n = self.len();
        if self.is_leaf() {
            return n as u64;
        }
        (0..=n).fold(n as u64, |s, i| s.wrapping_add(self.count(i)))
    }

    #[inline]
    pub(crate) fn key(&self, i: usize) -> &'a K {
        assert!(i < self.len());
        // SAFETY: below len, initialised (new's contract), for the tree's borrow 'a.
        unsafe { &*self.key_ptr(i) }
    }

    #[inline]
    pub(crate) fn val(&self, i: usize) -> &'a V {
        assert!(i < self.len());
        // SAFETY: as for key.
        unsafe { &*self.val_ptr(i) }
    }

    /// Child `i` of an internal node.
    #[inline]
    pub(crate) fn edge(&self, i: usize) -> NodeRef<'a, K, V> {
        assert!(i <= self.len());
        // SAFETY: edges up to len are initialised; the child is a node one level down.
        unsafe { NodeRef::new(self.core, *self.edge_ptr(i), self.height - 1, self.ranked) }
    }

    /// `Ok(i)` when key `i` equals `q`, else `Err(i)`: the edge (or leaf gap) where `q` would
    /// go. A linear scan, as in std: nodes are small.
    #[inline]
    pub(crate) fn search<Q>(&self, q: &Q) -> Result<usize, usize>
    where
        Q: Comparable<K> + ?Sized,
    {
        let n = self.len();
        // SAFETY: the first `len` keys are initialised (new's contract), for the borrow 'a.
        let keys = unsafe { std::slice::from_raw_parts(self.key_ptr(0).cast_const(), n) };
        for (i, k) in keys.iter().enumerate() {
            match q.compare(k) {
                std::cmp::Ordering::Greater => {}
                std::cmp::Ordering::Equal => return Ok(i),
                std::cmp::Ordering::Less => return Err(i),
            }
        }
        Err(n)
    }

    fn set_len(&self, n: usize) {
        debug_assert!(n <= CAP);
        // SAFETY: in bounds; a plain u16.
        unsafe { (*self.leaf()).len = n as u16 }
    }

    /// Moves `count` pairs from `from` to `to` within the node (overlap allowed).
    unsafe fn move_pairs(&self, from: usize, to: usize, count: usize) {
        if count == 0 {
            return;
        }
        assert!(from + count <= CAP && to + count <= CAP);
        // SAFETY: both ranges lie in the arrays (asserted); the caller owns the pairs moved.
        unsafe {
            std::ptr::copy(self.key_ptr(from), self.key_ptr(to), count);
            std::ptr::copy(self.val_ptr(from), self.val_ptr(to), count);
        }
    }

    unsafe fn move_edges(&self, from: usize, to: usize, count: usize) {
        if count == 0 {
            return;
        }
        assert!(from + count <= CAP + 1 && to + count <= CAP + 1);
        // SAFETY: both ranges lie in the edges array (asserted), and in the counts array
        // where the node keeps counts.
        unsafe {
            std::ptr::copy(self.edge_ptr(from), self.edge_ptr(to), count);
            if self.keeps_counts() {
                std::ptr::copy(self.count_ptr(from), self.count_ptr(to), count);
            }
        }
    }

    /// Inserts `(k, v)` at `i`, and for an internal node `edge` as child `i + 1`.
    /// Writes pairs `i..=len`, edges `i + 1..=len + 1` and `len`.
    ///
    /// # Safety
    /// `len < CAP`, `i <= len`; `edge` is `Some` exactly for internal nodes.
    pub(crate) unsafe fn insert_fit(&self, i: usize, k: K, v: V, edge: Option<Edge>) {
        let n = self.len();
        assert!(n < CAP && i <= n);
        // SAFETY: room for one more (asserted); slots i..n move right by one, then i is free.
        unsafe {
            self.move_pairs(i, i + 1, n - i);
            self.key_ptr(i).write(k);
            self.val_ptr(i).write(v);
            if let Some(e) = edge {
                self.move_edges(i + 1, i + 2, n - i);
                self.put_edge(i + 1, e);
            }
        }
        self.set_len(n + 1);
    }

    /// Inserts `(k, v)` first, and for an internal node `edge` as child 0.
    /// Writes pairs `0..=len`, edges `0..=len + 1` and `len`.
    ///
    /// # Safety
    /// `len < CAP`; `edge` is `Some` exactly for internal nodes.
    pub(crate) unsafe fn push_front(&self, k: K, v: V, edge: Option<Edge>) {
        let n = self.len();
        assert!(n < CAP);
        // SAFETY: as in insert_fit, at the front.
        unsafe {
            self.move_pairs(0, 1, n);
            self.key_ptr(0).write(k);
            self.val_ptr(0).write(v);
            if let Some(e) = edge {
                self.move_edges(0, 1, n + 1);
                self.put_edge(0, e);
            }
        }
        self.set_len(n + 1);
    }

    /// Removes pair `i` and, for an internal node, child `i + 1`.
    /// Writes pairs `i..len`, edges `i + 1..=len` and `len`.
    ///
    /// # Safety
    /// `i < len`; the pair moves out to the caller.
    pub(crate) unsafe fn remove_kv(&self, i: usize) -> (K, V, Option<Edge>) {
        let n = self.len();
        assert!(i < n);
        // SAFETY: pair i is initialised and moves out; the rest shifts left over it.
        let out = unsafe {
            let k = self.key_ptr(i).read();
            let v = self.val_ptr(i).read();
            self.move_pairs(i + 1, i, n - i - 1);
            let e = (!self.is_leaf()).then(|| {
                let e = self.edge_at(i + 1);
                self.move_edges(i + 2, i + 1, n - i - 1);
                e
            });
            (k, v, e)
        };
        self.set_len(n - 1);
        out
    }

    /// Removes the first pair and, for an internal node, child 0.
    /// Writes pairs `0..len`, edges `0..=len` and `len`.
    ///
    /// # Safety
    /// `len > 0`; the pair moves out to the caller.
    pub(crate) unsafe fn pop_front(&self) -> (K, V, Option<Edge>) {
        let n = self.len();
        assert!(n > 0);
        // SAFETY: as in remove_kv, at the front.
        let out = unsafe {
            let k = self.key_ptr(0).read();
            let v = self.val_ptr(0).read();
            self.move_pairs(1, 0, n - 1);
            let e = (!self.is_leaf()).then(|| {
                let e = self.edge_at(0);
                self.move_edges(1, 0, n);
                e
            });
            (k, v, e)
        };
        self.set_len(n - 1);
        out
    }

    /// Splits a full node: pairs `B..CAP` (and their edges) move to the empty node `right`,
    /// pair `MIN` comes out as the separator, and this node keeps `MIN` pairs.
    /// Writes this node's `len` and all of `right`.
    ///
    /// # Safety
    /// `len == CAP`; `right` is a fresh node of the same height.
    pub(crate) unsafe fn split(&self, right: &NodeRef<'a, K, V>) -> (K, V) {
        assert!(self.len() == CAP && right.height == self.height);
        let moved = CAP - B;
        // SAFETY: pairs B..CAP move to right's 0..moved, disjoint blocks; pair MIN moves out.
        unsafe {
            std::ptr::copy_nonoverlapping(self.key_ptr(B), right.key_ptr(0), moved);
            std::ptr::copy_nonoverlapping(self.val_ptr(B), right.val_ptr(0), moved);
            if !self.is_leaf() {
                std::ptr::copy_nonoverlapping(self.edge_ptr(B), right.edge_ptr(0), moved + 1);
                if self.keeps_counts() {
                    std::ptr::copy_nonoverlapping(self.count_ptr(B), right.count_ptr(0), moved + 1);
                }
            }
            right.set_len(moved);
            self.set_len(MIN);
            (self.key_ptr(MIN).read(), self.val_ptr(MIN).read())
        }
    }

    /// Appends separator `(k, v)` and every pair (and edge) of `right` to this node.
    /// Writes pairs `len..len + 1 + right.len`, edges `len + 1..=len + 1 + right.len`, `len`.
    ///
    /// # Safety
    /// `len + 1 + right.len <= CAP`; same height; `right` is emptied (the caller frees it).
    pub(crate) unsafe fn merge(&self, k: K, v: V, right: &NodeRef<'a, K, V>) {
        let (n, m) = (self.len(), right.len());
        assert!(n + 1 + m <= CAP && right.height == self.height);
        // SAFETY: the separator goes to slot n, right's pairs to n+1.., disjoint blocks.
        unsafe {
            self.key_ptr(n).write(k);
            self.val_ptr(n).write(v);
            std::ptr::copy_nonoverlapping(right.key_ptr(0), self.key_ptr(n + 1), m);
            std::ptr::copy_nonoverlapping(right.val_ptr(0), self.val_ptr(n + 1), m);
            if !self.is_leaf() {
                std::ptr::copy_nonoverlapping(right.edge_ptr(0), self.edge_ptr(n + 1), m + 1);
                if self.keeps_counts() {
                    std::ptr::copy_nonoverlapping(right.count_ptr(0), self.count_ptr(n + 1), m + 1);
                }
            }
        }
        self.set_len(n + 1 + m);
    }

    /// Replaces pair `i`; returns the old one. Writes pair `i`.
    ///
    /// # Safety
    /// `i < len`.
    pub(crate) unsafe fn replace_kv(&self, i: usize, k: K, v: V) -> (K, V) {
        assert!(i < self.len());
        // SAFETY: pair i is initialised; it moves out and the new one takes its place.
        unsafe {
            (
                std::ptr::replace(self.key_ptr(i), k),
                std::ptr::replace(self.val_ptr(i), v),
            )
        }
    }

    /// Makes a fresh block an empty node (the caller then fills it).
    pub(crate) fn init_empty(&self) {
        self.set_len(0);
    }

    /// Sets edge `i` of a fresh internal node.
    pub(crate) fn set_edge(&self, i: usize, edge: Edge) {
        self.put_edge(i, edge);
    }
}
