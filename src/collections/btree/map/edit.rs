//! `PBTreeMap`'s structural edits, each in two phases (plan and log, then move): the plan's
//! logging and node allocation, `insert_at` (with splits), `remove_at` (with rotations and
//! merges) and `rebalance`, and the bulk `rebuild` (`retain`, `set_ranked`, `append`, `split_off`). The map's
//! header, search and public API are in `map.rs`.

#![allow(unsafe_code)]

use smallvec::SmallVec;

use super::{PBTreeMap, Path, RANKED, Span};
use crate::collections::btree::node::{B, CAP, Edge, MIN, NodeRef, node_layout};
use crate::collections::handle::{self, off_of, pack};
use crate::error::Result;
use crate::persistent::Persistent;
use crate::txn::core::PoolCore;

impl<K: Persistent, V: Persistent> PBTreeMap<K, V> {
    // ---- the plan: log first ----

    /// Logs the ranges of `spans` (skipping fresh nodes), after settling each node: values
    /// that user code stored through `&mut V` move into the pool before pairs move.
    fn log_spans(&self, core: &PoolCore, spans: &[Span]) -> Result<()> {
        for s in spans {
            handle::settle::<V>(core, s.off);
        }
        let mut tx = core.tx();
        for s in spans {
            if tx.is_fresh(s.off) {
                continue;
            }
            // A damaged child pointer naming a smaller block must not be written past it
            // (nodes this transaction allocated are known to be whole).
            let size = node_layout::<K, V>(s.height, self.is_ranked()).0;
            core.expect_block_in(&mut tx, s.off, size, "PBTreeMap node");
            let n = self.node_at(core, s.off, self.height() - s.height);
            if let Some(e) = s.count {
                tx.log_ptr(n.count_ptr(e).cast(), 8)?;
            }
            if s.pairs.0 >= s.pairs.1 && s.edges.0 >= s.edges.1 {
                continue;
            }
            tx.log_ptr(n.len_ptr(), 2)?;
            let (a, b) = (s.pairs.0, s.pairs.1.min(CAP));
            if a < b {
                for (p, size) in [
                    (n.key_ptr(a).cast::<u8>(), size_of::<K>()),
                    (n.val_ptr(a).cast::<u8>(), size_of::<V>()),
                ] {
                    if size > 0 {
                        tx.log_ptr(p, (b - a) * size)?;
                    }
                }
            }
            let (a, b) = (s.edges.0, s.edges.1.min(CAP + 1));
            if s.height > 0 && a < b {
                tx.log_ptr(n.edge_ptr(a).cast(), (b - a) * 8)?;
                if n.keeps_counts() {
                    tx.log_ptr(n.count_ptr(a).cast(), (b - a) * 8)?;
                }
            }
        }
        Ok(())
    }

    /// A fresh, empty node at `height`.
    fn alloc_node<'a>(&self, core: &'a PoolCore, height: usize) -> Result<NodeRef<'a, K, V>> {
        let (size, align) = node_layout::<K, V>(height, self.is_ranked());
        let off = core.tx().alloc(size, align)?;
        // SAFETY: a fresh block of a node's layout; made an empty node right away.
        let n = unsafe { NodeRef::new(core, off, height, self.is_ranked()) };
        n.init_empty();
        Ok(n)
    }

    fn free_nodes(core: &PoolCore, nodes: &[NodeRef<'_, K, V>]) {
        let mut tx = core.tx();
        nodes.iter().for_each(|n| tx.free(n.off()));
    }

    // ---- insert ----

    /// The spans that add one to (or take one from) the count of each edge `path` takes
    /// through the internal nodes of its first `levels` levels (none for an unranked map).
    fn path_counts<'p>(&self, path: &'p Path, levels: usize) -> impl Iterator<Item = Span> + 'p {
        let (height, levels) = (self.height(), if self.is_ranked() { levels } else { 0 });
        // Nodes at height 1 keep no counts (`NodeRef::count`).
        path[..levels]
            .iter()
            .enumerate()
            .filter(move |&(d, _)| height - d > 1)
            .map(move |(d, &(off, e))| Span {
                off,
                height: height - d,
                pairs: (0, 0),
                edges: (0, 0),
                count: Some(e),
            })
    }

    /// Adds `delta` (wrapping) to the count of each edge `path` takes through its first
    /// `levels` levels.
    fn bump_counts(&self, core: &PoolCore, path: &Path, levels: usize, delta: u64) {
        if !self.is_ranked() {
            return;
        }
        for (d, &(off, e)) in path[..levels].iter().enumerate() {
            self.node_at(core, off, d).add_count(e, delta);
        }
    }

    /// Inserts a pair whose key is absent at the leaf edge ending `path` (empty: empty tree).
    /// Returns the node and index where the pair landed. Fails before any change.
    pub(super) fn insert_at(
        &mut self,
        core: &PoolCore,
        path: &Path,
        k: K,
        v: V,
    ) -> Result<(u64, usize)> {
        if path.is_empty() {
            let leaf = self.alloc_node(core, 0)?;
            // SAFETY: an empty fresh leaf has room.
            unsafe { leaf.insert_fit(0, k, v, None) };
            self.root = pack(core.tag, leaf.off());
            self.set_height(0);
            self.len = 1;
            return Ok((leaf.off(), 0));
        }
        // Fast path: the leaf has room.
        let d = path.len() - 1;
        let leaf = self.node_at(core, path[d].0, d);
        let (i, len) = (path[d].1, leaf.len());
        if len < CAP {
            let span = Span {
                off: leaf.off(),
                height: 0,
                pairs: (i, len + 1),
                edges: (0, 0),
                count: None,
            };
            let spans: SmallVec<[Span; 8]> = std::iter::once(span)
                .chain(self.path_counts(path, d))
                .collect();
            self.log_spans(core, &spans)?;
            // SAFETY: a leaf with room; i is a gap of it (the path ends at a leaf edge).
            unsafe { leaf.insert_fit(i, k, v, None) };
            self.bump_counts(core, path, d, 1);
            self.len += 1;
            return Ok((leaf.off(), i));
        }
        // Plan: the full nodes from the leaf up split, each into a fresh right node.
        let levels: SmallVec<[NodeRef<'_, K, V>; 8]> = (0..path.len())
            .map(|d| self.node_at(core, path[d].0, d))
            .collect();
        let splits = levels.iter().rev().take_while(|n| n.len() == CAP).count();
        let mut fresh: SmallVec<[NodeRef<'_, K, V>; 8]> = SmallVec::new();
        let alloc = (0..splits + usize::from(splits == levels.len())).try_for_each(|s| {
            fresh.push(self.alloc_node(core, s)?);
            Ok(())
        });
        // Each level writes edge `i` too: the count of the child that split.
        let spans = (0..=splits.min(levels.len() - 1)).map(|s| {
            let d = levels.len() - 1 - s;
            let (n, i) = (levels[d], path[d].1);
            if s < splits {
                // A split keeps MIN pairs; the insert lands left when i <= MIN.
                let to = if i <= MIN { MIN + 1 } else { i };
                Span {
                    off: n.off(),
                    height: n.height(),
                    pairs: (i, to),
                    edges: (i, to + 1),
                    count: None,
                }
            } else {
                let len = n.len();
                Span {
                    off: n.off(),
                    height: n.height(),
                    pairs: (i, len + 1),
                    edges: (i, len + 2),
                    count: None,
                }
            }
        });
        // The levels above the highest one that changes gain one pair under their edge.
        let above = levels.len().saturating_sub(splits + 1);
        let spans: SmallVec<[Span; 8]> = spans.chain(self.path_counts(path, above)).collect();
        if let Err(e) = alloc.and_then(|()| self.log_spans(core, &spans)) {
            Self::free_nodes(core, &fresh);
            return Err(e);
        }
        // Edits, from the leaf up; `below` is the pair of halves the level below split into.
        let (mut k, mut v) = (k, v);
        let mut below: Option<(NodeRef<'_, K, V>, NodeRef<'_, K, V>)> = None;
        let mut landed = None;
        for (s, node) in levels.iter().rev().enumerate() {
            let i = path[levels.len() - 1 - s].1;
            if s < splits {
                let right = fresh[s];
                // SAFETY: a full node and a fresh node of its height.
                let (sk, sv) = unsafe { node.split(&right) };
                let target = if i <= MIN { (*node, i) } else { (right, i - B) };
                self.insert_between(target, k, v, below);
                landed.get_or_insert((target.0.off(), target.1));
                (k, v) = (sk, sv);
                below = Some((*node, right));
            } else {
                self.insert_between((*node, i), k, v, below);
                self.bump_counts(core, path, above, 1);
                self.len += 1;
                return Ok(landed.unwrap_or((node.off(), i)));
            }
        }
        // Every level split: a new root over the old root and its new sibling.
        let root = fresh[splits];
        let (left, _) = below.expect("the old root split");
        let count = if self.is_ranked() { left.size() } else { 0 };
        let off = off_of(self.root);
        root.set_edge(0, Edge { off, count });
        // The old root stays in the tree: a rollback bringing it back into the header finds
        // no copy of it gone out (a copy left over would be copied on its next change).
        core.tx().keep(off);
        self.insert_between((root, 0), k, v, below);
        self.root = pack(core.tag, root.off());
        self.shape += 1;
        self.len += 1;
        Ok(landed.expect("a split placed the pair"))
    }

    /// Inserts `(k, v)` at `(n, i)`; above the leaves, with the halves `(left, right)` of the
    /// child at edge `i` that split: `right` becomes edge `i + 1`, and both get their counts.
    fn insert_between(
        &self,
        (n, i): (NodeRef<'_, K, V>, usize),
        k: K,
        v: V,
        below: Option<(NodeRef<'_, K, V>, NodeRef<'_, K, V>)>,
    ) {
        let ranked = self.is_ranked();
        let edge = below.map(|(_, r)| Edge {
            off: r.off(),
            count: if ranked { r.size() } else { 0 },
        });
        // SAFETY: the node has room (not full, or a half after a split); `edge` is Some
        // exactly above the leaves (the level below split).
        unsafe { n.insert_fit(i, k, v, edge) };
        if let Some((l, _)) = below.filter(|_| ranked) {
            n.set_count(i, l.size());
        }
    }

    // ---- remove ----

    /// Removes the pair at the end of `path` (a pair index in its node), rebalancing.
    pub(super) fn remove_at(&mut self, core: &PoolCore, path: &Path) -> Result<(K, V)> {
        let mut path = path.clone();
        let d = path.len() - 1;
        let (found, i) = (self.node_at(core, path[d].0, d), path[d].1);
        // A pair in an internal node is swapped with its predecessor, the last pair of the
        // rightmost leaf of its left subtree, which is removed instead.
        let mut replace = None;
        if !found.is_leaf() {
            replace = Some((found, i));
            let mut n = found.edge(i);
            path[d].1 = i;
            loop {
                let len = n.len();
                if n.is_leaf() {
                    path.push((n.off(), len - 1));
                    break;
                }
                path.push((n.off(), len));
                n = n.edge(len);
            }
        }
        let mut spans =
            self.plan_remove(core, &path, replace.map(|r| (r.0.off(), r.0.height(), r.1)));
        spans.extend(self.path_counts(&path, path.len() - 1));
        self.log_spans(core, &spans)?;
        // Edits.
        let leaf_d = path.len() - 1;
        let leaf = self.node_at(core, path[leaf_d].0, leaf_d);
        // SAFETY: the path ends at a pair of this leaf.
        let (mut k, mut v, _) = unsafe { leaf.remove_kv(path[leaf_d].1) };
        if let Some((n, i)) = replace {
            // SAFETY: pair i of the internal node exists; the predecessor takes its place.
            (k, v) = unsafe { n.replace_kv(i, k, v) };
        }
        self.bump_counts(core, &path, leaf_d, u64::MAX);
        self.len -= 1;
        self.rebalance(core, &path);
        Ok((k, v))
    }

    /// The spans a removal along `path` writes (mirrors `remove_at` and `rebalance`).
    fn plan_remove(
        &self,
        core: &PoolCore,
        path: &Path,
        replace: Option<(u64, usize, usize)>,
    ) -> SmallVec<[Span; 8]> {
        let mut spans = SmallVec::new();
        if let Some((off, height, i)) = replace {
            spans.push(Span {
                off,
                height,
                pairs: (i, i + 1),
                edges: (0, 0),
                count: None,
            });
        }
        let d = path.len() - 1;
        let leaf = self.node_at(core, path[d].0, d);
        let i = path[d].1;
        let mut len = leaf.len();
        spans.push(Span {
            off: leaf.off(),
            height: 0,
            pairs: (i, len),
            edges: (0, 0),
            count: None,
        });
        len -= 1;
        for d in (1..path.len()).rev() {
            if len >= MIN {
                break;
            }
            let node = self.node_at(core, path[d].0, d);
            let (parent, e) = (self.node_at(core, path[d - 1].0, d - 1), path[d - 1].1);
            let plen = parent.len();
            let h = node.height();
            let sp = |n: &NodeRef<'_, K, V>, pairs, edges| Span {
                off: n.off(),
                height: h,
                pairs,
                edges,
                count: None,
            };
            // The parent's spans: the separators that move, and the edges whose counts (or
            // places) change.
            let parent_sp = |pairs, edges| Span {
                off: parent.off(),
                height: h + 1,
                pairs,
                edges,
                count: None,
            };
            if e > 0 {
                let left = parent.edge(e - 1);
                let ll = left.len();
                if ll > MIN {
                    spans.push(sp(&node, (0, len + 1), (0, len + 2)));
                    spans.push(sp(&left, (ll - 1, ll), (ll, ll + 1)));
                    spans.push(parent_sp((e - 1, e), (e - 1, e + 1)));
                    break;
                }
                spans.push(sp(&left, (ll, ll + 1 + len), (ll + 1, ll + 2 + len)));
                spans.push(parent_sp((e - 1, plen), (e - 1, plen + 1)));
            } else {
                let right = parent.edge(1);
                let rl = right.len();
                if rl > MIN {
                    spans.push(sp(&node, (len, len + 1), (len + 1, len + 2)));
                    spans.push(sp(&right, (0, rl), (0, rl + 1)));
                    spans.push(parent_sp((0, 1), (0, 2)));
                    break;
                }
                spans.push(sp(&node, (len, len + 1 + rl), (len + 1, len + 2 + rl)));
                spans.push(parent_sp((0, plen), (0, plen + 1)));
            }
            len = plen - 1;
        }
        spans
    }

    /// Restores the minimum fill along `path` after a removal from its leaf: a rotation
    /// from a sibling with pairs to spare, else a merge with it (which may underfill the
    /// parent in turn); finally an empty root gives way to its only child.
    fn rebalance(&mut self, core: &PoolCore, path: &Path) {
        for d in (1..path.len()).rev() {
            let node = self.node_at(core, path[d].0, d);
            if node.len() >= MIN {
                return;
            }
            let (parent, e) = (self.node_at(core, path[d - 1].0, d - 1), path[d - 1].1);
            // SAFETY: siblings are children e-1/e+1 of the same parent, at the same height;
            // the counts checked make room where pairs go (all edits in this block).
            unsafe {
                if e > 0 {
                    let left = parent.edge(e - 1);
                    if left.len() > MIN {
                        let (k, v, edge) = left.remove_kv(left.len() - 1);
                        let (k, v) = parent.replace_kv(e - 1, k, v);
                        node.push_front(k, v, edge);
                        self.shift_count(parent, (e - 1, e), node, 0);
                        return;
                    }
                    self.merge_children(core, parent, e - 1);
                } else {
                    let right = parent.edge(1);
                    if right.len() > MIN {
                        let (k, v, edge) = right.pop_front();
                        let (k, v) = parent.replace_kv(0, k, v);
                        node.insert_fit(node.len(), k, v, edge);
                        self.shift_count(parent, (1, 0), node, node.len());
                        return;
                    }
                    self.merge_children(core, parent, 0);
                }
            }
        }
        let root = self.root_in(core).expect("a tree with a root");
        if root.len() == 0 {
            core.tx().free(root.off());
            if root.is_leaf() {
                self.root = 0;
                self.set_height(0);
            } else {
                let child = root.edge(0).off();
                // A root again: a split's note that it stayed inside the tree ends.
                core.tx().unkeep(child);
                self.root = pack(core.tag, child);
                self.shape -= 1;
            }
        }
    }

    /// After a rotation through `parent`: one pair, and above the leaves one child (now edge
    /// `at` of `recv`), went from the subtree at edge `from` to the one at edge `to`.
    fn shift_count(
        &self,
        parent: NodeRef<'_, K, V>,
        (from, to): (usize, usize),
        recv: NodeRef<'_, K, V>,
        at: usize,
    ) {
        if !self.is_ranked() {
            return;
        }
        // The moved child's pairs, read where it is now (a leaf's count is its `len`).
        let moved = if recv.is_leaf() { 0 } else { recv.count(at) };
        let n = 1 + moved;
        parent.add_count(from, n.wrapping_neg());
        parent.add_count(to, n);
    }

    /// Merges separator `i` of `parent` and the child at edge `i + 1` into the child at edge
    /// `i` (in a ranked tree its count becomes the pairs of all three), and frees the right
    /// child.
    ///
    /// # Safety
    /// The two children and the separator fit one node (a merge after a failed rotation).
    unsafe fn merge_children(&self, core: &PoolCore, parent: NodeRef<'_, K, V>, i: usize) {
        let both = if self.is_ranked() {
            let (a, b) = (parent.count(i), parent.count(i + 1));
            a.wrapping_add(b).wrapping_add(1)
        } else {
            0
        };
        let (left, right) = (parent.edge(i), parent.edge(i + 1));
        // SAFETY: the caller's contract; pair i exists (two children around it).
        unsafe {
            let (k, v, _) = parent.remove_kv(i);
            left.merge(k, v, &right);
        }
        parent.set_count(i, both);
        core.tx().free(right.off());
    }

    /// Rebuilds the tree from its pairs in order, keeping those `keep` marks (the rest of
    /// the pairs when `keep` is shorter), in nodes of a ranked tree or an ordinary one: the
    /// old nodes are freed (not logged), the new ones are fresh. Dropped pairs are dropped.
    pub(super) fn rebuild(&mut self, core: &PoolCore, keep: &[bool], ranked: bool) -> Result<()> {
        let Some(root) = self.root_in(core) else {
            return Ok(());
        };
        let mut pairs = Vec::with_capacity(self.len());
        Self::move_out(core, root, &mut pairs);
        (self.root, self.len) = (0, 0);
        self.shape = if ranked { RANKED } else { 0 };
        let mut res = Ok(());
        for ((k, v), keep) in pairs
            .into_iter()
            .zip(keep.iter().copied().chain(std::iter::repeat(true)))
        {
            if keep && res.is_ok() {
                res = self.bulk_push(core, k, v);
            } else {
                handle::drop_owned((k, v));
            }
        }
        self.bulk_finish(core);
        res
    }

    /// Moves every pair under `n` out, in order, and frees its nodes (deferred to commit; the
    /// nodes' bytes stay intact for a rollback).
    fn move_out(core: &PoolCore, n: NodeRef<'_, K, V>, out: &mut Vec<(K, V)>) {
        handle::settle::<V>(core, n.off());
        let len = n.len();
        for i in 0..=len {
            if !n.is_leaf() {
                Self::move_out(core, n.edge(i), out);
            }
            if i < len {
                // SAFETY: pair i is initialised; the node is freed and never read as a tree
                // node again in this transaction, so each pair moves out once.
                out.push(unsafe { (n.key_ptr(i).read(), n.val_ptr(i).read()) });
            }
        }
        core.tx().free(n.off());
    }

    // ---- bulk building ----

    /// Appends a pair whose key is greater than every key in this map, which is being built
    /// from scratch in key order (its nodes are all fresh: nothing is logged). Every node
    /// left behind the right edge is full, as std's `bulk_push` leaves them; the right edge
    /// may hold fewer than `MIN` pairs until [`Self::bulk_finish`]. The pair goes into the
    /// last leaf, or, when it is full, into the lowest node of the right edge with room
    /// (a new root if none), which takes a fresh empty subtree as its last child.
    pub(super) fn bulk_push(&mut self, core: &PoolCore, k: K, v: V) -> Result<()> {
        let Some(root) = self.root_in(core) else {
            let leaf = self.alloc_node(core, 0)?;
            // SAFETY: an empty fresh leaf has room.
            unsafe { leaf.insert_fit(0, k, v, None) };
            (self.root, self.len) = (pack(core.tag, leaf.off()), 1);
            self.set_height(0);
            return Ok(());
        };
        let mut spine: SmallVec<[NodeRef<'_, K, V>; 8]> = SmallVec::new();
        spine.push(root);
        while let Some(n) = spine.last().copied().filter(|n| !n.is_leaf()) {
            spine.push(n.edge(n.len()));
        }
        let leaf = spine[spine.len() - 1];
        // The nodes of the spine above `d` hold one pair more under their last edge.
        let ranked = self.is_ranked();
        let bump = |d: usize| {
            for n in spine[..d].iter().filter(|_| ranked) {
                n.add_count(n.len(), 1);
            }
        };
        if leaf.len() < CAP {
            // SAFETY: a leaf with room; the key goes last.
            unsafe { leaf.insert_fit(leaf.len(), k, v, None) };
            bump(spine.len() - 1);
            self.len += 1;
            return Ok(());
        }
        let open = spine.iter().rposition(|n| n.len() < CAP);
        let host_height = open.map_or(self.height() + 1, |d| spine[d].height());
        let mut fresh: SmallVec<[NodeRef<'_, K, V>; 8]> = SmallVec::new();
        let heights = (0..host_height)
            .rev()
            .chain(open.is_none().then_some(host_height));
        for h in heights {
            match self.alloc_node(core, h) {
                Ok(n) => fresh.push(n),
                Err(e) => {
                    Self::free_nodes(core, &fresh);
                    return Err(e);
                }
            }
        }
        // fresh: the new subtree from its top (height host_height - 1) down to its leaf,
        // then the new root if there is one.
        let chain = &fresh[..host_height];
        let empty = |n: &NodeRef<'_, K, V>| Edge {
            off: n.off(),
            count: 0,
        };
        for w in chain.windows(2) {
            w[0].set_edge(0, empty(&w[1]));
        }
        let host = match open {
            Some(d) => {
                bump(d);
                spine[d]
            }
            None => {
                let r = fresh[host_height];
                let all = Edge {
                    off: off_of(self.root),
                    count: if ranked { self.len } else { 0 },
                };
                r.set_edge(0, all);
                self.root = pack(core.tag, r.off());
                self.shape += 1;
                r
            }
        };
        // SAFETY: the host has room and is internal; the chain's top is a fresh node one
        // level below it; the key goes last.
        unsafe { host.insert_fit(host.len(), k, v, Some(empty(&chain[0]))) };
        self.len += 1;
        Ok(())
    }

    /// Ends a bulk build: each node of the right edge short of `MIN` pairs takes what it
    /// lacks from its left sibling, through their parent. A left sibling is always full
    /// (every node a bulk build leaves behind is), so it keeps at least `CAP - MIN` pairs.
    /// Moves only: it cannot fail, and it runs after a failed push too.
    pub(super) fn bulk_finish(&mut self, core: &PoolCore) {
        let Some(mut n) = self.root_in(core) else {
            return;
        };
        while !n.is_leaf() {
            let len = n.len();
            let (left, right) = (n.edge(len - 1), n.edge(len));
            for _ in right.len()..MIN {
                // SAFETY: siblings at the same height under `n`; `left` holds more than MIN
                // pairs (see above), `right` fewer than MIN, so it has room.
                unsafe {
                    let (k, v, edge) = left.remove_kv(left.len() - 1);
                    let (k, v) = n.replace_kv(len - 1, k, v);
                    right.push_front(k, v, edge);
                    self.shift_count(n, (len - 1, len), right, 0);
                }
            }
            n = right;
        }
    }
}
