//! Restart time against store size: pcoll against sled 0.34, redb 4 and a serde/bincode
//! checkpoint of a std `HashMap`, after a clean close and after a killed process. From
//! `peers/`: `CARGO_TARGET_DIR=/work/target-bench2 cargo bench --bench restart` (about 8
//! minutes on a 2-core machine), or with `PCOLL_BENCH_QUICK=1` (16 MiB only, 5 runs per case;
//! a smoke test, under a minute).
//!
//! Data: `n` entries of a random 24-byte key (fixed-seed xorshift64*, one seed per entry
//! number, so every process derives the same keys) and a 1000-byte value derived from the
//! key. `n` = size / 1300 bytes, so that pcoll's pool file is about the nominal size (16 MiB,
//! 256 MiB, 2 GiB: env `PCOLL_RESTART_SIZES`, default `16,256,2048`, in MiB; quick default
//! `16`). The real size of every store's files is reported. Stores:
//! - `pcoll`: `PHashMap<[u8; 24], PVec<u8>>` in the root, loaded 1000 entries per transaction
//!   in `Durability::Process` (the file is synced once at the end of the build).
//! - `sled`: sled 0.34, default config, loaded with `apply_batch` of 1000, then `flush()`.
//!   sled 0.34 writes its snapshot during an open, after replaying the log written since the
//!   previous one: the first open after the build replays the whole load (it is the `max` of
//!   `clean`), later opens only a short tail.
//! - `redb`: redb 4, one table `&[u8; 24] -> &[u8]`, loaded with one write transaction of
//!   1000 per commit (default `Durability::Immediate`, quick repair off).
//! - `bincode`: the approach pcoll replaces: a std `HashMap<[u8; 24], Vec<u8>>` saved with
//!   serde + bincode 2 (`encode_into_std_write`, `config::standard()`) to a temporary file,
//!   `fsync`ed and renamed over the checkpoint. Values go through serde's `Vec<u8>` impl (a
//!   sequence of u8, as a plain `#[derive(Serialize)]` state gets them).
//!
//! Each store is built once per target and size, in a child process (sled 0.34 gives no
//! memory back when a `Db` is dropped; the others' builds are isolated the same way);
//! `build.csv` has the build time (store operations and the final sync; generating the data
//! is not timed) and the files' length right after it (summed over sled's directory).
//!
//! Every timed reopen runs in a new process, as a restart does: the child times open + one
//! `get` of a known key (entry n/2) with its value compared, prints the time, then checks
//! more untimed (below) and closes. Cases:
//! - `clean`: after a clean close. pcoll: `Pool::options().durability(Sync).open_existing`;
//!   sled: `sled::open`; redb: `Database::open` + read transaction + `get`; bincode: read the
//!   whole file + `bincode::serde::decode_from_slice` into the `HashMap` + `get`. bincode has
//!   no crash case: a crash during a save leaves the previous checkpoint (the save writes a
//!   temporary file and renames it), so its restart after a crash is its clean restart, with
//!   every change since the last checkpoint lost.
//! - `crash` (pcoll, sled): a child process opens the store (pcoll in `Durability::Process`),
//!   updates entries 0..1000 and inserts 1000 new ones in one transaction (sled: one
//!   `apply_batch`, not flushed), prints a line and waits; the parent `SIGKILL`s it, then
//!   times the reopen (pcoll in `Durability::Sync`: it rolls the transaction back from the
//!   undo log and makes the rollback durable). Checked untimed: the 1000 updated entries
//!   have their old values and the 1000 new keys are absent (pcoll: and `len() == n`, and
//!   `Pool::check()` in the first run). sled gives no transaction here: its check is only
//!   that the batch is all there or all gone (the info line counts runs where it survived).
//!   pcoll's recovery time follows the pages the interrupted transaction touched, not the
//!   pool's size: the info line of the first run counts the minor page faults of open + get
//!   (copy-on-write faults of the rolled-back ranges in the private `Sync` mapping: ~400 at
//!   16 MiB, ~1600 at 2 GiB here, as random keys spread the 1000 updates over a bigger
//!   table). On `disk` its `fdatasync` also writes back what the killed child dirtied through
//!   its shared mapping.
//! - `crash_sync` (pcoll): the same child and checks as `crash`, but the child writes in
//!   `Durability::Sync` (redb's `Immediate`: a commit is durable on return). Its mapping is
//!   private and a transaction too large for the redo ring writes nothing to the file before
//!   its commit, so the killed transaction left nothing in the file: the reopen has nothing
//!   to roll back, whatever the transaction's size.
//! - `crash_quick_repair` / `crash_full_repair` (redb): redb decides at open from the last
//!   commit on the file: if it was a 2-phase commit that recorded the allocator state, open
//!   loads that state; otherwise (unless nothing was ever committed) it runs a full repair,
//!   three walks of every tree verifying checksums. A clean close always records the state,
//!   so a child killed with only an open write transaction leaves nothing to repair. So the
//!   child first commits one small transaction (one new marker entry, `Durability::Immediate`)
//!   with `set_quick_repair(true)` (`crash_quick_repair`) or with quick repair off, redb's
//!   default (`crash_full_repair`), then begins a write transaction of the same 1000 updates
//!   and 1000 inserts, prints a line, waits and is `SIGKILL`ed. Checked untimed: the marker
//!   is present, the 2000 changes absent.
//!
//! Runs: 15 per case (7 at 2 GiB; 5 in quick mode), each crash run with a new child. A case
//! stops early after 60 s of wall time (the table says `capped`). `p99` is nearest-rank, so
//! with these few runs it is the max. Caches are warm: the files were just written and are
//! in the page cache (no cache dropping; `disk` numbers are not cold-start numbers).
//!
//! Targets (env `PCOLL_RESTART_TARGETS`, default `shm,disk`): `shm` = `/dev/shm` (env
//! `PCOLL_BENCH_SHM` overrides), `disk` = `/work/target-bench2/pools` (env
//! `PCOLL_BENCH_DISK`). One store's files exist at a time; every file made is removed.
//! Env `PCOLL_RESTART_CASES` lists the cases to run (default: all).
//! Env `PCOLL_RESTART_SKIP` lists `target/store/size` to skip; default `disk/sled/2048`:
//! sled's 2 GiB build takes about a minute, so to keep the run near 8 minutes sled runs at
//! 2 GiB on `shm` only (`PCOLL_RESTART_SKIP=` runs everything).
//! Results: a table on stdout, `restart.csv` and `build.csv` in env `PCOLL_BENCH_OUT`
//! (default `target/bench-results` of the pcoll repository).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pcoll::{Durability, PHashMap, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    m: PHashMap<[u8; 24], PVec<u8>>,
}

type Key = [u8; KEY_LEN];
const KEY_LEN: usize = 24;
const VAL_LEN: usize = 1000;
/// Pool file bytes per entry, measured (a 1000-byte value takes a 1024-byte slot, 15 slots
/// per 16 KiB run; then the table and the pool's growth): sets `n` from the nominal size.
const BYTES_PER_ENTRY: u64 = 1300;
/// Entries per build transaction / batch.
const BATCH: u64 = 1000;
/// The interrupted transaction: updates of entries 0..CRASH_OPS, inserts of n..n+CRASH_OPS.
const CRASH_OPS: u64 = 1000;
/// redb's committed marker entries are numbered from n + MARKER.
const MARKER: u64 = 1 << 40;
/// A case stops after this much wall time (children included).
const CASE_CAP: Duration = Duration::from_secs(60);
const MIB: u64 = 1 << 20;
const TABLE: redb::TableDefinition<&[u8; KEY_LEN], &[u8]> = redb::TableDefinition::new("m");
const CHILD: &str = "__restart_child";

fn quick() -> bool {
    std::env::var("PCOLL_BENCH_QUICK").is_ok_and(|v| v == "1")
}

fn xorshift64star(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Key of entry `i`: three outputs of a xorshift64* seeded by `i` (distinct `i`, distinct
/// first output: each step is a bijection).
fn key(i: u64) -> Key {
    let mut s = 0x5eed_0005_u64 ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut k = [0; KEY_LEN];
    for c in k.chunks_exact_mut(8) {
        c.copy_from_slice(&xorshift64star(&mut s).to_le_bytes());
    }
    k
}

/// The value of `k` in generation `g` (0 = as built; a crash child writes generation >= 1).
fn value_into(k: &Key, g: u64, out: &mut Vec<u8>) {
    out.clear();
    let mut s = u64::from_le_bytes(k[..8].try_into().expect("8 bytes"))
        ^ g.wrapping_mul(0xff51_afd7_ed55_8ccd)
        | 1;
    while out.len() < VAL_LEN {
        let x = xorshift64star(&mut s).to_le_bytes();
        let take = (VAL_LEN - out.len()).min(8);
        out.extend_from_slice(&x[..take]);
    }
}

fn value(k: &Key, g: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(VAL_LEN);
    value_into(k, g, &mut v);
    v
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Store {
    Pcoll,
    Sled,
    Redb,
    Bincode,
}

const STORES: [Store; 4] = [Store::Pcoll, Store::Sled, Store::Redb, Store::Bincode];

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Pcoll => "pcoll",
            Store::Sled => "sled",
            Store::Redb => "redb",
            Store::Bincode => "bincode",
        }
    }

    fn parse(s: &str) -> Store {
        *STORES
            .iter()
            .find(|st| st.name() == s)
            .unwrap_or_else(|| panic!("store {s}"))
    }

    fn cases(self) -> &'static [Case] {
        match self {
            Store::Pcoll => &[Case::Clean, Case::Crash, Case::CrashSync],
            Store::Sled => &[Case::Clean, Case::Crash],
            Store::Redb => &[Case::Clean, Case::CrashQuickRepair, Case::CrashFullRepair],
            Store::Bincode => &[Case::Clean],
        }
    }

    /// The store's file (a directory for sled) under `dir`.
    fn path(self, dir: &Path) -> PathBuf {
        let ext = match self {
            Store::Pcoll => "pool",
            Store::Sled => "sled",
            Store::Redb => "redb",
            Store::Bincode => "bincode",
        };
        dir.join(format!("pcoll-restart-{}.{ext}", std::process::id()))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Clean,
    Crash,
    CrashSync,
    CrashQuickRepair,
    CrashFullRepair,
}

const CASES: [Case; 5] = [
    Case::Clean,
    Case::Crash,
    Case::CrashSync,
    Case::CrashQuickRepair,
    Case::CrashFullRepair,
];

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Clean => "clean",
            Case::Crash => "crash",
            Case::CrashSync => "crash_sync",
            Case::CrashQuickRepair => "crash_quick_repair",
            Case::CrashFullRepair => "crash_full_repair",
        }
    }

    fn parse(s: &str) -> Case {
        *CASES
            .iter()
            .find(|c| c.name() == s)
            .unwrap_or_else(|| panic!("case {s}"))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD) {
        child(&args[2..]);
        return;
    }
    parent();
}

// ---------------------------------------------------------------------------------------------
// Parent: builds, kills, collects.

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn target_dir(t: &str) -> PathBuf {
    match t {
        "shm" => std::env::var_os("PCOLL_BENCH_SHM")
            .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from),
        "disk" => std::env::var_os("PCOLL_BENCH_DISK")
            .map_or_else(|| PathBuf::from("/work/target-bench2/pools"), PathBuf::from),
        _ => panic!("target {t}: shm or disk"),
    }
}

/// The filesystem type of the mount holding `dir` (the longest mount point above it).
fn fs_type(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, mnt, ty) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(mnt).then(|| (mnt.len(), ty.to_string()))
        })
        .max()
        .map_or_else(|| "?".into(), |(_, t)| t)
}

/// Bytes of a file, or of every file under a directory.
fn file_bytes(p: &Path) -> u64 {
    let Ok(m) = std::fs::metadata(p) else {
        return 0;
    };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| file_bytes(&e.path())).sum())
        .unwrap_or(0)
}

fn remove(p: &Path) {
    let _ = std::fs::remove_file(p);
    let _ = std::fs::remove_dir_all(p);
}

/// Removes a store's files when dropped (also on a panic).
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove(&self.0);
        let mut tmp = self.0.clone().into_os_string();
        tmp.push(".tmp");
        remove(Path::new(&tmp));
    }
}

fn spawn(args: &[String], stdin: Stdio) -> Child {
    Command::new(std::env::current_exe().expect("own path"))
        .arg(CHILD)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a child")
}

/// Runs a child to its end; returns its stdout lines.
fn run_child(args: &[String]) -> Vec<String> {
    let out = spawn(args, Stdio::null())
        .wait_with_output()
        .expect("wait for the child");
    assert!(out.status.success(), "child {args:?}: {}", out.status);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Starts a crash child, waits for its `ready` line, `SIGKILL`s it; returns its info lines.
fn crash_child(args: &[String]) -> Vec<String> {
    let mut c = spawn(args, Stdio::piped());
    let mut out = BufReader::new(c.stdout.take().expect("stdout"));
    let mut info = Vec::new();
    loop {
        let mut line = String::new();
        let got = out.read_line(&mut line).expect("read the child");
        assert!(got > 0, "crash child {args:?} ended before it was ready");
        if line.trim() == "ready" {
            break;
        }
        info.push(line.trim().to_string());
    }
    c.kill().expect("SIGKILL the child"); // Child::kill sends SIGKILL
    let st = c.wait().expect("wait for the child");
    assert_eq!(st.signal(), Some(libc::SIGKILL), "crash child: {st}");
    info
}

fn field<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
}

struct Stats {
    runs: usize,
    median: f64,
    p99: f64,
    max: f64,
}

fn stats(ms: &[f64]) -> Stats {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = ((n as f64 * 0.99).ceil() as usize).clamp(1, n);
    Stats {
        runs: n,
        median,
        p99: v[rank - 1],
        max: v[n - 1],
    }
}

fn csv(path: &Path, header: &str) -> std::fs::File {
    let mut f = std::fs::File::create(path).expect("create csv");
    writeln!(f, "{header}").expect("write csv");
    f
}

fn parent() {
    let t0 = Instant::now();
    let q = quick();
    let targets = env_list("PCOLL_RESTART_TARGETS", "shm,disk");
    let sizes: Vec<u64> = env_list("PCOLL_RESTART_SIZES", if q { "16" } else { "16,256,2048" })
        .iter()
        .map(|s| s.parse().expect("PCOLL_RESTART_SIZES: MiB numbers"))
        .collect();
    // sled's 2 GiB build alone takes about a minute: once (on shm) is enough for the budget.
    let skip = env_list("PCOLL_RESTART_SKIP", "disk/sled/2048");
    let cases = env_list("PCOLL_RESTART_CASES", "");
    let out_dir = std::env::var_os("PCOLL_BENCH_OUT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out_dir).expect("create the results dir");
    let mut restart_csv = csv(
        &out_dir.join("restart.csv"),
        "target,store,size_mib,entries,file_bytes,case,runs,median_ms,p99_ms,max_ms",
    );
    let mut build_csv = csv(
        &out_dir.join("build.csv"),
        "target,store,size_mib,entries,build_ms,file_bytes",
    );

    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "restart bench{}: nproc {nproc}, kernel {}, sizes {sizes:?} MiB, caches warm, skip {skip:?}",
        if q { " (quick)" } else { "" },
        kernel.trim()
    );
    for t in &targets {
        let dir = target_dir(t);
        std::fs::create_dir_all(&dir).expect("create target dir");
        println!("target {t}: {} ({})", dir.display(), fs_type(&dir));
    }
    println!();

    let mut table = String::new();
    let mut builds = String::new();
    let mut notes: Vec<String> = Vec::new();
    let header = format!(
        "| {:<6} | {:<7} | {:>8} | {:>9} | {:>9} | {:<18} | {:>4} | {:>10} | {:>10} | {:>10} |\n|{}|",
        "target",
        "store",
        "size MiB",
        "entries",
        "file MiB",
        "case",
        "runs",
        "median ms",
        "p99 ms",
        "max ms",
        "---|".repeat(10).trim_end_matches('|')
    );
    println!("{header}");

    for t in &targets {
        let dir = target_dir(t);
        for &size in &sizes {
            let n = size * MIB / BYTES_PER_ENTRY;
            let runs = if q {
                5
            } else if size >= 2048 {
                7
            } else {
                15
            };
            for store in STORES {
                if skip.contains(&format!("{t}/{}/{size}", store.name())) {
                    let row = format!(
                        "| {t:<6} | {:<7} | {size:>8} | {n:>9} | skipped (PCOLL_RESTART_SKIP: the run's time budget) |",
                        store.name()
                    );
                    println!("{row}");
                    table.push_str(&row);
                    table.push('\n');
                    notes.push(format!(
                        "{t} {} {size} MiB: skipped (time budget)",
                        store.name()
                    ));
                    continue;
                }
                let path = store.path(&dir);
                let _cleanup = Cleanup(path.clone());
                remove(&path);
                let base = [
                    store.name().to_string(),
                    path.display().to_string(),
                    n.to_string(),
                ];

                // Build (untimed in the restart numbers).
                let mut a = vec!["build".to_string()];
                a.extend(base.iter().cloned());
                let lines = run_child(&a);
                let build_ms: f64 = field(&lines, "build_ms")
                    .and_then(|s| s.parse().ok())
                    .expect("build_ms");
                let built = file_bytes(&path);
                writeln!(
                    build_csv,
                    "{t},{},{size},{n},{build_ms:.1},{built}",
                    store.name()
                )
                .expect("write csv");
                let _ = writeln!(
                    builds,
                    "| {t:<6} | {:<7} | {size:>8} | {n:>9} | {:>10.1} | {:>9.1} |",
                    store.name(),
                    build_ms,
                    built as f64 / MIB as f64
                );
                for l in lines.iter().filter_map(|l| l.strip_prefix("info ")) {
                    notes.push(format!("{t} {} {size} MiB build: {l}", store.name()));
                }

                for &case in store.cases().iter().filter(|c| {
                    cases.is_empty() || cases.iter().any(|x| x == c.name())
                }) {
                    let fbytes = file_bytes(&path);
                    let start = Instant::now();
                    let mut ms = Vec::new();
                    let mut infos: Vec<String> = Vec::new();
                    for r in 0..runs {
                        let g = r as u64 + 1;
                        if case != Case::Clean {
                            let mut a = vec!["crash".to_string()];
                            a.extend(base.iter().cloned());
                            a.extend([case.name().to_string(), g.to_string()]);
                            infos.extend(crash_child(&a));
                        }
                        let mut a = vec!["reopen".to_string()];
                        a.extend(base.iter().cloned());
                        a.extend([case.name().to_string(), g.to_string()]);
                        let lines = run_child(&a);
                        ms.push(
                            field(&lines, "ms")
                                .and_then(|s| s.parse().ok())
                                .expect("ms line"),
                        );
                        infos.extend(
                            lines
                                .iter()
                                .filter_map(|l| l.strip_prefix("info "))
                                .map(String::from),
                        );
                        if start.elapsed() > CASE_CAP && r + 1 < runs {
                            notes.push(format!(
                                "{t} {} {size} MiB {}: capped after {} of {runs} runs ({:.0} s)",
                                store.name(),
                                case.name(),
                                r + 1,
                                start.elapsed().as_secs_f64()
                            ));
                            break;
                        }
                    }
                    let s = stats(&ms);
                    writeln!(
                        restart_csv,
                        "{t},{},{size},{n},{fbytes},{},{},{:.3},{:.3},{:.3}",
                        store.name(),
                        case.name(),
                        s.runs,
                        s.median,
                        s.p99,
                        s.max
                    )
                    .expect("write csv");
                    let row = format!(
                        "| {t:<6} | {:<7} | {size:>8} | {n:>9} | {:>9.1} | {:<18} | {:>4}{} | {:>10.3} | {:>10.3} | {:>10.3} |",
                        store.name(),
                        fbytes as f64 / MIB as f64,
                        case.name(),
                        s.runs,
                        if s.runs < runs { " capped" } else { "" },
                        s.median,
                        s.p99,
                        s.max
                    );
                    println!("{row}");
                    table.push_str(&row);
                    table.push('\n');
                    // Distinct info lines with their counts.
                    let mut counts: Vec<(String, usize)> = Vec::new();
                    for i in infos {
                        match counts.iter_mut().find(|(s, _)| *s == i) {
                            Some((_, c)) => *c += 1,
                            None => counts.push((i, 1)),
                        }
                    }
                    for (i, c) in counts {
                        notes.push(format!(
                            "{t} {} {size} MiB {}: {i} (x{c})",
                            store.name(),
                            case.name()
                        ));
                    }
                }
                // `_cleanup` removes the store here, before the next one is built.
            }
        }
    }
    restart_csv.flush().expect("flush csv");
    build_csv.flush().expect("flush csv");

    println!("\nRestart (open + one verified get, ms; each run in a new process):\n{header}");
    print!("{table}");
    println!(
        "\nBuilds (store operations + final sync; bincode: encode + write + fsync + rename of the checkpoint):"
    );
    println!(
        "| target | store   | size MiB |   entries |   build ms |  file MiB |\n|---|---|---|---|---|---|"
    );
    print!("{builds}");
    println!("\nNotes:");
    for n in &notes {
        println!("- {n}");
    }
    println!(
        "\nresults: {} and build.csv; wall {:.1} s",
        out_dir.join("restart.csv").display(),
        t0.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// Children: `__restart_child build|crash|reopen STORE PATH N [CASE GEN]`.

fn child(args: &[String]) {
    let role = args[0].as_str();
    let store = Store::parse(&args[1]);
    let path = PathBuf::from(&args[2]);
    let n: u64 = args[3].parse().expect("n");
    let case = args.get(4).map(|s| Case::parse(s));
    let g: u64 = args.get(5).map_or(0, |s| s.parse().expect("gen"));
    match role {
        "build" => {
            let ms = match store {
                Store::Pcoll => build_pcoll(&path, n),
                Store::Sled => build_sled(&path, n),
                Store::Redb => build_redb(&path, n),
                Store::Bincode => build_bincode(&path, n),
            };
            println!("build_ms {:.3}", ms.as_secs_f64() * 1e3);
            println!("info build peak RSS {} MiB", peak_rss_mib());
        }
        "crash" => {
            let case = case.expect("case");
            match store {
                Store::Pcoll => crash_pcoll(&path, n, g, case),
                Store::Sled => crash_sled(&path, n, g),
                Store::Redb => crash_redb(&path, n, g, case == Case::CrashQuickRepair),
                Store::Bincode => unreachable!("no crash case"),
            }
        }
        "reopen" => {
            let case = case.expect("case");
            match store {
                Store::Pcoll => reopen_pcoll(&path, n, case, g),
                Store::Sled => reopen_sled(&path, n, case, g),
                Store::Redb => reopen_redb(&path, n, case, g),
                Store::Bincode => reopen_bincode(&path, n, g),
            }
        }
        _ => panic!("role {role}"),
    }
}

/// Prints the reopen time (and, in the first run, the peak RSS so far: open + get).
fn print_ms(d: Duration, g: u64) {
    println!("ms {:.4}", d.as_secs_f64() * 1e3);
    if g == 1 {
        println!("info peak RSS after open + get: {} MiB", peak_rss_mib());
    }
}

/// This process's minor page faults so far (`/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    s.rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(7))
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

/// This process's peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Tells the parent the transaction is in flight, then waits to be killed (or for the
/// parent's end: stdin closes and this exits without committing anything).
fn ready_then_wait() -> ! {
    println!("ready");
    std::io::stdout().flush().expect("flush stdout");
    let mut buf = [0u8; 1];
    let _ = std::io::stdin().read(&mut buf);
    std::process::exit(1);
}

/// fsync of a file, or of every file under a directory (tmpfs: no-op).
fn sync_tree(p: &Path) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).expect("read dir").flatten() {
            sync_tree(&e.path());
        }
    }
    std::fs::File::open(p)
        .and_then(|f| f.sync_all())
        .expect("sync");
}

/// Entries 0..n as (key, value of generation 0), `BATCH` per call of `store`; times only
/// `store`.
fn load(n: u64, mut store: impl FnMut(&[(Key, Vec<u8>)])) -> Duration {
    let mut spent = Duration::ZERO;
    let mut batch: Vec<(Key, Vec<u8>)> = Vec::with_capacity(BATCH as usize);
    let mut lo = 0;
    while lo < n {
        let hi = (lo + BATCH).min(n);
        batch.clear();
        batch.extend((lo..hi).map(|i| {
            let k = key(i);
            (k, value(&k, 0))
        }));
        let t = Instant::now();
        store(&batch);
        spent += t.elapsed();
        lo = hi;
    }
    spent
}

/// The interrupted transaction's writes: updates of 0..CRASH_OPS, inserts of n..n+CRASH_OPS,
/// all of generation `g`.
fn crash_writes(n: u64, g: u64) -> Vec<(Key, Vec<u8>)> {
    (0..CRASH_OPS)
        .chain(n..n + CRASH_OPS)
        .map(|i| {
            let k = key(i);
            (k, value(&k, g))
        })
        .collect()
}

/// How many of the crash writes of generation `g` `get` finds.
fn crash_survivors(n: u64, g: u64, get: impl Fn(&Key) -> Option<Vec<u8>>) -> usize {
    crash_writes(n, g)
        .iter()
        .filter(|(k, v)| get(k).as_deref() == Some(&v[..]))
        .count()
}

// pcoll ---------------------------------------------------------------------------------------

fn build_pcoll(path: &Path, n: u64) -> Duration {
    let t = Instant::now();
    let pool = Pool::<Root>::options()
        .durability(Durability::Process)
        .create(path)
        .expect("create pool");
    let mut spent = t.elapsed();
    spent += load(n, |b| {
        let mut w = pool.write();
        for (k, v) in b {
            w.m.insert(*k, &v[..]);
        }
    });
    let t = Instant::now();
    assert_eq!(pool.read().m.len() as u64, n);
    drop(pool);
    sync_tree(path);
    spent + t.elapsed()
}

fn crash_pcoll(path: &Path, n: u64, g: u64, case: Case) -> ! {
    let durability = if case == Case::CrashSync {
        Durability::Sync
    } else {
        Durability::Process
    };
    let pool = Pool::<Root>::options()
        .durability(durability)
        .open_existing(path)
        .expect("child open");
    let writes = crash_writes(n, g);
    let mut w = pool.write();
    for (k, v) in &writes {
        w.m.insert(*k, &v[..]);
    }
    let s = w.stats();
    println!(
        "child txn: {} log entries, {} log bytes",
        s.txn.log_entries, s.txn.log_bytes
    );
    ready_then_wait(); // the guard is alive: the transaction never commits
}

fn reopen_pcoll(path: &Path, n: u64, case: Case, g: u64) {
    let known = key(n / 2);
    let want = value(&known, 0);
    let faults = minor_faults();
    let t = Instant::now();
    let pool = Pool::<Root>::options()
        .durability(Durability::Sync)
        .open_existing(path)
        .expect("reopen");
    {
        let r = pool.read();
        assert_eq!(r.m.get(&known).map(|v| v.as_slice()), Some(&want[..]));
    }
    let e = t.elapsed();
    let faults = minor_faults() - faults;
    print_ms(e, g);
    if g == 1 {
        // What recovery costs grows with: the pages it touches (copy-on-write faults in the
        // private Sync mapping), not the pool's size.
        let s = pool.stats();
        println!(
            "info first run: open + get took {faults} minor page faults, {} barriers, {} bytes synced",
            s.barriers, s.synced_bytes
        );
    }
    if matches!(case, Case::Crash | Case::CrashSync) {
        let r = pool.read();
        assert_eq!(r.m.len() as u64, n, "rolled back exactly");
        let got = crash_survivors(n, g, |k| r.m.get(k).map(|v| v.to_vec()));
        assert_eq!(got, 0, "the interrupted transaction is undone");
        for i in 0..CRASH_OPS {
            let k = key(i);
            assert_eq!(r.m.get(&k).map(|v| v.to_vec()), Some(value(&k, 0)));
            assert!(r.m.get(&key(n + i)).is_none());
        }
        drop(r);
        println!("info reopen barriers (recovery): {}", pool.stats().barriers);
        if g == 1 {
            let rep = pool.check().expect("check after recovery");
            println!(
                "info check after recovery: ok, {} blocks, {} bytes allocated, pool {} bytes",
                rep.blocks, rep.allocated_bytes, rep.pool_bytes
            );
        }
    }
    drop(pool);
}

// sled ----------------------------------------------------------------------------------------

fn build_sled(path: &Path, n: u64) -> Duration {
    let t = Instant::now();
    let db = sled::open(path).expect("open sled");
    let mut spent = t.elapsed();
    spent += load(n, |b| {
        let mut batch = sled::Batch::default();
        for (k, v) in b {
            batch.insert(&k[..], &v[..]);
        }
        db.apply_batch(batch).expect("apply_batch");
    });
    let t = Instant::now();
    db.flush().expect("flush");
    drop(db);
    sync_tree(path);
    spent + t.elapsed()
}

fn crash_sled(path: &Path, n: u64, g: u64) -> ! {
    let db = sled::open(path).expect("child open sled");
    let mut batch = sled::Batch::default();
    for (k, v) in crash_writes(n, g) {
        batch.insert(&k[..], v);
    }
    db.apply_batch(batch).expect("apply_batch");
    ready_then_wait(); // not flushed: sled's flusher runs every 500 ms
}

fn reopen_sled(path: &Path, n: u64, case: Case, g: u64) {
    let known = key(n / 2);
    let want = value(&known, 0);
    let t = Instant::now();
    let db = sled::open(path).expect("reopen sled");
    let got = db.get(known).expect("get");
    assert_eq!(got.as_deref(), Some(&want[..]));
    print_ms(t.elapsed(), g);
    if case == Case::Crash {
        let got = crash_survivors(n, g, |k| db.get(k).expect("get").map(|v| v.to_vec()));
        assert!(
            got == 0 || got == 2 * CRASH_OPS as usize,
            "sled batch half there: {got}"
        );
        println!(
            "info the killed child's batch {}",
            if got == 0 { "was lost" } else { "survived" }
        );
    }
    db.flush().expect("flush");
    drop(db);
}

// redb ----------------------------------------------------------------------------------------

fn build_redb(path: &Path, n: u64) -> Duration {
    let t = Instant::now();
    let db = redb::Database::create(path).expect("create redb");
    let mut spent = t.elapsed();
    spent += load(n, |b| {
        let tx = db.begin_write().expect("begin_write");
        {
            let mut table = tx.open_table(TABLE).expect("open_table");
            for (k, v) in b {
                table.insert(k, &v[..]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    });
    let t = Instant::now();
    drop(db);
    sync_tree(path);
    spent + t.elapsed()
}

fn crash_redb(path: &Path, n: u64, g: u64, quick_repair: bool) -> ! {
    let db = redb::Database::open(path).expect("child open redb");
    // One small durable commit, so the file's last commit is this one (see the module doc).
    let mut tx = db.begin_write().expect("begin_write");
    tx.set_quick_repair(quick_repair);
    {
        let mut table = tx.open_table(TABLE).expect("open_table");
        let k = key(n + MARKER + g);
        table.insert(&k, &value(&k, 0)[..]).expect("insert");
    }
    tx.commit().expect("commit the marker");
    // The interrupted transaction.
    let tx = db.begin_write().expect("begin_write");
    let mut table = tx.open_table(TABLE).expect("open_table");
    for (k, v) in crash_writes(n, g) {
        table.insert(&k, &v[..]).expect("insert");
    }
    ready_then_wait();
}

fn reopen_redb(path: &Path, n: u64, case: Case, g: u64) {
    use redb::ReadableDatabase;
    let known = key(n / 2);
    let want = value(&known, 0);
    let t = Instant::now();
    let db = redb::Database::open(path).expect("reopen redb");
    {
        let rx = db.begin_read().expect("begin_read");
        let table = rx.open_table(TABLE).expect("open_table");
        let got = table.get(&known).expect("get");
        assert_eq!(got.as_ref().map(|v| v.value()), Some(&want[..]));
    }
    print_ms(t.elapsed(), g);
    if case != Case::Clean {
        let rx = db.begin_read().expect("begin_read");
        let table = rx.open_table(TABLE).expect("open_table");
        let get = |k: &Key| table.get(k).expect("get").map(|v| v.value().to_vec());
        let m = key(n + MARKER + g);
        assert_eq!(get(&m), Some(value(&m, 0)), "the committed marker is there");
        assert_eq!(crash_survivors(n, g, get), 0, "the open txn is gone");
        for i in 0..CRASH_OPS {
            let k = key(i);
            assert_eq!(get(&k), Some(value(&k, 0)));
            assert!(get(&key(n + i)).is_none());
        }
    }
    drop(db);
}

// bincode checkpoint ---------------------------------------------------------------------------

fn build_bincode(path: &Path, n: u64) -> Duration {
    let mut m: HashMap<Key, Vec<u8>> = HashMap::with_capacity(n as usize);
    load(n, |b| m.extend(b.iter().cloned())); // the application's state: untimed
    let t = Instant::now();
    let mut tmp = path.to_path_buf().into_os_string();
    tmp.push(".tmp");
    let f = std::fs::File::create(&tmp).expect("create checkpoint");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    bincode::serde::encode_into_std_write(&m, &mut w, bincode::config::standard()).expect("encode");
    let f = w.into_inner().expect("flush checkpoint");
    f.sync_all().expect("fsync checkpoint");
    std::fs::rename(&tmp, path).expect("rename checkpoint");
    let e = t.elapsed();
    println!("info HashMap filled from the generated data, untimed");
    e
}

fn reopen_bincode(path: &Path, n: u64, g: u64) {
    let known = key(n / 2);
    let want = value(&known, 0);
    let t = Instant::now();
    let bytes = std::fs::read(path).expect("read checkpoint");
    let (m, used): (HashMap<Key, Vec<u8>>, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).expect("decode");
    assert_eq!(m.get(&known), Some(&want));
    print_ms(t.elapsed(), g);
    assert_eq!((used, m.len() as u64), (bytes.len(), n));
    std::process::exit(0); // freeing the map is no part of a restart
}
