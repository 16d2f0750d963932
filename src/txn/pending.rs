//! The pages that redo commits changed since the last checkpoint (write-back pools): the
//! next checkpoint hands them to the file whole.
//!
//! Whole pages, not the committed ranges: a checkpoint after a busy ring held a quarter of a
//! million small ranges, and sorting them cost more than the writes. The kernel's cost is
//! per call and per page, so writing a page whole costs no more than writing its ranges.
//! The other bytes of a pending page are written unchanged: every change in the private
//! mapping lies in a range some transaction reported, and a checkpoint runs only when each
//! such change is committed or saved in a durable undo log (`Txn::checkpoint`), so those
//! bytes equal the file's, or are committed, or are free memory.

use crate::heap::map::PAGE;
use crate::heap::persist::merge_ranges;

const PAGE_U64: u64 = PAGE as u64;

/// A set of page numbers: a bitmap for membership and the members in insertion order.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pages: Vec<u64>,
    bits: Vec<u64>,
}

impl Pending {
    /// Adds the pages that `ranges` (offset, length) touch.
    pub(crate) fn add(&mut self, ranges: &[(u64, u64)]) {
        for &(off, len) in ranges.iter().filter(|r| r.1 > 0) {
            for page in off / PAGE_U64..=(off + len - 1) / PAGE_U64 {
                self.insert(page);
            }
        }
    }

    fn insert(&mut self, page: u64) {
        let (word, bit) = ((page / 64) as usize, page % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.pages.push(page);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Empties the set, in O(its pages).
    pub(crate) fn clear(&mut self) {
        for &p in &self.pages {
            self.bits[(p / 64) as usize] = 0;
        }
        self.pages.clear();
    }

    /// Bytes of the pending pages (each is a private copy of a file page).
    pub(crate) fn bytes(&self) -> u64 {
        self.pages.len() as u64 * PAGE_U64
    }

    /// The pending pages as sorted runs `(offset, length)`, not past `end`, and the set
    /// emptied. A failed checkpoint gives them back with [`Self::add`].
    pub(crate) fn take_runs(&mut self, end: u64) -> Vec<(u64, u64)> {
        let pages = std::mem::take(&mut self.pages);
        for &p in &pages {
            self.bits[(p / 64) as usize] = 0;
        }
        let ranges = pages.iter().map(|&p| {
            let off = p * PAGE_U64;
            (off, PAGE_U64.min(end.saturating_sub(off)))
        });
        merge_ranges(ranges.collect(), |_, _| false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_sorted_runs_of_whole_pages() {
        let mut p = Pending::default();
        p.add(&[(9000, 10), (100, 8), (4090, 10), (8192, 1), (0, 0)]);
        assert_eq!(p.bytes(), 3 * PAGE_U64, "pages 0, 1 and 2");
        p.add(&[(40960, 4)]);
        assert_eq!(
            p.take_runs(1 << 20),
            vec![(0, 3 * PAGE_U64), (40960, PAGE_U64)]
        );
        assert!(p.is_empty());
        assert_eq!(p.take_runs(1 << 20), vec![]);
        p.add(&[(100, 8)]);
        assert_eq!(
            p.take_runs(1 << 20),
            vec![(0, PAGE_U64)],
            "cleared, then again"
        );
        p.add(&[(8200, 8)]);
        assert_eq!(p.take_runs(8300), vec![(8192, 108)], "cut at the end");
    }
}
