//! `PVec`'s std trait impls: `FromIterator`, `From<Vec<T>>`/`From<&[T]>`, `Borrow<[T]>`,
//! `Deref`/`DerefMut`, `Index`/`IndexMut` (positions and ranges), `Extend`, `IntoIterator` for
//! references, `Debug`, `PartialEq`/`Eq`/`PartialOrd`/`Ord`, `Hash`. (`Drop` and `Persistent`
//! stay in `pvec.rs`; `Clone` and by-value iteration are in `std_api.rs`.)

#![deny(unsafe_code)] // the parent allows it; this file holds none

use std::fmt;
use std::ops::{Deref, DerefMut, Index, IndexMut, RangeBounds};
use std::slice::SliceIndex;

use super::PVec;
use crate::persistent::Persistent;

impl<T: Persistent> FromIterator<T> for PVec<T> {
    /// Collects into a vector in process memory (stored into a pool, it moves there).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v = (1..=3).collect(); // moves into the pool
    /// assert_eq!(root.v, [1, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = PVec::new();
        v.extend(iter);
        v
    }
}

/// A vector with `v`'s elements (in process memory until stored).
///
/// # Examples
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// # let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// root.v = vec![1, 2, 3].into();
/// assert_eq!(root.v, [1, 2, 3]);
/// # Ok::<(), pcoll::Error>(())
/// ```
impl<T: Persistent> From<Vec<T>> for PVec<T> {
    fn from(v: Vec<T>) -> Self {
        let mut out = PVec::new();
        out.reserve(v.len());
        out.append_owned(v);
        out
    }
}

/// A vector of clones of `s` (in process memory until stored).
///
/// # Examples
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// # let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// root.v = PVec::from(&[4, 5][..]);
/// assert_eq!(root.v, [4, 5]);
/// # Ok::<(), pcoll::Error>(())
/// ```
impl<T: Persistent + Clone> From<&[T]> for PVec<T> {
    fn from(s: &[T]) -> Self {
        let mut v = PVec::new();
        v.extend_from_slice(s);
        v
    }
}

impl<T: Persistent + PartialEq<U>, U> PartialEq<&[U]> for PVec<T> {
    fn eq(&self, other: &&[U]) -> bool {
        self.as_slice() == *other
    }
}

impl<T: Persistent> std::borrow::Borrow<[T]> for PVec<T> {
    fn borrow(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Persistent> Deref for PVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Persistent> DerefMut for PVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

/// Indexing by position or by any range, as for a slice.
impl<T: Persistent, I: SliceIndex<[T]>> Index<I> for PVec<T> {
    type Output = I::Output;
    fn index(&self, i: I) -> &I::Output {
        &self.as_slice()[i]
    }
}

/// Logs only the element it hands out (not the whole vector, as `DerefMut` must).
///
/// # Examples
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// # let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// root.v.extend([1, 2]);
/// root.v[1] += 10;
/// assert_eq!(root.v, [1, 12]);
/// # Ok::<(), pcoll::Error>(())
/// ```
impl<T: Persistent> IndexMut<usize> for PVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len();
        self.get_mut(i)
            .unwrap_or_else(|| panic!("index out of bounds: the len is {len} but the index is {i}"))
    }
}

macro_rules! range_index_mut {
    ($($r:ty),*) => {$(
        /// Logs only the elements of the range it hands out.
        impl<T: Persistent> IndexMut<$r> for PVec<T> {
            fn index_mut(&mut self, r: $r) -> &mut [T] {
                use std::ops::Bound::*;
                let len = self.len();
                let start = match RangeBounds::<usize>::start_bound(&r) {
                    Included(&s) => s,
                    Excluded(&s) => s.checked_add(1).expect("range start overflows"),
                    Unbounded => 0,
                };
                let end = match RangeBounds::<usize>::end_bound(&r) {
                    Included(&e) => e.checked_add(1).expect("range end overflows"),
                    Excluded(&e) => e,
                    Unbounded => len,
                };
                self.range_mut(start, end)
            }
        }
    )*};
}

range_index_mut!(
    std::ops::Range<usize>,
    std::ops::RangeFrom<usize>,
    std::ops::RangeTo<usize>,
    std::ops::RangeFull,
    std::ops::RangeInclusive<usize>,
    std::ops::RangeToInclusive<usize>
);

impl<T: Persistent> Extend<T> for PVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.reserve(iter.size_hint().0);
        iter.for_each(|x| self.push(x));
    }
}

impl<'a, T: Persistent> IntoIterator for &'a PVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'a, T: Persistent> IntoIterator for &'a mut PVec<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

impl<T: Persistent + fmt::Debug> fmt::Debug for PVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: Persistent + PartialEq> PartialEq for PVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Persistent + Eq> Eq for PVec<T> {}

impl<T: Persistent + PartialEq<U>, U> PartialEq<Vec<U>> for PVec<T> {
    fn eq(&self, other: &Vec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Persistent + PartialEq<U>, U> PartialEq<[U]> for PVec<T> {
    fn eq(&self, other: &[U]) -> bool {
        self.as_slice() == other
    }
}

impl<T: Persistent + PartialEq<U>, U, const N: usize> PartialEq<[U; N]> for PVec<T> {
    fn eq(&self, other: &[U; N]) -> bool {
        self.as_slice() == other
    }
}

impl<T: Persistent + std::hash::Hash> std::hash::Hash for PVec<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h)
    }
}

impl<T: Persistent + PartialOrd> PartialOrd for PVec<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.as_slice().partial_cmp(other.as_slice())
    }
}

impl<T: Persistent + Ord> Ord for PVec<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}
