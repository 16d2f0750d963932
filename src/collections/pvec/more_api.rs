//! More of `PVec`'s `Vec` API: `with_capacity`, `try_insert`, `first_mut`/`last_mut`, `swap`,
//! `retain`, `dedup*`, `drain`, `split_off`, `append`, `resize`, `shrink_to*`, the `Copy`-only
//! bulk edits PString uses (`insert_slice`, `remove_range`) and the `Compact` guard that keeps
//! `retain`/`dedup_by` panic-safe. Moved out of `pvec.rs`, which holds the core.

#![allow(unsafe_code)]

use super::PVec;
use crate::collections::handle::{self, off_of, pack};
use crate::error::{Error, Result};
use crate::persistent::Persistent;
use crate::txn::core::PoolCore;

/// A move out of a vector copies the elements that stay into a fresh block, instead of
/// logging and shifting them in place, from this many bytes of tail on.
const FRESH_REST_BYTES: usize = 4096;

/// More of `Vec`'s API. Methods that run user code (`retain`, `dedup_by`) log the elements
/// first and keep the vector consistent if that code panics, as std does: removed elements
/// are dropped exactly once, unprocessed ones are kept.
impl<T: Persistent> PVec<T> {
    /// An empty vector with room for `n` elements, in process memory until it is stored (a
    /// root field, an element), which moves it into that pool.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v = PVec::with_capacity(10); // moves into the pool
    /// assert!(root.v.capacity() >= 10);
    /// assert!(root.v.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn with_capacity(n: usize) -> Self {
        let mut v = Self::new();
        v.reserve(n);
        v
    }

    /// Inserts `value` at `index`, or gives it back with the error when the pool is full.
    ///
    /// # Panics
    /// If `index > len`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 3]);
    /// root.v.try_insert(1, 2).map_err(|(e, _value)| e)?;
    /// assert_eq!(root.v, [1, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_insert(&mut self, index: usize, value: T) -> std::result::Result<(), (Error, T)> {
        if let Err(e) = self.try_reserve(1) {
            return Err((e, value));
        }
        self.insert(index, value);
        Ok(())
    }

    /// Appends clones of `other`, or fails without change when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.try_extend_from_slice(&[1, 2])?;
    /// assert_eq!(root.v, [1, 2]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_extend_from_slice(&mut self, other: &[T]) -> Result<()>
    where
        T: Clone,
    {
        self.extend_clones(other)
    }

    /// The first element, mutably (only it is logged).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2]);
    /// if let Some(x) = root.v.first_mut() {
    ///     *x = 0;
    /// }
    /// assert_eq!(root.v, [0, 2]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn first_mut(&mut self) -> Option<&mut T> {
        self.get_mut(0)
    }

    /// The last element, mutably (only it is logged).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2]);
    /// if let Some(x) = root.v.last_mut() {
    ///     *x = 0;
    /// }
    /// assert_eq!(root.v, [1, 0]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn last_mut(&mut self) -> Option<&mut T> {
        let n = self.len();
        if n == 0 { None } else { self.get_mut(n - 1) }
    }

    /// Swaps two elements (only they are logged).
    ///
    /// # Panics
    /// If either index is out of bounds.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3]);
    /// root.v.swap(0, 2);
    /// assert_eq!(root.v, [3, 2, 1]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn swap(&mut self, a: usize, b: usize) {
        let len = self.len();
        assert!(
            a < len && b < len,
            "swap indices {a} and {b} out of bounds for len {len}"
        );
        self.with_pool(|v, core| {
            for i in [a, b] {
                v.log_slots(core, i, i + 1)
                    .unwrap_or_else(|e| panic!("pcoll: PVec::swap: {e}"));
            }
            // SAFETY: both indices are in bounds and logged; ptr::swap allows a == b.
            unsafe { std::ptr::swap(v.buf(core).add(a), v.buf(core).add(b)) };
        });
    }

    /// Logs every element and returns the buffer pointer and the pool (for in-place
    /// algorithms that hand elements to user closures: they call [`Self::adopt`] after each).
    fn log_all(&mut self, what: &str) -> (*mut T, *const PoolCore) {
        let len = self.len();
        self.with_pool(|v, core| {
            v.log_slots(core, 0, len)
                .unwrap_or_else(|e| panic!("pcoll: PVec::{what}: {e}"));
            (v.buf(core), core as *const PoolCore)
        })
    }

    /// After a user closure had `&mut` to `x` (an element of this vector's pool `core`):
    /// a value it stored there moves into the pool now, before the element moves.
    ///
    /// # Safety
    /// `core` is the pool of the vector being changed (alive: the vector is borrowed).
    unsafe fn adopt(core: *const PoolCore, x: &mut T) {
        // SAFETY: see the contract.
        let core = unsafe { &*core };
        handle::store(x, core).unwrap_or_else(|e| panic!("pcoll: PVec: {e}"));
    }

    /// Keeps the elements for which `f` returns true.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3, 4]);
    /// root.v.retain(|&x| x % 2 == 0);
    /// assert_eq!(root.v, [2, 4]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut f: F) {
        self.retain_mut(|x| f(x));
    }

    /// Keeps the elements for which `f` returns true; `f` may change them.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3, 4]);
    /// root.v.retain_mut(|x| { *x += 1; *x % 2 == 0 });
    /// assert_eq!(root.v, [2, 4]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn retain_mut<F: FnMut(&mut T) -> bool>(&mut self, mut f: F) {
        let len = self.len();
        if len == 0 {
            return;
        }
        let (p, core) = self.log_all("retain");
        let mut g = Compact {
            v: self,
            p,
            read: 0,
            write: 0,
            len,
        };
        while g.read < len {
            // SAFETY: read < len, an initialised, logged element not yet moved or dropped.
            let cur = unsafe { &mut *p.add(g.read) };
            let keep = f(cur); // if this panics, `cur` is still unprocessed: it is kept
            // SAFETY: the vector's pool, alive while the vector is borrowed.
            unsafe { Self::adopt(core, cur) };
            g.read += 1;
            if keep {
                g.keep(g.read - 1);
            } else {
                // SAFETY: dropped once; `read` already moved past it, so a panic in its drop
                // does not visit it again.
                unsafe { std::ptr::drop_in_place(cur) };
            }
        }
    }

    /// Removes consecutive elements that `same` calls equal (its second argument is the kept
    /// one), keeping the first of each run.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 12, 3, 13]);
    /// root.v.dedup_by(|a, b| *a % 10 == *b % 10);
    /// assert_eq!(root.v, [1, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn dedup_by<F: FnMut(&mut T, &mut T) -> bool>(&mut self, mut same: F) {
        let len = self.len();
        if len <= 1 {
            return;
        }
        let (p, core) = self.log_all("dedup_by");
        let mut g = Compact {
            v: self,
            p,
            read: 1,
            write: 1,
            len,
        };
        while g.read < len {
            // SAFETY: read < len and write - 1 < read: both initialised, distinct elements.
            let (cur, prev) = unsafe { (&mut *p.add(g.read), &mut *p.add(g.write - 1)) };
            let dup = same(cur, prev);
            // SAFETY: the vector's pool, alive while the vector is borrowed.
            unsafe {
                Self::adopt(core, cur);
                Self::adopt(core, prev);
            }
            if dup {
                g.read += 1;
                // SAFETY: dropped once, already past `read`.
                unsafe { std::ptr::drop_in_place(cur) };
            } else {
                g.read += 1;
                g.keep(g.read - 1);
            }
        }
    }

    /// Removes consecutive elements with equal keys.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([10, 20, 21, 30, 20]);
    /// root.v.dedup_by_key(|x| *x / 10);
    /// assert_eq!(root.v, [10, 20, 30, 20]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn dedup_by_key<K: PartialEq, F: FnMut(&mut T) -> K>(&mut self, mut key: F) {
        self.dedup_by(|a, b| key(a) == key(b));
    }

    /// Removes consecutive equal elements.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 2, 3, 2]);
    /// root.v.dedup();
    /// assert_eq!(root.v, [1, 2, 3, 2]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn dedup(&mut self)
    where
        T: PartialEq,
    {
        self.dedup_by(|a, b| a == b);
    }

    /// Removes the elements in `range` and returns them, in order. (std returns a lazy
    /// `Drain`; this one moves them out at once into a `std::vec::IntoIter`.)
    ///
    /// # Panics
    /// If the range is out of bounds or decreasing.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3, 4]);
    /// let d: Vec<u64> = root.v.drain(1..3).collect();
    /// assert_eq!(d, [2, 3]);
    /// assert_eq!(root.v, [1, 4]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn drain<R: std::ops::RangeBounds<usize>>(&mut self, range: R) -> std::vec::IntoIter<T> {
        use std::ops::Bound::*;
        let len = self.len();
        let start = match range.start_bound() {
            Included(&s) => s,
            Excluded(&s) => s + 1,
            Unbounded => 0,
        };
        let end = match range.end_bound() {
            Included(&e) => e + 1,
            Excluded(&e) => e,
            Unbounded => len,
        };
        assert!(
            start <= end && end <= len,
            "drain range {start}..{end} out of bounds for len {len}"
        );
        if start == end {
            return Vec::new().into_iter();
        }
        let mut out = self.with_pool(|v, core| {
            v.log_slots(core, start, len)
                .unwrap_or_else(|e| panic!("pcoll: PVec::drain: {e}"));
            let p = v.buf(core);
            let mut out = Vec::with_capacity(end - start);
            // SAFETY: start..end are initialised elements moved out once; the tail then moves
            // left over them; all of start..len was logged.
            unsafe {
                for i in start..end {
                    out.push(p.add(i).read());
                }
                std::ptr::copy(p.add(end), p.add(start), len - end);
            }
            v.len -= (end - start) as u64;
            out
        });
        if T::HANDLES {
            out = out.into_iter().map(handle::detach).collect();
        }
        out.into_iter()
    }

    /// Splits off the elements from `at` on into a new vector, in process memory until it
    /// is stored (then it moves into the pool that receives it).
    ///
    /// # Panics
    /// If `at > len`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64>, w: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3]);
    /// let tail = root.v.split_off(1);
    /// assert_eq!(tail, [2, 3]);
    /// root.w = tail;
    /// assert_eq!(root.v, [1]);
    /// assert_eq!(root.w, [2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn split_off(&mut self, at: usize) -> PVec<T> {
        let len = self.len();
        assert!(
            at <= len,
            "`at` split index (is {at}) should be <= len (is {len})"
        );
        self.drain(at..).collect()
    }

    /// Moves every element of `other` to the end of this vector, leaving `other` empty.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64>, w: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// let r = &mut *root; // to borrow two fields at once
    /// r.v.extend([1, 2]);
    /// r.w.extend([3, 4]);
    /// r.v.append(&mut r.w);
    /// assert_eq!(r.v, [1, 2, 3, 4]);
    /// assert!(r.w.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn append(&mut self, other: &mut PVec<T>) {
        let at = self.len();
        other.move_into(0, other.len(), self, at, false);
    }

    /// Moves elements `start..end` into `dst` at index `at`, in reverse order when `reverse`.
    /// Within one pool they move bitwise (no value is handed out and copied back in: a
    /// handle keeps its blocks); across pools, through process memory like `drain`.
    ///
    /// # Panics
    /// If a range is out of bounds, or when the pool is full.
    pub(crate) fn move_into(
        &mut self,
        start: usize,
        end: usize,
        dst: &mut PVec<T>,
        at: usize,
        reverse: bool,
    ) {
        let (len, dlen) = (self.len(), dst.len());
        assert!(
            start <= end && end <= len && at <= dlen,
            "PVec::move_into: {start}..{end} of {len} into {at} of {dlen}"
        );
        let n = end - start;
        if n == 0 {
            return;
        }
        let moved = !Self::ZST
            && self.with_pool(|s, core| {
                dst.with_pool(|d, dcore| {
                    std::ptr::eq(core, dcore) && s.move_bits(start, end, d, at, reverse, core)
                })
            });
        if !moved {
            let mut items: Vec<T> = self.drain(start..end).collect();
            if reverse {
                items.reverse();
            }
            let tail: Vec<T> = dst.drain(at..).collect();
            dst.extend(items.into_iter().chain(tail));
        }
    }

    /// [`Self::move_into`] within the pool `core` that holds both vectors. Always true.
    fn move_bits(
        &mut self,
        start: usize,
        end: usize,
        d: &mut PVec<T>,
        at: usize,
        reverse: bool,
        core: &PoolCore,
    ) -> bool {
        let (len, dlen, n) = (self.len(), d.len(), end - start);
        let fail = |e: Error| -> ! { panic!("pcoll: PVec: {e}") };
        d.grow(core, n).unwrap_or_else(|e| fail(e));
        // Slots that shift or empty are logged; slots past `dlen` need no undo (module
        // invariant) and are reported as written for write-back.
        d.log_slots(core, at, dlen).unwrap_or_else(|e| fail(e));
        let rest = self.rest_to_fresh_block(core, start, end);
        if rest.is_none() {
            self.log_slots(core, start, len).unwrap_or_else(|e| fail(e));
        }
        let (sp, dp) = (self.buf(core), d.buf(core));
        // `rest`, when there is one, is a third block, fresh.
        // SAFETY: distinct blocks (two vectors); dst has room for n more (grow). Its tail
        // at..dlen moves right by n, the n elements move bitwise into the gap (each read once,
        // then not self's), and self's tail closes up, in place or in `rest` after its prefix.
        unsafe {
            std::ptr::copy(dp.add(at), dp.add(at + n), dlen - at);
            for i in 0..n {
                let j = if reverse { n - 1 - i } else { i };
                std::ptr::copy_nonoverlapping(sp.add(start + i), dp.add(at + j), 1);
            }
            match rest {
                None => std::ptr::copy(sp.add(end), sp.add(start), len - end),
                Some((_, rp)) => {
                    std::ptr::copy_nonoverlapping(sp, rp, start);
                    std::ptr::copy_nonoverlapping(sp.add(end), rp.add(start), len - end);
                }
            }
        }
        core.tx()
            .wrote(dp.wrapping_add(dlen).cast(), n * size_of::<T>());
        if let Some((off, _)) = rest {
            let mut tx = core.tx();
            tx.free(off_of(self.raw));
            self.raw = pack(core.tag, off);
            self.cap = (len - n) as u64;
        }
        self.len -= n as u64;
        d.len += n as u64;
        true
    }

    /// For a move out of `start..end` that would shift a long tail in place (and log it
    /// whole first): a fresh block for the elements that stay, so nothing is logged and the
    /// old block is freed at commit. A queue's rebalance moves half of a side this way (a
    /// `-P 16` RPOP of a million-element list logged 24 MB of slots in its first pop).
    /// `None` (shift in place) for a short tail, a long prefix to copy, a buffer this
    /// transaction allocated (its slots need no log), or a full pool.
    fn rest_to_fresh_block(
        &self,
        core: &PoolCore,
        start: usize,
        end: usize,
    ) -> Option<(u64, *mut T)> {
        let (len, size) = (self.len(), size_of::<T>());
        let tail = (len - end) * size;
        if tail < FRESH_REST_BYTES || start * size * 2 > tail {
            return None;
        }
        let mut tx = core.tx();
        if tx.is_fresh(off_of(self.raw)) {
            return None;
        }
        let bytes = (len - (end - start)) * size;
        let off = tx.alloc(bytes, align_of::<T>()).ok()?;
        drop(tx);
        Some((off, core.ptr_aligned(off, bytes, align_of::<T>()).cast()))
    }

    /// Resizes to `new_len`, with clones of `value` for new slots.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.push(1);
    /// root.v.resize(3, 0);
    /// assert_eq!(root.v, [1, 0, 0]);
    /// root.v.resize(1, 0);
    /// assert_eq!(root.v, [1]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn resize(&mut self, new_len: usize, value: T)
    where
        T: Clone,
    {
        let len = self.len();
        if new_len <= len {
            return self.truncate(new_len);
        }
        self.reserve(new_len - len);
        (len..new_len).for_each(|_| self.push(value.clone()));
    }

    /// Moves the elements into a block of exactly their size (freeing the old one at commit).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.reserve(10);
    /// root.v.push(1);
    /// root.v.shrink_to_fit();
    /// assert_eq!(root.v.capacity(), 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn shrink_to_fit(&mut self) {
        self.shrink_to(0);
    }

    /// Moves the elements into a block of `max(len, min_capacity)` elements, when the
    /// capacity is larger (freeing the old block at commit); like `Vec::shrink_to`.
    ///
    /// ```
    /// let mut v: pcoll::PVec<u64> = pcoll::PVec::with_capacity(100);
    /// v.extend([1, 2, 3]);
    /// v.shrink_to(10);
    /// assert!(v.capacity() >= 10 && v.capacity() < 100);
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn shrink_to(&mut self, min_capacity: usize) {
        let target = self.len().max(min_capacity) as u64;
        if Self::ZST || self.cap <= target || self.raw == 0 {
            return;
        }
        self.with_pool(|v, core| {
            let old = off_of(v.raw);
            let mut tx = core.tx();
            if target == 0 {
                tx.free(old);
                v.raw = 0;
                v.cap = 0;
                return;
            }
            let bytes = target as usize * size_of::<T>();
            let off = tx
                .alloc(bytes, align_of::<T>())
                .unwrap_or_else(|e| panic!("pcoll: PVec::shrink_to: {e}"));
            drop(tx);
            let (src, dst) = (v.buf(core), core.ptr(off, bytes).cast::<T>());
            // SAFETY: len initialised elements move to a fresh, disjoint block.
            unsafe { std::ptr::copy_nonoverlapping(src, dst, v.len()) };
            core.tx().free(old);
            v.raw = pack(core.tag, off);
            v.cap = target;
        });
    }
}

/// Bulk copies for plain-data elements (PString's byte edits): one log entry, one move.
impl<T: Persistent + Copy> PVec<T> {
    /// Inserts `src` at `index`, shifting the rest right.
    pub(crate) fn insert_slice(&mut self, index: usize, src: &[T]) -> Result<()> {
        let (len, n) = (self.len(), src.len());
        assert!(
            index <= len,
            "insertion index (is {index}) should be <= len (is {len})"
        );
        if n == 0 {
            return Ok(());
        }
        self.with_pool(|v, core| {
            v.grow(core, n)?;
            if index == len {
                // Appending: no undo (module invariant), only write-back at commit.
                core.tx()
                    .wrote(v.buf(core).wrapping_add(len).cast(), n * size_of::<T>());
            } else {
                v.log_slots(core, index, len + n)?;
            }
            let p = v.buf(core);
            // SAFETY: index..len+n is inside the buffer and logged or fresh; the tail moves
            // right by n, then `src` (a separate borrow: Copy data) fills the gap.
            unsafe {
                std::ptr::copy(p.add(index), p.add(index + n), len - index);
                std::ptr::copy_nonoverlapping(src.as_ptr(), p.add(index), n);
            }
            v.len += n as u64;
            Ok(())
        })
    }

    /// Removes `start..end` (no drops needed: `Copy`).
    pub(crate) fn remove_range(&mut self, start: usize, end: usize) {
        let len = self.len();
        assert!(
            start <= end && end <= len,
            "range {start}..{end} out of bounds for len {len}"
        );
        if start == end {
            return;
        }
        self.with_pool(|v, core| {
            v.log_slots(core, start, len)
                .unwrap_or_else(|e| panic!("pcoll: remove_range: {e}"));
            let p = v.buf(core);
            // SAFETY: start..len is in bounds and logged; the tail moves left over the gap.
            unsafe { std::ptr::copy(p.add(end), p.add(start), len - end) };
            v.len -= (end - start) as u64;
        });
    }
}

/// Compaction in progress (`retain`, `dedup_by`): elements `0..write` are kept, `read..len`
/// are unprocessed, the rest moved or dropped. On drop, also when user code panics, the
/// unprocessed tail joins the kept ones and `len` is set: no element is dropped twice.
struct Compact<'a, T: Persistent> {
    v: &'a mut PVec<T>,
    p: *mut T,
    read: usize,
    write: usize,
    len: usize,
}

impl<T: Persistent> Compact<'_, T> {
    /// Keeps the element at `i` (just read) by moving it to the write position.
    fn keep(&mut self, i: usize) {
        if i != self.write {
            // SAFETY: i and write are in bounds; write < i, so the slot at write is vacated.
            unsafe { std::ptr::copy_nonoverlapping(self.p.add(i), self.p.add(self.write), 1) };
        }
        self.write += 1;
    }
}

impl<T: Persistent> Drop for Compact<'_, T> {
    fn drop(&mut self) {
        let rest = self.len - self.read;
        if rest > 0 && self.read != self.write {
            // SAFETY: read..len are unprocessed initialised elements; they move down to write.
            unsafe { std::ptr::copy(self.p.add(self.read), self.p.add(self.write), rest) };
        }
        self.v.len = (self.write + rest) as u64;
    }
}
