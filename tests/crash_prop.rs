//! Random operation sequences with crash images: proptest draws a history of committed
//! transactions (the setup) and one more transaction; the crash-image harness then checks that
//! every image of that last transaction recovers to the model before or after it. A second
//! property runs random transactions, some aborted, some across a reopen, against a model.
//! Cases: `PROPTEST_CASES` (default 12 here: each case opens hundreds of images).

use pcoll::testing::{Config, Media, crash_check};
use pcoll::{Durability, PBox, Persistent, Pool};
use proptest::prelude::*;

const SLOTS: usize = 8;

#[derive(Persistent, Default)]
struct Root {
    n: u64,
    slots: [Option<PBox<[u64; 6]>>; SLOTS],
    big: Option<PBox<[u64; 1500]>>, // 12 KB: a multi-page block
}

#[derive(Debug, Clone)]
enum Op {
    SetN(u64),
    Put(usize, u64),
    Clear(usize),
    Bump(usize),
    Big(u64),
    DropBig,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u64>().prop_map(Op::SetN),
        (0..SLOTS, any::<u64>()).prop_map(|(i, v)| Op::Put(i, v)),
        (0..SLOTS).prop_map(Op::Clear),
        (0..SLOTS).prop_map(Op::Bump),
        any::<u64>().prop_map(Op::Big),
        Just(Op::DropBig),
    ]
}

type Model = (u64, Vec<Option<[u64; 6]>>, Option<(u64, u64)>);

fn apply(r: &mut Root, op: &Op) {
    match *op {
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
    }
}

fn apply_model(m: &mut Model, op: &Op) {
    match *op {
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
    }
}

fn observe(r: &Root) -> Model {
    (
        r.n,
        r.slots.iter().map(|s| s.as_deref().copied()).collect(),
        r.big.as_deref().map(|b| (b[0], b[1499])),
    )
}

fn empty_model() -> Model {
    (0, vec![None; SLOTS], None)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Every crash image of a random transaction, after a random history, recovers to the
    /// state before or after it.
    #[test]
    fn random_transactions_survive_every_crash_image(
        history in prop::collection::vec(prop::collection::vec(op(), 1..5), 0..4),
        last in prop::collection::vec(op(), 1..6),
        pmem in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let media = if pmem { Media::PmemLines } else { Media::FilePages };
        let cfg = Config { media, budget: 12, exhaustive_upto: 3, crash_recovery: false, seed: seed | 1 };
        let setup = |p: &Pool<Root>| {
            for txn in &history {
                let mut w = p.write();
                txn.iter().for_each(|o| apply(&mut w, o));
            }
        };
        let report = crash_check(cfg, setup, |r| last.iter().for_each(|o| apply(r, o)), observe);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
        prop_assert!(report.images > 0);
    }

    /// Random transactions, some aborted, some followed by a reopen, against a model; the pool
    /// is `check()`ed after each.
    #[test]
    fn random_transactions_match_a_model(
        txns in prop::collection::vec((prop::collection::vec(op(), 1..6), 0u8..10), 1..25),
    ) {
        let dir = std::env::temp_dir().join(format!("pcoll-prop-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.pool");
        let _ = std::fs::remove_file(&path);
        let open = || Pool::<Root>::options().durability(Durability::Process).open(&path).unwrap();
        let mut pool = open();
        let mut model = empty_model();
        for (ops, fate) in &txns {
            let mut w = pool.write();
            ops.iter().for_each(|o| apply(&mut w, o));
            if *fate < 2 {
                w.abort();
            } else {
                drop(w);
                ops.iter().for_each(|o| apply_model(&mut model, o));
            }
            if *fate == 9 {
                drop(pool);
                pool = open();
            }
            prop_assert_eq!(observe(&pool.read()), model.clone());
            pool.check().unwrap();
        }
        drop(pool);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
