//! Sorted sets: a `PHashMap` member → score beside a `PBTreeMap` ordered by (score,
//! member), their reads (ZSCORE, ZRANK, ZRANGE and its forms, ZCOUNT) and ZADD.

use std::ops::Bound;

use pcoll::{PBTreeMap, PHashMap, Pair, Persistent};

use crate::cmd::Cmd;
use crate::db::{Bytes, Db, clamp, int, upper};
use crate::resp::Reply;

/// A sorted set: each member's score, and the members ordered by (score, member) in a ranked
/// tree, so ranks (ZRANK, ZRANGE by rank, ZCOUNT) cost O(log n) as in Redis's skip list.
#[derive(Persistent)]
pub struct ZSet {
    pub(crate) scores: PHashMap<Bytes, f64>,
    order: PBTreeMap<(u64, Bytes), ()>,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            scores: PHashMap::default(),
            order: PBTreeMap::ranked(),
        }
    }
}

/// `f64` as a `u64` that sorts as the numbers do.
fn sortable(f: f64) -> u64 {
    let b = f.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

fn unsortable(u: u64) -> f64 {
    f64::from_bits(if u >> 63 == 1 { u & !(1 << 63) } else { !u })
}

impl ZSet {
    /// The order, for a change. A set whose tree is not ranked (made by a build from before
    /// ranks, or by an import, which makes ordinary trees) becomes ranked on its first write,
    /// O(n) once; until then its reads walk, as they did.
    fn order_mut(&mut self) -> &mut PBTreeMap<(u64, Bytes), ()> {
        self.order.set_ranked(true);
        &mut self.order
    }

    /// Sets `m`'s score; true when `m` is new.
    pub(crate) fn set(&mut self, m: &[u8], score: f64) -> bool {
        let old = self.scores.insert(m, score);
        let order = self.order_mut();
        if let Some(o) = old {
            order.remove(&Pair(&sortable(o), m));
        }
        order.insert(Pair(&sortable(score), m), ());
        old.is_none()
    }

    pub(crate) fn remove(&mut self, m: &[u8]) -> bool {
        match self.scores.remove(m) {
            Some(o) => {
                self.order_mut().remove(&Pair(&sortable(o), m));
                true
            }
            None => false,
        }
    }

    /// The entries of ranks `s..e` (from the top with `rev`). The tree's iterators skip by
    /// subtree counts, so this is O(log n + e - s), as Redis's skip list spans make it.
    fn at_ranks(&self, s: usize, e: usize, rev: bool) -> Vec<(&[u8], f64)> {
        fn pick((sc, m): &(u64, Bytes)) -> (&[u8], f64) {
            (m.as_slice(), unsortable(*sc))
        }
        if rev {
            self.order
                .keys()
                .rev()
                .skip(s)
                .take(e - s)
                .map(pick)
                .collect()
        } else {
            self.order.keys().skip(s).take(e - s).map(pick).collect()
        }
    }

    /// The entries whose scores are within Redis's bounds (`(` exclusive), in order: a range
    /// of the tree, O(log n + m), as Redis's skip list (a filter over every entry made
    /// ZCOUNT and ZRANGEBYSCORE O(n) a call).
    fn by_score(
        &self,
        lo: (f64, bool),
        hi: (f64, bool),
    ) -> Box<dyn DoubleEndedIterator<Item = (&[u8], f64)> + '_> {
        let Some(range) = self.score_range(lo, hi) else {
            return Box::new(std::iter::empty());
        };
        Box::new(
            range
                .map(|((s, m), ())| (m.as_slice(), unsortable(*s)))
                .filter(move |e| in_bounds(e.1, lo, hi)),
        )
    }

    /// How many entries `by_score` gives, in O(log n): the range's count, less the entries
    /// at its ends that `in_bounds` drops (only where the orders of `sortable` and of `f64`
    /// disagree: 0.0 against -0.0).
    fn count_by_score(&self, lo: (f64, bool), hi: (f64, bool)) -> usize {
        let Some(range) = self.score_range(lo, hi) else {
            return 0;
        };
        let out = |e: &(&(u64, Bytes), &())| !in_bounds(unsortable(e.0.0), lo, hi);
        let all = range.clone().count();
        let front = range.clone().take_while(out).count();
        if front == all {
            return 0;
        }
        all - front - range.rev().take_while(out).count()
    }

    /// The tree's range of scores from `lo` to `hi`, an exclusive bound leaving out its own
    /// score; `None` when empty.
    fn score_range(
        &self,
        lo: (f64, bool),
        hi: (f64, bool),
    ) -> Option<pcoll::collections::btree::iter::Range<'_, (u64, Bytes), ()>> {
        let from = sortable(lo.0).checked_add(u64::from(lo.1))?;
        let to = sortable(hi.0).checked_sub(u64::from(hi.1))?;
        if from > to {
            return None;
        }
        // (score, member) pairs sort by score first; the empty member is the least.
        let start = Bound::Included(Pair(&from, &[][..]));
        let next = to.checked_add(1);
        let end = next
            .as_ref()
            .map_or(Bound::Unbounded, |n| Bound::Excluded(Pair(n, &[][..])));
        Some(self.order.range((start, end)))
    }
}

/// A score as Redis writes it.
pub(crate) fn fmt_score(f: f64) -> Vec<u8> {
    if f.is_infinite() {
        return if f > 0.0 {
            b"inf".to_vec()
        } else {
            b"-inf".to_vec()
        };
    }
    format!("{f}").into_bytes()
}

pub(crate) fn parse_score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let is = |word: &str| s.eq_ignore_ascii_case(word);
    let f = if is("inf") || is("+inf") {
        f64::INFINITY
    } else if is("-inf") {
        f64::NEG_INFINITY
    } else {
        s.parse().ok()?
    };
    // -0 is 0, as Redis stores and compares it (adding 0.0 turns -0.0 into 0.0): the tree's
    // order by `sortable` bits then agrees with the scores' `==`.
    (!f.is_nan()).then_some(f + 0.0)
}

/// A score bound of ZCOUNT/ZRANGEBYSCORE: (value, exclusive).
fn parse_bound(b: &[u8]) -> Option<(f64, bool)> {
    match b.strip_prefix(b"(") {
        Some(rest) => Some((parse_score(rest)?, true)),
        None => Some((parse_score(b)?, false)),
    }
}

fn in_bounds(f: f64, lo: (f64, bool), hi: (f64, bool)) -> bool {
    (if lo.1 { f > lo.0 } else { f >= lo.0 }) && (if hi.1 { f < hi.0 } else { f <= hi.0 })
}

/// True for the sorted-set reads, which [`zread`] runs.
pub(crate) fn is_zread(c: Cmd) -> bool {
    matches!(
        c,
        Cmd::Zscore
            | Cmd::Zcard
            | Cmd::Zrank
            | Cmd::Zrevrank
            | Cmd::Zcount
            | Cmd::Zrange
            | Cmd::Zrevrange
            | Cmd::Zrangebyscore
    )
}

/// The sorted-set reads.
pub(crate) fn zread(z: Option<&ZSet>, c: Cmd, a: &[Vec<u8>]) -> Reply {
    let empty = || Reply::Array(Some(vec![]));
    let not_int = || Reply::err("value is not an integer or out of range");
    let not_float = || Reply::err("min or max is not a float");
    match c {
        Cmd::Zscore => Reply::Bulk(
            z.and_then(|z| z.scores.get(&a[2][..]))
                .map(|&f| fmt_score(f)),
        ),
        Cmd::Zcard => Reply::Int(z.map_or(0, |z| z.scores.len() as i64)),
        Cmd::Zrank | Cmd::Zrevrank => {
            let Some(z) = z else { return Reply::Bulk(None) };
            let Some(&f) = z.scores.get(&a[2][..]) else {
                return Reply::Bulk(None);
            };
            let rank = z.order.range(..Pair(&sortable(f), &a[2][..])).count();
            Reply::Int(if c == Cmd::Zrank {
                rank
            } else {
                z.scores.len() - 1 - rank
            } as i64)
        }
        Cmd::Zcount => {
            let (Some(lo), Some(hi)) = (parse_bound(&a[2]), parse_bound(&a[3])) else {
                return not_float();
            };
            Reply::Int(z.map_or(0, |z| z.count_by_score(lo, hi)) as i64)
        }
        _ => {
            // ZRANGE key start stop [BYSCORE] [REV] [LIMIT off n] [WITHSCORES], and the
            // older ZREVRANGE / ZRANGEBYSCORE forms.
            let mut byscore = c == Cmd::Zrangebyscore;
            let mut rev = c == Cmd::Zrevrange;
            let (mut scores, mut limit) = (false, None);
            let mut i = 4;
            while i < a.len() {
                match upper(&a[i]).as_str() {
                    "BYSCORE" => byscore = true,
                    "REV" => rev = true,
                    "WITHSCORES" => scores = true,
                    "LIMIT" => {
                        let (Some(o), Some(n)) = (
                            a.get(i + 1).and_then(|b| int(b)),
                            a.get(i + 2).and_then(|b| int(b)),
                        ) else {
                            return not_int();
                        };
                        limit = Some((
                            o.max(0) as usize,
                            if n < 0 { usize::MAX } else { n as usize },
                        ));
                        i += 2;
                    }
                    _ => return Reply::err("syntax error"),
                }
                i += 1;
            }
            // The range is checked before the key is looked at (as Redis does).
            let bounds = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
            let bounds = (parse_bound(bounds.0), parse_bound(bounds.1));
            let ranks = (int(&a[2]), int(&a[3]));
            match (byscore, bounds, ranks) {
                (true, (Some(_), Some(_)), _) | (false, _, (Some(_), Some(_))) => {}
                (true, ..) => return not_float(),
                (false, ..) => return not_int(),
            }
            let Some(z) = z else { return empty() };
            let mut picked: Vec<(&[u8], f64)> =
                if let (true, (Some(lo), Some(hi))) = (byscore, bounds) {
                    z.by_score(lo, hi).collect()
                } else {
                    let (Some(s), Some(e)) = ranks else {
                        return not_int();
                    };
                    // The ranks' elements only (the first ones of a big set: a leaderboard's
                    // top ten), not the whole set collected and sliced.
                    let (s, e) = clamp(s, e, z.scores.len());
                    z.at_ranks(s, e, rev)
                };
            if byscore && rev {
                picked.reverse();
            }
            if let Some((off, n)) = limit {
                picked = picked.into_iter().skip(off).take(n).collect();
            }
            Reply::Array(Some(
                picked
                    .into_iter()
                    .flat_map(|(m, f)| {
                        let mut v = vec![Reply::bulk(m)];
                        if scores {
                            v.push(Reply::Bulk(Some(fmt_score(f))));
                        }
                        v
                    })
                    .collect(),
            ))
        }
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub(crate) fn zadd(db: &mut Db, a: &[Vec<u8>], wrong_type: bool) -> Reply {
    let k = &a[1][..];
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < a.len() {
        match upper(&a[i]).as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            "CH" => ch = true,
            "INCR" => incr = true,
            _ => break,
        }
        i += 1;
    }
    // Redis's checks, in Redis's order: the arguments, then the key's type.
    let pairs = &a[i..];
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Reply::err("syntax error");
    }
    if nx && xx {
        return Reply::err("XX and NX options at the same time are not compatible");
    }
    if [gt, lt, nx].iter().filter(|&&o| o).count() > 1 {
        return Reply::err("GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && pairs.len() != 2 {
        return Reply::err("INCR option supports a single increment-element pair");
    }
    let mut parsed = Vec::new();
    for p in pairs.chunks(2) {
        match parse_score(&p[0]) {
            Some(f) => parsed.push((f, &p[1][..])),
            None => return Reply::err("value is not a valid float"),
        }
    }
    if wrong_type {
        return Reply::wrong_type();
    }
    let z = db.zsets.entry(k).or_default();
    let (mut added, mut changed, mut last) = (0, 0, None);
    for (f, m) in parsed {
        let old = z.scores.get(m).copied();
        let new = if incr { old.unwrap_or(0.0) + f } else { f };
        let skip = (nx && old.is_some())
            || (xx && old.is_none())
            || old.is_some_and(|o| (gt && new <= o) || (lt && new >= o));
        if skip {
            continue;
        }
        if old != Some(new) {
            changed += 1;
            added += z.set(m, new) as i64;
        }
        last = Some(new);
    }
    if z.scores.is_empty() {
        db.zsets.remove(k);
    }
    if incr {
        return Reply::Bulk(last.map(fmt_score));
    }
    Reply::Int(if ch { changed } else { added })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set whose tree an older build or an import left ordinary is ranked after its first
    /// write, with every member kept; its reads answer the same before and after.
    #[test]
    fn an_ordinary_order_becomes_ranked_on_the_first_write() {
        let mut z = ZSet {
            scores: PHashMap::default(),
            order: PBTreeMap::new(),
        };
        for i in 0..500u32 {
            let m = format!("m{i}");
            z.scores.insert(m.as_bytes(), f64::from(i));
            z.order
                .insert(Pair(&sortable(f64::from(i)), m.as_bytes()), ());
        }
        assert!(!z.order.is_ranked() && z.order.height() >= 1);
        let before = z.at_ranks(100, 110, false);
        let before: Vec<(Vec<u8>, f64)> = before.iter().map(|(m, s)| (m.to_vec(), *s)).collect();
        assert!(!z.remove(b"absent"), "no write: nothing changes");
        assert!(!z.order.is_ranked());
        assert!(z.set(b"new", 1000.0));
        assert!(z.order.is_ranked());
        assert_eq!(z.order.verify_tree(), Ok(()));
        let after: Vec<(Vec<u8>, f64)> = z
            .at_ranks(100, 110, false)
            .iter()
            .map(|(m, s)| (m.to_vec(), *s))
            .collect();
        assert_eq!(before, after);
        assert_eq!(z.order.len(), 501);
        assert_eq!(z.count_by_score((0.0, false), (499.0, false)), 500);
    }
}
