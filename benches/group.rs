//! Group commit (issue 15): durable single-insert transactions from 1 to 16 threads on
//! the ext4 disk (`target/bench-pools`, env `PCOLL_BENCH_DISK`), `Durability::Sync`.
//! `cargo bench --bench group` (about a minute), `PCOLL_BENCH_QUICK=1` for a smoke run;
//! env `PCOLL_GROUP_LOG` sets the pools' log size in bytes (default: the pool default, 256 KiB).
//!
//! - `transaction/1`: one thread, `pool.transaction(|r| insert)`: one commit per insert;
//! - `transaction/8`: eight threads doing the same (they take turns at the writer lock; each
//!   commit is its own barrier);
//! - `combine/T` (T = 1, 2, 4, 8, 16): T threads calling `pool.combine(|r| insert)`: functions waiting at the same
//!   time share one transaction and one barrier.
//!
//! Time per insert (all threads together: total time / inserts), so throughput is its
//! inverse. Each sample runs `iters` inserts spread over the threads, new keys all along.
//! After the criterion groups, one more timed pass per thread count prints each call's
//! latency percentiles (p50, p99), the commits and barriers it took.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pcoll::{Durability, Error, PHashMap, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    m: PHashMap<u64, u64>,
}

fn disk_pool(name: &str) -> (Arc<Pool<Root>>, PathBuf) {
    let dir = std::env::var_os("PCOLL_BENCH_DISK")
        .map_or_else(|| PathBuf::from("target/bench-pools"), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("group-{name}-{}.pool", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut opts = Pool::<Root>::options()
        .durability(Durability::Sync)
        .initial_size(64 << 20);
    if let Some(bytes) = std::env::var("PCOLL_GROUP_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts = opts.log_size(bytes);
    }
    let pool = opts.open(&path).unwrap();
    (Arc::new(pool), path)
}

/// Runs `n` inserts over `threads` threads; returns the wall time and each call's latency.
fn run(
    pool: &Arc<Pool<Root>>,
    next: &Arc<AtomicU64>,
    threads: u64,
    n: u64,
    combine: bool,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (pool, next) = (pool.clone(), next.clone());
            let share = n / threads + u64::from(t < n % threads);
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(share as usize);
                for _ in 0..share {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    if combine {
                        pool.combine(move |r| {
                            r.m.insert(k, k);
                            Ok::<_, Error>(())
                        })
                        .unwrap();
                    } else {
                        pool.transaction(|r| {
                            r.m.insert(k, k);
                            Ok::<_, Error>(())
                        })
                        .unwrap();
                    }
                    lat.push(t0.elapsed());
                }
                lat
            })
        })
        .collect();
    let lat = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    (start.elapsed(), lat)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("group_commit_disk");
    common::configure(&mut g, common::Kind::Slow);
    let cases: [(&str, u64, bool); 7] = [
        ("transaction/1", 1, false),
        ("transaction/8", 8, false),
        ("combine/1", 1, true),
        ("combine/2", 2, true),
        ("combine/4", 4, true),
        ("combine/8", 8, true),
        ("combine/16", 16, true),
    ];
    let mut files = Vec::new();
    for (name, threads, combine) in cases {
        let (pool, path) = disk_pool(&name.replace('/', "-"));
        let next = Arc::new(AtomicU64::new(0));
        g.bench_function(name, |b| {
            b.iter_custom(|iters| run(&pool, &next, threads, iters.max(threads), combine).0)
        });
        // Percentiles of a separate pass of 400 calls per thread.
        let before = pool.stats();
        let n = 400 * threads;
        let (wall, mut lat) = run(&pool, &next, threads, n, combine);
        lat.sort();
        let after = pool.stats();
        println!(
            "{name}: {n} inserts in {:.1} ms ({:.0}/s), latency p50 {:.0} us, p99 {:.0} us; {} commits, {} barriers",
            wall.as_secs_f64() * 1e3,
            n as f64 / wall.as_secs_f64(),
            lat[lat.len() / 2].as_secs_f64() * 1e6,
            lat[lat.len() * 99 / 100].as_secs_f64() * 1e6,
            after.txn.commits - before.txn.commits,
            after.barriers - before.barriers,
        );
        drop(pool);
        files.push(path);
    }
    g.finish();
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
