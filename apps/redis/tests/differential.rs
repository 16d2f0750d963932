//! Differential: the same commands against pcoll-redis and a real `redis-server` (started by
//! the test when the binary is on the PATH; skipped with a printed reason when it is not),
//! replies compared exactly, errors included. Replies whose order Redis leaves open
//! (members of a set, keys, fields) are compared sorted.

mod common;

use common::{Client, V, redis_server, start};

/// Replies of these commands are compared as sorted lists.
const UNORDERED: &[&str] = &["SMEMBERS", "KEYS", "HKEYS", "HVALS", "SINTER", "SUNION"];

fn script() -> Vec<Vec<&'static str>> {
    let s = |line: &'static str| line.split(' ').collect::<Vec<_>>();
    [
        // strings
        "SET k v",
        "GET k",
        "GET missing",
        "SET k v2 NX",
        "SET k v3 XX",
        "SET n 10",
        "INCR n",
        "INCRBY n -4",
        "DECR n",
        "DECRBY n 100",
        "INCR k",
        "INCRBYFLOAT f 1.5",
        "INCRBYFLOAT f 2",
        "APPEND k !!",
        "STRLEN k",
        "GETRANGE k 0 1",
        "GETRANGE k -2 -1",
        "GETRANGE k 5 100",
        "SETRANGE k 1 XY",
        "GET k",
        "GETSET k new",
        "GETDEL k",
        "EXISTS k n f",
        "MSET a 1 b 2 c 3",
        "MGET a b missing c",
        "SETNX a 9",
        "SETNX z 9",
        "TYPE a",
        "TYPE missing",
        "DEL a b missing",
        "UNLINK c",
        "RENAME z zz",
        "GET zz",
        "RENAME nothere x",
        // wrong arity and type errors
        "GET",
        "SET onlykey",
        "INCR zz",
        "LPUSH zz x",
        // lists
        "RPUSH l a b c d e",
        "LPUSH l z",
        "LLEN l",
        "LRANGE l 0 -1",
        "LRANGE l 1 2",
        "LRANGE l -3 -1",
        "LRANGE l 10 20",
        "LINDEX l 0",
        "LINDEX l -1",
        "LINDEX l 99",
        "LSET l 1 A",
        "LSET l 99 x",
        "LPOP l",
        "RPOP l",
        "LPOP l 2",
        "RPUSH l b b c b",
        "LREM l 2 b",
        "LRANGE l 0 -1",
        "RPUSH lr x a x b x c x",
        "LREM lr -2 x",
        "LRANGE lr 0 -1",
        "LREM lr 9 x",
        "LRANGE lr 0 -1",
        "RPUSH lr a a",
        "LREM lr -9 a",
        "LRANGE lr 0 -1",
        "LREM lr 0 b",
        "LREM lr 0 c",
        "EXISTS lr",
        "LREM lr 0 c",
        "LTRIM l 1 -1",
        "LRANGE l 0 -1",
        "RPOP nolist",
        "RPOP nolist 2",
        "GET l",
        "RPUSH l2 a b c d e f g",
        "LPUSH l2 z y",
        "RPOP l2 3",
        "LPOP l2 0",
        "LPOP l2 3",
        "LRANGE l2 0 -1",
        "LTRIM l2 -2 100",
        "LRANGE l2 0 -1",
        "LTRIM l2 5 10",
        "EXISTS l2",
        "RPUSH l3 a b c",
        "RPOP l3 10",
        "EXISTS l3",
        // hashes
        "HSET h f1 v1 f2 v2",
        "HSET h f1 w1",
        "HMSET hm a 1 b 2",
        "HMSET hm a 3",
        "HMGET hm a b",
        "HMSET hm odd",
        "HMSET l x y",
        "HGET h f1",
        "HGET h nope",
        "HMGET h f1 nope f2",
        "HLEN h",
        "HEXISTS h f2",
        "HEXISTS h nope",
        "HINCRBY h cnt 5",
        "HINCRBY h cnt -2",
        "HINCRBY h f1 1",
        "HKEYS h",
        "HVALS h",
        "HDEL h f2 nope",
        "HLEN h",
        // sets
        "SADD s a b c",
        "SADD s a d",
        "SCARD s",
        "SISMEMBER s a",
        "SISMEMBER s x",
        "SMEMBERS s",
        "SREM s a x",
        "SADD t c d e",
        "SINTER s t",
        "SUNION s t",
        // sorted sets
        "ZADD zs 1 a 2 b 3 c",
        "ZADD zs 5 a",
        "ZADD zs NX 9 a 4 d",
        "ZADD zs XX 7 b",
        "ZSCORE zs a",
        "ZSCORE zs nope",
        "ZINCRBY zs 2.5 c",
        "ZCARD zs",
        "ZRANK zs a",
        "ZRANK zs nope",
        "ZRANGE zs 0 -1",
        "ZRANGE zs 0 -1 WITHSCORES",
        "ZRANGE zs 0 1 REV",
        "ZRANGEBYSCORE zs 4 7",
        "ZRANGEBYSCORE zs (4 +inf",
        "ZRANGE zs 5 1 BYSCORE REV",
        "ZRANGE zs -inf +inf BYSCORE LIMIT 1 2",
        "ZCOUNT zs 4 7",
        "ZCOUNT zs -inf (5",
        "ZREM zs a nope",
        "ZRANGE zs 0 -1 WITHSCORES",
        // expiry (values that do not depend on the clock)
        "SET e v",
        "EXPIRE e 100",
        "PERSIST e",
        "TTL e",
        "TTL missing",
        "PTTL missing",
        "EXPIRE missing 10",
        "SETEX sx 100 v",
        "TTL sx",
        "GET sx",
        "PSETEX sx 100000 w",
        "TTL sx",
        "SETEX sx 0 v",
        "PSETEX sx -5 v",
        "SETEX sx notanumber v",
        "SETEX sx 100",
        "LPUSH lx a",
        "SETEX lx 100 v",
        "TYPE lx",
        // edge cases: options, counts, overflow, bad numbers
        "SET o 1 GET",
        "SET o 2 NX GET",
        "SET o 3 XX GET",
        "SET o 4 EX 100",
        "SET o 5 KEEPTTL",
        "SET o 6 EX notanumber",
        "SET o 7 EX 0",
        "SET o 8 PX -5",
        "SET o 9 BOGUS",
        // SET and INCR over keys of other types, and NX/XX/GET
        "RPUSH sl a",
        "SET sl v GET",
        "SET sl v NX",
        "INCR sl",
        "INCRBY sl 2",
        "SET sl v XX",
        "TYPE sl",
        "GET sl",
        "HSET sh f v",
        "SET sh v EX 100",
        "TYPE sh",
        "TTL sh",
        "SET sh w KEEPTTL",
        "TTL sh",
        "SET sh x",
        "TTL sh",
        "SET nx1 v XX",
        "SET nx1 v NX GET",
        "GET nx1",
        "SET nx1 w NX GET",
        "SET nx1 w XX GET",
        "GET nx1",
        "SET big 9223372036854775807",
        "INCR big",
        "INCRBY big notanumber",
        "SET neg -9223372036854775808",
        "DECR neg",
        "INCR neg",
        "GET neg",
        // integers as Redis reads them: no sign but `-`, no leading zero
        "SET z 007",
        "INCR z",
        "SET z +5",
        "INCR z",
        "SET z -0",
        "INCR z",
        "SET z 0",
        "INCRBY z +1",
        "INCRBY z 01",
        "INCRBY z -9223372036854775808",
        "INCRBY z -1",
        "SET z ' 1'",
        "INCR z",
        "LRANGE l 00 -1",
        "LRANGE l 0 -01",
        "INCRBYFLOAT o notanumber",
        "SETRANGE pad 3 abc",
        "GET pad",
        "SETRANGE pad -1 x",
        "GETRANGE pad -100 100",
        "LPUSH q a b c",
        "LPOP q 0",
        "LPOP q -1",
        "RPOP q 10",
        "LPOP q",
        "LRANGE q notanumber 2",
        "LINDEX q notanumber",
        "HINCRBY h f1 notanumber",
        // arity, and names in any case (looked up once, in `cmd.rs`)
        "HINCRBY h f1",
        "lpush",
        "zRange z2 0",
        "getT k",
        "sEt casekey v",
        "GeT casekey",
        "ZADD zz INCR 5 m",
        "ZADD zz INCR 5 m",
        "ZADD z2 INCR 5 m",
        "ZADD z2 INCR 5 m",
        "ZADD z2 GT 3 m",
        "ZADD z2 LT 3 m",
        "ZADD z2 CH 4 m 1 n",
        "ZADD z2 NX XX 1 m",
        "ZADD z2 GT LT 1 m",
        "ZADD z2 INCR 1 m 2 n",
        "ZADD z2 1",
        "ZADD z2 notanumber m",
        "ZRANGE z2 0 -1 WITHSCORES",
        "ZRANGEBYSCORE z2 notanumber 5",
        "ZINCRBY z2 notanumber m",
        "ZADD zz GT 3 m",
        "ZADD zz LT 3 m",
        "ZADD zz CH 4 m 1 n",
        "ZADD zz NX XX 1 m",
        "ZADD zz 1",
        "ZADD zz notanumber m",
        "ZREVRANK zz m",
        "ZREVRANGE zz 0 -1 WITHSCORES",
        "ZRANGEBYSCORE zz notanumber 5",
        "ZINCRBY zz notanumber m",
        "EXPIRE o notanumber",
        "SELECT 0",
        "EXEC",
        "DISCARD",
        "MULTI",
        "SET m1 x",
        "INCR m1",
        "GET m1",
        "EXEC",
        "MULTI",
        "MULTI",
        "DISCARD",
        "NOSUCHCOMMAND a b",
        "HSET h",
        "HSET h odd",
        "MSET a",
        "MGET",
        "RENAME",
        "SADD",
        "ZRANGE zz",
        "LRANGE q 0",
        "INCRBY n",
        "ECHO",
        // blocking pops that need not block (or time out quickly)
        "RPUSH bl a b c",
        "BLPOP nothing bl 1",
        "BRPOP bl 1",
        "BLPOP nothing 0.05",
        "BLPOP zz 1",
        "BLPOP bl notafloat",
        "BLPOP bl -1",
        "BLPOP bl",
        // misc
        "DBSIZE",
        "ECHO hello",
        "PING",
        "PING there",
        "FLUSHDB",
        "DBSIZE",
    ]
    .into_iter()
    .map(s)
    .collect()
}

fn sorted(v: V) -> V {
    match v {
        V::A(Some(mut items)) => {
            items.sort_by_key(|x| format!("{x:?}"));
            V::A(Some(items))
        }
        other => other,
    }
}

#[test]
fn replies_match_redis_server() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((redis, port)) = redis_server(&dir) else {
        println!("skipped: no redis-server on the PATH (apt-get install redis-server)");
        return;
    };
    let mut theirs = Client::connect(port);
    let pool = dir.join("diff.pool");
    let (_ours_server, ours_port) = start(&pool, "process");
    let mut ours = Client::connect(ours_port);
    let mut differ = Vec::new();
    let script = script();
    for cmd in &script {
        let (mut a, mut b) = (ours.cmd(cmd), theirs.cmd(cmd));
        if UNORDERED.contains(&cmd[0]) {
            (a, b) = (sorted(a), sorted(b));
        }
        if a != b {
            differ.push(format!(
                "{}: pcoll-redis {a:?}, redis-server {b:?}",
                cmd.join(" ")
            ));
        }
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        differ.is_empty(),
        "{} of {} commands answer differently:\n{}",
        differ.len(),
        script.len(),
        differ.join("\n")
    );
    println!("differential: {} commands, all replies equal", script.len());
}
