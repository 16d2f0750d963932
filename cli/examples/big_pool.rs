//! A typed `pcoll` tool for a demo root type, and a filler that makes a big pool of it: what
//! the `check` progress bar was measured with (BENCHMARKS.md, "`pcoll check` and its progress
//! bar").
//!
//! ```text
//! cargo run --release -p pcoll-cli --example big_pool -- fill FILE MIB
//! time cargo run --release -p pcoll-cli --example big_pool -- check FILE [--no-progress]
//! ```
//!
//! `fill` builds about MIB MiB of strings, map entries and vectors, in transactions of 20,000
//! inserts; every other argument list is the tool (`pcoll_cli::typed_main`).

use std::process::ExitCode;

use pcoll::{Durability, PBTreeMap, PHashMap, PString, PVec, Persistent, Pool};
use serde::{Deserialize, Serialize};

/// The demo root: a map of strings, a B-tree of strings, a vector of vectors.
#[derive(Persistent, Default, Serialize, Deserialize)]
struct Root {
    users: PHashMap<PString, u64>,
    events: PBTreeMap<u64, PString>,
    series: PVec<PVec<u64>>,
}

fn fill(file: &str, mib: u64) {
    let pool = Pool::<Root>::options()
        .durability(Durability::Process)
        .max_size(64 << 30)
        .create(file)
        .expect("create the pool");
    let mut i = 0u64;
    while pool.stats().pool_bytes < mib << 20 {
        let mut root = pool.write();
        for _ in 0..20_000 {
            root.users.insert(format!("user {i} of the big pool"), i);
            root.events
                .insert(i, format!("event {i}: {}", "x".repeat((i % 97) as usize)));
            if i.is_multiple_of(64) {
                root.series.push((0..i % 300).collect());
            }
            i += 1;
        }
    }
    let rep = pool.check().expect("a healthy pool");
    println!(
        "{file}: {i} entries, {} blocks, {} MiB allocated, {} MiB pool",
        rep.blocks,
        rep.allocated_bytes >> 20,
        rep.pool_bytes >> 20
    );
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("fill") {
        let (Some(file), Some(mib)) = (args.get(2), args.get(3).and_then(|m| m.parse().ok()))
        else {
            eprintln!("usage: big_pool fill FILE MIB");
            return ExitCode::from(2);
        };
        fill(file, mib);
        return ExitCode::SUCCESS;
    }
    pcoll_cli::typed_main::<Root>()
}
