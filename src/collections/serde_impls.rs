//! serde support (feature `serde`): every container serializes as its std counterpart does
//! (`PVec` and the sets as sequences, `PString` as a string, the maps as maps, `PBox<T>` as
//! `T`), so `serde_json::to_string(&*pool.read())` on a root deriving `Serialize` gives the
//! JSON of the equivalent std structure. Deserializing builds values outside any pool
//! (process memory, as `PString::from` does); they move into a pool when stored, for instance
//! `w.users = serde_json::from_str(text)?` inside a write transaction.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use super::btree::map::PBTreeMap;
use super::btree::set::PBTreeSet;
use super::pbox::PBox;
use super::phashmap::PHashMap;
use super::phashset::PHashSet;
use super::pstring::PString;
use super::pvec::PVec;
use super::pvecdeque::PVecDeque;
use crate::persistent::Persistent;

// ---- Serialize ----

impl<T: Persistent + Serialize> Serialize for PVec<T> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.iter())
    }
}

impl<T: Persistent + Serialize> Serialize for PVecDeque<T> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.iter())
    }
}

impl Serialize for PString {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<T: Persistent + Serialize> Serialize for PBox<T> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        (**self).serialize(s)
    }
}

impl<K, V, S> Serialize for PHashMap<K, V, S>
where
    K: Persistent + Serialize,
    V: Persistent + Serialize,
    S: Persistent,
{
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_map(self.iter())
    }
}

impl<T: Persistent + Serialize, S: Persistent> Serialize for PHashSet<T, S> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.iter())
    }
}

impl<K: Persistent + Serialize, V: Persistent + Serialize> Serialize for PBTreeMap<K, V> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_map(self.iter())
    }
}

impl<T: Persistent + Serialize> Serialize for PBTreeSet<T> {
    fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.collect_seq(self.iter())
    }
}

// ---- Deserialize: values outside any pool ----

/// A container built from a sequence's elements, gathered first: each call into a container
/// finds its pool, which costs more than a `u8` does, so they go in at once.
trait FromItems<T>: Sized {
    fn from_items(items: Vec<T>) -> Self;
}

impl<T: Persistent> FromItems<T> for PVec<T> {
    fn from_items(items: Vec<T>) -> Self {
        PVec::from(items) // one bulk move
    }
}

impl<T: Persistent> FromItems<T> for PVecDeque<T> {
    fn from_items(items: Vec<T>) -> Self {
        PVecDeque::from(items)
    }
}

impl<T: Persistent + Eq + Hash, S: Persistent + BuildHasher + Default> FromItems<T>
    for PHashSet<T, S>
{
    fn from_items(items: Vec<T>) -> Self {
        let mut c = Self::default();
        c.extend(items);
        c
    }
}

impl<T: Persistent + Ord> FromItems<T> for PBTreeSet<T> {
    fn from_items(items: Vec<T>) -> Self {
        items.into_iter().collect()
    }
}

/// Builds a collection from a sequence.
struct SeqInto<C, T>(PhantomData<(C, T)>);

impl<'de, C, T> Visitor<'de> for SeqInto<C, T>
where
    C: FromItems<T>,
    T: Deserialize<'de>,
{
    type Value = C;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<C, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(x) = seq.next_element::<T>()? {
            items.push(x);
        }
        Ok(C::from_items(items))
    }
}

/// Builds a map from a map, entry by entry.
struct MapInto<C, K, V>(PhantomData<(C, K, V)>);

impl<'de, C, K, V> Visitor<'de> for MapInto<C, K, V>
where
    C: Default + Extend<(K, V)>,
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    type Value = C;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<C, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(kv) = map.next_entry::<K, V>()? {
            entries.push(kv);
        }
        let mut c = C::default();
        c.extend(entries);
        Ok(c)
    }
}

impl<'de, T: Persistent + Deserialize<'de>> Deserialize<'de> for PVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SeqInto::<Self, T>(PhantomData))
    }
}

impl<'de, T: Persistent + Deserialize<'de>> Deserialize<'de> for PVecDeque<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SeqInto::<Self, T>(PhantomData))
    }
}

impl<'de> Deserialize<'de> for PString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = PString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PString, E> {
                Ok(PString::from(s))
            }
        }
        d.deserialize_str(Text)
    }
}

impl<'de, T: Persistent + Deserialize<'de>> Deserialize<'de> for PBox<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(PBox::new)
    }
}

impl<'de, K, V, S> Deserialize<'de> for PHashMap<K, V, S>
where
    K: Persistent + Deserialize<'de> + Hash + Eq,
    V: Persistent + Deserialize<'de>,
    S: Persistent + BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MapInto::<Self, K, V>(PhantomData))
    }
}

impl<'de, T, S> Deserialize<'de> for PHashSet<T, S>
where
    T: Persistent + Deserialize<'de> + Hash + Eq,
    S: Persistent + BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SeqInto::<Self, T>(PhantomData))
    }
}

impl<'de, K, V> Deserialize<'de> for PBTreeMap<K, V>
where
    K: Persistent + Deserialize<'de> + Ord,
    V: Persistent + Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MapInto::<Self, K, V>(PhantomData))
    }
}

impl<'de, T: Persistent + Deserialize<'de> + Ord> Deserialize<'de> for PBTreeSet<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SeqInto::<Self, T>(PhantomData))
    }
}
