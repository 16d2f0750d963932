//! Property tests for values that move (issue 12): std's algorithms over vectors of handles,
//! and maps with handle keys and values, against `Vec<String>`, `HashMap<u64, String>` and
//! `BTreeMap<String, Vec<u64>>`, with ≥ 1000 random strings per case (small inputs take std's
//! simple paths), returned values held across reopens and dropped late, and `check()` after
//! every round. Cases: `PROPTEST_CASES` (default 6: each case is thousands of operations).

mod common;

use std::collections::{BTreeMap, HashMap};

use common::TempDir;
use pcoll::{Durability, PBTreeMap, PHashMap, PString, PVec, Persistent, Pool};
use proptest::prelude::*;

#[derive(Persistent, Default)]
struct Root {
    names: PVec<PString>,
    blobs: PVec<PVec<u8>>,
    by_id: PHashMap<u64, PString>,
    words: PBTreeMap<PString, PVec<u64>>,
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

fn open(dir: &TempDir) -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .open(dir.file("p.pool"))
        .unwrap()
}

/// A slice algorithm or a vector change, applied to both sides.
#[derive(Debug, Clone)]
enum VecOp {
    Sort,
    SortUnstableRev,
    SortByKeyLen,
    SelectNth(usize),
    Dedup,
    Rotate(usize),
    Reverse,
    Swap(usize, usize),
    Remove(usize),
    SwapRemove(usize),
    Pop,
    Insert(usize, String),
    BinarySearch(String),
}

fn vec_op() -> impl Strategy<Value = VecOp> {
    prop_oneof![
        Just(VecOp::Sort),
        Just(VecOp::SortUnstableRev),
        Just(VecOp::SortByKeyLen),
        any::<usize>().prop_map(VecOp::SelectNth),
        Just(VecOp::Dedup),
        any::<usize>().prop_map(VecOp::Rotate),
        Just(VecOp::Reverse),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| VecOp::Swap(a, b)),
        any::<usize>().prop_map(VecOp::Remove),
        any::<usize>().prop_map(VecOp::SwapRemove),
        Just(VecOp::Pop),
        (any::<usize>(), "[a-z]{0,10}").prop_map(|(i, s)| VecOp::Insert(i, s)),
        "[a-z]{0,4}".prop_map(VecOp::BinarySearch),
    ]
}

/// Applies `op` to the pool's vectors and the models; returns a value the pool handed out
/// (kept by the caller and compared later) with its expected text.
fn apply_vec(
    names: &mut PVec<PString>,
    blobs: &mut PVec<PVec<u8>>,
    m: &mut Vec<String>,
    mb: &mut [Vec<u8>],
    op: &VecOp,
) -> Option<(PString, String)> {
    let n = m.len();
    match op {
        VecOp::Sort => {
            names.sort();
            m.sort();
            blobs.sort();
            mb.sort();
        }
        VecOp::SortUnstableRev => {
            names.sort_unstable_by(|a, b| b.cmp(a));
            m.sort_unstable_by(|a, b| b.cmp(a));
        }
        VecOp::SortByKeyLen => {
            names.sort_by_key(|s| s.len());
            m.sort_by_key(|s| s.len());
            blobs.sort_by_key(|b| b.first().copied());
            mb.sort_by_key(|b| b.first().copied());
        }
        VecOp::SelectNth(i) if n > 0 => {
            // Which element lands where else is unspecified: compare the nth, then sort both.
            let a = names.select_nth_unstable(i % n).1.to_string();
            let b = m.select_nth_unstable(i % n).1.clone();
            assert_eq!(a, b);
            names.sort();
            m.sort();
        }
        VecOp::Dedup => {
            names.dedup();
            m.dedup();
        }
        VecOp::Rotate(k) if n > 0 => {
            names.rotate_left(k % n);
            m.rotate_left(k % n);
            let nb = mb.len().max(1);
            blobs.rotate_right(k % nb);
            mb.rotate_right(k % nb);
        }
        VecOp::Reverse => {
            names.reverse();
            m.reverse();
        }
        VecOp::Swap(a, b) if n > 0 => {
            names.swap(a % n, b % n);
            m.swap(a % n, b % n);
        }
        VecOp::Remove(i) if n > 0 => return Some((names.remove(i % n), m.remove(i % n))),
        VecOp::SwapRemove(i) if n > 0 => {
            return Some((names.swap_remove(i % n), m.swap_remove(i % n)));
        }
        VecOp::Pop if n > 0 => return Some((names.pop().unwrap(), m.pop().unwrap())),
        VecOp::Insert(i, s) => {
            names.insert(i % (n + 1), s.as_str().into());
            m.insert(i % (n + 1), s.clone());
        }
        VecOp::BinarySearch(s) => {
            let a = names.binary_search_by(|x| x.as_str().cmp(s)).is_ok();
            let b = m.binary_search_by(|x| x.as_str().cmp(s)).is_ok();
            // Only meaningful on sorted data; equal answers either way for equal contents.
            assert_eq!(a, b);
        }
        _ => {}
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// std's slice algorithms over `PVec<PString>` and `PVec<PVec<u8>>` behave as over
    /// `Vec<String>`/`Vec<Vec<u8>>`; handed-out strings read right after reopens and drop late.
    #[test]
    fn slice_algorithms_match_vec_of_string(
        input in prop::collection::vec("[a-z]{0,12}", 1000..1100),
        rounds in prop::collection::vec(prop::collection::vec(vec_op(), 1..12), 2..5),
    ) {
        let dir = TempDir::new("vprop-vec");
        let mut m = input.clone();
        let mut mb: Vec<Vec<u8>> = input.iter().map(|s| s.clone().into_bytes()).collect();
        {
            let p = open(&dir);
            let mut w = p.write();
            w.names.extend(input.iter().map(|s| PString::from(s.as_str())));
            w.blobs.extend(input.iter().map(|s| PVec::from(s.as_bytes())));
        }
        let mut held: Vec<(PString, String)> = Vec::new();
        for ops in &rounds {
            let p = open(&dir);
            {
                let mut w = p.write();
                let r = &mut *w;
                for op in ops {
                    held.extend(apply_vec(&mut r.names, &mut r.blobs, &mut m, &mut mb, op));
                }
            }
            if held.len() > 3 {
                held.drain(..2); // dropped outside any transaction
            }
            p.check().unwrap();
            let r = p.read();
            prop_assert_eq!(r.names.iter().map(|s| s.as_str()).collect::<Vec<_>>(), m.clone());
            prop_assert_eq!(r.blobs.iter().map(|b| b.to_vec()).collect::<Vec<_>>(), mb.clone());
        }
        for (got, want) in &held {
            prop_assert_eq!(got.as_str(), want.as_str());
        }
        drop(held);
        open(&dir).check().unwrap();
    }

    /// `PHashMap<u64, PString>` against `HashMap<u64, String>`: old values, removed values and
    /// entries read like std's, across reopens.
    #[test]
    fn hash_map_of_strings_matches_std(
        input in prop::collection::vec((0u64..1500, "[a-z]{0,12}"), 1000..1100),
        removes in prop::collection::vec(0u64..1500, 200..400),
    ) {
        let dir = TempDir::new("vprop-hash");
        let mut m: HashMap<u64, String> = HashMap::new();
        let mut held = Vec::new();
        for chunk in input.chunks(300) {
            let p = open(&dir);
            {
                let mut w = p.write();
                for (k, s) in chunk {
                    let old = w.by_id.insert(*k, s.as_str());
                    let want = m.insert(*k, s.clone());
                    prop_assert_eq!(old.as_deref(), want.as_deref());
                    held.extend(old);
                    w.by_id.entry(*k + 1).or_insert("e").push('+');
                    m.entry(*k + 1).or_insert_with(|| "e".into()).push('+');
                }
                for k in &removes {
                    let got = w.by_id.remove(k);
                    let want = m.remove(k);
                    prop_assert_eq!(got.as_deref(), want.as_deref());
                    held.extend(got);
                }
            }
            p.check().unwrap();
            let r = p.read();
            prop_assert_eq!(r.by_id.len(), m.len());
            for (k, v) in &m {
                prop_assert_eq!(r.by_id.get(k).map(|s| s.as_str()), Some(v.as_str()));
            }
        }
        prop_assert!(held.iter().all(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '+')));
        drop(held);
        open(&dir).check().unwrap();
    }

    /// `PBTreeMap<PString, PVec<u64>>` against `BTreeMap<String, Vec<u64>>`: handle keys and
    /// values, returned pairs, `get_mut` and ordered pops, across reopens.
    #[test]
    fn btree_of_strings_to_vectors_matches_std(
        input in prop::collection::vec(("[a-z]{1,10}", prop::collection::vec(any::<u64>(), 0..4)), 1000..1100),
        pops in 1usize..200,
    ) {
        let dir = TempDir::new("vprop-tree");
        let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut held = Vec::new();
        for chunk in input.chunks(400) {
            let p = open(&dir);
            {
                let mut w = p.write();
                for (k, v) in chunk {
                    let old = w.words.insert(k.as_str(), v.clone());
                    let want = m.insert(k.clone(), v.clone());
                    prop_assert_eq!(old.as_deref(), want.as_deref());
                    if let Some(x) = w.words.get_mut(k.as_str()) {
                        x.push(7);
                    }
                    m.get_mut(k).unwrap().push(7);
                }
                for i in 0..pops {
                    let (got, want) = if i % 2 == 0 {
                        (w.words.pop_first(), m.pop_first())
                    } else {
                        (w.words.pop_last(), m.pop_last())
                    };
                    prop_assert_eq!(
                        got.as_ref().map(|(k, v)| (k.as_str(), v.as_slice())),
                        want.as_ref().map(|(k, v)| (k.as_str(), v.as_slice()))
                    );
                    held.extend(got);
                }
            }
            p.check().unwrap();
            let r = p.read();
            let got: Vec<(&str, &[u64])> = r.words.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
            let want: Vec<(&str, &[u64])> = m.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
            prop_assert_eq!(got, want);
        }
        prop_assert!(held.windows(2).all(|w| !w[0].0.is_empty() && !w[1].0.is_empty()));
        drop(held);
        open(&dir).check().unwrap();
    }
}
