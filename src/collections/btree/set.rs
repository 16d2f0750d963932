//! `PBTreeSet<T>`: an ordered set in the pool with `BTreeSet`'s API, a `PBTreeMap<T, ()>`
//! underneath (so its logging and crash behaviour are the map's).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::iter::Peekable;
use std::ops::RangeBounds;

use super::iter::{Keys, Range};
use super::map::PBTreeMap;
use crate::collections::convert::IntoPersistent;
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent};

/// An ordered set in pool memory.
///
/// ```
/// use pcoll::{PBTreeSet, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { ids: PBTreeSet<u64> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// root.ids.extend([5, 1, 3]);
/// assert_eq!(root.ids.iter().copied().collect::<Vec<_>>(), [1, 3, 5]);
/// assert_eq!(root.ids.first(), Some(&1));
/// assert_eq!(root.ids.range(2..).count(), 2);
/// # Ok::<(), pcoll::Error>(())
/// ```
#[repr(transparent)]
pub struct PBTreeSet<T: Persistent> {
    map: PBTreeMap<T, ()>,
}

impl<T: Persistent> Default for PBTreeSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Persistent> PBTreeSet<T> {
    /// The map under the set, for the std methods composed from it (`std_api.rs`).
    pub(crate) fn map_mut(&mut self) -> &mut PBTreeMap<T, ()> {
        &mut self.map
    }

    /// An empty set.
    pub const fn new() -> Self {
        PBTreeSet {
            map: PBTreeMap::new(),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The values in order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.map.keys(),
        }
    }

    /// The smallest value.
    pub fn first(&self) -> Option<&T> {
        self.map.first_key_value().map(|(k, ())| k)
    }

    /// The largest value.
    pub fn last(&self) -> Option<&T> {
        self.map.last_key_value().map(|(k, ())| k)
    }

    /// Removes and returns the smallest value.
    pub fn pop_first(&mut self) -> Option<T> {
        self.map.pop_first().map(|(k, ())| k)
    }

    /// Removes and returns the largest value.
    pub fn pop_last(&mut self) -> Option<T> {
        self.map.pop_last().map(|(k, ())| k)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.map.clear()
    }
}

impl<T: Persistent + Ord> PBTreeSet<T> {
    /// Adds `value`; returns false when it was already present (the set is then unchanged).
    ///
    /// # Panics
    /// When the pool is full (see [`try_insert`](Self::try_insert)).
    pub fn insert<I>(&mut self, value: I) -> bool
    where
        I: IntoPersistent<T>,
        T: Borrow<I::Probe>,
        I::Probe: Ord,
    {
        self.try_insert(value)
            .unwrap_or_else(|e| panic!("pcoll: PBTreeSet::insert: {e}"))
    }

    /// [`insert`](Self::insert), returning `Error::OutOfSpace` when the pool is full.
    pub fn try_insert<I>(&mut self, value: I) -> Result<bool>
    where
        I: IntoPersistent<T>,
        T: Borrow<I::Probe>,
        I::Probe: Ord,
    {
        self.map.try_insert(value, ()).map(|old| old.is_none())
    }

    /// True when the set holds `value`.
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.contains_key(value)
    }

    /// The stored value equal to `value`.
    pub fn get<Q>(&self, value: &Q) -> Option<&T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.get_key_value(value).map(|(k, ())| k)
    }

    /// Removes `value`; returns whether it was present.
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.remove(value).is_some()
    }

    /// Removes and returns the stored value equal to `value`.
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.remove_entry(value).map(|(k, ())| k)
    }

    /// The values in `range`, in order.
    pub fn range<Q, R>(&self, range: R) -> SetRange<'_, T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        SetRange {
            inner: self.map.range(range),
        }
    }

    /// Keeps the values for which `f` returns true.
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        self.map.retain(|k, ()| f(k))
    }

    /// Moves every value of `other` into this set.
    pub fn append(&mut self, other: &mut PBTreeSet<T>) {
        self.map.append(&mut other.map)
    }

    /// Splits off the values at or after `value` into a new set (store it to read it).
    pub fn split_off<Q>(&mut self, value: &Q) -> PBTreeSet<T>
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        PBTreeSet {
            map: self.map.split_off(value),
        }
    }

    /// Values in `self` or `other`, in order, each once.
    pub fn union<'a>(&'a self, other: &'a PBTreeSet<T>) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |_| true)
    }

    /// Values in both sets, in order.
    pub fn intersection<'a>(&'a self, other: &'a PBTreeSet<T>) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |o| o == Ordering::Equal)
    }

    /// Values in `self` but not in `other`, in order.
    pub fn difference<'a>(&'a self, other: &'a PBTreeSet<T>) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |o| o == Ordering::Less)
    }

    /// Values in exactly one of the sets, in order.
    pub fn symmetric_difference<'a>(
        &'a self,
        other: &'a PBTreeSet<T>,
    ) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |o| o != Ordering::Equal)
    }

    /// True when every value of `self` is in `other`.
    pub fn is_subset(&self, other: &PBTreeSet<T>) -> bool {
        self.len() <= other.len() && self.difference(other).next().is_none()
    }

    /// True when every value of `other` is in `self`.
    pub fn is_superset(&self, other: &PBTreeSet<T>) -> bool {
        other.is_subset(self)
    }

    /// True when the sets share no value.
    pub fn is_disjoint(&self, other: &PBTreeSet<T>) -> bool {
        self.intersection(other).next().is_none()
    }
}

/// A merge of two sorted sequences: at each step the smaller head (both, when equal) is taken,
/// and `pick(order of a's head against b's head)` says whether to yield it.
struct Merge<'a, T, F> {
    a: Peekable<Iter<'a, T>>,
    b: Peekable<Iter<'a, T>>,
    pick: F,
}

impl<'a, T: Ord, F: Fn(Ordering) -> bool> Merge<'a, T, F> {
    fn new(a: Iter<'a, T>, b: Iter<'a, T>, pick: F) -> Self {
        Merge {
            a: a.peekable(),
            b: b.peekable(),
            pick,
        }
    }
}

impl<'a, T: Ord, F: Fn(Ordering) -> bool> Iterator for Merge<'a, T, F> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        loop {
            let o = match (self.a.peek(), self.b.peek()) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => x.cmp(y),
            };
            let x = match o {
                Ordering::Less => self.a.next(),
                Ordering::Greater => self.b.next(),
                Ordering::Equal => {
                    self.b.next();
                    self.a.next()
                }
            };
            if (self.pick)(o) {
                return x;
            }
        }
    }
}

/// Iterator over a set's values in order, from [`PBTreeSet::iter`].
pub struct Iter<'a, T> {
    inner: Keys<'a, T, ()>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<'a, T> DoubleEndedIterator for Iter<'a, T> {
    fn next_back(&mut self) -> Option<&'a T> {
        self.inner.next_back()
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

/// Iterator over a set's values in a range, from [`PBTreeSet::range`].
pub struct SetRange<'a, T> {
    inner: Range<'a, T, ()>,
}

impl<'a, T> Iterator for SetRange<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.inner.next().map(|(k, ())| k)
    }
}

impl<'a, T> DoubleEndedIterator for SetRange<'a, T> {
    fn next_back(&mut self) -> Option<&'a T> {
        self.inner.next_back().map(|(k, ())| k)
    }
}

crate::collections::phashmap::opaque_debug!(Iter ['a, T] ['a, T], SetRange ['a, T] ['a, T]);

impl<'a, T: Persistent> IntoIterator for &'a PBTreeSet<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T: Persistent + fmt::Debug> fmt::Debug for PBTreeSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Persistent + PartialEq> PartialEq for PBTreeSet<T> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<T: Persistent + Eq> Eq for PBTreeSet<T> {}

impl<T: Persistent + PartialOrd> PartialOrd for PBTreeSet<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.iter().partial_cmp(other.iter())
    }
}

impl<T: Persistent + Ord> Ord for PBTreeSet<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

/// Compares with a std set of the same value type.
impl<T: Persistent + PartialEq> PartialEq<BTreeSet<T>> for PBTreeSet<T> {
    fn eq(&self, other: &BTreeSet<T>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Compares a set of `PString` with a std set of `String`.
impl PartialEq<BTreeSet<String>> for PBTreeSet<crate::PString> {
    fn eq(&self, other: &BTreeSet<String>) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl<T, I> Extend<I> for PBTreeSet<T>
where
    T: Persistent + Ord + Borrow<I::Probe>,
    I: IntoPersistent<T>,
    I::Probe: Ord,
{
    fn extend<It: IntoIterator<Item = I>>(&mut self, iter: It) {
        iter.into_iter().for_each(|x| {
            self.insert(x);
        });
    }
}

/// Builds a set in process memory (stored into a pool, it moves there).
impl<T, I> FromIterator<I> for PBTreeSet<T>
where
    T: Persistent + Ord + Borrow<I::Probe>,
    I: IntoPersistent<T>,
    I::Probe: Ord,
{
    fn from_iter<It: IntoIterator<Item = I>>(iter: It) -> Self {
        let mut s = Self::new();
        s.extend(iter);
        s
    }
}

// SAFETY: a PBTreeSet is its map (transparent); layout and visit are the map's.
#[allow(unsafe_code)]
unsafe impl<T: Persistent> Persistent for PBTreeSet<T> {
    crate::collections::handle::wrapper_moves!(PBTreeSet, map);
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PBTreeSet", size_of::<Self>(), align_of::<Self>()) {
            PBTreeMap::<T, ()>::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        self.map.visit(v);
    }
}
