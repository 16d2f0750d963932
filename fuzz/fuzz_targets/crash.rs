//! Crash images of a fuzzer-chosen transaction after a fuzzer-chosen history: the input picks
//! the operations, the medium, and the seed of the image subsets. Every image must recover to
//! the state before or after the transaction (see `pcoll::testing`).
#![no_main]

#[path = "../../tests/common/model.rs"]
mod model;

use model::*;
use libfuzzer_sys::fuzz_target;
use pcoll::Pool;
use pcoll::testing::{Config, Media, crash_check};

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let seed = u64::from_le_bytes(data[..8].try_into().unwrap()) | 1;
    let media = if data[8] & 1 == 0 { Media::FilePages } else { Media::PmemLines };
    let ops: Vec<(bool, Op)> = data[9..].chunks_exact(3).take(24).map(|c| (c[0] >= 200, decode(c))).collect();
    // Ops before the last transaction boundary are history; the rest is the transaction.
    let split = ops.iter().rposition(|o| o.0).map_or(0, |i| i + 1);
    let (history, last) = ops.split_at(split);
    if last.is_empty() {
        return;
    }
    let cfg = Config { media, budget: 6, exhaustive_upto: 2, crash_recovery: data[8] & 2 != 0, seed, ..Config::default() };
    let setup = |p: &Pool<Root>| {
        let mut w = p.write();
        for &(end, o) in history {
            apply(&mut w, o);
            if end {
                drop(w);
                w = p.write();
            }
        }
    };
    let report = crash_check(cfg, setup, |r| last.iter().for_each(|&(_, o)| apply(r, o)), observe);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
});
