//! `Pool::check_with_progress` and `inspect::inspect_with_progress`: the callback is called,
//! `done` starts at 0, never decreases, never exceeds a `total` that stays put, and ends equal
//! to it — on a pool of thousands of blocks over several heap segments, on an empty one and on
//! a damaged one. Also what the check's single-walk bookkeeping reports (a leak, a block owned
//! twice), and that a panicking callback leaves the pool usable.

mod common;

use common::TempDir;
use pcoll::{Durability, Error, PBox, PHashMap, PString, PVec, Persistent, Pool, Progress, Walk};

#[derive(Persistent, Default)]
struct Root {
    rows: PVec<PVec<u64>>,
    names: PHashMap<PString, u64>,
}

/// 20,000 vectors of 64 words (10 MiB: several 4 MiB heap segments) and 2,000 strings.
fn fill(pool: &Pool<Root>) {
    let mut w = pool.write();
    w.rows
        .extend((0..20_000u64).map(|i| (i..i + 64).collect::<PVec<u64>>()));
    for i in 0..2_000u64 {
        w.names.insert(format!("name number {i} of the test"), i);
    }
}

/// The contract of `Progress`, for one check's calls.
fn assert_well_formed(calls: &[Progress], total: u64) {
    assert!(!calls.is_empty(), "the callback was never called");
    assert_eq!(
        calls[0].done, 0,
        "the first call starts at 0: {:?}",
        calls[0]
    );
    for c in calls {
        assert_eq!(c.total, total, "total changed: {c:?}");
        assert!(c.done <= c.total, "done exceeds total: {c:?}");
    }
    for w in calls.windows(2) {
        assert!(
            w[0].done <= w[1].done,
            "done decreased: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    let last = calls.last().unwrap();
    assert_eq!(last.done, total, "the last call ends at total: {last:?}");
}

/// Calls strictly between the start and the end of `walk`'s share.
fn inside(calls: &[Progress], walk: Walk, from: u64, to: u64) -> usize {
    calls
        .iter()
        .filter(|c| c.walk == walk && c.done > from && c.done < to)
        .count()
}

#[test]
fn check_reports_both_walks_up_to_total() {
    let pool = Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap();
    fill(&pool);
    let mut calls = Vec::new();
    let rep = pool.check_with_progress(|p| calls.push(p)).unwrap();
    assert!(rep.blocks > 22_000, "{rep:?}");
    assert!(rep.pool_bytes > 10 << 20, "{rep:?}");
    let size = rep.pool_bytes;
    assert_well_formed(&calls, 2 * size);
    // The allocator walk first, over the pool's bytes, segment by segment; then reachability,
    // every 4096 blocks.
    let first_reach = calls
        .iter()
        .position(|c| c.walk == Walk::Reachability)
        .unwrap();
    assert!(
        calls[..first_reach]
            .iter()
            .all(|c| c.walk == Walk::Allocator && c.done <= size)
    );
    assert!(
        calls[first_reach..]
            .iter()
            .all(|c| c.walk == Walk::Reachability && c.done >= size)
    );
    assert!(inside(&calls, Walk::Allocator, 0, size) >= 2, "{calls:?}");
    assert!(
        inside(&calls, Walk::Reachability, size, 2 * size) >= 4,
        "{calls:?}"
    );
    // Not every block: a modest rate.
    assert!(calls.len() < 100, "{} calls", calls.len());
    assert_eq!(pool.check().unwrap(), rep, "check() is the same check");
}

#[test]
fn check_of_an_empty_pool_still_ends_at_total() {
    let pool = Pool::<Root>::options().in_memory().unwrap();
    let mut calls = Vec::new();
    let rep = pool.check_with_progress(|p| calls.push(p)).unwrap();
    assert_well_formed(&calls, 2 * rep.pool_bytes);
    assert!(rep.blocks <= 2, "root and schema: {rep:?}");
}

#[test]
fn inspect_reports_the_allocator_walk_up_to_total() {
    let dir = TempDir::new("inspect-progress");
    let path = dir.path().join("a.pool");
    let empty = dir.path().join("empty.pool");
    {
        let pool = Pool::<Root>::options()
            .durability(Durability::Process)
            .create(&path)
            .unwrap();
        fill(&pool);
        drop(Pool::<Root>::create(&empty).unwrap());
    }
    let mut calls = Vec::new();
    let info = pcoll::inspect::inspect_with_progress(&path, |p| calls.push(p)).unwrap();
    assert_well_formed(&calls, info.pool_bytes);
    assert!(calls.iter().all(|c| c.walk == Walk::Allocator));
    assert!(
        inside(&calls, Walk::Allocator, 0, info.pool_bytes) >= 2,
        "{calls:?}"
    );
    assert!(info.blocks > 22_000 && info.problems.is_empty(), "{info:?}");
    let plain = pcoll::inspect::inspect(&path).unwrap();
    assert_eq!(
        (plain.blocks, plain.allocated_bytes),
        (info.blocks, info.allocated_bytes)
    );

    let mut calls = Vec::new();
    let info = pcoll::inspect::inspect_with_progress(&empty, |p| calls.push(p)).unwrap();
    assert_well_formed(&calls, info.pool_bytes);
}

#[derive(Persistent, Default)]
struct Two {
    a: Option<PBox<u64>>,
    b: Option<PBox<u64>>,
}

/// The 8-byte-aligned positions in `img` of the word `w`.
fn find(img: &[u8], pred: impl Fn(u64) -> bool) -> Vec<usize> {
    (0..img.len() - 8)
        .step_by(8)
        .filter(|&i| pred(u64::from_le_bytes(img[i..i + 8].try_into().unwrap())))
        .collect()
}

/// `b` made to point at `a`'s block: that block has two owners and `b`'s old one none. The
/// check names both, and its progress still ends at total.
#[test]
fn a_block_owned_twice_and_a_leak_are_named() {
    const A: u64 = 0xA11C_E000_0000_0001;
    const B: u64 = 0xB0B0_0000_0000_0002;
    let opts = || Pool::<Two>::options().durability(Durability::Process);
    let pool = opts().in_memory().unwrap();
    {
        let mut w = pool.write();
        w.a = Some(PBox::new(A));
        w.b = Some(PBox::new(B));
    }
    let mut img = pool.image();
    let [off_a] = find(&img, |w| w == A)[..] else {
        panic!("A once")
    };
    let [off_b] = find(&img, |w| w == B)[..] else {
        panic!("B once")
    };
    let (off_a, off_b) = (off_a as u64, off_b as u64);
    let low = (1u64 << 48) - 1;
    let [ha] = find(&img, |w| w & low == off_a && w != off_a)[..] else {
        panic!("a's handle")
    };
    let [hb] = find(&img, |w| w & low == off_b && w != off_b)[..] else {
        panic!("b's handle")
    };
    let raw_a: [u8; 8] = img[ha..ha + 8].try_into().unwrap();
    img[hb..hb + 8].copy_from_slice(&raw_a);

    let damaged = opts().from_image(&img).unwrap();
    let mut calls = Vec::new();
    let err = damaged.check_with_progress(|p| calls.push(p)).unwrap_err();
    assert!(matches!(err, Error::Corrupted { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("block {off_a} is owned 2 times")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "leaked blocks (allocated, unreachable): [{off_b}]"
        )),
        "{msg}"
    );
    assert_well_formed(&calls, 2 * damaged.stats().pool_bytes);
}

#[test]
fn a_panicking_callback_leaves_the_pool_usable() {
    let pool = Pool::<Root>::options().in_memory().unwrap();
    fill(&pool);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.check_with_progress(|p| {
            if p.walk == Walk::Reachability {
                panic!("the progress bar broke");
            }
        })
    }));
    assert!(r.is_err(), "the panic goes on");
    pool.write().names.insert("after", 1);
    assert_eq!(pool.read().names["after"], 1);
    pool.check().unwrap();
}
