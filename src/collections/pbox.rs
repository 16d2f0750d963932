//! `PBox<T>`: one value in its own pool allocation, like `Box<T>`.

#![allow(unsafe_code)]

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::handle::{self, off_of, pack};
use super::lent;
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent, Relocator};

/// A pool allocation holding one `T`. Lives in pool memory (a root field, a container
/// element); dropping or overwriting it frees the allocation when the transaction commits.
///
/// ```
/// use pcoll::{PBox, Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct Root { cfg: Option<PBox<[u64; 4]>> }
///
/// let pool = Pool::<Root>::options().in_memory()?;
/// let mut root = pool.write(); // PBox::new builds in process memory; storing moves it in
/// root.cfg = Some(PBox::new([1, 2, 3, 4]));
/// drop(root); // commit
/// assert_eq!(pool.read().cfg.as_deref(), Some(&[1, 2, 3, 4]));
/// # Ok::<(), pcoll::Error>(())
/// ```
#[repr(transparent)]
pub struct PBox<T: Persistent> {
    raw: u64,
    _own: PhantomData<(T, *const ())>,
}

impl<T: Persistent> PBox<T> {
    /// Moves `value` into a new allocation. Built outside a pool, the box lives in process
    /// memory until it is stored into a pool (which moves it there, one copy); no write guard
    /// is needed to build one.
    ///
    /// # Panics
    /// When the memory is full.
    ///
    /// ```
    /// let b = pcoll::PBox::new([1u64, 2, 3]);
    /// assert_eq!(b[1], 2);
    /// ```
    pub fn new(value: T) -> PBox<T> {
        Self::try_new(value).unwrap_or_else(|(e, _)| panic!("pcoll: PBox::new: {e}"))
    }

    /// Like [`PBox::new`], but a full pool gives the value back with the error.
    ///
    /// ```
    /// let b = pcoll::PBox::try_new(7u64).map_err(|(e, _)| e)?;
    /// assert_eq!(*b, 7);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_new(mut value: T) -> std::result::Result<PBox<T>, (crate::Error, T)> {
        let b = PBox::<T> {
            raw: 0,
            _own: PhantomData,
        };
        let res = handle::with_writer(&b, 0, "PBox", |core| -> Result<u64> {
            handle::store(&mut value, core)?;
            let off = core.tx().alloc(size_of::<T>(), align_of::<T>())?;
            Ok(pack(core.tag, off))
        });
        match res {
            Ok(raw) => {
                handle::with_writer(&b, raw, "PBox", |core| {
                    handle::write_fresh(core, off_of(raw), value)
                });
                Ok(PBox {
                    raw,
                    _own: PhantomData,
                })
            }
            Err(e) => Err((e, value)),
        }
    }

    /// Moves the value out and frees the allocation (at commit). The value reads anywhere,
    /// like any value a pcoll method hands out.
    ///
    /// ```
    /// let b = pcoll::PBox::new(pcoll::PString::from("kept"));
    /// let s = pcoll::PBox::into_inner(b);
    /// assert_eq!(s, "kept");
    /// ```
    pub fn into_inner(mut b: PBox<T>) -> T {
        // A box handed out (lent) becomes a value of its own first.
        let raw = b.raw;
        handle::own(&mut b, raw);
        let raw = b.raw;
        let v = handle::with_writer(&b, raw, "PBox", |core| {
            core.tx().free(off_of(raw));
            // SAFETY: the block holds our initialised T; ownership moves out, the block is
            // freed and `b` is forgotten below, so nothing reads or drops it again.
            unsafe { handle::read_out::<T>(core, off_of(raw)) }
        });
        std::mem::forget(b);
        handle::detach(v)
    }
}

impl<T: Persistent> Deref for PBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        if lent::is_lent(self.raw) {
            return lent::target(self, self.raw);
        }
        // SAFETY: a PBox owns an initialised T at its pointer.
        unsafe { handle::value(self, self.raw, "PBox") }
    }
}

impl<T: Persistent> DerefMut for PBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        handle::own(self, self.raw);
        let raw = self.raw;
        // SAFETY: a PBox owns an initialised T at its pointer.
        let r = unsafe { handle::value_mut(self, raw, "PBox") };
        r.unwrap_or_else(|e| panic!("pcoll: cannot log PBox contents: {e}"))
    }
}

impl<T: Persistent> Drop for PBox<T> {
    fn drop(&mut self) {
        let raw = self.raw;
        if raw == 0 {
            return;
        }
        // Outside pool memory with its transaction gone, the block leaks (check() reports it).
        handle::with_core(self, raw, |core| {
            // SAFETY: the T is initialised and, being dropped with its box, never used again.
            if let Err(e) = unsafe { handle::drop_at::<T>(core, off_of(raw)) } {
                panic!("pcoll: cannot log a dropped PBox: {e}");
            }
            core.tx().free(off_of(raw));
        });
    }
}

// SAFETY: PBox holds a pool offset (no address); layout names T; visit reports its block
// and what the value owns.
unsafe impl<T: Persistent> Persistent for PBox<T> {
    handle::handle_moves!(raw);
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        let inner = (**self).copy_to(to)?;
        PBox::try_new(inner).map_err(|(e, _)| e)
    }
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PBox", size_of::<Self>(), align_of::<Self>()) {
            T::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        // SAFETY: a PBox owns an initialised T at its pointer (visit_target checks the
        // pointer against the allocator before handing the value out).
        if let Some(inner) = unsafe { handle::visit_target::<T, _>(self, self.raw, v) } {
            inner.visit(v);
        }
    }
}

impl<T: Persistent + fmt::Debug> fmt::Debug for PBox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Persistent + PartialEq> PartialEq for PBox<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
