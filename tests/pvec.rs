//! PVec: the std API against `Vec`, nested containers, rollback subtleties, crash images of
//! every mutating method, and a proptest of random operations (some transactions aborted,
//! some across a reopen).

mod common;

use pcoll::testing::{Config, crash_check_both};
use pcoll::{Durability, Error, PBox, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    boxes: PVec<PBox<u64>>,
    nested: PVec<PVec<u32>>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap()
}

#[test]
fn std_api_matches_vec() {
    let p = pool();
    let mut model = Vec::new();
    {
        let mut w = p.write();
        for i in 0..100u64 {
            w.v.push(i);
            model.push(i);
        }
        w.v.insert(3, 1000);
        model.insert(3, 1000);
        assert_eq!(w.v.remove(10), model.remove(10));
        assert_eq!(w.v.swap_remove(5), model.swap_remove(5));
        assert_eq!(w.v.pop(), model.pop());
        w.v.truncate(50);
        model.truncate(50);
        w.v[7] = 77;
        model[7] = 77;
        *w.v.get_mut(8).unwrap() += 1;
        model[8] += 1;
        w.v.extend([5, 6, 7]);
        model.extend([5, 6, 7]);
        w.v.extend_from_slice(&[9, 9]);
        model.extend_from_slice(&[9, 9]);
        w.v.sort_unstable(); // through DerefMut: every element logged
        model.sort_unstable();
    }
    let r = p.read();
    assert_eq!(r.v, model);
    assert_eq!(r.v.len(), model.len());
    assert_eq!(r.v.iter().sum::<u64>(), model.iter().sum::<u64>());
    assert_eq!(format!("{:?}", r.v), format!("{model:?}"));
    assert!(r.v.capacity() >= r.v.len());
    drop(r);
    p.check().unwrap();
}

#[test]
fn nested_containers_free_their_allocations() {
    let p = pool();
    {
        let mut w = p.write();
        for i in 0..20 {
            w.boxes.push(PBox::new(i));
            w.nested.push(PVec::new());
            let last = w.nested.len() - 1;
            for j in 0..i as u32 {
                w.nested[last].push(j);
            }
        }
    }
    assert_eq!(p.read().nested[7], [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(*p.read().boxes[19], 19);
    let full = p.check().unwrap().blocks;
    {
        let mut w = p.write();
        w.boxes.truncate(5);
        w.nested.remove(10);
        w.nested.clear();
    }
    let after = p.check().unwrap().blocks;
    assert!(
        after < full - 30,
        "inner allocations were freed: {full} -> {after}"
    );
}

#[test]
fn pop_then_push_in_one_transaction_rolls_back() {
    // A slot vacated by pop and refilled by push in the same transaction must come back on
    // rollback: the slot past len is logged before it is written.
    let p = pool();
    {
        let mut w = p.write();
        w.v.extend([1, 2, 3]);
    }
    let r: Result<(), Error> = p.transaction(|root| {
        root.v.pop();
        root.v.push(99);
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    assert_eq!(p.read().v, [1, 2, 3]);
}

#[test]
fn growth_moves_the_buffer_and_rollback_keeps_the_old_one() {
    let p = pool();
    {
        let mut w = p.write();
        w.v.extend(0..4);
    }
    let r: Result<(), Error> = p.transaction(|root| {
        root.v.extend(100..5000); // reallocates (moves) the buffer
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    assert_eq!(p.read().v, [0, 1, 2, 3]);
    assert_eq!(
        p.check().unwrap().blocks,
        3,
        "root, schema and the old buffer; the new one rolled back"
    );
}

#[test]
fn try_push_reports_a_full_pool() {
    #[derive(Persistent, Default)]
    struct Big {
        v: PVec<[u8; 1024]>,
    }
    let p = Pool::<Big>::options()
        .initial_size(256 << 10)
        .max_size(256 << 10)
        .in_memory()
        .unwrap();
    let mut w = p.write();
    let err = loop {
        if let Err((e, _)) = w.v.try_push([1; 1024]) {
            break e;
        }
    };
    assert!(matches!(err, Error::OutOfSpace { .. }));
    let n = w.v.len();
    drop(w);
    assert_eq!(p.read().v.len(), n, "what fitted is committed");
    p.check().unwrap();
}

/// Regression: `retain` first advanced past the element it was about to show the closure, so
/// when the closure panicked that element was neither kept nor dropped (a leak `check()`
/// reported). Now, as in std, the element being examined when the closure panics is kept.
#[test]
fn retain_and_dedup_are_panic_safe() {
    let p = pool();
    {
        let mut w = p.write();
        for i in 0..10 {
            w.boxes.push(PBox::new(i));
        }
    }
    // Caught inside the transaction: the vector stays consistent (kept + unprocessed
    // elements, each exactly once), and the transaction can still commit.
    {
        let mut w = p.write();
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.boxes.retain(|b| {
                assert!(**b != 6, "boom");
                **b % 2 == 0
            })
        }));
        assert!(res.is_err());
        let left: Vec<u64> = w.boxes.iter().map(|b| **b).collect();
        assert_eq!(left, [0, 2, 4, 6, 7, 8, 9]);
    }
    p.check().unwrap(); // every box reachable once: none dropped twice, none leaked
    // Uncaught: the transaction rolls back.
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = p.write();
        w.boxes.dedup_by(|a, _| panic!("boom {}", **a));
    }));
    assert!(res.is_err());
    assert_eq!(p.read().boxes.len(), 7);
    p.check().unwrap();
}

#[test]
fn split_off_and_append_between_fields() {
    #[derive(Persistent, Default)]
    struct Two {
        a: PVec<u64>,
        b: PVec<u64>,
    }
    let p = Pool::<Two>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap();
    {
        let mut w = p.write();
        w.a.extend(0..10);
        w.b = w.a.split_off(6);
        let collected: PVec<u64> = (100..103).collect();
        let mut collected = collected;
        w.b.append(&mut collected);
    }
    assert_eq!(p.read().a, [0, 1, 2, 3, 4, 5]);
    assert_eq!(p.read().b, [6, 7, 8, 9, 100, 101, 102]);
    p.check().unwrap();
}

// ---- crash images of every mutating method ----

#[derive(Persistent, Default)]
struct CRoot {
    v: PVec<u64>,
    b: PVec<PBox<u64>>,
}

type Model = (Vec<u64>, Vec<u64>);

fn observe(r: &CRoot) -> Model {
    (r.v.to_vec(), r.b.iter().map(|b| **b).collect())
}

fn seeded(p: &Pool<CRoot>) {
    let mut w = p.write();
    w.v.extend(0..10);
    w.v.reserve(6); // room to push without growing
    for i in 0..5 {
        w.b.push(PBox::new(i));
    }
}

fn crash(name: &str, op: impl Fn(&mut CRoot) + Copy) {
    let cfg = Config {
        budget: 24,
        ..Config::default()
    };
    crash_check_both(&format!("PVec {name}"), cfg, seeded, op, observe);
}

#[test]
fn crash_push() {
    crash("push", |r| r.v.push(100));
}

#[test]
fn crash_push_with_growth() {
    crash("push with growth", |r| r.v.extend(100..200));
}

/// Two pops then a push: a rollback that lost the vacated slot's old bytes would show as
/// `[.., 42, 9]`, neither before nor after (one pop and one push could not tell).
#[test]
fn crash_pop_and_push() {
    crash("pop, pop, push", |r| {
        r.v.pop();
        r.v.pop();
        r.v.push(42);
    });
}

#[test]
fn crash_insert_remove_swap_remove() {
    crash("insert/remove/swap_remove", |r| {
        r.v.insert(2, 7);
        r.v.remove(5);
        r.v.swap_remove(0);
    });
}

#[test]
fn crash_index_mut_and_sort() {
    crash("index_mut and sort", |r| {
        r.v[3] = 1000;
        r.v.sort_unstable_by(|a, b| b.cmp(a));
    });
}

#[test]
fn crash_truncate_and_clear_with_drops() {
    crash("truncate and clear (boxes freed)", |r| {
        r.b.truncate(2);
        r.v.clear();
    });
}

#[test]
fn crash_retain_dedup_drain() {
    crash("retain, dedup, drain", |r| {
        r.v.retain(|x| x % 3 != 0);
        r.v.dedup_by_key(|x| *x / 4);
        r.v.drain(1..2);
        r.b.retain(|b| **b != 2);
    });
}

#[test]
fn crash_resize_swap_shrink() {
    crash("resize, swap, shrink_to_fit", |r| {
        r.v.resize(12, 5);
        r.v.swap(0, 11);
        r.v.shrink_to_fit();
    });
}

#[test]
fn crash_push_boxes() {
    crash("push boxes", |r| {
        r.b.push(PBox::new(77));
        r.b.swap_remove(1);
    });
}

// ---- random operations against Vec ----

#[derive(Debug, Clone)]
enum VOp {
    Push(u64),
    Pop,
    Insert(usize, u64),
    Remove(usize),
    SwapRemove(usize),
    Truncate(usize),
    Set(usize, u64),
    Extend(u8),
    Clear,
    Retain(u64),
    Dedup(u64),
    Drain(usize, usize),
    Resize(usize, u64),
    Swap(usize, usize),
    SplitAppend(usize),
}

fn vop() -> impl Strategy<Value = VOp> {
    prop_oneof![
        4 => any::<u64>().prop_map(VOp::Push),
        1 => Just(VOp::Pop),
        1 => (any::<usize>(), any::<u64>()).prop_map(|(i, v)| VOp::Insert(i, v)),
        1 => any::<usize>().prop_map(VOp::Remove),
        1 => any::<usize>().prop_map(VOp::SwapRemove),
        1 => any::<usize>().prop_map(VOp::Truncate),
        2 => (any::<usize>(), any::<u64>()).prop_map(|(i, v)| VOp::Set(i, v)),
        1 => any::<u8>().prop_map(VOp::Extend),
        1 => Just(VOp::Clear),
        1 => (2u64..5).prop_map(VOp::Retain),
        1 => (1u64..4).prop_map(VOp::Dedup),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| VOp::Drain(a, b)),
        1 => (0usize..40, any::<u64>()).prop_map(|(n, x)| VOp::Resize(n, x)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| VOp::Swap(a, b)),
        1 => any::<usize>().prop_map(VOp::SplitAppend),
    ]
}

fn run(v: &mut PVec<u64>, m: &mut Vec<u64>, op: &VOp) {
    let n = m.len();
    match *op {
        VOp::Push(x) => {
            v.push(x);
            m.push(x);
        }
        VOp::Pop => assert_eq!(v.pop(), m.pop()),
        VOp::Insert(i, x) => {
            v.insert(i % (n + 1), x);
            m.insert(i % (n + 1), x);
        }
        VOp::Remove(i) if n > 0 => assert_eq!(v.remove(i % n), m.remove(i % n)),
        VOp::SwapRemove(i) if n > 0 => assert_eq!(v.swap_remove(i % n), m.swap_remove(i % n)),
        VOp::Truncate(i) => {
            v.truncate(i % (n + 2));
            m.truncate(i % (n + 2));
        }
        VOp::Set(i, x) if n > 0 => {
            v[i % n] = x;
            m[i % n] = x;
        }
        VOp::Extend(k) => {
            v.extend(0..u64::from(k));
            m.extend(0..u64::from(k));
        }
        VOp::Clear => {
            v.clear();
            m.clear();
        }
        VOp::Retain(k) => {
            v.retain(|x| x % k != 0);
            m.retain(|x| x % k != 0);
        }
        VOp::Dedup(k) => {
            v.dedup_by_key(|x| *x / k);
            m.dedup_by_key(|x| *x / k);
        }
        VOp::Drain(a, b) => {
            let (a, b) = (a % (n + 1), b % (n + 1));
            let (a, b) = (a.min(b), a.max(b));
            assert!(v.drain(a..b).eq(m.drain(a..b)));
        }
        VOp::Resize(k, x) => {
            v.resize(k, x);
            m.resize(k, x);
        }
        VOp::Swap(a, b) if n > 0 => {
            v.swap(a % n, b % n);
            m.swap(a % n, b % n);
        }
        VOp::SplitAppend(at) => {
            let mut tail = v.split_off(at % (n + 1));
            assert_eq!(v.len() + tail.len(), n);
            v.append(&mut tail);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_match_vec(txns in prop::collection::vec((prop::collection::vec(vop(), 1..12), 0u8..10), 1..20)) {
        let dir = common::TempDir::new("pvec-prop");
        let path = dir.file("v.pool");
        let open = || Pool::<Root>::options().durability(Durability::Process).open(&path).unwrap();
        let mut p = open();
        let mut model: Vec<u64> = Vec::new();
        for (ops, fate) in &txns {
            let mut scratch = model.clone();
            let mut w = p.write();
            ops.iter().for_each(|op| run(&mut w.v, &mut scratch, op));
            prop_assert_eq!(&w.v, &scratch);
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
            prop_assert_eq!(&p.read().v, &model);
            p.check().unwrap();
        }
    }
}

#[test]
fn range_indexing_reads_and_logs_only_the_range() {
    let p = pool();
    {
        let mut w = p.write();
        w.v.extend(0..10);
    }
    let before = p.stats().txn.log_bytes;
    {
        let mut w = p.write();
        assert_eq!(&w.v[7..], [7, 8, 9]);
        assert_eq!(w.v[..=1], [0, 1]);
        w.v[2..4].copy_from_slice(&[20, 30]);
        w.v[8..].fill(0);
        w.v[..].reverse();
    }
    assert_eq!(p.read().v, [0, 0, 7, 6, 5, 4, 30, 20, 1, 0]);
    // The root (first DerefMut) and the vector's 80 bytes, each logged once.
    assert!(p.stats().txn.log_bytes - before < 400);
    let r: Result<(), Error> = p.transaction(|root| {
        root.v[3..5].fill(99);
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    assert_eq!(p.read().v[3..5], [6, 5]);
}

#[test]
fn sort_by_and_extend_are_panic_safe() {
    let p = pool();
    {
        let mut w = p.write();
        w.v.extend([5, 3, 9, 1, 7]);
        w.boxes.extend((0..5).map(PBox::new));
    }
    // A comparator that panics: the panic unwinds, the transaction rolls back.
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = p.write();
        w.v.sort_by(|a, b| if *a == 9 { panic!("boom") } else { a.cmp(b) });
    }));
    assert!(res.is_err());
    assert_eq!(p.read().v, [5, 3, 9, 1, 7]);
    // An iterator that panics part-way: what was pushed is consistent, then rolled back.
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = p.write();
        w.boxes.extend((10..20).map(|i| {
            if i == 15 {
                panic!("boom")
            } else {
                PBox::new(i)
            }
        }));
    }));
    assert!(res.is_err());
    assert_eq!(p.read().boxes.len(), 5);
    p.check().unwrap();
}

#[test]
fn std_values_convert_into_pvecs() {
    let p = pool();
    {
        let mut w = p.write();
        w.v = vec![1, 2, 3].into();
        w.nested.push(PVec::from(&[7u32, 8][..]));
        w.nested.push((0..3).collect());
    }
    assert_eq!(p.read().v, [1, 2, 3]);
    assert_eq!(p.read().nested[0], [7, 8]);
    assert_eq!(p.read().nested[1], [0, 1, 2]);
    p.check().unwrap();
}

#[test]
fn crash_split_off_append_and_range_writes() {
    crash("split_off, append, range index_mut, reserve", |r| {
        let mut tail = r.v.split_off(6);
        r.v[1..3].fill(42);
        r.v.reserve(100);
        r.v.append(&mut tail);
        *r.v.last_mut().unwrap() = 7;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// PVec<PString> against Vec<String>: nested allocations pushed, replaced, removed.
    #[test]
    fn vec_of_strings_matches_std(ops in prop::collection::vec((0u8..5, "[a-zé]{0,12}", any::<usize>()), 1..60)) {
        #[derive(Persistent, Default)]
        struct S { v: PVec<pcoll::PString> }
        let p = Pool::<S>::options().durability(Durability::Process).in_memory().unwrap();
        let mut model: Vec<String> = Vec::new();
        for chunk in ops.chunks(7) {
            let mut w = p.write();
            for (kind, text, i) in chunk {
                let n = model.len();
                match kind {
                    0 | 1 => {
                        w.v.push(text.as_str().into());
                        model.push(text.clone());
                    }
                    2 if n > 0 => {
                        w.v[i % n].push_str(text);
                        model[i % n].push_str(text);
                    }
                    3 if n > 0 => {
                        w.v.remove(i % n);
                        model.remove(i % n);
                    }
                    4 => {
                        w.v.truncate(i % (n + 1));
                        model.truncate(i % (n + 1));
                    }
                    _ => {}
                }
            }
            drop(w);
            let r = p.read();
            prop_assert_eq!(r.v.iter().map(String::from).collect::<Vec<_>>(), model.clone());
            drop(r);
            p.check().unwrap();
        }
    }
}

/// A transaction whose undo log outgrows its segment: the log continues in a new segment
/// behind a jump marker. Both the entries and the marker must reach the medium in the first
/// barrier, and nothing else: an early version handed the file the whole byte span between
/// the two segments (heap pages changed by the transaction included) as "log".
#[test]
fn crash_log_spanning_segments() {
    let cfg = Config {
        budget: 12,
        ..Config::default()
    };
    let setup = |p: &Pool<CRoot>| p.write().v.extend(0..40_000);
    let op = |r: &mut CRoot| {
        r.v.reverse(); // logs the whole 320 KB buffer
        r.v.push(7);
    };
    let observe = |r: &CRoot| (r.v.len(), r.v.first().copied(), r.v.iter().sum::<u64>());
    crash_check_both("PVec log across segments", cfg, setup, op, observe);
}

/// Issue 14's compositions: `splice`, `extract_if` (partly consumed), `get_mut` of a range,
/// `pop_if`, `shrink_to`, on plain values and on boxes (handles).
#[test]
fn crash_splice_extract_if_and_ranges() {
    crash(
        "splice, extract_if, get_mut(range), pop_if, shrink_to",
        |r| {
            let removed: Vec<u64> = r.v.splice(2..5, [70, 71]).collect();
            assert_eq!(removed, [2, 3, 4]);
            let _ = r.v.extract_if(.., |x| *x % 3 == 0).next();
            if let Some(s) = r.v.get_mut(1..4) {
                s.reverse();
            }
            let _ = r.v.pop_if(|x| *x > 5);
            r.v.shrink_to(4);
            let _ = r.b.extract_if(1.., |b| **b % 2 == 0).count();
            r.b.splice(..1, [PBox::new(40)]);
        },
    );
}
