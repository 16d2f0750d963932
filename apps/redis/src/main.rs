//! `pcoll-redis`: a Redis-protocol (RESP2) server whose whole keyspace lives in one pcoll
//! pool. Every write command is one pcoll transaction: a crash or kill leaves each command
//! all done or not done, and a restart costs an open of the pool file, whatever its size.
//! There is no recovery code in this program.
//!
//! `pcoll-redis [--port 6379] [--bind 127.0.0.1] [--pool PATH] [--durability sync|process]
//! [--requirepass PASS] [--maxclients N] [--proto-max-bulk-len BYTES] [--maxmemory BYTES]`

mod cmd;
mod commit;
mod db;
mod deadlines;
mod expire;
mod poll;
mod prefetch;
#[cfg(test)]
mod probe;
mod scan;
mod server;
mod sets;
mod watch;
mod zset;

use std::net::TcpListener;
use std::sync::Arc;

use pcoll::{Durability, Pool, PoolStats};
use pcoll_redis::resp;

use cmd::Cmd;
use db::Db;
use resp::Reply;

/// Settings from the command line.
#[derive(Debug, Clone)]
struct Config {
    port: u16,
    bind: String,
    pool: String,
    durability: Durability,
    requirepass: Option<String>,
    maxclients: usize,
    /// Longest bulk string a request may carry (Redis's `proto-max-bulk-len`).
    proto_max_bulk_len: usize,
    /// The pool's size limit in bytes (Redis's `maxmemory`); writes past it answer `-OOM`.
    maxmemory: Option<u64>,
    /// A new pool's primary log, in bytes (half of it is the redo ring of `sync` mode).
    log_size: Option<u64>,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        port: 6379,
        bind: "127.0.0.1".into(),
        pool: "pcoll-redis.pool".into(),
        durability: Durability::Sync,
        requirepass: None,
        maxclients: 10_000,
        proto_max_bulk_len: resp::MAX_BULK,
        maxmemory: None,
        log_size: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--port" => c.port = val()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--bind" => c.bind = val()?,
            "--pool" => c.pool = val()?,
            "--durability" => {
                c.durability = match val()?.as_str() {
                    "sync" => Durability::Sync,
                    "process" => Durability::Process,
                    other => return Err(format!("--durability {other}: sync or process")),
                }
            }
            "--requirepass" => c.requirepass = Some(val()?),
            "--proto-max-bulk-len" => {
                c.proto_max_bulk_len = val()?
                    .parse()
                    .map_err(|e| format!("--proto-max-bulk-len: {e}"))?
            }
            "--maxmemory" => {
                c.maxmemory = Some(val()?.parse().map_err(|e| format!("--maxmemory: {e}"))?)
            }
            "--log-size" => {
                c.log_size = Some(val()?.parse().map_err(|e| format!("--log-size: {e}"))?)
            }
            "--maxclients" => {
                c.maxclients = val()?.parse().map_err(|e| format!("--maxclients: {e}"))?
            }
            "-h" | "--help" => {
                return Err("usage: pcoll-redis [--port N] [--bind ADDR] [--pool PATH] \
                            [--durability sync|process] [--requirepass PASS] [--maxclients N] \
                            [--proto-max-bulk-len BYTES] [--maxmemory BYTES] [--log-size BYTES]"
                    .into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(c)
}

fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let started = std::time::Instant::now();
    // A log of 128 MiB gives new pools a 64 MiB redo ring: a round of pipelined writes from
    // many clients commits with one barrier (`txn/redo.rs`), and a checkpoint comes every
    // 32 MiB of records. Durable pipelined ZADDs against Redis's AOF `always`: 0.72x with a
    // 32 MiB log, 0.85-0.93x with 64 MiB, 0.95-1.04x with this one. A kill under load leaves
    // up to 32 MiB to replay: 0.15-0.2 s (64 MiB: up to 0.13 s); an idle server has
    // checkpointed (BENCHMARKS.md). A small `--maxmemory` gets a log in proportion.
    let log = cfg.log_size.unwrap_or_else(|| {
        cfg.maxmemory
            .map_or(128 << 20, |m| (m / 16).clamp(64 << 10, 128 << 20))
    });
    let mut opts = Pool::<Db>::options()
        .durability(cfg.durability)
        .log_size(log);
    if let Some(m) = cfg.maxmemory {
        opts = opts.max_size(m);
    }
    let pool = match deadlines::open(opts, std::path::Path::new(&cfg.pool)) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("pcoll-redis: {e}");
            std::process::exit(1);
        }
    };
    let listener = match TcpListener::bind((cfg.bind.as_str(), cfg.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pcoll-redis: bind {}:{}: {e}", cfg.bind, cfg.port);
            std::process::exit(1);
        }
    };
    eprintln!(
        "pcoll-redis: {} open in {:.2} ms, listening on {}:{}",
        cfg.pool,
        started.elapsed().as_secs_f64() * 1e3,
        cfg.bind,
        listener.local_addr().map_or(cfg.port, |a| a.port())
    );
    expire::start(pool.clone());
    if let Err(e) = server::run(listener, &pool, &cfg) {
        eprintln!("pcoll-redis: {e}");
        std::process::exit(1);
    }
}

/// Commands about the connection or the server, not the keyspace.
fn admin(cmd: Option<Cmd>, req: &[Vec<u8>], s: &PoolStats, d: &Db, cfg: &Config) -> Option<Reply> {
    Some(match cmd {
        Some(Cmd::Ping) => match req.get(1) {
            Some(m) => Reply::bulk(m),
            None => Reply::Simple("PONG"),
        },
        Some(Cmd::Echo) => match req.get(1) {
            Some(m) => Reply::bulk(m),
            None => Reply::err("wrong number of arguments for 'echo' command"),
        },
        Some(Cmd::Select) if req.get(1).is_some_and(|d| &d[..] == b"0") => Reply::OK,
        Some(Cmd::Select) => Reply::err("DB index is out of range"),
        Some(Cmd::Hello) if req.get(1).is_none_or(|v| &v[..] == b"2") => Reply::Array(Some(vec![
            Reply::bulk(b"server"),
            Reply::bulk(b"pcoll-redis"),
            Reply::bulk(b"version"),
            Reply::bulk(env!("CARGO_PKG_VERSION").as_bytes()),
            Reply::bulk(b"proto"),
            Reply::Int(2),
        ])),
        Some(Cmd::Hello) => Reply::Error("NOPROTO unsupported protocol version".into()),
        Some(Cmd::Command) => Reply::Array(Some(vec![])),
        Some(Cmd::Config) => config(req, cfg),
        Some(Cmd::Info) => {
            let text = format!(
                "# Server\r\nredis_version:7.0.0-pcoll\r\npcoll_redis_version:{}\r\n\
                 tcp_port:{}\r\n\r\n# Persistence\r\npcoll_pool:{}\r\npcoll_durability:{:?}\r\n\
                 pcoll_commits:{}\r\npcoll_barriers:{}\r\npcoll_synced_bytes:{}\r\npcoll_checkpoints:{}\r\npcoll_log_bytes:{}\r\n\
                 pcoll_log_entries:{}\r\n\r\n# Stats\r\nexpired_keys:{}\r\n\r\n\
                 # Keyspace\r\n",
                env!("CARGO_PKG_VERSION"),
                cfg.port,
                cfg.pool,
                cfg.durability,
                s.txn.commits,
                s.barriers,
                s.synced_bytes,
                s.txn.checkpoints,
                s.txn.log_bytes,
                s.txn.log_entries,
                expire::expired_keys(),
            );
            let (keys, expires) = db::counts(d);
            let keyspace = if keys > 0 {
                format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n")
            } else {
                String::new()
            };
            Reply::bulk((text + &keyspace).as_bytes())
        }
        _ => return None,
    })
}

/// `CONFIG GET` answers the parameters it knows; `CONFIG SET` accepts Redis's tuning
/// parameters that do not apply here (encodings, save points, ...) and answers OK.
fn config(req: &[Vec<u8>], cfg: &Config) -> Reply {
    let sub = req
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_uppercase());
    match sub.as_deref() {
        Some("GET") => {
            let known = [
                ("port", cfg.port.to_string()),
                ("bind", cfg.bind.clone()),
                ("maxclients", cfg.maxclients.to_string()),
                ("save", String::new()),
                ("appendonly", "no".to_string()),
                ("databases", "1".to_string()),
            ];
            let pat = req.get(2).map_or(&b"*"[..], |p| &p[..]);
            Reply::Array(Some(
                known
                    .iter()
                    .filter(|(k, _)| db::glob(pat, k.as_bytes()))
                    .flat_map(|(k, v)| [Reply::bulk(k.as_bytes()), Reply::bulk(v.as_bytes())])
                    .collect(),
            ))
        }
        Some("SET") | Some("RESETSTAT") | Some("REWRITE") => Reply::OK,
        _ => Reply::err("unknown CONFIG subcommand"),
    }
}
