//! kill -9 of a real child process mid-transaction, at random moments. The child (this test
//! binary, re-executed) runs numbered transactions and prints each id once committed; the
//! parent kills it with SIGKILL, reopens the pool, and checks that the state is exactly that
//! of the last acknowledged transaction or the one after it (committed, not yet printed), and
//! that `check()` finds no leak. Rounds: 50, or `PCOLL_KILL_ROUNDS`.
//!
//! This cannot catch a missing msync (the page cache survives a killed process); the crash
//! images in `crash_images.rs` are for that.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use pcoll::{
    Durability, PBTreeMap, PBTreeSet, PBox, PHashMap, PHashSet, PString, PVec, Persistent, Pool,
};

const SLOTS: usize = 24;

#[derive(Persistent, Default)]
struct Root {
    seq: u64,
    /// Sum of slot[i][0] over the filled slots: ties all slots to one transaction.
    sum: u64,
    slots: [Option<PBox<[u64; 8]>>; SLOTS],
    big: Option<PBox<[u64; 1024]>>,
    /// Every transaction k pushes k: always exactly 1..=seq.
    events: PVec<u64>,
    /// Every 7th transaction k extends it by k % 50 elements (a long extend, often growing).
    bulk: PVec<u32>,
    /// The decimal text of seq.
    name: PString,
    /// Transaction k inserts k → k and removes k - 100: always the last 100 ids (tombstone
    /// churn, rebuilds at the same size); every 3rd also bumps its own entry through `entry`.
    recent: PHashMap<u64, u64>,
    /// Transaction k sets "n{k % 37}" → k; every 13th clears the map first.
    names: PHashMap<PString, u64>,
    /// Transaction k inserts k and removes k - 50: always the last 50 ids.
    window: PHashSet<u64>,
    /// Transaction k inserts k → k and removes k - 200 (so its tree splits and merges);
    /// every 9th also pops the first and puts it back. Ranked from transaction 1 (its
    /// counts are checked by `verify_tree`).
    ordered: PBTreeMap<u64, u64>,
    /// Transaction k sets "w{k % 53}" → k; every 17th splits at "w25" and appends back.
    words: PBTreeMap<PString, u64>,
    /// Transaction k inserts k % 300 (and every 10th retains the even ones).
    evens: PBTreeSet<u64>,
    /// Transaction k pushes `shelf_item(k)`; every 11th sorts it in place.
    shelf: PVec<PString>,
}

fn shelf_item(k: u64) -> String {
    format!("s{:04}", k.wrapping_mul(7919) % 10_000)
}

std::thread_local! {
    /// Values handed out by transaction k (a `names` key), dropped in transaction k + 1.
    static HELD: std::cell::RefCell<Vec<PString>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Copies of `name` taken with `mem::take` in a transaction that rolled back (before
    /// every 4th transaction): the pool owns their blocks again. Transaction k changes one
    /// and drops it, stores the other as a key and removes it again: no trace in the model.
    static STALE: std::cell::RefCell<Vec<PString>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Two rolled-back transactions, each leaving a copy of `name` outside the pool.
fn rolled_back_takes(pool: &Pool<Root>) {
    for _ in 0..2 {
        let mut w = pool.write();
        let stale = std::mem::take(&mut w.name);
        w.abort();
        STALE.with(|s| s.borrow_mut().push(stale));
    }
}

/// Transaction k's use of the stale copies (see `STALE`), before it changes `name`.
fn use_stale(r: &mut Root, k: u64) {
    let stale: Vec<PString> = STALE.with(|s| s.borrow_mut().drain(..).collect());
    let mut it = stale.into_iter();
    if let Some(mut changed) = it.next() {
        changed.push_str(" and more"); // becomes a value of its own first
        assert_eq!(changed, format!("{} and more", r.name.as_str()));
    }
    if let Some(stored) = it.next() {
        let text = stored.to_string();
        r.names.insert(stored, k); // stored as a copy
        assert_eq!(r.names.remove(text.as_str()), Some(k));
    }
}

fn rng(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// One transaction: several slots replaced, cleared or changed in place, sometimes a large box,
/// a push to `events`, sometimes a long extend of `bulk`, and `name` rewritten.
fn step(r: &mut Root, k: u64, other: &mut Root) {
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    HELD.with(|h| h.borrow_mut().clear()); // values from the last transaction, dropped late
    use_stale(r, k);
    r.seq = k;
    for _ in 0..1 + rng(&mut x) % 6 {
        let i = (rng(&mut x) % SLOTS as u64) as usize;
        if let Some(b) = &r.slots[i] {
            r.sum -= b[0];
        }
        match rng(&mut x) % 3 {
            0 => r.slots[i] = None,
            1 => r.slots[i] = Some(PBox::new([k; 8])),
            _ => match r.slots[i].as_mut() {
                Some(b) => **b = [k; 8],
                None => r.slots[i] = Some(PBox::new([k; 8])),
            },
        }
        if let Some(b) = &r.slots[i] {
            r.sum += b[0];
        }
    }
    if k.is_multiple_of(5) {
        r.big = Some(PBox::new([k; 1024]));
    }
    r.events.push(k);
    if k.is_multiple_of(7) {
        r.bulk.extend((0..k % 50).map(|i| i as u32));
    }
    // The name is built in the other pool and moved in by assignment (copied at commit).
    other.name.clear();
    other.name.push_str(&k.to_string());
    r.name = std::mem::take(&mut other.name);
    r.recent.insert(k, k);
    r.recent.remove(&k.wrapping_sub(100));
    if k.is_multiple_of(3) {
        *r.recent.entry(k).or_insert(0) += 1_000_000;
        *r.recent.entry(k).or_insert(0) -= 1_000_000;
    }
    if k.is_multiple_of(13) {
        r.names.clear();
    }
    r.names.insert(format!("n{}", k % 37), k);
    if let Some((key, v)) = r.names.remove_entry(format!("n{}", k % 37).as_str()) {
        HELD.with(|h| h.borrow_mut().push(key)); // a handle key handed out...
        r.names.insert(format!("n{}", k % 37), v); // ...and the entry put back
    }
    r.shelf.push(shelf_item(k).into());
    if k.is_multiple_of(11) {
        r.shelf.sort();
    }
    r.window.insert(k);
    r.window.remove(&k.wrapping_sub(50));
    if k == 1 {
        r.ordered = PBTreeMap::ranked(); // its edges' counts are logged too
    }
    r.ordered.insert(k, k);
    r.ordered.remove(&k.wrapping_sub(200));
    if k.is_multiple_of(9)
        && let Some((a, b)) = r.ordered.pop_first()
    {
        r.ordered.insert(a, b);
    }
    r.words.insert(format!("w{}", k % 53), k);
    if k.is_multiple_of(17) {
        let mut tail = r.words.split_off("w25");
        r.words.append(&mut tail);
    }
    r.evens.insert(k % 300);
    if k.is_multiple_of(10) {
        r.evens.retain(|x| x % 2 == 0);
    }
}

/// The ordered maps and set against what transactions 1..=seq leave.
fn verify_trees(r: &Root) -> Result<(), String> {
    let ordered = r.seq.saturating_sub(199).max(1)..=r.seq;
    if !r
        .ordered
        .iter()
        .map(|(k, v)| (*k, *v))
        .eq(ordered.map(|k| (k, k)))
    {
        return Err(format!(
            "ordered holds {} entries at seq {}",
            r.ordered.len(),
            r.seq
        ));
    }
    let mut words = std::collections::BTreeMap::new();
    let mut evens = std::collections::BTreeSet::new();
    for k in r.seq.saturating_sub(60).max(1)..=r.seq {
        words.insert(format!("w{}", k % 53), k);
    }
    for k in r.seq.saturating_sub(310).max(1)..=r.seq {
        evens.insert(k % 300);
        if k.is_multiple_of(10) {
            evens.retain(|x| x % 2 == 0);
        }
    }
    if !r
        .words
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .eq(words.iter().map(|(k, v)| (k.as_str(), *v)))
    {
        return Err(format!("words {:?} at seq {}", r.words, r.seq));
    }
    // The last 310 transactions fix the set once the first 300 ids went in.
    if r.seq > 320 && !r.evens.iter().eq(evens.iter()) {
        return Err(format!("evens {:?} at seq {}", r.evens, r.seq));
    }
    if r.seq > 0 && !r.ordered.is_ranked() {
        return Err("ordered lost its ranked mark".into());
    }
    r.ordered.verify_tree()?;
    r.words.verify_tree()
}

/// The maps and the set against what transactions 1..=seq leave.
fn verify_maps(r: &Root) -> Result<(), String> {
    let recent = (r.seq.saturating_sub(99).max(1)..=r.seq).map(|k| (k, k));
    if r.recent.len() != recent.clone().count()
        || recent.clone().any(|(k, v)| r.recent.get(&k) != Some(&v))
    {
        return Err(format!(
            "recent holds {} entries at seq {}",
            r.recent.len(),
            r.seq
        ));
    }
    let cleared = r.seq - r.seq % 13;
    let mut names = std::collections::HashMap::new();
    for k in cleared.max(1)..=r.seq {
        names.insert(format!("n{}", k % 37), k);
    }
    if r.names.len() != names.len()
        || names
            .iter()
            .any(|(n, k)| r.names.get(n.as_str()) != Some(k))
    {
        return Err(format!("names {:?} at seq {}", r.names, r.seq));
    }
    let window = r.seq.saturating_sub(49).max(1)..=r.seq;
    if r.window.len() != window.clone().count() || window.clone().any(|k| !r.window.contains(&k)) {
        return Err(format!(
            "window holds {} ids at seq {}",
            r.window.len(),
            r.seq
        ));
    }
    r.recent.verify_probing()?;
    r.names.verify_probing()?;
    verify_trees(r)
}

fn verify(r: &Root) -> Result<(), String> {
    let mut sum = 0;
    for b in r.slots.iter().flatten() {
        if b.iter().any(|&v| v != b[0]) || b[0] > r.seq {
            return Err(format!("torn slot {:?} at seq {}", &b[..], r.seq));
        }
        sum += b[0];
    }
    if sum != r.sum {
        return Err(format!("sum {} != {} at seq {}", r.sum, sum, r.seq));
    }
    if let Some(b) = &r.big
        && b.iter().any(|&v| v != b[0])
    {
        return Err("torn big box".into());
    }
    if !r.events.iter().copied().eq(1..=r.seq) {
        return Err(format!(
            "events are not 1..={}: len {}",
            r.seq,
            r.events.len()
        ));
    }
    let bulk: u64 = (1..=r.seq)
        .filter(|k| k.is_multiple_of(7))
        .map(|k| k % 50)
        .sum();
    if r.bulk.len() as u64 != bulk {
        return Err(format!(
            "bulk has {} elements, expected {bulk} at seq {}",
            r.bulk.len(),
            r.seq
        ));
    }
    if r.seq > 0 && r.name != r.seq.to_string() {
        return Err(format!("name {:?} at seq {}", r.name.as_str(), r.seq));
    }
    let mut shelf: Vec<&str> = r.shelf.iter().map(|s| s.as_str()).collect();
    let sorted = (r.seq - r.seq % 11) as usize;
    if shelf.len() as u64 != r.seq || !shelf[..sorted].is_sorted() {
        return Err(format!(
            "shelf of {} not sorted to {sorted} at seq {}",
            shelf.len(),
            r.seq
        ));
    }
    shelf.sort_unstable();
    let mut want: Vec<String> = (1..=r.seq).map(shelf_item).collect();
    want.sort_unstable();
    if shelf != want {
        return Err(format!("shelf contents differ at seq {}", r.seq));
    }
    verify_maps(r)
}

/// The child side: runs transactions forever, printing each committed id.
#[test]
fn kill_child() {
    let Ok(path) = std::env::var("PCOLL_KILL_CHILD") else {
        return;
    };
    let durability = if std::env::var("PCOLL_KILL_SYNC").is_ok() {
        Durability::Sync
    } else {
        Durability::Process
    };
    let pool = Pool::<Root>::options()
        .durability(durability)
        .open(&path)
        .unwrap();
    let other = Pool::<Root>::options()
        .durability(durability)
        .open(format!("{path}.other"))
        .unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {}", pool.read().seq).unwrap();
    out.flush().unwrap();
    let mut k = pool.read().seq;
    loop {
        k += 1;
        if k.is_multiple_of(4) {
            rolled_back_takes(&pool);
        }
        let mut o = other.write(); // open across the main commit, which copies from it
        step(&mut pool.write(), k, &mut o);
        drop(o);
        writeln!(out, "{k}").unwrap();
        out.flush().unwrap();
    }
}

fn round(path: &std::path::Path, seed: &mut u64, sync: bool) -> (u64, u64) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "kill_child", "--nocapture", "--test-threads=1"])
        .env("PCOLL_KILL_CHILD", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if sync {
        cmd.env("PCOLL_KILL_SYNC", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The test harness prints its own words first ("test kill_child ... ").
    let start: u64 = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child ready");
        if let Some(i) = line.find("ready ") {
            break line[i + 6..].trim().parse().expect("ready line");
        }
    };
    std::thread::sleep(Duration::from_micros(200 + rng(seed) % 20_000));
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let acked = rx
        .try_iter()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .max();
    let acked = acked.unwrap_or(start);

    let pool = Pool::<Root>::open_existing(path).unwrap();
    let seq = pool.read().seq;
    assert!(
        seq == acked || seq == acked + 1,
        "acknowledged {acked}, found {seq}"
    );
    verify(&pool.read()).unwrap();
    pool.check().unwrap();
    let other = Pool::<Root>::open_existing(format!("{}.other", path.display())).unwrap();
    other.check().unwrap();
    (acked - start, seq)
}

#[test]
fn kill_nine_loop() {
    let rounds: usize = std::env::var("PCOLL_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = common::TempDir::new("kill");
    let path = dir.file("kill.pool");
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut total = 0;
    let mut last = 0;
    for i in 0..rounds {
        let (done, seq) = round(&path, &mut seed, i % 10 == 9);
        total += done;
        last = seq;
    }
    println!(
        "kill -9: {rounds} rounds, {total} acknowledged transactions, final seq {last}, 0 violations"
    );
    assert!(last > 0, "the child never committed anything");
}
