//! `PHashMap` against `std::collections::HashMap`, in the same run:
//! `cargo bench --bench phashmap` (about 4 minutes plus the build), or with
//! `PCOLL_BENCH_QUICK=1` (minimal samples, well under a minute; its numbers are a smoke test
//! only, see "Sampling" below).
//!
//! Every pcoll benchmark uses `Durability::Process` on a memory pool
//! (`Pool::options().durability(Process).max_size(8 GiB).in_memory()`) whose root is just
//! the map: `{ m: PHashMap<u64, u64> }` (64 bytes, logged whole by the first `w.m` of each
//! transaction) or `{ s: PHashMap<PString, PVec<u8>> }`, with the default hasher
//! (`PRandomState`: ahash with a seed stored in the map). The std sides run in the same
//! process: `HashMap<_, _, ahash::RandomState>` (`std_ahash`, the same hash function) and,
//! for reference, std's default SipHash (`std_sip`). "1 M" = N = 2^20. The keys are 2^20
//! random u64 from a fixed-seed xorshift64*; in the insert and remove groups the value of
//! `keys[i]` is `i`.
//!
//! Every group name below is prefixed `hash_` in criterion's output (criterion keeps one
//! directory per group name; the prefixes keep `phashmap` and `pbtreemap` apart).
//!
//! Groups (one benchmark per side):
//! - `insert_1_per_txn`: one insert per transaction
//!   (`let mut w = pool.write(); w.m.insert(k, v);`) against `HashMap::insert`; time per
//!   insert. The map is filled with keys 0..N in order, then emptied in an untimed step, and
//!   filled again. Two ways of emptying, both sides treated alike:
//!   - `pcoll`, `std_ahash`, `std_sip` (**growth included**): the map restarts at capacity 0
//!     (`PHashMap::clear` releases the table; the std map is replaced by a new empty one,
//!     since `HashMap::clear` would keep its capacity). Each fill grows the table 8 → 2^21
//!     buckets, so the time per insert includes the amortised rehashing, as a map that is
//!     filled from empty sees it;
//!   - `pcoll_reserved`, `std_ahash_reserved` (**no growth**): the map is cleared and
//!     `reserve(N)` is called, untimed (pcoll: in its own transaction, so the inserts go into
//!     a table allocated by an earlier transaction, as in a long-lived map); no insert grows.
//! - `insert_1000_per_txn`: the same, 1000 inserts per transaction; time per 1000 inserts.
//! - `get_hit`, `get_miss`: a map of N entries (filled 1000 per transaction, grown as it
//!   went); independent lookups of the present keys in insertion order (random places in
//!   the table), or of N other random keys that are absent; time per `get`. `pcoll` takes
//!   one read guard per criterion batch, outside the timed loop (`let r = pool.read();`
//!   then `r.m.get(&k)` in the loop); `pcoll_guard_each` takes `pool.read()` around every
//!   `get`.
//! - `get_hit_chain`: the same present keys, but each lookup depends on the previous one
//!   (the maps' values chain the keys into one random cycle: the next key looked up is
//!   `keys[value]`), so lookups cannot overlap: latency per `get`, where `get_hit` is
//!   throughput (independent lookups, which the CPU overlaps).
//! - `remove_1_per_txn`, `remove_1000_per_txn`: a map of N entries; one half of the keys is
//!   removed (timed: one, or 1000, `remove` per transaction), then reinserted untimed (1000
//!   per transaction), then the other half, and so on: the map swings between N and N/2
//!   entries. Time per remove (per 1000 removes).
//! - `iterate`: `r.m.values().sum()` over the N-entry map, against `HashMap::values`.
//! - `string_kv_insert_1000_per_txn`: `PHashMap<PString, PVec<u8>>` with 24-byte keys and
//!   150-byte values (redb's benchmark shape), 1000 `w.s.insert(key_str, &value[..])` per
//!   transaction against `HashMap<String, Vec<u8>, ahash::RandomState>` (and SipHash)
//!   `insert(key.clone(), value.clone())`: both sides allocate a key and a value per insert.
//!   Filled to 100,000 entries, then emptied untimed with growth included as above (pcoll
//!   `clear`, std replaced). Time per 1000 inserts.
//! - `string_kv_get_batch`: 1 M string entries, batches of 512 random lookups, with and without
//!   `prefetch`/`prefetch_entry` first (see `string_get_batch`).
//! - `string_kv_get_hit`: the 100,000-entry maps, `get(&str)` of present keys in insertion
//!   order, reading the value's last byte (`v.as_slice()[149]`, so the value's block is
//!   touched on both sides); one read guard outside the timed loop.
//!
//! Sampling. The fill-and-empty groups use `iter_custom` so the cost per iteration stays the
//! same whatever the sample size: the number of timed operations is exactly what criterion
//! asks for, and the cycle state (how far the current fill has got) carries over from one
//! call to the next. Since an insert into a small table is cheaper than one into a big
//! table, those groups use flat sampling with few, long samples: each sample spans at least
//! about two whole fill cycles of the slowest side, so every sample's mean is close to the
//! mean over a whole cycle. Quick mode breaks this (samples are a fraction of a cycle).
//!
//! At start the bench prints counters: the size of a `/dev/shm` pool file (`Process`) after
//! loading N u64→u64 entries 1000 per transaction, after removing half of them and after
//! reinserting them, against the payload (16 bytes per entry); the same for 100,000 string
//! entries (payload 24 + 150 bytes); and the log and barrier counters of single-insert,
//! single-remove and 1000-insert transactions in `Process` and `Sync` mode on `/dev/shm`
//! (env `PCOLL_BENCH_SHM` overrides the directory).

mod common;

use common::{
    AState, Cycle, FilePool, Kind, chunks, configure, distinct_u64s, mem_pool, random_u64s,
    shm_dir, timed_cycles,
};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use pcoll::{Durability, PHashMap, PString, PVec, Persistent, Pool, PoolStats};

type SipState = std::collections::hash_map::RandomState;

/// The root of the u64 pools: just the map (64 bytes: the header and the hasher's seed),
/// which a write transaction logs whole on its first `w.m` access.
#[derive(Persistent, Default)]
struct Root {
    m: PHashMap<u64, u64>,
}

/// The root of the string pools.
#[derive(Persistent, Default)]
struct SRoot {
    s: PHashMap<PString, PVec<u8>>,
}

/// Entries of the u64 maps.
const N: usize = 1 << 20;
/// Operations per transaction in the `_1000_per_txn` groups.
const BATCH: usize = 1000;
/// Entries of the string maps.
const SN: usize = 100_000;
const KEY_LEN: usize = 24;
const VAL_LEN: usize = 150;
/// Seconds per sample of the std sides of the fill-and-empty groups (a std fill cycle takes
/// 0.1 s or less here).
const STD_SECS: f64 = 0.3;

/// The N keys of the u64 maps (all distinct).
fn keys() -> Vec<u64> {
    distinct_u64s(0x5eed_0001, N)
}

/// N random keys, none of them in `present`.
fn absent_keys(present: &[u64]) -> Vec<u64> {
    let set: std::collections::HashSet<u64> = present.iter().copied().collect();
    let k = random_u64s(0x5eed_0002, N);
    assert!(
        k.iter().all(|x| !set.contains(x)),
        "an absent key is present"
    );
    k
}

/// SN 24-byte keys and 150-byte values (bytes derived from the same xorshift stream).
fn string_kv() -> (Vec<String>, Vec<Vec<u8>>) {
    let r = random_u64s(0x5eed_0003, 2 * SN);
    let keys: Vec<String> = (0..SN)
        .map(|i| format!("k{:023}", r[i] % 10u64.pow(19)))
        .collect();
    let vals: Vec<Vec<u8>> = (0..SN)
        .map(|i| {
            let mut s = r[SN + i] | 1;
            (0..VAL_LEN)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    s as u8
                })
                .collect()
        })
        .collect();
    assert!(keys.iter().all(|k| k.len() == KEY_LEN));
    let distinct: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), SN, "duplicate string keys");
    (keys, vals)
}

// ---- counters ----

fn delta(a: &PoolStats, b: &PoolStats) -> String {
    format!(
        "barriers {}, synced_bytes {}, log_entries {}, log_bytes {}",
        b.barriers - a.barriers,
        b.synced_bytes - a.synced_bytes,
        b.txn.log_entries - a.txn.log_entries,
        b.txn.log_bytes - a.txn.log_bytes,
    )
}

fn print_size<R: Persistent + Default>(
    what: &str,
    fp: &FilePool<R>,
    entries: usize,
    per_entry: usize,
) {
    let (len, alloc) = fp.sizes();
    let payload = (entries * per_entry) as u64;
    let report = fp.pool().check().expect("check");
    println!(
        "phashmap size: {what}: entries {entries}, payload {payload} B ({per_entry} B/entry), \
         file length {len} B ({:.2}x payload), allocated on tmpfs {alloc} B ({:.2}x), \
         stats.pool_bytes {}, check: {} blocks, allocated_bytes {} ({:.2}x)",
        len as f64 / payload as f64,
        alloc as f64 / payload as f64,
        fp.pool().stats().pool_bytes,
        report.blocks,
        report.allocated_bytes,
        report.allocated_bytes as f64 / payload as f64,
    );
}

/// Pool file sizes after a load, after removing half, after reinserting it.
fn print_file_sizes(keys: &[u64], skeys: &[String], svals: &[Vec<u8>]) {
    {
        let fp = FilePool::<Root>::new(Durability::Process, "size-u64");
        let pool = fp.pool();
        let fill = |r: Range<usize>| {
            for c in chunks(r, BATCH) {
                let mut w = pool.write();
                for i in c {
                    w.m.insert(keys[i], i as u64);
                }
            }
        };
        fill(0..N);
        print_size("u64->u64, loaded 1000 per txn", &fp, N, 16);
        let cap = pool.read().m.capacity();
        println!(
            "phashmap size: u64->u64: PHashMap capacity {cap} (table of {} buckets x 17 B = {} B)",
            cap / 7 * 8,
            cap / 7 * 8 * 17
        );
        for c in chunks(0..N / 2, BATCH) {
            let mut w = pool.write();
            for i in c {
                w.m.remove(&keys[i]);
            }
        }
        print_size("u64->u64, first half removed", &fp, N / 2, 16);
        fill(0..N / 2);
        print_size("u64->u64, half reinserted", &fp, N, 16);
    }
    {
        let fp = FilePool::<SRoot>::new(Durability::Process, "size-str");
        let pool = fp.pool();
        let fill = |r: Range<usize>| {
            for c in chunks(r, BATCH) {
                let mut w = pool.write();
                for i in c {
                    w.s.insert(skeys[i].as_str(), &svals[i][..]);
                }
            }
        };
        let per = KEY_LEN + VAL_LEN;
        fill(0..SN);
        print_size("string 24 B -> 150 B, loaded 1000 per txn", &fp, SN, per);
        for c in chunks(0..SN / 2, BATCH) {
            let mut w = pool.write();
            for i in c {
                w.s.remove(skeys[i].as_str());
            }
        }
        print_size("string, first half removed", &fp, SN / 2, per);
        fill(0..SN / 2);
        print_size("string, half reinserted", &fp, SN, per);
    }
}

/// Log and barrier counters of single-operation transactions (`Process` and `Sync`), and of
/// 1000-insert transactions, on shm file pools.
fn print_txn_counters(keys: &[u64]) {
    for d in [Durability::Process, Durability::Sync] {
        let fp = FilePool::<Root>::new(d, &format!("{d:?}").to_lowercase());
        let pool = fp.pool();
        let one = |what: &str, f: &dyn Fn(&mut Root)| {
            let a = pool.stats();
            {
                let mut w = pool.write();
                f(&mut w);
            }
            let b = pool.stats();
            println!(
                "phashmap txn: Durability::{d:?} on {}, {what}: {}",
                shm_dir().display(),
                delta(&a, &b)
            );
        };
        one("first insert (allocates the table)", &|r| {
            r.m.insert(keys[0], 0);
        });
        {
            let mut w = pool.write();
            for (i, &k) in keys.iter().enumerate().take(2000).skip(1) {
                w.m.insert(k, i as u64);
            }
        }
        one(
            "insert into a 2000-entry map (table from an earlier txn)",
            &|r| {
                r.m.insert(keys[2000], 2000);
            },
        );
        one("insert of an existing key (value replaced)", &|r| {
            r.m.insert(keys[2000], 1);
        });
        one("remove", &|r| {
            r.m.remove(&keys[2000]);
        });
        pool.write().m.reserve(BATCH);
        one("1000 inserts into existing capacity", &|r| {
            for (i, &k) in keys.iter().enumerate().take(3000).skip(2000) {
                r.m.insert(k, i as u64);
            }
        });
        println!(
            "phashmap txn: (map capacity {} after those, len {})",
            pool.read().m.capacity(),
            pool.read().m.len()
        );
    }
}

// ---- u64 inserts ----

/// The fill-and-empty insert benchmarks of one group, `unit` inserts per transaction.
/// `secs`: seconds per sample for the pcoll sides (at least about two fill cycles).
fn insert_group(c: &mut Criterion, name: &str, unit: usize, keys: &[u64], secs: f64) {
    let mut g = c.benchmark_group(format!("hash_{name}"));
    let len = N / unit * unit;
    for reserved in [false, true] {
        configure(&mut g, Kind::Cycles { secs });
        let pool = mem_pool::<Root>();
        let mut cyc = Cycle::new(len);
        let id = if reserved { "pcoll_reserved" } else { "pcoll" };
        g.bench_function(id, |b| {
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
                    |_| {
                        let mut w = pool.write();
                        w.m.clear();
                        if reserved {
                            w.m.reserve(N);
                        }
                    },
                )
            })
        });
        assert!(pool.read().m.len() <= len);
    }
    configure(&mut g, Kind::Cycles { secs: STD_SECS });
    std_insert::<AState>(&mut g, "std_ahash", unit, keys, false);
    std_insert::<AState>(&mut g, "std_ahash_reserved", unit, keys, true);
    std_insert::<SipState>(&mut g, "std_sip", unit, keys, false);
    g.finish();
}

fn std_insert<S: BuildHasher + Default>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    unit: usize,
    keys: &[u64],
    reserved: bool,
) {
    let len = N / unit * unit;
    let mut m: HashMap<u64, u64, S> = HashMap::default();
    let mut cyc = Cycle::new(len);
    g.bench_function(id, |b| {
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
                |m| {
                    if reserved {
                        m.clear();
                        m.reserve(N);
                    } else {
                        *m = HashMap::default();
                    }
                },
            )
        })
    });
}

// ---- lookups and iteration over N-entry maps ----

struct Filled {
    pool: Pool<Root>,
    a: HashMap<u64, u64, AState>,
    sip: HashMap<u64, u64, SipState>,
}

/// The N-entry maps of the lookup groups. The value of `keys[i]` is the index of the key a
/// dependent chain looks up next: the indices form one random cycle through all N keys.
fn filled(keys: &[u64]) -> Filled {
    let next = chain(N);
    let pool = mem_pool::<Root>();
    for c in chunks(0..N, BATCH) {
        let mut w = pool.write();
        for i in c {
            w.m.insert(keys[i], next[i]);
        }
    }
    let a: HashMap<u64, u64, AState> = keys.iter().copied().zip(next.iter().copied()).collect();
    let sip: HashMap<u64, u64, SipState> = keys.iter().copied().zip(next.iter().copied()).collect();
    assert_eq!(pool.read().m.len(), N);
    Filled { pool, a, sip }
}

/// `next[i]` for one random cyclic permutation of `0..n` (a fixed-seed Fisher-Yates order).
fn chain(n: usize) -> Vec<u64> {
    let r = random_u64s(0x5eed_0004, n);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (r[i] % (i as u64 + 1)) as usize);
    }
    let mut next = vec![0u64; n];
    for w in 0..n {
        next[order[w]] = order[(w + 1) % n] as u64;
    }
    next
}

/// Looks up `probe[pos..]` (wrapping) `iters` times with `get`; returns the time.
fn lookups(
    iters: u64,
    pos: &mut usize,
    probe: &[u64],
    get: impl Fn(u64) -> Option<u64>,
) -> Duration {
    let mask = probe.len() - 1;
    let mut p = *pos;
    let mut s = 0u64;
    let t = Instant::now();
    for _ in 0..iters {
        if let Some(v) = get(black_box(probe[p])) {
            s = s.wrapping_add(v);
        }
        p = (p + 1) & mask;
    }
    let e = t.elapsed();
    black_box(s);
    *pos = p;
    e
}

fn get_group(c: &mut Criterion, name: &str, f: &Filled, probe: &[u64], hit: bool) {
    assert!(probe.len().is_power_of_two());
    let mut g = c.benchmark_group(format!("hash_{name}"));
    configure(&mut g, Kind::Fast);
    let mut pos = 0;
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = f.pool.read();
            let m = &r.m;
            lookups(iters, &mut pos, probe, |k| m.get(&k).copied())
        })
    });
    if hit {
        g.bench_function("pcoll_guard_each", |b| {
            b.iter_custom(|iters| {
                lookups(iters, &mut pos, probe, |k| f.pool.read().m.get(&k).copied())
            })
        });
    }
    g.bench_function("std_ahash", |b| {
        b.iter_custom(|iters| lookups(iters, &mut pos, probe, |k| f.a.get(&k).copied()))
    });
    g.bench_function("std_sip", |b| {
        b.iter_custom(|iters| lookups(iters, &mut pos, probe, |k| f.sip.get(&k).copied()))
    });
    // Every hit found, every miss missed.
    let r = f.pool.read();
    let found = probe.iter().filter(|k| r.m.get(*k).is_some()).count();
    assert_eq!(found, if hit { probe.len() } else { 0 });
    g.finish();
}

/// Dependent lookups: each `get` looks up the key whose index the previous value named, so
/// no two lookups overlap (latency, not throughput).
fn get_chain(c: &mut Criterion, f: &Filled, keys: &[u64]) {
    let mut g = c.benchmark_group("hash_get_hit_chain");
    configure(&mut g, Kind::Fast);
    fn walk(
        iters: u64,
        at: &mut usize,
        keys: &[u64],
        get: impl Fn(u64) -> Option<u64>,
    ) -> Duration {
        let mut i = *at;
        let t = Instant::now();
        for _ in 0..iters {
            i = get(keys[i]).expect("chained key present") as usize;
        }
        let e = t.elapsed();
        *at = i;
        e
    }
    let mut at = 0usize;
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = f.pool.read();
            let m = &r.m;
            walk(iters, &mut at, keys, |k| m.get(&k).copied())
        })
    });
    g.bench_function("std_ahash", |b| {
        b.iter_custom(|iters| walk(iters, &mut at, keys, |k| f.a.get(&k).copied()))
    });
    g.bench_function("std_sip", |b| {
        b.iter_custom(|iters| walk(iters, &mut at, keys, |k| f.sip.get(&k).copied()))
    });
    g.finish();
}

fn iterate(c: &mut Criterion, f: &Filled) {
    let mut g = c.benchmark_group("hash_iterate");
    configure(&mut g, Kind::Slow);
    let want: u64 = f.a.values().sum();
    g.bench_function("pcoll", |b| {
        b.iter(|| {
            let r = f.pool.read();
            black_box(&r.m).values().sum::<u64>()
        })
    });
    g.bench_function("std_ahash", |b| {
        b.iter(|| black_box(&f.a).values().sum::<u64>())
    });
    g.bench_function("std_sip", |b| {
        b.iter(|| black_box(&f.sip).values().sum::<u64>())
    });
    assert_eq!(f.pool.read().m.values().sum::<u64>(), want);
    g.finish();
}

// ---- removes ----

/// Removes one half of the keys (timed), reinserts it (untimed), then the other half.
fn remove_group(c: &mut Criterion, name: &str, unit: usize, keys: &[u64], secs: f64) {
    let mut g = c.benchmark_group(format!("hash_{name}"));
    configure(&mut g, Kind::Cycles { secs });
    let half = N / 2;
    let len = half / unit * unit;
    {
        let pool = mem_pool::<Root>();
        // (which half is being removed, whether the map was filled)
        let mut st = (1usize, false);
        let mut cyc = Cycle::new(len);
        g.bench_function("pcoll", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    unit,
                    &mut cyc,
                    &mut st,
                    |st, ops| {
                        let base = st.0 * half;
                        for c in chunks(ops, unit) {
                            let mut w = pool.write();
                            let m = &mut w.m;
                            for i in c {
                                black_box(m.remove(&keys[base + i]));
                            }
                        }
                    },
                    |st| {
                        let refill = if st.1 {
                            st.0 * half..st.0 * half + len
                        } else {
                            0..N
                        };
                        for c in chunks(refill, BATCH) {
                            let mut w = pool.write();
                            for i in c {
                                w.m.insert(keys[i], i as u64);
                            }
                        }
                        *st = (1 - st.0, true);
                    },
                )
            })
        });
    }
    configure(&mut g, Kind::Cycles { secs: STD_SECS });
    std_remove::<AState>(&mut g, "std_ahash", unit, keys);
    std_remove::<SipState>(&mut g, "std_sip", unit, keys);
    g.finish();
}

fn std_remove<S: BuildHasher + Default>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    unit: usize,
    keys: &[u64],
) {
    let half = N / 2;
    let len = half / unit * unit;
    let mut st = (HashMap::<u64, u64, S>::default(), 1usize, false);
    let mut cyc = Cycle::new(len);
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            timed_cycles(
                iters,
                unit,
                &mut cyc,
                &mut st,
                |st, ops| {
                    let base = st.1 * half;
                    for c in chunks(ops, unit) {
                        let m = black_box(&mut st.0);
                        for i in c {
                            black_box(m.remove(&keys[base + i]));
                        }
                    }
                },
                |st| {
                    let refill = if st.2 {
                        st.1 * half..st.1 * half + len
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
}

// ---- string keys and values ----

fn string_insert(c: &mut Criterion, skeys: &[String], svals: &[Vec<u8>]) {
    let mut g = c.benchmark_group("hash_string_kv_insert_1000_per_txn");
    configure(&mut g, Kind::Cycles { secs: 1.0 });
    let len = SN / BATCH * BATCH;
    {
        let pool = mem_pool::<SRoot>();
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
                            let m = &mut w.s;
                            for i in c {
                                m.insert(black_box(skeys[i].as_str()), &svals[i][..]);
                            }
                        }
                    },
                    |_| pool.write().s.clear(),
                )
            })
        });
    }
    configure(&mut g, Kind::Cycles { secs: STD_SECS });
    std_string_insert::<AState>(&mut g, "std_ahash", skeys, svals);
    std_string_insert::<SipState>(&mut g, "std_sip", skeys, svals);
    g.finish();
}

fn std_string_insert<S: BuildHasher + Default>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    skeys: &[String],
    svals: &[Vec<u8>],
) {
    let len = SN / BATCH * BATCH;
    let mut m: HashMap<String, Vec<u8>, S> = HashMap::default();
    let mut cyc = Cycle::new(len);
    g.bench_function(id, |b| {
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
                            m.insert(black_box(&skeys[i]).clone(), svals[i].clone());
                        }
                    }
                },
                |m| *m = HashMap::default(),
            )
        })
    });
}

fn string_get(c: &mut Criterion, skeys: &[String], svals: &[Vec<u8>]) {
    let mut g = c.benchmark_group("hash_string_kv_get_hit");
    configure(&mut g, Kind::Fast);
    let pool = mem_pool::<SRoot>();
    for ch in chunks(0..SN, BATCH) {
        let mut w = pool.write();
        for i in ch {
            w.s.insert(skeys[i].as_str(), &svals[i][..]);
        }
    }
    let a: HashMap<String, Vec<u8>, AState> =
        skeys.iter().cloned().zip(svals.iter().cloned()).collect();
    let sip: HashMap<String, Vec<u8>, SipState> =
        skeys.iter().cloned().zip(svals.iter().cloned()).collect();
    let mut pos = 0usize;
    let next = |pos: &mut usize| {
        let p = *pos;
        *pos = if p + 1 == SN { 0 } else { p + 1 };
        p
    };
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = pool.read();
            let m = &r.s;
            let mut s = 0u64;
            let t = Instant::now();
            for _ in 0..iters {
                let k = black_box(skeys[next(&mut pos)].as_str());
                if let Some(v) = m.get(k) {
                    s = s.wrapping_add(u64::from(v.as_slice()[VAL_LEN - 1]));
                }
            }
            let e = t.elapsed();
            black_box(s);
            e
        })
    });
    fn std_get<S: BuildHasher>(
        iters: u64,
        pos: &mut usize,
        next: &impl Fn(&mut usize) -> usize,
        skeys: &[String],
        m: &HashMap<String, Vec<u8>, S>,
    ) -> Duration {
        let mut s = 0u64;
        let t = Instant::now();
        for _ in 0..iters {
            let k = black_box(skeys[next(pos)].as_str());
            if let Some(v) = m.get(k) {
                s = s.wrapping_add(u64::from(v[VAL_LEN - 1]));
            }
        }
        let e = t.elapsed();
        black_box(s);
        e
    }
    g.bench_function("std_ahash", |b| {
        b.iter_custom(|iters| std_get(iters, &mut pos, &next, skeys, &a))
    });
    g.bench_function("std_sip", |b| {
        b.iter_custom(|iters| std_get(iters, &mut pos, &next, skeys, &sip))
    });
    // Same contents on both sides.
    let r = pool.read();
    for (k, v) in &a {
        assert_eq!(r.s.get(k.as_str()).map(|p| p.as_slice()), Some(&v[..]));
    }
    g.finish();
}

/// `hash_string_kv_get_batch`: 1 M string entries (24-byte keys, 150-byte values), looked up
/// in batches of 512 random present keys, reading each value's last byte; time per `get`.
/// `pcoll` looks the batch up as it comes; `pcoll_prefetch` first calls `prefetch` for every
/// key of the batch, then `prefetch_entry` for every key, then looks them up (what
/// pcoll-redis does with a round of requests); `std_ahash` is `HashMap<String, Vec<u8>>`.
fn string_get_batch(c: &mut Criterion) {
    // (Quick mode, a smoke test: a small map.)
    let big: usize = if common::quick() { 1 << 14 } else { 1 << 20 };
    const B: usize = 512;
    let mut g = c.benchmark_group("hash_string_kv_get_batch");
    configure(&mut g, Kind::Fast);
    let keys: Vec<String> = random_u64s(0x5eed_0009, big)
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{:012}{:012}", r % 1_000_000_000_000, i))
        .collect();
    let val = vec![7u8; VAL_LEN];
    let pool = mem_pool::<SRoot>();
    for ch in chunks(0..big, BATCH) {
        let mut w = pool.write();
        for i in ch {
            w.s.insert(keys[i].as_str(), &val[..]);
        }
    }
    let a: HashMap<String, Vec<u8>, AState> =
        keys.iter().map(|k| (k.clone(), val.clone())).collect();
    let order: Vec<usize> = random_u64s(0x5eed_000a, big)
        .iter()
        .map(|r| (r % big as u64) as usize)
        .collect();
    let mut pos = 0usize;
    // Looks up `iters` keys (whole batches of `B`) with `get`, after `pre` for each batch.
    let mut run = |iters: u64, pre: &dyn Fn(&[usize]), get: &dyn Fn(&str) -> u64| {
        let n = (iters as usize).div_ceil(B) * B;
        let mut s = 0u64;
        let t = Instant::now();
        for _ in 0..n / B {
            if pos + B > big {
                pos = 0;
            }
            let batch = &order[pos..pos + B];
            pos += B;
            pre(batch);
            for &i in batch {
                s = s.wrapping_add(get(black_box(keys[i].as_str())));
            }
        }
        let e = t.elapsed();
        black_box(s);
        e.mul_f64(iters as f64 / n as f64)
    };
    let last = |v: &PVec<u8>| u64::from(v.as_slice()[VAL_LEN - 1]);
    g.bench_function("pcoll", |b| {
        let r = pool.read();
        b.iter_custom(|iters| run(iters, &|_| {}, &|k| r.s.get(k).map_or(0, last)))
    });
    g.bench_function("pcoll_prefetch", |b| {
        let r = pool.read();
        let pre = |batch: &[usize]| {
            for &i in batch {
                r.s.prefetch(keys[i].as_str());
            }
            for &i in batch {
                r.s.prefetch_entry(keys[i].as_str());
            }
        };
        b.iter_custom(|iters| run(iters, &pre, &|k| r.s.get(k).map_or(0, last)))
    });
    g.bench_function("std_ahash", |b| {
        b.iter_custom(|iters| {
            run(iters, &|_| {}, &|k| {
                a.get(k).map_or(0, |v| u64::from(v[VAL_LEN - 1]))
            })
        })
    });
    g.finish();
}

/// Two maps of vectors in one pool (the move bench).
#[derive(Persistent, Default)]
struct Two {
    a: PHashMap<u64, PVec<u64>>,
    b: PHashMap<u64, PVec<u64>>,
}

type VecMap = PHashMap<u64, PVec<u64>>;

/// The map the vector is in, and the other one.
fn sides(r: &mut Two, flip: bool) -> (&mut VecMap, &mut VecMap) {
    if flip {
        (&mut r.b, &mut r.a)
    } else {
        (&mut r.a, &mut r.b)
    }
}

/// `hash_move_vec_1m`: one transaction removes a `PVec<u64>` of 1 M elements (10,000 in
/// quick mode) from one map and inserts it into another map of the same pool (the next
/// iteration moves it back), against std's `HashMap<u64, Vec<u64>>`, where a move copies
/// three words. `remove` hands the value out lent (it keeps its blocks while the transaction
/// is open) and `insert` into the same pool gives its original back: no element is copied.
/// `pcoll_take` moves it with `mem::take(map.get_mut(k))`, then removes the emptied entry:
/// the value stays in the pool and is stored bitwise.
fn move_vec(c: &mut Criterion) {
    let n: u64 = if common::quick() { 10_000 } else { 1_000_000 };
    let mut g = c.benchmark_group("hash_move_vec_1m");
    configure(&mut g, Kind::Slow);
    let pool = Pool::<Two>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap();
    pool.write().a.insert(1, (0..n).collect::<Vec<u64>>());
    let mut flip = false;
    g.bench_function("pcoll", |b| {
        b.iter(|| {
            let mut w = pool.write();
            let (from, to) = sides(&mut w, flip);
            let v = from.remove(&1).expect("present");
            to.insert(1, v);
            flip = !flip;
        })
    });
    g.bench_function("pcoll_take", |b| {
        b.iter(|| {
            let mut w = pool.write();
            let (from, to) = sides(&mut w, flip);
            let v = std::mem::take(from.get_mut(&1).expect("present"));
            from.remove(&1);
            to.insert(1, v);
            flip = !flip;
        })
    });
    let mut std_maps = (HashMap::<u64, Vec<u64>>::new(), HashMap::new());
    std_maps.0.insert(1, (0..n).collect());
    let mut flip = false;
    g.bench_function("std", |b| {
        b.iter(|| {
            let (from, to) = if flip {
                (&mut std_maps.1, &mut std_maps.0)
            } else {
                (&mut std_maps.0, &mut std_maps.1)
            };
            let v = black_box(from.remove(&1).expect("present"));
            to.insert(1, v);
            flip = !flip;
        })
    });
    g.finish();
    pool.check().expect("no leak after the moves");
    let r = pool.read();
    assert_eq!(r.a.len() + r.b.len(), 1);
}

fn benches(c: &mut Criterion) {
    move_vec(c);
    let keys = keys();
    let (skeys, svals) = string_kv();
    print_txn_counters(&keys);
    print_file_sizes(&keys, &skeys, &svals);
    insert_group(c, "insert_1_per_txn", 1, &keys, 1.2);
    insert_group(c, "insert_1000_per_txn", BATCH, &keys, 0.7);
    {
        let f = filled(&keys);
        get_group(c, "get_hit", &f, &keys, true);
        get_group(c, "get_miss", &f, &absent_keys(&keys), false);
        get_chain(c, &f, &keys);
        iterate(c, &f);
    }
    remove_group(c, "remove_1_per_txn", 1, &keys, 0.8);
    remove_group(c, "remove_1000_per_txn", BATCH, &keys, 0.5);
    string_insert(c, &skeys, &svals);
    string_get(c, &skeys, &svals);
    string_get_batch(c);
}

criterion_group!(phashmap, benches);
criterion_main!(phashmap);
