//! `PHashMap`'s entry API: `Entry`, `OccupiedEntry`, `VacantEntry` (re-exported from
//! `phashmap.rs`, where `PHashMap::entry` makes them).

#![allow(unsafe_code)]

use std::hash::{BuildHasher, Hash};

use super::{PHashMap, Table, value_slot};
use crate::collections::convert::IntoPersistent;
use crate::collections::entry::{self, Occupied, Vacant};
use crate::collections::handle::{self, off_of};
use crate::collections::hasher::PRandomState;
use crate::error::Result;
use crate::persistent::Persistent;

/// A view into one key's place in a [`PHashMap`], from [`PHashMap::entry`] (the
/// combinators, `or_insert` and the rest, are in [`crate::collections::entry`]).
pub type Entry<'a, K, V, I, S = PRandomState> =
    entry::Entry<OccupiedEntry<'a, K, V, S>, VacantEntry<'a, K, V, I, S>>;

/// A present key's entry.
pub struct OccupiedEntry<'a, K: Persistent, V: Persistent, S: Persistent = PRandomState> {
    pub(super) map: &'a mut PHashMap<K, V, S>,
    pub(super) index: usize,
}

/// An absent key's entry; the key is converted into `K` only by [`VacantEntry::insert`].
pub struct VacantEntry<'a, K: Persistent, V: Persistent, I, S: Persistent = PRandomState> {
    pub(super) map: &'a mut PHashMap<K, V, S>,
    pub(super) hash: u64,
    pub(super) key: I,
}

impl<'a, K: Persistent, V: Persistent, S: Persistent> OccupiedEntry<'a, K, V, S> {
    fn table(&self) -> Table<'_, K, V> {
        self.map
            .view()
            .expect("an occupied entry's map is not empty")
    }

    /// The stored key.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.key(), &1);
    /// } else { unreachable!() }
    /// ```
    pub fn key(&self) -> &K {
        &self.table().get(self.index).0
    }

    /// The value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.get(), &10);
    /// } else { unreachable!() }
    /// ```
    pub fn get(&self) -> &V {
        &self.table().get(self.index).1
    }

    /// The value, mutably (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(mut e) = map.entry(1) {
    ///     *e.get_mut() += 5;
    ///     *e.get_mut() += 2;
    /// }
    /// assert_eq!(map[&1], 17);
    /// ```
    pub fn get_mut(&mut self) -> &mut V {
        self.map.value_mut_at(self.index, "OccupiedEntry::get_mut")
    }

    /// The value, mutably for the map's borrow (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     *e.into_mut() += 10;
    /// }
    /// assert_eq!(map[&1], 20);
    /// ```
    pub fn into_mut(self) -> &'a mut V {
        self.map.value_mut_at(self.index, "OccupiedEntry::into_mut")
    }

    /// Replaces the value; returns the old one.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(mut e) = map.entry(1) {
    ///     assert_eq!(e.insert(15), 10);
    /// }
    /// assert_eq!(map[&1], 15);
    /// ```
    pub fn insert(&mut self, mut value: V) -> V {
        let stored = self
            .map
            .with_pool(|_, core| handle::store(&mut value, core));
        stored.unwrap_or_else(|e| panic!("pcoll: OccupiedEntry::insert: {e}"));
        handle::detach(std::mem::replace(self.get_mut(), value))
    }

    /// Removes the entry; returns the value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.remove(), 10);
    /// }
    /// assert!(!map.contains_key(&1));
    /// ```
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    /// Removes the entry; returns the stored key and the value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.remove_entry(), (1, 10));
    /// }
    /// assert!(map.is_empty());
    /// ```
    pub fn remove_entry(self) -> (K, V) {
        let i = self.index;
        let kv = self.map.with_pool(|m, core| m.take_at(core, i));
        handle::detach(kv.unwrap_or_else(|e| panic!("pcoll: OccupiedEntry::remove: {e}")))
    }
}

impl<'a, K, V, I, S> VacantEntry<'a, K, V, I, S>
where
    K: Persistent + Hash,
    V: Persistent,
    S: Persistent + BuildHasher,
    I: IntoPersistent<K>,
{
    /// The key given to `entry`, in its borrowed form.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<PString, u64> = PHashMap::new();
    /// if let Entry::Vacant(e) = map.entry("poneyland") {
    ///     assert_eq!(e.key(), "poneyland"); // the borrowed form: a &str here
    /// } else { unreachable!() }
    /// ```
    pub fn key(&self) -> &I::Probe {
        self.key.probe()
    }

    /// The key given to `entry`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<PString, u64> = PHashMap::new();
    /// if let Entry::Vacant(e) = map.entry("poneyland") {
    ///     let key: &str = e.into_key(); // the key as given, not converted
    ///     assert_eq!(key, "poneyland");
    /// }
    /// assert!(map.is_empty());
    /// ```
    pub fn into_key(self) -> I {
        self.key
    }

    /// Inserts the key with `value`; returns the value, mutably.
    ///
    /// # Panics
    /// When the pool is full.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// if let Entry::Vacant(e) = map.entry(1) {
    ///     *e.insert(37) += 1;
    /// }
    /// assert_eq!(map[&1], 38);
    /// ```
    pub fn insert(self, value: impl IntoPersistent<V>) -> &'a mut V {
        self.try_insert(value)
            .unwrap_or_else(|e| panic!("pcoll: VacantEntry::insert: {e}"))
    }

    /// [`Self::insert`], reporting a full pool (or a failed conversion) as an error; the
    /// map is unchanged then.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// if let Entry::Vacant(e) = map.entry(1) {
    ///     assert_eq!(*e.try_insert(37)?, 37);
    /// }
    /// assert_eq!(map[&1], 37);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert(self, value: impl IntoPersistent<V>) -> Result<&'a mut V> {
        let (map, i) = self.insert_at(value)?;
        // The slot was just written without undo (fresh for this transaction's purposes):
        // changes through the reference need no log entry and are noted for write-back.
        let p = map.with_home(|m, core| {
            let t = m.table(core).expect("just inserted");
            let p = value_slot(&t, i);
            handle::hand_out(core, off_of(m.raw), p, 1);
            p
        });
        // SAFETY: bucket i is full with the new entry; exclusive through the map's `&mut`,
        // whose pool (holding the map, with_home) outlives it.
        Ok(unsafe { &mut *p })
    }

    /// Inserts the entry and returns it as an occupied entry (as
    /// `VacantEntry::insert_entry`).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    /// use pcoll::collections::phashmap::Entry;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::new();
    /// if let Entry::Vacant(e) = map.entry(1) {
    ///     let o = e.insert_entry(37);
    ///     assert_eq!((*o.key(), *o.get()), (1, 37));
    /// }
    /// assert_eq!(map[&1], 37);
    /// ```
    pub fn insert_entry(self, value: impl IntoPersistent<V>) -> OccupiedEntry<'a, K, V, S> {
        let (map, index) = self
            .insert_at(value)
            .unwrap_or_else(|e| panic!("pcoll: VacantEntry::insert_entry: {e}"));
        OccupiedEntry { map, index }
    }

    /// Inserts the entry; returns the map and the entry's bucket.
    fn insert_at(
        self,
        value: impl IntoPersistent<V>,
    ) -> Result<(&'a mut PHashMap<K, V, S>, usize)> {
        let (hash, key) = (self.hash, self.key);
        let i = self.map.with_home(|m, core| {
            m.settle(core);
            let kv = (
                handle::convert_in(key, core)?,
                handle::convert_in(value, core)?,
            );
            m.insert_new(core, hash, kv)
        });
        Ok((self.map, i?))
    }
}

impl<'a, K: Persistent, V: Persistent + 'a, S: Persistent> Occupied<'a>
    for OccupiedEntry<'a, K, V, S>
{
    type Key = K;
    type Value = V;
    fn key(&self) -> &K {
        OccupiedEntry::key(self)
    }
    fn get_mut(&mut self) -> &mut V {
        OccupiedEntry::get_mut(self)
    }
    fn into_mut(self) -> &'a mut V {
        OccupiedEntry::into_mut(self)
    }
    fn insert(&mut self, value: V) -> V {
        OccupiedEntry::insert(self, value)
    }
}

impl<'a, K, V, I, S> Vacant<'a> for VacantEntry<'a, K, V, I, S>
where
    K: Persistent + Hash,
    V: Persistent + 'a,
    S: Persistent + BuildHasher,
    I: IntoPersistent<K>,
{
    type Probe = I::Probe;
    type Value = V;
    type Occupied = OccupiedEntry<'a, K, V, S>;
    fn key(&self) -> &I::Probe {
        VacantEntry::key(self)
    }
    fn try_insert<W: IntoPersistent<V>>(self, value: W) -> Result<&'a mut V> {
        VacantEntry::try_insert(self, value)
    }
    fn insert_entry<W: IntoPersistent<V>>(self, value: W) -> OccupiedEntry<'a, K, V, S> {
        VacantEntry::insert_entry(self, value)
    }
}
