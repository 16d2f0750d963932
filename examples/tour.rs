//! A tour of pcoll: `cargo run --release --example tour [POOL_PATH]` (default `./tour.pool`).
//!
//! 1. The root survives restarts: a run counter goes up on every run, a journal (`PVec` of
//!    `PString`) grows, a `PHashMap` totals per payee, a `PBTreeMap` keeps balances by run.
//! 2. A transaction that returns `Err` leaves no trace.
//! 3. A real crash: this program starts itself as a child, the child begins a large
//!    transaction, and the parent kills it with SIGKILL halfway through. Reopening rolls the
//!    half-done transaction back.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use pcoll::{PBTreeMap, PBox, PHashMap, PHashSet, PString, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Tour {
    runs: u64,
    balance: i64,
    /// A note kept in its own pool allocation.
    motto: Option<PBox<[u8; 32]>>,
    /// Entries of a small ledger, each boxed: (amount, run that wrote it).
    ledger: [Option<PBox<(i64, u64)>>; 32],
    /// A journal line per event: a persistent Vec of persistent Strings.
    journal: PVec<PString>,
    /// Every balance the account ever had.
    history: PVec<i64>,
    /// Total booked per payee: a persistent HashMap keyed by persistent Strings.
    by_payee: PHashMap<PString, i64>,
    /// The runs that deposited something.
    depositors: PHashSet<u64>,
    /// Balance after each run, ordered by run: a persistent BTreeMap.
    by_run: PBTreeMap<u64, i64>,
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
    deposit(&pool);
    let root = pool.read();
    let motto = root
        .motto
        .as_deref()
        .map(|m| String::from_utf8_lossy(m).trim_end().to_string());
    println!(
        "this is run number {} of the tour on this pool (run it again: it counts)",
        root.runs
    );
    println!(
        "balance {} after a deposit of 100; motto: \"{}\"",
        root.balance,
        motto.unwrap_or_default()
    );
    let recent = &root.history[root.history.len().saturating_sub(5)..];
    println!(
        "journal: {} lines, the last \"{}\"; recent balances {recent:?}",
        root.journal.len(),
        root.journal[root.journal.len() - 1]
    );
    println!(
        "booked for \"salary\": {} over {} runs (by_payee has {} payees)",
        root.by_payee["salary"],
        root.depositors.len(),
        root.by_payee.len()
    );
    let last3: Vec<(u64, i64)> = root
        .by_run
        .range(run_floor(&root)..)
        .map(|(r, b)| (*r, *b))
        .collect();
    println!("balance by run, last three (a PBTreeMap range): {last3:?}");
    drop(root);
    // Values handed out by a container are ordinary values: this line outlives its
    // transaction, and below, the pool itself.
    let handed_out = {
        let mut root = pool.write();
        let line = root.journal.pop().expect("the deposit wrote a line");
        root.journal.push(PString::from(line.as_str())); // a copy goes back
        line
    };
    println!("popped and pushed back the last line; the popped value reads \"{handed_out}\"");

    println!("\n== 2. A transaction rolled back by an error");
    let before = pool.read().balance;
    let res = pool.transaction(|root| {
        root.balance -= 1_000_000; // changed in place...
        root.ledger[31] = Some(PBox::new((-1_000_000, root.runs)));
        root.journal.push("withdrew 1000000".into());
        *root.by_payee.entry("casino").or_insert(0) -= 1_000_000;
        if root.balance < 0 {
            return Err(TourError::Overdrawn); // ...and undone here, in this process, now
        }
        Ok(())
    });
    let root = pool.read();
    println!(
        "withdrawing 1000000 returned {res:?}; balance is still {} (was {before})",
        root.balance
    );
    println!(
        "and the journal's last line is still \"{}\"",
        root.journal[root.journal.len() - 1]
    );
    assert_eq!(root.balance, before);
    assert!(root.by_payee.get("casino").is_none());
    drop(root);

    println!("\n== 3. A real crash: kill -9 in the middle of a transaction");
    let (committed, lines) = (pool.read().balance, pool.read().journal.len());
    let payees = pool.read().by_payee.len();
    drop(pool); // the child must be able to take the pool's lock
    println!("the pool is closed; the line popped earlier still reads \"{handed_out}\"");
    kill_child_mid_transaction(&path);

    let t = Instant::now();
    let pool: Pool<Tour> = Pool::open(&path)?;
    let reopen_ms = t.elapsed().as_secs_f64() * 1e3;
    let root = pool.read();
    println!(
        "reopened in {reopen_ms:.2} ms: balance {} (the child had set it to {})",
        root.balance,
        committed + 7_000_000
    );
    println!(
        "journal: {} lines (the child had added 10000), history: {} entries",
        root.journal.len(),
        root.history.len()
    );
    assert_eq!(
        root.balance, committed,
        "the interrupted transaction must be rolled back"
    );
    assert_eq!(root.journal.len(), lines);
    println!(
        "by_payee: {} payees (the child had added 5000)",
        root.by_payee.len()
    );
    assert_eq!(root.by_payee.len(), payees);
    assert_eq!(
        root.by_run.last_key_value().map(|(r, _)| *r),
        Some(root.runs)
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

fn run_floor(root: &Tour) -> u64 {
    root.runs.saturating_sub(2)
}

/// One committed transaction: a deposit, booked in every container.
fn deposit(pool: &Pool<Tour>) {
    let mut root = pool.write(); // one transaction, committed when `root` drops
    root.runs += 1;
    if root.motto.is_none() {
        root.motto = Some(PBox::new(*b"all of it, or none of it.       "));
    }
    let run = root.runs;
    root.ledger[(run as usize - 1) % 32] = Some(PBox::new((100, run))); // frees an old entry
    root.balance += 100;
    let balance = root.balance;
    root.history.push(balance);
    root.journal
        .push(format!("run {run}: deposited 100").into()); // a String becomes a PString
    *root.by_payee.entry("salary").or_insert(0) += 100; // a &str key is stored as a PString
    root.depositors.insert(run);
    root.by_run.insert(run, balance);
}

/// Starts this program as a child that begins a large transaction, and kills it mid-way.
fn kill_child_mid_transaction(path: &str) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--crash-child", path])
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
}

/// The child: starts a large transaction and reports mid-way, then waits to be killed.
fn crash_child(path: &str) -> ! {
    let pool: Pool<Tour> = Pool::open(path).expect("child open");
    let mut root = pool.write();
    root.balance += 7_000_000;
    for entry in root.ledger.iter_mut() {
        *entry = Some(PBox::new((7_000_000, u64::MAX)));
    }
    for i in 0..10_000 {
        root.journal.push(format!("phantom line {i}").into());
    }
    root.history.extend(0..100_000);
    root.by_payee
        .extend((0..5_000).map(|i| (format!("phantom payee {i}"), i)));
    println!(
        "transaction half done: +7000000, 32 ledger entries replaced, 10000 journal lines, \
         100000 history entries, 5000 payees, 20000 runs"
    );
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1)); // never commits
    }
}
