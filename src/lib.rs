//! # pcoll — persistent, crash-atomic, std-like collections
//!
//! A pool is a memory-mapped file holding your application's root value. Every change made
//! through a write guard is one transaction: after a crash (a killed process, or a power cut
//! with [`Durability::Sync`]) it is either all there or not there at all. Reopening costs
//! milliseconds whatever the pool's size: only an interrupted transaction is rolled back.
//!
//! ```
//! use pcoll::{Persistent, Pool, PBox};
//!
//! #[derive(Persistent, Default)]
//! struct Root {
//!     runs: u64,
//!     best: Option<PBox<(u64, f64)>>,
//! }
//!
//! # let dir = std::env::temp_dir().join(format!("pcoll-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("app.pool");
//! let pool: Pool<Root> = Pool::open(&path)?;
//! {
//!     let mut root = pool.write();          // one transaction
//!     root.runs += 1;
//!     root.best = Some(PBox::new((7, 0.5)));
//! }                                         // committed here
//! let r: Result<(), pcoll::Error> = pool.transaction(|root| {
//!     root.runs = 1000;
//!     Err(pcoll::Error::ReadOnly { path: "pretend".into() }) // rolls back
//! });
//! assert!(r.is_err());
//! assert_eq!(pool.read().runs, 1);
//! # drop(pool); std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), pcoll::Error>(())
//! ```
//!
//! Layers (each imports only the ones below it): `collections` → `txn` → `heap` →
//! `sync`, `error`. See `docs/ARCHITECTURE.md` and `docs/format.md`.

pub mod collections;
mod compact;
mod error;
#[cfg(feature = "serde")]
mod export;
mod group;
mod heap;
pub mod inspect;
mod migrate;
mod persistent;
mod pool;
mod schema;
mod sync;
mod txn;

#[cfg(feature = "testing")]
pub mod testing;

pub use collections::btree::map::PBTreeMap;
pub use collections::btree::set::PBTreeSet;
pub use collections::convert::IntoPersistent;
pub use collections::equivalent::{Comparable, Equivalent, Pair};
pub use collections::hasher::PRandomState;
pub use collections::pbox::PBox;
pub use collections::phashmap::PHashMap;
pub use collections::phashset::PHashSet;
pub use collections::pstring::PString;
pub use collections::pvec::PVec;
pub use collections::pvecdeque::PVecDeque;
pub use compact::Shrunk;
pub use error::{Error, Result};
#[cfg(feature = "serde")]
pub use export::ExportFormat;
pub use heap::check::{CheckReport, Progress, Visitor, Walk};
pub use heap::persist::{Durability, Event, Medium, Recorder};
pub use migrate::Migration;
pub use pcoll_derive::Persistent;
pub use persistent::{Fingerprint, Persistent, Relocator};
#[doc(hidden)]
pub use persistent::{ReprInt, repr_bits};
pub use pool::{Options, Pool, PoolStats, ReadGuard, WriteGuard};
pub use txn::{Recovery, TxnStats};
