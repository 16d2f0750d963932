//! `PHashMap`'s std trait impls: `Index`, `Debug`, `PartialEq` (with itself and with std's
//! `HashMap`), `Extend`, `FromIterator`.

use crate::collections::equivalent::Equivalent;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Index;

use super::PHashMap;
use crate::collections::convert::IntoPersistent;
use crate::persistent::Persistent;

impl<K, V, S, Q> Index<&Q> for PHashMap<K, V, S>
where
    K: Persistent + Hash,
    V: Persistent,
    S: Persistent + BuildHasher,
    Q: Hash + Equivalent<K> + ?Sized,
{
    type Output = V;
    /// # Panics
    /// When the key is absent.
    fn index(&self, k: &Q) -> &V {
        self.get(k).expect("pcoll: PHashMap: key not found")
    }
}

impl<K, V, S> fmt::Debug for PHashMap<K, V, S>
where
    K: Persistent + fmt::Debug,
    V: Persistent + fmt::Debug,
    S: Persistent,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> PartialEq for PHashMap<K, V, S>
where
    K: Persistent + Hash + Eq,
    V: Persistent + PartialEq,
    S: Persistent + BuildHasher,
{
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K, V, S> Eq for PHashMap<K, V, S>
where
    K: Persistent + Hash + Eq,
    V: Persistent + Eq,
    S: Persistent + BuildHasher,
{
}

/// Compares with a std map of the same key type.
impl<K, V, W, S, S2> PartialEq<HashMap<K, W, S2>> for PHashMap<K, V, S>
where
    K: Persistent + Hash + Eq,
    V: Persistent + PartialEq<W>,
    S: Persistent,
    S2: BuildHasher,
{
    fn eq(&self, other: &HashMap<K, W, S2>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|w| v == w))
    }
}

/// Compares a map keyed by `PString` with a std map keyed by `String`.
impl<V, W, S, S2> PartialEq<HashMap<String, W, S2>>
    for PHashMap<crate::collections::pstring::PString, V, S>
where
    V: Persistent + PartialEq<W>,
    S: Persistent,
    S2: BuildHasher,
{
    fn eq(&self, other: &HashMap<String, W, S2>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get(k.as_str()).is_some_and(|w| v == w))
    }
}

impl<K, V, S, I, W> Extend<(I, W)> for PHashMap<K, V, S>
where
    K: Persistent + Hash,
    V: Persistent,
    S: Persistent + BuildHasher,
    I: IntoPersistent<K>,
    I::Probe: Hash + Equivalent<K>,
    W: IntoPersistent<V>,
{
    fn extend<T: IntoIterator<Item = (I, W)>>(&mut self, iter: T) {
        let iter = iter.into_iter();
        let lower = iter.size_hint().0;
        if lower > 0 {
            self.reserve(if self.is_empty() {
                lower
            } else {
                lower.div_ceil(2)
            });
        }
        iter.for_each(|(k, v)| {
            self.insert(k, v);
        });
    }
}

/// Builds a map in process memory (stored into a pool, it moves there).
impl<K, V, S, I, W> FromIterator<(I, W)> for PHashMap<K, V, S>
where
    K: Persistent + Hash,
    V: Persistent,
    S: Persistent + BuildHasher + Default,
    I: IntoPersistent<K>,
    I::Probe: Hash + Equivalent<K>,
    W: IntoPersistent<V>,
{
    fn from_iter<T: IntoIterator<Item = (I, W)>>(iter: T) -> Self {
        let mut m = Self::default();
        m.extend(iter);
        m
    }
}
