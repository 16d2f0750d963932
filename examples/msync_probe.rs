//! Cost of one `msync(MS_SYNC)` of one dirty 4 KiB page of a shared file mapping, and of a
//! clean one, on each directory given (default `/dev/shm` and `target/bench-pools`); and the
//! floor of one `Durability::Sync` barrier: `pwrite` of 4 KiB + `fdatasync`, both overwriting
//! an allocated block in place and appending to the file. Also the floor of one persistent
//! memory barrier on this CPU: a store, a cache-line flush (`clwb`, `clflushopt`,
//! `clflush`) and `sfence`, for one line and for 64 lines (4 KiB). On ordinary DRAM this is
//! what the instructions cost, not persistence: no DAX device here.
//!
//! `cargo run --release --example msync_probe [DIR ...]`; env `PCOLL_MSYNC_RUNS` (default 500),
//! `PCOLL_PWRITE_RUNS` (default 200).

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
    let pwrite_runs: usize = std::env::var("PCOLL_PWRITE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    println!("| target | case | runs | median µs | mean µs | p90 µs | max µs |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("create dir");
        probe(dir, runs);
        pwrite_probe(dir, pwrite_runs);
    }
    #[cfg(target_arch = "x86_64")]
    flush_probe(runs);
}

/// Store + flush of every line of `lines` cache lines + `sfence`, per flush instruction the
/// CPU has (cpuid leaf 7: clwb bit 24, clflushopt bit 23; clflush is always there on x86_64).
#[cfg(target_arch = "x86_64")]
fn flush_probe(runs: usize) {
    use std::arch::asm;
    let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
    let mut buf = vec![0u64; 64 * 8]; // 64 lines of 64 bytes
    let base = buf.as_mut_ptr();
    let cpu = Path::new("cpu");
    for (name, have) in [
        ("clwb", leaf7.ebx & (1 << 24) != 0),
        ("clflushopt", leaf7.ebx & (1 << 23) != 0),
        ("clflush", true),
    ] {
        if !have {
            continue;
        }
        for lines in [1usize, 64] {
            let mut v = Vec::with_capacity(runs);
            for i in 0..runs {
                let t = Instant::now();
                for l in 0..lines {
                    // SAFETY: l < 64, so the line is inside `buf`, which nothing else uses.
                    let p = unsafe { base.add(l * 8) };
                    // SAFETY: as above; a plain aligned store.
                    unsafe { p.write_volatile(i as u64) };
                    // SAFETY: flushing a line of our own buffer does not change memory; the
                    // instruction exists (checked through cpuid above).
                    unsafe {
                        match name {
                            "clwb" => asm!("clwb [{0}]", in(reg) p, options(nostack)),
                            "clflushopt" => asm!("clflushopt [{0}]", in(reg) p, options(nostack)),
                            _ => asm!("clflush [{0}]", in(reg) p, options(nostack)),
                        }
                    }
                }
                // SAFETY: sfence only orders stores.
                unsafe { asm!("sfence", options(nostack, preserves_flags)) };
                v.push(t.elapsed());
            }
            let case = format!("store + {name} of {lines} line(s) + sfence");
            row(cpu, &case, &mut v);
        }
    }
    std::hint::black_box(&buf);
}

/// `pwrite` of one 4 KiB block + `fdatasync`: in place over an allocated block (what a
/// `Sync` commit does on a pool whose pages are already on the medium), and appended at the
/// end of the file (the file grows: block allocation and size change go through the journal),
/// and into a hole of a sparse file.
fn pwrite_probe(dir: &Path, runs: usize) {
    use std::os::unix::fs::FileExt;
    let path = dir.join(format!("pcoll-pwrite-probe-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create file");
    let mut buf = vec![0u8; PAGE];
    // In place: 16 allocated, synced blocks, overwritten in turn.
    for p in 0..PAGES {
        file.write_all_at(&buf, (p * PAGE) as u64).expect("pwrite");
    }
    file.sync_all().expect("fsync");
    let datasync = |f: &std::fs::File| f.sync_data().expect("fdatasync");
    let mut in_place = Vec::with_capacity(runs);
    for i in 0..runs {
        buf[8] = i as u8;
        let t = Instant::now();
        file.write_all_at(&buf, ((i % PAGES) * PAGE) as u64)
            .expect("pwrite");
        datasync(&file);
        in_place.push(t.elapsed());
    }
    let mut append = Vec::with_capacity(runs);
    let mut end = (PAGES * PAGE) as u64;
    for i in 0..runs {
        buf[8] = i as u8;
        let t = Instant::now();
        file.write_all_at(&buf, end).expect("pwrite");
        datasync(&file);
        append.push(t.elapsed());
        end += PAGE as u64;
    }
    // Into a hole of a sparse file (the size does not change, a block is allocated): what a
    // commit costs the first time it writes a page of a sparse pool.
    let hole_base = end + (1 << 30);
    file.set_len(hole_base + (runs as u64 + 1) * 2 * PAGE as u64)
        .expect("set_len");
    file.sync_all().expect("fsync");
    let mut hole = Vec::with_capacity(runs);
    for i in 0..runs {
        buf[8] = i as u8;
        let t = Instant::now();
        file.write_all_at(&buf, hole_base + (i as u64) * 2 * PAGE as u64)
            .expect("pwrite");
        datasync(&file);
        hole.push(t.elapsed());
    }
    row(dir, "pwrite 4 KiB in place + fdatasync", &mut in_place);
    row(dir, "pwrite 4 KiB appended + fdatasync", &mut append);
    row(dir, "pwrite 4 KiB into a hole + fdatasync", &mut hole);
    drop(file);
    std::fs::remove_file(&path).expect("remove");
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
        "| {} | {case} | {} | {:.2} | {mean:.2} | {:.2} | {:.2} |",
        dir.display(),
        v.len(),
        us(v[v.len() / 2]),
        us(v[v.len() * 9 / 10]),
        us(v[v.len() - 1]),
    );
}
