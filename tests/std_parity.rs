//! Differential tests (issue 14): each snippet is compiled twice from the same source, once
//! against std's types and once against pcoll's (`V` = `Vec`/`PVec`, `S` = `String`/`PString`,
//! `HM` = `HashMap`/`PHashMap`, `HS`, `BM`, `BS`, `B` = `Box`/`PBox`), and both runs must print
//! the same text. The snippets are written as std users write them; unordered containers are
//! printed sorted. New methods get a snippet here.

// The snippets are written as std users write them, not as clippy would have them.
#![allow(
    clippy::redundant_closure_call,
    clippy::vec_init_then_push,
    clippy::single_char_add_str,
    clippy::op_ref,
    clippy::useless_conversion,
    clippy::useless_format
)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use pcoll::{PBTreeMap, PBTreeSet, PBox, PHashMap, PHashSet, PString, PVec};

/// Runs `$body` (which returns a `String`) with the std aliases and with the pcoll aliases.
macro_rules! parity {
    ($name:ident, $body:block) => {
        #[test]
        fn $name() {
            let with_std = {
                #[allow(dead_code)]
                type V<T> = Vec<T>;
                #[allow(dead_code)]
                type S = String;
                #[allow(dead_code)]
                type HM<K, W> = HashMap<K, W>;
                #[allow(dead_code)]
                type HS<T> = HashSet<T>;
                #[allow(dead_code)]
                type BM<K, W> = BTreeMap<K, W>;
                #[allow(dead_code)]
                type BS<T> = BTreeSet<T>;
                #[allow(dead_code)]
                type B<T> = Box<T>;
                (|| -> String { $body })()
            };
            let with_pcoll = {
                #[allow(dead_code)]
                type V<T> = PVec<T>;
                #[allow(dead_code)]
                type S = PString;
                #[allow(dead_code)]
                type HM<K, W> = PHashMap<K, W>;
                #[allow(dead_code)]
                type HS<T> = PHashSet<T>;
                #[allow(dead_code)]
                type BM<K, W> = PBTreeMap<K, W>;
                #[allow(dead_code)]
                type BS<T> = PBTreeSet<T>;
                #[allow(dead_code)]
                type B<T> = PBox<T>;
                (|| -> String { $body })()
            };
            assert_eq!(with_std, with_pcoll);
        }
    };
}

/// Sorted `Debug` lines of an unordered collection's items.
fn sorted<T: std::fmt::Debug>(it: impl IntoIterator<Item = T>) -> String {
    let mut v: Vec<String> = it.into_iter().map(|x| format!("{x:?}")).collect();
    v.sort();
    v.join(",")
}

parity!(vec_clone_is_a_deep_copy, {
    let mut a: V<S> = V::new();
    a.push(S::from("x"));
    a.push(S::from("y"));
    let mut b = a.clone();
    b[0].push_str("!");
    b.push(S::from("z"));
    format!("{a:?} {b:?} {}", a == b)
});

parity!(vec_by_value_iteration, {
    let v: V<S> = V::from([S::from("a"), S::from("b"), S::from("c")]);
    let mut out = Vec::new();
    for s in v {
        out.push(format!("{s}{}", s.len()));
    }
    let w: V<u64> = V::from([3, 1, 2]);
    let total: u64 = w.into_iter().map(|x| x * 10).sum();
    format!("{out:?} {total}")
});

parity!(vec_conversions_and_comparisons, {
    let v: V<u64> = V::from([1, 2, 3]);
    let std_v: Vec<u64> = Vec::from(v.clone());
    let back: Vec<u64> = v.clone().into();
    let eq1 = vec![1u64, 2, 3] == v;
    let eq2 = &[1u64, 2, 3][..] == v;
    let mut w: V<u64> = V::new();
    w.extend(&[7u64, 8]);
    w.extend([9u64].iter());
    format!("{std_v:?} {back:?} {eq1} {eq2} {w:?}")
});

parity!(string_operators_and_conversions, {
    let mut s = S::from('a');
    s += "bc";
    let s = s + "de";
    let t: S = "xyz".chars().rev().collect();
    let u: S = ["ab", "cd"].iter().copied().collect();
    let w: S = vec![String::from("p"), String::from("q")]
        .into_iter()
        .collect();
    let mut e = S::new();
    e.extend(vec![String::from("m"), String::from("n")]);
    e.extend(['o', 'p'].iter());
    let cow: std::borrow::Cow<str> = std::borrow::Cow::Borrowed("abcde");
    let from_cow = S::from(std::borrow::Cow::Borrowed("cow"));
    let owned = String::from(s.clone());
    let bytes: &[u8] = s.as_ref();
    let path: &std::path::Path = s.as_ref();
    let os: &std::ffi::OsStr = s.as_ref();
    format!(
        "{s} {t} {u} {w} {e} {} {from_cow} {owned} {bytes:?} {path:?} {os:?} {}",
        s == cow,
        S::from(&String::from("r")),
    )
});

parity!(string_deref_mut, {
    let mut s = S::from("Hello");
    s.make_ascii_uppercase();
    let r: &mut str = &mut s;
    r.make_ascii_lowercase();
    format!("{s}")
});

parity!(hash_map_by_value_and_from_arrays, {
    let m: HM<u64, S> = HM::from([(1, S::from("a")), (2, S::from("b"))]);
    let c = m.clone();
    let keys = sorted(c.clone().into_keys());
    let values = sorted(c.clone().into_values());
    let all = sorted(m);
    let mut n: HM<u64, u64> = HM::new();
    let src: HM<u64, u64> = HM::from([(5, 50), (6, 60)]);
    n.extend(src.iter());
    format!("{keys} {values} {all} {}", sorted(n))
});

parity!(hash_set_operators_and_iteration, {
    let a: HS<u64> = HS::from([1, 2, 3, 4]);
    let b: HS<u64> = HS::from([3, 4, 5]);
    let u = &a | &b;
    let i = &a & &b;
    let d = &a - &b;
    let x = &a ^ &b;
    let mut e: HS<u64> = HS::new();
    e.extend(&[9u64, 9, 8]);
    let c = a.clone();
    format!(
        "{} {} {} {} {} {} {}",
        sorted(u),
        sorted(i),
        sorted(d),
        sorted(x),
        sorted(e),
        sorted(c),
        sorted(a)
    )
});

parity!(btree_map_by_value_and_clone, {
    let m: BM<u64, S> = BM::from([(2, S::from("b")), (1, S::from("a")), (3, S::from("c"))]);
    let mut c = m.clone();
    c.insert(4, S::from("d"));
    let keys: Vec<u64> = m.clone().into_keys().collect();
    let values: Vec<String> = m.clone().into_values().map(|s| s.to_string()).collect();
    let pairs: Vec<(u64, String)> = m.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    format!("{keys:?} {values:?} {pairs:?} {}", c.len())
});

parity!(btree_set_operators, {
    let a: BS<u64> = BS::from([5, 1, 3]);
    let b: BS<u64> = BS::from([3, 4]);
    let all: Vec<u64> = (&a | &b).into_iter().collect();
    let both: Vec<u64> = (&a & &b).into_iter().collect();
    let only: Vec<u64> = (&a - &b).into_iter().collect();
    let either: Vec<u64> = (&a ^ &b).into_iter().collect();
    let mut e: BS<u64> = BS::new();
    e.extend(&[2u64, 1]);
    format!("{all:?} {both:?} {only:?} {either:?} {e:?} {:?}", a.clone())
});

parity!(box_forwards_traits, {
    use std::hash::{Hash, Hasher};
    let a: B<u64> = B::new(3);
    let b: B<u64> = B::new(5);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    a.hash(&mut h);
    let mut boxes: Vec<B<u64>> = vec![b.clone(), a.clone()];
    boxes.sort();
    format!("{a} {} {:?} {} {:?}", a < b, a.cmp(&b), h.finish(), boxes)
});

parity!(vec_std_methods, {
    let mut v: V<u64> = V::from([1, 2, 3, 4, 5, 6]);
    v.reserve_exact(10);
    v.try_reserve_exact(2).unwrap();
    v.extend_from_within(1..3);
    let mut n = 10;
    v.resize_with(10, || {
        n += 1;
        n
    });
    let popped = v.pop_if(|x| *x > 12);
    let kept = v.pop_if(|x| *x > 100);
    let removed: Vec<u64> = v.splice(2..4, [70, 80, 90]).collect();
    let even: Vec<u64> = v.extract_if(1.., |x| *x % 2 == 0).collect();
    if let Some(s) = v.get_mut(1..3) {
        s.reverse();
    }
    if let Some(x) = v.get_mut(0) {
        *x += 100;
    }
    v.shrink_to(20);
    v.shrink_to_fit();
    let mut w: V<u8> = V::new();
    use std::io::Write;
    write!(w, "ab{}", 7).unwrap();
    format!(
        "{v:?} {popped:?} {kept:?} {removed:?} {even:?} {w:?} {}",
        v.capacity() >= v.len()
    )
});

parity!(vec_extract_if_dropped_early_keeps_the_rest, {
    let mut v: V<u64> = V::from([2, 4, 6, 8]);
    let first = v.extract_if(.., |x| *x > 3).next();
    format!("{first:?} {v:?}")
});

parity!(string_std_methods, {
    let mut s = S::from("héllo");
    s.reserve_exact(4);
    s.try_reserve_exact(1).unwrap();
    s.extend_from_within(1..3);
    s.shrink_to(50);
    s.shrink_to_fit();
    let bytes = s.clone().into_bytes();
    let back = S::from_utf8(bytes.clone()).unwrap();
    let bad = S::from_utf8(vec![0xff, 0]).is_err();
    format!("{s} {bytes:?} {back} {bad} {}", s.len())
});

parity!(map_entries_and_disjoint_borrows, {
    let mut m: HM<u64, u64> = HM::from([(1, 10), (2, 20), (3, 30)]);
    let [a, b, none] = m.get_disjoint_mut([&1, &3, &9]);
    std::mem::swap(a.unwrap(), b.unwrap());
    let none = none.is_none();
    let mut t: BM<u64, S> = BM::from([(2, S::from("b")), (1, S::from("a")), (3, S::from("c"))]);
    if let Some(mut e) = t.first_entry() {
        e.get_mut().push_str("!");
    }
    let last = t.last_entry().map(|e| e.remove());
    let firstk = t.first_entry().map(|e| *e.key());
    format!("{} {none:?} {t:?} {last:?} {firstk:?}", sorted(m))
});

parity!(set_replace, {
    let mut h: HS<u64> = HS::from([1, 2]);
    let r1 = h.replace(2);
    let r2 = h.replace(3);
    let mut b: BS<S> = BS::from([S::from("x")]);
    let r3 = b.replace(S::from("x"));
    let r4 = b.replace(S::from("y"));
    format!("{} {r1:?} {r2:?} {b:?} {r3:?} {r4:?}", sorted(h))
});

parity!(extract_if_of_maps_and_sets, {
    let mut h: HM<u64, S> = (0..8)
        .map(|k| (k, S::from(format!("{k}").as_str())))
        .collect();
    let odd = sorted(h.extract_if(|k, v| {
        v.push('!');
        k % 2 == 1
    }));
    let mut hs: HS<u64> = (0..9).collect();
    let threes = sorted(hs.extract_if(|k| k % 3 == 0));
    let mut b: BM<u64, u64> = (0..10).map(|k| (k, k * 10)).collect();
    let mid: Vec<(u64, u64)> = b
        .extract_if(2..8, |k, v| {
            *v += 1;
            k % 2 == 0
        })
        .collect();
    let mut bs: BS<u64> = (0..10).collect();
    let first_two: Vec<u64> = bs.extract_if(.., |k| k % 2 == 0).take(2).collect();
    let mut e: HM<u64, u64> = HM::new();
    let occ = e.entry(1).insert_entry(10);
    let got = (*occ.key(), *occ.get());
    let again = e.entry(1).insert_entry(11).remove();
    format!(
        "{odd} {} {threes} {} {mid:?} {b:?} {first_two:?} {bs:?} {got:?} {again}",
        sorted(h),
        sorted(hs)
    )
});

/// The entry enums are matched as std's are (`Entry::Occupied(e)` through the maps' `Entry`
/// aliases of the one shared enum), and `insert_entry` exists on both maps.
#[test]
fn entries_match_like_std() {
    use pcoll::collections::btree::map::Entry as BEntry;
    use pcoll::collections::phashmap::Entry as HEntry;
    use std::collections::btree_map::Entry as SEntry;
    let words = "a b a c b a".split(' ');
    let mut std_m: BTreeMap<String, u64> = BTreeMap::new();
    let mut h: PHashMap<PString, u64> = PHashMap::new();
    let mut t: PBTreeMap<PString, u64> = PBTreeMap::new();
    for w in words {
        match std_m.entry(w.to_string()) {
            SEntry::Occupied(mut e) => *e.get_mut() += 1,
            SEntry::Vacant(e) => drop(e.insert(1)),
        }
        match h.entry(w) {
            HEntry::Occupied(mut e) => *e.get_mut() += 1,
            HEntry::Vacant(e) => drop(e.insert(1)),
        }
        match t.entry(w) {
            BEntry::Occupied(mut e) => *e.get_mut() += 1,
            BEntry::Vacant(e) => drop(e.insert(1)),
        }
    }
    let want: Vec<(String, u64)> = std_m.into_iter().collect();
    let got_t: Vec<(String, u64)> = t.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let mut got_h: Vec<(String, u64)> = h.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    got_h.sort();
    assert_eq!((&got_t, &got_h), (&want, &want));
    let e = t.entry("d").insert_entry(9);
    assert_eq!((e.key().as_str(), *e.get()), ("d", 9));
    assert_eq!(t.entry("a").insert_entry(7).remove(), 7);
    assert_eq!(t.len(), 3);
    assert_eq!(*h.entry("a").insert_entry(5).get(), 5);
}

// Lookups by the owned std type of the key (`Equivalent`/`Comparable`): `&String` where the
// keys are `PString`s, `&Vec<u8>` where they are `PVec<u8>`s.
parity!(lookups_by_an_owned_string_or_vec, {
    let mut m: HM<S, u64> = HM::new();
    let mut t: BM<S, u64> = BM::new();
    let mut hs: HS<S> = HS::new();
    let mut bs: BS<S> = BS::new();
    let mut bytes: HM<V<u8>, u64> = HM::new();
    let mut tb: BM<V<u8>, u64> = BM::new();
    for (i, w) in ["ada", "bob", "cy"].iter().enumerate() {
        m.insert(S::from(*w), i as u64);
        t.insert(S::from(*w), i as u64);
        hs.insert(S::from(*w));
        bs.insert(S::from(*w));
        bytes.insert(V::from(w.as_bytes()), i as u64);
        tb.insert(V::from(w.as_bytes()), i as u64);
    }
    let name: String = "bob".to_string();
    let gone: String = "cy".to_string();
    let key: Vec<u8> = b"ada".to_vec();
    let found = (
        m.get(&name).copied(),
        t.get(&name).copied(),
        m.contains_key(&name),
        t.contains_key(&name),
        hs.contains(&name),
        bs.contains(&name),
        m[&name],
        t[&name],
        t.range(name.clone()..).count(),
    );
    let removed = (
        m.remove(&gone),
        t.remove(&gone),
        hs.remove(&gone),
        bs.remove(&gone),
        m.get(&gone).copied(),
    );
    let by_bytes = (
        bytes.get(&key).copied(),
        tb.get(&key).copied(),
        bytes.remove(&key),
    );
    format!("{found:?} {removed:?} {by_bytes:?}")
});
