//! The documented way to use a pool from tokio (`examples/tokio_service.rs`): transactions on
//! the blocking pool, many tasks at once, every one counted.
#![cfg(not(loom))]

use std::sync::Arc;

use pcoll::{PHashMap, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    counts: PHashMap<u64, u64>,
    total: u64,
}

#[test]
fn tasks_share_a_pool_through_spawn_blocking() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = Arc::new(Pool::<Root>::options().in_memory().unwrap());
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    tokio::task::spawn_blocking(move || {
                        pool.transaction(|r| {
                            r.total += 1;
                            *r.counts.entry(i % 10).or_insert(0) += 1;
                            Ok::<_, pcoll::Error>(())
                        })
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let r = pool.read();
        assert_eq!(r.total, 200);
        assert!(r.counts.values().all(|&c| c == 20));
    });
}
