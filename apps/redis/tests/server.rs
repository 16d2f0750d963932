//! pcoll-redis end to end: the binary on a loopback port, driven over RESP like a client
//! library; then killed with SIGKILL in the middle of writes and restarted on the same pool.

mod common;

use std::io::{BufRead, Write};
use std::time::Duration;

use common::{Client, V, arr, b, start, start_with};

#[test]
fn commands_answer_like_redis() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = dir.join("cmds.pool");
    let _ = std::fs::remove_file(&pool);
    let (mut server, port) = start(&pool, "process");
    let mut c = Client::connect(port);
    let ok = V::S("OK".into());
    let cases: Vec<(Vec<&str>, V)> = vec![
        (vec!["PING"], V::S("PONG".into())),
        (vec!["SET", "k", "v1"], ok.clone()),
        (vec!["GET", "k"], b("v1")),
        (vec!["SET", "k", "v2", "GET"], b("v1")),
        (vec!["SET", "k", "x", "NX"], V::B(None)),
        (vec!["APPEND", "k", "!"], V::I(3)),
        (vec!["STRLEN", "k"], V::I(3)),
        (vec!["GETRANGE", "k", "0", "-2"], b("v2")),
        (vec!["INCR", "n"], V::I(1)),
        (vec!["INCRBY", "n", "41"], V::I(42)),
        (vec!["DECR", "n"], V::I(41)),
        (
            vec!["INCR", "k"],
            V::E("ERR value is not an integer or out of range".into()),
        ),
        (vec!["MSET", "a", "1", "b", "2"], ok.clone()),
        (
            vec!["MGET", "a", "b", "zz"],
            V::A(Some(vec![b("1"), b("2"), V::B(None)])),
        ),
        (vec!["RPUSH", "l", "a", "b", "c"], V::I(3)),
        (vec!["LPUSH", "l", "z"], V::I(4)),
        (vec!["LRANGE", "l", "0", "-1"], arr(&["z", "a", "b", "c"])),
        (vec!["LPOP", "l"], b("z")),
        (vec!["RPOP", "l", "2"], arr(&["c", "b"])),
        (vec!["LLEN", "l"], V::I(1)),
        (vec!["HSET", "h", "f1", "v1", "f2", "v2"], V::I(2)),
        (vec!["HGET", "h", "f2"], b("v2")),
        (vec!["HLEN", "h"], V::I(2)),
        (vec!["HDEL", "h", "f1"], V::I(1)),
        (vec!["HGETALL", "h"], arr(&["f2", "v2"])),
        (vec!["SADD", "s", "x", "y", "x"], V::I(2)),
        (vec!["SISMEMBER", "s", "y"], V::I(1)),
        (vec!["SCARD", "s"], V::I(2)),
        (vec!["TYPE", "h"], V::S("hash".into())),
        (vec!["TYPE", "nothing"], V::S("none".into())),
        (
            vec!["GET", "l"],
            V::E("WRONGTYPE Operation against a key holding the wrong kind of value".into()),
        ),
        (vec!["EXPIRE", "a", "100"], V::I(1)),
        (vec!["TTL", "a"], V::I(100)),
        (vec!["PERSIST", "a"], V::I(1)),
        (vec!["TTL", "a"], V::I(-1)),
        (vec!["TTL", "nothing"], V::I(-2)),
        (vec!["RENAME", "h", "h2"], ok.clone()),
        (vec!["HGET", "h2", "f2"], b("v2")),
        (vec!["EXISTS", "h", "h2", "s"], V::I(2)),
        (vec!["DEL", "a", "b", "zz"], V::I(2)),
        (vec!["DBSIZE"], V::I(5)),
        (vec!["SELECT", "0"], ok.clone()),
        (
            vec!["NOSUCH"],
            V::E("ERR unknown command 'NOSUCH', with args beginning with:".into()),
        ),
    ];
    for (args, want) in &cases {
        assert_eq!(&c.cmd(args), want, "{args:?}");
    }
    let mut keys = match c.cmd(&["KEYS", "*"]) {
        V::A(Some(v)) => v,
        other => panic!("{other:?}"),
    };
    keys.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(keys, [b("h2"), b("k"), b("l"), b("n"), b("s")]);
    // Sorted sets.
    let zcases: Vec<(Vec<&str>, V)> = vec![
        (
            vec!["ZADD", "z", "1", "one", "2", "two", "3", "three"],
            V::I(3),
        ),
        (vec!["ZADD", "z", "2.5", "two"], V::I(0)),
        (vec!["ZADD", "z", "CH", "2", "two"], V::I(1)),
        (vec!["ZADD", "z", "NX", "9", "one"], V::I(0)),
        (vec!["ZSCORE", "z", "one"], b("1")),
        (vec!["ZINCRBY", "z", "0.5", "one"], b("1.5")),
        (vec!["ZCARD", "z"], V::I(3)),
        (vec!["ZRANK", "z", "three"], V::I(2)),
        (vec!["ZREVRANK", "z", "three"], V::I(0)),
        (
            vec!["ZRANGE", "z", "0", "-1"],
            arr(&["one", "two", "three"]),
        ),
        (
            vec!["ZRANGE", "z", "0", "0", "WITHSCORES"],
            arr(&["one", "1.5"]),
        ),
        (vec!["ZREVRANGE", "z", "0", "1"], arr(&["three", "two"])),
        (
            vec!["ZRANGEBYSCORE", "z", "(1.5", "+inf"],
            arr(&["two", "three"]),
        ),
        (
            vec![
                "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2",
            ],
            arr(&["three", "two"]),
        ),
        (vec!["ZCOUNT", "z", "-inf", "2"], V::I(2)),
        (vec!["ZREM", "z", "two", "nope"], V::I(1)),
        (vec!["ZRANGE", "z", "0", "-1"], arr(&["one", "three"])),
        (vec!["TYPE", "z"], V::S("zset".into())),
        (vec!["ZREM", "z", "one", "three"], V::I(2)),
        (vec!["EXISTS", "z"], V::I(0)),
    ];
    for (args, want) in &zcases {
        assert_eq!(&c.cmd(args), want, "{args:?}");
    }
    // Set algebra, floats, SCAN.
    assert_eq!(c.cmd(&["SADD", "s1", "a", "b", "c"]), V::I(3));
    assert_eq!(c.cmd(&["SADD", "s2", "b", "c", "d"]), V::I(3));
    let sorted_members = |v: V| match v {
        V::A(Some(mut items)) => {
            items.sort_by_key(|x| format!("{x:?}"));
            items
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        sorted_members(c.cmd(&["SINTER", "s1", "s2"])),
        [b("b"), b("c")]
    );
    assert_eq!(
        sorted_members(c.cmd(&["SUNION", "s1", "s2"])),
        [b("a"), b("b"), b("c"), b("d")]
    );
    assert_eq!(c.cmd(&["INCRBYFLOAT", "f", "1.5"]), b("1.5"));
    assert_eq!(c.cmd(&["INCRBYFLOAT", "f", "-0.25"]), b("1.25"));
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let V::A(Some(reply)) = c.cmd(&["SCAN", &cursor, "COUNT", "2"]) else {
            panic!("SCAN reply");
        };
        let (V::B(Some(next)), V::A(Some(keys))) = (&reply[0], &reply[1]) else {
            panic!("{reply:?}");
        };
        seen.extend(keys.iter().cloned());
        cursor = next.clone();
        if cursor == "0" {
            break;
        }
    }
    seen.sort_by_key(|x| format!("{x:?}"));
    let mut all = sorted_members(c.cmd(&["KEYS", "*"]));
    all.sort_by_key(|x| format!("{x:?}"));
    assert_eq!(seen, all, "SCAN returns every key once");
    let V::A(Some(r)) = c.cmd(&["SCAN", "0", "MATCH", "s?", "COUNT", "1000"]) else {
        panic!("SCAN MATCH");
    };
    assert_eq!(sorted_members(r[1].clone()), [b("s1"), b("s2")]);
    assert_eq!(c.cmd(&["DEL", "s1", "s2", "f"]), V::I(3));
    // MULTI/EXEC: queued, then run in one transaction; DISCARD drops the queue.
    assert_eq!(c.cmd(&["MULTI"]), ok);
    assert_eq!(c.cmd(&["INCR", "m"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["RPUSH", "ml", "x"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["GET", "m"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["EXEC"]), V::A(Some(vec![V::I(1), V::I(1), b("1")])));
    assert_eq!(c.cmd(&["MULTI"]), ok);
    assert_eq!(c.cmd(&["INCR", "m"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["DISCARD"]), ok);
    assert_eq!(c.cmd(&["GET", "m"]), b("1"));
    assert_eq!(c.cmd(&["DEL", "m", "ml"]), V::I(2));
    // Pipelining: many requests in one write, answers in order.
    c.w.write_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n")
        .unwrap();
    assert_eq!(c.read(), V::S("PONG".into()));
    assert_eq!(c.read(), b("hi"));
    // A restart keeps everything.
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, port) = start(&pool, "process");
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["GET", "k"]), b("v2!"));
    assert_eq!(c.cmd(&["LRANGE", "l", "0", "-1"]), arr(&["a"]));
    assert_eq!(c.cmd(&["GET", "n"]), b("41"));
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// WATCH: an EXEC runs only if no watched key was written since (by anyone), else answers
/// null and runs nothing; UNWATCH, EXEC and DISCARD forget the watches.
#[test]
fn watch_aborts_exec_after_a_write_to_a_watched_key() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = dir.join("watch.pool");
    let _ = std::fs::remove_file(&pool);
    let (_server, port) = start(&pool, "process");
    let mut a = Client::connect(port);
    let mut b2 = Client::connect(port);
    let ok = V::S("OK".into());
    let queued = V::S("QUEUED".into());
    assert_eq!(a.cmd(&["SET", "balance", "100"]), ok);
    // Untouched: EXEC runs.
    assert_eq!(a.cmd(&["WATCH", "balance", "other"]), ok);
    assert_eq!(a.cmd(&["MULTI"]), ok);
    assert_eq!(a.cmd(&["DECRBY", "balance", "30"]), queued);
    assert_eq!(a.cmd(&["EXEC"]), V::A(Some(vec![V::I(70)])));
    // Another client writes a watched key in between: EXEC answers null, nothing runs.
    assert_eq!(a.cmd(&["WATCH", "balance"]), ok);
    assert_eq!(b2.cmd(&["INCRBY", "balance", "5"]), V::I(75));
    assert_eq!(a.cmd(&["MULTI"]), ok);
    assert_eq!(a.cmd(&["DECRBY", "balance", "30"]), queued);
    assert_eq!(a.cmd(&["EXEC"]), V::A(None));
    assert_eq!(a.cmd(&["GET", "balance"]), b("75"));
    // The watch ended with that EXEC: the next one runs.
    assert_eq!(a.cmd(&["MULTI"]), ok);
    assert_eq!(a.cmd(&["DECRBY", "balance", "30"]), queued);
    assert_eq!(a.cmd(&["EXEC"]), V::A(Some(vec![V::I(45)])));
    // A write to an unwatched key, UNWATCH, MSET and DEL naming the key, FLUSHDB.
    assert_eq!(a.cmd(&["WATCH", "balance"]), ok);
    assert_eq!(b2.cmd(&["SET", "unrelated", "1"]), ok);
    assert_eq!(a.cmd(&["MULTI"]), ok);
    assert_eq!(a.cmd(&["INCR", "balance"]), queued);
    assert_eq!(a.cmd(&["EXEC"]), V::A(Some(vec![V::I(46)])));
    assert_eq!(a.cmd(&["WATCH", "balance"]), ok);
    assert_eq!(b2.cmd(&["SET", "balance", "0"]), ok);
    assert_eq!(a.cmd(&["UNWATCH"]), ok);
    assert_eq!(a.cmd(&["MULTI"]), ok);
    assert_eq!(a.cmd(&["INCR", "balance"]), queued);
    assert_eq!(a.cmd(&["EXEC"]), V::A(Some(vec![V::I(1)])));
    for write in [
        &["MSET", "x", "1", "balance", "2"][..],
        &["DEL", "nothing", "balance"],
        &["FLUSHDB"],
    ] {
        assert_eq!(a.cmd(&["WATCH", "balance"]), ok);
        b2.cmd(write);
        assert_eq!(a.cmd(&["MULTI"]), ok);
        assert_eq!(a.cmd(&["SET", "balance", "9"]), queued);
        assert_eq!(a.cmd(&["EXEC"]), V::A(None), "after {write:?}");
    }
    assert_eq!(a.cmd(&["MULTI"]), ok);
    assert!(matches!(a.cmd(&["WATCH", "k"]), V::E(_)));
    assert_eq!(a.cmd(&["DISCARD"]), ok);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Killed with SIGKILL while a client writes, in both durability modes: after a restart,
/// every acknowledged command is there (at most the one in flight beyond it), and a command
/// that changes two keys (`MSET`) is never half done.
#[test]
fn kill_nine_loses_nothing_acknowledged() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for durability in ["process", "sync"] {
        let pool = dir.join(format!("{durability}.pool"));
        let _ = std::fs::remove_file(&pool);
        let mut acked = 0u64;
        for round in 0..5u64 {
            let (mut server, port) = start(&pool, durability);
            let mut c = Client::connect(port);
            let get = |c: &mut Client, k: &str| match c.cmd(&["GET", k]) {
                V::B(Some(n)) => n.parse::<u64>().unwrap(),
                V::B(None) => 0,
                other => panic!("{other:?}"),
            };
            let (a, b) = (get(&mut c, "a"), get(&mut c, "b"));
            assert_eq!(a, b, "{durability} round {round}: MSET half done");
            assert!(
                a == acked || a == acked + 1,
                "{durability}: {a} after {acked} acknowledged"
            );
            acked = a;
            let killer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20 + 15 * round));
                server.kill().unwrap();
                server.wait().unwrap();
            });
            loop {
                let n = (acked + 1).to_string();
                match c.cmd_checked(&["MSET", "a", &n, "b", &n]) {
                    Some(V::S(ok)) if ok == "OK" => acked += 1,
                    _ => break,
                }
            }
            killer.join().unwrap();
        }
        assert!(acked > 0, "{durability}: no command was acknowledged");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Group commit under kill -9: eight clients, each sending pipelines of four INCRs of its
/// own key, in both durability modes, while the server is killed and restarted. After each
/// restart every key holds at least what its client saw acknowledged, and at most the four
/// commands in flight more.
#[test]
fn kill_nine_with_concurrent_pipelined_writers() {
    const CLIENTS: usize = 8;
    const PIPE: u64 = 4;
    let dir = std::env::temp_dir().join(format!("pcoll-redis-group-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for durability in ["process", "sync"] {
        let pool = dir.join(format!("{durability}.pool"));
        let _ = std::fs::remove_file(&pool);
        let mut acked = [0u64; CLIENTS];
        for round in 0..4u64 {
            let (server, port) = start(&pool, durability);
            let mut c = Client::connect(port);
            for (i, slot) in acked.iter_mut().enumerate() {
                let a = *slot;
                let v = match c.cmd(&["GET", &format!("c{i}")]) {
                    V::B(Some(n)) => n.parse::<u64>().unwrap(),
                    V::B(None) => 0,
                    other => panic!("{other:?}"),
                };
                assert!(
                    (a..=a + PIPE).contains(&v),
                    "{durability} round {round}: c{i} = {v}, {a} acknowledged"
                );
                *slot = v;
            }
            let writers: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    let start = acked[i];
                    std::thread::spawn(move || {
                        let mut c = Client::connect(port);
                        let key = format!("c{i}");
                        let one = format!("*2\r\n$4\r\nINCR\r\n${}\r\n{key}\r\n", key.len());
                        let mut seen = start;
                        loop {
                            if c.w.write_all(one.repeat(PIPE as usize).as_bytes()).is_err() {
                                return seen;
                            }
                            for _ in 0..PIPE {
                                let mut line = String::new();
                                match c.r.read_line(&mut line) {
                                    Ok(n) if n > 0 && line.starts_with(':') => {
                                        seen = line[1..].trim().parse().unwrap();
                                    }
                                    _ => return seen,
                                }
                            }
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(30 + 20 * round));
            let mut server = server;
            server.kill().unwrap();
            server.wait().unwrap();
            for (i, w) in writers.into_iter().enumerate() {
                acked[i] = w.join().unwrap();
            }
        }
        assert!(acked.iter().all(|&a| a > 0), "{durability}: {acked:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad input and a full pool: a bulk string over `--proto-max-bulk-len` closes that connection
/// with Redis's protocol error and harms no other; writes past `--maxmemory` (the pool's size
/// limit) answer `-OOM`, change nothing, and reads and deletes go on.
#[test]
fn oversized_requests_are_refused_and_a_full_pool_answers_oom() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = dir.join("limits.pool");
    let _ = std::fs::remove_file(&pool);
    let limits = ["--proto-max-bulk-len", "2000", "--maxmemory", "4194304"];
    let (_server, port) = start_with(&pool, "process", &limits);
    let mut bad = Client::connect(port);
    bad.w.write_all(b"*2\r\n$4\r\nECHO\r\n$5000\r\n").unwrap();
    match bad.read() {
        V::E(e) => assert!(e.contains("Protocol error"), "{e}"),
        other => panic!("{other:?}"),
    }
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["PING"]), V::S("PONG".into()));
    let big = "x".repeat(1500);
    let mut stored = 0;
    let oom = loop {
        match c.cmd(&["SET", &format!("k{stored}"), &big]) {
            V::S(ok) if ok == "OK" => stored += 1,
            V::E(e) => break e,
            other => panic!("{other:?}"),
        }
        assert!(stored < 100_000, "the pool never filled");
    };
    assert!(oom.starts_with("OOM"), "{oom}");
    assert!(stored > 100, "{stored}");
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(stored));
    assert_eq!(c.cmd(&["GET", "k0"]), b(&big));
    assert_eq!(c.cmd(&["DEL", "k0", "k1", "k2"]), V::I(3));
    assert_eq!(c.cmd(&["SET", "again", "fits"]), V::S("OK".into()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// BLPOP/BRPOP: an element present is popped at once; otherwise the client waits until
/// another client pushes one (woken by that commit), or until its timeout answers null.
#[test]
fn blocking_pops_wait_for_a_push_or_time_out() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-block-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = dir.join("block.pool");
    let _ = std::fs::remove_file(&pool);
    let (_server, port) = start(&pool, "sync");
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["RPUSH", "q", "a", "b"]), V::I(2));
    assert_eq!(c.cmd(&["BLPOP", "empty", "q", "1"]), arr(&["q", "a"]));
    assert_eq!(c.cmd(&["BRPOP", "q", "1"]), arr(&["q", "b"]));
    let t0 = std::time::Instant::now();
    assert_eq!(c.cmd(&["BLPOP", "q", "0.2"]), V::A(None));
    assert!(
        t0.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t0.elapsed()
    );
    // A waiter, woken by another client's push (and not by unrelated writes before it).
    let waiter = std::thread::spawn(move || {
        let mut w = Client::connect(port);
        let t0 = std::time::Instant::now();
        let got = w.cmd(&["BRPOP", "jobs", "other", "10"]);
        (got, t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(c.cmd(&["SET", "unrelated", "1"]), V::S("OK".into()));
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(c.cmd(&["LPUSH", "other", "job-1"]), V::I(1));
    let (got, waited) = waiter.join().unwrap();
    assert_eq!(got, arr(&["other", "job-1"]));
    assert!(waited >= Duration::from_millis(280) && waited < Duration::from_secs(5));
    assert_eq!(c.cmd(&["LLEN", "other"]), V::I(0));
    // Wrong type, bad timeout, and inside MULTI (no wait there, as in Redis).
    assert!(matches!(c.cmd(&["BLPOP", "unrelated", "1"]), V::E(e) if e.starts_with("WRONGTYPE")));
    assert_eq!(
        c.cmd(&["BLPOP", "q", "soon"]),
        V::E("ERR timeout is not a float or out of range".into())
    );
    assert_eq!(c.cmd(&["MULTI"]), V::S("OK".into()));
    assert_eq!(c.cmd(&["BLPOP", "q", "0"]), V::S("QUEUED".into()));
    assert_eq!(c.cmd(&["EXEC"]), V::A(Some(vec![V::A(None)])));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A second after its last write (from a client, or the expiry thread's deletions), a `sync`
/// server checkpoints its pool: killed then, it leaves a file with no redo record to replay (`pcoll::inspect` says what an open would do).
/// Killed right after the writes instead, the file still needs its records replayed: the
/// control that shows the first check can fail.
#[test]
fn an_idle_server_checkpoints_its_pool() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut replayed = Vec::new();
    for idle in [Duration::ZERO, Duration::from_millis(1600)] {
        let pool = dir.join(format!("idle-{}.pool", idle.as_millis()));
        let _ = std::fs::remove_file(&pool);
        let (mut server, port) = start(&pool, "sync");
        let mut c = Client::connect(port);
        for i in 0..50 {
            assert_eq!(c.cmd(&["SET", &format!("k{i}"), "v"]), V::S("OK".into()));
        }
        std::thread::sleep(idle);
        server.kill().unwrap();
        server.wait().unwrap();
        let info = pcoll::inspect::inspect(&pool).unwrap();
        replayed.push(info.recovery.redo_replayed);
        let (_server, port) = start(&pool, "sync");
        let mut c = Client::connect(port);
        assert_eq!(c.cmd(&["GET", "k49"]), V::B(Some("v".into())));
    }
    assert!(
        replayed[0] > 0,
        "records to replay right after the writes: {replayed:?}"
    );
    assert_eq!(replayed[1], 0, "after the idle checkpoint: {replayed:?}");
    // The expiry thread's deletions are writes too: keys that expire 1.2 s after their SET
    // (after the event loop's checkpoint) are deleted by it, and it checkpoints a second later.
    let pool = dir.join("expiry.pool");
    let (mut server, port) = start(&pool, "sync");
    let mut c = Client::connect(port);
    for i in 0..50 {
        let k = format!("k{i}");
        assert_eq!(c.cmd(&["SET", &k, "v", "PX", "1200"]), V::S("OK".into()));
    }
    std::thread::sleep(Duration::from_millis(3600));
    server.kill().unwrap();
    server.wait().unwrap();
    let info = pcoll::inspect::inspect(&pool).unwrap();
    assert_eq!(
        info.recovery.redo_replayed, 0,
        "after the expiry thread's checkpoint"
    );
    let (_server, port) = start(&pool, "sync");
    assert_eq!(Client::connect(port).cmd(&["DBSIZE"]), V::I(0));
    let _ = std::fs::remove_dir_all(&dir);
}
