//! Compaction: a copy of a pool that holds only its live data (issue 17).
//!
//! A pool never shrinks: blocks freed by removals stay in the file as free space, and a
//! table that grew by doubling leaves its smaller predecessors behind. [`Options::compact`]
//! writes a new pool that holds a deep copy of the root, built in one transaction straight
//! into the new pool's memory (`Persistent::copy_to`: each element copied once, no
//! serialisation), at a temporary name linked into place only when it is complete, as an
//! import is. The source is only read (under a read guard: writers wait).
//!
//! It needs the root's Rust type, which knows where the pointers are; the generic `pcoll`
//! tool has no such type (see its README section).

use std::path::Path;

use crate::error::Result;
use crate::persistent::{Persistent, Relocator};
use crate::pool::{Options, Pool};

impl<R: Persistent + Default> Options<R> {
    /// Creates a pool at `path` (with these options) holding a deep copy of `from`'s root
    /// and nothing else. [`crate::Error::AlreadyExists`] if a file is at `path`;
    /// [`crate::Error::Locked`] while another compaction to `path` is running. On any
    /// error, or after a crash, there is no pool at `path` (a leftover `path.compact` is
    /// removed by the next compaction to the same path).
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
            })
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
