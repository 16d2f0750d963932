//! The persist shim: the one module that makes bytes durable. Every msync, cache-line flush and
//! fence in pcoll goes through [`Persister::persist`], which also counts barriers and synced
//! bytes and, in tests, tells a [`Recorder`] so a harness can build the crash images the medium
//! may hold at each persistence point (`docs/TESTING.md`).

#![allow(unsafe_code)]

use super::map::{Mapping, PAGE};
use crate::sync::{AtomicU64, Ordering};
use std::io;
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
pub enum Event {
    /// `off .. off + len` was made durable (a barrier: msync, or flush + fence).
    Persist { off: u64, len: u64 },
    /// An undo entry covering user memory was appended; the in-place write follows.
    Logged { off: u64, len: u64 },
    /// The file grew to `len` bytes (durably, before the header says so).
    Grow { len: u64 },
    /// A transaction was acknowledged to the caller as committed.
    Committed,
    /// A recovery step finished (for crash-during-recovery images).
    Recovery,
}

/// Receives every persistence event with the current bytes of the pool (`image`), in program
/// order. Tests implement it to keep a shadow of the durable medium.
pub trait Recorder: Send + Sync {
    fn event(&self, ev: Event, image: &[u8]);
}

/// How a barrier is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Barrier {
    None,
    Msync,
    /// Cache-line flush instruction + sfence (persistent memory).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Lines(LineFlush),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineFlush {
    Clwb,
    Clflushopt,
    Clflush,
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
    /// `dax`: the mapping is persistent memory (MAP_SYNC succeeded), so cache-line flushes
    /// reach the medium. `memory`: no medium at all.
    pub(crate) fn new(
        durability: Durability,
        dax: bool,
        memory: bool,
        recorder: Option<Arc<dyn Recorder>>,
    ) -> Self {
        let barrier = match durability {
            _ if memory && recorder.is_none() => Barrier::None,
            Durability::Process => Barrier::None,
            Durability::Sync if dax => line_flush().map_or(Barrier::Msync, Barrier::Lines),
            // With a recorder on a memory pool the barriers are simulated, so Sync is kept.
            Durability::Sync => Barrier::Msync,
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

    /// Makes `off .. off + len` durable. One call is one barrier.
    pub(crate) fn persist(&self, map: &Mapping, off: usize, len: usize) -> io::Result<()> {
        if self.barrier == Barrier::None || len == 0 {
            return Ok(());
        }
        match self.barrier {
            Barrier::None => {}
            Barrier::Msync => map.msync(off, len)?,
            Barrier::Lines(kind) => flush_lines(map, off, len, kind),
        }
        self.counters.barriers.fetch_add(1, Ordering::Relaxed);
        let unit = if matches!(self.barrier, Barrier::Msync) {
            PAGE
        } else {
            64
        };
        let first = off / unit * unit;
        let last = (off + len).div_ceil(unit) * unit;
        self.counters
            .synced_bytes
            .fetch_add((last - first) as u64, Ordering::Relaxed);
        self.note(
            map,
            Event::Persist {
                off: off as u64,
                len: len as u64,
            },
        );
        Ok(())
    }

    /// Makes every range durable with one barrier: one msync over their span (the kernel
    /// writes only the dirty pages in it), or every line flushed and one fence.
    pub(crate) fn persist_many(&self, map: &Mapping, ranges: &[(u64, u64)]) -> io::Result<()> {
        let lo = ranges.iter().map(|r| r.0).min();
        let hi = ranges.iter().map(|r| r.0 + r.1).max();
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(());
        };
        match self.barrier {
            Barrier::Lines(kind) => {
                for &(off, len) in &ranges[..ranges.len() - 1] {
                    flush_lines_only(map, off as usize, len as usize, kind);
                }
                let &(off, len) = ranges.last().expect("non-empty");
                self.persist(map, off as usize, len as usize)
            }
            _ => self.persist(map, lo as usize, (hi - lo) as usize),
        }
    }

    /// Tells the recorder, if any.
    pub(crate) fn note(&self, map: &Mapping, ev: Event) {
        if let Some(r) = &self.recorder {
            r.event(ev, &map.snapshot(map.len()));
        }
    }
}

/// Chooses the cache-line flush instruction, honouring `PCOLL_FLUSH=clflush|clflushopt|clwb`
/// (valgrind dies on clwb/clflushopt, so it can be told to use clflush).
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

/// Flushes every cache line of the range, then one fence: the stores before it are durable
/// once it retires (persistent-memory ordering).
fn flush_lines(map: &Mapping, off: usize, len: usize, kind: LineFlush) {
    flush_lines_only(map, off, len, kind);
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: sfence only orders stores.
    unsafe {
        std::arch::asm!("sfence", options(nostack, preserves_flags))
    };
}

/// Issues the flush instruction for every cache line of the range (no fence).
fn flush_lines_only(map: &Mapping, off: usize, len: usize, kind: LineFlush) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
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
