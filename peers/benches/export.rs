//! Export and import throughput (issue 17) against the serde + bincode checkpoint of the same
//! data. From `peers/`: `CARGO_TARGET_DIR=/work/target-bench cargo bench --bench export`
//! (about a minute plus the build), or with `PCOLL_BENCH_QUICK=1` (a smoke test).
//!
//! Data: 100,000 entries of a 24-character key and a 150-byte value (redb's table shape),
//! 17.4 MB of keys and values. pcoll holds them in `PHashMap<PString, PVec<u8>>` (root
//! `{ m }`), the checkpoint in a std `HashMap<String, Vec<u8>>`. Throughput is reported in
//! bytes of keys and values per second, the same count for every case.
//!
//! Cases:
//! - `export_json` / `export_cbor`: `pool.export(&mut vec, format)` into a `Vec` already
//!   holding the capacity (serialization only, no file);
//! - `import_json` / `import_cbor`: `Options::import` of those bytes into a new pool file on
//!   `/dev/shm` (`Durability::Sync`: created, filled in one transaction, synced, linked);
//!   the file is removed outside the timing;
//! - `bincode_save` / `bincode_load`: the checkpoint approach: `encode_into_std_write` of the
//!   std map into a `Vec`, `decode_from_slice` back into a std map (`config::standard()`).

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pcoll::{Durability, ExportFormat, PHashMap, PString, PVec, Persistent, Pool};
use serde::{Deserialize, Serialize};

#[derive(Persistent, Default, Serialize, Deserialize)]
struct Root {
    m: PHashMap<PString, PVec<u8>>,
}

const N: usize = 100_000;

fn entries() -> Vec<(String, Vec<u8>)> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..N)
        .map(|i| {
            let key = format!("{i:08}-{:015x}", next() >> 4);
            let v: Vec<u8> = (0..150).map(|_| next() as u8).collect();
            (key, v)
        })
        .collect()
}

fn dir() -> PathBuf {
    let d = std::env::var_os("PCOLL_BENCH_SHM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"))
        .join(format!("pcoll-export-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("PCOLL_BENCH_QUICK").is_some();
    let data = entries();
    let bytes: u64 = data.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
    let dir = dir();
    let pool = Pool::<Root>::options()
        .durability(Durability::Process)
        .max_size(1 << 30)
        .create(dir.join("source.pool"))
        .unwrap();
    {
        let mut w = pool.write();
        for (k, v) in &data {
            w.m.insert(k.as_str(), v.as_slice());
        }
    }
    let std_map: HashMap<String, Vec<u8>> = data.into_iter().collect();

    let mut g = c.benchmark_group("export");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    if quick {
        g.warm_up_time(Duration::from_millis(100));
        g.measurement_time(Duration::from_millis(500));
    } else {
        g.measurement_time(Duration::from_secs(8));
    }
    let mut exported = HashMap::new();
    for (name, format) in [("json", ExportFormat::Json), ("cbor", ExportFormat::Cbor)] {
        let mut out = Vec::new();
        pool.export(&mut out, format).unwrap();
        println!("export_{name}: {} bytes for {bytes} bytes of data", out.len());
        g.bench_function(format!("export_{name}"), |b| {
            let mut buf = Vec::with_capacity(out.len());
            b.iter(|| {
                buf.clear();
                pool.export(&mut buf, format).unwrap();
                black_box(buf.len())
            })
        });
        exported.insert(name, out);
    }
    for (name, format) in [("json", ExportFormat::Json), ("cbor", ExportFormat::Cbor)] {
        let input = &exported[name];
        let target = dir.join(format!("imported-{name}.pool"));
        g.bench_function(format!("import_{name}"), |b| {
            b.iter_batched(
                || {
                    let _ = std::fs::remove_file(&target);
                },
                |()| {
                    let p = Pool::<Root>::options()
                        .max_size(1 << 30)
                        .import(&target, input.as_slice(), format)
                        .unwrap();
                    assert_eq!(p.read().m.len(), N);
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    let cfg = bincode::config::standard();
    let mut saved = Vec::new();
    bincode::serde::encode_into_std_write(&std_map, &mut saved, cfg).unwrap();
    println!("bincode: {} bytes", saved.len());
    g.bench_function("bincode_save", |b| {
        let mut buf = Vec::with_capacity(saved.len());
        b.iter(|| {
            buf.clear();
            bincode::serde::encode_into_std_write(&std_map, &mut buf, cfg).unwrap();
            black_box(buf.len())
        })
    });
    g.bench_function("bincode_load", |b| {
        b.iter(|| {
            let (m, _): (HashMap<String, Vec<u8>>, usize) =
                bincode::serde::decode_from_slice(&saved, cfg).unwrap();
            assert_eq!(m.len(), N);
            m
        })
    });
    g.finish();
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
