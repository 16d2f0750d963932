//! Regression tests of issue 13 (damaged values and failed log appends): each failed before
//! its fix. A damaged header read from the pool must give a clear panic, never a read or
//! write outside its block; a log append that fails must leave its bytes unlogged.

mod common;

use common::panic_message;

use pcoll::{Durability, Error, PHashMap, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    m: PHashMap<u64, u64>,
}

fn opts() -> pcoll::Options<Root> {
    Pool::<Root>::options().durability(Durability::Process)
}

/// The image of a pool whose vector holds 10 elements (capacity 16) and whose map 5 entries,
/// with the byte offset of `pattern` (a run of u64 words) in it, found exactly once.
fn image_with(pattern: &[u64]) -> (Vec<u8>, usize) {
    let p = opts().in_memory().unwrap();
    {
        let mut w = p.write();
        w.v.reserve(16);
        w.v.extend(1..=10);
        w.m.extend((1..=5).map(|k| (k, k)));
    }
    assert_eq!(p.read().v.capacity(), 16);
    assert_eq!(p.read().m.capacity(), 7);
    let img = p.image();
    let words: Vec<u8> = pattern.iter().flat_map(|w| w.to_le_bytes()).collect();
    let hits: Vec<usize> = (0..img.len() - words.len())
        .step_by(8)
        .filter(|&i| img[i..i + words.len()] == words[..])
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "the header pattern {pattern:?} must be unique"
    );
    (img, hits[0])
}

fn put_u64(img: &mut [u8], at: usize, v: u64) {
    img[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn panics(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

/// Issue 13 #3: a damaged `PVec` length was a SIGSEGV (2^40) or a read past the block
/// (cap + 3000) on a plain read; now every read path panics clearly.
#[test]
fn a_damaged_vector_length_panics_instead_of_reading_outside() {
    for len in [1u64 << 40, 16 + 3000, 17] {
        let (mut img, at) = image_with(&[10, 16]);
        put_u64(&mut img, at, len);
        let p = opts().from_image(&img).unwrap();
        let r = p.read();
        assert!(
            panics(|| {
                std::hint::black_box(r.v.last());
            }),
            "last() with len {len}"
        );
        assert!(
            panics(|| {
                std::hint::black_box(r.v.iter().sum::<u64>());
            }),
            "iteration with len {len}"
        );
        drop(r);
        assert!(
            panics(|| {
                std::hint::black_box(p.write().v.pop());
            }),
            "pop() with len {len}"
        );
        assert!(p.check().is_err(), "check() reports len {len}");
    }
}

/// Issue 13 #4: a capacity with its top bits set overflowed `cap * size_of::<T>()`, passed
/// `check()`, and a push wrote past the block; now `check()` reports it and a push panics.
#[test]
fn a_damaged_vector_capacity_is_reported_and_refused() {
    let (mut img, at) = image_with(&[10, 16]);
    put_u64(&mut img, at + 8, 16 | 1 << 61);
    let p = opts().from_image(&img).unwrap();
    let err = p.check().unwrap_err();
    assert!(matches!(err, Error::Corrupted { .. }), "{err}");
    assert!(panics(|| p.write().v.push(11)));
    assert!(panics(|| {
        std::hint::black_box(p.read().v.first());
    }));
}

/// Issue 13 #7: a hash map whose entry count is damaged below its full buckets made the
/// iterators' count underflow (`collect()` then panicked with a capacity overflow); now the
/// walk ends at the count.
#[test]
fn a_damaged_map_count_ends_iteration() {
    // The map's header: table pointer, mask 7 (8 buckets), 5 items, 2 growth left.
    let (mut img, at) = image_with(&[7, 5, 2]);
    put_u64(&mut img, at + 8, 2);
    let p = opts().from_image(&img).unwrap();
    let r = p.read();
    let all: Vec<(&u64, &u64)> = r.m.iter().collect();
    assert_eq!(all.len(), 2);
    assert_eq!(r.m.keys().count(), 2);
    drop(r);
    assert!(p.check().is_err());
}

/// Issue 13 #2: `Txn::log` marked bytes as logged before the log space for them was
/// reserved; after a failed reservation, a second change of the same bytes skipped its undo
/// entry, so a rollback kept it. Here the log fills up (the pool cannot grow to add a log
/// segment) while elements are changed one by one; the element that could not be logged is
/// changed again, an insert fails for lack of log space and is tried again, and the
/// transaction rolls back: everything must be as before.
#[test]
fn a_failed_log_append_leaves_its_bytes_unlogged() {
    let p = opts()
        .initial_size(256 << 10)
        .max_size(256 << 10)
        .log_size(8 << 10)
        .in_memory()
        .unwrap();
    {
        let mut w = p.write();
        w.m.insert(1, 1);
        while w.v.try_push(7).is_ok() {} // the pool is full now
    }
    let n = p.read().v.len();
    {
        let mut w = p.write();
        // Fill the log: each element's 8 bytes are one undo entry, until one cannot be saved.
        let mut i = 0;
        while i < n && !panics(|| *w.v.get_mut(i).unwrap() = 0) {
            i += 1;
        }
        assert!(i < n, "the log must fill up before the vector ends");
        // The element whose undo entry could not be saved: changing it again must fail again,
        // not go through unlogged.
        assert!(
            panics(|| *w.v.get_mut(i).unwrap() = 0),
            "element {i} is still unlogged"
        );
        let first = w.m.try_insert(2, 2);
        assert!(first.is_err(), "no log space for the insert: {first:?}");
        let second = w.m.try_insert(2, 2);
        assert!(
            second.is_err(),
            "the insert's bytes are still unlogged: {second:?}"
        );
        w.abort();
    }
    let r = p.read();
    assert_eq!(r.m.get(&2), None);
    assert_eq!(r.m.len(), 1);
    assert!(r.v.iter().all(|&x| x == 7), "every change rolled back");
    drop(r);
    p.check().unwrap();
}

/// Issue 13, "untrusted on every path": a header damaged to claim a larger block than its own
/// (a vector's capacity, a map's bucket count; the new size still inside the pool) made the
/// next change write past the block into its neighbours. Now a change first checks the block
/// against the allocator and panics clearly; the neighbours are untouched.
#[test]
fn a_header_claiming_a_larger_block_is_refused_before_a_write() {
    // Vector: capacity 16 -> 512 (4 KiB: past its 128-byte block, inside the pool).
    let (mut img, at) = image_with(&[10, 16]);
    put_u64(&mut img, at, 16);
    put_u64(&mut img, at + 8, 512);
    let p = opts().from_image(&img).unwrap();
    let before: Vec<(u64, u64)> = p.read().m.iter().map(|(k, v)| (*k, *v)).collect();
    let msg = panic_message(|| {
        let mut w = p.write();
        for i in 0..100 {
            w.v.push(i);
        }
    });
    assert!(msg.contains("the pool is damaged"), "{msg}");
    let after: Vec<(u64, u64)> = p.read().m.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(before, after, "the map beside the vector is unchanged");

    // Map: 8 buckets -> 64 (mask 63), with room for more inserts.
    let (mut img, at) = image_with(&[7, 5, 2]);
    put_u64(&mut img, at, 63);
    put_u64(&mut img, at + 16, 50);
    let p = opts().from_image(&img).unwrap();
    let msg = panic_message(|| {
        let mut w = p.write();
        for k in 100..140 {
            w.m.insert(k, k);
        }
    });
    assert!(msg.contains("the pool is damaged"), "{msg}");
    assert!(p.check().is_err());
}

/// Found by the `heap_damage` fuzz target: a map's entry count damaged to 2^40 made the
/// iterators report that exact size, so `collect()` asked the process allocator for 8 TiB
/// (an abort). Now an iterator's count never exceeds the table's buckets.
#[test]
fn a_huge_damaged_count_does_not_size_a_collect() {
    let (mut img, at) = image_with(&[7, 5, 2]);
    put_u64(&mut img, at + 8, 1 << 40);
    let p = opts().from_image(&img).unwrap();
    let r = p.read();
    let keys: Vec<u64> = r.m.keys().copied().collect();
    assert_eq!(keys.len(), 5);
    assert!(r.m.iter().size_hint().0 <= 8);
}

/// Found by the `heap_damage` fuzz target: a map's table pointer damaged to an odd offset
/// made a misaligned reference (undefined behaviour; a debug build aborts). Now a handle
/// whose offset is not aligned for its type panics clearly.
#[test]
fn a_misaligned_pointer_panics_clearly() {
    let (mut img, at) = image_with(&[7, 5, 2]);
    let raw = u64::from_le_bytes(img[at - 8..at].try_into().unwrap());
    put_u64(&mut img, at - 8, raw + 1);
    let p = opts().from_image(&img).unwrap();
    let msg = panic_message(|| {
        std::hint::black_box(p.read().m.iter().count());
    });
    assert!(msg.contains("not aligned"), "{msg}");
    let (mut img, at) = image_with(&[10, 16]);
    let raw = u64::from_le_bytes(img[at - 8..at].try_into().unwrap());
    put_u64(&mut img, at - 8, raw + 4);
    let p = opts().from_image(&img).unwrap();
    let msg = panic_message(|| {
        std::hint::black_box(p.read().v.first());
    });
    assert!(msg.contains("not aligned"), "{msg}");
}

#[derive(Persistent, Default, Clone, Copy, PartialEq, Debug)]
#[repr(u8)]
enum Mode {
    #[default]
    Off = 0,
    On = 7,
}

#[derive(Persistent, Default)]
struct Flags {
    mark: u64,
    flag: bool,
    c: char,
    mode: Mode,
    flags: PVec<bool>,
}

/// Issue 13 #8: the bytes of a `bool`, a `char` and a derived enum in the pool are validated
/// by `check()`, read as integers (reading an invalid one as its type would be undefined
/// behaviour): each damaged value is reported, the intact pool passes.
#[test]
fn check_validates_bools_chars_and_enums() {
    let opts = || Pool::<Flags>::options().durability(Durability::Process);
    let p = opts().in_memory().unwrap();
    {
        let mut w = p.write();
        w.mark = 0x5eed_5eed_5eed_5eed;
        w.flag = true;
        w.c = 'é';
        w.mode = Mode::On;
        w.flags.extend([true, false, true]);
    }
    p.check().unwrap();
    let img = p.image();
    let root = (0..img.len() - 8)
        .step_by(8)
        .find(|&i| img[i..i + 8] == 0x5eed_5eed_5eed_5eed_u64.to_le_bytes())
        .unwrap()
        - std::mem::offset_of!(Flags, mark);
    let elems = {
        let mut at = None;
        for i in 0..img.len() - 3 {
            if img[i..i + 3] == [1, 0, 1] && i != root + std::mem::offset_of!(Flags, flag) {
                at = Some(i);
            }
        }
        at.unwrap()
    };
    let cases: [(usize, &[u8], &str); 4] = [
        (
            root + std::mem::offset_of!(Flags, flag),
            &[2],
            "a bool holds",
        ),
        (
            root + std::mem::offset_of!(Flags, c),
            &[0x00, 0xd8, 0, 0],
            "not a Unicode scalar",
        ),
        (
            root + std::mem::offset_of!(Flags, mode),
            &[3],
            "no variant has",
        ),
        (elems + 1, &[0xff], "a bool holds"),
    ];
    for (at, bytes, what) in cases {
        let mut d = img.clone();
        d[at..at + bytes.len()].copy_from_slice(bytes);
        let p = opts().from_image(&d).unwrap();
        let err = p.check().unwrap_err().to_string();
        assert!(err.contains(what), "{what}: {err}");
    }
}

#[derive(Persistent, Default)]
struct TreeRoot {
    t: pcoll::PBTreeMap<u64, u64>,
    b: Option<pcoll::PBox<u64>>,
}

/// Issue 13, the B-tree: a root pointer damaged to name a smaller block (a `PBox<u64>`'s) is
/// refused before a change writes a node there; the box keeps its value.
#[test]
fn a_tree_pointer_to_a_smaller_block_is_refused_before_a_write() {
    let opts = || Pool::<TreeRoot>::options().durability(Durability::Process);
    let p = opts().in_memory().unwrap();
    {
        let mut w = p.write();
        w.t.extend((0..5u64).map(|k| (k, k)));
        w.b = Some(pcoll::PBox::new(0xb0b0_b0b0_b0b0_b0b0));
    }
    let img = p.image();
    let find = |pat: u64| {
        (0..img.len() - 8)
            .step_by(8)
            .filter(|&i| img[i..i + 8] == pat.to_le_bytes())
            .collect::<Vec<_>>()
    };
    // The box's block holds the pattern; the tree's header is (root, height 0, len 5).
    let boxed = find(0xb0b0_b0b0_b0b0_b0b0)[0] as u64;
    let tree = find(5)
        .into_iter()
        .find(|&i| i >= 16 && img[i - 8..i] == [0; 8])
        .expect("the tree header")
        - 16;
    let root = u64::from_le_bytes(img[tree..tree + 8].try_into().unwrap());
    let fake = (root & !((1 << 48) - 1)) | boxed;
    let mut d = img.clone();
    d[tree..tree + 8].copy_from_slice(&fake.to_le_bytes());
    // The box now reads as a leaf of 2 pairs (a node's length is its first field), so
    // nothing else about it looks damaged: an insert would write its third pair past the
    // box's 16-byte block.
    d[boxed as usize..boxed as usize + 8].copy_from_slice(&2u64.to_le_bytes());
    let p = opts().from_image(&d).unwrap();
    let msg = panic_message(|| {
        p.write().t.insert(100, 100);
    });
    assert!(msg.contains("the pool is damaged"), "{msg}");
    assert_eq!(p.read().b.as_deref(), Some(&2));
    assert!(p.check().is_err());
}
