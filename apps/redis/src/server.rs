//! The event loop: one thread serves every connection, as Redis's does. Each round it waits
//! for sockets with bytes (`poll.rs`), reads what they sent, parses the whole requests, and
//! runs every request it found, from all connections, in one pcoll transaction (a read guard
//! when none of them writes): one commit, in `sync` mode one `fdatasync`, for the round.
//! Replies go out only after that commit, so nothing is acknowledged before it is durable.
//!
//! Why one thread: with a thread per connection every request woke a thread, and on a
//! 2-core machine those switches were most of the server's time (a third of its cycles in
//! `finish_task_switch`). Here a round serves as many requests as arrived, and the
//! requests of a round share their commit (group commit, with no thread hop).
//!
//! A second after the last write, the loop checkpoints the pool (`commit::Idle`): a kill
//! while the server is idle then leaves a file with no redo records to replay.
//!
//! A connection's requests run in order; one that waits (BLPOP on empty lists) holds back the
//! requests behind it and is tried again after each round that changed something, in the
//! order the waits began, until its timeout.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use pcoll::Pool;

use crate::cmd::{Cmd, Kind};
use crate::commit::{self, Access};
use crate::db::{self, Db};
use crate::poll::{Poller, Want};
use crate::prefetch;
use crate::resp::{self, Parsed, Reply};
use crate::watch::Watched;
use crate::{Config, admin};

/// The listener's token; connections have their slot index + 1.
const LISTENER: u64 = 0;
/// Bytes read from one connection per round (level-triggered polling brings it back).
const READ_PER_ROUND: usize = 4 << 20;
/// Requests one connection runs per round, and all connections together.
const PER_CONN: usize = 1024;
const PER_ROUND: usize = 8192;
/// A connection whose replies pile up past this stops being read until they drain.
const OUT_HIGH: usize = 64 << 20;

/// What a connection sent that is still to run, in order.
enum Item {
    Request(Vec<Vec<u8>>),
    /// The input could not be parsed: answered, then the connection closes.
    ProtocolError(String),
}

/// A BLPOP/BRPOP that found nothing and waits.
struct Waiting {
    req: Vec<Vec<u8>>,
    until: Option<Instant>,
}

struct Conn {
    stream: TcpStream,
    inbuf: Vec<u8>,
    /// Parse again only once `inbuf` holds this many bytes (see `resp::Parsed`).
    need: usize,
    items: VecDeque<Item>,
    out: Vec<u8>,
    sent: usize,
    /// What the socket is watched for: writing while replies wait for room, reading
    /// unless replies piled up past [`OUT_HIGH`] (the client is not reading them).
    want: Want,
    authed: bool,
    /// Commands queued by MULTI, until EXEC or DISCARD.
    queued: Option<Vec<Vec<Vec<u8>>>>,
    /// Keys watched (WATCH) until EXEC, DISCARD or UNWATCH.
    watched: Watched,
    waiting: Option<Waiting>,
    /// The peer closed its side, or QUIT or a protocol error: close once replies are out.
    closing: bool,
}

impl Conn {
    fn new(stream: TcpStream, cfg: &Config) -> Conn {
        Conn {
            stream,
            inbuf: Vec::new(),
            need: 0,
            items: VecDeque::new(),
            out: Vec::new(),
            sent: 0,
            want: Want {
                read: true,
                write: false,
            },
            authed: cfg.requirepass.is_none(),
            queued: None,
            watched: Watched::default(),
            waiting: None,
            closing: false,
        }
    }

    /// Reads what the socket has (up to a round's share) and parses the whole requests.
    fn read(&mut self, max_bulk: usize) {
        // One zeroed chunk for the thread, not one per call (zeroing 64 KiB per call was 3%
        // of a pipelined SET's server time).
        thread_local! {
            static CHUNK: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 << 10]);
        }
        let mut got = 0;
        while got < READ_PER_ROUND && !self.closing {
            let res = CHUNK.with_borrow_mut(|chunk| {
                let n = self.stream.read(chunk)?;
                self.inbuf.extend_from_slice(&chunk[..n]);
                Ok::<_, io::Error>(n)
            });
            match res {
                Ok(0) => self.closing = true,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.closing = true,
            }
        }
        self.parse(max_bulk);
    }

    fn parse(&mut self, max_bulk: usize) {
        let mut at = 0;
        while self.inbuf.len() >= self.need.max(at + 1) {
            match resp::parse(&self.inbuf[at..], max_bulk) {
                Ok(Parsed::Request(req, used)) => {
                    at += used;
                    self.need = 0;
                    if !req.is_empty() {
                        self.items.push_back(Item::Request(req));
                    }
                }
                Ok(Parsed::Incomplete(n)) => {
                    self.need = at + n;
                    break;
                }
                Err(e) => {
                    // As Redis: answer, then close; nothing after the bad frame runs.
                    self.items
                        .push_back(Item::ProtocolError(format!("ERR {e}")));
                    self.inbuf.clear();
                    self.closing = true;
                    return;
                }
            }
        }
        self.inbuf.drain(..at);
        self.need = self.need.saturating_sub(at);
    }

    /// Sends what it can of the replies; false when the socket failed.
    fn flush(&mut self) -> bool {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return false,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        self.out.clear();
        self.sent = 0;
        true
    }

    fn has_work(&self) -> bool {
        self.waiting.is_none() && !self.items.is_empty() && self.out.len() < OUT_HIGH
    }
}

/// A reply of a round, and whether it came from the keyspace (a failed commit replaces it).
struct Staged {
    reply: Reply,
    keyspace: bool,
}

impl Staged {
    fn keyspace(reply: Reply) -> Staged {
        Staged {
            reply,
            keyspace: true,
        }
    }
}

/// Serves `listener` until the process ends.
pub fn run(listener: TcpListener, pool: &Pool<Db>, cfg: &Config) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut poller = Poller::new()?;
    let read = Want {
        read: true,
        write: false,
    };
    poller.add(&listener, LISTENER, read)?;
    let mut slots: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut clients = 0usize;
    // Waiting connections, in the order their waits began.
    let mut waiters: VecDeque<usize> = VecDeque::new();
    // The last round changed the keyspace: the waiting pops try again.
    let mut retry = false;
    // Connections that had events or work left over; `in_order` dedups a round's order.
    let mut busy: Vec<usize> = Vec::new();
    let mut in_order: Vec<bool> = Vec::new();
    let mut idle = commit::Idle::default();
    loop {
        let pending = retry
            || busy
                .iter()
                .any(|&i| slots[i].as_ref().is_some_and(Conn::has_work));
        let timeout = if pending {
            Some(Duration::ZERO)
        } else {
            let deadline = next_deadline(&slots, &waiters)
                .into_iter()
                .chain(idle.deadline())
                .min();
            deadline.map(|t| t.saturating_duration_since(Instant::now()))
        };
        for ev in poller.wait(timeout)? {
            if ev.token == LISTENER {
                accept(&listener, &poller, &mut slots, &mut free, &mut clients, cfg);
                continue;
            }
            let i = (ev.token - 1) as usize;
            let Some(c) = slots.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if ev.read {
                c.read(cfg.proto_max_bulk_len);
            }
            if ev.write && !c.flush() {
                c.closing = true;
                c.out.clear();
            }
            busy.push(i);
        }
        busy.extend(expire_waits(&mut slots, &mut waiters, Instant::now()));
        // This round: the waiting connections first (in the order their waits began), then
        // every other one with something to do.
        in_order.resize(slots.len(), false);
        let mut order: Vec<usize> = Vec::new();
        let first = if retry { Some(waiters.iter()) } else { None };
        for i in first.into_iter().flatten().chain(busy.iter()).copied() {
            if !std::mem::replace(&mut in_order[i], true) {
                order.push(i);
            }
        }
        for &i in &order {
            in_order[i] = false;
        }
        let wrote;
        (retry, wrote) = round(pool, cfg, &mut slots, &order, &mut waiters);
        if wrote {
            idle.wrote();
        }
        idle.tick(pool);
        busy.clear();
        for i in order {
            finish(
                &poller,
                &mut slots,
                &mut free,
                &mut clients,
                &mut waiters,
                i,
            );
            if slots[i].as_ref().is_some_and(Conn::has_work) {
                busy.push(i);
            }
        }
    }
}

fn accept(
    listener: &TcpListener,
    poller: &Poller,
    slots: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
    clients: &mut usize,
    cfg: &Config,
) {
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => return, // (EMFILE and the like: the next round tries again)
        };
        if *clients >= cfg.maxclients {
            let mut s = stream;
            let _ = Reply::err("max number of clients reached").write(&mut s);
            continue;
        }
        if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
            continue;
        }
        let i = free.pop().unwrap_or_else(|| {
            slots.push(None);
            slots.len() - 1
        });
        let want = Want {
            read: true,
            write: false,
        };
        if poller.add(&stream, i as u64 + 1, want).is_err() {
            free.push(i);
            continue;
        }
        slots[i] = Some(Conn::new(stream, cfg));
        *clients += 1;
    }
}

/// The earliest timeout of a waiting pop.
fn next_deadline(slots: &[Option<Conn>], waiters: &VecDeque<usize>) -> Option<Instant> {
    waiters
        .iter()
        .filter_map(|&i| slots[i].as_ref()?.waiting.as_ref()?.until)
        .min()
}

/// Answers the waiting pops whose timeout passed with a null, as Redis does: the
/// connections released (their queued requests may run now).
fn expire_waits(
    slots: &mut [Option<Conn>],
    waiters: &mut VecDeque<usize>,
    now: Instant,
) -> Vec<usize> {
    let mut released = Vec::new();
    waiters.retain(|&i| {
        let Some(c) = slots[i].as_mut() else {
            return false;
        };
        if c.waiting
            .as_ref()
            .is_some_and(|w| w.until.is_some_and(|t| t <= now))
        {
            c.waiting = None;
            Reply::Array(None).write(&mut c.out).expect("to memory");
            released.push(i);
            return false;
        }
        true
    });
    released
}

/// Runs one round over the connections `order`, in one transaction (or a read guard): whether
/// it changed the keyspace (waiting pops try again), and whether it committed a transaction.
fn round(
    pool: &Pool<Db>,
    cfg: &Config,
    slots: &mut [Option<Conn>],
    order: &[usize],
    waiters: &mut VecDeque<usize>,
) -> (bool, bool) {
    let writes = order.iter().any(|&i| {
        slots[i].as_ref().is_some_and(|c| {
            c.waiting.is_some()
                || c.items
                    .iter()
                    .take(PER_CONN)
                    .any(|it| matches!(it, Item::Request(r) if writes(r)))
        })
    });
    // Replies per connection, in order. A request gets its place before it runs, holding
    // the error it answers if the round panics there (every request taken gets a reply).
    let mut staged: Vec<(usize, Vec<Staged>)> = Vec::new();
    // Connections whose pop began waiting in this round.
    let mut began: Vec<usize> = Vec::new();
    let mut changed = false;
    let ok = commit::run_round(pool, writes, |access| {
        prefetch(access, slots, order);
        let mut budget = PER_ROUND;
        for &i in order {
            let Some(c) = slots[i].as_mut() else { continue };
            staged.push((i, Vec::new()));
            let out = &mut staged.last_mut().expect("just pushed").1;
            if let Some(w) = c.waiting.take() {
                out.push(Staged::keyspace(Reply::Array(None)));
                match commit::pop_or_wait(access, &w.req) {
                    Some(r) => {
                        changed = true;
                        *out.last_mut().expect("its place") = Staged::keyspace(r);
                    }
                    None => {
                        out.pop();
                        c.waiting = Some(w);
                    }
                }
            }
            let mut n = 0;
            while c.waiting.is_none() && n < PER_CONN && budget > 0 {
                let Some(item) = c.items.pop_front() else {
                    break;
                };
                n += 1;
                budget -= 1;
                match item {
                    Item::ProtocolError(e) => {
                        out.push(Staged {
                            reply: Reply::Error(e),
                            keyspace: false,
                        });
                        c.items.clear();
                    }
                    Item::Request(req) => {
                        out.push(Staged::keyspace(Reply::Array(None)));
                        match handle(c, req, access, cfg, &mut changed) {
                            Some(s) => *out.last_mut().expect("its place") = s,
                            None => {
                                out.pop();
                                began.push(i);
                            }
                        }
                    }
                }
            }
        }
    });
    for (i, replies) in staged {
        let c = slots[i]
            .as_mut()
            .expect("a staged connection stays until its replies are out");
        for s in replies {
            let reply = match (&ok, s.keyspace) {
                (Err(e), true) => Reply::Error(e.clone()),
                _ => s.reply,
            };
            reply.write(&mut c.out).expect("to memory");
        }
    }
    match ok {
        Ok(()) => {
            waiters.extend(began);
            (changed, writes)
        }
        Err(e) => {
            // Nothing of the round happened: a pop that began waiting in it answers the
            // error instead.
            for i in began {
                if let Some(c) = slots[i].as_mut()
                    && c.waiting.take().is_some()
                {
                    Reply::Error(e.clone())
                        .write(&mut c.out)
                        .expect("to memory");
                }
            }
            (false, false)
        }
    }
}

/// The round's requests, for `prefetch::round`.
fn prefetch(access: &Access<'_>, slots: &[Option<Conn>], order: &[usize]) {
    prefetch::round(access.db(), || {
        order
            .iter()
            .filter_map(|&i| slots[i].as_ref())
            .flat_map(|c| c.items.iter().take(PER_CONN))
            .take(PER_ROUND)
            .filter_map(|it| match it {
                Item::Request(r) => Some(r.as_slice()),
                Item::ProtocolError(_) => None,
            })
    });
}

/// True for a request that may change the keyspace (the round then needs a transaction).
fn writes(req: &[Vec<u8>]) -> bool {
    Cmd::of(req).is_some_and(|c| c.kind() == Kind::Write || c == Cmd::Exec)
}

/// One request of connection `c`: its reply, or `None` when it waits (a blocking pop) or
/// its reply is already written (QUIT).
fn handle(
    c: &mut Conn,
    req: Vec<Vec<u8>>,
    access: &mut Access<'_>,
    cfg: &Config,
    changed: &mut bool,
) -> Option<Staged> {
    let local = |reply| {
        Some(Staged {
            reply,
            keyspace: false,
        })
    };
    let cmd = Cmd::of(&req);
    match cmd {
        Some(Cmd::Auth) => local(match (&cfg.requirepass, req.last()) {
            (Some(p), Some(given)) if p.as_bytes() == &given[..] => {
                c.authed = true;
                Reply::OK
            }
            (None, _) => Reply::err("AUTH <password> called without any password configured"),
            _ => Reply::Error("WRONGPASS invalid username-password pair".into()),
        }),
        _ if !c.authed => local(Reply::Error("NOAUTH Authentication required.".into())),
        Some(Cmd::Quit) => {
            c.closing = true;
            c.items.clear();
            local(Reply::OK)
        }
        Some(Cmd::Multi) if c.queued.is_some() => {
            local(Reply::err("MULTI calls can not be nested"))
        }
        Some(Cmd::Multi) => {
            c.queued = Some(Vec::new());
            local(Reply::OK)
        }
        Some(Cmd::Exec) => match c.queued.take() {
            Some(cmds) => {
                let watched = std::mem::take(&mut c.watched);
                *changed = true;
                Some(Staged::keyspace(commit::exec(access, &cmds, &watched)))
            }
            None => local(Reply::err("EXEC without MULTI")),
        },
        Some(Cmd::Discard) => match c.queued.take() {
            Some(_) => {
                c.watched = Watched::default();
                local(Reply::OK)
            }
            None => local(Reply::err("DISCARD without MULTI")),
        },
        Some(Cmd::Watch) if c.queued.is_some() => {
            local(Reply::err("WATCH inside MULTI is not allowed"))
        }
        Some(Cmd::Watch) if req.len() < 2 => {
            local(Reply::err("wrong number of arguments for 'watch' command"))
        }
        Some(Cmd::Watch) => {
            c.watched.add(req[1..].iter().map(Vec::as_slice));
            local(Reply::OK)
        }
        Some(Cmd::Unwatch) => {
            c.watched = Watched::default();
            local(Reply::OK)
        }
        _ if c.queued.is_some() => {
            c.queued.as_mut().expect("in MULTI").push(req);
            local(Reply::Simple("QUEUED"))
        }
        Some(Cmd::Blpop) | Some(Cmd::Brpop) => match db::block_timeout(&req) {
            Ok(t) if req.len() >= 3 => match commit::pop_or_wait(access, &req) {
                Some(r) => {
                    *changed = true;
                    Some(Staged::keyspace(r))
                }
                None => {
                    let until = (t > 0.0).then(|| Instant::now() + Duration::from_secs_f64(t));
                    c.waiting = Some(Waiting { req, until });
                    None
                }
            },
            // The arity or timeout error, from the command itself.
            _ => Some(Staged::keyspace(commit::command(access, cmd, &req))),
        },
        _ => {
            if let Some(r) = admin(cmd, &req, &access.stats, access.db(), cfg) {
                return local(r);
            }
            if cmd.is_some_and(|c| c.kind() == Kind::Write) {
                *changed = true;
            }
            let reply = commit::command(access, cmd, &req);
            resp::spare::recycle(req);
            Some(Staged::keyspace(reply))
        }
    }
}

/// After a round: sends connection `i`'s replies; closes it when it is done.
fn finish(
    poller: &Poller,
    slots: &mut [Option<Conn>],
    free: &mut Vec<usize>,
    clients: &mut usize,
    waiters: &mut VecDeque<usize>,
    i: usize,
) {
    let Some(c) = slots[i].as_mut() else { return };
    let alive = c.flush();
    let drained = c.out.is_empty();
    let done = !alive || (c.closing && drained && c.items.is_empty() && c.waiting.is_none());
    // A peer that closed while a pop waits: nobody will read the answer.
    let gone = c.closing && c.waiting.is_some() && c.items.is_empty();
    if done || gone {
        let _ = poller.remove(&c.stream);
        slots[i] = None;
        free.push(i);
        *clients -= 1;
        waiters.retain(|&w| w != i);
        return;
    }
    let want = Want {
        read: !c.closing && c.out.len() < OUT_HIGH,
        write: !drained,
    };
    if want != c.want {
        c.want = want;
        let _ = poller.modify(&c.stream, i as u64 + 1, want);
    }
}
