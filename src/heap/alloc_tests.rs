//! The allocator against a model: random allocations and frees of random sizes, checking
//! after each step that live blocks never overlap, that the metadata lists exactly the live
//! blocks, and that each block is as large as asked.

use std::collections::BTreeMap;

use super::Block;
use crate::error::Result;
use crate::heap::map::{Mapping, PAGE};
use crate::heap::persist::{Durability, Medium, Persister};
use crate::heap::{Geometry, Heap, HeapIo, Undo};

/// Records what would be logged; the model needs no rollback.
#[derive(Default)]
struct NoUndo {
    logged: usize,
}

impl Undo for NoUndo {
    fn log(&mut self, _io: &HeapIo, _off: usize, len: usize) -> Result<()> {
        self.logged += len;
        Ok(())
    }
    fn fresh(&mut self, _off: usize, _len: usize) {}
}

pub(crate) fn memory_heap(initial: u64, max: u64) -> Heap {
    let map = Mapping::memory(initial as usize, max as usize).unwrap();
    let persist = Persister::new(Durability::Process, true, false, Medium::File, None);
    let io = HeapIo {
        map,
        persist,
        path: "<test>".into(),
    };
    Heap::format(
        io,
        Geometry {
            initial,
            max,
            log_pages: 4,
        },
        7,
    )
}

fn check(heap: &mut Heap, live: &BTreeMap<u64, usize>) {
    let blocks = heap.blocks().unwrap();
    let listed: Vec<u64> = blocks.iter().map(|b| b.0).collect();
    let want: Vec<u64> = live.keys().copied().collect();
    assert_eq!(listed, want, "metadata lists exactly the live blocks");
    let mut end = 0;
    for (off, b) in &blocks {
        assert!(*off >= end, "blocks overlap at {off}");
        assert!(b.size() >= live[off], "block {off} too small");
        end = off + b.size() as u64;
        assert_eq!(heap.block_at(*off).unwrap(), *b);
    }
}

fn rng(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn random_alloc_free_matches_model() {
    let mut heap = memory_heap(256 << 10, 64 << 20);
    let mut undo = NoUndo::default();
    let mut live = BTreeMap::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for step in 0..3000 {
        if live.is_empty() || rng(&mut x) % 5 < 3 {
            let size = match rng(&mut x) % 10 {
                0..=6 => 1 + rng(&mut x) as usize % 300,
                7 | 8 => 1 + rng(&mut x) as usize % 9000,
                _ => 1 + rng(&mut x) as usize % 40000,
            };
            let off = heap.alloc(&mut undo, size, 8).unwrap();
            assert_eq!(off % 16, 0);
            assert!(
                live.insert(off, size).is_none(),
                "double allocation at {off}"
            );
        } else {
            let k = rng(&mut x) as usize % live.len();
            let off = *live.keys().nth(k).unwrap();
            live.remove(&off);
            heap.free(&mut undo, off).unwrap();
        }
        if step % 50 == 0 {
            check(&mut heap, &live);
        }
    }
    check(&mut heap, &live);
    // Forgetting every volatile cache and rediscovering gives the same picture.
    heap.reset_volatile();
    check(&mut heap, &live);
    assert!(undo.logged > 0);
}

#[test]
fn huge_blocks_get_their_own_segment_and_are_reused() {
    let mut heap = memory_heap(256 << 10, 256 << 20);
    let mut undo = NoUndo::default();
    let big = 6 << 20;
    let a = heap.alloc(&mut undo, big, 8).unwrap();
    assert!(matches!(heap.block_at(a).unwrap(), Block::Huge { .. }));
    heap.free(&mut undo, a).unwrap();
    let b = heap.alloc(&mut undo, big - PAGE, 8).unwrap();
    assert_eq!(a, b, "a free huge segment is reused");
}

#[test]
fn freeing_a_bad_pointer_is_an_error() {
    let mut heap = memory_heap(256 << 10, 64 << 20);
    let mut undo = NoUndo::default();
    let a = heap.alloc(&mut undo, 40, 8).unwrap();
    assert!(heap.free(&mut undo, a + 16).is_err());
    heap.free(&mut undo, a).unwrap();
    assert!(heap.free(&mut undo, a).is_err(), "double free");
    assert!(heap.free(&mut undo, 3).is_err());
}

#[test]
fn grow_in_place_extends_page_blocks() {
    let mut heap = memory_heap(1 << 20, 64 << 20);
    let mut undo = NoUndo::default();
    let a = heap.alloc(&mut undo, 3 * PAGE, 8).unwrap();
    assert!(heap.grow_in_place(&mut undo, a, 10 * PAGE).unwrap());
    assert_eq!(heap.block_at(a).unwrap().size(), 10 * PAGE);
    let b = heap.alloc(&mut undo, 2 * PAGE, 8).unwrap();
    assert_eq!(b, a + 10 * PAGE as u64);
    assert!(
        !heap.grow_in_place(&mut undo, a, 11 * PAGE).unwrap(),
        "b is in the way"
    );
    let s = heap.alloc(&mut undo, 40, 8).unwrap();
    assert!(
        heap.grow_in_place(&mut undo, s, 48).unwrap(),
        "within its size class"
    );
    assert!(!heap.grow_in_place(&mut undo, s, 100).unwrap());
}

#[test]
fn out_of_space_at_max_size() {
    let mut heap = memory_heap(256 << 10, 512 << 10);
    let mut undo = NoUndo::default();
    let mut n = 0;
    let err = loop {
        match heap.alloc(&mut undo, 30000, 8) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 100);
    };
    assert!(matches!(err, crate::Error::OutOfSpace { .. }), "{err}");
    assert!(heap.valid_size() <= 512 << 10);
}

#[test]
fn pages_are_first_fit_whatever_the_search_hint() {
    let mut heap = memory_heap(1 << 20, 64 << 20);
    let mut undo = NoUndo::default();
    let blocks: Vec<u64> = (0..12)
        .map(|_| heap.alloc(&mut undo, PAGE, 8).unwrap())
        .collect();
    // A page freed below the hint is found again, and first.
    heap.free(&mut undo, blocks[3]).unwrap();
    assert_eq!(heap.alloc(&mut undo, PAGE, 8).unwrap(), blocks[3]);
    // Two free pages in a row below a one-page gap: a two-page block takes them, and the
    // one-page gap stays where the next one-page block finds it.
    heap.free(&mut undo, blocks[1]).unwrap();
    heap.free(&mut undo, blocks[6]).unwrap();
    heap.free(&mut undo, blocks[7]).unwrap();
    assert_eq!(heap.alloc(&mut undo, 2 * PAGE, 8).unwrap(), blocks[6]);
    assert_eq!(heap.alloc(&mut undo, PAGE, 8).unwrap(), blocks[1]);
    let next = heap.alloc(&mut undo, PAGE, 8).unwrap();
    assert!(next > blocks[11], "no free page left below the last block");
    // The volatile state rebuilt from the metadata agrees.
    heap.free(&mut undo, blocks[2]).unwrap();
    heap.reset_volatile();
    assert_eq!(heap.alloc(&mut undo, PAGE, 8).unwrap(), blocks[2]);
}
