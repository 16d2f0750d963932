//! Values that containers hand out are lent while their transaction is open
//! (`src/collections/lent.rs`): stored back into the same pool in that transaction they copy
//! nothing; read, kept past the commit or the rollback, changed, dropped early or late, moved
//! to another pool or into process memory, they behave as std values, and `check()` stays
//! clean after each (issue 12).

mod common;

use common::TempDir;

use pcoll::{PBTreeMap, PBox, PHashMap, PString, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    lists: PHashMap<u64, PVec<u64>>,
    other: PBTreeMap<u64, PVec<u64>>,
    names: PVec<PString>,
    by_id: PHashMap<u64, PString>,
    nested: PHashMap<u64, PHashMap<u64, PString>>,
    boxes: PVec<PBox<PString>>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options().in_memory().unwrap()
}

fn file_pool(dir: &TempDir, name: &str) -> Pool<Root> {
    Pool::<Root>::open(dir.path().join(name)).unwrap()
}

const N: u64 = 1_000_000;

/// The case: a 1 M-element vector removed from one map and inserted into another in
/// one transaction keeps its buffer (no element copied), and the pool is whole after a reopen.
#[test]
fn remove_then_insert_in_one_pool_copies_nothing() {
    let dir = TempDir::new("lent-move");
    {
        let p = file_pool(&dir, "p.pool");
        p.write().lists.insert(1, (0..N).collect::<Vec<u64>>());
        let before = p.read().lists[&1].as_ptr();
        {
            let mut w = p.write();
            let v = w.lists.remove(&1).unwrap();
            w.other.insert(7, v);
        }
        p.check().unwrap();
        assert_eq!(p.read().other[&7].as_ptr(), before, "the buffer was copied");
        // Back again, through the entry API and `pop_first`.
        {
            let mut w = p.write();
            let (k, v) = w.other.pop_first().unwrap();
            w.lists.entry(k).or_insert(v);
        }
        p.check().unwrap();
        assert_eq!(p.read().lists[&7].as_ptr(), before);
    }
    let p = file_pool(&dir, "p.pool");
    p.check().unwrap();
    assert!(p.read().lists[&7].iter().copied().eq(0..N));
    assert!(p.read().other.is_empty());
}

/// Read inside the transaction, then kept past the commit and past the pool's close: the
/// value reads as it was, a `&str` borrowed before the commit stays valid, and its drop after
/// the close frees nothing of the pool's.
#[test]
fn a_removed_value_reads_after_commit_and_close() {
    let dir = TempDir::new("lent-keep");
    let (kept, unread);
    {
        let p = file_pool(&dir, "p.pool");
        {
            let mut w = p.write();
            w.by_id.insert(1, "one");
            w.by_id.insert(2, "two");
            w.lists.insert(3, vec![1u64, 2, 3]);
        }
        let mut w = p.write();
        kept = w.by_id.remove(&1).unwrap();
        let early: &str = kept.as_str();
        unread = w.lists.remove(&3).unwrap();
        // The pool reuses what the removal freed; the values must not see it.
        w.by_id.insert(4, "xxxx");
        w.lists.insert(5, vec![9u64; 64]);
        drop(w);
        assert_eq!(early, "one");
        p.check().unwrap();
        let mut w = p.write();
        for i in 10..200u64 {
            w.by_id.insert(i, "overwrite the freed blocks");
        }
        drop(w);
        assert_eq!(early, "one");
        p.check().unwrap();
    }
    assert_eq!(kept, "one");
    assert_eq!(unread, [1, 2, 3]);
    drop(kept);
    drop(unread);
    let p = file_pool(&dir, "p.pool");
    p.check().unwrap();
    assert_eq!(p.read().by_id[&2], "two");
    assert!(!p.read().by_id.contains_key(&1));
}

/// A value removed in a transaction that rolls back is a value of its own: it reads what it
/// held, the pool has its original back, a later change to the pool's value does not reach
/// it, and its drop frees nothing of the pool's. Read before the rollback or not.
#[test]
fn a_removed_value_outlives_a_rollback() {
    let p = pool();
    {
        let mut w = p.write();
        w.by_id.insert(1, "one");
        w.lists.insert(2, vec![1u64, 2, 3]);
        w.nested.entry(3).or_default().insert(30, "thirty");
    }
    let (read_early, unread, inner);
    {
        let mut w = p.write();
        read_early = w.by_id.remove(&1).unwrap();
        assert_eq!(read_early, "one");
        unread = w.lists.remove(&2).unwrap();
        inner = w.nested.remove(&3).unwrap();
        w.abort();
    }
    p.check().unwrap();
    {
        let mut w = p.write();
        w.by_id.get_mut(&1).unwrap().make_ascii_uppercase();
        w.lists.get_mut(&2).unwrap()[0] = 100;
        w.nested.get_mut(&3).unwrap().insert(31, "more");
    }
    assert_eq!(read_early, "one");
    assert_eq!(unread, [1, 2, 3]);
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[&30], "thirty");
    {
        let _w = p.write();
        drop(read_early);
        drop(unread);
        drop(inner);
    }
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.by_id[&1], "ONE");
    assert_eq!(r.lists[&2], [100, 2, 3]);
    assert_eq!(r.nested[&3].len(), 2);
}

/// Changed, dropped early, stored back where it came from, pushed into process memory or
/// into another pool: every path leaves both pools clean, and the values read as std's.
#[test]
fn every_end_of_a_lent_value() {
    let (a, b) = (pool(), pool());
    {
        let mut w = a.write();
        for i in 0..6u64 {
            w.lists.insert(i, vec![i; 100]);
            w.names.push_from(format!("name {i}").as_str());
        }
    }
    let mut outside = PVec::<PVec<u64>>::new();
    {
        let mut wa = a.write();
        let mut wb = b.write();
        // Changed in the transaction: it becomes a value of its own.
        let mut changed = wa.lists.remove(&0).unwrap();
        changed.push(7);
        assert_eq!(changed.len(), 101);
        // Dropped in the transaction.
        drop(wa.lists.remove(&1));
        // Stored back into the same map.
        let back = wa.lists.remove(&2).unwrap();
        wa.lists.insert(2, back);
        // Into process memory.
        outside.push(wa.lists.remove(&3).unwrap());
        // Into another pool.
        let moved = wa.lists.remove(&4).unwrap();
        wb.lists.insert(4, moved);
        // Swapped into a slot through `&mut` (settled at commit).
        let mut s = wa.names.pop().unwrap();
        std::mem::swap(&mut s, &mut wa.names[0]);
        assert_eq!(s, "name 0");
        assert_eq!(wa.names[0], "name 5");
        wa.lists.insert(10, changed);
    }
    a.check().unwrap();
    b.check().unwrap();
    assert_eq!(outside[0], [3u64; 100]);
    let ra = a.read();
    assert_eq!(ra.lists.len(), 3);
    assert_eq!(ra.lists[&2], [2u64; 100]);
    assert_eq!(ra.lists[&5], [5u64; 100]);
    assert_eq!(ra.lists[&10].len(), 101);
    assert_eq!(ra.names[0], "name 5");
    assert_eq!(b.read().lists[&4], [4u64; 100]);
}

/// std's algorithms over values handed out: a `Vec` of removed strings sorted, deduplicated
/// and stored back, in the transaction and after it.
#[test]
fn std_algorithms_over_lent_values() {
    let p = pool();
    let words: Vec<String> = (0..500)
        .map(|i| format!("w{:03}", (i * 7919) % 500))
        .collect();
    {
        let mut w = p.write();
        for (i, s) in words.iter().enumerate() {
            w.by_id.insert(i as u64, s.as_str());
        }
    }
    let mut out: Vec<PString>;
    {
        let mut w = p.write();
        out = (0..250u64).map(|i| w.by_id.remove(&i).unwrap()).collect();
        out.sort();
        let mut want: Vec<String> = words[..250].to_vec();
        want.sort();
        assert!(
            out.iter()
                .map(|s| s.as_str())
                .eq(want.iter().map(|s| s.as_str()))
        );
        for (i, s) in out.drain(..100).enumerate() {
            w.by_id.insert(1000 + i as u64, s);
        }
    }
    p.check().unwrap();
    out.sort_by(|x, y| y.cmp(x));
    assert!(out.windows(2).all(|w| w[0] >= w[1]));
    drop(out);
    p.check().unwrap();
    assert_eq!(p.read().by_id.len(), 350);
}

/// Boxes and `into_inner`, `swap_remove`, `split_off`, `drain`: each hands out lent values.
#[test]
fn boxes_and_bulk_hand_outs() {
    let p = pool();
    {
        let mut w = p.write();
        for i in 0..10 {
            w.boxes
                .push(PBox::new(PString::from(format!("b{i}").as_str())));
            w.names.push_from(format!("n{i}").as_str());
        }
    }
    let (inner, tail, drained);
    {
        let mut w = p.write();
        inner = PBox::into_inner(w.boxes.swap_remove(0));
        tail = w.names.split_off(7);
        drained = w.names.drain(..2).collect::<Vec<_>>();
        let b = w.boxes.pop().unwrap();
        w.boxes.insert(0, b);
    }
    p.check().unwrap();
    assert_eq!(inner, "b0");
    assert_eq!(tail.len(), 3);
    assert_eq!(tail[2], "n9");
    assert_eq!(drained[1], "n1");
    let r = p.read();
    assert_eq!(*r.boxes[0], "b8");
    assert_eq!(r.names.len(), 5);
}
