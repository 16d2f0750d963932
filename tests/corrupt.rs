//! Damaged pool files: a valid pool's bytes with some flipped, truncated or extended. Opening
//! and `check()` must return `Ok` or a typed `Err` — never panic, hang or read out of bounds.
//! (The fuzz target `open_corrupt` does the same with coverage guidance.)

use std::sync::{Arc, Mutex};

use pcoll::{Event, PBox, Persistent, Pool, Recorder};

#[derive(Persistent, Default)]
struct Root {
    n: u64,
    boxes: [Option<PBox<[u64; 20]>>; 8],
    big: Option<PBox<[u8; 9000]>>,
}

/// Captures the pool's bytes at the last undo-log append it sees.
#[derive(Default)]
struct Snap(Mutex<Vec<u8>>);

impl Recorder for Snap {
    fn event(&self, ev: Event, image: &[u8]) {
        if matches!(ev, Event::Logged { .. }) {
            *self.0.lock().unwrap() = image.to_vec();
        }
    }
}

/// A pool image with committed data and an interrupted transaction in its log.
fn sample_image() -> Vec<u8> {
    let snap = Arc::new(Snap::default());
    let pool = Pool::<Root>::options()
        .initial_size(192 << 10)
        .max_size(4 << 20)
        .recorder(snap.clone())
        .in_memory()
        .unwrap();
    {
        let mut w = pool.write();
        w.n = 5;
        for (i, b) in w.boxes.iter_mut().enumerate() {
            *b = Some(PBox::new([i as u64; 20]));
        }
        w.big = Some(PBox::new([1; 9000]));
    }
    let mut w = pool.write();
    w.n = 6;
    w.boxes[2] = None;
    w.boxes[3] = Some(PBox::new([9; 20]));
    **w.boxes[4].as_mut().unwrap() = [7; 20];
    let img = snap.0.lock().unwrap().clone(); // mid-transaction: the log holds its entries
    drop(w);
    let recovered = Pool::<Root>::options().from_image(&img).unwrap();
    assert_eq!(
        recovered.read().n,
        5,
        "the sample's transaction is interrupted"
    );
    img
}

/// Opens a damaged image; panics only if pcoll panicked.
pub fn open_damaged(img: &[u8]) -> &'static str {
    let res = std::panic::catch_unwind(|| {
        match Pool::<Root>::options().max_size(4 << 20).from_image(img) {
            Err(_) => "open refused",
            Ok(p) => match p.check() {
                Err(_) => "check refused",
                Ok(_) => "ok",
            },
        }
    });
    res.unwrap_or_else(|_| panic!("pcoll panicked on a damaged image"))
}

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
