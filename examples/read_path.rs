//! Instruction counts of the read path (run under callgrind): N gets of a PHashMap<u64,u64>,
//! a PBTreeMap<u64,u64> and N indexings of a PVec<u64>, one read guard. `cargo run --release
//! --example read_path -- hash|tree|vec|none`.
use pcoll::{Durability, PBTreeMap, PHashMap, PVec, Persistent, Pool};
use std::hint::black_box;

#[derive(Persistent, Default)]
struct Root {
    h: PHashMap<u64, u64>,
    t: PBTreeMap<u64, u64>,
    v: PVec<u64>,
}

const N: u64 = 100_000;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let pool = Pool::<Root>::options()
        .durability(Durability::Process)
        .max_size(1 << 30) // valgrind refuses the default 64 GiB reservation
        .in_memory()
        .unwrap();
    {
        let mut w = pool.write();
        for i in 0..N {
            let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            w.h.insert(k, i);
            w.t.insert(k, i);
            w.v.push(i);
        }
    }
    let r = pool.read();
    let mut s = 0u64;
    for round in 0..3 {
        for i in 0..N {
            let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            s = s.wrapping_add(match what.as_str() {
                "hash" => *r.h.get(&black_box(k)).unwrap(),
                "tree" => *r.t.get(&black_box(k)).unwrap(),
                "vec" => r.v[black_box((k % N) as usize)],
                _ => round,
            });
        }
    }
    println!("{s}");
}
