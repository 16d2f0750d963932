//! Segment layout. After the header page, the file is a sequence of segments, each starting
//! with a one-page segment header:
//!
//! ```text
//!   0  magic  u32   "PSEG"
//!   4  kind   u32   1 heap, 2 log, 3 huge
//!   8  pages  u64   segment size in pages, header page included
//!  16  aux    u64   log: offset of the next log segment (0 = none); huge: 1 = allocated
//!  64  desc   [u16] heap only: one descriptor per page (index 0 is the header page itself)
//! 3072 commit records A and B (primary log segment only), 64 bytes apart
//! ```
//!
//! Page descriptors of a heap segment (top 4 bits kind, low 12 bits value):
//! `0` free; `1|n` first page of an n-page block; `2|d` d pages after such a first page;
//! `3|c` first page of a small-object run of size class c; `4|d` d pages into such a run.

use super::map::{Mapping, PAGE};

pub(crate) const SEG_MAGIC: u32 = u32::from_le_bytes(*b"PSEG");
pub(crate) const OFF_KIND: usize = 4;
pub(crate) const OFF_PAGES: usize = 8;
pub(crate) const OFF_AUX: usize = 16;
pub(crate) const OFF_DESC: usize = 64;
/// The commit record slots live in the primary log segment's header page.
pub(crate) const COMMIT_SLOTS: [usize; 2] = [3072, 3136];

/// Pages in a heap segment, header included: the descriptors (2 bytes each) fit the header page.
pub(crate) const HEAP_SEG_PAGES: u64 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Heap = 1,
    Log = 2,
    Huge = 3,
}

impl Kind {
    pub(crate) fn from_u32(v: u32) -> Option<Kind> {
        match v {
            1 => Some(Kind::Heap),
            2 => Some(Kind::Log),
            3 => Some(Kind::Huge),
            _ => None,
        }
    }
}

pub(crate) const D_FREE: u16 = 0;
pub(crate) const D_BLOCK: u16 = 1 << 12;
pub(crate) const D_BLOCK_CONT: u16 = 2 << 12;
pub(crate) const D_RUN: u16 = 3 << 12;
pub(crate) const D_RUN_CONT: u16 = 4 << 12;
pub(crate) const D_VALUE: u16 = 0x0fff;

/// Writes a fresh segment header (and zeroes the rest of the header page).
pub(crate) fn init(map: &Mapping, off: usize, pages: u64, kind: Kind) {
    map.write_bytes(off, &[0u8; PAGE]);
    map.write_u32(off, SEG_MAGIC);
    map.write_u32(off + OFF_KIND, kind as u32);
    map.write_u64(off + OFF_PAGES, pages);
}

pub(crate) fn desc_off(seg: usize, page: usize) -> usize {
    seg + OFF_DESC + 2 * page
}

/// Size classes for small objects: (slot size, pages per run). Runs start with a 64-byte
/// bitmap (up to 512 slots), then the slots; slot sizes are multiples of 16, so slots are
/// 16-byte aligned.
pub(crate) const CLASSES: [(u32, u32); 24] = [
    (16, 1),
    (32, 1),
    (48, 1),
    (64, 1),
    (80, 1),
    (96, 1),
    (112, 1),
    (128, 1),
    (160, 1),
    (192, 1),
    (224, 1),
    (256, 1),
    (320, 2),
    (384, 2),
    (448, 2),
    (512, 2),
    (640, 4),
    (768, 4),
    (896, 4),
    (1024, 4),
    (1280, 8),
    (1536, 8),
    (1792, 8),
    (2048, 8),
];
pub(crate) const RUN_HDR: usize = 64;
pub(crate) const MAX_SMALL: usize = 2048;

pub(crate) fn class_for(size: usize) -> usize {
    CLASSES
        .iter()
        .position(|&(s, _)| s as usize >= size)
        .expect("size <= MAX_SMALL")
}

pub(crate) fn slots(class: usize) -> usize {
    let (size, pages) = CLASSES[class];
    ((pages as usize * PAGE - RUN_HDR) / size as usize).min(RUN_HDR * 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_ordered_aligned_and_fit_their_bitmap() {
        for w in CLASSES.windows(2) {
            assert!(w[0].0 < w[1].0);
        }
        for (c, &(size, _)) in CLASSES.iter().enumerate() {
            assert_eq!(size % 16, 0);
            assert!(slots(c) >= 2 && slots(c) <= 512);
        }
        assert_eq!(class_for(1), 0);
        assert_eq!(class_for(17), 1);
        assert_eq!(CLASSES[class_for(2048)].0, 2048);
        assert!(OFF_DESC + 2 * HEAP_SEG_PAGES as usize <= COMMIT_SLOTS[0]);
    }
}
