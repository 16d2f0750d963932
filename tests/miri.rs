//! The heap, log, transactions and PBox on a memory-backed pool, sized for Miri:
//! `MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-ignore-leaks" cargo +nightly miri test --test miri`
//! (the scratch pool that holds values outside pools lives as long as the process).
//! Also runs as an ordinary test.

use pcoll::{Durability, Error, PBox, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    n: u64,
    flag: bool,
    one: Option<PBox<(u32, char)>>,
    big: Option<PBox<[u64; 700]>>, // > one page: a page-run block
    nested: Option<PBox<Option<PBox<u16>>>>,
}

fn pool() -> Pool<Root> {
    small_pool()
}

fn small_pool<R: Persistent + Default>() -> Pool<R> {
    Pool::<R>::options()
        .durability(Durability::Process)
        .initial_size(128 << 10)
        .max_size(512 << 10)
        .in_memory()
        .unwrap()
}

#[test]
fn alloc_mutate_free_rollback() {
    let p = pool();
    {
        let mut w = p.write();
        w.n = 1;
        w.flag = true;
        w.one = Some(PBox::new((5, 'x')));
        w.big = Some(PBox::new([3; 700]));
        w.nested = Some(PBox::new(Some(PBox::new(9))));
    }
    {
        let mut w = p.write();
        w.one.as_mut().unwrap().0 += 1;
        w.big.as_mut().unwrap()[699] = 4;
        **w.nested.as_mut().unwrap().as_mut().unwrap() = 10;
    }
    let r: Result<(), Error> = p.transaction(|root| {
        root.n = 99;
        root.big = None;
        root.nested = Some(PBox::new(None));
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    {
        let r = p.read();
        assert_eq!(r.n, 1);
        assert_eq!(*r.one.as_deref().unwrap(), (6, 'x'));
        assert_eq!(r.big.as_deref().unwrap()[699], 4);
        assert_eq!(**r.nested.as_deref().unwrap().as_ref().unwrap(), 10);
    }
    assert_eq!(p.check().unwrap().blocks, 6); // root, schema, one, big, nested and its inner box
    {
        let mut w = p.write();
        w.nested = None; // frees two blocks (outer and inner box)
        w.big = None;
    }
    assert_eq!(p.check().unwrap().blocks, 3); // root, schema, one
}

#[test]
fn panic_rolls_back() {
    let p = pool();
    {
        let mut w = p.write();
        w.one = Some(PBox::new((1, 'a')));
    }
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = p.write();
        w.one = Some(PBox::new((2, 'b')));
        w.n = 7;
        panic!("inside a transaction");
    }));
    assert!(res.is_err());
    assert_eq!(*p.read().one.as_deref().unwrap(), (1, 'a'));
    assert_eq!(p.read().n, 0);
    p.check().unwrap();
}

#[test]
fn moved_out_handles_read_anywhere() {
    let p = pool();
    p.write().one = Some(PBox::new((3, 'c')));
    let mut w = p.write();
    let moved = w.one.take().unwrap(); // a pool handle, now on the stack
    assert_eq!(moved.0, 3, "read through its pool's tag");
    w.one = Some(moved); // moving it back in is fine
    assert_eq!(w.one.as_deref().unwrap().1, 'c');
    drop(w);
    p.check().unwrap();
}

#[test]
fn two_memory_pools() {
    let (a, b) = (pool(), pool());
    let mut wa = a.write();
    let mut wb = b.write();
    wa.n = 1;
    wb.n = 2;
    drop((wa, wb));
    assert_eq!((a.read().n, b.read().n), (1, 2));
}

#[derive(Persistent, Default)]
struct MapRoot {
    m: pcoll::PHashMap<u64, pcoll::PString>,
    s: pcoll::PHashSet<u32>,
    v: pcoll::PVec<u16>,
}

/// The map's raw table (group loads, control-byte mirrors, moves during growth), iterators
/// handing out `&mut` values, entries, removal and rollback, under Miri's aliasing model.
#[test]
fn maps_grow_iterate_and_roll_back() {
    let p = Pool::<MapRoot>::options()
        .durability(Durability::Process)
        .initial_size(128 << 10)
        .max_size(1 << 20)
        .in_memory()
        .unwrap();
    {
        let mut w = p.write();
        for i in 0..40u64 {
            w.m.insert(i, i.to_string().as_str());
            w.s.insert(i as u32);
        }
        w.v.extend([1, 2, 3]);
        let v0 = w.v.get_mut(0).unwrap();
        *v0 += 1;
    }
    {
        let mut w = p.write();
        let mut refs: Vec<&mut pcoll::PString> = w.m.values_mut().collect();
        refs[0].push('!'); // several &mut values alive at once
        refs[1].push('?');
        w.m.entry(101).or_insert("hundred").push('.');
        w.m.remove(&3);
        w.m.retain(|k, _| k % 5 != 0);
        w.s.remove(&7);
    }
    let before: Vec<(u64, String)> = {
        let r = p.read();
        let mut all: Vec<_> = r.m.iter().map(|(k, v)| (*k, v.to_string())).collect();
        all.sort();
        all
    };
    {
        let mut w = p.write();
        w.m.extend((200..240u64).map(|i| (i, "x")));
        w.m.clear();
        w.s.clear();
        w.abort();
    }
    let r = p.read();
    let mut after: Vec<_> = r.m.iter().map(|(k, v)| (*k, v.to_string())).collect();
    after.sort();
    assert_eq!(before, after);
    assert_eq!(r.m[&101], "hundred.");
    assert_eq!(r.s.len(), 39);
    drop(r);
    p.check().unwrap();
}

#[derive(Persistent, Default)]
struct TreeRoot {
    t: pcoll::PBTreeMap<u32, pcoll::PString>,
    s: pcoll::PBTreeSet<u16>,
}

/// The B-tree's node moves (splits up to a new root, merges, rotations, root collapse),
/// cursors walking from both ends, and `&mut` values from `range_mut`, under Miri.
#[test]
fn btree_splits_merges_and_cursors() {
    let p = Pool::<TreeRoot>::options()
        .durability(Durability::Process)
        .initial_size(128 << 10)
        .max_size(1 << 20)
        .in_memory()
        .unwrap();
    {
        let mut w = p.write();
        w.t = pcoll::PBTreeMap::ranked(); // its nodes hold counts (RankedInternal)
        for i in 0..150u32 {
            w.t.insert(i * 7 % 151, i.to_string().as_str());
            w.s.insert((i % 40) as u16);
        }
        assert!(w.t.height() >= 2);
        let mut refs: Vec<&mut pcoll::PString> = w.t.range_mut(10..20).map(|(_, v)| v).collect();
        refs[0].push('!');
        refs[9].push('?');
    }
    {
        let mut w = p.write();
        for i in (0..151u32).step_by(2) {
            w.t.remove(&i);
        }
        w.t.pop_first();
        w.t.pop_last();
        w.t.verify_tree().unwrap();
        w.abort();
    }
    let r = p.read();
    assert_eq!(r.t.len(), 150);
    let fwd: Vec<u32> = r.t.keys().copied().collect();
    let mut back: Vec<u32> = r.t.keys().rev().copied().collect();
    back.reverse();
    assert_eq!(fwd, back);
    assert!(r.t[&10].ends_with('!'));
    assert_eq!(r.s.len(), 40);
    r.t.verify_tree().unwrap();
    assert!(r.t.is_ranked() && !r.s.is_ranked());
    // Positions by the edges' subtree counts: one descent each (the set walks).
    assert_eq!(r.t.iter().nth(70).map(|(k, _)| *k), Some(fwd[70]));
    assert_eq!(r.t.keys().rev().nth(5), Some(&fwd[fwd.len() - 6]));
    assert_eq!(r.t.range(..fwd[100]).count(), 100);
    assert_eq!(r.s.range(3..).nth_back(2), Some(&37));
    drop(r);
    let mut w = p.write();
    w.t.range_mut(0u32..).nth(3).unwrap().1.push('#');
    assert!(w.t[&fwd[3]].ends_with('#'));
    drop(w);
    p.check().unwrap();
}

#[derive(Persistent, Default)]
struct Values {
    names: pcoll::PVec<pcoll::PString>,
    by_id: pcoll::PHashMap<u64, pcoll::PString>,
    name: pcoll::PString,
}

fn values_pool() -> Pool<Values> {
    small_pool()
}

/// Issue 12's paths under Miri: values built outside a pool (the scratch pool), a sort's
/// temporaries, values handed out and read after their pool is gone, a move between pools by
/// method and by assignment (the commit's fixup), and a rollback that drops what it overwrote.
#[test]
fn values_leave_and_enter_pools() {
    use pcoll::PString;
    let (a, b) = (values_pool(), values_pool());
    let built = PString::from("built outside");
    {
        let mut w = a.write();
        for s in ["q", "w", "e", "r", "t", "y", "u", "i", "o", "p", "a", "s"] {
            w.names.push(s.into());
        }
        w.names.sort();
        w.by_id.insert(1, built);
        w.name = "assigned".into();
    }
    let (popped, removed) = {
        let mut w = a.write();
        (w.names.pop().unwrap(), w.by_id.remove(&1).unwrap())
    };
    {
        let (mut wa, mut wb) = (a.write(), b.write());
        let s = wa.names.remove(0);
        wb.by_id.insert(2, s);
        wb.name = std::mem::take(&mut wa.name);
        drop(wb); // b commits (copies the name in) while a's transaction is open
    }
    {
        let mut w = a.write();
        w.name = "rolled back".into();
        w.abort();
    }
    a.check().unwrap();
    b.check().unwrap();
    assert_eq!(b.read().by_id[&2], "a");
    assert_eq!(b.read().name, "assigned");
    assert!(a.read().names.is_sorted());
    drop((a, b));
    assert_eq!((popped.as_str(), removed.as_str()), ("y", "built outside"));
}

/// Lent values (`src/collections/lent.rs`): given back unread and after a read, changed,
/// kept past a commit (a `&str` borrowed before it) and past a rollback, dropped late.
#[test]
fn lent_values_come_back_or_become_copies() {
    let a = values_pool();
    {
        let mut w = a.write();
        for (i, s) in ["zero", "one", "two", "three", "four"]
            .into_iter()
            .enumerate()
        {
            w.by_id.insert(i as u64, s);
        }
    }
    let (kept, unread);
    {
        let mut w = a.write();
        let v = w.by_id.remove(&0).unwrap();
        w.by_id.insert(10, v);
        let r = w.by_id.remove(&1).unwrap();
        assert_eq!(r, "one");
        w.by_id.insert(11, r);
        let mut c = w.by_id.remove(&2).unwrap();
        c.push_str("!");
        w.by_id.insert(12, c);
        kept = w.by_id.remove(&3).unwrap();
        let early: &str = kept.as_str();
        drop(w);
        assert_eq!(early, "three");
    }
    {
        let mut w = a.write();
        unread = w.by_id.remove(&4).unwrap();
        w.abort();
    }
    a.write().by_id.get_mut(&4).unwrap().push_str(" more");
    a.check().unwrap();
    let r = a.read();
    assert_eq!(
        (r.by_id[&10].as_str(), r.by_id[&11].as_str()),
        ("zero", "one")
    );
    assert_eq!(
        (r.by_id[&12].as_str(), r.by_id[&4].as_str()),
        ("two!", "four more")
    );
    drop(r);
    drop(a);
    assert_eq!((kept.as_str(), unread.as_str()), ("three", "four"));
}

/// Copies left over from rolled-back transactions (`tests/values_after_rollback.rs`): one
/// changed (a deep copy into the scratch pool first), one stored (a deep copy into the pool),
/// both dropped; the pool's values stay as they were.
#[test]
fn rolled_back_copies_change_and_store_alone() {
    let a = values_pool();
    a.write().name = "kept".into();
    a.write().names.push("first".into());
    let (mut changed, stored) = {
        let mut w = a.write();
        let c = std::mem::take(&mut w.name);
        let s = std::mem::take(&mut w.names[0]);
        w.abort();
        (c, s)
    };
    {
        let mut w = a.write();
        changed.push_str(" and changed");
        w.by_id.insert(1, stored);
    }
    a.check().unwrap();
    assert_eq!(a.read().name, "kept");
    assert_eq!(a.read().by_id[&1], "first");
    assert_eq!(a.read().names[0], "first");
    drop(a);
    assert_eq!(changed.as_str(), "kept and changed");
}

/// Re-entrant read guards share one lock guard through the thread's table (a raw pointer
/// turned back into an `Rc`): taken, cloned, dropped out of order, then a writer.
#[test]
fn reentrant_reads_share_one_lock() {
    let p = small_pool::<Root>();
    let r1 = p.read();
    let r2 = p.read();
    let r3 = p.try_read().unwrap();
    drop(r1);
    assert_eq!(r3.n, r2.n);
    drop(r3);
    drop(r2);
    let w = p.try_write().unwrap();
    drop(w);
    drop(p.read());
}

#[derive(Persistent, Default)]
struct Queues {
    q: pcoll::PVecDeque<u64>,
    s: pcoll::PVecDeque<pcoll::PVec<u8>>,
}

/// A queue's rebalance of a long side copies the half that stays into a fresh block (the
/// raw moves of `PVec::move_into`), committed and rolled back.
#[test]
fn long_queue_sides_move_to_fresh_blocks() {
    let p = small_pool::<Queues>();
    {
        let mut w = p.write();
        for i in 0..1100 {
            w.q.push_front(i);
        }
        for i in 0..360u16 {
            w.s.push_front_from(&i.to_le_bytes()[..]);
        }
    }
    let r: Result<(), Error> = p.transaction(|root| {
        assert_eq!(root.q.pop_back(), Some(0));
        assert_eq!(
            root.s.pop_back().unwrap().as_slice(),
            &0u16.to_le_bytes()[..]
        );
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    let logged = p.stats().txn.log_bytes;
    {
        let mut w = p.write();
        assert_eq!(w.q.pop_back(), Some(0));
        assert_eq!(w.q.pop_front(), Some(1099));
        assert_eq!(w.s.pop_back().unwrap().as_slice(), &0u16.to_le_bytes()[..]);
    }
    // Shifted in place, the two halves that stay (8.7 KB) would have been logged first.
    let logged = p.stats().txn.log_bytes - logged;
    assert!(logged < 4096, "{logged} bytes logged");
    let r = p.read();
    assert!(r.q.iter().copied().eq((1..1099).rev()));
    assert_eq!(r.s.len(), 359);
    assert_eq!(r.s[0].as_slice(), &359u16.to_le_bytes()[..]);
    drop(r);
    p.check().unwrap();
}
