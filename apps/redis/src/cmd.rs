//! Every command this server knows, in one table: its name, what it touches ([`Kind`]) and
//! its fewest arguments. A request's name is looked up once ([`Cmd::parse`]: upper-cased
//! into one integer, then a binary search); everything after dispatches on the enum. The
//! string matches it replaces compared a pipelined request's name with dozens of others,
//! and upper-cased and hashed it three or four times.

use std::sync::LazyLock;

/// What a command touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads the keyspace only: runs under a read guard.
    Read,
    /// Changes the keyspace: runs in a transaction (see `commit.rs`).
    Write,
    /// The connection or the server (`server.rs`, `main.rs`), not the keyspace.
    Conn,
}

macro_rules! commands {
    ($($v:ident $name:literal $kind:ident $min:literal,)*) => {
        /// A command this server knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Cmd {
            $(#[doc = $name] $v,)*
        }

        const ALL: &[Cmd] = &[$(Cmd::$v,)*];

        impl Cmd {
            /// Its name, upper case.
            pub fn name(self) -> &'static str {
                match self {
                    $(Cmd::$v => $name,)*
                }
            }

            /// What it touches.
            pub fn kind(self) -> Kind {
                match self {
                    $(Cmd::$v => Kind::$kind,)*
                }
            }

            /// Its fewest arguments, its name included (fewer answer Redis's arity error).
            pub fn min_args(self) -> usize {
                match self {
                    $(Cmd::$v => $min,)*
                }
            }
        }
    };
}

commands! {
    // Keyspace reads.
    Get "GET" Read 2,
    Mget "MGET" Read 2,
    Exists "EXISTS" Read 2,
    Type "TYPE" Read 2,
    Keys "KEYS" Read 2,
    Dbsize "DBSIZE" Read 1,
    Ttl "TTL" Read 2,
    Pttl "PTTL" Read 2,
    Strlen "STRLEN" Read 2,
    Getrange "GETRANGE" Read 4,
    Llen "LLEN" Read 2,
    Lrange "LRANGE" Read 4,
    Lindex "LINDEX" Read 3,
    Hget "HGET" Read 3,
    Hmget "HMGET" Read 3,
    Hgetall "HGETALL" Read 2,
    Hlen "HLEN" Read 2,
    Hexists "HEXISTS" Read 3,
    Hkeys "HKEYS" Read 2,
    Hvals "HVALS" Read 2,
    Smembers "SMEMBERS" Read 2,
    Srandmember "SRANDMEMBER" Read 2,
    Sismember "SISMEMBER" Read 3,
    Scard "SCARD" Read 2,
    Sinter "SINTER" Read 2,
    Sunion "SUNION" Read 2,
    Zscore "ZSCORE" Read 3,
    Zcard "ZCARD" Read 2,
    Zrank "ZRANK" Read 3,
    Zrevrank "ZREVRANK" Read 3,
    Zcount "ZCOUNT" Read 4,
    Zrange "ZRANGE" Read 4,
    Zrevrange "ZREVRANGE" Read 4,
    Zrangebyscore "ZRANGEBYSCORE" Read 4,
    Scan "SCAN" Read 2,
    // Keyspace writes.
    Set "SET" Write 3,
    Setnx "SETNX" Write 3,
    Setex "SETEX" Write 4,
    Psetex "PSETEX" Write 4,
    Getset "GETSET" Write 3,
    Getdel "GETDEL" Write 2,
    Mset "MSET" Write 3,
    Del "DEL" Write 2,
    Unlink "UNLINK" Write 2,
    Incr "INCR" Write 2,
    Decr "DECR" Write 2,
    Incrby "INCRBY" Write 3,
    Decrby "DECRBY" Write 3,
    Incrbyfloat "INCRBYFLOAT" Write 3,
    Append "APPEND" Write 3,
    Setrange "SETRANGE" Write 4,
    Expire "EXPIRE" Write 3,
    Pexpire "PEXPIRE" Write 3,
    Persist "PERSIST" Write 2,
    Rename "RENAME" Write 3,
    Flushdb "FLUSHDB" Write 1,
    Flushall "FLUSHALL" Write 1,
    Lpush "LPUSH" Write 3,
    Rpush "RPUSH" Write 3,
    Lpop "LPOP" Write 2,
    Rpop "RPOP" Write 2,
    Blpop "BLPOP" Write 3,
    Brpop "BRPOP" Write 3,
    Lset "LSET" Write 4,
    Lrem "LREM" Write 4,
    Ltrim "LTRIM" Write 4,
    Hset "HSET" Write 4,
    Hmset "HMSET" Write 4,
    Hdel "HDEL" Write 3,
    Hincrby "HINCRBY" Write 4,
    Sadd "SADD" Write 3,
    Srem "SREM" Write 3,
    Spop "SPOP" Write 2,
    Zadd "ZADD" Write 4,
    Zincrby "ZINCRBY" Write 4,
    Zrem "ZREM" Write 3,
    // The connection and the server.
    Auth "AUTH" Conn 1,
    Quit "QUIT" Conn 1,
    Multi "MULTI" Conn 1,
    Exec "EXEC" Conn 1,
    Discard "DISCARD" Conn 1,
    Watch "WATCH" Conn 1,
    Unwatch "UNWATCH" Conn 1,
    Ping "PING" Conn 1,
    Echo "ECHO" Conn 1,
    Select "SELECT" Conn 1,
    Hello "HELLO" Conn 1,
    Command "COMMAND" Conn 1,
    Config "CONFIG" Conn 1,
    Info "INFO" Conn 1,
}

/// Longest name that can match: the packed form keeps its length in the last byte.
const MAX_NAME: usize = 15;

/// `b` upper-cased, zero-padded and its length in the last byte, as one integer (ordered as
/// the bytes are); `None` when it is empty or longer than any name.
fn packed(b: &[u8]) -> Option<u128> {
    if b.is_empty() || b.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..b.len()].copy_from_slice(b);
    buf.make_ascii_uppercase();
    buf[15] = b.len() as u8;
    Some(u128::from_be_bytes(buf))
}

/// The table, sorted by packed name.
static SORTED: LazyLock<Vec<(u128, Cmd)>> = LazyLock::new(|| {
    let mut t: Vec<_> = ALL
        .iter()
        .map(|&c| (packed(c.name().as_bytes()).expect("names fit"), c))
        .collect();
    t.sort_unstable_by_key(|&(k, _)| k);
    t
});

impl Cmd {
    /// The command `name` (any case) names, if this server knows it.
    pub fn parse(name: &[u8]) -> Option<Cmd> {
        let key = packed(name)?;
        let t = &*SORTED;
        t.binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| t[i].1)
    }

    /// The command a request names.
    pub fn of(req: &[Vec<u8>]) -> Option<Cmd> {
        req.first().and_then(|n| Cmd::parse(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_to_its_command_in_any_case() {
        for &c in ALL {
            assert_eq!(Cmd::parse(c.name().as_bytes()), Some(c));
            assert_eq!(Cmd::parse(c.name().to_lowercase().as_bytes()), Some(c));
            assert!(c.min_args() >= 1);
        }
        let mut names: Vec<_> = ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name twice in the table");
    }

    #[test]
    fn near_names_are_unknown() {
        for n in [
            &b""[..],
            b"GE",
            b"GETT",
            b"GET\0",
            b"\0GET",
            b"G\xc3\xa9T",
            b"ZRANGEBYSCOREXYZ",
            b"ZRANGEBYSCORE\0\0\0",
        ] {
            assert_eq!(Cmd::parse(n), None, "{n:?}");
        }
        assert_eq!(Cmd::parse(b"gEt"), Some(Cmd::Get));
    }
}
