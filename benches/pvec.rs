//! `PVec<u64>` and `PString` against `Vec<u64>` and `String`, in the same run:
//! `cargo bench --bench pvec` (about 1.5 minutes plus the build), or with
//! `PCOLL_BENCH_QUICK=1` (minimal samples, well under a minute).
//!
//! Every pcoll benchmark uses `Durability::Process` on a memory pool
//! (`Pool::options().durability(Process).max_size(8 GiB).in_memory()`); `push_1_per_txn`
//! also runs on a `/dev/shm` file pool (env `PCOLL_BENCH_SHM` overrides the directory).
//! Groups, one benchmark per side (`pcoll_mem`, `pcoll_shm`, `std`):
//! - `push_1_per_txn`: one `push` per transaction (`let mut w = pool.write(); w.v.push(i);`)
//!   against `Vec::push`; time per push;
//! - `push_1000_per_txn`: 1000 pushes in one transaction against 1000 `Vec::push`; time per
//!   1000 pushes;
//! - `iter_sum`: `root.v.iter().sum()` of 1 M u64 under a read guard, against `Vec`;
//! - `random_index`: 1 M reads `root.v[i]` at precomputed random indices, against `Vec`;
//!   `pcoll_mem_slice` does the same reads through one `root.v.as_slice()`;
//! - `push_str_16`: 1000 `push_str` of 16-byte chunks in one transaction, against `String`;
//! - `pop_1000_per_txn`: 1000 `pop` in one transaction (refilled to 1 M, untimed, when it runs
//!   low), against `Vec::pop`; time per 1000 pops;
//! - `str_scan`: count the ASCII digits of a 1 MiB `PString` through `as_str()`, against
//!   `String`.
//!
//! The push groups are timed with `iter_custom` so the cost per iteration stays the same
//! whatever the sample size: every 2^20 pushes (`push_str` calls) the vector or string is
//! cleared in an untimed step, keeping its capacity on both sides (`Vec::clear`,
//! `PVec::clear`). So after the first cycle no push reallocates: the numbers are steady-state
//! pushes into existing capacity, each of which (pcoll) logs its slot, since the buffer was
//! not allocated by the current transaction.
//!
//! At start the bench prints the exact counters of one `Durability::Sync` transaction
//! `w.v.push(1)` on a `/dev/shm` file pool (the first push, which allocates, and a later one),
//! and the log counters of one 1000-push and one 1000-`push_str` `Process` transaction.

mod common;

use common::quick;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use pcoll::{Durability, PString, PVec, PVecDeque, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    s: PString,
    d: PVecDeque<u64>,
    ds: PVecDeque<PString>,
}

/// Elements read by `iter_sum` and `random_index`.
const N: usize = 1 << 20;
/// Pushes (or `push_str` calls) between two untimed clears.
const CYCLE: u64 = 1 << 20;
/// Pushes per transaction in `push_1000_per_txn` and `push_str_16`.
const BATCH: u64 = 1000;
const CHUNK: &str = "0123456789abcdef";
const MAX_SIZE: u64 = 8 << 30;

#[derive(Clone, Copy)]
enum Kind {
    /// Nanoseconds per iteration: automatic (linear) sampling.
    Fast,
    /// Microseconds to milliseconds per iteration: flat sampling.
    Slow,
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>, k: Kind) {
    if quick() {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sampling_mode(SamplingMode::Flat);
        return;
    }
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    match k {
        Kind::Fast => g.sample_size(50).sampling_mode(SamplingMode::Auto),
        Kind::Slow => g.sample_size(30).sampling_mode(SamplingMode::Flat),
    };
}

fn shm_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_SHM").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

fn mem_pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .max_size(MAX_SIZE)
        .in_memory()
        .expect("memory pool")
}

/// A fresh pool file in the shm directory; removed when dropped.
struct FilePool {
    pool: Option<Pool<Root>>,
    path: PathBuf,
}

impl FilePool {
    fn new(d: Durability, kind: &str) -> Self {
        let dir = shm_dir();
        std::fs::create_dir_all(&dir).expect("create pool dir");
        let path = dir.join(format!(
            "pcoll-bench-pvec-{kind}-{}.pool",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let pool = Pool::<Root>::options()
            .durability(d)
            .max_size(MAX_SIZE)
            .create(&path)
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

/// Runs `iters` pushes as `push_n(k)` calls (timed), calling `clear()` (untimed) whenever
/// `filled` reaches `cycle`. `unit` is how many pushes one iteration stands for.
fn timed_cycles<S: ?Sized>(
    iters: u64,
    unit: u64,
    filled: &mut u64,
    state: &mut S,
    mut push_n: impl FnMut(&mut S, u64),
    mut clear: impl FnMut(&mut S),
) -> Duration {
    let cycle = CYCLE / unit;
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        if *filled >= cycle {
            clear(state);
            *filled = 0;
        }
        let k = left.min(cycle - *filled);
        let t = Instant::now();
        push_n(state, k);
        total += t.elapsed();
        *filled += k;
        left -= k;
    }
    total
}

/// Exact counters of one `Sync` push transaction on a file pool in the shm directory.
fn print_sync_push_counters() {
    let fp = FilePool::new(Durability::Sync, "sync");
    let pool = fp.pool();
    for which in [
        "first push (allocates the buffer)",
        "second push (logs its slot)",
    ] {
        let before = pool.stats();
        {
            let mut w = pool.write();
            w.v.push(1);
        }
        let after = pool.stats();
        println!(
            "pvec: Durability::Sync, one `w.v.push(1)` transaction on {}, {which}: \
             barriers {}, synced_bytes {}, log_entries {}, log_bytes {}",
            shm_dir().display(),
            after.barriers - before.barriers,
            after.synced_bytes - before.synced_bytes,
            after.txn.log_entries - before.txn.log_entries,
            after.txn.log_bytes - before.txn.log_bytes,
        );
    }
}

/// Log counters of one `Process` transaction of 1000 pushes into existing capacity (and of
/// 1000 `push_str` calls), on a memory pool.
fn print_batch_counters() {
    let pool = mem_pool();
    {
        let mut w = pool.write();
        w.v.reserve(BATCH as usize);
        w.s.reserve(BATCH as usize * CHUNK.len());
    }
    let before = pool.stats();
    {
        let mut w = pool.write();
        for i in 0..BATCH {
            w.v.push(i);
        }
    }
    let mid = pool.stats();
    {
        let mut w = pool.write();
        for _ in 0..BATCH {
            w.s.push_str(CHUNK);
        }
    }
    let after = pool.stats();
    for (what, a, b) in [
        ("1000 pushes", &before, &mid),
        ("1000 push_str of 16 bytes", &mid, &after),
    ] {
        println!(
            "pvec: Durability::Process, one transaction of {what} into existing capacity \
             (memory pool): log_entries {}, log_bytes {}",
            b.txn.log_entries - a.txn.log_entries,
            b.txn.log_bytes - a.txn.log_bytes,
        );
    }
}

fn push_1_per_txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_1_per_txn");
    configure(&mut g, Kind::Fast);
    {
        let pool = mem_pool();
        let mut filled = 0;
        g.bench_function("pcoll_mem", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    1,
                    &mut filled,
                    &mut (),
                    |_, k| {
                        for i in 0..k {
                            let mut w = pool.write();
                            w.v.push(black_box(i));
                        }
                    },
                    |_| pool.write().v.clear(),
                )
            })
        });
    }
    {
        let fp = FilePool::new(Durability::Process, "push1");
        let pool = fp.pool();
        let mut filled = 0;
        g.bench_function("pcoll_shm", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    1,
                    &mut filled,
                    &mut (),
                    |_, k| {
                        for i in 0..k {
                            let mut w = pool.write();
                            w.v.push(black_box(i));
                        }
                    },
                    |_| pool.write().v.clear(),
                )
            })
        });
    }
    {
        let mut v: Vec<u64> = Vec::new();
        let mut filled = 0;
        g.bench_function("std", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    1,
                    &mut filled,
                    &mut v,
                    |v, k| {
                        for i in 0..k {
                            black_box(&mut *v).push(black_box(i));
                        }
                    },
                    |v| v.clear(),
                )
            })
        });
    }
    g.finish();
}

fn push_1000_per_txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_1000_per_txn");
    configure(&mut g, Kind::Slow);
    {
        let pool = mem_pool();
        let mut filled = 0;
        g.bench_function("pcoll_mem", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut filled,
                    &mut (),
                    |_, k| {
                        for _ in 0..k {
                            let mut w = pool.write();
                            let v = &mut w.v;
                            for i in 0..BATCH {
                                v.push(black_box(i));
                            }
                        }
                    },
                    |_| pool.write().v.clear(),
                )
            })
        });
    }
    {
        let mut v: Vec<u64> = Vec::new();
        let mut filled = 0;
        g.bench_function("std", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut filled,
                    &mut v,
                    |v, k| {
                        for _ in 0..k {
                            let v = black_box(&mut *v);
                            for i in 0..BATCH {
                                v.push(black_box(i));
                            }
                        }
                    },
                    |v| v.clear(),
                )
            })
        });
    }
    g.finish();
}

/// A memory pool whose `v` holds `0..N`, and the same in a `Vec`.
fn filled() -> (Pool<Root>, Vec<u64>) {
    let pool = mem_pool();
    let v: Vec<u64> = (0..N as u64).collect();
    pool.write().v.extend(v.iter().copied());
    assert_eq!(pool.read().v.len(), N);
    (pool, v)
}

fn iter_sum(c: &mut Criterion) {
    let mut g = c.benchmark_group("iter_sum");
    configure(&mut g, Kind::Slow);
    let (pool, v) = filled();
    let want: u64 = v.iter().sum();
    g.bench_function("pcoll_mem", |b| {
        b.iter(|| {
            let root = pool.read();
            black_box(&root.v).iter().sum::<u64>()
        })
    });
    g.bench_function("std", |b| b.iter(|| black_box(&v).iter().sum::<u64>()));
    assert_eq!(pool.read().v.iter().sum::<u64>(), want);
    g.finish();
}

/// `n` indices below `len` from a fixed-seed splitmix64.
fn random_indices(n: usize, len: usize) -> Vec<usize> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z % len as u64) as usize
        })
        .collect()
}

fn random_index(c: &mut Criterion) {
    let mut g = c.benchmark_group("random_index");
    configure(&mut g, Kind::Slow);
    let (pool, v) = filled();
    let idx = random_indices(N, N);
    g.bench_function("pcoll_mem", |b| {
        b.iter(|| {
            let root = pool.read();
            let pv = black_box(&root.v);
            let mut s = 0u64;
            for &i in &idx {
                s = s.wrapping_add(pv[i]);
            }
            s
        })
    });
    // The same reads through one `as_slice()` per iteration: shows what the per-index pool
    // lookup in `PVec`'s `Index` costs.
    g.bench_function("pcoll_mem_slice", |b| {
        b.iter(|| {
            let root = pool.read();
            let pv = black_box(&root.v).as_slice();
            let mut s = 0u64;
            for &i in &idx {
                s = s.wrapping_add(pv[i]);
            }
            s
        })
    });
    g.bench_function("std", |b| {
        b.iter(|| {
            let v = black_box(&v);
            let mut s = 0u64;
            for &i in &idx {
                s = s.wrapping_add(v[i]);
            }
            s
        })
    });
    g.finish();
}

fn push_str_16(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_str_16");
    configure(&mut g, Kind::Slow);
    {
        let pool = mem_pool();
        let mut filled = 0;
        g.bench_function("pcoll_mem", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut filled,
                    &mut (),
                    |_, k| {
                        for _ in 0..k {
                            let mut w = pool.write();
                            let s = &mut w.s;
                            for _ in 0..BATCH {
                                s.push_str(black_box(CHUNK));
                            }
                        }
                    },
                    |_| pool.write().s.clear(),
                )
            })
        });
    }
    {
        let mut s = String::new();
        let mut filled = 0;
        g.bench_function("std", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut filled,
                    &mut s,
                    |s, k| {
                        for _ in 0..k {
                            let s = black_box(&mut *s);
                            for _ in 0..BATCH {
                                s.push_str(black_box(CHUNK));
                            }
                        }
                    },
                    |s| s.clear(),
                )
            })
        });
    }
    g.finish();
}

/// 1000 pops in one transaction; the vector is refilled to N (untimed) when it runs low.
fn pop_1000_per_txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("pop_1000_per_txn");
    configure(&mut g, Kind::Slow);
    let (pool, mut v) = filled();
    let b_ = BATCH as usize;
    g.bench_function("pcoll_mem", |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                if pool.read().v.len() < b_ {
                    pool.write().v.extend(0..N as u64);
                }
                let start = Instant::now();
                let mut w = pool.write();
                let mut s = 0u64;
                for _ in 0..b_ {
                    s = s.wrapping_add(w.v.pop().expect("not empty"));
                }
                drop(w);
                t += start.elapsed();
                black_box(s);
            }
            t
        })
    });
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                if v.len() < b_ {
                    v.extend(0..N as u64);
                }
                let start = Instant::now();
                let mut s = 0u64;
                for _ in 0..b_ {
                    s = s.wrapping_add(black_box(&mut v).pop().expect("not empty"));
                }
                t += start.elapsed();
                black_box(s);
            }
            t
        })
    });
    g.finish();
}

/// A scan of a 1 MiB string: the number of ASCII digits, through `as_str()` (pcoll) and
/// `&String` (std), under one read guard.
fn str_scan(c: &mut Criterion) {
    let mut g = c.benchmark_group("str_scan");
    configure(&mut g, Kind::Slow);
    let text = CHUNK.repeat(N / CHUNK.len());
    let pool = mem_pool();
    pool.write().s.push_str(&text);
    let digits = |s: &str| s.bytes().filter(u8::is_ascii_digit).count();
    let want = digits(&text);
    g.bench_function("pcoll_mem", |b| {
        b.iter(|| {
            let root = pool.read();
            digits(black_box(&root.s).as_str())
        })
    });
    g.bench_function("std", |b| b.iter(|| digits(black_box(&text))));
    assert_eq!(digits(pool.read().s.as_str()), want);
    g.finish();
}

/// A FIFO in steady state (issue 16): 1000 × (`push_back`, `pop_front`) in one transaction on
/// a queue of 1000 elements, against `VecDeque`.
fn deque_fifo_1000_per_txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("deque_fifo_1000_per_txn");
    configure(&mut g, Kind::Slow);
    let pool = mem_pool();
    pool.write().d.extend(0..BATCH);
    g.bench_function("pcoll_mem", |b| {
        b.iter(|| {
            let mut w = pool.write();
            let d = &mut w.d;
            for i in 0..BATCH {
                d.push_back(black_box(i));
                black_box(d.pop_front());
            }
        })
    });
    let mut std_d: std::collections::VecDeque<u64> = (0..BATCH).collect();
    g.bench_function("std", |b| {
        b.iter(|| {
            let d = black_box(&mut std_d);
            for i in 0..BATCH {
                d.push_back(black_box(i));
                black_box(d.pop_front());
            }
        })
    });
    g.finish();
}

/// Redis's LPUSH + RPOP (issue 16): 1000 × (`push_front` of a 16-byte string, `pop_back`)
/// in one transaction on a queue of 1000 strings, against `VecDeque<String>`. Each
/// `pop_back` that finds the back side empty moves half the queue over (bitwise, in the pool).
fn deque_strings_1000_per_txn(c: &mut Criterion) {
    let mut g = c.benchmark_group("deque_strings_1000_per_txn");
    configure(&mut g, Kind::Slow);
    let pool = mem_pool();
    let item = |i: u64| format!("value-{i:010}");
    for i in 0..BATCH {
        pool.write().ds.push_front(item(i).as_str().into());
    }
    g.bench_function("pcoll_mem", |b| {
        b.iter(|| {
            let mut w = pool.write();
            let d = &mut w.ds;
            for i in 0..BATCH {
                d.push_front(black_box(item(i).as_str()).into());
                black_box(d.pop_back().map(|s| s.len()));
            }
        })
    });
    let mut std_d: std::collections::VecDeque<String> = (0..BATCH).map(item).collect();
    g.bench_function("std", |b| {
        b.iter(|| {
            let d = black_box(&mut std_d);
            for i in 0..BATCH {
                d.push_front(black_box(item(i)));
                black_box(d.pop_back().map(|s| s.len()));
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    print_sync_push_counters();
    print_batch_counters();
    push_1_per_txn(c);
    push_1000_per_txn(c);
    iter_sum(c);
    random_index(c);
    push_str_16(c);
    pop_1000_per_txn(c);
    str_scan(c);
    deque_fifo_1000_per_txn(c);
    deque_strings_1000_per_txn(c);
}

criterion_group!(pvec, benches);
criterion_main!(pvec);
