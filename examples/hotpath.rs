//! A profiling loop for the single-write `Process` transaction:
//! `cargo build --release --example hotpath && perf record -e cpu-clock target/release/examples/hotpath`.
use pcoll::{Durability, PBox, Persistent, Pool};

#[derive(Persistent, Default)]
struct Small {
    counter: u64,
    other: u64,
    boxed: Option<PBox<u64>>,
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let pool = Pool::<Small>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap();
    let t = std::time::Instant::now();
    for i in 0..n {
        pool.write().counter = i;
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("single 8-byte write per transaction (Process, memory pool): {ns:.1} ns");
}
