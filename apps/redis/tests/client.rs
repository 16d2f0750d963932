//! pcoll-redis through a real client library: the `redis` crate (sync API) drives every
//! command family through its typed API (`Commands`, `cmd`, pipelines, MULTI/EXEC pipelines,
//! WATCH transactions with `redis::transaction`) and each typed result is asserted. Where a
//! `redis-server` is on the PATH the same script runs against it too, and the two transcripts
//! (every result, error messages included) must be equal: the expectations are Redis's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::num::NonZeroUsize;
use std::time::Duration;

use redis::{Commands, Connection, RedisResult};

use common::{redis_server, start};

/// The script's results, one line each.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    /// A typed result that must be `want`.
    fn ok<T: PartialEq + Debug>(&mut self, what: &str, got: RedisResult<T>, want: T) {
        let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got, want, "{what}");
        self.0.push(format!("{what} -> {got:?}"));
    }

    /// An error reply whose code (its first word) must be `code`.
    fn err<T: Debug>(&mut self, what: &str, got: RedisResult<T>, code: &str) {
        let e = match got {
            Ok(v) => panic!("{what}: {v:?}, not an error"),
            Err(e) => e,
        };
        assert_eq!(e.code(), Some(code), "{what}: {e}");
        self.0.push(format!("{what} -> error {e}"));
    }
}

fn connect(port: u16) -> Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let con = client.get_connection().unwrap();
    con.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    con
}

/// The script, on a fresh server at `port`; `other` is a second connection, which writes a
/// watched key in the middle of a transaction.
fn script(port: u16) -> Vec<String> {
    let mut c = connect(port);
    let mut other = connect(port);
    let mut t = Transcript::default();
    let s = |v: &str| v.to_string();
    let some = |v: &str| Some(v.to_string());
    let strs = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let set = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();

    // server and connection
    t.ok("PING", redis::cmd("PING").query(&mut c), s("PONG"));
    t.ok("ECHO", redis::cmd("ECHO").arg("hi").query(&mut c), s("hi"));
    t.ok("FLUSHDB", c.flushdb(), ());
    t.ok("DBSIZE empty", redis::cmd("DBSIZE").query(&mut c), 0usize);

    // strings
    t.ok("SET", c.set("s", "hello"), ());
    t.ok("GET", c.get("s"), some("hello"));
    t.ok("GET missing", c.get("missing"), None::<String>);
    t.ok("SETNX taken", c.set_nx("s", "x"), false);
    t.ok("SETNX free", c.set_nx("s2", "x"), true);
    let set_get = redis::cmd("SET")
        .arg("s")
        .arg("world")
        .arg("GET")
        .query(&mut c);
    t.ok("SET GET", set_get, some("hello"));
    t.ok("APPEND", c.append("s", "!!"), 7usize);
    t.ok("STRLEN", c.strlen("s"), 7usize);
    t.ok("GETRANGE", c.getrange("s", 0, 1), s("wo"));
    t.ok("SETRANGE", c.setrange("s", 1, "XY"), 7usize);
    t.ok("GET after SETRANGE", c.get("s"), some("wXYld!!"));
    t.ok("INCRBY", c.incr("n", 5), 5i64);
    t.ok("INCRBY again", c.incr("n", 1), 6i64);
    t.ok("DECRBY", c.decr("n", 2), 4i64);
    t.ok("INCRBYFLOAT", c.incr("f", 1.5f64), 1.5f64);
    t.ok("MSET", c.mset(&[("a", "1"), ("b", "2")]), ());
    let mget: RedisResult<Vec<Option<String>>> = c.mget(&["a", "b", "nope"]);
    t.ok("MGET", mget, vec![some("1"), some("2"), None]);
    t.ok("GETSET", c.getset("a", "9"), some("1"));
    t.ok("GETDEL", c.get_del("a"), some("9"));
    t.ok("EXISTS gone", c.exists("a"), false);
    t.ok("EXISTS two", c.exists(&["b", "n", "a"]), 2usize);
    t.ok("DEL", c.del(&["b", "nope"]), 1usize);
    t.ok("TYPE", c.key_type("n"), s("string"));
    t.ok("RENAME", c.rename("n", "n2"), ());
    t.ok("GET renamed", c.get("n2"), 4i64);
    let keys: RedisResult<BTreeSet<String>> = c.keys("*");
    t.ok("KEYS", keys, set(&["f", "n2", "s", "s2"]));
    let scanned: RedisResult<BTreeSet<String>> = c.scan_match("s*").unwrap().collect();
    t.ok("SCAN MATCH", scanned, set(&["s", "s2"]));

    // expiry
    t.ok("EXPIRE", c.expire("s", 100), true);
    t.ok("TTL", c.ttl("s"), 100i64);
    t.ok("PEXPIRE", c.pexpire("s", 100_000), true);
    let pttl: i64 = c.pttl("s").unwrap();
    t.ok(
        "PTTL in range",
        Ok((99_000..=100_000).contains(&pttl)),
        true,
    );
    t.ok("PERSIST", c.persist("s"), true);
    t.ok("TTL persisted", c.ttl("s"), -1i64);
    t.ok("TTL missing", c.ttl("missing"), -2i64);
    t.ok("EXPIRE missing", c.expire("missing", 10), false);
    t.ok("SET EX", c.set_ex("e", "v", 100), ());
    t.ok("TTL of SET EX", c.ttl("e"), 100i64);
    t.ok("SET PX", c.pset_ex("pe", "v", 50), ());
    std::thread::sleep(Duration::from_millis(300)); // (generous: the deadline is 50 ms)
    t.ok("GET expired", c.get("pe"), None::<String>);
    t.ok("EXISTS expired", c.exists("pe"), false);

    // lists
    t.ok("RPUSH", c.rpush("l", &["a", "b", "c"]), 3usize);
    t.ok("LPUSH", c.lpush("l", "z"), 4usize);
    t.ok("LRANGE", c.lrange("l", 0, -1), strs(&["z", "a", "b", "c"]));
    t.ok("LLEN", c.llen("l"), 4usize);
    t.ok("LINDEX", c.lindex("l", -1), some("c"));
    t.ok("LSET", c.lset("l", 1, "A"), ());
    t.ok("LREM", c.lrem("l", 0, "A"), 1usize);
    t.ok("LTRIM", c.ltrim("l", 0, 1), ());
    t.ok("LRANGE trimmed", c.lrange("l", 0, -1), strs(&["z", "b"]));
    t.ok("LPOP", c.lpop("l", None), some("z"));
    t.ok(
        "RPOP count",
        c.rpop("l", NonZeroUsize::new(5)),
        strs(&["b"]),
    );
    t.ok("LPOP emptied", c.lpop("l", None), None::<String>);
    t.ok("RPUSH bl", c.rpush("bl", "x"), 1usize);
    let popped: RedisResult<Option<[String; 2]>> = c.blpop(&["nothing", "bl"], 1.0);
    t.ok("BLPOP", popped, Some([s("bl"), s("x")]));
    let timed_out: RedisResult<Option<[String; 2]>> = c.blpop("nothing", 0.1);
    t.ok("BLPOP timeout", timed_out, None);

    // hashes
    t.ok("HSET", c.hset("h", "f1", "v1"), 1usize);
    t.ok(
        "HSET multiple",
        c.hset_multiple("h", &[("f2", "v2"), ("f3", "v3")]),
        (),
    );
    t.ok("HGET", c.hget("h", "f2"), some("v2"));
    t.ok("HGET missing", c.hget("h", "nope"), None::<String>);
    let all: RedisResult<BTreeMap<String, String>> = c.hgetall("h");
    let want = [("f1", "v1"), ("f2", "v2"), ("f3", "v3")].map(|(f, v)| (s(f), s(v)));
    t.ok("HGETALL", all, BTreeMap::from(want));
    t.ok("HDEL", c.hdel("h", "f3"), 1usize);
    t.ok("HLEN", c.hlen("h"), 2usize);
    t.ok("HEXISTS", c.hexists("h", "f1"), true);
    t.ok("HEXISTS no", c.hexists("h", "f3"), false);
    t.ok("HKEYS", c.hkeys("h"), set(&["f1", "f2"]));
    t.ok("HVALS", c.hvals("h"), set(&["v1", "v2"]));
    t.ok("HINCRBY", c.hincr("h", "cnt", 5), 5i64);

    // sets
    t.ok("SADD", c.sadd("st", &["a", "b", "c"]), 3usize);
    t.ok("SADD again", c.sadd("st", "a"), 0usize);
    t.ok("SMEMBERS", c.smembers("st"), set(&["a", "b", "c"]));
    t.ok("SISMEMBER", c.sismember("st", "b"), true);
    t.ok("SISMEMBER no", c.sismember("st", "x"), false);
    t.ok("SCARD", c.scard("st"), 3usize);
    t.ok("SREM", c.srem("st", "c"), 1usize);
    t.ok("SADD st2", c.sadd("st2", &["b", "x"]), 2usize);
    t.ok("SINTER", c.sinter(&["st", "st2"]), set(&["b"]));
    t.ok("SUNION", c.sunion(&["st", "st2"]), set(&["a", "b", "x"]));
    let member: String = c.spop("st2").unwrap();
    t.ok("SPOP a member", Ok(["b", "x"].contains(&&member[..])), true);
    t.ok("SCARD after SPOP", c.scard("st2"), 1usize);
    // SPOP draws at random: 200 single pops return each member once, not in the set's
    // iteration order (one chance in 200! that a random order is that one).
    let many: Vec<String> = (0..200).map(|i| format!("m{i:03}")).collect();
    let _: usize = c.sadd("sp", &many).unwrap();
    let order: Vec<String> = c.smembers("sp").unwrap();
    let popped: Vec<String> = (0..200).map(|_| c.spop("sp").unwrap()).collect();
    let distinct: std::collections::BTreeSet<&String> = popped.iter().collect();
    t.ok("SPOP each member once", Ok(distinct.len()), 200usize);
    t.ok("SPOP not in iteration order", Ok(popped != order), true);
    t.ok("SPOP emptied the set", c.exists("sp"), false);
    // SRANDMEMBER: distinct members for a positive count, draws with repeats for a negative
    // one, and single draws that reach (nearly) every member of 50 in 500 calls.
    let fifty: Vec<String> = (0..50).map(|i| format!("r{i:02}")).collect();
    let _: usize = c.sadd("sr", &fifty).unwrap();
    let ten: Vec<String> = c.srandmember_multiple("sr", 10).unwrap();
    let ten_set: std::collections::BTreeSet<&String> = ten.iter().collect();
    t.ok("SRANDMEMBER 10 distinct", Ok(ten_set.len()), 10usize);
    let draws: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("sr")
        .arg(-100)
        .query(&mut c)
        .unwrap();
    let all_members = draws.iter().chain(&ten).all(|m| fifty.contains(m));
    t.ok(
        "SRANDMEMBER -100 draws members",
        Ok((draws.len(), all_members)),
        (100usize, true),
    );
    let singles: std::collections::BTreeSet<String> =
        (0..500).map(|_| c.srandmember("sr").unwrap()).collect();
    t.ok(
        "SRANDMEMBER reaches the members",
        Ok(singles.len() >= 45),
        true,
    );
    t.ok("SRANDMEMBER changes nothing", c.scard("sr"), 50usize);
    t.ok("DEL sr", c.del("sr"), 1usize);

    // sorted sets
    t.ok("ZADD", c.zadd("z", "a", 1), 1usize);
    t.ok(
        "ZADD multiple",
        c.zadd_multiple("z", &[(2, "b"), (3, "c")]),
        2usize,
    );
    let with: RedisResult<Vec<(String, f64)>> = c.zrange_withscores("z", 0, -1);
    t.ok(
        "ZRANGE WITHSCORES",
        with,
        vec![(s("a"), 1.0), (s("b"), 2.0), (s("c"), 3.0)],
    );
    t.ok("ZSCORE", c.zscore("z", "b"), Some(2.0f64));
    t.ok("ZSCORE missing", c.zscore("z", "nope"), None::<f64>);
    t.ok("ZINCRBY", c.zincr("z", "a", 2.5), 3.5f64);
    t.ok("ZRANK", c.zrank("z", "a"), Some(2usize));
    t.ok("ZREVRANK", c.zrevrank("z", "a"), Some(0usize));
    t.ok("ZCARD", c.zcard("z"), 3usize);
    t.ok("ZCOUNT", c.zcount("z", "(2", "+inf"), 2usize);
    t.ok(
        "ZRANGEBYSCORE",
        c.zrangebyscore("z", 2, 3),
        strs(&["b", "c"]),
    );
    t.ok("ZREVRANGE", c.zrevrange("z", 0, -1), strs(&["a", "c", "b"]));
    t.ok("ZREM", c.zrem("z", "b"), 1usize);

    // errors
    t.err("INCRBY on a set", c.incr::<_, _, i64>("st", 1), "WRONGTYPE");
    t.err(
        "GET on a hash",
        c.get::<_, Option<String>>("h"),
        "WRONGTYPE",
    );
    t.err("INCR on text", c.incr::<_, _, i64>("s", 1), "ERR");
    t.err(
        "LSET missing key",
        c.lset::<_, _, ()>("nolist", 0, "x"),
        "ERR",
    );
    t.err(
        "unknown command",
        redis::cmd("NOSUCHCMD").arg("x").query::<()>(&mut c),
        "ERR",
    );

    // pipelines
    let plain: RedisResult<(i64, String)> = redis::pipe()
        .set("p", 1)
        .ignore()
        .incr("p", 2)
        .get("p")
        .query(&mut c);
    t.ok("pipeline", plain, (3, s("3")));
    let atomic: RedisResult<(usize, usize, Vec<String>)> = redis::pipe()
        .atomic()
        .set("t1", "a")
        .ignore()
        .lpush("tl", "x")
        .lpush("tl", "y")
        .lrange("tl", 0, -1)
        .query(&mut c);
    t.ok("MULTI/EXEC pipeline", atomic, (1, 2, strs(&["y", "x"])));
    t.ok("after MULTI/EXEC", c.get("t1"), some("a"));

    // WATCH transactions: the first attempt sees another connection write the watched key,
    // its EXEC answers null and `transaction` runs the closure again.
    t.ok("SET counter", c.set("counter", 0), ());
    let mut attempts = 0;
    let done: RedisResult<i64> = redis::transaction(&mut c, &["counter"], |con, pipe| {
        attempts += 1;
        let n: i64 = con.get("counter")?;
        if attempts == 1 {
            let _: i64 = other.incr("counter", 100)?;
        }
        pipe.set("counter", n + 1)
            .ignore()
            .get("counter")
            .query::<Option<(i64,)>>(con)
            .map(|r| r.map(|(v,)| v))
    });
    t.ok("WATCH transaction", done, 101);
    t.ok("WATCH attempts", Ok(attempts), 2);
    let mut attempts = 0;
    let done: RedisResult<i64> = redis::transaction(&mut c, &["counter"], |con, pipe| {
        attempts += 1;
        let n: i64 = con.get("counter")?;
        let _: () = other.set("unrelated", n)?;
        pipe.incr("counter", 1)
            .query::<Option<(i64,)>>(con)
            .map(|r| r.map(|(v,)| v))
    });
    t.ok("WATCH transaction untouched", done, 102);
    t.ok("WATCH attempts untouched", Ok(attempts), 1);

    t.ok("DBSIZE", redis::cmd("DBSIZE").query(&mut c), 14usize);
    t.ok("FLUSHDB at the end", c.flushdb(), ());
    t.ok("DBSIZE flushed", redis::cmd("DBSIZE").query(&mut c), 0usize);
    t.0
}

#[test]
fn typed_client_script() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_server, port) = start(&dir.join("client.pool"), "sync");
    let lines = script(port);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "redis crate client: {} typed results as expected",
        lines.len()
    );
}

#[test]
fn typed_client_script_matches_redis_server() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-client-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((_redis, redis_port)) = redis_server(&dir) else {
        println!("skipped: no redis-server on the PATH (apt-get install redis-server)");
        return;
    };
    let theirs = script(redis_port);
    let (_server, port) = start(&dir.join("client.pool"), "process");
    let ours = script(port);
    let _ = std::fs::remove_dir_all(&dir);
    let differ: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("pcoll-redis {a}\n  redis-server {b}"))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(ours.len(), theirs.len());
    println!(
        "redis crate client: {} results equal on both servers",
        ours.len()
    );
}
