//! `PBTreeMap` against `std::collections::BTreeMap`, in the same run:
//! `cargo bench --bench pbtreemap` (about 2.5 minutes plus the build), or with
//! `PCOLL_BENCH_QUICK=1` (minimal samples, well under a minute; its numbers are a smoke test
//! only, see "Sampling" below).
//!
//! Every pcoll benchmark uses `Durability::Process` on a memory pool
//! (`Pool::options().durability(Process).max_size(8 GiB).in_memory()`) whose root is just
//! the map: `{ m: PBTreeMap<u64, u64> }` (24 bytes: root, height, len; logged whole by the
//! first `w.m` of each transaction) or `{ t: PBTreeMap<[u8; 24], [u8; 150]> }`. The std side
//! (`std`) is a `BTreeMap` with the same key and value types in the same process. "1 M" =
//! N = 2^20. The random keys are 2^20 distinct u64 from a fixed-seed xorshift64*; in the
//! insert and remove groups the value of `keys[i]` is `i`.
//!
//! Every group name below is prefixed `tree_` in criterion's output (criterion keeps one
//! directory per group name; the prefixes keep `phashmap` and `pbtreemap` apart).
//!
//! Groups (one benchmark per side, `pcoll` and `std`):
//! - `insert_random_1_per_txn`: one insert of a random key per transaction
//!   (`let mut w = pool.write(); w.m.insert(k, v);`) against `BTreeMap::insert`; time per
//!   insert. The map is filled with the N random keys, then emptied in an untimed step
//!   (`PBTreeMap::clear`, which frees every node, in its own transaction; `BTreeMap::clear`,
//!   which frees every node too), and filled again: the time per insert is the mean over
//!   maps of 0 to N entries, splits and node allocations included, on both sides.
//! - `insert_random_1000_per_txn`: the same, 1000 inserts per transaction; time per 1000
//!   inserts (one transaction).
//! - `insert_sequential_1000_per_txn`: the same with the keys 0..N in increasing order
//!   (every insert appends to the rightmost leaf); time per 1000 inserts.
//! - `get_hit`: maps of the N random keys (pcoll filled 1000 per transaction); independent
//!   `get`s of the present keys in insertion order (random places in the tree), summing the
//!   values; time per `get`. `pcoll` takes one read guard per criterion batch, outside the
//!   timed loop (`let r = pool.read();` then `r.m.get(&k)` in the loop).
//! - `get_miss`: the same, with N other random keys, all absent.
//! - `iterate`: `values()` summed over the whole N-entry map, in key order on both sides.
//! - `range_10`: the same maps; `r.m.range(k..).take(10)` summing the 10 values, from N
//!   random start keys (another xorshift stream, almost all absent from the map); time per
//!   range of 10 (one guard per criterion batch, as in `get_hit`).
//! - `remove_half`: a map of the N random keys; one half of the keys (`keys[0..N/2]`, a
//!   random half) is removed (timed: 1000 `remove` per transaction), then reinserted untimed
//!   (1000 per transaction), then the other half, and so on: the map swings between N and
//!   N/2 entries. Time per remove. The transactions are cut at multiples of 1000 of the
//!   position in the half, so a criterion sample boundary splits at most one transaction.
//! - `kv_24_150_insert_1000_per_txn`: `PBTreeMap<[u8; 24], [u8; 150]>` (both plain
//!   `Persistent` arrays stored in the nodes, no handles) against
//!   `BTreeMap<[u8; 24], [u8; 150]>`: 1000 inserts per transaction, filled to 100,000
//!   entries, then emptied untimed with `clear` on both sides; time per 1000 inserts. The
//!   keys are the bytes of `format!("k{:023}", r % 10^19)` (redb's 24-byte shape).
//! - `insert_random_1000_per_txn` also has `pcoll_ranked`: the same on a ranked map
//!   (`PBTreeMap::ranked`, whose edges keep their subtrees' counts).
//! - `rank`: `range(..k).count()`, the rank of `k`, for random absent `k` over N-entry maps:
//!   `pcoll_ranked` (one descent) against std (a walk over the keys below `k`, as an
//!   unranked pcoll map would do); time per rank.
//! - `kv_24_150_get_hit`: the 100,000-entry maps, `get(&key)` of present keys in insertion
//!   order, reading the value's last byte; time per `get`.
//!
//! Sampling. The fill-and-empty groups (`insert_*`, `remove_half`, `kv_24_150_insert_*`)
//! use `iter_custom` so the cost per iteration stays the same whatever the sample size: the
//! number of timed operations is exactly what criterion asks for, and the cycle state (how
//! far the current fill has got) carries over from one call to the next. Since an insert
//! into a small tree is cheaper than one into a big tree, those groups use flat sampling with
//! few, long samples: each sample spans at least about two whole fill cycles of its side, so
//! every sample's mean is close to the mean over a whole cycle. Quick mode breaks this
//! (samples are a fraction of a cycle).
//!
//! At start the bench prints counters: the size of a `/dev/shm` pool file (`Process`,
//! `Pool::options().durability(Process).open(path)`) after loading N u64→u64 entries 1000
//! per transaction, after removing half of them and after reinserting them, against the
//! payload (16 bytes per entry); the same for 100,000 `[u8; 24]`→`[u8; 150]` entries
//! (payload 174 bytes per entry); and the `pool.stats()` deltas (log bytes and entries,
//! barriers, synced bytes) of single-insert and single-remove transactions on the loaded
//! N-entry map, in `Process` and in `Sync` mode on `/dev/shm` (env `PCOLL_BENCH_SHM`
//! overrides the directory): the first one printed exactly, then mean / min / max over 1000
//! such transactions (an insert that splits nodes logs more than one that does not); and the
//! same `Process` counters for a ranked map (`txn (ranked)`).

mod common;

use common::{
    Cycle, FilePool, Kind, chunks, configure, distinct_u64s, mem_pool, random_u64s, shm_dir,
    timed_cycles,
};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pcoll::{Durability, PBTreeMap, Persistent, Pool, PoolStats};

/// Entries of the u64 maps.
const N: usize = 1 << 20;
/// Operations per transaction in the `_1000_per_txn` groups and in loads.
const BATCH: usize = 1000;
/// Entries of the `[u8; 24] -> [u8; 150]` maps.
const SN: usize = 100_000;
const KEY_LEN: usize = 24;
const VAL_LEN: usize = 150;

type KvKey = [u8; KEY_LEN];
type KvVal = [u8; VAL_LEN];

/// The root of the u64 pools: just the map (24 bytes), which a write transaction logs whole
/// on its first `w.m` access.
#[derive(Persistent, Default)]
struct Root {
    m: PBTreeMap<u64, u64>,
}

/// The root of the `[u8; 24] -> [u8; 150]` pools.
#[derive(Persistent, Default)]
struct KvRoot {
    t: PBTreeMap<KvKey, KvVal>,
}

/// The N keys of the u64 maps (all distinct).
fn keys() -> Vec<u64> {
    distinct_u64s(0x5eed_0001, N)
}

/// N random u64 from another stream (range starts; new keys for the counters).
fn other_keys(present: &[u64]) -> Vec<u64> {
    let set: std::collections::HashSet<u64> = present.iter().copied().collect();
    let k = random_u64s(0x5eed_0002, N);
    assert!(
        k.iter().all(|x| !set.contains(x)),
        "an other key is present"
    );
    k
}

/// SN distinct 24-byte keys and 150-byte values (bytes derived from the same xorshift stream).
fn kv() -> (Vec<KvKey>, Vec<KvVal>) {
    let r = random_u64s(0x5eed_0003, 2 * SN);
    let keys: Vec<KvKey> = (0..SN)
        .map(|i| {
            let s = format!("k{:023}", r[i] % 10u64.pow(19));
            s.as_bytes().try_into().expect("24-byte key")
        })
        .collect();
    let vals: Vec<KvVal> = (0..SN)
        .map(|i| {
            let mut s = r[SN + i] | 1;
            std::array::from_fn(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
        })
        .collect();
    let distinct: std::collections::HashSet<&KvKey> = keys.iter().collect();
    assert_eq!(distinct.len(), SN, "duplicate kv keys");
    (keys, vals)
}

/// `ops` split at the multiples of `unit`: the transactions of a cycle stay the same
/// whatever ranges criterion's samples cut it into (a cut transaction is finished, as a
/// transaction of its own, by the next call).
fn aligned_chunks(ops: Range<usize>, unit: usize) -> impl Iterator<Item = Range<usize>> {
    let mut s = ops.start;
    std::iter::from_fn(move || {
        if s >= ops.end {
            return None;
        }
        let e = ((s / unit + 1) * unit).min(ops.end);
        let r = s..e;
        s = e;
        Some(r)
    })
}

/// Loads `keys[range]` (value `i` for `keys[i]`), 1000 per transaction.
fn load(pool: &Pool<Root>, keys: &[u64], r: Range<usize>) {
    for c in chunks(r, BATCH) {
        let mut w = pool.write();
        let m = &mut w.m;
        for i in c {
            m.insert(keys[i], i as u64);
        }
    }
}

// ---- counters ----

fn print_size<R: Persistent + Default>(
    what: &str,
    fp: &FilePool<R>,
    entries: usize,
    per_entry: usize,
    height: usize,
) {
    let (len, alloc) = fp.sizes();
    let payload = (entries * per_entry) as u64;
    let report = fp.pool().check().expect("check");
    println!(
        "pbtreemap size: {what}: entries {entries}, tree height {height}, payload {payload} B \
         ({per_entry} B/entry), file length {len} B ({:.2}x payload), allocated on tmpfs \
         {alloc} B ({:.2}x), stats.pool_bytes {}, check: {} blocks, allocated_bytes {} \
         ({:.2}x)",
        len as f64 / payload as f64,
        alloc as f64 / payload as f64,
        fp.pool().stats().pool_bytes,
        report.blocks,
        report.allocated_bytes,
        report.allocated_bytes as f64 / payload as f64,
    );
}

/// Barriers, synced bytes, log entries and log bytes from `a` to `b`.
fn delta(a: &PoolStats, b: &PoolStats) -> [u64; 4] {
    [
        b.barriers - a.barriers,
        b.synced_bytes - a.synced_bytes,
        b.txn.log_entries - a.txn.log_entries,
        b.txn.log_bytes - a.txn.log_bytes,
    ]
}

const DELTA_NAMES: [&str; 4] = ["barriers", "synced_bytes", "log_entries", "log_bytes"];

fn fmt_one(d: &[u64; 4]) -> String {
    DELTA_NAMES
        .iter()
        .zip(d)
        .map(|(n, v)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_many(ds: &[[u64; 4]]) -> String {
    (0..4)
        .map(|j| {
            let v = ds.iter().map(|d| d[j]);
            let mean = v.clone().sum::<u64>() as f64 / ds.len() as f64;
            format!(
                "{} mean {mean:.1} (min {}, max {})",
                DELTA_NAMES[j],
                v.clone().min().unwrap_or(0),
                v.max().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Counters of single-operation transactions on `pool`, loaded with `keys` (N entries):
/// the first insert of a new key, 1000 more, a value replaced, the first remove, 1000 more.
/// The map holds the same N entries afterwards.
fn print_txn_counters(d: Durability, pool: &Pool<Root>, keys: &[u64], new: &[u64]) {
    let one = |f: &dyn Fn(&mut Root)| {
        let a = pool.stats();
        {
            let mut w = pool.write();
            f(&mut w);
        }
        delta(&a, &pool.stats())
    };
    let dir = shm_dir();
    let ranked = if pool.read().m.is_ranked() {
        " (ranked)"
    } else {
        ""
    };
    let tag = format!(
        "pbtreemap txn{ranked}: Durability::{d:?} on {}",
        dir.display()
    );
    let ins: Vec<[u64; 4]> = (0..=BATCH)
        .map(|j| {
            one(&|r| {
                r.m.insert(new[j], j as u64);
            })
        })
        .collect();
    println!(
        "{tag}, first insert of a new key into the {N}-entry map: {}",
        fmt_one(&ins[0])
    );
    println!(
        "{tag}, the next {BATCH} single-insert transactions: {}",
        fmt_many(&ins[1..])
    );
    let rep = one(&|r| {
        r.m.insert(keys[7], 1);
    });
    println!(
        "{tag}, insert of an existing key (value replaced): {}",
        fmt_one(&rep)
    );
    let rem: Vec<[u64; 4]> = (0..=BATCH)
        .map(|j| {
            one(&|r| {
                r.m.remove(&new[j]);
            })
        })
        .collect();
    println!(
        "{tag}, first single-remove transaction: {}",
        fmt_one(&rem[0])
    );
    println!(
        "{tag}, the next {BATCH} single-remove transactions: {}",
        fmt_many(&rem[1..])
    );
    let b = pool.stats();
    {
        let mut w = pool.write();
        for (i, &k) in keys.iter().enumerate().take(BATCH) {
            w.m.insert(k, i as u64 + 1);
        }
    }
    println!(
        "{tag}, one transaction of {BATCH} inserts of existing keys (values replaced): {}",
        fmt_one(&delta(&b, &pool.stats()))
    );
    let b = pool.stats();
    {
        let mut w = pool.write();
        for (j, &k) in new.iter().enumerate().take(BATCH) {
            w.m.insert(k, j as u64);
        }
    }
    println!(
        "{tag}, one transaction of {BATCH} inserts of new keys: {}",
        fmt_one(&delta(&b, &pool.stats()))
    );
    {
        let mut w = pool.write();
        for k in new.iter().take(BATCH) {
            w.m.remove(k);
        }
        w.m.insert(keys[7], 7);
    }
    assert_eq!(pool.read().m.len(), N);
}

/// Pool file sizes after a load, after removing half, after reinserting it; transaction
/// counters in both durabilities.
fn print_counters(keys: &[u64], new: &[u64], kkeys: &[KvKey], kvals: &[KvVal]) {
    {
        let fp = FilePool::<Root>::new(Durability::Process, "u64-ranked");
        let pool = fp.pool();
        pool.write().m = PBTreeMap::ranked();
        load(pool, keys, 0..N);
        print_txn_counters(Durability::Process, pool, keys, new);
    }
    for d in [Durability::Process, Durability::Sync] {
        let fp = FilePool::<Root>::new(d, &format!("u64-{d:?}").to_lowercase());
        let pool = fp.pool();
        load(pool, keys, 0..N);
        print_txn_counters(d, pool, keys, new);
        if d == Durability::Sync {
            continue;
        }
        let h = || pool.read().m.height();
        print_size("u64->u64, loaded 1000 per txn", &fp, N, 16, h());
        for c in chunks(0..N / 2, BATCH) {
            let mut w = pool.write();
            for i in c {
                w.m.remove(&keys[i]);
            }
        }
        print_size("u64->u64, first half removed", &fp, N / 2, 16, h());
        load(pool, keys, 0..N / 2);
        print_size("u64->u64, half reinserted", &fp, N, 16, h());
    }
    {
        let fp = FilePool::<KvRoot>::new(Durability::Process, "kv");
        let pool = fp.pool();
        let fill = |r: Range<usize>| {
            for c in chunks(r, BATCH) {
                let mut w = pool.write();
                for i in c {
                    w.t.insert(kkeys[i], kvals[i]);
                }
            }
        };
        let per = KEY_LEN + VAL_LEN;
        let h = || pool.read().t.height();
        fill(0..SN);
        print_size("[u8;24]->[u8;150], loaded 1000 per txn", &fp, SN, per, h());
        for c in chunks(0..SN / 2, BATCH) {
            let mut w = pool.write();
            for k in &kkeys[c] {
                w.t.remove(k);
            }
        }
        print_size(
            "[u8;24]->[u8;150], first half removed",
            &fp,
            SN / 2,
            per,
            h(),
        );
        fill(0..SN / 2);
        print_size("[u8;24]->[u8;150], half reinserted", &fp, SN, per, h());
    }
}

// ---- u64 inserts ----

/// The fill-and-empty insert benchmarks of one group: `unit` inserts of `keys` per
/// transaction; `secs`: seconds per sample for the pcoll and the std side.
/// With `ranked`, the pcoll side only, on a ranked map (`PBTreeMap::ranked`), as
/// `pcoll_ranked`.
fn insert_group(
    c: &mut Criterion,
    name: &str,
    unit: usize,
    keys: &[u64],
    secs: (f64, f64),
    ranked: bool,
) {
    let mut g = c.benchmark_group(format!("tree_{name}"));
    let len = N / unit * unit;
    {
        configure(&mut g, Kind::Cycles { secs: secs.0 });
        let pool = mem_pool::<Root>();
        if ranked {
            pool.write().m = PBTreeMap::ranked();
        }
        let mut cyc = Cycle::new(len);
        g.bench_function(if ranked { "pcoll_ranked" } else { "pcoll" }, |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    unit,
                    &mut cyc,
                    &mut (),
                    |_, ops| {
                        for c in chunks(ops, unit) {
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
        assert!(pool.read().m.len() <= len);
        assert_eq!(pool.read().m.is_ranked(), ranked);
    }
    if ranked {
        return g.finish();
    }
    configure(&mut g, Kind::Cycles { secs: secs.1 });
    let mut m: BTreeMap<u64, u64> = BTreeMap::new();
    let mut cyc = Cycle::new(len);
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            timed_cycles(
                iters,
                unit,
                &mut cyc,
                &mut m,
                |m, ops| {
                    for c in chunks(ops, unit) {
                        let m = black_box(&mut *m);
                        for i in c {
                            m.insert(black_box(keys[i]), i as u64);
                        }
                    }
                },
                |m| m.clear(),
            )
        })
    });
    g.finish();
}

// ---- ranks ----

/// `range(..k).count()` (the rank of `k`) for absent random keys `probe`, over N-entry maps:
/// a ranked pcoll map (one descent), and std's `BTreeMap` (a walk over the keys below `k`;
/// an unranked pcoll map walks as std does).
fn ranks(c: &mut Criterion, keys: &[u64], probe: &[u64]) {
    let pool = mem_pool::<Root>();
    pool.write().m = PBTreeMap::ranked();
    load(&pool, keys, 0..N);
    let s: BTreeMap<u64, u64> = keys.iter().map(|&k| (k, 0)).collect();
    let mut g = c.benchmark_group("tree_rank");
    configure(&mut g, Kind::Fast);
    let mut pos = 0;
    g.bench_function("pcoll_ranked", |b| {
        b.iter_custom(|iters| {
            let r = pool.read();
            probes(iters, &mut pos, probe, |k| r.m.range(..k).count() as u64)
        })
    });
    configure(&mut g, Kind::Slow);
    g.bench_function("std", |b| {
        b.iter_custom(|iters| probes(iters, &mut pos, probe, |k| s.range(..k).count() as u64))
    });
    g.finish();
    let r = pool.read();
    assert!(
        probe[..1000]
            .iter()
            .all(|&k| r.m.range(..k).count() == s.range(..k).count())
    );
}

// ---- lookups and ranges over N-entry maps ----

struct Filled {
    pool: Pool<Root>,
    s: BTreeMap<u64, u64>,
}

fn filled(keys: &[u64]) -> Filled {
    let pool = mem_pool::<Root>();
    load(&pool, keys, 0..N);
    let mut s = BTreeMap::new();
    for (i, &k) in keys.iter().enumerate() {
        s.insert(k, i as u64);
    }
    assert_eq!(pool.read().m.len(), N);
    Filled { pool, s }
}

/// Runs `f(probe[pos..])` (wrapping) `iters` times, summing its results; returns the time.
fn probes(iters: u64, pos: &mut usize, probe: &[u64], f: impl Fn(u64) -> u64) -> Duration {
    let mask = probe.len() - 1;
    let mut p = *pos;
    let mut s = 0u64;
    let t = Instant::now();
    for _ in 0..iters {
        s = s.wrapping_add(f(black_box(probe[p])));
        p = (p + 1) & mask;
    }
    let e = t.elapsed();
    black_box(s);
    *pos = p;
    e
}

/// Independent `get`s of `probe` keys on both sides, as group `name`.
fn lookups(c: &mut Criterion, name: &str, f: &Filled, probe: &[u64]) {
    let mut g = c.benchmark_group(name);
    configure(&mut g, Kind::Fast);
    let mut pos = 0;
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = f.pool.read();
            let m = &r.m;
            probes(iters, &mut pos, probe, |k| {
                m.get(&k).copied().unwrap_or(u64::MAX)
            })
        })
    });
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            probes(iters, &mut pos, probe, |k| {
                f.s.get(&k).copied().unwrap_or(u64::MAX)
            })
        })
    });
    g.finish();
}

fn get_hit(c: &mut Criterion, f: &Filled, keys: &[u64]) {
    lookups(c, "tree_get_hit", f, keys);
    // Every key found, with its value.
    let r = f.pool.read();
    assert!(
        keys.iter()
            .enumerate()
            .all(|(i, k)| r.m.get(k) == Some(&(i as u64)))
    );
}

/// Lookups of absent keys (`others`), as `get_hit`.
fn get_miss(c: &mut Criterion, f: &Filled, others: &[u64]) {
    lookups(c, "tree_get_miss", f, others);
    let r = f.pool.read();
    assert!(others.iter().all(|k| r.m.get(k).is_none()));
}

/// `values().sum()` over the whole map, in key order on both sides.
fn iterate(c: &mut Criterion, f: &Filled) {
    let mut g = c.benchmark_group("tree_iterate");
    configure(&mut g, Kind::Fast);
    g.bench_function("pcoll", |b| {
        b.iter(|| {
            let r = f.pool.read();
            black_box(&r.m)
                .values()
                .fold(0u64, |a, &v| a.wrapping_add(v))
        })
    });
    g.bench_function("std", |b| {
        b.iter(|| {
            black_box(&f.s)
                .values()
                .fold(0u64, |a, &v| a.wrapping_add(v))
        })
    });
    g.finish();
}

fn range_10(c: &mut Criterion, f: &Filled, starts: &[u64]) {
    let mut g = c.benchmark_group("tree_range_10");
    configure(&mut g, Kind::Fast);
    let mut pos = 0;
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = f.pool.read();
            let m = &r.m;
            probes(iters, &mut pos, starts, |k| {
                m.range(k..).take(10).map(|(_, v)| *v).sum()
            })
        })
    });
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            probes(iters, &mut pos, starts, |k| {
                f.s.range(k..).take(10).map(|(_, v)| *v).sum()
            })
        })
    });
    // Same pairs on both sides, 10 per range (but near the end of the key space).
    let r = f.pool.read();
    let mut full = 0;
    for &k in starts.iter().step_by(97) {
        let a: Vec<(u64, u64)> = r.m.range(k..).take(10).map(|(k, v)| (*k, *v)).collect();
        let b: Vec<(u64, u64)> = f.s.range(k..).take(10).map(|(k, v)| (*k, *v)).collect();
        assert_eq!(a, b);
        full += usize::from(a.len() == 10);
    }
    assert!(full * 100 >= starts.len().div_ceil(97) * 99, "short ranges");
    g.finish();
}

// ---- removes ----

/// Removes one half of the keys 1000 per transaction (timed, per remove), reinserts it
/// (untimed), then the other half.
fn remove_half(c: &mut Criterion, keys: &[u64], secs: (f64, f64)) {
    let mut g = c.benchmark_group("tree_remove_half");
    let half = N / 2;
    {
        configure(&mut g, Kind::Cycles { secs: secs.0 });
        let pool = mem_pool::<Root>();
        // (which half is being removed, whether the map was filled)
        let mut st = (1usize, false);
        let mut cyc = Cycle::new(half);
        g.bench_function("pcoll", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    1,
                    &mut cyc,
                    &mut st,
                    |st, ops| {
                        let base = st.0 * half;
                        for c in aligned_chunks(ops, BATCH) {
                            let mut w = pool.write();
                            let m = &mut w.m;
                            for i in c {
                                black_box(m.remove(&keys[base + i]));
                            }
                        }
                    },
                    |st| {
                        let refill = if st.1 {
                            st.0 * half..st.0 * half + half
                        } else {
                            0..N
                        };
                        load(&pool, keys, refill);
                        *st = (1 - st.0, true);
                    },
                )
            })
        });
        let len = pool.read().m.len();
        assert!((half..=N).contains(&len));
    }
    configure(&mut g, Kind::Cycles { secs: secs.1 });
    let mut st = (BTreeMap::<u64, u64>::new(), 1usize, false);
    let mut cyc = Cycle::new(half);
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            timed_cycles(
                iters,
                1,
                &mut cyc,
                &mut st,
                |st, ops| {
                    let base = st.1 * half;
                    for c in aligned_chunks(ops, BATCH) {
                        let m = black_box(&mut st.0);
                        for i in c {
                            black_box(m.remove(&keys[base + i]));
                        }
                    }
                },
                |st| {
                    let refill = if st.2 {
                        st.1 * half..st.1 * half + half
                    } else {
                        0..N
                    };
                    for i in refill {
                        st.0.insert(keys[i], i as u64);
                    }
                    st.1 = 1 - st.1;
                    st.2 = true;
                },
            )
        })
    });
    g.finish();
}

// ---- [u8; 24] -> [u8; 150] ----

fn kv_insert(c: &mut Criterion, kkeys: &[KvKey], kvals: &[KvVal], secs: (f64, f64)) {
    let mut g = c.benchmark_group("tree_kv_24_150_insert_1000_per_txn");
    let len = SN / BATCH * BATCH;
    {
        configure(&mut g, Kind::Cycles { secs: secs.0 });
        let pool = mem_pool::<KvRoot>();
        let mut cyc = Cycle::new(len);
        g.bench_function("pcoll", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut cyc,
                    &mut (),
                    |_, ops| {
                        for c in chunks(ops, BATCH) {
                            let mut w = pool.write();
                            let m = &mut w.t;
                            for i in c {
                                m.insert(black_box(kkeys[i]), kvals[i]);
                            }
                        }
                    },
                    |_| pool.write().t.clear(),
                )
            })
        });
    }
    configure(&mut g, Kind::Cycles { secs: secs.1 });
    let mut m: BTreeMap<KvKey, KvVal> = BTreeMap::new();
    let mut cyc = Cycle::new(len);
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            timed_cycles(
                iters,
                BATCH,
                &mut cyc,
                &mut m,
                |m, ops| {
                    for c in chunks(ops, BATCH) {
                        let m = black_box(&mut *m);
                        for i in c {
                            m.insert(black_box(kkeys[i]), kvals[i]);
                        }
                    }
                },
                |m| m.clear(),
            )
        })
    });
    g.finish();
}

fn kv_get(c: &mut Criterion, kkeys: &[KvKey], kvals: &[KvVal]) {
    let mut g = c.benchmark_group("tree_kv_24_150_get_hit");
    configure(&mut g, Kind::Fast);
    let pool = mem_pool::<KvRoot>();
    for ch in chunks(0..SN, BATCH) {
        let mut w = pool.write();
        for i in ch {
            w.t.insert(kkeys[i], kvals[i]);
        }
    }
    let s: BTreeMap<KvKey, KvVal> = kkeys.iter().copied().zip(kvals.iter().copied()).collect();
    let mut pos = 0usize;
    let next = |pos: &mut usize| {
        let p = *pos;
        *pos = if p + 1 == SN { 0 } else { p + 1 };
        p
    };
    fn run(
        iters: u64,
        pos: &mut usize,
        next: &impl Fn(&mut usize) -> usize,
        kkeys: &[KvKey],
        get: impl Fn(&KvKey) -> Option<u8>,
    ) -> Duration {
        let mut s = 0u64;
        let t = Instant::now();
        for _ in 0..iters {
            let k = black_box(&kkeys[next(pos)]);
            if let Some(b) = get(k) {
                s = s.wrapping_add(u64::from(b));
            }
        }
        let e = t.elapsed();
        black_box(s);
        e
    }
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = pool.read();
            let m = &r.t;
            run(iters, &mut pos, &next, kkeys, |k| {
                m.get(k).map(|v| v[VAL_LEN - 1])
            })
        })
    });
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            run(iters, &mut pos, &next, kkeys, |k| {
                s.get(k).map(|v| v[VAL_LEN - 1])
            })
        })
    });
    // Same contents on both sides.
    let r = pool.read();
    assert_eq!(r.t.len(), s.len());
    assert!(r.t.iter().zip(&s).all(|(a, b)| a == b));
    g.finish();
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let others = other_keys(&keys);
    let seq: Vec<u64> = (0..N as u64).collect();
    let (kkeys, kvals) = kv();
    // Seconds per sample (pcoll, std): at least about two whole fill (or remove) cycles of
    // each side here (a pcoll fill of 1 M random keys one per transaction takes ~0.9 s).
    print_counters(&keys, &others, &kkeys, &kvals);
    insert_group(c, "insert_random_1_per_txn", 1, &keys, (2.0, 0.6), false);
    insert_group(
        c,
        "insert_random_1000_per_txn",
        BATCH,
        &keys,
        (1.6, 0.5),
        false,
    );
    insert_group(
        c,
        "insert_random_1000_per_txn",
        BATCH,
        &keys,
        (1.6, 0.5),
        true,
    );
    insert_group(
        c,
        "insert_sequential_1000_per_txn",
        BATCH,
        &seq,
        (0.7, 0.2),
        false,
    );
    ranks(c, &keys, &others);
    {
        let f = filled(&keys);
        get_hit(c, &f, &keys);
        get_miss(c, &f, &others);
        iterate(c, &f);
        range_10(c, &f, &others);
    }
    remove_half(c, &keys, (2.2, 0.7));
    kv_insert(c, &kkeys, &kvals, (0.3, 0.15));
    kv_get(c, &kkeys, &kvals);
}

criterion_group!(pbtreemap, benches);
criterion_main!(pbtreemap);
