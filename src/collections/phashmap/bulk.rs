//! `PHashMap`'s whole-map edits: `clear`, `drain`, `retain` (and the `extract_if` step it
//! shares with `std_api.rs`), `shrink_to_fit`, `shrink_to`. Each logs what it vacates first
//! (see `phashmap.rs`).

#![allow(unsafe_code)]

use std::hash::{BuildHasher, Hash};

use super::PHashMap;
use crate::collections::handle;
use crate::collections::table;
use crate::persistent::Persistent;

impl<K: Persistent, V: Persistent, S: Persistent> PHashMap<K, V, S> {
    /// Removes every entry, dropping them, and releases the table.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut a: PHashMap<u64, u64> = PHashMap::from([(1, 10)]);
    /// a.clear();
    /// assert!(a.is_empty());
    /// assert_eq!(a.capacity(), 0); // the table is released (std keeps it)
    /// ```
    pub fn clear(&mut self) {
        if self.raw == 0 {
            return;
        }
        self.with_pool(|m, core| {
            if std::mem::needs_drop::<(K, V)>() {
                let t = m.table(core).expect("allocated");
                for i in t.full() {
                    let off = core.offset_of(t.slot(i).cast());
                    // SAFETY: full bucket i holds an entry dropped exactly once; the table is
                    // released right after without reading it again.
                    unsafe { handle::drop_at::<(K, V)>(core, off) }
                        .unwrap_or_else(|e| panic!("pcoll: PHashMap::clear: {e}"));
                }
            }
            m.release_table(core);
        });
    }

    /// Moves every entry out (eagerly) and releases the table.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut a: PHashMap<u64, u64> = PHashMap::from([(1, 10), (2, 20)]);
    /// let mut v: Vec<(u64, u64)> = a.drain().collect();
    /// v.sort();
    /// assert_eq!(v, [(1, 10), (2, 20)]);
    /// assert!(a.is_empty());
    /// ```
    pub fn drain(&mut self) -> std::vec::IntoIter<(K, V)> {
        let mut out = Vec::with_capacity(self.iter_len());
        if self.raw == 0 {
            return out.into_iter();
        }
        self.with_pool(|m, core| {
            let t = m.table(core).expect("allocated");
            let fresh = m.fresh(core);
            for i in t.full() {
                if !fresh {
                    // Vacated slots are logged (module invariant).
                    core.tx()
                        .log_ptr(t.slot(i).cast(), size_of::<(K, V)>())
                        .unwrap_or_else(|e| panic!("pcoll: PHashMap::drain: {e}"));
                }
                // SAFETY: full bucket; the table is released below, so each entry moves once.
                out.push(unsafe { t.slot(i).read() });
            }
            m.release_table(core);
        });
        if <(K, V)>::HANDLES {
            out = out.into_iter().map(handle::detach).collect();
        }
        out.into_iter()
    }

    /// Keeps the entries for which `f` returns true. Each value is logged before `f` sees
    /// it mutably.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = (0..8).map(|x| (x, x * 10)).collect();
    /// map.retain(|&k, _| k % 2 == 0);
    /// assert_eq!(map.len(), 4);
    /// assert!(map.contains_key(&2) && !map.contains_key(&3));
    /// ```
    pub fn retain<F: FnMut(&K, &mut V) -> bool>(&mut self, mut f: F) {
        let mut at = 0;
        while let Some(kv) = self.take_next_where(&mut at, &mut |k, v| !f(k, v)) {
            handle::drop_owned(kv);
        }
    }

    /// From bucket `*at` on, the first entry for which `f` says true, moved out of the map
    /// (`*at` then points past it); `f` sees every full bucket it passes, its value logged.
    /// Removal never moves other entries, so a walk can go on from `*at` after a removal
    /// (`retain`, `extract_if`).
    pub(crate) fn take_next_where(
        &mut self,
        at: &mut usize,
        f: &mut dyn FnMut(&K, &mut V) -> bool,
    ) -> Option<(K, V)> {
        while *at < self.buckets() {
            let (pos, from) = (*at & !(table::GROUP - 1), *at);
            let bits = self.view()?.full_in_group(pos);
            for i in bits.map(|b| pos + b).filter(|&i| i >= from) {
                *at = i + 1;
                let v = self.value_mut_at(i, "retain") as *mut V;
                let k = &self.view().expect("non-empty").get(i).0 as *const K;
                // SAFETY: bucket i is full and stays so while `f` runs (`f` cannot reach the
                // map); the value is logged and exclusive through `&mut self`.
                if f(unsafe { &*k }, unsafe { &mut *v }) {
                    let kv = self.with_pool(|m, core| m.take_at(core, i));
                    return Some(kv.unwrap_or_else(|e| panic!("pcoll: PHashMap::retain: {e}")));
                }
            }
            *at = pos + table::GROUP;
        }
        None
    }

    /// Shrinks the table to the smallest that holds the entries (releases it when empty).
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::with_capacity(100);
    /// map.insert(1, 2);
    /// map.insert(3, 4);
    /// assert!(map.capacity() >= 100);
    /// map.shrink_to_fit();
    /// assert!(map.capacity() >= 2 && map.capacity() < 100);
    /// ```
    pub fn shrink_to_fit(&mut self)
    where
        K: Hash,
        S: BuildHasher,
    {
        self.shrink_to(0);
    }

    /// Shrinks the table to hold at least `max(len, min)` entries.
    ///
    /// # Examples
    /// ```
    /// use pcoll::PHashMap;
    ///
    /// let mut map: PHashMap<u64, u64> = PHashMap::with_capacity(100);
    /// map.insert(1, 2);
    /// map.insert(3, 4);
    /// assert!(map.capacity() >= 100);
    /// map.shrink_to(10);
    /// assert!(map.capacity() >= 10 && map.capacity() < 100);
    /// ```
    pub fn shrink_to(&mut self, min: usize)
    where
        K: Hash,
        S: BuildHasher,
    {
        if self.raw == 0 {
            return;
        }
        let want = self.len().max(min);
        if want == 0 {
            return self.with_pool(|m, core| m.release_table(core));
        }
        let buckets = table::buckets_for(want).expect("fits: fewer than the current buckets");
        if buckets < self.buckets() {
            self.with_pool(|m, core| m.resize(core, buckets))
                .unwrap_or_else(|e| panic!("pcoll: PHashMap::shrink_to: {e}"));
        }
    }
}
