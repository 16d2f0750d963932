//! `PBTreeMap`'s entry API: `Entry`, `OccupiedEntry`, `VacantEntry` (re-exported from
//! `map.rs`, where `PBTreeMap::entry`, `first_entry` and `last_entry` make them).

#![allow(unsafe_code)]

use super::{PBTreeMap, Path};
use crate::collections::btree::node::NodeRef;
use crate::collections::convert::IntoPersistent;
use crate::collections::entry::{self, Occupied, Vacant};
use crate::collections::handle;
use crate::error::Result;
use crate::persistent::Persistent;

/// A view into one key's place in a [`PBTreeMap`], from [`PBTreeMap::entry`] (the
/// combinators, `or_insert` and the rest, are in [`crate::collections::entry`]).
pub type Entry<'a, K, V, I> = entry::Entry<OccupiedEntry<'a, K, V>, VacantEntry<'a, K, V, I>>;

/// A present key's entry.
pub struct OccupiedEntry<'a, K: Persistent, V: Persistent> {
    pub(super) map: &'a mut PBTreeMap<K, V>,
    pub(super) path: Path,
}

/// An absent key's entry; the key is converted into `K` only by [`VacantEntry::insert`].
pub struct VacantEntry<'a, K: Persistent, V: Persistent, I> {
    pub(super) map: &'a mut PBTreeMap<K, V>,
    pub(super) path: Path,
    pub(super) key: I,
}

impl<'a, K: Persistent + Ord, V: Persistent> OccupiedEntry<'a, K, V> {
    fn pair(&self) -> (NodeRef<'_, K, V>, usize) {
        let (core, _) = self
            .map
            .view()
            .expect("an occupied entry's map is not empty");
        let d = self.path.len() - 1;
        (self.map.node_at(core, self.path[d].0, d), self.path[d].1)
    }

    /// The stored key.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.key(), &1);
    /// } else { unreachable!() }
    /// ```
    pub fn key(&self) -> &K {
        let (n, i) = self.pair();
        n.key(i)
    }

    /// The value.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.get(), &10);
    /// } else { unreachable!() }
    /// ```
    pub fn get(&self) -> &V {
        let (n, i) = self.pair();
        n.val(i)
    }

    /// The value, mutably (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
    /// if let Entry::Occupied(mut e) = map.entry(1) {
    ///     *e.get_mut() += 5;
    ///     *e.get_mut() += 2;
    /// }
    /// assert_eq!(map[&1], 17);
    /// ```
    pub fn get_mut(&mut self) -> &mut V {
        self.map.value_mut_at(&self.path, "OccupiedEntry::get_mut")
    }

    /// The value, mutably for the map's borrow (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     *e.into_mut() += 10;
    /// }
    /// assert_eq!(map[&1], 20);
    /// ```
    pub fn into_mut(self) -> &'a mut V {
        self.map.value_mut_at(&self.path, "OccupiedEntry::into_mut")
    }

    /// Replaces the value; returns the old one.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
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
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
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
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::from([(1, 10)]);
    /// if let Entry::Occupied(e) = map.entry(1) {
    ///     assert_eq!(e.remove_entry(), (1, 10));
    /// }
    /// assert!(map.is_empty());
    /// ```
    pub fn remove_entry(self) -> (K, V) {
        let path = self.path;
        let kv = self.map.with_pool(|m, core| m.remove_at(core, &path));
        handle::detach(kv.unwrap_or_else(|e| panic!("pcoll: OccupiedEntry::remove: {e}")))
    }
}

impl<'a, K, V, I> VacantEntry<'a, K, V, I>
where
    K: Persistent + Ord,
    V: Persistent,
    I: IntoPersistent<K>,
{
    /// The key given to `entry`, in its borrowed form.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<PString, u64> = PBTreeMap::new();
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
    /// use pcoll::{PBTreeMap, PString};
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<PString, u64> = PBTreeMap::new();
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
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// if let Entry::Vacant(e) = map.entry(1) {
    ///     *e.insert(37) += 1;
    /// }
    /// assert_eq!(map[&1], 38);
    /// ```
    pub fn insert(self, value: impl IntoPersistent<V>) -> &'a mut V {
        self.try_insert(value)
            .unwrap_or_else(|e| panic!("pcoll: VacantEntry::insert: {e}"))
    }

    /// Inserts the entry and returns it as an occupied entry (as
    /// `VacantEntry::insert_entry`).
    ///
    /// # Panics
    /// When the pool is full.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// if let Entry::Vacant(e) = map.entry(1) {
    ///     let o = e.insert_entry(37);
    ///     assert_eq!((*o.key(), *o.get()), (1, 37));
    /// }
    /// assert_eq!(map[&1], 37);
    /// ```
    pub fn insert_entry(self, value: impl IntoPersistent<V>) -> OccupiedEntry<'a, K, V> {
        let (map, path) = self
            .insert_pair(value)
            .unwrap_or_else(|e| panic!("pcoll: VacantEntry::insert_entry: {e}"));
        OccupiedEntry { map, path }
    }

    /// Inserts the pair; returns the map and the path to it.
    fn insert_pair(self, value: impl IntoPersistent<V>) -> Result<(&'a mut PBTreeMap<K, V>, Path)> {
        let (map, off, i) = self.insert_in_leaf(value)?;
        let path = map.with_home(|m, core| {
            let leaf = m.node_at(core, off, m.height());
            m.search_path(core, leaf.key(i)).0
        });
        Ok((map, path))
    }

    /// Inserts the pair; returns the map, and the leaf and slot where it landed.
    fn insert_in_leaf(
        self,
        value: impl IntoPersistent<V>,
    ) -> Result<(&'a mut PBTreeMap<K, V>, u64, usize)> {
        let (path, key) = (self.path, self.key);
        let (off, i) = self.map.with_home(|m, core| {
            let kv = (
                handle::convert_in(key, core)?,
                handle::convert_in(value, core)?,
            );
            m.insert_at(core, &path, kv.0, kv.1)
        })?;
        Ok((self.map, off, i))
    }

    /// [`Self::insert`], reporting a full pool (or a failed conversion) as an error; the
    /// map is unchanged then.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PBTreeMap;
    /// use pcoll::collections::btree::map::Entry;
    ///
    /// let mut map: PBTreeMap<u64, u64> = PBTreeMap::new();
    /// if let Entry::Vacant(e) = map.entry(1) {
    ///     assert_eq!(*e.try_insert(37)?, 37);
    /// }
    /// assert_eq!(map[&1], 37);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert(self, value: impl IntoPersistent<V>) -> Result<&'a mut V> {
        let (map, off, i) = self.insert_in_leaf(value)?;
        let p = map.with_home(|m, core| {
            let depth = m.height(); // the pair landed in a leaf
            let p = m.node_at(core, off, depth).val_ptr(i);
            handle::hand_out(core, off, p, 1);
            p
        });
        // SAFETY: the pair was just written into slot i of that leaf (no undo needed: the
        // slot was logged or fresh before the insert); exclusive through the map's `&mut`,
        // whose pool outlives it.
        Ok(unsafe { &mut *p })
    }
}

impl<'a, K: Persistent + Ord, V: Persistent + 'a> Occupied<'a> for OccupiedEntry<'a, K, V> {
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

impl<'a, K, V, I> Vacant<'a> for VacantEntry<'a, K, V, I>
where
    K: Persistent + Ord,
    V: Persistent + 'a,
    I: IntoPersistent<K>,
{
    type Probe = I::Probe;
    type Value = V;
    type Occupied = OccupiedEntry<'a, K, V>;
    fn key(&self) -> &I::Probe {
        VacantEntry::key(self)
    }
    fn try_insert<W: IntoPersistent<V>>(self, value: W) -> Result<&'a mut V> {
        VacantEntry::try_insert(self, value)
    }
    fn insert_entry<W: IntoPersistent<V>>(self, value: W) -> OccupiedEntry<'a, K, V> {
        VacantEntry::insert_entry(self, value)
    }
}
