//! The `pcoll` tool over real pool files: a healthy one, a damaged one, a truncated one, a
//! foreign file, a locked one, one left with an interrupted transaction, a migrated one.

mod common;

use common::{Dir, Root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pcoll::{Durability, Event, PHashMap, PString, Persistent, Pool, Recorder};

fn pcoll(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcoll"))
        .args(args)
        .arg(file)
        .output()
        .expect("run pcoll")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn make_pool(path: &Path) {
    let p = Pool::<Root>::create(path).unwrap();
    let mut w = p.write();
    for i in 0..100u64 {
        w.users.insert(format!("user{i}"), i);
        w.by_time.insert(i, format!("t{i}"));
    }
    w.log.extend(0..5000); // 40 KB: changing all of it takes the undo protocol
    w.inner.tags.push("a".into());
}

#[test]
fn a_healthy_pool() {
    let d = Dir::new("healthy");
    let path = d.file("app.pool");
    make_pool(&path);
    let before = std::fs::read(&path).unwrap();

    let o = pcoll(&["info"], &path);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let text = stdout(&o);
    for want in [
        "cli::common::Root",
        "users: PHashMap<PString, u64>",
        "log: PVec<u64>",
        "by_time: PBTreeMap<u64, PString>",
        "inner: Inner",
        "tags: PVec<PString>", // a nested struct's fields, indented
        "problems    none found",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }

    let o = pcoll(&["info", "--json"], &path);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["root"]["type"].as_str().unwrap().ends_with("Root"));
    assert!(v["heap"]["blocks"].as_u64().unwrap() > 5);
    assert_eq!(v["schema"]["type"], "Root");

    let o = pcoll(&["check"], &path);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("healthy"));

    let o = pcoll(&["schema", "--json"], &path);
    assert_eq!(
        stdout(&o).trim(),
        pcoll::Fingerprint::schema_of::<Root>(),
        "the stored schema is the type's"
    );
    // Read-only: not a byte changed.
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn foreign_missing_and_locked_files() {
    let d = Dir::new("foreign");
    let text = d.file("notes.txt");
    std::fs::write(&text, "not a pool at all\n".repeat(500)).unwrap();
    assert_eq!(pcoll(&["check"], &text).status.code(), Some(2));
    let empty = d.file("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(pcoll(&["info"], &empty).status.code(), Some(2));
    assert_eq!(pcoll(&["check"], &d.file("absent")).status.code(), Some(3));

    let path = d.file("app.pool");
    make_pool(&path);
    let open = Pool::<Root>::open_existing(&path).unwrap(); // holds the writer's lock
    let o = pcoll(&["info"], &path);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("lock held"),
        "{o:?}"
    );
    drop(open);
    assert_eq!(pcoll(&["info"], &path).status.code(), Some(0));
}

#[test]
fn damaged_and_truncated_pools() {
    let d = Dir::new("damaged");
    let path = d.file("app.pool");
    make_pool(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let heap_off = u64::from_le_bytes(bytes[56..64].try_into().unwrap()) as usize;

    // The first heap segment's header overwritten.
    let broken = d.file("broken.pool");
    let mut b = bytes.clone();
    b[heap_off..heap_off + 64].fill(0xAB);
    std::fs::write(&broken, &b).unwrap();
    let o = pcoll(&["check"], &broken);
    assert_eq!(o.status.code(), Some(1), "{o:?}");

    // The stored schema overwritten: check says so.
    let v: serde_json::Value =
        serde_json::from_slice(&pcoll(&["info", "--json"], &path).stdout).unwrap();
    let root_off = v["root"]["offset"].as_u64().unwrap() as usize;
    let needle = br#"{"type":"Root""#;
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("schema bytes in the file");
    assert_ne!(at, root_off);
    bytes[at] = b'#';
    let bad_schema = d.file("schema.pool");
    std::fs::write(&bad_schema, &bytes).unwrap();
    let o = pcoll(&["check"], &bad_schema);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("schema"), "{}", stdout(&o));

    // Cut in half: the header says more bytes belong to the pool.
    let cut = d.file("cut.pool");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = pcoll(&["check"], &cut);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("truncated"),
        "{o:?}"
    );
}

/// Copies the pool file at every barrier once armed. The copy taken at the barrier before
/// the commit's last one holds the transaction's log, durable, and no commit: the file a crash
/// there leaves.
struct CopyAtBarriers {
    from: PathBuf,
    armed: AtomicBool,
    copies: Mutex<Vec<Vec<u8>>>,
}

impl Recorder for CopyAtBarriers {
    fn event(&self, ev: Event, _: &[u8]) {
        if matches!(ev, Event::Barrier) && self.armed.load(Ordering::SeqCst) {
            let bytes = std::fs::read(&self.from).unwrap();
            self.copies.lock().unwrap().push(bytes);
        }
    }
}

#[test]
fn an_interrupted_transaction_is_reported_then_recovered_on_request() {
    let d = Dir::new("interrupted");
    let path = d.file("app.pool");
    let crashed = d.file("crashed.pool");
    make_pool(&path);
    let rec = Arc::new(CopyAtBarriers {
        from: path.clone(),
        armed: AtomicBool::new(false),
        copies: Mutex::new(Vec::new()),
    });
    let p = Pool::<Root>::options()
        .durability(Durability::Sync)
        .recorder(rec.clone())
        .open_existing(&path)
        .unwrap();
    rec.armed.store(true, Ordering::SeqCst);
    {
        // Large (over half the 128 KiB redo ring): the undo protocol, two barriers.
        let mut w = p.write();
        w.log.iter_mut().for_each(|x| *x += 1_000_000);
        w.log.extend(0..10_000u64);
        w.inner.hits = 99;
    }
    drop(p);
    let copies = rec.copies.lock().unwrap();
    assert!(
        copies.len() >= 2,
        "the commit of a large transaction has two barriers"
    );
    let before = copies[copies.len() - 2].clone();
    std::fs::write(&crashed, &before).unwrap();

    let o = pcoll(&["info"], &crashed);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        stdout(&o).contains("was interrupted: rolled back"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read(&crashed).unwrap(),
        before,
        "info wrote the file"
    );

    let o = pcoll(&["check", "--recover"], &crashed);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("rolled back"), "{}", stdout(&o));
    assert_ne!(
        std::fs::read(&crashed).unwrap(),
        before,
        "--recover wrote nothing"
    );
    let o = pcoll(&["info"], &crashed);
    assert!(!stdout(&o).contains("was interrupted"), "{}", stdout(&o));

    let p = Pool::<Root>::open_existing(&crashed).unwrap();
    assert_eq!(p.read().log[4999], 4999);
    assert_eq!(p.read().inner.hits, 0);
    p.check().unwrap();
}

#[derive(Persistent, Default)]
struct Root2 {
    users: PHashMap<PString, u64>,
    seen: u64,
}

#[test]
fn a_migrated_pool_shows_its_new_schema() {
    let d = Dir::new("migrated");
    let path = d.file("app.pool");
    make_pool(&path);
    let p = Pool::<Root2>::options()
        .migrate(|o: &mut Root, n: &mut Root2| {
            n.users = std::mem::take(&mut o.users);
            n.seen = o.log.len() as u64;
        })
        .open_existing(&path)
        .unwrap();
    drop(p);
    let o = pcoll(&["info"], &path);
    let text = stdout(&o);
    assert!(
        text.contains("cli::Root2") && text.contains("installed by migration"),
        "{text}"
    );
    assert!(
        text.contains("seen: u64") && !text.contains("by_time"),
        "{text}"
    );
    assert_eq!(pcoll(&["check"], &path).status.code(), Some(0));
}

/// `check --progress` draws on standard error and leaves standard output and the exit code
/// as they were; `--no-progress` draws nothing, and neither does the default on a pipe, even
/// for a pool file over 100 MiB.
#[test]
fn check_draws_its_progress_bar_on_stderr_only() {
    let d = Dir::new("progress");
    let path = d.file("app.pool");
    make_pool(&path);
    let plain = pcoll(&["check"], &path);
    assert_eq!(plain.status.code(), Some(0), "{}", stdout(&plain));
    assert!(stdout(&plain).contains("healthy"));
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err(&plain), "", "no bar on a pipe for a small pool");

    for args in [&["check", "--progress"][..], &["check", "--no-progress"]] {
        let o = pcoll(args, &path);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", err(&o));
        assert_eq!(stdout(&o), stdout(&plain), "{args:?}: stdout unchanged");
    }
    let drawn = pcoll(&["check", "--progress"], &path);
    assert!(
        err(&drawn).contains("checking app.pool"),
        "{:?}",
        err(&drawn)
    );
    let quiet = pcoll(&["check", "--no-progress"], &path);
    assert_eq!(err(&quiet), "", "--no-progress draws nothing");

    // With --recover (one more walk): the same report as without the bar.
    let plain = pcoll(&["check", "--recover"], &path);
    let drawn = pcoll(&["check", "--recover", "--progress"], &path);
    assert_eq!(drawn.status.code(), Some(0), "{}", err(&drawn));
    assert_eq!(stdout(&drawn), stdout(&plain));
    assert!(
        err(&drawn).contains("checking app.pool"),
        "{:?}",
        err(&drawn)
    );

    // A damaged pool (its first heap segment's header overwritten): the same report and
    // exit code with the bar.
    let damaged = d.file("damaged.pool");
    let mut img = std::fs::read(&path).unwrap();
    let heap_off = u64::from_le_bytes(img[56..64].try_into().unwrap()) as usize;
    img[heap_off..heap_off + 64].fill(0xAB);
    std::fs::write(&damaged, &img).unwrap();
    let plain = pcoll(&["check"], &damaged);
    let drawn = pcoll(&["check", "--progress"], &damaged);
    assert_eq!(plain.status.code(), Some(1), "{}", stdout(&plain));
    assert!(stdout(&plain).contains("damaged:"), "{}", stdout(&plain));
    assert_eq!(drawn.status.code(), Some(1));
    assert_eq!(stdout(&drawn), stdout(&plain));

    assert_eq!(
        pcoll(&["check", "--progress", "--no-progress"], &path)
            .status
            .code(),
        Some(2),
        "the two flags exclude each other"
    );

    // Over 100 MiB, on a pipe: no bar unless asked for.
    let big = d.file("big.pool");
    let p = Pool::<Root>::options()
        .durability(Durability::Process)
        .initial_size(101 << 20)
        .create(&big)
        .unwrap();
    drop(p);
    assert!(std::fs::metadata(&big).unwrap().len() > 100 << 20);
    let o = pcoll(&["check"], &big);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(err(&o), "");
    let o = pcoll(&["check", "--progress"], &big);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(err(&o).contains("checking big.pool"), "{:?}", err(&o));
}
