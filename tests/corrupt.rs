//! Damaged pool files: a valid pool's bytes with some flipped, truncated or extended. Opening
//! and `check()` must return `Ok` or a typed `Err` — never panic, hang or read out of bounds.
//! (The fuzz target `open_corrupt` does the same with coverage guidance.)

mod common;

use common::model::{damage_sample as sample_image, open_damaged};

fn rng(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn damaged_images_give_errors_not_panics() {
    let img = sample_image();
    let mut x = 0xfeed_beef_u64;
    let cases = if cfg!(debug_assertions) { 1500 } else { 20000 };
    let (mut ok, mut refused) = (0, 0);
    for case in 0..cases {
        let mut d = img.clone();
        match case % 4 {
            // flips in the metadata-heavy first pages
            0 | 1 => {
                for _ in 0..1 + rng(&mut x) % 4 {
                    let limit = if case % 4 == 0 {
                        5 * 4096
                    } else {
                        d.len() as u64
                    };
                    let at = (rng(&mut x) % limit) as usize;
                    d[at] ^= 1 << (rng(&mut x) % 8);
                }
            }
            2 => d.truncate((rng(&mut x) % img.len() as u64) as usize),
            _ => {
                let at = (rng(&mut x) % (d.len() as u64 / 8)) as usize * 8;
                d[at..at + 8].copy_from_slice(&rng(&mut x).to_le_bytes());
            }
        }
        match open_damaged(&d) {
            "ok" => ok += 1,
            _ => refused += 1,
        }
    }
    println!(
        "corrupted files: {cases} tried, {refused} refused with an error, {ok} opened and checked clean"
    );
    assert!(refused > 0);
}

/// Every 8-byte word of the first heap pages (where the root and its boxes live) damaged in
/// a pointer's offset bits or tag bits, one at a time. Regression: `check()` used to follow a
/// damaged handle and panic on it; now it reports the pointer without reading through it.
#[test]
fn damaged_pointers_are_reported_not_followed() {
    let img = sample_image();
    let heap_off = 17 * 4096; // header page + 16-page primary log (the default layout)
    let mut refused = 0;
    let mut tried = 0;
    for word in (heap_off..heap_off + 6 * 4096).step_by(8) {
        for bit in [3, 20, 40, 50] {
            let mut d = img.clone();
            d[word + bit / 8] ^= 1 << (bit % 8);
            tried += 1;
            if open_damaged(&d) != "ok" {
                refused += 1;
            }
        }
    }
    println!("damaged pointers: {tried} tried, {refused} refused");
    assert!(refused > 0);
}
