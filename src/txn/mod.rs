//! Transactions: the undo log protocol of `docs/format.md`.
//!
//! - Before a range of pool memory changes, its old bytes go to the log (once per byte per
//!   transaction, [`lines::Lines`]); in `Durability::Sync` that entry is durable before the
//!   change can reach the medium (one barrier per logging step).
//! - Memory allocated by the transaction is not logged; frees wait for commit.
//! - Commit: apply the deferred frees (logged like any change), make every changed range
//!   durable (one barrier), then write the commit record (one barrier). Nothing is zeroed.
//! - Abort (in process) and recovery (on open) copy the saved bytes back, make them durable,
//!   and write the commit record for the abandoned generation, so its entries are dead.
//!   Recovery is idempotent: until that record is durable, running it again restores the same
//!   bytes again. Its cost is the size of the interrupted transaction.

pub(crate) mod core;
pub(crate) mod lines;
pub(crate) mod log;

use crate::error::Result;
use crate::heap::persist::Event;
use crate::heap::{Heap, HeapIo, Undo};
use lines::Lines;
use log::{Entry, LogChain};
use smallvec::SmallVec;

/// Log space an allocator call may need: a bitmap word, a full segment of page descriptors,
/// a huge segment's state word, each with its entry header.
/// The usual one or two runs of a log request, inline.
type Runs = SmallVec<[(u64, u64); 2]>;

const ALLOC_LOG_RESERVE: u64 = 3 * log::ENTRY_HDR as u64 + 8 + 2 * 1024 + 8;

/// Counters since the pool was opened (exact, not sampled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxnStats {
    /// Transactions committed (empty ones included).
    pub commits: u64,
    /// Transactions rolled back in this process.
    pub aborts: u64,
    /// Bytes written to the undo log (entry headers included).
    pub log_bytes: u64,
    /// Undo entries written.
    pub log_entries: u64,
}

#[derive(Debug)]
pub(crate) struct Txn {
    /// The last finished generation (as in the commit record).
    done_gen: u64,
    /// The open transaction's generation, 0 when none is open.
    gen_: u64,
    lines: Lines,
    chain: LogChain,
    entries: Vec<Entry>,
    /// Ranges written without logging (fresh memory), to make durable at commit.
    fresh: Vec<(u64, u64)>,
    frees: Vec<u64>,
    pub(crate) stats: TxnStats,
}

impl Txn {
    /// Loads the log and rolls back the interrupted transaction, if any.
    pub(crate) fn open(heap: &mut Heap) -> Result<Txn> {
        let chain = LogChain::load(heap)?;
        let done_gen = log::read_done_gen(heap)?;
        let (g, entries) = chain.scan(heap, done_gen);
        let mut txn = Txn {
            done_gen,
            gen_: 0,
            lines: Lines::default(),
            chain,
            entries,
            fresh: Vec::new(),
            frees: Vec::new(),
            stats: TxnStats::default(),
        };
        if g > done_gen {
            txn.gen_ = g;
            txn.roll_back(heap)?;
        }
        Ok(txn)
    }

    /// Writes the first commit record of a new pool.
    pub(crate) fn format(heap: &mut Heap) -> Result<()> {
        log::write_done_gen(&heap.io, heap.hdr.log_off, 1)?;
        log::write_done_gen(&heap.io, heap.hdr.log_off, 2)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.gen_ != 0
    }

    pub(crate) fn begin(&mut self) {
        debug_assert!(!self.is_open(), "transaction already open");
        self.gen_ = self.done_gen + 1;
        self.chain.rewind();
    }

    /// Saves `off .. off + len` before it changes. `from` is the caller's own pointer to the
    /// range, when it holds a reference to it.
    pub(crate) fn log(
        &mut self,
        heap: &mut Heap,
        off: u64,
        len: u64,
        from: Option<*const u8>,
    ) -> Result<()> {
        debug_assert!(self.is_open());
        let mut runs: Runs = SmallVec::new();
        self.lines.claim(off, len, |a, n| runs.push((a, n)));
        if runs.is_empty() {
            return Ok(());
        }
        let need: u64 = runs.iter().map(|r| r.1 + log::ENTRY_HDR as u64 + 8).sum();
        self.chain.reserve(heap, need)?;
        let mut sink = Sink { txn: self };
        for &(a, n) in runs.iter() {
            let src = from.map(|p| p.wrapping_add((a - off) as usize));
            sink.append(&heap.io, a, n, src)?;
        }
        Ok(())
    }

    pub(crate) fn alloc(&mut self, heap: &mut Heap, size: usize, align: usize) -> Result<u64> {
        self.chain.reserve(heap, ALLOC_LOG_RESERVE)?;
        let off = heap.alloc(&mut Sink { txn: self }, size, align)?;
        self.fresh.push((off, size as u64));
        Ok(off)
    }

    #[allow(dead_code)] // PVec growth (issue 3)
    pub(crate) fn grow_in_place(&mut self, heap: &mut Heap, off: u64, size: usize) -> Result<bool> {
        self.chain.reserve(heap, ALLOC_LOG_RESERVE)?;
        let grown = heap.grow_in_place(&mut Sink { txn: self }, off, size)?;
        if grown {
            self.fresh.push((off, size as u64));
        }
        Ok(grown)
    }

    /// Frees `off` when the transaction commits.
    pub(crate) fn free(&mut self, off: u64) {
        self.frees.push(off);
    }

    /// A range written without logging (fresh memory) must be durable at commit.
    #[allow(dead_code)] // containers that initialise fresh memory piecewise
    pub(crate) fn mark_fresh(&mut self, off: u64, len: u64) {
        self.fresh.push((off, len));
    }

    /// Commits: frees, durability of every changed range, then the commit record. On an
    /// error the transaction is rolled back before the error is returned.
    pub(crate) fn commit(&mut self, heap: &mut Heap) -> Result<()> {
        debug_assert!(self.is_open());
        let res = self.try_commit(heap);
        if res.is_err() {
            self.abort(heap)?;
        }
        res
    }

    fn try_commit(&mut self, heap: &mut Heap) -> Result<()> {
        if self.entries.is_empty() && self.fresh.is_empty() && self.frees.is_empty() {
            self.stats.commits += 1;
            self.finish(); // nothing changed: no record, the generation is reused
            return Ok(());
        }
        for off in std::mem::take(&mut self.frees) {
            self.chain.reserve(heap, ALLOC_LOG_RESERVE)?;
            heap.free(&mut Sink { txn: self }, off)?;
        }
        if heap.io.persist.is_durable() {
            let mut ranges: Vec<(u64, u64)> = self.entries.iter().map(|e| (e.off, e.len)).collect();
            ranges.extend_from_slice(&self.fresh);
            heap.io.persist_many(&ranges)?; // closes: changed bytes not yet on the medium
        }
        log::write_done_gen(&heap.io, heap.hdr.log_off, self.gen_)?; // the commit point
        self.done_gen = self.gen_;
        heap.io.persist.note(&heap.io.map, Event::Committed);
        self.stats.commits += 1;
        self.finish();
        Ok(())
    }

    /// Rolls back in process: restores every saved range and retires the generation.
    pub(crate) fn abort(&mut self, heap: &mut Heap) -> Result<()> {
        self.stats.aborts += 1;
        let res = self.roll_back(heap);
        heap.reset_volatile();
        res
    }

    fn roll_back(&mut self, heap: &mut Heap) -> Result<()> {
        for e in &self.entries {
            heap.io
                .map
                .restore(e.off as usize, e.data as usize, e.len as usize);
        }
        let ranges: Vec<(u64, u64)> = self.entries.iter().map(|e| (e.off, e.len)).collect();
        let res = heap.io.persist_many(&ranges).and_then(|()| {
            heap.io.persist.note(&heap.io.map, Event::Recovery);
            log::write_done_gen(&heap.io, heap.hdr.log_off, self.gen_)
        });
        if res.is_ok() {
            self.done_gen = self.gen_;
        }
        self.frees.clear();
        self.finish();
        res
    }

    fn finish(&mut self) {
        self.gen_ = 0;
        self.entries.clear();
        self.fresh.clear();
        self.frees.clear();
        self.lines.clear();
    }
}

/// The transaction seen by the allocator: appends (space reserved beforehand) and makes
/// each entry durable before the allocator writes.
struct Sink<'a> {
    txn: &'a mut Txn,
}

impl Sink<'_> {
    fn append(&mut self, io: &HeapIo, off: u64, len: u64, from: Option<*const u8>) -> Result<()> {
        let t = &mut *self.txn;
        let first = t.entries.len();
        let (start, end) = t.chain.append(io, t.gen_, off, len, from, &mut t.entries)?;
        t.stats.log_entries += (t.entries.len() - first) as u64;
        t.stats.log_bytes += end.wrapping_sub(start);
        if io.persist.is_durable() {
            // Closes: the in-place write reaching the medium before its undo entry.
            let written: Vec<(u64, u64)> = t.entries[first..]
                .iter()
                .map(|e| {
                    (
                        e.data - log::ENTRY_HDR as u64,
                        e.len + log::ENTRY_HDR as u64,
                    )
                })
                .collect();
            io.persist_many(&written)?;
        }
        io.persist.note(&io.map, Event::Logged { off, len });
        // Process durability: the entry must precede the in-place write in program order.
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

impl Undo for Sink<'_> {
    fn log(&mut self, io: &HeapIo, off: usize, len: usize) -> Result<()> {
        let mut runs: Runs = SmallVec::new();
        self.txn
            .lines
            .claim(off as u64, len as u64, |a, n| runs.push((a, n)));
        for &(a, n) in runs.iter() {
            self.append(io, a, n, None)?;
        }
        Ok(())
    }

    fn fresh(&mut self, off: usize, len: usize) {
        self.txn.fresh.push((off as u64, len as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::alloc::tests::memory_heap;

    fn fill(heap: &Heap, off: u64, len: usize, v: u8) {
        heap.io.map.write_bytes(off as usize, &vec![v; len]);
    }

    fn bytes(heap: &Heap, off: u64, len: usize) -> Vec<u8> {
        heap.io.map.bytes(off as usize, len).to_vec()
    }

    #[test]
    fn recovery_restores_logged_ranges() {
        let mut heap = memory_heap(512 << 10, 8 << 20);
        Txn::format(&mut heap).unwrap();
        let mut t = Txn::open(&mut heap).unwrap();
        let (a, b) = (heap.hdr.heap_off + 8192, heap.hdr.heap_off + 20000);
        fill(&heap, a, 100, 1);
        fill(&heap, b, 5000, 2);
        t.begin();
        t.log(&mut heap, a, 100, None).unwrap();
        t.log(&mut heap, b, 5000, None).unwrap();
        t.log(&mut heap, a + 10, 20, None).unwrap(); // deduplicated
        assert_eq!(t.stats.log_entries, 2);
        fill(&heap, a, 100, 9);
        fill(&heap, b, 5000, 9);
        drop(t); // crash: no commit
        let t = Txn::open(&mut heap).unwrap();
        assert_eq!(bytes(&heap, a, 100), vec![1; 100]);
        assert_eq!(bytes(&heap, b, 5000), vec![2; 5000]);
        // Idempotent: the abandoned generation is retired, a second open changes nothing.
        fill(&heap, a, 100, 5);
        drop(t);
        Txn::open(&mut heap).unwrap();
        assert_eq!(bytes(&heap, a, 100), vec![5; 100]);
    }

    #[test]
    fn a_torn_entry_ends_the_scan() {
        let mut heap = memory_heap(512 << 10, 8 << 20);
        Txn::format(&mut heap).unwrap();
        let mut t = Txn::open(&mut heap).unwrap();
        let (a, b) = (heap.hdr.heap_off + 8192, heap.hdr.heap_off + 9000);
        fill(&heap, a, 64, 1);
        fill(&heap, b, 64, 2);
        t.begin();
        t.log(&mut heap, a, 64, None).unwrap();
        t.log(&mut heap, b, 64, None).unwrap();
        fill(&heap, a, 64, 9);
        fill(&heap, b, 64, 9);
        // Tear the second entry's saved bytes: its checksum fails, so it is not applied.
        let second = t.entries[1].data;
        heap.io.map.write_bytes(second as usize, &[7]);
        drop(t);
        Txn::open(&mut heap).unwrap();
        assert_eq!(bytes(&heap, a, 64), vec![1; 64]);
        assert_eq!(bytes(&heap, b, 64), vec![9; 64]);
    }

    #[test]
    fn committed_entries_are_dead() {
        let mut heap = memory_heap(512 << 10, 8 << 20);
        Txn::format(&mut heap).unwrap();
        let mut t = Txn::open(&mut heap).unwrap();
        let a = heap.hdr.heap_off + 8192;
        fill(&heap, a, 64, 1);
        t.begin();
        t.log(&mut heap, a, 64, None).unwrap();
        fill(&heap, a, 64, 3);
        t.commit(&mut heap).unwrap();
        drop(t);
        Txn::open(&mut heap).unwrap();
        assert_eq!(bytes(&heap, a, 64), vec![3; 64]);
    }

    #[test]
    fn large_transactions_add_log_segments() {
        let mut heap = memory_heap(512 << 10, 64 << 20);
        Txn::format(&mut heap).unwrap();
        let mut t = Txn::open(&mut heap).unwrap();
        let a = heap.alloc(&mut Sink { txn: &mut t }, 2 << 20, 8).unwrap();
        fill(&heap, a, 2 << 20, 4);
        t.begin();
        t.log(&mut heap, a, 2 << 20, None).unwrap(); // far more than the 12 KiB primary log
        fill(&heap, a, 2 << 20, 8);
        drop(t);
        Txn::open(&mut heap).unwrap();
        assert!(bytes(&heap, a, 2 << 20).iter().all(|&v| v == 4));
    }

    #[test]
    fn abort_restores_and_releases() {
        let mut heap = memory_heap(512 << 10, 8 << 20);
        Txn::format(&mut heap).unwrap();
        let mut t = Txn::open(&mut heap).unwrap();
        let a = heap.hdr.heap_off + 8192;
        fill(&heap, a, 64, 1);
        t.begin();
        t.log(&mut heap, a, 64, None).unwrap();
        fill(&heap, a, 64, 3);
        let fresh = t.alloc(&mut heap, 5000, 8).unwrap();
        t.abort(&mut heap).unwrap();
        assert_eq!(bytes(&heap, a, 64), vec![1; 64]);
        assert!(
            heap.block_at(fresh).is_err(),
            "the allocation was rolled back"
        );
    }
}
