//! `pcoll-redis`: a Redis-protocol (RESP2) server whose whole keyspace lives in one pcoll
//! pool. Every write command is one pcoll transaction: a crash or kill leaves each command
//! all done or not done, and a restart costs an open of the pool file, whatever its size.
//! There is no recovery code in this program.
//!
//! `pcoll-redis [--port 6379] [--bind 127.0.0.1] [--pool PATH] [--durability sync|process]
//! [--requirepass PASS] [--maxclients N] [--proto-max-bulk-len BYTES] [--maxmemory BYTES]`

mod commit;
mod db;
mod deadlines;
mod expire;
mod watch;
mod zset;

use std::io::{BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pcoll::{Durability, Pool};
use pcoll_redis::resp;

use commit::{Committer, Unit};
use db::{Db, Kind};
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
            "--maxclients" => {
                c.maxclients = val()?.parse().map_err(|e| format!("--maxclients: {e}"))?
            }
            "-h" | "--help" => {
                return Err("usage: pcoll-redis [--port N] [--bind ADDR] [--pool PATH] \
                            [--durability sync|process] [--requirepass PASS] [--maxclients N] \
                            [--proto-max-bulk-len BYTES] [--maxmemory BYTES]"
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
    let mut opts = Pool::<Db>::options().durability(cfg.durability);
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
    let clients = Arc::new(AtomicUsize::new(0));
    let committer = Committer::start(pool.clone(), cfg.durability == Durability::Process);
    expire::start(pool.clone());
    let cfg = Arc::new(cfg);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (pool, clients, cfg) = (pool.clone(), clients.clone(), cfg.clone());
        if clients.fetch_add(1, Ordering::SeqCst) >= cfg.maxclients {
            clients.fetch_sub(1, Ordering::SeqCst);
            let mut s = stream;
            let _ = Reply::err("max number of clients reached").write(&mut s);
            continue;
        }
        let committer = committer.clone();
        std::thread::spawn(move || {
            let _ = serve(stream, &pool, &cfg, &committer);
            clients.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// One connection: requests in, replies out, in order (pipelining works: replies are
/// flushed when no request is waiting in the buffer). Write commands go to the committer
/// (`commit.rs`), with the writes right behind them in the buffer.
fn serve(stream: TcpStream, pool: &Pool<Db>, cfg: &Config, c: &Committer) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut r = BufReader::new(stream.try_clone()?);
    let mut w = BufWriter::new(stream);
    let mut authed = cfg.requirepass.is_none();
    // Commands queued by MULTI, until EXEC or DISCARD.
    let mut queued: Option<Vec<Vec<Vec<u8>>>> = None;
    // Keys watched (WATCH) until EXEC, DISCARD or UNWATCH.
    let mut watched = watch::Watched::default();
    // A request read while gathering a pipeline of writes, not a write itself.
    let mut next: Option<std::io::Result<Option<Vec<Vec<u8>>>>> = None;
    loop {
        let read = next
            .take()
            .unwrap_or_else(|| resp::read_request(&mut r, cfg.proto_max_bulk_len));
        let req = match read {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            Err(e) => {
                Reply::Error(format!("ERR {e}")).write(&mut w)?;
                w.flush()?;
                return Ok(());
            }
        };
        if req.is_empty() {
            continue;
        }
        let name = String::from_utf8_lossy(&req[0]).to_ascii_uppercase();
        let replies = match name.as_str() {
            "AUTH" => vec![match (&cfg.requirepass, req.last()) {
                (Some(p), Some(given)) if p.as_bytes() == &given[..] => {
                    authed = true;
                    Reply::OK
                }
                (None, _) => Reply::err("AUTH <password> called without any password configured"),
                _ => Reply::Error("WRONGPASS invalid username-password pair".into()),
            }],
            _ if !authed => vec![Reply::Error("NOAUTH Authentication required.".into())],
            "QUIT" => {
                Reply::OK.write(&mut w)?;
                w.flush()?;
                return Ok(());
            }
            "MULTI" if queued.is_some() => vec![Reply::err("MULTI calls can not be nested")],
            "MULTI" => {
                queued = Some(Vec::new());
                vec![Reply::OK]
            }
            "EXEC" => match queued.take() {
                Some(cmds) => c.run(vec![Unit::Exec(cmds, std::mem::take(&mut watched))]),
                None => vec![Reply::err("EXEC without MULTI")],
            },
            "DISCARD" => match queued.take() {
                Some(_) => {
                    watched = watch::Watched::default();
                    vec![Reply::OK]
                }
                None => vec![Reply::err("DISCARD without MULTI")],
            },
            "WATCH" if queued.is_some() => vec![Reply::err("WATCH inside MULTI is not allowed")],
            "WATCH" if req.len() < 2 => {
                vec![Reply::err("wrong number of arguments for 'watch' command")]
            }
            "WATCH" => {
                watched.add(req[1..].iter().map(Vec::as_slice));
                vec![Reply::OK]
            }
            "UNWATCH" => {
                watched = watch::Watched::default();
                vec![Reply::OK]
            }
            _ if queued.is_some() => {
                queued.as_mut().expect("in MULTI").push(req);
                vec![Reply::Simple("QUEUED")]
            }
            "BLPOP" | "BRPOP" => vec![block_pop(c, req)],
            _ if db::kind(&name) == Kind::Write => {
                let mut units = vec![Unit::Command(req)];
                while units.len() < 64 && !r.buffer().is_empty() {
                    match resp::read_request(&mut r, cfg.proto_max_bulk_len) {
                        Ok(Some(q)) if batchable(&q) => units.push(Unit::Command(q)),
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                c.run(units)
            }
            // A bug in a command must not take the connection down with it: its transaction
            // has rolled back when the panic reaches here; the client gets an error.
            _ => vec![
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    admin(&name, &req, pool, cfg).unwrap_or_else(|| db::execute_read(pool, &req))
                }))
                .unwrap_or_else(|_| Reply::err(format!("internal error in '{name}'"))),
            ],
        };
        for reply in replies {
            reply.write(&mut w)?;
        }
        if r.buffer().is_empty() && next.is_none() {
            w.flush()?;
        }
    }
}

/// A pipelined request that may join the write batch before it (a blocking pop waits alone).
fn batchable(q: &[Vec<u8>]) -> bool {
    let Some(name) = q.first().map(|n| db::upper(n)) else {
        return false;
    };
    db::kind(&name) == Kind::Write && !matches!(&name[..], "BLPOP" | "BRPOP")
}

/// BLPOP/BRPOP: pops as LPOP/RPOP of the first non-empty key; when all are empty, waits for
/// the next batch that changes something and tries again, until the timeout (0: forever).
fn block_pop(c: &Committer, req: Vec<Vec<u8>>) -> Reply {
    let once = |c: &Committer| {
        c.run(vec![Unit::Command(req.clone())])
            .pop()
            .unwrap_or_else(|| Reply::err("the committer stopped"))
    };
    let timeout = match db::block_timeout(&req) {
        Ok(t) if req.len() >= 3 => t,
        _ => return once(c), // the arity or timeout error, from the command itself
    };
    let until = (timeout > 0.0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_secs_f64(timeout));
    loop {
        let seen = c.generation();
        let r = once(c);
        if !matches!(r, Reply::Array(None)) {
            return r;
        }
        if !c.wait_change(seen, until) {
            return Reply::Array(None);
        }
    }
}

/// Commands about the connection or the server, not the keyspace.
fn admin(name: &str, req: &[Vec<u8>], pool: &Pool<Db>, cfg: &Config) -> Option<Reply> {
    Some(match name {
        "PING" => match req.get(1) {
            Some(m) => Reply::bulk(m),
            None => Reply::Simple("PONG"),
        },
        "ECHO" => match req.get(1) {
            Some(m) => Reply::bulk(m),
            None => Reply::err("wrong number of arguments for 'echo' command"),
        },
        "SELECT" if req.get(1).is_some_and(|d| &d[..] == b"0") => Reply::OK,
        "SELECT" => Reply::err("DB index is out of range"),
        "HELLO" if req.get(1).is_none_or(|v| &v[..] == b"2") => Reply::Array(Some(vec![
            Reply::bulk(b"server"),
            Reply::bulk(b"pcoll-redis"),
            Reply::bulk(b"version"),
            Reply::bulk(env!("CARGO_PKG_VERSION").as_bytes()),
            Reply::bulk(b"proto"),
            Reply::Int(2),
        ])),
        "HELLO" => Reply::Error("NOPROTO unsupported protocol version".into()),
        "COMMAND" => Reply::Array(Some(vec![])),
        "CONFIG" => config(req, cfg),
        "INFO" => {
            let s = pool.stats();
            let text = format!(
                "# Server\r\nredis_version:7.0.0-pcoll\r\npcoll_redis_version:{}\r\n\
                 tcp_port:{}\r\n\r\n# Persistence\r\npcoll_pool:{}\r\npcoll_durability:{:?}\r\n\
                 pcoll_commits:{}\r\npcoll_barriers:{}\r\n\r\n# Stats\r\nexpired_keys:{}\r\n\r\n\
                 # Keyspace\r\n",
                env!("CARGO_PKG_VERSION"),
                cfg.port,
                cfg.pool,
                cfg.durability,
                s.txn.commits,
                s.barriers,
                expire::expired_keys(),
            );
            let (keys, expires) = db::counts(&pool.read());
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
