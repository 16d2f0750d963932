//! Schema evolution (issue 17): `Pool::<New>::options().migrate::<Old>(f)`. A field added,
//! widened, renamed, dropped, a nested struct changed; containers move without copying;
//! a pool that holds `New` opens as usual, one that holds neither is refused untouched; a
//! panic rolls back; crash images and failed system calls leave `Old` whole or `New` whole.

mod common;

use std::cell::Cell;

use common::TempDir;
use pcoll::testing::faults::{self, Call};
use pcoll::testing::{Config, Media, crash_check_migration};
use pcoll::{Durability, Error, PBTreeMap, PHashMap, PString, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Inner1 {
    label: PString,
    n: u32,
}

#[derive(Persistent, Default)]
struct V1 {
    names: PVec<PString>,
    by_id: PHashMap<u64, PString>,
    tree: PBTreeMap<u64, u64>,
    hits: u32,
    junk: PVec<u64>, // dropped by V2
    inner: Inner1,
}

#[derive(Persistent, Default)]
struct Inner2 {
    title: PString, // renamed from `label`
    n: PString,     // was a u32
}

#[derive(Persistent, Default)]
struct V2 {
    names: PVec<PString>,
    by_id: PHashMap<u64, PString>,
    tree: PBTreeMap<u64, u64>,
    hits: u64,   // widened
    visits: u64, // added
    inner: Inner2,
}

fn fill(p: &Pool<V1>) {
    let mut w = p.write();
    for i in 0..200u64 {
        w.names.push(format!("name-{i}").into());
        w.by_id.insert(i, format!("id-{i}"));
        w.tree.insert(i, i * i);
    }
    w.hits = 7;
    w.junk.extend(0..5000);
    w.inner.label = "inner".into();
    w.inner.n = 42;
}

fn to_v2(old: &mut V1, new: &mut V2) {
    new.names = std::mem::take(&mut old.names);
    new.by_id = std::mem::take(&mut old.by_id);
    new.tree = std::mem::take(&mut old.tree);
    new.hits = u64::from(old.hits);
    new.inner.title = std::mem::take(&mut old.inner.label);
    new.inner.n = old.inner.n.to_string().into();
}

type M1 = (Vec<String>, usize, u64, u32, usize, String);
type M2 = (Vec<String>, usize, u64, u64, u64, String, String);

fn observe1(r: &V1) -> M1 {
    let names = r.names.iter().map(|s| s.to_string()).collect();
    let sum = r.tree.values().sum();
    let label = r.inner.label.to_string();
    (names, r.by_id.len(), sum, r.hits, r.junk.len(), label)
}

fn observe2(r: &V2) -> M2 {
    let names = r.names.iter().map(|s| s.to_string()).collect();
    let sum = r.tree.values().sum();
    let i = &r.inner;
    let (title, n) = (i.title.to_string(), i.n.to_string());
    (names, r.by_id.len(), sum, r.hits, r.visits, title, n)
}

#[test]
fn fields_are_added_widened_renamed_and_dropped() {
    let dir = TempDir::new("migrate");
    let path = dir.file("app.pool");
    let p = Pool::<V1>::create(&path).unwrap();
    fill(&p);
    let before = observe1(&p.read());
    let old_check = p.check().unwrap();
    drop(p);

    let runs = Cell::new(0);
    let pool = Pool::<V2>::options()
        .migrate(|o: &mut V1, n: &mut V2| {
            runs.set(runs.get() + 1);
            to_v2(o, n)
        })
        .open_existing(&path)
        .unwrap();
    assert_eq!(runs.get(), 1);
    let after = observe2(&pool.read());
    assert_eq!(after.0, before.0);
    assert_eq!((after.1, after.2, after.3), (200, before.2, 7));
    assert_eq!((after.5.as_str(), after.6.as_str()), ("inner", "42"));
    assert_eq!(pool.read().by_id.get(&9).unwrap(), "id-9");
    // The dropped field's 40 KB were freed; the containers that moved kept their blocks
    // (the block count shrinks by the junk buffer only, give or take the roots and the
    // new `n` string).
    let c = pool.check().unwrap();
    assert!(
        c.allocated_bytes + 39_000 < old_check.allocated_bytes,
        "{c:?} vs {old_check:?}"
    );
    assert!(
        c.blocks.abs_diff(old_check.blocks) <= 2,
        "{c:?} vs {old_check:?}"
    );
    pool.write().visits += 1;
    drop(pool);

    // Opened again: it holds V2 now, the closure does not run.
    let pool = Pool::<V2>::options()
        .migrate(|_: &mut V1, _: &mut V2| panic!("must not run"))
        .open_existing(&path)
        .unwrap();
    assert_eq!(pool.read().visits, 1);
    drop(pool);
    assert!(matches!(
        Pool::<V1>::open_existing(&path),
        Err(Error::RootTypeMismatch { .. })
    ));
    let pool = Pool::<V2>::open_existing(&path).unwrap();
    pool.check().unwrap();
}

#[derive(Persistent, Default)]
struct V3 {
    names: PVec<PString>,
    total: u64,
}

#[test]
fn migrations_chain_and_a_foreign_root_is_refused_untouched() {
    let dir = TempDir::new("migrate-chain");
    let path = dir.file("app.pool");
    let p = Pool::<V1>::create(&path).unwrap();
    fill(&p);
    drop(p);
    let bytes = std::fs::read(&path).unwrap();
    // V1 is neither V3 nor V2: refused, naming what the file holds, and nothing written.
    let e = Pool::<V3>::options()
        .migrate(|_: &mut V2, _: &mut V3| unreachable!())
        .open_existing(&path)
        .unwrap_err();
    match &e {
        Error::RootTypeMismatch {
            stored, requested, ..
        } => {
            assert!(stored.ends_with("V1") && requested.ends_with("V3"), "{e}");
        }
        other => panic!("expected RootTypeMismatch, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // V1 -> V2 -> V3, one step at a time, as an application's successive releases would.
    drop(Pool::<V2>::options().migrate(to_v2).open(&path).unwrap());
    let p3 = Pool::<V3>::options()
        .migrate(|o: &mut V2, n: &mut V3| {
            n.names = std::mem::take(&mut o.names);
            n.total = o.hits + o.tree.values().sum::<u64>();
        })
        .open(&path)
        .unwrap();
    assert_eq!(p3.read().names.len(), 200);
    assert_eq!(p3.read().total, 7 + (0..200u64).map(|i| i * i).sum::<u64>());
    p3.check().unwrap();
}

#[test]
fn a_new_file_is_created_with_the_new_root() {
    let dir = TempDir::new("migrate-new");
    let path = dir.file("app.pool");
    let p = Pool::<V2>::options()
        .migrate(|_: &mut V1, _: &mut V2| panic!("nothing to migrate"))
        .open(&path)
        .unwrap();
    assert_eq!(p.read().names.len(), 0);
    drop(p);
    let e = Pool::<V2>::options()
        .migrate(to_v2)
        .open_existing(dir.file("absent.pool"))
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

#[test]
fn a_panicking_migration_rolls_back() {
    let dir = TempDir::new("migrate-panic");
    let path = dir.file("app.pool");
    let p = Pool::<V1>::create(&path).unwrap();
    fill(&p);
    let before = observe1(&p.read());
    drop(p);
    let r = std::panic::catch_unwind(|| {
        Pool::<V2>::options()
            .migrate(|o: &mut V1, n: &mut V2| {
                to_v2(o, n);
                n.names.push("half done".into());
                panic!("migration bug");
            })
            .open_existing(&path)
    });
    assert!(r.is_err());
    let p = Pool::<V1>::open_existing(&path).unwrap();
    assert_eq!(observe1(&p.read()), before);
    p.check().unwrap();
}

#[test]
fn a_read_only_open_does_not_migrate() {
    let dir = TempDir::new("migrate-ro");
    let path = dir.file("app.pool");
    let p = Pool::<V1>::create(&path).unwrap();
    fill(&p);
    drop(p);
    let bytes = std::fs::read(&path).unwrap();
    let e = Pool::<V2>::options()
        .read_only(true)
        .migrate(to_v2)
        .open_existing(&path)
        .unwrap_err();
    assert!(matches!(e, Error::ReadOnly { .. }), "{e:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// Smaller roots for the crash images (every image is opened and checked).
#[derive(Persistent, Default)]
struct S1 {
    names: PVec<PString>,
    tree: PBTreeMap<u64, u64>,
    gone: PVec<u64>,
    n: u32,
}

#[derive(Persistent, Default)]
struct S2 {
    n: u64,
    names: PVec<PString>,
    tree: PBTreeMap<u64, u64>,
    added: PString,
}

fn fill_small(p: &Pool<S1>) {
    let mut w = p.write();
    for i in 0..20u64 {
        w.names.push(format!("n{i}").into());
        w.tree.insert(i, i + 1);
    }
    w.gone.extend(0..600);
    w.n = 5;
}

fn small_to_s2(o: &mut S1, n: &mut S2) {
    n.n = u64::from(o.n) * 10;
    n.names = std::mem::take(&mut o.names);
    n.tree = std::mem::take(&mut o.tree);
    n.added = "fresh".into();
}

type MS1 = (usize, u64, usize, u32);
type MS2 = (u64, usize, u64, String);

fn observe_s1(r: &S1) -> MS1 {
    (r.names.len(), r.tree.values().sum(), r.gone.len(), r.n)
}

fn observe_s2(r: &S2) -> MS2 {
    (
        r.n,
        r.names.len(),
        r.tree.values().sum(),
        r.added.to_string(),
    )
}

#[test]
fn crash_images_of_a_migration() {
    for media in Media::BOTH {
        let cfg = Config {
            media,
            ..Config::default()
        };
        let rep = crash_check_migration(cfg, fill_small, small_to_s2, observe_s1, observe_s2);
        rep.assert_ok(&format!("migration ({media:?})"));
        assert!(rep.before > 0 && rep.after > 0, "{rep:?}");
    }
}

/// Every `pwrite` and `fdatasync` of a migration fails in turn (once, and from then on):
/// the migration reports the error or commits, and a reopen finds the old root whole or
/// the new one whole (the new one whenever the migration answered `Ok`).
#[test]
fn failed_calls_during_a_migration() {
    let dir = TempDir::new("migrate-faults");
    let (mut injected, mut rolled_back, mut migrated) = (0, 0, 0);
    for call in [Call::Pwrite, Call::Fdatasync] {
        for sticky in [false, true] {
            for n in 1.. {
                let path = dir.file(&format!("{call:?}-{sticky}-{n}"));
                let p = Pool::<S1>::options()
                    .durability(Durability::Sync)
                    .create(&path)
                    .unwrap();
                fill_small(&p);
                let before = observe_s1(&p.read());
                drop(p);
                faults::arm(call, n, libc::EIO, sticky);
                let res = Pool::<S2>::options()
                    .migrate(small_to_s2)
                    .open_existing(&path);
                let fired = faults::fired();
                faults::disarm();
                let ok = res.is_ok();
                drop(res);
                if fired == 0 {
                    assert!(ok);
                    break;
                }
                injected += 1;
                match Pool::<S2>::open_existing(&path) {
                    Ok(p) => {
                        p.check().unwrap();
                        assert_eq!(observe_s2(&p.read()), (50, 20, 210, "fresh".into()));
                        migrated += 1;
                    }
                    Err(Error::RootTypeMismatch { .. }) => {
                        assert!(!ok, "{call:?} #{n}: acknowledged, then found as S1");
                        let p = Pool::<S1>::open_existing(&path).unwrap();
                        p.check().unwrap();
                        assert_eq!(observe_s1(&p.read()), before, "{call:?} #{n}");
                        rolled_back += 1;
                    }
                    Err(e) => panic!("{call:?} #{n} (sticky {sticky}): reopen failed: {e}"),
                }
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    println!(
        "migration faults: {injected} injected, {rolled_back} rolled back, {migrated} migrated"
    );
    assert!(injected >= 8 && rolled_back > 0 && migrated > 0);
}

#[test]
fn the_new_root_of_a_migration_can_hold_std_values() {
    // A value built outside the pool and stored in the new root moves in at commit.
    let dir = TempDir::new("migrate-values");
    let path = dir.file("app.pool");
    let p = Pool::<S1>::create(&path).unwrap();
    fill_small(&p);
    drop(p);
    let outside: PString = "built before the migration".into();
    let cell = Cell::new(Some(outside));
    let p = Pool::<S2>::options()
        .migrate(|o: &mut S1, n: &mut S2| {
            small_to_s2(o, n);
            n.added = cell.take().unwrap();
        })
        .open_existing(&path)
        .unwrap();
    assert_eq!(p.read().added, "built before the migration");
    p.check().unwrap();
    drop(p);
    let p = Pool::<S2>::open_existing(&path).unwrap();
    assert_eq!(p.read().added, "built before the migration");
}

#[test]
fn the_pool_stores_its_root_schema_and_a_migration_replaces_it() {
    let dir = TempDir::new("migrate-schema");
    let path = dir.file("app.pool");
    let p = Pool::<S1>::create(&path).unwrap();
    let s1 = p.schema().unwrap();
    assert_eq!(s1, pcoll::Fingerprint::schema_of::<S1>());
    assert!(s1.starts_with(r#"{"type":"S1","#), "{s1}");
    assert!(s1.contains(r#"{"field":"gone","offset":"#), "{s1}");
    fill_small(&p);
    drop(p);
    let p = Pool::<S2>::options()
        .migrate(small_to_s2)
        .open_existing(&path)
        .unwrap();
    assert_eq!(p.schema().unwrap(), pcoll::Fingerprint::schema_of::<S2>());
    p.check().unwrap(); // the old schema's block was freed, the new one is reachable
    drop(p);
    let p = Pool::<S2>::options()
        .read_only(true)
        .open_existing(&path)
        .unwrap();
    assert!(p.schema().unwrap().contains(r#""field":"added""#));
}

/// Roots for the kill -9 test: big enough that a migration takes milliseconds.
#[derive(Persistent, Default)]
struct K1 {
    ids: PVec<u64>,
    words: PVec<PString>,
    table: PHashMap<u64, u64>,
}

#[derive(Persistent, Default)]
struct K2 {
    ids: PVec<u64>,
    doubled: PVec<u64>,
    table: PHashMap<u64, u64>,
}

const K_N: u64 = 40_000;

fn k1_fill(p: &Pool<K1>) {
    let mut w = p.write();
    w.ids.extend(0..K_N);
    w.words
        .extend((0..K_N / 4).map(|i| PString::from(format!("w{i}"))));
    w.table.extend((0..K_N / 4).map(|i| (i, i * 3)));
}

fn k1_to_k2(o: &mut K1, n: &mut K2) {
    n.doubled = o.ids.iter().map(|x| x * 2).collect(); // converted: O(n) in the transaction
    n.ids = std::mem::take(&mut o.ids);
    n.table = std::mem::take(&mut o.table);
    // `words` is dropped: K_N / 4 blocks freed.
}

/// The child of `kill_nine_during_migrations`: migrates the pool, then says so.
#[test]
fn migrate_child() {
    let Ok(path) = std::env::var("PCOLL_MIGRATE_CHILD") else {
        return;
    };
    let d = if std::env::var("PCOLL_MIGRATE_SYNC").is_ok() {
        Durability::Sync
    } else {
        Durability::Process
    };
    println!("starting");
    let p = Pool::<K2>::options()
        .durability(d)
        .migrate(k1_to_k2)
        .open_existing(&path)
        .unwrap();
    println!("migrated {}", p.read().ids.len());
    std::thread::sleep(std::time::Duration::from_secs(60));
}

/// kill -9 of a process in the middle of a migration, at random moments, in both
/// durability modes: the pool reopens as the whole old root or the whole new one.
#[test]
fn kill_nine_during_migrations() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = TempDir::new("migrate-kill");
    let path = dir.file("k.pool");
    let mut seed = 0x9e37_79b9_u64;
    let (mut old, mut new) = (0, 0);
    let rounds = 40;
    for round in 0..rounds {
        let _ = std::fs::remove_file(&path);
        let p = Pool::<K1>::create(&path).unwrap();
        k1_fill(&p);
        drop(p);
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "migrate_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PCOLL_MIGRATE_CHILD", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if round % 2 == 1 {
            cmd.env("PCOLL_MIGRATE_SYNC", "1");
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let l = lines.next().expect("child output").unwrap();
            if l.contains("starting") {
                break;
            }
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_micros(seed % 15_000));
        child.kill().unwrap();
        child.wait().unwrap();
        match Pool::<K2>::open_existing(&path) {
            Ok(p) => {
                let r = p.read();
                assert_eq!((r.ids.len(), r.doubled.len()), (K_N as usize, K_N as usize));
                assert_eq!(r.doubled[K_N as usize - 1], 2 * (K_N - 1));
                assert_eq!(r.table.get(&7), Some(&21));
                drop(r);
                p.check().unwrap();
                new += 1;
            }
            Err(Error::RootTypeMismatch { .. }) => {
                let p = Pool::<K1>::open_existing(&path).unwrap();
                let r = p.read();
                assert_eq!(r.ids.len(), K_N as usize, "round {round}");
                assert_eq!(r.words.len(), K_N as usize / 4, "round {round}");
                assert_eq!(r.words[5], "w5");
                assert_eq!(r.table.len(), K_N as usize / 4);
                drop(r);
                p.check().unwrap();
                old += 1;
            }
            Err(e) => panic!("round {round}: reopen failed: {e}"),
        }
    }
    println!(
        "kill -9 during migrations: {rounds} rounds, {old} found old, {new} found new, 0 violations"
    );
    assert_eq!(old + new, rounds);
}
