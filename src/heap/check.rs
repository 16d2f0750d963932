//! `Pool::check()`: the heap proves allocated = reachable. Each `Persistent` value reports the
//! blocks it owns to a [`Visitor`]; the heap lists what its metadata says is allocated; any
//! difference (a leak, a block owned twice, a pointer to no block) is damage.

use std::collections::HashMap;

use super::Heap;
use super::alloc::Block;
use crate::error::{Error, Result};

/// Walks the pool blocks reachable from the root during `Pool::check()`. Containers call
/// `Visitor::enter` for each block they own and descend into it only when it says yes, so a
/// damaged pointer is reported, never followed.
#[derive(Debug)]
pub struct Visitor<'a> {
    pub(crate) allocated: &'a HashMap<u64, usize>,
    pub(crate) reached: Vec<(u64, usize)>,
    pub(crate) seen: std::collections::HashSet<u64>,
    pub(crate) problems: Vec<String>,
}

impl Visitor<'_> {
    /// A value owns `size` bytes at pool offset `off`. True when that is an allocated block
    /// large enough, reached for the first time: then the owner may read it and descend.
    pub(crate) fn enter(&mut self, off: u64, size: usize) -> bool {
        self.reached.push((off, size));
        self.seen.insert(off) && self.allocated.get(&off).is_some_and(|&have| have >= size)
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
    /// Allocated blocks and their sizes, for the [`Visitor`].
    pub(crate) fn allocated_map(&mut self) -> Result<HashMap<u64, usize>> {
        Ok(self
            .blocks()?
            .into_iter()
            .map(|(o, b)| (o, b.size()))
            .collect())
    }

    /// Compares the blocks reachable from the root (`reached`, root block included) with the
    /// blocks the allocator's metadata says are allocated.
    pub(crate) fn reconcile(
        &mut self,
        reached: &[(u64, usize)],
        problems: Vec<String>,
    ) -> Result<CheckReport> {
        let mut problems = problems;
        let blocks = self.blocks()?;
        let allocated: HashMap<u64, Block> = blocks.iter().copied().collect();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for &(off, size) in reached {
            match allocated.get(&off) {
                None => problems.push(format!("reachable pointer {off} is not an allocated block")),
                Some(b) if b.size() < size => problems.push(format!(
                    "block {off} has {} bytes, its owner uses {size}",
                    b.size()
                )),
                Some(_) => {}
            }
            *seen.entry(off).or_default() += 1;
        }
        for (off, n) in &seen {
            if *n > 1 {
                problems.push(format!("block {off} is owned {n} times"));
            }
        }
        let leaked: Vec<u64> = blocks
            .iter()
            .map(|(o, _)| *o)
            .filter(|o| !seen.contains_key(o))
            .take(8)
            .collect();
        if !leaked.is_empty() {
            problems.push(format!(
                "leaked blocks (allocated, unreachable): {leaked:?}"
            ));
        }
        if !problems.is_empty() {
            return Err(Error::corrupted(self.path(), problems.join("; ")));
        }
        Ok(CheckReport {
            blocks: blocks.len(),
            allocated_bytes: blocks.iter().map(|(_, b)| b.size() as u64).sum(),
            pool_bytes: self.valid_size(),
        })
    }
}
