//! `PHashMap` against sled 0.34, in the same run. From `peers/`:
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench --bench kv` (about 2 minutes plus the
//! build), or with `PCOLL_BENCH_QUICK=1` (minimal samples, under a minute; a smoke test only:
//! its samples cover a fraction of a fill cycle).
//!
//! Stores:
//! - pcoll: `PHashMap<u64, u64>` / `PHashMap<PString, PVec<u8>>` (default hasher) in a pool
//!   file, `Durability::Process` on `/dev/shm` (survives a killed process, not a power cut;
//!   no syscall per transaction), or `Durability::Sync` on the ext4 disk (two `fdatasync`
//!   per transaction).
//! - sled 0.34 with its default config (`sled::open(dir)`): 8-byte big-endian keys and
//!   values for the u64 shape. On `/dev/shm` for the in-memory groups. sled's default is not
//!   durable per operation either: a background thread flushes every 500 ms, so a killed
//!   process can lose the last half second of writes (pcoll `Process` loses nothing).
//!
//! Groups, in the order they run (time per operation unless said otherwise):
//! - `kv_get_hit`: stores of 2^20 random u64 keys (fixed-seed xorshift64*), loaded 1000 per
//!   transaction / batch; gets of the present keys in insertion order (random places).
//!   `pcoll_guard_each` takes `pool.read()` around each get, as sled takes its own read-side
//!   locks per get; `pcoll` takes one guard per criterion batch, outside the timed loop.
//!   Untimed before the gets: sled's `flush()` (its background flusher is then idle) and one
//!   read pass over a quarter of the keys (sled consolidates a leaf's updates on its first
//!   read: the first 200,000 gets after a load cost 2-10x the later ones here).
//! - `kv_string_get_hit`: 100,000 entries of 24-byte keys and 150-byte values (redb's
//!   shape), `get(&str)` / `db.get(key)` of present keys in insertion order, reading the
//!   value's last byte; the same untimed preparation (the read pass covers every key).
//! - `kv_durable_insert_1`: one insert made durable against power loss per operation, on the
//!   ext4 disk (`/work/target-bench/pools`, env `PCOLL_BENCH_DISK` overrides): pcoll
//!   `Durability::Sync` (commit = 2 barriers, `pwrite` + `fdatasync` each) against sled
//!   `insert` + `flush()` + `sync_all()` of its `db` file (`sled_sync`). sled's `flush()`
//!   writes its buffers with `sync_file_range`, which neither flushes the disk's write cache
//!   nor the file's metadata, so it is not durable alone: `sled_flush_only` shows its cost for
//!   reference. The other files in sled's directory (`conf`, written once at creation, and
//!   the directory itself) are synced once before the timed loop; the files present at the
//!   end are printed (no snapshot file appeared here). New keys all along (no fill cycle:
//!   the stores stay small). Few samples: every operation costs hundreds of microseconds.
//! - `kv_insert_1_per_txn`: the 2^20 keys, one insert per transaction
//!   (`let mut w = pool.write(); w.m.insert(k, v);`) against `db.insert(k, v)`.
//! - `kv_insert_1000_per_batch`: 1000 inserts in one transaction against one
//!   `db.apply_batch(batch)` of 1000 inserts (the `Batch` is built inside the timed loop);
//!   time per 1000.
//! - `kv_string_insert_1000_per_batch`: the string shape, 1000
//!   `w.s.insert(key_str, &value[..])` per transaction against `apply_batch` of 1000; fills
//!   of 100,000 entries. Time per 1000.
//!
//! The insert groups fill an empty store, then empty it untimed (pcoll: `clear()`, which
//! releases the table; sled: the database is closed, its directory deleted and a new one
//! opened) and start again: growth is included on both sides. `iter_custom` carries the
//! position in the fill from call to call. Flat sampling, 10 samples: for pcoll each sample
//! spans about two whole fills or more, so a sample's mean is close to the mean over a
//! fill. Not for sled: sled 0.34 does not give memory back when a `Db` is dropped (here RSS
//! grew by ~1 KB per entry ever inserted, through drops and `drop_tree` alike), so every
//! fill of 2^20 keys keeps about 1 GB; a first version of this bench that refilled sled for
//! minutes ran the machine short of memory and slowed every later sled number several
//! times. So sled's samples are about a tenth of a fill each, and its 10 samples together
//! cover about one fill (the first after the warm-up's partial one): sled's median is the
//! median over the deciles of a fill, and its mean (also in criterion's output) the mean
//! over that fill.
//!
//! Directories: `/dev/shm` (env `PCOLL_BENCH_SHM` overrides); every file and directory made
//! here is removed at the end.

use std::hint::black_box;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use pcoll::{Durability, PHashMap, PString, PVec, Persistent, Pool};

/// The root of the u64 pools: just the map.
#[derive(Persistent, Default)]
struct Root {
    m: PHashMap<u64, u64>,
}

/// The root of the string pools.
#[derive(Persistent, Default)]
struct SRoot {
    s: PHashMap<PString, PVec<u8>>,
}

/// Entries of the u64 stores.
const N: usize = 1 << 20;
/// Operations per transaction / batch.
const BATCH: usize = 1000;
/// Entries of the string stores.
const SN: usize = 100_000;
const KEY_LEN: usize = 24;
const VAL_LEN: usize = 150;

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

/// The N distinct keys of the u64 stores.
fn keys() -> Vec<u64> {
    let k = random_u64s(0x5eed_0001, N);
    let mut sorted = k.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), N, "duplicate keys");
    k
}

/// SN distinct 24-byte keys and 150-byte values.
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

fn shm_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_SHM").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

fn disk_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_DISK")
        .map_or_else(|| PathBuf::from("/work/target-bench/pools"), PathBuf::from)
}

/// A path under `dir` unique to this process and `name`, with nothing there yet.
fn fresh_path(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create bench dir");
    let p = dir.join(format!("pcoll-peers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// A pool file; removed when dropped.
struct FilePool<R: Persistent + Default = Root> {
    pool: Option<Pool<R>>,
    path: PathBuf,
}

impl<R: Persistent + Default> FilePool<R> {
    fn new(dir: &Path, d: Durability, name: &str) -> Self {
        let path = fresh_path(dir, &format!("{name}.pool"));
        let pool = Pool::<R>::options()
            .durability(d)
            .open(&path)
            .expect("create pool");
        FilePool {
            pool: Some(pool),
            path,
        }
    }

    fn pool(&self) -> &Pool<R> {
        self.pool.as_ref().expect("pool")
    }
}

impl<R: Persistent + Default> Drop for FilePool<R> {
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
    fn new(base: &Path, name: &str) -> Self {
        let dir = fresh_path(base, &format!("sled-{name}"));
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

// ---- u64 inserts ----

fn insert_group(c: &mut Criterion, name: &str, unit: usize, keys: &[u64], secs: (f64, f64)) {
    let mut g = c.benchmark_group(name);
    let len = N / unit * unit;
    {
        configure(&mut g, secs.0);
        let fp = FilePool::<Root>::new(&shm_dir(), Durability::Process, "insert");
        let pool = fp.pool();
        let mut cyc = Cycle::new(len);
        g.bench_function("pcoll_process_shm", |b| {
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
    }
    {
        configure(&mut g, secs.1);
        let mut st = Sled::new(&shm_dir(), "insert");
        let mut cyc = Cycle::new(len);
        g.bench_function("sled_shm", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    unit,
                    &mut cyc,
                    &mut st,
                    |st, ops| {
                        let db = st.db();
                        if unit == 1 {
                            for i in ops {
                                db.insert(be(black_box(keys[i])), &be(i as u64))
                                    .expect("sled insert");
                            }
                        } else {
                            for c in chunks(ops, unit) {
                                let mut batch = sled::Batch::default();
                                for i in c {
                                    batch.insert(&be(black_box(keys[i])), &be(i as u64));
                                }
                                db.apply_batch(batch).expect("sled batch");
                            }
                        }
                    },
                    |st| st.reset(),
                )
            })
        });
    }
    g.finish();
}

// ---- gets ----

fn get_hit(c: &mut Criterion, keys: &[u64]) {
    let mut g = c.benchmark_group("kv_get_hit");
    configure(&mut g, 0.4);
    let fp = FilePool::<Root>::new(&shm_dir(), Durability::Process, "get");
    let pool = fp.pool();
    for ch in chunks(0..N, BATCH) {
        let mut w = pool.write();
        for i in ch {
            w.m.insert(keys[i], i as u64);
        }
    }
    let st = Sled::new(&shm_dir(), "get");
    let db = st.db();
    for ch in chunks(0..N, BATCH) {
        let mut batch = sled::Batch::default();
        for i in ch {
            batch.insert(&be(keys[i]), &be(i as u64));
        }
        db.apply_batch(batch).expect("sled batch");
    }
    // Untimed: the loaded data written out, so the background flusher is idle during gets,
    // and a first read pass over a quarter of the keys: sled consolidates a leaf's updates on
    // its first read (the first 200,000 gets after a load cost 2-10x the later ones here).
    db.flush().expect("sled flush");
    let warm: u64 = keys[..N / 4]
        .iter()
        .map(|&k| u64::from(db.get(be(k)).expect("sled get").expect("present")[7]))
        .sum();
    black_box(warm);
    let mask = N - 1;
    let mut pos = 0usize;
    fn lookups(
        iters: u64,
        pos: &mut usize,
        mask: usize,
        keys: &[u64],
        get: impl Fn(u64) -> Option<u64>,
    ) -> Duration {
        let mut s = 0u64;
        let mut p = *pos;
        let t = Instant::now();
        for _ in 0..iters {
            if let Some(v) = get(black_box(keys[p])) {
                s = s.wrapping_add(v);
            }
            p = (p + 1) & mask;
        }
        let e = t.elapsed();
        black_box(s);
        *pos = p;
        e
    }
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = pool.read();
            lookups(iters, &mut pos, mask, keys, |k| r.m.get(&k).copied())
        })
    });
    g.bench_function("pcoll_guard_each", |b| {
        b.iter_custom(|iters| {
            lookups(iters, &mut pos, mask, keys, |k| {
                pool.read().m.get(&k).copied()
            })
        })
    });
    g.bench_function("sled_shm", |b| {
        b.iter_custom(|iters| {
            lookups(iters, &mut pos, mask, keys, |k| {
                let v = db.get(be(k)).expect("sled get")?;
                Some(u64::from_be_bytes(v[..8].try_into().expect("8 bytes")))
            })
        })
    });
    // Both stores hold every key with the same value.
    let r = pool.read();
    for (i, &k) in keys.iter().enumerate().step_by(997) {
        assert_eq!(r.m.get(&k), Some(&(i as u64)));
        assert_eq!(db.get(be(k)).unwrap().as_deref(), Some(&be(i as u64)[..]));
    }
    g.finish();
}

// ---- durable single inserts ----

fn durable_insert(c: &mut Criterion, keys: &[u64]) {
    let mut g = c.benchmark_group("kv_durable_insert_1");
    configure(&mut g, 0.3);
    let disk = disk_dir();
    {
        let fp = FilePool::<Root>::new(&disk, Durability::Sync, "durable");
        let pool = fp.pool();
        let mut pos = 0usize;
        let before = pool.stats();
        g.bench_function("pcoll_sync_disk", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let mut w = pool.write();
                    w.m.insert(keys[pos], pos as u64);
                    drop(w);
                    pos = (pos + 1) % N;
                }
                t.elapsed()
            })
        });
        let after = pool.stats();
        let commits = after.txn.commits - before.txn.commits;
        // (Nothing to print when the benchmark was filtered out.)
        if commits > 0 {
            println!(
                "kv_durable_insert_1/pcoll_sync_disk: {commits} commits, {} barriers ({:.2} per \
             commit), {} synced bytes ({:.0} per commit), map len {}",
                after.barriers - before.barriers,
                (after.barriers - before.barriers) as f64 / commits as f64,
                after.synced_bytes - before.synced_bytes,
                (after.synced_bytes - before.synced_bytes) as f64 / commits as f64,
                pool.read().m.len()
            );
        }
    }
    for sync in [true, false] {
        let st = Sled::new(&disk, if sync { "durable" } else { "flush" });
        let db = st.db();
        // sled's data and log live in the `db` file; `conf` and the directory entries were
        // written at creation (without a sync): made durable once, untimed.
        for p in [st.dir.join("conf"), st.dir.clone()] {
            std::fs::File::open(p)
                .and_then(|f| f.sync_all())
                .expect("sync sled conf / dir");
        }
        let file = std::fs::File::open(st.dir.join("db")).expect("open sled db file");
        let mut pos = 0usize;
        let id = if sync { "sled_sync" } else { "sled_flush_only" };
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    db.insert(be(keys[pos]), &be(pos as u64))
                        .expect("sled insert");
                    db.flush().expect("sled flush");
                    if sync {
                        file.sync_all().expect("sync_all");
                    }
                    pos = (pos + 1) % N;
                }
                t.elapsed()
            })
        });
        let mut files: Vec<String> = std::fs::read_dir(&st.dir)
            .expect("read sled dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        if pos > 0 {
            println!(
                "kv_durable_insert_1/{id}: {pos} inserts; files in sled's directory: {files:?}"
            );
        }
    }
    g.finish();
}

// ---- string shape ----

fn string_insert(c: &mut Criterion, skeys: &[String], svals: &[Vec<u8>]) {
    let mut g = c.benchmark_group("kv_string_insert_1000_per_batch");
    let len = SN / BATCH * BATCH;
    {
        configure(&mut g, 0.8);
        let fp = FilePool::<SRoot>::new(&shm_dir(), Durability::Process, "string-insert");
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
    {
        configure(&mut g, 0.2);
        let mut st = Sled::new(&shm_dir(), "string-insert");
        let mut cyc = Cycle::new(len);
        g.bench_function("sled_shm", |b| {
            b.iter_custom(|iters| {
                timed_cycles(
                    iters,
                    BATCH,
                    &mut cyc,
                    &mut st,
                    |st, ops| {
                        let db = st.db();
                        for c in chunks(ops, BATCH) {
                            let mut batch = sled::Batch::default();
                            for i in c {
                                batch.insert(black_box(skeys[i].as_bytes()), &svals[i][..]);
                            }
                            db.apply_batch(batch).expect("sled batch");
                        }
                    },
                    |st| st.reset(),
                )
            })
        });
    }
    g.finish();
}

fn string_get(c: &mut Criterion, skeys: &[String], svals: &[Vec<u8>]) {
    let mut g = c.benchmark_group("kv_string_get_hit");
    configure(&mut g, 0.4);
    let fp = FilePool::<SRoot>::new(&shm_dir(), Durability::Process, "string-get");
    let pool = fp.pool();
    let st = Sled::new(&shm_dir(), "string-get");
    let db = st.db();
    for ch in chunks(0..SN, BATCH) {
        let mut w = pool.write();
        let mut batch = sled::Batch::default();
        for i in ch {
            w.s.insert(skeys[i].as_str(), &svals[i][..]);
            batch.insert(skeys[i].as_bytes(), &svals[i][..]);
        }
        db.apply_batch(batch).expect("sled batch");
    }
    db.flush().expect("sled flush");
    let warm: u64 = skeys
        .iter()
        .map(|k| u64::from(db.get(k.as_bytes()).expect("sled get").expect("present")[0]))
        .sum();
    black_box(warm);
    let mut pos = 0usize;
    fn lookups(
        iters: u64,
        pos: &mut usize,
        skeys: &[String],
        get: impl Fn(&str) -> Option<u8>,
    ) -> Duration {
        let mut s = 0u64;
        let mut p = *pos;
        let t = Instant::now();
        for _ in 0..iters {
            if let Some(b) = get(black_box(skeys[p].as_str())) {
                s = s.wrapping_add(u64::from(b));
            }
            p = if p + 1 == skeys.len() { 0 } else { p + 1 };
        }
        let e = t.elapsed();
        black_box(s);
        *pos = p;
        e
    }
    g.bench_function("pcoll", |b| {
        b.iter_custom(|iters| {
            let r = pool.read();
            lookups(iters, &mut pos, skeys, |k| {
                r.s.get(k).map(|v| v.as_slice()[VAL_LEN - 1])
            })
        })
    });
    g.bench_function("pcoll_guard_each", |b| {
        b.iter_custom(|iters| {
            lookups(iters, &mut pos, skeys, |k| {
                pool.read().s.get(k).map(|v| v.as_slice()[VAL_LEN - 1])
            })
        })
    });
    g.bench_function("sled_shm", |b| {
        b.iter_custom(|iters| {
            lookups(iters, &mut pos, skeys, |k| {
                let v = db.get(k.as_bytes()).expect("sled get")?;
                Some(v[VAL_LEN - 1])
            })
        })
    });
    let r = pool.read();
    for i in (0..SN).step_by(97) {
        assert_eq!(
            r.s.get(skeys[i].as_str()).unwrap().as_slice(),
            &svals[i][..]
        );
        assert_eq!(
            db.get(skeys[i].as_bytes()).unwrap().as_deref(),
            Some(&svals[i][..])
        );
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let (skeys, svals) = string_kv();
    get_hit(c, &keys);
    string_get(c, &skeys, &svals);
    durable_insert(c, &keys);
    // Seconds per sample (pcoll, sled): about two fills for pcoll; for sled a tenth of a
    // fill (6-10 s here), so its 10 samples together cover about one fill (see the doc).
    insert_group(c, "kv_insert_1_per_txn", 1, &keys, (1.2, 0.65));
    insert_group(c, "kv_insert_1000_per_batch", BATCH, &keys, (0.7, 0.8));
    string_insert(c, &skeys, &svals);
}

criterion_group!(kv, benches);
criterion_main!(kv);
