//! Compaction (`Options::compact`, `Pool::compact_to`, issue 17): the copy holds the same
//! values and only them, is smaller after removals, leaves its source untouched, and is at
//! its path whole or not at all (refusals, a full pool, kill -9 in the middle).

mod common;

use std::collections::BTreeMap;

use common::TempDir;
use pcoll::{
    Durability, Error, PBTreeMap, PBTreeSet, PBox, PHashMap, PString, PVec, PVecDeque, Persistent,
    Pool,
};

#[derive(Persistent, Default)]
struct Tree {
    m: PBTreeMap<[u8; 24], PVec<u8>>,
}

fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    k[8..16].copy_from_slice(&i.to_le_bytes());
    k
}

fn value(i: u64) -> Vec<u8> {
    (0..150).map(|j| (i as u8).wrapping_add(j)).collect()
}

fn tree_model(t: &Tree) -> BTreeMap<[u8; 24], Vec<u8>> {
    t.m.iter().map(|(k, v)| (*k, v.to_vec())).collect()
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// The case: 200,000 entries of 24 + 150 bytes in a B-tree, half removed.
#[test]
fn half_removed_tree_compacts_to_its_live_data() {
    let dir = TempDir::new("compact-tree");
    let (big, small) = (dir.file("big.pool"), dir.file("small.pool"));
    let n = 200_000u64;
    let pool = Pool::<Tree>::options()
        .durability(Durability::Process)
        .create(&big)
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
        let mut w = pool.write();
        for &i in chunk {
            w.m.insert(key(i), &value(i)[..]);
        }
    }
    let full = file_len(&big);
    pool.write().m.retain(|k, _| k[8] % 2 == 0);
    let model = tree_model(&pool.read());
    assert_eq!(model.len() as u64, n / 2);
    let before = std::fs::read(&big).unwrap();
    let copy = pool.compact_to(&small).unwrap();
    assert_eq!(tree_model(&copy.read()), model);
    copy.check().unwrap();
    drop(copy);
    assert_eq!(
        std::fs::read(&big).unwrap(),
        before,
        "the source is only read"
    );
    let copy = Pool::<Tree>::open_existing(&small).unwrap();
    assert_eq!(tree_model(&copy.read()), model);
    let payload = model.len() as u64 * 174;
    println!(
        "compact: {n} entries of 24 + 150 bytes: {:.1} MiB; half removed: {:.1} MiB; \
         compacted: {:.1} MiB ({:.2}x the payload of {:.1} MiB)",
        full as f64 / 1048576.0,
        file_len(&big) as f64 / 1048576.0,
        file_len(&small) as f64 / 1048576.0,
        file_len(&small) as f64 / payload as f64,
        payload as f64 / 1048576.0
    );
    assert!(file_len(&small) < file_len(&big) * 3 / 4);
}

/// The copy is as small as it can be: the free pages at its end are cut off, so a pool
/// holding little is smaller than a new pool's initial size (1 MiB), and one that grew ends
/// within a page of its last used page. The copy then grows again as any pool does, under
/// both durabilities.
#[test]
fn the_copy_ends_at_its_last_used_page() {
    for durability in [Durability::Process, Durability::Sync] {
        let dir = TempDir::new("compact-tail");
        let opts = || Pool::<Tree>::options().durability(durability);
        let pool = opts().create(dir.file("src.pool")).unwrap();
        pool.write()
            .m
            .extend((0..20_000u64).map(|i| (key(i), PVec::from(&value(i)[..]))));
        pool.write().m.retain(|k, _| k[8] < 3); // 3 of every 256 stay
        let model = tree_model(&pool.read());
        let copy = opts().compact(&pool, dir.file("copy.pool")).unwrap();
        let len = file_len(&dir.file("copy.pool"));
        assert_eq!(
            copy.stats().pool_bytes,
            len,
            "the header's length is the file's"
        );
        println!(
            "{durability:?}: {} entries compacted into {len} bytes",
            model.len()
        );
        assert!(len < 1 << 20, "{len} bytes for {} entries", model.len());
        copy.check().unwrap();
        drop(copy);
        // Reopened, whole; then it grows past its cut end and stays sound.
        let copy = opts().open(dir.file("copy.pool")).unwrap();
        assert_eq!(tree_model(&copy.read()), model);
        copy.write()
            .m
            .extend((20_000..40_000u64).map(|i| (key(i), PVec::from(&value(i)[..]))));
        copy.check().unwrap();
        assert_eq!(copy.read().m.len(), model.len() + 20_000);
        assert!(copy.stats().pool_bytes > len);
        drop(copy);
        let copy = opts().open(dir.file("copy.pool")).unwrap();
        copy.check().unwrap();
        assert_eq!(copy.read().m.len(), model.len() + 20_000);
    }
}

/// Every `pwrite`, `fdatasync`, `fallocate` and `mmap` of a compaction failed in turn (EIO):
/// the compaction either succeeds (the copy opens to the same entries and checks clean) or
/// fails with nothing at the path, or only its final reopen failed and the finished copy is
/// at the path, whole; nothing is left beside it, and the source is never changed.
#[test]
fn a_failed_call_during_compaction_leaves_nothing_half_done() {
    use pcoll::testing::faults::{self, Call};
    const EIO: i32 = 5;
    let dir = TempDir::new("compact-faults");
    let pool = Pool::<Tree>::options()
        .durability(Durability::Sync)
        .create(dir.file("src.pool"))
        .unwrap();
    pool.write()
        .m
        .extend((0..3_000u64).map(|i| (key(i), PVec::from(&value(i)[..]))));
    pool.write().m.retain(|k, _| k[8] % 3 == 0);
    let model = tree_model(&pool.read());
    let source = std::fs::read(dir.file("src.pool")).unwrap();
    let (mut failed, mut whole, mut reopen) = (0, 0, 0);
    for call in [Call::Pwrite, Call::Fdatasync, Call::Fallocate, Call::Mmap] {
        for n in 1.. {
            let out = dir.file("copy.pool");
            faults::arm(call, n, EIO, false);
            let res = Pool::<Tree>::options()
                .durability(Durability::Sync)
                .compact(&pool, &out);
            let fired = faults::fired();
            faults::disarm();
            let res_text = match &res {
                Ok(_) => "Ok".to_string(),
                Err(e) => e.to_string(),
            };
            match res {
                Ok(copy) => {
                    assert_eq!(tree_model(&copy.read()), model, "{call:?} #{n}");
                    copy.check().unwrap();
                    drop(copy);
                    std::fs::remove_file(&out).unwrap();
                    whole += 1;
                }
                Err(e) => {
                    assert!(fired > 0, "{call:?} #{n}: {e}");
                    if out.exists() {
                        // Only the reopen of the finished copy failed: it is there, whole.
                        let copy = Pool::<Tree>::open_existing(&out).unwrap();
                        assert_eq!(tree_model(&copy.read()), model, "{call:?} #{n}: {e}");
                        copy.check().unwrap();
                        drop(copy);
                        std::fs::remove_file(&out).unwrap();
                        reopen += 1;
                    }
                    failed += 1;
                }
            }
            let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            let names: Vec<_> = names.into_iter().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(
                names.len(),
                1,
                "{call:?} #{n}: left beside the source: {names:?} ({res_text})"
            );
            assert_eq!(tree_model(&pool.read()), model);
            if fired == 0 {
                break;
            }
        }
    }
    drop(pool);
    assert_eq!(
        std::fs::read(dir.file("src.pool")).unwrap(),
        source,
        "the source is only read"
    );
    println!(
        "compaction faults: {failed} failed ({reopen} of them in the reopen of the finished \
         copy, left whole at the path), {whole} succeeded"
    );
    assert!(failed > 3);
}

#[derive(Persistent, Default)]
struct Inner {
    name: PString,
    tags: PBTreeSet<u32>,
}

#[derive(Persistent, Default)]
struct Every {
    users: PHashMap<PString, PVec<u8>>,
    queue: PVecDeque<u64>,
    best: Option<PBox<(u64, f64)>>,
    nested: PVec<Inner>,
    count: u64,
}

type EveryModel = (
    BTreeMap<String, Vec<u8>>,
    Vec<u64>,
    Option<(u64, f64)>,
    Vec<(String, Vec<u32>)>,
    u64,
);

fn every_model(e: &Every) -> EveryModel {
    (
        e.users
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect(),
        e.queue.iter().copied().collect(),
        e.best.as_deref().copied(),
        e.nested
            .iter()
            .map(|i| (i.name.to_string(), i.tags.iter().copied().collect()))
            .collect(),
        e.count,
    )
}

fn fill_every(p: &Pool<Every>) {
    let mut w = p.write();
    for i in 0..3000u64 {
        w.users
            .insert(format!("user-{i}"), &value(i)[..(i % 150) as usize]);
        w.queue.push_front(i);
        w.queue.push_back(i * 3);
    }
    for i in (0..3000u64).step_by(3) {
        w.users.remove(format!("user-{i}").as_str());
    }
    w.best = Some(PBox::new((7, 2.5)));
    for i in 0..200u32 {
        let mut inner = Inner::default();
        inner.name.push_str(&format!("inner-{i}"));
        inner.tags.extend(0..i % 17);
        w.nested.push(inner);
    }
    w.count = 42;
}

#[test]
fn every_container_survives_compaction() {
    let dir = TempDir::new("compact-every");
    let p = Pool::<Every>::create(dir.file("a.pool")).unwrap();
    fill_every(&p);
    let model = every_model(&p.read());
    let c = Pool::<Every>::options()
        .durability(Durability::Process)
        .compact(&p, dir.file("b.pool"))
        .unwrap();
    assert_eq!(every_model(&c.read()), model);
    c.check().unwrap();
    p.check().unwrap();
    // The copy is a pool like any other: it takes writes and reopens.
    c.write().users.insert("after", &b"x"[..]);
    drop(c);
    let c = Pool::<Every>::open_existing(dir.file("b.pool")).unwrap();
    assert_eq!(
        c.read().users.get("after").map(|v| v.to_vec()),
        Some(b"x".to_vec())
    );
    assert_eq!(c.read().users.len(), model.0.len() + 1);
}

#[test]
fn refusals_leave_nothing_at_the_path() {
    let dir = TempDir::new("compact-refuse");
    let p = Pool::<Every>::create(dir.file("a.pool")).unwrap();
    fill_every(&p);
    std::fs::write(dir.file("taken.pool"), b"not mine").unwrap();
    assert!(matches!(
        p.compact_to(dir.file("taken.pool")),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read(dir.file("taken.pool")).unwrap(), b"not mine");
    // A target too small for the data: the copy fails, and no file is left behind.
    let err = Pool::<Every>::options()
        .initial_size(256 << 10)
        .max_size(256 << 10)
        .log_size(60 << 10)
        .compact(&p, dir.file("tiny.pool"))
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("out of space") || e.contains("space")),
        "{err:?}"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.pool", "taken.pool"]);
    assert_eq!(every_model(&p.read()).4, 42, "the source is unchanged");
}

/// Runs this test binary's test `child` (with `env` set to `dir`) until it prints
/// "starting", lets it run for a pseudo-random time up to 300 ms drawn from `seed`, and
/// kills it with SIGKILL.
fn kill_child_at_random(child: &str, env: &str, dir: &std::path::Path, seed: &mut u64) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    while !lines
        .next()
        .expect("child output")
        .unwrap()
        .contains("starting")
    {}
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    std::thread::sleep(std::time::Duration::from_micros(*seed % 300_000));
    c.kill().unwrap();
    c.wait().unwrap();
}

/// The child of `kill_nine_during_compaction`: compacts to `out-<n>.pool`, n = 0, 1, ...
#[test]
fn compact_child() {
    let Ok(dir) = std::env::var("PCOLL_COMPACT_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let p = Pool::<Tree>::open_existing(dir.join("src.pool")).unwrap();
    println!("starting");
    for n in 0.. {
        drop(p.compact_to(dir.join(format!("out-{n}.pool"))).unwrap());
    }
}

/// kill -9 in the middle of compactions, at random moments: every `out-<n>.pool` present is
/// whole (the same entries as the source), and a leftover `.compact` file never opens as
/// the result.
#[test]
fn kill_nine_during_compaction() {
    let dir = TempDir::new("compact-kill");
    let src = dir.file("src.pool");
    {
        let p = Pool::<Tree>::create(&src).unwrap();
        let mut w = p.write();
        for i in 0..20_000 {
            w.m.insert(key(i), &value(i)[..]);
        }
    }
    let model = tree_model(&Pool::<Tree>::open_existing(&src).unwrap().read());
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let (rounds, mut whole) = (12, 0);
    for _ in 0..rounds {
        kill_child_at_random(
            "compact_child",
            "PCOLL_COMPACT_CHILD",
            dir.path(),
            &mut seed,
        );
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("out-") && name.ends_with(".pool") {
                let p = Pool::<Tree>::open_existing(&path).unwrap();
                assert_eq!(tree_model(&p.read()), model, "{name}");
                drop(p);
                std::fs::remove_file(&path).unwrap();
                whole += 1;
            }
        }
    }
    println!("kill -9 during compactions: {rounds} rounds, {whole} whole copies found, 0 partial");
}

/// A compaction to a path where another one is building answers `Locked` and leaves that one
/// alone; once it is gone (a crash leaves its file unlocked), the next compaction removes the
/// leftover and completes.
#[test]
fn a_live_build_beside_the_path_is_left_alone() {
    let dir = TempDir::new("compact-live");
    let p = Pool::<Every>::create(dir.file("a.pool")).unwrap();
    fill_every(&p);
    let live = Pool::<Every>::create(dir.file("b.pool.compact")).unwrap();
    assert!(matches!(
        p.compact_to(dir.file("b.pool")),
        Err(Error::Locked { .. })
    ));
    assert!(!dir.file("b.pool").exists());
    live.write().count = 7; // still its own, untouched
    drop(live);
    let c = p.compact_to(dir.file("b.pool")).unwrap();
    assert_eq!(every_model(&c.read()), every_model(&p.read()));
    assert!(!dir.file("b.pool.compact").exists());
}

/// `Options::shrink`: the file at the path becomes its compacted copy (same entries, a
/// fraction of the size, `check()` clean); refused with `Locked` while the pool is open.
#[test]
fn shrink_replaces_the_file_with_its_live_data() {
    let dir = TempDir::new("compact-shrink");
    let path = dir.file("app.pool");
    let pool = Pool::<Tree>::options()
        .durability(Durability::Process)
        .create(&path)
        .unwrap();
    {
        let mut w = pool.write();
        for i in 0..40_000 {
            w.m.insert(key(i), &value(i)[..]);
        }
    }
    pool.write().m.retain(|k, _| k[8] % 8 == 0);
    let model = tree_model(&pool.read());
    assert!(matches!(
        Pool::<Tree>::options().shrink(&path),
        Err(Error::Locked { .. }) | Err(Error::AmbiguousPool { .. })
    ));
    drop(pool);
    let s = Pool::<Tree>::options().shrink(&path).unwrap();
    assert_eq!(s.after, file_len(&path));
    assert!(s.after * 3 < s.before, "{s:?}");
    let pool = Pool::<Tree>::open_existing(&path).unwrap();
    assert_eq!(tree_model(&pool.read()), model);
    pool.check().unwrap();
    drop(pool);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["app.pool"], "nothing left beside it");
}

/// The child of `kill_nine_during_shrink`: shrinks `src.pool` again and again.
#[test]
fn shrink_child() {
    let Ok(dir) = std::env::var("PCOLL_SHRINK_CHILD") else {
        return;
    };
    let path = std::path::PathBuf::from(dir).join("src.pool");
    println!("starting");
    loop {
        Pool::<Tree>::options().shrink(&path).unwrap();
    }
}

/// kill -9 in the middle of shrinks, at random moments: the path always opens, with the
/// same entries, and `check()` passes.
#[test]
fn kill_nine_during_shrink() {
    let dir = TempDir::new("shrink-kill");
    let src = dir.file("src.pool");
    {
        let p = Pool::<Tree>::create(&src).unwrap();
        let mut w = p.write();
        for i in 0..20_000 {
            w.m.insert(key(i), &value(i)[..]);
        }
        w.m.retain(|k, _| k[8] % 2 == 0);
    }
    let model = tree_model(&Pool::<Tree>::open_existing(&src).unwrap().read());
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let rounds = 10;
    for _ in 0..rounds {
        kill_child_at_random("shrink_child", "PCOLL_SHRINK_CHILD", dir.path(), &mut seed);
        let p = Pool::<Tree>::open_existing(&src).unwrap();
        assert_eq!(tree_model(&p.read()), model);
        p.check().unwrap();
    }
    println!("kill -9 during shrinks: {rounds} rounds, the pool whole after each");
}
