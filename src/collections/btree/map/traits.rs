//! `PBTreeMap`'s std trait impls: `Index`, `Debug`, `PartialEq`/`Eq`/`PartialOrd`/`Ord`
//! (with itself and with std's `BTreeMap`), `Extend`, `FromIterator`, and `IntoIterator` for
//! `&PBTreeMap` and `&mut PBTreeMap`.

use crate::collections::equivalent::Comparable;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Index;

use super::PBTreeMap;
use crate::collections::btree::iter::{Iter, IterMut};
use crate::collections::convert::IntoPersistent;
use crate::persistent::Persistent;

impl<K, V, Q> Index<&Q> for PBTreeMap<K, V>
where
    K: Persistent + Ord,
    V: Persistent,
    Q: Comparable<K> + ?Sized,
{
    type Output = V;
    /// # Panics
    /// When the key is absent.
    fn index(&self, k: &Q) -> &V {
        self.get(k).expect("pcoll: PBTreeMap: key not found")
    }
}

impl<K: Persistent + fmt::Debug, V: Persistent + fmt::Debug> fmt::Debug for PBTreeMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Persistent + PartialEq, V: Persistent + PartialEq> PartialEq for PBTreeMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: Persistent + Eq, V: Persistent + Eq> Eq for PBTreeMap<K, V> {}

impl<K: Persistent + PartialOrd, V: Persistent + PartialOrd> PartialOrd for PBTreeMap<K, V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.iter().partial_cmp(other.iter())
    }
}

impl<K: Persistent + Ord, V: Persistent + Ord> Ord for PBTreeMap<K, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

/// Compares with a std map of the same key type.
impl<K, V, W> PartialEq<BTreeMap<K, W>> for PBTreeMap<K, V>
where
    K: Persistent + PartialEq,
    V: Persistent + PartialEq<W>,
{
    fn eq(&self, other: &BTreeMap<K, W>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, v), (b, w))| a == b && v == w)
    }
}

/// Compares a map keyed by `PString` with a std map keyed by `String`.
impl<V, W> PartialEq<BTreeMap<String, W>> for PBTreeMap<crate::PString, V>
where
    V: Persistent + PartialEq<W>,
{
    fn eq(&self, other: &BTreeMap<String, W>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((a, v), (b, w))| a == b && v == w)
    }
}

impl<K, V, I, W> Extend<(I, W)> for PBTreeMap<K, V>
where
    K: Persistent + Ord,
    V: Persistent,
    I: IntoPersistent<K>,
    I::Probe: Comparable<K>,
    W: IntoPersistent<V>,
{
    fn extend<T: IntoIterator<Item = (I, W)>>(&mut self, iter: T) {
        iter.into_iter().for_each(|(k, v)| {
            self.insert(k, v);
        });
    }
}

/// Builds a map in process memory (stored into a pool, it moves there).
impl<K, V, I, W> FromIterator<(I, W)> for PBTreeMap<K, V>
where
    K: Persistent + Ord,
    V: Persistent,
    I: IntoPersistent<K>,
    I::Probe: Comparable<K>,
    W: IntoPersistent<V>,
{
    fn from_iter<T: IntoIterator<Item = (I, W)>>(iter: T) -> Self {
        let mut m = Self::new();
        m.extend(iter);
        m
    }
}

impl<'a, K: Persistent, V: Persistent> IntoIterator for &'a PBTreeMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K: Persistent, V: Persistent> IntoIterator for &'a mut PBTreeMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}
