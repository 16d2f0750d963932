//! Random transactions against a model: each input byte group is an operation; a marker
//! ends a transaction that commits, aborts, or commits and reopens the pool from its image.
//! After each transaction the pool must equal the model and pass `check()`.
#![no_main]

#[path = "../../tests/common/model.rs"]
mod model;

use model::*;
use libfuzzer_sys::fuzz_target;
use pcoll::{Durability, Pool};

fuzz_target!(|data: &[u8]| {
    let opts = || Pool::<Root>::options().durability(Durability::Process).initial_size(128 << 10).max_size(8 << 20);
    let mut pool = opts().in_memory().unwrap();
    let mut model = empty_model();
    let mut pending = Vec::new();
    for chunk in data.chunks_exact(3) {
        if chunk[0] < 240 {
            pending.push(decode(chunk));
            continue;
        }
        let mut w = pool.write();
        pending.iter().for_each(|&o| apply(&mut w, o));
        match chunk[0] % 3 {
            0 => w.abort(),
            _ => {
                drop(w);
                pending.iter().for_each(|&o| apply_model(&mut model, o));
            }
        }
        pending.clear();
        if chunk[0] % 3 == 2 {
            let img = pool.image();
            drop(pool);
            pool = opts().from_image(&img).unwrap();
        }
        assert_eq!(observe(&pool.read()), model);
        pool.check().unwrap();
    }
});
