//! The event loop (`src/server.rs`) as clients meet it: deep pipelines, many connections at
//! once, a protocol error in the middle of a stream, waiting pops served in the order their
//! waits began, and a client that stops reading its replies while others go on.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{Client, V, arr, b, start};

fn pool_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.pool"));
    let _ = std::fs::remove_file(&p);
    p
}

fn encode(args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out += &format!("${}\r\n{a}\r\n", a.len());
    }
    out
}

/// 20,000 requests written at once (reads and writes interleaved): every reply, in order.
#[test]
fn a_deep_pipeline_gets_every_reply_in_order() {
    let (_server, port) = start(&pool_path("pipeline"), "sync");
    let mut c = Client::connect(port);
    let n = 10_000;
    let mut bytes = String::new();
    for i in 1..=n {
        bytes += &encode(&["INCR", "n"]);
        bytes += &encode(&["GET", "n"]);
        let _ = i;
    }
    let mut w = c.w.try_clone().unwrap();
    // Written from another thread: the replies fill the socket while the requests go out.
    let writer = std::thread::spawn(move || w.write_all(bytes.as_bytes()).unwrap());
    for i in 1..=n {
        assert_eq!(c.read(), V::I(i));
        assert_eq!(c.read(), b(&i.to_string()));
    }
    writer.join().unwrap();
    assert_eq!(c.cmd(&["GET", "n"]), b(&n.to_string()));
}

/// The requests before a malformed frame are answered, then the error, then the server
/// closes that connection; another connection does not notice.
#[test]
fn a_protocol_error_answers_what_came_before_then_closes() {
    let (_server, port) = start(&pool_path("proto"), "process");
    let mut other = Client::connect(port);
    let mut c = Client::connect(port);
    c.w.write_all(b"SET a 1\r\n*1\r\n$4\r\nPING\r\n*x\r\nGET a\r\n")
        .unwrap();
    assert_eq!(c.read(), V::S("OK".into()));
    assert_eq!(c.read(), V::S("PONG".into()));
    match c.read() {
        V::E(e) => assert!(e.starts_with("ERR Protocol error"), "{e}"),
        v => panic!("{v:?}"),
    }
    let mut rest = Vec::new();
    c.r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing after the error: {rest:?}");
    assert_eq!(other.cmd(&["GET", "a"]), b("1"));
}

/// 100 connections at once, each incrementing its own key and a shared one: every
/// increment counted once.
#[test]
fn many_connections_at_once() {
    let (_server, port) = start(&pool_path("many"), "process");
    let threads: Vec<_> = (0..100)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                let own = format!("own{t}");
                for i in 1..=50 {
                    assert_eq!(c.cmd(&["INCR", &own]), V::I(i));
                    assert!(matches!(c.cmd(&["INCR", "shared"]), V::I(_)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["GET", "shared"]), b("5000"));
    assert_eq!(c.cmd(&["GET", "own99"]), b("50"));
    assert_eq!(c.cmd(&["DBSIZE"]), V::I(101));
}

/// Two clients wait on one list: the one that began waiting first gets the first element.
#[test]
fn waiting_pops_are_served_in_the_order_they_began() {
    let (_server, port) = start(&pool_path("order"), "process");
    let waiter = |name: &'static str| {
        std::thread::spawn(move || {
            let mut w = Client::connect(port);
            (name, w.cmd(&["BLPOP", "q", "10"]))
        })
    };
    let first = waiter("first");
    std::thread::sleep(Duration::from_millis(200));
    let second = waiter("second");
    std::thread::sleep(Duration::from_millis(200));
    let mut c = Client::connect(port);
    assert_eq!(c.cmd(&["RPUSH", "q", "one"]), V::I(1));
    assert_eq!(first.join().unwrap(), ("first", arr(&["q", "one"])));
    assert_eq!(c.cmd(&["RPUSH", "q", "two"]), V::I(1));
    assert_eq!(second.join().unwrap(), ("second", arr(&["q", "two"])));
}

/// A client that sends many large GETs and reads none of the replies holds up nobody: the
/// server stops reading it once its replies pile up, and answers the others.
#[test]
fn a_client_that_stops_reading_holds_up_nobody() {
    let (_server, port) = start(&pool_path("slow"), "process");
    let mut c = Client::connect(port);
    let big = "v".repeat(256 << 10);
    assert_eq!(c.cmd(&["SET", "big", &big]), V::S("OK".into()));
    let mut lazy = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    lazy.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let get = encode(&["GET", "big"]);
    // ~100 MiB of replies asked for; the writes stop when the server stops reading.
    for _ in 0..400 {
        if lazy.write_all(get.as_bytes()).is_err() {
            break;
        }
    }
    for i in 0..100 {
        assert_eq!(c.cmd(&["INCR", "still"]), V::I(i + 1));
    }
    assert_eq!(c.cmd(&["STRLEN", "big"]), V::I(big.len() as i64));
    // The lazy client then reads: its first replies are whole.
    let mut r = Client {
        r: std::io::BufReader::new(lazy.try_clone().unwrap()),
        w: lazy,
    };
    r.w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(r.read(), b(&big));
}
