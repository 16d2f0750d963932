//! A valid small pool (with an interrupted transaction in its log) damaged as the input says:
//! byte flips, 8-byte overwrites, truncation, extension. Opening and `check()` must return
//! `Ok` or a typed `Err`: a panic, a hang or an out-of-bounds access is a finding.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use pcoll::{Event, PBox, Persistent, Pool, Recorder};

#[derive(Persistent, Default)]
struct Root {
    n: u64,
    boxes: [Option<PBox<[u64; 20]>>; 8],
    big: Option<PBox<[u8; 9000]>>,
}

#[derive(Default)]
struct Snap(Mutex<Vec<u8>>);

impl Recorder for Snap {
    fn event(&self, ev: Event, image: &[u8]) {
        if matches!(ev, Event::Logged { .. }) {
            *self.0.lock().unwrap() = image.to_vec();
        }
    }
}

fn sample() -> &'static [u8] {
    static IMG: OnceLock<Vec<u8>> = OnceLock::new();
    IMG.get_or_init(|| {
        let snap = Arc::new(Snap::default());
        let opts = Pool::<Root>::options().initial_size(192 << 10).max_size(4 << 20).recorder(snap.clone());
        let pool = opts.in_memory().unwrap();
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
        w.boxes[3] = Some(PBox::new([9; 20]));
        let img = snap.0.lock().unwrap().clone();
        drop(w);
        img
    })
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
