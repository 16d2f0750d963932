//! Time of `Pool::open_existing` plus the first read of the root, after a clean close and
//! after a crash in the middle of a transaction (recovery runs inside open).
//!
//! `cargo run --release --example open_time [DIR ...]`
//! (default dirs: `/dev/shm` and `target/bench-pools`). Env `PCOLL_OPEN_RUNS` (default 20).
//!
//! The crash: this binary starts itself as a child (`--crash-child PATH SIZE`), which opens the
//! pool with `Durability::Sync`, begins a transaction (root field + a few `PBox` allocations)
//! and calls `std::process::abort()` while the write guard is alive.

#![allow(unsafe_code)] // setrlimit (no core files from the aborting child)

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

fn options(size: u64) -> pcoll::Options<Root> {
    Pool::<Root>::options()
        .initial_size(size)
        .max_size(size.max(64 << 30))
        .durability(Durability::Sync)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--crash-child") {
        let size: u64 = args[3].parse().expect("size");
        crash_child(Path::new(&args[2]), size);
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

    println!("| target | pool size | case | runs | median ms | max ms |");
    println!("|---|---|---|---:|---:|---:|");
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("create dir");
        for (size, label) in [(16 * MIB, "16 MiB"), (4 * GIB, "4 GiB")] {
            let path = dir.join(format!("pcoll-open-time-{}.pool", size / MIB));
            let _ = std::fs::remove_file(&path);
            let t = Instant::now();
            let how = make_pool(&path, size);
            // Flush the fill to the medium now, not while opens are being timed.
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .expect("fsync");
            let bytes = std::fs::metadata(&path).expect("stat").len();
            eprintln!(
                "{}: {label} pool ({bytes} bytes, {how}) made in {:.1} s",
                dir.display(),
                t.elapsed().as_secs_f64()
            );

            // (a) after a clean close
            let mut clean = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let pool = options(size).open_existing(&path).expect("open");
                let v = pool.read().field;
                clean.push(t.elapsed());
                assert_eq!(v, 1);
                drop(pool);
            }
            row(dir, label, "clean close", &clean);

            // (b) after a crash mid-transaction
            let mut crash = Vec::new();
            for i in 0..runs {
                let status = Command::new(std::env::current_exe().expect("own path"))
                    .arg("--crash-child")
                    .arg(&path)
                    .arg(size.to_string())
                    .status()
                    .expect("spawn child");
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(status.signal(), Some(libc::SIGABRT), "child: {status}");
                let t = Instant::now();
                let pool = options(size)
                    .open_existing(&path)
                    .expect("reopen after crash");
                let v = pool.read().field;
                crash.push(t.elapsed());
                assert_eq!(v, 1, "the interrupted transaction must be rolled back");
                assert!(pool.read().boxes[1].is_none());
                if i == 0 {
                    let rep = pool.check().expect("check after recovery");
                    eprintln!("  check after recovery: {} blocks", rep.blocks);
                }
                drop(pool);
            }
            row(dir, label, "after crash", &crash);
            std::fs::remove_file(&path).expect("remove pool");
        }
    }
}

/// Payload of one heap segment (1024 pages, the header page excluded).
const FILL: usize = 1023 * 4096;

/// Makes a pool of at least `size` bytes whose root has `field == 1` and one box. Tries
/// `initial_size(size)` first; if that fails, creates a default (1 MiB) pool and grows it
/// with one transaction that allocates `FILL`-byte boxes and frees them all at its commit
/// (so the pool is `size` bytes, nearly all free). Returns how the pool was made.
fn make_pool(path: &Path, size: u64) -> String {
    match options(size).create(path) {
        Ok(pool) => {
            let mut w = pool.write();
            w.field = 1;
            w.boxes[0] = Some(PBox::new([1; 8]));
            return "initial_size".into();
        }
        Err(e) => eprintln!("  initial_size({size}) create failed: {e:?}; growing instead"),
    }
    let _ = std::fs::remove_file(path);
    let p = path.to_owned();
    // The fill values live on the stack: a thread with room for them.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let pool = Pool::<Root>::options()
                .max_size(size.max(64 << 30))
                .durability(Durability::Process)
                .create(&p)
                .expect("create");
            {
                let mut w = pool.write();
                w.field = 1;
                w.boxes[0] = Some(PBox::new([1; 8]));
            }
            {
                let w = pool.write();
                let mut fill = Vec::new();
                while w.stats().pool_bytes < size {
                    fill.push(PBox::new([0u8; FILL]));
                }
                drop(fill); // freed at commit
            }
            let st = pool.stats();
            pool.check().expect("check after growth");
            format!("grown to {} bytes", st.pool_bytes)
        })
        .expect("spawn")
        .join()
        .expect("fill thread")
}

fn row(dir: &Path, label: &str, case: &str, v: &[Duration]) {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let median = if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    println!(
        "| {} | {label} | {case} | {} | {median:.3} | {:.3} |",
        dir.display(),
        ms.len(),
        ms[ms.len() - 1]
    );
}

fn crash_child(path: &Path, size: u64) -> ! {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass; it only affects this process.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    let pool = options(size).open_existing(path).expect("child open");
    let mut w = pool.write();
    w.field = 123;
    for i in 1..5 {
        w.boxes[i] = Some(PBox::new([i as u64; 8]));
    }
    w.boxes[0] = None; // a deferred free too
    std::process::abort(); // the guard is alive: the transaction never commits
}
