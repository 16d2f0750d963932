//! A measurement, not a test of correctness (ignored by `cargo test`): the keyspace's time per
//! request for rounds of 400 requests, with and without `prefetch::round`, in process
//! (no network, no client sharing the cores). Run:
//! `cargo test --release -p pcoll-redis --bin pcoll-redis -- --ignored --nocapture probe`.
//! A pool of ~700,000 keys (`SET key:<random below 10^6>` with 100-byte values, 1 M writes);
//! then, per command, six rounds of 300 batches, each batch timed with and without prefetch
//! (interleaved). SET and GET draw random keys; LPUSH and RPOP use one list (the case where
//! prefetching buys nothing and must cost little); SADD, HSET and ZADD write random members
//! of one set, hash and sorted set (each first filled with 400,000 writes), as
//! redis-benchmark does: the key repeats, so only its first request is prefetched, and the
//! members' own lookups are not (prefetching them too was tried: no gain beyond the noise).
//! The requests are redis-benchmark's (`INCR counter:<n>`, `ZADD myzset <n> element:<n>`).
//! `PROBE_CMDS="ZADD HSET"` measures only those.

use pcoll::{Durability, Pool};

use crate::db::{self, Db};
use crate::prefetch;

type Request = Vec<Vec<u8>>;

fn batch(cmd: &str, rnd: &mut impl FnMut() -> u64) -> Vec<Request> {
    (0..400)
        .map(|_| {
            let member = format!("element:{:012}", rnd() % 1_000_000).into_bytes();
            let key = match cmd {
                "INCR" => format!("counter:{:012}", rnd() % 1_000_000).into_bytes(),
                "LPUSH" | "RPOP" => b"mylist".to_vec(),
                "SADD" => b"myset".to_vec(),
                "HSET" => b"myhash".to_vec(),
                "ZADD" => b"myzset".to_vec(),
                _ => format!("key:{:012}", rnd() % 1_000_000).into_bytes(),
            };
            let mut r = vec![cmd.as_bytes().to_vec(), key];
            match cmd {
                "SET" | "LPUSH" => r.push(vec![b'x'; 100]),
                "SADD" => r.push(member),
                "HSET" => r.extend([member, vec![b'x'; 100]]),
                "ZADD" => r.extend([format!("{:012}", rnd() % 1_000_000).into_bytes(), member]),
                _ => {}
            }
            r
        })
        .collect()
}

#[test]
#[ignore = "a measurement: run it with --ignored --nocapture"]
fn probe_prefetch_round() {
    let dir = std::env::temp_dir().join(format!("pcoll-redis-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool = Pool::<Db>::options()
        .durability(Durability::Process)
        .log_size(8 << 20)
        .create(dir.join("probe.pool"))
        .unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let run = |reqs: &[Request], pf: bool| {
        pool.transaction(|d| {
            if pf {
                prefetch::round(d, || reqs.iter().map(Vec::as_slice));
            }
            for r in reqs {
                db::run(d, r, 1);
            }
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
    };
    for _ in 0..2500 {
        run(&batch("SET", &mut rnd), false);
    }
    for _ in 0..1000 {
        for cmd in ["SADD", "HSET", "ZADD", "INCR"] {
            run(&batch(cmd, &mut rnd), false);
        }
    }
    let all = "SET GET INCR LPUSH RPOP SADD HSET ZADD".to_owned();
    for cmd in std::env::var("PROBE_CMDS")
        .unwrap_or(all)
        .split_whitespace()
    {
        let mut ns = [Vec::new(), Vec::new()];
        for _ in 0..6 {
            for pf in [false, true] {
                let batches: Vec<_> = (0..300).map(|_| batch(cmd, &mut rnd)).collect();
                let t = std::time::Instant::now();
                for b in &batches {
                    run(b, pf);
                }
                ns[usize::from(pf)].push(t.elapsed().as_nanos() as u64 / (300 * 400));
            }
        }
        println!(
            "{cmd}: ns per request without prefetch {:?}, with {:?}",
            ns[0], ns[1]
        );
    }
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}
