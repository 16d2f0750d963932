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
//!
//! This file holds the header, the buffer and logging helpers, the core methods (`push`, `pop`,
//! `insert`, `remove`, `truncate`, `reserve`, slices), `Drop` and the `Persistent` impl. The
//! rest of `Vec`'s API (`retain`, `dedup`, `drain`, `split_off`, `append`, `resize`,
//! `shrink_to`, ...) is in `pvec/more_api.rs`; the std trait impls (`Deref`, `Index`,
//! comparisons, `Debug`, `Extend`, `IntoIterator`, `From`/`FromIterator`) in `pvec/traits.rs`.

#![allow(unsafe_code)]

mod more_api;
mod traits;

use std::marker::PhantomData;
use std::slice::SliceIndex;

pub use super::std_api::ExtractIf;

use super::convert::IntoPersistent;
use super::handle::{self, off_of, pack};
use super::lent;
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
        handle::own(self, self.raw);
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
    /// panics unless the vector is in pool memory (its pool then outlives the borrow). It
    /// moves no element, so the regions handed out before stay noted as they are (settled by
    /// the commit or by the next method that moves elements): settling them here made a loop
    /// that takes `&mut v[..]` at each step O(n) a step, every element checked each time.
    #[inline]
    fn with_home<R>(&mut self, f: impl FnOnce(&mut Self, &PoolCore) -> R) -> R {
        handle::own(self, self.raw);
        let (addr, raw) = (self as *const Self as usize, self.raw);
        handle::with_home_at(addr, raw, "PVec", |core| f(self, core))
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
            v.put_last(core, value);
            Ok(())
        })
    }

    /// Appends the `T` that `value` converts into (a `&str` for a `PString`, a `&[T]` for a
    /// `PVec<T>`, any `T` itself), built straight in this vector's pool: copied once.
    /// `push` takes a `T`, as std's does, so a string or vector made for it outside the pool
    /// is built there first and then copied in.
    ///
    /// # Panics
    /// When the pool is full (the transaction then rolls back when the panic unwinds).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PString, PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { names: PVec<PString> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let mut root = pool.write();
    /// root.names.push_from("ada");
    /// root.names.push(PString::from("alan")); // the same, with one more copy
    /// assert_eq!(root.names, ["ada", "alan"]);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn push_from(&mut self, value: impl IntoPersistent<T>) {
        if let Err(e) = self.try_push_from(value) {
            panic!("pcoll: PVec::push_from: {e}");
        }
    }

    /// [`push_from`](Self::push_from) that returns [`Error::OutOfSpace`] instead of
    /// panicking when the pool is full (the vector is then unchanged).
    pub fn try_push_from(&mut self, value: impl IntoPersistent<T>) -> Result<()> {
        self.with_pool(|v, core| {
            v.grow(core, 1)?;
            let value = handle::convert_in(value, core)?;
            v.put_last(core, value);
            Ok(())
        })
    }

    /// Writes `value`, already in this vector's pool, past the last element (room made).
    fn put_last(&mut self, core: &PoolCore, value: T) {
        // No undo entry: a slot at len is past the committed length or was vacated (and
        // logged) earlier in this transaction (module invariant). It must still reach the
        // medium at commit.
        let slot = self.buf(core).wrapping_add(self.len());
        core.tx().wrote(slot.cast(), size_of::<T>());
        // SAFETY: the slot at len is inside the buffer (grown by the caller) and holds no
        // live element.
        unsafe { slot.write(value) };
        self.len += 1;
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
        if lent::is_lent(self.raw) {
            return self.lent_slice();
        }
        let core = handle::home(self, self.raw, "PVec");
        // SAFETY: the buffer holds len initialised elements; the borrow is tied to &self, and
        // the pool holding `self` lives as long as that.
        unsafe { std::slice::from_raw_parts(self.buf(core), self.len()) }
    }

    /// [`as_slice`](Self::as_slice) of a vector handed out: its copy's elements (see
    /// `lent.rs`); out of line, so that `as_slice` stays small.
    #[cold]
    #[inline(never)]
    fn lent_slice(&self) -> &[T] {
        lent::target(self, self.raw).as_slice()
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
        self.extend_clones(other)
            .unwrap_or_else(|e| panic!("pcoll: PVec::extend_from_slice: {e}"));
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

    /// Makes room for `other` and clones it in, resolving the pool once (a value built
    /// outside pool memory, as conversions build them, finds its pool by a registry search);
    /// nothing changes when the pool is full.
    pub(crate) fn extend_clones(&mut self, other: &[T]) -> Result<()>
    where
        T: Clone,
    {
        if other.is_empty() {
            return Ok(());
        }
        self.with_pool(|v, core| {
            v.grow(core, other.len())?;
            v.append_in(
                core,
                other.len(),
                other.iter().cloned(),
                "extend_from_slice",
            );
            Ok(())
        })
    }

    /// Moves `items` into the reserved room past `len` (see [`Self::append_in`]).
    fn append_owned(&mut self, items: Vec<T>) {
        if !items.is_empty() {
            let n = items.len();
            self.with_pool(|v, core| v.append_in(core, n, items.into_iter(), "from(Vec)"));
        }
    }

    /// Writes the `n` values of `items` into the reserved room past `len`. The slots need no
    /// undo (module invariant). Values with handles count one by one, so a panicking
    /// iterator (a `Clone`) leaves a consistent vector; plain values are counted once at the
    /// end (a panic leaves the written ones uncounted, and they own nothing), which lets
    /// the compiler copy them as a block.
    fn append_in(&mut self, core: &PoolCore, n: usize, items: impl Iterator<Item = T>, what: &str) {
        assert!(self.capacity() - self.len() >= n, "reserved first");
        let base = self.buf(core);
        let tail = base.wrapping_add(self.len());
        core.tx().wrote(tail.cast(), n * size_of::<T>());
        if !T::HANDLES {
            let mut k = 0;
            for x in items.take(n) {
                // SAFETY: slot len + k < cap (reserved above) and holds no live element.
                unsafe { tail.add(k).write(x) };
                k += 1;
            }
            self.len += k as u64;
            return;
        }
        for mut x in items.take(n) {
            handle::store(&mut x, core).unwrap_or_else(|e| panic!("pcoll: PVec::{what}: {e}"));
            // SAFETY: slot len is inside the reserved buffer and holds no live element.
            unsafe { base.add(self.len()).write(x) };
            self.len += 1;
        }
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
