//! Cost of one `msync(MS_SYNC)` of one dirty 4 KiB page of a shared file mapping, and of a
//! clean one, on each directory given (default `/dev/shm` and `target/bench-pools`).
//!
//! `cargo run --release --example msync_probe [DIR ...]`; env `PCOLL_MSYNC_RUNS` (default 500).

#![allow(unsafe_code)] // mmap / msync through libc

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
const PAGES: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dirs: Vec<PathBuf> = if args.is_empty() {
        vec![
            PathBuf::from("/dev/shm"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-pools"),
        ]
    } else {
        args.iter().map(PathBuf::from).collect()
    };
    let runs: usize = std::env::var("PCOLL_MSYNC_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    println!("| target | case | runs | median µs | mean µs | p90 µs | max µs |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("create dir");
        probe(dir, runs);
    }
}

fn probe(dir: &Path, runs: usize) {
    let path = dir.join(format!("pcoll-msync-probe-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create file");
    file.set_len((PAGE * PAGES) as u64).expect("set_len");
    file.sync_all().expect("fsync");
    // SAFETY: a fresh shared mapping of the whole file; nothing else maps it.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE * PAGES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED, "mmap");
    let base = base.cast::<u8>();
    let msync = |page: usize| {
        // SAFETY: page < PAGES, so the range is inside the mapping.
        let rc = unsafe { libc::msync(base.add(page * PAGE).cast(), PAGE, libc::MS_SYNC) };
        assert_eq!(rc, 0, "msync: {}", std::io::Error::last_os_error());
    };
    let touch = |page: usize, v: u8| {
        // SAFETY: inside the mapping, which is readable and writable.
        unsafe { base.add(page * PAGE + 8).write_volatile(v) };
    };
    // Warm up: every page resident and clean.
    for p in 0..PAGES {
        touch(p, 1);
        msync(p);
    }

    let mut dirty = Vec::with_capacity(runs);
    let mut write_and_sync = Vec::with_capacity(runs);
    let mut clean = Vec::with_capacity(runs);
    for i in 0..runs {
        let p = i % PAGES;
        // The store itself (write-protect fault after the last msync) is not timed here.
        touch(p, i as u8);
        let t = Instant::now();
        msync(p);
        dirty.push(t.elapsed());

        let t = Instant::now();
        touch(p, !(i as u8));
        msync(p);
        write_and_sync.push(t.elapsed());

        let t = Instant::now();
        msync(p);
        clean.push(t.elapsed());
    }
    row(dir, "msync of 1 dirty page", &mut dirty);
    row(dir, "store + msync of 1 page", &mut write_and_sync);
    row(dir, "msync of 1 clean page", &mut clean);

    // SAFETY: unmapping our own mapping; no reference into it survives.
    unsafe { libc::munmap(base.cast(), PAGE * PAGES) };
    drop(file);
    std::fs::remove_file(&path).expect("remove");
}

fn row(dir: &Path, case: &str, v: &mut [Duration]) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = v.iter().map(|&d| us(d)).sum::<f64>() / v.len() as f64;
    println!(
        "| {} | {case} | {} | {:.1} | {mean:.1} | {:.1} | {:.1} |",
        dir.display(),
        v.len(),
        us(v[v.len() / 2]),
        us(v[v.len() * 9 / 10]),
        us(v[v.len() - 1]),
    );
}
