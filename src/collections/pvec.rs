//! `PVec<T>`: a growable array in the pool with `Vec`'s API (core of it so far; issue 3 lists
//! the rest). The header `{ buf, len, cap }` lives where the `PVec` lives (a root field, an
//! element); the elements live in one pool block.
//!
//! Logging (`docs/ARCHITECTURE.md`, "Writing a container"): the header was logged by whoever
//! handed out `&mut PVec`; element slots are logged before they change unless the buffer was
//! allocated by the current transaction. Invariant: **every operation that vacates slots
//! (`pop`, `truncate`, `swap_remove`, `remove`, `drain`, ...) logs them first.** So a slot at or
//! past `len` is either past the committed length (its bytes do not matter) or already logged,
//! and `push` writes it with no undo entry, only noting it for write-back at commit.

#![allow(unsafe_code)]

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut, Index, IndexMut, RangeBounds};
use std::slice::SliceIndex;

pub use super::std_api::ExtractIf;

use super::handle::{self, off_of, pack};
use crate::error::{Error, Result};
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent, Relocator};
use crate::txn::core::PoolCore;

/// A growable array in pool memory.
///
/// ```
/// use pcoll::{PVec, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { events: PVec<u64> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// {
///     let mut root = pool.write();
///     root.events.push(7);
///     root.events.extend([8, 9]);
///     root.events[0] += 1;
/// }
/// assert_eq!(pool.read().events, [8, 8, 9]);
/// # Ok::<(), pcoll::Error>(())
/// ```
#[repr(C)]
pub struct PVec<T: Persistent> {
    raw: u64,
    len: u64,
    cap: u64,
    _own: PhantomData<(T, *const ())>,
}

impl<T: Persistent> Default for PVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Persistent> PVec<T> {
    const ZST: bool = size_of::<T>() == 0;

    /// An empty vector; it allocates on the first push.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v = PVec::new();
    /// assert!(root.v.is_empty());
    /// assert_eq!(root.v.capacity(), 0);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub const fn new() -> Self {
        PVec {
            raw: 0,
            len: 0,
            cap: 0,
            _own: PhantomData,
        }
    }

    /// Number of elements.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3]);
    /// assert_eq!(root.v.len(), 3);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when there are no elements.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// assert!(root.v.is_empty());
    /// root.v.push(1);
    /// assert!(!root.v.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements the buffer holds without growing.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.reserve(10);
    /// assert!(root.v.capacity() >= 10);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        if Self::ZST {
            usize::MAX
        } else {
            self.cap as usize
        }
    }

    /// The buffer of the pool `core` (which must be this vector's pool).
    #[inline]
    fn buf(&self, core: &PoolCore) -> *mut T {
        if Self::ZST || (self.raw == 0 && self.len == 0) {
            return std::ptr::NonNull::dangling().as_ptr();
        }
        // The header is read from the pool: a damaged one must not reach past the block
        // (issue 13, #3 and #4). Two compares and a checked multiply.
        let bytes = self.buf_bytes();
        if self.raw == 0 || self.len > self.cap {
            damaged(self.len, self.cap);
        }
        core.ptr_aligned(off_of(self.raw), bytes, align_of::<T>())
            .cast()
    }

    /// The buffer's size in bytes, `cap * size_of::<T>()`; panics when that overflows (a
    /// damaged capacity).
    #[inline]
    fn buf_bytes(&self) -> usize {
        usize::try_from(self.cap)
            .ok()
            .and_then(|c| c.checked_mul(size_of::<T>()))
            .unwrap_or_else(|| damaged(self.len, self.cap))
    }

    /// Runs `f` with this vector's pool, for a change. Panics without a write transaction.
    #[inline]
    fn with_pool<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        let (addr, raw) = (self as *const Self as usize, self.raw);
        handle::with_writer_at(addr, raw, "PVec", |core| {
            if raw != 0 && !Self::ZST {
                core.expect_block(off_of(raw), self.buf_bytes(), "PVec");
            }
            self.settle(core);
            f(self, core)
        })
    }

    /// Moves values that user code stored into elements through `&mut` into the pool, before
    /// the elements move (see `handle::hand_out`).
    #[inline]
    fn settle(&self, core: &PoolCore) {
        if T::HANDLES && self.raw != 0 && core.has_fixups() {
            handle::settle::<T>(core, off_of(self.raw));
        }
    }

    /// Notes elements `from .. to` as handed to user code as `&mut` (see `handle::hand_out`).
    #[inline]
    fn hand_out(&self, core: &PoolCore, from: usize, to: usize) {
        if T::HANDLES && self.raw != 0 {
            let p = self.buf(core).wrapping_add(from);
            handle::hand_out(core, off_of(self.raw), p, to - from);
        }
    }

    /// [`with_pool`](Self::with_pool) for methods handing out references into the buffer:
    /// panics unless the vector is in pool memory (its pool then outlives the borrow).
    #[inline]
    fn with_home<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        let (addr, raw) = (self as *const Self as usize, self.raw);
        handle::with_home_at(addr, raw, "PVec", |core| {
            self.settle(core);
            f(self, core)
        })
    }

    /// Logs elements `from .. to` of the buffer unless the buffer is fresh.
    fn log_slots(&self, core: &PoolCore, from: usize, to: usize) -> Result<()> {
        if Self::ZST || self.raw == 0 || from >= to {
            return Ok(());
        }
        let mut tx = core.tx();
        if tx.is_fresh(off_of(self.raw)) {
            return Ok(());
        }
        let p = self.buf(core).wrapping_add(from);
        tx.log_ptr(p.cast(), (to - from) * size_of::<T>())
    }

    /// Makes room for `additional` more elements.
    fn grow(&mut self, core: &PoolCore, additional: usize) -> Result<()> {
        let need = self
            .len
            .checked_add(additional as u64)
            .ok_or_else(|| overflow(core))?;
        if Self::ZST || need <= self.cap {
            return Ok(());
        }
        let cap = need.max(self.cap * 2).max(4);
        let bytes = usize::try_from(cap)
            .ok()
            .and_then(|c| c.checked_mul(size_of::<T>()));
        let bytes = bytes.ok_or_else(|| overflow(core))?;
        let mut tx = core.tx();
        let off = if self.raw == 0 {
            tx.alloc(bytes, align_of::<T>())?
        } else {
            let old = self.len as usize * size_of::<T>();
            tx.realloc(off_of(self.raw), old, bytes, align_of::<T>())?
        };
        self.raw = pack(core.tag, off);
        self.cap = cap;
        Ok(())
    }

    /// Appends `value`, or gives it back with the error when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.try_push(3).map_err(|(e, _value)| e)?;
    /// assert_eq!(root.v, [3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_push(&mut self, mut value: T) -> std::result::Result<(), (Error, T)> {
        self.with_pool(|v, core| {
            if let Err(e) = handle::store(&mut value, core).and_then(|()| v.grow(core, 1)) {
                return Err((e, value));
            }
            // No undo entry: a slot at len is past the committed length or was vacated (and
            // logged) earlier in this transaction (module invariant). It must still reach
            // the medium at commit.
            let slot = v.buf(core).wrapping_add(v.len());
            core.tx().wrote(slot.cast(), size_of::<T>());
            // SAFETY: the slot at len is inside the buffer (grow) and holds no live element.
            unsafe { slot.write(value) };
            v.len += 1;
            Ok(())
        })
    }

    /// Appends `value`.
    ///
    /// # Panics
    /// When the pool is full (the transaction then rolls back when the panic unwinds).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.push(3);
    /// assert_eq!(root.v, [3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn push(&mut self, value: T) {
        if let Err((e, _)) = self.try_push(value) {
            panic!("pcoll: PVec::push: {e}");
        }
    }

    /// Removes the last element and returns it (an element holding handles comes back in
    /// process memory: it reads anywhere, and its pool blocks are freed at commit).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2]);
    /// assert_eq!(root.v.pop(), Some(2));
    /// assert_eq!(root.v, [1]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let out = self.with_pool(|v, core| {
            // The vacated slot is logged, so a later push may overwrite it without undo.
            let last = v.len() - 1;
            v.log_slots(core, last, last + 1)
                .unwrap_or_else(|e| panic!("pcoll: PVec::pop: {e}"));
            v.len -= 1;
            // SAFETY: slot len (the old last) holds an initialised T, now outside len.
            unsafe { v.buf(core).add(v.len()).read() }
        });
        Some(handle::detach(out))
    }

    /// Inserts `value` at `index`, shifting the rest right.
    ///
    /// # Panics
    /// If `index > len`, or when the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 3]);
    /// root.v.insert(1, 2);
    /// assert_eq!(root.v, [1, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn insert(&mut self, index: usize, mut value: T) {
        let len = self.len();
        assert!(
            index <= len,
            "insertion index (is {index}) should be <= len (is {len})"
        );
        self.with_pool(|v, core| {
            let res = handle::store(&mut value, core)
                .and_then(|()| v.grow(core, 1))
                .and_then(|()| v.log_slots(core, index, len + 1));
            res.unwrap_or_else(|e| panic!("pcoll: PVec::insert: {e}"));
            let p = v.buf(core);
            // SAFETY: slots index..=len are in the buffer and logged or fresh; the copy
            // moves initialised elements one slot right, then the hole gets `value`.
            unsafe {
                std::ptr::copy(p.add(index), p.add(index + 1), len - index);
                p.add(index).write(value);
            }
            v.len += 1;
        });
    }

    /// Removes and returns the element at `index`, shifting the rest left.
    ///
    /// # Panics
    /// If `index >= len`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3]);
    /// assert_eq!(root.v.remove(0), 1);
    /// assert_eq!(root.v, [2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn remove(&mut self, index: usize) -> T {
        let len = self.len();
        assert!(
            index < len,
            "removal index (is {index}) should be < len (is {len})"
        );
        let out = self.with_pool(|v, core| {
            v.log_slots(core, index, len)
                .unwrap_or_else(|e| panic!("pcoll: PVec::remove: {e}"));
            let p = v.buf(core);
            // SAFETY: index < len holds an initialised T; the rest moves left over it.
            let out = unsafe {
                let out = p.add(index).read();
                std::ptr::copy(p.add(index + 1), p.add(index), len - index - 1);
                out
            };
            v.len -= 1;
            out
        });
        handle::detach(out)
    }

    /// Removes the element at `index`, replacing it with the last one.
    ///
    /// # Panics
    /// If `index >= len`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3, 4]);
    /// assert_eq!(root.v.swap_remove(0), 1);
    /// assert_eq!(root.v, [4, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn swap_remove(&mut self, index: usize) -> T {
        let len = self.len();
        assert!(
            index < len,
            "swap_remove index (is {index}) should be < len (is {len})"
        );
        let out = self.with_pool(|v, core| {
            // The hole and the vacated last slot are both logged.
            for i in [index, len - 1] {
                v.log_slots(core, i, i + 1)
                    .unwrap_or_else(|e| panic!("pcoll: PVec::swap_remove: {e}"));
            }
            let p = v.buf(core);
            // SAFETY: index and len-1 hold initialised elements; the last moves into the hole.
            let out = unsafe {
                let out = p.add(index).read();
                std::ptr::copy(p.add(len - 1), p.add(index), 1);
                out
            };
            v.len -= 1;
            out
        });
        handle::detach(out)
    }

    /// Keeps the first `len` elements, dropping the rest.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3]);
    /// root.v.truncate(1);
    /// assert_eq!(root.v, [1]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        self.with_pool(|v, core| {
            let old = v.len();
            // Vacated slots are logged before they are dropped or overwritten.
            v.log_slots(core, len, old)
                .unwrap_or_else(|e| panic!("pcoll: PVec::truncate: {e}"));
            v.len = len as u64;
            for i in len..old {
                if std::mem::needs_drop::<T>() {
                    let off = core.offset_of(v.buf(core).wrapping_add(i).cast());
                    // SAFETY: slot i held an initialised T, now past len, dropped once.
                    unsafe { handle::drop_at::<T>(core, off) }
                        .unwrap_or_else(|e| panic!("pcoll: PVec::truncate: {e}"));
                }
            }
        });
    }

    /// Removes every element.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2, 3]);
    /// root.v.clear();
    /// assert!(root.v.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Makes room for at least `additional` more elements.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.try_reserve(100)?;
    /// assert!(root.v.capacity() >= 100);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        self.with_pool(|v, core| v.grow(core, additional))
    }

    /// Makes room for at least `additional` more elements.
    ///
    /// # Panics
    /// When the pool is full.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.reserve(100);
    /// assert!(root.v.capacity() >= 100);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.try_reserve(additional)
            .unwrap_or_else(|e| panic!("pcoll: PVec::reserve: {e}"));
    }

    /// A mutable reference to element `index`, logged first; `None` when out of bounds.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2]);
    /// if let Some(x) = root.v.get_mut(1) {
    ///     *x = 7;
    /// }
    /// assert_eq!(root.v, [1, 7]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn get_mut<I: SliceIndex<[T]>>(&mut self, index: I) -> Option<&mut I::Output> {
        let len = self.len();
        if len == 0 || Self::ZST {
            // SAFETY: as in as_slice: nothing to log, no memory to reach.
            let s = unsafe {
                std::slice::from_raw_parts_mut(std::ptr::NonNull::dangling().as_ptr(), len)
            };
            return s.get_mut(index);
        }
        let p = self.with_home(|v, core| {
            let base = v.buf(core);
            // SAFETY: len initialised elements, exclusive through `&mut self`; the reference
            // only finds the element range and is not used again (its pointer is).
            let out: *mut I::Output =
                unsafe { std::slice::from_raw_parts_mut(base, len) }.get_mut(index)?;
            // SAFETY: `out` points into the slice just made (size_of_val reads its metadata).
            let bytes = std::mem::size_of_val(unsafe { &*out });
            let first = (out.cast::<u8>() as usize - base as usize) / size_of::<T>();
            let end = first + bytes / size_of::<T>();
            v.log_slots(core, first, end)
                .unwrap_or_else(|e| panic!("pcoll: PVec::get_mut: {e}"));
            v.hand_out(core, first, end);
            Some(out)
        })?;
        // SAFETY: in bounds (get_mut), initialised and logged; `&mut self` makes it exclusive
        // and the pool lives as long as that borrow (the vector is in its memory).
        Some(unsafe { &mut *p })
    }

    /// The elements as a slice.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([1, 2]);
    /// assert_eq!(root.v.as_slice(), &[1, 2]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        if self.len == 0 || Self::ZST {
            // SAFETY: an empty slice, or ZST elements, need no memory.
            return unsafe {
                std::slice::from_raw_parts(std::ptr::NonNull::dangling().as_ptr(), self.len())
            };
        }
        let core = handle::home(self, self.raw, "PVec");
        // SAFETY: the buffer holds len initialised elements; the borrow is tied to &self, and
        // the pool holding `self` lives as long as that.
        unsafe { std::slice::from_raw_parts(self.buf(core), self.len()) }
    }

    /// The elements as a mutable slice: every element is logged first.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend([3, 1, 2]);
    /// root.v.as_mut_slice().sort();
    /// assert_eq!(root.v, [1, 2, 3]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if self.len == 0 || Self::ZST {
            // SAFETY: as in as_slice.
            return unsafe {
                std::slice::from_raw_parts_mut(std::ptr::NonNull::dangling().as_ptr(), self.len())
            };
        }
        let len = self.len();
        let p = self.with_home(|v, core| {
            v.log_slots(core, 0, len)
                .unwrap_or_else(|e| panic!("pcoll: PVec::as_mut_slice: {e}"));
            v.hand_out(core, 0, len);
            v.buf(core)
        });
        // SAFETY: len initialised, logged elements; exclusive through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }

    /// Appends clones of every element of `other`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.v.extend_from_slice(&[1, 2]);
    /// assert_eq!(root.v, [1, 2]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn extend_from_slice(&mut self, other: &[T])
    where
        T: Clone,
    {
        self.reserve(other.len());
        self.append_clones(other);
    }
}

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
        self.try_reserve(other.len())?;
        self.append_clones(other);
        Ok(())
    }

    /// Clones `other` into the reserved room past `len` (see [`Self::append_exact`]).
    fn append_clones(&mut self, other: &[T])
    where
        T: Clone,
    {
        self.append_exact(other.len(), other.iter().cloned(), "extend_from_slice");
    }

    /// Moves `items` into the reserved room past `len` (see [`Self::append_exact`]).
    fn append_owned(&mut self, items: Vec<T>) {
        self.append_exact(items.len(), items.into_iter(), "from(Vec)");
    }

    /// Writes the `n` values of `items` into the reserved room past `len`, resolving the pool
    /// once. The slots need no undo (module invariant); `len` grows with each value, so a
    /// panicking iterator (a `Clone`) leaves a consistent vector.
    fn append_exact(&mut self, n: usize, items: impl Iterator<Item = T>, what: &str) {
        if n == 0 {
            return;
        }
        assert!(self.capacity() - self.len() >= n, "reserved first");
        self.with_pool(|v, core| {
            let base = v.buf(core);
            let tail = base.wrapping_add(v.len());
            core.tx().wrote(tail.cast(), n * size_of::<T>());
            for mut x in items.take(n) {
                handle::store(&mut x, core).unwrap_or_else(|e| panic!("pcoll: PVec::{what}: {e}"));
                // SAFETY: slot len is inside the reserved buffer and holds no live element.
                unsafe { base.add(v.len()).write(x) };
                v.len += 1;
            }
        });
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
        let moved: Vec<T> = other.drain(..).collect();
        self.extend(moved);
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

impl<T: Persistent + PartialEq> PartialEq<&[T]> for PVec<T> {
    fn eq(&self, other: &&[T]) -> bool {
        self.as_slice() == *other
    }
}

/// A vector header read from a damaged pool.
#[cold]
fn damaged(len: u64, cap: u64) -> ! {
    panic!("pcoll: damaged pool: a PVec claims {len} elements in a buffer of {cap}")
}

fn overflow(core: &PoolCore) -> Error {
    Error::OutOfSpace {
        path: core.path().to_owned(),
        requested: u64::MAX,
        limit: 0,
    }
}

impl<T: Persistent> Drop for PVec<T> {
    fn drop(&mut self) {
        if self.raw == 0 {
            return;
        }
        let raw = self.raw;
        // Outside pool memory with its transaction gone, the buffer leaks (check() says so).
        handle::with_core(&*self, raw, |core| {
            if std::mem::needs_drop::<T>() {
                for i in 0..self.len() {
                    let off = core.offset_of(self.buf(core).wrapping_add(i).cast());
                    // SAFETY: slot i holds an initialised T dropped exactly once, here.
                    unsafe { handle::drop_at::<T>(core, off) }
                        .unwrap_or_else(|e| panic!("pcoll: PVec drop: {e}"));
                }
            }
            core.tx().free(off_of(raw));
        });
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

impl<T: Persistent> PVec<T> {
    /// Elements `start..end`, mutably, logging only them (range `IndexMut`).
    fn range_mut(&mut self, start: usize, end: usize) -> &mut [T] {
        let len = self.len();
        assert!(
            start <= end,
            "slice index starts at {start} but ends at {end}"
        );
        assert!(
            end <= len,
            "range end index {end} out of range for slice of length {len}"
        );
        if start == end || Self::ZST {
            return &mut self.as_mut_slice()[start..end];
        }
        let p = self.with_home(|v, core| {
            v.log_slots(core, start, end)
                .unwrap_or_else(|e| panic!("pcoll: PVec index: {e}"));
            v.hand_out(core, start, end);
            v.buf(core)
        });
        // SAFETY: start..end are initialised, logged elements; `&mut self` makes them
        // exclusive and keeps the pool (which holds the vector) alive for the borrow.
        unsafe { std::slice::from_raw_parts_mut(p.add(start), end - start) }
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

impl<T: Persistent + PartialEq> PartialEq<Vec<T>> for PVec<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Persistent + PartialEq> PartialEq<[T]> for PVec<T> {
    fn eq(&self, other: &[T]) -> bool {
        self.as_slice() == other
    }
}

impl<T: Persistent + PartialEq, const N: usize> PartialEq<[T; N]> for PVec<T> {
    fn eq(&self, other: &[T; N]) -> bool {
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

// SAFETY: PVec holds a pool offset and two counters (no address); layout names T; visit
// reports its buffer and each element's blocks.
unsafe impl<T: Persistent> Persistent for PVec<T> {
    handle::handle_moves!(raw);
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        let mut out = PVec::new();
        out.try_reserve(self.len())?;
        if T::HANDLES {
            for x in self.iter() {
                out.try_push(x.copy_to(to)?).map_err(|(e, _)| e)?;
            }
        } else {
            out.append_bits(self.as_slice());
        }
        Ok(out)
    }
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PVec", size_of::<Self>(), align_of::<Self>()) {
            T::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        self.visit_elements(v);
    }
}

impl<T: Persistent> PVec<T> {
    /// Appends bitwise copies of `src` into reserved room (elements without handles own
    /// nothing, so a copy is a value).
    fn append_bits(&mut self, src: &[T]) {
        debug_assert!(!T::HANDLES && self.capacity() - self.len() >= src.len());
        if src.is_empty() || Self::ZST {
            self.len += src.len() as u64;
            return;
        }
        self.with_pool(|v, core| {
            let tail = v.buf(core).wrapping_add(v.len());
            core.tx().wrote(tail.cast(), std::mem::size_of_val(src));
            // SAFETY: the room past len is reserved and holds no live element; `src` is
            // another vector's buffer (or process memory), so the ranges do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), tail, src.len()) };
            v.len += src.len() as u64;
        });
    }

    /// `visit`, returning whether the elements were readable (an empty vector's are).
    pub(crate) fn visit_elements(&self, v: &mut Visitor<'_>) -> bool {
        if Self::ZST {
            return true;
        }
        if self.raw == 0 {
            if self.len != 0 {
                v.problem(format!("PVec of {} elements without a buffer", self.len));
            }
            return self.len == 0;
        }
        if self.len > self.cap {
            v.problem(format!(
                "PVec len {} exceeds its capacity {}",
                self.len, self.cap
            ));
            return false;
        }
        let Some(bytes) = usize::try_from(self.cap)
            .ok()
            .and_then(|c| c.checked_mul(size_of::<T>()))
        else {
            v.problem(format!("PVec capacity {} overflows", self.cap));
            return false;
        };
        // The buffer is checked against the allocator before any element is read.
        let readable = handle::visit_block(self, self.raw, bytes, v);
        if readable {
            self.as_slice().iter().for_each(|x| x.visit(v));
        }
        readable
    }
}
