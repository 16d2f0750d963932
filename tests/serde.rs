//! serde (issue 17, first part): a root deriving `Serialize` gives the JSON of the equivalent
//! std structure; `Deserialize` builds values outside any pool that move in when stored, and
//! survive a reopen; round trips over generated data.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use common::TempDir;
use pcoll::{
    Durability, PBTreeMap, PBTreeSet, PBox, PHashMap, PHashSet, PString, PVec, Persistent, Pool,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Persistent, Default, Serialize, Deserialize)]
struct Root {
    names: PVec<PString>,
    ages: PHashMap<PString, u64>,
    lists: PBTreeMap<u64, PVec<u64>>,
    tags: PHashSet<u64>,
    order: PBTreeSet<PString>,
    boxed: Option<PBox<[u64; 3]>>,
    title: PString,
}

#[derive(Default, Serialize, Deserialize, PartialEq, Debug)]
struct StdRoot {
    names: Vec<String>,
    ages: HashMap<String, u64>,
    lists: BTreeMap<u64, Vec<u64>>,
    tags: HashSet<u64>,
    order: BTreeSet<String>,
    boxed: Option<Box<[u64; 3]>>,
    title: String,
}

fn sample() -> StdRoot {
    StdRoot {
        names: vec!["ann".into(), "bo".into()],
        ages: [("ann".to_string(), 31), ("bo".to_string(), 7)].into(),
        lists: [(1, vec![1, 2]), (5, vec![])].into(),
        tags: [3, 9].into(),
        order: ["z".to_string(), "a".to_string()].into(),
        boxed: Some(Box::new([4, 5, 6])),
        title: "pcoll \"quoted\" ✓".into(),
    }
}

/// JSON values compare maps and sets as the parsed structures (hash order aside).
fn json(v: &impl Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(v).unwrap();
    if let Some(tags) = v.get_mut("tags").and_then(|t| t.as_array_mut()) {
        tags.sort_by_key(|x| x.as_u64());
    }
    v
}

#[test]
fn a_root_serializes_like_the_std_structure_and_deserializes_into_a_pool() {
    let dir = TempDir::new("serde");
    let path = dir.file("p");
    let text = serde_json::to_string(&sample()).unwrap();
    {
        let pool = Pool::<Root>::options()
            .durability(Durability::Process)
            .create(&path)
            .unwrap();
        {
            let mut w = pool.write();
            let parsed: Root = serde_json::from_str(&text).unwrap();
            *w = parsed; // values built outside the pool move in at commit
        }
        assert_eq!(json(&*pool.read()), json(&sample()));
        pool.check().unwrap();
    }
    let pool = Pool::<Root>::open(&path).unwrap();
    assert_eq!(json(&*pool.read()), json(&sample()));
    let back: StdRoot =
        serde_json::from_str(&serde_json::to_string(&*pool.read()).unwrap()).unwrap();
    assert_eq!(back, sample());
    // One field at a time, as a service would update it.
    {
        let mut w = pool.write();
        w.names = serde_json::from_str(r#"["x","y","z"]"#).unwrap();
        w.lists = serde_json::from_str(r#"{"7":[7,7]}"#).unwrap();
    }
    let r = pool.read();
    assert_eq!(serde_json::to_string(&r.names).unwrap(), r#"["x","y","z"]"#);
    assert_eq!(serde_json::to_string(&r.lists).unwrap(), r#"{"7":[7,7]}"#);
    drop(r);
    pool.check().unwrap();
}

#[test]
fn errors_leave_nothing_half_built() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    {
        let mut w = p.write();
        let bad: Result<PVec<u64>, _> = serde_json::from_str("[1, 2, \"x\"]");
        assert!(bad.is_err());
        let bad: Result<PHashMap<PString, u64>, _> = serde_json::from_str(r#"{"a": -1}"#);
        assert!(bad.is_err());
        w.title = "kept".into();
    }
    assert_eq!(p.read().title, "kept");
    p.check().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn round_trips_match_std(
        names in prop::collection::vec("[a-zé ]{0,12}", 0..20),
        lists in prop::collection::btree_map(any::<u64>(), prop::collection::vec(any::<u64>(), 0..8), 0..12),
        tags in prop::collection::hash_set(any::<u64>(), 0..20),
    ) {
        let std_root = StdRoot {
            ages: names.iter().cloned().zip(0..).collect(),
            order: names.iter().cloned().collect(),
            names,
            lists,
            tags,
            boxed: None,
            title: String::new(),
        };
        let text = serde_json::to_string(&std_root).unwrap();
        let p = Pool::<Root>::options().in_memory().unwrap();
        {
            let mut w = p.write();
            *w = serde_json::from_str(&text).unwrap();
        }
        prop_assert_eq!(json(&*p.read()), json(&std_root));
        let again: StdRoot = serde_json::from_str(&serde_json::to_string(&*p.read()).unwrap()).unwrap();
        prop_assert_eq!(again, std_root);
        p.check().unwrap();
    }
}
