//! The redo ring: one-barrier durable commits on ordinary files (issue 15).
//!
//! A pool created with the `REDO` and `RING` header flags keeps a ring area in the second
//! half of its primary log segment. A write-back commit whose changes fit half the area
//! appends one *redo record* at the ring's tail: the new bytes of every range the
//! transaction changed, with a checksum. One barrier (`pwrite` + `fdatasync`) makes the
//! record durable: that is the commit point, and the only barrier of the commit. The changed
//! ranges are *not* written to their homes: they stay in the private mapping, so the next
//! commit's barrier writes back only its own record, not the pages of the commits before.
//!
//! A *checkpoint* hands every pending range to the file and makes it durable with one
//! barrier. A second barrier then writes the undo log's commit record naming the newest
//! generation used: every record is now *finished* (not above the last finished generation),
//! so recovery ignores them, and the next record starts the ring again at its beginning.
//! Checkpoints run after a commit that leaves the tail past half the area (so the next
//! record always fits), when the pending ranges grow large, and on a clean close; an undo
//! commit runs the first barrier itself (after its log is durable, before its commit record
//! supersedes the records by generation). Recovery scans the ring from its beginning:
//! records while each is whole, above the last finished generation and above the one
//! before; it replays them oldest first (replaying is idempotent). Records left after a
//! shorter new one are older than the commit record that retired them, so the scan stops
//! there; and generations only grow (open starts above the commit record), so a new record
//! can never continue a chain of old ones.
//!
//! Pools from before the ring (`REDO` alone) kept two alternating slots in the same area;
//! open replays those and, on a writable write-back file, clears them and sets `RING`.
//!
//! Record layout (little-endian), `docs/format.md`:
//!
//! ```text
//!   0  magic  u32   "PRD2"
//!   4  count  u32   ranges
//!   8  gen    u64   the transaction's generation
//!  16  bytes  u64   length of what follows the 32-byte head, a multiple of 8
//!  24  crc    u32   CRC-32C of bytes 4..24 and 32..32 + bytes
//!  28  (zero)
//!  32  ranges, ascending and disjoint: gap, len (LEB128 varints; gap = off minus the end of
//!      the range before, or off itself for the first), then len bytes; zeros to the end
//! ```
//!
//! The ranges of a commit are mostly a few dozen bytes (a hash slot, a counter, a leaf's
//! shifted tail), so their heads are varints: 2 to 5 bytes instead of the 16 (and up to 7
//! of padding) of the first format, `"PRDO"` (`off u64, len u64, len bytes padded to 8`),
//! which open still reads (a pool killed by an older build; the header's `PACKED` flag
//! keeps older builds from opening a pool that may hold packed records). A million durable
//! ZADDs through pcoll-redis: 936 -> 818 bytes of record each, 59 -> 45 checkpoints.

use super::super::heap::map::PAGE;
use super::super::heap::{Heap, HeapIo};
use crate::heap::checksum::Crc32c;

const MAGIC: u32 = u32::from_le_bytes(*b"PRD2");
/// The first format's magic: fixed 16-byte range heads, data padded to 8.
const MAGIC_V1: u32 = u32::from_le_bytes(*b"PRDO");
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

/// Bytes a record of these ranges (ascending, disjoint: `merge_ranges`) takes.
pub(crate) fn record_len(ranges: &[(u64, u64)]) -> u64 {
    let mut end = 0;
    let body: u64 = ranges
        .iter()
        .map(|&(off, n)| {
            let gap = off - end;
            end = off + n;
            varint_len(gap) + varint_len(n) + n
        })
        .sum();
    HEAD + body.next_multiple_of(8)
}

/// Writes the record of generation `gen_` for `ranges` (ascending and disjoint; their
/// current bytes) into `slot` in memory; returns the range to persist. The caller checked
/// that it fits.
pub(crate) fn put(io: &HeapIo, slot: Slot, gen_: u64, ranges: &[(u64, u64)]) -> (u64, u64) {
    let len = record_len(ranges);
    debug_assert!(len <= slot.1);
    let map = &io.map;
    let (mut at, mut end) = ((slot.0 + HEAD) as usize, 0);
    let mut head = [0u8; 20];
    for &(off, n) in ranges {
        assert!(off >= end, "redo ranges ascend and are disjoint");
        let h = put_varint(&mut head, 0, off - end);
        let h = put_varint(&mut head, h, n);
        map.write_bytes(at, &head[..h]);
        map.copy_in(at + h, off as usize, n as usize, None);
        at += h + n as usize;
        end = off + n;
    }
    let stop = (slot.0 + len) as usize;
    map.write_bytes(at, &[0u8; 8][..stop - at]);
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

/// Bytes of `v` as a LEB128 varint (7 bits a byte, low first; high bit: more follow).
fn varint_len(v: u64) -> u64 {
    u64::from((64 - (v | 1).leading_zeros()).div_ceil(7))
}

/// Writes `v` as a varint into `buf` at `at`; returns the position after it.
fn put_varint(buf: &mut [u8], mut at: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        buf[at] = (v as u8 & 0x7f) | 0x80;
        v >>= 7;
        at += 1;
    }
    buf[at] = v as u8;
    at + 1
}

/// The varint at `bytes[*at..]`, advancing `at`; None if it runs past the end or past 64
/// bits (a damaged record).
fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The ranges of a record's body (what follows its head) in the format of `magic`, as
/// `(off, len, at)` with their bytes at `body[at..at + len]`; None if they do not parse
/// inside it.
pub(crate) fn ranges_of(magic: u32, body: &[u8], count: usize) -> Option<Vec<(u64, u64, usize)>> {
    let mut ranges = Vec::with_capacity(count.min(4096));
    let (mut at, mut end) = (0usize, 0u64);
    for _ in 0..count {
        let (off, n) = if magic == MAGIC {
            let off = end.checked_add(get_varint(body, &mut at)?)?;
            (off, get_varint(body, &mut at)?)
        } else {
            let word = |i: usize| Some(u64::from_le_bytes(body.get(i..i + 8)?.try_into().ok()?));
            let (off, n) = (word(at)?, word(at + 8)?);
            at += 16;
            (off, n)
        };
        let data = at;
        let stop = usize::try_from(n).ok().and_then(|n| data.checked_add(n))?;
        if stop > body.len() {
            return None;
        }
        ranges.push((off, n, data));
        end = off.checked_add(n)?;
        at = if magic == MAGIC {
            stop
        } else {
            stop.next_multiple_of(8)
        };
    }
    Some(ranges)
}

/// Makes the slot's record invalid in memory (a failed commit's record); returns the range.
pub(crate) fn clear(io: &HeapIo, slot: Slot) -> (u64, u64) {
    io.map.write_bytes(slot.0 as usize, &[0u8; HEAD as usize]);
    (slot.0, HEAD)
}

fn crc_of(io: &HeapIo, at: u64, bytes: u64) -> u32 {
    let mut c = Crc32c::new();
    c.update(io.map.bytes(at as usize + 4, 20));
    c.update(io.map.bytes((at + HEAD) as usize, bytes as usize));
    c.finish()
}

/// A valid record: its generation, its length in bytes (head included) and its ranges
/// `(off, len, data offset)`.
pub(crate) struct Record {
    pub gen_: u64,
    pub len: u64,
    pub ranges: Vec<(u64, u64, u64)>,
}

/// The ring of the two slots of the old layout: both, as one area.
pub(crate) fn ring(slots: [Slot; 2]) -> Slot {
    (slots[0].0, slots[0].1 + slots[1].1)
}

/// The records of `ring`, scanned from its beginning: each whole, of a generation above
/// `done` (the last finished generation: older records are dead, their homes durable) and
/// above the one before; and the tail (the ring offset after the last).
pub(crate) fn scan(heap: &Heap, ring: Slot, done: u64) -> (Vec<Record>, u64) {
    let (mut at, end) = (ring.0, ring.0 + ring.1);
    let mut out: Vec<Record> = Vec::new();
    while at + HEAD <= end {
        match read(heap, (at, end - at)) {
            Some(r) if r.gen_ > out.last().map_or(done, |p| p.gen_) => {
                at += r.len;
                out.push(r);
            }
            _ => break,
        }
    }
    (out, at - ring.0)
}

/// `rec`, a whole record of the current format, in the first format (what builds before
/// it wrote): for the images of old pools that tests open.
#[cfg(feature = "testing")]
pub(crate) fn to_first_format(rec: &[u8]) -> Vec<u8> {
    let count = u32::from_le_bytes(rec[4..8].try_into().expect("4 bytes")) as usize;
    let ranges = ranges_of(MAGIC, &rec[HEAD as usize..], count).expect("a whole record");
    let mut out = rec[..HEAD as usize].to_vec();
    for (off, n, data) in ranges {
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        let data = HEAD as usize + data;
        out.extend_from_slice(&rec[data..data + n as usize]);
        out.resize(out.len().next_multiple_of(8), 0);
    }
    out[..4].copy_from_slice(&MAGIC_V1.to_le_bytes());
    let body = (out.len() as u64 - HEAD).to_le_bytes();
    out[16..24].copy_from_slice(&body);
    let mut c = Crc32c::new();
    c.update(&out[4..24]);
    c.update(&out[HEAD as usize..]);
    out[24..28].copy_from_slice(&c.finish().to_le_bytes());
    out
}

/// The record in `slot`, if it is whole and every range lies in the heap.
pub(crate) fn read(heap: &Heap, slot: Slot) -> Option<Record> {
    let map = &heap.io.map;
    let s = slot.0 as usize;
    let magic = map.read_u32(s);
    if magic != MAGIC && magic != MAGIC_V1 {
        return None;
    }
    let count = map.read_u32(s + 4) as usize;
    let gen_ = map.read_u64(s + 8);
    let bytes = map.read_u64(s + 16);
    if bytes > slot.1 - HEAD || map.read_u32(s + 24) != crc_of(&heap.io, slot.0, bytes) {
        return None;
    }
    let body = slot.0 + HEAD;
    let parsed = ranges_of(magic, map.bytes(body as usize, bytes as usize), count)?;
    let in_heap = |&(off, n, _): &(u64, u64, usize)| {
        off >= heap.hdr.heap_off && off.checked_add(n).is_some_and(|e| e <= heap.valid_size())
    };
    if !parsed.iter().all(in_heap) {
        return None;
    }
    Some(Record {
        gen_,
        len: HEAD + bytes,
        ranges: parsed
            .into_iter()
            .map(|(off, n, data)| (off, n, body + data as u64))
            .collect(),
    })
}

/// True when replaying `recs` (oldest first) would write nothing: every byte a record
/// writes, unless a newer record writes it too, already holds that record's value (the
/// usual case on open after redo commits, closed cleanly or killed). O(r log r) in the
/// records' ranges: a ring of 64 MiB holds a few hundred thousand (a sorted list re-sorted
/// per record, which it was, took seconds there).
pub(crate) fn applied(heap: &Heap, recs: &[&Record]) -> bool {
    let map = &heap.io.map;
    // Ranges written by the newer records.
    let mut newer = Covered::default();
    for rec in recs.iter().rev() {
        for &(off, n, data) in &rec.ranges {
            let same =
                |a: u64, b: u64| map.holds(a as usize, (data + a - off) as usize, (b - a) as usize);
            if !newer.uncovered(off, off + n, same) {
                return false;
            }
        }
        for &(off, n, _) in &rec.ranges {
            newer.insert(off, off + n);
        }
    }
    true
}

/// A set of byte ranges, kept disjoint and merged (start -> end).
#[derive(Default)]
struct Covered(std::collections::BTreeMap<u64, u64>);

impl Covered {
    /// Calls `f(a, b)` for each part `a..b` of `start..end` outside the set, in order, while
    /// it returns true; false when it returned false.
    fn uncovered(&self, start: u64, end: u64, mut f: impl FnMut(u64, u64) -> bool) -> bool {
        let mut at = start;
        // The range that starts at or before `start` may cover its beginning.
        if let Some((_, &b)) = self.0.range(..=start).next_back() {
            at = at.max(b);
        }
        for (&a, &b) in self.0.range(start..end) {
            if a > at && !f(at, a) {
                return false;
            }
            at = at.max(b);
        }
        at >= end || f(at, end)
    }

    /// Adds `start..end`, merged with the ranges it overlaps or touches.
    fn insert(&mut self, mut start: u64, mut end: u64) {
        if let Some((&a, &b)) = self.0.range(..=start).next_back()
            && b >= start
        {
            start = a;
            end = end.max(b);
        }
        let inside: Vec<u64> = self.0.range(start..=end).map(|(&a, _)| a).collect();
        for a in inside {
            let b = self.0.remove(&a).expect("listed above");
            end = end.max(b);
        }
        self.0.insert(start, end);
    }
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
    use super::{Covered, MAGIC, MAGIC_V1, get_varint, put_varint, ranges_of, varint_len};

    #[test]
    fn varints_round_trip_and_damage_is_refused() {
        let mut buf = [0u8; 12];
        for v in [
            0,
            1,
            127,
            128,
            300,
            16383,
            16384,
            1 << 35,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let n = put_varint(&mut buf, 1, v);
            assert_eq!((n - 1) as u64, varint_len(v), "{v}");
            let mut at = 1;
            assert_eq!(get_varint(&buf[..n], &mut at), Some(v));
            assert_eq!(at, n);
            // Cut short: refused.
            assert_eq!(get_varint(&buf[..n - 1], &mut 1), None, "{v}");
        }
        // Past 64 bits, or more than ten bytes: refused.
        let mut over = [0xffu8; 10];
        over[9] = 0x02;
        assert_eq!(get_varint(&over, &mut 0), None);
        assert_eq!(get_varint(&[0x80u8; 11], &mut 0), None);
        over[9] = 0x01;
        assert_eq!(get_varint(&over, &mut 0), Some(u64::MAX));
    }

    /// A body of the current format: `(off, bytes)` pairs, ascending.
    fn body(ranges: &[(u64, &[u8])]) -> Vec<u8> {
        let (mut out, mut end) = (Vec::new(), 0);
        for &(off, data) in ranges {
            let mut head = [0u8; 20];
            let h = put_varint(&mut head, 0, off - end);
            let h = put_varint(&mut head, h, data.len() as u64);
            out.extend_from_slice(&head[..h]);
            out.extend_from_slice(data);
            end = off + data.len() as u64;
        }
        out.resize(out.len().next_multiple_of(8), 0);
        out
    }

    #[test]
    fn record_bodies_parse_in_both_formats() {
        let b = body(&[(4096, b"abc"), (4099, b""), (70000, &[7; 200])]);
        // Heads: 4096 takes two bytes, 3 one; 0 and 0 one each; 65901 three, 200 two.
        assert_eq!(b.len(), (3 + 3 + 2 + 5 + 200usize).next_multiple_of(8));
        let got = ranges_of(MAGIC, &b, 3).expect("parses");
        assert_eq!(got, [(4096, 3, 3), (4099, 0, 8), (70000, 200, 13)]);
        assert_eq!(&b[13..213], &[7; 200]);
        // More ranges than the body holds (its zero padding reads as empty ranges, which
        // write nothing), or a range cut short: refused.
        assert_eq!(ranges_of(MAGIC, &b, 5), None);
        assert_eq!(ranges_of(MAGIC, &b[..100], 3), None);
        // A gap that overflows the offset: refused.
        let mut wrap = [0u8; 24];
        let h = put_varint(&mut wrap, 0, u64::MAX - 2);
        let h = put_varint(&mut wrap, h, 1);
        let h = put_varint(&mut wrap, h + 1, 5);
        put_varint(&mut wrap, h, 0);
        assert_eq!(ranges_of(MAGIC, &wrap, 1).map(|r| r.len()), Some(1));
        assert_eq!(ranges_of(MAGIC, &wrap, 2), None);
        // The first format: 16-byte heads, data padded to 8.
        let mut v1 = Vec::new();
        for (off, data) in [(4096u64, &b"abc"[..]), (8192, &[1; 9][..])] {
            v1.extend_from_slice(&off.to_le_bytes());
            v1.extend_from_slice(&(data.len() as u64).to_le_bytes());
            v1.extend_from_slice(data);
            v1.resize(v1.len().next_multiple_of(8), 0);
        }
        let got = ranges_of(MAGIC_V1, &v1, 2).expect("parses");
        assert_eq!(got, [(4096, 3, 16), (8192, 9, 40)]);
        assert_eq!(ranges_of(MAGIC_V1, &v1[..45], 2), None);
    }

    fn uncovered(start: u64, end: u64, covers: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let mut set = Covered::default();
        for &(a, b) in covers {
            set.insert(a, b);
        }
        let mut out = Vec::new();
        assert!(set.uncovered(start, end, |a, b| {
            out.push((a, b));
            true
        }));
        out
    }

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
        // Merged on insert, whatever the order: touching and overlapping ranges.
        assert_eq!(
            uncovered(
                0,
                30,
                &[
                    (10, 12),
                    (4, 6),
                    (6, 8),
                    (11, 15),
                    (20, 21),
                    (0, 1),
                    (19, 25)
                ]
            ),
            [(1, 4), (8, 10), (15, 19), (25, 30)]
        );
        // A false from `f` stops the walk.
        let mut set = Covered::default();
        set.insert(5, 6);
        let mut calls = 0;
        assert!(!set.uncovered(0, 10, |_, _| {
            calls += 1;
            false
        }));
        assert_eq!(calls, 1);
    }

    /// Against a byte model: random inserts, then every window's uncovered parts.
    #[test]
    fn covered_matches_a_byte_model() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..200 {
            let mut set = Covered::default();
            let mut bytes = [false; 80];
            for _ in 0..next(12) {
                let a = next(60);
                let b = a + 1 + next(6);
                set.insert(a, b);
                bytes[a as usize..b as usize]
                    .iter_mut()
                    .for_each(|c| *c = true);
            }
            let (s, e) = (next(40), 40 + next(24));
            let mut got = [false; 80];
            set.uncovered(s, e, |a, b| {
                got[a as usize..b as usize]
                    .iter_mut()
                    .for_each(|c| *c = true);
                true
            });
            for i in 0..80 {
                let want = (s..e).contains(&(i as u64)) && !bytes[i];
                assert_eq!(got[i], want, "byte {i} of {s}..{e}");
            }
            // Disjoint and merged: no two stored ranges touch.
            let v: Vec<(u64, u64)> = set.0.iter().map(|(&a, &b)| (a, b)).collect();
            assert!(v.windows(2).all(|w| w[0].1 < w[1].0), "{v:?}");
        }
    }
}
