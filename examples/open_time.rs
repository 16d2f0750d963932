//! Time of `Pool::open_existing` plus the first read of the root, after a clean close and
//! after a crash in the middle of a transaction (recovery runs inside open).
//!
//! `cargo run --release --example open_time [DIR ...]`
//! (default dirs: `/dev/shm` and `target/bench-pools`). Env `PCOLL_OPEN_RUNS` (default 20).
//!
//! Pools of 16 MiB, 256 MiB and 4 GiB are created sparse, with `initial_size` directly.
//!
//! The crash: this binary starts itself as a child (`--crash-child PATH SIZE DURABILITY`), which
//! opens the pool, begins a transaction (root field, four `PBox` allocations, one deferred
//! free) and calls `std::process::abort()` while the write guard is alive. Three cases:
//! - `Sync` child, `Sync` reopen: a `Sync` file pool is mapped privately and writes nothing
//!   before its commit, so the crashed transaction never reached the file; recovery normally
//!   finds nothing to undo (the `recovery barriers` column says whether it did any work).
//! - `Process` child, `Sync` reopen: the child's shared mapping put its log entries and
//!   changes in the page cache, so recovery really rolls back: restores the saved ranges and
//!   makes them durable (2 barriers: restored ranges, commit record).
//! - `Process` child, `Process` reopen: the same rollback without any barrier.

#![allow(unsafe_code)] // setrlimit (no core files from the aborting child)

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pcoll::{Durability, PBox, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    field: u64,
    boxes: [Option<PBox<[u64; 8]>>; 8],
}

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn options(size: u64, d: Durability) -> pcoll::Options<Root> {
    Pool::<Root>::options()
        .initial_size(size)
        .max_size(size.max(64 << 30))
        .durability(d)
}

fn dname(d: Durability) -> &'static str {
    match d {
        Durability::Sync => "Sync",
        Durability::Process => "Process",
    }
}

fn parse_durability(s: &str) -> Durability {
    match s {
        "Sync" => Durability::Sync,
        "Process" => Durability::Process,
        _ => panic!("durability: {s}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--crash-child") {
        let size: u64 = args[3].parse().expect("size");
        let verbose = args.get(5).map(String::as_str) == Some("verbose");
        crash_child(
            Path::new(&args[2]),
            size,
            parse_durability(&args[4]),
            verbose,
        );
    }
    let dirs: Vec<PathBuf> = if args.len() > 1 {
        args[1..].iter().map(PathBuf::from).collect()
    } else {
        vec![
            PathBuf::from("/dev/shm"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-pools"),
        ]
    };
    let runs: usize = std::env::var("PCOLL_OPEN_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);

    println!(
        "| target | pool size | case | runs | median ms | p90 ms | max ms | recovery barriers |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("create dir");
        for (size, label) in [
            (16 * MIB, "16 MiB"),
            (256 * MIB, "256 MiB"),
            (4 * GIB, "4 GiB"),
        ] {
            let path = dir.join(format!("pcoll-open-time-{}.pool", size / MIB));
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            {
                let pool = options(size, Durability::Sync)
                    .create(&path)
                    .expect("create with initial_size");
                let mut w = pool.write();
                w.field = 1;
                w.boxes[0] = Some(PBox::new([1; 8]));
            }
            let made = t.elapsed();
            let meta = std::fs::metadata(&path).expect("stat");
            eprintln!(
                "{}: {label} pool created in {:.1} ms: {} bytes long, {} bytes allocated on the medium",
                dir.display(),
                made.as_secs_f64() * 1e3,
                meta.len(),
                meta.blocks() * 512,
            );
            assert_eq!(meta.len(), size, "initial_size");

            // (a) after a clean close
            let mut clean = Vec::new();
            let mut bars = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let pool = options(size, Durability::Sync)
                    .open_existing(&path)
                    .expect("open");
                let v = pool.read().field;
                clean.push(t.elapsed());
                bars.push(pool.stats().barriers);
                assert_eq!(v, 1);
                drop(pool);
            }
            row(dir, label, "clean close (Sync open)", &clean, &bars);

            // (b) after a crash mid-transaction
            for (child, reopen) in [
                (Durability::Sync, Durability::Sync),
                (Durability::Process, Durability::Sync),
                (Durability::Process, Durability::Process),
            ] {
                let mut times = Vec::new();
                let mut bars = Vec::new();
                for i in 0..runs {
                    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
                    cmd.arg("--crash-child")
                        .arg(&path)
                        .arg(size.to_string())
                        .arg(dname(child));
                    if i == 0 {
                        cmd.arg("verbose");
                    }
                    let status = cmd.status().expect("spawn child");
                    assert_eq!(status.signal(), Some(libc::SIGABRT), "child: {status}");
                    let t = Instant::now();
                    let pool = options(size, reopen)
                        .open_existing(&path)
                        .expect("reopen after crash");
                    let v = pool.read().field;
                    times.push(t.elapsed());
                    bars.push(pool.stats().barriers);
                    assert_eq!(v, 1, "the interrupted transaction must be rolled back");
                    {
                        let r = pool.read();
                        assert!(r.boxes[0].is_some(), "the deferred free must be undone");
                        assert!(r.boxes[1..].iter().all(Option::is_none));
                    }
                    if i == 0 {
                        let rep = pool.check().expect("check after recovery");
                        eprintln!("  check after recovery: {} blocks", rep.blocks);
                        assert_eq!(rep.blocks, 3, "root, schema, one box");
                    }
                    drop(pool);
                }
                let case = format!("crash: {} child, {} reopen", dname(child), dname(reopen));
                row(dir, label, &case, &times, &bars);
            }
            std::fs::remove_file(&path).expect("remove pool");
        }
    }
}

fn row(dir: &Path, label: &str, case: &str, v: &[Duration], barriers: &[u64]) {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let median = if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    let p90 = ms[(ms.len() * 9 / 10).min(ms.len() - 1)];
    let (bmin, bmax) = (
        barriers.iter().min().copied().unwrap_or(0),
        barriers.iter().max().copied().unwrap_or(0),
    );
    let b = if bmin == bmax {
        format!("{bmin}")
    } else {
        format!("{bmin}..{bmax}")
    };
    println!(
        "| {} | {label} | {case} | {} | {median:.3} | {p90:.3} | {:.3} | {b} |",
        dir.display(),
        ms.len(),
        ms[ms.len() - 1]
    );
}

fn crash_child(path: &Path, size: u64, d: Durability, verbose: bool) -> ! {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass; it only affects this process.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    let pool = options(size, d).open_existing(path).expect("child open");
    let mut w = pool.write();
    w.field = 123;
    for i in 1..5 {
        w.boxes[i] = Some(PBox::new([i as u64; 8]));
    }
    w.boxes[0] = None; // a deferred free too
    if verbose {
        let s = w.stats();
        eprintln!(
            "  {} child, before abort: {} log entries, {} log bytes, {} barriers",
            dname(d),
            s.txn.log_entries,
            s.txn.log_bytes,
            s.barriers
        );
    }
    std::process::abort(); // the guard is alive: the transaction never commits
}
