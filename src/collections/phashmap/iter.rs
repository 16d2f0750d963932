//! `PHashMap`'s iterators: `Iter`, `Keys`, `Values`, `IterMut`, `ValuesMut` (re-exported from
//! `phashmap.rs`, whose `iter`, `keys`, ... make them) and `IntoIterator` for `&PHashMap` and
//! `&mut PHashMap`. By-value iteration (`IntoIterator for PHashMap`) is in `std_api.rs`.

#![allow(unsafe_code)]

use std::marker::PhantomData;

use super::{PHashMap, Table};
use crate::collections::hasher::PRandomState;
use crate::collections::table;
use crate::persistent::Persistent;

/// Iterator over `(&K, &V)`, from [`PHashMap::iter`].
pub struct Iter<'a, K, V> {
    pub(super) table: Option<Table<'a, K, V>>,
    pub(super) full: Option<table::FullBuckets<'a, (K, V)>>,
    pub(super) left: usize,
}

impl<'a, K, V> Iter<'a, K, V> {
    /// The next entry with its bucket.
    #[inline]
    fn next_at(&mut self) -> Option<(&'a K, &'a V, usize)> {
        // `left` counts the map's entries: a damaged table with more full buckets than that
        // ends the walk there, keeping `len()` exact (issue 13, #7).
        self.left = self.left.checked_sub(1)?;
        let i = self.full.as_mut()?.next()?;
        let (k, v) = self.table?.get(i);
        Some((k, v, i))
    }
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Iter {
            table: self.table,
            full: self.full.clone(),
            left: self.left,
        }
    }
}

impl<'a, K, V> Iterator for IterAt<'a, K, V> {
    type Item = (&'a K, &'a V, usize);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_at()
    }
}

/// `Iter` with bucket indices, for the map's own use.
pub(super) struct IterAt<'a, K, V>(pub(super) Iter<'a, K, V>);

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    #[inline]
    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        self.next_at().map(|(k, v, _)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> std::iter::FusedIterator for Iter<'_, K, V> {}

/// Iterator over keys, from [`PHashMap::keys`].
pub struct Keys<'a, K, V> {
    pub(super) inner: Iter<'a, K, V>,
}

impl<'a, K, V> Iterator for Keys<'a, K, V> {
    type Item = &'a K;
    fn next(&mut self) -> Option<&'a K> {
        self.inner.next().map(|(k, _)| k)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
impl<K, V> ExactSizeIterator for Keys<'_, K, V> {}

/// Iterator over values, from [`PHashMap::values`].
pub struct Values<'a, K, V> {
    pub(super) inner: Iter<'a, K, V>,
}

impl<'a, K, V> Iterator for Values<'a, K, V> {
    type Item = &'a V;
    fn next(&mut self) -> Option<&'a V> {
        self.inner.next().map(|(_, v)| v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
impl<K, V> ExactSizeIterator for Values<'_, K, V> {}

/// Iterator over `(&K, &mut V)`, from [`PHashMap::iter_mut`]; logs each value it yields.
pub struct IterMut<'a, K: Persistent, V: Persistent, S: Persistent = PRandomState> {
    pub(super) map: *mut PHashMap<K, V, S>,
    pub(super) pos: usize,
    pub(super) bits: Option<table::BitMask>,
    pub(super) buckets: usize,
    pub(super) left: usize,
    pub(super) _m: PhantomData<&'a mut PHashMap<K, V, S>>,
}

impl<'a, K: Persistent, V: Persistent, S: Persistent> Iterator for IterMut<'a, K, V, S> {
    type Item = (&'a K, &'a mut V);
    fn next(&mut self) -> Option<(&'a K, &'a mut V)> {
        // SAFETY: `map` is the `&'a mut` this iterator was made from. The `&mut` made here
        // covers the map's header only; the values yielded earlier live in its table.
        let map = unsafe { &mut *self.map };
        self.left = self.left.checked_sub(1)?; // see `Iter::next_at`
        let i = loop {
            if let Some(b) = self.bits.as_mut()?.next() {
                break self.pos + b;
            }
            self.pos += table::GROUP;
            if self.pos >= self.buckets {
                return None;
            }
            self.bits = map.view().map(|t| t.full_in_group(self.pos));
        };
        let v = map.value_mut_at(i, "iter_mut") as *mut V;
        let k = &map.view().expect("non-empty").get(i).0 as *const K;
        // SAFETY: distinct full buckets, each yielded once, logged; exclusive for 'a through
        // the map's borrow, and the pool holding the map outlives it (value_mut_at).
        Some(unsafe { (&*k, &mut *v) })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
impl<K: Persistent, V: Persistent, S: Persistent> ExactSizeIterator for IterMut<'_, K, V, S> {}

/// Iterator over mutable values, from [`PHashMap::values_mut`].
pub struct ValuesMut<'a, K: Persistent, V: Persistent, S: Persistent = PRandomState> {
    pub(super) inner: IterMut<'a, K, V, S>,
}

impl<'a, K: Persistent, V: Persistent, S: Persistent> Iterator for ValuesMut<'a, K, V, S> {
    type Item = &'a mut V;
    fn next(&mut self) -> Option<&'a mut V> {
        self.inner.next().map(|(_, v)| v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
impl<K: Persistent, V: Persistent, S: Persistent> ExactSizeIterator for ValuesMut<'_, K, V, S> {}

impl<'a, K: Persistent, V: Persistent, S: Persistent> IntoIterator for &'a PHashMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K: Persistent, V: Persistent, S: Persistent> IntoIterator for &'a mut PHashMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V, S>;
    fn into_iter(self) -> IterMut<'a, K, V, S> {
        self.iter_mut()
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// An iterator over the entries.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let map: PHashMap<u64, u64> = PHashMap::from([(1, 10), (2, 20), (3, 30)]);
    /// let mut v: Vec<(u64, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
    /// v.sort(); // arbitrary order
    /// assert_eq!(v, [(1, 10), (2, 20), (3, 30)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        let table = self.view();
        Iter {
            full: table.map(|t| t.full()),
            table,
            left: self.iter_len(),
        }
    }

    /// An iterator over the keys.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let map: PHashMap<u64, u64> = PHashMap::from([(1, 10), (2, 20), (3, 30)]);
    /// let mut keys: Vec<u64> = map.keys().copied().collect();
    /// keys.sort();
    /// assert_eq!(keys, [1, 2, 3]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// An iterator over the values.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let map: PHashMap<u64, u64> = PHashMap::from([(1, 10), (2, 20), (3, 30)]);
    /// let mut values: Vec<u64> = map.values().copied().collect();
    /// values.sort();
    /// assert_eq!(values, [10, 20, 30]);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// An iterator over the entries with mutable values; each value is logged as it is
    /// handed out.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 1), (2, 2), (3, 3)]);
    /// for (_, val) in map.iter_mut() {
    ///     *val *= 2;
    /// }
    /// assert_eq!((map[&1], map[&2], map[&3]), (2, 4, 6));
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V, S> {
        let (buckets, left) = (self.buckets(), self.iter_len());
        let bits = self.view().map(|t| t.full_in_group(0));
        IterMut {
            map: self,
            pos: 0,
            bits,
            buckets,
            left,
            _m: PhantomData,
        }
    }

    /// An iterator over mutable values (each logged as it is handed out).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 1), (2, 2), (3, 3)]);
    /// for val in map.values_mut() {
    ///     *val += 10;
    /// }
    /// assert_eq!((map[&1], map[&2], map[&3]), (11, 12, 13));
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V, S> {
        ValuesMut {
            inner: self.iter_mut(),
        }
    }
}
