//! `PBTreeMap`'s `Persistent` impl and the checks of a tree's shape: the walk of
//! `Pool::check()` (every node block against the allocator before it is read, fill bounds,
//! one leaf depth, ranked counts, `len`) and the test support `verify_tree`.

#![allow(unsafe_code)]

use super::PBTreeMap;
use crate::collections::btree::node::{CAP, MAX_HEIGHT, MIN, NodeRef, node_layout};
use crate::collections::handle::{self, off_of};
use crate::error::Result;
use crate::heap::check::Visitor;
use crate::persistent::{Fingerprint, Persistent, Relocator};
use crate::txn::core::PoolCore;

impl<K: Persistent + Ord, V: Persistent> PBTreeMap<K, V> {
    /// Test support: keys strictly increasing in order, every node but the root at least
    /// half full, all leaves at one depth, and `len` equal to the pairs counted.
    #[doc(hidden)]
    pub fn verify_tree(&self) -> std::result::Result<(), String> {
        let Some((_, root)) = self.view() else {
            return if self.root == 0 || self.len == 0 {
                Ok(())
            } else {
                Err("empty tree with a root".into())
            };
        };
        let mut count = 0;
        let mut last: Option<&K> = None;
        Self::verify_node(root, true, self.is_ranked(), &mut count, &mut last)?;
        if count != self.len() {
            return Err(format!("len {} but {count} pairs", self.len));
        }
        Ok(())
    }

    fn verify_node<'a>(
        n: NodeRef<'a, K, V>,
        is_root: bool,
        ranked: bool,
        count: &mut usize,
        last: &mut Option<&'a K>,
    ) -> std::result::Result<(), String> {
        let len = n.len();
        if (!is_root && len < MIN) || len == 0 {
            return Err(format!("node at height {} holds {len} pairs", n.height()));
        }
        for i in 0..=len {
            if !n.is_leaf() {
                let before = *count;
                Self::verify_node(n.edge(i), false, ranked, count, last)?;
                if ranked && n.count(i) != (*count - before) as u64 {
                    return Err(format!(
                        "an edge at height {} counts {} pairs, its subtree holds {}",
                        n.height(),
                        n.count(i),
                        *count - before
                    ));
                }
            }
            if i < len {
                let k = n.key(i);
                if last.is_some_and(|l| l >= k) {
                    return Err("keys out of order".into());
                }
                *last = Some(k);
                *count += 1;
            }
        }
        Ok(())
    }
}

impl<K: Persistent, V: Persistent> PBTreeMap<K, V> {
    /// For `Pool::check()`: every node block against the allocator before it is read, fill
    /// bounds, one leaf depth, and `len` against the pairs counted.
    fn visit_node(
        &self,
        core: &PoolCore,
        off: u64,
        height: usize,
        v: &mut Visitor<'_>,
    ) -> Option<usize> {
        let (size, _) = node_layout::<K, V>(height, self.is_ranked());
        if !v.enter(off, size) {
            return None;
        }
        // SAFETY: an allocated block of a node's size at this height (entered above).
        let n = unsafe { NodeRef::<K, V>::new(core, off, height, self.is_ranked()) };
        // SAFETY: `len` is a plain u16 of the entered block.
        let len = usize::from(unsafe { n.len_ptr().cast::<u16>().read() });
        if len > CAP || (len < MIN && off != off_of(self.root)) || len == 0 {
            v.problem(format!("PBTreeMap node of {len} pairs at height {height}"));
            return None;
        }
        let mut count = len;
        for i in 0..len {
            n.key(i).visit(v);
            n.val(i).visit(v);
        }
        if height > 0 {
            for i in 0..=len {
                // SAFETY: edges up to len of an entered internal node are plain integers.
                let child = unsafe { n.edge_ptr(i).read() };
                let under = self.visit_node(core, child, height - 1, v)?;
                if n.keeps_counts() && n.count(i) != under as u64 {
                    v.problem(format!(
                        "PBTreeMap edge counts {} pairs, its subtree holds {under}",
                        n.count(i)
                    ));
                    return None;
                }
                count += under;
            }
        }
        Some(count)
    }
}

// SAFETY: a PBTreeMap holds a pool offset and two counters; layout names K and V; visit
// reports every node block and every pair's blocks.
unsafe impl<K: Persistent, V: Persistent> Persistent for PBTreeMap<K, V> {
    handle::handle_moves!(root);
    fn copy_to(&self, to: &Relocator<'_>) -> Result<Self> {
        // In key order, each pair appended at the end: no key is compared.
        let mut out = self.empty_like();
        let mut res = Ok(());
        for (k, v) in self.iter() {
            res = (|| {
                let (k, v) = (k.copy_to(to)?, v.copy_to(to)?);
                out.with_pool(|m, core| m.bulk_push(core, k, v))
            })();
            if res.is_err() {
                break;
            }
        }
        if out.root != 0 {
            out.with_pool(|m, core| m.bulk_finish(core));
        }
        res.map(|()| out)
    }
    fn layout(fp: &mut Fingerprint) {
        if fp.begin_struct("PBTreeMap", size_of::<Self>(), align_of::<Self>()) {
            K::layout(fp);
            V::layout(fp);
        }
        fp.end_struct();
    }
    fn visit(&self, v: &mut Visitor<'_>) {
        if self.root == 0 {
            if self.len != 0 {
                v.problem(format!("PBTreeMap of {} entries without a root", self.len));
            }
            return;
        }
        if self.height() >= MAX_HEIGHT {
            return v.problem(format!("PBTreeMap of height {}", self.height()));
        }
        let Some(core) = crate::txn::core::core_of(self) else {
            return;
        };
        if handle::tag_of(self.root) != core.tag {
            return v.problem(format!(
                "pointer {:#x} carries another pool's tag",
                self.root
            ));
        }
        let count = self.visit_node(core, off_of(self.root), self.height(), v);
        if count.is_some_and(|c| c as u64 != self.len) {
            v.problem(format!(
                "PBTreeMap len {} but {} pairs",
                self.len,
                count.unwrap_or(0)
            ));
        }
    }
}
