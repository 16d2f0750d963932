//! The persistent containers. Each is a safe front over pool memory; the raw pointer work
//! is in `handle.rs`.

pub mod btree;
pub(crate) mod convert;
pub mod entry;
pub mod equivalent;
pub(crate) mod handle;
pub(crate) mod hasher;
pub(crate) mod lent;
pub mod pbox;
pub mod phashmap;
pub mod phashset;
pub mod pstring;
pub mod pvec;
pub mod pvecdeque;
#[cfg(feature = "serde")]
mod serde_impls;
pub(crate) mod std_api;
mod table;

pub use pstring::PString;
