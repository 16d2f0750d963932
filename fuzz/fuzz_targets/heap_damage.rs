//! A valid pool whose heap is damaged as the input says (byte flips and 8-byte overwrites of
//! lengths, capacities, control bytes, node headers, pointers), then opened, read, iterated,
//! changed and checked. A damaged pool may refuse to open, answer `Err`, or panic with a
//! message (caught here); a crash, an abort, a hang or a sanitizer report is a finding.
#![no_main]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pcoll::{Durability, PBTreeMap, PHashMap, PString, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    names: PVec<PString>,
    s: PString,
    m: PHashMap<u64, PString>,
    t: PBTreeMap<u64, u64>,
}

fn opts() -> pcoll::Options<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .initial_size(256 << 10)
        .max_size(8 << 20)
}

fn sample() -> &'static [u8] {
    static IMG: OnceLock<Vec<u8>> = OnceLock::new();
    IMG.get_or_init(|| {
        let pool = opts().in_memory().unwrap();
        {
            let mut w = pool.write();
            w.v.extend(0..300);
            w.names.extend((0..40).map(|i| PString::from(format!("name {i}").as_str())));
            w.s.push_str("a string in the pool");
            for k in 0..60 {
                w.m.insert(k, format!("value {k}").as_str());
            }
            w.t.extend((0..400).map(|k| (k * 7, k)));
        }
        pool.image()
    })
}

/// Everything a user might do with the pool, reads first.
fn exercise(pool: &Pool<Root>) {
    {
        let r = pool.read();
        let mut n = r.v.iter().fold(0u64, |a, x| a.wrapping_add(*x));
        n = n.wrapping_add(r.v.last().copied().unwrap_or(0)).wrapping_add(r.v.len() as u64);
        n = n.wrapping_add(r.names.iter().map(|s| s.len() as u64).sum::<u64>());
        n = n.wrapping_add(r.s.len() as u64 + r.s.chars().count() as u64);
        n = n.wrapping_add(r.m.iter().map(|(k, v)| *k + v.len() as u64).sum::<u64>());
        n = n.wrapping_add(r.m.get(&7).map_or(0, |v| v.len() as u64));
        n = n.wrapping_add(r.t.iter().map(|(k, v)| k ^ v).sum::<u64>());
        n = n.wrapping_add(r.t.range(100..200).count() as u64);
        n = n.wrapping_add(r.t.get(&70).copied().unwrap_or(0));
        let all: Vec<(u64, u64)> = r.t.iter().map(|(k, v)| (*k, *v)).collect();
        let keys: Vec<u64> = r.m.keys().copied().collect();
        std::hint::black_box((n, all, keys));
    }
    let mut w = pool.write();
    w.v.push(1);
    let _ = w.v.pop();
    w.v.truncate(100);
    w.names.push("new".into());
    let _ = w.names.swap_remove(0);
    w.s.push_str("more");
    w.m.insert(1000, "x");
    let _ = w.m.remove(&7);
    w.m.retain(|k, _| k % 3 != 0);
    w.t.insert(5, 5);
    let _ = w.t.remove(&14);
    let _ = w.t.pop_first();
    drop(w);
    let _ = pool.check();
}

fuzz_target!(|data: &[u8]| {
    static QUIET: OnceLock<()> = OnceLock::new();
    QUIET.get_or_init(|| std::panic::set_hook(Box::new(|_| {})));
    let mut img = sample().to_vec();
    // Page 0 is the header (checksummed: damage there only tests the header check).
    let heap = img.len() - 4096;
    for op in data.chunks_exact(5) {
        let at = 4096 + u32::from_le_bytes([op[0], op[1], op[2], 0]) as usize % heap;
        match op[3] % 4 {
            0 if at + 8 <= img.len() => {
                let word = match op[4] % 4 {
                    0 => u64::MAX,
                    1 => 1 << (op[4] % 64),
                    2 => u64::from(op[4]),
                    _ => u64::from(op[4]).wrapping_mul(0x0101_0101_0101_0101),
                };
                img[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
            _ => img[at] ^= op[4] | 1,
        }
    }
    if let Ok(pool) = opts().from_image(std::hint::black_box(&img)) {
        let _ = catch_unwind(AssertUnwindSafe(|| exercise(&pool)));
    }
});
