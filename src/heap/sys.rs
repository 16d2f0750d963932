//! Every system call that reaches a pool file's bytes, in one place: each failure is named by
//! its call (`Error::Io { op, .. }`), and under the `testing` feature any of them can be made
//! to fail on demand ([`faults`]), so the test suite can show what a full disk or a dying
//! device does to a transaction.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// A failed call and its name, for `Error::Io`.
#[derive(Debug)]
pub(crate) struct Failed {
    pub op: &'static str,
    pub err: io::Error,
}

pub(crate) type SysResult<T> = std::result::Result<T, Failed>;

fn failed(op: &'static str, err: io::Error) -> Failed {
    Failed { op, err }
}

/// Writes `len` bytes from `p` at file offset `off`, all of them (retrying short writes).
///
/// # Safety
/// `p .. p + len` is readable for the call.
pub(crate) unsafe fn pwrite_all(file: &File, p: *const u8, len: usize, off: u64) -> SysResult<()> {
    let mut done = 0;
    if let Some(e) = faults::hit(faults::Call::Pwrite) {
        // A short write, then the error: half the bytes land, as on a disk that fills up.
        // SAFETY: the first len/2 bytes are readable (contract).
        unsafe { write_some(file, p, len / 2, off) }.map_err(|e| failed("pwrite", e))?;
        return Err(failed("pwrite", e));
    }
    while done < len {
        // SAFETY: p+done .. p+len is readable (contract).
        match unsafe { write_some(file, p.add(done), len - done, off + done as u64) } {
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failed("pwrite", e)),
        }
    }
    Ok(())
}

/// One `pwrite`: the number of bytes written.
///
/// # Safety
/// `p .. p + len` is readable for the call.
unsafe fn write_some(file: &File, p: *const u8, len: usize, off: u64) -> io::Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    // SAFETY: the kernel only reads p .. p+len, readable per the contract.
    let n = unsafe { libc::pwrite(file.as_raw_fd(), p.cast(), len, off as libc::off_t) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "pwrite wrote nothing",
        ));
    }
    Ok(n as usize)
}

/// Reads `buf.len()` bytes at file offset `off` (`pread`, retried until all are read).
pub(crate) fn pread_exact(file: &File, buf: &mut [u8], off: u64) -> SysResult<()> {
    use std::os::unix::fs::FileExt;
    if let Some(e) = faults::hit(faults::Call::Pread) {
        return Err(failed("pread", e));
    }
    file.read_exact_at(buf, off).map_err(|e| failed("pread", e))
}

/// `fdatasync`: everything written to `file` so far is durable when it returns `Ok`.
pub(crate) fn fdatasync(file: &File) -> SysResult<()> {
    if let Some(e) = faults::hit(faults::Call::Fdatasync) {
        return Err(failed("fdatasync", e));
    }
    file.sync_data().map_err(|e| failed("fdatasync", e))
}

/// Makes the file at least `off + len` bytes long with disk blocks reserved for
/// `off .. off + len`, so later stores through a mapping cannot meet a full disk (a
/// `SIGBUS`): `fallocate`, or where the filesystem lacks it, zeros written over the part past
/// the current end.
pub(crate) fn allocate(file: &File, off: u64, len: u64) -> SysResult<()> {
    if let Some(e) = faults::hit(faults::Call::Fallocate) {
        return Err(failed("fallocate", e));
    }
    if len == 0 {
        return Ok(());
    }
    loop {
        // SAFETY: fallocate on an open descriptor; mode 0 allocates and extends the size.
        let r =
            unsafe { libc::fallocate(file.as_raw_fd(), 0, off as libc::off_t, len as libc::off_t) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => return write_zeros(file, off, len),
            _ => return Err(failed("fallocate", e)),
        }
    }
}

/// The fallback of [`allocate`]: zeros from the current end of the file to `off + len`.
fn write_zeros(file: &File, off: u64, len: u64) -> SysResult<()> {
    let end = off + len;
    let cur = file.metadata().map_err(|e| failed("stat", e))?.len();
    let zeros = vec![0u8; 1 << 20];
    let mut at = cur.max(off);
    while at < end {
        let n = (end - at).min(zeros.len() as u64) as usize;
        // SAFETY: `zeros` holds at least n bytes.
        unsafe { pwrite_all(file, zeros.as_ptr(), n, at) }
            .map_err(|f| failed("write zeros", f.err))?;
        at += n as u64;
    }
    Ok(())
}

/// Asks before an `mmap` of pool memory whether an injected fault says it fails.
pub(crate) fn mmap_fault() -> io::Result<()> {
    match faults::hit(faults::Call::Mmap) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Fault injection (feature `testing`): fail the n-th call of a kind, on this thread only
/// (pool operations run on the calling thread, so parallel tests do not disturb each other).
/// Without the feature every check is a constant `None`.
#[cfg(feature = "testing")]
pub mod faults {
    use std::cell::Cell;
    use std::io;

    /// The calls that can be made to fail.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Call {
        /// `pwrite` of a written-back range: half the bytes are written, then the error.
        Pwrite,
        /// `fdatasync`: the barrier's end.
        Fdatasync,
        /// `fallocate` (or the zeros that replace it): file growth and creation.
        Fallocate,
        /// `mmap` of pool memory: opening and growth.
        Mmap,
        /// `pread` of the pages a rollback on open patches.
        Pread,
    }

    const KINDS: usize = 5;

    fn index(c: Call) -> usize {
        match c {
            Call::Pwrite => 0,
            Call::Fdatasync => 1,
            Call::Fallocate => 2,
            Call::Mmap => 3,
            Call::Pread => 4,
        }
    }

    #[derive(Clone, Copy, Default)]
    struct Plan {
        /// (kind, 1-based call number counted since `arm`, errno, every later call too)
        armed: Option<(Call, u64, i32, bool)>,
        counts: [u64; KINDS],
        fired: u64,
    }

    thread_local! {
        static PLAN: Cell<Plan> = Cell::new(Plan::default());
    }

    /// Makes the `nth` call of `call` on this thread (counted from now, starting at 1) fail
    /// with `errno`; with `sticky`, every later call of that kind too, until [`disarm`].
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-faults-arm-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use pcoll::testing::faults::{self, Call};
    /// const EIO: i32 = 5;
    ///
    /// let pool = Pool::<Root>::create(&path)?;
    /// faults::arm(Call::Fdatasync, 1, EIO, false); // the next fdatasync fails
    /// let res = pool.transaction(|root| {
    ///     root.v.push(1);
    ///     Ok::<(), pcoll::Error>(())
    /// });
    /// faults::disarm();
    /// assert!(matches!(res, Err(pcoll::Error::Io { op: "fdatasync", .. })));
    /// assert!(pool.read().v.is_empty()); // rolled back
    /// pool.write().v.push(2); // the fault is gone
    /// assert_eq!(pool.read().v, [2]);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn arm(call: Call, nth: u64, errno: i32, sticky: bool) {
        PLAN.with(|p| {
            p.set(Plan {
                armed: Some((call, nth, errno, sticky)),
                ..Plan::default()
            })
        });
    }

    /// Stops failing calls; counts start again from zero.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-faults-disarm-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use pcoll::testing::faults::{self, Call};
    /// const EIO: i32 = 5;
    ///
    /// let pool = Pool::<Root>::create(&path)?;
    /// faults::arm(Call::Pwrite, 1, EIO, true); // every pwrite from now on fails
    /// faults::disarm();
    /// assert_eq!(faults::calls(Call::Pwrite), 0);
    /// pool.write().v.push(1);
    /// assert_eq!(pool.read().v, [1]);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn disarm() {
        PLAN.with(|p| p.set(Plan::default()));
    }

    /// Calls of `call` made on this thread since the last [`arm`] or [`disarm`].
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-faults-calls-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use pcoll::testing::faults::{self, Call};
    ///
    /// let pool = Pool::<Root>::create(&path)?;
    /// let before = pool.stats().barriers;
    /// faults::disarm(); // counts from here
    /// pool.write().v.push(1);
    /// // On a file, each barrier is one fdatasync.
    /// assert_eq!(faults::calls(Call::Fdatasync), pool.stats().barriers - before);
    /// assert!(faults::calls(Call::Fdatasync) > 0);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn calls(call: Call) -> u64 {
        PLAN.with(|p| p.get().counts[index(call)])
    }

    /// Failures injected since the last [`arm`].
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-faults-fired-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use pcoll::testing::faults::{self, Call};
    /// const EIO: i32 = 5;
    ///
    /// let pool = Pool::<Root>::create(&path)?;
    /// faults::arm(Call::Fdatasync, 1, EIO, false);
    /// assert_eq!(faults::fired(), 0);
    /// let mut root = pool.write();
    /// root.v.push(1);
    /// assert!(root.commit().is_err());
    /// assert_eq!(faults::fired(), 1);
    /// faults::disarm();
    /// assert_eq!(faults::fired(), 0);
    /// # drop(pool);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn fired() -> u64 {
        PLAN.with(|p| p.get().fired)
    }

    pub(crate) fn hit(call: Call) -> Option<io::Error> {
        PLAN.with(|p| {
            let mut plan = p.get();
            plan.counts[index(call)] += 1;
            let n = plan.counts[index(call)];
            let fail = match plan.armed {
                Some((c, nth, errno, sticky)) if c == call && (n == nth || sticky && n > nth) => {
                    Some(io::Error::from_raw_os_error(errno))
                }
                _ => None,
            };
            plan.fired += u64::from(fail.is_some());
            p.set(plan);
            fail
        })
    }
}

#[cfg(not(feature = "testing"))]
pub(crate) mod faults {
    #[derive(Clone, Copy)]
    pub(crate) enum Call {
        Pwrite,
        Fdatasync,
        Fallocate,
        Mmap,
        Pread,
    }

    #[inline(always)]
    pub(crate) fn hit(_: Call) -> Option<std::io::Error> {
        None
    }
}
