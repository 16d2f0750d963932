//! The persistent containers. Each is a safe front over pool memory; the raw pointer work
//! is in `handle.rs`.

pub(crate) mod handle;
pub mod pbox;
pub mod pstring;
pub mod pvec;
