//! The raw engine under `PHashMap`: a SwissTable-style open-addressing table laid out in one
//! pool block, with no knowledge of transactions (the front logs before it calls a writer).
//!
//! Block layout for `buckets` (a power of two, at least [`GROUP`]):
//! `ctrl[buckets + GROUP]` (one control byte per bucket, the first `GROUP` mirrored at the
//! end so a group load never wraps), padding to `align_of::<T>()`, then `slots[buckets]`.
//! A control byte is `EMPTY`, `DELETED` (a tombstone), or the top 7 bits of a full bucket's
//! hash. Probing visits groups of 8 buckets in triangular order, which covers every group of
//! a power-of-two table; a group with an `EMPTY` byte ends a search.
//!
//! Groups are matched 8 bytes at a time in a `u64` (hashbrown's portable variant), which
//! needs no target features and runs under Miri.

#![allow(unsafe_code)]

use std::marker::PhantomData;

/// Buckets per probe group, and the smallest table.
pub(crate) const GROUP: usize = 8;
pub(crate) const EMPTY: u8 = 0xFF;
pub(crate) const DELETED: u8 = 0x80;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// A prefetch hint for the cache line at `p` (no-op off x86-64 and under Miri).
#[inline]
pub(crate) fn prefetch_line(p: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch is a hint: it neither reads memory architecturally nor faults, for
    // any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

/// The next value of the splitmix64 sequence (a well-mixed step for drawing buckets).
#[inline]
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The control byte of a full bucket: the hash's top 7 bits.
#[inline]
pub(crate) fn h2(hash: u64) -> u8 {
    (hash >> 57) as u8
}

/// Entries a table of `buckets` holds before it must grow (load factor 7/8).
#[inline]
pub(crate) fn capacity_of(buckets: usize) -> usize {
    if buckets == 0 { 0 } else { buckets / 8 * 7 }
}

/// The smallest bucket count holding `n` entries, or `None` on overflow.
pub(crate) fn buckets_for(n: usize) -> Option<usize> {
    if n < GROUP {
        return Some(GROUP);
    }
    n.checked_mul(8)
        .map(|x| x.div_ceil(7))
        .and_then(usize::checked_next_power_of_two)
}

/// The alignment of a table block of `T`s (its control bytes are read 8 at a time).
#[inline]
pub(crate) const fn align_of_table<T>() -> usize {
    if align_of::<T>() > 8 {
        align_of::<T>()
    } else {
        8
    }
}

/// Size, alignment, and slot offset of the block for `buckets` buckets of `T`.
pub(crate) fn layout<T>(buckets: usize) -> Option<(usize, usize, usize)> {
    let align = align_of_table::<T>();
    let slots_at = (buckets + GROUP).checked_next_multiple_of(align)?;
    let size = buckets.checked_mul(size_of::<T>())?.checked_add(slots_at)?;
    Some((size, align, slots_at))
}

/// Eight control bytes.
#[derive(Clone, Copy)]
struct Group(u64);

impl Group {
    /// Bytes equal to `b` (an `h2`, below 0x80). Like hashbrown's portable match, it may
    /// report a full byte next to a true match; callers check the byte exactly.
    #[inline]
    fn match_byte(self, b: u8) -> BitMask {
        let x = self.0 ^ (LO * u64::from(b));
        BitMask(x.wrapping_sub(LO) & !x & HI)
    }

    /// `EMPTY` bytes (0xFF is the only control byte with its two top bits set).
    #[inline]
    fn match_empty(self) -> BitMask {
        BitMask(self.0 & (self.0 << 1) & HI)
    }

    #[inline]
    fn match_empty_or_deleted(self) -> BitMask {
        BitMask(self.0 & HI)
    }

    #[inline]
    fn match_full(self) -> BitMask {
        BitMask(!self.0 & HI)
    }
}

/// One bit (the top of its byte) per matching byte of a group, lowest bucket first.
#[derive(Clone, Copy)]
pub(crate) struct BitMask(u64);

impl BitMask {
    #[inline]
    fn any(self) -> bool {
        self.0 != 0
    }

    #[inline]
    fn lowest(self) -> Option<usize> {
        self.any().then(|| self.0.trailing_zeros() as usize / 8)
    }

    /// Buckets before the first match (8 when none).
    #[inline]
    fn leading_gap(self) -> usize {
        self.0.trailing_zeros() as usize / 8
    }

    /// Buckets after the last match (8 when none).
    #[inline]
    fn trailing_gap(self) -> usize {
        self.0.leading_zeros() as usize / 8
    }
}

impl Iterator for BitMask {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        let i = self.lowest()?;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

/// A view of one table block. Copying the view copies pointers, not the table.
pub(crate) struct RawTable<'a, T> {
    ctrl: *mut u8,
    slots: *mut T,
    mask: usize,
    _life: PhantomData<&'a mut T>,
}

impl<T> Clone for RawTable<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawTable<'_, T> {}

impl<'a, T> RawTable<'a, T> {
    /// A view of the block at `base`.
    ///
    /// # Safety
    /// `base` points to a live block of `layout::<T>(buckets)` bytes (buckets a power of two,
    /// at least `GROUP`) that stays mapped for `'a`, whose control bytes are initialised, and
    /// whose full slots hold initialised `T`s; references made from the view follow the
    /// borrow the caller holds on the owner of the block.
    #[inline]
    pub(crate) unsafe fn from_base(base: *mut u8, buckets: usize) -> Self {
        debug_assert!(buckets.is_power_of_two() && buckets >= GROUP);
        let slots_at = layout::<T>(buckets).map_or(0, |l| l.2);
        RawTable {
            ctrl: base,
            slots: base.wrapping_add(slots_at).cast(),
            mask: buckets - 1,
            _life: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn buckets(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    pub(crate) fn ctrl(&self, i: usize) -> u8 {
        debug_assert!(i < self.buckets() + GROUP);
        // SAFETY: i is below buckets + GROUP, inside the control bytes (from_base contract).
        unsafe { *self.ctrl.add(i) }
    }

    #[inline]
    fn group(&self, pos: usize) -> Group {
        debug_assert!(pos <= self.mask);
        // SAFETY: pos <= mask, so pos + GROUP bytes lie inside the control bytes.
        Group(u64::from_le(unsafe {
            self.ctrl.add(pos).cast::<u64>().read_unaligned()
        }))
    }

    #[inline]
    pub(crate) fn is_full(&self, i: usize) -> bool {
        self.ctrl(i) & 0x80 == 0
    }

    /// Pointer to slot `i` (initialised only when `is_full(i)`).
    #[inline]
    pub(crate) fn slot(&self, i: usize) -> *mut T {
        debug_assert!(i <= self.mask);
        self.slots.wrapping_add(i)
    }

    /// A shared reference to the entry in full bucket `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &'a T {
        assert!(self.is_full(i), "pcoll: bucket {i} is not full");
        // SAFETY: full buckets hold initialised entries (from_base contract), alive for 'a.
        unsafe { &*self.slot(i) }
    }

    /// Pointers to the control byte of bucket `i` and to its mirror, if it has one: what
    /// [`set_ctrl`](Self::set_ctrl) writes, for the front to log first.
    #[inline]
    pub(crate) fn ctrl_bytes(&self, i: usize) -> (*mut u8, Option<*mut u8>) {
        let p = self.ctrl.wrapping_add(i);
        let mirror = (i < GROUP).then(|| self.ctrl.wrapping_add(self.buckets() + i));
        (p, mirror)
    }

    /// Sets the control byte of bucket `i` (and its mirror).
    #[inline]
    pub(crate) fn set_ctrl(&self, i: usize, byte: u8) {
        let (p, mirror) = self.ctrl_bytes(i);
        // SAFETY: both bytes lie inside the control bytes (i <= mask, mirror < buckets+GROUP).
        unsafe {
            p.write(byte);
            if let Some(m) = mirror {
                m.write(byte);
            }
        }
    }

    /// Marks every bucket empty (a fresh block).
    pub(crate) fn init_empty(&self) {
        // SAFETY: the control bytes span buckets + GROUP bytes (from_base contract).
        unsafe { self.ctrl.write_bytes(EMPTY, self.buckets() + GROUP) }
    }

    /// Asks the CPU to start loading what a lookup of `hash` reads first: the control bytes
    /// of its first probe group and the first slots of that group. A hint: it reads nothing,
    /// waits for nothing and changes no result.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        let pos = hash as usize & self.mask;
        prefetch_line(self.ctrl.wrapping_add(pos));
        let slots = self.slot(pos).cast::<u8>();
        prefetch_line(slots);
        prefetch_line(slots.wrapping_add(64));
    }

    /// The first bucket of `hash`'s first probe group whose control byte matches (its entry
    /// not compared): where a lookup most likely ends.
    #[inline]
    pub(crate) fn likely(&self, hash: u64) -> Option<usize> {
        let (pos, tag) = (hash as usize & self.mask, h2(hash));
        // (The portable match may report a false positive next to a true one: compare.)
        self.group(pos)
            .match_byte(tag)
            .map(|bit| (pos + bit) & self.mask)
            .find(|&i| self.ctrl(i) == tag)
    }

    /// The full bucket whose entry satisfies `eq`, probing from `hash`.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<usize> {
        let tag = h2(hash);
        let mut pos = hash as usize & self.mask;
        let mut stride = 0;
        loop {
            let g = self.group(pos);
            for bit in g.match_byte(tag) {
                let i = (pos + bit) & self.mask;
                if self.ctrl(i) == tag && eq(self.get(i)) {
                    return Some(i);
                }
            }
            if g.match_empty().any() {
                return None;
            }
            stride += GROUP;
            if stride > self.mask {
                return None; // every group seen (only a damaged table has no EMPTY byte)
            }
            pos = (pos + stride) & self.mask;
        }
    }

    /// The first empty or deleted bucket on `hash`'s probe sequence. A table always has one
    /// (the load factor keeps an eighth of it free).
    pub(crate) fn find_insert_slot(&self, hash: u64) -> usize {
        let mut pos = hash as usize & self.mask;
        let mut stride = 0;
        loop {
            if let Some(bit) = self.group(pos).match_empty_or_deleted().lowest() {
                return (pos + bit) & self.mask;
            }
            stride += GROUP;
            assert!(
                stride <= self.mask,
                "pcoll: hash table without a free bucket"
            );
            pos = (pos + stride) & self.mask;
        }
    }

    /// The control byte that erases full bucket `i`: `EMPTY` when no probe sequence can have
    /// passed over `i` while searching (an empty byte within a group's reach on both sides),
    /// else `DELETED`, so searches continue past it.
    pub(crate) fn erase_byte(&self, i: usize) -> u8 {
        let before = self.group(i.wrapping_sub(GROUP) & self.mask).match_empty();
        let after = self.group(i).match_empty();
        if before.trailing_gap() + after.leading_gap() >= GROUP {
            DELETED
        } else {
            EMPTY
        }
    }

    /// The full buckets of the group at `pos` (a multiple of `GROUP`), as offsets from it.
    #[inline]
    pub(crate) fn full_in_group(&self, pos: usize) -> BitMask {
        self.group(pos).match_full()
    }

    /// A full bucket chosen by `seed`, `None` when none is full: the first full one of up to
    /// 32 buckets drawn from `seed` (each full bucket equally likely: uniform over the
    /// entries), else the first full bucket after the last draw. A table at least a tenth
    /// full ends by a draw but about once in 30 (1 − 0.1)^32; an emptier one (entries removed,
    /// the table kept) mostly by the scan, which favours entries after runs of empty buckets.
    pub(crate) fn pick_full(&self, seed: u64) -> Option<usize> {
        let mut x = seed;
        for _ in 0..32 {
            x = splitmix64(x);
            let i = x as usize & self.mask;
            if self.is_full(i) {
                return Some(i);
            }
        }
        self.next_full_from(x as usize)
    }

    /// The first full bucket at or after bucket `start` (taken modulo the bucket count),
    /// wrapping around; `None` when no bucket is full. Groups are read from any bucket (the
    /// mirrored control bytes cover a group that runs past the end).
    fn next_full_from(&self, start: usize) -> Option<usize> {
        let mut pos = start & self.mask;
        for _ in 0..=self.buckets() / GROUP {
            if let Some(b) = self.group(pos).match_full().lowest() {
                return Some((pos + b) & self.mask);
            }
            pos = (pos + GROUP) & self.mask;
        }
        None
    }

    /// Indices of the full buckets, in bucket order.
    pub(crate) fn full(&self) -> FullBuckets<'a, T> {
        FullBuckets {
            table: *self,
            pos: 0,
            mask: self.group(0).match_full(),
        }
    }
}

/// Iterator over the full buckets of a table, a group at a time.
pub(crate) struct FullBuckets<'a, T> {
    table: RawTable<'a, T>,
    pos: usize,
    mask: BitMask,
}

impl<T> Clone for FullBuckets<'_, T> {
    fn clone(&self) -> Self {
        FullBuckets { ..*self }
    }
}

impl<T> Iterator for FullBuckets<'_, T> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if let Some(bit) = self.mask.next() {
                return Some(self.pos + bit);
            }
            self.pos += GROUP;
            if self.pos > self.table.mask {
                return None;
            }
            self.mask = self.table.group(self.pos).match_full();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(buf: &mut [u64], buckets: usize) -> RawTable<'_, u64> {
        let (size, ..) = layout::<u64>(buckets).unwrap();
        assert!(buf.len() * 8 >= size);
        // SAFETY: buf is big enough and outlives the view; ctrl is initialised right below.
        let t = unsafe { RawTable::from_base(buf.as_mut_ptr().cast(), buckets) };
        t.init_empty();
        t
    }

    fn insert(t: &RawTable<'_, u64>, k: u64) -> usize {
        let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let i = t.find_insert_slot(h);
        // SAFETY: i is a bucket of t.
        unsafe { t.slot(i).write(k) };
        t.set_ctrl(i, h2(h));
        i
    }

    fn find(t: &RawTable<'_, u64>, k: u64) -> Option<usize> {
        t.find(k.wrapping_mul(0x9E37_79B9_7F4A_7C15), |x| *x == k)
    }

    #[test]
    fn sizes() {
        assert_eq!(buckets_for(0), Some(8));
        assert_eq!(buckets_for(7), Some(8));
        assert_eq!(buckets_for(8), Some(16));
        assert_eq!(buckets_for(14), Some(16));
        assert_eq!(buckets_for(15), Some(32));
        assert_eq!(capacity_of(1 << 20), 917_504);
        assert_eq!(buckets_for(usize::MAX), None);
        assert_eq!(layout::<u64>(8), Some((16 + 64, 8, 16)));
        assert_eq!(layout::<u64>(usize::MAX / 4), None);
    }

    #[test]
    fn fill_find_erase() {
        let mut buf = vec![0u64; 4096];
        let t = table(&mut buf, 256);
        let keys: Vec<u64> = (0..capacity_of(256) as u64).map(|k| k * 7 + 1).collect();
        for &k in &keys {
            assert_eq!(find(&t, k), None);
            insert(&t, k);
        }
        for &k in &keys {
            assert_eq!(t.get(find(&t, k).unwrap()), &k);
        }
        assert_eq!(t.full().count(), keys.len());
        for &k in keys.iter().step_by(2) {
            let i = find(&t, k).unwrap();
            t.set_ctrl(i, t.erase_byte(i));
        }
        for (n, &k) in keys.iter().enumerate() {
            assert_eq!(find(&t, k).is_some(), n % 2 == 1, "key {k}");
        }
        // Mirrors agree with their buckets.
        for i in 0..GROUP {
            assert_eq!(t.ctrl(i), t.ctrl(256 + i));
        }
    }

    #[test]
    fn bitmask_gaps() {
        let g = Group(u64::from_le_bytes([0, EMPTY, 1, 2, DELETED, 3, 4, EMPTY]));
        assert_eq!(g.match_empty().collect::<Vec<_>>(), vec![1, 7]);
        assert_eq!(g.match_full().collect::<Vec<_>>(), vec![0, 2, 3, 5, 6]);
        assert_eq!(
            g.match_empty_or_deleted().collect::<Vec<_>>(),
            vec![1, 4, 7]
        );
        assert_eq!(g.match_empty().leading_gap(), 1);
        assert_eq!(g.match_empty().trailing_gap(), 0);
        assert_eq!(Group(0).match_empty().leading_gap(), 8);
    }
}
