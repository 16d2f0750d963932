//! The redo slots: one-barrier durable commits on ordinary files (issue 15).
//!
//! A pool created with the `REDO` header flag keeps two slots at the end of its primary log
//! segment. A write-back commit whose changes fit a slot writes one *redo record* there: the
//! new bytes of every range the transaction changed, with a checksum. One barrier (`pwrite` +
//! `fdatasync`) makes the record durable: that is the commit point. The changed ranges are
//! then handed to the file at their homes with `pwrite` alone; the next barrier of any kind
//! makes them durable. Until then the record may be needed, so consecutive records alternate
//! slots: a record is overwritten only two redo commits later, after a barrier that made its
//! home writes durable. Recovery replays every valid record newer than the undo log's last
//! finished generation, oldest first (replaying is idempotent).
//!
//! A transaction too large for a slot commits with the two-barrier undo protocol, after a
//! barrier that makes earlier home writes durable (so its undo record, once it supersedes the
//! redo records by generation, never hides a change that only a record held).
//!
//! Record layout (little-endian), `docs/format.md`:
//!
//! ```text
//!   0  magic  u32   "PRDO"
//!   4  count  u32   ranges
//!   8  gen    u64   the transaction's generation
//!  16  bytes  u64   length of what follows the 32-byte head
//!  24  crc    u32   CRC-32C of bytes 4..24 and 32..32 + bytes
//!  28  (zero)
//!  32  ranges: off u64, len u64, then len bytes padded to 8
//! ```

use super::super::heap::map::PAGE;
use super::super::heap::{Heap, HeapIo};
use crate::heap::checksum::crc32c;

const MAGIC: u32 = u32::from_le_bytes(*b"PRDO");
const HEAD: u64 = 32;

/// A slot: pool offset and length in bytes.
pub(crate) type Slot = (u64, u64);

/// The two slots of a primary log segment of `pages` pages at `log_off`, and the pages they
/// take from the undo log's end: a quarter of the segment each (none below 5 pages).
pub(crate) fn slots(log_off: u64, pages: u64) -> Option<([Slot; 2], u64)> {
    let r = (pages.saturating_sub(1)) / 4;
    if r == 0 {
        return None;
    }
    let page = PAGE as u64;
    let first = log_off + (pages - 2 * r) * page;
    Some(([(first, r * page), (first + r * page, r * page)], 2 * r))
}

/// Bytes a record of these ranges takes.
pub(crate) fn record_len(ranges: &[(u64, u64)]) -> u64 {
    HEAD + ranges
        .iter()
        .map(|r| 16 + r.1.next_multiple_of(8))
        .sum::<u64>()
}

/// Writes the record of generation `gen_` for `ranges` (their current bytes) into `slot` in
/// memory; returns the range to persist. The caller checked that it fits.
pub(crate) fn put(io: &HeapIo, slot: Slot, gen_: u64, ranges: &[(u64, u64)]) -> (u64, u64) {
    let len = record_len(ranges);
    debug_assert!(len <= slot.1);
    let map = &io.map;
    let mut at = (slot.0 + HEAD) as usize;
    for &(off, n) in ranges {
        map.write_u64(at, off);
        map.write_u64(at + 8, n);
        map.copy_in(at + 16, off as usize, n as usize, None);
        let pad = n.next_multiple_of(8) - n;
        map.write_bytes(at + 16 + n as usize, &[0u8; 8][..pad as usize]);
        at += 16 + n.next_multiple_of(8) as usize;
    }
    let s = slot.0 as usize;
    map.write_u32(s, MAGIC);
    map.write_u32(
        s + 4,
        u32::try_from(ranges.len()).expect("fewer than 4G ranges"),
    );
    map.write_u64(s + 8, gen_);
    map.write_u64(s + 16, len - HEAD);
    map.write_u32(s + 28, 0);
    map.write_u32(s + 24, crc_of(io, slot.0, len - HEAD));
    (slot.0, len)
}

/// Makes the slot's record invalid in memory (a failed commit's record); returns the range.
pub(crate) fn clear(io: &HeapIo, slot: Slot) -> (u64, u64) {
    io.map.write_bytes(slot.0 as usize, &[0u8; HEAD as usize]);
    (slot.0, HEAD)
}

fn crc_of(io: &HeapIo, at: u64, bytes: u64) -> u32 {
    let mut b = io.map.bytes(at as usize + 4, 20).to_vec();
    b.extend_from_slice(io.map.bytes((at + HEAD) as usize, bytes as usize));
    crc32c(&b)
}

/// A valid record: its generation and ranges `(off, len, data offset)`.
pub(crate) struct Record {
    pub gen_: u64,
    pub ranges: Vec<(u64, u64, u64)>,
}

/// The record in `slot`, if it is whole and every range lies in the heap.
pub(crate) fn read(heap: &Heap, slot: Slot) -> Option<Record> {
    let map = &heap.io.map;
    let s = slot.0 as usize;
    if map.read_u32(s) != MAGIC {
        return None;
    }
    let count = map.read_u32(s + 4) as usize;
    let gen_ = map.read_u64(s + 8);
    let bytes = map.read_u64(s + 16);
    if bytes > slot.1 - HEAD || map.read_u32(s + 24) != crc_of(&heap.io, slot.0, bytes) {
        return None;
    }
    let (mut at, end) = (slot.0 + HEAD, slot.0 + HEAD + bytes);
    let mut ranges = Vec::with_capacity(count.min(4096));
    for _ in 0..count {
        if at + 16 > end {
            return None;
        }
        let (off, n) = (map.read_u64(at as usize), map.read_u64(at as usize + 8));
        let data = at + 16;
        let in_heap =
            off >= heap.hdr.heap_off && off.checked_add(n).is_some_and(|e| e <= heap.valid_size());
        if !in_heap || data + n > end {
            return None;
        }
        ranges.push((off, n, data));
        at = data + n.next_multiple_of(8);
    }
    Some(Record { gen_, ranges })
}

/// True when replaying `recs` (oldest first) would write nothing: every byte a record
/// writes, unless a newer record writes it too, already holds that record's value (the
/// usual case on open after redo commits, closed cleanly or killed).
pub(crate) fn applied(heap: &Heap, recs: &[&Record]) -> bool {
    let map = &heap.io.map;
    // Ranges written by the newer records, sorted and merged.
    let mut newer: Vec<(u64, u64)> = Vec::new();
    for rec in recs.iter().rev() {
        for &(off, n, data) in &rec.ranges {
            for (a, b) in uncovered(off, off + n, &newer) {
                if !map.holds(a as usize, (data + a - off) as usize, (b - a) as usize) {
                    return false;
                }
            }
        }
        newer.extend(rec.ranges.iter().map(|&(off, n, _)| (off, off + n)));
        newer.sort_unstable();
        newer.dedup_by(|b, a| {
            let touch = b.0 <= a.1;
            if touch {
                a.1 = a.1.max(b.1);
            }
            touch
        });
    }
    true
}

/// The parts of `start..end` outside `covers` (sorted, disjoint `(start, end)` pairs).
fn uncovered(start: u64, end: u64, covers: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    for &(a, b) in covers {
        if b <= at {
            continue;
        }
        if a >= end {
            break;
        }
        if a > at {
            out.push((at, a));
        }
        at = at.max(b);
    }
    if at < end {
        out.push((at, end));
    }
    out
}

/// Copies a record's bytes to their homes in memory; returns the ranges written.
pub(crate) fn apply(heap: &Heap, rec: &Record) -> Vec<(u64, u64)> {
    for &(off, n, data) in &rec.ranges {
        heap.io.map.restore(off as usize, data as usize, n as usize);
    }
    rec.ranges.iter().map(|r| (r.0, r.1)).collect()
}

#[cfg(test)]
mod tests {
    use super::uncovered;

    #[test]
    fn uncovered_parts() {
        assert_eq!(uncovered(0, 10, &[]), [(0, 10)]);
        assert_eq!(
            uncovered(0, 10, &[(2, 4), (6, 7)]),
            [(0, 2), (4, 6), (7, 10)]
        );
        assert_eq!(uncovered(3, 5, &[(0, 4)]), [(4, 5)]);
        assert_eq!(uncovered(3, 5, &[(0, 10)]), []);
        assert_eq!(uncovered(3, 5, &[(6, 10)]), [(3, 5)]);
        assert_eq!(
            uncovered(3, 8, &[(0, 1), (4, 5), (7, 20)]),
            [(3, 4), (5, 7)]
        );
    }
}
