//! Exact per-transaction counters (`Pool::stats()` deltas) of the transaction kinds of
//! `benches/txn.rs`, in `Durability::Sync`, averaged over 100 transactions.
//!
//! `cargo run --release --example counters [DIR]` (default `/dev/shm`).

use std::path::{Path, PathBuf};

use pcoll::{Durability, PBox, Persistent, Pool, PoolStats};

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

const N: u64 = 100;

fn pool<R: Persistent + Default>(dir: &Path, kind: &str) -> (Pool<R>, PathBuf) {
    let path = dir.join(format!("pcoll-counters-{kind}-{}.pool", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let p = Pool::<R>::options()
        .durability(Durability::Sync)
        .create(&path)
        .expect("create pool");
    (p, path)
}

/// Runs `txn` once to warm up, then `N` times; prints the mean of each counter (and the
/// per-transaction min..max of barriers, which should not vary).
fn measure<R: Persistent>(kind: &str, pool: &Pool<R>, mut txn: impl FnMut(&Pool<R>)) {
    txn(pool);
    let mut min_b = u64::MAX;
    let mut max_b = 0;
    let start = pool.stats();
    let mut prev = start;
    for _ in 0..N {
        txn(pool);
        let now = pool.stats();
        let b = now.barriers - prev.barriers;
        min_b = min_b.min(b);
        max_b = max_b.max(b);
        prev = now;
    }
    let end = pool.stats();
    let d = |f: fn(&PoolStats) -> u64| {
        let v = (f(&end) - f(&start)) as f64 / N as f64;
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    println!(
        "| {kind} | {} | {min_b}..{max_b} | {} | {} | {} | {} |",
        d(|s| s.barriers),
        d(|s| s.synced_bytes),
        d(|s| s.txn.log_bytes),
        d(|s| s.txn.log_entries),
        d(|s| s.txn.commits),
    );
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("create dir");
    println!(
        "Durability::Sync, {}, mean per transaction over {N}:\n",
        dir.display()
    );
    println!(
        "| transaction | barriers | barriers min..max | synced_bytes | txn.log_bytes | txn.log_entries | commits |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");

    let (p, path) = pool::<Small>(&dir, "empty");
    measure("empty_txn", &p, |p| drop(p.write()));
    drop(p);
    std::fs::remove_file(path).expect("remove");

    let (p, path) = pool::<Small>(&dir, "w8");
    measure("write_8b", &p, |p| {
        let mut w = p.write();
        w.field = w.field.wrapping_add(1);
    });
    drop(p);
    std::fs::remove_file(path).expect("remove");

    let (p, path) = pool::<Slots>(&dir, "w100");
    {
        let mut w = p.write();
        for (i, s) in w.slots.iter_mut().enumerate() {
            *s = Some(PBox::new(i as u64));
        }
    }
    measure("write_100", &p, |p| {
        let mut root = p.write();
        for i in 0..100 {
            **root.slots[i].as_mut().unwrap() += 1;
        }
    });
    drop(p);
    std::fs::remove_file(path).expect("remove");

    let (p, path) = pool::<Small>(&dir, "af");
    {
        let mut w = p.write();
        w.b = Some(PBox::new(0));
    }
    let mut x = 0;
    measure("alloc_free", &p, |p| {
        x += 1;
        let mut w = p.write();
        w.b = Some(PBox::new(x));
    });
    assert_eq!(p.check().expect("check").blocks, 3, "root, schema, one box");
    drop(p);
    std::fs::remove_file(path).expect("remove");

    println!(
        "\nsize_of root: Small = {} bytes, Slots = {} bytes (the write guard logs the whole \
         root on its first mutable access)",
        size_of::<Small>(),
        size_of::<Slots>()
    );
}
