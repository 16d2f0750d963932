//! `PVecDeque<T>`: a double-ended queue in the pool with `VecDeque`'s API, built from two
//! `PVec`s: `back` holds the queue from some point on, in order; `front` holds the part before
//! it in reverse order (its last element is the queue's first). Pushing and popping at either
//! end is a push or pop of one vector; popping from an empty side first moves half of the
//! other side over (amortized O(1)). Every change is a `PVec` change, so its logging and
//! crash behaviour are `PVec`'s; there is no engine of its own.
//!
//! Differences from `VecDeque`, by construction: there is no `as_slices` (the front part is
//! stored reversed); `make_contiguous` moves the front part into the back vector (O(n)) and
//! returns the whole queue as one slice. Elements move between the sides bitwise, inside the
//! pool (`PVec::move_into`): a `PString` element keeps its block.

#![allow(unsafe_code)] // only the `Persistent` impl: a promise about layout

use std::fmt;
use std::ops::{Index, IndexMut, RangeBounds};

use super::convert::IntoPersistent;
use super::pvec::PVec;
use super::std_api::bounds;
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent, Relocator};

/// A double-ended queue in pool memory.
///
/// ```
/// use pcoll::{PVecDeque, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { jobs: PVecDeque<u64> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write();
/// root.jobs.push_back(2);
/// root.jobs.push_back(3);
/// root.jobs.push_front(1);
/// assert_eq!(root.jobs.pop_front(), Some(1));
/// assert_eq!(root.jobs[1], 3);
/// assert_eq!(root.jobs.iter().copied().collect::<Vec<_>>(), [2, 3]);
/// # Ok::<(), pcoll::Error>(())
/// ```
pub struct PVecDeque<T: Persistent> {
    /// The elements before `back`'s, last one first.
    front: PVec<T>,
    back: PVec<T>,
}

impl<T: Persistent> Default for PVecDeque<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Persistent> PVecDeque<T> {
    /// An empty queue; it allocates on the first push.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let deque: PVecDeque<u32> = PVecDeque::new();
    /// assert!(deque.is_empty());
    /// assert_eq!(deque.capacity(), 0);
    /// ```
    pub const fn new() -> Self {
        PVecDeque {
            front: PVec::new(),
            back: PVec::new(),
        }
    }

    /// An empty queue with room for `n` elements at its back.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let deque: PVecDeque<u32> = PVecDeque::with_capacity(10);
    /// assert!(deque.capacity() >= 10);
    /// assert!(deque.is_empty());
    /// ```
    pub fn with_capacity(n: usize) -> Self {
        PVecDeque {
            front: PVec::new(),
            back: PVec::with_capacity(n),
        }
    }

    /// Elements in the queue.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut deque: PVecDeque<u32> = PVecDeque::new();
    /// assert_eq!(deque.len(), 0);
    /// deque.push_back(1);
    /// deque.push_front(0);
    /// assert_eq!(deque.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    /// True when the queue is empty.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut deque: PVecDeque<u32> = PVecDeque::new();
    /// assert!(deque.is_empty());
    /// deque.push_front(1);
    /// assert!(!deque.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements the queue holds without reallocating, at its two ends together.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let buf: PVecDeque<i32> = PVecDeque::with_capacity(10);
    /// assert!(buf.capacity() >= 10);
    /// ```
    pub fn capacity(&self) -> usize {
        self.front.capacity() + self.back.capacity()
    }

    /// Room for `additional` more elements at the back.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<i32> = [1].into();
    /// buf.reserve(10);
    /// assert!(buf.capacity() >= 11);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.back.reserve(additional);
    }

    /// Like [`Self::reserve`], reporting a full pool as an error.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<i32> = [1].into();
    /// buf.try_reserve(10)?;
    /// assert!(buf.capacity() >= 11);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        self.back.try_reserve(additional)
    }

    /// Appends `value` at the back.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = PVecDeque::new();
    /// buf.push_back(1);
    /// buf.push_back(3);
    /// assert_eq!(3, *buf.back().unwrap());
    /// ```
    pub fn push_back(&mut self, value: T) {
        self.back.push(value);
    }

    /// Prepends `value` at the front.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<u32> = PVecDeque::new();
    /// d.push_front(1);
    /// d.push_front(2);
    /// assert_eq!(d.front(), Some(&2));
    /// assert_eq!(d.back(), Some(&1));
    /// ```
    pub fn push_front(&mut self, value: T) {
        self.front.push(value);
    }

    /// Appends the `T` that `value` converts into, built straight in this deque's pool
    /// (see [`PVec::push_from`]: a `&str` or `&[u8]` is copied once).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, PVecDeque, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { q: PVecDeque<PString> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.q.push_back_from("b");
    /// root.q.push_front_from("a");
    /// assert_eq!(root.q.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn push_back_from(&mut self, value: impl IntoPersistent<T>) {
        self.back.push_from(value);
    }

    /// Prepends the `T` that `value` converts into, built straight in this deque's pool
    /// (see [`push_back_from`](Self::push_back_from)).
    pub fn push_front_from(&mut self, value: impl IntoPersistent<T>) {
        self.front.push_from(value);
    }

    /// Removes and returns the last element.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = PVecDeque::new();
    /// assert_eq!(buf.pop_back(), None);
    /// buf.push_front(1); // popping from the back reaches front-pushed elements too
    /// buf.push_back(3);
    /// assert_eq!(buf.pop_back(), Some(3));
    /// assert_eq!(buf.pop_back(), Some(1));
    /// ```
    pub fn pop_back(&mut self) -> Option<T> {
        if self.back.is_empty() {
            self.rebalance(false);
        }
        self.back.pop()
    }

    /// Removes and returns the first element.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<u32> = PVecDeque::new();
    /// d.push_back(1);
    /// d.push_back(2);
    /// assert_eq!(d.pop_front(), Some(1));
    /// assert_eq!(d.pop_front(), Some(2));
    /// assert_eq!(d.pop_front(), None);
    /// ```
    pub fn pop_front(&mut self) -> Option<T> {
        if self.front.is_empty() {
            self.rebalance(true);
        }
        self.front.pop()
    }

    /// Moves half of the other side to the empty one (`to_front`: into `front`).
    fn rebalance(&mut self, to_front: bool) {
        let (from, to) = if to_front {
            (&mut self.back, &mut self.front)
        } else {
            (&mut self.front, &mut self.back)
        };
        if from.is_empty() {
            return;
        }
        // The elements nearest the empty side move, reversed: they stay in queue order.
        let k = from.len().div_ceil(2);
        from.move_into(0, k, to, 0, true);
    }

    /// The first element.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<u32> = PVecDeque::new();
    /// assert_eq!(d.front(), None);
    /// d.push_back(1);
    /// d.push_back(2);
    /// assert_eq!(d.front(), Some(&1));
    /// ```
    pub fn front(&self) -> Option<&T> {
        self.get(0)
    }

    /// The last element.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<u32> = PVecDeque::new();
    /// assert_eq!(d.back(), None);
    /// d.push_front(2);
    /// d.push_front(1);
    /// assert_eq!(d.back(), Some(&2));
    /// ```
    pub fn back(&self) -> Option<&T> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The first element, mutably (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<u32> = PVecDeque::new();
    /// assert_eq!(d.front_mut(), None);
    /// d.push_back(1);
    /// d.push_back(2);
    /// if let Some(x) = d.front_mut() { *x = 9; }
    /// assert_eq!(d.front(), Some(&9));
    /// ```
    pub fn front_mut(&mut self) -> Option<&mut T> {
        self.get_mut(0)
    }

    /// The last element, mutably (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<u32> = PVecDeque::new();
    /// assert_eq!(d.back_mut(), None);
    /// d.push_front(2);
    /// d.push_front(1);
    /// if let Some(x) = d.back_mut() { *x = 9; }
    /// assert_eq!(d.back(), Some(&9));
    /// ```
    pub fn back_mut(&mut self) -> Option<&mut T> {
        let i = self.len().checked_sub(1)?;
        self.get_mut(i)
    }

    /// Which vector holds element `i`, and where.
    fn locate(&self, i: usize) -> Option<(bool, usize)> {
        let f = self.front.len();
        if i < f {
            Some((true, f - 1 - i))
        } else if i - f < self.back.len() {
            Some((false, i - f))
        } else {
            None
        }
    }

    /// Element `i` from the front.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [4, 5].into();
    /// buf.push_front(3);
    /// assert_eq!(buf.get(0), Some(&3));
    /// assert_eq!(buf.get(1), Some(&4));
    /// assert_eq!(buf.get(3), None);
    /// ```
    pub fn get(&self, i: usize) -> Option<&T> {
        match self.locate(i)? {
            (true, j) => self.front.get(j),
            (false, j) => self.back.get(j),
        }
    }

    /// Element `i` from the front, mutably (logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [3, 4, 5].into();
    /// if let Some(elem) = buf.get_mut(1) { *elem = 7; }
    /// assert_eq!(buf, PVecDeque::from([3, 7, 5]));
    /// assert_eq!(buf.get_mut(3), None);
    /// ```
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        match self.locate(i)? {
            (true, j) => self.front.get_mut(j),
            (false, j) => self.back.get_mut(j),
        }
    }

    /// Swaps elements `i` and `j`.
    ///
    /// # Panics
    /// If either is out of bounds.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [3, 4, 5].into();
    /// buf.swap(0, 2);
    /// assert_eq!(buf, PVecDeque::from([5, 4, 3]));
    /// ```
    pub fn swap(&mut self, i: usize, j: usize) {
        let len = self.len();
        assert!(i < len && j < len, "PVecDeque::swap: index out of bounds");
        self.make_contiguous().swap(i, j);
    }

    /// The elements from front to back.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [5, 3].into();
    /// buf.push_front(4);
    /// let v: Vec<&u32> = buf.iter().collect();
    /// assert_eq!(v, [&4, &5, &3]);
    /// assert_eq!(buf.iter().rev().collect::<Vec<_>>(), [&3, &5, &4]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            front: self.front.iter().rev(),
            back: self.back.iter(),
        }
    }

    /// The elements from front to back, mutably (each logged).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [5, 3].into();
    /// buf.push_front(4);
    /// for num in buf.iter_mut() {
    ///     *num -= 2;
    /// }
    /// assert_eq!(buf, PVecDeque::from([2, 3, 1]));
    /// ```
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + ExactSizeIterator {
        self.front
            .iter_mut()
            .rev()
            .chain_exact(self.back.iter_mut())
    }

    /// The elements of `range` (indices from the front).
    ///
    /// # Panics
    /// If the range is out of bounds, as `VecDeque::range`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let deque: PVecDeque<u32> = [1, 2, 3].into();
    /// let range: Vec<&u32> = deque.range(2..).collect();
    /// assert_eq!(range, [&3]);
    /// let range: Vec<&u32> = deque.range(..).collect();
    /// assert_eq!(range, [&1, &2, &3]);
    /// ```
    pub fn range<R: RangeBounds<usize>>(&self, range: R) -> Iter<'_, T> {
        let (start, end) = bounds(range, self.len());
        // Queue index i < f is front[f - 1 - i]; the others are back[i - f]. O(1) to start.
        let f = self.front.len();
        let (fs, fe) = (start.min(f), end.min(f));
        let (bs, be) = (start.max(f) - f, end.max(f) - f);
        Iter {
            front: self.front[f - fe..f - fs].iter().rev(),
            back: self.back[bs..be].iter(),
        }
    }

    /// Moves every element into one run and returns it, front to back.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [2, 1].into();
    /// buf.push_front(3);
    /// buf.make_contiguous().sort();
    /// assert_eq!(buf.make_contiguous(), &[1, 2, 3]);
    /// ```
    pub fn make_contiguous(&mut self) -> &mut [T] {
        let n = self.front.len();
        self.front.move_into(0, n, &mut self.back, 0, true);
        self.back.as_mut_slice()
    }

    /// Rotates the queue `n` places to the left (the first `n` elements go to the back).
    ///
    /// # Panics
    /// If `n > len`, as `VecDeque::rotate_left`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = (0..10).collect();
    /// buf.rotate_left(3);
    /// assert_eq!(buf, PVecDeque::from([3, 4, 5, 6, 7, 8, 9, 0, 1, 2]));
    /// ```
    pub fn rotate_left(&mut self, n: usize) {
        assert!(n <= self.len(), "PVecDeque::rotate_left: n > len");
        self.make_contiguous().rotate_left(n);
    }

    /// Rotates the queue `n` places to the right (the last `n` elements go to the front).
    ///
    /// # Panics
    /// If `n > len`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = (0..10).collect();
    /// buf.rotate_right(3);
    /// assert_eq!(buf, PVecDeque::from([7, 8, 9, 0, 1, 2, 3, 4, 5, 6]));
    /// ```
    pub fn rotate_right(&mut self, n: usize) {
        assert!(n <= self.len(), "PVecDeque::rotate_right: n > len");
        self.make_contiguous().rotate_right(n);
    }

    /// Inserts `value` at index `i` (O(n)).
    ///
    /// # Panics
    /// If `i > len`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut d: PVecDeque<char> = ['a', 'b', 'c'].into();
    /// d.insert(1, 'd');
    /// assert_eq!(d, PVecDeque::from(['a', 'd', 'b', 'c']));
    /// ```
    pub fn insert(&mut self, i: usize, value: T) {
        assert!(i <= self.len(), "PVecDeque::insert: index out of bounds");
        self.make_contiguous();
        self.back.insert(i, value);
    }

    /// Removes and returns element `i` (O(n)), `None` when out of bounds.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [1, 2, 3].into();
    /// assert_eq!(buf.remove(1), Some(2));
    /// assert_eq!(buf, PVecDeque::from([1, 3]));
    /// assert_eq!(buf.remove(5), None);
    /// ```
    pub fn remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len() {
            return None;
        }
        self.make_contiguous();
        Some(self.back.remove(i))
    }

    /// Keeps the first `n` elements.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [10, 15].into();
    /// buf.push_front(5);
    /// buf.truncate(1);
    /// assert_eq!(buf, PVecDeque::from([5]));
    /// ```
    pub fn truncate(&mut self, n: usize) {
        self.drop_end(self.len().saturating_sub(n), false);
    }

    /// Keeps the last `n` elements, dropping the others where they lie (std's unstable
    /// `VecDeque::truncate_front`). Unlike popping them, nothing is handed out of the pool.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = [10, 15, 20].into();
    /// buf.push_front(5);
    /// buf.truncate_front(2);
    /// assert_eq!(buf, PVecDeque::from([15, 20]));
    /// buf.truncate_front(5); // longer than the queue: nothing changes
    /// assert_eq!(buf.len(), 2);
    /// ```
    pub fn truncate_front(&mut self, n: usize) {
        self.drop_end(self.len().saturating_sub(n), true);
    }

    /// Drops `k` elements at one end where they lie. The near side is truncated in O(k); when
    /// the far side holds the rest of them, half of it moves over first (as a pop does), so a
    /// run of one-element truncations costs amortized O(1) each, not a shift of a whole side.
    fn drop_end(&mut self, k: usize, at_front: bool) {
        let (near, far) = if at_front {
            (&mut self.front, &mut self.back)
        } else {
            (&mut self.back, &mut self.front)
        };
        let (nl, fl) = (near.len(), far.len());
        if k <= nl {
            return near.truncate(nl - k);
        }
        near.clear();
        if k - nl >= fl {
            return far.clear();
        }
        self.rebalance(at_front);
        self.drop_end(k - nl, at_front);
    }

    /// Removes every element.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut deque: PVecDeque<u32> = [1, 2].into();
    /// deque.clear();
    /// assert!(deque.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.front.clear();
        self.back.clear();
    }

    /// Keeps the elements for which `f` is true, in order.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut buf: PVecDeque<u32> = (1..5).collect();
    /// buf.retain(|&x| x % 2 == 0);
    /// assert_eq!(buf, PVecDeque::from([2, 4]));
    /// ```
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        self.make_contiguous();
        self.back.retain(|x| f(x));
    }

    /// True when an element equals `x`.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PVecDeque;
    ///
    /// let mut deque: PVecDeque<u32> = PVecDeque::new();
    /// deque.push_back(0);
    /// deque.push_front(1);
    /// assert!(deque.contains(&1));
    /// assert!(!deque.contains(&10));
    /// ```
    pub fn contains(&self, x: &T) -> bool
    where
        T: PartialEq,
    {
        self.iter().any(|y| y == x)
    }
}

/// `Iterator::chain` that keeps `ExactSizeIterator` (std's `Chain` does not implement it).
trait ChainExact: Sized {
    fn chain_exact<B>(self, b: B) -> ChainExactIter<Self, B> {
        ChainExactIter { a: self, b }
    }
}
impl<I: Iterator> ChainExact for I {}

struct ChainExactIter<A, B> {
    a: A,
    b: B,
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for ChainExactIter<A, B> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.a.next().or_else(|| self.b.next())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let (a, b) = (self.a.size_hint(), self.b.size_hint());
        (a.0 + b.0, a.1.zip(b.1).map(|(x, y)| x + y))
    }
}

impl<T, A, B> DoubleEndedIterator for ChainExactIter<A, B>
where
    A: DoubleEndedIterator<Item = T>,
    B: DoubleEndedIterator<Item = T>,
{
    fn next_back(&mut self) -> Option<T> {
        self.b.next_back().or_else(|| self.a.next_back())
    }
}

impl<T, A: ExactSizeIterator<Item = T>, B: ExactSizeIterator<Item = T>> ExactSizeIterator
    for ChainExactIter<A, B>
{
}

/// Iterator over `&T`, front to back, from [`PVecDeque::iter`].
pub struct Iter<'a, T> {
    front: std::iter::Rev<std::slice::Iter<'a, T>>,
    back: std::slice::Iter<'a, T>,
}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter {
            front: self.front.clone(),
            back: self.back.clone(),
        }
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.front.next().or_else(|| self.back.next())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.front.len() + self.back.len();
        (n, Some(n))
    }
    fn nth(&mut self, n: usize) -> Option<&'a T> {
        let f = self.front.len();
        if n < f {
            return self.front.nth(n);
        }
        self.front.nth(f); // empties it
        self.back.nth(n - f)
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.back.next_back().or_else(|| self.front.next_back())
    }
    fn nth_back(&mut self, n: usize) -> Option<Self::Item> {
        let b = self.back.len();
        if n < b {
            return self.back.nth_back(n);
        }
        self.back.nth_back(b);
        self.front.nth_back(n - b)
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<'a, T: Persistent> IntoIterator for &'a PVecDeque<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T: Persistent> IntoIterator for PVecDeque<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    /// Moves every element out, front to back.
    fn into_iter(mut self) -> Self::IntoIter {
        self.make_contiguous();
        std::mem::take(&mut self.back).into_iter()
    }
}

impl<T: Persistent> Index<usize> for PVecDeque<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("PVecDeque index out of bounds")
    }
}

impl<T: Persistent> IndexMut<usize> for PVecDeque<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.get_mut(i).expect("PVecDeque index out of bounds")
    }
}

impl<T: Persistent> Extend<T> for PVecDeque<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, it: I) {
        self.back.extend(it);
    }
}

impl<T: Persistent> FromIterator<T> for PVecDeque<T> {
    /// Collects into a queue in process memory (stored into a pool, it moves there).
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        PVecDeque {
            front: PVec::new(),
            back: it.into_iter().collect(),
        }
    }
}

impl<T: Persistent> From<Vec<T>> for PVecDeque<T> {
    fn from(v: Vec<T>) -> Self {
        PVecDeque {
            front: PVec::new(),
            back: PVec::from(v),
        }
    }
}

impl<T: Persistent, const N: usize> From<[T; N]> for PVecDeque<T> {
    fn from(a: [T; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<T: Persistent + fmt::Debug> fmt::Debug for PVecDeque<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Persistent + PartialEq> PartialEq for PVecDeque<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Persistent + Eq> Eq for PVecDeque<T> {}

impl<T: Persistent + PartialEq> PartialEq<std::collections::VecDeque<T>> for PVecDeque<T> {
    fn eq(&self, other: &std::collections::VecDeque<T>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Persistent> Clone for PVecDeque<T> {
    /// A deep copy in process memory (it moves into a pool when stored).
    fn clone(&self) -> Self {
        PVecDeque {
            front: self.front.clone(),
            back: self.back.clone(),
        }
    }
}

// SAFETY: two PVecs (no addresses); layout names both; visit, relocate, handles and copy_to
// reach both.
unsafe impl<T: Persistent> Persistent for PVecDeque<T> {
    const HANDLES: bool = true;
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PVecDeque", size_of::<Self>(), align_of::<Self>()) {
            fp.field::<PVec<T>>("front", std::mem::offset_of!(Self, front));
            fp.field::<PVec<T>>("back", std::mem::offset_of!(Self, back));
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        self.front.visit(v);
        self.back.visit(v);
    }
    fn relocate(&mut self, to: &Relocator<'_>) -> Result<()> {
        self.front.relocate(to)?;
        self.back.relocate(to)
    }
    fn handles(&mut self, f: &mut dyn FnMut(&mut u64)) {
        self.front.handles(f);
        self.back.handles(f);
    }
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        Ok(PVecDeque {
            front: self.front.copy_to(to)?,
            back: self.back.copy_to(to)?,
        })
    }
}
