//! The mapping: one reserved range of address space per pool, with the pool file (or anonymous
//! memory) mapped at its start. Growth maps more of the file at the same base, so addresses
//! handed out earlier stay valid for the life of the pool: a `&mut` held across a growth never
//! dangles. This is one of the few files allowed `unsafe`.
//!
//! Invariants:
//! - `base .. base + reserved` is owned by this `Mapping` until drop;
//! - `base .. base + len` is readable (and writable unless read-only) pool memory;
//! - `len` only grows.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::ptr::NonNull;

use super::sys::{self, SysResult};

/// How a file is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMode {
    Shared,
    Private,
    ReadOnly,
    /// `MAP_SHARED_VALIDATE | MAP_SYNC`: a file on persistent memory (DAX), whose stores
    /// reach the medium by cache-line flushes. Chosen only where [`supports_map_sync`]
    /// says the file system maps it so and the CPU can flush lines.
    Dax,
}

/// What backs the mapped bytes.
#[derive(Debug)]
pub(crate) enum Backing {
    /// A pool file. `Shared`: stores go to the page cache (`MAP_SHARED`), so a killed process
    /// loses nothing. `Private`: copy-on-write pages (`MAP_PRIVATE`); nothing reaches the file
    /// until [`Mapping::write_back`] writes it (durable pools, and read-only ones, whose
    /// recovery then stays in memory).
    File { file: File, mode: FileMode },
    /// Anonymous memory: tests, Miri, and pools that need no file.
    Memory,
}

#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    reserved: usize,
    len: usize,
    backing: Backing,
}

// SAFETY: the mapping is plain memory owned by this value; callers synchronise access to its
// contents through the pool's reader/writer lock.
unsafe impl Send for Mapping {}
// SAFETY: as above; shared access only reads, or writes under the pool's writer lock.
unsafe impl Sync for Mapping {}

pub(crate) const PAGE: usize = 4096;

impl Mapping {
    /// Reserves `reserved` bytes of address space and maps the first `len` bytes of `file`
    /// (which must be at least `len` long) at its start.
    pub(crate) fn file(
        file: File,
        len: usize,
        reserved: usize,
        mode: FileMode,
    ) -> io::Result<Self> {
        let base = reserve(reserved)?;
        let mut m = Mapping {
            base,
            reserved,
            len: 0,
            backing: Backing::File { file, mode },
        };
        m.map_range(0, len)?;
        m.len = len;
        Ok(m)
    }

    /// True for a file mapped with `MAP_SYNC` (persistent memory).
    pub(crate) fn is_dax(&self) -> bool {
        matches!(
            self.backing,
            Backing::File {
                mode: FileMode::Dax,
                ..
            }
        )
    }

    /// Reserves `reserved` bytes and makes the first `len` zeroed, readable and writable.
    pub(crate) fn memory(len: usize, reserved: usize) -> io::Result<Self> {
        let base = reserve(reserved)?;
        let mut m = Mapping {
            base,
            reserved,
            len: 0,
            backing: Backing::Memory,
        };
        m.map_range(0, len)?;
        m.len = len;
        Ok(m)
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn reserved(&self) -> usize {
        self.reserved
    }

    /// Closes the file (releasing its lock) but keeps the memory mapped: for a pool whose
    /// memory must outlive it (`PoolCore::retire`). Nothing writes the file afterwards.
    pub(crate) fn close_file(&mut self) {
        if let Backing::File { file, .. } = &self.backing {
            use std::os::fd::AsRawFd;
            // The mapping keeps the open file (and so its `flock`) alive: unlock explicitly.
            // SAFETY: a valid descriptor, owned by `file`.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
        self.backing = Backing::Memory;
    }

    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }

    /// Makes `len .. new_len` usable. For a file, the caller has already extended the file.
    pub(crate) fn grow(&mut self, new_len: usize) -> io::Result<()> {
        if new_len <= self.len {
            return Ok(());
        }
        if new_len > self.reserved {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "past the reserved range",
            ));
        }
        self.map_range(self.len, new_len)?;
        self.len = new_len;
        Ok(())
    }

    /// Writes `ranges` of the mapped memory to the file and waits until they are durable
    /// (`pwrite` each, then one `fdatasync`). For a shared mapping the page cache already has
    /// the bytes: `fdatasync` alone makes them durable. Memory pools have no medium.
    pub(crate) fn write_back(&self, ranges: &[(u64, u64)]) -> SysResult<()> {
        self.write_ranges(ranges)?;
        match &self.backing {
            #[cfg(not(miri))]
            Backing::File { file, mode } if *mode != FileMode::ReadOnly => sys::fdatasync(file),
            _ => Ok(()),
        }
    }

    /// Hands `ranges` of a private mapping to the file (`pwrite`, no `fdatasync`): durable
    /// at the next barrier. A shared mapping's page cache has them already.
    pub(crate) fn write_ranges(&self, ranges: &[(u64, u64)]) -> SysResult<()> {
        let Backing::File { file, mode } = &self.backing else {
            return Ok(());
        };
        #[cfg(not(miri))]
        if *mode == FileMode::Private {
            for &(off, len) in ranges {
                let p = self.check(off as usize, len as usize);
                // SAFETY: p .. p+len is mapped (check); the kernel only reads it.
                unsafe { sys::pwrite_all(file, p, len as usize, off) }?;
            }
        }
        let _ = (ranges, file, mode);
        Ok(())
    }

    /// Rollback on open: writes saved bytes to the file, when this is a writable private
    /// mapping; false otherwise (the caller restores in memory). Each `(off, src, len)` puts
    /// the `len` bytes at `src` (in the mapping) at file offset `off`. The caller guarantees
    /// that nothing wrote the target pages through this mapping yet, so they show the file's
    /// bytes, restored ones included.
    ///
    /// Pages that many ranges touch are read with `pread`, patched, and written back with
    /// `pwrite`, one call each per run of adjacent such pages (bytes between the ranges are
    /// written back unchanged); the other ranges get one `pwrite` each. A rollback of
    /// thousands of small ranges packed in a few pages then costs a few calls per page.
    pub(crate) fn restore_to_file(&self, saved: &[(u64, u64, u64)]) -> SysResult<bool> {
        #[cfg(not(miri))]
        if let Backing::File {
            file,
            mode: FileMode::Private,
        } = &self.backing
        {
            let plan = restore_plan(saved);
            for &(off, src, len) in &plan.direct {
                self.check(off as usize, len as usize);
                let p = self.check(src as usize, len as usize);
                // SAFETY: p .. p+len is mapped (check); the kernel only reads it.
                unsafe { sys::pwrite_all(file, p, len as usize, off) }?;
            }
            let mut buf = Vec::new();
            for run in &plan.runs {
                self.check(run.off as usize, run.len as usize);
                buf.resize(run.len as usize, 0);
                sys::pread_exact(file, &mut buf, run.off)?;
                for &(at, src, len) in &run.patches {
                    let (at, len) = (at as usize, len as usize);
                    buf[at..at + len].copy_from_slice(self.bytes(src as usize, len));
                }
                // SAFETY: buf holds run.len bytes; the kernel only reads them.
                unsafe { sys::pwrite_all(file, buf.as_ptr(), buf.len(), run.off) }?;
            }
            return Ok(true);
        }
        let _ = saved;
        Ok(false)
    }

    /// True for a file mapped read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        matches!(
            self.backing,
            Backing::File {
                mode: FileMode::ReadOnly,
                ..
            }
        )
    }

    /// Drops this process's private copies of written-back pages (`MADV_DONTNEED`), so a
    /// long-running pool does not keep a second copy of everything it ever changed. Only call
    /// when every private page has been written back (after a commit).
    pub(crate) fn drop_private_copies(&self) {
        if !matches!(
            self.backing,
            Backing::File {
                mode: FileMode::Private,
                ..
            }
        ) {
            return;
        }
        #[cfg(not(miri))]
        // SAFETY: base..base+len is our mapping; after write-back its private pages equal the
        // file, so discarding them (they re-read the file on next touch) loses nothing. No
        // reference into pool memory is live: the caller holds the writer lock at commit.
        unsafe {
            libc::madvise(self.base().cast(), self.len, libc::MADV_DONTNEED);
        }
    }

    /// Maps `from .. to` (page aligned) of the backing over the reservation.
    fn map_range(&mut self, from: usize, to: usize) -> io::Result<()> {
        debug_assert!(from.is_multiple_of(PAGE) && to.is_multiple_of(PAGE) && to <= self.reserved);
        if to == from {
            return Ok(());
        }
        #[cfg(miri)]
        {
            // Miri: the reservation is an ordinary zeroed allocation, already usable.
            if !matches!(self.backing, Backing::Memory) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "files under Miri",
                ));
            }
            Ok(())
        }
        #[cfg(not(miri))]
        {
            use std::os::fd::AsRawFd;
            if matches!(self.backing, Backing::File { .. }) {
                sys::mmap_fault()?;
            }
            // SAFETY: from..to lies inside our reservation (asserted above), which we own, so
            // MAP_FIXED replaces only our own PROT_NONE (or older) pages.
            let addr = unsafe { self.base().add(from) }.cast();
            let (prot, flags, fd) = match &self.backing {
                Backing::Memory => (
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                ),
                Backing::File { file, mode } => (
                    libc::PROT_READ | libc::PROT_WRITE,
                    match mode {
                        FileMode::Shared => libc::MAP_SHARED,
                        FileMode::Dax => libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
                        FileMode::Private | FileMode::ReadOnly => libc::MAP_PRIVATE,
                    } | libc::MAP_FIXED,
                    file.as_raw_fd(),
                ),
            };
            // SAFETY: addr..addr+(to-from) is inside our reservation; fd is open for the call.
            let p = unsafe { libc::mmap(addr, to - from, prot, flags, fd, from as libc::off_t) };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
    }
}

/// True when `file` can be mapped with `MAP_SYNC` (a DAX file system: persistent memory).
/// The probe maps one page where the kernel chooses, never over a reservation: ext4 and xfs
/// refuse `MAP_SYNC` in their mmap hook, after the kernel has already unmapped a `MAP_FIXED`
/// range, so a refused attempt over the reservation would leave a hole that another thread
/// could map into (found by review; `tests/pool.rs` checks the reservation stays whole).
pub(crate) fn supports_map_sync(file: &File) -> bool {
    #[cfg(not(miri))]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh mapping at an address of the kernel's choosing, of a page of a
        // file we hold open; unmapped at once, nothing refers to it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC,
                file.as_raw_fd(),
                0,
            );
            if p == libc::MAP_FAILED {
                return false;
            }
            libc::munmap(p, PAGE);
            true
        }
    }
    #[cfg(miri)]
    {
        let _ = file;
        false
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        #[cfg(not(miri))]
        // SAFETY: we own base..base+reserved; nothing borrows it once the pool is dropped
        // (every reference into pool memory is tied to a guard that borrows the pool).
        unsafe {
            libc::munmap(self.base().cast(), self.reserved);
        }
        #[cfg(miri)]
        // SAFETY: allocated in `reserve` with this layout.
        unsafe {
            std::alloc::dealloc(self.base(), layout(self.reserved));
        }
    }
}

#[cfg(miri)]
fn layout(size: usize) -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(size, PAGE).expect("reservation layout")
}

/// Copies `len` bytes so that the destination holds initialised bytes even where the source
/// holds padding: an opaque `rep movsb` on x86_64 (the compiler must take what it wrote as
/// initialised). Elsewhere, and under Miri (which cannot run asm), a plain copy.
///
/// # Safety
/// - `src .. src + len` is readable and `dst .. dst + len` writable;
/// - the two ranges do not overlap.
unsafe fn copy_frozen(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: rep movsb copies rcx bytes from rsi to rdi; the caller guarantees both ranges;
    // the direction flag is clear per the ABI.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") len => _,
            inout("rsi") src => _,
            inout("rdi") dst => _,
            options(nostack, preserves_flags)
        );
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    // SAFETY: as documented for the caller.
    unsafe {
        std::ptr::copy_nonoverlapping(src, dst, len)
    }
}

/// Reserves address space: inaccessible until `map_range` maps into it.
fn reserve(size: usize) -> io::Result<NonNull<u8>> {
    #[cfg(miri)]
    {
        // SAFETY: layout has non-zero size (pools are at least a few pages).
        let p = unsafe { std::alloc::alloc_zeroed(layout(size)) };
        NonNull::new(p).ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "reserve"))
    }
    #[cfg(not(miri))]
    {
        // SAFETY: a fresh anonymous PROT_NONE mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(NonNull::new(p.cast()).expect("mmap returned null"))
    }
}

/// Pool metadata as bytes, bounds checked. Only for ranges pcoll wrote as bytes (header,
/// log, allocator tables); user data may hold uninitialised padding: use `snapshot`.
impl Mapping {
    pub(crate) fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(
            off.checked_add(len).is_some_and(|e| e <= self.len),
            "pool range out of bounds"
        );
        // SAFETY: off..off+len is inside the mapped range (checked); the returned borrow is
        // tied to &self, and writers hold the pool's writer lock.
        unsafe { std::slice::from_raw_parts(self.base().add(off), len) }
    }
}

/// Little-endian integer access to pool metadata. Metadata (header, segment tables, run
/// bitmaps, the log) is never borrowed by user code, so raw reads and writes there cannot
/// alias a user reference. Writers hold the pool's writer lock.
impl Mapping {
    fn check(&self, off: usize, len: usize) -> *mut u8 {
        assert!(
            off.checked_add(len).is_some_and(|e| e <= self.len),
            "pool range out of bounds"
        );
        // SAFETY: off + len is within the mapped range (checked above).
        unsafe { self.base().add(off) }
    }

    pub(crate) fn read_u16(&self, off: usize) -> u16 {
        // SAFETY: in bounds (check); unaligned read of plain bytes.
        unsafe { self.check(off, 2).cast::<u16>().read_unaligned() }
    }

    pub(crate) fn read_u32(&self, off: usize) -> u32 {
        // SAFETY: in bounds (check); unaligned read of plain bytes.
        unsafe { self.check(off, 4).cast::<u32>().read_unaligned() }
    }

    pub(crate) fn read_u64(&self, off: usize) -> u64 {
        // SAFETY: in bounds (check); unaligned read of plain bytes.
        unsafe { self.check(off, 8).cast::<u64>().read_unaligned() }
    }

    pub(crate) fn write_u16(&self, off: usize, v: u16) {
        // SAFETY: in bounds (check); metadata is never borrowed (see impl doc).
        unsafe { self.check(off, 2).cast::<u16>().write_unaligned(v) }
    }

    pub(crate) fn write_u32(&self, off: usize, v: u32) {
        // SAFETY: in bounds (check); metadata is never borrowed (see impl doc).
        unsafe { self.check(off, 4).cast::<u32>().write_unaligned(v) }
    }

    pub(crate) fn write_u64(&self, off: usize, v: u64) {
        // SAFETY: in bounds (check); metadata is never borrowed (see impl doc).
        unsafe { self.check(off, 8).cast::<u64>().write_unaligned(v) }
    }

    pub(crate) fn write_bytes(&self, off: usize, src: &[u8]) {
        let dst = self.check(off, src.len());
        // SAFETY: dst..dst+len is in bounds; src is a separate borrow, so no overlap with
        // metadata being written (callers never pass pool memory they also write).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
    }

    /// Copies pool bytes `src .. src + len` into the metadata range at `dst` (log appends).
    /// Reads through `from`, a pointer the caller derived from its own reference to the
    /// source, when it has one, so the read stays within that reference's provenance. The
    /// copy freezes the bytes: user data may hold padding that Rust considers uninitialised,
    /// and the log checksums what it copied.
    pub(crate) fn copy_in(&self, dst: usize, src: usize, len: usize, from: Option<*const u8>) {
        let d = self.check(dst, len);
        let s = match from {
            Some(p) => p,
            None => self.check(src, len).cast_const(),
        };
        debug_assert!(
            src + len <= dst || dst + len <= src,
            "log copy overlaps its source"
        );
        // SAFETY: both ranges are in bounds and disjoint (the log never covers user memory).
        unsafe { copy_frozen(s, d, len) }
    }

    /// Copies `len` pool bytes from `src` to `dst` (a block being moved by a realloc; the
    /// destination is fresh memory nobody references). Freezes padding like `copy_in`.
    pub(crate) fn copy_within(&self, src: usize, dst: usize, len: usize) {
        let s = self.check(src, len);
        let d = self.check(dst, len);
        assert!(
            src + len <= dst || dst + len <= src,
            "overlapping block copy"
        );
        // SAFETY: both ranges are in bounds (check) and disjoint (asserted).
        unsafe { copy_frozen(s, d, len) }
    }

    /// The pool's first `len` bytes as initialised bytes (images for tests and recorders).
    pub(crate) fn snapshot(&self, len: usize) -> Vec<u8> {
        let len = len.min(self.len);
        let mut v = Vec::<u8>::with_capacity(len);
        // SAFETY: 0..len is mapped; v has capacity len; copy_frozen initialises all of it.
        unsafe {
            copy_frozen(self.base(), v.as_mut_ptr(), len);
            v.set_len(len);
        }
        v
    }

    /// True when the `len` bytes at `off` (user data, read through a freezing copy) equal
    /// those at `src_off` (pcoll's own bytes: a redo record's data).
    pub(crate) fn holds(&self, off: usize, src_off: usize, len: usize) -> bool {
        let p = self.check(off, len);
        let mut v = Vec::<u8>::with_capacity(len);
        // SAFETY: `p..p + len` is mapped (checked); v has capacity len and copy_frozen
        // initialises all of it.
        unsafe {
            copy_frozen(p.cast_const(), v.as_mut_ptr(), len);
            v.set_len(len);
        }
        v == self.bytes(src_off, len)
    }

    /// Writes `src` back over pool memory at `off` (rollback). Only called when no user
    /// reference into the pool is live: at guard drop or during recovery on open.
    pub(crate) fn restore(&self, off: usize, src_off: usize, len: usize) {
        let d = self.check(off, len);
        let s = self.check(src_off, len);
        // SAFETY: in bounds, disjoint (log vs user memory); no live references (see doc).
        unsafe { std::ptr::copy_nonoverlapping(s.cast_const(), d, len) }
    }
}

impl Mapping {
    /// crc32 of the bytes of `ranges`, in order, read through a freezing copy (they may be
    /// user data with padding).
    pub(crate) fn crc_of(&self, ranges: impl Iterator<Item = (u64, u64)>) -> u32 {
        // Copied out a page at a time (pool memory is read only through copies), never
        // gathered: a commit's ranges can be megabytes.
        let mut buf = [0u8; 4096];
        let mut crc = super::checksum::Crc32c::new();
        for (off, len) in ranges {
            let p = self.check(off as usize, len as usize);
            for at in (0..len as usize).step_by(buf.len()) {
                let n = (len as usize - at).min(buf.len());
                // SAFETY: p+at .. p+at+n lies in off .. off+len, mapped (check above); buf
                // has room for n bytes, and a stack buffer does not overlap pool memory.
                unsafe { copy_frozen(p.wrapping_add(at), buf.as_mut_ptr(), n) };
                crc.update(&buf[..n]);
            }
        }
        crc.finish()
    }
}

/// How `restore_to_file` writes a rollback: dense pages as runs of adjacent pages, each at
/// most `MAX_RUN` pages, read, patched and written whole; the rest as direct writes.
#[derive(Default)]
pub(crate) struct RestorePlan {
    pub runs: Vec<PageRun>,
    /// `(off, src, len)`: written with one `pwrite` each.
    pub direct: Vec<(u64, u64, u64)>,
}

/// A run of pages and the patches (offset in the run, source, length) that fall in it, in
/// the order given.
pub(crate) struct PageRun {
    pub off: u64,
    pub len: u64,
    pub patches: Vec<(u64, u64, u64)>,
}

const MAX_RUN: u64 = 64;

/// A page touched by at least this many saved ranges is restored whole: two calls (`pread`,
/// `pwrite`) and two page copies cost about what four small `pwrite`s do.
const DENSE: u32 = 4;

/// Plans `restore_to_file` for `saved` ranges `(off, src, len)`: every byte of every range
/// lands in exactly one patch or direct write, ranges split where they cross from dense
/// pages to sparse ones or from one run to the next.
pub(crate) fn restore_plan(saved: &[(u64, u64, u64)]) -> RestorePlan {
    let page = PAGE as u64;
    let saved: Vec<_> = saved.iter().copied().filter(|s| s.2 > 0).collect();
    let mut touched: Vec<u64> = Vec::new();
    for &(off, _, len) in &saved {
        touched.extend(off / page..=(off + len - 1) / page);
    }
    touched.sort_unstable();
    let mut plan = RestorePlan::default();
    let mut i = 0;
    while i < touched.len() {
        let p = touched[i];
        let n = touched[i..].iter().take_while(|&&q| q == p).count();
        i += n;
        if n < DENSE as usize {
            continue;
        }
        match plan.runs.last_mut() {
            Some(r) if r.off + r.len == p * page && r.len < MAX_RUN * page => r.len += page,
            _ => plan.runs.push(PageRun {
                off: p * page,
                len: page,
                patches: Vec::new(),
            }),
        }
    }
    for (off, src, len) in saved {
        let (mut at, end) = (off, off + len);
        while at < end {
            // The run holding `at`, if its page is dense.
            let r = plan.runs.partition_point(|r| r.off + r.len <= at);
            let n = match plan.runs.get_mut(r).filter(|r| r.off <= at) {
                Some(r) => {
                    let n = end.min(r.off + r.len) - at;
                    r.patches.push((at - r.off, src + (at - off), n));
                    n
                }
                None => {
                    // Up to the next dense run, or the end.
                    let stop = plan.runs.get(r).map_or(end, |r| end.min(r.off));
                    plan.direct.push((at, src + (at - off), stop - at));
                    stop - at
                }
            };
            at += n;
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::{DENSE, MAX_RUN, PAGE, restore_plan};

    #[test]
    fn a_restore_plan_writes_every_byte_once_dense_pages_whole() {
        let page = PAGE as u64;
        let far = 1000 * page;
        let mut saved = vec![];
        // Page 1: DENSE small ranges, one of them crossing into sparse page 2.
        for k in 0..DENSE as u64 - 1 {
            saved.push((page + 100 * k, (10 + k) << 40, 8));
        }
        saved.push((2 * page - 4, 1 << 40, 8));
        // Pages 10 .. 10 + MAX_RUN + 2: one long range (one touch each: sparse), then DENSE
        // ranges on each of its first MAX_RUN + 1 pages (dense: a run split at MAX_RUN).
        saved.push((10 * page, 2 << 40, (MAX_RUN + 2) * page));
        for q in 0..MAX_RUN + 1 {
            for k in 1..DENSE as u64 {
                saved.push(((10 + q) * page + 64 * k, (3 << 40) + q * 64 + k, 8));
            }
        }
        // Far away: a sparse range, and an empty one.
        saved.push((far + 5, 4 << 40, 1));
        saved.push((far + 9, 5 << 40, 0));
        let plan = restore_plan(&saved);
        let spans: Vec<(u64, u64)> = plan
            .runs
            .iter()
            .map(|r| (r.off / page, r.len / page))
            .collect();
        assert_eq!(spans, [(1, 1), (10, MAX_RUN), (10 + MAX_RUN, 1)]);
        for r in &plan.runs {
            for &(at, _, n) in &r.patches {
                assert!(at + n <= r.len, "a patch stays inside its run");
            }
        }
        // Every byte of every range, from the right source, exactly once.
        let mut got: Vec<(u64, u64)> = plan
            .runs
            .iter()
            .flat_map(|r| {
                r.patches
                    .iter()
                    .map(move |&(at, src, n)| (r.off + at, src, n))
            })
            .chain(plan.direct.iter().copied())
            .flat_map(|(off, src, n)| (0..n).map(move |i| (off + i, src + i)))
            .collect();
        got.sort_unstable();
        let mut want: Vec<(u64, u64)> = saved
            .iter()
            .flat_map(|&(off, src, n)| (0..n).map(move |i| (off + i, src + i)))
            .collect();
        want.sort_unstable();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the plan writes each saved byte once");
        // The long range: patched in its dense pages, written directly in the last one.
        assert!(plan.direct.contains(&(
            (11 + MAX_RUN) * page,
            (2 << 40) + (MAX_RUN + 1) * page,
            page
        )));
        assert!(plan.direct.contains(&(2 * page, (1 << 40) + 4, 4)));
        assert!(plan.direct.contains(&(far + 5, 4 << 40, 1)));
    }
}
