//! Group commit (issue 15): `Pool::combine` from many threads. Every call's changes are there
//! exactly once; a failing or panicking function is rolled back alone; a kill -9 of a process
//! whose threads combine loses no acknowledged call.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::TempDir;
use pcoll::{Durability, Error, PHashMap, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    seen: PHashMap<u64, u64>,
    log: PVec<u64>,
    total: u64,
}

const THREADS: u64 = 8;

fn hammer(pool: &Arc<Pool<Root>>, per_thread: u64) {
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let id = t * 1_000_000 + i;
                    pool.combine(move |r| {
                        r.seen.insert(id, t);
                        r.log.push(id);
                        r.total += 1;
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn every_call_lands_once_and_commits_are_shared() {
    let dir = TempDir::new("group");
    let pool = Arc::new(
        Pool::<Root>::options()
            .durability(Durability::Sync)
            .create(dir.file("g.pool"))
            .unwrap(),
    );
    hammer(&pool, 200);
    let r = pool.read();
    assert_eq!(r.total, THREADS * 200);
    assert_eq!(r.seen.len() as u64, THREADS * 200);
    assert_eq!(r.log.len() as u64, THREADS * 200);
    drop(r);
    let s = pool.stats();
    println!(
        "group commit: {} calls in {} commits, {} barriers",
        THREADS * 200,
        s.txn.commits,
        s.barriers
    );
    pool.check().unwrap();
    let path = pool.path().to_owned();
    drop(Arc::into_inner(pool).unwrap());
    let pool = Pool::<Root>::open_existing(path).unwrap();
    assert_eq!(pool.read().total, THREADS * 200);
}

#[test]
fn a_failing_or_panicking_function_is_rolled_back_alone() {
    let pool = Arc::new(Pool::<Root>::options().in_memory().unwrap());
    let runs = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, runs) = (pool.clone(), runs.clone());
            std::thread::spawn(move || {
                let mut results = Vec::new();
                for i in 0..50u64 {
                    let runs = runs.clone();
                    let id = t * 1000 + i;
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        pool.combine(move |r| {
                            runs.fetch_add(1, Ordering::Relaxed);
                            r.seen.insert(id, t); // changed before it fails
                            r.total += 1;
                            match id % 10 {
                                3 => Err(Error::ReadOnly {
                                    path: "refused".into(),
                                }),
                                7 => panic!("function {id} panics"),
                                _ => Ok(id),
                            }
                        })
                    }));
                    results.push((id, r));
                }
                results
            })
        })
        .collect();
    let mut ok = 0;
    for t in threads {
        for (id, r) in t.join().unwrap() {
            match (id % 10, r) {
                (3, Ok(Err(Error::ReadOnly { .. }))) => {}
                (7, Err(_panic)) => {}
                (_, Ok(Ok(got))) => {
                    assert_eq!(got, id);
                    ok += 1;
                }
                (_, other) => panic!("{id}: unexpected {other:?}"),
            }
        }
    }
    let r = pool.read();
    assert_eq!(r.total, ok);
    assert_eq!(r.seen.len() as u64, ok);
    assert!(r.seen.keys().all(|k| k % 10 != 3 && k % 10 != 7));
    drop(r);
    // Every function ran at least once; some twice (their group rolled back first).
    assert!(runs.load(Ordering::Relaxed) >= THREADS * 50);
    pool.check().unwrap();
}

/// The child of the kill test: combines from eight threads, printing each acknowledged id.
#[test]
fn group_kill_child() {
    let Ok(path) = std::env::var("PCOLL_GROUP_CHILD") else {
        return;
    };
    let pool = Arc::new(
        Pool::<Root>::options()
            .durability(Durability::Sync)
            .open(&path)
            .unwrap(),
    );
    println!("ready");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0.. {
                    let id = t * 1_000_000 + i + pool.read().total * 10_000_000;
                    pool.combine(move |r| {
                        r.seen.insert(id, t);
                        r.total += 1;
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                    println!("{id}");
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

/// kill -9 while eight threads combine, in `Durability::Sync`: every id printed (acknowledged)
/// is in the reopened pool, and `total` counts exactly the ids there.
#[test]
fn kill_nine_loses_no_acknowledged_call() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = TempDir::new("group-kill");
    let path = dir.file("g.pool");
    let mut checked = 0;
    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "group_kill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PCOLL_GROUP_CHILD", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        loop {
            let l = rx.recv().unwrap();
            if l.contains("ready") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(40 + 30 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let acked: Vec<u64> = rx
            .try_iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let pool = Pool::<Root>::open_existing(&path).unwrap();
        let r = pool.read();
        for id in &acked {
            assert!(
                r.seen.contains_key(id),
                "round {round}: acknowledged {id} lost"
            );
        }
        assert_eq!(r.total, r.seen.len() as u64, "round {round}");
        checked += acked.len();
        drop(r);
        pool.check().unwrap();
    }
    println!("group commit kill -9: 6 rounds, {checked} acknowledged calls, all found");
    assert!(checked > 0);
}

/// A group whose commit fails (an injected `fdatasync` error) is rolled back whole and its
/// functions run again alone: with the fault gone they commit (each exactly once); with it
/// still there the caller gets the error and nothing of its function is in the pool.
#[test]
fn a_failed_group_commit_runs_each_function_alone() {
    use pcoll::testing::faults::{self, Call};
    let dir = TempDir::new("group-fault");
    let path = dir.file("g.pool");
    let pool = Pool::<Root>::options()
        .durability(Durability::Sync)
        .create(&path)
        .unwrap();
    pool.write().total = 1; // settle the first commits (log, redo slots)
    faults::arm(Call::Fdatasync, 1, libc::EIO, false);
    let runs = Arc::new(AtomicU64::new(0));
    let r = {
        let runs = runs.clone();
        pool.combine(move |r| {
            runs.fetch_add(1, Ordering::Relaxed);
            r.total += 10;
            r.seen.insert(7, 7);
            Ok::<_, Error>(())
        })
    };
    let fired = faults::fired();
    faults::disarm();
    assert_eq!(fired, 1);
    r.unwrap();
    assert_eq!(
        runs.load(Ordering::Relaxed),
        2,
        "rolled back once, then alone"
    );
    assert_eq!(pool.read().total, 11);
    faults::arm(Call::Fdatasync, 1, libc::EIO, true);
    let r = pool.combine(|r| {
        r.total += 100;
        Ok::<_, Error>(())
    });
    faults::disarm();
    assert!(
        matches!(r, Err(Error::Io { .. }) | Err(Error::Poisoned { .. })),
        "{r:?}"
    );
    drop(pool);
    let pool = Pool::<Root>::open_existing(&path).unwrap();
    assert_eq!(pool.read().total, 11);
    assert_eq!(pool.read().seen.get(&7), Some(&7));
    pool.check().unwrap();
}
