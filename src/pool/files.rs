//! The pool file's life outside the mapping: locking it and reading its header before
//! anything is mapped, creating it under a temporary name and linking it into place (also a
//! whole pool built beside its final name, for imports and compactions), and making
//! directory entries durable.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::{Options, Pool};
use crate::error::{Error, Result};
use crate::heap::header::Header;
use crate::heap::map::PAGE;
use crate::heap::sys;
use crate::persistent::Persistent;

/// Locks the file (shared for read-only opens) and reads its header: the header and the
/// file's length, or why this is no pool (too short for its header, or for what it says).
pub(crate) fn lock_and_read_header(
    file: &File,
    path: &Path,
    shared: bool,
) -> Result<(Header, u64)> {
    lock_file(file, path, shared)?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(path, "stat", e))?
        .len();
    let truncated = |expected| Error::Truncated {
        path: path.to_owned(),
        len,
        expected,
    };
    if len < PAGE as u64 {
        return Err(truncated(PAGE as u64));
    }
    let mut page0 = vec![0u8; PAGE];
    read_exact_at(file, &mut page0, path)?;
    let hdr = Header::read(&page0, path)?;
    if hdr.valid_size > len {
        return Err(truncated(hdr.valid_size));
    }
    Ok((hdr, len))
}

/// Takes the pool file's advisory lock (shared for read-only opens). A lock found held is
/// tried again for up to 50 ms before `Error::Locked`: a child process forked by another
/// thread holds copies of this process's file descriptors, and so their locks, until it
/// execs, which would otherwise make reopening a pool this process just closed fail.
pub(crate) fn lock_file(file: &File, path: &Path, shared: bool) -> Result<()> {
    use std::fs::TryLockError;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(50);
    loop {
        let res = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match res {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: path.to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(path, "flock", e)),
        }
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], path: &Path) -> Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, 0)
        .map_err(|e| Error::io(path, "read header", e))
}

pub(super) fn create_private(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, "create", e))
}

pub(super) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".tmp-{}-{:x}",
        std::process::id(),
        random_u64() as u32
    ));
    path.with_file_name(name)
}

/// `path` with `suffix` appended to its file name: where an import or a compaction builds
/// its pool before linking it into place.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Removes a pool that a crashed import or compaction left at `tmp`; `Error::Locked` when a
/// live one is building there (its pool holds the file's lock until it is linked).
pub(crate) fn remove_leftover(tmp: &Path) -> Result<()> {
    let Ok(f) = OpenOptions::new().read(true).write(true).open(tmp) else {
        return Ok(()); // nothing there
    };
    lock_file(&f, tmp, false)?;
    std::fs::remove_file(tmp).map_err(|e| Error::io(tmp, "remove", e))
}

/// Cuts the closed pool file at `tmp` to `len` bytes, durably; the returned handle holds the
/// file's lock (`Error::Locked` if another build took it meanwhile).
pub(crate) fn cut(tmp: &Path, len: u64) -> Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, "open", e))?;
    lock_file(&f, tmp, false)?;
    f.set_len(len).map_err(|e| Error::io(tmp, "truncate", e))?;
    sys::fdatasync(&f).map_err(|e| Error::io(tmp, e.op, e.err))?;
    Ok(f)
}

/// Links the finished pool at `tmp` to `path` (refusing an existing file), removes `tmp`
/// and makes the directory entry durable: `path` holds the whole pool or nothing.
pub(crate) fn link_into_place(tmp: &Path, path: &Path) -> Result<()> {
    match std::fs::hard_link(tmp, path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::AlreadyExists {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(Error::io(path, "link", e)),
    }
    std::fs::remove_file(tmp).map_err(|e| Error::io(tmp, "remove", e))?;
    sync_dir(path)
}

pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

pub(super) struct RemoveOnDrop(pub(super) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl<R: Persistent + Default> Options<R> {
    /// Creates a pool at `path` whose root `fill` sets, whole or not at all: the pool is built
    /// at `path` + `suffix` (a leftover of a crash there is removed first; a live build there
    /// answers `Error::Locked`), filled in one transaction, made durable, linked into place
    /// while it still holds its lock, then reopened. For imports and compactions.
    /// `fill` returns the length to cut the file to once the pool is closed, if any (see
    /// [`Pool::trim_tail`]).
    pub(crate) fn build_beside(
        self,
        path: &Path,
        suffix: &str,
        fill: impl FnOnce(&Pool<R>) -> Result<Option<u64>>,
    ) -> Result<Pool<R>> {
        if path.exists() {
            return Err(Error::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let tmp = sibling(path, suffix);
        remove_leftover(&tmp)?;
        let out = match self.clone().create(&tmp) {
            Ok(out) => out,
            Err(e) => {
                // A pool created at `tmp` that failed to open afterwards (its `mmap`): removed
                // unless a live build holds it.
                let _ = remove_leftover(&tmp);
                return Err(e);
            }
        };
        let built = fill(&out).and_then(|cut| out.sync_file().map(|()| cut));
        let placed = match built {
            // Linked while `out` holds the file's lock.
            Ok(None) => {
                let linked = link_into_place(&tmp, path);
                if linked.is_err() {
                    let _ = std::fs::remove_file(&tmp); // while the lock keeps other builds out
                }
                drop(out);
                linked
            }
            Ok(Some(len)) => {
                // Closed before it is cut (its last pending pages are written on close); the
                // cut takes the file's lock again and holds it until the link.
                drop(out);
                let cut = cut(&tmp, len).and_then(|_lock| link_into_place(&tmp, path));
                if cut.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                cut
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp); // while the lock keeps other builds out
                drop(out);
                Err(e)
            }
        };
        placed?;
        self.open_existing(path)
    }
}
