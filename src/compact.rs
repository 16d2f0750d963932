//! Compaction: a copy of a pool that holds only its live data (issue 17).
//!
//! A pool never shrinks: blocks freed by removals stay in the file as free space, and a
//! table that grew by doubling leaves its smaller predecessors behind. [`Options::compact`]
//! writes a new pool that holds a deep copy of the root, built in one transaction straight
//! into the new pool's memory (`Persistent::copy_to`: each element copied once, no
//! serialisation), at a temporary name linked into place only when it is complete, as an
//! import is. The source is only read (under a read guard: writers wait). The copy is as
//! small as it can be: the free pages at its end are cut off (`Heap::trim_tail`) before it
//! is linked, so it ends at its last used page, and grows again as any pool does.
//!
//! [`Options::shrink`] does it in place: the copy, built beside the file, replaces it by a
//! rename while the old file is still open and locked.
//!
//! It needs the root's Rust type, which knows where the pointers are; the generic `pcoll`
//! tool has no such type (see its README section).

use std::path::Path;

use crate::error::{Error, Result};
use crate::persistent::{Persistent, Relocator};
use crate::pool::files::{remove_leftover, sibling, sync_dir};
use crate::pool::{Options, Pool};

/// What [`Options::shrink`] did: the file's size before and after, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shrunk {
    /// The file's size before.
    pub before: u64,
    /// The file's size after: the live data, compacted.
    pub after: u64,
}

impl<R: Persistent + Default> Options<R> {
    /// Creates a pool at `path` (with these options) holding a deep copy of `from`'s root
    /// and nothing else. [`crate::Error::AlreadyExists`] if a file is at `path`;
    /// [`crate::Error::Locked`] while another compaction to `path` is running. On an error,
    /// or after a crash, there is no pool at `path` (a leftover `path.compact` is removed by
    /// the next compaction to the same path), except when only the final reopen of the
    /// finished copy failed: then the copy is at `path`, whole (another process may have
    /// opened it already, so it is not removed).
    ///
    /// ```
    /// use pcoll::{PBTreeMap, Persistent, Pool};
    /// #[derive(Persistent, Default)]
    /// struct Root { m: PBTreeMap<u64, u64> }
    ///
    /// let dir = std::env::temp_dir().join(format!("pcoll-doc-compact-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let pool = Pool::<Root>::create(dir.join("big.pool"))?;
    /// pool.write().m.extend((0..100_000).map(|k| (k, k)));
    /// pool.write().m.retain(|k, _| k % 100 == 0);
    /// let small = Pool::<Root>::options().compact(&pool, dir.join("small.pool"))?;
    /// assert_eq!(small.read().m.len(), 1000);
    /// let size = |p: &str| std::fs::metadata(dir.join(p)).unwrap().len();
    /// assert!(size("small.pool") < size("big.pool"));
    /// # drop((pool, small)); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn compact(self, from: &Pool<R>, path: impl AsRef<Path>) -> Result<Pool<R>> {
        self.build_beside(path.as_ref(), ".compact", |out| {
            let src = from.read();
            out.transaction(|root| {
                *root = src.copy_to(&Relocator::new(&out.core))?;
                Ok(())
            })?;
            // As small as it can be: the free pages at the end are cut off.
            out.trim_tail().map(Some)
        })
    }
}

impl<R: Persistent + Default> Options<R> {
    /// Shrinks the pool file at `path` to its live data, in place: a compacted copy
    /// ([`Options::compact`], with these options) is built beside it, made durable, and
    /// renamed over `path` while the old file is still open and locked, so no process ever
    /// opens a half-built pool or writes to the old one after the copy began. A crash
    /// leaves the old pool or the new one, whole (a leftover copy is removed by the next
    /// shrink). [`Error::Locked`] while a process (this one included) has the pool open
    /// for writing. Open the pool again afterwards.
    ///
    /// The old file is opened read-only (a shared lock: a writer cannot open it until the
    /// rename) and the copy is a new pool, with a new identity tag: shrinking a file that
    /// [`Error::AmbiguousPool`] refused (a copy of a file that is open, or a tag collision)
    /// lets it open beside the other.
    ///
    /// ```
    /// use pcoll::{PBTreeMap, Persistent, Pool};
    /// #[derive(Persistent, Default)]
    /// struct Root { m: PBTreeMap<u64, u64> }
    ///
    /// let dir = std::env::temp_dir().join(format!("pcoll-doc-shrink-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("app.pool");
    /// let pool = Pool::<Root>::create(&path)?;
    /// pool.write().m.extend((0..100_000).map(|k| (k, k)));
    /// pool.write().m.retain(|k, _| k % 100 == 0);
    /// drop(pool);
    /// let s = Pool::<Root>::options().shrink(&path)?;
    /// assert!(s.after < s.before / 2, "{s:?}");
    /// assert_eq!(Pool::<Root>::open(&path)?.read().m.len(), 1000);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn shrink(self, path: impl AsRef<Path>) -> Result<Shrunk> {
        let path = path.as_ref();
        let len = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(|e| Error::io(p, "stat", e))
        };
        let old = self.clone().read_only(true).open_existing(path)?;
        let before = len(path)?;
        let tmp = sibling(path, ".shrink");
        remove_leftover(&tmp)?;
        let new = self.compact(&old, &tmp)?;
        // The old file stays locked until the new one has its name: no other process can
        // open it in between, and none can write to it after the copy.
        let placed = std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename", e));
        if placed.is_err() {
            let _ = std::fs::remove_file(&tmp); // while `new` keeps other shrinks out
        }
        drop((new, old));
        placed?;
        sync_dir(path)?;
        Ok(Shrunk {
            before,
            after: len(path)?,
        })
    }
}

impl<R: Persistent + Default> Pool<R> {
    /// [`Options::compact`] with default options: a new pool at `path` holding only this
    /// pool's live data.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let dir = std::env::temp_dir().join(format!("pcoll-doc-compact-to-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let pool = Pool::<Root>::create(dir.join("app.pool"))?;
    /// pool.write().v.extend(0..1000);
    /// pool.write().v.truncate(3);
    /// let copy = pool.compact_to(dir.join("copy.pool"))?;
    /// assert_eq!(copy.read().v, [0, 1, 2]);
    /// let again = pool.compact_to(dir.join("copy.pool"));
    /// assert!(matches!(again, Err(pcoll::Error::AlreadyExists { .. })));
    /// # drop((pool, copy)); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn compact_to(&self, path: impl AsRef<Path>) -> Result<Pool<R>> {
        Pool::<R>::options().compact(self, path)
    }
}
