//! The persistent allocator. Its metadata is in the pool (segment headers, page descriptors,
//! run bitmaps) and every change to it goes through [`Undo`], so an allocation or free is part
//! of its transaction: rolled back with it, published by its commit. Nothing is trusted across
//! a restart except that metadata; the volatile caches here (discovered segments, runs with
//! free slots) are rebuilt lazily, segment by segment, so opening a pool reads none of them.
//!
//! Small objects (<= 2 KiB, align <= 16) live in runs of one size class; larger ones take
//! whole pages in a heap segment; objects larger than a heap segment get a huge segment.

use super::map::PAGE;
use super::segment::{self, D_BLOCK, D_BLOCK_CONT, D_FREE, D_RUN, D_RUN_CONT, D_VALUE, Kind};
use super::{Heap, Undo};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg {
    pub off: u64,
    pub pages: u64,
    pub kind: Kind,
}

/// Volatile allocator state; everything here can be forgotten and rediscovered.
#[derive(Debug)]
pub(crate) struct Alloc {
    walked: u64,
    pub(crate) segs: Vec<Seg>,
    /// Free pages per discovered segment (heap segments; 0 for others).
    free_pages: Vec<u64>,
    /// Per discovered segment: every page below this one is in use, so the search for free
    /// pages starts here (without it, each new run scanned every used page before it: ~8,000
    /// instructions per run in a well-filled segment).
    first_free: Vec<u64>,
    /// Per size class: runs that may have a free slot (checked on use).
    partial: Vec<Vec<u64>>,
}

impl Alloc {
    pub(crate) fn new(first: u64) -> Alloc {
        Alloc {
            walked: first,
            segs: Vec::new(),
            free_pages: Vec::new(),
            first_free: Vec::new(),
            partial: vec![Vec::new(); segment::CLASSES.len()],
        }
    }
}

/// Where a block is and what kind it is, read from the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    /// Slot `slot` of the run at `run` (class `class`).
    Small { run: u64, class: usize, slot: usize },
    /// `pages` pages starting at the block (in segment `seg`).
    Pages { seg: u64, pages: u64 },
    /// The object of the huge segment `seg`.
    Huge { seg: u64, pages: u64 },
}

impl Block {
    pub(crate) fn size(&self) -> usize {
        match *self {
            Block::Small { class, .. } => segment::CLASSES[class].0 as usize,
            Block::Pages { pages, .. } => pages as usize * PAGE,
            Block::Huge { pages, .. } => (pages as usize - 1) * PAGE,
        }
    }
}

impl Heap {
    fn corrupt(&self, what: String) -> Error {
        Error::corrupted(&self.io.path, what)
    }

    /// Forgets every volatile cache (after a rollback, whose metadata changes they may miss).
    pub(crate) fn reset_volatile(&mut self) {
        self.alloc = Alloc::new(self.hdr.heap_off);
    }

    /// Reads the next segment header into the caches. Returns false at the end of the pool.
    fn discover(&mut self) -> Result<bool> {
        let off = self.alloc.walked;
        let end = self.hdr.valid_size;
        if off >= end {
            return Ok(false);
        }
        let map = &self.io.map;
        let kind = Kind::from_u32(map.read_u32(off as usize + segment::OFF_KIND));
        let pages = map.read_u64(off as usize + segment::OFF_PAGES);
        let magic_ok = map.read_u32(off as usize) == segment::SEG_MAGIC;
        let fits = pages >= 1
            && pages
                .checked_mul(PAGE as u64)
                .is_some_and(|b| off + b <= end);
        let Some(kind) = kind.filter(|_| magic_ok && fits) else {
            return Err(self.corrupt(format!("bad segment header at offset {off}")));
        };
        if kind == Kind::Heap && pages > segment::HEAP_SEG_PAGES {
            return Err(self.corrupt(format!("heap segment at {off} claims {pages} pages")));
        }
        let free = if kind == Kind::Heap {
            self.scan_segment(off, pages)?
        } else {
            0
        };
        self.alloc.segs.push(Seg { off, pages, kind });
        self.alloc.free_pages.push(free);
        self.alloc.first_free.push(1);
        self.alloc.walked = off + pages * PAGE as u64;
        Ok(true)
    }

    /// Validates a heap segment's descriptors, counts its free pages, and lists its runs
    /// with free slots.
    fn scan_segment(&mut self, seg: u64, pages: u64) -> Result<u64> {
        let mut free = 0;
        let mut p = 1;
        while p < pages {
            let d = self
                .io
                .map
                .read_u16(segment::desc_off(seg as usize, p as usize));
            let (kind, val) = (d & !D_VALUE, u64::from(d & D_VALUE));
            let span = match kind {
                D_FREE if d == D_FREE => {
                    free += 1;
                    1
                }
                D_BLOCK if val >= 1 && p + val <= pages => val,
                D_RUN if (val as usize) < segment::CLASSES.len() => {
                    let class = val as usize;
                    let run_pages = u64::from(segment::CLASSES[class].1);
                    if p + run_pages > pages {
                        return Err(self.corrupt(format!("run past segment end at {seg}")));
                    }
                    let run = seg + p * PAGE as u64;
                    if self.run_used(run, class) < segment::slots(class) {
                        self.alloc.partial[class].push(run);
                    }
                    run_pages
                }
                _ => return Err(self.corrupt(format!("bad page descriptor {d:#x} at {seg}+{p}"))),
            };
            p += span;
        }
        Ok(free)
    }

    fn run_used(&self, run: u64, class: usize) -> usize {
        let words = segment::slots(class).div_ceil(64);
        (0..words)
            .map(|w| self.io.map.read_u64(run as usize + 8 * w).count_ones() as usize)
            .sum()
    }

    /// Allocates `size` bytes aligned to `align` (at most a page). The block's contents are
    /// unspecified; its metadata change is logged through `undo`.
    pub(crate) fn alloc(&mut self, undo: &mut dyn Undo, size: usize, align: usize) -> Result<u64> {
        assert!(
            align.is_power_of_two() && align <= PAGE,
            "pcoll: alignment {align} unsupported"
        );
        let size = size.max(1);
        if size <= segment::MAX_SMALL && align <= 16 {
            return self.alloc_small(undo, segment::class_for(size));
        }
        let pages = size.div_ceil(PAGE) as u64;
        if pages < segment::HEAP_SEG_PAGES {
            self.alloc_pages(undo, pages, D_BLOCK, D_BLOCK_CONT)
        } else {
            self.alloc_huge(undo, pages)
        }
    }

    fn alloc_small(&mut self, undo: &mut dyn Undo, class: usize) -> Result<u64> {
        let (size, run_pages) = segment::CLASSES[class];
        let slots = segment::slots(class);
        while let Some(&run) = self.alloc.partial[class].last() {
            if let Some(slot) = self.take_slot(undo, run, class, slots)? {
                return Ok(run + (segment::RUN_HDR + slot * size as usize) as u64);
            }
            self.alloc.partial[class].pop();
        }
        let run = self.alloc_pages(undo, u64::from(run_pages), D_RUN | class as u16, D_RUN_CONT)?;
        // The run is fresh: its bitmap needs no undo, only durability at commit.
        let mut bits = [0u8; segment::RUN_HDR];
        bits[0] = 1;
        self.io.map.write_bytes(run as usize, &bits);
        undo.fresh(run as usize, segment::RUN_HDR);
        self.alloc.partial[class].push(run);
        Ok(run + segment::RUN_HDR as u64)
    }

    /// Sets the first clear bit of the run's bitmap, if the run is still a run of `class`.
    fn take_slot(
        &mut self,
        undo: &mut dyn Undo,
        run: u64,
        class: usize,
        slots: usize,
    ) -> Result<Option<usize>> {
        let (seg, page) = self.locate(run)?;
        let d = self.io.map.read_u16(segment::desc_off(seg as usize, page));
        if d != D_RUN | class as u16 {
            return Ok(None); // stale cache entry: the run was released
        }
        for w in 0..slots.div_ceil(64) {
            let at = run as usize + 8 * w;
            let word = self.io.map.read_u64(at);
            let bit = (!word).trailing_zeros() as usize;
            if bit < 64 && w * 64 + bit < slots {
                undo.log(&self.io, at, 8)?;
                self.io.map.write_u64(at, word | 1 << bit);
                return Ok(Some(w * 64 + bit));
            }
        }
        Ok(None)
    }

    /// Finds `n` free pages in a heap segment (growing the pool if none has them) and marks
    /// them `head | n`, `cont | distance`.
    fn alloc_pages(&mut self, undo: &mut dyn Undo, n: u64, head: u16, cont: u16) -> Result<u64> {
        let mut i = 0;
        loop {
            if i == self.alloc.segs.len() && !self.discover()? {
                let pages = self.next_heap_segment_pages(n);
                self.add_segment(pages, Kind::Heap)?;
                continue; // discovered on the next turn of the loop
            }
            let s = self.alloc.segs[i];
            if s.kind == Kind::Heap
                && self.alloc.free_pages[i] >= n
                && let Some((p, first_free)) = self.find_free_pages(i, n)
            {
                self.mark_pages(undo, s.off, p, n, head, cont)?;
                self.alloc.free_pages[i] -= n;
                self.alloc.first_free[i] = first_free;
                return Ok(s.off + p * PAGE as u64);
            }
            i += 1;
        }
    }

    /// Cuts the free pages at the pool's end, for a copy that is complete and about to close
    /// (`Options::compact`): heap segments at the end with no used page go, and the last one
    /// left ends after its last used page. Returns the pool's new length, for the caller to
    /// truncate the file to once the pool is closed. The allocator's volatile state is not
    /// brought up to date: nothing may allocate afterwards. The segment and pool headers are
    /// written without an undo entry: the copy is not linked into place yet, so a crash
    /// between the two writes leaves only its temporary file, which the next build removes.
    pub(crate) fn trim_tail(&mut self) -> Result<u64> {
        while self.discover()? {}
        let first_heap = self.alloc.segs.iter().position(|s| s.kind == Kind::Heap);
        while let Some(&s) = self.alloc.segs.last() {
            let last = self.alloc.segs.len() - 1;
            if s.kind != Kind::Heap {
                break;
            }
            let map = &self.io.map;
            let used = (1..s.pages)
                .rev()
                .find(|&p| map.read_u16(segment::desc_off(s.off as usize, p as usize)) != D_FREE);
            match used {
                // An empty segment goes, unless it is the only heap segment left.
                None if Some(last) != first_heap => {
                    self.set_valid_size(s.off)?;
                    self.alloc.segs.pop();
                    self.alloc.free_pages.pop();
                    self.alloc.first_free.pop();
                    continue;
                }
                _ => {}
            }
            let keep = used.map_or(1, |p| p + 1);
            if keep < s.pages {
                map.write_u64(s.off as usize + segment::OFF_PAGES, keep);
                self.io.persist(s.off as usize + segment::OFF_PAGES, 8)?;
                self.set_valid_size(s.off + keep * PAGE as u64)?;
            }
            break;
        }
        Ok(self.hdr.valid_size)
    }

    fn set_valid_size(&mut self, len: u64) -> Result<()> {
        let mut next = self.hdr.clone();
        next.valid_size = len;
        self.write_header_as(next)
    }

    /// Heap segments double the pool, up to a full segment, and at least fit `n` pages.
    fn next_heap_segment_pages(&self, n: u64) -> u64 {
        let doubling = self.hdr.valid_size / PAGE as u64;
        let room = (self.max_size.saturating_sub(self.hdr.valid_size) / PAGE as u64).max(n + 1);
        doubling
            .clamp(n + 1, segment::HEAP_SEG_PAGES)
            .min(room)
            .max(n + 1)
    }

    /// The first of `n` free pages in a row in segment `i`, searched from its `first_free`,
    /// and what `first_free` becomes once they are marked in use (the caller sets it then).
    /// When there are none, `first_free` moves up to the first free page seen.
    fn find_free_pages(&mut self, i: usize, n: u64) -> Option<(u64, u64)> {
        let s = self.alloc.segs[i];
        let map = &self.io.map;
        let is_free =
            |p: u64| map.read_u16(segment::desc_off(s.off as usize, p as usize)) == D_FREE;
        let (mut first, mut run) = (None, 0);
        for p in self.alloc.first_free[i].max(1)..s.pages {
            if !is_free(p) {
                run = 0;
                continue;
            }
            let first = *first.get_or_insert(p);
            run += 1;
            if run == n {
                let start = p + 1 - n;
                // Pages before `first` are in use, and so are `start..=p` once marked.
                return Some((start, if first == start { p + 1 } else { first }));
            }
        }
        self.alloc.first_free[i] = first.unwrap_or(s.pages);
        None
    }

    fn mark_pages(
        &mut self,
        undo: &mut dyn Undo,
        seg: u64,
        first: u64,
        n: u64,
        head: u16,
        cont: u16,
    ) -> Result<()> {
        let at = segment::desc_off(seg as usize, first as usize);
        undo.log(&self.io, at, 2 * n as usize)?;
        let head_val = if head == D_BLOCK {
            head | n as u16
        } else {
            head
        };
        self.io.map.write_u16(at, head_val);
        for k in 1..n as usize {
            self.io.map.write_u16(at + 2 * k, cont | k as u16);
        }
        Ok(())
    }

    fn alloc_huge(&mut self, undo: &mut dyn Undo, pages: u64) -> Result<u64> {
        while self.discover()? {}
        let found = self.alloc.segs.iter().find(|s| {
            s.kind == Kind::Huge
                && s.pages > pages
                && self.io.map.read_u64(s.off as usize + segment::OFF_AUX) == 0
        });
        let seg = match found {
            Some(s) => s.off,
            None => {
                let off = self.add_segment(pages + 1, Kind::Huge)?;
                self.discover()?;
                off
            }
        };
        undo.log(&self.io, seg as usize + segment::OFF_AUX, 8)?;
        self.io.map.write_u64(seg as usize + segment::OFF_AUX, 1);
        Ok(seg + PAGE as u64)
    }

    /// The segment containing `off` (discovering segments up to it) and the page index in it.
    fn locate(&mut self, off: u64) -> Result<(u64, usize)> {
        while self.alloc.walked <= off {
            if !self.discover()? {
                return Err(self.corrupt(format!("offset {off} is past the end of the pool")));
            }
        }
        let i = self.alloc.segs.partition_point(|s| s.off <= off);
        let s = self
            .alloc
            .segs
            .get(i.wrapping_sub(1))
            .filter(|_| off >= self.hdr.heap_off);
        let Some(s) = s else {
            return Err(self.corrupt(format!("offset {off} is before the heap")));
        };
        Ok((s.off, ((off - s.off) / PAGE as u64) as usize))
    }

    /// What allocated block starts exactly at `off`; an error if none does.
    pub(crate) fn block_at(&mut self, off: u64) -> Result<Block> {
        let (seg, page) = self.locate(off)?;
        let i = self.alloc.segs.partition_point(|s| s.off <= off) - 1;
        let s = self.alloc.segs[i];
        let bad = |h: &Heap| h.corrupt(format!("no allocated block starts at offset {off}"));
        match s.kind {
            Kind::Huge => {
                let used = self.io.map.read_u64(seg as usize + segment::OFF_AUX) == 1;
                if used && off == seg + PAGE as u64 {
                    return Ok(Block::Huge {
                        seg,
                        pages: s.pages,
                    });
                }
                Err(bad(self))
            }
            Kind::Log => Err(bad(self)),
            Kind::Heap => {
                let d = self.io.map.read_u16(segment::desc_off(seg as usize, page));
                let (kind, val) = (d & !D_VALUE, (d & D_VALUE) as usize);
                let head = match kind {
                    D_BLOCK if off.is_multiple_of(PAGE as u64) => {
                        return Ok(Block::Pages {
                            seg,
                            pages: val as u64,
                        });
                    }
                    D_RUN => page,
                    D_RUN_CONT if val <= page => page - val,
                    _ => return Err(bad(self)),
                };
                let hd = self.io.map.read_u16(segment::desc_off(seg as usize, head));
                let class = (hd & D_VALUE) as usize;
                if hd & !D_VALUE != D_RUN || class >= segment::CLASSES.len() {
                    return Err(bad(self));
                }
                let run = seg + (head * PAGE) as u64;
                let size = segment::CLASSES[class].0 as u64;
                let rel = (off - run)
                    .checked_sub(segment::RUN_HDR as u64)
                    .ok_or_else(|| bad(self))?;
                let slot = (rel / size) as usize;
                let word = self.io.map.read_u64(run as usize + 8 * (slot / 64));
                if rel % size != 0 || slot >= segment::slots(class) || word & 1 << (slot % 64) == 0
                {
                    return Err(bad(self));
                }
                Ok(Block::Small { run, class, slot })
            }
        }
    }

    /// Frees the block at `off` (called at commit, for frees deferred by the transaction).
    pub(crate) fn free(&mut self, undo: &mut dyn Undo, off: u64) -> Result<()> {
        match self.block_at(off)? {
            Block::Small { run, class, slot } => self.free_slot(undo, run, class, slot),
            Block::Pages { seg, pages } => {
                let page = (off - seg) / PAGE as u64;
                self.release_pages(undo, seg, page, pages)
            }
            Block::Huge { seg, .. } => {
                undo.log(&self.io, seg as usize + segment::OFF_AUX, 8)?;
                self.io.map.write_u64(seg as usize + segment::OFF_AUX, 0);
                Ok(())
            }
        }
    }

    fn free_slot(
        &mut self,
        undo: &mut dyn Undo,
        run: u64,
        class: usize,
        slot: usize,
    ) -> Result<()> {
        let at = run as usize + 8 * (slot / 64);
        let was_full = self.run_used(run, class) == segment::slots(class);
        undo.log(&self.io, at, 8)?;
        let word = self.io.map.read_u64(at);
        self.io.map.write_u64(at, word & !(1 << (slot % 64)));
        if self.run_used(run, class) == 0 {
            // An empty run goes back to the page pool; its cache entry turns stale.
            let (seg, page) = self.locate(run)?;
            let pages = u64::from(segment::CLASSES[class].1);
            return self.release_pages(undo, seg, page as u64, pages);
        }
        if was_full {
            self.alloc.partial[class].push(run);
        }
        Ok(())
    }

    fn release_pages(&mut self, undo: &mut dyn Undo, seg: u64, page: u64, n: u64) -> Result<()> {
        let at = segment::desc_off(seg as usize, page as usize);
        undo.log(&self.io, at, 2 * n as usize)?;
        self.io.map.write_bytes(at, &vec![0u8; 2 * n as usize]);
        let i = self.alloc.segs.partition_point(|s| s.off <= seg) - 1;
        self.alloc.free_pages[i] += n;
        self.alloc.first_free[i] = self.alloc.first_free[i].min(page);
        Ok(())
    }

    /// Grows the block at `off` to at least `new_size` bytes without moving it, when the
    /// pages after it are free. Returns false when it cannot. (PVec growth uses it.)
    #[allow(dead_code)]
    pub(crate) fn grow_in_place(
        &mut self,
        undo: &mut dyn Undo,
        off: u64,
        new_size: usize,
    ) -> Result<bool> {
        let block = self.block_at(off)?;
        if new_size <= block.size() {
            return Ok(true);
        }
        let Block::Pages { seg, pages } = block else {
            return Ok(false);
        };
        let want = new_size.div_ceil(PAGE) as u64;
        let i = self.alloc.segs.partition_point(|s| s.off <= seg) - 1;
        let s = self.alloc.segs[i];
        let first = (off - seg) / PAGE as u64;
        if first + want > s.pages {
            return Ok(false);
        }
        let map = &self.io.map;
        let tail_free = (first + pages..first + want)
            .all(|p| map.read_u16(segment::desc_off(seg as usize, p as usize)) == D_FREE);
        if !tail_free {
            return Ok(false);
        }
        self.mark_pages(undo, seg, first, want, D_BLOCK, D_BLOCK_CONT)?;
        self.alloc.free_pages[i] -= want - pages;
        Ok(true)
    }

    /// Every allocated block, in pool order. Reads all segments.
    #[cfg(test)]
    pub(crate) fn blocks(&mut self) -> Result<Vec<(u64, Block)>> {
        let mut out = Vec::new();
        self.each_block(|off, b| out.push((off, b)), |_| {})?;
        Ok(out)
    }

    /// Calls `f` for every allocated block, in pool order, discovering the segments as it
    /// goes; after each segment, `walked` gets the bytes of the pool walked so far (header
    /// and primary log included), so its last call has `valid_size`.
    pub(crate) fn each_block(
        &mut self,
        mut f: impl FnMut(u64, Block),
        mut walked: impl FnMut(u64),
    ) -> Result<()> {
        let mut i = 0;
        while i < self.alloc.segs.len() || self.discover()? {
            let s = self.alloc.segs[i];
            i += 1;
            match s.kind {
                Kind::Log => {}
                Kind::Huge => {
                    if self.io.map.read_u64(s.off as usize + segment::OFF_AUX) == 1 {
                        let b = Block::Huge {
                            seg: s.off,
                            pages: s.pages,
                        };
                        f(s.off + PAGE as u64, b);
                    }
                }
                Kind::Heap => self.heap_blocks(s, &mut f),
            }
            walked(s.off + s.pages * PAGE as u64);
        }
        Ok(())
    }

    fn heap_blocks(&self, s: Seg, f: &mut impl FnMut(u64, Block)) {
        let mut p = 1;
        while p < s.pages {
            let d = self
                .io
                .map
                .read_u16(segment::desc_off(s.off as usize, p as usize));
            let val = u64::from(d & D_VALUE);
            let at = s.off + p * PAGE as u64;
            match d & !D_VALUE {
                D_BLOCK => {
                    let b = Block::Pages {
                        seg: s.off,
                        pages: val,
                    };
                    f(at, b);
                    p += val;
                }
                D_RUN => {
                    let class = val as usize;
                    let size = segment::CLASSES[class].0 as u64;
                    for slot in 0..segment::slots(class) {
                        let word = self.io.map.read_u64(at as usize + 8 * (slot / 64));
                        if word & 1 << (slot % 64) != 0 {
                            let off = at + segment::RUN_HDR as u64 + slot as u64 * size;
                            f(
                                off,
                                Block::Small {
                                    run: at,
                                    class,
                                    slot,
                                },
                            );
                        }
                    }
                    p += u64::from(segment::CLASSES[class].1);
                }
                _ => p += 1,
            }
        }
    }
}

#[cfg(test)]
#[path = "alloc_tests.rs"]
pub(crate) mod tests;
