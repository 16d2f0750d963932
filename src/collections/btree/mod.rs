//! `PBTreeMap` and `PBTreeSet`: a B-tree in the pool. `node.rs` is the raw node engine,
//! `map.rs` the safe front with its log-first plans, `iter.rs` the cursors, `set.rs` the set.

pub mod iter;
pub mod map;
mod node;
pub mod set;
