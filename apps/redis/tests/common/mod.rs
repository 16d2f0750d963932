//! What the pcoll-redis tests share: the server as a child process, a RESP client.
#![allow(dead_code)] // each test file uses a subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server, killed (SIGKILL) when dropped, also when a test panics.
pub struct Server(pub Child);

impl Server {
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()
    }
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server on a free port, and that port.
pub fn start(pool: &std::path::Path, durability: &str) -> (Server, u16) {
    start_with(pool, durability, &[])
}

pub fn start_with(pool: &std::path::Path, durability: &str, extra: &[&str]) -> (Server, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pcoll-redis"))
        .args(["--port", "0", "--durability", durability])
        .args(extra)
        .arg("--pool")
        .arg(pool)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pcoll-redis");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (Server(child), port)
}

pub struct Client {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    S(String),
    E(String),
    I(i64),
    B(Option<String>),
    A(Option<Vec<V>>),
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    pub fn cmd(&mut self, args: &[&str]) -> V {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        self.w.write_all(out.as_bytes()).unwrap();
        self.read()
    }

    pub fn read(&mut self) -> V {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let (t, rest) = line.trim_end().split_at(1);
        match t {
            "+" => V::S(rest.into()),
            "-" => V::E(rest.into()),
            ":" => V::I(rest.parse().unwrap()),
            "$" if rest == "-1" => V::B(None),
            "$" => {
                let n: usize = rest.parse().unwrap();
                let mut b = vec![0; n + 2];
                self.r.read_exact(&mut b).unwrap();
                V::B(Some(String::from_utf8(b[..n].to_vec()).unwrap()))
            }
            "*" if rest == "-1" => V::A(None),
            "*" => V::A(Some(
                (0..rest.parse().unwrap()).map(|_| self.read()).collect(),
            )),
            _ => panic!("bad reply {line:?}"),
        }
    }
}

pub fn b(s: &str) -> V {
    V::B(Some(s.into()))
}

pub fn arr(items: &[&str]) -> V {
    V::A(Some(items.iter().map(|s| b(s)).collect()))
}

impl Client {
    /// `cmd` for a simple reply, or `None` when the connection broke (the server died).
    pub fn cmd_checked(&mut self, args: &[&str]) -> Option<V> {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        self.w.write_all(out.as_bytes()).ok()?;
        let mut line = String::new();
        if self.r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        line.strip_prefix('+')
            .map(|s| V::S(s.trim_end().to_string()))
    }
}

/// A free loopback port (free when asked: the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real `redis-server` (no persistence, working directory `dir`) on a free port, once it
/// answers; `None` when no `redis-server` is on the PATH.
pub fn redis_server(dir: &std::path::Path) -> Option<(Server, u16)> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    if found.is_err() {
        return None;
    }
    let port = free_port();
    let server = Server(
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()) // (a CI step pipes the test's output)
            .spawn()
            .unwrap(),
    );
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < until,
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Some((server, port))
}
