//! Helpers shared by the benches (`mod common;` in each bench that uses them).
#![allow(dead_code)] // each bench uses a subset

use std::hash::BuildHasher;

/// `PCOLL_BENCH_QUICK=1`: minimal samples and sizes (a smoke test, not a measurement).
pub fn quick() -> bool {
    std::env::var("PCOLL_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// `n` random u64 from a fixed-seed xorshift64*.
pub fn random_u64s(seed: u64, n: usize) -> Vec<u64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
        .collect()
}

/// `n` distinct random u64 (panics on a duplicate, which the generator does not produce).
pub fn distinct_u64s(seed: u64, n: usize) -> Vec<u64> {
    let k = random_u64s(seed, n);
    let mut sorted = k.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), n, "duplicate keys");
    k
}

/// `ahash::RandomState` with the `Default` that pcoll's ahash features (no `runtime-rng`)
/// leave out: std maps hashed like `PHashMap`.
#[derive(Clone)]
pub struct AState(ahash::RandomState);

impl Default for AState {
    fn default() -> Self {
        AState(ahash::RandomState::new())
    }
}

impl BuildHasher for AState {
    type Hasher = ahash::AHasher;
    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}
