//! Hunts for costs that grow faster than the work: one transaction of n of each common idiom
//! (std's and pcoll's: `push`, `sort`, `&mut v[..]` in a loop, `get_mut`, `iter_mut`,
//! `retain`, `remove` keeping the values, rollbacks, `mem::take`), timed at n and 4n. A
//! ratio well above 4 (flagged above 7; a few idioms are n log n) is a cost per step that
//! grows with n. It found two quadratics: a commit after n `get_mut`s (settling the handed-out
//! regions from the front of a `Vec`: 7.7 s for 80,000) and `&mut v[..]` taken in a loop
//! (each time every element re-checked and re-logged: 3.4 s for 10,000 swaps).
//!
//! `cargo run --release --example txn_scaling [N]` (default 5000: n = 5000 and 20,000).
//! A measurement, not a test: the VM's noise moves single ratios by ±30%.

use pcoll::{Durability, PBTreeMap, PHashMap, PString, PVec, PVecDeque, Persistent, Pool};
use std::time::Instant;
#[derive(Persistent, Default)]
struct Root {
    v: PVec<PString>,
    m: PHashMap<PString, PString>,
    t: PBTreeMap<PString, PVec<u64>>,
    d: PVecDeque<PString>,
    vv: PVec<PVec<u8>>,
}

fn run(n: usize) -> Vec<(&'static str, f64)> {
    let pool = Pool::<Root>::options()
        .durability(Durability::Process)
        .in_memory()
        .unwrap();
    let mut out = vec![];
    let mut time = |name: &'static str, f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        out.push((name, t.elapsed().as_secs_f64()));
    };
    let s = |i: usize| format!("k{:08}", (i * 7919) % 1_000_003);
    time("vec push", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.v.push(s(i).as_str().into());
        }
    });
    time("vec sort", &mut || {
        let mut w = pool.write();
        w.v.sort();
    });
    time("vec sort_by rev", &mut || {
        let mut w = pool.write();
        w.v.sort_by(|a, b| b.cmp(a));
    });
    time("vec iter_mut push", &mut || {
        let mut w = pool.write();
        for x in w.v.iter_mut() {
            x.push('!');
        }
    });
    time("vec index_mut", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.v[i].push('?');
        }
    });
    time("vec swap loop", &mut || {
        let mut w = pool.write();
        for i in 0..n / 2 {
            w.v.swap(i, n - 1 - i);
        }
    });
    time("vec mem::swap elems", &mut || {
        let mut w = pool.write();
        for i in 0..n / 2 {
            let (a, b) = w.v.split_at_mut(n / 2);
            std::mem::swap(&mut a[i], &mut b[i]);
        }
    });
    time("vec reverse", &mut || {
        let mut w = pool.write();
        w.v.reverse();
    });
    time("vec rotate", &mut || {
        let mut w = pool.write();
        w.v.rotate_left(n / 3);
    });
    time("vec retain half", &mut || {
        let mut w = pool.write();
        let mut k = 0;
        w.v.retain(|_| {
            k += 1;
            k % 2 == 0
        });
    });
    time("vec pop all keep", &mut || {
        let mut keep = vec![];
        {
            let mut w = pool.write();
            while let Some(x) = w.v.pop() {
                keep.push(x);
            }
        }
        drop(keep);
    });
    time("map insert", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.m.insert(s(i).as_str(), "v");
        }
    });
    time("map get_mut", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            if let Some(x) = w.m.get_mut(s(i).as_str()) {
                x.push('x');
            }
        }
    });
    time("map iter_mut", &mut || {
        let mut w = pool.write();
        for (_, x) in w.m.iter_mut() {
            x.push('y');
        }
    });
    time("map retain half", &mut || {
        let mut w = pool.write();
        let mut k = 0;
        w.m.retain(|_, _| {
            k += 1;
            k % 2 == 0
        });
    });
    time("map remove keep", &mut || {
        let mut keep = vec![];
        {
            let mut w = pool.write();
            for i in 0..n {
                if let Some(x) = w.m.remove(s(i).as_str()) {
                    keep.push(x);
                }
            }
        }
        drop(keep);
    });
    time("map insert again", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.m.insert(s(i).as_str(), "v");
        }
    });
    time("map drain", &mut || {
        let mut w = pool.write();
        let d: Vec<_> = w.m.drain().collect();
        drop(w);
        drop(d);
    });
    time("tree insert", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.t.insert(s(i).as_str(), PVec::from(vec![i as u64]));
        }
    });
    time("tree get_mut", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.t.get_mut(s(i).as_str()).unwrap().push(1);
        }
    });
    time("tree range_mut", &mut || {
        let mut w = pool.write();
        for (_, x) in w.t.range_mut::<str, _>(..) {
            x.push(2);
        }
    });
    time("tree retain half", &mut || {
        let mut w = pool.write();
        let mut k = 0;
        w.t.retain(|_, _| {
            k += 1;
            k % 2 == 0
        });
    });
    time("tree pop_first all", &mut || {
        let mut w = pool.write();
        while w.t.pop_first().is_some() {}
    });
    time("deque push_front", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.d.push_front(s(i).as_str().into());
        }
    });
    time("deque iter_mut", &mut || {
        let mut w = pool.write();
        for x in w.d.iter_mut() {
            x.push('z');
        }
    });
    time("deque pop_back all", &mut || {
        let mut w = pool.write();
        while w.d.pop_back().is_some() {}
    });
    time("vv push+mut", &mut || {
        let mut w = pool.write();
        for i in 0..n {
            w.vv.push(PVec::from(vec![i as u8]));
            let l = w.vv.len();
            w.vv[l - 1].push(1);
        }
    });
    time("rollback after mutate", &mut || {
        let mut w = pool.write();
        for x in w.vv.iter_mut() {
            x.push(3);
        }
        for i in 0..n {
            w.m.insert(s(i).as_str(), "w");
        }
        w.abort();
    });
    time("take loop rollback", &mut || {
        let mut keep = vec![];
        {
            let mut w = pool.write();
            for i in 0..n {
                keep.push(std::mem::take(&mut w.vv[i]));
            }
            w.abort();
        }
        drop(keep);
    });
    time("check", &mut || {
        pool.check().unwrap();
    });
    out
}
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let a = run(n);
    let b = run(4 * n);
    println!(
        "{:<24} {:>12} {:>12}  ratio",
        "idiom, one transaction",
        format!("n = {n}"),
        format!("n = {}", 4 * n)
    );
    for ((n, x), (_, y)) in a.iter().zip(b.iter()) {
        let r = y / x;
        println!(
            "{:<24} {:>9.2} ms {:>9.2} ms  x{:5.1}{}",
            n,
            x * 1e3,
            y * 1e3,
            r,
            if r > 7.0 { "   <-- superlinear" } else { "" }
        );
    }
}
