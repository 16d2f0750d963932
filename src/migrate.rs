//! Schema evolution: `Pool::<New>::options().migrate::<Old>(f).open(path)`.
//!
//! A pool whose root is `Old` becomes one whose root is `New` in one transaction: a fresh
//! `New::default()` root is allocated, `f(&mut old, &mut new)` moves what it keeps (a
//! container moved with `mem::take` keeps its blocks: nothing is copied), what is left in
//! `old` is dropped and its block freed. The commit point is the header write that names the
//! new root and this transaction's generation (`Txn::install_commit`, `docs/format.md`): a
//! crash anywhere leaves `Old` whole or `New` whole. Allowed `unsafe`: the two roots handed
//! to `f` and the drop of what is left of the old one.

#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::path::Path;

use crate::error::{Error, Result};
use crate::persistent::{Fingerprint, Persistent};
use crate::pool::{Options, Pool, store_schema, write_root};

/// A pending migration from root type `Old` to `New`; see [`Options::migrate`].
#[must_use = "a migration runs when its pool is opened"]
pub struct Migration<New, Old, F> {
    opts: Options<New>,
    f: F,
    _old: PhantomData<fn() -> Old>,
}

impl<New, Old, F> std::fmt::Debug for Migration<New, Old, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration")
            .field("from", &std::any::type_name::<Old>())
            .field("to", &std::any::type_name::<New>())
            .finish()
    }
}

impl<New: Persistent + Default> Options<New> {
    /// Opens a pool whose root may still be `Old`: then `f` runs once, in one transaction,
    /// with the old root and a `New::default()`, and the pool's root becomes `New`. A pool
    /// that already holds `New` opens as usual (`f` does not run); one that holds neither
    /// fails with [`Error::RootTypeMismatch`]. A crash during the migration leaves the old
    /// root whole or the new one whole; a panic in `f` rolls it back (and goes on).
    ///
    /// Move containers with `std::mem::take`: their elements stay where they are. What
    /// `f` leaves in `old` is dropped (its blocks freed) when the migration commits.
    ///
    /// ```
    /// use pcoll::{PString, PVec, Persistent, Pool};
    ///
    /// #[derive(Persistent, Default)]
    /// struct V1 { names: PVec<PString>, hits: u32 }
    /// #[derive(Persistent, Default)]
    /// struct V2 { names: PVec<PString>, hits: u64, visits: u64 } // widened, and a new field
    ///
    /// # let dir = std::env::temp_dir().join(format!("pcoll-doc-mig-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("app.pool");
    /// let old = Pool::<V1>::open(&path)?;
    /// old.write().names.push("ada".into());
    /// drop(old);
    ///
    /// let pool = Pool::<V2>::options()
    ///     .migrate(|old: &mut V1, new: &mut V2| {
    ///         new.names = std::mem::take(&mut old.names);
    ///         new.hits = u64::from(old.hits);
    ///     })
    ///     .open(&path)?;
    /// assert_eq!(pool.read().names[0], "ada");
    /// # drop(pool); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn migrate<Old, F>(self, f: F) -> Migration<New, Old, F>
    where
        Old: Persistent + Default,
        F: FnOnce(&mut Old, &mut New),
    {
        Migration {
            opts: self,
            f,
            _old: PhantomData,
        }
    }
}

impl<New, Old, F> Migration<New, Old, F>
where
    New: Persistent + Default,
    Old: Persistent + Default,
    F: FnOnce(&mut Old, &mut New),
{
    /// Opens (migrating if the file holds `Old`), or creates a pool of `New` if none is there.
    ///
    /// ```
    /// use pcoll::{Persistent, Pool};
    ///
    /// #[derive(Persistent, Default)]
    /// struct V1 { hits: u32 }
    /// #[derive(Persistent, Default)]
    /// struct V2 { hits: u64 }
    ///
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-mig-open-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let widen = |old: &mut V1, new: &mut V2| new.hits = u64::from(old.hits);
    /// let pool = Pool::<V2>::options().migrate(widen).open(&path)?; // no file: a new pool of V2
    /// pool.write().hits = 5;
    /// drop(pool);
    /// let pool = Pool::<V2>::options() // holds V2: the migration does not run
    ///     .migrate(|_: &mut V1, _: &mut V2| unreachable!())
    ///     .open(&path)?;
    /// assert_eq!(pool.read().hits, 5);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn open(self, path: impl AsRef<Path>) -> Result<Pool<New>> {
        let path = path.as_ref();
        self.run(|o| o.open(path), |o| o.open_existing(path))
    }

    /// Opens (migrating if the file holds `Old`); [`Error::NotFound`] if there is no pool.
    ///
    /// ```
    /// use pcoll::{Persistent, Pool};
    ///
    /// #[derive(Persistent, Default)]
    /// struct V1 { hits: u32 }
    /// #[derive(Persistent, Default)]
    /// struct V2 { hits: u64 }
    ///
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-mig-open-existing-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let widen = |old: &mut V1, new: &mut V2| new.hits = u64::from(old.hits);
    /// let missing = Pool::<V2>::options().migrate(widen).open_existing(&path);
    /// assert!(matches!(missing, Err(pcoll::Error::NotFound { .. })));
    ///
    /// Pool::<V1>::create(&path)?.write().hits = 3;
    /// let pool = Pool::<V2>::options().migrate(widen).open_existing(&path)?; // migrates
    /// assert_eq!(pool.read().hits, 3);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn open_existing(self, path: impl AsRef<Path>) -> Result<Pool<New>> {
        let path = path.as_ref();
        self.run(|o| o.open_existing(path), |o| o.open_existing(path))
    }

    /// [`Migration::open`] on a memory copy of a pool file's bytes (crash-image tests).
    ///
    /// ```
    /// use pcoll::{Persistent, Pool};
    ///
    /// #[derive(Persistent, Default)]
    /// struct V1 { hits: u32 }
    /// #[derive(Persistent, Default)]
    /// struct V2 { hits: u64 }
    ///
    /// let old = Pool::<V1>::options().in_memory()?;
    /// old.write().hits = 3;
    /// let new = Pool::<V2>::options()
    ///     .migrate(|old: &mut V1, new: &mut V2| new.hits = u64::from(old.hits))
    ///     .from_image(&old.image())?;
    /// assert_eq!(new.read().hits, 3);
    /// assert_eq!(old.read().hits, 3); // the original is untouched
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[cfg(any(test, feature = "testing"))]
    pub fn from_image(self, image: &[u8]) -> Result<Pool<New>> {
        self.run(|o| o.from_image(image), |o| o.from_image(image))
    }

    fn run(
        self,
        open_new: impl FnOnce(Options<New>) -> Result<Pool<New>>,
        open_old: impl FnOnce(Options<Old>) -> Result<Pool<Old>>,
    ) -> Result<Pool<New>> {
        // A root type mismatch is found before recovery or any write: trying costs nothing.
        match open_new(self.opts.clone()) {
            Err(Error::RootTypeMismatch { .. }) => {}
            done => return done,
        }
        let read_only = self.opts.is_read_only();
        let old = open_old(self.opts.retype()).map_err(|e| match e {
            Error::RootTypeMismatch { path, stored, .. } => Error::RootTypeMismatch {
                path,
                stored,
                requested: std::any::type_name::<New>().to_owned(),
            },
            e => e,
        })?;
        if read_only {
            return Err(Error::ReadOnly {
                path: old.path().to_owned(),
            });
        }
        install(old, self.f)
    }
}

/// The migration transaction on an open pool of `Old` (see the module comment).
fn install<Old, New, F>(pool: Pool<Old>, f: F) -> Result<Pool<New>>
where
    Old: Persistent,
    New: Persistent + Default,
    F: FnOnce(&mut Old, &mut New),
{
    let mut g = pool.write(); // rolls back if anything below panics
    let old: *mut Old = &mut *g; // logged whole; values stored into it are noted
    let core = &pool.core;
    let new_off = core.tx().alloc(size_of::<New>(), align_of::<New>())?;
    let new = core.ptr(new_off, size_of::<New>().max(1)).cast::<New>();
    write_root(new, New::default());
    // Values assigned into the new root from outside the pool move in at commit.
    crate::collections::handle::hand_out(core, new_off, new.cast_const(), 1);
    // SAFETY: `old` is the pool's root and `new` a fresh block of this pool, both valid and
    // disjoint; the write guard `g` excludes every other access until it ends, and no other
    // reference to either root is alive while `f` runs.
    f(unsafe { &mut *old }, unsafe { &mut *new });
    // SAFETY: `old` is valid and nothing refers to it; its block is freed right after, so
    // the dropped value is never read again (a rollback restores its logged bytes).
    unsafe { std::ptr::drop_in_place(old) };
    let (schema_off, schema_len) = store_schema::<New>(core)?;
    let mut tx = core.tx();
    tx.free(pool.root_off);
    let mut next = tx.st.heap.hdr.clone();
    if next.schema_off != 0 {
        tx.free(next.schema_off);
    }
    next.schema_off = schema_off;
    next.schema_len = schema_len;
    next.root_off = new_off;
    next.root_size = size_of::<New>() as u64;
    next.root_fp = Fingerprint::of::<New>();
    next.root_name = std::any::type_name::<New>().to_owned();
    tx.st.txn.install = Some(next);
    drop(tx);
    g.commit()?;
    Ok(Pool {
        core: pool.core,
        root_off: new_off,
        _root: PhantomData,
        group: Default::default(),
    })
}
