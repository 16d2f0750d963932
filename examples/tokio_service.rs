//! A pool in an async service (tokio): the way to use pcoll without blocking the executor.
//!
//! A write transaction takes the pool's writer lock and, with `Durability::Sync`, waits for
//! `fdatasync`: it blocks its thread. So the service runs each transaction on tokio's
//! blocking pool (`spawn_blocking`), with the `Pool` shared through an `Arc`; the guard never
//! crosses an `.await` (guards are `!Send`, so the compiler refuses that anyway). Reads are
//! short and never wait for I/O; they may run inline, or the same way.
//!
//! Run: `cargo run --release --example tokio_service [POOL_PATH]`
#![cfg(not(loom))]

use std::sync::Arc;

use pcoll::{PHashMap, PString, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    hits: PHashMap<PString, u64>,
    total: u64,
}

/// One request: counts a visit of `page` durably, returns its new count.
async fn hit(pool: Arc<Pool<Root>>, page: String) -> pcoll::Result<u64> {
    tokio::task::spawn_blocking(move || {
        pool.transaction(|r| {
            r.total += 1;
            let n = r.hits.entry(page.as_str()).or_insert(0);
            *n += 1;
            Ok::<_, pcoll::Error>(*n)
        })
    })
    .await
    .expect("the transaction task panicked")
}

#[tokio::main]
async fn main() -> pcoll::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("pcoll-tokio.pool")
            .display()
            .to_string()
    });
    let pool = Arc::new(Pool::<Root>::open(&path)?);
    let before = pool.read().total;
    let tasks: Vec<_> = (0..64)
        .map(|i| tokio::spawn(hit(pool.clone(), format!("/page/{}", i % 4))))
        .collect();
    for t in tasks {
        t.await.expect("task")?;
    }
    let r = pool.read();
    println!(
        "{path}: {} hits in this run, {} in all; per page: {:?}",
        r.total - before,
        r.total,
        {
            let mut v: Vec<(&str, u64)> = r.hits.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            v.sort();
            v
        }
    );
    Ok(())
}
