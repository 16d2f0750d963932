//! A full pool through the fallible forms (issue 14): `try_extend`, `try_from_iter` and the
//! entries' `try_or_insert` answer `Err(OutOfSpace)` where `extend`, `collect` and
//! `or_insert` panic, and the transaction can still commit what fitted or roll back.

use pcoll::{Error, PBTreeMap, PBTreeSet, PHashMap, PHashSet, PString, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    m: PHashMap<u64, u64>,
    t: PBTreeMap<u64, u64>,
    hs: PHashSet<u64>,
    bs: PBTreeSet<u64>,
    names: PVec<PString>,
}

fn tiny() -> Pool<Root> {
    Pool::<Root>::options()
        .initial_size(256 << 10)
        .max_size(256 << 10)
        .in_memory()
        .unwrap()
}

fn out_of_space<T: std::fmt::Debug>(r: pcoll::Result<T>) -> bool {
    matches!(r, Err(Error::OutOfSpace { .. }))
}

/// `try_push_from` on a full pool: `Err(OutOfSpace)`, the vector as it was (the element that
/// did not fit is not half there), and what fitted commits.
#[test]
fn push_from_on_a_full_pool_is_a_typed_error() {
    let p = tiny();
    let text = "x".repeat(1000);
    let fitted = {
        let mut w = p.write();
        let err = loop {
            let before = w.names.len();
            match w.names.try_push_from(text.as_str()) {
                Ok(()) => assert_eq!(w.names.len(), before + 1),
                Err(e) => {
                    assert_eq!(w.names.len(), before);
                    break e;
                }
            }
        };
        assert!(matches!(err, Error::OutOfSpace { .. }), "{err}");
        w.names.len()
    };
    assert!(fitted > 10);
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.names.len(), fitted);
    assert!(r.names.iter().all(|s| *s == text));
}

#[test]
fn fallible_forms_report_a_full_pool() {
    let p = tiny();
    {
        let mut w = p.write();
        assert!(out_of_space(w.v.try_extend(0..1_000_000)));
        let fitted = w.v.len();
        assert!(fitted > 0);
        w.v.clear();
        w.v.shrink_to_fit();
        assert!(out_of_space(
            w.m.try_extend((0..1_000_000u64).map(|k| (k, k)))
        ));
        w.abort();
    }
    assert!(p.read().v.is_empty() && p.read().m.is_empty());
    {
        let mut w = p.write();
        assert!(out_of_space(
            w.t.try_extend((0..1_000_000u64).map(|k| (k, k)))
        ));
        w.abort();
    }
    {
        let mut w = p.write();
        assert!(out_of_space(w.hs.try_extend(0..1_000_000u64)));
        w.abort();
    }
    {
        let mut w = p.write();
        assert!(out_of_space(w.bs.try_extend(0..1_000_000u64)));
        w.abort();
    }
    {
        // Fill the pool, then an entry that needs room fails instead of panicking.
        let mut w = p.write();
        let _ = w.m.try_extend((0..1_000_000u64).map(|k| (k, k)));
        let mut k = 10_000_000u64;
        let err = loop {
            match w.m.entry(k).try_or_insert(1) {
                Ok(_) => k += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::OutOfSpace { .. }), "{err}");
        let mut k = 0u64;
        let err = loop {
            match w.t.entry(k).try_or_insert(1) {
                Ok(_) => k += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::OutOfSpace { .. }), "{err}");
    }
    p.check().unwrap();
    // Outside any pool, collecting works as usual.
    let v = PVec::try_from_iter(0..100u64).unwrap();
    assert_eq!(v.len(), 100);
}

/// `try_extend_from_slice` on a full pool: `Err(OutOfSpace)` and the vector as it was (grown and filled in one step, so nothing of the slice is there);
/// what fitted before commits and `check()` stays clean.
#[test]
fn extend_from_slice_on_a_full_pool_changes_nothing() {
    let p = tiny();
    {
        let mut w = p.write();
        w.v.extend_from_slice(&[1, 2, 3]);
        let big = vec![7u64; 1 << 20];
        assert!(out_of_space(w.v.try_extend_from_slice(&big)));
        assert_eq!(w.v, [1, 2, 3]);
        w.v.try_extend_from_slice(&[4]).unwrap();
    }
    assert_eq!(p.read().v, [1, 2, 3, 4]);
    p.check().unwrap();
}
