//! Transaction costs: `cargo bench --bench txn` (about 2 minutes plus the build), or with
//! `PCOLL_BENCH_QUICK=1` (minimal samples, well under a minute).
//!
//! Groups are `<kind>/<target>`, with one benchmark per durability (`Process`, `Sync`):
//! - `empty_txn`: `drop(pool.write())`;
//! - `write_8b`: one u64 field of the root written through the write guard;
//! - `write_100`: 100 separate logged 8-byte writes (`**root.slots[i].as_mut().unwrap() += 1`);
//! - `alloc_free`: `root.b = Some(PBox::new(x))`, replacing (freeing) the previous box;
//! - `get_mut_all` (`shm`, `Process`, beside std): one transaction changes every value of a
//!   `PHashMap<u64, PVec<u64>>` of 20,000 entries through `get_mut` (each a `&mut` to a value
//!   holding a handle, which the commit checks: it was quadratic in their number).
//!
//! Targets: `shm` (tmpfs, `/dev/shm`) and `disk` (`target/bench-pools`). Env
//! `PCOLL_BENCH_SHM` / `PCOLL_BENCH_DISK` override the directories.

mod common;

use common::quick;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main, measurement::WallTime,
};
use pcoll::{Durability, PBox, PHashMap, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Small {
    field: u64,
    b: Option<PBox<u64>>,
}

#[derive(Persistent)]
struct Slots {
    slots: [Option<PBox<u64>>; 100],
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            slots: std::array::from_fn(|_| None),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Shm,
    Disk,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Shm => "shm",
            Target::Disk => "disk",
        }
    }

    fn dir(self) -> PathBuf {
        let (var, default) = match self {
            Target::Shm => ("PCOLL_BENCH_SHM", PathBuf::from("/dev/shm")),
            Target::Disk => (
                "PCOLL_BENCH_DISK",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-pools"),
            ),
        };
        std::env::var_os(var).map_or(default, PathBuf::from)
    }
}

fn dname(d: Durability) -> &'static str {
    match d {
        Durability::Sync => "Sync",
        Durability::Process => "Process",
    }
}

/// Sample size and times per durability × target: the disk with `Sync` costs milliseconds
/// per transaction, everything else nanoseconds to microseconds.
fn configure(g: &mut BenchmarkGroup<'_, WallTime>, d: Durability, t: Target) {
    if quick() {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .sampling_mode(SamplingMode::Flat);
        return;
    }
    match (d, t) {
        (Durability::Sync, Target::Disk) => {
            g.sample_size(20)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(6))
                .sampling_mode(SamplingMode::Flat);
        }
        (Durability::Sync, Target::Shm) => {
            g.sample_size(50)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3))
                .sampling_mode(SamplingMode::Auto);
        }
        (Durability::Process, _) => {
            g.sample_size(50)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3))
                .sampling_mode(SamplingMode::Auto);
        }
    }
}

/// A fresh pool file for one benchmark; removed when dropped.
struct Bench<R: Persistent + Default> {
    pool: Option<Pool<R>>,
    path: PathBuf,
}

impl<R: Persistent + Default> Bench<R> {
    fn new(t: Target, d: Durability, kind: &str) -> Self {
        let dir = t.dir();
        std::fs::create_dir_all(&dir).expect("create pool dir");
        let path = dir.join(format!(
            "pcoll-bench-{kind}-{}-{}.pool",
            dname(d),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let pool = Pool::<R>::options()
            .durability(d)
            .create(&path)
            .expect("create pool");
        Bench {
            pool: Some(pool),
            path,
        }
    }

    fn pool(&self) -> &Pool<R> {
        self.pool.as_ref().expect("pool")
    }
}

impl<R: Persistent + Default> Drop for Bench<R> {
    fn drop(&mut self) {
        drop(self.pool.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

const DURABILITIES: [Durability; 2] = [Durability::Process, Durability::Sync];

fn empty_txn(c: &mut Criterion, t: Target) {
    let mut g = c.benchmark_group(format!("empty_txn/{}", t.name()));
    for d in DURABILITIES {
        configure(&mut g, d, t);
        let b = Bench::<Small>::new(t, d, "empty");
        let pool = b.pool();
        g.bench_function(dname(d), |bch| bch.iter(|| drop(pool.write())));
    }
    g.finish();
}

fn write_8b(c: &mut Criterion, t: Target) {
    let mut g = c.benchmark_group(format!("write_8b/{}", t.name()));
    for d in DURABILITIES {
        configure(&mut g, d, t);
        let b = Bench::<Small>::new(t, d, "w8");
        let pool = b.pool();
        g.bench_function(dname(d), |bch| {
            bch.iter(|| {
                let mut w = pool.write();
                w.field = w.field.wrapping_add(1);
            })
        });
    }
    g.finish();
}

fn write_100(c: &mut Criterion, t: Target) {
    let mut g = c.benchmark_group(format!("write_100/{}", t.name()));
    for d in DURABILITIES {
        configure(&mut g, d, t);
        let b = Bench::<Slots>::new(t, d, "w100");
        let pool = b.pool();
        {
            let mut w = pool.write();
            for (i, s) in w.slots.iter_mut().enumerate() {
                *s = Some(PBox::new(i as u64));
            }
        }
        g.bench_function(dname(d), |bch| {
            bch.iter(|| {
                let mut root = pool.write();
                for i in 0..100 {
                    **root.slots[i].as_mut().unwrap() += 1;
                }
            })
        });
    }
    g.finish();
}

fn alloc_free(c: &mut Criterion, t: Target) {
    let mut g = c.benchmark_group(format!("alloc_free/{}", t.name()));
    for d in DURABILITIES {
        configure(&mut g, d, t);
        let b = Bench::<Small>::new(t, d, "af");
        let pool = b.pool();
        {
            let mut w = pool.write();
            w.b = Some(PBox::new(0));
        }
        let mut x = 0u64;
        g.bench_function(dname(d), |bch| {
            bch.iter(|| {
                x += 1;
                let mut w = pool.write();
                w.b = Some(PBox::new(x));
            })
        });
        assert_eq!(
            pool.check().expect("check").blocks,
            3,
            "root, schema, one box"
        );
    }
    g.finish();
}

#[derive(Persistent, Default)]
struct Map {
    m: PHashMap<u64, PVec<u64>>,
}

fn get_mut_all(c: &mut Criterion) {
    const N: u64 = 20_000;
    let mut g = c.benchmark_group("get_mut_all");
    configure(&mut g, Durability::Process, Target::Shm);
    g.sample_size(10);
    let b = Bench::<Map>::new(Target::Shm, Durability::Process, "getmut");
    let pool = b.pool();
    pool.transaction(|r| {
        for k in 0..N {
            r.m.insert(k, PVec::from(vec![k]));
        }
        Ok::<_, pcoll::Error>(())
    })
    .expect("fill");
    g.bench_function("pcoll", |bch| {
        bch.iter(|| {
            let mut w = pool.write();
            for k in 0..N {
                w.m.get_mut(&k).expect("present")[0] += 1;
            }
        })
    });
    let mut std_map: std::collections::HashMap<u64, Vec<u64>> =
        (0..N).map(|k| (k, vec![k])).collect();
    g.bench_function("std", |bch| {
        bch.iter(|| {
            for k in 0..N {
                std_map.get_mut(&k).expect("present")[0] += 1;
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    for t in [Target::Shm, Target::Disk] {
        empty_txn(c, t);
        write_8b(c, t);
        write_100(c, t);
        alloc_free(c, t);
    }
    get_mut_all(c);
}

criterion_group!(txn, benches);
criterion_main!(txn);
