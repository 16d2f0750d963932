//! Time per operation against the number of entries N, for the plots of `BENCHMARKS.md`:
//! `cargo bench --bench scaling` (about 3 minutes), `PCOLL_BENCH_QUICK=1` for a smoke run.
//!
//! Sides: `pcoll_hash` (`PHashMap<u64, u64>`), `std_hash` (`HashMap<u64, u64>` with ahash,
//! the same hash function), `pcoll_btree` (`PBTreeMap<u64, u64>`), `std_btree`
//! (`BTreeMap<u64, u64>`). pcoll uses `Durability::Process` on a memory pool (no syscall per
//! transaction); N = 10^3, 10^4, 10^5, 10^6 random u64 keys (fixed-seed xorshift64*), loaded
//! 1000 per transaction before the group, untimed.
//!
//! Groups (benchmark id `<side>/<N>`):
//! - `scale_get_hit`: one `get` of a present key, keys in insertion order (random places);
//!   pcoll holds one read guard for the whole batch. Time per get.
//! - `scale_insert_1000_per_txn`: one transaction of 1000 inserts of new keys into the
//!   N-entry map (time per transaction, i.e. per 1000 inserts); the same keys are removed
//!   again in an untimed transaction, so the map stays at N entries.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{AState, distinct_u64s, mem_pool, quick};
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main, measurement::WallTime,
};
use pcoll::{PBTreeMap, PHashMap, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    h: PHashMap<u64, u64>,
    b: PBTreeMap<u64, u64>,
}

const BATCH: usize = 1000;

fn sizes() -> &'static [usize] {
    if quick() {
        &[1_000, 100_000]
    } else {
        &[1_000, 10_000, 100_000, 1_000_000]
    }
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>, flat: bool) {
    if quick() {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300));
    } else {
        g.sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
    }
    g.sampling_mode(if flat {
        SamplingMode::Flat
    } else {
        SamplingMode::Auto
    });
}

/// The four sides behind one interface, so every group treats them alike.
enum Side {
    PcollHash(Pool<Root>),
    StdHash(HashMap<u64, u64, AState>),
    PcollBTree(Pool<Root>),
    StdBTree(BTreeMap<u64, u64>),
}

impl Side {
    const NAMES: [&'static str; 4] = ["pcoll_hash", "std_hash", "pcoll_btree", "std_btree"];

    fn new(name: &str) -> Side {
        match name {
            "pcoll_hash" => Side::PcollHash(mem_pool()),
            "std_hash" => Side::StdHash(HashMap::default()),
            "pcoll_btree" => Side::PcollBTree(mem_pool()),
            _ => Side::StdBTree(BTreeMap::new()),
        }
    }

    /// Inserts `keys` (value = key) in one transaction.
    fn insert(&mut self, keys: &[u64]) {
        match self {
            Side::PcollHash(p) => {
                let mut w = p.write();
                keys.iter().for_each(|&k| _ = w.h.insert(k, k));
            }
            Side::StdHash(m) => keys.iter().for_each(|&k| _ = m.insert(k, k)),
            Side::PcollBTree(p) => {
                let mut w = p.write();
                keys.iter().for_each(|&k| _ = w.b.insert(k, k));
            }
            Side::StdBTree(m) => keys.iter().for_each(|&k| _ = m.insert(k, k)),
        }
    }

    /// Removes `keys` in one transaction.
    fn remove(&mut self, keys: &[u64]) {
        match self {
            Side::PcollHash(p) => {
                let mut w = p.write();
                keys.iter().for_each(|k| _ = w.h.remove(k));
            }
            Side::StdHash(m) => keys.iter().for_each(|k| _ = m.remove(k)),
            Side::PcollBTree(p) => {
                let mut w = p.write();
                keys.iter().for_each(|k| _ = w.b.remove(k));
            }
            Side::StdBTree(m) => keys.iter().for_each(|k| _ = m.remove(k)),
        }
    }

    /// Sum of the values of `iters` gets, cycling through `keys` from `*at`; every get hits.
    fn gets(&self, keys: &[u64], at: &mut usize, iters: u64) -> Duration {
        fn run(
            keys: &[u64],
            at: &mut usize,
            iters: u64,
            get: impl Fn(&u64) -> Option<u64>,
        ) -> Duration {
            let t = Instant::now();
            let mut sum = 0u64;
            for _ in 0..iters {
                sum = sum.wrapping_add(get(&keys[*at]).expect("present key"));
                *at = if *at + 1 == keys.len() { 0 } else { *at + 1 };
            }
            black_box(sum);
            t.elapsed()
        }
        match self {
            Side::PcollHash(p) => {
                let r = p.read();
                run(keys, at, iters, |k| r.h.get(k).copied())
            }
            Side::StdHash(m) => run(keys, at, iters, |k| m.get(k).copied()),
            Side::PcollBTree(p) => {
                let r = p.read();
                run(keys, at, iters, |k| r.b.get(k).copied())
            }
            Side::StdBTree(m) => run(keys, at, iters, |k| m.get(k).copied()),
        }
    }
}

/// A side loaded with `keys`, 1000 per transaction.
fn loaded(name: &str, keys: &[u64]) -> Side {
    let mut s = Side::new(name);
    keys.chunks(BATCH).for_each(|c| s.insert(c));
    s
}

fn get_hit(c: &mut Criterion, keys: &[u64]) {
    let mut g = c.benchmark_group("scale_get_hit");
    configure(&mut g, false);
    for &n in sizes() {
        for name in Side::NAMES {
            let side = loaded(name, &keys[..n]);
            let mut at = 0;
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| side.gets(&keys[..n], &mut at, iters))
            });
        }
    }
    g.finish();
}

fn insert_1000(c: &mut Criterion, keys: &[u64], fresh: &[u64]) {
    let mut g = c.benchmark_group("scale_insert_1000_per_txn");
    configure(&mut g, true);
    g.throughput(Throughput::Elements(BATCH as u64));
    for &n in sizes() {
        for name in Side::NAMES {
            let mut side = loaded(name, &keys[..n]);
            let mut at = 0;
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let batch = &fresh[at..at + BATCH];
                        at = (at + BATCH) % (fresh.len() - BATCH);
                        let t = Instant::now();
                        side.insert(batch);
                        timed += t.elapsed();
                        side.remove(batch);
                    }
                    timed
                })
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let n = *sizes().last().expect("sizes");
    let all = distinct_u64s(0x5ca1_e001, n + 64 * BATCH);
    let (keys, fresh) = all.split_at(n);
    get_hit(c, keys);
    insert_1000(c, keys, fresh);
}

criterion_group!(scaling, benches);
criterion_main!(scaling);
