//! Restart time of a pool holding big maps, against reloading a checkpoint of the same data:
//! `cargo run --release --example restart_maps [DIR]` (default `/dev/shm`; env
//! `PCOLL_RESTART_N`, default 1,000,000 entries per map).
//!
//! The pool's root holds a `PHashMap<u64, u64>` and a `PBTreeMap<u64, u64>` of N entries each
//! (loaded 1000 per transaction). Then, 7 times each, the median reported:
//! - **clean**: `Pool::open_existing` + one `get` in each map, after a clean close;
//! - **after a crash**: a child process opens the pool (`Durability::Process`), inserts 10 (or
//!   10,000) entries into each map and removes 5 (or 5,000) in one transaction, and calls
//!   `std::process::abort()` with the guard alive; the parent times `open_existing` (which rolls
//!   the transaction back) + one `get` in each map, and checks the maps are as before;
//! - **checkpoint**: the approach pcoll replaces, at its cheapest: the same 2N pairs written as
//!   raw little-endian `u64`s to a file (no serde framing at all), then read back and inserted
//!   into a `HashMap<u64, u64>` hashed with ahash and a `BTreeMap<u64, u64>`. A serde/bincode
//!   checkpoint can only be slower than this raw read.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pcoll::{Durability, PBTreeMap, PHashMap, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    m: PHashMap<u64, u64>,
    t: PBTreeMap<u64, u64>,
}

const RUNS: usize = 7;

fn key(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1
}

fn open(path: &Path) -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .max_size(16 << 30)
        .open(path)
        .expect("open the pool")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--crash-child") {
        crash_child(Path::new(&args[2]), args[3].parse().expect("ops"));
    }
    let dir = PathBuf::from(args.get(1).map_or("/dev/shm", String::as_str));
    let n: u64 = std::env::var("PCOLL_RESTART_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path = dir.join(format!("pcoll-restart-{}.pool", std::process::id()));
    let dump = dir.join(format!("pcoll-restart-{}.dump", std::process::id()));

    let t = Instant::now();
    load(&path, n);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "loaded {n} entries into each map in {:.1} s; pool file {:.1} MiB",
        t.elapsed().as_secs_f64(),
        size as f64 / (1 << 20) as f64
    );

    let clean = median((0..RUNS).map(|_| reopen(&path, n)).collect());
    let crashed = |ops: u64| {
        median(
            (0..RUNS)
                .map(|_| {
                    crash(&path, ops);
                    reopen(&path, n)
                })
                .collect(),
        )
    };
    let (small, big) = (crashed(10), crashed(10_000));
    write_dump(&dump, n);
    let checkpoint = median((0..RUNS).map(|_| read_dump(&dump, n)).collect());
    println!("restart, median of {RUNS} ({}):", dir.display());
    println!(
        "  pcoll open + first gets, clean close:   {:>10.3} ms",
        ms(clean)
    );
    println!("  pcoll open + first gets, after a crash in a transaction of");
    println!(
        "    10 inserts + 5 removes per map:        {:>10.3} ms",
        ms(small)
    );
    println!(
        "    10,000 inserts + 5,000 removes per map: {:>9.3} ms",
        ms(big)
    );
    println!(
        "  raw checkpoint read + rebuild (std):    {:>10.3} ms",
        ms(checkpoint)
    );
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&dump);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn load(path: &Path, n: u64) {
    let _ = std::fs::remove_file(path);
    let pool = open(path);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut w = pool.write();
        for &i in chunk {
            w.m.insert(key(i), i);
            w.t.insert(key(i), i);
        }
    }
}

/// Opens the pool and reads one entry of each map; checks the sizes.
fn reopen(path: &Path, n: u64) -> Duration {
    let t = Instant::now();
    let pool = Pool::<Root>::open_existing(path).expect("reopen");
    let r = pool.read();
    let (a, b) = (r.m.get(&key(n / 2)).copied(), r.t.get(&key(n / 3)).copied());
    let e = t.elapsed();
    assert_eq!((a, b), (Some(n / 2), Some(n / 3)));
    assert_eq!(
        (r.m.len() as u64, r.t.len() as u64),
        (n, n),
        "rolled back exactly"
    );
    e
}

/// Runs a child that dies in the middle of a transaction of `ops` inserts per map.
fn crash(path: &Path, ops: u64) {
    let status = Command::new(std::env::current_exe().expect("own path"))
        .arg("--crash-child")
        .arg(path)
        .arg(ops.to_string())
        .status()
        .expect("spawn the child");
    assert!(!status.success(), "the child aborts");
}

fn crash_child(path: &Path, ops: u64) -> ! {
    let pool = open(path);
    let mut w = pool.write();
    for i in 0..ops {
        w.m.insert(u64::MAX - i, i);
        w.t.insert(u64::MAX - i, i);
    }
    for i in 0..ops / 2 {
        w.m.remove(&key(i));
        w.t.remove(&key(i));
    }
    std::process::abort(); // with the guard alive: the transaction is interrupted
}

fn write_dump(path: &Path, n: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("dump file"));
    for _ in 0..2 {
        for i in 0..n {
            f.write_all(&key(i).to_le_bytes()).expect("write");
            f.write_all(&i.to_le_bytes()).expect("write");
        }
    }
    f.flush().expect("flush");
}

fn read_dump(path: &Path, n: u64) -> Duration {
    let t = Instant::now();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("read the dump");
    let pairs = bytes.chunks_exact(16).map(|c| {
        let k = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
        let v = u64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
        (k, v)
    });
    let half = n as usize;
    let m: HashMap<u64, u64, std::hash::BuildHasherDefault<ahash::AHasher>> =
        pairs.clone().take(half).collect();
    let t2: BTreeMap<u64, u64> = pairs.skip(half).collect();
    let e = t.elapsed();
    assert_eq!((m.len(), t2.len()), (half, half));
    e
}
