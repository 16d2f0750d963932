//! Per-transaction deduplication of logged bytes: for each 64-byte line, a bit mask of the
//! bytes already logged. A range is logged exactly once per transaction, byte for byte, so
//! logging never reads bytes outside the range the caller owns, and rollback can restore the
//! ranges in any order (they are disjoint).

/// An open-addressing map from line number to byte mask; cleared in O(lines used). A line
/// and its mask share a slot, so a probe reads one cache line.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// (line, mask), `line == EMPTY` for a free slot.
    slots: Vec<(u64, u64)>,
    used: Vec<u32>,
    /// The last range claimed whole, `start .. end` (empty when none): asked again, it costs
    /// a compare, not a probe per line (`&mut v[..]` in a loop asks for the whole buffer at
    /// each step).
    last: (u64, u64),
}

const EMPTY: u64 = u64::MAX;

/// The smallest table (1 KiB): a transaction of a few lines never reallocates.
const MIN_SLOTS: usize = 64;

/// The bits of 64-byte line `line` that `off .. end` covers (bit i: byte i of the line).
fn line_bits(line: u64, off: u64, end: u64) -> u64 {
    let lo = off.max(line * 64) - line * 64;
    let hi = end.min(line * 64 + 64) - line * 64;
    if hi - lo == 64 {
        u64::MAX
    } else {
        ((1u64 << (hi - lo)) - 1) << lo
    }
}

impl Lines {
    fn slot(&self, line: u64) -> usize {
        let h = line.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(MIN_SLOTS);
        let old: Vec<(u64, u64)> = self.used.iter().map(|&i| self.slots[i as usize]).collect();
        self.slots = vec![(EMPTY, 0); cap];
        self.used.clear();
        for (k, m) in old {
            *self.entry(k) = m;
        }
    }

    fn entry(&mut self, line: u64) -> &mut u64 {
        if (self.used.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(line);
        while self.slots[i].0 != line {
            if self.slots[i].0 == EMPTY {
                self.slots[i].0 = line;
                self.used.push(i as u32);
                break;
            }
            i = (i + 1) & mask;
        }
        &mut self.slots[i].1
    }

    /// Marks `off .. off + len` logged and calls `emit(start, len)` for each maximal run of
    /// bytes in it that was not logged before.
    pub(crate) fn claim(&mut self, off: u64, len: u64, mut emit: impl FnMut(u64, u64)) {
        let (mut run_start, mut run_end) = (0u64, 0u64);
        let end = off + len;
        if self.last.0 <= off && end <= self.last.1 {
            return;
        }
        self.last = (off, end);
        let mut line = off / 64;
        while line * 64 < end {
            let want = line_bits(line, off, end);
            let have = self.entry(line);
            let mut new = want & !*have;
            *have |= want;
            while new != 0 {
                let a = u64::from(new.trailing_zeros());
                let b = a + u64::from((!(new >> a)).trailing_zeros());
                let (s, e) = (line * 64 + a, line * 64 + b);
                if s == run_end && run_end != run_start {
                    run_end = e;
                } else {
                    if run_end != run_start {
                        emit(run_start, run_end - run_start);
                    }
                    (run_start, run_end) = (s, e);
                }
                new &= if b == 64 { 0 } else { !0u64 << b };
            }
            line += 1;
        }
        if run_end != run_start {
            emit(run_start, run_end - run_start);
        }
    }

    /// Marks `off .. off + len` not logged again (bytes a failed log append did not save:
    /// the next request for them must log them).
    pub(crate) fn unclaim(&mut self, off: u64, len: u64) {
        self.last = (0, 0);
        let end = off + len;
        let mut line = off / 64;
        while line * 64 < end {
            *self.entry(line) &= !line_bits(line, off, end);
            line += 1;
        }
    }

    /// Forgets every line. A table far larger than this transaction needed shrinks: its
    /// probes land at random over all of it, so one big transaction (a bulk load) would
    /// otherwise leave every later small one missing the cache on each line it logs.
    pub(crate) fn clear(&mut self) {
        self.last = (0, 0);
        let fits = (self.used.len() * 4).next_power_of_two().max(MIN_SLOTS);
        if self.slots.len() > fits * 4 {
            self.slots = vec![(EMPTY, 0); fits];
        } else {
            for &i in &self.used {
                self.slots[i as usize] = (EMPTY, 0);
            }
        }
        self.used.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(l: &mut Lines, off: u64, len: u64) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        l.claim(off, len, |a, b| v.push((a, b)));
        v
    }

    #[test]
    fn logs_each_byte_once() {
        let mut l = Lines::default();
        assert_eq!(claim(&mut l, 10, 100), vec![(10, 100)]);
        assert_eq!(claim(&mut l, 0, 200), vec![(0, 10), (110, 90)]);
        assert_eq!(claim(&mut l, 50, 20), vec![]);
        assert_eq!(claim(&mut l, 0, 200), vec![]);
        l.clear();
        assert_eq!(claim(&mut l, 60, 8), vec![(60, 8)]);
        assert_eq!(claim(&mut l, 60, 8), vec![]);
        // The last range, unclaimed (a failed append), is claimed again whole.
        l.unclaim(60, 8);
        assert_eq!(claim(&mut l, 60, 8), vec![(60, 8)]);
        l.clear();
        assert_eq!(claim(&mut l, 60, 8), vec![(60, 8)]);
    }

    #[test]
    fn unclaimed_bytes_are_claimed_again() {
        let mut l = Lines::default();
        assert_eq!(claim(&mut l, 10, 100), vec![(10, 100)]);
        l.unclaim(40, 30);
        assert_eq!(claim(&mut l, 0, 200), vec![(0, 10), (40, 30), (110, 90)]);
    }

    #[test]
    fn a_big_transaction_leaves_no_big_table() {
        let mut l = Lines::default();
        let big = |l: &mut Lines| {
            for line in 0..100_000 {
                assert_eq!(claim(l, line * 64, 8), vec![(line * 64, 8)]);
            }
        };
        big(&mut l);
        let size = l.slots.len();
        assert!(size >= 200_000);
        // The table stays for the next transaction of that size (no reallocation per
        // commit)...
        l.clear();
        big(&mut l);
        assert_eq!(l.slots.len(), size);
        l.clear();
        // ... and the first small one after it leaves a small table; what was claimed
        // before a clear is claimed again.
        for line in 0..20 {
            assert_eq!(claim(&mut l, line * 64, 8), vec![(line * 64, 8)]);
        }
        l.clear();
        assert_eq!(
            l.slots.len(),
            128,
            "four times the lines the last transaction used"
        );
        assert_eq!(claim(&mut l, 0, 8), vec![(0, 8)]);
        assert_eq!(claim(&mut l, 0, 8), vec![]);
    }

    #[test]
    fn matches_a_byte_model() {
        let mut l = Lines::default();
        let mut model = vec![false; 4096];
        let mut x = 12345u64;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (x >> 33) % 4000;
            let len = 1 + (x >> 20) % 90;
            let got = claim(&mut l, off, len);
            let mut want = Vec::<(u64, u64)>::new();
            for b in off..off + len {
                if !model[b as usize] {
                    model[b as usize] = true;
                    match want.last_mut() {
                        Some((s, n)) if *s + *n == b => *n += 1,
                        _ => want.push((b, 1)),
                    }
                }
            }
            assert_eq!(got, want);
        }
    }
}
