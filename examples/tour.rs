//! A tour of pcoll: `cargo run --release --example tour [POOL_PATH]` (default `./tour.pool`).
//!
//! 1. The root survives restarts: a run counter goes up on every run.
//! 2. A transaction that returns `Err` leaves no trace.
//! 3. A real crash: this program starts itself as a child, the child begins a large
//!    transaction, and the parent kills it with SIGKILL halfway through. Reopening rolls the
//!    half-done transaction back.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use pcoll::{PBox, Persistent, Pool};

#[derive(Persistent, Default)]
struct Tour {
    runs: u64,
    balance: i64,
    /// A note kept in its own pool allocation.
    motto: Option<PBox<[u8; 32]>>,
    /// Entries of a small ledger, each boxed: (amount, run that wrote it).
    ledger: [Option<PBox<(i64, u64)>>; 32],
}

#[derive(Debug)]
enum TourError {
    Overdrawn,
    Pool(#[allow(dead_code)] pcoll::Error),
}

impl From<pcoll::Error> for TourError {
    fn from(e: pcoll::Error) -> Self {
        TourError::Pool(e)
    }
}

fn main() -> Result<(), TourError> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--crash-child") {
        crash_child(&args[2]);
    }
    let path = args.get(1).cloned().unwrap_or_else(|| "tour.pool".into());

    println!("== 1. A root that survives restarts");
    let t = Instant::now();
    let pool: Pool<Tour> = Pool::open(&path)?;
    println!("opened {path} in {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    {
        let mut root = pool.write(); // one transaction, committed when `root` drops
        root.runs += 1;
        if root.motto.is_none() {
            root.motto = Some(PBox::new(*b"all of it, or none of it.       "));
        }
        let run = root.runs;
        let slot = (run as usize - 1) % 32;
        root.ledger[slot] = Some(PBox::new((100, run))); // replaces (and frees) an old entry
        root.balance += 100;
    }
    let root = pool.read();
    let motto = String::from_utf8_lossy(root.motto.as_deref().unwrap_or(&[b' '; 32]))
        .trim_end()
        .to_string();
    println!(
        "this is run number {} of the tour on this pool (run it again: it counts)",
        root.runs
    );
    println!(
        "balance {} after a deposit of 100; motto: \"{motto}\"",
        root.balance
    );
    drop(root);

    println!("\n== 2. A transaction rolled back by an error");
    let before = pool.read().balance;
    let res = pool.transaction(|root| {
        root.balance -= 1_000_000; // changed in place...
        root.ledger[31] = Some(PBox::new((-1_000_000, root.runs)));
        if root.balance < 0 {
            return Err(TourError::Overdrawn); // ...and undone here, in this process, now
        }
        Ok(())
    });
    println!(
        "withdrawing 1000000 returned {res:?}; balance is still {} (was {before})",
        pool.read().balance
    );
    assert_eq!(pool.read().balance, before);

    println!("\n== 3. A real crash: kill -9 in the middle of a transaction");
    let committed = pool.read().balance;
    drop(pool); // the child must be able to take the pool's lock
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--crash-child", &path])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut line)
        .expect("child report");
    println!("child says: {}", line.trim());
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let status = child.wait().expect("wait");
    println!("child killed ({status})");

    let t = Instant::now();
    let pool: Pool<Tour> = Pool::open(&path)?;
    let reopen_ms = t.elapsed().as_secs_f64() * 1e3;
    let root = pool.read();
    println!(
        "reopened in {reopen_ms:.2} ms: balance {} (the child had set it to {}), runs {}",
        root.balance,
        committed + 7_000_000,
        root.runs
    );
    assert_eq!(
        root.balance, committed,
        "the interrupted transaction must be rolled back"
    );
    drop(root);
    let report = pool.check()?;
    println!(
        "check(): {} blocks allocated, all reachable from the root, none leaked ({} of {} bytes in use)",
        report.blocks, report.allocated_bytes, report.pool_bytes
    );
    println!("\nthe half-done transaction left no trace. Run the tour again: the counter goes on.");
    Ok(())
}

/// The child: starts a large transaction and reports mid-way, then waits to be killed.
fn crash_child(path: &str) -> ! {
    let pool: Pool<Tour> = Pool::open(path).expect("child open");
    let mut root = pool.write();
    root.balance += 7_000_000;
    for i in 0..32 {
        root.ledger[i] = Some(PBox::new((7_000_000, u64::MAX)));
    }
    println!("transaction half done: balance raised by 7000000, all 32 ledger entries replaced");
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1)); // never commits
    }
}
