//! A pcoll value is a value (issue 12, `shared/VALUES.md`): code written the way std users
//! write it, with values that leave pool memory — returned by `remove`/`insert`/`pop`, held
//! by `sort`, built before any guard, moved between pools, moved out by `mem::take` in a
//! transaction that rolls back — and `check()` after each. Each test names the failure of
//! the issue it covers (F1 … F8).

mod common;

use common::TempDir;
use std::collections::{BTreeMap, HashMap};

use pcoll::{Durability, PBTreeMap, PBox, PHashMap, PString, PVec, Pair, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    names: PVec<PString>,
    blobs: PVec<PVec<u8>>,
    people: PVec<Person>,
    by_id: PHashMap<u64, PString>,
    lists: PHashMap<u64, PVec<u64>>,
    nested: PHashMap<u64, PHashMap<u64, PString>>,
    tree: PBTreeMap<u64, PString>,
    words: PBTreeMap<PString, PVec<u64>>,
    b: Option<PBox<[u64; 4]>>,
    b2: Option<PBox<[u64; 4]>>,
    name: PString,
    v: PVec<u64>,
    index: PBTreeMap<(u64, PString), u64>,
    seen: PHashMap<(u64, PVec<u8>), u64>,
}

#[derive(Persistent, Default, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Person {
    age: u32,
    name: PString,
}

/// The texts of a vector of strings.
fn texts(v: &PVec<PString>) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap()
}

fn file_pool(dir: &TempDir, name: &str) -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .open(dir.file(name))
        .unwrap()
}

/// Deterministic random strings (xorshift), so failures reproduce.
fn strings(n: usize, seed: u64) -> Vec<String> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            (0..len)
                .map(|i| (b'a' + ((x >> (i % 8 * 5)) % 26) as u8) as char)
                .collect()
        })
        .collect()
}

/// F1: std's sorts compare a copy of an element held on the stack; 1000 random strings take
/// the long paths (insertion steps with a temporary, merges, pivots).
#[test]
fn f1_sorting_handles_in_place() {
    let p = pool();
    let input = strings(1000, 7);
    {
        let mut w = p.write();
        w.names
            .extend(input.iter().map(|s| PString::from(s.as_str())));
        w.names.sort();
    }
    let mut expect = input.clone();
    expect.sort();
    assert_eq!(texts(&p.read().names), expect);
    p.write().names.sort_unstable_by(|a, b| b.cmp(a));
    expect.reverse();
    assert_eq!(texts(&p.read().names), expect);
    p.write().names.sort_by_key(|s| s.len());
    expect.sort_by_key(|s| s.len());
    assert_eq!(texts(&p.read().names), expect);
    p.check().unwrap();
}

/// F1: a panicking comparator leaves a permutation (std writes its temporary back), and the
/// transaction rolls back to the unsorted order.
#[test]
fn f1_a_panicking_comparator_rolls_back() {
    let p = pool();
    let input = strings(500, 11);
    p.write()
        .names
        .extend(input.iter().map(|s| PString::from(s.as_str())));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = p.write();
        let mut n = 0;
        w.names.sort_by(|a, b| {
            n += 1;
            assert!(n < 2000, "comparator gives up");
            a.cmp(b)
        });
    }));
    assert!(res.is_err());
    assert_eq!(texts(&p.read().names), input);
    p.check().unwrap();
}

/// F1: the other algorithms that move handles bitwise, on vectors of strings, of byte
/// vectors and of structs holding a string, against std, across a reopen.
#[test]
fn f1_slice_algorithms_over_handles_match_std() {
    let dir = TempDir::new("values-algos");
    let input = strings(1000, 3);
    let mut names: Vec<String> = input.clone();
    let mut blobs: Vec<Vec<u8>> = input.iter().map(|s| s.clone().into_bytes()).collect();
    let mut people: Vec<(u32, String)> = input
        .iter()
        .enumerate()
        .map(|(i, s)| ((i * 7919 % 100) as u32, s.clone()))
        .collect();
    {
        let p = file_pool(&dir, "a.pool");
        let mut w = p.write();
        w.names
            .extend(input.iter().map(|s| PString::from(s.as_str())));
        w.blobs
            .extend(input.iter().map(|s| PVec::from(s.as_bytes())));
        for (age, name) in &people {
            w.people.push(Person {
                age: *age,
                name: name.as_str().into(),
            });
        }
    }
    for round in 0..3 {
        let p = file_pool(&dir, "a.pool");
        {
            let mut w = p.write();
            match round {
                0 => {
                    w.names.select_nth_unstable(500);
                    names.select_nth_unstable(500);
                    w.names.sort();
                    names.sort();
                    w.names.dedup();
                    names.dedup();
                    w.blobs.rotate_left(333);
                    blobs.rotate_left(333);
                    w.people.sort();
                    people.sort();
                }
                1 => {
                    w.names.reverse();
                    names.reverse();
                    w.names.swap(0, 7);
                    names.swap(0, 7);
                    w.blobs.sort_unstable();
                    blobs.sort_unstable();
                    w.people.sort_by(|a, b| b.name.cmp(&a.name));
                    people.sort_by(|a, b| b.1.cmp(&a.1));
                }
                _ => {
                    w.names.sort_by_key(|s| s.len());
                    names.sort_by_key(|s| s.len());
                    w.blobs.dedup_by_key(|b| b.len());
                    blobs.dedup_by_key(|b| b.len());
                    w.people.rotate_right(10);
                    people.rotate_right(10);
                }
            }
            let target = names[names.len() / 2].clone();
            let found = w
                .names
                .binary_search_by(|s| s.len().cmp(&target.len()).then(s.as_str().cmp(&target)));
            let expect = names
                .binary_search_by(|s| s.len().cmp(&target.len()).then(s.as_str().cmp(&target)));
            assert_eq!(found.is_ok(), expect.is_ok());
        }
        p.check().unwrap();
        drop(p);
        let p = file_pool(&dir, "a.pool");
        let r = p.read();
        assert_eq!(texts(&r.names), names);
        assert_eq!(
            r.blobs.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
            blobs
        );
        let got: Vec<(u32, &str)> = r.people.iter().map(|x| (x.age, x.name.as_str())).collect();
        let want: Vec<(u32, &str)> = people.iter().map(|(a, n)| (*a, n.as_str())).collect();
        assert_eq!(got, want);
    }
}

/// F2 and F3: every method that hands a value out returns one that reads like std's, inside
/// the guard, after it, after the pool is dropped; dropping it late leaks nothing.
#[test]
fn f2_f3_returned_values_read_anywhere_and_drop_clean() {
    let dir = TempDir::new("values-returned");
    let p = file_pool(&dir, "a.pool");
    {
        let mut w = p.write();
        w.by_id.insert(1, "a");
        w.lists.insert(1, vec![1, 2, 3]);
        w.names.extend(["x", "y", "z", "w"].map(PString::from));
        w.tree.insert(1, "one");
        w.tree.insert(2, "two");
        let mut inner = PHashMap::new();
        inner.insert(5, "five");
        w.nested.insert(9, inner);
        w.blobs.push(PVec::from(&b"blob"[..]));
    }
    let (old, list, popped, drained, first, tree_old, inner, split, blob);
    {
        let mut w = p.write();
        old = w.by_id.insert(1, "b");
        assert_eq!(old.as_deref(), Some("a"), "readable inside the guard");
        list = w.lists.insert(1, vec![4]);
        popped = w.names.pop();
        drained = w.names.drain(..1).collect::<Vec<_>>();
        first = w.tree.pop_first();
        tree_old = w.tree.insert(2, "deux");
        inner = w.nested.remove(&9);
        split = w.names.split_off(1);
        blob = w.blobs.swap_remove(0);
    }
    p.check().unwrap();
    drop(p); // the pool is gone; the values are not
    assert_eq!(format!("{old:?}"), "Some(\"a\")");
    assert_eq!(list.as_deref(), Some(&[1, 2, 3][..]));
    assert_eq!(popped.as_deref(), Some("w"));
    assert_eq!(
        drained.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ["x"]
    );
    assert_eq!(
        first.as_ref().map(|(k, v)| (*k, v.as_str())),
        Some((1, "one"))
    );
    assert_eq!(tree_old.as_deref(), Some("two"));
    let inner = inner.unwrap();
    assert_eq!(inner.get(&5).map(|s| s.as_str()), Some("five"));
    assert_eq!(split.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["z"]);
    assert_eq!(blob, b"blob"[..]);
    // A borrow from a returned value, while its pool is closed (VALUES.md's last row).
    let s: &str = popped.as_deref().unwrap();
    let p = file_pool(&dir, "a.pool");
    assert_eq!(s, "w");
    drop((
        old, list, popped, drained, first, tree_old, inner, split, blob,
    ));
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.by_id.get(&1).map(|s| s.as_str()), Some("b"));
    assert_eq!(r.tree.get(&2).map(|s| s.as_str()), Some("deux"));
    assert!(r.nested.is_empty());
}

/// F3: values handed out and dropped in a later transaction, outside any, or after the pool
/// closed: the pool is clean, also after a reopen.
#[test]
fn f3_late_drops_leak_nothing() {
    let dir = TempDir::new("values-late");
    let p = file_pool(&dir, "a.pool");
    {
        let mut w = p.write();
        for i in 0..100 {
            w.by_id.insert(i, format!("value {i}"));
            w.lists.insert(i, vec![i; 100]);
        }
    }
    let mut held = Vec::new();
    {
        let mut w = p.write();
        for i in 0..50 {
            held.push((w.by_id.remove(&i).unwrap(), w.lists.remove(&i).unwrap()));
        }
    }
    let later: Vec<_> = held.drain(..10).collect();
    {
        let _w = p.write();
        drop(later); // in a later transaction
    }
    let outside: Vec<_> = held.drain(..10).collect();
    drop(outside); // outside any transaction
    p.check().unwrap();
    drop(p);
    drop(held); // after the pool closed
    let p = file_pool(&dir, "a.pool");
    p.check().unwrap();
    assert_eq!(p.read().by_id.len(), 50);
}

/// F4: write guards on two pools on one thread; each conversion lands in the pool of the
/// container that receives it.
#[test]
fn f4_two_pools_one_thread() {
    let (a, b) = (pool(), pool());
    {
        let (mut wa, mut wb) = (a.write(), b.write());
        wa.tree.insert(1, "x");
        wb.tree.insert(1, "y");
        *wa.by_id.entry(1).or_insert("x") = PString::from("x2");
        wb.by_id.entry(1).or_insert("y");
        wa.v = (1..4).collect::<PVec<_>>();
        wb.v = (4..7).collect::<PVec<_>>();
        wa.names.push("in a".into());
        wb.names.push(PString::from("in b"));
    }
    a.check().unwrap();
    b.check().unwrap();
    let (ra, rb) = (a.read(), b.read());
    assert_eq!(ra.tree[&1], "x");
    assert_eq!(rb.tree[&1], "y");
    assert_eq!(ra.by_id[&1], "x2");
    assert_eq!(rb.by_id[&1], "y");
    assert_eq!(ra.v, [1, 2, 3]);
    assert_eq!(rb.v, [4, 5, 6]);
    assert_eq!(ra.names[0], "in a");
    assert_eq!(rb.names[0], "in b");
}

/// F5: a value moved from one pool into another is copied: through the containers'
/// methods, and by plain assignment (the commit moves it in); neither pool leaks or holds a
/// foreign pointer, also after reopening.
#[test]
fn f5_moving_between_pools_copies() {
    let dir = TempDir::new("values-move");
    {
        let (a, b) = (file_pool(&dir, "a.pool"), file_pool(&dir, "b.pool"));
        {
            let mut wa = a.write();
            wa.by_id.insert(1, "from a");
            wa.lists.insert(1, vec![7; 1000]);
            wa.name = "a's name".into();
            wa.b = Some(PBox::new([1, 2, 3, 4]));
        }
        {
            let (mut wa, mut wb) = (a.write(), b.write());
            let s = wa.by_id.remove(&1).unwrap();
            wb.by_id.insert(1, s);
            let l = wa.lists.remove(&1).unwrap();
            wb.lists.insert(2, l);
            wb.name = std::mem::take(&mut wa.name); // assignment: moved in at b's commit
            wb.b = wa.b.take();
            drop(wb); // b commits first, while a's transaction can still free a's blocks
        }
        a.check().unwrap();
        b.check().unwrap();
    }
    let (a, b) = (file_pool(&dir, "a.pool"), file_pool(&dir, "b.pool"));
    a.check().unwrap();
    b.check().unwrap();
    let (ra, rb) = (a.read(), b.read());
    assert!(ra.by_id.is_empty() && ra.lists.is_empty() && ra.name.is_empty() && ra.b.is_none());
    assert_eq!(rb.by_id[&1], "from a");
    assert_eq!(rb.lists[&2], vec![7; 1000]);
    assert_eq!(rb.name, "a's name");
    assert_eq!(rb.b.as_deref(), Some(&[1, 2, 3, 4]));
}

/// F5: the same through nested containers: a map of strings removed from one pool's map of
/// maps and stored into the other's, and a B-tree of vectors appended across pools.
#[test]
fn f5_nested_values_move_deeply() {
    let (a, b) = (pool(), pool());
    {
        let mut wa = a.write();
        let mut inner = PHashMap::new();
        for i in 0..100u64 {
            inner.insert(i, format!("s{i}"));
            wa.words.insert(format!("w{i}"), vec![i; 3]);
        }
        wa.nested.insert(1, inner);
    }
    {
        let (mut wa, mut wb) = (a.write(), b.write());
        let inner = wa.nested.remove(&1).unwrap();
        wb.nested.insert(1, inner);
        let mut words = std::mem::take(&mut wa.words);
        wb.words.append(&mut words);
        wa.words = words; // empty now
    }
    a.check().unwrap();
    b.check().unwrap();
    let rb = b.read();
    assert_eq!(rb.nested[&1].len(), 100);
    assert_eq!(rb.nested[&1][&42], "s42");
    assert_eq!(rb.words.len(), 100);
    assert_eq!(rb.words["w7"], [7, 7, 7]);
}

/// F6: a handle moved out (std's `Option::take`) in a transaction that rolls back, dropped
/// in a later one, frees nothing the pool uses: the pool owns the block again.
#[test]
fn f6_a_rolled_back_move_owns_nothing() {
    let p = pool();
    p.write().b = Some(PBox::new([1, 2, 3, 4]));
    let stash;
    {
        let mut w = p.write();
        stash = w.b.take();
        w.abort();
    }
    assert_eq!(p.read().b.as_deref(), Some(&[1, 2, 3, 4]));
    {
        let _w = p.write();
        drop(stash);
    }
    {
        let mut w = p.write();
        w.b2 = Some(PBox::new([9, 9, 9, 9])); // would reuse a wrongly freed block
    }
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.b.as_deref(), Some(&[1, 2, 3, 4]));
    assert_eq!(r.b2.as_deref(), Some(&[9, 9, 9, 9]));
}

/// F6, settled: the vector the value was taken from settles its block (a push moves its
/// elements) before the transaction rolls back; the rollback still knows the taken value's
/// block is the pool's again. (Settled regions used to be forgotten.)
#[test]
fn f6_a_move_out_of_a_settled_vector_owns_nothing_after_rollback() {
    let p = pool();
    p.write().names.extend(["a", "b", "c"].map(PString::from));
    let stash = {
        let mut w = p.write();
        let s = std::mem::take(&mut w.names[1]);
        w.names.push("d".into()); // settles the vector's block, may move it
        w.names
            .extend((0..100).map(|i| PString::from(format!("{i}").as_str())));
        w.abort();
        s
    };
    assert_eq!(stash.as_str(), "b");
    {
        let _w = p.write();
        drop(stash);
    }
    p.write().name = PString::from("reuses a wrongly freed block");
    p.check().unwrap();
    assert_eq!(texts(&p.read().names), ["a", "b", "c"]);
}

/// F6, later: the pool frees (and reuses) the block the rolled-back copy names, in a
/// transaction that rolls back and in one that commits; the copy's drop still frees nothing.
#[test]
fn f6_a_rolled_back_copy_never_frees_even_after_reuse() {
    let p = pool();
    p.write().b = Some(PBox::new([1, 2, 3, 4]));
    let stash = {
        let mut w = p.write();
        let s = w.b.take();
        w.abort();
        s
    };
    {
        let mut w = p.write();
        w.b = None; // frees the block...
        w.abort(); // ...not
    }
    p.write().b = None; // frees the block for good
    p.write().b2 = Some(PBox::new([7; 4])); // may reuse it
    {
        let _w = p.write();
        drop(stash);
    }
    p.check().unwrap();
    assert_eq!(p.read().b2.as_deref(), Some(&[7; 4]));
}

/// F6, fresh: a handle to a block allocated in the rolled-back transaction itself, moved out
/// with `mem::take`, dangles after the rollback frees the block; its drop frees nothing, even
/// once the block is reused.
#[test]
fn f6_a_rolled_back_fresh_block_is_not_freed_twice() {
    let p = pool();
    let stash = {
        let mut w = p.write();
        w.v.extend(0..100); // a fresh buffer
        let s = std::mem::take(&mut w.v);
        w.abort();
        s
    };
    p.write().lists.insert(1, vec![5; 100]); // may reuse the freed buffer
    {
        let _w = p.write();
        drop(stash);
    }
    p.check().unwrap();
    assert_eq!(p.read().lists[&1], vec![5; 100]);
}

/// F6: values drained in a transaction that then fails are copies: dropping them later frees
/// only their own memory.
#[test]
fn f6_drained_then_err_owns_nothing() {
    let p = pool();
    p.write().names.extend(["a", "b", "c"].map(PString::from));
    let mut stash = Vec::new();
    let res: Result<(), pcoll::Error> = p.transaction(|r| {
        stash = r.names.drain(..).collect();
        Err(pcoll::Error::ReadOnly { path: "x".into() })
    });
    assert!(res.is_err());
    {
        let mut w = p.write();
        drop(std::mem::take(&mut stash));
        w.names.push("d".into());
    }
    p.check().unwrap();
    assert_eq!(texts(&p.read().names), ["a", "b", "c", "d"]);
}

/// F7: a handle of pool B stored into pool A by assignment never makes A write, free or
/// commit at B's offsets: changes go to B's memory under B's transaction, and when A rolls
/// back, the values it overwrites (B's vector, a box in process memory) are dropped, as std
/// drops an overwritten value.
#[test]
fn f7_foreign_handles_are_never_written_through_in_the_wrong_pool() {
    let (a, b) = (pool(), pool());
    b.write().b = Some(PBox::new([5; 4]));
    b.write().v.extend([1, 2, 3]);
    {
        let (mut wa, mut wb) = (a.write(), b.write());
        wa.b = wb.b.take(); // B's box in A's root
        wa.b = Some(PBox::new([6; 4])); // overwritten: frees in B (its transaction is open)
        wa.v = std::mem::take(&mut wb.v); // B's vector in A's root
        wa.v.push(4); // grows in B's memory, logged by B
        wa.abort(); // A unchanged; B's vector is dropped in B's transaction
        drop(wb);
    }
    a.check().unwrap();
    b.check().unwrap();
    let (ra, rb) = (a.read(), b.read());
    assert!(ra.b.is_none() && ra.v.is_empty());
    assert!(
        rb.b.is_none(),
        "B's box was dropped by the overwrite, inside B's transaction"
    );
    assert!(
        rb.v.is_empty(),
        "taken out of B, dropped by A's rollback, committed by B"
    );
}

/// A value moved by assignment from a pool that closes before the receiving pool commits
/// cannot be copied in: the commit panics, having rolled the transaction back and ended the
/// writer role, and the pool goes on.
#[test]
fn a_commit_that_cannot_move_a_value_in_rolls_back_and_unlocks() {
    let (a, b) = (pool(), pool());
    a.write().name = "from a".into();
    let stray = {
        let mut wa = a.write();
        let s = std::mem::take(&mut wa.name);
        wa.abort();
        s
    };
    drop(a); // the pool `stray` points into is gone (nothing read it: it is unmapped)
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut wb = b.write();
        wb.v.push(1);
        wb.name = stray; // moved in at commit: impossible, its pool is closed
    }));
    assert!(res.is_err(), "the commit cannot copy from a closed pool");
    {
        let mut wb = b.write(); // the writer role ended
        wb.v.push(2);
    }
    b.check().unwrap();
    let r = b.read();
    assert_eq!(r.v, [2], "the failed transaction was rolled back");
    assert!(r.name.is_empty());
}

/// F8: values built with no guard open read normally and move into a pool when stored.
#[test]
fn f8_values_built_outside_a_transaction() {
    let b = PBox::new([1, 2, 3, 4]);
    let s: PString = "abc".into();
    assert_eq!(*b, [1, 2, 3, 4]);
    assert_eq!(s, "abc");
    let mut m = PHashMap::new();
    m.insert(1u64, PString::from("one"));
    m.insert(2, "two");
    let v: PVec<u64> = (0..10).collect();
    assert_eq!(m[&2], "two");
    assert_eq!(v.len(), 10);
    let p = pool();
    {
        let mut w = p.write();
        w.b = Some(b);
        w.name = s;
        w.nested.insert(1, m);
        w.v = v;
    }
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.b.as_deref(), Some(&[1, 2, 3, 4]));
    assert_eq!(r.name, "abc");
    assert_eq!(r.nested[&1][&1], "one");
    assert_eq!(r.v.iter().sum::<u64>(), 45);
}

/// Values assigned through every kind of `&mut` the containers hand out (root, `PBox`,
/// `IndexMut`, `get_mut`, `iter_mut`, `values_mut`, entries) move into the pool at commit,
/// also when the container changes in between.
#[test]
fn values_stored_through_mut_references_move_in() {
    let dir = TempDir::new("values-assign");
    {
        let p = file_pool(&dir, "a.pool");
        {
            let mut w = p.write();
            w.names.extend(["a", "b"].map(PString::from));
            w.by_id.insert(1, "a");
            w.tree.insert(1, "a");
        }
        {
            let mut w = p.write();
            w.names[0] = "A".into();
            *w.names.get_mut(1).unwrap() = "B".into();
            w.names.push("c".into()); // may move the buffer after the assignments
            for s in w.names.iter_mut() {
                s.push('!');
            }
            *w.by_id.get_mut(&1).unwrap() = "A".into();
            w.by_id.insert(2, "b"); // may rehash after the assignment
            for v in w.tree.values_mut() {
                *v = "T".into();
            }
            for i in 2..40 {
                w.tree.insert(i, "x"); // splits nodes after the assignment
            }
            *w.tree.entry(50).or_insert("y") = "Y".into();
        }
        p.check().unwrap();
    }
    let p = file_pool(&dir, "a.pool");
    p.check().unwrap();
    let r = p.read();
    assert_eq!(texts(&r.names), ["A!", "B!", "c!"]);
    assert_eq!(r.by_id[&1], "A");
    assert_eq!(r.tree[&1], "T");
    assert_eq!(r.tree[&50], "Y");
}

/// Moving a big vector from one map to another in one pool and transaction: the values
/// are equal afterwards and nothing leaks (its cost is in BENCHMARKS.md).
#[test]
fn moving_within_one_pool_keeps_the_value() {
    let p = pool();
    p.write()
        .lists
        .insert(1, (0..100_000).collect::<Vec<u64>>());
    {
        let mut w = p.write();
        let l = w.lists.remove(&1).unwrap();
        w.lists.insert(2, l);
    }
    p.check().unwrap();
    assert_eq!(p.read().lists[&2].len(), 100_000);
}

/// A value moved between two containers of one pool with `mem::take` through `get_mut`
/// stays where it is: the receiving map stores it bitwise (its buffer has the same address),
/// nothing leaks, and a rollback of such a move leaves the source whole.
#[test]
fn moving_within_one_pool_by_take_copies_nothing() {
    let p = pool();
    p.write()
        .lists
        .insert(1, (0..100_000).collect::<Vec<u64>>());
    let before = p.read().lists[&1].as_ptr();
    {
        let mut w = p.write();
        let v = std::mem::take(w.lists.get_mut(&1).unwrap());
        w.lists.remove(&1);
        w.lists.insert(2, v);
    }
    p.check().unwrap();
    assert_eq!(p.read().lists[&2].as_ptr(), before, "not copied");
    assert_eq!(p.read().lists[&2].len(), 100_000);
    {
        let mut w = p.write();
        let v = std::mem::take(w.lists.get_mut(&2).unwrap());
        w.lists.remove(&2);
        w.lists.insert(3, v);
        w.abort();
    }
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.lists[&2].as_ptr(), before);
    assert!(r.lists[&2].iter().copied().eq(0..100_000));
    assert!(!r.lists.contains_key(&3));
}

/// Pair keys (a secondary index by (number, string)) looked up, inserted, removed and ranged
/// by borrowed parts (`Pair`), against std maps of the same pairs, across reopens: nothing is
/// built to look a key up, and `check()` stays clean.
#[test]
fn pair_keys_by_borrowed_parts() {
    let dir = TempDir::new("values-pair");
    let words = strings(600, 11);
    let mut index = BTreeMap::<(u64, String), u64>::new();
    let mut seen = HashMap::<(u64, Vec<u8>), u64>::new();
    for round in 0..3u64 {
        let p = file_pool(&dir, "pair.pool");
        {
            let mut w = p.write();
            for (i, s) in words.iter().enumerate() {
                let (n, i) = (i as u64 % 7, i as u64 + round);
                match (i + round) % 4 {
                    0 | 1 => {
                        let old = w.index.insert(Pair(&n, s.as_str()), i);
                        assert_eq!(old, index.insert((n, s.clone()), i));
                        let old = w.seen.insert(Pair(&n, s.as_bytes()), i);
                        assert_eq!(old, seen.insert((n, s.clone().into_bytes()), i));
                    }
                    2 => {
                        let got = w.index.remove(&Pair(&n, s.as_str()));
                        assert_eq!(got, index.remove(&(n, s.clone())));
                        let got = w.seen.remove(&Pair(&n, s.as_bytes()));
                        assert_eq!(got, seen.remove(&(n, s.clone().into_bytes())));
                    }
                    _ => {
                        let k = (n, s.clone());
                        assert_eq!(w.index.get(&Pair(&n, s.as_str())), index.get(&k));
                        let k = (n, s.clone().into_bytes());
                        assert_eq!(w.seen.get(&Pair(&n, s.as_bytes())), seen.get(&k));
                    }
                }
            }
            let from = Pair(&3, "m");
            let got: Vec<(u64, &str, u64)> = w
                .index
                .range(from..)
                .map(|((n, s), &v)| (*n, s.as_str(), v))
                .collect();
            let want: Vec<(u64, &str, u64)> = index
                .range((3, "m".to_string())..)
                .map(|((n, s), &v)| (*n, s.as_str(), v))
                .collect();
            assert_eq!(got, want);
        }
        p.check().unwrap();
        let r = p.read();
        assert_eq!(r.index.len(), index.len());
        assert!(
            index
                .iter()
                .all(|((n, s), v)| r.index.get(&Pair(n, s.as_str())) == Some(v))
        );
        assert_eq!(r.seen.len(), seen.len());
        assert!(
            seen.iter()
                .all(|((n, b), v)| r.seen.get(&Pair(n, &b[..])) == Some(v))
        );
    }
}

/// Two open pools with the same tag (a copy of one file): values outside pool memory name
/// their pool by tag, so the second open is refused with a typed error, never guessed; after
/// the first closes, the copy opens.
#[test]
fn copies_of_one_pool_file_are_not_open_together() {
    let dir = TempDir::new("values-copy");
    file_pool(&dir, "a.pool").write().name = "a".into();
    std::fs::copy(dir.file("a.pool"), dir.file("b.pool")).unwrap();
    let a = file_pool(&dir, "a.pool");
    let b = Pool::<Root>::options().open(dir.file("b.pool"));
    assert!(
        matches!(b, Err(pcoll::Error::AmbiguousPool { .. })),
        "{b:?}"
    );
    drop(a);
    let b = file_pool(&dir, "b.pool");
    assert_eq!(b.read().name, "a");
    b.check().unwrap();
}

/// A copy of a pool file that is open (one tag for two pools) opens read-only beside it: a
/// read-only pool is never looked up by tag, and every read of the copy gives the copy's
/// contents, not the original's, also after the original changed. `Options::shrink` then
/// gives the copy a new tag, and it opens for writing beside the original.
#[test]
fn a_copy_opens_read_only_beside_its_original_and_shrink_gives_it_a_tag() {
    let dir = TempDir::new("values-copy-ro");
    let fill = |w: &mut Root, tag: &str| {
        w.name = format!("name {tag}").as_str().into();
        w.names.clear();
        w.tree.clear();
        w.words.clear();
        w.lists.clear();
        for i in 0..300u64 {
            w.names.push_from(format!("{tag}{i}").as_str());
            w.by_id.insert(i, format!("{tag}-{i}").as_str());
            w.tree.insert(i, format!("{tag}:{i}").as_str());
            w.words
                .insert(format!("{tag}{i:03}").as_str(), &[i, i + 1][..]);
            w.lists.insert(i % 7, &[i; 3][..]);
        }
        w.b = Some(PBox::new([tag.len() as u64; 4]));
    };
    // Everything a read can reach, as std values.
    type Seen = (
        String,
        Vec<String>,
        Vec<(u64, String)>,
        Vec<(u64, String)>,
        Vec<(String, Vec<u64>)>,
        Vec<u64>,
        Option<[u64; 4]>,
    );
    let seen = |r: &Root| -> Seen {
        let mut by_id: Vec<(u64, String)> =
            r.by_id.iter().map(|(k, v)| (*k, v.to_string())).collect();
        by_id.sort();
        (
            r.name.to_string(),
            r.names.iter().map(|s| s.to_string()).collect(),
            by_id,
            r.tree
                .range(10..200)
                .map(|(k, v)| (*k, v.to_string()))
                .collect(),
            r.words
                .iter()
                .rev()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
            r.lists.get(&3).map(|v| v.to_vec()).unwrap_or_default(),
            r.b.as_deref().copied(),
        )
    };
    file_pool(&dir, "a.pool")
        .transaction(|w| {
            fill(w, "copy");
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
    std::fs::copy(dir.file("a.pool"), dir.file("b.pool")).unwrap();
    let a = file_pool(&dir, "a.pool");
    let want = seen(&a.read());
    a.transaction(|w| {
        fill(w, "original, changed");
        Ok::<_, pcoll::Error>(())
    })
    .unwrap();
    let b = Pool::<Root>::options()
        .read_only(true)
        .open(dir.file("b.pool"))
        .unwrap();
    assert_eq!(seen(&b.read()), want);
    assert_ne!(seen(&a.read()), want);
    // A deep copy out of the read-only pool, read after the pool closed.
    let names = b.read().names.clone();
    b.check().unwrap();
    drop(b);
    assert_eq!(names.len(), 300);
    assert_eq!(names[5], "copy5");
    // Writable, the copy is refused while the original is open; shrunk, it has its own tag.
    let refused = Pool::<Root>::options().open(dir.file("b.pool"));
    assert!(
        matches!(refused, Err(pcoll::Error::AmbiguousPool { .. })),
        "{refused:?}"
    );
    Pool::<Root>::options().shrink(dir.file("b.pool")).unwrap();
    let b = file_pool(&dir, "b.pool");
    assert_eq!(seen(&b.read()), want);
    b.write().names.sort();
    b.check().unwrap();
    a.check().unwrap();
}

// ---- crash images of the value paths ----

mod crash {
    use super::*;
    use pcoll::testing::{Config, crash_check_both};
    use std::cell::RefCell;

    thread_local! {
        /// Values handed out by the transaction under test, kept past its end.
        static HELD: RefCell<Vec<PString>> = const { RefCell::new(Vec::new()) };
        /// A second pool that values come from.
        static OTHER: Pool<Root> = pool();
    }

    fn seeded(p: &Pool<Root>) {
        let mut w = p.write();
        w.names
            .extend(strings(300, 5).iter().map(|s| PString::from(s.as_str())));
        for i in 0..50 {
            w.by_id.insert(i, format!("id {i}"));
        }
        w.name = "root".into();
    }

    type Model = (Vec<String>, Vec<(u64, String)>, String);

    fn observe(r: &Root) -> Model {
        let mut ids: Vec<(u64, String)> =
            r.by_id.iter().map(|(k, v)| (*k, v.to_string())).collect();
        ids.sort();
        (
            r.names.iter().map(|s| s.to_string()).collect(),
            ids,
            r.name.to_string(),
        )
    }

    fn crash(name: &str, op: impl Fn(&mut Root) + Copy) {
        let cfg = Config {
            budget: 16,
            exhaustive_upto: 3,
            ..Config::default()
        };
        crash_check_both(&format!("values: {name}"), cfg, seeded, op, observe);
        HELD.with(|h| h.borrow_mut().clear()); // dropped long after their transactions
    }

    #[test]
    fn crash_sort_in_place() {
        crash("sort 300 strings in place", |r| r.names.sort());
    }

    #[test]
    fn crash_values_handed_out_and_kept() {
        crash("remove, pop, insert's old value, kept past commit", |r| {
            let mut out = Vec::new();
            out.extend(r.by_id.remove(&3));
            out.extend(r.by_id.insert(4, "four"));
            out.extend(r.names.pop());
            out.push(r.names.swap_remove(7));
            HELD.with(|h| h.borrow_mut().extend(out));
        });
    }

    #[test]
    fn crash_values_stored_by_assignment() {
        crash("assignments of values built outside the pool", |r| {
            r.name = PString::from("assigned");
            r.names[10] = "ten".into();
            *r.by_id.get_mut(&1).unwrap() = "one".into();
            r.names.push("pushed".into());
        });
    }

    #[test]
    fn crash_values_moved_within_the_pool_by_take() {
        crash(
            "mem::take through get_mut, remove, insert: moved bitwise",
            |r| {
                let v = std::mem::take(r.by_id.get_mut(&5).unwrap());
                r.by_id.remove(&5);
                r.by_id.insert(500, v);
                let s = std::mem::take(&mut r.names[3]);
                r.names.push(s);
            },
        );
    }

    #[test]
    fn crash_values_lent_and_stored_back() {
        crash(
            "remove then insert (lent: no copy), read then stored back, dropped, kept",
            |r| {
                let v = r.by_id.remove(&5).unwrap();
                r.by_id.insert(500, v);
                let s = r.names.remove(3);
                assert!(!s.is_empty()); // read: copied, and its original still comes back
                r.names.push(s);
                drop(r.by_id.remove(&6));
                let kept = r.by_id.remove(&7).unwrap();
                HELD.with(|h| h.borrow_mut().push(kept));
            },
        );
    }

    #[test]
    fn crash_values_from_another_pool() {
        crash("values moved in from another pool", |r| {
            OTHER.with(|o| {
                let mut w = o.write();
                w.by_id.insert(1, "from the other pool");
                w.names.push("other".into());
                let v = w.by_id.remove(&1).unwrap();
                r.by_id.insert(100, v);
                r.names.push(w.names.pop().unwrap());
            });
        });
    }
}

/// Issue 14: `clone()` of a value in pool memory (under a read guard or a write guard) is a
/// deep copy outside the pool that outlives the guard; stored back it is copied in, and the
/// original is untouched. A value handed out iterates by value.
#[test]
fn clones_and_by_value_iteration_of_pool_values() {
    let p = pool();
    p.write().names.extend(["a", "b"].map(PString::from));
    let c = p.read().names.clone();
    {
        let mut w = p.write();
        let mut d = w.names.clone();
        d.push("c".into());
        w.blobs.push(PVec::from([1u8, 2]));
        w.people.push(Person {
            age: 3,
            name: "p".into(),
        });
        let people = w.people.clone();
        w.people.extend(people);
        w.names = d;
    }
    assert_eq!(texts(&c), ["a", "b"]);
    assert_eq!(texts(&p.read().names), ["a", "b", "c"]);
    assert_eq!(p.read().people.len(), 2);
    let taken = p.write().names.split_off(1);
    let mut seen = Vec::new();
    for s in taken {
        seen.push(s.to_string());
    }
    assert_eq!(seen, ["b", "c"]);
    drop(c);
    p.check().unwrap();
}

/// Values kept in a thread-local drop when their thread exits, also after the thread's own
/// copy of the pool registry is gone (thread-locals are destroyed in reverse order of first
/// use: this one was used before the registry copy).
#[test]
fn values_in_a_thread_local_drop_at_thread_exit() {
    use std::cell::RefCell;
    thread_local! {
        static KEEP: RefCell<Vec<PString>> = const { RefCell::new(Vec::new()) };
    }
    std::thread::spawn(|| {
        KEEP.with(|k| {
            let mut k = k.borrow_mut();
            for i in 0..3 {
                k.push(PString::from(format!("kept {i}").as_str()));
            }
            assert_eq!(k[2], "kept 2");
        });
    })
    .join()
    .expect("the thread exits cleanly");
}
