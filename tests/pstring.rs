//! PString against String: random edits with multi-byte chars (some transactions aborted,
//! some across a reopen), the panics String has at non-boundary indexes, crash images of the
//! mutating methods, and hashing/ordering consistent with `str`.

mod common;

use std::hash::BuildHasher;

use pcoll::testing::{Config, crash_check_both};
use pcoll::{Durability, Error, PString, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
struct Root {
    s: PString,
    names: PVec<PString>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap()
}

#[test]
fn string_api_and_std_interop() {
    let p = pool();
    {
        let mut w = p.write();
        w.s.push_str("hello");
        w.s.push(' ');
        w.s.push_str("wörld");
        w.s.insert(0, '¡');
        w.s.insert_str(8, "big "); // "¡" is two bytes
        use std::fmt::Write;
        write!(w.s, " {}", 42).unwrap();
        w.s.extend(['!', '?']);
        w.s.extend(["a", "b"]);
        w.names.push("alice".into());
        w.names.push(String::from("bob").into());
        w.s.as_mut_str().make_ascii_uppercase();
    }
    let r = p.read();
    assert_eq!(r.s, "¡HELLO BIG WöRLD 42!?AB");
    assert_eq!(
        format!("{}|{:?}", r.s, r.s),
        "¡HELLO BIG WöRLD 42!?AB|\"¡HELLO BIG WöRLD 42!?AB\""
    );
    assert_eq!(String::from(&r.s), "¡HELLO BIG WöRLD 42!?AB");
    assert!(r.names[0] == "alice" && "bob" == r.names[1]);
    assert!(r.names[0] < r.names[1]);
    let h = std::collections::hash_map::RandomState::new();
    assert_eq!(
        h.hash_one(&r.names[0]),
        h.hash_one("alice"),
        "hashes like str"
    );
    let as_str: &str = std::borrow::Borrow::borrow(&r.names[0]);
    assert_eq!(as_str, "alice");
    drop(r);
    p.check().unwrap();
}

#[test]
fn non_boundary_indexes_panic_and_roll_back() {
    let p = pool();
    {
        let mut w = p.write();
        w.s.push_str("aé");
    }
    for f in [
        (|s: &mut PString| s.insert(2, 'x')) as fn(&mut PString),
        |s| s.truncate(2),
        |s| {
            s.remove(2);
        },
        |s| s.replace_range(0..2, "z"),
        |s| drop(s.split_off(2)),
        |s| s.insert_str(9, "x"),
    ] {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut w = p.write();
            w.s.push_str("zz"); // rolled back with the panic
            f(&mut w.s);
        }));
        assert!(res.is_err());
        assert_eq!(p.read().s, "aé");
    }
    p.check().unwrap();
}

#[test]
fn a_failed_transaction_leaves_the_text() {
    let p = pool();
    {
        let mut w = p.write();
        w.s.push_str("keep");
    }
    let r: Result<(), Error> = p.transaction(|root| {
        root.s.clear();
        root.s.push_str("gone");
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    assert_eq!(p.read().s, "keep");
}

// ---- crash images ----

fn seeded(p: &Pool<Root>) {
    let mut w = p.write();
    w.s.push_str("grüße, pcoll");
    w.s.reserve(64);
    w.names.push("one".into());
}

fn observe(r: &Root) -> (String, Vec<String>) {
    (
        String::from(&r.s),
        r.names.iter().map(String::from).collect(),
    )
}

fn crash(name: &str, op: impl Fn(&mut Root) + Copy) {
    let cfg = Config {
        budget: 24,
        ..Config::default()
    };
    crash_check_both(&format!("PString {name}"), cfg, seeded, op, observe);
}

#[test]
fn crash_edits() {
    crash("push_str, insert_str, remove, replace_range", |r| {
        r.s.push_str(" and more");
        r.s.insert_str(0, ">> ");
        r.s.remove(3);
        r.s.replace_range(0..2, "«»");
    });
}

#[test]
fn crash_shrink_and_retain() {
    crash("truncate, retain, pop", |r| {
        r.s.retain(|c| c != 'o');
        r.s.truncate(4);
        r.s.pop();
    });
}

#[test]
fn crash_strings_in_a_vec() {
    crash("PVec<PString> push and remove", |r| {
        r.names.push("two".into());
        r.names.insert(0, "zero".into());
        r.names.remove(1);
    });
}

// ---- random edits against String ----

#[derive(Debug, Clone)]
enum SOp {
    Push(char),
    PushStr(String),
    Insert(usize, char),
    InsertStr(usize, String),
    Pop,
    Remove(usize),
    Truncate(usize),
    Retain(char),
    Replace(usize, usize, String),
    Drain(usize, usize),
    SplitOff(usize),
    Clear,
}

fn text() -> impl Strategy<Value = String> {
    "[a-zé€😀]{0,8}"
}

fn sop() -> impl Strategy<Value = SOp> {
    prop_oneof![
        any::<char>().prop_map(SOp::Push),
        text().prop_map(SOp::PushStr),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| SOp::Insert(i, c)),
        (any::<usize>(), text()).prop_map(|(i, s)| SOp::InsertStr(i, s)),
        Just(SOp::Pop),
        any::<usize>().prop_map(SOp::Remove),
        any::<usize>().prop_map(SOp::Truncate),
        prop::sample::select(vec!['a', 'é', '€', '😀']).prop_map(SOp::Retain),
        (any::<usize>(), any::<usize>(), text()).prop_map(|(a, b, s)| SOp::Replace(a, b, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| SOp::Drain(a, b)),
        any::<usize>().prop_map(SOp::SplitOff),
        Just(SOp::Clear),
    ]
}

/// The char boundary at or below `i % (len + 1)`.
fn boundary(m: &str, i: usize) -> usize {
    let mut i = i % (m.len() + 1);
    while !m.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn run(s: &mut PString, m: &mut String, op: &SOp) {
    match op {
        SOp::Push(c) => {
            s.push(*c);
            m.push(*c);
        }
        SOp::PushStr(t) => {
            s.push_str(t);
            m.push_str(t);
        }
        SOp::Insert(i, c) => {
            let i = boundary(m, *i);
            s.insert(i, *c);
            m.insert(i, *c);
        }
        SOp::InsertStr(i, t) => {
            let i = boundary(m, *i);
            s.insert_str(i, t);
            m.insert_str(i, t);
        }
        SOp::Pop => assert_eq!(s.pop(), m.pop()),
        SOp::Remove(i) if !m.is_empty() => {
            let i = boundary(m, *i % m.len());
            assert_eq!(s.remove(i), m.remove(i));
        }
        SOp::Truncate(i) => {
            let i = boundary(m, *i);
            s.truncate(i);
            m.truncate(i);
        }
        SOp::Retain(c) => {
            s.retain(|x| x != *c);
            m.retain(|x| x != *c);
        }
        SOp::Replace(a, b, t) => {
            let (a, b) = (boundary(m, *a), boundary(m, *b));
            let (a, b) = (a.min(b), a.max(b));
            s.replace_range(a..b, t);
            m.replace_range(a..b, t);
        }
        SOp::Drain(a, b) => {
            let (a, b) = (boundary(m, *a), boundary(m, *b));
            let (a, b) = (a.min(b), a.max(b));
            assert!(s.drain(a..b).eq(m.drain(a..b)));
        }
        SOp::SplitOff(i) => {
            let i = boundary(m, *i);
            assert_eq!(s.split_off(i), m.split_off(i));
        }
        SOp::Clear => {
            s.clear();
            m.clear();
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_match_string(txns in prop::collection::vec((prop::collection::vec(sop(), 1..10), 0u8..10), 1..15)) {
        let dir = common::TempDir::new("pstring-prop");
        let path = dir.file("s.pool");
        let open = || Pool::<Root>::options().durability(Durability::Process).open(&path).unwrap();
        let mut p = open();
        let mut model = String::new();
        for (ops, fate) in &txns {
            let mut scratch = model.clone();
            let mut w = p.write();
            ops.iter().for_each(|op| run(&mut w.s, &mut scratch, op));
            prop_assert_eq!(&w.s, &scratch);
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
            prop_assert_eq!(&p.read().s, &model);
            p.check().unwrap();
        }
    }
}

#[test]
fn crash_more_edits() {
    crash(
        "push, insert, drain, split_off, as_mut_str, extend, write!",
        |r| {
            use std::fmt::Write;
            r.s.push('!');
            r.s.insert(0, '¿');
            r.s.drain(2..4);
            let _ = r.s.split_off(8);
            r.s.as_mut_str().make_ascii_uppercase();
            r.s.extend(["x", "y"]);
            write!(r.s, "{}", 7).unwrap();
            r.s.clear();
            r.s.push_str("fin");
        },
    );
}
