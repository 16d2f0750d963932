//! `IntoPersistent`: what the maps' and sets' `insert`/`entry` accept for a stored type, so
//! `users.insert("alice", 30)` stores a `PString` key from a `&str` and `by_age.insert(30,
//! "alice")` a `PString` value, while plain types pass through unchanged.

use super::pstring::PString;
use super::pvec::PVec;
use crate::error::Result;
use crate::persistent::Persistent;

/// A value that becomes a `T` in the pool, with a borrowed form to hash and compare before
/// the conversion (a `&str` is looked up as itself, and only converted when it is inserted).
///
/// Every `T` converts to itself. Converting into a handle type allocates in the pool of the
/// container that receives it, and fails with [`Error::OutOfSpace`](crate::Error) when that
/// pool is full.
pub trait IntoPersistent<T> {
    /// The borrowed form hashed and compared with stored `T`s (through [`Equivalent`](crate::Equivalent)
    /// and [`Comparable`](crate::Comparable): `T: Borrow<Probe>` suffices, [`Pair`](crate::Pair) also works).
    type Probe: ?Sized;
    /// The borrowed form of `self`.
    ///
    /// ```
    /// use pcoll::{IntoPersistent, PString};
    ///
    /// // Anything a `PString` key can be made from, looked at as a `&str` (nothing is converted).
    /// fn is_short<W: IntoPersistent<PString, Probe = str>>(key: &W) -> bool {
    ///     key.probe().len() < 4
    /// }
    /// assert!(is_short(&"ada"));
    /// assert!(!is_short(&String::from("alan")));
    /// ```
    fn probe(&self) -> &Self::Probe;
    /// Converts `self` into the stored type.
    ///
    /// ```
    /// use pcoll::{IntoPersistent, PString, PVec};
    ///
    /// let s: PString = "ada".into_persistent()?;
    /// assert_eq!(s, "ada");
    /// let v: PVec<u8> = vec![1, 2].into_persistent()?;
    /// assert_eq!(v, [1, 2]);
    /// let n: u64 = 7.into_persistent()?; // plain types pass through
    /// assert_eq!(n, 7);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    fn into_persistent(self) -> Result<T>;
}

impl<T> IntoPersistent<T> for T {
    type Probe = T;
    #[inline]
    fn probe(&self) -> &T {
        self
    }
    #[inline]
    fn into_persistent(self) -> Result<T> {
        Ok(self)
    }
}

fn pstring(s: &str) -> Result<PString> {
    let mut p = PString::new();
    p.try_push_str(s)?;
    Ok(p)
}

impl IntoPersistent<PString> for &str {
    type Probe = str;
    fn probe(&self) -> &str {
        self
    }
    fn into_persistent(self) -> Result<PString> {
        pstring(self)
    }
}

impl IntoPersistent<PString> for String {
    type Probe = str;
    fn probe(&self) -> &str {
        self
    }
    fn into_persistent(self) -> Result<PString> {
        pstring(&self)
    }
}

impl IntoPersistent<PString> for &String {
    type Probe = str;
    fn probe(&self) -> &str {
        self
    }
    fn into_persistent(self) -> Result<PString> {
        pstring(self)
    }
}

impl<T: Persistent + Clone> IntoPersistent<PVec<T>> for &[T] {
    type Probe = [T];
    fn probe(&self) -> &[T] {
        self
    }
    fn into_persistent(self) -> Result<PVec<T>> {
        let mut v = PVec::new();
        v.try_extend_from_slice(self)?;
        Ok(v)
    }
}

impl<T: Persistent + Clone> IntoPersistent<PVec<T>> for Vec<T> {
    type Probe = [T];
    fn probe(&self) -> &[T] {
        self
    }
    fn into_persistent(self) -> Result<PVec<T>> {
        self.as_slice().into_persistent()
    }
}
