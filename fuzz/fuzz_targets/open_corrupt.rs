//! A valid small pool (with an interrupted transaction in its log) damaged as the input says:
//! byte flips, 8-byte overwrites, truncation, extension. Opening and `check()` must return
//! `Ok` or a typed `Err`: a panic, a hang or an out-of-bounds access is a finding.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pcoll::Pool;

#[path = "../../tests/common/model.rs"]
mod model;

use model::Root;

fn sample() -> &'static [u8] {
    static IMG: OnceLock<Vec<u8>> = OnceLock::new();
    IMG.get_or_init(model::damage_sample)
}

fuzz_target!(|data: &[u8]| {
    let mut img = sample().to_vec();
    let mut ops = data.chunks_exact(5);
    for op in &mut ops {
        let at = u32::from_le_bytes([op[0], op[1], op[2], 0]) as usize;
        match op[3] % 8 {
            0 => img.truncate(at % (img.len() + 1)),
            1 => img.resize(img.len() + at % 65536, op[4]),
            2 if img.len() >= 8 => {
                let at = at % (img.len() - 7);
                img[at..at + 8].copy_from_slice(&u64::from(op[4]).wrapping_mul(0x0101_0101_0101_0101).to_le_bytes());
            }
            _ if !img.is_empty() => {
                let len = img.len();
                img[at % len] ^= op[4] | 1;
            }
            _ => {}
        }
    }
    if let Ok(pool) = Pool::<Root>::options().max_size(8 << 20).from_image(std::hint::black_box(&img)) {
        let _ = std::hint::black_box(pool.check());
    }
});
