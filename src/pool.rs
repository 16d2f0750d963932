//! `Pool<R>`: open, create, recover. The guards through which the root is read and changed
//! are in `pool/guard.rs` (one write guard is one transaction); the file's locking and
//! temporary names in `pool/files.rs`. Allowed `unsafe`: the root's pointer, `Send`/`Sync`.

#![allow(unsafe_code)]

use std::fmt;
use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::heap::check::{CheckReport, Progress, Visitor, Walk};
use crate::heap::header::Header;
use crate::heap::map::{FileMode, Mapping, PAGE};
use crate::heap::persist::{Durability, Medium, Persister, Recorder};
use crate::heap::{Geometry, Heap, HeapIo};
use crate::persistent::{Fingerprint, Persistent};
use crate::txn::core::{CoreBox, PoolCore, ReadLock, Wait};
use crate::txn::{Txn, TxnStats};
use std::sync::Arc;

pub(crate) mod files;
mod guard;

use files::{RemoveOnDrop, create_private, random_u64, temp_path};
pub(crate) use files::{lock_and_read_header, lock_file, sync_dir};
pub use guard::{ReadGuard, WriteGuard};

const DEFAULT_INITIAL: u64 = 1 << 20;
const DEFAULT_MAX: u64 = 64 << 30;
/// 256 KiB of log (the segment's header page besides): a 128 KiB redo ring, so durable
/// small commits checkpoint about every 64 KiB of records (BENCHMARKS.md, group commit)...
const DEFAULT_LOG_PAGES: u64 = 65;
/// ...for pools allowed to reach this size; smaller ones keep 60 KiB (a 24 KiB ring).
const SMALL_POOL: u64 = 16 << 20;
const SMALL_LOG_PAGES: u64 = 16;

/// A pool file mapped into this process, holding a root of type `R`.
///
/// `Pool<R>` is `Send + Sync`: readers ([`Pool::read`]) run in parallel, one writer
/// ([`Pool::write`], [`Pool::transaction`]) at a time.
pub struct Pool<R: Persistent> {
    pub(crate) core: CoreBox,
    pub(crate) root_off: u64,
    pub(crate) _root: PhantomData<fn() -> R>,
    /// Functions waiting for a group commit (`Pool::combine`, `group.rs`).
    pub(crate) group: crate::group::Group<R>,
}

// SAFETY: the root lives in pool memory owned by `core` (Send + Sync); access to it goes
// through guards that take the pool's reader/writer lock.
unsafe impl<R: Persistent> Send for Pool<R> {}
// SAFETY: as above.
unsafe impl<R: Persistent> Sync for Pool<R> {}

impl<R: Persistent> fmt::Debug for Pool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("path", &self.core.path())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    CreateOrOpen,
    Create,
    OpenExisting,
}

/// Builder for opening or creating a pool: `Pool::<R>::options().max_size(..).open(path)`.
pub struct Options<R> {
    initial_size: u64,
    max_size: u64,
    /// `None`: the default for the pool's `max_size`.
    log_size: Option<u64>,
    durability: Durability,
    read_only: bool,
    recorder: Option<Arc<dyn Recorder>>,
    medium: Medium,
    _root: PhantomData<fn() -> R>,
}

impl<R> Clone for Options<R> {
    fn clone(&self) -> Self {
        Options {
            recorder: self.recorder.clone(),
            _root: PhantomData,
            ..*self
        }
    }
}

impl<R> fmt::Debug for Options<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("initial_size", &self.initial_size)
            .field("max_size", &self.max_size)
            .field("durability", &self.durability)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl<R: Persistent + Default> Options<R> {
    /// Bytes of a new pool file (rounded up to pages; default 1 MiB).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().initial_size(4 << 20).in_memory()?;
    /// assert!(pool.stats().pool_bytes >= 4 << 20);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn initial_size(mut self, bytes: u64) -> Self {
        self.initial_size = bytes;
        self
    }

    /// The pool never grows past this many bytes (default 64 GiB): allocations past it fail
    /// with [`Error::OutOfSpace`] and their transaction rolls back. At most 128 TiB (less one
    /// byte): a larger value is [`Error::InvalidOption`] at open.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().max_size(2 << 20).in_memory()?;
    /// let res = pool.transaction(|root| root.v.try_reserve(1 << 20)); // 8 MiB
    /// assert!(matches!(res, Err(pcoll::Error::OutOfSpace { .. })));
    /// assert!(pool.read().v.is_empty()); // rolled back
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Bytes of the primary log of a new pool (default 256 KiB, or 60 KiB when `max_size` is
    /// below 16 MiB); larger transactions add log
    /// segments as they need them. Half of it holds the redo ring: a `Durability::Sync`
    /// transaction whose record fits half the ring (a quarter of the log) commits with one
    /// barrier, a larger one with two; a checkpoint (two barriers) follows whenever the ring
    /// is past half full, so a larger log checkpoints less often. A log of 4 pages or less has
    /// no redo ring.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().log_size(1 << 20).in_memory()?;
    /// pool.write().v.extend(0..10_000);
    /// assert_eq!(pool.read().v.len(), 10_000);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn log_size(mut self, bytes: u64) -> Self {
        self.log_size = Some(bytes);
        self
    }

    /// How far a commit survives (default [`Durability::Sync`]).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-opts-durability-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use pcoll::Durability;
    ///
    /// let pool = Pool::<Root>::options().durability(Durability::Process).open(&path)?;
    /// let before = pool.stats().barriers;
    /// pool.write().v.push(1);
    /// assert_eq!(pool.stats().barriers, before); // the commit issued no flush
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Opens without write access: `write()` fails; an interrupted transaction is rolled back
    /// in private memory only, leaving the file as it is.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-opts-read-only-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// Pool::<Root>::create(&path)?.write().v.push(1);
    /// let pool = Pool::<Root>::options().read_only(true).open(&path)?;
    /// assert_eq!(pool.read().v[0], 1);
    /// assert!(matches!(pool.try_write(), Err(pcoll::Error::ReadOnly { .. })));
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Sends every persistence event to `r` (crash-image tests).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// use pcoll::{Event, Recorder};
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// struct Commits(AtomicU64);
    /// impl Recorder for Commits {
    ///     fn event(&self, ev: Event, _image: &[u8]) {
    ///         if ev == Event::Committed {
    ///             self.0.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     }
    /// }
    ///
    /// let rec = Arc::new(Commits(AtomicU64::new(0)));
    /// let pool = Pool::<Root>::options().recorder(rec.clone()).in_memory()?;
    /// let before = rec.0.load(Ordering::Relaxed);
    /// pool.write().v.push(1);
    /// assert_eq!(rec.0.load(Ordering::Relaxed), before + 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[cfg(any(test, feature = "testing"))]
    pub fn recorder(mut self, r: Arc<dyn Recorder>) -> Self {
        self.recorder = Some(r);
        self
    }

    /// Which medium a memory pool with a recorder simulates (default: a file).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// use pcoll::{Event, Medium, Recorder};
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// struct Barriers(AtomicU64);
    /// impl Recorder for Barriers {
    ///     fn event(&self, ev: Event, _image: &[u8]) {
    ///         if ev == Event::Barrier {
    ///             self.0.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     }
    /// }
    ///
    /// // Barriers of one transaction that changes the root, on the simulated medium.
    /// let barriers = |medium: Medium| -> pcoll::Result<u64> {
    ///     let rec = Arc::new(Barriers(AtomicU64::new(0)));
    ///     let pool = Pool::<Root>::options().recorder(rec.clone()).simulate(medium).in_memory()?;
    ///     pool.write().v.push(1);
    ///     let before = rec.0.load(Ordering::Relaxed);
    ///     pool.write().v[0] = 2;
    ///     Ok(rec.0.load(Ordering::Relaxed) - before)
    /// };
    /// // Persistent memory: a barrier per logging step; a file: only at commit.
    /// assert!(barriers(Medium::Pmem)? > barriers(Medium::File)?);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[cfg(any(test, feature = "testing"))]
    pub fn simulate(mut self, medium: Medium) -> Self {
        self.medium = medium;
        self
    }

    /// The same options for a pool of another root type (a migration opens the old root).
    pub(crate) fn retype<S>(self) -> Options<S> {
        Options {
            initial_size: self.initial_size,
            max_size: self.max_size,
            log_size: self.log_size,
            durability: self.durability,
            read_only: self.read_only,
            recorder: self.recorder,
            medium: self.medium,
            _root: PhantomData,
        }
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Opens the pool at `path`, creating it if no file is there.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-opts-open-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let pool = Pool::<Root>::options().max_size(1 << 30).open(&path)?; // creates it
    /// pool.write().v.push(7);
    /// drop(pool);
    /// let pool = Pool::<Root>::options().open(&path)?; // opens it
    /// assert_eq!(pool.read().v[0], 7);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn open(self, path: impl AsRef<Path>) -> Result<Pool<R>> {
        self.open_mode(path.as_ref(), Mode::CreateOrOpen)
    }

    /// Creates a new pool; fails with [`Error::AlreadyExists`] if the file exists.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-opts-create-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let pool = Pool::<Root>::options().create(&path)?;
    /// drop(pool);
    /// let again = Pool::<Root>::options().create(&path);
    /// assert!(matches!(again, Err(pcoll::Error::AlreadyExists { .. })));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn create(self, path: impl AsRef<Path>) -> Result<Pool<R>> {
        self.open_mode(path.as_ref(), Mode::Create)
    }

    /// Opens an existing pool; fails with [`Error::NotFound`] if there is none.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-opts-open-existing-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let missing = Pool::<Root>::options().open_existing(&path);
    /// assert!(matches!(missing, Err(pcoll::Error::NotFound { .. })));
    /// drop(Pool::<Root>::options().create(&path)?);
    /// assert!(Pool::<Root>::options().open_existing(&path).is_ok());
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn open_existing(self, path: impl AsRef<Path>) -> Result<Pool<R>> {
        self.open_mode(path.as_ref(), Mode::OpenExisting)
    }

    /// A pool in anonymous memory: no file, gone when dropped (tests, Miri, scratch state).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// pool.write().v.push(1);
    /// assert_eq!(pool.read().v[0], 1);
    /// assert_eq!(pool.path(), std::path::Path::new("<memory>"));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn in_memory(self) -> Result<Pool<R>> {
        let path = PathBuf::from("<memory>");
        let geo = self.geometry(&path)?;
        let map = Mapping::memory(geo.initial as usize, self.reservation(geo.initial))
            .map_err(|e| Error::io(&path, "reserve memory", e))?;
        let d = self.durability;
        self.format(map, geo, path, d)
    }

    /// Opens a memory pool holding a copy of `image` (a pool file's bytes), running recovery
    /// on it like an open after a crash. Used by the crash-image tests.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// pool.write().v.push(7);
    /// let copy = Pool::<Root>::options().from_image(&pool.image())?;
    /// assert_eq!(copy.read().v, [7]);
    /// assert_eq!(copy.path(), std::path::Path::new("<image>"));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[cfg(any(test, feature = "testing"))]
    pub fn from_image(self, image: &[u8]) -> Result<Pool<R>> {
        let path = PathBuf::from("<image>");
        let len = (image.len() as u64).next_multiple_of(PAGE as u64);
        let map = Mapping::memory(len as usize, self.reservation(len))
            .map_err(|e| Error::io(&path, "reserve memory", e))?;
        map.write_bytes(0, image);
        self.attach(map, image.len() as u64, path)
    }

    fn open_mode(self, path: &Path, mode: Mode) -> Result<Pool<R>> {
        let mut oo = OpenOptions::new();
        oo.read(true).write(!self.read_only);
        match oo.open(path) {
            Ok(file) if mode == Mode::Create => {
                drop(file);
                Err(Error::AlreadyExists {
                    path: path.to_owned(),
                })
            }
            Ok(file) => self.open_file(file, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match mode {
                Mode::OpenExisting => Err(Error::NotFound {
                    path: path.to_owned(),
                }),
                _ if self.read_only => Err(Error::NotFound {
                    path: path.to_owned(),
                }),
                _ => self.create_file(path, mode),
            },
            Err(e) => Err(Error::io(path, "open", e)),
        }
    }

    fn open_file(self, file: File, path: &Path) -> Result<Pool<R>> {
        let (hdr, len) = lock_and_read_header(&file, path, self.read_only)?;
        check_root_type::<R>(&hdr, path)?;
        self.check_max_size(path, hdr.valid_size)?;
        let reserve = self.reservation(hdr.valid_size);
        let mode = match (self.read_only, self.durability) {
            (true, _) => FileMode::ReadOnly,
            (false, Durability::Process) => FileMode::Shared,
            // Persistent memory where the file system maps it with MAP_SYNC and the CPU can
            // flush lines, else a private mapping written back at commit.
            (false, Durability::Sync)
                if crate::heap::persist::can_flush_lines()
                    && crate::heap::map::supports_map_sync(&file) =>
            {
                FileMode::Dax
            }
            (false, Durability::Sync) => FileMode::Private,
        };
        let map = Mapping::file(file, hdr.valid_size as usize, reserve, mode)
            .map_err(|e| Error::io(path, "mmap", e))?;
        self.attach(map, len, path.to_owned())
    }

    /// Validates, recovers and wraps an existing pool's mapping.
    fn attach(self, map: Mapping, file_len: u64, path: PathBuf) -> Result<Pool<R>> {
        let memory = matches!(map.backing(), crate::heap::map::Backing::Memory);
        let persist = if self.read_only {
            Persister::new(Durability::Process, memory, false, Medium::File, None)
        } else {
            Persister::new(
                self.durability,
                memory,
                map.is_dax(),
                self.medium,
                self.recorder.clone(),
            )
        };
        let mut heap = Heap::open(
            HeapIo {
                map,
                persist,
                path: path.clone(),
            },
            file_len,
            self.max_size.max(file_len),
        )?;
        check_root_type::<R>(&heap.hdr, &path)?;
        let txn = Txn::open(&mut heap)?;
        let root_off = heap.hdr.root_off;
        // The root must be an aligned, allocated block big enough for R before `&R` exists.
        let fits = heap
            .block_at(root_off)
            .is_ok_and(|b| b.size() >= size_of::<R>());
        if !fits || !root_off.is_multiple_of(align_of::<R>() as u64) {
            return Err(Error::corrupted(
                &path,
                format!("the root at offset {root_off} is not an allocated block"),
            ));
        }
        // An image of a pool (crash tests) may be open beside that pool (see PoolCore::new).
        let image = path == Path::new("<image>");
        let core = PoolCore::open(heap, txn, self.read_only, image)?;
        Ok(Pool {
            core,
            root_off,
            _root: PhantomData,
            group: Default::default(),
        })
    }

    /// Creates the pool in a temporary file beside `path`, then links it into place, so a
    /// crash during creation never leaves a half-made pool at `path`.
    fn create_file(self, path: &Path, mode: Mode) -> Result<Pool<R>> {
        let geo = self.geometry(path)?;
        let tmp = temp_path(path);
        let file = create_private(&tmp)?;
        let guard = RemoveOnDrop(tmp.clone());
        lock_file(&file, &tmp, false)?;
        // Disk blocks reserved up front: formatting stores through a shared mapping, where a
        // full disk would otherwise be a SIGBUS.
        crate::heap::sys::allocate(&file, 0, geo.initial)
            .map_err(|f| Error::io(&tmp, f.op, f.err))?;
        // Formatted through a shared mapping with no barriers, then made durable at once.
        let map = Mapping::file(
            file,
            geo.initial as usize,
            self.reservation(geo.initial),
            FileMode::Shared,
        )
        .map_err(|e| Error::io(&tmp, "mmap", e))?;
        let again = self.clone();
        let pool = self.format(map, geo, path.to_owned(), Durability::Process)?;
        pool.sync_file()?;
        drop(pool); // reopened below with the caller's durability
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists && mode == Mode::CreateOrOpen =>
            {
                return again.open_existing(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(Error::io(path, "link", e)),
        }
        drop(guard);
        sync_dir(path)?;
        again.open_existing(path)
    }

    /// Lays out a fresh pool in `map` and builds `R::default()` as its root.
    fn format(self, map: Mapping, geo: Geometry, path: PathBuf, d: Durability) -> Result<Pool<R>> {
        let memory = matches!(map.backing(), crate::heap::map::Backing::Memory);
        let persist = Persister::new(d, memory, false, self.medium, self.recorder.clone());
        // An identity whose tag no open pool has (1 in 65,536 draws would collide).
        let uuid = std::iter::repeat_with(random_u64)
            .find(|&u| !crate::txn::core::tag_in_use((u as u16).max(1)))
            .expect("an endless iterator");
        let mut heap = Heap::format(HeapIo { map, persist, path }, geo, uuid);
        Txn::format(&mut heap)?;
        heap.write_header()?;
        let txn = Txn::open(&mut heap)?;
        let mut core = PoolCore::open(heap, txn, false, false)?;
        let (root_off, (schema_off, schema_len)) = {
            let _w = core.write_lock()?;
            let root_off = core.tx().alloc(size_of::<R>(), align_of::<R>())?;
            let p = core.ptr(root_off, size_of::<R>().max(1)).cast::<R>();
            // R::default() may allocate (it runs inside this transaction).
            write_root(p, R::default());
            let schema = store_schema::<R>(&core)?;
            let tx = core.tx();
            let st = &mut *tx.st;
            st.txn.commit(&mut st.heap)?;
            drop(tx);
            core.write_unlock();
            (root_off, schema)
        };
        let st = core.state_mut();
        st.heap.hdr.root_off = root_off;
        st.heap.hdr.root_size = size_of::<R>() as u64;
        st.heap.hdr.root_fp = Fingerprint::of::<R>();
        st.heap.hdr.root_name = std::any::type_name::<R>().to_owned();
        st.heap.hdr.schema_off = schema_off;
        st.heap.hdr.schema_len = schema_len;
        // Both slots: either copy alone must describe the whole pool.
        st.heap.write_header()?;
        st.heap.write_header()?;
        Ok(Pool {
            core,
            root_off,
            _root: PhantomData,
            group: Default::default(),
        })
    }

    /// The primary log's size: as set, or 256 KiB (60 KiB for pools of at most 16 MiB).
    fn log_bytes(&self) -> u64 {
        let pages = if self.max_size >= SMALL_POOL {
            DEFAULT_LOG_PAGES
        } else {
            SMALL_LOG_PAGES
        };
        self.log_size.unwrap_or((pages - 1) * PAGE as u64)
    }

    fn geometry(&self, path: &Path) -> Result<Geometry> {
        self.check_max_size(path, 0)?;
        let page = PAGE as u64;
        let log_pages = (self.log_bytes().div_ceil(page) + 1).max(2);
        let min = (1 + log_pages + 8) * page;
        let initial = self.initial_size.next_multiple_of(page).max(min);
        if self.max_size < initial {
            return Err(Error::InvalidOption {
                path: path.to_owned(),
                what: format!(
                    "max_size {} is below the initial size {initial}",
                    self.max_size
                ),
            });
        }
        Ok(Geometry {
            initial,
            max: self.max_size,
            log_pages,
        })
    }

    /// Address space reserved for the mapping: room to grow to `max_size`.
    fn reservation(&self, at_least: u64) -> usize {
        self.max_size.max(at_least).next_multiple_of(PAGE as u64) as usize
    }

    /// Refuses a pool of 128 TiB or more: a handle's offset has 47 bits (the 48th marks a
    /// value lent by a transaction, `collections/lent.rs`), and no address space holds one.
    fn check_max_size(&self, path: &Path, at_least: u64) -> Result<()> {
        const LARGEST: u64 = crate::txn::core::LENT_BIT;
        if self.max_size.max(at_least) >= LARGEST {
            return Err(Error::InvalidOption {
                path: path.to_owned(),
                what: format!(
                    "max_size {} is over the largest pool, {LARGEST} bytes (128 TiB)",
                    self.max_size.max(at_least)
                ),
            });
        }
        Ok(())
    }
}

/// Writes `R`'s schema into a fresh block of the open transaction: (offset, length).
pub(crate) fn store_schema<R: Persistent>(core: &PoolCore) -> Result<(u64, u64)> {
    let text = Fingerprint::schema_of::<R>();
    let mut tx = core.tx();
    let off = tx.alloc(text.len(), 1)?;
    tx.st.heap.io.map.write_bytes(off as usize, text.as_bytes());
    Ok((off, text.len() as u64))
}

fn check_root_type<R: Persistent>(hdr: &Header, path: &Path) -> Result<()> {
    if hdr.root_off == 0 {
        return Ok(()); // only while formatting
    }
    if hdr.root_fp != Fingerprint::of::<R>() || hdr.root_size != size_of::<R>() as u64 {
        return Err(Error::RootTypeMismatch {
            path: path.to_owned(),
            stored: hdr.root_name.clone(),
            requested: std::any::type_name::<R>().to_owned(),
        });
    }
    Ok(())
}

impl<R: Persistent + Default> Pool<R> {
    /// Opens the pool at `path`, creating it (with `R::default()` as root) if absent.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-pool-open-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let pool = Pool::<Root>::open(&path)?; // creates it with Root::default()
    /// pool.write().v.push(7);
    /// drop(pool);
    /// let pool = Pool::<Root>::open(&path)?; // opens it
    /// assert_eq!(pool.read().v[0], 7);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::options().open(path)
    }

    /// Creates a new pool at `path`; [`Error::AlreadyExists`] if a file is there.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-pool-create-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let pool = Pool::<Root>::create(&path)?;
    /// assert!(pool.read().v.is_empty());
    /// drop(pool);
    /// assert!(matches!(Pool::<Root>::create(&path), Err(pcoll::Error::AlreadyExists { .. })));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::options().create(path)
    }

    /// Opens an existing pool; [`Error::NotFound`] if there is none.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-pool-open-existing-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(matches!(Pool::<Root>::open_existing(&path), Err(pcoll::Error::NotFound { .. })));
    /// drop(Pool::<Root>::create(&path)?);
    /// assert!(Pool::<Root>::open_existing(&path).is_ok());
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        Self::options().open_existing(path)
    }

    /// Options for opening or creating: sizes, durability, read-only.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().initial_size(2 << 20).in_memory()?;
    /// assert!(pool.stats().pool_bytes >= 2 << 20);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn options() -> Options<R> {
        Options {
            initial_size: DEFAULT_INITIAL,
            max_size: DEFAULT_MAX,
            log_size: None,
            durability: Durability::Sync,
            read_only: false,
            recorder: None,
            medium: Medium::File,
            _root: PhantomData,
        }
    }
}

impl<R: Persistent> Pool<R> {
    pub(crate) fn root_ptr(&self) -> *mut R {
        self.core.ptr(self.root_off, size_of::<R>().max(1)).cast()
    }

    /// Shared access to the root; blocks while a writer is active. Re-entrant: a thread
    /// that holds a read guard of this pool gets another at once (it never queues behind a
    /// waiting writer).
    ///
    /// # Panics
    /// If this thread holds a write guard of this pool (read through that guard instead).
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// pool.write().v.push(1);
    /// let a = pool.read();
    /// let b = pool.read(); // a second guard on the same thread
    /// assert_eq!(a.v, b.v);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn read(&self) -> ReadGuard<'_, R> {
        self.reader(self.core.read_lock())
    }

    /// [`Pool::read`] without waiting: `Err(Error::WouldBlock)` while a writer is active.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// assert!(pool.try_read().is_ok());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_read(&self) -> Result<ReadGuard<'_, R>> {
        match self.core.try_read_lock(false) {
            Some(lock) => Ok(self.reader(lock)),
            None => Err(Error::WouldBlock {
                path: self.path().to_owned(),
            }),
        }
    }

    fn reader<'a>(&'a self, lock: ReadLock<'a>) -> ReadGuard<'a, R> {
        ReadGuard {
            pool: self,
            _lock: lock,
            _not_send: PhantomData,
        }
    }

    /// Starts a write transaction (blocks for the writer lock). Changes through the guard
    /// commit when it drops, or roll back if it drops during a panic.
    ///
    /// # Panics
    /// If the pool is read-only, or this thread already holds a guard of this pool (a write
    /// guard, or a read guard: waiting for itself would never end).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// {
    ///     let mut root = pool.write();
    ///     root.v.push(1);
    /// } // commits here
    /// assert_eq!(pool.read().v[0], 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn write(&self) -> WriteGuard<'_, R> {
        self.begin(Wait::Forever)
            .unwrap_or_else(|e| panic!("pcoll: write(): {e}"))
    }

    /// [`Pool::write`] without waiting: `Err(Error::WouldBlock)` while another guard holds
    /// the pool, `Err(Error::ReadOnly)` on a read-only pool.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let mut w = pool.try_write()?;
    /// w.v.push(1);
    /// w.commit()?;
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn try_write(&self) -> Result<WriteGuard<'_, R>> {
        self.begin(Wait::Until(None))
    }

    /// [`Pool::write`] waiting at most `timeout`: `Err(Error::WouldBlock)` when another guard
    /// still holds the pool then. (The wait sleeps between tries: std's lock has no timed
    /// form; a waiting `write()` may get the lock first.)
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// use std::time::Duration;
    ///
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let w = pool.write(); // this thread holds the pool
    /// let t = Duration::from_millis(10);
    /// let busy = std::thread::scope(|s| s.spawn(|| pool.write_timeout(t).is_err()).join().unwrap());
    /// assert!(busy);
    /// drop(w);
    /// assert!(pool.write_timeout(t).is_ok());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn write_timeout(&self, timeout: std::time::Duration) -> Result<WriteGuard<'_, R>> {
        self.begin(Wait::Until(Some(std::time::Instant::now() + timeout)))
    }

    fn begin(&self, wait: Wait) -> Result<WriteGuard<'_, R>> {
        let lock = self.core.try_write_lock(wait)?;
        Ok(WriteGuard {
            pool: self,
            lock: Some(lock),
            root_logged: false,
            _not_send: PhantomData,
        })
    }

    /// Runs `f` in one transaction: commits on `Ok`, rolls back on `Err` or panic (the panic
    /// continues after the rollback). A failed commit comes back as `E::from(Error)`.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let pool = Pool::<Root>::options().in_memory()?;
    /// let n = pool.transaction(|root| {
    ///     root.v.push(1);
    ///     Ok::<_, pcoll::Error>(root.v.len())
    /// })?;
    /// assert_eq!(n, 1);
    /// let res: Result<(), Box<dyn std::error::Error>> =
    ///     pool.transaction(|root| { root.v.push(2); Err("changed my mind".into()) });
    /// assert!(res.is_err() && pool.read().v == [1]); // rolled back
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn transaction<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut R) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut g = self.begin(Wait::Forever)?;
        match f(&mut g) {
            Ok(v) => {
                g.commit()?;
                Ok(v)
            }
            Err(e) => {
                g.abort();
                Err(e)
            }
        }
    }

    /// Walks the whole heap: every allocated block must be reachable from the root exactly
    /// once and every pointer must name an allocated block. Takes the writer lock. Works on
    /// read-only pools too (without writing the file).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let before = pool.check()?.blocks;
    /// pool.write().v.push(1); // allocates the vector's buffer
    /// assert_eq!(pool.check()?.blocks, before + 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn check(&self) -> Result<CheckReport> {
        self.check_with_progress(|_| {})
    }

    /// [`check`](Pool::check), telling `progress` how far it has come, a few times per
    /// 4 MiB of pool ([`Progress`] says in what unit): for a progress bar on a big pool. The
    /// callback runs with the writer lock held, so it must not use this pool; if it panics,
    /// the check ends and the panic goes on, with the pool still usable.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let mut last = None;
    /// let report = pool.check_with_progress(|p| last = Some(p))?;
    /// let last = last.unwrap();
    /// assert_eq!(last.done, last.total);
    /// assert_eq!(last.total, 2 * report.pool_bytes); // two walks over the pool
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn check_with_progress(&self, mut progress: impl FnMut(Progress)) -> Result<CheckReport> {
        let _lock = self.core.check_lock()?;
        let _role = self.core.writer_role();
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.check_locked(&mut progress)
        }));
        let tx = self.core.tx();
        let st = &mut *tx.st;
        let committed = st.txn.commit(&mut st.heap);
        drop(tx);
        match res {
            Ok(res) => committed.and(res),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// The two walks: the allocator's (pool bytes `0..size`), then reachability (`size..2 *
    /// size`, in proportion to the blocks entered).
    fn check_locked(&self, progress: &mut dyn FnMut(Progress)) -> Result<CheckReport> {
        let size = self.core.tx().st.heap.valid_size();
        let total = 2 * size;
        let at = |done: u64, walk: Walk| Progress { done, total, walk };
        progress(at(0, Walk::Allocator));
        let walked = |w: u64| progress(at(w.min(size), Walk::Allocator));
        let table = self.core.tx().st.heap.allocated_table(walked);
        let mut allocated = match table {
            Ok(t) => t,
            Err(e) => {
                progress(at(total, Walk::Allocator));
                return Err(e);
            }
        };
        let blocks = allocated.len().max(1) as u64;
        let mut tick = |n: u64| {
            let done = size + (u128::from(size) * u128::from(n) / u128::from(blocks)) as u64;
            progress(at(done.min(total), Walk::Reachability));
        };
        let mut v = Visitor::new(&mut allocated, &mut tick);
        v.enter(self.root_off, size_of::<R>());
        let (schema_off, schema_len) = {
            let h = &self.core.tx().st.heap.hdr;
            (h.schema_off, h.schema_len)
        };
        if schema_off != 0 && !v.enter(schema_off, schema_len as usize) {
            v.problem(format!("the schema block at {schema_off} is not allocated"));
        }
        // SAFETY: the writer lock is held and no guard exists on this thread (write_lock
        // refuses nesting), so nothing mutates the root while it is visited; open checked
        // that the root is an allocated, aligned block.
        let root = unsafe { &*self.root_ptr() };
        root.visit(&mut v);
        let report = self.core.tx().st.heap.reconcile(v);
        progress(at(total, Walk::Reachability));
        report
    }

    /// The root type's layout as the pool stores it: JSON naming every field's type, size and
    /// offset, recursively (see [`Fingerprint::schema_of`]). `None` for a pool made before
    /// schemas were stored.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let schema = pool.schema().unwrap();
    /// assert!(schema.contains("PVec"));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn schema(&self) -> Option<String> {
        let r = self.core.read_lock();
        self.core
            .with_state(&r, |st| st.heap.stored_schema())
            .and_then(Result::ok)
    }

    /// Counters since open: barriers, synced bytes, log bytes, commits.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let before = pool.stats().txn.commits;
    /// pool.write().v.push(1);
    /// assert_eq!(pool.stats().txn.commits, before + 1);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn stats(&self) -> PoolStats {
        let r = self.core.read_lock();
        self.core.with_state(&r, PoolStats::of)
    }

    /// Writes every committed change that only the redo ring holds to its home in the file,
    /// durably, and retires the ring's records: after it, a crash or kill leaves a file that
    /// opens with nothing to replay. Commits do this on their own when the ring is half full,
    /// and a clean close does it too; call it when a writer goes idle (so that a kill then
    /// costs no replay on the next open), or before copying the file elsewhere.
    ///
    /// Two barriers when records are pending, none otherwise (`Durability::Process` pools,
    /// persistent memory and memory pools keep no records). Waits for a writer of another
    /// thread, as [`Pool::write`] does; an `Io` error leaves the records in place (nothing is
    /// lost: the next checkpoint or open writes them again).
    ///
    /// # Errors
    /// `ReadOnly` on a read-only pool, `Poisoned` after a failed rollback, `Io` when a write
    /// or barrier fails.
    ///
    /// # Panics
    /// If this thread holds a guard of this pool.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool, Durability};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let dir = std::env::temp_dir().join(format!("pcoll-doc-ckpt-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let path = dir.join("p.pool");
    /// # let _ = std::fs::remove_file(&path);
    /// let pool = Pool::<Root>::options().durability(Durability::Sync).create(&path)?;
    /// pool.write().v.push(1); // durable: its redo record is in the file, its home not yet
    /// let before = pool.stats().barriers;
    /// pool.checkpoint()?; // the home, then the record retired
    /// assert_eq!(pool.stats().barriers, before + 2);
    /// pool.checkpoint()?; // nothing left
    /// assert_eq!(pool.stats().barriers, before + 2);
    /// # drop(pool);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self) -> Result<()> {
        self.core.checkpoint()
    }

    /// True when the file is on persistent memory that the file system maps with `MAP_SYNC`
    /// (DAX): `Durability::Sync` commits then flush cache lines instead of calling
    /// `fdatasync`. False on every other file system, where a `Sync` pool is written back.
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// assert!(!pool.persistent_memory()); // anonymous memory is not a DAX file
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn persistent_memory(&self) -> bool {
        let r = self.core.read_lock();
        self.core.with_state(&r, |st| st.heap.io.map.is_dax())
    }

    /// The pool's path (`<memory>` for memory pools).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-pool-path-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let pool = Pool::<Root>::open(&path)?;
    /// assert_eq!(pool.path(), path);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        self.core.path()
    }

    /// A copy of the pool's bytes as they are in memory now (crash-image tests).
    ///
    /// # Examples
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// let empty = pool.image();
    /// pool.write().v.push(7);
    /// assert_ne!(pool.image(), empty);
    /// let then = Pool::<Root>::options().from_image(&empty)?;
    /// assert!(then.read().v.is_empty());
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    #[cfg(any(test, feature = "testing"))]
    pub fn image(&self) -> Vec<u8> {
        let r = self.core.read_lock();
        self.core.with_state(&r, |st| {
            st.heap.io.map.snapshot(st.heap.valid_size() as usize)
        })
    }

    /// Cuts the free pages at the end of this pool, which is complete and about to close
    /// (see `Heap::trim_tail`): the length to cut the file to once it is closed.
    pub(crate) fn trim_tail(&self) -> Result<u64> {
        let w = self.write();
        let end = self.core.tx().st.heap.trim_tail();
        w.commit()?;
        end
    }

    /// fdatasync of the whole pool (after formatting through a shared mapping).
    fn sync_file(&self) -> Result<()> {
        let r = self.core.read_lock();
        self.core.with_state(&r, |st| {
            st.heap
                .io
                .map
                .write_back(&[])
                .map_err(|f| Error::io(st.heap.path(), f.op, f.err))
        })
    }
}

/// Exact counters of a pool since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Persistence barriers issued: on a file, `pwrite`s followed by one `fdatasync`; on
    /// persistent memory, line flushes followed by one fence.
    pub barriers: u64,
    /// Bytes those barriers wrote (exact on files; whole cache lines on persistent memory).
    pub synced_bytes: u64,
    /// Transaction and log counters.
    pub txn: TxnStats,
    /// Current pool size in bytes.
    pub pool_bytes: u64,
}

impl PoolStats {
    fn of(st: &crate::txn::core::State) -> PoolStats {
        let c = &st.heap.io.persist.counters;
        PoolStats {
            barriers: c.barriers.load(crate::sync::Ordering::Relaxed),
            synced_bytes: c.synced_bytes.load(crate::sync::Ordering::Relaxed),
            txn: st.txn.stats,
            pool_bytes: st.heap.valid_size(),
        }
    }
}

/// Writes `v` into fresh memory without dropping what was there. The caller passes a fresh,
/// aligned allocation of `size_of::<R>()` bytes in pool memory (from `Tx::alloc`), not yet
/// visible to anyone.
pub(crate) fn write_root<R>(p: *mut R, v: R) {
    // SAFETY: p is a fresh, aligned allocation of size_of::<R>() bytes (callers: `format`,
    // `migrate::install`), not yet visible to anyone.
    unsafe { p.write(v) }
}
