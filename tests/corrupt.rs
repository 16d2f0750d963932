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

/// The heap itself damaged (words of the pages after the log: container headers, lengths,
/// control bytes, node headers, pointers), then the pool opened and *used*: every box, map
/// and tree read and iterated, a transaction of changes, `check()`. Each use must finish, or
/// answer `Err`, or panic with a message of pcoll's (`pcoll: ...`), never crash, abort or
/// hang; the count of each goes to the output. (Issue 13; the fuzz target `heap_damage` does
/// the same with coverage guidance.)
#[test]
fn damaged_heaps_are_refused_on_use() {
    use common::model::{Op, Root, apply, observe};
    use pcoll::Pool;
    let img = sample_image();
    let heap_off = 17 * 4096;
    let mut x = 0x5eed_u64;
    let cases = if cfg!(debug_assertions) { 600 } else { 6000 };
    let (mut fine, mut refused, mut panicked) = (0, 0, 0);
    let mut unclear = Vec::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..cases {
        let mut d = img.clone();
        for _ in 0..1 + rng(&mut x) % 3 {
            // Mostly the first heap pages, where the root and the containers' blocks live.
            let span = if rng(&mut x).is_multiple_of(4) {
                d.len() - heap_off
            } else {
                8 * 4096
            };
            let at = heap_off + (rng(&mut x) % (span as u64 / 8)) as usize * 8;
            let word = match rng(&mut x) % 4 {
                0 => rng(&mut x),
                1 => 1 << (rng(&mut x) % 64),
                2 => {
                    u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
                        ^ (1 << (rng(&mut x) % 64))
                }
                _ => rng(&mut x) % 4096,
            };
            d[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
        let Ok(pool) = Pool::<Root>::options().max_size(8 << 20).from_image(&d) else {
            refused += 1;
            continue;
        };
        let used = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::hint::black_box(observe(&pool.read()));
            {
                let mut w = pool.write();
                for op in [
                    Op::Put(1, 9),
                    Op::MapInsert(3, 3),
                    Op::MapRemove(5),
                    Op::TreeInsert(7, 7),
                    Op::TreeRemove(9),
                    Op::TreePop,
                    Op::NameInsert(4, 4),
                    Op::Clear(2),
                    Op::DropBig,
                ] {
                    apply(&mut w, op);
                }
            }
            pool.check().is_ok()
        }));
        match used {
            Ok(true) => fine += 1,
            Ok(false) => refused += 1,
            Err(e) => {
                panicked += 1;
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                if !msg.starts_with("pcoll") {
                    unclear.push(msg);
                }
            }
        }
    }
    std::panic::set_hook(hook);
    println!(
        "damaged heaps used: {cases} tried, {fine} used cleanly, {refused} refused with an error, \
         {panicked} panicked clearly ({} of them without a pcoll message)",
        unclear.len()
    );
    unclear.sort();
    unclear.dedup();
    assert!(
        unclear.is_empty(),
        "panics without a pcoll message: {unclear:#?}"
    );
}
