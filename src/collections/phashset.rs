//! `PHashSet<T, S>`: a hash set in the pool with `HashSet`'s API, a `PHashMap<T, ()>`
//! underneath (so its logging and crash behaviour are the map's).

use crate::collections::equivalent::Equivalent;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use super::convert::IntoPersistent;
use super::hasher::PRandomState;
use super::phashmap::{self, PHashMap};
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent};

/// A hash set in pool memory.
///
/// ```
/// use pcoll::{PHashSet, PString, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { tags: PHashSet<PString>, seen: PHashSet<u64> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// assert!(root.tags.insert("rust"));
/// assert!(!root.tags.insert("rust"));
/// root.seen.extend([1, 2, 3]);
/// assert!(root.tags.contains("rust") && root.seen.contains(&2));
/// # Ok::<(), pcoll::Error>(())
/// ```
#[repr(transparent)]
pub struct PHashSet<T: Persistent, S: Persistent = PRandomState> {
    map: PHashMap<T, (), S>,
}

impl<T: Persistent> PHashSet<T> {
    /// An empty set with a fresh random seed.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// assert!(set.is_empty());
    /// assert!(set.insert(1));
    /// ```
    pub fn new() -> Self {
        PHashSet {
            map: PHashMap::new(),
        }
    }

    /// An empty set with room for `n` values (in process memory until stored).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let set: PHashSet<u64> = PHashSet::with_capacity(10);
    /// assert!(set.capacity() >= 10);
    /// assert!(set.is_empty());
    /// ```
    pub fn with_capacity(n: usize) -> Self
    where
        T: Hash,
    {
        PHashSet {
            map: PHashMap::with_capacity_and_hasher(n, PRandomState::new()),
        }
    }
}

impl<T: Persistent, S: Persistent + Default> Default for PHashSet<T, S> {
    fn default() -> Self {
        PHashSet {
            map: PHashMap::default(),
        }
    }
}

impl<T: Persistent, S: Persistent> PHashSet<T, S> {
    /// An empty set hashing with `hasher`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashSet, PRandomState};
    ///
    /// let mut set = PHashSet::with_hasher(PRandomState::with_seeds(1, 2, 3, 4));
    /// set.insert(2u64);
    /// assert!(set.contains(&2));
    /// ```
    pub const fn with_hasher(hasher: S) -> Self {
        PHashSet {
            map: PHashMap::with_hasher(hasher),
        }
    }

    /// The set's hasher.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashSet, PRandomState};
    ///
    /// let seed = PRandomState::with_seeds(1, 2, 3, 4);
    /// let set: PHashSet<u64, _> = PHashSet::with_hasher(seed);
    /// assert_eq!(*set.hasher(), seed);
    /// ```
    pub fn hasher(&self) -> &S {
        self.map.hasher()
    }

    /// Number of values.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut v: PHashSet<u64> = PHashSet::new();
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
    /// use pcoll::PHashSet;
    ///
    /// let mut v: PHashSet<u64> = PHashSet::new();
    /// assert!(v.is_empty());
    /// v.insert(1);
    /// assert!(!v.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Values the table holds without growing.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let set: PHashSet<u64> = PHashSet::with_capacity(100);
    /// assert!(set.capacity() >= 100);
    /// ```
    pub fn capacity(&self) -> usize {
        self.map.capacity()
    }

    /// An iterator over the values.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let set: PHashSet<u64> = PHashSet::from([3, 1, 2]);
    /// let mut v: Vec<u64> = set.iter().copied().collect(); // in arbitrary order
    /// v.sort();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            inner: self.map.keys(),
        }
    }

    /// Removes every value and releases the table.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut v: PHashSet<u64> = PHashSet::from([1, 2]);
    /// v.clear();
    /// assert!(v.is_empty());
    /// assert_eq!(v.capacity(), 0); // the table is released (std keeps it)
    /// ```
    pub fn clear(&mut self) {
        self.map.clear()
    }

    /// The map under the set, for the std methods composed from it (`std_api.rs`).
    pub(crate) fn map_mut(&mut self) -> &mut PHashMap<T, (), S> {
        &mut self.map
    }

    /// The map under the set (by-value iteration).
    pub(crate) fn into_map(self) -> PHashMap<T, (), S> {
        self.map
    }

    /// Moves every value out (eagerly) and releases the table.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let mut drained: Vec<u64> = set.drain().collect();
    /// drained.sort();
    /// assert_eq!(drained, [1, 2, 3]);
    /// assert!(set.is_empty());
    /// ```
    pub fn drain(&mut self) -> impl Iterator<Item = T> + use<T, S> {
        self.map.drain().map(|(k, ())| k)
    }

    /// Keeps the values for which `f` returns true.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::from([1, 2, 3, 4, 5, 6]);
    /// set.retain(|&k| k % 2 == 0);
    /// assert_eq!(set, PHashSet::from([2, 4, 6]));
    /// ```
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        self.map.retain(|k, ()| f(k))
    }
}

impl<T: Persistent + Hash + Eq, S: Persistent + BuildHasher> PHashSet<T, S> {
    /// Adds `value`; returns false when it was already present (the set is then unchanged).
    ///
    /// # Panics
    /// When the pool is full (see [`try_insert`](Self::try_insert)).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// assert!(set.insert(2));
    /// assert!(!set.insert(2));
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn insert<I>(&mut self, value: I) -> bool
    where
        I: IntoPersistent<T>,
        I::Probe: Hash + Equivalent<T>,
    {
        self.try_insert(value)
            .unwrap_or_else(|e| panic!("pcoll: PHashSet::insert: {e}"))
    }

    /// [`insert`](Self::insert), returning `Error::OutOfSpace` when the pool is full.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// assert!(set.try_insert(2)?);
    /// assert!(!set.try_insert(2)?);
    /// assert_eq!(set.len(), 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert<I>(&mut self, value: I) -> Result<bool>
    where
        I: IntoPersistent<T>,
        I::Probe: Hash + Equivalent<T>,
    {
        self.map.try_insert(value, ()).map(|old| old.is_none())
    }

    /// True when the set holds `value`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashSet, PString};
    ///
    /// let mut set: PHashSet<PString> = PHashSet::new();
    /// set.insert("rust");
    /// assert!(set.contains("rust")); // found by &str
    /// assert!(!set.contains("go"));
    /// ```
    pub fn contains<Q>(&self, value: &Q) -> bool
    where
        Q: Hash + Equivalent<T> + ?Sized,
    {
        self.map.contains_key(value)
    }

    /// Starts loading what a lookup of `value` reads first into the CPU caches, without
    /// waiting: for batches of lookups in a big set. See
    /// [`PHashMap::prefetch`](crate::PHashMap::prefetch). A hint: it changes nothing.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let set: PHashSet<u64> = (0..1000).collect();
    /// let batch = [3, 500, 2000];
    /// for v in &batch {
    ///     set.prefetch(v);
    /// }
    /// assert_eq!(batch.iter().filter(|v| set.contains(*v)).count(), 2);
    /// ```
    #[inline]
    pub fn prefetch<Q>(&self, value: &Q)
    where
        Q: Hash + Equivalent<T> + ?Sized,
    {
        self.map.prefetch(value);
    }

    /// The second stage of [`prefetch`](Self::prefetch): the block of the stored value a
    /// lookup of `value` most likely finds (a `PString`'s bytes). See
    /// [`PHashMap::prefetch_entry`](crate::PHashMap::prefetch_entry).
    #[inline]
    pub fn prefetch_entry<Q>(&self, value: &Q)
    where
        Q: Hash + Equivalent<T> + ?Sized,
    {
        self.map.prefetch_entry(value);
    }

    /// The stored value equal to `value`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let set: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// assert_eq!(set.get(&2), Some(&2));
    /// assert_eq!(set.get(&4), None);
    /// ```
    pub fn get<Q>(&self, value: &Q) -> Option<&T>
    where
        Q: Hash + Equivalent<T> + ?Sized,
    {
        self.map.get_key_value(value).map(|(k, ())| k)
    }

    /// A value chosen by `seed` (see [`PHashMap::pick`]: uniform for random seeds while the
    /// set fills a tenth of its table); `None` when the set is empty.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let set: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// assert!([1, 2, 3].contains(set.pick(42).unwrap()));
    /// ```
    pub fn pick(&self, seed: u64) -> Option<&T> {
        self.map.pick(seed).map(|(k, ())| k)
    }

    /// Removes `value`; returns whether it was present.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// set.insert(2);
    /// assert!(set.remove(&2));
    /// assert!(!set.remove(&2));
    /// ```
    pub fn remove<Q>(&mut self, value: &Q) -> bool
    where
        Q: Hash + Equivalent<T> + ?Sized,
    {
        self.map.remove(value).is_some()
    }

    /// Removes and returns the stored value equal to `value`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// assert_eq!(set.take(&2), Some(2));
    /// assert_eq!(set.take(&2), None);
    /// ```
    pub fn take<Q>(&mut self, value: &Q) -> Option<T>
    where
        Q: Hash + Equivalent<T> + ?Sized,
    {
        self.map.remove_entry(value).map(|(k, ())| k)
    }

    /// Reserves room for `additional` more values.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// set.reserve(10);
    /// assert!(set.capacity() >= 10);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional)
    }

    /// Reserves room, or returns `Error::OutOfSpace`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// set.try_reserve(10)?;
    /// assert!(set.capacity() >= 10);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        self.map.try_reserve(additional)
    }

    /// Shrinks the table to the smallest that holds the values.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let mut set: PHashSet<u64> = PHashSet::with_capacity(100);
    /// set.insert(1);
    /// set.insert(2);
    /// assert!(set.capacity() >= 100);
    /// set.shrink_to_fit();
    /// assert!(set.capacity() >= 2 && set.capacity() < 100);
    /// ```
    pub fn shrink_to_fit(&mut self) {
        self.map.shrink_to_fit()
    }

    /// Values in `self` or `other`, each once.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let a: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let b: PHashSet<u64> = PHashSet::from([4, 2, 3, 4]);
    /// let mut union: Vec<u64> = a.union(&b).copied().collect();
    /// union.sort();
    /// assert_eq!(union, [1, 2, 3, 4]);
    /// ```
    pub fn union<'a>(&'a self, other: &'a PHashSet<T, S>) -> impl Iterator<Item = &'a T> {
        self.iter()
            .chain(other.iter().filter(move |x| !self.contains(*x)))
    }

    /// Values in both sets.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let a: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let b: PHashSet<u64> = PHashSet::from([4, 2, 3, 4]);
    /// let mut both: Vec<u64> = a.intersection(&b).copied().collect();
    /// both.sort();
    /// assert_eq!(both, [2, 3]);
    /// ```
    pub fn intersection<'a>(&'a self, other: &'a PHashSet<T, S>) -> impl Iterator<Item = &'a T> {
        let (small, big) = if self.len() <= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        small.iter().filter(move |x| big.contains(*x))
    }

    /// Values in `self` but not in `other`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let a: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let b: PHashSet<u64> = PHashSet::from([4, 2, 3, 4]);
    /// let diff: Vec<u64> = a.difference(&b).copied().collect();
    /// assert_eq!(diff, [1]);
    /// let diff: Vec<u64> = b.difference(&a).copied().collect();
    /// assert_eq!(diff, [4]);
    /// ```
    pub fn difference<'a>(&'a self, other: &'a PHashSet<T, S>) -> impl Iterator<Item = &'a T> {
        self.iter().filter(move |x| !other.contains(*x))
    }

    /// Values in exactly one of the sets.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let a: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let b: PHashSet<u64> = PHashSet::from([4, 2, 3, 4]);
    /// let mut diff: Vec<u64> = a.symmetric_difference(&b).copied().collect();
    /// diff.sort();
    /// assert_eq!(diff, [1, 4]);
    /// ```
    pub fn symmetric_difference<'a>(
        &'a self,
        other: &'a PHashSet<T, S>,
    ) -> impl Iterator<Item = &'a T> {
        self.difference(other).chain(other.difference(self))
    }

    /// True when every value of `self` is in `other`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let sup: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// assert!(set.is_subset(&sup));
    /// set.insert(2);
    /// assert!(set.is_subset(&sup));
    /// set.insert(4);
    /// assert!(!set.is_subset(&sup));
    /// ```
    pub fn is_subset(&self, other: &PHashSet<T, S>) -> bool {
        self.len() <= other.len() && self.iter().all(|x| other.contains(x))
    }

    /// True when every value of `other` is in `self`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let sub: PHashSet<u64> = PHashSet::from([1, 2]);
    /// let mut set: PHashSet<u64> = PHashSet::new();
    /// assert!(!set.is_superset(&sub));
    /// set.insert(1);
    /// assert!(!set.is_superset(&sub));
    /// set.insert(2);
    /// assert!(set.is_superset(&sub));
    /// ```
    pub fn is_superset(&self, other: &PHashSet<T, S>) -> bool {
        other.is_subset(self)
    }

    /// True when the sets share no value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashSet;
    ///
    /// let a: PHashSet<u64> = PHashSet::from([1, 2, 3]);
    /// let mut b: PHashSet<u64> = PHashSet::new();
    /// assert!(a.is_disjoint(&b));
    /// b.insert(4);
    /// assert!(a.is_disjoint(&b));
    /// b.insert(1);
    /// assert!(!a.is_disjoint(&b));
    /// ```
    pub fn is_disjoint(&self, other: &PHashSet<T, S>) -> bool {
        self.intersection(other).next().is_none()
    }
}

/// Iterator over a set's values, from [`PHashSet::iter`].
pub struct Iter<'a, T> {
    inner: phashmap::Keys<'a, T, ()>,
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
impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T: Persistent, S: Persistent> IntoIterator for &'a PHashSet<T, S> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T: Persistent + fmt::Debug, S: Persistent> fmt::Debug for PHashSet<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Persistent + Hash + Eq, S: Persistent + BuildHasher> PartialEq for PHashSet<T, S> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.is_subset(other)
    }
}

impl<T: Persistent + Hash + Eq, S: Persistent + BuildHasher> Eq for PHashSet<T, S> {}

/// Compares with a std set of the same value type.
impl<T: Persistent + Hash + Eq, S: Persistent, S2: BuildHasher> PartialEq<HashSet<T, S2>>
    for PHashSet<T, S>
{
    fn eq(&self, other: &HashSet<T, S2>) -> bool {
        self.len() == other.len() && self.iter().all(|x| other.contains(x))
    }
}

/// Compares a set of `PString` with a std set of `String`.
impl<S: Persistent, S2: BuildHasher> PartialEq<HashSet<String, S2>>
    for PHashSet<super::PString, S>
{
    fn eq(&self, other: &HashSet<String, S2>) -> bool {
        self.len() == other.len() && self.iter().all(|x| other.contains(x.as_str()))
    }
}

impl<T, S, I> Extend<I> for PHashSet<T, S>
where
    T: Persistent + Hash + Eq,
    S: Persistent + BuildHasher,
    I: IntoPersistent<T>,
    I::Probe: Hash + Equivalent<T>,
{
    fn extend<It: IntoIterator<Item = I>>(&mut self, iter: It) {
        iter.into_iter().for_each(|x| {
            self.insert(x);
        });
    }
}

/// Builds a set in process memory (stored into a pool, it moves there).
impl<T, S, I> FromIterator<I> for PHashSet<T, S>
where
    T: Persistent + Hash + Eq,
    S: Persistent + BuildHasher + Default,
    I: IntoPersistent<T>,
    I::Probe: Hash + Equivalent<T>,
{
    fn from_iter<It: IntoIterator<Item = I>>(iter: It) -> Self {
        let mut s = Self::default();
        s.extend(iter);
        s
    }
}

// SAFETY: a PHashSet is its map (transparent); layout and visit are the map's.
#[allow(unsafe_code)]
unsafe impl<T: Persistent, S: Persistent> Persistent for PHashSet<T, S> {
    crate::collections::handle::wrapper_moves!(PHashSet, map);
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PHashSet", size_of::<Self>(), align_of::<Self>()) {
            PHashMap::<T, (), S>::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        self.map.visit(v);
    }
}

super::phashmap::opaque_debug!(Iter ['a, T] ['a, T]);
