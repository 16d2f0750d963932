//! Helpers shared by the benches (`mod common;` in each bench that uses them).
#![allow(dead_code)] // each bench uses a subset

use std::hash::BuildHasher;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, SamplingMode, measurement::WallTime};
use pcoll::{Durability, Persistent, Pool};

/// The largest pool a bench's memory pool may grow to.
const MAX_SIZE: u64 = 8 << 30;

/// `PCOLL_BENCH_QUICK=1`: minimal samples and sizes (a smoke test, not a measurement).
pub fn quick() -> bool {
    std::env::var("PCOLL_BENCH_QUICK").is_ok_and(|v| v == "1")
}

#[derive(Clone, Copy)]
pub enum Kind {
    /// Nanoseconds per iteration, steady: automatic (linear) sampling.
    Fast,
    /// Microseconds to milliseconds per iteration: flat sampling.
    Slow,
    /// Fill-and-empty cycles: 10 flat samples of `secs` seconds each (see the module doc),
    /// set per side before its `bench_function`.
    Cycles { secs: f64 },
}

/// Sampling for a group of kind `k` (quick mode: 10 short flat samples whatever `k`).
pub fn configure(g: &mut BenchmarkGroup<'_, WallTime>, k: Kind) {
    if quick() {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sampling_mode(SamplingMode::Flat);
        return;
    }
    g.warm_up_time(Duration::from_secs(1));
    match k {
        Kind::Fast => g
            .sample_size(50)
            .measurement_time(Duration::from_secs(4))
            .sampling_mode(SamplingMode::Auto),
        Kind::Slow => g
            .sample_size(30)
            .measurement_time(Duration::from_secs(4))
            .sampling_mode(SamplingMode::Flat),
        Kind::Cycles { secs } => g
            .sample_size(10)
            .measurement_time(Duration::from_secs_f64(10.0 * secs))
            .sampling_mode(SamplingMode::Flat),
    };
}

/// `n` random u64 from a fixed-seed xorshift64*.
pub fn random_u64s(seed: u64, n: usize) -> Vec<u64> {
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

/// `n` distinct random u64 (panics on a duplicate, which the generator does not produce).
pub fn distinct_u64s(seed: u64, n: usize) -> Vec<u64> {
    let k = random_u64s(seed, n);
    let mut sorted = k.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), n, "duplicate keys");
    k
}

/// `ahash::RandomState` with the `Default` that pcoll's ahash features (no `runtime-rng`)
/// leave out: std maps hashed like `PHashMap`.
#[derive(Clone)]
pub struct AState(ahash::RandomState);

impl Default for AState {
    fn default() -> Self {
        AState(ahash::RandomState::new())
    }
}

impl BuildHasher for AState {
    type Hasher = ahash::AHasher;
    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

/// A memory pool (`Durability::Process`, up to 8 GiB).
pub fn mem_pool<R: Persistent + Default>() -> Pool<R> {
    Pool::<R>::options()
        .durability(Durability::Process)
        .max_size(MAX_SIZE)
        .in_memory()
        .expect("memory pool")
}

/// The tmpfs directory of the file pools: `/dev/shm`, or env `PCOLL_BENCH_SHM`.
pub fn shm_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_SHM").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

/// A fresh pool file in the shm directory; removed when dropped.
pub struct FilePool<R: Persistent + Default> {
    pool: Option<Pool<R>>,
    path: PathBuf,
}

impl<R: Persistent + Default> FilePool<R> {
    pub fn new(d: Durability, kind: &str) -> Self {
        let dir = shm_dir();
        std::fs::create_dir_all(&dir).expect("create pool dir");
        let path = dir.join(format!(
            "pcoll-bench-{}-{kind}-{}.pool",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let pool = Pool::<R>::options()
            .durability(d)
            .open(&path)
            .expect("create pool");
        FilePool {
            pool: Some(pool),
            path,
        }
    }

    pub fn pool(&self) -> &Pool<R> {
        self.pool.as_ref().expect("pool")
    }

    /// File length, and bytes allocated on the medium.
    pub fn sizes(&self) -> (u64, u64) {
        let m = std::fs::metadata(&self.path).expect("pool file metadata");
        (m.len(), m.blocks() * 512)
    }
}

impl<R: Persistent + Default> Drop for FilePool<R> {
    fn drop(&mut self) {
        drop(self.pool.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where a fill-and-empty cycle is: `pos` operations done of `len` (a multiple of the unit).
pub struct Cycle {
    pub pos: usize,
    pub len: usize,
}

impl Cycle {
    /// A cycle that starts with a reset.
    pub fn new(len: usize) -> Self {
        Cycle { pos: len, len }
    }
}

/// Runs `iters` iterations of `unit` operations each: `run(state, ops)` (timed) performs the
/// operations numbered `ops` of the current cycle; `reset(state)` (untimed) starts a new
/// cycle whenever the current one is done.
pub fn timed_cycles<S: ?Sized>(
    iters: u64,
    unit: usize,
    cyc: &mut Cycle,
    state: &mut S,
    mut run: impl FnMut(&mut S, Range<usize>),
    mut reset: impl FnMut(&mut S),
) -> Duration {
    debug_assert_eq!(cyc.len % unit, 0);
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

/// `ops` split into transactions (chunks) of `unit` operations.
pub fn chunks(ops: Range<usize>, unit: usize) -> impl Iterator<Item = Range<usize>> {
    ops.clone()
        .step_by(unit)
        .map(move |s| s..(s + unit).min(ops.end))
}
