//! The operation model shared by the property tests and the fuzz targets (which include this
//! file by path): a root of the containers that exist today (plain fields and `PBox`es, nested
//! too), operations decoded from 3 bytes each, and a plain model to compare against. Also the
//! damaged-image sample used by `tests/corrupt.rs` and the `open_corrupt` target.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use pcoll::{Event, PBox, Persistent, Pool, Recorder};

pub const SLOTS: usize = 8;

#[derive(Persistent, Default)]
pub struct Root {
    pub n: u64,
    pub slots: [Option<PBox<[u64; 6]>>; SLOTS],
    pub big: Option<PBox<[u64; 1500]>>,
    pub nested: Option<PBox<Option<PBox<u32>>>>,
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    SetN(u64),
    Put(usize, u64),
    Clear(usize),
    Bump(usize),
    Big(u64),
    DropBig,
    Nest(u32),
    Unnest,
}

pub type Model = (
    u64,
    Vec<Option<[u64; 6]>>,
    Option<(u64, u64)>,
    Option<Option<u32>>,
);

/// Decodes one op from 3 bytes.
pub fn decode(b: &[u8]) -> Op {
    let v = u64::from(b[1]) << 8 | u64::from(b[2]);
    let i = b[1] as usize % SLOTS;
    match b[0] % 8 {
        0 => Op::SetN(v),
        1 => Op::Put(i, v),
        2 => Op::Clear(i),
        3 => Op::Bump(i),
        4 => Op::Big(v),
        5 => Op::DropBig,
        6 => Op::Nest(v as u32),
        _ => Op::Unnest,
    }
}

pub fn apply(r: &mut Root, op: Op) {
    match op {
        Op::SetN(v) => r.n = v,
        Op::Put(i, v) => r.slots[i] = Some(PBox::new([v; 6])),
        Op::Clear(i) => r.slots[i] = None,
        Op::Bump(i) => {
            if let Some(b) = r.slots[i].as_mut() {
                b[5] = b[5].wrapping_add(1);
            }
        }
        Op::Big(v) => r.big = Some(PBox::new([v; 1500])),
        Op::DropBig => r.big = None,
        Op::Nest(v) => r.nested = Some(PBox::new(Some(PBox::new(v)))),
        Op::Unnest => r.nested = None,
    }
}

pub fn apply_model(m: &mut Model, op: Op) {
    match op {
        Op::SetN(v) => m.0 = v,
        Op::Put(i, v) => m.1[i] = Some([v; 6]),
        Op::Clear(i) => m.1[i] = None,
        Op::Bump(i) => {
            if let Some(b) = m.1[i].as_mut() {
                b[5] = b[5].wrapping_add(1);
            }
        }
        Op::Big(v) => m.2 = Some((v, v)),
        Op::DropBig => m.2 = None,
        Op::Nest(v) => m.3 = Some(Some(v)),
        Op::Unnest => m.3 = None,
    }
}

pub fn observe(r: &Root) -> Model {
    (
        r.n,
        r.slots.iter().map(|s| s.as_deref().copied()).collect(),
        r.big.as_deref().map(|b| (b[0], b[1499])),
        r.nested.as_deref().map(|o| o.as_deref().copied()),
    )
}

pub fn empty_model() -> Model {
    (0, vec![None; SLOTS], None, None)
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
pub fn damage_sample() -> Vec<u8> {
    let snap = Arc::new(Snap::default());
    let opts = Pool::<Root>::options()
        .initial_size(192 << 10)
        .max_size(4 << 20)
        .recorder(snap.clone());
    let pool = opts.in_memory().unwrap();
    {
        let mut w = pool.write();
        for (i, op) in [Op::SetN(5), Op::Big(1), Op::Nest(3)]
            .into_iter()
            .enumerate()
        {
            apply(&mut w, op);
            apply(&mut w, Op::Put(i, i as u64));
        }
        for i in 3..SLOTS {
            apply(&mut w, Op::Put(i, i as u64));
        }
    }
    let mut w = pool.write();
    for op in [
        Op::SetN(6),
        Op::Clear(2),
        Op::Put(3, 9),
        Op::Bump(4),
        Op::Unnest,
    ] {
        apply(&mut w, op);
    }
    let img = snap.0.lock().unwrap().clone(); // mid-transaction: the log holds its entries
    drop(w);
    img
}

/// Opens a damaged image and checks it: "ok", "open refused" or "check refused". Panics
/// only if pcoll panicked.
pub fn open_damaged(img: &[u8]) -> &'static str {
    let res = std::panic::catch_unwind(|| {
        match Pool::<Root>::options().max_size(8 << 20).from_image(img) {
            Err(_) => "open refused",
            Ok(p) => match p.check() {
                Err(_) => "check refused",
                Ok(_) => "ok",
            },
        }
    });
    res.unwrap_or_else(|_| panic!("pcoll panicked on a damaged image"))
}
