//! `Pool::check()`: the heap proves allocated = reachable. Each `Persistent` value reports the
//! blocks it owns to a [`Visitor`]; the heap lists what its metadata says is allocated; any
//! difference (a leak, a block owned twice, a pointer to no block) is damage.
//!
//! One walk of the allocator's metadata fills a table of the allocated blocks; the walk from
//! the root then counts, per block, the owners that reached it, so the comparison at the end
//! reads only that table (no second walk, no list of every pointer). Both walks report their
//! [`Progress`] to a callback.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;

use super::Heap;
use crate::error::{Error, Result};

/// A table keyed by pool offset, with a fixed-key hash as the transaction's tables use (a
/// crafted file could at worst slow its own check down).
pub(crate) type ByOffset<V> = HashMap<u64, V, BuildHasherDefault<ahash::AHasher>>;

/// An allocated block in the check's table: its size and how many owners reached it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    size: usize,
    owners: u32,
}

/// The reachability walk reports its progress every this many blocks.
const TICK: u64 = 4096;

/// Walks the pool blocks reachable from the root during `Pool::check()`. Containers call
/// `Visitor::enter` for each block they own and descend into it only when it says yes, so a
/// damaged pointer is reported, never followed.
pub struct Visitor<'a> {
    allocated: &'a mut ByOffset<Slot>,
    /// Reached offsets that are not allocated blocks, and how often.
    stray: ByOffset<u32>,
    /// Broken invariants reported by the values' `visit`.
    problems: Vec<String>,
    /// Pointers to no block or to a block too small, in the order they were reached.
    pointers: Vec<String>,
    /// Allocated blocks entered (each once), and who hears of it every [`TICK`] of them.
    entered: u64,
    tick: &'a mut dyn FnMut(u64),
}

impl fmt::Debug for Visitor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Visitor")
            .field("allocated_blocks", &self.allocated.len())
            .field("entered", &self.entered)
            .field("problems", &self.problems)
            .field("pointers", &self.pointers)
            .finish_non_exhaustive()
    }
}

impl Visitor<'_> {
    /// A value owns `size` bytes at pool offset `off`. True when that is an allocated block
    /// large enough, reached for the first time: then the owner may read it and descend.
    pub(crate) fn enter(&mut self, off: u64, size: usize) -> bool {
        let Some(slot) = self.allocated.get_mut(&off) else {
            self.pointers
                .push(format!("reachable pointer {off} is not an allocated block"));
            *self.stray.entry(off).or_default() += 1;
            return false;
        };
        slot.owners = slot.owners.saturating_add(1);
        if slot.size < size {
            let have = slot.size;
            self.pointers.push(format!(
                "block {off} has {have} bytes, its owner uses {size}"
            ));
            return false;
        }
        if slot.owners > 1 {
            return false;
        }
        self.entered += 1;
        if self.entered.is_multiple_of(TICK) {
            (self.tick)(self.entered);
        }
        true
    }

    /// Reports a broken invariant that a value's `visit` found (`check()` then fails with
    /// `Error::Corrupted`, listing it).
    ///
    /// ```
    /// use pcoll::{Fingerprint, Persistent, Pool, Visitor};
    ///
    /// /// A counter that must stay even.
    /// #[derive(Default)]
    /// struct Even(u64);
    ///
    /// // SAFETY: plain data (one integer): no addresses, owns nothing.
    /// unsafe impl Persistent for Even {
    ///     fn layout(fp: &mut Fingerprint) {
    ///         fp.primitive("Even", 8, 8);
    ///     }
    ///     fn visit(&self, v: &mut Visitor<'_>) {
    ///         if self.0 % 2 != 0 {
    ///             v.problem(format!("Even holds {}", self.0));
    ///         }
    ///     }
    /// }
    ///
    /// let pool = Pool::<Even>::options().in_memory()?;
    /// pool.write().0 = 2;
    /// assert!(pool.check().is_ok());
    /// pool.write().0 = 3;
    /// let res = pool.check();
    /// assert!(matches!(res, Err(pcoll::Error::Corrupted { what, .. }) if what.contains("holds 3")));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn problem(&mut self, what: String) {
        self.problems.push(what);
    }
}

/// What `Pool::check()` found in a healthy pool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Allocated blocks (all reachable).
    pub blocks: usize,
    /// Bytes in those blocks, counted at their allocated (class or page) size.
    pub allocated_bytes: u64,
    /// The pool's size in bytes.
    pub pool_bytes: u64,
}

impl Heap {
    /// Allocated blocks and their sizes, for the [`Visitor`]: one walk of the metadata;
    /// `walked` hears the bytes of the pool walked, after each segment.
    pub(crate) fn allocated_table(&mut self, walked: impl FnMut(u64)) -> Result<ByOffset<Slot>> {
        let mut table = ByOffset::default();
        self.each_block(
            |off, b| {
                let slot = Slot {
                    size: b.size(),
                    owners: 0,
                };
                table.insert(off, slot);
            },
            walked,
        )?;
        Ok(table)
    }

    /// Compares the blocks reached from the root (root block included) with the blocks the
    /// allocator's metadata says are allocated: every allocated block reached exactly once,
    /// no pointer to anything else.
    pub(crate) fn reconcile(&self, v: Visitor<'_>) -> Result<CheckReport> {
        let mut problems = v.problems;
        problems.extend(v.pointers);
        let mut owned_twice: Vec<(u64, u32)> = v
            .allocated
            .iter()
            .map(|(&off, s)| (off, s.owners))
            .chain(v.stray)
            .filter(|&(_, n)| n > 1)
            .collect();
        owned_twice.sort_unstable();
        for (off, n) in owned_twice {
            problems.push(format!("block {off} is owned {n} times"));
        }
        let mut leaked: Vec<u64> = v
            .allocated
            .iter()
            .filter(|(_, s)| s.owners == 0)
            .map(|(&off, _)| off)
            .collect();
        leaked.sort_unstable();
        leaked.truncate(8);
        if !leaked.is_empty() {
            problems.push(format!(
                "leaked blocks (allocated, unreachable): {leaked:?}"
            ));
        }
        if !problems.is_empty() {
            return Err(Error::corrupted(self.path(), problems.join("; ")));
        }
        Ok(CheckReport {
            blocks: v.allocated.len(),
            allocated_bytes: v.allocated.values().map(|s| s.size as u64).sum(),
            pool_bytes: self.valid_size(),
        })
    }
}

impl<'a> Visitor<'a> {
    /// A visitor over the table of [`Heap::allocated_table`]; `tick` hears how many
    /// allocated blocks have been entered, every few thousand.
    pub(crate) fn new(allocated: &'a mut ByOffset<Slot>, tick: &'a mut dyn FnMut(u64)) -> Self {
        Visitor {
            allocated,
            stray: ByOffset::default(),
            problems: Vec::new(),
            pointers: Vec::new(),
            entered: 0,
            tick,
        }
    }
}

/// How far a check has come: what the callback of [`Pool::check_with_progress`] and
/// [`inspect::inspect_with_progress`] is given, after every heap segment (4 MiB) of the
/// allocator walk and every 4096 blocks of the reachability walk.
///
/// `done` and `total` count bytes of the pool, once per walk. The allocator walk
/// ([`Walk::Allocator`]) advances segment by segment through the pool's bytes; the
/// reachability walk ([`Walk::Reachability`], `Pool::check` only) counts as one more pass
/// over them, advanced in proportion to the allocated blocks it has reached (its time goes
/// per block, not per byte). So `total` is the pool's size for `inspect` and twice that for
/// `Pool::check`, and stays the same during a check; `done` never decreases and never
/// exceeds `total`; the first call has `done == 0` and the last, made before the check
/// returns whatever it found, `done == total`.
///
/// [`Pool::check_with_progress`]: crate::Pool::check_with_progress
/// [`inspect::inspect_with_progress`]: crate::inspect::inspect_with_progress
///
/// # Examples
/// ```
/// # use pcoll::{PVec, Persistent, Pool, Progress, Walk};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<PVec<u64>> }
/// let pool = Pool::<Root>::options().in_memory()?;
/// pool.write().v.extend((0..10_000).map(|i| PVec::from([i])));
/// let mut calls: Vec<Progress> = Vec::new();
/// pool.check_with_progress(|p| calls.push(p))?;
/// let last = calls.last().unwrap();
/// assert_eq!(last.done, last.total);
/// assert_eq!(last.total, 2 * pool.stats().pool_bytes);
/// assert!(calls.iter().any(|p| p.walk == Walk::Reachability && p.done < p.total));
/// assert!(calls.windows(2).all(|w| w[0].done <= w[1].done));
/// # Ok::<(), pcoll::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// The work done, in bytes of the pool per walk.
    pub done: u64,
    /// All the work of the check, in the same unit.
    pub total: u64,
    /// The walk under way.
    pub walk: Walk,
}

impl Progress {
    /// `done` as a fraction of `total`, from 0.0 to 1.0 (1.0 when there is nothing to do).
    ///
    /// # Examples
    /// ```
    /// let mut last = 0.0;
    /// pcoll::Pool::<u64>::options()
    ///     .in_memory()?
    ///     .check_with_progress(|p| last = p.fraction())?;
    /// assert_eq!(last, 1.0);
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }
}

/// The walk that a [`Progress`] reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Walk {
    /// The allocator's metadata, segment by segment: which blocks are allocated.
    Allocator,
    /// The values, from the root down: every block they own, each once.
    Reachability,
}

impl Walk {
    /// What the walk reads, in a few words (`"allocator metadata"`, `"reachability"`).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(pcoll::Walk::Allocator.describe(), "allocator metadata");
    /// ```
    pub fn describe(&self) -> &'static str {
        match self {
            Walk::Allocator => "allocator metadata",
            Walk::Reachability => "reachability",
        }
    }
}
