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

use super::pstring::PString;
use super::pvec::PVec;
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
        self.as_str() == key.as_str()
    }
}

impl Comparable<PString> for String {
    #[inline]
    fn compare(&self, key: &PString) -> Ordering {
        self.as_str().cmp(key.as_str())
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
