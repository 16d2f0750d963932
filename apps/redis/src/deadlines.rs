//! Key deadlines (TTLs, in Unix milliseconds), indexed twice in the pool: by key, for the
//! check on access (lazy expiry, `db.rs`), and by time, for active expiry (`expire.rs`),
//! which reads the keys due first instead of sampling. Both indexes change together in the
//! command's transaction, so a crash never leaves one without the other.
//!
//! Pools written before the index existed hold the first layout of the keyspace
//! ([`v1::Db`]); [`open`] migrates them on open, in one transaction (pcoll's `migrate`).

use std::path::Path;

use pcoll::{Options, PBTreeSet, PHashMap, PVec, Pair, Persistent, Pool};

use crate::db::{Bytes, Db};

/// The deadlines of the keys that have one.
#[derive(Persistent, Default)]
pub struct Deadlines {
    by_key: PHashMap<Bytes, u64>,
    by_time: PBTreeSet<(u64, Bytes)>,
}

impl Deadlines {
    /// `k`'s deadline, if it has one.
    pub fn get(&self, k: &[u8]) -> Option<u64> {
        self.by_key.get(k).copied()
    }

    /// Gives `k` the deadline `t` (replacing the one it had).
    pub fn set(&mut self, k: &[u8], t: u64) {
        match self.by_key.insert(k, t) {
            Some(old) if old == t => return,
            Some(old) => {
                self.by_time.remove(&Pair(&old, k));
            }
            None => {}
        }
        self.by_time.insert(Pair(&t, k));
    }

    /// Removes `k`'s deadline: the one it had.
    pub fn remove(&mut self, k: &[u8]) -> Option<u64> {
        let t = self.by_key.remove(k)?;
        self.by_time.remove(&Pair(&t, k));
        Some(t)
    }

    /// Keys with a deadline.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// The keys whose deadline is at or before `now`, soonest first.
    pub fn due(&self, now: u64) -> impl Iterator<Item = &[u8]> {
        self.by_time
            .iter()
            .take_while(move |(t, _)| *t <= now)
            .map(|(_, k)| k.as_slice())
    }

    /// The index by time built from deadlines by key (a migration from [`v1::Db`]).
    fn from_map(by_key: PHashMap<Bytes, u64>) -> Self {
        let by_time = by_key
            .iter()
            .map(|(k, &t)| (t, PVec::from(k.as_slice())))
            .collect();
        Deadlines { by_key, by_time }
    }

    /// True when both indexes hold the same (key, deadline) pairs.
    #[cfg(test)]
    pub fn consistent(&self) -> bool {
        self.by_time.len() == self.by_key.len()
            && self.by_time.iter().all(|(t, k)| self.get(k) == Some(*t))
    }
}

/// Earlier layouts of the keyspace, kept to migrate pools written by older versions.
pub mod v1 {
    use pcoll::{PHashMap, PHashSet, PVecDeque, Persistent};

    use crate::db::Bytes;
    use crate::zset::ZSet;

    /// The keyspace before the deadline index (deadlines by key only).
    #[derive(Persistent, Default)]
    pub struct Db {
        pub(crate) strings: PHashMap<Bytes, Bytes>,
        pub(crate) lists: PHashMap<Bytes, PVecDeque<Bytes>>,
        pub(crate) hashes: PHashMap<Bytes, PHashMap<Bytes, Bytes>>,
        pub(crate) sets: PHashMap<Bytes, PHashSet<Bytes>>,
        pub(crate) zsets: PHashMap<Bytes, ZSet>,
        pub(crate) expires: PHashMap<Bytes, u64>,
    }
}

/// Opens (or creates) the keyspace pool at `path` with `opts`, migrating a pool of an
/// earlier layout: its containers move into the new root (no element is copied) and the
/// deadline index is built, in one transaction.
pub fn open(opts: Options<Db>, path: &Path) -> pcoll::Result<Pool<Db>> {
    opts.migrate(|old: &mut v1::Db, new: &mut Db| {
        use std::mem::take;
        new.strings = take(&mut old.strings);
        new.lists = take(&mut old.lists);
        new.hashes = take(&mut old.hashes);
        new.sets = take(&mut old.sets);
        new.zsets = take(&mut old.zsets);
        new.expires = Deadlines::from_map(take(&mut old.expires));
    })
    .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;
    use pcoll::Durability;
    use proptest::prelude::*;

    use db::words as cmd;

    #[test]
    fn a_pool_of_the_first_layout_is_migrated_on_open() {
        let dir = std::env::temp_dir().join(format!("pcoll-redis-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v1.pool");
        let _ = std::fs::remove_file(&path);
        {
            let old = Pool::<v1::Db>::open(&path).unwrap();
            let mut w = old.write();
            for i in 0..1000u64 {
                let k = format!("k{i}");
                w.strings.insert(k.as_bytes(), &b"v"[..]);
                if i % 2 == 0 {
                    w.expires.insert(k.as_bytes(), 5000 - i);
                }
            }
            w.lists
                .insert(&b"l"[..], PVecDeque::from(vec![PVec::from(&b"x"[..])]));
            w.commit().unwrap();
        }
        let pool = open(Pool::<Db>::options(), &path).unwrap();
        {
            let d = pool.read();
            assert_eq!(db::counts(&d), (1001, 500));
            assert!(d.expires.consistent());
            assert_eq!(d.expires.get(b"k0"), Some(5000));
            assert_eq!(d.expires.get(b"k1"), None);
            // Soonest first: k998 (4002), k996 (4004), ...
            let first: Vec<&[u8]> = d.expires.due(4004).collect();
            assert_eq!(first, [&b"k998"[..], b"k996"]);
        }
        pool.check().unwrap();
        drop(pool);
        // Opened again, it is the new layout already: nothing to migrate.
        let pool = open(Pool::<Db>::options().durability(Durability::Sync), &path).unwrap();
        assert_eq!(db::counts(&pool.read()), (1001, 500));
        drop(pool);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    use pcoll::PVecDeque;

    fn op() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let key = (0..6u8).prop_map(|k| format!("k{k}"));
        let ms = (1..50u64).prop_map(|m| m.to_string());
        prop_oneof![
            (key.clone(), ms.clone()).prop_map(|(k, t)| cmd(&["SET", &k, "v", "PX", &t])),
            key.clone().prop_map(|k| cmd(&["SET", &k, "v"])),
            (key.clone(), ms.clone())
                .prop_map(|(k, t)| cmd(&["SET", &k, "v", "KEEPTTL", "PX", &t])),
            key.clone().prop_map(|k| cmd(&["SET", &k, "w", "KEEPTTL"])),
            (key.clone(), ms.clone()).prop_map(|(k, t)| cmd(&["PEXPIRE", &k, &t])),
            (key.clone(), ms).prop_map(|(k, t)| cmd(&["PSETEX", &k, &t, "v"])),
            key.clone().prop_map(|k| cmd(&["PERSIST", &k])),
            key.clone().prop_map(|k| cmd(&["DEL", &k])),
            key.clone().prop_map(|k| cmd(&["GETDEL", &k])),
            key.clone().prop_map(|k| cmd(&["GETSET", &k, "g"])),
            key.clone().prop_map(|k| cmd(&["RPUSH", &k, "x"])),
            key.clone().prop_map(|k| cmd(&["GET", &k])),
            (key.clone(), key).prop_map(|(a, b)| cmd(&["RENAME", &a, &b])),
            Just(cmd(&["FLUSHDB"])),
        ]
    }

    proptest! {
        /// Whatever the commands, the index by time names exactly the deadlines by key, and
        /// every key with a deadline exists (or has expired and waits for deletion).
        #[test]
        fn both_indexes_agree_after_every_command(
            ops in proptest::collection::vec((op(), 0..20u64), 1..60)
        ) {
            let pool = db::test_pool();
            let mut now = 1000;
            for (c, dt) in &ops {
                now += dt;
                pool.transaction(|d| {
                    db::run(d, c, now);
                    Ok::<_, pcoll::Error>(())
                })
                .unwrap();
                let d = pool.read();
                prop_assert!(d.expires.consistent(), "after {:?}", String::from_utf8_lossy(&c.concat()));
                let (keys, with_deadline) = db::counts(&d);
                prop_assert!(with_deadline <= keys);
            }
            crate::expire::cycle(&pool, now + 100).unwrap();
            let d = pool.read();
            prop_assert_eq!(db::counts(&d).1, 0);
            prop_assert!(d.expires.consistent());
            drop(d);
            // RENAME moves values without copies: nothing leaked, nothing owned twice.
            pool.check().unwrap();
        }
    }

    /// RENAME moves a list as Redis does, without copying its elements: the moved list keeps
    /// its buffer, and the pool stays clean (nothing leaked, nothing owned twice), also when
    /// the transaction that renamed rolls back.
    #[test]
    fn rename_moves_a_list_without_copying_it() {
        let pool = db::test_pool();
        let push: Vec<String> = (0..10_000).map(|i| format!("v{i}")).collect();
        let mut args = vec!["RPUSH", "big"];
        args.extend(push.iter().map(String::as_str));
        let buf = |d: &Db, k: &[u8]| {
            d.lists
                .get(k)
                .and_then(|l| l.front())
                .map(|v| v as *const _ as usize)
        };
        pool.transaction(|d| {
            db::run(d, &cmd(&args), 0);
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
        let before = buf(&pool.read(), b"big").unwrap();
        pool.transaction(|d| {
            db::run(d, &cmd(&["RENAME", "big", "moved"]), 0);
            Ok::<_, pcoll::Error>(())
        })
        .unwrap();
        assert_eq!(buf(&pool.read(), b"big"), None);
        assert_eq!(buf(&pool.read(), b"moved"), Some(before));
        pool.check().unwrap();
        // Renamed, then rolled back: the list is where it was, whole.
        let _ = pool.transaction(|d| {
            db::run(d, &cmd(&["RENAME", "moved", "other"]), 0);
            Err::<(), _>(pcoll::Error::ReadOnly {
                path: "rollback".into(),
            })
        });
        let d = pool.read();
        assert_eq!(buf(&d, b"moved"), Some(before));
        assert_eq!(d.lists.get(&b"moved"[..]).unwrap().len(), 10_000);
        assert!(d.lists.get(&b"other"[..]).is_none());
        drop(d);
        pool.check().unwrap();
    }
}
