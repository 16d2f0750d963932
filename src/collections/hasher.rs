//! `PRandomState`: the default hasher of the pcoll maps and sets. Its seed is drawn at random
//! when a map is made and stored in the map itself, so hashes are stable across restarts and
//! differ from pool to pool (and map to map): an attacker who does not know a pool's seeds
//! cannot pick keys that collide in it.

use std::hash::{BuildHasher, RandomState};

use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent};

/// A persisted 256-bit seed for [`ahash`](https://docs.rs/ahash): the default `S` of
/// [`PHashMap`](crate::PHashMap) and [`PHashSet`](crate::PHashSet).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct PRandomState {
    k: [u64; 4],
}

impl PRandomState {
    /// A fresh random seed (from the operating system's randomness, through std).
    ///
    /// ```
    /// use pcoll::{PHashMap, PRandomState};
    /// use std::hash::BuildHasher;
    ///
    /// let (a, b) = (PRandomState::new(), PRandomState::new());
    /// assert_eq!(a.hash_one("key"), a.hash_one("key"));
    /// assert_ne!(a, b); // each has its own seed
    /// let mut map = PHashMap::with_hasher(a);
    /// map.insert(1u64, 2u64);
    /// assert_eq!(map[&1], 2);
    /// ```
    pub fn new() -> Self {
        let rs = RandomState::new();
        PRandomState {
            k: std::array::from_fn(|i| rs.hash_one(i)),
        }
    }

    /// A fixed seed: reproducible tables (tests, benchmarks); gives up HashDoS resistance.
    ///
    /// ```
    /// use pcoll::PRandomState;
    /// use std::hash::BuildHasher;
    ///
    /// let a = PRandomState::with_seeds(1, 2, 3, 4);
    /// let b = PRandomState::with_seeds(1, 2, 3, 4);
    /// assert_eq!(a.hash_one("key"), b.hash_one("key"));
    /// assert_ne!(a, PRandomState::with_seeds(4, 3, 2, 1));
    /// ```
    pub const fn with_seeds(k0: u64, k1: u64, k2: u64, k3: u64) -> Self {
        PRandomState {
            k: [k0, k1, k2, k3],
        }
    }
}

impl Default for PRandomState {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PRandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PRandomState { .. }") // the seed is a secret
    }
}

impl BuildHasher for PRandomState {
    type Hasher = ahash::AHasher;
    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        let [a, b, c, d] = self.k;
        ahash::RandomState::with_seeds(a, b, c, d).build_hasher()
    }
}

// SAFETY: four integers; no addresses, owns nothing.
#[allow(unsafe_code)]
unsafe impl Persistent for PRandomState {
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PRandomState", size_of::<Self>(), align_of::<Self>()) {
            <[u64; 4]>::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, _v: &mut Visitor<'_>) {}
}
