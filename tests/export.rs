//! Export and import (issue 17): round trips in JSON and CBOR over generated roots, refusals
//! that leave nothing behind, an import into a changed type, and crash images of the import
//! transaction.

mod common;

use std::collections::BTreeMap;

use common::TempDir;
use pcoll::testing::{Config, crash_check_both};
use pcoll::{
    Error, ExportFormat, PBTreeMap, PBTreeSet, PBox, PHashMap, PHashSet, PString, PVec, PVecDeque,
    Persistent, Pool,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Persistent, Default, Serialize, Deserialize)]
struct Inner {
    label: PString,
    weights: [f64; 3],
}

#[derive(Persistent, Default, Serialize, Deserialize)]
struct Root {
    names: PVec<PString>,
    ages: PHashMap<PString, u64>,
    lists: PBTreeMap<i64, PVec<u8>>,
    tags: PHashSet<u32>,
    order: PBTreeSet<PString>,
    queue: PVecDeque<u16>,
    boxed: Option<PBox<(u64, bool)>>,
    inner: Inner,
    count: i32,
}

/// What a root holds, in std types (the model the generated data is built from).
#[derive(Debug, Clone)]
struct Data {
    names: Vec<String>,
    ages: BTreeMap<String, u64>,
    lists: BTreeMap<i64, Vec<u8>>,
    tags: Vec<u32>,
    queue: Vec<u16>,
    boxed: Option<(u64, bool)>,
    label: String,
    count: i32,
}

fn data() -> impl Strategy<Value = Data> {
    (
        prop::collection::vec(".{0,12}", 0..20),
        prop::collection::btree_map(".{0,8}", any::<u64>(), 0..20),
        prop::collection::btree_map(
            any::<i64>(),
            prop::collection::vec(any::<u8>(), 0..30),
            0..10,
        ),
        prop::collection::vec(any::<u32>(), 0..30),
        prop::collection::vec(any::<u16>(), 0..30),
        any::<Option<(u64, bool)>>(),
        ".{0,20}",
        any::<i32>(),
    )
        .prop_map(
            |(names, ages, lists, tags, queue, boxed, label, count)| Data {
                names,
                ages,
                lists,
                tags,
                queue,
                boxed,
                label,
                count,
            },
        )
}

fn fill(w: &mut Root, d: &Data) {
    w.names
        .extend(d.names.iter().map(|s| PString::from(s.as_str())));
    for (k, v) in &d.ages {
        w.ages.insert(k.as_str(), *v);
    }
    for (k, v) in &d.lists {
        w.lists.insert(*k, PVec::from(v.as_slice()));
    }
    w.tags.extend(d.tags.iter().copied());
    w.order
        .extend(d.names.iter().map(|s| PString::from(s.as_str())));
    for (i, &x) in d.queue.iter().enumerate() {
        if i % 2 == 0 {
            w.queue.push_back(x)
        } else {
            w.queue.push_front(x)
        }
    }
    w.boxed = d.boxed.map(PBox::new);
    w.inner.label = d.label.as_str().into();
    w.inner.weights = [0.5, -1.25, 1e300];
    w.count = d.count;
}

/// The root as a JSON value: maps and sets compare as parsed structures.
fn json_of(p: &Pool<Root>) -> serde_json::Value {
    let mut v = serde_json::to_value(&*p.read()).unwrap();
    // Hash sets serialize in hash order: sort them for comparison.
    if let Some(tags) = v["tags"].as_array_mut() {
        tags.sort_by_key(|t| t.as_u64());
    }
    v
}

fn round_trip(d: &Data, format: ExportFormat, dir: &TempDir, n: u32) {
    let a = Pool::<Root>::options().in_memory().unwrap();
    fill(&mut a.write(), d);
    let mut bytes = Vec::new();
    a.export(&mut bytes, format).unwrap();
    let path = dir.file(&format!("imported-{n}.pool"));
    let b = Pool::<Root>::options()
        .import(&path, bytes.as_slice(), format)
        .unwrap();
    assert_eq!(json_of(&a), json_of(&b));
    b.check().unwrap();
    drop(b);
    let b = Pool::<Root>::open_existing(&path).unwrap(); // durable, and a plain pool
    assert_eq!(json_of(&a), json_of(&b));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn exports_import_to_the_same_root(d in data()) {
        let dir = TempDir::new("export-prop");
        round_trip(&d, ExportFormat::Json, &dir, 0);
        round_trip(&d, ExportFormat::Cbor, &dir, 1);
    }
}

#[test]
fn the_json_export_is_the_documented_record() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    p.write().count = 7;
    let mut out = Vec::new();
    p.export(&mut out, ExportFormat::Json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["format"], "pcoll-export");
    assert_eq!(v["version"], 1);
    assert!(v["root_type"].as_str().unwrap().ends_with("::Root"));
    assert_eq!(v["fingerprint"], pcoll::Fingerprint::of::<Root>());
    assert_eq!(v["schema"], pcoll::Fingerprint::schema_of::<Root>());
    assert_eq!(v["root"]["count"], 7);
    // CBOR is the smaller of the two.
    let mut cbor = Vec::new();
    p.export(&mut cbor, ExportFormat::Cbor).unwrap();
    assert!(cbor.len() < out.len(), "{} vs {}", cbor.len(), out.len());
}

#[test]
fn refused_imports_leave_nothing_behind() {
    let dir = TempDir::new("export-refused");
    let path = dir.file("app.pool");
    // Not an export.
    let e = Pool::<Root>::options()
        .import(&path, &b"{\"hello\": 1}"[..], ExportFormat::Json)
        .unwrap_err();
    assert!(matches!(e, Error::Import { .. }), "{e:?}");
    // Another version.
    let text = br#"{"format":"pcoll-export","version":9,"root_type":"x","fingerprint":0,"schema":"","root":{}}"#;
    let e = Pool::<V2>::options()
        .import(&path, &text[..], ExportFormat::Json)
        .unwrap_err();
    assert!(e.to_string().contains("version 9"), "{e}");
    // Truncated CBOR.
    let p = Pool::<Root>::options().in_memory().unwrap();
    fill(&mut p.write(), &sample());
    let mut cbor = Vec::new();
    p.export(&mut cbor, ExportFormat::Cbor).unwrap();
    let e = Pool::<Root>::options()
        .import(&path, &cbor[..cbor.len() / 2], ExportFormat::Cbor)
        .unwrap_err();
    assert!(matches!(e, Error::Import { .. }), "{e:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // A file in the way is refused, untouched.
    std::fs::write(&path, b"precious").unwrap();
    let e = Pool::<Root>::options()
        .import(&path, cbor.as_slice(), ExportFormat::Cbor)
        .unwrap_err();
    assert!(matches!(e, Error::AlreadyExists { .. }), "{e:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

/// Every `pwrite`, `fdatasync`, `fallocate` and `mmap` of an import failed in turn (EIO):
/// the import either succeeds (the pool reads as the export's source) or fails with nothing
/// at the path, or only its final reopen failed and the finished pool is at the path, whole;
/// nothing is left beside it.
#[test]
fn a_failed_call_during_an_import_leaves_nothing_half_done() {
    use pcoll::testing::faults::{self, Call};
    const EIO: i32 = 5;
    let dir = TempDir::new("import-faults");
    let path = dir.file("app.pool");
    let src = Pool::<Root>::options().in_memory().unwrap();
    fill(&mut src.write(), &sample());
    let mut cbor = Vec::new();
    src.export(&mut cbor, ExportFormat::Cbor).unwrap();
    let want = json_of(&src);
    let opts = || Pool::<Root>::options().durability(pcoll::Durability::Sync);
    let mut failed = 0;
    for call in [Call::Pwrite, Call::Fdatasync, Call::Fallocate, Call::Mmap] {
        for n in 1.. {
            faults::arm(call, n, EIO, false);
            let res = opts().import(&path, cbor.as_slice(), ExportFormat::Cbor);
            let fired = faults::fired();
            faults::disarm();
            match res {
                Ok(p) => assert_eq!(json_of(&p), want, "{call:?} #{n}"),
                Err(e) => {
                    assert!(fired > 0, "{call:?} #{n}: {e}");
                    failed += 1;
                }
            }
            if path.exists() {
                // Whole: imported, or only the reopen of the finished pool failed.
                let p = opts().open(&path).unwrap();
                assert_eq!(json_of(&p), want, "{call:?} #{n}");
                p.check().unwrap();
                drop(p);
                std::fs::remove_file(&path).unwrap();
            }
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(left.is_empty(), "{call:?} #{n}: {left:?}");
            if fired == 0 {
                break;
            }
        }
    }
    assert!(failed > 3, "{failed}");
}

fn sample() -> Data {
    Data {
        names: vec!["ann".into(), "bo".into()],
        ages: [("ann".to_string(), 31)].into(),
        lists: [(-3, vec![1, 2, 3])].into(),
        tags: vec![5, 6],
        queue: vec![1, 2, 3],
        boxed: Some((9, true)),
        label: "inner".into(),
        count: -4,
    }
}

/// A later version of the root: a field gone, one added (with a serde default).
#[derive(Persistent, Default, Serialize, Deserialize)]
struct V2 {
    names: PVec<PString>,
    ages: PHashMap<PString, u64>,
    #[serde(default)]
    visits: u64,
}

#[test]
fn an_export_imports_into_a_changed_type_when_serde_can_read_it() {
    let dir = TempDir::new("export-v2");
    let p = Pool::<Root>::options().in_memory().unwrap();
    fill(&mut p.write(), &sample());
    let mut out = Vec::new();
    p.export(&mut out, ExportFormat::Json).unwrap();
    let v2 = Pool::<V2>::options()
        .import(dir.file("v2.pool"), out.as_slice(), ExportFormat::Json)
        .unwrap();
    assert_eq!(v2.read().names.len(), 2);
    assert_eq!(v2.read().ages.get("ann"), Some(&31));
    assert_eq!(v2.read().visits, 0);
    v2.check().unwrap();
}

#[test]
fn crash_images_of_an_import_transaction() {
    let p = Pool::<Root>::options().in_memory().unwrap();
    fill(&mut p.write(), &sample());
    let mut text = Vec::new();
    p.export(&mut text, ExportFormat::Json).unwrap();
    let root_json = serde_json::from_slice::<serde_json::Value>(&text).unwrap()["root"].to_string();
    let reps = crash_check_both(
        "import",
        Config::default(),
        |_: &Pool<Root>| {},
        |r: &mut Root| *r = serde_json::from_str(&root_json).unwrap(),
        |r: &Root| {
            let m = (&r.names, &r.lists, &r.queue, &r.boxed, &r.inner, r.count);
            serde_json::to_string(&m).unwrap()
        },
    );
    for rep in reps {
        assert!(rep.before > 0 && rep.after > 0, "{rep:?}");
    }
}
