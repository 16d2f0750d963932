//! Transactions: the undo log protocol of `docs/format.md`.
//!
//! - Before a range of pool memory first changes in a transaction, its old bytes go to the
//!   log (once per byte, [`lines::Lines`]). Memory the transaction allocates is not logged;
//!   frees wait for commit and are logged like any change.
//! - Where stores reach the medium on their own (persistent memory, a shared mapping), each
//!   logging step is made durable before the change (one barrier per step); commit makes the
//!   changed ranges durable, then the commit record (two barriers).
//! - On an ordinary file (`Durability::Sync`), the mapping is private: nothing reaches the file
//!   until commit writes it back. Commit is then exactly two barriers, however many ranges
//!   changed: (1) the log (entries + fresh-range markers), (2) every changed byte together
//!   with a commit record that carries their checksum; recovery recomputes the checksum, so a
//!   torn barrier (2) rolls the transaction back. Abort costs no barrier.
//! - `Durability::Process`: no barriers at all; the page cache keeps every store.
//! - Recovery on open copies the saved bytes of the interrupted transaction back, makes them
//!   durable, and retires its generation in the record. It is idempotent and its cost is the
//!   size of that transaction.

pub(crate) mod core;
pub(crate) mod lines;
pub(crate) mod log;
mod pending;
pub(crate) mod redo;
pub(crate) mod registry;

use crate::error::{Error, Result};
use crate::heap::header::Header;
use crate::heap::persist::{Event, merge_ranges};
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
    /// Checkpoints: barriers that made redo-committed ranges durable at their homes (each
    /// serves every redo commit since the last one).
    pub checkpoints: u64,
}

/// What opening a pool did about the transaction a crash interrupted (`pcoll info` shows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// An interrupted transaction rolled back: its generation and undo entries.
    pub rolled_back: Option<(u64, usize)>,
    /// An interrupted migration whose header had been written, completed: its generation.
    pub completed_migration: Option<u64>,
    /// Redo records replayed (commits whose changes had not all reached their homes).
    pub redo_replayed: usize,
}

impl Recovery {
    /// True when the file needed no recovery.
    ///
    /// ```
    /// # use pcoll::{PVec, Persistent, Pool};
    /// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
    /// # let path = std::env::temp_dir().join(format!("pcoll-doc-is-clean-{}.pool", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// use pcoll::Durability;
    ///
    /// let pool = Pool::<Root>::options().durability(Durability::Process).create(&path)?;
    /// pool.write().v.push(1);
    /// drop(pool); // closed cleanly
    /// let info = pcoll::inspect::inspect(&path)?;
    /// assert!(info.recovery.is_clean());
    /// assert_eq!(info.recovery.rolled_back, None);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn is_clean(&self) -> bool {
        *self == Recovery::default()
    }
}

#[derive(Debug)]
pub(crate) struct Txn {
    /// The last finished generation (as in the commit record).
    done_gen: u64,
    /// Above every generation used so far (aborted ones are never reused).
    next_gen: u64,
    /// The open transaction's generation, 0 when none is open.
    gen_: u64,
    /// Log bytes written by this transaction (write-back commits persist them first).
    log_ranges: Vec<(u64, u64)>,
    /// The pages written back since private page copies were last dropped: the copies this
    /// process holds beside the page cache.
    held: pending::Pending,
    lines: Lines,
    chain: LogChain,
    entries: Vec<Entry>,
    /// Ranges written without logging (fresh memory), to make durable at commit.
    fresh: Vec<(u64, u64)>,
    /// Blocks allocated by this transaction: their contents need no undo.
    /// Block offsets come from the allocator, not from users: a fast fixed hasher is fine.
    fresh_blocks: std::collections::HashSet<u64, std::hash::BuildHasherDefault<ahash::AHasher>>,
    frees: Vec<u64>,
    /// Old top blocks that stay in their values ([`Self::keep`]).
    kept: Vec<u64>,
    /// `frees` and `fresh_blocks` of the transaction that just ended.
    ended_blocks: Vec<u64>,
    /// True while a write-back commit hands the transaction's bytes to the file.
    in_file: bool,
    /// Redo commits use the ring (pools with `FLAG_RING`; see `redo.rs`).
    ring: bool,
    /// Where the next redo record goes (an offset in the ring), and where a commit in
    /// progress is writing one (a failure must invalidate its record).
    redo_tail: u64,
    redo_writing: Option<redo::Slot>,
    /// Pages of ranges committed by redo records and not yet handed to the file (the next
    /// checkpoint writes them).
    pending: pending::Pending,
    /// The commit record names a write-back commit's entries (`count > 0`): recovery would
    /// check their bytes against its sum, which redo commits change; the first redo commit
    /// after it retires the record (`count = 0`) in its own barrier.
    record_counts: bool,
    /// A failed commit could not take its bytes back out of the file: no more writes until
    /// the pool is reopened (recovery then decides from the log).
    pub(crate) poisoned: bool,
    /// A migration's new root: the commit writes this header instead of a commit record
    /// first, and that header write is the commit point (see [`Self::install_commit`]).
    pub(crate) install: Option<Header>,
    /// A rollback on open whose restored bytes were handed to the file without a barrier:
    /// the generation that [`Self::settle_recovery`] retires before anything else is written.
    retire_pending: Option<u64>,
    /// What [`Txn::open`] found and did.
    pub(crate) recovery: Recovery,
    /// The scratch pool's mode (process memory, no crash to survive): one transaction that
    /// never ends, nothing logged, every block counts as fresh, frees happen at once.
    volatile: bool,
    pub(crate) stats: TxnStats,
}

impl Txn {
    /// Loads the log and rolls back the interrupted transaction, if any.
    pub(crate) fn open(heap: &mut Heap) -> Result<Txn> {
        let chain = LogChain::load(heap)?;
        let rec = log::read_record(heap)?;
        let d = rec.gen_;
        let (g, entries) = chain.scan(heap, if rec.count > 0 { d } else { d + 1 });
        let mut txn = Txn {
            done_gen: d,
            next_gen: d.max(g) + 1,
            gen_: 0,
            log_ranges: Vec::new(),
            held: pending::Pending::default(),
            lines: Lines::default(),
            chain,
            entries,
            fresh: Vec::new(),
            fresh_blocks: Default::default(),
            frees: Vec::new(),
            kept: Vec::new(),
            ended_blocks: Vec::new(),
            in_file: false,
            ring: heap.hdr.flags & crate::heap::header::FLAG_RING != 0,
            redo_tail: 0,
            redo_writing: None,
            pending: pending::Pending::default(),
            record_counts: rec.count > 0,
            poisoned: false,
            install: None,
            retire_pending: None,
            recovery: Recovery::default(),
            volatile: false,
            stats: TxnStats::default(),
        };
        let torn_commit = g == d && rec.count > 0 && {
            // The last commit's entries are all still there: check that its second barrier
            // finished. (Fewer entries: the next transaction overwrote them after that.)
            txn.entries.len() == rec.count as usize
                && heap
                    .io
                    .map
                    .crc_of(txn.entries.iter().map(|e| (e.off, e.len)))
                    != rec.sum
        };
        // A generation with a valid redo record committed through it: its undo entries
        // (left in the log by a memory image, or by a fallback's log writes) are dead.
        let redone = txn.newest_redo(heap).is_some_and(|r| g <= r);
        // A migration whose header made it: its changes are all in the file, only the
        // record is missing.
        let installed = g > d && heap.hdr.root_gen == g;
        if installed {
            txn.gen_ = g;
            txn.retire(heap)?;
            txn.recovery.completed_migration = Some(g);
        } else if (g > d || torn_commit) && !redone {
            txn.gen_ = g;
            txn.recovery.rolled_back = Some((g, txn.entries.len()));
            txn.recover(heap)?;
        }
        // Records older than a completed migration are finished: it made their homes durable
        // before its header, and replaying them would undo its changes.
        txn.replay_redo(heap, if installed { g } else { d })?;
        txn.finish();
        // A log growth interrupted before its header became durable left a link to the end
        // of the pool: cut, written by the next growth before it puts a segment there.
        if let Some(at) = txn.chain.stale_link.take()
            && !heap.io.map.is_read_only()
        {
            heap.io.map.write_u64(at, 0);
            heap.stale_link = Some(at);
        }
        Ok(txn)
    }

    /// Writes the first commit records of a new pool, and turns on its redo slots when the
    /// primary log is large enough to hold them (the caller writes the header next).
    pub(crate) fn format(heap: &mut Heap) -> Result<()> {
        let pages = heap.log_pages();
        if redo::slots(heap.hdr.log_off, pages).is_some() {
            use crate::heap::header::{FLAG_PACKED, FLAG_REDO, FLAG_RING};
            heap.hdr.flags |= FLAG_REDO | FLAG_RING | FLAG_PACKED;
        }
        for g in 1..=2 {
            let r = log::put_record(&heap.io, heap.hdr.log_off, log::Record::plain(g));
            heap.io.persist_many(&[r])?;
        }
        Ok(())
    }

    pub(crate) fn is_open(&self) -> bool {
        self.gen_ != 0
    }

    /// Turns this (freshly opened) state into the scratch pool's endless volatile transaction.
    pub(crate) fn make_volatile(&mut self) {
        self.volatile = true;
        self.begin();
    }

    pub(crate) fn begin(&mut self) {
        debug_assert!(!self.is_open(), "transaction already open");
        self.gen_ = self.next_gen;
        self.next_gen += 1;
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
        if self.volatile {
            return Ok(());
        }
        let mut runs: Runs = SmallVec::new();
        self.lines.claim(off, len, |a, n| runs.push((a, n)));
        if runs.is_empty() {
            return Ok(());
        }
        let need: u64 = runs.iter().map(|r| r.1 + log::ENTRY_HDR as u64 + 8).sum();
        if let Err(e) = self.chain.reserve(heap, need) {
            // Nothing of these runs was saved: a later request must log them (issue 13, #2).
            runs.iter().for_each(|&(a, n)| self.lines.unclaim(a, n));
            return Err(e);
        }
        for (i, &(a, n)) in runs.iter().enumerate() {
            let src = from.map(|p| p.wrapping_add((a - off) as usize));
            if let Err(e) = (Sink { txn: self }).append(&heap.io, a, n, src) {
                runs[i..]
                    .iter()
                    .for_each(|&(a, n)| self.lines.unclaim(a, n));
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn alloc(&mut self, heap: &mut Heap, size: usize, align: usize) -> Result<u64> {
        if self.volatile {
            self.free_pending(heap)?;
            return heap.alloc(&mut Sink { txn: self }, size, align);
        }
        self.chain.reserve(heap, ALLOC_LOG_RESERVE)?;
        let off = heap.alloc(&mut Sink { txn: self }, size, align)?;
        self.fresh.push((off, size as u64));
        self.fresh_blocks.insert(off);
        Ok(off)
    }

    /// True when the block at `off` was allocated by this transaction: changing its bytes
    /// needs no undo entry (a rollback frees it).
    pub(crate) fn is_fresh(&self, off: u64) -> bool {
        self.volatile || (!self.fresh_blocks.is_empty() && self.fresh_blocks.contains(&off))
    }

    /// Resizes the block at `off` (holding `old` meaningful bytes) to at least `new` bytes:
    /// in place when the pages after it are free, else into a fresh block with the bytes
    /// copied and the old block freed at commit. Returns the block's offset.
    pub(crate) fn realloc(
        &mut self,
        heap: &mut Heap,
        off: u64,
        old: usize,
        new: usize,
        align: usize,
    ) -> Result<u64> {
        if self.grow_in_place(heap, off, new)? {
            return Ok(off);
        }
        let to = self.alloc(heap, new, align)?;
        heap.io.map.copy_within(off as usize, to as usize, old);
        self.free(off);
        Ok(to)
    }

    pub(crate) fn grow_in_place(&mut self, heap: &mut Heap, off: u64, size: usize) -> Result<bool> {
        if self.volatile {
            self.free_pending(heap)?;
            return heap.grow_in_place(&mut Sink { txn: self }, off, size);
        }
        self.chain.reserve(heap, ALLOC_LOG_RESERVE)?;
        let grown = heap.grow_in_place(&mut Sink { txn: self }, off, size)?;
        if grown {
            self.fresh.push((off, size as u64));
        }
        Ok(grown)
    }

    /// Frees `off` when the transaction commits (in the scratch pool: before its next
    /// allocation).
    pub(crate) fn free(&mut self, off: u64) {
        self.frees.push(off);
    }

    /// The blocks this transaction allocated (a rollback frees them).
    pub(crate) fn fresh_blocks(&self) -> impl Iterator<Item = u64> + '_ {
        self.fresh_blocks.iter().copied()
    }

    /// The blocks this transaction's commit will free.
    pub(crate) fn frees(&self) -> &[u64] {
        &self.frees
    }

    /// Notes that the old top block `off` of a handle stays part of its value under a new
    /// top block (a B-tree's old root under the root its split made): a rollback that brings
    /// the old pointer back did not find it moved out (see `PoolCore::rollback`).
    pub(crate) fn keep(&mut self, off: u64) {
        self.kept.push(off);
    }

    /// Takes `off` back from [`Self::keep`]: it is a handle's top block again (a B-tree's
    /// root collapsed onto it), whose copy could leave pool memory like any other.
    pub(crate) fn unkeep(&mut self, off: u64) {
        self.kept.retain(|&k| k != off);
    }

    /// The blocks [`Self::keep`] noted.
    pub(crate) fn kept(&self) -> &[u64] {
        &self.kept
    }

    /// The scratch pool frees lazily, before its next allocation: code that frees a block may
    /// still read it until then, as it may until commit in a pool.
    fn free_pending(&mut self, heap: &mut Heap) -> Result<()> {
        for off in std::mem::take(&mut self.frees) {
            heap.free(&mut Sink { txn: self }, off)?;
        }
        Ok(())
    }

    /// A range written without logging (fresh memory) must be durable at commit.
    pub(crate) fn mark_fresh(&mut self, off: u64, len: u64) {
        if !self.volatile {
            self.fresh.push((off, len));
        }
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

    /// [`Self::commit`] without the rollback on error: the caller rolls back (`abort`).
    pub(crate) fn try_commit(&mut self, heap: &mut Heap) -> Result<()> {
        if self.entries.is_empty() && self.fresh.is_empty() && self.frees.is_empty() {
            self.stats.commits += 1;
            self.finish(); // nothing changed: no record
            return Ok(());
        }
        self.settle_recovery(heap)?;
        let frees = std::mem::take(&mut self.frees);
        self.ended_blocks.extend_from_slice(&frees);
        for off in frees {
            self.chain.reserve(heap, ALLOC_LOG_RESERVE)?;
            heap.free(&mut Sink { txn: self }, off)?;
        }
        let plain = log::Record::plain(self.gen_);
        let persist = &heap.io.persist;
        if let Some(next) = self.install.take() {
            self.install_commit(heap, next)?;
        } else if !persist.is_durable() {
            log::put_record(&heap.io, heap.hdr.log_off, plain);
        } else if persist.per_step() {
            let ranges = self.changed_ranges();
            heap.io.persist_many(&ranges)?; // closes: changes not yet on the medium
            let rec = log::put_record(&heap.io, heap.hdr.log_off, plain);
            heap.io.persist_many(&[rec])?; // the commit point
        } else if let Some((slot, ranges)) = self.redo_slot() {
            self.redo_commit(heap, slot, ranges)?;
            heap.io.persist.note(&heap.io.map, Event::Committed);
            self.stats.commits += 1;
            self.finish();
            return Ok(());
        } else {
            self.write_back_commit(heap)?;
        }
        self.done_gen = self.gen_;
        heap.io.persist.note(&heap.io.map, Event::Committed);
        self.stats.commits += 1;
        self.finish();
        Ok(())
    }

    /// The ring area, when redo commits are on.
    fn ring(&self) -> Option<redo::Slot> {
        self.chain.redo.filter(|_| self.ring).map(redo::ring)
    }

    /// Where this transaction's redo record goes, if the pool has a ring and the record
    /// fits half of it and the room left (a checkpoint after each commit keeps half free).
    fn redo_slot(&self) -> Option<(redo::Slot, Vec<(u64, u64)>)> {
        let ring = self.ring()?;
        let ranges = self.redo_ranges();
        let len = redo::record_len(&ranges);
        let room = ring.1 - self.redo_tail;
        (len <= ring.1 / 2 && len <= room).then_some(((ring.0 + self.redo_tail, room), ranges))
    }

    /// Every range this transaction changed, merged (also across small gaps: `REDO_GAP`):
    /// saved ranges and fresh allocations.
    fn redo_ranges(&self) -> Vec<(u64, u64)> {
        let mut r: Vec<(u64, u64)> = self
            .entries
            .iter()
            .filter(|e| !e.marker)
            .map(|e| (e.off, e.len))
            .collect();
        r.extend_from_slice(&self.fresh);
        merge_ranges(r, |end, off| off <= end + REDO_GAP)
    }

    /// One barrier: the redo record is the commit point, and the changes stay pending in the
    /// private mapping until a checkpoint. A failure before the barrier completes leaves
    /// `redo_writing` set for `abort`.
    fn redo_commit(
        &mut self,
        heap: &mut Heap,
        slot: redo::Slot,
        ranges: Vec<(u64, u64)>,
    ) -> Result<()> {
        let rec = redo::put(&heap.io, slot, self.gen_, &ranges);
        let mut barrier = vec![rec];
        if self.record_counts {
            let retire = log::Record::plain(self.done_gen);
            barrier.push(log::put_record(&heap.io, heap.hdr.log_off, retire));
        }
        self.redo_writing = Some(slot);
        heap.io.persist_many(&barrier)?; // the commit point
        self.redo_writing = None;
        self.record_counts = false;
        self.redo_tail += rec.1;
        self.stats.log_bytes += rec.1;
        self.stats.log_entries += ranges.len() as u64;
        self.pending.add(&ranges);
        let half = self.ring().map_or(0, |r| r.1 / 2);
        if self.redo_tail > half || self.pending.bytes() > PRIVATE_COPY_LIMIT {
            // Committed already: a failed checkpoint leaves the records, which hold every
            // pending range, and the next checkpoint writes them all again.
            let _ = self
                .checkpoint(heap, true)
                .and_then(|()| self.new_epoch(heap));
        }
        Ok(())
    }

    /// After a checkpoint: the commit record names the newest generation used (one more
    /// barrier), so every record in the ring is finished, and the ring starts again. Until
    /// that record is durable the old records stay valid, which is harmless: their homes are
    /// durable. (It also retires an undo commit's checksummed record, as a redo commit does.)
    pub(crate) fn new_epoch(&mut self, heap: &mut Heap) -> Result<()> {
        if self.redo_tail == 0 {
            return Ok(());
        }
        self.retire_records(heap)?;
        self.redo_tail = 0;
        Ok(())
    }

    /// Between transactions: finishes a recovery open left to the first write, writes every
    /// pending home durably and retires the records (`Pool::checkpoint`). After it the file
    /// alone holds every commit: an open replays and rolls back nothing. Nothing to do (no
    /// barrier) when no record is in the ring.
    pub(crate) fn checkpoint_all(&mut self, heap: &mut Heap) -> Result<()> {
        debug_assert!(!self.is_open());
        self.settle_recovery(heap)?;
        self.checkpoint(heap, true)?;
        self.new_epoch(heap)
    }

    /// One barrier: a plain commit record naming the newest generation used retires every
    /// redo record (ring or slots) at once; none is replayed after it.
    fn retire_records(&mut self, heap: &mut Heap) -> Result<()> {
        let done = self.next_gen - 1;
        let r = log::put_record(&heap.io, heap.hdr.log_off, log::Record::plain(done));
        heap.io.persist_many(&[r])?;
        self.done_gen = done;
        self.record_counts = false;
        Ok(())
    }

    /// Hands every range that redo records committed to the file and makes it durable (one
    /// barrier, also with nothing pending: homes a replay found in the file's pages may not
    /// be durable yet). The records are then no longer needed, but stay valid until
    /// [`Self::new_epoch`] or an undo commit's record retires them. `clean`: no transaction's
    /// changes are in memory, so the private copies may be dropped.
    pub(crate) fn checkpoint(&mut self, heap: &mut Heap, clean: bool) -> Result<()> {
        if self.pending.is_empty() && self.redo_tail == 0 {
            return Ok(());
        }
        let runs = self.pending.take_runs(heap.io.map.len() as u64);
        if let Err(e) = heap.io.hand_over(&runs).and_then(|()| heap.io.barrier()) {
            self.pending.add(&runs); // the next checkpoint writes them again
            return Err(e);
        }
        self.stats.checkpoints += 1;
        self.held.add(&runs);
        if clean {
            self.drop_private_copies_past_limit(heap);
        }
        Ok(())
    }

    /// Drops the private page copies (every one written back: no transaction is open) when
    /// they hold more than [`PRIVATE_COPY_LIMIT`]. Counted in distinct pages: a hot page
    /// written back by every checkpoint is one copy, and dropping it costs a fault and a copy
    /// on its next write.
    fn drop_private_copies_past_limit(&mut self, heap: &Heap) {
        if self.held.bytes() > PRIVATE_COPY_LIMIT {
            heap.io.map.drop_private_copies();
            self.held.clear();
        }
    }

    /// The valid redo records, oldest first, and where the next one goes: the ring's scan,
    /// or the two slots of the old layout.
    fn redo_records(&self, heap: &Heap, done: u64) -> (Vec<redo::Record>, u64) {
        let Some(slots) = self.chain.redo else {
            return (Vec::new(), 0);
        };
        if self.ring {
            return redo::scan(heap, redo::ring(slots), done);
        }
        let mut recs: Vec<redo::Record> =
            slots.iter().filter_map(|&s| redo::read(heap, s)).collect();
        recs.sort_by_key(|r| r.gen_);
        (recs, 0)
    }

    /// The generation of the newest valid redo record, if any.
    fn newest_redo(&self, heap: &Heap) -> Option<u64> {
        self.redo_records(heap, self.done_gen)
            .0
            .last()
            .map(|r| r.gen_)
    }

    /// On open: every valid redo record newer than `done`, the last finished generation
    /// before any rollback, is copied to its homes, oldest first, and made durable.
    /// Idempotent: a crash during it replays the same records again.
    fn replay_redo(&mut self, heap: &mut Heap, done: u64) -> Result<()> {
        let (recs, tail) = self.redo_records(heap, done);
        if let Some(newest) = recs.last() {
            self.next_gen = self.next_gen.max(newest.gen_ + 1);
        }
        // Records not newer than the last finished generation are dead (an undo commit made
        // their homes durable first): the ring may start again. Live ones stay until the next
        // checkpoint (or, replayed and made durable here, the ring starts again too).
        self.redo_tail = tail;
        // With no barriers at all, or slots of the old layout, a record whose homes already
        // hold its bytes is not written again. Persistent memory flushes only the lines a
        // barrier names, so there every record is written again. So does a ring on a
        // write-back file (`lazy`): checking every range against its home (`redo::applied`)
        // costs more than writing it, 0.58 s against 0.11 s for 33 MiB of records, and the
        // check finds them applied only when a checkpoint handed them over and then died.
        // Newer than the last finished generation *before* a rollback on open: an undo commit
        // interrupted after its log was durable may not have made the records' homes durable
        // yet (its checkpoint comes after its log), so they are replayed after its rollback.
        let pending: Vec<&redo::Record> = recs.iter().filter(|r| r.gen_ > done).collect();
        let persist = &heap.io.persist;
        let lazy = self.ring && persist.is_durable() && !persist.per_step();
        if pending.is_empty() {
            self.redo_tail = 0;
        } else if persist.per_step() || lazy || !redo::applied(heap, &pending) {
            self.recovery.redo_replayed += pending.len();
            if lazy {
                // Write-back: the records' bytes go to their homes in the file (`pwrite`;
                // in memory, handed as a `pwrite` would be, on a simulated file), and the
                // records stay until the next checkpoint. A crash before the next barrier
                // replays them again. Nothing joins the pending pages: a checkpoint while the
                // first transaction is open would hand its uncommitted bytes to the file.
                if !self.replay_to_file(heap, &pending)? {
                    let written: Vec<(u64, u64)> =
                        pending.iter().flat_map(|r| redo::apply(heap, r)).collect();
                    heap.io.persist.handed(&heap.io.map, &written);
                    heap.io.persist.note(&heap.io.map, Event::Recovery);
                }
            } else {
                let mut written = Vec::new();
                for rec in pending {
                    written.extend(redo::apply(heap, rec));
                }
                // Durable before a rollback's retiring record: that record finishes every
                // generation below the rolled-back one, these records' included.
                heap.io.persist_many(&written)?;
                heap.io.sync_shared()?;
                self.settle_recovery(heap)?;
                heap.io.persist.note(&heap.io.map, Event::Recovery);
                self.redo_tail = 0;
            }
        }
        // Pools whose commits use redo records (write-back, a real file or its simulation).
        let redo_commits = heap.io.persist.is_durable() && !heap.io.persist.per_step();
        if !self.ring && self.chain.redo.is_some() && redo_commits && !heap.io.map.is_read_only() {
            self.upgrade_to_ring(heap)?;
        } else if self.ring && redo_commits && !heap.io.map.is_read_only() {
            Self::allow_packed_records(heap)?;
        }
        Ok(())
    }

    /// A ring pool from a build before packed records, opened to write them: its header
    /// gains `FLAG_PACKED` (one barrier, once), so that those builds refuse it from now on
    /// rather than stop at a packed record and lose its commit. Either format's records read
    /// the same here, so nothing else changes: a crash before the header lands leaves the old
    /// pool as it was.
    fn allow_packed_records(heap: &mut Heap) -> Result<()> {
        use crate::heap::header::FLAG_PACKED;
        if heap.hdr.flags & FLAG_PACKED != 0 {
            return Ok(());
        }
        let mut next = heap.hdr.clone();
        next.flags |= FLAG_PACKED;
        heap.write_header_as(next)
    }

    /// On a writable private file mapping, writes the records' bytes to their homes in the
    /// file (`pwrite`, by pages where many ranges share one: `Mapping::restore_to_file`), so
    /// the mapping's pages show them without a copy-on-write fault each. Nothing was written
    /// through the mapping yet (open). The next checkpoint's barrier makes them durable; the
    /// records stay until then. False on other backings.
    fn replay_to_file(&mut self, heap: &Heap, recs: &[&redo::Record]) -> Result<bool> {
        let saved: Vec<(u64, u64, u64)> = recs
            .iter()
            .flat_map(|r| r.ranges.iter().map(|&(off, n, data)| (off, data, n)))
            .collect();
        let done = heap
            .io
            .map
            .restore_to_file(&saved)
            .map_err(|f| Error::io(&heap.io.path, f.op, f.err))?;
        if done {
            let ranges: Vec<(u64, u64)> = saved.iter().map(|&(off, _, n)| (off, n)).collect();
            heap.io.persist.handed(&heap.io.map, &ranges);
            heap.io.persist.note(&heap.io.map, Event::Recovery);
        }
        Ok(done)
    }

    /// The redo slots (the ring's two halves) and where the next record goes, for the
    /// crash-image tests' images of the old two-slot layout.
    #[cfg(feature = "testing")]
    pub(crate) fn redo_layout(&self) -> Option<([redo::Slot; 2], u64)> {
        self.chain.redo.map(|s| (s, self.redo_tail))
    }

    /// A pool of the two-slot layout, its records replayed: one barrier makes their homes
    /// durable; a second writes the commit record naming the newest generation used, which
    /// retires both slots' records at once; a third writes the header naming the ring. A crash
    /// before the retiring record replays the slots again (idempotent); after it, they are
    /// finished and ignored, and once the header names the ring it starts empty (the old
    /// records left in it are not above the commit record, so a scan stops at them).
    ///
    /// Not by clearing the slots: two slots cleared under one barrier can land one without
    /// the other, and replaying the older record alone over the newer one's durable homes
    /// would take back an acknowledged commit where their ranges overlap (found by the crash
    /// images of `two_slot_upgrade` in `tests/crash_images.rs`).
    fn upgrade_to_ring(&mut self, heap: &mut Heap) -> Result<()> {
        self.settle_recovery(heap)?;
        heap.io.barrier()?;
        self.retire_records(heap)?;
        let mut next = heap.hdr.clone();
        next.flags |= crate::heap::header::FLAG_RING | crate::heap::header::FLAG_PACKED;
        heap.write_header_as(next)?;
        self.ring = true;
        self.redo_tail = 0;
        Ok(())
    }

    /// Every range the transaction changed: saved ranges and fresh allocations.
    fn changed_ranges(&self) -> Vec<(u64, u64)> {
        let mut r: Vec<(u64, u64)> = self.entries.iter().map(|e| (e.off, e.len)).collect();
        r.extend_from_slice(&self.fresh);
        r
    }

    /// Logs a marker for every fresh range (write-back: recovery must know which bytes of
    /// the file a torn commit may have changed, the allocator's own included).
    fn log_fresh_markers(&mut self, heap: &mut Heap) -> Result<()> {
        // Many pushes: one marker.
        let fresh = merge_ranges(std::mem::take(&mut self.fresh), |_, _| false);
        self.chain
            .reserve(heap, (fresh.len() * log::ENTRY_HDR) as u64)?;
        for &(off, len) in &fresh {
            let w = self
                .chain
                .append_marker(&heap.io, self.gen_, off, len, &mut self.entries)?;
            for r in w {
                self.stats.log_bytes += r.1 - r.0;
                push_range(&mut self.log_ranges, r);
            }
        }
        self.stats.log_entries += fresh.len() as u64;
        Ok(())
    }

    /// Two barriers: the log, then the changes with a record that checksums them.
    fn write_back_commit(&mut self, heap: &mut Heap) -> Result<()> {
        self.log_fresh_markers(heap)?;
        heap.io.persist_many(&self.log_ranges)?; // closes: a change on disk before its entry
        // Earlier redo commits' homes become durable before this commit's record supersedes
        // their records by generation. Only now that this transaction's log is durable: the
        // pages handed over hold its changes too, which a failure must take back out.
        self.in_file = true;
        self.checkpoint(heap, false)?;
        let ranges: Vec<(u64, u64)> = self.entries.iter().map(|e| (e.off, e.len)).collect();
        let sum = heap.io.map.crc_of(ranges.iter().copied());
        let count = u32::try_from(ranges.len()).expect("fewer than 4G log entries");
        let rec = log::Record {
            gen_: self.gen_,
            count,
            sum,
        };
        let last = log::put_record(&heap.io, heap.hdr.log_off, rec);
        // From here the file may hold part of the transaction: a failure makes the rollback
        // write the restored bytes back (`abort`).
        self.in_file = true;
        heap.io.persist_last(&ranges, last)?; // the commit point (torn: the checksum tells)
        self.in_file = false;
        self.record_counts = true;
        self.redo_tail = 0; // every record's generation is below this commit's record
        self.held.add(&ranges);
        self.held.add(&[last]);
        self.drop_private_copies_past_limit(heap);
        Ok(())
    }

    /// A migration's commit: every change durable (the log first, as in any commit), then the
    /// header naming the new root with this transaction's generation, which is the commit
    /// point: recovery keeps a transaction whose generation the header names
    /// ([`Self::open`]). The record that follows only retires the log. A failure after the
    /// header write began poisons the pool: whether the header reached the medium is known
    /// only to the next open.
    fn install_commit(&mut self, heap: &mut Heap, mut next: Header) -> Result<()> {
        let persist = &heap.io.persist;
        if persist.is_durable() && !persist.per_step() {
            self.log_fresh_markers(heap)?;
            heap.io.persist_many(&self.log_ranges)?; // closes: a change on disk before its entry
        }
        self.in_file = true;
        self.checkpoint(heap, false)?; // as in `write_back_commit`
        heap.io.persist_many(&self.changed_ranges())?;
        self.in_file = false;
        next.root_gen = self.gen_;
        if let Err(e) = heap.write_header_as(next) {
            self.poisoned = true;
            return Err(e);
        }
        if self.retire(heap).is_err() {
            self.poisoned = true; // committed; the next open retires the log
        }
        self.redo_tail = 0; // the records' generations are below the retiring record
        self.record_counts = false;
        Ok(())
    }

    /// Ends the open generation with a plain commit record, made durable.
    fn retire(&mut self, heap: &mut Heap) -> Result<()> {
        let plain = log::Record::plain(self.gen_);
        let r = log::put_record(&heap.io, heap.hdr.log_off, plain);
        heap.io.persist_many(&[r])?;
        heap.io.sync_shared()?;
        self.done_gen = self.gen_;
        Ok(())
    }

    /// Rolls back in process: restores every saved range. Where stores reach the medium on
    /// their own, the restored bytes are made durable before the log can be reused. With
    /// write-back nothing of this transaction reached the file, unless its commit failed
    /// while writing it back: then the restored bytes are written back too, and if that
    /// fails as well the pool is poisoned (the file's state is known only to recovery).
    pub(crate) fn abort(&mut self, heap: &mut Heap) -> Result<()> {
        self.stats.aborts += 1;
        self.restore(heap);
        let res = if heap.io.persist.per_step() || self.in_file {
            heap.io.persist_many(&self.saved_ranges())
        } else {
            Ok(())
        };
        if res.is_err() && self.in_file {
            self.poisoned = true;
        }
        self.in_file = false;
        if let Some(slot) = self.redo_writing.take() {
            // The record may be in the file (the barrier failed, not necessarily its writes):
            // it must not be replayed.
            let r = redo::clear(&heap.io, slot);
            if heap.io.persist_many(&[r]).is_err() {
                self.poisoned = true;
            }
        }
        heap.io.persist.note(&heap.io.map, Event::Recovery);
        heap.reset_volatile();
        self.finish();
        res
    }

    /// Recovery on open: restore, make durable, retire the generation. On a write-back file
    /// the last two wait for the first write (`settle_recovery`): a restart pays for the
    /// restore only, written to the file with `pwrite` (no private page copies).
    fn recover(&mut self, heap: &mut Heap) -> Result<()> {
        let ranges = self.saved_ranges();
        if !self.restore_to_file(heap)? {
            self.restore(heap);
        }
        self.done_gen = self.gen_;
        if heap.io.persist.is_durable() && !heap.io.persist.per_step() {
            // The log keeps the entries and the record still names an interrupted
            // generation until the restored bytes are durable: a crash before that rolls
            // back again, to the same bytes.
            heap.io.persist.handed(&heap.io.map, &ranges);
            heap.io.persist.note(&heap.io.map, Event::Recovery);
            self.retire_pending = Some(self.gen_);
            return Ok(());
        }
        heap.io.persist_many(&ranges)?;
        heap.io.sync_shared()?;
        heap.io.persist.note(&heap.io.map, Event::Recovery);
        self.retire_pending = Some(self.gen_);
        self.settle_recovery(heap)?;
        heap.io.sync_shared()
    }

    /// Finishes a rollback that open left to the first write: one barrier makes the restored
    /// bytes durable, a second the record that retires the generation. Called before any
    /// commit writes to the file (a commit would overwrite the log entries the rollback
    /// still needs, or record a later generation), and by `inspect::recover`.
    pub(crate) fn settle_recovery(&mut self, heap: &mut Heap) -> Result<()> {
        let Some(g) = self.retire_pending else {
            return Ok(());
        };
        // Records replayed on open were written to their homes like the restored bytes
        // (nothing is pending before the first commit): one barrier makes both durable
        // before the retiring record finishes their generations.
        debug_assert!(
            self.pending.is_empty(),
            "pending pages before the first commit"
        );
        heap.io.barrier()?;
        let r = log::put_record(&heap.io, heap.hdr.log_off, log::Record::plain(g));
        heap.io.persist_many(&[r])?;
        self.retire_pending = None;
        // `g` is above every record in the ring (a generation at or below the newest record
        // is not rolled back), so the record just written finished them all: the next one
        // starts the ring again. Appended after them, it would follow a finished record,
        // where recovery's scan stops, and a crash would lose it (and every commit after).
        self.redo_tail = 0;
        Ok(())
    }

    /// On a writable private file mapping, writes the saved bytes straight to the file: the
    /// restored pages were never written through this mapping (recovery runs before anything
    /// else), so they show the file's bytes and need no copy-on-write fault each. False on
    /// other backings, which restore in memory.
    fn restore_to_file(&self, heap: &Heap) -> Result<bool> {
        let saved: Vec<(u64, u64, u64)> = self
            .entries
            .iter()
            .filter(|e| !e.marker)
            .map(|e| (e.off, e.data, e.len))
            .collect();
        heap.io
            .map
            .restore_to_file(&saved)
            .map_err(|f| Error::io(&heap.io.path, f.op, f.err))
    }

    fn restore(&self, heap: &Heap) {
        for e in self.entries.iter().filter(|e| !e.marker) {
            heap.io
                .map
                .restore(e.off as usize, e.data as usize, e.len as usize);
        }
    }

    fn saved_ranges(&self) -> Vec<(u64, u64)> {
        self.entries
            .iter()
            .filter(|e| !e.marker)
            .map(|e| (e.off, e.len))
            .collect()
    }

    /// The blocks the last transaction freed or allocated (see `PoolCore::finish`).
    pub(crate) fn take_ended_blocks(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.ended_blocks)
    }

    fn finish(&mut self) {
        self.install = None;
        self.ended_blocks.extend(self.frees.iter().copied());
        self.ended_blocks.extend(self.fresh_blocks.iter().copied());
        self.gen_ = 0;
        self.log_ranges.clear();
        self.entries.clear();
        self.fresh.clear();
        // Clearing a hash set costs its capacity, and its probes spread over all of it: one
        // big transaction must not leave the small ones after it paying for its size.
        let used = self.fresh_blocks.len();
        self.fresh_blocks.clear();
        if self.fresh_blocks.capacity() > 8 * used.max(64) {
            self.fresh_blocks.shrink_to(2 * used);
        }
        self.frees.clear();
        self.kept.clear();
        self.lines.clear();
    }
}

/// Private page copies kept before they are dropped (write-back mode): bounds the memory a
/// long-running writer holds twice (page cache + private copy). Counted in distinct pages
/// written back (it counted bytes written back, so hot pages counted once per checkpoint and
/// durable `redis-benchmark -t hset -P 16` took 2.8x the page faults of the distinct count);
/// a lower bound (64 MiB) made `redis-benchmark -t set -P 16` take 1.7x the page faults,
/// each a copy made again after its drop.
const PRIVATE_COPY_LIMIT: u64 = 256 << 20;

/// A redo record's ranges are merged across gaps up to this many bytes: a range costs a
/// head of two varints (2 to 5 bytes for most), so a smaller gap is cheaper carried. The gap's
/// bytes are carried as they are: this transaction did not change them (every change lies
/// in a saved or fresh range), so they hold committed bytes or free memory, and replaying
/// them writes what their homes hold already.
const REDO_GAP: u64 = 4;

/// Adds the log range `start .. end` to `v`, merging with the last range when contiguous.
fn push_range(v: &mut Vec<(u64, u64)>, (start, end): (u64, u64)) {
    match v.last_mut() {
        Some(last) if last.0 + last.1 == start => last.1 += end - start,
        _ => v.push((start, end - start)),
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
        let written = t.chain.append(io, t.gen_, off, len, from, &mut t.entries)?;
        t.stats.log_entries += (t.entries.len() - first) as u64;
        t.stats.log_bytes += written.iter().map(|r| r.1 - r.0).sum::<u64>();
        if io.persist.per_step() {
            // Closes: the in-place write reaching the medium before its undo entry (and the
            // jump marker that leads recovery to it).
            let spans: Vec<(u64, u64)> = written.iter().map(|r| (r.0, r.1 - r.0)).collect();
            io.persist_many(&spans)?;
        } else {
            written
                .into_iter()
                .for_each(|r| push_range(&mut t.log_ranges, r));
        }
        io.persist.note(&io.map, Event::Logged { off, len });
        // Process durability: the entry must precede the in-place write in program order.
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

impl Undo for Sink<'_> {
    fn log(&mut self, io: &HeapIo, off: usize, len: usize) -> Result<()> {
        if self.txn.volatile {
            return Ok(());
        }
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
        if self.txn.volatile {
            return;
        }
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

    /// A formatted memory heap of `size` bytes and its opened transaction state.
    fn fixture(size: u64) -> (Heap, Txn) {
        let mut heap = memory_heap(512 << 10, size);
        Txn::format(&mut heap).unwrap();
        let t = Txn::open(&mut heap).unwrap();
        (heap, t)
    }

    /// Private copies are counted once per page: checkpoints that write the same hot pages
    /// back again and again keep them (dropping them costs a fault and a copy on the next
    /// write); only more distinct pages than the limit drop them all.
    #[test]
    fn private_copies_are_dropped_by_distinct_pages() {
        let (heap, mut t) = fixture(8 << 20);
        for _ in 0..10_000 {
            t.held.add(&[(8192, 100), (40_000, 5000)]);
            t.drop_private_copies_past_limit(&heap);
        }
        assert_eq!(t.held.bytes(), 3 * 4096, "pages 2, 9 and 10, held");
        t.held.add(&[(0, PRIVATE_COPY_LIMIT + 4096)]);
        t.drop_private_copies_past_limit(&heap);
        assert_eq!(t.held.bytes(), 0, "past the limit: dropped");
        t.held.add(&[(8192, 1)]);
        assert_eq!(t.held.bytes(), 4096, "counted again from nothing");
    }

    #[test]
    fn recovery_restores_logged_ranges() {
        let (mut heap, mut t) = fixture(8 << 20);
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
        let (mut heap, mut t) = fixture(8 << 20);
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
        let (mut heap, mut t) = fixture(8 << 20);
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
        let (mut heap, mut t) = fixture(64 << 20);
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
        let (mut heap, mut t) = fixture(8 << 20);
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

#[cfg(test)]
mod realloc_tests {
    use super::*;
    use crate::heap::alloc::tests::memory_heap;

    #[test]
    fn realloc_grows_in_place_or_moves_and_frees_at_commit() {
        let mut heap = memory_heap(1 << 20, 16 << 20);
        Txn::format(&mut heap).unwrap();
        let mut t = Txn::open(&mut heap).unwrap();
        t.begin();
        let a = t.alloc(&mut heap, 3 * 4096, 8).unwrap();
        assert!(t.is_fresh(a));
        heap.io.map.write_bytes(a as usize, &[7; 3 * 4096]);
        assert_eq!(
            t.realloc(&mut heap, a, 3 * 4096, 5 * 4096, 8).unwrap(),
            a,
            "in place"
        );
        let blocker = t.alloc(&mut heap, 4096, 8).unwrap();
        assert_eq!(blocker, a + 5 * 4096);
        let b = t.realloc(&mut heap, a, 5 * 4096, 9 * 4096, 8).unwrap();
        assert_ne!(a, b, "moved: the next page is taken");
        assert_eq!(heap.io.map.bytes(b as usize, 3 * 4096), &[7; 3 * 4096][..]);
        t.commit(&mut heap).unwrap();
        assert!(
            heap.block_at(a).is_err(),
            "the old block is freed at commit"
        );
        assert!(heap.block_at(b).is_ok());
        t.begin();
        assert!(!t.is_fresh(b), "freshness ends with the transaction");
        t.commit(&mut heap).unwrap();
    }
}
