//! Crash images of the core transaction paths: every persistence point of each operation,
//! every (or a budgeted set of) subsets of the pending pages or lines, recovered and compared
//! with the state before and after the transaction. See `docs/TESTING.md`.

use pcoll::testing::{
    Config, Media, crash_check_both, crash_check_history, crash_check_open, interrupted_image,
    two_slot_image, unpacked_ring_image,
};
use pcoll::{PBox, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    a: u64,
    b: [[u64; 30]; 20], // 4800 bytes: a logged range spanning two pages
    one: Option<PBox<u64>>,
    big: Option<PBox<[u8; 20000]>>,
    many: [Option<PBox<[u64; 4]>>; 16],
}

type Model = (u64, u64, u64, Option<u64>, Option<u8>, Vec<Option<u64>>);

fn observe(r: &Root) -> Model {
    (
        r.a,
        r.b[0][0],
        r.b[19][29],
        r.one.as_deref().copied(),
        r.big.as_deref().map(|b| b[19999]),
        r.many.iter().map(|m| m.as_deref().map(|x| x[3])).collect(),
    )
}

fn both_media(name: &str, setup: impl Fn(&Pool<Root>) + Copy, op: impl Fn(&mut Root) + Copy) {
    let cfg = Config::default();
    crash_check_both(name, cfg, setup, op, observe);
}

fn none(_: &Pool<Root>) {}

fn filled(p: &Pool<Root>) {
    let mut w = p.write();
    w.a = 1;
    w.one = Some(PBox::new(11));
    w.big = Some(PBox::new([1; 20000]));
    for (i, m) in w.many.iter_mut().enumerate() {
        *m = Some(PBox::new([i as u64; 4]));
    }
}

#[test]
fn one_word() {
    both_media("one word", none, |r| r.a = 7);
}

#[test]
fn multi_page_range() {
    both_media("multi-page range", none, |r| {
        r.a = 1;
        r.b = [[9; 30]; 20];
    });
}

#[test]
fn allocate_small_and_large() {
    both_media("allocate", none, |r| {
        r.one = Some(PBox::new(5));
        r.big = Some(PBox::new([7; 20000]));
    });
}

#[test]
fn free_and_replace() {
    both_media("free and replace", filled, |r| {
        r.one = None;
        r.big = Some(PBox::new([2; 20000]));
        r.many[3] = None;
        r.many[5] = Some(PBox::new([50; 4]));
    });
}

#[test]
fn mutate_through_pbox() {
    both_media("mutate through PBox", filled, |r| {
        **r.one.as_mut().unwrap() += 1;
        r.big.as_mut().unwrap()[19999] = 9;
    });
}

#[test]
fn growth_inside_a_transaction() {
    // The start pool has 256 KiB; these allocations force the file to grow mid-transaction.
    both_media("growth", none, |r| {
        r.big = Some(PBox::new([3; 20000]));
        for (i, m) in r.many.iter_mut().enumerate() {
            *m = Some(PBox::new([i as u64 + 100; 4]));
        }
        let mut extra = Vec::new();
        for _ in 0..12 {
            extra.push(PBox::new([0u8; 20000]));
        }
        // Dropped before commit: allocated and freed in the same transaction.
        drop(extra);
        r.a = 42;
    });
}

/// Redo commits (issue 15) after a transaction too large for a redo slot, which commits with
/// the two-barrier undo protocol: the small transaction changes bytes the large one's commit
/// record checksums. (Recovery used to take the changed bytes for a torn second barrier of
/// the large one and roll it back, with every redo commit after it; the kill -9 loop found
/// it. The first redo commit now retires that record's count in its own barrier.)
#[test]
fn redo_after_an_undo_commit() {
    fn large_then_small(p: &Pool<Root>) {
        let mut w = p.write();
        w.big = Some(PBox::new([5; 20000])); // too large for a redo slot
        w.b[0][0] = 40;
        drop(w);
        p.write().b[0][0] = 41; // a redo commit in the setup too
    }
    both_media("redo after an undo commit", large_then_small, |r| {
        r.b[0][0] = 42;
        r.a += 1;
    });
    both_media("two redo commits in one history", large_then_small, |r| {
        r.b[19][29] = 9;
    });
}

/// The redo ring (issue 15): a commit that leaves the ring past half full checkpoints it
/// (every pending range handed to its home, one barrier). Each guard here logs the 5 KB
/// root, so the third small commit does. Crash images cover the record's barrier and the
/// checkpoint's; each recovery that replays records starts the ring again, so the small
/// follow-up commit after it writes its record over the older ones at the ring's start.
#[test]
fn redo_ring_checkpoint() {
    fn two_small(p: &Pool<Root>) {
        p.write().a = 1;
        p.write().b[0][0] = 2;
    }
    both_media("redo ring checkpoint", two_small, |r| {
        r.b[19][29] = 9;
        r.a = 3;
    });
}

/// The counts of durable small commits: one barrier each with the redo ring (the default),
/// plus a checkpoint (two barriers: the homes, then the commit record) whenever the ring is past
/// half full; this root's guard logs its 5 KB, so that is every few commits here.
#[test]
fn a_small_durable_commit_is_one_barrier() {
    let p = Pool::<Root>::options()
        .simulate(pcoll::Medium::File)
        .recorder(std::sync::Arc::new(NoRecorder))
        .log_size(60 << 10) // a 24 KiB ring, as the crash-image cases have
        .in_memory()
        .unwrap();
    p.write().a = 1; // first commit: may allocate nothing, still one record
    let (b0, c0) = (p.stats().barriers, p.stats().txn.checkpoints);
    for i in 0..20 {
        p.write().a = 2 + i;
    }
    let (b, c) = (p.stats().barriers - b0, p.stats().txn.checkpoints - c0);
    assert_eq!(
        b,
        20 + 2 * c,
        "one barrier per small commit, two per checkpoint"
    );
    assert!(
        (4..=10).contains(&c),
        "{c} checkpoints for 20 commits of 5 KB records"
    );
    let before = p.stats().barriers;
    p.write().big = Some(PBox::new([1; 20000])); // larger than half the ring: undo protocol
    let n = p.stats().barriers - before;
    assert!((2..=3).contains(&n), "{n} barriers for a large commit");
}

struct NoRecorder;
impl pcoll::Recorder for NoRecorder {
    fn event(&self, _: pcoll::Event, _: &[u8]) {}
}

/// The redo ring across a history (issue 15): redo commits leave their homes pending; an undo
/// commit makes them durable after its own log and before its record; later redo commits
/// start the ring again over the older records, fill it past half and checkpoint it (homes,
/// then the commit record that retires the records). Every image, at every barrier of every
/// commit, recovers to the acknowledged state or the next one.
#[test]
fn redo_ring_history() {
    let txns: [&dyn Fn(&mut Root); 10] = [
        &|r| r.a = 1,
        &|r| r.one = Some(PBox::new(2)),
        // Changes a block outside the root only: the undo commit below logs the whole root
        // (its guard does), so only this one's home depends on the ring alone.
        &|r| **r.one.as_mut().unwrap() = 3,
        &|r| {
            r.big = Some(PBox::new([5; 20000])); // larger than half the ring: undo commit
            r.b[19][29] = 3;
        },
        &|r| r.a = 4,
        &|r| r.b[0][0] = 5,
        &|r| **r.one.as_mut().unwrap() = 6,
        &|r| r.a = 7,
        &|r| r.many[2] = Some(PBox::new([8; 4])),
        &|r| r.b[19][29] = 9,
    ];
    for media in Media::BOTH {
        let cfg = Config {
            media,
            budget: 24,
            ..Config::default()
        };
        let rep = crash_check_history(cfg, none, &txns, observe);
        rep.assert_ok(&format!("redo ring history ({media:?})"));
    }
}

/// `Pool::checkpoint` after every commit (issue 15): the pending homes and the record that
/// retires the ring's records, each behind its barrier. Every image of every commit and
/// checkpoint recovers to the acknowledged state or the next one.
#[test]
fn explicit_checkpoints() {
    let txns: [&dyn Fn(&mut Root); 4] = [
        &|r| r.a = 2,
        &|r| **r.one.as_mut().unwrap() = 3,
        &|r| r.b[19][29] = 4,
        &|r| r.many[3] = None,
    ];
    for media in Media::BOTH {
        let cfg = Config {
            media,
            checkpoint_each: true,
            ..Config::default()
        };
        let rep = crash_check_history(cfg, filled, &txns, observe);
        rep.assert_ok(&format!("explicit checkpoints ({media:?})"));
    }
}

/// An open that rolls back an interrupted undo commit and replays a redo record committed
/// before it, then a first transaction that changes bytes beside and between the replayed
/// ranges (on their page) and elsewhere. No barrier before its commit point may carry its
/// bytes to the file: the settling of the rollback (its barrier, its record) and the
/// replayed homes must not take the page with the transaction's changes along.
#[test]
fn first_commit_after_a_replay_beside_the_replayed_ranges() {
    use pcoll::testing::interrupted_image_after;
    let small = |r: &mut Root| {
        r.a = 2;
        r.b[0][1] = 2; // two ranges with r.b[0][0] between them
    };
    let large = |r: &mut Root| {
        r.a = 9;
        r.big.as_mut().unwrap().fill(7); // 20 KB: an undo commit, not a redo record
    };
    let image = interrupted_image_after(Media::FilePages, filled, Some(&small), &large);
    let next = |r: &mut Root| {
        r.b[0][0] = 5; // between the replayed ranges
        r.b[19][29] = 5; // beside them, on the next page
        r.one = Some(PBox::new(12)); // elsewhere
    };
    for media in Media::BOTH {
        let rep = crash_check_open(
            Config {
                media,
                ..Config::default()
            },
            &image,
            &next,
            observe,
        );
        rep.assert_ok(&format!("first commit after a replay ({media:?})"));
    }
}

/// `Pool::checkpoint` right after an open that rolled back an interrupted transaction: on a
/// file it settles the rollback open deferred (its barrier, then the record retiring the
/// interrupted generation), then a commit and the close. Every image recovers to the rolled-back
/// state, or after the commit to the state after it.
#[test]
fn checkpoint_after_a_rollback_on_open() {
    let large = |r: &mut Root| {
        r.a = 9;
        r.big.as_mut().unwrap().fill(7); // 20 KB: an undo commit, not a redo record
    };
    let image = interrupted_image(Media::FilePages, filled, &large);
    for media in Media::BOTH {
        let cfg = Config {
            media,
            checkpoint_each: true,
            ..Config::default()
        };
        let rep = crash_check_open(cfg, &image, &|r: &mut Root| r.a = 5, observe);
        rep.assert_ok(&format!("checkpoint after a rollback ({media:?})"));
        assert!(rep.before > 0 && rep.after > 0, "{rep:?}");
    }
}

/// A pool of the layout before the ring (two redo slots, issue 15), killed with a record in
/// each slot and neither home written: open replays both and, on a file, upgrades the pool to
/// the ring (homes durable, the records retired by the commit record, then the header's `RING`
/// flag), then a ring commit and the close's checkpoint. Every image, at every barrier of that
/// open, recovers to the replayed state; crashed again during its own recovery, to the same.
/// (Clearing the two slots instead lost an acknowledged commit when only the newer slot's
/// clearing landed: the older record then replayed over the newer one's homes.)
#[test]
fn two_slot_upgrade() {
    old_records_open("two-slot upgrade", |m, s, t| two_slot_image(m, s, t));
}

/// A ring pool of the builds before packed redo records (`PACKED` clear), killed with two
/// records of the first format at the ring's start and neither home written: open replays
/// them and sets `PACKED` in the header (one barrier), then a ring commit writes a packed
/// record after them, and the close checkpoints. Every image recovers to the replayed state
/// or the commit's, on both media.
#[test]
fn unpacked_ring_upgrade() {
    old_records_open("unpacked ring upgrade", |m, s, t| {
        unpacked_ring_image(m, s, t)
    });
}

/// Two transactions recorded in the first record format by `image` (written by a file: only
/// write-back commits make redo records), the second overwriting the first's bytes: they
/// replay, and every image of the open, a commit and the close recovers, on both media.
fn old_records_open(name: &str, image: OldRecordsImage) {
    let recorded: [&dyn Fn(&mut Root); 2] = [
        &|r| {
            r.a = 2;
            r.b[0][0] = 2;
        },
        &|r| {
            r.a = 3; // overwrites the first record's bytes
            **r.one.as_mut().unwrap() = 12;
        },
    ];
    let image = image(Media::FilePages, &filled, &recorded);
    // The old builds' records (first format) replay: both transactions show.
    {
        let opened = Pool::<Root>::options().from_image(&image).unwrap();
        let r = opened.read();
        assert_eq!((r.a, r.b[0][0], **r.one.as_ref().unwrap()), (3, 2, 12));
    }
    for media in Media::BOTH {
        let cfg = Config {
            media,
            ..Config::default()
        };
        let rep = crash_check_open(cfg, &image, &|r: &mut Root| r.b[19][29] = 7, observe);
        rep.assert_ok(&format!("{name} ({media:?})"));
        assert!(rep.before > 0 && rep.after > 0, "{rep:?}");
    }
}

type OldRecordsImage = fn(Media, &dyn Fn(&Pool<Root>), &[&dyn Fn(&mut Root)]) -> Vec<u8>;

#[derive(Persistent, Default)]
struct Wide {
    n: u64,
    data: Option<PBox<[u8; 48_000]>>,
}

fn wide(p: &Pool<Wide>) {
    p.write().data = Some(PBox::new([1; 48_000]));
}

fn overwrite(r: &mut Wide, x: u8) {
    r.data.as_mut().unwrap().fill(x);
    r.n = u64::from(x);
}

/// The undo log grows inside a transaction (issue 15): 48 KB of saved bytes pass the primary
/// log segment. The growth has one barrier of its own (the new segment's header and the link
/// to it); the pool header that names the segment rides on the transaction's first barrier.
/// Every image, a torn growth included (a link to the end of the pool, a header that never
/// landed), recovers to the state before or after; the next transaction logs into the grown
/// log, and the one after it too.
#[test]
fn log_growth_inside_a_transaction() {
    let txns: [&dyn Fn(&mut Wide); 3] = [&|r| overwrite(r, 2), &|r| overwrite(r, 3), &|r| {
        overwrite(r, 4)
    }];
    let observe = |r: &Wide| (r.n, r.data.as_deref().map(|d| (d[0], d[47_999])));
    for media in Media::BOTH {
        let cfg = Config {
            media,
            budget: 24,
            ..Config::default()
        };
        let rep = crash_check_history(cfg, wide, &txns, observe);
        rep.assert_ok(&format!("log growth ({media:?})"));
    }
}

/// Barriers of a durable commit that grows the undo log, counted: the two of the undo
/// protocol plus one for the growth (it was four: the file's length, the segment header,
/// the pool header, the link, each with its own).
#[test]
fn a_commit_that_grows_the_log_has_one_barrier_more() {
    let p = Pool::<Wide>::options()
        .simulate(pcoll::Medium::File)
        .recorder(std::sync::Arc::new(NoRecorder))
        .log_size(60 << 10)
        .in_memory()
        .unwrap();
    wide(&p);
    let (b0, s0) = (p.stats().barriers, p.stats().pool_bytes);
    overwrite(&mut p.write(), 2); // allocates nothing: only the log can grow
    assert!(p.stats().pool_bytes > s0, "the log grew");
    assert_eq!(
        p.stats().barriers - b0,
        3,
        "two for the undo protocol, one for the growth"
    );
    let (b1, s1) = (p.stats().barriers, p.stats().pool_bytes);
    overwrite(&mut p.write(), 3);
    assert_eq!(p.stats().pool_bytes, s1, "the grown log is reused");
    assert_eq!(p.stats().barriers - b1, 2);
}
