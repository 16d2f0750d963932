//! Active expiry: keys with a deadline go away although no command touches them, and their
//! deletion counts as a write for WATCH. The keys are watched through INFO only (its keyspace
//! line counts every key that is still stored, expired or not, as Redis's does; DBSIZE here
//! leaves expired keys out, so it would pass without active expiry).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Client, V, start};

/// `(keys, expires)` of INFO's keyspace line (no line: no keys), and `expired_keys`.
fn info(c: &mut Client) -> (u64, u64, u64) {
    let V::B(Some(text)) = c.cmd(&["INFO"]) else {
        panic!("INFO answered no bulk string");
    };
    let field = |line: &str, name: &str| -> u64 {
        line.split([',', ':'])
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    let (keys, expires) = text
        .lines()
        .find(|l| l.starts_with("db0:"))
        .map_or((0, 0), |l| (field(l, "keys"), field(l, "expires")));
    let expired = text
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .unwrap_or_else(|| panic!("no expired_keys in {text:?}"))
        .trim()
        .parse()
        .unwrap();
    (keys, expires, expired)
}

/// Polls INFO until `done` holds or 10 s pass (a generous bound: a cycle runs every 100 ms
/// and deletes up to 400 keys); the last INFO either way.
fn wait_for(c: &mut Client, done: impl Fn((u64, u64, u64)) -> bool) -> (u64, u64, u64) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let now = info(c);
        if done(now) || Instant::now() > until {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn untouched_keys_expire_actively() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-expire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = dir.join("expire.pool");
    let _ = std::fs::remove_file(&pool);
    let (_server, port) = start(&pool, "sync");
    let mut c = Client::connect(port);
    // 1000 keys with 50 ms to live, pipelined; 10 with 1000 s; 5 without a deadline.
    let mut out = String::new();
    for i in 0..1000 {
        let k = format!("short:{i}");
        out += &format!(
            "*5\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$1\r\nv\r\n$2\r\nPX\r\n$2\r\n50\r\n",
            k.len()
        );
    }
    c.w.write_all(out.as_bytes()).unwrap();
    for _ in 0..1000 {
        assert_eq!(c.read(), V::S("OK".into()));
    }
    for i in 0..10 {
        assert_eq!(
            c.cmd(&["SET", &format!("long:{i}"), "v", "EX", "1000"]),
            V::S("OK".into())
        );
    }
    for i in 0..5 {
        assert_eq!(
            c.cmd(&["SET", &format!("plain:{i}"), "v"]),
            V::S("OK".into())
        );
    }
    let (keys, expires, _) = info(&mut c);
    assert!(keys > 15 && expires > 10, "keys={keys} expires={expires}");
    // Nothing touches the short keys from here on.
    std::thread::sleep(Duration::from_secs(1));
    let (keys, expires, expired) = wait_for(&mut c, |(k, ..)| k == 15);
    assert_eq!(
        (keys, expires),
        (15, 10),
        "INFO keyspace after the deadlines"
    );
    assert_eq!(expired, 1000, "expired_keys");
    // The survivors are intact.
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(15));
    assert_eq!(c.cmd(&["GET", "long:3"]), V::B(Some("v".into())));
    assert_eq!(c.cmd(&["EXISTS", "short:7"]), V::I(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis treats the deletion of an expired key as a write for WATCH: an EXEC watching a key
/// that active expiry deleted answers null.
#[test]
fn active_expiry_aborts_an_exec_watching_the_key() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-expwatch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = dir.join("expwatch.pool");
    let _ = std::fs::remove_file(&pool);
    let (_server, port) = start(&pool, "process");
    let mut c = Client::connect(port);
    let ok = V::S("OK".into());
    assert_eq!(c.cmd(&["SET", "lease", "mine", "PX", "100"]), ok);
    assert_eq!(c.cmd(&["WATCH", "lease"]), ok);
    let (keys, _, expired) = wait_for(&mut c, |(k, _, e)| k == 0 && e == 1);
    assert_eq!((keys, expired), (0, 1), "the key was not deleted actively");
    assert_eq!(c.cmd(&["MULTI"]), ok);
    assert_eq!(c.cmd(&["SET", "lease", "yours"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["EXEC"]), V::A(None));
    assert_eq!(c.cmd(&["EXISTS", "lease"]), V::I(0));
    let _ = std::fs::remove_dir_all(&dir);
}
