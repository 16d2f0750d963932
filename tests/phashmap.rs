//! PHashMap and PHashSet: the std API against `HashMap`/`HashSet`, borrowed lookups, rollback
//! subtleties, panic safety of user `Hash`/`Eq`, a full pool, crash images of every mutating
//! method, and proptests of random transactions (some aborted, some across a reopen) with
//! the table invariants checked after each step.

mod common;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};

use pcoll::testing::{Config, crash_check_both};
use pcoll::{Durability, Error, PHashMap, PHashSet, PRandomState, PString, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
struct Root {
    nums: PHashMap<u64, u64>,
    names: PHashMap<PString, PString>,
    lists: PHashMap<(u32, u64), PVec<u64>>,
    bytes: PHashMap<PVec<u8>, u64>,
    set: PHashSet<u64>,
    tags: PHashSet<PString>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap()
}

fn sorted<K: Ord + Clone, V: Clone>(it: impl Iterator<Item = (K, V)>) -> BTreeMap<K, V> {
    it.collect()
}

#[test]
fn std_api_matches_hashmap() {
    let p = pool();
    let mut model = HashMap::new();
    {
        let mut w = p.write();
        for i in 0..1000u64 {
            assert_eq!(w.nums.insert(i * 7, i), model.insert(i * 7, i));
        }
        assert_eq!(w.nums.insert(14, 99), model.insert(14, 99));
        for i in (0..1000u64).step_by(3) {
            assert_eq!(w.nums.remove(&(i * 7)), model.remove(&(i * 7)));
        }
        assert_eq!(w.nums.remove(&5), None);
        assert_eq!(w.nums.remove_entry(&7), model.remove_entry(&7));
        *w.nums.get_mut(&28).unwrap() += 1;
        *model.get_mut(&28).unwrap() += 1;
        *w.nums.entry(1).or_insert(5) += 1;
        *model.entry(1).or_insert(5) += 1;
        *w.nums.entry(1).or_insert(5) += 1;
        *model.entry(1).or_insert(5) += 1;
        w.nums.entry(2).and_modify(|v| *v = 0).or_default();
        model.entry(2).and_modify(|v| *v = 0).or_default();
        w.nums.entry(2).and_modify(|v| *v = 9).or_insert_with(|| 3);
        model.entry(2).and_modify(|v| *v = 9).or_insert_with(|| 3);
        w.nums.retain(|k, v| {
            *v += 1;
            k % 2 == 0
        });
        model.retain(|k, v| {
            *v += 1;
            k % 2 == 0
        });
        w.nums.values_mut().for_each(|v| *v *= 2);
        model.values_mut().for_each(|v| *v *= 2);
        for (k, v) in w.nums.iter_mut() {
            *v += *k;
        }
        for (k, v) in model.iter_mut() {
            *v += *k;
        }
        w.nums.extend([(3, 3), (4, 4)]);
        model.extend([(3, 3), (4, 4)]);
        assert!(w.nums == model);
    }
    let r = p.read();
    assert!(r.nums == model);
    assert_eq!(r.nums.len(), model.len());
    assert_eq!(r.nums.get(&28), model.get(&28));
    assert_eq!(r.nums[&2], model[&2]);
    assert_eq!(r.nums.get_key_value(&4), Some((&4, &4)));
    assert!(r.nums.contains_key(&3) && !r.nums.contains_key(&5));
    assert_eq!(
        sorted(r.nums.iter().map(|(k, v)| (*k, *v))),
        sorted(model.iter().map(|(k, v)| (*k, *v)))
    );
    assert_eq!(r.nums.keys().count(), model.len());
    assert_eq!(r.nums.values().sum::<u64>(), model.values().sum::<u64>());
    assert!(r.nums.capacity() >= r.nums.len());
    assert!(format!("{:?}", r.nums).starts_with('{'));
    r.nums.verify_probing().unwrap();
    drop(r);
    p.check().unwrap();
}

#[test]
fn strings_and_slices_are_looked_up_by_borrowed_forms() {
    let p = pool();
    {
        let mut w = p.write();
        w.names.insert("alice", "engineer");
        w.names.insert(String::from("bob"), "pilot");
        // The old value comes back as a handle outside pool memory: it can be dropped or
        // stored again, not read.
        assert!(w.names.insert("alice", "manager").is_some());
        w.bytes.insert(&b"key"[..], 1);
        w.bytes.insert(vec![1u8, 2, 3], 2);
        w.lists.insert((1, 2), vec![1, 2, 3]);
        w.lists.entry((1, 2)).or_default().push(4);
        w.lists.entry((5, 6)).or_default().push(7);
        w.tags.insert("x");
        w.tags.insert("y");
    }
    let r = p.read();
    assert_eq!(r.names.get("alice").map(|s| s.as_str()), Some("manager"));
    assert_eq!(r.names["bob"], "pilot");
    assert!(r.names.get("carol").is_none());
    assert_eq!(r.bytes.get(&b"key"[..]), Some(&1));
    assert_eq!(r.bytes.get(&[1u8, 2, 3][..]), Some(&2));
    assert_eq!(r.lists[&(1, 2)], [1, 2, 3, 4]);
    assert_eq!(r.lists[&(5, 6)], [7]);
    assert!(r.tags.contains("x") && !r.tags.contains("z"));
    let std_names: HashMap<String, String> = [("alice", "manager"), ("bob", "pilot")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert!(r.names == std_names);
    drop(r);
    p.check().unwrap();
    // Nested handles are freed with their entries.
    let before = p.check().unwrap().blocks;
    {
        let mut w = p.write();
        w.names.remove("alice");
        w.lists.clear();
    }
    let after = p.check().unwrap().blocks;
    assert!(after < before, "{after} < {before}");
}

#[test]
fn sets_match_hashset() {
    let p = pool();
    {
        let mut w = p.write();
        w.set.extend(0..100u64);
        assert!(!w.set.insert(5));
        assert!(w.set.remove(&5));
        assert_eq!(w.set.take(&6), Some(6));
        w.set.retain(|x| x % 10 != 0);
        let other: PHashSet<u64> = (50..150).collect();
        w.tags.insert("keep");
        // A set built outside the root must be stored before it is read.
        let mut root_other = std::mem::replace(&mut w.set, other);
        std::mem::swap(&mut root_other, &mut w.set);
        drop(root_other);
    }
    let model: HashSet<u64> = (0..100)
        .filter(|x| x % 10 != 0 && *x != 5 && *x != 6)
        .collect();
    let r = p.read();
    assert!(r.set == model);
    assert_eq!(r.set.len(), model.len());
    assert!(r.set.is_subset(&r.set) && r.set.is_superset(&r.set));
    assert_eq!(r.set.union(&r.set).count(), r.set.len());
    assert_eq!(r.set.intersection(&r.set).count(), r.set.len());
    assert_eq!(r.set.difference(&r.set).count(), 0);
    assert_eq!(r.set.symmetric_difference(&r.set).count(), 0);
    assert!(!r.set.is_disjoint(&r.set));
    drop(r);
    p.check().unwrap();
}

#[test]
fn set_algebra() {
    #[derive(Persistent, Default)]
    struct Two {
        a: PHashSet<u64>,
        b: PHashSet<u64>,
    }
    let p = Pool::<Two>::options().in_memory().unwrap();
    {
        let mut w = p.write();
        w.a.extend(0..10u64);
        w.b.extend(5..15u64);
    }
    let r = p.read();
    let mut u: Vec<u64> = r.a.union(&r.b).copied().collect();
    u.sort();
    assert_eq!(u, (0..15).collect::<Vec<_>>());
    let mut i: Vec<u64> = r.a.intersection(&r.b).copied().collect();
    i.sort();
    assert_eq!(i, (5..10).collect::<Vec<_>>());
    let mut d: Vec<u64> = r.a.difference(&r.b).copied().collect();
    d.sort();
    assert_eq!(d, (0..5).collect::<Vec<_>>());
    assert_eq!(r.a.symmetric_difference(&r.b).count(), 10);
    assert!(!r.a.is_subset(&r.b) && !r.a.is_disjoint(&r.b));
}

/// A remove and an insert landing in the same bucket in one transaction: the rollback must
/// bring back the removed entry's bytes (vacating operations log the slot).
#[test]
fn remove_then_insert_rolls_back() {
    let p = pool();
    {
        let mut w = p.write();
        w.nums.extend((0..5u64).map(|i| (i, i * 10)));
        w.names.insert("a", "1");
    }
    {
        let mut w = p.write();
        for i in 0..5u64 {
            w.nums.remove(&i);
        }
        for i in 100..105u64 {
            w.nums.insert(i, 0);
        }
        w.names.remove("a");
        w.names.insert("b", "2");
        w.abort();
    }
    let r = p.read();
    assert_eq!(
        sorted(r.nums.iter().map(|(k, v)| (*k, *v))),
        (0..5u64).map(|i| (i, i * 10)).collect()
    );
    assert_eq!(r.names["a"], "1");
    assert!(r.names.get("b").is_none());
    r.nums.verify_probing().unwrap();
    drop(r);
    p.check().unwrap();
}

#[test]
fn growth_rollback_keeps_the_old_table() {
    let p = pool();
    {
        let mut w = p.write();
        w.nums.extend((0..7u64).map(|i| (i, i)));
    }
    let cap = p.read().nums.capacity();
    {
        let mut w = p.write();
        w.nums.extend((7..5000u64).map(|i| (i, i)));
        assert!(w.nums.capacity() >= 5000);
        w.abort();
    }
    assert_eq!(p.read().nums.len(), 7);
    assert_eq!(p.read().nums.capacity(), cap);
    p.check().unwrap();
    {
        let mut w = p.write();
        w.nums.extend((7..5000u64).map(|i| (i, i)));
        for i in 0..4990u64 {
            w.nums.remove(&i);
        }
        w.nums.shrink_to_fit();
        assert!(w.nums.capacity() < 64);
    }
    assert_eq!(p.read().nums.len(), 10);
    p.read().nums.verify_probing().unwrap();
    p.check().unwrap();
}

/// Churn with tombstones: many inserts and removes at a steady size must not grow the table
/// forever (tombstones are cleared by rebuilding at the same size).
#[test]
fn tombstones_do_not_grow_the_table() {
    let p = pool();
    let mut w = p.write();
    for i in 0..100u64 {
        w.nums.insert(i, i);
    }
    let cap = w.nums.capacity();
    for i in 100..20_000u64 {
        w.nums.remove(&(i - 100));
        w.nums.insert(i, i);
    }
    assert_eq!(w.nums.len(), 100);
    assert!(
        w.nums.capacity() <= cap * 2,
        "{} vs {cap}",
        w.nums.capacity()
    );
    w.nums.verify_probing().unwrap();
}

#[test]
fn drain_and_clear_release_the_table() {
    let p = pool();
    let base = p.check().unwrap().blocks;
    {
        let mut w = p.write();
        w.nums.extend((0..100u64).map(|i| (i, i)));
        w.names.insert("x", "y");
    }
    {
        let mut w = p.write();
        let mut d: Vec<(u64, u64)> = w.nums.drain().collect();
        d.sort();
        assert_eq!(d, (0..100u64).map(|i| (i, i)).collect::<Vec<_>>());
        w.names.clear();
        assert!(w.nums.is_empty() && w.names.is_empty());
    }
    assert_eq!(p.check().unwrap().blocks, base);
}

// ---- panic safety ----

thread_local! {
    static HASH_BUDGET: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// A key whose `Hash` panics once the thread's budget runs out.
#[derive(Persistent, Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Touchy(u64);

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let left = HASH_BUDGET.with(|b| b.get());
        assert!(left > 0, "Touchy::hash: budget exhausted");
        HASH_BUDGET.with(|b| b.set(left - 1));
        self.0.hash(h)
    }
}

#[derive(Persistent, Default)]
struct TRoot {
    m: PHashMap<Touchy, u64>,
}

#[test]
fn panicking_hash_leaves_the_map_consistent() {
    let p = Pool::<TRoot>::options().in_memory().unwrap();
    {
        let mut w = p.write();
        for i in 0..7 {
            w.m.insert(Touchy(i), i);
        }
    }
    let base = p.check().unwrap().blocks;
    {
        let mut w = p.write();
        // The 8th insert grows the table; the panic strikes in the middle of the rehash.
        HASH_BUDGET.with(|b| b.set(4));
        let r = catch_unwind(AssertUnwindSafe(|| w.m.insert(Touchy(100), 1)));
        HASH_BUDGET.with(|b| b.set(u64::MAX));
        assert!(r.is_err());
        assert_eq!(w.m.len(), 7);
        w.m.verify_probing().unwrap();
        w.m.insert(Touchy(8), 8); // the map keeps working in the same transaction
    }
    assert_eq!(p.read().m.len(), 8);
    let report = p.check().unwrap();
    assert!(report.blocks >= base);
    // A panic that unwinds out of the guard rolls everything back.
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut w = p.write();
        w.m.remove(&Touchy(0));
        HASH_BUDGET.with(|b| b.set(0));
        w.m.insert(Touchy(200), 2);
    }));
    HASH_BUDGET.with(|b| b.set(u64::MAX));
    assert!(r.is_err());
    assert_eq!(p.read().m.len(), 8);
    assert_eq!(p.read().m.get(&Touchy(0)), Some(&0));
    p.check().unwrap();
}

#[test]
fn try_insert_reports_a_full_pool() {
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
    w.nums.verify_probing().unwrap();
    assert!(
        w.nums.try_insert(0, 7).is_ok(),
        "an existing key needs no room"
    );
    drop(w);
    assert_eq!(p.read().nums.len() as u64, n);
    p.check().unwrap();
}

// ---- crash images of every mutating method ----

#[derive(Persistent, Default)]
struct CRoot {
    m: PHashMap<u64, u64>,
    s: PHashMap<PString, PVec<u64>>,
    set: PHashSet<u64>,
}

type Model = (
    BTreeMap<u64, u64>,
    BTreeMap<String, Vec<u64>>,
    Vec<u64>,
    bool,
);

fn observe(r: &CRoot) -> Model {
    let mut set: Vec<u64> = r.set.iter().copied().collect();
    set.sort();
    let probing = r.m.verify_probing().is_ok()
        && r.s.verify_probing().is_ok()
        && r.set.iter().all(|x| r.set.contains(x));
    (
        sorted(r.m.iter().map(|(k, v)| (*k, *v))),
        sorted(r.s.iter().map(|(k, v)| (k.to_string(), v.to_vec()))),
        set,
        probing,
    )
}

fn seeded(p: &Pool<CRoot>) {
    let mut w = p.write();
    // A fixed seed, so every run puts the entries in the same buckets.
    w.m = PHashMap::with_hasher(PRandomState::with_seeds(1, 2, 3, 4));
    w.m.extend((0..10u64).map(|i| (i, i)));
    for i in 0..4u64 {
        w.s.insert(format!("key{i}"), vec![i; 3]);
    }
    w.set.extend([1, 2, 3]);
}

fn crash(name: &str, op: impl Fn(&mut CRoot) + Copy) {
    let cfg = Config {
        budget: 24,
        ..Config::default()
    };
    crash_check_both(&format!("PHashMap {name}"), cfg, seeded, op, observe);
}

#[test]
fn crash_insert() {
    crash("insert", |r| {
        r.m.insert(100, 1);
        r.m.insert(3, 33);
    });
}

#[test]
fn crash_insert_with_growth() {
    crash("insert with growth", |r| {
        r.m.extend((10..40u64).map(|i| (i, i)))
    });
}

#[test]
fn crash_remove_and_reinsert() {
    crash("removes, then inserts into the vacated buckets", |r| {
        for k in 1..6 {
            r.m.remove(&k);
        }
        for k in 40..45 {
            r.m.insert(k, k);
        }
    });
}

#[test]
fn crash_entry() {
    crash("entry", |r| {
        *r.m.entry(5).or_insert(0) += 10;
        *r.m.entry(50).or_insert(0) += 10;
        r.s.entry("key1").or_default().push(9);
        r.s.entry("new").or_default().push(1);
    });
}

#[test]
fn crash_retain_and_iter_mut() {
    crash("retain and iter_mut", |r| {
        r.m.retain(|k, v| {
            *v += 100;
            k % 3 != 0
        });
        r.m.values_mut().for_each(|v| *v += 1);
        r.s.retain(|k, _| k.as_str() != "key2");
    });
}

#[test]
fn crash_clear_and_drain() {
    crash("clear and drain", |r| {
        r.s.clear();
        let _ = r.m.drain();
    });
}

#[test]
fn crash_strings_and_sets() {
    crash("string keys and sets", |r| {
        r.s.insert("key0", vec![7]);
        r.s.remove("key3");
        r.s.insert("zz", vec![]);
        r.set.insert(9);
        r.set.remove(&1);
        r.set.shrink_to_fit();
        r.m.shrink_to_fit();
    });
}

// ---- random operations against std ----

#[derive(Debug, Clone)]
enum MOp {
    Insert(u16, u64),
    Remove(u16),
    Entry(u16),
    Retain(u16),
    Bump(u16),
    Clear,
    Drain,
    Shrink,
    Reserve(u8),
}

fn mop() -> impl Strategy<Value = MOp> {
    prop_oneof![
        6 => (0u16..300, any::<u64>()).prop_map(|(k, v)| MOp::Insert(k, v)),
        4 => (0u16..300).prop_map(MOp::Remove),
        2 => (0u16..300).prop_map(MOp::Entry),
        1 => (1u16..8).prop_map(MOp::Retain),
        1 => (0u16..300).prop_map(MOp::Bump),
        1 => Just(MOp::Clear),
        1 => Just(MOp::Drain),
        1 => Just(MOp::Shrink),
        1 => any::<u8>().prop_map(MOp::Reserve),
    ]
}

fn key_str(k: u16) -> String {
    format!("k{k}-{}", "x".repeat(usize::from(k % 24)))
}

/// Applies `op` to the three pool maps and their std models.
fn run(w: &mut Root, m: &mut Models, op: &MOp) {
    match *op {
        MOp::Insert(k, v) => {
            let s = key_str(k);
            assert_eq!(w.nums.insert(u64::from(k), v), m.0.insert(u64::from(k), v));
            let old = w.names.insert(s.as_str(), v.to_string());
            assert_eq!(old.is_some(), m.1.insert(s, v.to_string()).is_some());
            let t = (u32::from(k), v % 3);
            w.lists.insert(t, vec![v; usize::from(k % 4)]);
            m.2.insert(t, vec![v; usize::from(k % 4)]);
        }
        MOp::Remove(k) => {
            assert_eq!(w.nums.remove(&u64::from(k)), m.0.remove(&u64::from(k)));
            assert_eq!(
                w.names.remove(key_str(k).as_str()).is_some(),
                m.1.remove(&key_str(k)).is_some()
            );
            let t = (u32::from(k), 0);
            assert_eq!(w.lists.remove(&t).is_some(), m.2.remove(&t).is_some());
        }
        MOp::Entry(k) => {
            *w.nums.entry(u64::from(k)).or_insert(0) += 1;
            *m.0.entry(u64::from(k)).or_insert(0) += 1;
            w.names.entry(key_str(k).as_str()).or_default().push('!');
            m.1.entry(key_str(k)).or_default().push('!');
            w.lists.entry((u32::from(k), 1)).or_default().push(7);
            m.2.entry((u32::from(k), 1)).or_default().push(7);
        }
        MOp::Retain(d) => {
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
            w.lists.retain(|k, _| u64::from(k.0) % d != 0);
            m.2.retain(|k, _| u64::from(k.0) % d != 0);
        }
        MOp::Bump(k) => {
            if let Some(v) = w.nums.get_mut(&u64::from(k)) {
                *v = v.wrapping_mul(3);
            }
            if let Some(v) = m.0.get_mut(&u64::from(k)) {
                *v = v.wrapping_mul(3);
            }
            if let Some(l) = w.lists.get_mut(&(u32::from(k), 1)) {
                l.push(1);
            }
            if let Some(l) = m.2.get_mut(&(u32::from(k), 1)) {
                l.push(1);
            }
        }
        MOp::Clear => {
            w.nums.clear();
            m.0.clear();
            w.names.clear();
            m.1.clear();
        }
        MOp::Drain => {
            let mut a: Vec<(u32, u64)> = w.lists.drain().map(|(k, _)| k).collect();
            let mut b: Vec<(u32, u64)> = m.2.drain().map(|(k, _)| k).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b);
        }
        MOp::Shrink => {
            w.nums.shrink_to_fit();
            w.names.shrink_to_fit();
            w.lists.shrink_to_fit();
        }
        MOp::Reserve(n) => {
            w.nums.reserve(usize::from(n));
            w.names.reserve(usize::from(n) / 4);
        }
    }
}

type Models = (
    HashMap<u64, u64>,
    HashMap<String, String>,
    HashMap<(u32, u64), Vec<u64>>,
);

fn same(w: &Root, m: &Models) -> bool {
    let lists = w.lists.len() == m.2.len()
        && m.2
            .iter()
            .all(|(k, v)| w.lists.get(k).is_some_and(|l| l == v));
    w.nums == m.0
        && w.names == m.1
        && lists
        && w.nums.verify_probing().is_ok()
        && w.names.verify_probing().is_ok()
        && w.lists.verify_probing().is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn random_transactions_match_std(
        txns in prop::collection::vec((prop::collection::vec(mop(), 1..40), 0u8..10), 1..16)
    ) {
        let dir = common::TempDir::new("phashmap-prop");
        let path = dir.file("m.pool");
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

    #[test]
    fn sets_match_std(ops in prop::collection::vec((0u8..4, 0u16..200), 1..300)) {
        let p = pool();
        let mut w = p.write();
        let mut m: HashSet<u64> = HashSet::new();
        let mut t: HashSet<String> = HashSet::new();
        for (op, x) in ops {
            let s = key_str(x);
            match op {
                0 | 1 => {
                    prop_assert_eq!(w.set.insert(u64::from(x)), m.insert(u64::from(x)));
                    prop_assert_eq!(w.tags.insert(s.as_str()), t.insert(s));
                }
                2 => {
                    prop_assert_eq!(w.set.remove(&u64::from(x)), m.remove(&u64::from(x)));
                    prop_assert_eq!(w.tags.remove(s.as_str()), t.remove(&s));
                }
                _ => {
                    w.set.retain(|v| v % 5 != u64::from(x % 5));
                    m.retain(|v| v % 5 != u64::from(x % 5));
                }
            }
        }
        prop_assert!(w.set == m);
        prop_assert!(w.tags == t);
        drop(w);
        p.check().unwrap();
    }
}

/// Issue 14's compositions: `extract_if` (partly consumed), `insert_entry`, a set's
/// `extract_if` and `replace`, `get_disjoint_mut`.
#[test]
fn crash_extract_if_and_entries() {
    crash("extract_if, insert_entry, replace, get_disjoint_mut", |r| {
        let taken: Vec<(u64, u64)> =
            r.m.extract_if(|k, v| {
                *v += 1;
                k % 2 == 0
            })
            .take(3)
            .collect();
        assert_eq!(taken.len(), 3);
        let mut e = r.m.entry(77).insert_entry(7);
        *e.get_mut() += 1;
        let _ = r.set.extract_if(|x| *x == 2).count();
        r.set.replace(3);
        if let [Some(a), Some(b)] = r.m.get_disjoint_mut([&1, &77]) {
            std::mem::swap(a, b);
        }
    });
}

/// `prefetch` and `prefetch_entry` are hints: on empty maps, maps in process memory and maps
/// in a pool, for present and absent keys, lookups give the same answers after them, and a
/// batch looked up after prefetching finds every key.
#[test]
fn prefetch_changes_no_answer() {
    #[derive(Persistent, Default)]
    struct R {
        m: PHashMap<PString, PVec<u8>>,
    }
    let empty: PHashMap<PString, PVec<u8>> = PHashMap::new();
    empty.prefetch("a");
    empty.prefetch_entry("a");
    assert!(empty.get("a").is_none());
    let outside: PHashMap<u64, PString> = (0..100).map(|i| (i, i.to_string())).collect();
    for k in 0..200u64 {
        outside.prefetch(&k);
        outside.prefetch_entry(&k);
    }
    assert_eq!(outside.get(&7).map(|s| s.as_str()), Some("7"));
    assert!(outside.get(&150).is_none());
    let pool = Pool::<R>::options().in_memory().unwrap();
    {
        let mut w = pool.write();
        for i in 0..5000u32 {
            w.m.insert(format!("key{i}").as_str(), &i.to_le_bytes()[..]);
        }
    }
    let r = pool.read();
    let batch: Vec<String> = (0..10_000u32)
        .map(|i| format!("key{}", i * 7 % 10_000))
        .collect();
    for k in &batch {
        r.m.prefetch(k.as_str());
    }
    for k in &batch {
        r.m.prefetch_entry(k.as_str());
    }
    for (j, k) in batch.iter().enumerate() {
        let i = (j as u32) * 7 % 10_000;
        let want = (i < 5000).then(|| i.to_le_bytes().to_vec());
        assert_eq!(r.m.get(k.as_str()).map(|v| v.to_vec()), want, "{k}");
    }
}

/// `pick` (Redis's `SPOP`): every entry is reached by some seed, each pick is an entry of
/// the map, the picks of random seeds spread over the entries, and an emptied map picks
/// nothing.
#[test]
fn pick_reaches_every_entry() {
    let p = pool();
    let mut w = p.write();
    for i in 0..1000u64 {
        w.nums.insert(i, i * 3);
        w.tags.insert(format!("t{i}").as_str());
    }
    let mut seen = HashSet::new();
    for seed in 0..30_000u64 {
        let (k, v) = w.nums.pick(seed).unwrap();
        assert_eq!(*v, k * 3);
        seen.insert(*k);
    }
    assert_eq!(seen.len(), 1000, "30,000 seeds reach every entry");
    // Random seeds: no entry is picked far more often than the others.
    let mut counts = HashMap::<String, u32>::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *counts
            .entry(w.tags.pick(x).unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(counts.len(), 1000);
    // Uniform: 100 expected each; 200 is over 10 standard deviations away.
    assert!(
        counts.values().all(|&c| c < 200),
        "{:?}",
        counts.values().max()
    );
    for i in 0..990u64 {
        w.nums.remove(&i);
    }
    for seed in 0..100 {
        assert!(w.nums.pick(seed * 7919).unwrap().0 >= &990);
    }
    w.nums.clear();
    assert!(w.nums.pick(3).is_none());
}
