//! The undo log: a chain of log segments (the primary one right after the header page, more
//! appended when a large transaction needs them, kept for reuse). Each transaction writes its
//! entries from the start of the chain. An entry:
//!
//! ```text
//!   0  crc  u32   CRC-32C of bytes 4 .. 24 + saved (everything after it)
//!   4  len  u32   number of bytes covered
//!   8  gen  u64   the transaction's generation
//!  16  off  u64   pool offset of the saved bytes (u64::MAX: "continue in the next segment";
//!                 bit 63 set: a fresh-range marker, no bytes saved, see below)
//!  24  the old bytes, padded to 8
//! ```
//!
//! Nothing is ever zeroed: an entry belongs to the interrupted transaction only if its gen is
//! newer than the last finished generation (the commit record), equal to the first entry's,
//! and its checksum holds. A torn entry fails its checksum and ends the scan.
//!
//! Fresh-range markers name memory the transaction allocated and wrote without saving it.
//! Write-back commits (ordinary files) list them so recovery can recompute the checksum of
//! everything the transaction wrote; rollback skips them.

use super::super::heap::map::PAGE;
use super::super::heap::segment::{self, Kind};
use super::super::heap::{Heap, HeapIo};
use crate::error::{Error, Result};
use crate::heap::checksum::crc32c;

pub(crate) const ENTRY_HDR: usize = 24;
const JUMP: u64 = u64::MAX;
const MARKER: u64 = 1 << 63;

/// One entry: restore `len` bytes at `off` from log offset `data`; or, for a marker, the
/// fresh range `off .. off + len` (nothing to restore).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub off: u64,
    pub len: u64,
    pub data: u64,
    pub marker: bool,
}

/// The chain of log segments and the write position in it.
#[derive(Debug)]
pub(crate) struct LogChain {
    /// (segment offset, end of its data area)
    segs: Vec<(u64, u64)>,
    /// The redo slots at the end of the primary segment, on pools with `FLAG_REDO`.
    pub redo: Option<[super::redo::Slot; 2]>,
    /// The link field of the last segment, when it names the end of the pool: a growth
    /// interrupted before its header (see [`LogChain::load`]); open cuts it.
    pub stale_link: Option<usize>,
    seg: usize,
    pos: u64,
}

/// Writes an entry header at `at` (the checksum comes last, from [`seal`]).
fn write_head(io: &HeapIo, at: u64, gen_: u64, off: u64, len: u32) {
    let at = at as usize;
    io.map.write_u32(at + 4, len);
    io.map.write_u64(at + 8, gen_);
    io.map.write_u64(at + 16, off);
}

/// The checksum of the entry at `at` with `saved` bytes. Under Miri the saved bytes may hold
/// padding Miri sees as uninitialised (the freezing copy is asm, which Miri cannot run), so
/// only the header is summed there.
fn entry_crc(map: &crate::heap::map::Mapping, at: u64, saved: u64) -> u32 {
    let n = if cfg!(miri) { 20 } else { 20 + saved as usize };
    crc32c(map.bytes(at as usize + 4, n))
}

/// Computes and stores the entry's checksum.
fn seal(io: &HeapIo, at: u64, saved: u64) {
    io.map.write_u32(at as usize, entry_crc(&io.map, at, saved));
}

impl LogChain {
    /// Reads the chain from the primary log segment, validating each link.
    pub(crate) fn load(heap: &Heap) -> Result<LogChain> {
        let map = &heap.io.map;
        let mut segs = Vec::new();
        let mut off = heap.hdr.log_off;
        let mut stale_link = None;
        while off != 0 {
            if let Some(&(last, _)) = segs.last().filter(|_| off == heap.valid_size()) {
                // A growth links its segment before its header names it (`reserve`): the
                // header never became durable, so the segment is not there. The chain ends.
                stale_link = Some(last as usize + segment::OFF_AUX);
                break;
            }
            let ok = off.is_multiple_of(PAGE as u64)
                && off + PAGE as u64 <= heap.valid_size()
                && map.read_u32(off as usize) == segment::SEG_MAGIC
                && map.read_u32(off as usize + segment::OFF_KIND) == Kind::Log as u32;
            let pages = if ok {
                map.read_u64(off as usize + segment::OFF_PAGES)
            } else {
                0
            };
            let end = off.checked_add(pages.saturating_mul(PAGE as u64));
            let end = end.filter(|&e| pages >= 2 && e <= heap.valid_size());
            let Some(end) = end.filter(|_| segs.len() < 4096) else {
                return Err(Error::corrupted(
                    heap.path(),
                    format!("bad log segment at {off}"),
                ));
            };
            segs.push((off, end));
            off = map.read_u64(off as usize + segment::OFF_AUX);
        }
        let mut redo = None;
        if heap.hdr.flags & crate::heap::header::FLAG_REDO != 0 {
            let pages = (segs[0].1 - segs[0].0) / PAGE as u64;
            let Some((slots, taken)) = super::redo::slots(segs[0].0, pages) else {
                return Err(Error::corrupted(heap.path(), "no room for the redo slots"));
            };
            segs[0].1 -= taken * PAGE as u64; // the undo entries end before them
            redo = Some(slots);
        }
        Ok(LogChain {
            stale_link,
            seg: 0,
            pos: segs[0].0 + PAGE as u64,
            segs,
            redo,
        })
    }

    /// Starts a transaction's entries at the beginning of the chain.
    pub(crate) fn rewind(&mut self) {
        self.seg = 0;
        self.pos = self.segs[0].0 + PAGE as u64;
    }

    /// Bytes left from the write position to the end of the chain.
    fn room(&self) -> u64 {
        let here = self.segs[self.seg].1 - self.pos;
        here + self.segs[self.seg + 1..]
            .iter()
            .map(|&(s, e)| e - s - PAGE as u64)
            .sum::<u64>()
    }

    /// Makes sure `bytes` more of entries fit, appending a log segment (and growing the pool)
    /// if not. Called before any step that logs through the allocator, which cannot grow.
    pub(crate) fn reserve(&mut self, heap: &mut Heap, bytes: u64) -> Result<()> {
        // Each segment change may waste up to one entry header plus alignment.
        let need = bytes + 2 * ENTRY_HDR as u64 * (self.segs.len() as u64 + 1) + 64;
        if self.room() >= need {
            return Ok(());
        }
        let total: u64 = self.segs.iter().map(|&(s, e)| e - s).sum();
        let pages = (need.max(total) / PAGE as u64 + 2).min(1 << 20);
        let last = self.segs.last().expect("primary log segment").0;
        let new = heap.add_log_segment(pages, last as usize + segment::OFF_AUX)?;
        self.segs.push((new, new + pages * PAGE as u64));
        Ok(())
    }

    /// Appends entries saving `off .. off + len` (split at segment ends). Returns the log
    /// byte ranges written, `(start, end)`, one per segment touched and including any jump
    /// marker left behind (recovery needs it to reach the next segment), for the caller to
    /// persist; pushes each entry to `out`.
    pub(crate) fn append(
        &mut self,
        io: &HeapIo,
        gen_: u64,
        off: u64,
        len: u64,
        from: Option<*const u8>,
        out: &mut Vec<Entry>,
    ) -> Result<Ranges> {
        let mut written = Ranges::new();
        let mut piece = self.pos;
        let mut done = 0;
        while done < len {
            let avail = (self.segs[self.seg].1 - self.pos).saturating_sub(ENTRY_HDR as u64) & !7;
            if avail < 8 {
                let end = self.jump(io, gen_)?;
                push_piece(&mut written, piece, end);
                piece = self.pos;
                continue;
            }
            let n = (len - done).min(avail).min(u64::from(u32::MAX) & !7);
            let at = self.pos;
            let data = at + ENTRY_HDR as u64;
            let src = from.map(|p| p.wrapping_add(done as usize));
            io.map
                .copy_in(data as usize, (off + done) as usize, n as usize, src);
            write_head(io, at, gen_, off + done, n as u32);
            seal(io, at, n);
            out.push(Entry {
                off: off + done,
                len: n,
                data,
                marker: false,
            });
            self.pos = data + n.next_multiple_of(8);
            done += n;
        }
        push_piece(&mut written, piece, self.pos);
        Ok(written)
    }

    /// Continues in the next segment, leaving a jump marker if one fits. Returns where the
    /// bytes written in the segment left behind end (after the marker, if any).
    fn jump(&mut self, io: &HeapIo, gen_: u64) -> Result<u64> {
        if self.seg + 1 >= self.segs.len() {
            return Err(Error::corrupted(
                &io.path,
                "undo log space was not reserved",
            ));
        }
        let mut end = self.pos;
        if self.segs[self.seg].1 - self.pos >= ENTRY_HDR as u64 {
            write_head(io, self.pos, gen_, JUMP, 0);
            seal(io, self.pos, 0);
            end += ENTRY_HDR as u64;
        }
        self.seg += 1;
        self.pos = self.segs[self.seg].0 + PAGE as u64;
        Ok(end)
    }

    /// The entries of the generation at the head of the log, in log order, and that gen,
    /// if it is at least `min_gen` (else none). Entries pointing outside
    /// `heap_off .. valid_size` end the scan like a torn one.
    pub(crate) fn scan(&self, heap: &Heap, min_gen: u64) -> (u64, Vec<Entry>) {
        let map = &heap.io.map;
        let mut out = Vec::new();
        let mut gen_ = 0;
        let (mut seg, mut pos) = (0, self.segs[0].0 + PAGE as u64);
        loop {
            let end = self.segs[seg].1;
            if end - pos < ENTRY_HDR as u64 {
                seg += 1;
                if seg == self.segs.len() {
                    break;
                }
                pos = self.segs[seg].0 + PAGE as u64;
                continue;
            }
            let crc = map.read_u32(pos as usize);
            let len = u64::from(map.read_u32(pos as usize + 4));
            let g = map.read_u64(pos as usize + 8);
            let off = map.read_u64(pos as usize + 16);
            let data = pos + ENTRY_HDR as u64;
            let marker = off != JUMP && off & MARKER != 0;
            let saved = if marker { 0 } else { len };
            if g < min_gen || g == 0 || (gen_ != 0 && g != gen_) || data + saved > end {
                break;
            }
            let target = off & !MARKER;
            let target_ok = off == JUMP
                || (target >= heap.hdr.heap_off
                    && target
                        .checked_add(len)
                        .is_some_and(|e| e <= heap.valid_size()));
            if !target_ok || crc != entry_crc(map, pos, saved) {
                break;
            }
            gen_ = g;
            if off == JUMP {
                pos = end; // continue in the next segment
                continue;
            }
            out.push(Entry {
                off: target,
                len,
                data,
                marker,
            });
            pos = data + saved.next_multiple_of(8);
        }
        (gen_, out)
    }

    /// Appends a fresh-range marker. Returns the log byte ranges written (as `append`).
    pub(crate) fn append_marker(
        &mut self,
        io: &HeapIo,
        gen_: u64,
        off: u64,
        len: u64,
        out: &mut Vec<Entry>,
    ) -> Result<Ranges> {
        let mut written = Ranges::new();
        if self.segs[self.seg].1 - self.pos < ENTRY_HDR as u64 {
            let (piece, end) = (self.pos, self.jump(io, gen_)?);
            push_piece(&mut written, piece, end);
        }
        let at = self.pos;
        let len32 = u32::try_from(len).expect("fresh ranges are below 4 GiB");
        write_head(io, at, gen_, off | MARKER, len32);
        seal(io, at, 0);
        let data = at + ENTRY_HDR as u64;
        out.push(Entry {
            off,
            len,
            data,
            marker: true,
        });
        self.pos = data;
        push_piece(&mut written, at, self.pos);
        Ok(written)
    }
}

/// Log byte ranges `(start, end)` written by one append: one per segment it touched.
pub(crate) type Ranges = smallvec::SmallVec<[(u64, u64); 2]>;

fn push_piece(v: &mut Ranges, start: u64, end: u64) {
    if end > start {
        v.push((start, end));
    }
}

/// The commit record: two checksummed slots in the primary log segment's header page, the
/// valid one with the larger generation counts. `gen` is the last finished (committed or
/// rolled back) transaction. A write-back commit also records `count`, its entries and
/// markers, and `sum`, the crc32 of the bytes they cover as committed: recovery recomputes
/// it, and a mismatch means the commit's last barrier was torn: the transaction rolls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub gen_: u64,
    pub count: u32,
    pub sum: u32,
}

impl Record {
    /// A record naming `gen_` finished, with no entries to check.
    pub(crate) fn plain(gen_: u64) -> Record {
        Record {
            gen_,
            count: 0,
            sum: 0,
        }
    }
}

const RECORD_LEN: u64 = 20;

pub(crate) fn read_record(heap: &Heap) -> Result<Record> {
    let base = heap.hdr.log_off as usize;
    let slot = |i: usize| {
        let at = base + segment::COMMIT_SLOTS[i];
        let rec = Record {
            gen_: heap.io.map.read_u64(at),
            count: heap.io.map.read_u32(at + 8),
            sum: heap.io.map.read_u32(at + 12),
        };
        (heap.io.map.read_u32(at + 16) == record_crc(&rec)).then_some(rec)
    };
    match (slot(0), slot(1)) {
        (Some(a), Some(b)) => Ok(if a.gen_ >= b.gen_ { a } else { b }),
        (Some(r), None) | (None, Some(r)) => Ok(r),
        (None, None) => Err(Error::corrupted(
            heap.path(),
            "both commit records are damaged",
        )),
    }
}

fn record_crc(r: &Record) -> u32 {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&r.gen_.to_le_bytes());
    b[8..12].copy_from_slice(&r.count.to_le_bytes());
    b[12..].copy_from_slice(&r.sum.to_le_bytes());
    crc32c(&b) ^ 0x5043_4f4c
}

/// Writes the record to its slot (`gen % 2`; the other keeps the previous one) and returns
/// the range to make durable. Durable, it is the commit point of its transaction.
pub(crate) fn put_record(io: &HeapIo, log_off: u64, r: Record) -> (u64, u64) {
    let at = log_off as usize + segment::COMMIT_SLOTS[(r.gen_ % 2) as usize];
    io.map.write_u64(at, r.gen_);
    io.map.write_u32(at + 8, r.count);
    io.map.write_u32(at + 12, r.sum);
    io.map.write_u32(at + 16, record_crc(&r));
    (at as u64, RECORD_LEN)
}
