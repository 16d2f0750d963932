//! The operation model shared by the property tests and the fuzz targets (which include this
//! file by path): a root of the containers that exist today (plain fields and `PBox`es, nested
//! too), operations decoded from 3 bytes each, and a plain model to compare against. Also the
//! damaged-image sample used by `tests/corrupt.rs` and the `open_corrupt` target.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pcoll::{Event, PBTreeMap, PBox, PHashMap, PRandomState, PString, Persistent, Pool, Recorder};

pub const SLOTS: usize = 8;

#[derive(Persistent, Default)]
pub struct Root {
    pub n: u64,
    pub slots: [Option<PBox<[u64; 6]>>; SLOTS],
    pub big: Option<PBox<[u64; 1500]>>,
    pub nested: Option<PBox<Option<PBox<u32>>>>,
    pub map: PHashMap<u64, u64>,
    pub names: PHashMap<PString, u64>,
    pub tree: PBTreeMap<u64, u64>,
}

/// Map keys are drawn from a small range, so operations hit existing entries often.
const KEYS: u64 = 48;

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
    MapInsert(u64, u64),
    MapRemove(u64),
    MapBump(u64),
    MapClear,
    NameInsert(u64, u64),
    NameRemove(u64),
    TreeInsert(u64, u64),
    TreeRemove(u64),
    TreePop,
}

pub type Model = (
    u64,
    Vec<Option<[u64; 6]>>,
    Option<(u64, u64)>,
    Option<Option<u32>>,
    BTreeMap<u64, u64>,
    BTreeMap<String, u64>,
    BTreeMap<u64, u64>,
);

/// Decodes one op from 3 bytes.
pub fn decode(b: &[u8]) -> Op {
    let v = u64::from(b[1]) << 8 | u64::from(b[2]);
    let i = b[1] as usize % SLOTS;
    let k = u64::from(b[1]) % KEYS;
    let w = u64::from(b[2]);
    match b[0] % 20 {
        0 => Op::SetN(v),
        1 => Op::Put(i, v),
        2 => Op::Clear(i),
        3 => Op::Bump(i),
        4 => Op::Big(v),
        5 => Op::DropBig,
        6 => Op::Nest(v as u32),
        7 => Op::Unnest,
        8..=10 => Op::MapInsert(k, w),
        11 => Op::MapRemove(k),
        12 => Op::MapBump(k),
        13 => Op::MapClear,
        14 => Op::NameInsert(k, w),
        15 => Op::NameRemove(k),
        16 | 17 => Op::TreeInsert(u64::from(b[1]), w),
        18 => Op::TreeRemove(u64::from(b[1])),
        _ => Op::TreePop,
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
        Op::MapInsert(k, v) => {
            if r.map.capacity() == 0 {
                // A fixed seed: the same buckets in every run (reproducible fuzz cases).
                r.map = PHashMap::with_hasher(PRandomState::with_seeds(7, 8, 9, 10));
            }
            r.map.insert(k, v);
        }
        Op::MapRemove(k) => drop(r.map.remove(&k)),
        Op::MapBump(k) => *r.map.entry(k).or_insert(0) += 1,
        Op::MapClear => r.map.clear(),
        Op::NameInsert(k, v) => drop(r.names.insert(name(k), v)),
        Op::NameRemove(k) => drop(r.names.remove(name(k).as_str())),
        Op::TreeInsert(k, v) => drop(r.tree.insert(k, v)),
        Op::TreeRemove(k) => drop(r.tree.remove(&k)),
        Op::TreePop => drop(r.tree.pop_first()),
    }
}

fn name(k: u64) -> String {
    format!("name-{k}")
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
        Op::MapInsert(k, v) => drop(m.4.insert(k, v)),
        Op::MapRemove(k) => drop(m.4.remove(&k)),
        Op::MapBump(k) => *m.4.entry(k).or_insert(0) += 1,
        Op::MapClear => m.4.clear(),
        Op::NameInsert(k, v) => drop(m.5.insert(name(k), v)),
        Op::NameRemove(k) => drop(m.5.remove(&name(k))),
        Op::TreeInsert(k, v) => drop(m.6.insert(k, v)),
        Op::TreeRemove(k) => drop(m.6.remove(&k)),
        Op::TreePop => drop(m.6.pop_first()),
    }
}

pub fn observe(r: &Root) -> Model {
    (
        r.n,
        r.slots.iter().map(|s| s.as_deref().copied()).collect(),
        r.big.as_deref().map(|b| (b[0], b[1499])),
        r.nested.as_deref().map(|o| o.as_deref().copied()),
        r.map.iter().map(|(k, v)| (*k, *v)).collect(),
        r.names.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        r.tree.iter().map(|(k, v)| (*k, *v)).collect(),
    )
}

pub fn empty_model() -> Model {
    (
        0,
        vec![None; SLOTS],
        None,
        None,
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    )
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
        for k in 0..20 {
            apply(&mut w, Op::MapInsert(k, k));
            apply(&mut w, Op::NameInsert(k, k));
        }
        for k in 0..80 {
            apply(&mut w, Op::TreeInsert(k * 3, k));
        }
    }
    let mut w = pool.write();
    for op in [
        Op::SetN(6),
        Op::Clear(2),
        Op::Put(3, 9),
        Op::Bump(4),
        Op::Unnest,
        Op::MapRemove(3),
        Op::MapInsert(30, 1),
        Op::NameRemove(4),
        Op::NameInsert(31, 1),
        Op::TreeRemove(30),
        Op::TreeInsert(31, 1),
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
