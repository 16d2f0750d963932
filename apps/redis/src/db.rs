//! The keyspace, in one pool, and the commands over it. Every command runs in one pcoll
//! transaction (reads under a read guard), so a crash leaves each command all done or not
//! done; there is no recovery code here.

use std::time::{SystemTime, UNIX_EPOCH};

use pcoll::collections::phashmap::Entry;
use pcoll::{PHashMap, PHashSet, PVec, PVecDeque, Persistent};

use crate::cmd::{Cmd, Kind};
use crate::deadlines::Deadlines;
use crate::resp::Reply;
use crate::sets;
use crate::watch;
use crate::zset::{ZSet, fmt_score, is_zread, parse_score, zadd, zread};

/// Bytes in the pool: keys, string values, members.
pub type Bytes = PVec<u8>;

/// The whole keyspace. A key lives in exactly one of the type maps.
#[derive(Persistent, Default)]
pub struct Db {
    pub(crate) strings: PHashMap<Bytes, Bytes>,
    pub(crate) lists: PHashMap<Bytes, PVecDeque<Bytes>>,
    pub(crate) hashes: PHashMap<Bytes, PHashMap<Bytes, Bytes>>,
    pub(crate) sets: PHashMap<Bytes, PHashSet<Bytes>>,
    pub(crate) zsets: PHashMap<Bytes, ZSet>,
    /// Deadlines, by key and by time.
    pub(crate) expires: Deadlines,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A key's type, as `TYPE` names it.
pub(crate) fn type_of(db: &Db, k: &[u8]) -> Option<&'static str> {
    if db.strings.contains_key(k) {
        Some("string")
    } else {
        other_type(db, k)
    }
}

/// A key's type when it is not a string (a key is in one map at most). The string commands
/// that look their key up in `strings` themselves ask only this first: one lookup fewer.
fn other_type(db: &Db, k: &[u8]) -> Option<&'static str> {
    if db.lists.contains_key(k) {
        Some("list")
    } else if db.hashes.contains_key(k) {
        Some("hash")
    } else if db.sets.contains_key(k) {
        Some("set")
    } else if db.zsets.contains_key(k) {
        Some("zset")
    } else {
        None
    }
}

/// True when `k` is a key of type `t` (one lookup, in that type's map).
fn has(db: &Db, k: &[u8], t: &str) -> bool {
    match t {
        "string" => db.strings.contains_key(k),
        "list" => db.lists.contains_key(k),
        "hash" => db.hashes.contains_key(k),
        "set" => db.sets.contains_key(k),
        "zset" => db.zsets.contains_key(k),
        _ => false,
    }
}

/// The type of key a write command works on, when it has one: its key is looked up in that
/// map first, so a key of the right type costs one lookup, not one per map before it.
fn own_type(c: Cmd) -> Option<&'static str> {
    Some(match c {
        Cmd::Lpush | Cmd::Rpush | Cmd::Lpop | Cmd::Rpop | Cmd::Lset | Cmd::Lrem | Cmd::Ltrim => {
            "list"
        }
        Cmd::Hset | Cmd::Hmset | Cmd::Hdel | Cmd::Hincrby => "hash",
        Cmd::Sadd | Cmd::Srem | Cmd::Spop => "set",
        Cmd::Zadd | Cmd::Zincrby | Cmd::Zrem => "zset",
        Cmd::Append | Cmd::Setrange | Cmd::Getset | Cmd::Getdel | Cmd::Incrbyfloat => "string",
        _ => return None,
    })
}

/// True when `k` has a deadline at or before `now`.
pub(crate) fn expired(db: &Db, k: &[u8], now: u64) -> bool {
    db.expires.get(k).is_some_and(|t| t <= now)
}

/// True when `k` exists and has not expired.
fn live(db: &Db, k: &[u8], now: u64) -> bool {
    type_of(db, k).is_some() && !expired(db, k, now)
}

/// Removes `k`, of whatever type, and its deadline: true when it existed.
pub(crate) fn remove_key(db: &mut Db, k: &[u8]) -> bool {
    db.expires.remove(k);
    discard(&mut db.strings, k)
        || discard(&mut db.lists, k)
        || discard(&mut db.hashes, k)
        || discard(&mut db.sets, k)
        || discard(&mut db.zsets, k)
}

/// Removes `m[k]`, true when it was there. The value `remove` hands out is lent (it keeps
/// its blocks while the transaction is open), so dropping it here frees them in place: no
/// element of a big list is copied.
fn discard<V: Persistent>(m: &mut PHashMap<Bytes, V>, k: &[u8]) -> bool {
    m.remove(k).is_some()
}

/// Makes the string `k` hold `v`, keeping its deadline. An existing string is overwritten
/// in place: no old value is handed out of the pool (a copy) only to be dropped.
fn overwrite(db: &mut Db, k: &[u8], v: &[u8]) {
    put(&mut db.strings, k, v);
}

/// Sets `m[k]` to `v`, true when `k` is new. One lookup; an old value is rewritten in its
/// own buffer (no allocation when it has room, and no old value handed out); a new one is
/// inserted with `insert_entry`, which hands no `&mut` out (so the commit has no region to
/// check for values stored through it).
fn put(m: &mut PHashMap<Bytes, Bytes>, k: &[u8], v: &[u8]) -> bool {
    match m.entry(k) {
        Entry::Occupied(mut o) => {
            let s = o.get_mut();
            s.clear();
            s.extend_from_slice(v);
            false
        }
        Entry::Vacant(e) => {
            e.insert_entry(v);
            true
        }
    }
}

/// Makes `k`, of whatever type, the string `v` with no deadline (what SET does).
fn put_string(db: &mut Db, k: &[u8], v: &[u8]) {
    if db.strings.contains_key(k) {
        db.expires.remove(k);
    } else {
        remove_key(db, k);
    }
    overwrite(db, k, v);
}

/// Removes `k` if it has expired (on access, as Redis's lazy expiry).
fn reap(db: &mut Db, k: &[u8], now: u64) {
    if expired(db, k, now) && remove_key(db, k) {
        crate::expire::note(1);
    }
}

/// Keys (expired ones not yet deleted included, as Redis's INFO counts them) and keys with
/// a deadline.
pub(crate) fn counts(db: &Db) -> (usize, usize) {
    let keys = db.strings.len() + db.lists.len() + db.hashes.len() + db.sets.len();
    (keys + db.zsets.len(), db.expires.len())
}

/// A 64-bit integer as Redis reads one (its `string2ll`): an optional `-`, then `0` alone or
/// digits without a leading zero; no `+`, no spaces, nothing past `i64`.
pub(crate) fn int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b {
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    // Accumulated as a negative number, whose range reaches i64::MIN.
    let mut n: i64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => i64::from(c - b'0'),
            _ => return None,
        };
        n = n.checked_mul(10)?.checked_sub(d)?;
    }
    if neg { Some(n) } else { n.checked_neg() }
}

/// `b` upper-cased, for matching a command or option name: on the stack (every command
/// runs this once or more, so it allocates nothing). A name longer than [`Name::MAX`] bytes,
/// or not UTF-8, matches no command: it reads as `"?"`.
pub fn upper(b: &[u8]) -> Name {
    let mut n = Name {
        len: 1,
        buf: [0; Name::MAX],
    };
    n.buf[0] = b'?';
    if b.len() <= Name::MAX && std::str::from_utf8(b).is_ok() {
        n.buf[..b.len()].copy_from_slice(b);
        n.buf[..b.len()].make_ascii_uppercase();
        n.len = b.len() as u8;
    }
    n
}

/// A name upper-cased by [`upper`].
#[derive(Clone, Copy)]
pub struct Name {
    len: u8,
    buf: [u8; Name::MAX],
}

impl Name {
    /// The longest name kept (Redis's longest command name is 20 bytes).
    pub const MAX: usize = 31;

    /// The upper-cased name.
    pub fn as_str(&self) -> &str {
        // (`upper` copied valid UTF-8 whole, and ASCII upper-casing keeps it valid.)
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Redis's words for a command it does not know, its first arguments quoted.
fn unknown(args: &[Vec<u8>]) -> Reply {
    let mut msg = format!(
        "unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(&args[0])
    );
    for a in args.iter().skip(1) {
        msg += &format!("'{}' ", String::from_utf8_lossy(a));
    }
    Reply::err(msg)
}

/// Runs a command that does not write, under a read guard (a write command answers an
/// error: the caller runs those in a transaction). `cmd` is what `args` names
/// ([`Cmd::of`], which the caller has looked up already).
pub fn run_read(db: &Db, cmd: Option<Cmd>, args: &[Vec<u8>], now: u64) -> Reply {
    match cmd {
        Some(c) if c.kind() == Kind::Read => {
            arity(args, c).unwrap_or_else(|| read(db, c, args, now))
        }
        Some(c) if c.kind() == Kind::Write => {
            Reply::err(format!("internal: '{}' outside a transaction", c.name()))
        }
        _ => unknown(args),
    }
}

/// Runs any keyspace command inside an open transaction (the tests' and the probe's way in).
#[cfg(test)]
pub fn run(db: &mut Db, args: &[Vec<u8>], now: u64) -> Reply {
    run_as(db, Cmd::of(args), args, now)
}

/// An empty keyspace in a memory pool (`Durability::Process`), for tests.
#[cfg(test)]
pub fn test_pool() -> pcoll::Pool<Db> {
    pcoll::Pool::<Db>::options()
        .durability(pcoll::Durability::Process)
        .in_memory()
        .unwrap()
}

/// A request made of `words`, for tests.
#[cfg(test)]
pub fn words(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// Runs any keyspace command inside an open transaction (a write notes its keys for WATCH):
/// `cmd` is what `args` names ([`Cmd::of`], which the caller has looked up already).
pub fn run_as(db: &mut Db, cmd: Option<Cmd>, args: &[Vec<u8>], now: u64) -> Reply {
    let Some(c) = cmd.filter(|c| c.kind() != Kind::Conn) else {
        return unknown(args);
    };
    if let Some(e) = arity(args, c) {
        return e;
    }
    if c.kind() == Kind::Read {
        return read(db, c, args, now);
    }
    let r = write(db, c, args, now);
    watch::bump(c, args);
    r
}

/// Redis's error for a command given fewer arguments than it takes.
fn arity(args: &[Vec<u8>], c: Cmd) -> Option<Reply> {
    (args.len() < c.min_args()).then(|| {
        Reply::err(format!(
            "wrong number of arguments for '{}' command",
            c.name().to_lowercase()
        ))
    })
}

fn read(db: &Db, c: Cmd, a: &[Vec<u8>], now: u64) -> Reply {
    let k = a.get(1).map_or(&[][..], |k| &k[..]);
    let alive = live(db, k, now);
    let typed = |t: &str| alive && type_of(db, k) != Some(t);
    match c {
        Cmd::Get if typed("string") => Reply::wrong_type(),
        Cmd::Get => Reply::Bulk(alive.then(|| db.strings[k].to_vec())),
        Cmd::Mget => Reply::Array(Some(
            a[1..]
                .iter()
                .map(|k| match db.strings.get(&k[..]) {
                    Some(v) if !expired(db, k, now) => Reply::bulk(v),
                    _ => Reply::Bulk(None),
                })
                .collect(),
        )),
        Cmd::Strlen if typed("string") => Reply::wrong_type(),
        Cmd::Strlen => Reply::Int(if alive { db.strings[k].len() as i64 } else { 0 }),
        Cmd::Getrange => {
            let (Some(s), Some(e)) = (int(&a[2]), int(&a[3])) else {
                return Reply::err("value is not an integer or out of range");
            };
            let v = if alive {
                db.strings.get(k).map_or(&[][..], |v| v.as_slice())
            } else {
                &[]
            };
            Reply::bulk(slice_range(v, s, e))
        }
        Cmd::Exists => Reply::Int(a[1..].iter().filter(|k| live(db, k, now)).count() as i64),
        Cmd::Type => Reply::Simple(if alive {
            type_of(db, k).unwrap_or("none")
        } else {
            "none"
        }),
        Cmd::Keys => Reply::Array(Some(keys(db, &a[1], now))),
        Cmd::Scan => crate::scan::scan(db, a, now),
        Cmd::Sinter | Cmd::Sunion => {
            let mut sets = Vec::new();
            for k in &a[1..] {
                if live(db, k, now) && type_of(db, k) != Some("set") {
                    return Reply::wrong_type();
                }
                sets.push(db.sets.get(&k[..]).filter(|_| live(db, k, now)));
            }
            let mut out: Vec<&[u8]> = Vec::new();
            if c == Cmd::Sunion {
                for m in sets.iter().flatten().flat_map(|s| s.iter()) {
                    if !out.contains(&m.as_slice()) {
                        out.push(m);
                    }
                }
            } else if let Some(Some(first)) = sets.first() {
                out = first
                    .iter()
                    .filter(|m| {
                        sets[1..]
                            .iter()
                            .all(|s| s.is_some_and(|s| s.contains(m.as_slice())))
                    })
                    .map(|m| m.as_slice())
                    .collect();
            }
            Reply::Array(Some(out.into_iter().map(Reply::bulk).collect()))
        }
        Cmd::Dbsize => Reply::Int(counts(db).0 as i64),
        Cmd::Ttl | Cmd::Pttl => Reply::Int(if !alive {
            -2
        } else {
            match db.expires.get(k) {
                None => -1,
                Some(t) if c == Cmd::Ttl => ((t - now) as i64 + 999) / 1000,
                Some(t) => (t - now) as i64,
            }
        }),
        Cmd::Llen if typed("list") => Reply::wrong_type(),
        Cmd::Llen => Reply::Int(if alive { db.lists[k].len() as i64 } else { 0 }),
        Cmd::Lrange if typed("list") => Reply::wrong_type(),
        Cmd::Lrange => {
            let (Some(s), Some(e)) = (int(&a[2]), int(&a[3])) else {
                return Reply::err("value is not an integer or out of range");
            };
            let Some(l) = db.lists.get(k).filter(|_| alive) else {
                return Reply::Array(Some(vec![]));
            };
            let (s, e) = clamp(s, e, l.len());
            Reply::Array(Some(l.range(s..e).map(|v| Reply::bulk(v)).collect()))
        }
        Cmd::Lindex if typed("list") => Reply::wrong_type(),
        Cmd::Lindex => {
            let l = db.lists.get(k).filter(|_| alive);
            if l.is_none() {
                return Reply::Bulk(None); // Redis answers a missing key before the index
            }
            let Some(i) = int(&a[2]) else {
                return Reply::err("value is not an integer or out of range");
            };
            let i = l.and_then(|l| {
                if i < 0 {
                    l.len().checked_sub(i.unsigned_abs() as usize)
                } else {
                    Some(i as usize)
                }
            });
            Reply::Bulk(l.zip(i).and_then(|(l, i)| l.get(i)).map(|v| v.to_vec()))
        }
        Cmd::Hget
        | Cmd::Hmget
        | Cmd::Hgetall
        | Cmd::Hlen
        | Cmd::Hexists
        | Cmd::Hkeys
        | Cmd::Hvals
            if typed("hash") =>
        {
            Reply::wrong_type()
        }
        Cmd::Hget => Reply::Bulk(
            db.hashes
                .get(k)
                .filter(|_| alive)
                .and_then(|h| h.get(&a[2][..]))
                .map(|v| v.to_vec()),
        ),
        Cmd::Hmget => Reply::Array(Some(
            a[2..]
                .iter()
                .map(|f| {
                    Reply::Bulk(
                        db.hashes
                            .get(k)
                            .filter(|_| alive)
                            .and_then(|h| h.get(&f[..]))
                            .map(|v| v.to_vec()),
                    )
                })
                .collect(),
        )),
        Cmd::Hgetall | Cmd::Hkeys | Cmd::Hvals => {
            let h = db.hashes.get(k).filter(|_| alive);
            let items = h
                .into_iter()
                .flat_map(|h| h.iter())
                .flat_map(|(f, v)| match c {
                    Cmd::Hgetall => vec![Reply::bulk(f), Reply::bulk(v)],
                    Cmd::Hkeys => vec![Reply::bulk(f)],
                    _ => vec![Reply::bulk(v)],
                });
            Reply::Array(Some(items.collect()))
        }
        Cmd::Hlen => Reply::Int(
            db.hashes
                .get(k)
                .filter(|_| alive)
                .map_or(0, |h| h.len() as i64),
        ),
        Cmd::Hexists => Reply::Int(
            db.hashes
                .get(k)
                .filter(|_| alive)
                .is_some_and(|h| h.contains_key(&a[2][..])) as i64,
        ),
        Cmd::Srandmember => sets::srandmember(db, a, alive, typed("set")),
        Cmd::Smembers | Cmd::Sismember | Cmd::Scard if typed("set") => Reply::wrong_type(),
        Cmd::Smembers => Reply::Array(Some(
            db.sets
                .get(k)
                .filter(|_| alive)
                .into_iter()
                .flat_map(|s| s.iter())
                .map(|m| Reply::bulk(m))
                .collect(),
        )),
        Cmd::Sismember => Reply::Int(
            db.sets
                .get(k)
                .filter(|_| alive)
                .is_some_and(|s| s.contains(&a[2][..])) as i64,
        ),
        Cmd::Scard => Reply::Int(
            db.sets
                .get(k)
                .filter(|_| alive)
                .map_or(0, |s| s.len() as i64),
        ),
        // Redis checks the arguments before the type: a dry run on no set tells.
        c if is_zread(c) && typed("zset") => match zread(None, c, a) {
            e @ Reply::Error(_) => e,
            _ => Reply::wrong_type(),
        },
        c if is_zread(c) => zread(db.zsets.get(k).filter(|_| alive), c, a),
        _ => Reply::err("unknown read"),
    }
}

/// Redis's inclusive, negative-from-the-end range, as a half-open one within `len`.
pub(crate) fn clamp(s: i64, e: i64, len: usize) -> (usize, usize) {
    let n = len as i64;
    let s = if s < 0 { (n + s).max(0) } else { s.min(n) };
    let e = if e < 0 { n + e } else { e.min(n - 1) };
    if e < s {
        (0, 0)
    } else {
        (s as usize, e as usize + 1)
    }
}

fn slice_range(v: &[u8], s: i64, e: i64) -> &[u8] {
    let (s, e) = clamp(s, e, v.len());
    &v[s..e]
}

/// Every key, of every type (expired ones included).
pub(crate) fn all_keys(db: &Db) -> impl Iterator<Item = &Bytes> {
    db.strings
        .keys()
        .chain(db.lists.keys())
        .chain(db.hashes.keys())
        .chain(db.sets.keys())
        .chain(db.zsets.keys())
}

/// Live keys matching a glob pattern.
fn keys(db: &Db, pat: &[u8], now: u64) -> Vec<Reply> {
    all_keys(db)
        .filter(|k| !expired(db, k, now) && glob(pat, k))
        .map(|k| Reply::bulk(k))
        .collect()
}

/// Redis's glob: `*`, `?`, `[...]` (with `^` and ranges), `\` escapes.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (None, Some(_)) | (Some(_), None) => false,
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(b'['), Some(&c)) => {
            let Some(end) = p.iter().skip(2).position(|&x| x == b']').map(|i| i + 2) else {
                return p[0] == c && glob(&p[1..], &s[1..]);
            };
            let (neg, set) = match p[1] {
                b'^' => (true, &p[2..end]),
                _ => (false, &p[1..end]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob(&p[end + 1..], &s[1..])
        }
        (Some(b'\\'), Some(&c)) if p.len() > 1 => p[1] == c && glob(&p[2..], &s[1..]),
        (Some(&x), Some(&c)) => x == c && glob(&p[1..], &s[1..]),
    }
}

fn write(db: &mut Db, c: Cmd, a: &[Vec<u8>], now: u64) -> Reply {
    if matches!(c, Cmd::Blpop | Cmd::Brpop) {
        return pop_any(db, c, a, now);
    }
    if matches!(c, Cmd::Flushdb | Cmd::Flushall) {
        // (ASYNC / SYNC accepted and ignored: the drop is one transaction either way.)
        *db = Db::default();
        return Reply::OK;
    }
    let k = &a[1][..];
    if !matches!(c, Cmd::Mset | Cmd::Del | Cmd::Unlink) {
        reap(db, k, now);
    }
    // SET and the INCR family find their key in `strings` with a lookup of their own.
    match c {
        Cmd::Set => return set(db, a, now),
        Cmd::Incr | Cmd::Decr | Cmd::Incrby | Cmd::Decrby => return incr(db, c, a),
        _ => {}
    }
    let ty = match own_type(c) {
        Some(t) if has(db, k, t) => Some(t),
        _ => type_of(db, k),
    };
    let wrong = |t: &str| ty.is_some_and(|x| x != t);
    match c {
        Cmd::Setnx if ty.is_some() => Reply::Int(0),
        Cmd::Setnx => {
            db.strings.insert(k, &a[2][..]);
            Reply::Int(1)
        }
        Cmd::Setex | Cmd::Psetex => {
            let Some(n) = int(&a[2]) else {
                return Reply::err("value is not an integer or out of range");
            };
            if n <= 0 {
                let cmd = c.name().to_lowercase();
                return Reply::err(format!("invalid expire time in '{cmd}' command"));
            }
            let ms = if c == Cmd::Setex {
                n.saturating_mul(1000)
            } else {
                n
            };
            put_string(db, k, &a[3][..]);
            db.expires.set(k, now + ms as u64);
            Reply::OK
        }
        Cmd::Getset | Cmd::Getdel if wrong("string") => Reply::wrong_type(),
        Cmd::Getset => {
            db.expires.remove(k);
            Reply::Bulk(db.strings.insert(k, &a[2][..]).map(|v| v.to_vec()))
        }
        Cmd::Getdel => {
            db.expires.remove(k);
            Reply::Bulk(db.strings.remove(k).map(|v| v.to_vec()))
        }
        Cmd::Mset if a.len().is_multiple_of(2) => {
            Reply::err("wrong number of arguments for 'mset' command")
        }
        Cmd::Mset => {
            for kv in a[1..].chunks(2) {
                put_string(db, &kv[0], &kv[1]);
            }
            Reply::OK
        }
        Cmd::Del | Cmd::Unlink => Reply::Int(
            a[1..]
                .iter()
                .filter(|k| {
                    let was = live(db, k, now);
                    remove_key(db, k) && was
                })
                .count() as i64,
        ),
        Cmd::Incrbyfloat if wrong("string") => Reply::wrong_type(),
        Cmd::Incrbyfloat => {
            let by = std::str::from_utf8(&a[2])
                .ok()
                .and_then(|s| s.parse::<f64>().ok());
            let cur = db.strings.get(k).map_or(Some(0.0), |v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
            });
            match cur.zip(by).map(|(c, b)| c + b).filter(|f| f.is_finite()) {
                Some(f) => {
                    let text = format!("{f}");
                    overwrite(db, k, text.as_bytes());
                    Reply::bulk(text.as_bytes())
                }
                None => Reply::err("value is not a valid float"),
            }
        }
        Cmd::Append if wrong("string") => Reply::wrong_type(),
        Cmd::Append => {
            let v = db.strings.entry(k).or_default();
            v.extend_from_slice(&a[2]);
            Reply::Int(v.len() as i64)
        }
        Cmd::Setrange if wrong("string") => Reply::wrong_type(),
        Cmd::Setrange => {
            let Some(off) = int(&a[2]).filter(|&o| (0..512 << 20).contains(&o)) else {
                return Reply::err("offset is out of range");
            };
            let v = db.strings.entry(k).or_default();
            let end = off as usize + a[3].len();
            if v.len() < end {
                v.resize(end, 0);
            }
            if let Some(dst) = v.get_mut(off as usize..end) {
                dst.copy_from_slice(&a[3]);
            }
            Reply::Int(v.len() as i64)
        }
        Cmd::Expire | Cmd::Pexpire => {
            let Some(n) = int(&a[2]) else {
                return Reply::err("value is not an integer or out of range");
            };
            if ty.is_none() {
                return Reply::Int(0);
            }
            let ms = if c == Cmd::Expire {
                n.saturating_mul(1000)
            } else {
                n
            };
            if ms <= 0 {
                remove_key(db, k);
            } else {
                db.expires.set(k, now + ms as u64);
            }
            Reply::Int(1)
        }
        Cmd::Persist => Reply::Int(db.expires.remove(k).is_some() as i64),
        Cmd::Rename if ty.is_none() => Reply::err("no such key"),
        Cmd::Rename => rename(db, k, &a[2]),
        Cmd::Lpush | Cmd::Rpush | Cmd::Lpop | Cmd::Rpop | Cmd::Lset | Cmd::Lrem | Cmd::Ltrim
            if wrong("list") =>
        {
            Reply::wrong_type()
        }
        Cmd::Lpush | Cmd::Rpush => {
            let l = db.lists.entry(k).or_default();
            for v in &a[2..] {
                if c == Cmd::Lpush {
                    l.push_front_from(&v[..])
                } else {
                    l.push_back_from(&v[..])
                }
            }
            Reply::Int(l.len() as i64)
        }
        Cmd::Lpop | Cmd::Rpop => list_pop(db, c == Cmd::Lpop, a),
        Cmd::Lset => {
            let Some(l) = db.lists.get_mut(k) else {
                return Reply::err("no such key");
            };
            let Some(i) = int(&a[2]) else {
                return Reply::err("value is not an integer or out of range");
            };
            let i = if i < 0 { l.len() as i64 + i } else { i };
            match usize::try_from(i).ok().and_then(|i| l.get_mut(i)) {
                Some(slot) => {
                    slot.clear();
                    slot.extend_from_slice(&a[3]);
                    Reply::OK
                }
                None => Reply::err("index out of range"),
            }
        }
        Cmd::Lrem => {
            let (Some(n), Some(l)) = (int(&a[2]), db.lists.get_mut(k)) else {
                return Reply::Int(0);
            };
            // In place: the elements that stay are not copied. From the tail (n < 0), the
            // first `total - limit` matches stay.
            let v = &a[3][..];
            let total = l.iter().filter(|x| x.as_slice() == v).count();
            let removed = if n == 0 {
                total
            } else {
                total.min(n.unsigned_abs() as usize)
            };
            let skip = if n < 0 { total - removed } else { 0 };
            if removed > 0 {
                let mut seen = 0;
                l.retain(|x| {
                    if x.as_slice() != v {
                        return true;
                    }
                    seen += 1;
                    seen <= skip || seen > skip + removed
                });
            }
            if l.is_empty() {
                db.lists.remove(k);
            }
            Reply::Int(removed as i64)
        }
        Cmd::Ltrim => {
            let (Some(s), Some(e)) = (int(&a[2]), int(&a[3])) else {
                return Reply::err("value is not an integer or out of range");
            };
            if let Some(l) = db.lists.get_mut(k) {
                let (s, e) = clamp(s, e, l.len());
                l.truncate(e);
                l.truncate_front(e - s.min(e));
                if l.is_empty() {
                    db.lists.remove(k);
                }
            }
            Reply::OK
        }
        Cmd::Hset | Cmd::Hmset | Cmd::Hdel | Cmd::Hincrby if wrong("hash") => Reply::wrong_type(),
        Cmd::Hset | Cmd::Hmset if a.len() % 2 == 1 => Reply::err(format!(
            "wrong number of arguments for '{}' command",
            c.name().to_lowercase()
        )),
        Cmd::Hmset => {
            let h = db.hashes.entry(k).or_default();
            for fv in a[2..].chunks(2) {
                put(h, &fv[0], &fv[1]);
            }
            Reply::OK
        }
        Cmd::Hset => {
            let h = db.hashes.entry(k).or_default();
            let added = a[2..].chunks(2).filter(|fv| put(h, &fv[0], &fv[1])).count();
            Reply::Int(added as i64)
        }
        Cmd::Hdel => {
            let Some(h) = db.hashes.get_mut(k) else {
                return Reply::Int(0);
            };
            let n = a[2..].iter().filter(|f| h.remove(&f[..]).is_some()).count();
            if h.is_empty() {
                db.hashes.remove(k);
            }
            Reply::Int(n as i64)
        }
        Cmd::Hincrby => {
            let Some(by) = a.get(3).and_then(|b| int(b)) else {
                return Reply::err("value is not an integer or out of range");
            };
            let h = db.hashes.entry(k).or_default();
            let cur = h.get(&a[2][..]).map_or(Some(0), |v| int(v));
            match cur.and_then(|c| c.checked_add(by)) {
                Some(n) => {
                    put(h, &a[2], n.to_string().as_bytes());
                    Reply::Int(n)
                }
                None => Reply::err("hash value is not an integer"),
            }
        }
        Cmd::Sadd | Cmd::Srem if wrong("set") => Reply::wrong_type(),
        Cmd::Sadd => {
            let s = db.sets.entry(k).or_default();
            Reply::Int(a[2..].iter().filter(|m| s.insert(&m[..])).count() as i64)
        }
        Cmd::Srem => {
            let Some(s) = db.sets.get_mut(k) else {
                return Reply::Int(0);
            };
            let n = a[2..].iter().filter(|m| s.remove(&m[..])).count();
            if s.is_empty() {
                db.sets.remove(k);
            }
            Reply::Int(n as i64)
        }
        Cmd::Spop => sets::spop(db, a, wrong("set")),
        Cmd::Zrem if wrong("zset") => Reply::wrong_type(),
        Cmd::Zadd => zadd(db, a, wrong("zset")),
        Cmd::Zincrby => {
            let (Some(by), Some(m)) = (parse_score(&a[2]), a.get(3)) else {
                return Reply::err("value is not a valid float");
            };
            if wrong("zset") {
                return Reply::wrong_type();
            }
            let z = db.zsets.entry(k).or_default();
            let f = z.scores.get(&m[..]).copied().unwrap_or(0.0) + by;
            if f.is_nan() {
                return Reply::err("resulting score is not a number (NaN)");
            }
            z.set(m, f);
            Reply::Bulk(Some(fmt_score(f)))
        }
        Cmd::Zrem => {
            let Some(z) = db.zsets.get_mut(k) else {
                return Reply::Int(0);
            };
            let n = a[2..].iter().filter(|m| z.remove(m)).count();
            if z.scores.is_empty() {
                db.zsets.remove(k);
            }
            Reply::Int(n as i64)
        }
        _ => unknown(a),
    }
}

/// The entry of `k` in `strings`, and whether `k` is a key of another type: one lookup for
/// a string, the other types' maps only for a key that is no string (a key is in one map
/// at most).
fn string_entry<'a>(db: &'a mut Db, k: &'a [u8]) -> (StringEntry<'a>, bool) {
    let Db {
        strings,
        lists,
        hashes,
        sets,
        zsets,
        ..
    } = db;
    let e = strings.entry(k);
    let other = matches!(e, Entry::Vacant(_))
        && (lists.contains_key(k)
            || hashes.contains_key(k)
            || sets.contains_key(k)
            || zsets.contains_key(k));
    (e, other)
}

/// An entry of `strings`.
type StringEntry<'a> = Entry<'a, Bytes, Bytes, &'a [u8]>;

/// INCR, DECR, INCRBY, DECRBY, with Redis's checks in Redis's order (the increment, the
/// key's type, its value, the sum). One lookup when the key is a string (the entry is read
/// and rewritten in place); a new key is also looked for in the other types' maps.
fn incr(db: &mut Db, c: Cmd, a: &[Vec<u8>]) -> Reply {
    let by = match c {
        Cmd::Incr => 1,
        Cmd::Decr => -1,
        _ => match (int(&a[2]), c) {
            (None, _) => return Reply::err("value is not an integer or out of range"),
            (Some(n), Cmd::Decrby) => match n.checked_neg() {
                Some(n) => n,
                None => return Reply::err("decrement would overflow"),
            },
            (Some(n), _) => n,
        },
    };
    let (e, other) = string_entry(db, &a[1]);
    let cur = match &e {
        Entry::Occupied(o) => int(o.get()),
        Entry::Vacant(_) if other => return Reply::wrong_type(),
        Entry::Vacant(_) => Some(0),
    };
    let Some(cur) = cur else {
        return Reply::err("value is not an integer or out of range");
    };
    let Some(n) = cur.checked_add(by) else {
        return Reply::err("increment or decrement would overflow");
    };
    let text = n.to_string();
    match e {
        Entry::Occupied(mut o) => {
            let v = o.get_mut();
            v.clear();
            v.extend_from_slice(text.as_bytes());
        }
        Entry::Vacant(v) => {
            v.insert_entry(text.as_bytes());
        }
    }
    Reply::Int(n)
}

/// SET with its options: one lookup in `strings` (plus the deadline's) when the key is a
/// string; a new key is also looked for in the other types' maps.
fn set(db: &mut Db, a: &[Vec<u8>], now: u64) -> Reply {
    let k = &a[1][..];
    let (mut nx, mut xx, mut get, mut keep, mut ttl) = (false, false, false, false, None);
    let mut i = 3;
    while i < a.len() {
        match upper(&a[i]).as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GET" => get = true,
            "KEEPTTL" => keep = true,
            unit @ ("EX" | "PX") => {
                let Some(arg) = a.get(i + 1) else {
                    return Reply::err("syntax error");
                };
                let Some(n) = int(arg) else {
                    return Reply::err("value is not an integer or out of range");
                };
                if n <= 0 {
                    return Reply::err("invalid expire time in 'set' command");
                }
                ttl = Some(if unit == "EX" {
                    n.saturating_mul(1000)
                } else {
                    n
                } as u64);
                i += 1;
            }
            _ => return Reply::err("syntax error"),
        }
        i += 1;
    }
    let deadline = db.expires.get(k);
    let v = &a[2][..];
    let (e, other) = string_entry(db, k);
    if get && other {
        return Reply::wrong_type();
    }
    let old = match &e {
        Entry::Occupied(o) if get => Some(o.get().to_vec()),
        _ => None,
    };
    let exists = other || matches!(e, Entry::Occupied(_));
    if (nx && exists) || (xx && !exists) {
        return Reply::Bulk(old);
    }
    match e {
        Entry::Occupied(mut o) => {
            let s = o.get_mut();
            s.clear();
            s.extend_from_slice(v);
        }
        Entry::Vacant(_) if other => {
            remove_key(db, k);
            db.strings.insert(k, v);
        }
        Entry::Vacant(e) => {
            e.insert_entry(v);
        }
    }
    // (Only a key that exists has a deadline; `remove_key` took another type's.)
    if deadline.is_some() && !other {
        db.expires.remove(k);
    }
    match (ttl, keep, deadline) {
        (Some(ms), _, _) => {
            db.expires.set(k, now + ms);
        }
        (None, true, Some(t)) => {
            db.expires.set(k, t);
        }
        _ => {}
    }
    if get { Reply::Bulk(old) } else { Reply::OK }
}

/// The timeout of BLPOP/BRPOP (its last argument), in seconds: 0 waits forever.
pub fn block_timeout(a: &[Vec<u8>]) -> Result<f64, Reply> {
    let t = a.last().and_then(|t| std::str::from_utf8(t).ok());
    match t.and_then(|t| t.parse::<f64>().ok()) {
        Some(t) if t.is_finite() && t >= 0.0 => Ok(t),
        Some(t) if t < 0.0 => Err(Reply::err("timeout is negative")),
        _ => Err(Reply::err("timeout is not a float or out of range")),
    }
}

/// BLPOP/BRPOP without the wait: the first non-empty list among the keys gives up an
/// element, answered as [key, element]; a null array when all are empty (the connection then
/// waits and tries again, see `main.rs`; inside MULTI it is the answer, as in Redis).
fn pop_any(db: &mut Db, c: Cmd, a: &[Vec<u8>], now: u64) -> Reply {
    if let Err(e) = block_timeout(a) {
        return e;
    }
    let keys = &a[1..a.len() - 1];
    for k in keys {
        reap(db, k, now);
        if type_of(db, k).is_some_and(|t| t != "list") {
            return Reply::wrong_type();
        }
    }
    for k in keys {
        if db.lists.get(&k[..]).is_some_and(|l| !l.is_empty()) {
            let v = list_pop(db, c == Cmd::Blpop, &[a[0].clone(), k.clone()]);
            return Reply::Array(Some(vec![Reply::bulk(k), v]));
        }
    }
    Reply::Array(None)
}

/// LPOP (`front`) or RPOP.
fn list_pop(db: &mut Db, front: bool, a: &[Vec<u8>]) -> Reply {
    let k = &a[1][..];
    let count = match a.get(2).map(|c| int(c)) {
        None => None,
        Some(Some(n)) if n >= 0 => Some(n as usize),
        Some(_) => return Reply::err("value is out of range, must be positive"),
    };
    let Some(l) = db.lists.get_mut(k) else {
        return if count.is_some() {
            Reply::Array(None)
        } else {
            Reply::Bulk(None)
        };
    };
    // Read in place, then dropped in place: popping would hand each value out of the pool
    // (a copy) only for it to be copied into the reply and dropped.
    let n = count.unwrap_or(1).min(l.len());
    let len = l.len();
    let mut out: Vec<Vec<u8>> = if front {
        l.range(..n).map(|v| v.to_vec()).collect()
    } else {
        l.range(len - n..).rev().map(|v| v.to_vec()).collect()
    };
    if front {
        l.truncate_front(len - n);
    } else {
        l.truncate(len - n);
    }
    if l.is_empty() {
        db.lists.remove(k);
    }
    match count {
        None => Reply::Bulk(out.pop()),
        Some(_) => Reply::Array(Some(out.iter().map(|v| Reply::bulk(v)).collect())),
    }
}

fn rename(db: &mut Db, from: &[u8], to: &[u8]) -> Reply {
    if from == to {
        return Reply::OK;
    }
    remove_key(db, to);
    if let Some(t) = db.expires.remove(from) {
        db.expires.set(to, t);
    }
    let _ = move_value(&mut db.strings, from, to)
        || move_value(&mut db.lists, from, to)
        || move_value(&mut db.hashes, from, to)
        || move_value(&mut db.sets, from, to)
        || move_value(&mut db.zsets, from, to);
    Reply::OK
}

/// Moves the value of `from` to `to` without copying it, as Redis's RENAME does: the value
/// `remove` hands out is lent, and `insert` into the same pool in the same transaction stores
/// its blocks as they are.
fn move_value<V: Persistent>(m: &mut PHashMap<Bytes, V>, from: &[u8], to: &[u8]) -> bool {
    let Some(v) = m.remove(from) else {
        return false;
    };
    m.insert(to, v);
    true
}
