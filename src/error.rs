//! The one error type of pcoll. Every variant names the pool file and what was wrong.

use std::path::PathBuf;

/// Everything that can go wrong with a pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    #[error("{path}: {op} failed: {source}")]
    Io {
        /// The pool file (or `<memory>`).
        path: PathBuf,
        /// The call that failed (`pwrite`, `fdatasync`, `fallocate`, `mmap`, ...).
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// `open_existing` on a path where no file exists.
    #[error("{path}: no pool file here")]
    NotFound {
        /// The pool file.
        path: PathBuf,
    },
    /// `create` on a path where a file exists already.
    #[error("{path}: a file exists already; open it, or remove it first")]
    AlreadyExists {
        /// The pool file.
        path: PathBuf,
    },
    /// Another process (or another `Pool` in this one) has the pool open.
    #[error("{path}: the pool is open in another process or handle (advisory lock held)")]
    Locked {
        /// The pool file.
        path: PathBuf,
    },
    /// The file is shorter than its header says, or too short to be a pool.
    #[error("{path}: truncated: the file has {len} bytes, the pool needs {expected}")]
    Truncated {
        /// The pool file (or `<memory>`).
        path: PathBuf,
        /// The file's length.
        len: u64,
        /// The length the pool needs.
        expected: u64,
    },
    /// The file does not start with the pool magic: it is not a pcoll pool.
    #[error("{path}: not a pcoll pool (bad magic)")]
    BadMagic {
        /// The pool file.
        path: PathBuf,
    },
    /// The pool was written by a format version this build does not read.
    #[error("{path}: pool format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// The pool file (or `<memory>`).
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Neither copy of the header passes its checksum.
    #[error("{path}: header checksum mismatch: the header is damaged")]
    HeaderChecksum {
        /// The pool file.
        path: PathBuf,
    },
    /// The pool's root type differs from the one requested.
    #[error("{path}: root type mismatch: the pool holds `{stored}`, opened as `{requested}`")]
    RootTypeMismatch {
        /// The pool file (or `<memory>`).
        path: PathBuf,
        /// The root type the pool holds.
        stored: String,
        /// The root type asked for.
        requested: String,
    },
    /// The pool cannot grow to satisfy an allocation.
    #[error("{path}: out of space: {requested} more bytes needed, the pool is limited to {limit}")]
    OutOfSpace {
        /// The pool file (or `<memory>`).
        path: PathBuf,
        /// Bytes the allocation needed.
        requested: u64,
        /// The pool's size limit (`max_size`).
        limit: u64,
    },
    /// Pool metadata is damaged (found on open, during recovery, or by `check`).
    #[error("{path}: corrupted pool: {what}")]
    Corrupted {
        /// The pool file.
        path: PathBuf,
        /// What is damaged, and where.
        what: String,
    },
    /// A write was attempted on a pool opened read-only.
    #[error("{path}: the pool is open read-only")]
    ReadOnly {
        /// The pool file.
        path: PathBuf,
    },
    /// An option was out of range.
    #[error("{path}: invalid option: {what}")]
    InvalidOption {
        /// The pool file.
        path: PathBuf,
        /// Which option, and why.
        what: String,
    },
    /// Another pool open in this process has the same identity tag (a copy of the same pool
    /// file, or a 1-in-65536 collision): values moved out of pool memory name their pool by
    /// that tag, so the two cannot be open at once.
    #[error(
        "{path}: another open pool has this pool's tag {tag:#06x} (a copy of the same file, or \
         a 1-in-65536 collision); close it first, open this one read-only, or give this file a \
         new tag with Options::shrink"
    )]
    AmbiguousPool {
        /// The pool file.
        path: PathBuf,
        /// The tag in use.
        tag: u16,
    },
    /// `try_write`, `try_read` or `write_timeout` found the pool locked by another guard.
    #[error("{path}: the pool is locked by another guard (try again later)")]
    WouldBlock {
        /// The pool file.
        path: PathBuf,
    },
    /// A commit failed while writing the transaction to the file, and so did writing the
    /// rolled-back bytes over it (a dying device, an `fdatasync` error): the file holds an
    /// unknown mix that only recovery can sort out. Reopen the pool: recovery then leaves
    /// that transaction all done or not done (which one is not known until then).
    #[error(
        "{path}: poisoned: a failed commit could not be undone in the file; reopen the pool \
         (recovery leaves the failed transaction all done or not done)"
    )]
    Poisoned {
        /// The pool file.
        path: PathBuf,
    },
    /// An import's input is not a pcoll export this build reads, or its root does not
    /// deserialize as the requested type (nothing was created).
    #[error("{path}: cannot import: {what}")]
    Import {
        /// The pool file that was to be created.
        path: PathBuf,
        /// What is wrong with the input.
        what: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: &std::path::Path, op: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_owned(),
            op,
            source,
        }
    }

    pub(crate) fn corrupted(path: &std::path::Path, what: impl Into<String>) -> Self {
        Error::Corrupted {
            path: path.to_owned(),
            what: what.into(),
        }
    }
}
