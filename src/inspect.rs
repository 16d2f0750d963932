//! Reading a pool file without its root type: what `pcoll info` and `pcoll check` show.
//!
//! [`inspect`] never writes the file: it maps it privately, runs recovery in that private
//! copy (so it reports what the next open will do), and reads the header, the log, the
//! allocator's metadata and the stored schema. [`recover`] is the one that writes: it rolls
//! an interrupted transaction back (or completes a migration) in place, as an open would.
//!
//! What it cannot do without the root type: follow the pointers inside the root (the
//! reachability walk of [`crate::Pool::check`]), so a leaked or doubly owned block is found
//! only by `Pool::check()` in the application.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::heap::check::{Progress, Walk};
use crate::heap::header::{FLAG_REDO, FORMAT_VERSION};
use crate::heap::map::{FileMode, Mapping, PAGE};
use crate::heap::persist::{Durability, Medium, Persister};
use crate::heap::segment::{self, Kind};
use crate::heap::{Heap, HeapIo};
use crate::txn::{Recovery, Txn};

/// What a pool file holds, as [`inspect`] found it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolInfo {
    /// The file.
    pub path: PathBuf,
    /// The file's length in bytes (may exceed `pool_bytes`: growth not yet committed).
    pub file_bytes: u64,
    /// Bytes that belong to the pool.
    pub pool_bytes: u64,
    /// The format version of the file.
    pub format_version: u32,
    /// The file has redo slots (small durable commits cost one barrier).
    pub redo_slots: bool,
    /// Random at creation; its low 16 bits tag this pool's handles.
    pub uuid: u64,
    /// Header writes since creation (creation, growth, migrations).
    pub header_writes: u64,
    /// `std::any::type_name` of the root type.
    pub root_type: String,
    /// The root object's offset and size.
    pub root_offset: u64,
    /// `size_of` the root type.
    pub root_size: u64,
    /// The root type's layout fingerprint.
    pub root_fingerprint: u64,
    /// The migration that installed the root (0: the root since creation).
    pub root_generation: u64,
    /// The stored schema (JSON, see `docs/format.md`); `None` in pools made before schemas
    /// were stored.
    pub schema: Option<String>,
    /// Log segments (the primary one included) and their bytes.
    pub log_segments: usize,
    /// Bytes of the log segments.
    pub log_bytes: u64,
    /// Heap segments and their bytes.
    pub heap_segments: usize,
    /// Bytes of the heap segments.
    pub heap_bytes: u64,
    /// What the next open does about an interrupted transaction.
    pub recovery: Recovery,
    /// Allocated blocks, per the allocator's metadata (after recovery).
    pub blocks: usize,
    /// Bytes in those blocks (at their class or page size).
    pub allocated_bytes: u64,
    /// What is wrong, if anything (empty for a healthy file).
    pub problems: Vec<String>,
}

/// Reads `path` without writing it (a shared lock: fails with [`Error::Locked`] while a
/// process has the pool open for writing). Errors are for files that are not pools or cannot
/// be read; damage found inside a pool is listed in [`PoolInfo::problems`].
///
/// # Examples
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// # let path = std::env::temp_dir().join(format!("pcoll-doc-inspect-{}.pool", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let pool = Pool::<Root>::create(&path)?;
/// pool.write().v.push(1);
/// let busy = pcoll::inspect::inspect(&path); // the pool is open for writing
/// assert!(matches!(busy, Err(pcoll::Error::Locked { .. })));
/// drop(pool);
///
/// let info = pcoll::inspect::inspect(&path)?;
/// assert!(info.root_type.ends_with("Root"));
/// assert_eq!(info.root_fingerprint, pcoll::Fingerprint::of::<Root>());
/// assert_eq!(info.recovery.rolled_back, None); // no transaction was interrupted
/// assert!(info.problems.is_empty());
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), pcoll::Error>(())
/// ```
pub fn inspect(path: impl AsRef<Path>) -> Result<PoolInfo> {
    inspect_with_progress(path, |_| {})
}

/// [`inspect`], telling `progress` how far its walk of the allocator's metadata has come,
/// after each heap segment (4 MiB): for a progress bar on a big pool. The unit is bytes of
/// the pool: `total` is the pool's size, the first call has `done == 0` and the last, made
/// once the pool is mapped and recovered, `done == total` (see [`Progress`]).
///
/// # Examples
/// ```
/// # use pcoll::{PVec, Persistent, Pool, Progress};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// # let dir = std::env::temp_dir().join(format!("pcoll-doc-progress-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("app.pool");
/// drop(Pool::<Root>::create(&path)?);
/// let mut calls: Vec<Progress> = Vec::new();
/// let info = pcoll::inspect::inspect_with_progress(&path, |p| calls.push(p))?;
/// assert_eq!(calls.first().unwrap().done, 0);
/// let last = calls.last().unwrap();
/// assert_eq!((last.done, last.total), (info.pool_bytes, info.pool_bytes));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), pcoll::Error>(())
/// ```
pub fn inspect_with_progress(
    path: impl AsRef<Path>,
    mut progress: impl FnMut(Progress),
) -> Result<PoolInfo> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| open_error(path, e))?;
    let (heap, txn, len) = open_heap(file, path, FileMode::ReadOnly, Durability::Process)?;
    Ok(describe(heap, &txn, len, &mut progress))
}

/// Runs recovery on `path` in place, as opening it would: an interrupted transaction rolls
/// back (or a migration whose header was written completes), and the result is made
/// durable. Takes the exclusive lock. Returns what it did.
///
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// # let path = std::env::temp_dir().join(format!("pcoll-doc-recover-{}.pool", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let missing = pcoll::inspect::recover(&path);
/// assert!(matches!(missing, Err(pcoll::Error::NotFound { .. })));
///
/// Pool::<Root>::create(&path)?.write().v.push(1);
/// let done = pcoll::inspect::recover(&path)?;
/// assert_eq!(done.rolled_back, None); // closed cleanly: nothing to roll back
/// assert_eq!(Pool::<Root>::open_existing(&path)?.read().v, [1]);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), pcoll::Error>(())
/// ```
pub fn recover(path: impl AsRef<Path>) -> Result<Recovery> {
    let path = path.as_ref();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let (mut heap, mut txn, _) = open_heap(file, path, FileMode::Private, Durability::Sync)?;
    txn.settle_recovery(&mut heap)?; // the rollback durable and retired before returning
    Ok(txn.recovery)
}

fn open_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound {
            path: path.to_owned(),
        }
    } else {
        Error::io(path, "open", e)
    }
}

/// Maps the file and runs recovery: in the private mapping only for `ReadOnly`, written back
/// for `Private` with `Durability::Sync`.
fn open_heap(file: File, path: &Path, mode: FileMode, d: Durability) -> Result<(Heap, Txn, u64)> {
    let (hdr, len) = crate::pool::lock_and_read_header(&file, path, mode == FileMode::ReadOnly)?;
    let size = hdr.valid_size as usize;
    let map = Mapping::file(file, size, size, mode).map_err(|e| Error::io(path, "mmap", e))?;
    let persist = Persister::new(d, false, false, Medium::File, None);
    let io = HeapIo {
        map,
        persist,
        path: path.to_owned(),
    };
    let mut heap = Heap::open(io, len, len.max(hdr.valid_size))?;
    let txn = Txn::open(&mut heap)?;
    Ok((heap, txn, len))
}

fn describe(
    mut heap: Heap,
    txn: &Txn,
    file_bytes: u64,
    progress: &mut dyn FnMut(Progress),
) -> PoolInfo {
    let h = heap.hdr.clone();
    let mut problems = Vec::new();
    let total = h.valid_size;
    let at = |done: u64| Progress {
        done,
        total,
        walk: Walk::Allocator,
    };
    progress(at(0));
    let (mut blocks, mut allocated_bytes) = (0, 0);
    let walk = heap.each_block(
        |_, b| {
            blocks += 1;
            allocated_bytes += b.size() as u64;
        },
        |walked| progress(at(walked.min(total))),
    );
    if let Err(e) = walk {
        problems.push(format!("allocator metadata: {e}"));
        (blocks, allocated_bytes) = (0, 0);
    }
    progress(at(total));
    let mut block_of = |off: u64, at_least: u64, what: &str| match heap.block_at(off) {
        Ok(b) if b.size() as u64 >= at_least => {}
        Ok(b) => problems.push(format!(
            "the {what} at {off} is a block of {} bytes, not {at_least}",
            b.size()
        )),
        Err(_) => problems.push(format!("the {what} at {off} is not an allocated block")),
    };
    block_of(h.root_off, h.root_size, "root");
    if h.schema_off != 0 {
        block_of(h.schema_off, h.schema_len, "schema");
    }
    let schema = match heap.stored_schema() {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            problems.push(e.to_string());
            None
        }
        None => None,
    };
    let segs = segments(&heap);
    let of = |k: Kind| segs.iter().filter(move |s| s.0 == k).map(|s| s.1);
    PoolInfo {
        path: heap.path().to_owned(),
        file_bytes,
        pool_bytes: h.valid_size,
        format_version: FORMAT_VERSION,
        redo_slots: h.flags & FLAG_REDO != 0,
        uuid: h.uuid,
        header_writes: h.seq,
        root_type: h.root_name.clone(),
        root_offset: h.root_off,
        root_size: h.root_size,
        root_fingerprint: h.root_fp,
        root_generation: h.root_gen,
        schema,
        log_segments: of(Kind::Log).count(),
        log_bytes: of(Kind::Log).sum(),
        heap_segments: of(Kind::Heap).count(),
        heap_bytes: of(Kind::Heap).sum(),
        recovery: txn.recovery,
        blocks,
        allocated_bytes,
        problems,
    }
}

/// Every segment from the primary log on, in file order: (kind, bytes).
fn segments(heap: &Heap) -> Vec<(Kind, u64)> {
    let map = &heap.io.map;
    let mut out = Vec::new();
    let mut off = heap.hdr.log_off;
    while off + PAGE as u64 <= heap.valid_size() {
        let at = off as usize;
        let pages = map.read_u64(at + segment::OFF_PAGES);
        let kind = Kind::from_u32(map.read_u32(at + segment::OFF_KIND));
        let (Some(kind), true) = (kind, map.read_u32(at) == segment::SEG_MAGIC) else {
            break; // validated by open; a damaged chain was reported there
        };
        if pages == 0 {
            break;
        }
        out.push((kind, pages * PAGE as u64));
        off = off.saturating_add(pages.saturating_mul(PAGE as u64));
    }
    out
}
