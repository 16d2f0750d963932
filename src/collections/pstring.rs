//! `PString`: UTF-8 text in the pool with `String`'s API, a front over `PVec<u8>` that only
//! ever stores whole `&str`s and cuts at char boundaries, so invalid UTF-8 cannot be stored.
//! Indexes that are not char boundaries panic where `String` panics (the transaction then
//! rolls back as the panic unwinds).

use std::borrow::Borrow;
use std::fmt;
use std::ops::{Bound, Deref, RangeBounds};

use super::pvec::PVec;
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent};

/// A growable UTF-8 string in pool memory. Compares, orders and hashes like `str`, so a
/// `PString` key is found by `&str`.
///
/// ```
/// use pcoll::{PString, PVec, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { name: PString, tags: PVec<PString> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// {
///     let mut root = pool.write();
///     root.name.push_str("pcoll");
///     root.name.insert(0, '¡');
///     root.tags.push("persistent".into()); // allocated in this transaction's pool
/// }
/// let root = pool.read();
/// assert_eq!(root.name, "¡pcoll");
/// assert_eq!(&*root.tags[0], "persistent");
/// # Ok::<(), pcoll::Error>(())
/// ```
#[repr(transparent)]
#[derive(Default)]
pub struct PString {
    bytes: PVec<u8>,
}

impl PString {
    /// An empty string; it allocates on the first push.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s = PString::new();
    /// assert!(root.s.is_empty());
    /// assert_eq!(root.s.capacity(), 0);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub const fn new() -> Self {
        PString { bytes: PVec::new() }
    }

    /// An empty string with room for `n` bytes (in process memory until stored).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s = PString::with_capacity(16); // moves into the pool
    /// assert!(root.s.capacity() >= 16);
    /// assert!(root.s.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn with_capacity(n: usize) -> Self {
        PString {
            bytes: PVec::with_capacity(n),
        }
    }

    /// The text.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("hi");
    /// assert_eq!(root.s.as_str(), "hi");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        utf8(self.bytes.as_slice())
    }

    /// The contents as bytes (`String::as_bytes`), without the UTF-8 check of `as_str`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PString;
    ///
    /// let s = PString::from("hé");
    /// assert_eq!(s.as_bytes(), &[b'h', 0xc3, 0xa9]);
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// Length in bytes.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("¡hi");
    /// assert_eq!(root.s.len(), 4); // '¡' takes two bytes
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when empty.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// assert!(root.s.is_empty());
    /// root.s.push('a');
    /// assert!(!root.s.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes the buffer holds without growing.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.reserve(8);
    /// assert!(root.s.capacity() >= 8);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Makes room for `additional` more bytes.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.reserve(8);
    /// assert!(root.s.capacity() >= 8);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    /// Makes room for `additional` more bytes, or fails when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.try_reserve(8)?;
    /// assert!(root.s.capacity() >= 8);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        self.bytes.try_reserve(additional)
    }

    /// Appends `s`, or fails without change when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.try_push_str("hi")?;
    /// assert_eq!(root.s, "hi");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_push_str(&mut self, s: &str) -> Result<()> {
        self.bytes.insert_slice(self.len(), s.as_bytes())
    }

    /// Appends `s`.
    ///
    /// # Panics
    /// When the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("foo");
    /// root.s.push_str("bar");
    /// assert_eq!(root.s, "foobar");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn push_str(&mut self, s: &str) {
        self.try_push_str(s)
            .unwrap_or_else(|e| panic!("pcoll: PString::push_str: {e}"));
    }

    /// Appends `c`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push('a');
    /// root.s.push('é');
    /// assert_eq!(root.s, "aé");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Removes and returns the last char.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("ab");
    /// assert_eq!(root.s.pop(), Some('b'));
    /// assert_eq!(root.s, "a");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn pop(&mut self) -> Option<char> {
        let c = self.as_str().chars().next_back()?;
        self.bytes
            .remove_range(self.len() - c.len_utf8(), self.len());
        Some(c)
    }

    fn assert_boundary(&self, idx: usize, what: &str) {
        assert!(
            self.as_str().is_char_boundary(idx),
            "{what}: byte index {idx} is not a char boundary"
        );
    }

    /// Inserts `c` at byte index `idx`.
    ///
    /// # Panics
    /// If `idx` is not a char boundary (or past the end), or when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("ac");
    /// root.s.insert(1, 'b');
    /// assert_eq!(root.s, "abc");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn insert(&mut self, idx: usize, c: char) {
        self.insert_str(idx, c.encode_utf8(&mut [0; 4]));
    }

    /// Inserts `s` at byte index `idx`.
    ///
    /// # Panics
    /// If `idx` is not a char boundary (or past the end), or when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("ad");
    /// root.s.insert_str(1, "bc");
    /// assert_eq!(root.s, "abcd");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn insert_str(&mut self, idx: usize, s: &str) {
        self.assert_boundary(idx, "insert_str");
        self.bytes
            .insert_slice(idx, s.as_bytes())
            .unwrap_or_else(|e| panic!("pcoll: PString::insert_str: {e}"));
    }

    /// Removes and returns the char at byte index `idx`.
    ///
    /// # Panics
    /// If `idx` is not a char boundary or is at or past the end.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("abc");
    /// assert_eq!(root.s.remove(1), 'b');
    /// assert_eq!(root.s, "ac");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn remove(&mut self, idx: usize) -> char {
        let Some(c) = self.as_str().get(idx..).and_then(|s| s.chars().next()) else {
            panic!(
                "cannot remove a char from the end of a string, or at a non-boundary index {idx}"
            )
        };
        self.bytes.remove_range(idx, idx + c.len_utf8());
        c
    }

    /// Shortens to `new_len` bytes.
    ///
    /// # Panics
    /// If `new_len` is not a char boundary.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("hello");
    /// root.s.truncate(2);
    /// assert_eq!(root.s, "he");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn truncate(&mut self, new_len: usize) {
        if new_len < self.len() {
            self.assert_boundary(new_len, "truncate");
            self.bytes.truncate(new_len);
        }
    }

    /// Removes all text.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("hello");
    /// root.s.clear();
    /// assert!(root.s.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Keeps the chars for which `f` returns true. (A panic in `f` changes nothing.)
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("a-b-c");
    /// root.s.retain(|c| c != '-');
    /// assert_eq!(root.s, "abc");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn retain<F: FnMut(char) -> bool>(&mut self, f: F) {
        let kept: String = self
            .as_str()
            .chars()
            .filter_map({
                let mut f = f;
                move |c| f(c).then_some(c)
            })
            .collect();
        if kept.len() != self.len() {
            self.bytes.clear();
            self.push_str(&kept);
        }
    }

    fn range<R: RangeBounds<usize>>(&self, range: R, what: &str) -> (usize, usize) {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e + 1,
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.len(),
        };
        assert!(
            start <= end && end <= self.len(),
            "{what}: range {start}..{end} out of bounds for length {}",
            self.len()
        );
        self.assert_boundary(start, what);
        self.assert_boundary(end, what);
        (start, end)
    }

    /// Replaces the text in `range` with `with`.
    ///
    /// # Panics
    /// If the range is out of bounds or its ends are not char boundaries.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("hello, world");
    /// root.s.replace_range(7.., "pcoll");
    /// assert_eq!(root.s, "hello, pcoll");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn replace_range<R: RangeBounds<usize>>(&mut self, range: R, with: &str) {
        let (start, end) = self.range(range, "replace_range");
        self.bytes.remove_range(start, end);
        self.bytes
            .insert_slice(start, with.as_bytes())
            .unwrap_or_else(|e| panic!("pcoll: PString::replace_range: {e}"));
    }

    /// Removes the text in `range` and returns its chars. (std returns a lazy `Drain`; this
    /// one moves the chars out at once.)
    ///
    /// # Panics
    /// If the range is out of bounds or its ends are not char boundaries.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("hello");
    /// let d: String = root.s.drain(1..3).collect();
    /// assert_eq!(d, "el");
    /// assert_eq!(root.s, "hlo");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn drain<R: RangeBounds<usize>>(&mut self, range: R) -> std::vec::IntoIter<char> {
        let (start, end) = self.range(range, "drain");
        let out: Vec<char> = self.as_str()[start..end].chars().collect();
        self.bytes.remove_range(start, end);
        out.into_iter()
    }

    /// Splits off the text from byte `at` on, returned as a std `String`.
    ///
    /// # Panics
    /// If `at` is not a char boundary or past the end.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("hello");
    /// let tail: String = root.s.split_off(2);
    /// assert_eq!(tail, "llo");
    /// assert_eq!(root.s, "he");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn split_off(&mut self, at: usize) -> String {
        assert!(at <= self.len(), "split_off: byte index {at} out of bounds");
        self.assert_boundary(at, "split_off");
        let tail = self.as_str()[at..].to_owned();
        self.bytes.truncate(at);
        tail
    }

    /// The text, mutably (every byte logged first): `make_ascii_uppercase` and friends.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { s: PString }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.s.push_str("abc");
    /// root.s.as_mut_str().make_ascii_uppercase();
    /// assert_eq!(root.s, "ABC");
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn as_mut_str(&mut self) -> &mut str {
        match std::str::from_utf8_mut(self.bytes.as_mut_slice()) {
            Ok(s) => s,
            Err(e) => panic!("pcoll: PString holds invalid UTF-8 (damaged pool): {e}"),
        }
    }
}

/// Stored bytes are whole UTF-8 by construction; they are still validated on every read
/// (a fast scan), so even a damaged pool never yields an invalid `&str`.
fn utf8(b: &[u8]) -> &str {
    match std::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => panic!("pcoll: PString holds invalid UTF-8 (damaged pool): {e}"),
    }
}

/// Capacity and byte conversions, as `String`'s.
impl PString {
    /// Like `String::reserve_exact` (pcoll never over-allocates beyond the block size).
    ///
    /// ```
    /// let mut s = pcoll::PString::from("ab");
    /// s.reserve_exact(10);
    /// assert!(s.capacity() >= 12);
    /// ```
    pub fn reserve_exact(&mut self, additional: usize) {
        self.reserve(additional);
    }

    /// Like `String::try_reserve_exact`.
    ///
    /// ```
    /// let mut s = pcoll::PString::new();
    /// s.try_reserve_exact(5)?;
    /// assert!(s.capacity() >= 5);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve_exact(&mut self, additional: usize) -> Result<()> {
        self.try_reserve(additional)
    }

    /// Moves the text into a block of exactly its length (the old one is freed at commit).
    ///
    /// ```
    /// let mut s = pcoll::PString::with_capacity(100);
    /// s.push_str("abc");
    /// s.shrink_to_fit();
    /// assert_eq!((s.as_str(), s.capacity() < 100), ("abc", true));
    /// ```
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Moves the text into a block of `max(len, min_capacity)` bytes, when larger.
    ///
    /// ```
    /// let mut s = pcoll::PString::with_capacity(100);
    /// s.push_str("abc");
    /// s.shrink_to(10);
    /// assert!(s.capacity() >= 10 && s.capacity() < 100);
    /// ```
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.bytes.shrink_to(min_capacity);
    }

    /// The text's bytes, copied out (the string is consumed).
    ///
    /// ```
    /// let s = pcoll::PString::from("hi");
    /// assert_eq!(s.into_bytes(), b"hi".to_vec());
    /// ```
    pub fn into_bytes(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// A string from UTF-8 bytes, in process memory; the bytes back on error, as
    /// `String::from_utf8`.
    ///
    /// ```
    /// let s = pcoll::PString::from_utf8(b"ok".to_vec()).unwrap();
    /// assert_eq!(s, "ok");
    /// assert!(pcoll::PString::from_utf8(vec![0xff]).is_err());
    /// ```
    pub fn from_utf8(bytes: Vec<u8>) -> std::result::Result<PString, std::string::FromUtf8Error> {
        String::from_utf8(bytes).map(|s| PString::from(s.as_str()))
    }

    /// Appends a copy of the bytes in `src` (char boundaries, as `String::extend_from_within`).
    ///
    /// ```
    /// let mut s = pcoll::PString::from("abcde");
    /// s.extend_from_within(2..4);
    /// assert_eq!(s, "abcdecd");
    /// ```
    pub fn extend_from_within<R: RangeBounds<usize>>(&mut self, src: R) {
        let (start, end) = self.range(src, "extend_from_within");
        let part = self.as_str()[start..end].to_owned();
        self.push_str(&part);
    }
}

impl Deref for PString {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for PString {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for PString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for PString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for PString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Write for PString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.try_push_str(s).map_err(|_| fmt::Error)
    }
}

// Comparisons read bytes: str's order and equality are its bytes', and reading them skips the
// UTF-8 check that `as_str` makes (a fifth of a `sort` of `PString`s).
impl PartialEq for PString {
    fn eq(&self, other: &Self) -> bool {
        self.bytes.as_slice() == other.bytes.as_slice()
    }
}

impl Eq for PString {}

impl PartialEq<str> for PString {
    fn eq(&self, other: &str) -> bool {
        self.bytes.as_slice() == other.as_bytes()
    }
}

impl PartialEq<&str> for PString {
    fn eq(&self, other: &&str) -> bool {
        self.bytes.as_slice() == other.as_bytes()
    }
}

impl PartialEq<String> for PString {
    fn eq(&self, other: &String) -> bool {
        self.bytes.as_slice() == other.as_bytes()
    }
}

impl PartialEq<PString> for str {
    fn eq(&self, other: &PString) -> bool {
        other == self
    }
}

impl PartialEq<PString> for &str {
    fn eq(&self, other: &PString) -> bool {
        other == *self
    }
}

impl PartialEq<PString> for String {
    fn eq(&self, other: &PString) -> bool {
        other == self
    }
}

impl PartialOrd for PString {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PString {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.as_slice().cmp(other.bytes.as_slice())
    }
}

impl std::hash::Hash for PString {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h) // as str hashes: a PString key is found by &str
    }
}

impl Extend<char> for PString {
    fn extend<I: IntoIterator<Item = char>>(&mut self, iter: I) {
        iter.into_iter().for_each(|c| self.push(c));
    }
}

impl<'a> Extend<&'a str> for PString {
    fn extend<I: IntoIterator<Item = &'a str>>(&mut self, iter: I) {
        iter.into_iter().for_each(|s| self.push_str(s));
    }
}

impl From<&PString> for String {
    fn from(s: &PString) -> String {
        s.as_str().to_owned()
    }
}

/// A new `PString` (in process memory until stored): `root.names.push("alice".into())`.
///
/// # Examples
/// ```
/// # use pcoll::{PString, PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { names: PVec<PString> }
/// # let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// root.names.push("alice".into());
/// root.names.push(PString::from("bob"));
/// assert_eq!(root.names[0], "alice");
/// assert_eq!(root.names[1], "bob");
/// # Ok::<(), pcoll::Error>(())
/// ```
impl From<&str> for PString {
    fn from(s: &str) -> PString {
        let mut p = PString::with_capacity(s.len());
        p.push_str(s);
        p
    }
}

/// A new `PString` (in process memory until stored).
///
/// # Examples
/// ```
/// # use pcoll::{PString, PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { names: PVec<PString> }
/// # let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// let name = format!("user{}", 7);
/// root.names.push(name.into());
/// assert_eq!(root.names[0], "user7");
/// # Ok::<(), pcoll::Error>(())
/// ```
impl From<String> for PString {
    fn from(s: String) -> PString {
        PString::from(s.as_str())
    }
}

// SAFETY: a PString is a PVec<u8> (transparent); layout and visit are its vector's.
#[allow(unsafe_code)]
unsafe impl Persistent for PString {
    crate::collections::handle::wrapper_moves!(PString, bytes);
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PString", size_of::<Self>(), align_of::<Self>()) {
            PVec::<u8>::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        // The bytes are read only when the buffer checked out against the allocator.
        if self.bytes.visit_elements(v) && std::str::from_utf8(self.bytes.as_slice()).is_err() {
            v.problem("a PString holds invalid UTF-8".into());
        }
    }
}
