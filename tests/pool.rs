//! Public-API tests of `Pool`: create, reopen, transactions, rollback, errors.

mod common;

use common::TempDir;
use pcoll::{Durability, Error, PBox, Persistent, Pool};

#[derive(Persistent, Default, Debug)]
struct Root {
    counter: u64,
    pair: (u32, i64),
    boxed: Option<PBox<[u64; 8]>>,
    history: [u16; 4],
}

#[derive(Persistent, Default)]
struct Other {
    counter: u64,
    pair: (u32, i64),
    boxed: Option<PBox<[u64; 8]>>,
    history: [u16; 5],
}

fn fast() -> pcoll::Options<Root> {
    Pool::<Root>::options().durability(Durability::Process)
}

#[test]
fn create_write_reopen_read() {
    let dir = TempDir::new("reopen");
    let path = dir.file("a.pool");
    {
        let pool: Pool<Root> = Pool::open(&path).unwrap();
        let mut w = pool.write();
        w.counter = 41;
        w.pair = (7, -9);
        w.boxed = Some(PBox::new([3; 8]));
    }
    let pool: Pool<Root> = Pool::open_existing(&path).unwrap();
    {
        let r = pool.read();
        assert_eq!(r.counter, 41);
        assert_eq!(r.pair, (7, -9));
        assert_eq!(*r.boxed.as_deref().unwrap(), [3; 8]);
    }
    pool.check().unwrap();
}

#[test]
fn rollback_on_err_and_on_abort() {
    let pool = fast().in_memory().unwrap();
    pool.write().counter = 1;
    let r: Result<(), Error> = pool.transaction(|root| {
        root.counter = 2;
        root.boxed = Some(PBox::new([9; 8]));
        Err(Error::ReadOnly { path: "x".into() })
    });
    assert!(r.is_err());
    assert_eq!(pool.read().counter, 1);
    assert!(pool.read().boxed.is_none());
    let mut w = pool.write();
    w.counter = 5;
    w.abort();
    assert_eq!(pool.read().counter, 1);
    pool.check().unwrap();
}

#[test]
fn rollback_on_panic() {
    let pool = fast().in_memory().unwrap();
    {
        let mut w = pool.write();
        w.boxed = Some(PBox::new([1; 8]));
    }
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut w = pool.write();
        w.counter = 99;
        w.boxed = None; // frees, deferred
        w.boxed = Some(PBox::new([2; 8]));
        panic!("boom");
    }));
    assert!(res.is_err());
    let r = pool.read();
    assert_eq!(r.counter, 0);
    assert_eq!(*r.boxed.as_deref().unwrap(), [1; 8]);
    drop(r);
    pool.check().unwrap();
}

#[test]
fn transaction_returns_value_and_commits() {
    let pool = fast().in_memory().unwrap();
    let v: Result<u64, Error> = pool.transaction(|root| {
        root.counter += 10;
        Ok(root.counter * 2)
    });
    assert_eq!(v.unwrap(), 20);
    assert_eq!(pool.read().counter, 10);
}

#[test]
fn pbox_replace_and_mutate_frees_old_blocks() {
    let pool = fast().in_memory().unwrap();
    for i in 0..100u64 {
        let mut w = pool.write();
        match w.boxed.as_deref_mut() {
            Some(b) if i % 3 != 0 => b[0] = i,
            _ => w.boxed = Some(PBox::new([i; 8])),
        }
    }
    let report = pool.check().unwrap();
    assert_eq!(
        report.blocks, 3,
        "root, schema, one box: old boxes were freed"
    );
    assert_eq!(pool.read().boxed.as_deref().unwrap()[0], 99);
}

#[test]
fn two_pools_at_once() {
    let dir = TempDir::new("two");
    let a: Pool<Root> = fast().open(dir.file("a.pool")).unwrap();
    let b: Pool<Root> = fast().open(dir.file("b.pool")).unwrap();
    {
        let mut wa = a.write();
        wa.boxed = Some(PBox::new([1; 8]));
    }
    {
        let mut wb = b.write();
        wb.boxed = Some(PBox::new([2; 8]));
        let ra = a.read();
        assert_eq!(ra.boxed.as_deref().unwrap()[0], 1);
    }
    assert_eq!(b.read().boxed.as_deref().unwrap()[0], 2);
    a.check().unwrap();
    b.check().unwrap();
}

#[test]
fn reopen_maps_elsewhere_and_still_works() {
    let dir = TempDir::new("remap");
    let path = dir.file("a.pool");
    let first = {
        let pool: Pool<Root> = fast().open(&path).unwrap();
        {
            let mut w = pool.write();
            w.boxed = Some(PBox::new([5; 8]));
        }
        let r = pool.read();
        &*r as *const Root as usize
    };
    // Occupy the old address range so the next mapping must land elsewhere.
    let mut fillers = Vec::new();
    for i in 0..16 {
        let f: Pool<Root> = fast().open(dir.file(&format!("filler{i}.pool"))).unwrap();
        let at = {
            let r = f.read();
            &*r as *const Root as usize
        };
        fillers.push(f);
        if at == first {
            break;
        }
    }
    let pool: Pool<Root> = fast().open(&path).unwrap();
    let r = pool.read();
    assert_ne!(&*r as *const Root as usize, first);
    assert_eq!(*r.boxed.as_deref().unwrap(), [5; 8]);
}

#[test]
fn growth_past_initial_size_and_reopen() {
    let dir = TempDir::new("grow");
    let path = dir.file("g.pool");
    #[derive(Persistent, Default)]
    struct Many {
        slots: [Option<PBox<[u8; 4000]>>; 32],
    }
    {
        let pool = Pool::<Many>::options()
            .durability(Durability::Process)
            .initial_size(128 << 10)
            .open(&path)
            .unwrap();
        for i in 0..32 {
            let mut w = pool.write();
            w.slots[i] = Some(PBox::new([i as u8; 4000]));
        }
        assert!(pool.stats().pool_bytes > 128 << 10);
        pool.check().unwrap();
    }
    let pool = Pool::<Many>::open_existing(&path).unwrap();
    for i in 0..32 {
        assert_eq!(pool.read().slots[i].as_deref().unwrap()[3999], i as u8);
    }
    pool.check().unwrap();
}

#[test]
fn a_max_size_of_128_tib_or_more_is_refused() {
    let dir = TempDir::new("max-size");
    for max in [1u64 << 47, u64::MAX] {
        let res = Pool::<Root>::options().max_size(max).in_memory();
        assert!(
            matches!(res, Err(Error::InvalidOption { .. })),
            "in memory, {max}"
        );
        let res = Pool::<Root>::options()
            .max_size(max)
            .open(dir.path().join("big.pool"));
        assert!(
            matches!(res, Err(Error::InvalidOption { .. })),
            "file, {max}"
        );
        assert!(
            !dir.path().join("big.pool").exists(),
            "a refused create leaves no file"
        );
    }
    // A pool made with the default opens, and then refuses the same option.
    drop(Pool::<Root>::open(dir.path().join("ok.pool")).unwrap());
    let res = Pool::<Root>::options()
        .max_size(1 << 47)
        .open(dir.path().join("ok.pool"));
    assert!(matches!(res, Err(Error::InvalidOption { .. })));
}

#[test]
fn out_of_space_rolls_back_and_keeps_state() {
    #[derive(Persistent, Default)]
    struct Big {
        n: u64,
        slots: [Option<PBox<[u8; 8192]>>; 32],
    }
    let pool = Pool::<Big>::options()
        .durability(Durability::Process)
        .initial_size(256 << 10)
        .max_size(256 << 10)
        .in_memory()
        .unwrap();
    let mut filled = 0;
    loop {
        let r: Result<(), Error> = pool.transaction(|root| {
            root.n += 1;
            let b = PBox::try_new([7u8; 8192]).map_err(|(e, _)| e)?;
            root.slots[filled] = Some(b);
            Ok(())
        });
        match r {
            Ok(()) => filled += 1,
            Err(Error::OutOfSpace { .. }) => break,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(filled < 32, "the limit was never hit");
    }
    assert!(filled > 0);
    assert_eq!(pool.read().n, filled as u64);
    pool.check().unwrap();
}

#[test]
fn wrong_root_type_is_refused() {
    let dir = TempDir::new("wrongroot");
    let path = dir.file("a.pool");
    drop(fast().open(&path).unwrap());
    let err = Pool::<Other>::open_existing(&path).unwrap_err();
    match &err {
        Error::RootTypeMismatch {
            stored, requested, ..
        } => {
            assert!(
                stored.ends_with("Root") && requested.ends_with("Other"),
                "{err}"
            );
        }
        e => panic!("expected RootTypeMismatch, got {e}"),
    }
    // Nothing was lost: the right type still opens.
    Pool::<Root>::open_existing(&path).unwrap().check().unwrap();
}

#[test]
fn second_open_is_locked() {
    let dir = TempDir::new("locked");
    let path = dir.file("a.pool");
    let _p = fast().open(&path).unwrap();
    assert!(matches!(
        Pool::<Root>::open(&path),
        Err(Error::Locked { .. })
    ));
}

#[test]
fn not_found_and_already_exists() {
    let dir = TempDir::new("exist");
    let path = dir.file("a.pool");
    assert!(matches!(
        Pool::<Root>::open_existing(&path),
        Err(Error::NotFound { .. })
    ));
    drop(fast().create(&path).unwrap());
    assert!(matches!(
        Pool::<Root>::create(&path),
        Err(Error::AlreadyExists { .. })
    ));
}

#[test]
fn created_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let path = dir.file("a.pool");
    drop(fast().open(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn truncated_file_is_an_error() {
    let dir = TempDir::new("trunc");
    let path = dir.file("a.pool");
    drop(fast().open(&path).unwrap());
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert!(matches!(
        Pool::<Root>::open(&path),
        Err(Error::Truncated { .. })
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(100)
        .unwrap();
    assert!(matches!(
        Pool::<Root>::open(&path),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn flipped_header_bytes() {
    let dir = TempDir::new("flip");
    let path = dir.file("a.pool");
    drop(fast().open(&path).unwrap());
    let orig = std::fs::read(&path).unwrap();
    // One damaged copy: the other copy of the header still opens the pool.
    let mut one = orig.clone();
    one[40] ^= 0xff;
    std::fs::write(&path, &one).unwrap();
    Pool::<Root>::open(&path).unwrap().check().unwrap();
    // Both copies damaged: a checksum error, nothing else.
    let mut both = orig.clone();
    both[40] ^= 0xff;
    both[2048 + 40] ^= 0xff;
    std::fs::write(&path, &both).unwrap();
    assert!(matches!(
        Pool::<Root>::open(&path),
        Err(Error::HeaderChecksum { .. })
    ));
}

#[test]
fn a_file_that_is_not_a_pool() {
    let dir = TempDir::new("foreign");
    let path = dir.file("notes.txt");
    std::fs::write(&path, vec![b'x'; 10000]).unwrap();
    assert!(matches!(
        Pool::<Root>::open(&path),
        Err(Error::BadMagic { .. })
    ));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![b'x'; 10000],
        "the file was not touched"
    );
}

#[test]
fn read_only_pool_refuses_writes() {
    let dir = TempDir::new("ro");
    let path = dir.file("a.pool");
    {
        let p = fast().open(&path).unwrap();
        p.write().counter = 3;
    }
    let p = Pool::<Root>::options()
        .read_only(true)
        .open_existing(&path)
        .unwrap();
    assert_eq!(p.read().counter, 3);
    assert!(matches!(p.try_write(), Err(Error::ReadOnly { .. })));
}

#[test]
fn sync_transaction_barriers_are_counted() {
    let dir = TempDir::new("barriers");
    let pool: Pool<Root> = Pool::open(dir.file("a.pool")).unwrap();
    let before = pool.stats();
    pool.write().counter = 1;
    let after = pool.stats();
    // A redo commit (issue 15): the redo record is the one barrier; the changes go to their
    // homes without one (the next barrier makes them durable).
    assert_eq!(after.barriers - before.barriers, 1);
    assert_eq!(after.txn.commits - before.txn.commits, 1);
    // An empty transaction costs nothing.
    drop(pool.write());
    assert_eq!(pool.stats().barriers, after.barriers);
    // Many ranges (a box allocated and mutated, the root logged): still one.
    {
        let mut w = pool.write();
        w.boxed = Some(PBox::new([1; 8]));
    }
    let before = pool.stats();
    {
        let mut w = pool.write();
        w.counter = 2;
        w.history[3] = 9;
        w.boxed.as_mut().unwrap()[7] = 5;
        w.boxed = Some(PBox::new([2; 8]));
    }
    assert_eq!(pool.stats().barriers - before.barriers, 1);
    // An aborted transaction writes nothing back.
    let before = pool.stats();
    let mut w = pool.write();
    w.counter = 77;
    w.abort();
    assert_eq!(pool.stats().barriers, before.barriers);
}

#[test]
fn large_initial_size_is_laid_out_in_segments() {
    // Regression: a pool created larger than one heap segment (4 MiB) used to fail with
    // "heap segment claims N pages", because format laid one segment over all of it.
    let dir = TempDir::new("bigcreate");
    let path = dir.file("big.pool");
    {
        let pool = Pool::<Root>::options()
            .durability(Durability::Process)
            .initial_size(64 << 20)
            .open(&path)
            .unwrap();
        let mut w = pool.write();
        w.boxed = Some(PBox::new([1; 8]));
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 << 20);
    let pool = Pool::<Root>::open_existing(&path).unwrap();
    assert_eq!(pool.check().unwrap().pool_bytes, 64 << 20);
}

/// The child side of `second_process_gets_locked`: tries to open the pool named in the
/// environment and prints what happened.
#[test]
fn lock_probe_child() {
    let Ok(path) = std::env::var("PCOLL_LOCK_PROBE") else {
        return;
    };
    match Pool::<Root>::open(&path) {
        Err(Error::Locked { .. }) => println!("probe: locked"),
        Ok(_) => println!("probe: opened"),
        Err(e) => println!("probe: error {e}"),
    }
}

#[test]
fn second_process_gets_locked() {
    let dir = TempDir::new("lockproc");
    let path = dir.file("a.pool");
    let probe = |path: &std::path::Path| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "lock_probe_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PCOLL_LOCK_PROBE", path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        stdout
            .lines()
            .find_map(|l| l.find("probe: ").map(|i| l[i + 7..].to_string()))
            .unwrap()
    };
    let pool = fast().open(&path).unwrap();
    assert_eq!(probe(&path), "locked");
    drop(pool);
    assert_eq!(probe(&path), "opened", "the lock goes with the pool");
}

/// One pool file used in turn with `Sync` (redo commits, two-barrier undo commits for large
/// transactions) and `Process` (undo commits, no barriers), reopened between every phase: the
/// generations, the redo slots and the commit records of the two protocols never hide or
/// replay one another's work.
#[test]
fn durability_modes_alternate_on_one_file() {
    let dir = TempDir::new("modes");
    let path = dir.file("a.pool");
    let mut want = 0u64;
    for round in 0..6u64 {
        let d = if round % 2 == 0 {
            Durability::Sync
        } else {
            Durability::Process
        };
        let pool = Pool::<Root>::options().durability(d).open(&path).unwrap();
        assert_eq!(pool.read().counter, want, "round {round} ({d:?}) opened");
        for i in 0..5 {
            let mut w = pool.write();
            w.counter += 1;
            w.history[(i % 4) as usize] = round as u16;
            if i == 2 {
                w.boxed = Some(PBox::new([round; 8])); // a fresh block
            }
            drop(w);
            want += 1;
        }
        drop(pool);
        let pool = Pool::<Root>::options().durability(d).open(&path).unwrap();
        let r = pool.read();
        assert_eq!(r.counter, want, "round {round} ({d:?}) reopened");
        assert_eq!(r.boxed.as_deref(), Some(&[round; 8]));
        drop(r);
        pool.check().unwrap();
    }
}

/// A `Sync` pool probes for a `MAP_SYNC` mapping (persistent memory). No file system here is
/// DAX, so the kernel refuses it and the pool uses its write-back mapping: one barrier per
/// small commit, growth and reopen as usual. (`/dev/shm` when present: tmpfs
/// refuses `MAP_SYNC` too.)
#[test]
fn sync_pools_fall_back_from_map_sync_where_the_file_system_is_not_dax() {
    let dir = TempDir::new("map-sync");
    let shm = std::path::Path::new("/dev/shm");
    let mut paths = vec![dir.file("disk.pool")];
    if shm.is_dir() {
        paths.push(shm.join(format!("pcoll-map-sync-{}.pool", std::process::id())));
    }
    for path in &paths {
        {
            let pool: Pool<Root> = Pool::open(path).unwrap();
            assert!(!pool.persistent_memory(), "{}", path.display());
            let before = pool.stats().barriers;
            pool.write().counter = 7;
            assert_eq!(pool.stats().barriers - before, 1, "a write-back commit");
            let mut w = pool.write();
            w.boxed = Some(PBox::new([5; 8]));
        }
        let pool: Pool<Root> = Pool::open_existing(path).unwrap();
        assert!(!pool.persistent_memory());
        assert_eq!(pool.read().counter, 7);
        assert_eq!(pool.read().boxed.as_deref(), Some(&[5; 8]));
        drop(pool);
        let pool = fast().open_existing(path).unwrap();
        assert!(
            !pool.persistent_memory(),
            "Process pools never ask for MAP_SYNC"
        );
        drop(pool);
        if path.starts_with(shm) {
            std::fs::remove_file(path).unwrap();
        }
    }
}

/// A recorder that keeps the image at each barrier.
struct Grab(std::sync::Mutex<Vec<Vec<u8>>>);
impl pcoll::Recorder for Grab {
    fn event(&self, ev: pcoll::Event, image: &[u8]) {
        if ev == pcoll::Event::Barrier {
            self.0.lock().unwrap().push(image.to_vec());
        }
    }
}

/// A pool closed after small durable commits (redo records, one barrier each) opens clean:
/// the close checkpointed the ring (the homes, then the commit record that retires the
/// records), so nothing is replayed or synced. A crash before a home was written back
/// (patched into an image here) is replayed in memory, and made durable by the close.
#[test]
fn a_pool_closed_after_redo_commits_opens_clean() {
    use std::sync::{Arc, Mutex};
    #[derive(Persistent, Default)]
    struct Root {
        n: u64,
    }
    let dir = TempDir::new("redo-clean");
    let path = dir.file("p");
    let grab = Arc::new(Grab(Mutex::new(Vec::new())));
    {
        drop(Pool::<Root>::create(&path).unwrap());
        let pool = Pool::<Root>::options()
            .recorder(grab.clone())
            .open_existing(&path)
            .unwrap();
        for i in 1..=5 {
            pool.write().n = i;
        }
        assert_eq!(pool.stats().barriers, 5, "one barrier per redo commit");
    }
    for _ in 0..2 {
        let r = pcoll::inspect::recover(&path).unwrap();
        assert!(r.is_clean(), "{r:?}");
    }
    let pool = Pool::<Root>::open_existing(&path).unwrap();
    assert_eq!(pool.read().n, 5);
    assert_eq!(pool.stats().barriers, 0, "open wrote nothing");
    drop(pool);
    // The image at the last commit's barrier, its record durable, and its home, the root's
    // `n`, still holding 4 (the close's two barriers come after it).
    let images = grab.0.lock().unwrap().clone();
    assert_eq!(images.len(), 7, "5 commits, then the close's checkpoint");
    let mut image = images[4].clone();
    let at = pcoll::inspect::inspect(&path).unwrap().root_offset as usize;
    assert_eq!(image[at..at + 8], 5u64.to_le_bytes());
    image[at..at + 8].copy_from_slice(&4u64.to_le_bytes());
    let crashed = dir.file("crashed");
    std::fs::write(&crashed, &image).unwrap();
    let pool = Pool::<Root>::open_existing(&crashed).unwrap();
    assert_eq!(pool.read().n, 5, "the record was replayed");
    assert_eq!(
        pool.stats().barriers,
        0,
        "open wrote nothing: the replayed ranges wait for a checkpoint (the close's)"
    );
    pool.check().unwrap();
    drop(pool);
    assert!(pcoll::inspect::recover(&crashed).unwrap().is_clean());
}

/// A pool of the two-slot redo layout (before the ring, `FLAG_RING` clear) with a committed
/// record whose home was never written: open replays it from the old slot, then upgrades the
/// pool to the ring (the flag set in the header), and the next opens find it whole.
#[test]
fn a_two_slot_pool_is_replayed_and_upgraded_to_the_ring() {
    use std::sync::{Arc, Mutex};
    #[derive(Persistent, Default)]
    struct Root {
        n: u64,
    }
    const FLAG_RING: u32 = 2;
    let dir = TempDir::new("two-slot");
    let path = dir.file("p");
    drop(Pool::<Root>::create(&path).unwrap());
    let grab = Arc::new(Grab(Mutex::new(Vec::new())));
    {
        let pool = Pool::<Root>::options()
            .recorder(grab.clone())
            .open_existing(&path)
            .unwrap();
        pool.write().n = 5; // the ring's first record: where slot 0 was
    }
    // The record's barrier, its home patched back to the old value, the ring flag cleared.
    let mut image = grab.0.lock().unwrap()[0].clone();
    let at = pcoll::inspect::inspect(&path).unwrap().root_offset as usize;
    image[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    let flags =
        |img: &[u8], slot: usize| u32::from_le_bytes(img[slot + 12..slot + 16].try_into().unwrap());
    let seq =
        |img: &[u8], slot: usize| u64::from_le_bytes(img[slot + 24..slot + 32].try_into().unwrap());
    for slot in [0, 2048] {
        let f = flags(&image, slot) & !FLAG_RING;
        image[slot + 12..slot + 16].copy_from_slice(&f.to_le_bytes());
        let crc = crc32fast::hash(&image[slot..slot + 252]);
        image[slot + 252..slot + 256].copy_from_slice(&crc.to_le_bytes());
    }
    let old = dir.file("old");
    std::fs::write(&old, &image).unwrap();
    {
        let pool = Pool::<Root>::open_existing(&old).unwrap();
        assert_eq!(pool.read().n, 5, "the old slot's record was replayed");
        pool.check().unwrap();
        pool.write().n = 6; // a ring commit
    }
    let file = std::fs::read(&old).unwrap();
    let newer = if seq(&file, 0) > seq(&file, 2048) {
        0
    } else {
        2048
    };
    assert_ne!(flags(&file, newer) & FLAG_RING, 0, "upgraded to the ring");
    let pool = Pool::<Root>::open_existing(&old).unwrap();
    assert_eq!(pool.read().n, 6);
    pool.check().unwrap();
    drop(pool);
    assert!(pcoll::inspect::recover(&old).unwrap().is_clean());
}

/// A ring pool written by a build before packed redo records (header flag `PACKED`, bit 2,
/// clear): a read-only open leaves its header alone; the first open that can write records
/// sets the flag (so those builds refuse the pool from then on instead of missing packed
/// records), and the pool works on, its committed state whole.
#[test]
fn a_ring_pool_from_before_packed_records_gains_the_flag_when_opened_to_write() {
    #[derive(Persistent, Default)]
    struct Root {
        n: u64,
    }
    const FLAG_PACKED: u32 = 4;
    let flags =
        |img: &[u8], slot: usize| u32::from_le_bytes(img[slot + 12..slot + 16].try_into().unwrap());
    let seq =
        |img: &[u8], slot: usize| u64::from_le_bytes(img[slot + 24..slot + 32].try_into().unwrap());
    let newest = |img: &[u8]| {
        if seq(img, 0) > seq(img, 2048) {
            0
        } else {
            2048
        }
    };
    let dir = TempDir::new("packed-flag");
    let path = dir.file("p");
    Pool::<Root>::create(&path).unwrap().write().n = 5;
    let mut image = std::fs::read(&path).unwrap();
    assert_ne!(
        flags(&image, newest(&image)) & FLAG_PACKED,
        0,
        "new pools have it"
    );
    for slot in [0, 2048] {
        let f = flags(&image, slot) & !FLAG_PACKED;
        image[slot + 12..slot + 16].copy_from_slice(&f.to_le_bytes());
        let crc = crc32fast::hash(&image[slot..slot + 252]);
        image[slot + 252..slot + 256].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(&path, &image).unwrap();
    {
        let pool = Pool::<Root>::options().read_only(true).open(&path).unwrap();
        assert_eq!(pool.read().n, 5);
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        image,
        "a read-only open writes nothing"
    );
    {
        let pool = Pool::<Root>::open_existing(&path).unwrap();
        assert_eq!(pool.read().n, 5);
        pool.write().n = 6; // a packed record
    }
    let file = std::fs::read(&path).unwrap();
    assert_ne!(
        flags(&file, newest(&file)) & FLAG_PACKED,
        0,
        "the flag is set"
    );
    let pool = Pool::<Root>::open_existing(&path).unwrap();
    assert_eq!(pool.read().n, 6);
    pool.check().unwrap();
}
