//! The entry API's combinators, written once for both maps. [`Entry`] is generic over a map's
//! occupied and vacant entries (`phashmap::Entry` and `btree::map::Entry` are aliases of it,
//! so `Entry::Occupied(e)` patterns read as in std); `or_insert`, `or_insert_with`,
//! `and_modify`, `insert_entry` and the rest use only what [`Occupied`] and [`Vacant`] say,
//! which each map's `OccupiedEntry` and `VacantEntry` implement.

use std::borrow::Borrow;

use crate::collections::convert::IntoPersistent;
use crate::error::Result;
use crate::persistent::Persistent;

/// A view into one key's place in a map, from `entry` (`PHashMap::entry`,
/// `PBTreeMap::entry`).
pub enum Entry<O, Vc> {
    /// The key is present.
    Occupied(O),
    /// The key is absent.
    Vacant(Vc),
}

/// What a map's occupied entry gives the shared combinators (`OccupiedEntry` of each map;
/// its inherent methods of the same names are the ones to call). Also for code written once
/// for the entries of both maps:
///
/// ```
/// use pcoll::collections::entry::{Entry, Occupied};
/// use pcoll::{PBTreeMap, PHashMap, PString};
///
/// /// Doubles the value and hands back the old one, in either map.
/// fn double<'a, O: Occupied<'a, Key = PString, Value = u64>>(mut e: O) -> (String, u64) {
///     let old = *e.get_mut();
///     assert_eq!(e.insert(old * 2), old);
///     let key = e.key().to_string();
///     *e.into_mut() += 0;
///     (key, old)
/// }
/// let mut h: PHashMap<PString, u64> = PHashMap::new();
/// let mut t: PBTreeMap<PString, u64> = PBTreeMap::new();
/// h.insert("a", 1);
/// t.insert("b", 2);
/// if let Entry::Occupied(e) = h.entry("a") {
///     assert_eq!(double(e), ("a".to_string(), 1));
/// }
/// if let Entry::Occupied(e) = t.entry("b") {
///     assert_eq!(double(e), ("b".to_string(), 2));
/// }
/// assert_eq!((h["a"], t["b"]), (2, 4));
/// ```
pub trait Occupied<'a>: Sized {
    /// The map's key type.
    type Key: Persistent;
    /// The map's value type.
    type Value: Persistent + 'a;
    /// The stored key.
    fn key(&self) -> &Self::Key;
    /// The value, mutably (logged).
    fn get_mut(&mut self) -> &mut Self::Value;
    /// The value, mutably for the map's borrow (logged).
    fn into_mut(self) -> &'a mut Self::Value;
    /// Replaces the value; returns the old one.
    fn insert(&mut self, value: Self::Value) -> Self::Value;
}

/// What a map's vacant entry gives the shared combinators (`VacantEntry` of each map), and
/// code written once for both maps:
///
/// ```
/// use pcoll::collections::entry::{Entry, Occupied, Vacant};
/// use pcoll::{PBTreeMap, PHashMap, PString};
///
/// /// Inserts `n` under the entry's key; the length of that key.
/// fn fill<'a, V: Vacant<'a, Probe = str, Value = u64>>(e: V, n: u64) -> pcoll::Result<usize> {
///     let len = e.key().len();
///     *e.try_insert(n)? += 1;
///     Ok(len)
/// }
/// let mut h: PHashMap<PString, u64> = PHashMap::new();
/// let mut t: PBTreeMap<PString, u64> = PBTreeMap::new();
/// if let Entry::Vacant(e) = h.entry("abc") {
///     assert_eq!(fill(e, 1)?, 3);
/// }
/// if let Entry::Vacant(e) = t.entry("de") {
///     assert_eq!(*e.insert_entry(7).get_mut(), 7);
/// }
/// assert_eq!((h["abc"], t["de"]), (2, 7));
/// # Ok::<(), pcoll::Error>(())
/// ```
pub trait Vacant<'a>: Sized {
    /// The borrowed form of the key given to `entry`.
    type Probe: ?Sized;
    /// The map's value type.
    type Value: Persistent + 'a;
    /// The map's occupied entry.
    type Occupied: Occupied<'a, Value = Self::Value>;
    /// The key given to `entry`, in its borrowed form.
    fn key(&self) -> &Self::Probe;
    /// Inserts the key with `value`; the map is unchanged on error.
    fn try_insert<W: IntoPersistent<Self::Value>>(self, value: W) -> Result<&'a mut Self::Value>;
    /// Inserts the key with `value`; returns the occupied entry.
    fn insert_entry<W: IntoPersistent<Self::Value>>(self, value: W) -> Self::Occupied;
}

impl<'a, O, Vc> Entry<O, Vc>
where
    O: Occupied<'a>,
    Vc: Vacant<'a, Value = O::Value, Occupied = O>,
    O::Key: Borrow<Vc::Probe>,
{
    /// The value, inserting `default` when absent.
    ///
    /// # Panics
    /// When the pool is full ([`Self::try_or_insert`] reports it instead).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u32> = PHashMap::new();
    /// map.entry("poneyland").or_insert(3);
    /// assert_eq!(map["poneyland"], 3);
    /// *map.entry("poneyland").or_insert(10) *= 2;
    /// assert_eq!(map["poneyland"], 6);
    /// ```
    pub fn or_insert(self, default: impl IntoPersistent<O::Value>) -> &'a mut O::Value {
        self.try_or_insert(default)
            .unwrap_or_else(|e| panic!("pcoll: Entry::or_insert: {e}"))
    }

    /// [`Self::or_insert`], reporting a full pool as an error (the map is unchanged then).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<PString, u32> = PBTreeMap::new();
    /// *map.entry("poneyland").try_or_insert(3)? += 1;
    /// assert_eq!(map["poneyland"], 4);
    /// *map.entry("poneyland").try_or_insert(10)? *= 2;
    /// assert_eq!(map["poneyland"], 8);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_or_insert(self, default: impl IntoPersistent<O::Value>) -> Result<&'a mut O::Value> {
        match self {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => e.try_insert(default),
        }
    }

    /// Sets the value (dropping an old one) and returns the occupied entry (as std's
    /// `Entry::insert_entry`).
    ///
    /// ```
    /// let mut m: pcoll::PHashMap<u64, u64> = pcoll::PHashMap::new();
    /// let e = m.entry(1).insert_entry(10);
    /// assert_eq!((*e.key(), *e.get()), (1, 10));
    /// assert_eq!(m.entry(1).insert_entry(11).remove(), 11);
    /// let mut t: pcoll::PBTreeMap<u64, u64> = pcoll::PBTreeMap::new();
    /// assert_eq!(*t.entry(5).insert_entry(50).get(), 50);
    /// ```
    pub fn insert_entry(self, value: O::Value) -> O {
        match self {
            Entry::Occupied(mut e) => {
                drop(e.insert(value));
                e
            }
            Entry::Vacant(e) => e.insert_entry(value),
        }
    }

    /// The value, inserting `f()` when absent.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, PString> = PHashMap::new();
    /// let value = "hoho";
    /// map.entry("poneyland").or_insert_with(|| value);
    /// assert_eq!(map["poneyland"], "hoho");
    /// map.entry("poneyland").or_insert_with(|| "other"); // present: `f` is not called
    /// assert_eq!(map["poneyland"], "hoho");
    /// ```
    pub fn or_insert_with<W, F>(self, f: F) -> &'a mut O::Value
    where
        W: IntoPersistent<O::Value>,
        F: FnOnce() -> W,
    {
        match self {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => insert_or_panic(e, f()),
        }
    }

    /// The value, inserting `f(&key)` when absent.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u64> = PHashMap::new();
    /// map.entry("poneyland").or_insert_with_key(|key| key.chars().count() as u64);
    /// assert_eq!(map["poneyland"], 9);
    /// ```
    pub fn or_insert_with_key<W, F>(self, f: F) -> &'a mut O::Value
    where
        W: IntoPersistent<O::Value>,
        F: FnOnce(&Vc::Probe) -> W,
    {
        match self {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let v = f(e.key());
                insert_or_panic(e, v)
            }
        }
    }

    /// The value, inserting `V::default()` when absent.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut map: PBTreeMap<PString, PString> = PBTreeMap::new();
    /// map.entry("poneyland").or_default();
    /// assert_eq!(map["poneyland"], "");
    /// map.entry("poneyland").or_default().push_str("!");
    /// assert_eq!(map["poneyland"], "!");
    /// ```
    pub fn or_default(self) -> &'a mut O::Value
    where
        O::Value: Default,
    {
        self.or_insert_with(O::Value::default)
    }

    /// Runs `f` on the value when present.
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u32> = PHashMap::new();
    /// map.entry("poneyland").and_modify(|e| *e += 1).or_insert(42);
    /// assert_eq!(map["poneyland"], 42);
    /// map.entry("poneyland").and_modify(|e| *e += 1).or_insert(42);
    /// assert_eq!(map["poneyland"], 43);
    /// ```
    pub fn and_modify<F: FnOnce(&mut O::Value)>(self, f: F) -> Self {
        match self {
            Entry::Occupied(mut e) => {
                f(e.get_mut());
                Entry::Occupied(e)
            }
            Entry::Vacant(e) => Entry::Vacant(e),
        }
    }

    /// The key (the stored one when present, else the one given to `entry`).
    ///
    /// # Examples
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut map: PHashMap<PString, u32> = PHashMap::new();
    /// assert_eq!(map.entry("poneyland").key(), "poneyland"); // vacant: the key given
    /// map.insert("poneyland", 1);
    /// assert_eq!(map.entry("poneyland").key(), "poneyland"); // occupied: the stored key
    /// ```
    pub fn key(&self) -> &Vc::Probe {
        match self {
            Entry::Occupied(e) => e.key().borrow(),
            Entry::Vacant(e) => e.key(),
        }
    }
}

fn insert_or_panic<'a, Vc: Vacant<'a>, W: IntoPersistent<Vc::Value>>(
    e: Vc,
    value: W,
) -> &'a mut Vc::Value {
    e.try_insert(value)
        .unwrap_or_else(|err| panic!("pcoll: VacantEntry::insert: {err}"))
}
