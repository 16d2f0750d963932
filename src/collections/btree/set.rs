//! `PBTreeSet<T>`: an ordered set in the pool with `BTreeSet`'s API, a `PBTreeMap<T, ()>`
//! underneath (so its logging and crash behaviour are the map's).

use crate::collections::equivalent::Comparable;
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
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(set.is_empty());
    /// assert!(set.insert(1));
    /// ```
    pub const fn new() -> Self {
        PBTreeSet {
            map: PBTreeMap::new(),
        }
    }

    /// An empty ranked set, as [`PBTreeMap::ranked`]: positions (`iter().nth(k)`, `skip`,
    /// `range(..x).count()` as `x`'s rank) cost one descent.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::ranked();
    /// set.extend([5, 1, 9, 3]);
    /// assert_eq!(set.range(..5).count(), 2);
    /// assert_eq!(set.iter().nth(3), Some(&9));
    /// ```
    pub const fn ranked() -> Self {
        PBTreeSet {
            map: PBTreeMap::ranked(),
        }
    }

    /// True for a set made by [`Self::ranked`].
    pub fn is_ranked(&self) -> bool {
        self.map.is_ranked()
    }

    /// Makes this set ranked or ordinary, in place ([`PBTreeMap::set_ranked`]: O(n) for a set
    /// of more than one node, each value moved bitwise).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = (0..1000).collect();
    /// set.set_ranked(true);
    /// assert_eq!(set.range(..250).count(), 250); // a rank: one descent
    /// ```
    pub fn set_ranked(&mut self, ranked: bool) {
        self.map.set_ranked(ranked);
    }

    /// Number of values.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut v: PBTreeSet<u64> = PBTreeSet::new();
    /// assert_eq!(v.len(), 0);
    /// v.insert(1);
    /// v.insert(1);
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the set is empty.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut v: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(v.is_empty());
    /// v.insert(1);
    /// assert!(!v.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The values in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let set: PBTreeSet<u64> = PBTreeSet::from([3, 1, 2]);
    /// let mut set_iter = set.iter();
    /// assert_eq!(set_iter.next(), Some(&1));
    /// assert_eq!(set_iter.next_back(), Some(&3));
    /// assert_eq!(set_iter.next(), Some(&2));
    /// assert_eq!(set_iter.next(), None);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.map.keys(),
        }
    }

    /// The smallest value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert_eq!(set.first(), None);
    /// set.insert(2);
    /// set.insert(1);
    /// assert_eq!(set.first(), Some(&1));
    /// ```
    pub fn first(&self) -> Option<&T> {
        self.map.first_key_value().map(|(k, ())| k)
    }

    /// The largest value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert_eq!(set.last(), None);
    /// set.insert(1);
    /// set.insert(2);
    /// assert_eq!(set.last(), Some(&2));
    /// ```
    pub fn last(&self) -> Option<&T> {
        self.map.last_key_value().map(|(k, ())| k)
    }

    /// Removes and returns the smallest value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::from([2, 1]);
    /// assert_eq!(set.pop_first(), Some(1));
    /// assert_eq!(set.pop_first(), Some(2));
    /// assert_eq!(set.pop_first(), None);
    /// assert!(set.is_empty());
    /// ```
    pub fn pop_first(&mut self) -> Option<T> {
        self.map.pop_first().map(|(k, ())| k)
    }

    /// Removes and returns the largest value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::from([1, 2]);
    /// assert_eq!(set.pop_last(), Some(2));
    /// assert_eq!(set.pop_last(), Some(1));
    /// assert_eq!(set.pop_last(), None);
    /// assert!(set.is_empty());
    /// ```
    pub fn pop_last(&mut self) -> Option<T> {
        self.map.pop_last().map(|(k, ())| k)
    }

    /// Removes every value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut v: PBTreeSet<u64> = PBTreeSet::from([1, 2]);
    /// v.clear();
    /// assert!(v.is_empty());
    /// assert_eq!(v.first(), None);
    /// ```
    pub fn clear(&mut self) {
        self.map.clear()
    }
}

impl<T: Persistent + Ord> PBTreeSet<T> {
    /// Adds `value`; returns false when it was already present (the set is then unchanged).
    ///
    /// # Panics
    /// When the pool is full (see [`try_insert`](Self::try_insert)).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(set.insert(2));
    /// assert!(!set.insert(2));
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn insert<I>(&mut self, value: I) -> bool
    where
        I: IntoPersistent<T>,
        I::Probe: Comparable<T>,
    {
        self.try_insert(value)
            .unwrap_or_else(|e| panic!("pcoll: PBTreeSet::insert: {e}"))
    }

    /// [`insert`](Self::insert), returning `Error::OutOfSpace` when the pool is full.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(set.try_insert(2)?);
    /// assert!(!set.try_insert(2)?);
    /// assert_eq!(set.len(), 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert<I>(&mut self, value: I) -> Result<bool>
    where
        I: IntoPersistent<T>,
        I::Probe: Comparable<T>,
    {
        self.map.try_insert(value, ()).map(|old| old.is_none())
    }

    /// True when the set holds `value`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeSet, PString};
    ///
    /// let mut set: PBTreeSet<PString> = PBTreeSet::new();
    /// set.insert("rust");
    /// assert!(set.contains("rust")); // found by &str
    /// assert!(!set.contains("go"));
    /// ```
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        Q: Comparable<T> + ?Sized,
    {
        self.map.contains_key(value)
    }

    /// The stored value equal to `value`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let set: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3]);
    /// assert_eq!(set.get(&2), Some(&2));
    /// assert_eq!(set.get(&4), None);
    /// ```
    pub fn get<Q>(&self, value: &Q) -> Option<&T>
    where
        Q: Comparable<T> + ?Sized,
    {
        self.map.get_key_value(value).map(|(k, ())| k)
    }

    /// Removes `value`; returns whether it was present.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// set.insert(2);
    /// assert!(set.remove(&2));
    /// assert!(!set.remove(&2));
    /// ```
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        Q: Comparable<T> + ?Sized,
    {
        self.map.remove(value).is_some()
    }

    /// Removes and returns the stored value equal to `value`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3]);
    /// assert_eq!(set.take(&2), Some(2));
    /// assert_eq!(set.take(&2), None);
    /// ```
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        Q: Comparable<T> + ?Sized,
    {
        self.map.remove_entry(value).map(|(k, ())| k)
    }

    /// The values in `range`, in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let set: PBTreeSet<u64> = PBTreeSet::from([3, 5, 8]);
    /// let v: Vec<&u64> = set.range(4..=8).collect();
    /// assert_eq!(v, [&5, &8]);
    /// assert_eq!(Some(&5), set.range(4..).next());
    /// assert_eq!(Some(&3), set.range(..5).next_back());
    /// ```
    pub fn range<Q, R>(&self, range: R) -> SetRange<'_, T>
    where
        Q: Ord + Comparable<T> + ?Sized,
        R: RangeBounds<Q>,
    {
        SetRange {
            inner: self.map.range(range),
        }
    }

    /// Keeps the values for which `f` returns true.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut set: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3, 4, 5, 6]);
    /// // Keep only the even numbers.
    /// set.retain(|&k| k % 2 == 0);
    /// assert!(set.iter().eq([2, 4, 6].iter()));
    /// ```
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        self.map.retain(|k, ()| f(k))
    }

    /// Moves every value of `other` into this set.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut a: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3]);
    /// let mut b: PBTreeSet<u64> = PBTreeSet::from([3, 4, 5]);
    /// a.append(&mut b);
    /// assert_eq!(a.len(), 5);
    /// assert_eq!(b.len(), 0);
    /// assert!(a.iter().eq([1, 2, 3, 4, 5].iter()));
    /// ```
    pub fn append(&mut self, other: &mut PBTreeSet<T>) {
        self.map.append(&mut other.map)
    }

    /// Splits off the values at or after `value` into a new set (store it to read it).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let mut a: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3, 17, 41]);
    /// let b = a.split_off(&3);
    /// assert!(a.iter().eq([1, 2].iter()));
    /// assert!(b.iter().eq([3, 17, 41].iter()));
    /// ```
    pub fn split_off<Q>(&mut self, value: &Q) -> PBTreeSet<T>
    where
        Q: Comparable<T> + ?Sized,
    {
        PBTreeSet {
            map: self.map.split_off(value),
        }
    }

    /// Values in `self` or `other`, in order, each once.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let a: PBTreeSet<u64> = PBTreeSet::from([1, 3]);
    /// let b: PBTreeSet<u64> = PBTreeSet::from([2, 3]);
    /// let union: Vec<u64> = a.union(&b).cloned().collect();
    /// assert_eq!(union, [1, 2, 3]);
    /// ```
    pub fn union<'a>(&'a self, other: &'a PBTreeSet<T>) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |_| true)
    }

    /// Values in both sets, in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let a: PBTreeSet<u64> = PBTreeSet::from([1, 2]);
    /// let b: PBTreeSet<u64> = PBTreeSet::from([2, 3]);
    /// let intersection: Vec<u64> = a.intersection(&b).cloned().collect();
    /// assert_eq!(intersection, [2]);
    /// ```
    pub fn intersection<'a>(&'a self, other: &'a PBTreeSet<T>) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |o| o == Ordering::Equal)
    }

    /// Values in `self` but not in `other`, in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let a: PBTreeSet<u64> = PBTreeSet::from([1, 2]);
    /// let b: PBTreeSet<u64> = PBTreeSet::from([2, 3]);
    /// let diff: Vec<u64> = a.difference(&b).cloned().collect();
    /// assert_eq!(diff, [1]);
    /// ```
    pub fn difference<'a>(&'a self, other: &'a PBTreeSet<T>) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |o| o == Ordering::Less)
    }

    /// Values in exactly one of the sets, in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let a: PBTreeSet<u64> = PBTreeSet::from([1, 2]);
    /// let b: PBTreeSet<u64> = PBTreeSet::from([2, 3]);
    /// let sym_diff: Vec<u64> = a.symmetric_difference(&b).cloned().collect();
    /// assert_eq!(sym_diff, [1, 3]);
    /// ```
    pub fn symmetric_difference<'a>(
        &'a self,
        other: &'a PBTreeSet<T>,
    ) -> impl Iterator<Item = &'a T> {
        Merge::new(self.iter(), other.iter(), |o| o != Ordering::Equal)
    }

    /// True when every value of `self` is in `other`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let sup: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3]);
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(set.is_subset(&sup));
    /// set.insert(2);
    /// assert!(set.is_subset(&sup));
    /// set.insert(4);
    /// assert!(!set.is_subset(&sup));
    /// ```
    pub fn is_subset(&self, other: &PBTreeSet<T>) -> bool {
        self.len() <= other.len() && self.difference(other).next().is_none()
    }

    /// True when every value of `other` is in `self`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let sub: PBTreeSet<u64> = PBTreeSet::from([1, 2]);
    /// let mut set: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(!set.is_superset(&sub));
    /// set.insert(1);
    /// assert!(!set.is_superset(&sub));
    /// set.insert(2);
    /// assert!(set.is_superset(&sub));
    /// ```
    pub fn is_superset(&self, other: &PBTreeSet<T>) -> bool {
        other.is_subset(self)
    }

    /// True when the sets share no value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeSet;
    ///
    /// let a: PBTreeSet<u64> = PBTreeSet::from([1, 2, 3]);
    /// let mut b: PBTreeSet<u64> = PBTreeSet::new();
    /// assert!(a.is_disjoint(&b));
    /// b.insert(4);
    /// assert!(a.is_disjoint(&b));
    /// b.insert(1);
    /// assert!(!a.is_disjoint(&b));
    /// ```
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
    fn count(self) -> usize {
        self.inner.count()
    }
    /// O(log n), as the map's.
    fn nth(&mut self, k: usize) -> Option<&'a T> {
        self.inner.nth(k)
    }
}

impl<'a, T> DoubleEndedIterator for Iter<'a, T> {
    fn next_back(&mut self) -> Option<&'a T> {
        self.inner.next_back()
    }
    fn nth_back(&mut self, k: usize) -> Option<&'a T> {
        self.inner.nth_back(k)
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
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
    /// O(log n), as the map's: `set.range(..x).count()` is `x`'s rank.
    fn count(self) -> usize {
        self.inner.count()
    }
    fn nth(&mut self, k: usize) -> Option<&'a T> {
        self.inner.nth(k).map(|(k, ())| k)
    }
}

impl<'a, T> DoubleEndedIterator for SetRange<'a, T> {
    fn next_back(&mut self) -> Option<&'a T> {
        self.inner.next_back().map(|(k, ())| k)
    }
    fn nth_back(&mut self, k: usize) -> Option<&'a T> {
        self.inner.nth_back(k).map(|(k, ())| k)
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
    T: Persistent + Ord,
    I: IntoPersistent<T>,
    I::Probe: Comparable<T>,
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
    T: Persistent + Ord,
    I: IntoPersistent<T>,
    I::Probe: Comparable<T>,
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
