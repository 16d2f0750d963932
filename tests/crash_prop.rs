//! Random operation sequences with crash images: proptest draws a history of committed
//! transactions (the setup) and one more transaction; the crash-image harness then checks that
//! every image of that last transaction recovers to the model before or after it. A second
//! property runs random transactions, some aborted, some across a reopen, against a model.
//! Cases: `PROPTEST_CASES` (default 12 here: each case opens hundreds of images).

mod common;

use common::model::{Model, Op, Root, apply, apply_model, decode, empty_model, observe};
use pcoll::testing::{Config, Media, crash_check};
use pcoll::{Durability, Pool};
use proptest::prelude::*;

/// An operation from three random bytes (the decoding the fuzz targets use).
fn op() -> impl Strategy<Value = Op> {
    prop::array::uniform3(any::<u8>()).prop_map(|b| decode(&b))
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
        let cfg = Config { media, budget: 12, exhaustive_upto: 3, crash_recovery: false, seed: seed | 1, checkpoint_each: false };
        let setup = |p: &Pool<Root>| {
            for txn in &history {
                let mut w = p.write();
                txn.iter().for_each(|&o| apply(&mut w, o));
            }
        };
        let report = crash_check(cfg, setup, |r| last.iter().for_each(|&o| apply(r, o)), observe);
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
        let mut model: Model = empty_model();
        for (ops, fate) in &txns {
            let mut w = pool.write();
            ops.iter().for_each(|&o| apply(&mut w, o));
            if *fate < 2 {
                w.abort();
            } else {
                drop(w);
                ops.iter().for_each(|&o| apply_model(&mut model, o));
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
