//! Looking a key up by another type, as hashbrown and indexmap do (their `equivalent`
//! crate): [`Equivalent`] for the hash containers, [`Comparable`] for the B-trees. Every `Q`
//! that `K: Borrow<Q>` allows works as with std (`&str` for a `PString` key, `&[T]` for a
//! `PVec<T>`); on top, the std owners of those work too, which `Borrow` cannot offer (a
//! `PString` cannot lend a `&String`): `&String` for `PString` keys, `&Vec<T>` for `PVec<T>`.
//!
//! ```
//! use pcoll::{PHashMap, PString, Persistent, Pool};
//! #[derive(Persistent, Default)]
//! struct Root { ages: PHashMap<PString, u32> }
//! let pool = Pool::<Root>::options().in_memory()?;
//! let mut w = pool.write();
//! w.ages.insert("ada", 36);
//! let name: String = "ada".to_string();
//! assert_eq!(w.ages.get(&name), Some(&36)); // as `HashMap<String, u32>::get(&name)`
//! assert_eq!(w.ages.get("ada"), Some(&36));
//! # Ok::<(), pcoll::Error>(())
//! ```

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use super::convert::IntoPersistent;
use super::pstring::PString;
use super::pvec::PVec;
use crate::error::Result;
use crate::persistent::Persistent;

/// `self` is equal to the key `K`. Implementations must agree with `K`'s `Eq`, and, for a
/// hash container, `Q`'s `Hash` must hash as `K`'s does for equal values.
pub trait Equivalent<K: ?Sized> {
    /// True when `self` equals `key`.
    fn equivalent(&self, key: &K) -> bool;
}

/// `self` compared with the key `K`, in `K`'s order.
pub trait Comparable<K: ?Sized>: Equivalent<K> {
    /// How `self` compares with `key`.
    fn compare(&self, key: &K) -> Ordering;
}

impl<Q: ?Sized + Eq, K: ?Sized + Borrow<Q>> Equivalent<K> for Q {
    #[inline]
    fn equivalent(&self, key: &K) -> bool {
        self == key.borrow()
    }
}

impl<Q: ?Sized + Ord, K: ?Sized + Borrow<Q>> Comparable<K> for Q {
    #[inline]
    fn compare(&self, key: &K) -> Ordering {
        self.cmp(key.borrow())
    }
}

impl Equivalent<PString> for String {
    #[inline]
    fn equivalent(&self, key: &PString) -> bool {
        key == self
    }
}

impl Comparable<PString> for String {
    #[inline]
    fn compare(&self, key: &PString) -> Ordering {
        self.as_bytes().cmp(key.as_bytes())
    }
}

impl<T: Persistent + Eq> Equivalent<PVec<T>> for Vec<T> {
    #[inline]
    fn equivalent(&self, key: &PVec<T>) -> bool {
        self.as_slice() == key.as_slice()
    }
}

impl<T: Persistent + Ord> Comparable<PVec<T>> for Vec<T> {
    #[inline]
    fn compare(&self, key: &PVec<T>) -> Ordering {
        self.as_slice().cmp(key.as_slice())
    }
}

/// A pair key `(A, B)` looked up, and inserted, by borrowed parts: `Pair(&7, "ada")` for the
/// key `(7, PString::from("ada"))`. A tuple cannot lend `(u64, &str)` (what `Borrow` would
/// need), so without it a secondary index keyed by `(u64, PString)` built a `PString` for every
/// lookup. Inserting a `Pair` builds each part straight in the receiving map's pool, once.
///
/// It hashes and orders as the tuple does, so it works with the hash containers and the
/// B-trees alike:
///
/// ```
/// use pcoll::{PBTreeMap, PHashSet, PString, Pair, Persistent, Pool};
/// #[derive(Persistent, Default)]
/// struct Root {
///     by_age: PBTreeMap<(u32, PString), ()>,
///     seen: PHashSet<(u64, PString)>,
/// }
/// let pool = Pool::<Root>::options().in_memory()?;
/// let mut w = pool.write();
/// w.by_age.insert(Pair(&36, "ada"), ());
/// w.by_age.insert(Pair(&41, "alan"), ());
/// assert!(w.by_age.contains_key(&Pair(&36, "ada")));
/// assert_eq!(w.by_age.range(Pair(&40, "")..).count(), 1);
/// assert!(w.by_age.remove(&Pair(&41, "alan")).is_some());
/// w.seen.insert(Pair(&7, "x"));
/// assert!(w.seen.contains(&Pair(&7, "x")));
/// # Ok::<(), pcoll::Error>(())
/// ```
#[derive(Debug)]
pub struct Pair<'a, A: ?Sized, B: ?Sized>(pub &'a A, pub &'a B);

impl<A: ?Sized, B: ?Sized> Clone for Pair<'_, A, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: ?Sized, B: ?Sized> Copy for Pair<'_, A, B> {}

impl<A: ?Sized + PartialEq, B: ?Sized + PartialEq> PartialEq for Pair<'_, A, B> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 && self.1 == other.1
    }
}

impl<A: ?Sized + Eq, B: ?Sized + Eq> Eq for Pair<'_, A, B> {}

impl<A: ?Sized + Ord, B: ?Sized + Ord> PartialOrd for Pair<'_, A, B> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<A: ?Sized + Ord, B: ?Sized + Ord> Ord for Pair<'_, A, B> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(other.0).then_with(|| self.1.cmp(other.1))
    }
}

/// As the tuple `(A, B)` hashes: each part in order.
impl<A: ?Sized + Hash, B: ?Sized + Hash> Hash for Pair<'_, A, B> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl<A, B, QA, QB> Equivalent<(A, B)> for Pair<'_, QA, QB>
where
    QA: ?Sized + Equivalent<A>,
    QB: ?Sized + Equivalent<B>,
{
    #[inline]
    fn equivalent(&self, key: &(A, B)) -> bool {
        self.0.equivalent(&key.0) && self.1.equivalent(&key.1)
    }
}

impl<A, B, QA, QB> Comparable<(A, B)> for Pair<'_, QA, QB>
where
    QA: ?Sized + Comparable<A>,
    QB: ?Sized + Comparable<B>,
{
    #[inline]
    fn compare(&self, key: &(A, B)) -> Ordering {
        self.0.compare(&key.0).then_with(|| self.1.compare(&key.1))
    }
}

impl<'a, A, B, QA, QB> IntoPersistent<(A, B)> for Pair<'a, QA, QB>
where
    QA: ?Sized,
    QB: ?Sized,
    &'a QA: IntoPersistent<A>,
    &'a QB: IntoPersistent<B>,
{
    type Probe = Self;
    fn probe(&self) -> &Self {
        self
    }
    fn into_persistent(self) -> Result<(A, B)> {
        Ok((self.0.into_persistent()?, self.1.into_persistent()?))
    }
}
