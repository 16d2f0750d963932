//! `PHashMap`'s entry API: `Entry`, `OccupiedEntry`, `VacantEntry` (re-exported from
//! `phashmap.rs`, where `PHashMap::entry` makes them).

#![allow(unsafe_code)]

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use super::{PHashMap, Table, value_slot};
use crate::collections::convert::IntoPersistent;
use crate::collections::handle::{self, off_of};
use crate::collections::hasher::PRandomState;
use crate::error::Result;
use crate::persistent::Persistent;

/// A view into one key's place in a [`PHashMap`], from [`PHashMap::entry`].
pub enum Entry<'a, K: Persistent, V: Persistent, I, S: Persistent = PRandomState> {
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V, S>),
    /// The key is absent.
    Vacant(VacantEntry<'a, K, V, I, S>),
}

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

impl<'a, K, V, I, S> Entry<'a, K, V, I, S>
where
    K: Persistent + Hash + Borrow<I::Probe>,
    V: Persistent,
    S: Persistent + BuildHasher,
    I: IntoPersistent<K>,
    I::Probe: Hash + Eq,
{
    /// The value, inserting `default` when absent.
    pub fn or_insert(self, default: impl IntoPersistent<V>) -> &'a mut V {
        match self {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(default),
        }
    }

    /// [`Self::or_insert`], reporting a full pool as an error (the map is unchanged then).
    pub fn try_or_insert(self, default: impl IntoPersistent<V>) -> Result<&'a mut V> {
        match self {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => e.try_insert(default),
        }
    }

    /// Sets the value (dropping an old one) and returns the occupied entry (as
    /// `Entry::insert_entry`).
    ///
    /// ```
    /// let mut m: pcoll::PHashMap<u64, u64> = pcoll::PHashMap::new();
    /// let e = m.entry(1).insert_entry(10);
    /// assert_eq!((*e.key(), *e.get()), (1, 10));
    /// assert_eq!(m.entry(1).insert_entry(11).remove(), 11);
    /// ```
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S> {
        match self {
            Entry::Occupied(mut e) => {
                drop(e.insert(value));
                e
            }
            Entry::Vacant(e) => e.insert_entry(value),
        }
    }

    /// The value, inserting `f()` when absent.
    pub fn or_insert_with<W: IntoPersistent<V>, F: FnOnce() -> W>(self, f: F) -> &'a mut V {
        match self {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(f()),
        }
    }

    /// The value, inserting `f(&key)` when absent.
    pub fn or_insert_with_key<W, F>(self, f: F) -> &'a mut V
    where
        W: IntoPersistent<V>,
        F: FnOnce(&I::Probe) -> W,
    {
        match self {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let v = f(e.key());
                e.insert(v)
            }
        }
    }

    /// The value, inserting `V::default()` when absent.
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }

    /// Runs `f` on the value when present.
    pub fn and_modify<F: FnOnce(&mut V)>(self, f: F) -> Self {
        match self {
            Entry::Occupied(mut e) => {
                f(e.get_mut());
                Entry::Occupied(e)
            }
            Entry::Vacant(e) => Entry::Vacant(e),
        }
    }

    /// The key (the stored one when present, else the one given to `entry`).
    pub fn key(&self) -> &I::Probe {
        match self {
            Entry::Occupied(e) => e.key().borrow(),
            Entry::Vacant(e) => e.key(),
        }
    }
}

impl<'a, K: Persistent, V: Persistent, S: Persistent> OccupiedEntry<'a, K, V, S> {
    fn table(&self) -> Table<'_, K, V> {
        self.map
            .view()
            .expect("an occupied entry's map is not empty")
    }

    /// The stored key.
    pub fn key(&self) -> &K {
        &self.table().get(self.index).0
    }

    /// The value.
    pub fn get(&self) -> &V {
        &self.table().get(self.index).1
    }

    /// The value, mutably (logged).
    pub fn get_mut(&mut self) -> &mut V {
        self.map.value_mut_at(self.index, "OccupiedEntry::get_mut")
    }

    /// The value, mutably for the map's borrow (logged).
    pub fn into_mut(self) -> &'a mut V {
        self.map.value_mut_at(self.index, "OccupiedEntry::into_mut")
    }

    /// Replaces the value; returns the old one.
    pub fn insert(&mut self, mut value: V) -> V {
        let stored = self
            .map
            .with_pool(|_, core| handle::store(&mut value, core));
        stored.unwrap_or_else(|e| panic!("pcoll: OccupiedEntry::insert: {e}"));
        handle::detach(std::mem::replace(self.get_mut(), value))
    }

    /// Removes the entry; returns the value.
    pub fn remove(self) -> V {
        self.remove_entry().1
    }

    /// Removes the entry; returns the stored key and the value.
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
    pub fn key(&self) -> &I::Probe {
        self.key.probe()
    }

    /// The key given to `entry`.
    pub fn into_key(self) -> I {
        self.key
    }

    /// Inserts the key with `value`; returns the value, mutably.
    ///
    /// # Panics
    /// When the pool is full.
    pub fn insert(self, value: impl IntoPersistent<V>) -> &'a mut V {
        self.try_insert(value)
            .unwrap_or_else(|e| panic!("pcoll: VacantEntry::insert: {e}"))
    }

    /// [`Self::insert`], reporting a full pool (or a failed conversion) as an error; the
    /// map is unchanged then.
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
