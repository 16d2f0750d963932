//! `PBTreeMap` against a sled 0.34 `Tree`, in the same run. From `peers/`:
//! `CARGO_TARGET_DIR=/work/target-bench2 cargo bench --bench btree` (about 3.5 minutes plus
//! the build), or with `PCOLL_BENCH_QUICK=1` (minimal samples, under a minute; a smoke test
//! only: its samples cover a fraction of a fill cycle).
//!
//! Stores, both on `/dev/shm` (env `PCOLL_BENCH_SHM` overrides):
//! - pcoll: `PBTreeMap<u64, u64>` (root `{ m: PBTreeMap<u64, u64> }`) in a pool file,
//!   `Durability::Process` (survives a killed process, not a power cut; no syscall per
//!   transaction).
//! - sled 0.34 with its default config (`sled::open(dir)`), its default `Tree` (what `Db`
//!   derefs to): 8-byte big-endian keys and values, so sled's byte order is the keys' numeric
//!   order. sled's default is not durable per operation either: a background thread flushes
//!   every 500 ms.
//!
//! Groups:
//! - `btree_insert_1000_per_batch`: 2^20 random u64 keys (fixed-seed xorshift64*, the same
//!   stream as `benches/pbtreemap.rs`), 1000 inserts in one transaction against one
//!   `db.apply_batch(batch)` of 1000 inserts (the `Batch` is built inside the timed loop);
//!   time per 1000. The store is filled with the 2^20 keys, then emptied untimed (pcoll:
//!   `clear()`, which frees every node; sled: the database is closed, its directory deleted
//!   and a new one opened) and filled again. Flat sampling with long samples, each spanning
//!   at least about one whole fill of its side (`iter_custom` carries the position in the
//!   fill from call to call).
//! - `btree_range_10`: stores of the 2^20 keys (loaded 1000 per transaction / batch; sled
//!   flushed untimed afterwards); from 2^20 random start keys (another stream, almost all
//!   absent), `r.m.range(k..).take(10)` against `db.range(be(k)..).take(10)`, summing the 10
//!   values; time per range. `pcoll` takes one read guard per criterion batch, outside the
//!   timed loop.
//!
//! Every file and directory made here is removed at the end.

use std::hint::black_box;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use pcoll::{Durability, PBTreeMap, Persistent, Pool};

/// The root of the pools: just the map.
#[derive(Persistent, Default)]
struct Root {
    m: PBTreeMap<u64, u64>,
}

/// Entries of the stores.
const N: usize = 1 << 20;
/// Operations per transaction / batch.
const BATCH: usize = 1000;

fn quick() -> bool {
    std::env::var("PCOLL_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Flat sampling, 10 samples of about `secs` seconds each (full mode).
fn configure(g: &mut BenchmarkGroup<'_, WallTime>, secs: f64) {
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    if quick() {
        g.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300));
    } else {
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs_f64(10.0 * secs));
    }
}

/// `n` random u64 from a fixed-seed xorshift64*.
fn random_u64s(seed: u64, n: usize) -> Vec<u64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
        .collect()
}

/// The N distinct keys of the stores.
fn keys() -> Vec<u64> {
    let k = random_u64s(0x5eed_0001, N);
    let mut sorted = k.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), N, "duplicate keys");
    k
}

fn shm_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_SHM").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

/// A path under `dir` unique to this process and `name`, with nothing there yet.
fn fresh_path(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create bench dir");
    let p = dir.join(format!("pcoll-peers-btree-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// A pool file; removed when dropped.
struct FilePool {
    pool: Option<Pool<Root>>,
    path: PathBuf,
}

impl FilePool {
    fn new(name: &str) -> Self {
        let path = fresh_path(&shm_dir(), &format!("{name}.pool"));
        let pool = Pool::<Root>::options()
            .durability(Durability::Process)
            .open(&path)
            .expect("create pool");
        FilePool {
            pool: Some(pool),
            path,
        }
    }

    fn pool(&self) -> &Pool<Root> {
        self.pool.as_ref().expect("pool")
    }
}

impl Drop for FilePool {
    fn drop(&mut self) {
        drop(self.pool.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A sled database with the default config in its own directory; deleted when dropped.
struct Sled {
    db: Option<sled::Db>,
    dir: PathBuf,
}

impl Sled {
    fn new(name: &str) -> Self {
        let dir = fresh_path(&shm_dir(), &format!("sled-{name}"));
        let db = sled::open(&dir).expect("open sled");
        Sled { db: Some(db), dir }
    }

    fn db(&self) -> &sled::Db {
        self.db.as_ref().expect("db")
    }

    /// An empty database in place of this one.
    fn reset(&mut self) {
        drop(self.db.take());
        std::fs::remove_dir_all(&self.dir).expect("remove sled dir");
        self.db = Some(sled::open(&self.dir).expect("open sled"));
    }
}

impl Drop for Sled {
    fn drop(&mut self) {
        drop(self.db.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where a fill cycle is: `pos` operations done of `len` (a multiple of the unit).
struct Cycle {
    pos: usize,
    len: usize,
}

impl Cycle {
    /// A cycle that starts with a reset.
    fn new(len: usize) -> Self {
        Cycle { pos: len, len }
    }
}

/// Runs `iters` iterations of `unit` operations: `run(state, ops)` (timed) performs the
/// operations numbered `ops` of the current cycle; `reset(state)` (untimed) starts a new
/// cycle when the current one is done.
fn timed_cycles<S: ?Sized>(
    iters: u64,
    unit: usize,
    cyc: &mut Cycle,
    state: &mut S,
    mut run: impl FnMut(&mut S, Range<usize>),
    mut reset: impl FnMut(&mut S),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        if cyc.pos >= cyc.len {
            reset(state);
            cyc.pos = 0;
        }
        let k = left.min((cyc.len - cyc.pos) / unit);
        let ops = cyc.pos..cyc.pos + k * unit;
        let t = Instant::now();
        run(state, ops);
        total += t.elapsed();
        cyc.pos += k * unit;
        left -= k;
    }
    total
}

/// `ops` in chunks of `unit`.
fn chunks(ops: Range<usize>, unit: usize) -> impl Iterator<Item = Range<usize>> {
    ops.clone()
        .step_by(unit)
        .map(move |s| s..(s + unit).min(ops.end))
}

fn be(x: u64) -> [u8; 8] {
    x.to_be_bytes()
}

fn sled_batch(db: &sled::Db, keys: &[u64], c: Range<usize>) {
    let mut batch = sled::Batch::default();
    for i in c {
        batch.insert(&be(black_box(keys[i])), &be(i as u64));
    }
    db.apply_batch(batch).expect("sled batch");
}

fn insert(c: &mut Criterion, keys: &[u64], secs: (f64, f64)) {
    let mut g = c.benchmark_group("btree_insert_1000_per_batch");
    let len = N / BATCH * BATCH;
    {
        configure(&mut g, secs.0);
        let fp = FilePool::new("insert");
        let pool = fp.pool();
        let mut cyc = Cycle::new(len);
        g.bench_function("pcoll_process_shm", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut cyc,
                    &mut (),
                    |_, ops| {
                        for c in chunks(ops, BATCH) {
                            let mut w = pool.write();
                            let m = &mut w.m;
                            for i in c {
                                m.insert(black_box(keys[i]), i as u64);
                            }
                        }
                    },
                    |_| pool.write().m.clear(),
                )
            })
        });
    }
    {
        configure(&mut g, secs.1);
        let mut st = Sled::new("insert");
        let mut cyc = Cycle::new(len);
        g.bench_function("sled_shm", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut cyc,
                    &mut st,
                    |st, ops| {
                        for c in chunks(ops, BATCH) {
                            sled_batch(st.db(), keys, c);
                        }
                    },
                    |st| st.reset(),
                )
            })
        });
    }
    g.finish();
}

fn range_10(c: &mut Criterion, keys: &[u64]) {
    let mut g = c.benchmark_group("btree_range_10");
    configure(&mut g, 0.4);
    let starts = random_u64s(0x5eed_0002, N);
    let fp = FilePool::new("range");
    let pool = fp.pool();
    for ch in chunks(0..N, BATCH) {
        let mut w = pool.write();
        for i in ch {
            w.m.insert(keys[i], i as u64);
        }
    }
    let st = Sled::new("range");
    let db = st.db();
    for ch in chunks(0..N, BATCH) {
        sled_batch(db, keys, ch);
    }
    // Untimed: the loaded data written out, so the background flusher is idle during ranges.
    db.flush().expect("sled flush");
    let mask = N - 1;
    let mut pos = 0usize;
    fn ranges(
        iters: u64,
        pos: &mut usize,
        mask: usize,
        starts: &[u64],
        f: impl Fn(u64) -> u64,
    ) -> Duration {
        let mut s = 0u64;
        let mut p = *pos;
        let t = Instant::now();
        for _ in 0..iters {
            s = s.wrapping_add(f(black_box(starts[p])));
            p = (p + 1) & mask;
        }
        let e = t.elapsed();
        black_box(s);
        *pos = p;
        e
    }
    let sled_range = |k: u64| -> u64 {
        db.range(be(k)..)
            .take(10)
            .map(|r| {
                let (_, v) = r.expect("sled range");
                u64::from_be_bytes(v[..8].try_into().expect("8 bytes"))
            })
            .sum()
    };
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = pool.read();
            let m = &r.m;
            ranges(iters, &mut pos, mask, &starts, |k| {
                m.range(k..).take(10).map(|(_, v)| *v).sum()
            })
        })
    });
    g.bench_function("sled_shm", |b| {
        b.iter_custom(|iters| ranges(iters, &mut pos, mask, &starts, sled_range))
    });
    // Both stores give the same ranges.
    let r = pool.read();
    for &k in starts.iter().step_by(997) {
        let a: u64 = r.m.range(k..).take(10).map(|(_, v)| *v).sum();
        assert_eq!(a, sled_range(k));
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    // Seconds per sample (pcoll, sled): about two fills for pcoll, one for sled.
    insert(c, &keys, (0.8, 8.5));
    range_10(c, &keys);
}

criterion_group!(btree, benches);
criterion_main!(btree);
