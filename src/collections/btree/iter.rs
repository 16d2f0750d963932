//! Iteration over a `PBTreeMap`: two cursors, each a path from the root to a leaf edge (the
//! gap between two neighbouring pairs), walking towards each other. Every gap between two
//! pairs is exactly one leaf edge, so the walk ends when the cursors meet.
//!
//! In a ranked tree (`PBTreeMap::ranked`) a cursor's *rank* is the number of pairs before its
//! gap: the pairs and the edges' subtree counts to its left at each level. `nth`, `nth_back`
//! and `count` (so `skip`, and `range(..k).count()` as a rank) then jump by ranks in one
//! descent: O(log n), not O(k). Unranked trees walk, as std's.

#![allow(unsafe_code)]

use crate::collections::equivalent::Comparable;
use std::marker::PhantomData;
use std::ops::Bound;

use smallvec::SmallVec;

use super::node::NodeRef;
use crate::txn::core::PoolCore;

/// Per level from the root: a node's offset and the edge index taken.
type Cursor = SmallVec<[(u64, usize); 8]>;

/// The pairs between two leaf edges of one tree.
pub(crate) struct RawRange<'a, K, V> {
    tree: Option<(&'a PoolCore, usize)>,
    front: Cursor,
    back: Cursor,
    /// The tree keeps its edges' counts: positions are found by ranks, not walked to.
    ranked: bool,
    _m: PhantomData<&'a (K, V)>,
}

impl<K, V> Clone for RawRange<'_, K, V> {
    fn clone(&self) -> Self {
        RawRange {
            tree: self.tree,
            front: self.front.clone(),
            back: self.back.clone(),
            ranked: self.ranked,
            _m: PhantomData,
        }
    }
}

/// Which side of the range a bound is for.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Start,
    End,
}

impl<'a, K, V> RawRange<'a, K, V> {
    pub(crate) fn empty() -> Self {
        RawRange {
            tree: None,
            front: Cursor::new(),
            back: Cursor::new(),
            ranked: false,
            _m: PhantomData,
        }
    }

    /// The pairs of the tree under `root` within `lo .. hi`.
    pub(crate) fn new<Q>(
        root: NodeRef<'a, K, V>,
        core: &'a PoolCore,
        lo: Bound<&Q>,
        hi: Bound<&Q>,
    ) -> Self
    where
        Q: Comparable<K> + ?Sized,
    {
        RawRange {
            tree: Some((core, root.height())),
            front: seek(root, lo, Side::Start),
            back: seek(root, hi, Side::End),
            ranked: root.ranked(),
            _m: PhantomData,
        }
    }

    /// Every pair of the tree under `root`.
    pub(crate) fn full(root: NodeRef<'a, K, V>, core: &'a PoolCore) -> Self {
        let edge = |n: NodeRef<'a, K, V>, last: bool| if last { n.len() } else { 0 };
        let descend = |last: bool| {
            let mut path = Cursor::new();
            let mut n = root;
            loop {
                let i = edge(n, last);
                path.push((n.off(), i));
                if n.is_leaf() {
                    return path;
                }
                n = n.edge(i);
            }
        };
        RawRange {
            tree: Some((core, root.height())),
            front: descend(false),
            back: descend(true),
            ranked: root.ranked(),
            _m: PhantomData,
        }
    }

    fn node(&self, d: usize, off: u64) -> NodeRef<'a, K, V> {
        let (core, height) = self.tree.expect("a non-empty range");
        // SAFETY: cursors hold nodes met descending this tree, `d` levels down.
        unsafe { NodeRef::new(core, off, height - d, self.ranked) }
    }

    fn done(&self) -> bool {
        self.tree.is_none() || self.front.last() == self.back.last()
    }

    /// The next pair from the front: its node and index.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Option<(NodeRef<'a, K, V>, usize)> {
        if self.done() {
            return None;
        }
        let leaf = self.front.len() - 1;
        let mut d = leaf;
        while self.front[d].1 >= self.node(d, self.front[d].0).len() {
            d = d.checked_sub(1)?;
        }
        let (off, i) = self.front[d];
        let n = self.node(d, off);
        self.front.truncate(d + 1);
        self.front[d].1 = i + 1;
        if d < leaf {
            let mut c = n.edge(i + 1);
            loop {
                self.front.push((c.off(), 0));
                if c.is_leaf() {
                    break;
                }
                c = c.edge(0);
            }
        }
        Some((n, i))
    }

    /// The next pair from the back.
    #[inline(always)]
    pub(crate) fn next_back(&mut self) -> Option<(NodeRef<'a, K, V>, usize)> {
        if self.done() {
            return None;
        }
        let leaf = self.back.len() - 1;
        let mut d = leaf;
        while self.back[d].1 == 0 {
            d = d.checked_sub(1)?;
        }
        let (off, i) = self.back[d];
        let n = self.node(d, off);
        self.back.truncate(d + 1);
        self.back[d].1 = i - 1;
        if d < leaf {
            let mut c = n.edge(i - 1);
            loop {
                let len = c.len();
                self.back.push((c.off(), len));
                if c.is_leaf() {
                    break;
                }
                c = c.edge(len);
            }
        }
        Some((n, i - 1))
    }

    pub(crate) fn core(&self) -> Option<&'a PoolCore> {
        self.tree.map(|t| t.0)
    }

    /// Pairs before a cursor's gap. A damaged tree's counts may lie: the sum wraps, and it
    /// serves arithmetic only.
    fn rank(&self, c: &Cursor) -> u64 {
        let mut r = 0u64;
        for (d, &(off, i)) in c.iter().enumerate() {
            let n = self.node(d, off);
            r = r.wrapping_add(i as u64);
            if !n.is_leaf() {
                r = (0..i.min(n.len())).fold(r, |r, j| r.wrapping_add(n.count(j)));
            }
        }
        r
    }

    /// The cursor at the gap with `r` pairs before it (the last gap, if `r` is past it).
    fn seek_rank(&self, mut r: u64) -> Cursor {
        let mut path = Cursor::new();
        let mut n = self.node(0, self.front[0].0);
        loop {
            let len = n.len();
            if n.is_leaf() {
                path.push((n.off(), (r as usize).min(len)));
                return path;
            }
            let mut j = 0;
            while j < len && r > n.count(j) {
                r = r - n.count(j) - 1;
                j += 1;
            }
            path.push((n.off(), j));
            n = n.edge(j);
        }
    }

    /// Exact for a ranked tree; std's default (nothing known) otherwise, where counting
    /// would walk.
    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ranked || self.done() {
            let n = self.len();
            (n, Some(n))
        } else {
            (0, None)
        }
    }

    /// Pairs left between the cursors: by ranks, or (unranked) by walking a copy.
    pub(crate) fn len(&self) -> usize {
        if self.done() {
            return 0;
        }
        if !self.ranked {
            let mut walk = self.clone();
            return std::iter::from_fn(|| walk.next()).count();
        }
        let n = self.rank(&self.back).saturating_sub(self.rank(&self.front));
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Skips `k` pairs from the front, then yields the next.
    pub(crate) fn nth(&mut self, k: usize) -> Option<(NodeRef<'a, K, V>, usize)> {
        if !self.ranked {
            for _ in 0..k {
                self.next()?;
            }
        } else if k > 0 && !self.done() {
            let (front, back) = (self.rank(&self.front), self.rank(&self.back));
            let to = front.saturating_add(k as u64);
            self.front = if to >= back {
                self.back.clone()
            } else {
                self.seek_rank(to)
            };
        }
        self.next()
    }

    /// Skips `k` pairs from the back, then yields the next one from the back.
    pub(crate) fn nth_back(&mut self, k: usize) -> Option<(NodeRef<'a, K, V>, usize)> {
        if !self.ranked {
            for _ in 0..k {
                self.next_back()?;
            }
        } else if k > 0 && !self.done() {
            let (front, back) = (self.rank(&self.front), self.rank(&self.back));
            let to = back.saturating_sub(k as u64);
            self.back = if to <= front {
                self.front.clone()
            } else {
                self.seek_rank(to)
            };
        }
        self.next_back()
    }
}

/// The leaf edge just before the first pair at or after a start bound, or just after the last
/// pair at or before an end bound.
fn seek<K, V, Q>(root: NodeRef<'_, K, V>, bound: Bound<&Q>, side: Side) -> Cursor
where
    Q: Comparable<K> + ?Sized,
{
    let mut path = Cursor::new();
    let mut n = root;
    loop {
        let i = match bound {
            Bound::Unbounded if side == Side::Start => 0,
            Bound::Unbounded => n.len(),
            Bound::Included(q) => match n.search(q) {
                Ok(j) if side == Side::End => j + 1,
                Ok(j) | Err(j) => j,
            },
            Bound::Excluded(q) => match n.search(q) {
                Ok(j) if side == Side::Start => j + 1,
                Ok(j) | Err(j) => j,
            },
        };
        path.push((n.off(), i));
        if n.is_leaf() {
            return path;
        }
        n = n.edge(i);
    }
}

/// Panics as std does for a range whose start lies after its end.
pub(crate) fn check_bounds<Q: Ord + ?Sized>(lo: Bound<&Q>, hi: Bound<&Q>) {
    match (lo, hi) {
        (Bound::Excluded(s), Bound::Excluded(e)) if s == e => {
            panic!("range start and end are equal and excluded in BTreeMap")
        }
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e))
            if s > e =>
        {
            panic!("range start is greater than range end in BTreeMap")
        }
        _ => {}
    }
}

// ---- the public iterators ----

/// Iterator over `(&K, &V)` in key order, from [`PBTreeMap::range`](crate::PBTreeMap::range).
pub struct Range<'a, K, V> {
    pub(crate) raw: RawRange<'a, K, V>,
}

impl<K, V> Clone for Range<'_, K, V> {
    fn clone(&self) -> Self {
        Range {
            raw: self.raw.clone(),
        }
    }
}

impl<'a, K, V> Iterator for Range<'a, K, V> {
    type Item = (&'a K, &'a V);
    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        self.raw.next().map(|(n, i)| (n.key(i), n.val(i)))
    }
    /// Exact for a ranked map, in O(log n): the ranks of both ends.
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
    /// O(log n) for a ranked map: the ranks of both ends, nothing walked.
    fn count(self) -> usize {
        self.raw.len()
    }
    /// O(log n) for a ranked map: one descent to the pair `k` ahead.
    fn nth(&mut self, k: usize) -> Option<(&'a K, &'a V)> {
        self.raw.nth(k).map(|(n, i)| (n.key(i), n.val(i)))
    }
    fn last(mut self) -> Option<(&'a K, &'a V)> {
        self.next_back()
    }
}

impl<'a, K, V> DoubleEndedIterator for Range<'a, K, V> {
    fn next_back(&mut self) -> Option<(&'a K, &'a V)> {
        self.raw.next_back().map(|(n, i)| (n.key(i), n.val(i)))
    }
    /// O(log n), as `nth`.
    fn nth_back(&mut self, k: usize) -> Option<(&'a K, &'a V)> {
        self.raw.nth_back(k).map(|(n, i)| (n.key(i), n.val(i)))
    }
}

impl<K, V> std::iter::FusedIterator for Range<'_, K, V> {}

/// Iterator over all entries, from [`PBTreeMap::iter`](crate::PBTreeMap::iter).
pub struct Iter<'a, K, V> {
    pub(crate) inner: Range<'a, K, V>,
    pub(crate) left: usize,
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Iter {
            inner: self.inner.clone(),
            left: self.left,
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        // `left` counts the map's pairs: a damaged tree with more ends there (issue 13, #7).
        self.left = self.left.checked_sub(1)?;
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
    fn count(self) -> usize {
        self.left
    }
    /// O(log n): one descent to the pair `k` ahead.
    fn nth(&mut self, k: usize) -> Option<(&'a K, &'a V)> {
        let Some(left) = self.left.checked_sub(k.saturating_add(1)) else {
            self.left = 0;
            return None;
        };
        self.left = left;
        self.inner.nth(k)
    }
    fn last(mut self) -> Option<(&'a K, &'a V)> {
        self.next_back()
    }
}

impl<'a, K, V> DoubleEndedIterator for Iter<'a, K, V> {
    fn next_back(&mut self) -> Option<(&'a K, &'a V)> {
        self.left = self.left.checked_sub(1)?;
        self.inner.next_back()
    }
    /// O(log n), as `nth`.
    fn nth_back(&mut self, k: usize) -> Option<(&'a K, &'a V)> {
        let Some(left) = self.left.checked_sub(k.saturating_add(1)) else {
            self.left = 0;
            return None;
        };
        self.left = left;
        self.inner.nth_back(k)
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> std::iter::FusedIterator for Iter<'_, K, V> {}

/// Iterator over `(&K, &mut V)` in key order; logs each value it yields.
pub struct RangeMut<'a, K, V> {
    pub(crate) raw: RawRange<'a, K, V>,
    /// `handle::hand_out::<V>`, noting each yielded value (see there).
    pub(crate) note: fn(&PoolCore, u64, *const V, usize),
    pub(crate) _m: PhantomData<&'a mut V>,
}

impl<'a, K, V> RangeMut<'a, K, V> {
    fn yield_mut(&self, (n, i): (NodeRef<'a, K, V>, usize)) -> (&'a K, &'a mut V) {
        let core = self.raw.core().expect("a non-empty range");
        let mut tx = core.tx();
        let p = n.val_ptr(i);
        assert!(i < n.len());
        if size_of::<V>() > 0 && !tx.is_fresh(n.off()) {
            tx.log_ptr(p.cast(), size_of::<V>())
                .unwrap_or_else(|e| panic!("pcoll: PBTreeMap mutable iteration: {e}"));
        }
        drop(tx);
        (self.note)(core, n.off(), p, 1);
        // SAFETY: pair i is initialised and its value logged; each pair is yielded once, and
        // the map is borrowed mutably for 'a with its pool alive (it holds the map).
        (n.key(i), unsafe { &mut *p })
    }
}

impl<'a, K, V> Iterator for RangeMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);
    fn next(&mut self) -> Option<(&'a K, &'a mut V)> {
        let at = self.raw.next()?;
        Some(self.yield_mut(at))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
    fn count(self) -> usize {
        self.raw.len()
    }
    /// O(log n) for a ranked map; only the pair yielded is logged.
    fn nth(&mut self, k: usize) -> Option<(&'a K, &'a mut V)> {
        let at = self.raw.nth(k)?;
        Some(self.yield_mut(at))
    }
}

impl<'a, K, V> DoubleEndedIterator for RangeMut<'a, K, V> {
    fn next_back(&mut self) -> Option<(&'a K, &'a mut V)> {
        let at = self.raw.next_back()?;
        Some(self.yield_mut(at))
    }
    fn nth_back(&mut self, k: usize) -> Option<(&'a K, &'a mut V)> {
        let at = self.raw.nth_back(k)?;
        Some(self.yield_mut(at))
    }
}

/// Iterator over all entries with mutable values, from
/// [`PBTreeMap::iter_mut`](crate::PBTreeMap::iter_mut).
pub struct IterMut<'a, K, V> {
    pub(crate) inner: RangeMut<'a, K, V>,
    pub(crate) left: usize,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);
    fn next(&mut self) -> Option<(&'a K, &'a mut V)> {
        // `left` counts the map's pairs: a damaged tree with more ends there (issue 13, #7).
        self.left = self.left.checked_sub(1)?;
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
    fn count(self) -> usize {
        self.left
    }
    fn nth(&mut self, k: usize) -> Option<(&'a K, &'a mut V)> {
        let Some(left) = self.left.checked_sub(k.saturating_add(1)) else {
            self.left = 0;
            return None;
        };
        self.left = left;
        self.inner.nth(k)
    }
}

impl<'a, K, V> DoubleEndedIterator for IterMut<'a, K, V> {
    fn next_back(&mut self) -> Option<(&'a K, &'a mut V)> {
        self.left = self.left.checked_sub(1)?;
        self.inner.next_back()
    }
    fn nth_back(&mut self, k: usize) -> Option<(&'a K, &'a mut V)> {
        let Some(left) = self.left.checked_sub(k.saturating_add(1)) else {
            self.left = 0;
            return None;
        };
        self.left = left;
        self.inner.nth_back(k)
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

macro_rules! project {
    ($(#[$doc:meta])* $name:ident, $inner:ident, $item:ty, $f:expr) => {
        $(#[$doc])*
        pub struct $name<'a, K, V> {
            pub(crate) inner: $inner<'a, K, V>,
        }
        impl<'a, K, V> Iterator for $name<'a, K, V> {
            type Item = $item;
            fn next(&mut self) -> Option<$item> {
                self.inner.next().map($f)
            }
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.inner.size_hint()
            }
            fn count(self) -> usize {
                self.inner.count()
            }
            fn nth(&mut self, k: usize) -> Option<$item> {
                self.inner.nth(k).map($f)
            }
        }
        impl<'a, K, V> DoubleEndedIterator for $name<'a, K, V> {
            fn next_back(&mut self) -> Option<$item> {
                self.inner.next_back().map($f)
            }
            fn nth_back(&mut self, k: usize) -> Option<$item> {
                self.inner.nth_back(k).map($f)
            }
        }
        impl<K, V> ExactSizeIterator for $name<'_, K, V> {}
    };
}

project!(
    /// Iterator over keys in order, from [`PBTreeMap::keys`](crate::PBTreeMap::keys).
    Keys, Iter, &'a K, |(k, _)| k
);
project!(
    /// Iterator over values in key order, from [`PBTreeMap::values`](crate::PBTreeMap::values).
    Values, Iter, &'a V, |(_, v)| v
);
project!(
    /// Iterator over mutable values, from
    /// [`PBTreeMap::values_mut`](crate::PBTreeMap::values_mut).
    ValuesMut, IterMut, &'a mut V, |(_, v)| v
);

crate::collections::phashmap::opaque_debug!(
    Range ['a, K, V] ['a, K, V],
    RangeMut ['a, K, V] ['a, K, V],
    Iter ['a, K, V] ['a, K, V],
    IterMut ['a, K, V] ['a, K, V],
    Keys ['a, K, V] ['a, K, V],
    Values ['a, K, V] ['a, K, V],
    ValuesMut ['a, K, V] ['a, K, V],
);
