//! The persist shim: the one module that makes bytes durable. Every msync, cache-line flush and
//! fence in pcoll goes through [`Persister::persist`], which also counts barriers and synced
//! bytes and, in tests, tells a [`Recorder`] so a harness can build the crash images the medium
//! may hold at each persistence point (`docs/TESTING.md`).

#![allow(unsafe_code)]

use super::map::Mapping;
use super::sys::SysResult;
use crate::sync::{AtomicU64, Ordering};
use std::sync::Arc;

/// How far a committed transaction survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives power loss: msync on ordinary files, cache-line flush + fence on a DAX mapping.
    #[default]
    Sync,
    /// Survives a killed process (the page cache keeps every store), not a power cut; issues
    /// no flush at all.
    Process,
}

/// What the recorder is told. Offsets are pool-relative bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `off .. off + len` is handed to the medium by the barrier that follows.
    Persist {
        /// First byte.
        off: u64,
        /// Bytes.
        len: u64,
    },
    /// The barrier: every range announced since the last one is durable now.
    Barrier,
    /// An undo entry covering `off .. off + len` was appended; the in-place write follows.
    Logged {
        /// First byte saved.
        off: u64,
        /// Bytes saved.
        len: u64,
    },
    /// The file grew to `len` bytes (durably, before the header says so).
    Grow {
        /// The new length.
        len: u64,
    },
    /// A transaction was acknowledged to the caller as committed.
    Committed,
    /// Recovery (or an abort) finished restoring saved bytes.
    Recovery,
}

/// Receives every persistence event with the current bytes of the pool (`image`), in program
/// order. Tests implement it to keep a shadow of the durable medium.
pub trait Recorder: Send + Sync {
    /// Called at each event with the pool's bytes as they are in memory at that point.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// use pcoll::{Event, Recorder};
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[derive(Default)]
    /// struct Events(Mutex<Vec<Event>>);
    /// impl Recorder for Events {
    ///     fn event(&self, ev: Event, _image: &[u8]) {
    ///         self.0.lock().unwrap().push(ev);
    ///     }
    /// }
    ///
    /// let events = Arc::new(Events::default());
    /// let pool = Pool::<Root>::options().recorder(events.clone()).in_memory()?;
    /// events.0.lock().unwrap().clear();
    /// pool.write().v.push(1);
    /// let seen = events.0.lock().unwrap();
    /// assert!(seen.contains(&Event::Barrier));
    /// assert_eq!(seen.last(), Some(&Event::Committed));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    fn event(&self, ev: Event, image: &[u8]);
}

/// The medium a memory pool simulates when a recorder watches it (crash-image tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Medium {
    /// An ordinary file, as `Durability::Sync` drives it: private mapping, write-back at commit.
    #[default]
    File,
    /// Persistent memory: shared mapping, cache-line flush + fence per logging step.
    Pmem,
}

/// How a barrier is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Barrier {
    /// No medium to reach (`Durability::Process`, memory pools).
    None,
    /// `pwrite` the ranges from the private mapping, then `fdatasync` (ordinary files).
    WriteBack,
    /// Cache-line flush of the ranges, then `sfence` (persistent memory).
    Lines(LineFlush),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineFlush {
    Clwb,
    Clflushopt,
    Clflush,
    /// Memory pools simulating persistent memory: the fence is only an event.
    Simulated,
}

/// Exact counters, readable through `Pool::stats()`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub barriers: AtomicU64,
    pub synced_bytes: AtomicU64,
}

pub(crate) struct Persister {
    barrier: Barrier,
    recorder: Option<Arc<dyn Recorder>>,
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for Persister {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persister")
            .field("barrier", &self.barrier)
            .field("recorder", &self.recorder.is_some())
            .finish()
    }
}

impl Persister {
    /// `memory`: an anonymous mapping (no medium unless a recorder simulates `medium`).
    /// `dax`: a file mapped with `MAP_SYNC` (persistent memory).
    pub(crate) fn new(
        durability: Durability,
        memory: bool,
        dax: bool,
        medium: Medium,
        recorder: Option<Arc<dyn Recorder>>,
    ) -> Self {
        let barrier = match (durability, memory) {
            (Durability::Process, _) => Barrier::None,
            (Durability::Sync, true) if recorder.is_none() => Barrier::None,
            (Durability::Sync, true) => match medium {
                Medium::File => Barrier::WriteBack,
                Medium::Pmem => Barrier::Lines(LineFlush::Simulated),
            },
            (Durability::Sync, false) if dax => {
                line_flush().map_or(Barrier::WriteBack, Barrier::Lines)
            }
            (Durability::Sync, false) => Barrier::WriteBack,
        };
        Persister {
            barrier,
            recorder,
            counters: Counters::default(),
        }
    }

    /// True when barriers do anything: callers skip the bookkeeping otherwise.
    pub(crate) fn is_durable(&self) -> bool {
        self.barrier != Barrier::None
    }

    /// True when changes can reach the medium as soon as they are stored (a shared mapping
    /// of persistent memory), so each undo entry needs its own barrier before the change.
    /// False for write-back: nothing reaches the file before commit writes it.
    pub(crate) fn per_step(&self) -> bool {
        matches!(self.barrier, Barrier::Lines(_))
    }

    /// Makes `off .. off + len` durable. One call is one barrier.
    pub(crate) fn persist(&self, map: &Mapping, off: usize, len: usize) -> SysResult<()> {
        self.persist_many(map, &[(off as u64, len as u64)])
    }

    /// Makes every range durable with one barrier: written back and one `fdatasync`, or every
    /// line flushed and one fence.
    pub(crate) fn persist_many(&self, map: &Mapping, ranges: &[(u64, u64)]) -> SysResult<()> {
        self.persist_ordered(map, &coalesce(ranges))
    }

    /// [`Self::persist_many`] with `last` written after every other range: a commit record
    /// goes to the file only once the bytes it vouches for were handed over, so a write that
    /// fails part way leaves the file without it (the barrier itself orders nothing: a crash
    /// may still keep any subset, which the record's checksum covers).
    pub(crate) fn persist_last(
        &self,
        map: &Mapping,
        ranges: &[(u64, u64)],
        last: (u64, u64),
    ) -> SysResult<()> {
        let mut v = coalesce(ranges);
        v.push(last);
        self.persist_ordered(map, &v)
    }

    fn persist_ordered(&self, map: &Mapping, ranges: &[(u64, u64)]) -> SysResult<()> {
        if self.barrier == Barrier::None || ranges.is_empty() {
            return Ok(());
        }
        if self.recorder.is_some() {
            for &(off, len) in ranges {
                self.note(map, Event::Persist { off, len });
            }
        }
        let bytes: u64 = match self.barrier {
            Barrier::None => 0,
            Barrier::WriteBack => {
                map.write_back(ranges)?;
                ranges.iter().map(|r| r.1).sum()
            }
            Barrier::Lines(kind) => {
                for &(off, len) in ranges {
                    flush_lines_only(map, off as usize, len as usize, kind);
                }
                fence(kind);
                ranges
                    .iter()
                    .map(|&(o, l)| (o + l).div_ceil(64) * 64 - o / 64 * 64)
                    .sum()
            }
        };
        self.counters.barriers.fetch_add(1, Ordering::Relaxed);
        self.counters
            .synced_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        self.note(map, Event::Barrier);
        Ok(())
    }

    /// A barrier over nothing new: on a write-back file an `fdatasync`, which makes earlier
    /// hand-overs durable. Nothing elsewhere.
    pub(crate) fn barrier(&self, map: &Mapping) -> SysResult<()> {
        if self.barrier != Barrier::WriteBack {
            return Ok(());
        }
        map.write_back(&[])?;
        self.counters.barriers.fetch_add(1, Ordering::Relaxed);
        self.note(map, Event::Barrier);
        Ok(())
    }

    /// Hands `ranges` to the medium without a barrier: on a write-back file, `pwrite`s that
    /// the next barrier makes durable (redo commits' home writes). Nothing elsewhere.
    pub(crate) fn hand_over(&self, map: &Mapping, ranges: &[(u64, u64)]) -> SysResult<()> {
        if self.barrier != Barrier::WriteBack {
            return Ok(());
        }
        let ranges = coalesce(ranges);
        if self.recorder.is_some() {
            for &(off, len) in &ranges {
                self.note(map, Event::Persist { off, len });
            }
        }
        map.write_ranges(&ranges)?;
        let bytes: u64 = ranges.iter().map(|r| r.1).sum();
        self.counters
            .synced_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// `ranges` were written to the medium by other means (recovery's `pwrite`s): counted,
    /// and noted for a recorder as handed over without a barrier.
    pub(crate) fn handed(&self, map: &Mapping, ranges: &[(u64, u64)]) {
        if self.recorder.is_some() {
            for &(off, len) in ranges {
                self.note(map, Event::Persist { off, len });
            }
        }
        let bytes: u64 = ranges.iter().map(|r| r.1).sum();
        self.counters
            .synced_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// Tells the recorder, if any.
    pub(crate) fn note(&self, map: &Mapping, ev: Event) {
        if let Some(r) = &self.recorder {
            r.event(ev, &map.snapshot(map.len()));
        }
    }
}

/// Ranges `(offset, length)` sorted by offset, empty ones dropped, and each merged into the
/// one before when they overlap or touch, or when `joins(end of the one before, offset)`
/// says so. The one home of range merging: commits, redo records and barriers differ only in
/// `joins`.
pub(crate) fn merge_ranges(
    mut v: Vec<(u64, u64)>,
    joins: impl Fn(u64, u64) -> bool,
) -> Vec<(u64, u64)> {
    v.retain(|r| r.1 > 0);
    if !v.is_sorted_by_key(|r| r.0) {
        v.sort_unstable_by_key(|r| r.0);
    }
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (off, len) in v {
        match out.last_mut() {
            Some(last) if off <= last.0 + last.1 || joins(last.0 + last.1, off) => {
                last.1 = last.1.max(off + len - last.0);
            }
            _ => out.push((off, len)),
        }
    }
    out
}

/// Ranges merged (`merge_ranges`) where they are less than `GAP` bytes apart or the next one
/// starts in the page where the last ends or the page after it: one `pwrite` instead of many
/// (the kernel's cost is per call and per page, and those pages are dirtied anyway, so no
/// page is written that would not be). The bytes in a gap are written unchanged: every change
/// in the private mapping lies in a range the transaction reports, so gap bytes equal the
/// file's (or are free memory, whose contents do not matter).
fn coalesce(ranges: &[(u64, u64)]) -> Vec<(u64, u64)> {
    const GAP: u64 = 256;
    const PAGE: u64 = crate::heap::map::PAGE as u64;
    merge_ranges(ranges.to_vec(), |end, off| {
        off <= end + GAP || off / PAGE <= (end - 1) / PAGE + 1
    })
}

/// Chooses the cache-line flush instruction, honouring `PCOLL_FLUSH=clflush|clflushopt|clwb`
/// (valgrind dies on clwb/clflushopt, so it can be told to use clflush).
/// True when this CPU has a cache-line flush instruction (what a DAX pool's barrier needs).
pub(crate) fn can_flush_lines() -> bool {
    line_flush().is_some()
}

fn line_flush() -> Option<LineFlush> {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let forced = std::env::var("PCOLL_FLUSH").ok();
        match forced.as_deref() {
            Some("clflush") => return Some(LineFlush::Clflush),
            Some("clflushopt") => return Some(LineFlush::Clflushopt),
            Some("clwb") => return Some(LineFlush::Clwb),
            _ => {}
        }
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        if leaf7.ebx & (1 << 24) != 0 {
            Some(LineFlush::Clwb)
        } else if leaf7.ebx & (1 << 23) != 0 {
            Some(LineFlush::Clflushopt)
        } else {
            Some(LineFlush::Clflush)
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        None
    }
}

/// One store fence: the flushes before it are complete once it retires.
fn fence(kind: LineFlush) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if kind != LineFlush::Simulated {
        // SAFETY: sfence only orders stores.
        unsafe { std::arch::asm!("sfence", options(nostack, preserves_flags)) };
    }
    let _ = kind;
}

/// Issues the flush instruction for every cache line of the range (no fence).
fn flush_lines_only(map: &Mapping, off: usize, len: usize, kind: LineFlush) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if kind != LineFlush::Simulated {
        use std::arch::asm;
        let start = off & !63;
        let end = (off + len).min(map.len());
        let mut line = start;
        while line < end {
            // SAFETY: line is inside the mapped range (end is clamped to it).
            let p = unsafe { map.base().add(line) };
            // SAFETY: flushing a mapped cache line has no effect on program memory.
            unsafe {
                match kind {
                    LineFlush::Simulated => {}
                    LineFlush::Clwb => asm!("clwb [{0}]", in(reg) p, options(nostack)),
                    LineFlush::Clflushopt => asm!("clflushopt [{0}]", in(reg) p, options(nostack)),
                    LineFlush::Clflush => asm!("clflush [{0}]", in(reg) p, options(nostack)),
                }
            }
            line += 64;
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        let _ = (map, off, len, kind);
    }
}

#[cfg(test)]
mod tests {
    use super::{coalesce, merge_ranges};

    #[test]
    fn merge_ranges_joins_overlaps_touches_and_what_joins_says() {
        let v = vec![(100, 10), (0, 8), (8, 4), (5, 2), (140, 0), (126, 4)];
        assert_eq!(
            merge_ranges(v.clone(), |_, _| false),
            vec![(0, 12), (100, 10), (126, 4)]
        );
        let near = |end: u64, off: u64| off <= end + 16;
        assert_eq!(merge_ranges(v, near), vec![(0, 12), (100, 30)]);
    }

    #[test]
    fn coalesce_sorts_merges_near_ranges_and_drops_empty_ones() {
        let got = coalesce(&[
            (1000, 8),
            (0, 16),
            (16, 8),
            (2000, 0),
            (9000, 10),
            (1010, 100),
        ]);
        assert_eq!(got, vec![(0, 1110), (9000, 10)], "same page: one write");
        // The next page joins (both are dirtied anyway); a page in between does not.
        assert_eq!(coalesce(&[(4000, 8), (8100, 8)]), vec![(4000, 4108)]);
        assert_eq!(
            coalesce(&[(4000, 8), (12300, 8)]),
            vec![(4000, 8), (12300, 8)]
        );
        assert_eq!(coalesce(&[(8000, 8), (8300, 8)]), vec![(8000, 308)]);
        assert_eq!(
            coalesce(&[(0, 100), (10, 20)]),
            vec![(0, 100)],
            "contained ranges"
        );
    }
}
