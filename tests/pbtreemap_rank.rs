//! Positions in a ranked `PBTreeMap`: every internal edge keeps its subtree's pair count, so `nth`,
//! `nth_back`, `skip` and `count` over `iter`, `range`, `keys`, `values` and the set's
//! iterators jump in one descent. Checked against std's `BTreeMap`/`BTreeSet` over trees that
//! every edit path built: inserts with splits, removals with rotations and merges, `retain`,
//! `split_off`, `append` (into empty maps of the other kind too), `clone`, `set_ranked` both
//! ways, rolled-back transactions and a reopen; the counts are
//! checked by `verify_tree` and `Pool::check` after each step.

mod common;

use common::{bound, valid};

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use pcoll::{Durability, PBTreeMap, PBTreeSet, PHashMap, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent)]
struct Root {
    m: PBTreeMap<u64, u64>,
    s: PBTreeSet<u64>,
    /// Unranked: the same positions, walked.
    plain: PBTreeMap<u64, u64>,
    /// Empty, unranked: `AppendIntoEmpty` moves `m`'s tree through it.
    spare: PBTreeMap<u64, u64>,
}

impl Default for Root {
    fn default() -> Self {
        Root {
            m: PBTreeMap::ranked(),
            s: PBTreeSet::ranked(),
            plain: PBTreeMap::new(),
            spare: PBTreeMap::new(),
        }
    }
}

/// Every positional form over `(lo, hi)` and the whole map, against std.
fn positions_match(
    p: &PBTreeMap<u64, u64>,
    s: &PBTreeSet<u64>,
    m: &BTreeMap<u64, u64>,
    q: (Bound<u64>, Bound<u64>),
    k: usize,
) {
    let set: BTreeSet<u64> = m.keys().copied().collect();
    let pair = |e: Option<(&u64, &u64)>| e.map(|(a, b)| (*a, *b));
    assert_eq!(p.range(q).count(), m.range(q).count(), "count of {q:?}");
    assert_eq!(
        pair(p.range(q).nth(k)),
        pair(m.range(q).nth(k)),
        "nth {k} of {q:?}"
    );
    assert_eq!(pair(p.range(q).nth_back(k)), pair(m.range(q).nth_back(k)));
    assert_eq!(p.range(q).size_hint().0, m.range(q).count());
    // Jumps from both ends, interleaved with single steps, until the cursors meet.
    let (mut a, mut b) = (p.range(q), m.range(q));
    for step in 0..8 {
        let j = (k + step) % 5;
        let (x, y) = if step % 2 == 0 {
            (pair(a.nth(j)), pair(b.nth(j)))
        } else {
            (pair(a.nth_back(j)), pair(b.nth_back(j)))
        };
        assert_eq!(x, y, "step {step} of {q:?}");
        assert_eq!(a.clone().count(), b.clone().count());
    }
    let skipped: Vec<_> = p.range(q).skip(k).take(3).map(|(a, b)| (*a, *b)).collect();
    let want: Vec<_> = m.range(q).skip(k).take(3).map(|(a, b)| (*a, *b)).collect();
    assert_eq!(skipped, want);
    let rev: Vec<_> = p.range(q).rev().skip(k).take(3).map(|(a, _)| *a).collect();
    let want: Vec<_> = m.range(q).rev().skip(k).take(3).map(|(a, _)| *a).collect();
    assert_eq!(rev, want);
    assert_eq!(pair(p.iter().nth(k)), pair(m.iter().nth(k)));
    assert_eq!(pair(p.iter().nth_back(k)), pair(m.iter().nth_back(k)));
    assert_eq!(p.keys().nth(k), m.keys().nth(k));
    assert_eq!(p.values().nth_back(k), m.values().nth_back(k));
    let mut it = p.iter();
    assert_eq!(pair(it.nth(k)), pair(m.iter().nth(k)));
    assert_eq!(it.len(), m.len().saturating_sub(k + 1));
    assert_eq!(s.range(q).count(), set.range(q).count());
    assert_eq!(s.range(q).nth(k), set.range(q).nth(k));
    assert_eq!(s.iter().nth_back(k), set.iter().nth_back(k));
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u64),
    Remove(u64),
    Retain(u64),
    SplitAppend(u64),
    Clone,
    /// `set_ranked` both ways on every tree (rebuilt into the other layout and back).
    Flip,
    /// The whole tree appended into an empty ordinary map, then into an empty ranked one:
    /// each map keeps its own kind.
    AppendIntoEmpty,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0u64..3000).prop_map(Op::Insert),
        6 => (0u64..3000).prop_map(Op::Remove),
        1 => (2u64..7).prop_map(Op::Retain),
        1 => (0u64..3000).prop_map(Op::SplitAppend),
        1 => Just(Op::Clone),
        1 => Just(Op::Flip),
        1 => Just(Op::AppendIntoEmpty),
    ]
}

fn run(r: &mut Root, m: &mut BTreeMap<u64, u64>, op: &Op) {
    match *op {
        Op::Insert(k) => {
            for k in k..k + 40 {
                assert_eq!(r.m.insert(k, k * 2), m.insert(k, k * 2));
                r.s.insert(k);
                r.plain.insert(k, k * 2);
            }
        }
        Op::Remove(k) => {
            for k in k..k + 60 {
                assert_eq!(r.m.remove(&k), m.remove(&k));
                r.s.remove(&k);
                r.plain.remove(&k);
            }
        }
        Op::Retain(d) => {
            r.m.retain(|k, _| k % d != 0);
            m.retain(|k, _| k % d != 0);
            r.s.retain(|k| k % d != 0);
            r.plain.retain(|k, _| k % d != 0);
        }
        Op::SplitAppend(k) => {
            let mut tail = r.m.split_off(&k);
            let mut stail = r.s.split_off(&k);
            tail.insert(k, 1);
            stail.insert(k);
            m.insert(k, 1);
            r.m.append(&mut tail);
            r.s.append(&mut stail);
            r.plain.insert(k, 1);
        }
        Op::Clone => {
            let c = r.m.clone();
            r.m = c;
        }
        Op::Flip => {
            r.m.set_ranked(false);
            assert!(!r.m.is_ranked());
            assert_eq!(r.m.verify_tree(), Ok(()));
            assert!(
                r.m.iter()
                    .map(|(k, v)| (*k, *v))
                    .eq(m.iter().map(|(k, v)| (*k, *v)))
            );
            r.m.set_ranked(true);
            r.s.set_ranked(false);
            r.s.set_ranked(true);
            r.plain.set_ranked(true);
            assert_eq!(r.plain.verify_tree(), Ok(()));
            r.plain.set_ranked(false);
        }
        Op::AppendIntoEmpty => {
            r.spare.append(&mut r.m);
            assert!(!r.spare.is_ranked() && r.m.is_ranked() && r.m.is_empty());
            assert_eq!(r.spare.verify_tree(), Ok(()));
            r.m.append(&mut r.spare);
            assert!(r.m.is_ranked() && !r.spare.is_ranked() && r.spare.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn positions_match_std_after_every_kind_of_edit(
        txns in prop::collection::vec((prop::collection::vec(op(), 1..12), any::<bool>()), 1..8),
        probes in prop::collection::vec((0u8..3, 0u64..3100, 0u8..3, 0u64..3100, 0usize..900), 6),
    ) {
        let dir = common::TempDir::new("pbtree-rank");
        let path = dir.file("r.pool");
        let open = || Pool::<Root>::options().durability(Durability::Process).open(&path).unwrap();
        let mut p = open();
        let mut model = BTreeMap::new();
        for (i, (ops, commit)) in txns.iter().enumerate() {
            let mut scratch = model.clone();
            let mut w = p.write();
            for op in ops {
                run(&mut w, &mut scratch, op);
            }
            prop_assert_eq!(w.m.verify_tree(), Ok(()));
            prop_assert!(w.m.is_ranked() && w.s.is_ranked() && !w.plain.is_ranked());
            if *commit {
                drop(w);
                model = scratch;
            } else {
                w.abort();
            }
            if i % 3 == 2 {
                drop(p);
                p = open();
            }
            p.check().unwrap();
            let r = p.read();
            for &(lk, lo, hk, hi, k) in &probes {
                let q = (bound(lk, lo), bound(hk, hi));
                if valid(q.0, q.1) {
                    positions_match(&r.m, &r.s, &model, q, k);
                    let p = &r.plain;
                    assert_eq!(p.range(q).count(), model.range(q).count());
                    assert_eq!(p.range(q).nth(k), model.range(q).nth(k));
                    assert_eq!(p.range(q).nth_back(k), model.range(q).nth_back(k));
                    assert_eq!(p.iter().nth(k), model.iter().nth(k));
                }
            }
        }
    }
}

/// A rank in a large tree costs one descent: `range(..k).count()` and `iter().nth(i)` over a
/// million keys answer every probe exactly (a walk would take seconds for all of them).
#[test]
fn ranks_in_a_million_keys() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    assert!(p.read().m.is_ranked());
    let n = 1_000_000u64;
    p.write().m.extend((0..n).map(|k| (k * 2, k)));
    let r = p.read();
    for probe in (0..20_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (2 * n)) {
        let below = r.m.range(..probe).count() as u64;
        assert_eq!(below, probe.div_ceil(2));
        let i = (probe / 2) as usize;
        assert_eq!(r.m.iter().nth(i), Some((&(probe / 2 * 2), &(probe / 2))));
        let above = (n - probe.div_ceil(2)) as usize;
        let first = r.m.range(probe..).rev().nth(above.wrapping_sub(1));
        let want = probe.div_ceil(2);
        assert_eq!(first, (above > 0).then_some((&(want * 2), &want)));
    }
}

/// A pool in `dir` whose maps hold the 40 keys of `Op::Insert(0)` (trees of height 1), and
/// its model.
fn seeded(dir: &common::TempDir) -> (Pool<Root>, BTreeMap<u64, u64>) {
    let p = Pool::<Root>::options()
        .durability(Durability::Process)
        .open(dir.file("r.pool"))
        .unwrap();
    let mut model = BTreeMap::new();
    run(&mut p.write(), &mut model, &Op::Insert(0));
    (p, model)
}

/// A map taken out of pool memory after an unrelated rolled-back transaction (which split its
/// root) and changed there: each change runs on the pool's own nodes, and nothing leaks.
/// Before, the rollback took the tree's old root for a copy that had left, so the map taken
/// out was copied on its first change and its nodes leaked (`check` reported them), and
/// `iter_mut` (so `retain`) panicked, reading the old root's offset in the copy's pool.
#[test]
fn a_map_taken_out_after_a_rollback_changes_in_place() {
    for variant in 0..6 {
        let dir = common::TempDir::new("pbtree-rank-taken");
        let (p, mut model) = seeded(&dir);
        let mut w = p.write();
        let h = w.m.height();
        run(&mut w, &mut model.clone(), &Op::Insert(38));
        assert!(w.m.height() > h, "the rolled-back insert splits the root");
        w.abort();
        let mut w = p.write();
        match variant {
            0 => {
                let mut moved = std::mem::replace(&mut w.m, PBTreeMap::ranked());
                let mut other = PBTreeMap::ranked();
                other.append(&mut moved);
                w.m.append(&mut other);
            }
            1 => {
                let mut moved = std::mem::replace(&mut w.m, PBTreeMap::ranked());
                moved.set_ranked(false);
                moved.set_ranked(true);
                w.m = moved;
            }
            2 => {
                let mut moved = std::mem::replace(&mut w.m, PBTreeMap::ranked());
                let mut plain = PBTreeMap::new();
                plain.append(&mut moved);
                assert!(!plain.is_ranked() && moved.is_ranked() && moved.is_empty());
                w.m.append(&mut plain);
            }
            3 => {
                let mut moved = std::mem::replace(&mut w.m, PBTreeMap::ranked());
                moved.retain(|k, _| k % 2 == 0);
                model.retain(|k, _| k % 2 == 0);
                w.m = moved;
            }
            4 => {
                let mut moved = std::mem::replace(&mut w.m, PBTreeMap::ranked());
                moved.values_mut().for_each(|v| *v += 1);
                model.values_mut().for_each(|v| *v += 1);
                w.m = moved;
            }
            _ => {
                let mut moved = std::mem::replace(&mut w.m, PBTreeMap::ranked());
                moved.insert(5000, 1);
                model.insert(5000, 1);
                w.m = moved;
            }
        }
        drop(w);
        if let Err(e) = p.check() {
            panic!("variant {variant}: {e}");
        }
        let r = p.read();
        assert!(r.m.is_ranked());
        assert!(
            r.m.iter()
                .map(|(k, v)| (*k, *v))
                .eq(model.iter().map(|(k, v)| (*k, *v)))
        );
    }
}

/// A root split and then collapsed back onto the old root within one transaction, then the
/// map taken out of pool memory, and the transaction rolled back: the copy outside names
/// the pool's root, so it must own nothing (the split's note that the old root stayed inside
/// the tree ends when it is the root again). Its drop, after the pool reused blocks, leaves
/// the pool's tree whole.
#[test]
fn a_root_split_then_collapsed_and_taken_out_owns_nothing() {
    let dir = common::TempDir::new("pbtree-rank-collapse");
    let (p, model) = seeded(&dir);
    let outside = {
        let mut w = p.write();
        let h = w.m.height();
        let mut k = 1000;
        while w.m.height() == h {
            w.m.insert(k, k);
            k += 1;
        }
        for j in (1000..k).rev() {
            w.m.remove(&j);
        }
        assert_eq!(w.m.height(), h, "collapsed back");
        let out = std::mem::replace(&mut w.m, PBTreeMap::ranked());
        w.abort();
        out
    };
    {
        let mut w = p.write();
        w.plain.extend((5000..6000).map(|k| (k, k)));
    }
    {
        let _w = p.write();
        drop(outside);
    }
    p.check().unwrap();
    let r = p.read();
    assert!(
        r.m.iter()
            .map(|(k, v)| (*k, *v))
            .eq(model.iter().map(|(k, v)| (*k, *v)))
    );
}

/// A one-leaf map removed from a hash map (a value handed out, lent) and made ranked: the
/// mark holds through its growth and after it is stored again. Before, the flip went to the
/// handed-out header only and the map's own copy, made at its next change, was ordinary.
#[test]
fn a_lent_map_made_ranked_stays_ranked() {
    #[derive(Persistent, Default)]
    struct Maps {
        h: PHashMap<u64, PBTreeMap<u64, u64>>,
    }
    let dir = common::TempDir::new("pbtree-rank-lent");
    let p = Pool::<Maps>::options()
        .durability(Durability::Process)
        .open(dir.file("r.pool"))
        .unwrap();
    p.write()
        .h
        .insert(1, (0..5u64).map(|k| (k, k)).collect::<PBTreeMap<_, _>>());
    let mut w = p.write();
    let mut t = w.h.remove(&1).unwrap();
    t.set_ranked(true);
    t.extend((5..500u64).map(|k| (k, k)));
    assert!(t.is_ranked());
    assert_eq!(t.verify_tree(), Ok(()));
    assert_eq!(t.iter().nth(300), Some((&300, &300)));
    w.h.insert(2, t);
    drop(w);
    p.check().unwrap();
    assert!(p.read().h[&2].is_ranked());
}
