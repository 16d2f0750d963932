//! Issue 12, F6 continued: a copy of a handle that left pool memory through std
//! (`mem::take`, `Option::take`) in a transaction that then rolled back. The rollback gives
//! the pool its value back, so the copy owns nothing. Its drop frees nothing (`values.rs`);
//! here the other ways std code uses such a copy: changing it, storing it, and keeping it
//! past a close and reopen of its pool's file. Each of these corrupted the pool before
//! (`check()`: a block owned twice, or freed while in use).

mod common;

use common::TempDir;

use pcoll::{Durability, PBox, PHashMap, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    lists: PHashMap<u64, PVec<u64>>,
    b: Option<PBox<[u64; 4]>>,
    vs: PVec<PVec<u64>>,
}

fn open(path: &std::path::Path) -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .open(path)
        .unwrap()
}

/// `v = [0, 1, 2, 3]` in the pool, and a copy of its handle from a rolled-back `mem::take`.
fn rolled_back_copy(p: &Pool<Root>) -> PVec<u64> {
    p.write().v.extend(0..4);
    let mut w = p.write();
    let stash = std::mem::take(&mut w.v);
    w.abort();
    stash
}

/// Changing the copy would change (or, growing it, free) the block the pool's `v` owns:
/// the first change makes it a value of its own (a copy in process memory), so the pool's
/// value stays as it is, and the copy drops anywhere.
#[test]
fn a_rolled_back_copy_changes_alone() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    let mut stash = rolled_back_copy(&p);
    assert_eq!(stash, [0, 1, 2, 3]); // reads what the pool holds
    {
        let _w = p.write();
        stash.extend(4..1000);
    }
    p.write().lists.insert(1, vec![5; 4]); // would reuse a block freed by the growth
    p.check().unwrap();
    assert_eq!(p.read().v, [0, 1, 2, 3]);
    assert_eq!(p.read().lists[&1], [5; 4]);
    assert_eq!(stash.len(), 1000);
    assert_eq!(stash[999], 999);
    p.write().v.push(77); // the two change independently
    assert_eq!(p.read().v, [0, 1, 2, 3, 77]);
    assert_eq!(stash[4], 4);
    drop(p);
    stash.push(1000); // outside any transaction: it is process memory now
    assert_eq!(stash.iter().sum::<u64>(), (0..=1000u64).sum::<u64>());
}

/// A box too, changed through `DerefMut`.
#[test]
fn a_rolled_back_box_changes_alone() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    p.write().b = Some(PBox::new([1, 2, 3, 4]));
    let mut stash = {
        let mut w = p.write();
        let s = w.b.take();
        w.abort();
        s
    };
    {
        let _w = p.write();
        stash.as_mut().unwrap()[0] = 9;
    }
    p.check().unwrap();
    assert_eq!(p.read().b.as_deref(), Some(&[1, 2, 3, 4]));
    assert_eq!(stash.as_deref(), Some(&[9, 2, 3, 4]));
}

/// Stored into a container, the copy becomes a value of its own (a deep copy): the two
/// change independently and `check()` finds one owner per block.
#[test]
fn a_rolled_back_copy_stored_is_a_value_of_its_own() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    let stash = rolled_back_copy(&p);
    p.write().lists.insert(1, stash);
    p.check().unwrap();
    p.write().lists.get_mut(&1).unwrap().push(9);
    p.write().v.push(4);
    p.check().unwrap();
    assert_eq!(p.read().lists[&1], [0, 1, 2, 3, 9]);
    assert_eq!(p.read().v, [0, 1, 2, 3, 4]);
}

/// Assigned back over its own original (which that assignment drops, freeing the block),
/// the copy is stored as a copy: the field never names a freed block.
#[test]
fn a_rolled_back_copy_assigned_over_its_original() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    let stash = rolled_back_copy(&p);
    p.write().v = stash;
    p.write().lists.insert(1, vec![5; 4]); // would reuse the freed block
    p.check().unwrap();
    assert_eq!(p.read().v, [0, 1, 2, 3]);
    assert_eq!(p.read().lists[&1], [5; 4]);
}

/// The pool closes and its file opens again (same tag, so the copy resolves there): the
/// copy still owns nothing. Its drop frees nothing, and storing it copies it. A box too.
#[test]
fn a_rolled_back_copy_owns_nothing_after_a_reopen() {
    let dir = TempDir::new("values-after-rollback");
    let path = dir.file("a.pool");
    let (stash, boxed) = {
        let p = open(&path);
        let stash = rolled_back_copy(&p);
        p.write().b = Some(PBox::new([1, 2, 3, 4]));
        let mut w = p.write();
        let boxed = w.b.take();
        w.abort();
        (stash, boxed)
    };
    let p = open(&path);
    {
        let _w = p.write();
        drop(boxed);
    }
    p.write().lists.insert(1, stash);
    p.write().lists.insert(2, vec![5; 4]); // would reuse a wrongly freed block
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.v, [0, 1, 2, 3]);
    assert_eq!(r.lists[&1], [0, 1, 2, 3]);
    assert_eq!(r.b.as_deref(), Some(&[1, 2, 3, 4]));
    drop(r);
    drop(p);
    open(&path).check().unwrap();
}

/// Two rolled-back `mem::take`s of one field leave two copies of one handle: each drop
/// frees nothing (the set counts copies; it forgot the handle after the first drop, and the
/// second freed the pool's block), and so does a change or a store of either.
#[test]
fn two_rolled_back_copies_of_one_handle() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    let first = rolled_back_copy(&p);
    let mut second = {
        let mut w = p.write();
        let s = std::mem::take(&mut w.v);
        w.abort();
        s
    };
    let third = {
        let mut w = p.write();
        let s = std::mem::take(&mut w.v);
        w.abort();
        s
    };
    {
        let mut w = p.write();
        drop(first);
        second.push(4);
        w.lists.insert(1, third);
    }
    p.write().lists.insert(2, vec![5; 4]); // would reuse a wrongly freed block
    p.check().unwrap();
    assert_eq!(p.read().v, [0, 1, 2, 3]);
    assert_eq!(p.read().lists[&1], [0, 1, 2, 3]);
    assert_eq!(second, [0, 1, 2, 3, 4]);
}

/// The pool's own value is handed out (`remove`) while a rolled-back copy of its handle is
/// outside: the handed-out value owns the blocks (they are freed with it), and the copy's
/// later drop frees nothing (the container's hand-out used to forget the copy, whose drop
/// then freed the block a second time).
#[test]
fn a_rolled_back_copy_outlives_its_original_handed_out() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    p.write().lists.insert(1, vec![1, 2, 3]);
    let stash = {
        let mut w = p.write();
        let s = std::mem::take(w.lists.get_mut(&1).unwrap());
        w.abort();
        s
    };
    let out = p.write().lists.remove(&1).unwrap();
    assert_eq!(out, [1, 2, 3]);
    p.write().lists.insert(2, vec![5; 3]); // may reuse the freed block
    {
        let _w = p.write();
        drop(stash);
    }
    p.write().lists.insert(3, vec![6; 3]);
    p.check().unwrap();
    assert_eq!(p.read().lists[&2], [5; 3]);
    assert_eq!(p.read().lists[&3], [6; 3]);
}

/// Stored into a full pool, the copy cannot be copied in: `try_push` answers `OutOfSpace` and
/// gives the copy back unchanged (still a copy that frees nothing), and the pool is as it was.
#[test]
fn a_rolled_back_copy_stored_into_a_full_pool() {
    let p = Pool::<Root>::options()
        .initial_size(256 << 10)
        .max_size(256 << 10)
        .in_memory()
        .unwrap();
    p.write().v.extend(0..4000);
    let stash = {
        let mut w = p.write();
        let s = std::mem::take(&mut w.v);
        w.abort();
        s
    };
    let back = {
        let mut w = p.write();
        while w.vs.try_push(PVec::from(vec![7u64; 512])).is_ok() {}
        let (e, back) = w.vs.try_push(stash).unwrap_err();
        assert!(matches!(e, pcoll::Error::OutOfSpace { .. }), "{e}");
        back
    };
    assert_eq!(back.len(), 4000);
    {
        let _w = p.write();
        drop(back);
    }
    p.check().unwrap();
    assert!(p.read().v.iter().copied().eq(0..4000));
    assert!(p.read().vs.iter().all(|x| *x == [7u64; 512][..]));
}

/// A handle to a block the transaction allocated, taken out of pool memory after its
/// vector shifted (the shift leaves a stale copy of the last slot's bits past the end): the
/// copy owns nothing once the rollback frees the block, even after the pool reused it. This
/// is why the rollback counts every block the transaction allocated, even one whose handle
/// its regions still seem to hold: a version that left those out (to spare a retry's values
/// from being copied when taken out later) freed a reused block here.
#[test]
fn a_fresh_handle_taken_out_after_a_shift_owns_nothing() {
    let dir = TempDir::new("after-rollback-shift");
    let p = open(&dir.file("r.pool"));
    {
        // Room for every push below: the slots stay in a block older than the transaction,
        // so the rollback reads them (the handed-out regions of fresh blocks it does not).
        let mut w = p.write();
        w.vs.reserve(32);
        w.vs.push((0..2).collect());
    }
    let outside = {
        let mut w = p.write();
        for i in 1..6u64 {
            w.vs.push((0..i).collect());
        }
        w.vs.iter_mut().for_each(|v| v.push(9));
        w.vs.remove(0);
        let last = w.vs.len() - 1;
        let out = std::mem::take(&mut w.vs[last]);
        w.abort();
        out
    };
    {
        let mut w = p.write();
        for i in 0..20u64 {
            w.vs.push((0..i).collect());
        }
    }
    {
        let _w = p.write();
        drop(outside);
    }
    p.check().unwrap();
    let r = p.read();
    assert_eq!(r.vs.len(), 21);
    assert!(r.vs.iter().skip(1).enumerate().all(|(i, v)| v.len() == i));
}

/// The retry after a failed transaction: the blocks a rolled-back transaction allocated are
/// allocated again by the next one, and a later transaction takes the root's values out of
/// pool memory and changes them (std's `mem::take`, then `push`, `retain`, `iter_mut`). No
/// copy of their handles left the rolled-back transaction (the root's fields held them when
/// it rolled back), so these are the pool's own values: changed in place, nothing leaks.
/// Before, every block the rolled-back transaction allocated counted as one whose handle
/// might have left, so each value here was copied on its first change and its blocks leaked
/// (`check()` reported them). Still so (ARCHITECTURE.md, "disowned"): a value whose handle
/// sat in a slot of another container (an element of `vs`) taken out on its own.
#[test]
fn root_values_whose_blocks_a_rollback_freed_and_a_retry_reused_change_in_place() {
    for variant in 0..3 {
        let dir = TempDir::new("after-rollback-retry");
        let p = open(&dir.file("r.pool"));
        let fill = |r: &mut Root| {
            r.v.extend(0..4);
            r.lists.insert(7, (0..4).collect::<PVec<u64>>());
            r.vs.push((0..4).collect());
        };
        let mut w = p.write();
        fill(&mut w);
        w.abort();
        fill(&mut p.write());
        let mut w = p.write();
        match variant {
            0 => {
                let mut v = std::mem::take(&mut w.v);
                v.push(4);
                w.v = v;
            }
            1 => {
                let mut l = std::mem::take(&mut w.lists);
                l.retain(|_, v| v.len() == 4);
                l.get_mut(&7).unwrap().push(4);
                w.lists = l;
            }
            _ => {
                let mut vs = std::mem::take(&mut w.vs);
                vs.push((0..2).collect());
                w.vs = vs;
            }
        }
        drop(w);
        if let Err(e) = p.check() {
            panic!("variant {variant}: {e}");
        }
    }
}
