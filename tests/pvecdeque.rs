//! `PVecDeque` (issue 16): random operations against `VecDeque` in a pool, with reopens and
//! rollbacks; values with handles; crash images of every mutating method. Also
//! `PVec::append`, which moves elements between vectors the way the deque's sides do.

mod common;

use std::collections::VecDeque;

use common::TempDir;
use pcoll::testing::{Config, crash_check_both};
use pcoll::{Durability, PBox, PString, PVec, PVecDeque, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
struct Root {
    q: PVecDeque<u64>,
    s: PVecDeque<PString>,
}

#[derive(Debug, Clone)]
enum Op {
    PushBack(u64),
    PushFront(u64),
    PopBack,
    PopFront,
    Set(usize, u64),
    Insert(usize, u64),
    Remove(usize),
    RotateLeft(usize),
    RotateRight(usize),
    Truncate(usize),
    TruncateFront(usize),
    RetainOdd,
    Swap(usize, usize),
    Contiguous,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u64>().prop_map(Op::PushBack),
        4 => any::<u64>().prop_map(Op::PushFront),
        3 => Just(Op::PopBack),
        3 => Just(Op::PopFront),
        2 => (any::<usize>(), any::<u64>()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => (any::<usize>(), any::<u64>()).prop_map(|(i, v)| Op::Insert(i, v)),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::RotateLeft),
        1 => any::<usize>().prop_map(Op::RotateRight),
        1 => any::<usize>().prop_map(Op::Truncate),
        1 => any::<usize>().prop_map(Op::TruncateFront),
        1 => Just(Op::RetainOdd),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Op::Swap(i, j)),
        1 => Just(Op::Contiguous),
        1 => Just(Op::Clear),
    ]
}

/// Applies `op` to both; returns what each gave back, which must match.
fn apply(q: &mut PVecDeque<u64>, m: &mut VecDeque<u64>, op: &Op) -> (Option<u64>, Option<u64>) {
    let len = m.len();
    let at = |i: usize, n: usize| if n == 0 { 0 } else { i % n };
    match *op {
        Op::PushBack(v) => {
            q.push_back(v);
            m.push_back(v);
        }
        Op::PushFront(v) => {
            q.push_front(v);
            m.push_front(v);
        }
        Op::PopBack => return (q.pop_back(), m.pop_back()),
        Op::PopFront => return (q.pop_front(), m.pop_front()),
        Op::Set(i, v) if len > 0 => {
            q[at(i, len)] = v;
            m[at(i, len)] = v;
        }
        Op::Insert(i, v) => {
            q.insert(at(i, len + 1), v);
            m.insert(at(i, len + 1), v);
        }
        Op::Remove(i) => return (q.remove(at(i, len + 1)), m.remove(at(i, len + 1))),
        Op::RotateLeft(n) => {
            q.rotate_left(at(n, len + 1));
            m.rotate_left(at(n, len + 1));
        }
        Op::RotateRight(n) => {
            q.rotate_right(at(n, len + 1));
            m.rotate_right(at(n, len + 1));
        }
        Op::Truncate(n) => {
            q.truncate(at(n, len + 1));
            m.truncate(at(n, len + 1));
        }
        Op::TruncateFront(n) => {
            let n = at(n, len + 1);
            q.truncate_front(n);
            m.drain(..len - n); // std's truncate_front is unstable
        }
        Op::RetainOdd => {
            q.retain(|x| x % 2 == 1);
            m.retain(|x| x % 2 == 1);
        }
        Op::Swap(i, j) if len > 0 => {
            q.swap(at(i, len), at(j, len));
            m.swap(at(i, len), at(j, len));
        }
        Op::Contiguous => {
            let a = q.make_contiguous().to_vec();
            let b = m.make_contiguous().to_vec();
            assert_eq!(a, b);
        }
        Op::Clear => {
            q.clear();
            m.clear();
        }
        _ => {}
    }
    (None, None)
}

fn check(q: &PVecDeque<u64>, m: &VecDeque<u64>) {
    assert_eq!(q.len(), m.len());
    assert!(q.iter().eq(m.iter()), "{q:?} != {m:?}");
    assert!(q.iter().rev().eq(m.iter().rev()));
    assert_eq!(q.front(), m.front());
    assert_eq!(q.back(), m.back());
    let n = m.len();
    for (a, b) in [(n / 3, n - n / 3), (0, n), (n, n), (n / 2, n), (0, n / 4)] {
        assert!(q.range(a..b).eq(m.range(a..b)), "range {a}..{b}");
        assert!(
            q.range(a..b).rev().eq(m.range(a..b).rev()),
            "range {a}..{b} reversed"
        );
        for k in [0, 1, (b - a) / 2, b - a] {
            assert_eq!(
                q.range(a..b).nth(k),
                m.range(a..b).nth(k),
                "nth {k} of {a}..{b}"
            );
            assert_eq!(q.range(a..b).nth_back(k), m.range(a..b).nth_back(k));
            let (mut x, mut y) = (q.range(a..b), m.range(a..b));
            assert_eq!(x.nth(k / 2), y.nth(k / 2));
            assert!(x.eq(y), "the rest after nth {} of {a}..{b}", k / 2);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_vecdeque_across_reopens_and_rollbacks(
        rounds in prop::collection::vec((prop::collection::vec(op(), 1..40), any::<bool>()), 1..8)
    ) {
        let dir = TempDir::new("deque");
        let path = dir.file("p");
        let mut model = VecDeque::new();
        for (ops, abort) in rounds {
            let pool = Pool::<Root>::options()
                .durability(Durability::Process)
                .open(&path)
                .unwrap();
            let mut w = pool.write();
            let mut m = model.clone();
            for op in &ops {
                let (a, b) = apply(&mut w.q, &mut m, op);
                prop_assert_eq!(a, b, "{:?}", op);
            }
            check(&w.q, &m);
            if abort {
                w.abort();
            } else {
                drop(w);
                model = m;
            }
            check(&pool.read().q, &model);
            pool.check().unwrap();
        }
    }
}

#[test]
fn values_with_handles_move_through_both_ends() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    {
        let mut w = p.write();
        for i in 0..20 {
            w.s.push_front(PString::from(format!("f{i}").as_str()));
            w.s.push_back(format!("b{i}").as_str().into());
        }
    }
    let out: Vec<String> = {
        let mut w = p.write();
        (0..30)
            .map(|_| w.s.pop_back().unwrap().to_string())
            .collect()
    };
    assert_eq!(out[0], "b19");
    assert_eq!(out[29], "f9");
    let left: Vec<String> = p.read().s.iter().map(|s| s.to_string()).collect();
    assert_eq!(left.len(), 10);
    assert_eq!(left[0], "f19");
    {
        // Dropped in place from both ends and both sides: nothing leaks (check below).
        let mut w = p.write();
        w.s.push_front("x".into());
        w.s.push_back("y".into());
        w.s.truncate_front(9);
        w.s.truncate(8);
        let left: Vec<String> = w.s.iter().map(|s| s.to_string()).collect();
        assert_eq!(left[0], "f17");
        assert_eq!(left[7], "f10");
    }
    p.check().unwrap();
    let cloned = p.read().s.clone();
    p.write().s.clear();
    assert_eq!(cloned.len(), 8);
    p.write().s = cloned;
    assert_eq!(p.read().s.len(), 8);
    p.check().unwrap();
}

// ---- crash images ----

#[derive(Persistent, Default)]
struct CRoot {
    q: PVecDeque<u64>,
    b: PVecDeque<PBox<u64>>,
    v: PVec<PBox<u64>>,
    w: PVec<PBox<u64>>,
    s: PVecDeque<PVec<u8>>,
}

type Model = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>, Vec<Vec<u8>>);

fn observe(r: &CRoot) -> Model {
    (
        r.q.iter().copied().collect(),
        r.b.iter().map(|b| **b).collect(),
        r.v.iter().map(|b| **b).collect(),
        r.w.iter().map(|b| **b).collect(),
        r.s.iter().map(|b| b.to_vec()).collect(),
    )
}

fn seeded(p: &Pool<CRoot>) {
    let mut w = p.write();
    for i in 0..6 {
        w.q.push_back(i);
        w.q.push_front(100 + i);
        w.b.push_back(PBox::new(i));
        w.v.push(PBox::new(10 + i));
        w.w.push(PBox::new(20 + i));
        w.s.push_back_from(&[i as u8; 3][..]);
    }
}

fn crash(name: &str, op: impl Fn(&mut CRoot) + Copy) {
    let cfg = Config {
        budget: 24,
        ..Config::default()
    };
    crash_check_both(&format!("PVecDeque {name}"), cfg, seeded, op, observe);
}

#[test]
fn crash_push_and_pop_at_both_ends() {
    crash("push and pop at both ends, with a rebalance", |r| {
        r.q.push_front(7);
        r.q.push_back(8);
        for _ in 0..9 {
            r.q.pop_front();
        }
        r.b.pop_front();
        r.b.push_front(PBox::new(70));
    });
}

#[test]
fn crash_rotate_insert_remove_retain() {
    crash("rotate, insert, remove, retain, truncate", |r| {
        r.q.rotate_left(3);
        r.q.insert(2, 55);
        r.q.remove(5);
        r.q.retain(|x| x % 3 != 0);
        r.q.truncate(6);
        r.b.rotate_right(2);
        r.b[1] = PBox::new(9);
        r.b.push_front(PBox::new(8));
        r.b.truncate_front(4); // from both sides
        r.b.truncate(3);
    });
}

#[test]
fn crash_append_moves_boxes_between_vectors() {
    crash(
        "PVec::append of boxes, then a rebalance and make_contiguous",
        |r| {
            r.v.append(&mut r.w);
            r.w.push(PBox::new(99));
            r.b.push_front(PBox::new(50));
            r.b.pop_back();
            r.b.make_contiguous();
        },
    );
}

#[test]
fn crash_push_from_builds_in_the_pool() {
    crash("push_back_from / push_front_from / PVec::push_from", |r| {
        r.s.push_front_from(&b"front"[..]);
        r.s.push_back_from(&b"back"[..]);
        r.s.pop_front();
        r.s.push_front_from(&[7u8; 40][..]);
        r.s.rotate_left(2);
        r.s.push_back_from(PVec::from(&b"built outside"[..]));
    });
}

/// `push_from` builds the value in the receiving pool: a `&str` becomes an element there,
/// several pools may have guards open, and a rollback frees what was built.
#[test]
fn push_from_lands_in_the_receiving_pool() {
    let a = Pool::<Root>::options().in_memory().unwrap();
    let b = Pool::<Root>::options().in_memory().unwrap();
    {
        let (mut wa, mut wb) = (a.write(), b.write());
        for i in 0..50 {
            wa.s.push_back_from(format!("a{i}").as_str());
            wb.s.push_front_from(format!("b{i}").as_str());
        }
    }
    a.check().unwrap();
    b.check().unwrap();
    assert_eq!(a.read().s[49], "a49");
    assert_eq!(b.read().s[0], "b49");
    {
        let mut w = a.write();
        w.s.push_back_from("rolled back");
        w.abort();
    }
    a.check().unwrap();
    assert_eq!(a.read().s.len(), 50);
}

/// Moving elements between the sides of a deque, or between two vectors with `append`, in
/// one pool moves them bitwise; across pools it moves their values. Either way every block
/// has one owner afterwards (`check`), a rollback puts both sides back, and the strings read
/// the same.
#[test]
fn elements_with_handles_move_between_vectors_within_and_across_pools() {
    #[derive(Persistent, Default)]
    struct Two {
        a: PVec<PString>,
        b: PVec<PString>,
        d: PVecDeque<PString>,
    }
    let names = |n: u32, p: &str| -> Vec<String> { (0..n).map(|i| format!("{p}{i}")).collect() };
    let strs = |v: &PVec<PString>| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
    let p = Pool::<Two>::options().in_memory().unwrap();
    let q = Pool::<Two>::options().in_memory().unwrap();
    {
        let mut w = p.write();
        let r = &mut *w;
        r.a.extend(names(5, "a").iter().map(|s| PString::from(s.as_str())));
        r.b.extend(names(3, "b").iter().map(|s| PString::from(s.as_str())));
        for s in names(9, "d") {
            r.d.push_front(s.as_str().into());
        }
    }
    // Within one pool, rolled back: both vectors and the deque as they were.
    {
        let mut w = p.write();
        let r = &mut *w;
        r.a.append(&mut r.b);
        assert_eq!(strs(&r.a), [names(5, "a"), names(3, "b")].concat());
        assert!(r.b.is_empty());
        assert_eq!(r.d.pop_back().unwrap(), "d0"); // a rebalance
        w.abort();
    }
    assert_eq!(strs(&p.read().a), names(5, "a"));
    assert_eq!(strs(&p.read().b), names(3, "b"));
    assert_eq!(p.read().d.len(), 9);
    p.check().unwrap();
    // Within one pool, committed.
    {
        let mut w = p.write();
        let r = &mut *w;
        r.a.append(&mut r.b);
        let got: Vec<String> = (0..9)
            .map(|_| r.d.pop_back().unwrap().to_string())
            .collect();
        assert_eq!(got, names(9, "d"));
    }
    assert_eq!(strs(&p.read().a), [names(5, "a"), names(3, "b")].concat());
    p.check().unwrap();
    // Across pools: a vector handed out of p (in process memory), appended into q's; then
    // one of q's, appended into p's while both guards are open.
    let mut taken = p.write().a.split_off(0);
    {
        let mut w = q.write();
        w.a.push("q".into());
        w.a.append(&mut taken);
    }
    assert!(taken.is_empty());
    drop(taken);
    assert_eq!(
        strs(&q.read().a),
        [vec!["q".to_string()], names(5, "a"), names(3, "b")].concat()
    );
    assert!(p.read().a.is_empty());
    {
        let (mut wp, mut wq) = (p.write(), q.write());
        wp.b.push("p".into());
        wp.b.append(&mut wq.a);
        assert!(wq.a.is_empty());
    }
    assert_eq!(
        strs(&p.read().b),
        [
            vec!["p".to_string(), "q".to_string()],
            names(5, "a"),
            names(3, "b")
        ]
        .concat()
    );
    p.check().unwrap();
    q.check().unwrap();
}

// ---- long sides: a rebalance copies the staying half into a fresh block ----

#[derive(Persistent, Default)]
struct Long {
    q: PVecDeque<u64>,
    s: PVecDeque<PVec<u8>>,
}

fn seeded_long(p: &Pool<Long>) {
    let mut w = p.write();
    for i in 0..1200 {
        w.q.push_front(i);
    }
    for i in 0..400u32 {
        w.s.push_front_from(&i.to_le_bytes()[..]);
    }
}

fn observe_long(r: &Long) -> (Vec<u64>, Vec<Vec<u8>>) {
    (
        r.q.iter().copied().collect(),
        r.s.iter().map(|v| v.to_vec()).collect(),
    )
}

/// The first `pop_back` of a queue filled from the front moves half of it to the back side;
/// the half that stays (4.8 KB of each queue here) goes to a fresh block instead of being
/// logged and shifted in place, and the old block is freed at commit.
#[test]
fn crash_rebalance_of_long_sides() {
    let cfg = Config {
        budget: 24,
        ..Config::default()
    };
    crash_check_both(
        "PVecDeque rebalance of long sides into fresh blocks",
        cfg,
        seeded_long,
        |r| {
            r.q.pop_back();
            r.q.push_front(5000);
            r.q.pop_back();
            r.s.pop_back();
            r.s.push_back_from(&b"back"[..]);
            r.s.pop_front();
        },
        observe_long,
    );
}

/// Against `VecDeque`, across reopens and rollbacks, with sides long enough that every
/// rebalance takes the fresh-block path; the log shows it: popping from the back of a
/// 100,000-element queue filled from the front logs a few hundred bytes, not 400 KB.
#[test]
fn long_sides_move_to_fresh_blocks_and_log_little() {
    let dir = TempDir::new("deque-long");
    let path = dir.file("p");
    let open = || {
        Pool::<Long>::options()
            .durability(Durability::Process)
            .open(&path)
            .unwrap()
    };
    let mut model: VecDeque<u64> = VecDeque::new();
    {
        let p = open();
        let mut w = p.write();
        for i in 0..100_000 {
            w.q.push_front(i);
            model.push_front(i);
        }
    }
    let mut x = 7u64;
    for round in 0..12 {
        let p = open();
        let before = p.stats().txn.log_bytes;
        let mut w = p.write();
        let mut m = model.clone();
        for _ in 0..40 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            match (x >> 33) % 4 {
                0 | 1 => assert_eq!(w.q.pop_back(), m.pop_back()),
                2 => assert_eq!(w.q.pop_front(), m.pop_front()),
                _ => {
                    w.q.push_front(x >> 40);
                    m.push_front(x >> 40);
                }
            }
        }
        assert!(w.q.iter().eq(m.iter()));
        if round % 3 == 2 {
            w.abort();
        } else {
            drop(w);
            model = m;
        }
        let logged = p.stats().txn.log_bytes - before;
        assert!(logged < 16 << 10, "round {round}: {logged} bytes logged");
        assert!(p.read().q.iter().eq(model.iter()));
        p.check().unwrap();
    }
}
