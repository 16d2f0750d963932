//! PBTreeMap and PBTreeSet: the std API against `BTreeMap`/`BTreeSet`, ranges with every
//! bound form from both ends, `split_off`/`append`, panic safety of a user `Ord`, a full pool,
//! crash images of insert (splits up to the root), remove (merges, root collapse), `append`,
//! `split_off` and `retain`, and proptests of random transactions (some aborted, some across
//! a reopen) with the tree invariants checked after each step.

mod common;

use common::{bound, valid};

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pcoll::testing::{Config, crash_check_both};
use pcoll::{Durability, Error, PBTreeMap, PBTreeSet, PString, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
struct Root {
    nums: PBTreeMap<u64, u64>,
    names: PBTreeMap<PString, PString>,
    lists: PBTreeMap<(u32, u64), PVec<u64>>,
    other: PBTreeMap<u64, u64>,
    set: PBTreeSet<u64>,
    set2: PBTreeSet<u64>,
    tags: PBTreeSet<PString>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap()
}

#[test]
fn std_api_matches_btreemap() {
    let p = pool();
    let mut m = BTreeMap::new();
    {
        let mut w = p.write();
        for i in 0..2000u64 {
            let k = i * 7919 % 2003;
            assert_eq!(w.nums.insert(k, i), m.insert(k, i));
        }
        w.nums.verify_tree().unwrap();
        assert!(w.nums.height() >= 2);
        for i in (0..2003u64).step_by(3) {
            assert_eq!(w.nums.remove(&i), m.remove(&i));
        }
        w.nums.verify_tree().unwrap();
        assert_eq!(w.nums.remove_entry(&1), m.remove_entry(&1));
        *w.nums.get_mut(&2).unwrap() += 5;
        *m.get_mut(&2).unwrap() += 5;
        *w.nums.entry(5000).or_insert(1) += 1;
        *m.entry(5000).or_insert(1) += 1;
        w.nums.entry(2).and_modify(|v| *v = 0).or_default();
        m.entry(2).and_modify(|v| *v = 0).or_default();
        assert_eq!(w.nums.pop_first(), m.pop_first());
        assert_eq!(w.nums.pop_last(), m.pop_last());
        w.nums.retain(|k, v| {
            *v += 1;
            k % 5 != 0
        });
        m.retain(|k, v| {
            *v += 1;
            k % 5 != 0
        });
        w.nums.verify_tree().unwrap();
        for (_, v) in w.nums.iter_mut() {
            *v *= 2;
        }
        m.values_mut().for_each(|v| *v *= 2);
        w.nums.range_mut(100..200).for_each(|(_, v)| *v += 1);
        m.range_mut(100..200).for_each(|(_, v)| *v += 1);
        assert!(w.nums == m);
    }
    let r = p.read();
    assert!(r.nums == m);
    assert_eq!(r.nums.len(), m.len());
    assert_eq!(r.nums.first_key_value(), m.first_key_value());
    assert_eq!(r.nums.last_key_value(), m.last_key_value());
    assert!(r.nums.iter().eq(m.iter()));
    assert!(r.nums.iter().rev().eq(m.iter().rev()));
    assert!(r.nums.keys().eq(m.keys()));
    assert!(r.nums.values().eq(m.values()));
    assert_eq!(r.nums[&4], m[&4]);
    assert_eq!(r.nums.get_key_value(&4), m.get_key_value(&4));
    assert!(r.nums.contains_key(&4) && !r.nums.contains_key(&3));
    assert_eq!(format!("{:?}", r.nums), format!("{m:?}"));
    // Both ends at once.
    let mut it = r.nums.iter();
    let mut jt = m.iter();
    for i in 0..m.len() {
        if i % 2 == 0 {
            assert_eq!(it.next(), jt.next());
        } else {
            assert_eq!(it.next_back(), jt.next_back());
        }
    }
    assert_eq!(it.next(), None);
    drop(r);
    p.check().unwrap();
}

#[test]
fn ranges_match_std_for_every_bound_form() {
    let p = pool();
    let m: BTreeMap<u64, u64> = (0..500u64).map(|i| (i * 3, i)).collect();
    p.write().nums.extend(m.iter().map(|(k, v)| (*k, *v)));
    let r = p.read();
    for (a, b) in [
        (0, 0),
        (1, 2),
        (3, 3),
        (10, 400),
        (0, 1500),
        (299, 300),
        (1497, 2000),
    ] {
        for (ka, kb) in (0..3).flat_map(|x| (0..3).map(move |y| (x, y))) {
            let (lo, hi) = (bound(ka, a), bound(kb, b));
            if !valid(lo, hi) {
                continue;
            }
            let ours: Vec<_> = r.nums.range((lo, hi)).collect();
            let std: Vec<_> = m.range((lo, hi)).collect();
            assert_eq!(ours, std, "{lo:?}..{hi:?}");
            let back: Vec<_> = r.nums.range((lo, hi)).rev().collect();
            let std_back: Vec<_> = m.range((lo, hi)).rev().collect();
            assert_eq!(back, std_back, "rev {lo:?}..{hi:?}");
        }
    }
    assert_eq!(r.nums.range(..=9).count(), 4);
    assert_eq!(r.nums.range(10..).count(), m.range(10..).count());
    let caught = catch_unwind(AssertUnwindSafe(|| {
        r.nums
            .range((Bound::Included(5), Bound::Excluded(3)))
            .count()
    }));
    assert!(caught.is_err(), "start after end panics as in std");
}

#[test]
fn strings_are_looked_up_by_str_and_kept_in_order() {
    let p = pool();
    {
        let mut w = p.write();
        for n in ["delta", "alpha", "charlie", "bravo"] {
            w.names.insert(n, n.to_uppercase());
        }
        w.names.entry("echo").or_insert("E").push('!');
        w.lists.entry((1, 2)).or_default().push(3);
        w.tags.insert("x");
    }
    let r = p.read();
    let keys: Vec<&str> = r.names.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(r.names["charlie"], "CHARLIE");
    assert_eq!(r.names.get("echo").map(|s| s.as_str()), Some("E!"));
    let mid: Vec<&str> = r
        .names
        .range::<str, _>((Bound::Included("b"), Bound::Excluded("d")))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(mid, ["bravo", "charlie"]);
    assert_eq!(r.lists[&(1, 2)], [3]);
    assert!(r.tags.contains("x"));
    let std: BTreeMap<String, String> = r
        .names
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(r.names == std);
    drop(r);
    p.check().unwrap();
}

#[test]
fn split_off_and_append() {
    let p = pool();
    {
        let mut w = p.write();
        w.nums.extend((0..300u64).map(|i| (i, i)));
        w.other = w.nums.split_off(&100);
        assert_eq!(w.nums.len(), 100);
        assert_eq!(w.other.len(), 200);
        w.nums.verify_tree().unwrap();
        w.other.verify_tree().unwrap();
        w.other.insert(50, 5000); // overlaps: append lets other's value win
        let mut o = std::mem::take(&mut w.other);
        std::mem::swap(&mut w.other, &mut o); // back into pool memory before reading
        drop(o);
        let mut other = std::mem::take(&mut w.other);
        w.other = PBTreeMap::new();
        std::mem::swap(&mut w.other, &mut other);
        drop(other);
        let root: &mut Root = &mut w;
        root.nums.append(&mut root.other);
        assert!(root.other.is_empty());
        root.nums.verify_tree().unwrap();
    }
    let r = p.read();
    assert_eq!(r.nums.len(), 300);
    assert_eq!(r.nums[&50], 5000);
    assert!(r.nums.keys().copied().eq(0..300));
    drop(r);
    p.check().unwrap();
}

#[test]
fn sets_match_btreeset() {
    let p = pool();
    {
        let mut w = p.write();
        w.set.extend(0..100u64);
        w.set2.extend((50..150u64).step_by(2));
        assert!(!w.set.insert(5));
        assert!(w.set.remove(&5));
        assert_eq!(w.set.take(&6), Some(6));
        assert_eq!(w.set.pop_first(), Some(0));
        assert_eq!(w.set.pop_last(), Some(99));
        w.set.retain(|x| x % 10 != 1);
    }
    let a: BTreeSet<u64> = (1..99)
        .filter(|x| *x != 5 && *x != 6 && x % 10 != 1)
        .collect();
    let b: BTreeSet<u64> = (50..150).step_by(2).collect();
    let r = p.read();
    assert!(r.set == a && r.set2 == b);
    assert!(r.set.union(&r.set2).eq(a.union(&b)));
    assert!(r.set.intersection(&r.set2).eq(a.intersection(&b)));
    assert!(r.set.difference(&r.set2).eq(a.difference(&b)));
    assert!(
        r.set
            .symmetric_difference(&r.set2)
            .eq(a.symmetric_difference(&b))
    );
    assert_eq!(r.set.is_subset(&r.set2), a.is_subset(&b));
    assert_eq!(r.set.is_disjoint(&r.set2), a.is_disjoint(&b));
    assert!(r.set.is_superset(&r.set));
    assert_eq!(r.set.first(), a.first());
    assert_eq!(r.set.last(), a.last());
    assert!(r.set.range(20..40).eq(a.range(20..40)));
    assert!(r.set.iter().rev().eq(a.iter().rev()));
    assert_eq!(r.set.cmp(&r.set2), a.cmp(&b));
    drop(r);
    p.check().unwrap();
}

#[test]
fn clear_frees_every_node() {
    let p = pool();
    let base = p.check().unwrap().blocks;
    {
        let mut w = p.write();
        w.nums.extend((0..1000u64).map(|i| (i, i)));
        for i in 0..50 {
            w.names.insert(format!("n{i}"), "v");
        }
    }
    assert!(p.check().unwrap().blocks > base + 100);
    {
        let mut w = p.write();
        w.nums.clear();
        w.names.clear();
    }
    assert_eq!(p.check().unwrap().blocks, base);
}

#[test]
fn removals_roll_back_exactly() {
    let p = pool();
    p.write().nums.extend((0..1000u64).map(|i| (i, i)));
    {
        let mut w = p.write();
        for i in (0..1000u64).filter(|i| i % 7 != 3) {
            w.nums.remove(&i);
        }
        w.nums.extend((2000..2100u64).map(|i| (i, 0)));
        w.nums.verify_tree().unwrap();
        w.abort();
    }
    let r = p.read();
    assert!(
        r.nums
            .iter()
            .map(|(k, v)| (*k, *v))
            .eq((0..1000u64).map(|i| (i, i)))
    );
    r.nums.verify_tree().unwrap();
    drop(r);
    p.check().unwrap();
}

// ---- panic safety ----

thread_local! {
    static CMP_BUDGET: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// A key whose `Ord` panics once the thread's budget runs out.
#[derive(Persistent, Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Touchy(u64);

impl PartialOrd for Touchy {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Touchy {
    fn cmp(&self, o: &Self) -> Ordering {
        let left = CMP_BUDGET.with(|b| b.get());
        assert!(left > 0, "Touchy::cmp: budget exhausted");
        CMP_BUDGET.with(|b| b.set(left - 1));
        self.0.cmp(&o.0)
    }
}

#[derive(Persistent, Default)]
struct TRoot {
    m: PBTreeMap<Touchy, u64>,
}

#[test]
fn panicking_ord_leaves_the_tree_consistent() {
    let p = Pool::<TRoot>::options().in_memory().unwrap();
    p.write().m.extend((0..500).map(|i| (Touchy(i * 2), i)));
    for budget in [0, 1, 3, 5, 8] {
        let mut w = p.write();
        CMP_BUDGET.with(|b| b.set(budget));
        let a = catch_unwind(AssertUnwindSafe(|| w.m.insert(Touchy(501), 1)));
        CMP_BUDGET.with(|b| b.set(budget));
        let b = catch_unwind(AssertUnwindSafe(|| w.m.remove(&Touchy(400))));
        CMP_BUDGET.with(|b| b.set(u64::MAX));
        assert!(a.is_err() && b.is_err(), "budget {budget}");
        w.m.verify_tree().unwrap();
        assert_eq!(w.m.len(), 500);
        w.abort();
    }
    // A panic escaping the guard rolls back what came before it.
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut w = p.write();
        w.m.remove(&Touchy(0));
        CMP_BUDGET.with(|b| b.set(2));
        w.m.insert(Touchy(777), 7);
    }));
    CMP_BUDGET.with(|b| b.set(u64::MAX));
    assert!(r.is_err());
    assert_eq!(p.read().m.len(), 500);
    assert_eq!(p.read().m.get(&Touchy(0)), Some(&0));
    p.read().m.verify_tree().unwrap();
    p.check().unwrap();
}

#[test]
fn try_insert_reports_a_full_pool_and_changes_nothing() {
    let p = Pool::<Root>::options()
        .initial_size(256 << 10)
        .max_size(1 << 20)
        .in_memory()
        .unwrap();
    let mut w = p.write();
    let mut n = 0u64;
    let err = loop {
        match w.nums.try_insert(n, n) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::OutOfSpace { .. }), "{err}");
    assert_eq!(w.nums.len() as u64, n);
    w.nums.verify_tree().unwrap();
    assert!(w.nums.keys().copied().eq(0..n));
    drop(w);
    p.check().unwrap();
}

// ---- crash images ----

/// `m` and `b` are ranked (their edges' counts are kept, and checked by `verify_tree` in
/// every image); `s` and `u` are not.
#[derive(Persistent)]
struct CRoot {
    m: PBTreeMap<u64, u64>,
    b: PBTreeMap<u64, u64>,
    s: PBTreeMap<PString, u64>,
    u: PBTreeMap<u64, u64>,
}

impl Default for CRoot {
    fn default() -> Self {
        CRoot {
            m: PBTreeMap::ranked(),
            b: PBTreeMap::ranked(),
            s: PBTreeMap::new(),
            u: PBTreeMap::new(),
        }
    }
}

type Model = (
    Vec<(u64, u64)>,
    Vec<(u64, u64)>,
    Vec<(String, u64)>,
    Vec<(u64, u64)>,
    bool,
    [bool; 3],
);

fn observe(r: &CRoot) -> Model {
    let trees = [&r.m, &r.b, &r.u];
    let ok = trees.iter().all(|t| t.verify_tree().is_ok()) && r.s.verify_tree().is_ok();
    // The ranks agree with the order (a count wrong by one would move them).
    let ranks = trees.iter().all(|t| {
        t.keys()
            .enumerate()
            .step_by(7)
            .all(|(i, k)| t.range(..*k).count() == i && t.iter().nth(i).map(|e| e.0) == Some(k))
    });
    (
        r.m.iter().map(|(k, v)| (*k, *v)).collect(),
        r.b.iter().map(|(k, v)| (*k, *v)).collect(),
        r.s.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        r.u.iter().map(|(k, v)| (*k, *v)).collect(),
        ok && ranks,
        [r.m.is_ranked(), r.b.is_ranked(), r.u.is_ranked()],
    )
}

/// Sequential keys 0..n, with n chosen so that the next key splits every level: the root
/// splits (the tree grows a level) on insert of n.
fn full_path_size() -> u64 {
    let p = pool();
    let mut w = p.write();
    let mut n = 0;
    loop {
        let h = w.nums.height();
        w.nums.insert(n, n);
        if w.nums.height() > h && h >= 1 {
            return n; // inserting key n grew the tree; seed 0..n
        }
        n += 1;
    }
}

fn seeded(p: &Pool<CRoot>) {
    let n = full_path_size();
    let mut w = p.write();
    w.m.extend((0..n).map(|i| (i, i)));
    w.u.extend((0..n).map(|i| (i, i)));
    w.b.extend((0..60u64).map(|i| (i * 2, i)));
    for i in 0..12 {
        w.s.insert(format!("key{i:02}"), i);
    }
}

fn crash(name: &str, op: impl Fn(&mut CRoot) + Copy) {
    let cfg = Config {
        budget: 16,
        ..Config::default()
    };
    crash_check_both(&format!("PBTreeMap {name}"), cfg, seeded, op, observe);
}

#[test]
fn crash_insert_splitting_to_the_root() {
    crash("insert splitting up to the root", |r| {
        let h = r.m.height();
        let n = r.m.len() as u64;
        r.m.insert(n, n);
        assert_eq!(
            r.m.height(),
            h + 1,
            "the seed makes this insert split the root"
        );
    });
}

#[test]
fn crash_insert_and_replace() {
    crash("insert into a leaf, replace a value", |r| {
        r.b.insert(7, 7);
        r.b.insert(8, 80);
        r.s.insert("key05", 500);
    });
}

#[test]
fn crash_remove_with_merges_and_root_collapse() {
    crash("remove down to a collapsing root", |r| {
        let h = r.b.height();
        for k in (0..120u64).step_by(2).take(50) {
            r.b.remove(&k);
        }
        assert!(r.b.height() < h || h == 0);
        r.s.remove("key03");
    });
}

/// A ranked tree two levels above its leaves: removals that rotate and merge at every level
/// move children with their counts between siblings.
#[test]
fn crash_ranked_rotations_and_merges_above_height_1() {
    crash("ranked: rotations and merges at height 2", |r| {
        let n = r.m.len() as u64;
        r.m.extend((n..200).map(|k| (k, k)));
        assert!(r.m.height() >= 2);
        for k in (0..200).step_by(3).chain((1..100).step_by(3)) {
            r.m.remove(&k);
        }
        // The counts are right after the edits (the images check atomicity only).
        r.m.verify_tree().unwrap();
    });
}

/// An unranked tree's splits up to the root and merges down to a collapsing root (its edges'
/// counts are neither kept nor logged).
#[test]
fn crash_unranked_split_and_collapse() {
    crash("unranked: split to the root, then merges", |r| {
        let h = r.u.height();
        let n = r.u.len() as u64;
        r.u.insert(n, n);
        assert_eq!(r.u.height(), h + 1);
        for k in 0..n {
            r.u.remove(&k);
        }
        assert_eq!(r.u.height(), 0);
    });
}

/// `set_ranked` both ways (each tree rebuilt in the other layout), and `append` of a ranked
/// tree into an empty ordinary map (rebuilt to the receiver's kind).
#[test]
fn crash_set_ranked_and_append_across_kinds() {
    crash("set_ranked both ways, append across kinds", |r| {
        assert!(r.m.height() >= 1 && r.u.height() >= 1);
        r.m.set_ranked(false);
        r.u.set_ranked(true);
        let mut moved = std::mem::take(&mut r.b);
        r.b.append(&mut moved);
        assert!(!r.b.is_ranked() && moved.is_ranked());
        r.b.insert(1000, 1);
        r.u.insert(1000, 1);
    });
}

#[test]
fn crash_remove_internal_and_pop() {
    crash("remove from internal nodes, pop first and last", |r| {
        let root_key = *r.b.iter().nth(r.b.len() / 2).unwrap().0;
        r.b.remove(&root_key);
        r.b.pop_first();
        r.b.pop_last();
        r.m.pop_first();
    });
}

#[test]
fn crash_append_and_split_off() {
    crash("split_off and append", |r| {
        let mut tail = r.b.split_off(&60);
        std::mem::swap(&mut tail, &mut r.b); // r.b = the tail (in pool memory), tail = head
        let mut head = tail;
        r.m.append(&mut r.b);
        drop(std::mem::replace(&mut r.b, PBTreeMap::new()));
        r.b.append(&mut head); // `head` lives outside pool memory; append reads only it
    });
}

#[test]
fn crash_retain_and_entry() {
    crash("retain and entry", |r| {
        r.b.retain(|k, v| {
            *v += 1;
            k % 3 != 0
        });
        *r.s.entry("key01").or_insert(0) += 10;
        *r.s.entry("new").or_insert(0) += 10;
        *r.s.entry("newer").insert_entry(5).get_mut() += 1;
        r.m.values_mut().take(3).for_each(|v| *v += 1);
    });
}

// ---- random transactions against std ----

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u64),
    Remove(u16),
    Entry(u16),
    PopFirst,
    PopLast,
    Retain(u16),
    Range(u8, u16, u8, u16),
    SplitAppend(u16),
    Clear,
    Bump(u16, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u16..400, any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        5 => (0u16..400).prop_map(Op::Remove),
        2 => (0u16..400).prop_map(Op::Entry),
        1 => Just(Op::PopFirst),
        1 => Just(Op::PopLast),
        1 => (2u16..9).prop_map(Op::Retain),
        2 => (any::<u8>(), 0u16..400, any::<u8>(), 0u16..400).prop_map(|(a, b, c, d)| Op::Range(a, b, c, d)),
        1 => (0u16..400).prop_map(Op::SplitAppend),
        1 => Just(Op::Clear),
        1 => (0u16..400, 0u16..400).prop_map(|(a, b)| Op::Bump(a, b)),
    ]
}

fn name(k: u16) -> String {
    format!("k{k:03}-{}", "y".repeat(usize::from(k % 20)))
}

type Models = (BTreeMap<u64, u64>, BTreeMap<String, String>, BTreeSet<u64>);

fn run(w: &mut Root, m: &mut Models, op: &Op) {
    match *op {
        Op::Insert(k, v) => {
            assert_eq!(w.nums.insert(u64::from(k), v), m.0.insert(u64::from(k), v));
            let had = w.names.insert(name(k), v.to_string()).is_some();
            assert_eq!(had, m.1.insert(name(k), v.to_string()).is_some());
            assert_eq!(w.set.insert(u64::from(k)), m.2.insert(u64::from(k)));
        }
        Op::Remove(k) => {
            assert_eq!(w.nums.remove(&u64::from(k)), m.0.remove(&u64::from(k)));
            assert_eq!(
                w.names.remove(name(k).as_str()).is_some(),
                m.1.remove(&name(k)).is_some()
            );
            assert_eq!(w.set.remove(&u64::from(k)), m.2.remove(&u64::from(k)));
        }
        Op::Entry(k) => {
            *w.nums.entry(u64::from(k)).or_insert(0) += 1;
            *m.0.entry(u64::from(k)).or_insert(0) += 1;
            w.names.entry(name(k).as_str()).or_default().push('+');
            m.1.entry(name(k)).or_default().push('+');
        }
        Op::PopFirst => {
            assert_eq!(w.nums.pop_first(), m.0.pop_first());
            assert_eq!(w.set.pop_first(), m.2.pop_first());
            assert_eq!(w.names.pop_first().is_some(), m.1.pop_first().is_some());
        }
        Op::PopLast => {
            assert_eq!(w.nums.pop_last(), m.0.pop_last());
            assert_eq!(w.set.pop_last(), m.2.pop_last());
        }
        Op::Retain(d) => {
            let d = u64::from(d);
            w.nums.retain(|k, v| {
                *v = v.wrapping_add(1);
                k % d != 0
            });
            m.0.retain(|k, v| {
                *v = v.wrapping_add(1);
                k % d != 0
            });
            w.names.retain(|k, _| !(k.len() as u64).is_multiple_of(d));
            m.1.retain(|k, _| !(k.len() as u64).is_multiple_of(d));
            w.set.retain(|k| k % d != 1);
            m.2.retain(|k| k % d != 1);
        }
        Op::Range(a, x, b, y) => {
            let (lo, hi) = (bound(a, u64::from(x)), bound(b, u64::from(y)));
            if valid(lo, hi) {
                assert!(w.nums.range((lo, hi)).eq(m.0.range((lo, hi))));
                assert!(w.nums.range((lo, hi)).rev().eq(m.0.range((lo, hi)).rev()));
                assert!(w.set.range((lo, hi)).eq(m.2.range((lo, hi))));
            }
        }
        Op::SplitAppend(k) => {
            let k = u64::from(k);
            w.other = w.nums.split_off(&k);
            let mut tail = m.0.split_off(&k);
            assert!(w.nums == m.0 && w.other == tail);
            let root: &mut Root = w;
            root.nums.append(&mut root.other);
            m.0.append(&mut tail);
        }
        Op::Clear => {
            w.names.clear();
            m.1.clear();
        }
        Op::Bump(a, b) => {
            let (lo, hi) = (u64::from(a.min(b)), u64::from(a.max(b)));
            w.nums
                .range_mut(lo..hi)
                .for_each(|(_, v)| *v = v.wrapping_mul(3));
            m.0.range_mut(lo..hi)
                .for_each(|(_, v)| *v = v.wrapping_mul(3));
        }
    }
}

fn same(w: &Root, m: &Models) -> bool {
    w.nums == m.0
        && w.names == m.1
        && w.set == m.2
        && w.nums.verify_tree().is_ok()
        && w.names.verify_tree().is_ok()
        && w.other.is_empty()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn random_transactions_match_std(
        txns in prop::collection::vec((prop::collection::vec(op(), 1..60), 0u8..10), 1..12)
    ) {
        let dir = common::TempDir::new("pbtree-prop");
        let path = dir.file("t.pool");
        let open = || Pool::<Root>::options().durability(Durability::Process).open(&path).unwrap();
        let mut p = open();
        let mut model: Models = Default::default();
        for (ops, fate) in &txns {
            let mut scratch = model.clone();
            let mut w = p.write();
            for op in ops {
                run(&mut w, &mut scratch, op);
            }
            prop_assert!(same(&w, &scratch));
            if *fate < 2 {
                w.abort();
            } else {
                drop(w);
                model = scratch;
            }
            if *fate == 9 {
                drop(p);
                p = open();
            }
            prop_assert!(same(&p.read(), &model));
            p.check().unwrap();
        }
    }
}

/// Issue 14's compositions: `extract_if` over a range (partly consumed, string keys
/// included), `first_entry`/`last_entry` changes and removal.
#[test]
fn crash_extract_if_and_end_entries() {
    crash("extract_if, first_entry, last_entry", |r| {
        let n =
            r.b.extract_if(10..80, |k, v| {
                *v += 1;
                k % 4 == 0
            })
            .take(6)
            .count();
        assert_eq!(n, 6);
        let _ = r.s.extract_if(.., |k, _| k.as_str() < "key03").count();
        if let Some(mut e) = r.m.first_entry() {
            *e.get_mut() += 100;
        }
        r.m.last_entry().map(|e| e.remove());
    });
}

/// `retain`, `split_off` and `Clone` build their trees in key order, which fills every node
/// but those on the right edge (then topped up to the minimum): about `len / 11` nodes, where
/// inserting in order one by one leaves nodes half full (`len / 6`).
#[test]
fn bulk_builds_fill_their_nodes() {
    let p = pool();
    let blocks = |p: &Pool<Root>| p.check().unwrap().blocks;
    let empty = blocks(&p);
    let n = 60_000u64;
    p.write().nums.extend((0..n).map(|k| (k, k)));
    let inserted = blocks(&p) - empty;
    p.write().nums.retain(|k, _| k % 2 == 0);
    let retained = blocks(&p) - empty;
    assert_eq!(p.read().nums.len() as u64, n / 2);
    assert!(
        (retained as u64) < n / 2 / 10 + 2,
        "{retained} nodes for {} pairs",
        n / 2
    );
    let tail = p.write().nums.split_off(&(n / 2));
    let copy = tail.clone();
    drop(tail);
    assert_eq!(copy.len() as u64, n / 4);
    assert!(copy.iter().map(|(k, _)| *k).eq((n / 2..n).step_by(2)));
    p.write().other = copy;
    let after = blocks(&p) - empty;
    assert!(
        (after as u64) < n / 2 / 10 + 4,
        "{after} nodes for {} pairs",
        n / 2
    );
    println!(
        "bulk builds: {inserted} nodes after {n} ordered inserts, {retained} after retain of half, {after} after split_off + clone"
    );
}
