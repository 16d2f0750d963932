//! The std traits and conversions every container shares with its std counterpart, in one
//! place: `Clone`, by-value iteration, `From`/`Into` std types and arrays, `Extend<&T>`,
//! comparisons with std types, the string operators, `PBox`'s formatting and ordering, and
//! the set operators. Each is written with the containers' public API (no pool internals).
//!
//! Where values land: a clone, a by-value iterator's items and an operator's result are
//! values outside any pool (process memory, like `PString::from`), which move into a pool
//! when stored; they read and drop anywhere.

use crate::collections::equivalent::{Comparable, Equivalent};
use std::borrow::{Borrow, Cow};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::path::Path;

use super::btree::map::PBTreeMap;
use super::btree::set::PBTreeSet;
use super::convert::IntoPersistent;
use super::handle;
use super::pbox::PBox;
use super::phashmap::PHashMap;
use super::phashset::PHashSet;
use super::pstring::PString;
use super::pvec::PVec;
use crate::error::Result;
use crate::persistent::Persistent;

// ---- Clone: a deep copy in process memory ----

macro_rules! deep_clone {
    ($([$($g:tt)*] $ty:ty;)*) => {$(
        /// A deep copy, in process memory (it moves into a pool when stored). Reads the
        /// source only: no transaction is needed.
        impl<$($g)*> Clone for $ty {
            fn clone(&self) -> Self {
                handle::clone_out(self)
            }
        }
    )*};
}
deep_clone! {
    [T: Persistent] PVec<T>;
    [] PString;
    [T: Persistent] PBox<T>;
    [K: Persistent, V: Persistent, S: Persistent] PHashMap<K, V, S>;
    [T: Persistent, S: Persistent] PHashSet<T, S>;
    [K: Persistent, V: Persistent] PBTreeMap<K, V>;
    [T: Persistent] PBTreeSet<T>;
}

/// `IntoPersistent` for a reference to a plain value: `Extend<&T>` and `Extend<(&K, &V)>`
/// (std's `extend(other.iter())`) store copies.
impl<T: Persistent + Copy> IntoPersistent<T> for &T {
    type Probe = T;
    #[inline]
    fn probe(&self) -> &T {
        self
    }
    #[inline]
    fn into_persistent(self) -> Result<T> {
        Ok(*self)
    }
}

// ---- by-value iteration: drains (with `drain`'s crash atomicity), then iterates ----

impl<T: Persistent> IntoIterator for PVec<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    /// Moves every element out (as `drain(..)` does), then drops the empty vector.
    ///
    /// ```
    /// let v = pcoll::PVec::from([1u64, 2, 3]);
    /// let mut sum = 0;
    /// for x in v {
    ///     sum += x;
    /// }
    /// assert_eq!(sum, 6);
    /// ```
    fn into_iter(mut self) -> Self::IntoIter {
        self.drain(..)
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> IntoIterator for PHashMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    /// Moves every entry out (as `drain()` does), in arbitrary order.
    fn into_iter(mut self) -> Self::IntoIter {
        self.drain()
    }
}

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// The keys, by value, in arbitrary order (the map is consumed).
    ///
    /// ```
    /// let m: pcoll::PHashMap<u64, u64> = [(1, 10), (2, 20)].into();
    /// let mut keys: Vec<u64> = m.into_keys().collect();
    /// keys.sort();
    /// assert_eq!(keys, [1, 2]);
    /// ```
    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.into_iter().map(|(k, _)| k)
    }

    /// The values, by value, in arbitrary order (the map is consumed).
    ///
    /// ```
    /// let m: pcoll::PHashMap<u64, u64> = [(1, 10), (2, 20)].into();
    /// let mut values: Vec<u64> = m.into_values().collect();
    /// values.sort();
    /// assert_eq!(values, [10, 20]);
    /// ```
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.into_iter().map(|(_, v)| v)
    }
}

impl<T: Persistent, S: Persistent> IntoIterator for PHashSet<T, S> {
    type Item = T;
    type IntoIter = std::iter::Map<std::vec::IntoIter<(T, ())>, fn((T, ())) -> T>;
    /// Moves every element out, in arbitrary order.
    fn into_iter(self) -> Self::IntoIter {
        let first: fn((T, ())) -> T = |(t, ())| t;
        self.into_map().into_iter().map(first)
    }
}

impl<K: Persistent + Ord, V: Persistent> IntoIterator for PBTreeMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    /// Moves every entry out, in key order.
    fn into_iter(mut self) -> Self::IntoIter {
        let mut out = Vec::with_capacity(self.len().min(1 << 20));
        while let Some(kv) = self.pop_first() {
            out.push(kv);
        }
        out.into_iter()
    }
}

impl<K: Persistent + Ord, V: Persistent> PBTreeMap<K, V> {
    /// The keys, by value, in order (the map is consumed).
    ///
    /// ```
    /// let m: pcoll::PBTreeMap<u64, u64> = [(2, 20), (1, 10)].into();
    /// assert_eq!(m.into_keys().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.into_iter().map(|(k, _)| k)
    }

    /// The values, by value, in key order (the map is consumed).
    ///
    /// ```
    /// let m: pcoll::PBTreeMap<u64, u64> = [(2, 20), (1, 10)].into();
    /// assert_eq!(m.into_values().collect::<Vec<_>>(), [10, 20]);
    /// ```
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.into_iter().map(|(_, v)| v)
    }
}

impl<T: Persistent + Ord> IntoIterator for PBTreeSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    /// Moves every element out, in order.
    fn into_iter(mut self) -> Self::IntoIter {
        let mut out = Vec::with_capacity(self.len().min(1 << 20));
        while let Some(t) = self.pop_first() {
            out.push(t);
        }
        out.into_iter()
    }
}

// ---- From arrays and std types, Into std types ----

impl<T: Persistent, const N: usize> From<[T; N]> for PVec<T> {
    fn from(a: [T; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<K, V, S, const N: usize> From<[(K, V); N]> for PHashMap<K, V, S>
where
    K: Persistent,
    V: Persistent,
    S: Persistent,
    Self: FromIterator<(K, V)>,
{
    fn from(a: [(K, V); N]) -> Self {
        a.into_iter().collect()
    }
}

impl<T, S, const N: usize> From<[T; N]> for PHashSet<T, S>
where
    T: Persistent,
    S: Persistent,
    Self: FromIterator<T>,
{
    fn from(a: [T; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<K, V, const N: usize> From<[(K, V); N]> for PBTreeMap<K, V>
where
    K: Persistent,
    V: Persistent,
    Self: FromIterator<(K, V)>,
{
    fn from(a: [(K, V); N]) -> Self {
        a.into_iter().collect()
    }
}

impl<T, const N: usize> From<[T; N]> for PBTreeSet<T>
where
    T: Persistent,
    Self: FromIterator<T>,
{
    fn from(a: [T; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<T: Persistent> From<PVec<T>> for Vec<T> {
    /// The elements, moved out (values with handles stay readable anywhere).
    ///
    /// ```
    /// let v: Vec<u64> = pcoll::PVec::from([1u64, 2]).into();
    /// assert_eq!(v, [1, 2]);
    /// ```
    fn from(v: PVec<T>) -> Vec<T> {
        v.into_iter().collect()
    }
}

/// The text, copied into a `String`.
///
/// ```
/// let s: String = pcoll::PString::from("ada").into();
/// assert_eq!(s, "ada");
/// ```
impl From<PString> for String {
    fn from(s: PString) -> String {
        s.as_str().to_owned()
    }
}

impl From<char> for PString {
    fn from(c: char) -> Self {
        let mut s = PString::new();
        s.push(c);
        s
    }
}

impl From<&String> for PString {
    fn from(s: &String) -> Self {
        PString::from(s.as_str())
    }
}

impl From<Cow<'_, str>> for PString {
    fn from(s: Cow<'_, str>) -> Self {
        PString::from(&*s)
    }
}

impl From<Box<str>> for PString {
    fn from(s: Box<str>) -> Self {
        PString::from(&*s)
    }
}

/// A string of the characters (in process memory until stored).
///
/// ```
/// let s: pcoll::PString = ['a', 'd', 'a'].into_iter().collect();
/// assert_eq!(s, "ada");
/// ```
impl FromIterator<char> for PString {
    fn from_iter<I: IntoIterator<Item = char>>(it: I) -> Self {
        let mut s = PString::new();
        s.extend(it);
        s
    }
}

impl<'a> FromIterator<&'a str> for PString {
    fn from_iter<I: IntoIterator<Item = &'a str>>(it: I) -> Self {
        let mut s = PString::new();
        s.extend(it);
        s
    }
}

impl FromIterator<String> for PString {
    fn from_iter<I: IntoIterator<Item = String>>(it: I) -> Self {
        let mut s = PString::new();
        s.extend(it);
        s
    }
}

impl<'a> FromIterator<&'a char> for PString {
    fn from_iter<I: IntoIterator<Item = &'a char>>(it: I) -> Self {
        it.into_iter().copied().collect()
    }
}

impl Extend<String> for PString {
    fn extend<I: IntoIterator<Item = String>>(&mut self, it: I) {
        it.into_iter().for_each(|s| self.push_str(&s));
    }
}

impl<'a> Extend<&'a char> for PString {
    fn extend<I: IntoIterator<Item = &'a char>>(&mut self, it: I) {
        it.into_iter().for_each(|&c| self.push(c));
    }
}

impl<'a> Extend<&'a PString> for PString {
    fn extend<I: IntoIterator<Item = &'a PString>>(&mut self, it: I) {
        it.into_iter().for_each(|s| self.push_str(s));
    }
}

impl<'a, T: Persistent + Copy> Extend<&'a T> for PVec<T> {
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, it: I) {
        self.extend(it.into_iter().copied());
    }
}

// ---- PString: operators and views ----

impl std::ops::AddAssign<&str> for PString {
    fn add_assign(&mut self, s: &str) {
        self.push_str(s);
    }
}

impl std::ops::Add<&str> for PString {
    type Output = PString;
    fn add(mut self, s: &str) -> PString {
        self.push_str(s);
        self
    }
}

impl std::ops::DerefMut for PString {
    /// The text as `&mut str`, logged first (`as_mut_str`).
    fn deref_mut(&mut self) -> &mut str {
        self.as_mut_str()
    }
}

impl AsRef<[u8]> for PString {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<Path> for PString {
    fn as_ref(&self) -> &Path {
        Path::new(self.as_str())
    }
}

impl AsRef<OsStr> for PString {
    fn as_ref(&self) -> &OsStr {
        OsStr::new(self.as_str())
    }
}

impl PartialEq<Cow<'_, str>> for PString {
    fn eq(&self, other: &Cow<'_, str>) -> bool {
        self.as_str() == &**other
    }
}

impl PartialEq<PString> for Cow<'_, str> {
    fn eq(&self, other: &PString) -> bool {
        &**self == other.as_str()
    }
}

// ---- PVec: comparisons from the std side ----

/// `vec == pvec`, element by element (as `pvec == vec`).
///
/// ```
/// assert_eq!(vec![1u64, 2], pcoll::PVec::from([1, 2]));
/// assert_ne!(vec![1u64], pcoll::PVec::from([1, 2]));
/// ```
impl<T: Persistent + PartialEq> PartialEq<PVec<T>> for Vec<T> {
    fn eq(&self, other: &PVec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Persistent + PartialEq> PartialEq<PVec<T>> for [T] {
    fn eq(&self, other: &PVec<T>) -> bool {
        self == other.as_slice()
    }
}

impl<T: Persistent + PartialEq> PartialEq<PVec<T>> for &[T] {
    fn eq(&self, other: &PVec<T>) -> bool {
        *self == other.as_slice()
    }
}

impl<T: Persistent + PartialEq<U>, U> PartialEq<&mut [U]> for PVec<T> {
    fn eq(&self, other: &&mut [U]) -> bool {
        self.as_slice() == &**other
    }
}

// ---- PBox: what `Box<T>` forwards to `T` ----

impl<T: Persistent + Eq> Eq for PBox<T> {}

impl<T: Persistent + PartialOrd> PartialOrd for PBox<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}

impl<T: Persistent + Ord> Ord for PBox<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: Persistent + Hash> Hash for PBox<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl<T: Persistent + fmt::Display> fmt::Display for PBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Persistent> AsRef<T> for PBox<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: Persistent> Borrow<T> for PBox<T> {
    fn borrow(&self) -> &T {
        self
    }
}

// ---- set operators: new sets in process memory, as std's return new sets ----

macro_rules! set_op {
    ($trait:ident, $method:ident, $with:ident, [$($b:tt)*], $set:ident<$($p:ident),*>) => {
        /// A new set (values outside any pool, cloned from both sides), like std's.
        impl<$($p),*> std::ops::$trait<&$set<$($p),*>> for &$set<$($p),*>
        where
            $($b)*
        {
            type Output = $set<$($p),*>;
            fn $method(self, other: &$set<$($p),*>) -> $set<$($p),*> {
                self.$with(other).cloned().collect()
            }
        }
    };
}

set_op!(BitOr, bitor, union, [T: Persistent + Hash + Eq + Clone, S: Persistent + BuildHasher + Default], PHashSet<T, S>);
set_op!(BitAnd, bitand, intersection, [T: Persistent + Hash + Eq + Clone, S: Persistent + BuildHasher + Default], PHashSet<T, S>);
set_op!(Sub, sub, difference, [T: Persistent + Hash + Eq + Clone, S: Persistent + BuildHasher + Default], PHashSet<T, S>);
set_op!(BitXor, bitxor, symmetric_difference, [T: Persistent + Hash + Eq + Clone, S: Persistent + BuildHasher + Default], PHashSet<T, S>);
set_op!(BitOr, bitor, union, [T: Persistent + Ord + Clone], PBTreeSet<T>);
set_op!(BitAnd, bitand, intersection, [T: Persistent + Ord + Clone], PBTreeSet<T>);
set_op!(Sub, sub, difference, [T: Persistent + Ord + Clone], PBTreeSet<T>);
set_op!(BitXor, bitxor, symmetric_difference, [T: Persistent + Ord + Clone], PBTreeSet<T>);

impl<T: Persistent + Ord + PartialEq> PartialEq<PBTreeSet<T>> for BTreeSet<T> {
    fn eq(&self, other: &PBTreeSet<T>) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

// ---- PVec: std's methods composed from the vector's own ----

/// The `start .. end` a range names in a sequence of `len`, with std's panics.
pub(crate) fn bounds<R: std::ops::RangeBounds<usize>>(range: R, len: usize) -> (usize, usize) {
    use std::ops::Bound::*;
    let start = match range.start_bound() {
        Included(&s) => s,
        Excluded(&s) => s.checked_add(1).expect("range start overflows"),
        Unbounded => 0,
    };
    let end = match range.end_bound() {
        Included(&e) => e.checked_add(1).expect("range end overflows"),
        Excluded(&e) => e,
        Unbounded => len,
    };
    assert!(
        start <= end,
        "slice index starts at {start} but ends at {end}"
    );
    assert!(
        end <= len,
        "range end index {end} out of range for slice of length {len}"
    );
    (start, end)
}

impl<T: Persistent> PVec<T> {
    /// Like `Vec::reserve_exact`.
    ///
    /// ```
    /// let mut v = pcoll::PVec::from([1u64]);
    /// v.reserve_exact(10);
    /// assert!(v.capacity() >= 11);
    /// ```
    pub fn reserve_exact(&mut self, additional: usize) {
        self.reserve(additional);
    }

    /// Like `Vec::try_reserve_exact`.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().max_size(2 << 20).in_memory()?;
    /// let mut root = pool.write();
    /// root.v.try_reserve_exact(100)?;
    /// assert!(root.v.capacity() >= 100);
    /// let res = root.v.try_reserve_exact(1 << 20); // 8 MiB
    /// assert!(matches!(res, Err(pcoll::Error::OutOfSpace { .. })));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve_exact(&mut self, additional: usize) -> Result<()> {
        self.try_reserve(additional)
    }

    /// Appends clones of the elements in `src` (for elements with handles, deep copies).
    ///
    /// ```
    /// let mut v = pcoll::PVec::from([1u64, 2, 3]);
    /// v.extend_from_within(1..);
    /// assert_eq!(v, [1, 2, 3, 2, 3]);
    /// ```
    pub fn extend_from_within<R: std::ops::RangeBounds<usize>>(&mut self, src: R)
    where
        T: Clone,
    {
        let (start, end) = bounds(src, self.len());
        let part: Vec<T> = self.as_slice()[start..end].to_vec();
        self.extend(part);
    }

    /// Resizes to `new_len`, filling with values from `f` (as `Vec::resize_with`).
    ///
    /// ```
    /// let mut v = pcoll::PVec::from([1u64, 2]);
    /// let mut next = 10;
    /// v.resize_with(4, || {
    ///     next += 1;
    ///     next
    /// });
    /// assert_eq!(v, [1, 2, 11, 12]);
    /// v.resize_with(1, || 0);
    /// assert_eq!(v, [1]);
    /// ```
    pub fn resize_with<F: FnMut() -> T>(&mut self, new_len: usize, mut f: F) {
        let len = self.len();
        if new_len <= len {
            return self.truncate(new_len);
        }
        self.reserve(new_len - len);
        (len..new_len).for_each(|_| self.push(f()));
    }

    /// Removes and returns the last element if `predicate` says so (as `Vec::pop_if`).
    ///
    /// ```
    /// let mut v = pcoll::PVec::from([1u64, 2, 3, 4]);
    /// let even = |x: &mut u64| *x % 2 == 0;
    /// assert_eq!(v.pop_if(even), Some(4));
    /// assert_eq!(v.pop_if(even), None);
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn pop_if(&mut self, predicate: impl FnOnce(&mut T) -> bool) -> Option<T> {
        let last = self.last_mut()?;
        if predicate(last) { self.pop() } else { None }
    }

    /// Replaces the elements in `range` with `replace_with`, returning the removed ones (as
    /// `Vec::splice`; the replacement happens at once, not when the iterator drops).
    ///
    /// ```
    /// let mut v = pcoll::PVec::from([1u64, 2, 3, 4]);
    /// let removed: Vec<u64> = v.splice(1..3, [7, 8, 9]).collect();
    /// assert_eq!(removed, [2, 3]);
    /// assert_eq!(v, [1, 7, 8, 9, 4]);
    /// ```
    pub fn splice<R, I>(&mut self, range: R, replace_with: I) -> std::vec::IntoIter<T>
    where
        R: std::ops::RangeBounds<usize>,
        I: IntoIterator<Item = T>,
    {
        let (start, end) = bounds(range, self.len());
        let removed = self.drain(start..end);
        let tail = self.split_off(start);
        self.extend(replace_with);
        self.extend(tail);
        removed
    }

    /// An iterator that removes and yields the elements of `range` for which `filter` is
    /// true, in order (as `Vec::extract_if`; elements not reached when it is dropped stay).
    /// Each removal shifts the rest of the vector: O(n) per extracted element.
    ///
    /// ```
    /// let mut v = pcoll::PVec::from([1u64, 2, 3, 4, 5, 6]);
    /// let even: Vec<u64> = v.extract_if(.., |x| *x % 2 == 0).collect();
    /// assert_eq!(even, [2, 4, 6]);
    /// assert_eq!(v, [1, 3, 5]);
    /// ```
    pub fn extract_if<F, R>(&mut self, range: R, filter: F) -> ExtractIf<'_, T, F>
    where
        F: FnMut(&mut T) -> bool,
        R: std::ops::RangeBounds<usize>,
    {
        let (start, end) = bounds(range, self.len());
        ExtractIf {
            vec: self,
            at: start,
            end,
            filter,
        }
    }
}

/// The iterator of [`PVec::extract_if`].
pub struct ExtractIf<'a, T: Persistent, F> {
    vec: &'a mut PVec<T>,
    at: usize,
    end: usize,
    filter: F,
}

impl<T: Persistent, F: FnMut(&mut T) -> bool> Iterator for ExtractIf<'_, T, F> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        while self.at < self.end {
            let hit = (self.filter)(&mut self.vec[self.at]);
            if hit {
                self.end -= 1;
                return Some(self.vec.remove(self.at));
            }
            self.at += 1;
        }
        None
    }
}

impl<T: Persistent + fmt::Debug, F> fmt::Debug for ExtractIf<'_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf")
            .field("at", &self.at)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// Appends the bytes, like `Vec<u8>`'s `Write`; a full pool is an `io::Error`.
///
/// ```
/// use std::io::Write;
///
/// let mut out = pcoll::PVec::new();
/// write!(out, "{}-{}", 4, 2)?;
/// assert_eq!(out, *b"4-2");
/// # Ok::<(), std::io::Error>(())
/// ```
impl std::io::Write for PVec<u8> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.try_extend_from_slice(buf)
            .map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---- sets: `replace` ----

impl<T: Persistent + Hash + Eq, S: Persistent + BuildHasher> PHashSet<T, S> {
    /// Adds `value`, replacing an equal element, which is returned (as `HashSet::replace`).
    ///
    /// ```
    /// let mut set: pcoll::PHashSet<u64> = [1, 2].into();
    /// assert_eq!(set.replace(2), Some(2));
    /// assert_eq!(set.replace(3), None);
    /// assert_eq!(set.len(), 3);
    /// ```
    pub fn replace(&mut self, value: T) -> Option<T> {
        let old = self.take(&value);
        self.insert(value);
        old
    }
}

impl<T: Persistent + Ord> PBTreeSet<T> {
    /// Adds `value`, replacing an equal element, which is returned (as `BTreeSet::replace`).
    ///
    /// ```
    /// let mut set: pcoll::PBTreeSet<u64> = [1, 2].into();
    /// assert_eq!(set.replace(2), Some(2));
    /// assert_eq!(set.replace(3), None);
    /// assert_eq!(set.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn replace(&mut self, value: T) -> Option<T> {
        let old = self.take(&value);
        self.insert(value);
        old
    }
}

// ---- extract_if of the maps and sets: lazy, as std's (what is not reached stays) ----

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// An iterator that removes and yields the entries for which `pred` is true (as
    /// `HashMap::extract_if`; entries not reached when it is dropped stay). Each value is
    /// logged before `pred` sees it.
    ///
    /// ```
    /// let mut m: pcoll::PHashMap<u64, u64> = (0..6).map(|k| (k, k * 10)).collect();
    /// let mut odd: Vec<(u64, u64)> = m.extract_if(|k, _| k % 2 == 1).collect();
    /// odd.sort();
    /// assert_eq!(odd, [(1, 10), (3, 30), (5, 50)]);
    /// assert_eq!(m.len(), 3);
    /// ```
    pub fn extract_if<F: FnMut(&K, &mut V) -> bool>(
        &mut self,
        pred: F,
    ) -> MapExtractIf<'_, K, V, S, F> {
        MapExtractIf {
            map: self,
            at: 0,
            pred,
        }
    }
}

/// The iterator of [`PHashMap::extract_if`].
pub struct MapExtractIf<'a, K: Persistent, V: Persistent, S: Persistent, F> {
    map: &'a mut PHashMap<K, V, S>,
    at: usize,
    pred: F,
}

impl<K: Persistent, V: Persistent, S: Persistent, F: FnMut(&K, &mut V) -> bool> Iterator
    for MapExtractIf<'_, K, V, S, F>
{
    type Item = (K, V);
    fn next(&mut self) -> Option<(K, V)> {
        let kv = self.map.take_next_where(&mut self.at, &mut self.pred)?;
        Some(handle::detach(kv))
    }
}

impl<K: Persistent, V: Persistent, S: Persistent, F> fmt::Debug for MapExtractIf<'_, K, V, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl<T: Persistent, S: Persistent> PHashSet<T, S> {
    /// An iterator that removes and yields the elements for which `pred` is true (as
    /// `HashSet::extract_if`).
    ///
    /// ```
    /// let mut set: pcoll::PHashSet<u64> = (0..6).collect();
    /// let mut odd: Vec<u64> = set.extract_if(|x| x % 2 == 1).collect();
    /// odd.sort();
    /// assert_eq!(odd, [1, 3, 5]);
    /// assert_eq!(set.len(), 3);
    /// ```
    pub fn extract_if<F: FnMut(&T) -> bool>(&mut self, mut pred: F) -> impl Iterator<Item = T> {
        self.map_mut()
            .extract_if(move |k, ()| pred(k))
            .map(|(k, ())| k)
    }
}

impl<K: Persistent + Ord + Clone, V: Persistent> PBTreeMap<K, V> {
    /// An iterator that removes and yields, in key order, the entries of `range` for which
    /// `pred` is true (as `BTreeMap::extract_if`; entries not reached when it is dropped
    /// stay). Each step searches from the last key seen, so keys must be `Clone` (a deep
    /// copy for handle types); each value is logged before `pred` sees it.
    ///
    /// ```
    /// let mut m: pcoll::PBTreeMap<u64, u64> = (0..10).map(|k| (k, k)).collect();
    /// let even: Vec<(u64, u64)> = m.extract_if(2..8, |k, _| k % 2 == 0).collect();
    /// assert_eq!(even, [(2, 2), (4, 4), (6, 6)]);
    /// assert_eq!(m.len(), 7);
    /// ```
    pub fn extract_if<R, F>(&mut self, range: R, pred: F) -> BTreeExtractIf<'_, K, V, F>
    where
        R: std::ops::RangeBounds<K>,
        F: FnMut(&K, &mut V) -> bool,
    {
        BTreeExtractIf {
            map: self,
            from: range.start_bound().cloned(),
            to: range.end_bound().cloned(),
            pred,
        }
    }
}

/// The iterator of [`PBTreeMap::extract_if`].
pub struct BTreeExtractIf<'a, K: Persistent, V: Persistent, F> {
    map: &'a mut PBTreeMap<K, V>,
    from: std::ops::Bound<K>,
    to: std::ops::Bound<K>,
    pred: F,
}

impl<K, V, F> Iterator for BTreeExtractIf<'_, K, V, F>
where
    K: Persistent + Ord + Clone,
    V: Persistent,
    F: FnMut(&K, &mut V) -> bool,
{
    type Item = (K, V);
    fn next(&mut self) -> Option<(K, V)> {
        loop {
            let (key, hit) = {
                let range = (self.from.as_ref(), self.to.as_ref());
                let (k, v) = self.map.range_mut::<K, _>(range).next()?;
                ((*k).clone(), (self.pred)(k, v))
            };
            if hit {
                let kv = self.map.remove_entry(&key);
                self.from = std::ops::Bound::Excluded(key);
                return kv;
            }
            self.from = std::ops::Bound::Excluded(key);
        }
    }
}

impl<K: Persistent, V: Persistent, F> fmt::Debug for BTreeExtractIf<'_, K, V, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractIf").finish_non_exhaustive()
    }
}

impl<T: Persistent + Ord + Clone> PBTreeSet<T> {
    /// An iterator that removes and yields, in order, the elements of `range` for which
    /// `pred` is true (as `BTreeSet::extract_if`; elements must be `Clone`, see
    /// [`PBTreeMap::extract_if`]).
    ///
    /// ```
    /// let mut set: pcoll::PBTreeSet<u64> = (0..10).collect();
    /// let even: Vec<u64> = set.extract_if(2..8, |x| x % 2 == 0).collect();
    /// assert_eq!(even, [2, 4, 6]);
    /// assert_eq!(set.len(), 7);
    /// ```
    pub fn extract_if<R, F>(&mut self, range: R, mut pred: F) -> impl Iterator<Item = T>
    where
        R: std::ops::RangeBounds<T>,
        F: FnMut(&T) -> bool,
    {
        self.map_mut()
            .extract_if(range, move |k, ()| pred(k))
            .map(|(k, ())| k)
    }
}

// ---- fallible forms of `extend` and `collect`: a full pool is an error, not a panic ----

impl<T: Persistent> PVec<T> {
    /// `extend`, stopping at the first element that does not fit the pool: `Err`, with the
    /// elements before it pushed (roll the transaction back to undo them).
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// pool.transaction(|root| root.v.try_extend([1, 2, 3]))?;
    /// assert_eq!(pool.read().v, [1, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_extend<I: IntoIterator<Item = T>>(&mut self, it: I) -> Result<()> {
        it.into_iter()
            .try_for_each(|x| self.try_push(x).map_err(|(e, _)| e))
    }

    /// `collect` into a vector outside any pool, reporting a failed allocation as an error.
    ///
    /// ```
    /// let v = pcoll::PVec::try_from_iter((1..=3u64).map(|x| x * x))?;
    /// assert_eq!(v, [1, 4, 9]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_from_iter<I: IntoIterator<Item = T>>(it: I) -> Result<Self> {
        let mut v = PVec::new();
        v.try_extend(it)?;
        Ok(v)
    }
}

impl<K, V, S> PHashMap<K, V, S>
where
    K: Persistent + Hash + Eq,
    V: Persistent,
    S: Persistent + BuildHasher,
{
    /// `extend`, stopping at the first entry that does not fit the pool: `Err`, with the
    /// entries before it inserted (roll the transaction back to undo them).
    ///
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let mut ages: PHashMap<PString, u64> = PHashMap::new();
    /// ages.try_extend([("ada", 36), ("alan", 41)])?;
    /// assert_eq!(ages.get("alan"), Some(&41));
    /// assert_eq!(ages.len(), 2);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_extend<I, W>(&mut self, it: impl IntoIterator<Item = (I, W)>) -> Result<()>
    where
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Hash + Equivalent<K>,
    {
        it.into_iter()
            .try_for_each(|(k, v)| self.try_insert(k, v).map(drop))
    }

    /// `collect` into a map outside any pool, reporting a failed allocation as an error.
    ///
    /// ```
    /// use pcoll::{PHashMap, PString};
    ///
    /// let ages: PHashMap<PString, u64> = PHashMap::try_from_iter([("ada", 36), ("alan", 41)])?;
    /// assert_eq!(ages.get("ada"), Some(&36));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_from_iter<I, W>(it: impl IntoIterator<Item = (I, W)>) -> Result<Self>
    where
        S: Default,
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Hash + Equivalent<K>,
    {
        let mut m = Self::default();
        m.try_extend(it)?;
        Ok(m)
    }
}

impl<K: Persistent + Ord, V: Persistent> PBTreeMap<K, V> {
    /// `extend`, stopping at the first entry that does not fit the pool (see
    /// [`PHashMap::try_extend`]).
    ///
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let mut ages: PBTreeMap<PString, u64> = PBTreeMap::new();
    /// ages.try_extend([("alan", 41), ("ada", 36)])?;
    /// assert_eq!(ages.first_key_value().map(|(k, v)| (k.as_str(), *v)), Some(("ada", 36)));
    /// assert_eq!(ages.len(), 2);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_extend<I, W>(&mut self, it: impl IntoIterator<Item = (I, W)>) -> Result<()>
    where
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Comparable<K>,
    {
        it.into_iter()
            .try_for_each(|(k, v)| self.try_insert(k, v).map(drop))
    }

    /// `collect` into a map outside any pool, reporting a failed allocation as an error.
    ///
    /// ```
    /// use pcoll::{PBTreeMap, PString};
    ///
    /// let ages: PBTreeMap<PString, u64> = PBTreeMap::try_from_iter([("alan", 41), ("ada", 36)])?;
    /// assert_eq!(ages.first_key_value().map(|(k, _)| k.as_str()), Some("ada"));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_from_iter<I, W>(it: impl IntoIterator<Item = (I, W)>) -> Result<Self>
    where
        I: IntoPersistent<K>,
        W: IntoPersistent<V>,
        I::Probe: Comparable<K>,
    {
        let mut m = Self::new();
        m.try_extend(it)?;
        Ok(m)
    }
}

impl<T: Persistent + Hash + Eq, S: Persistent + BuildHasher> PHashSet<T, S> {
    /// `extend`, stopping at the first element that does not fit the pool.
    ///
    /// ```
    /// use pcoll::{PHashSet, PString};
    ///
    /// let mut names: PHashSet<PString> = PHashSet::new();
    /// names.try_extend(["ada", "alan", "ada"])?;
    /// assert_eq!(names.len(), 2);
    /// assert!(names.contains("alan"));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_extend<I>(&mut self, it: impl IntoIterator<Item = I>) -> Result<()>
    where
        I: IntoPersistent<T>,
        I::Probe: Hash + Equivalent<T>,
    {
        it.into_iter()
            .try_for_each(|x| self.try_insert(x).map(drop))
    }

    /// `collect` into a set outside any pool, reporting a failed allocation as an error.
    ///
    /// ```
    /// use pcoll::{PHashSet, PString};
    ///
    /// let names: PHashSet<PString> = PHashSet::try_from_iter(["ada", "alan", "ada"])?;
    /// assert_eq!(names.len(), 2);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_from_iter<I>(it: impl IntoIterator<Item = I>) -> Result<Self>
    where
        S: Default,
        I: IntoPersistent<T>,
        I::Probe: Hash + Equivalent<T>,
    {
        let mut set = Self::default();
        set.try_extend(it)?;
        Ok(set)
    }
}

impl<T: Persistent + Ord> PBTreeSet<T> {
    /// `extend`, stopping at the first element that does not fit the pool.
    ///
    /// ```
    /// use pcoll::{PBTreeSet, PString};
    ///
    /// let mut names: PBTreeSet<PString> = PBTreeSet::new();
    /// names.try_extend(["alan", "ada", "alan"])?;
    /// assert_eq!(names.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["ada", "alan"]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_extend<I>(&mut self, it: impl IntoIterator<Item = I>) -> Result<()>
    where
        I: IntoPersistent<T>,
        I::Probe: Comparable<T>,
    {
        it.into_iter()
            .try_for_each(|x| self.try_insert(x).map(drop))
    }

    /// `collect` into a set outside any pool, reporting a failed allocation as an error.
    ///
    /// ```
    /// use pcoll::{PBTreeSet, PString};
    ///
    /// let names: PBTreeSet<PString> = PBTreeSet::try_from_iter(["alan", "ada", "alan"])?;
    /// assert_eq!(names.first().map(|s| s.as_str()), Some("ada"));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_from_iter<I>(it: impl IntoIterator<Item = I>) -> Result<Self>
    where
        I: IntoPersistent<T>,
        I::Probe: Comparable<T>,
    {
        let mut set = Self::new();
        set.try_extend(it)?;
        Ok(set)
    }
}
