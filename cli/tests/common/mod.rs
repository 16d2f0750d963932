//! What both test files of the `pcoll` tool use: a root type with every kind of container,
//! and a temporary directory.
#![allow(dead_code)]

use std::path::PathBuf;

use pcoll::{PBTreeMap, PHashMap, PString, PVec, Persistent};
use serde::{Deserialize, Serialize};

/// A nested struct of the test root.
#[derive(Persistent, Default, Serialize, Deserialize)]
pub struct Inner {
    pub hits: u64,
    pub tags: PVec<PString>,
}

/// The root of the test pools.
#[derive(Persistent, Default, Serialize, Deserialize)]
pub struct Root {
    pub users: PHashMap<PString, u64>,
    pub log: PVec<u64>,
    pub by_time: PBTreeMap<u64, PString>,
    pub inner: Inner,
}

/// A directory removed on drop.
pub struct Dir(PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("pcoll-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
