//! redb's published benchmark table (its `lmdb_benchmark`: 24-byte keys, 150-byte values)
//! for four stores, as a plain timed program. From `peers/`:
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench --bench store` (full, N = 1,000,000), or
//! with `PCOLL_BENCH_QUICK=1` (N = 20,000, 200 single writes, 20 batches, 2,000 ranges: a
//! smoke test). `PCOLL_STORE_ONLY=<target>/<mode>/<store>` (e.g. `disk/durable/redb`) runs
//! one combination.
//!
//! Stores:
//! - `pcoll-hash`: `PHashMap<[u8; 24], [u8; 150]>` (root `{ m }`) in a pool file.
//! - `pcoll-btree`: `PBTreeMap<[u8; 24], [u8; 150]>` likewise.
//! - `sled` 0.34, default config (`sled::open(dir)`), its default tree.
//! - `redb` 4, default `Database::create` (1 GiB cache; redb's own table uses 4 GiB), one
//!   table `TableDefinition<&[u8], &[u8]>` (as in redb's benchmark).
//!
//! Modes, never mixed in one comparison:
//! - `durable` (survives power loss): pcoll `Durability::Sync` (2 barriers per commit);
//!   sled `flush()` then `sync_all()` of its `db` file after every transaction / batch
//!   (`conf` and the directory are synced once after opening; `flush()` alone uses
//!   `sync_file_range`, not durable); redb `Durability::Immediate`.
//! - `memory`: pcoll `Durability::Process` (survives a killed process); sled default (a
//!   killed process loses up to its last 500 ms of writes); redb `Durability::None` (a
//!   killed process loses every commit since the last `Immediate` one: its pages and
//!   header stay in its buffers).
//!
//! Targets: `shm` (`/dev/shm`, env `PCOLL_BENCH_SHM`: software cost; a sync is just its syscall) and
//! `disk` (`/work/target-bench/pools`, env `PCOLL_BENCH_DISK`: the ext4 disk).
//!
//! Each of the 16 (target, mode, store) combinations runs in a fresh child process (this
//! program re-executed with `PCOLL_STORE_CHILD` set), so that memory a store keeps after it
//! is dropped (sled's) and allocator state do not carry over; the parent prints the child's
//! peak RSS (`wait4`).
//!
//! Data: random distinct 24-byte keys (three words of a fixed-seed xorshift64*); the value
//! of a key is 150 bytes of another xorshift64* seeded from the key. Keys and values are
//! generated before any timing. "Transaction" = pcoll write guard, redb write transaction,
//! sled `apply_batch` (a single insert: `db.insert`).
//!
//! Phases, in order, each timed with `Instant`:
//! 1. `bulk_load`: N inserts in one transaction (sled: one `apply_batch`). Total, ns/insert.
//! 2. `individual_writes`: 1000 transactions of one insert (new keys), each timed: p50/p99.
//! 3. `batch_writes`: 100 transactions of 1000 inserts (new keys): p50/p99 per transaction,
//!    ns per insert.
//! 4. `len`: the entry count, checked, as in redb's table (pcoll and redb keep it; sled
//!    scans the tree, and its first read of a leaf also consolidates the leaf's pending
//!    updates, which the reads after it then no longer pay: the same order as redb's).
//! 5. `random_reads`: the N loaded keys in a shuffled order, `get`, summing the value's 150
//!    bytes; batches of 1000 gets are timed (pcoll: one read guard per batch; redb: one read
//!    transaction + `open_table` per batch, inside the timing). Every get must hit and the
//!    sum must equal the one computed from the generated values. p50/p99 per batch in µs
//!    (= ns per get), total.
//! 6. `range_reads`: 100,000 ranges `range(k..).take(10)` from random present keys, summing
//!    each value's bytes, batches of 1000 timed as in 5; ordered stores only (pcoll-hash
//!    n/a). The parent checks that the three ordered stores return the same sum.
//! 7. `removals`: every other key of the load (N/2), 1000 removes per transaction (redb's
//!    table removes its N/2 in one transaction), each timed: p50/p99, total.
//! 8. `reinsert`: the removed keys again, 1000 per transaction, timed like 7.
//!
//! Budget: in `disk` / `durable` (full mode) phases 5-8 are cut: 200,000 of the N gets,
//! 20,000 ranges, and only every other key of the first 200,000 loaded is removed and
//! reinserted (100,000: 100 transactions; a durable transaction of 1000 random keys took
//! ~30 ms on this disk for every store, so N/2 cost ~35 s per store). Even so the full run
//! took 7.3 minutes here (439 s, the machine otherwise idle), 281 s of it sled's four
//! children (its bulk load, `len`, removals and reinserts cost 10-20 µs per entry; its
//! children varied by up to 20% from run to run).
//!
//! Space (file bytes = sum of `len()` of the store's files, allocated = `st_blocks * 512`)
//! against the live payload (entries x 174 bytes), after phases 1-3, after 7 and after 8.
//! Before measuring, untimed: sled `flush()`; redb in `memory` mode commits an empty
//! `Immediate` transaction (its `None` commits keep pages in memory and defer frees). After
//! 7 and 8 the entry count is checked with `len()`, untimed (for sled a scan, ~1 s).
//!
//! pcoll counters (durable mode): `pool.stats()` deltas (read outside the timing) of the
//! first and the last transaction of phases 2, 3 and 7 (the first may grow the undo log).
//!
//! Output: tables on stdout; CSV rows in `$PCOLL_BENCH_OUT` (default
//! `peers/../target/bench-results`): `store.csv`, `space.csv`, `counters.csv`, rewritten
//! with their headers at the start of each run. Every file and directory made is removed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pcoll::{Durability, PBTreeMap, PHashMap, Persistent, Pool, PoolStats};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

const KEY_LEN: usize = 24;
const VAL_LEN: usize = 150;
const PAYLOAD: u64 = (KEY_LEN + VAL_LEN) as u64;
/// Inserts / removes per batch transaction, gets / ranges per timed batch.
const UNIT: usize = 1000;
const RANGE_LEN: usize = 10;

type Key = [u8; KEY_LEN];
type Val = [u8; VAL_LEN];

const TARGETS: [&str; 2] = ["shm", "disk"];
const MODES: [&str; 2] = ["memory", "durable"];
const STORES: [&str; 4] = ["pcoll-hash", "pcoll-btree", "sled", "redb"];
const STATES: [&str; 3] = ["load", "removed", "reinserted"];

fn quick() -> bool {
    std::env::var("PCOLL_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Counts of one run.
struct Plan {
    n: usize,
    individual: usize,
    batches: usize,
    ranges: usize,
    /// `disk` / `durable`: gets, ranges, removes (elsewhere N, `ranges`, N/2).
    dd_reads: usize,
    dd_ranges: usize,
    dd_removes: usize,
}

fn plan() -> Plan {
    if quick() {
        Plan {
            n: 20_000,
            individual: 200,
            batches: 20,
            ranges: 2_000,
            dd_reads: 20_000,
            dd_ranges: 2_000,
            dd_removes: 10_000,
        }
    } else {
        Plan {
            n: 1_000_000,
            individual: 1000,
            batches: 100,
            ranges: 100_000,
            dd_reads: 200_000,
            dd_ranges: 20_000,
            dd_removes: 100_000,
        }
    }
}

fn shm_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_SHM").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

fn disk_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_DISK")
        .map_or_else(|| PathBuf::from("/work/target-bench/pools"), PathBuf::from)
}

fn out_dir() -> PathBuf {
    std::env::var_os("PCOLL_BENCH_OUT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results"),
        PathBuf::from,
    )
}

// ---- data ----

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

struct Data {
    keys: Vec<Key>,
    vals: Vec<Val>,
}

impl Data {
    /// `total` distinct random keys and their values.
    fn new(total: usize) -> Self {
        let mut r = Rng::new(0x5eed_0024);
        let keys: Vec<Key> = (0..total)
            .map(|_| {
                let mut k = [0u8; KEY_LEN];
                for c in k.chunks_mut(8) {
                    c.copy_from_slice(&r.next().to_le_bytes());
                }
                k
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), total, "duplicate keys");
        let vals = keys.iter().map(value_of).collect();
        Data { keys, vals }
    }

    fn key(&self, i: u32) -> &Key {
        &self.keys[i as usize]
    }

    fn val(&self, i: u32) -> &Val {
        &self.vals[i as usize]
    }
}

fn value_of(k: &Key) -> Val {
    let w = |i: usize| u64::from_le_bytes(k[i..i + 8].try_into().expect("8 bytes"));
    let mut r = Rng::new(w(0) ^ w(8).rotate_left(21) ^ w(16).rotate_left(42));
    let mut v = [0u8; VAL_LEN];
    for c in v.chunks_mut(8) {
        c.copy_from_slice(&r.next().to_le_bytes()[..c.len()]);
    }
    v
}

/// What a read does with a value: the sum of its bytes (vectorised, a few ns).
#[inline]
fn digest(v: &[u8]) -> u64 {
    v.iter().map(|&b| u64::from(b)).sum()
}

// ---- stores ----

trait Store {
    /// One transaction inserting `idx`.
    fn insert_txn(&mut self, d: &Data, idx: &[u32]);
    /// One transaction removing `idx`.
    fn remove_txn(&mut self, d: &Data, idx: &[u32]);
    /// Gets of `idx`: (hits, sum of digests).
    fn get_batch(&self, d: &Data, idx: &[u32]) -> (usize, u64);
    /// `range(k..).take(RANGE_LEN)` from each key of `idx`: (entries, sum of digests), or
    /// `None` for an unordered store.
    fn range_batch(&self, _d: &Data, _idx: &[u32]) -> Option<(usize, u64)> {
        None
    }
    /// Entries (untimed checks).
    fn len(&self) -> usize;
    /// Untimed, before measuring space.
    fn settle(&mut self) {}
    fn stats(&self) -> Option<PoolStats> {
        None
    }
}

#[derive(Persistent, Default)]
struct HashRoot {
    m: PHashMap<Key, Val>,
}

#[derive(Persistent, Default)]
struct TreeRoot {
    m: PBTreeMap<Key, Val>,
}

struct PcollStore<R: Persistent> {
    pool: Pool<R>,
}

impl<R: Persistent + Default> PcollStore<R> {
    fn open(path: &Path, durable: bool) -> Self {
        let d = if durable {
            Durability::Sync
        } else {
            Durability::Process
        };
        let pool = Pool::<R>::options()
            .durability(d)
            .create(path)
            .expect("create pool");
        PcollStore { pool }
    }
}

/// The methods `PHashMap` and `PBTreeMap` share.
macro_rules! pcoll_common {
    () => {
        fn insert_txn(&mut self, d: &Data, idx: &[u32]) {
            let mut w = self.pool.write();
            let m = &mut w.m;
            for &i in idx {
                m.insert(*d.key(i), *d.val(i));
            }
        }

        fn remove_txn(&mut self, d: &Data, idx: &[u32]) {
            let mut w = self.pool.write();
            let m = &mut w.m;
            for &i in idx {
                m.remove(d.key(i));
            }
        }

        fn get_batch(&self, d: &Data, idx: &[u32]) -> (usize, u64) {
            let r = self.pool.read();
            let (mut hits, mut sum) = (0, 0);
            for &i in idx {
                if let Some(v) = r.m.get(d.key(i)) {
                    hits += 1;
                    sum += digest(v);
                }
            }
            (hits, sum)
        }

        fn len(&self) -> usize {
            self.pool.read().m.len()
        }

        fn stats(&self) -> Option<PoolStats> {
            Some(self.pool.stats())
        }
    };
}

impl Store for PcollStore<HashRoot> {
    pcoll_common!();
}

impl Store for PcollStore<TreeRoot> {
    pcoll_common!();

    fn range_batch(&self, d: &Data, idx: &[u32]) -> Option<(usize, u64)> {
        let r = self.pool.read();
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            for (_, v) in r.m.range(*d.key(i)..).take(RANGE_LEN) {
                n += 1;
                sum += digest(v);
            }
        }
        Some((n, sum))
    }
}

struct SledStore {
    db: sled::Db,
    /// Its `db` file, synced after every transaction in durable mode.
    sync: Option<File>,
}

impl SledStore {
    fn open(dir: &Path, durable: bool) -> Self {
        let db = sled::open(dir).expect("open sled");
        let sync = durable.then(|| {
            for p in [dir.join("conf"), dir.to_owned()] {
                File::open(p)
                    .and_then(|f| f.sync_all())
                    .expect("sync sled conf / dir");
            }
            File::open(dir.join("db")).expect("open sled db file")
        });
        SledStore { db, sync }
    }

    fn commit(&self) {
        if let Some(f) = &self.sync {
            self.db.flush().expect("sled flush");
            f.sync_all().expect("sync_all");
        }
    }
}

impl Store for SledStore {
    fn insert_txn(&mut self, d: &Data, idx: &[u32]) {
        if let [i] = idx {
            self.db
                .insert(&d.key(*i)[..], &d.val(*i)[..])
                .expect("sled insert");
        } else {
            let mut b = sled::Batch::default();
            for &i in idx {
                b.insert(&d.key(i)[..], &d.val(i)[..]);
            }
            self.db.apply_batch(b).expect("sled batch");
        }
        self.commit();
    }

    fn remove_txn(&mut self, d: &Data, idx: &[u32]) {
        let mut b = sled::Batch::default();
        for &i in idx {
            b.remove(&d.key(i)[..]);
        }
        self.db.apply_batch(b).expect("sled batch");
        self.commit();
    }

    fn get_batch(&self, d: &Data, idx: &[u32]) -> (usize, u64) {
        let (mut hits, mut sum) = (0, 0);
        for &i in idx {
            if let Some(v) = self.db.get(&d.key(i)[..]).expect("sled get") {
                hits += 1;
                sum += digest(&v);
            }
        }
        (hits, sum)
    }

    fn range_batch(&self, d: &Data, idx: &[u32]) -> Option<(usize, u64)> {
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            for kv in self.db.range(&d.key(i)[..]..).take(RANGE_LEN) {
                let (_, v) = kv.expect("sled range");
                n += 1;
                sum += digest(&v);
            }
        }
        Some((n, sum))
    }

    fn len(&self) -> usize {
        self.db.len()
    }

    fn settle(&mut self) {
        self.db.flush().expect("sled flush");
    }
}

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("x");

struct RedbStore {
    db: redb::Database,
    durability: redb::Durability,
}

impl RedbStore {
    fn open(path: &Path, durable: bool) -> Self {
        let db = redb::Database::create(path).expect("create redb");
        let durability = if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        RedbStore { db, durability }
    }

    fn write(
        &self,
        d: redb::Durability,
        f: impl FnOnce(&mut redb::Table<'_, &'static [u8], &'static [u8]>),
    ) {
        let mut txn = self.db.begin_write().expect("begin_write");
        txn.set_durability(d).expect("set_durability");
        {
            let mut t = txn.open_table(TABLE).expect("open_table");
            f(&mut t);
        }
        txn.commit().expect("commit");
    }
}

impl Store for RedbStore {
    fn insert_txn(&mut self, d: &Data, idx: &[u32]) {
        self.write(self.durability, |t| {
            for &i in idx {
                t.insert(&d.key(i)[..], &d.val(i)[..]).expect("redb insert");
            }
        });
    }

    fn remove_txn(&mut self, d: &Data, idx: &[u32]) {
        self.write(self.durability, |t| {
            for &i in idx {
                t.remove(&d.key(i)[..]).expect("redb remove");
            }
        });
    }

    fn get_batch(&self, d: &Data, idx: &[u32]) -> (usize, u64) {
        let rtx = self.db.begin_read().expect("begin_read");
        let t = rtx.open_table(TABLE).expect("open_table");
        let (mut hits, mut sum) = (0, 0);
        for &i in idx {
            if let Some(v) = t.get(&d.key(i)[..]).expect("redb get") {
                hits += 1;
                sum += digest(v.value());
            }
        }
        (hits, sum)
    }

    fn range_batch(&self, d: &Data, idx: &[u32]) -> Option<(usize, u64)> {
        let rtx = self.db.begin_read().expect("begin_read");
        let t = rtx.open_table(TABLE).expect("open_table");
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            let range = t.range(&d.key(i)[..]..).expect("redb range");
            for kv in range.take(RANGE_LEN) {
                let (_, v) = kv.expect("redb range");
                n += 1;
                sum += digest(v.value());
            }
        }
        Some((n, sum))
    }

    fn len(&self) -> usize {
        let rtx = self.db.begin_read().expect("begin_read");
        let t = rtx.open_table(TABLE).expect("open_table");
        t.len().expect("redb len") as usize
    }

    fn settle(&mut self) {
        if matches!(self.durability, redb::Durability::None) {
            self.write(redb::Durability::Immediate, |_| {});
        }
    }
}

// ---- the child: one combination ----

/// Sorted durations: (p50, p99) in µs (nearest rank).
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1].as_secs_f64() * 1e6
    };
    (at(0.50), at(0.99))
}

/// (file bytes, allocated bytes) of every file under `p`.
fn space(p: &Path) -> (u64, u64) {
    let m = fs::symlink_metadata(p).expect("stat store file");
    if m.is_dir() {
        fs::read_dir(p)
            .expect("read store dir")
            .map(|e| space(&e.expect("dir entry").path()))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    } else {
        (m.len(), m.blocks() * 512)
    }
}

struct Child {
    combo: String,
    rows: Vec<String>,
}

impl Child {
    fn emit(&mut self, kind: &str, rest: String) {
        self.rows.push(format!("{kind},{},{rest}", self.combo));
    }

    /// A phase row: `units` are the timed units (transactions or batches), or empty.
    fn phase(&mut self, name: &str, ops: usize, total: Duration, units: Vec<Duration>) {
        let ms = total.as_secs_f64() * 1e3;
        let ms = if ms < 1.0 {
            format!("{ms:.6}")
        } else {
            format!("{ms:.3}")
        };
        let ns = total.as_secs_f64() * 1e9 / ops as f64;
        let pct = if units.is_empty() {
            ",".to_string()
        } else {
            let (p50, p99) = percentiles(units);
            format!("{p50:.3},{p99:.3}")
        };
        self.emit("store", format!("{name},{ops},{ms},{ns:.1},{pct}"));
    }
}

/// Timed units of a phase, and the `pool.stats()` deltas of its first and last unit.
struct Timed {
    total: Duration,
    units: Vec<Duration>,
    first: Option<(PoolStats, PoolStats)>,
    last: Option<(PoolStats, PoolStats)>,
}

/// Runs `f` over `idx` in chunks of `unit`, timing each (stats are read outside the timing).
fn timed(
    s: &mut dyn Store,
    idx: &[u32],
    unit: usize,
    mut f: impl FnMut(&mut dyn Store, &[u32]),
) -> Timed {
    let n = idx.len().div_ceil(unit);
    let mut t = Timed {
        total: Duration::ZERO,
        units: Vec::with_capacity(n),
        first: None,
        last: None,
    };
    for (j, c) in idx.chunks(unit).enumerate() {
        let before = if j == 0 || j + 1 == n {
            s.stats()
        } else {
            None
        };
        let start = Instant::now();
        f(s, c);
        let e = start.elapsed();
        t.total += e;
        t.units.push(e);
        if let (Some(a), Some(b)) = (before, s.stats()) {
            if j == 0 {
                t.first = Some((a, b));
            }
            if j + 1 == n {
                t.last = Some((a, b));
            }
        }
    }
    t
}

fn child(combo: &str, path: &Path) {
    let parts: Vec<&str> = combo.split('/').collect();
    let [target, mode, store] = parts[..] else {
        panic!("bad combination {combo}")
    };
    let durable = mode == "durable";
    let mut store_box: Box<dyn Store> = match store {
        "pcoll-hash" => Box::new(PcollStore::<HashRoot>::open(path, durable)),
        "pcoll-btree" => Box::new(PcollStore::<TreeRoot>::open(path, durable)),
        "sled" => Box::new(SledStore::open(path, durable)),
        "redb" => Box::new(RedbStore::open(path, durable)),
        _ => panic!("unknown store {store}"),
    };
    let p = plan();
    let total = p.n + p.individual + p.batches * UNIT;
    let d = Data::new(total);
    let mut out = Child {
        combo: format!("{target},{mode},{store}"),
        rows: Vec::new(),
    };
    let count = |a: usize, b: usize| (a as u32..b as u32).collect::<Vec<u32>>();
    let space_row = |out: &mut Child, s: &mut dyn Store, state: &str, live: usize| {
        s.settle();
        if state != "load" {
            assert_eq!(s.len(), live, "{combo}: entries at {state}");
        }
        let (file, alloc) = space(path);
        let payload = live as u64 * PAYLOAD;
        out.emit("space", format!("{state},{live},{payload},{file},{alloc}"));
    };
    let counters = |out: &mut Child, name: &str, t: &Timed| {
        for (which, d) in [("first", t.first), ("last", t.last)] {
            if let (true, Some((a, b))) = (durable, d) {
                out.rows.push(format!(
                    "counters,{target},{store},{name}_{which},{},{},{},{}",
                    b.barriers - a.barriers,
                    b.synced_bytes - a.synced_bytes,
                    b.txn.log_bytes - a.txn.log_bytes,
                    b.txn.log_entries - a.txn.log_entries
                ));
            }
        }
    };
    let s = store_box.as_mut();

    // 1. bulk load
    let load = count(0, p.n);
    let t = Instant::now();
    s.insert_txn(&d, &load);
    out.phase("bulk_load", p.n, t.elapsed(), Vec::new());

    // 2. individual writes, 3. batch writes: new keys
    let first = p.n + p.individual;
    let t = timed(s, &count(p.n, first), 1, |s, c| s.insert_txn(&d, c));
    counters(&mut out, "insert_1", &t);
    out.phase("individual_writes", p.individual, t.total, t.units);
    let t = timed(s, &count(first, total), UNIT, |s, c| s.insert_txn(&d, c));
    counters(&mut out, "insert_1000", &t);
    out.phase("batch_writes", total - first, t.total, t.units);
    space_row(&mut out, s, "load", total);

    // 4. len
    let t = Instant::now();
    let len = s.len();
    out.phase("len", 1, t.elapsed(), Vec::new());
    assert_eq!(len, total, "{combo}: entries after the writes");

    // 5. random reads: the loaded keys, shuffled
    let dd = (target, mode) == ("disk", "durable");
    let (reads, ranges, removes) = if dd {
        (p.dd_reads, p.dd_ranges, p.dd_removes)
    } else {
        (p.n, p.ranges, p.n / 2)
    };
    let mut order = load.clone();
    let mut r = Rng::new(0x5eed_0007);
    for i in (1..order.len()).rev() {
        order.swap(i, (r.next() % (i as u64 + 1)) as usize);
    }
    order.truncate(reads);
    let (mut hits, mut got) = (0, 0);
    let t = timed(s, &order, UNIT, |s, c| {
        let (h, g) = s.get_batch(&d, c);
        hits += h;
        got += g;
    });
    assert_eq!(hits, reads, "{combo}: every get must hit");
    let expected: u64 = order.iter().map(|&i| digest(d.val(i))).sum();
    assert_eq!(got, expected, "{combo}: read checksum");
    out.phase("random_reads", reads, t.total, t.units);

    // 6. range reads from random present keys
    let starts: Vec<u32> = (0..ranges)
        .map(|_| (r.next() % total as u64) as u32)
        .collect();
    let (mut entries, mut rsum, mut ordered) = (0, 0, true);
    let t = timed(s, &starts, UNIT, |s, c| match s.range_batch(&d, c) {
        Some((n, g)) => {
            entries += n;
            rsum += g;
        }
        None => ordered = false,
    });
    if ordered {
        out.phase("range_reads", ranges, t.total, t.units);
        out.emit("check", format!("{entries},{rsum}"));
    } else {
        out.emit("store", "range_reads,0,,,,".to_string());
    }

    // 7. removals: every other loaded key, 1000 per transaction
    let half: Vec<u32> = load[..2 * removes].iter().copied().step_by(2).collect();
    let t = timed(s, &half, UNIT, |s, c| s.remove_txn(&d, c));
    counters(&mut out, "remove_1000", &t);
    out.phase("removals", half.len(), t.total, t.units);
    space_row(&mut out, s, "removed", total - half.len());

    // 8. reinsert the removed keys
    let t = timed(s, &half, UNIT, |s, c| s.insert_txn(&d, c));
    out.phase("reinsert", half.len(), t.total, t.units);
    space_row(&mut out, s, "reinserted", total);

    drop(store_box);
    let mut stdout = std::io::stdout().lock();
    for row in &out.rows {
        writeln!(stdout, "{row}").expect("write result");
    }
}

// ---- the parent ----

#[derive(Default)]
struct Results {
    /// (target, mode, store, phase) -> [ops, total_ms, ns_per_op, p50_us, p99_us].
    phase: BTreeMap<(String, String, String, String), Vec<String>>,
    /// (target, mode, store, state) -> [entries, payload, file, allocated].
    space: BTreeMap<(String, String, String, String), Vec<u64>>,
    /// (target, mode, store) -> (range entries, range sum).
    check: BTreeMap<(String, String, String), (u64, u64)>,
    /// (target, mode, store) -> (peak RSS KiB, wall s).
    proc_: BTreeMap<(String, String, String), (i64, f64)>,
}

fn key4(f: &[&str]) -> (String, String, String, String) {
    (f[0].into(), f[1].into(), f[2].into(), f[3].into())
}

fn print_machine(dirs: &[(&str, &Path)]) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?", |m| m.trim_start_matches([' ', '\t', ':']));
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo.lines().next().unwrap_or("").replace("  ", "");
    println!(
        "machine: nproc {cpus}, kernel {}, {model}, {mem}",
        kernel.trim()
    );
    for (name, dir) in dirs {
        let df = Command::new("df").arg("-T").arg(dir).output();
        let line = df
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().nth(1).map(str::to_owned))
            .unwrap_or_else(|| "(df -T failed)".into());
        println!("{name} = {}: {line}", dir.display());
    }
}

fn run_child(combo: &str, path: &Path) -> Result<(Vec<String>, i64, f64), String> {
    let t = Instant::now();
    let mut ch = Command::new(std::env::current_exe().expect("own path"))
        .env("PCOLL_STORE_CHILD", combo)
        .env("PCOLL_STORE_PATH", path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let lines: Vec<String> = BufReader::new(ch.stdout.take().expect("child stdout"))
        .lines()
        .map_while(Result::ok)
        .collect();
    let mut status = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (its pid), writing into the two locals.
    let r = unsafe { libc::wait4(ch.id() as libc::pid_t, &mut status, 0, &mut ru) };
    let wall = t.elapsed().as_secs_f64();
    let _ = fs::remove_file(path);
    let _ = fs::remove_dir_all(path);
    if r < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("child failed (wait status {status:#x})"));
    }
    Ok((lines, ru.ru_maxrss, wall))
}

fn parent() {
    let start = Instant::now();
    let p = plan();
    let (shm, disk) = (shm_dir(), disk_dir());
    for dir in [&shm, &disk] {
        fs::create_dir_all(dir).expect("create bench dir");
    }
    print_machine(&[("shm", &shm), ("disk", &disk)]);
    println!(
        "N = {}, {} individual writes, {} batches of {UNIT}, N gets, {} ranges of \
         {RANGE_LEN}, N/2 removes; disk/durable: {} gets, {} ranges, {} removes{}",
        p.n,
        p.individual,
        p.batches,
        p.ranges,
        p.dd_reads,
        p.dd_ranges,
        p.dd_removes,
        if quick() { " (quick)" } else { "" }
    );
    let out = out_dir();
    fs::create_dir_all(&out).expect("create output dir");
    let out = fs::canonicalize(&out).unwrap_or(out);
    let csv = |name: &str, header: &str| {
        let path = out.join(name);
        let mut f = File::create(&path).expect("create csv");
        writeln!(f, "{header}").expect("write csv");
        (f, path)
    };
    let (mut store_csv, store_path) = csv(
        "store.csv",
        "target,mode,store,phase,ops,total_ms,ns_per_op,p50_us,p99_us",
    );
    let (mut space_csv, space_path) = csv(
        "space.csv",
        "target,mode,store,state,entries,payload_bytes,file_bytes,allocated_bytes",
    );
    let (mut counters_csv, counters_path) = csv(
        "counters.csv",
        "target,store,txn,barriers,synced_bytes,log_bytes,log_entries",
    );
    let only = std::env::var("PCOLL_STORE_ONLY").ok();
    let mut res = Results::default();
    let mut failed = Vec::new();
    for target in TARGETS {
        for mode in MODES {
            let mut ran = false;
            for store in STORES {
                let combo = format!("{target}/{mode}/{store}");
                if only.as_ref().is_some_and(|o| *o != combo) {
                    continue;
                }
                ran = true;
                let base = if target == "shm" { &shm } else { &disk };
                let path = base.join(format!(
                    "pcoll-store-{target}-{mode}-{store}-{}",
                    std::process::id()
                ));
                let (lines, rss, wall) = match run_child(&combo, &path) {
                    Ok(x) => x,
                    Err(e) => {
                        println!("{combo}: {e}");
                        failed.push(combo);
                        continue;
                    }
                };
                println!(
                    "{combo}: {wall:.1} s, peak RSS {:.0} MiB",
                    rss as f64 / 1024.0
                );
                let k3 = (target.to_string(), mode.to_string(), store.to_string());
                res.proc_.insert(k3.clone(), (rss, wall));
                for line in lines {
                    let (kind, row) = line.split_once(',').expect("result line");
                    let f: Vec<&str> = row.split(',').collect();
                    match kind {
                        "store" => {
                            writeln!(store_csv, "{row}").expect("write csv");
                            res.phase
                                .insert(key4(&f), f[4..].iter().map(|s| s.to_string()).collect());
                        }
                        "space" => {
                            writeln!(space_csv, "{row}").expect("write csv");
                            let v = f[4..].iter().map(|s| s.parse().expect("number")).collect();
                            res.space.insert(key4(&f), v);
                        }
                        "counters" => writeln!(counters_csv, "{row}").expect("write csv"),
                        "check" => {
                            let n = |i: usize| f[i].parse::<u64>().expect("number");
                            res.check.insert(k3.clone(), (n(3), n(4)));
                        }
                        _ => panic!("unknown result line {line}"),
                    }
                }
            }
            if ran {
                print_table(&res, target, mode);
            }
        }
    }
    // The ordered stores must have returned the same ranges (disk/durable runs fewer).
    let mut by_run: BTreeMap<(bool, u64, u64), Vec<String>> = BTreeMap::new();
    for ((target, mode, store), &(n, sum)) in &res.check {
        let dd = (target.as_str(), mode.as_str()) == ("disk", "durable");
        by_run
            .entry((dd, n, sum))
            .or_default()
            .push(format!("{target}/{mode}/{store}"));
    }
    for ((dd, n, sum), runs) in &by_run {
        println!(
            "range_reads{}: {n} entries, value-byte sum {sum} in {} runs",
            if *dd { " (disk/durable)" } else { "" },
            runs.len()
        );
    }
    let kinds = by_run.keys().map(|k| k.0).collect::<Vec<_>>();
    if kinds.windows(2).any(|w| w[0] == w[1]) {
        println!("RANGE CHECKSUMS DIFFER: {by_run:?}");
        failed.push("range checksums".into());
    }
    drop(counters_csv);
    if let Ok(c) = fs::read_to_string(&counters_path)
        && c.lines().count() > 1
    {
        println!("\npcoll durable counters (first / last transaction of each kind):\n{c}");
    }
    println!(
        "CSV: {}, {}, {}",
        store_path.display(),
        space_path.display(),
        counters_path.display()
    );
    println!("total wall time {:.1} s", start.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "failed: {failed:?}");
}

fn print_table(res: &Results, target: &str, mode: &str) {
    let what = if mode == "durable" {
        "pcoll Sync, sled flush+sync_all, redb Immediate"
    } else {
        "pcoll Process, sled default, redb None"
    };
    let mut t = String::new();
    let counts = if (target, mode) == ("disk", "durable") && !quick() {
        let p = plan();
        format!(
            "; only {} gets, {} ranges, {} removes",
            p.dd_reads, p.dd_ranges, p.dd_removes
        )
    } else {
        String::new()
    };
    let _ = writeln!(t, "\n== {target} / {mode} ({what}{counts})");
    let _ = write!(t, "{:<34}", "");
    for s in STORES {
        let _ = write!(t, "{s:>13}");
    }
    let _ = writeln!(t);
    let cell = |store: &str, phase: &str, col: usize| -> String {
        let k = (target.into(), mode.into(), store.into(), phase.into());
        match res.phase.get(&k).map(|v| v[col].as_str()) {
            None => "-".into(),
            Some("") => "n/a".into(),
            Some(v) => {
                let x: f64 = v.parse().expect("number");
                if x > 0.0 && x < 0.01 {
                    format!("{x:.1e}")
                } else if x >= 100.0 {
                    format!("{x:.0}")
                } else if x >= 1.0 {
                    format!("{x:.2}")
                } else {
                    format!("{x:.3}")
                }
            }
        }
    };
    // (label, phase, column: 1 total_ms, 2 ns_per_op, 3 p50_us, 4 p99_us)
    let rows: [(&str, &str, usize); 18] = [
        ("bulk_load total ms", "bulk_load", 1),
        ("bulk_load ns/insert", "bulk_load", 2),
        ("individual_writes p50 us/txn", "individual_writes", 3),
        ("individual_writes p99 us/txn", "individual_writes", 4),
        ("batch_writes p50 us/txn of 1000", "batch_writes", 3),
        ("batch_writes p99 us/txn of 1000", "batch_writes", 4),
        ("batch_writes ns/insert", "batch_writes", 2),
        ("len() ms", "len", 1),
        ("random_reads p50 ns/get", "random_reads", 3),
        ("random_reads p99 ns/get", "random_reads", 4),
        ("random_reads total ms", "random_reads", 1),
        ("range_reads p50 ns/range", "range_reads", 3),
        ("range_reads p99 ns/range", "range_reads", 4),
        ("range_reads total ms", "range_reads", 1),
        ("removals p50 us/txn of 1000", "removals", 3),
        ("removals p99 us/txn of 1000", "removals", 4),
        ("removals total ms", "removals", 1),
        ("reinsert total ms", "reinsert", 1),
    ];
    for (label, phase, col) in rows {
        let _ = write!(t, "{label:<34}");
        for s in STORES {
            let _ = write!(t, "{:>13}", cell(s, phase, col));
        }
        let _ = writeln!(t);
    }
    for state in STATES {
        for (label, col) in [("file", 2), ("allocated", 3)] {
            let _ = write!(
                t,
                "{:<34}",
                format!("space {state}: {label} MiB (xpayload)")
            );
            for s in STORES {
                let k = (target.into(), mode.into(), s.into(), state.into());
                let c = res.space.get(&k).map_or("-".into(), |v| {
                    format!(
                        "{:.0} ({:.2})",
                        v[col] as f64 / 1048576.0,
                        v[col] as f64 / v[1] as f64
                    )
                });
                let _ = write!(t, "{c:>13}");
            }
            let _ = writeln!(t);
        }
    }
    for (label, rss) in [("peak RSS MiB", true), ("child wall s", false)] {
        let _ = write!(t, "{label:<34}");
        for s in STORES {
            let k = (target.to_string(), mode.to_string(), s.to_string());
            let c = res.proc_.get(&k).map_or("-".into(), |&(kib, wall)| {
                if rss {
                    format!("{:.0}", kib as f64 / 1024.0)
                } else {
                    format!("{wall:.1}")
                }
            });
            let _ = write!(t, "{c:>13}");
        }
        let _ = writeln!(t);
    }
    print!("{t}");
}

fn main() {
    match std::env::var("PCOLL_STORE_CHILD") {
        Ok(combo) => {
            let path = std::env::var_os("PCOLL_STORE_PATH").expect("PCOLL_STORE_PATH");
            child(&combo, Path::new(&path));
        }
        Err(_) => parent(),
    }
}
