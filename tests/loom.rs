//! loom models of pcoll's concurrency (run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --test loom`).
//! Every lock, atomic and thread-local of the pool comes from loom under `cfg(loom)` (see
//! `src/sync.rs`), so these explore the interleavings of the real admission code.
//!
//! loom cannot see loads and stores to mapped pool memory, so each critical section also
//! touches a loom atomic (a *witness*): loom then orders the witness accesses against the
//! pool's locks, and any schedule that lets a reader or second writer into a writer's
//! critical section trips an assertion. (Checked: with the reader lock removed, the first
//! model fails.)
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use pcoll::{Durability, PBox, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    a: u64,
    b: u64,
    boxed: Option<PBox<u64>>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options()
        .durability(Durability::Process)
        .initial_size(128 << 10)
        .max_size(1 << 20)
        .in_memory()
        .unwrap()
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// A reader never runs inside a writer's transaction, and sees commits whole and in order.
#[test]
fn readers_see_whole_transactions() {
    model(|| {
        let p = Arc::new(pool());
        let writing = Arc::new(AtomicUsize::new(0));
        let w = {
            let (p, writing) = (p.clone(), writing.clone());
            thread::spawn(move || {
                for i in 1..=2 {
                    let mut g = p.write();
                    writing.store(1, SeqCst);
                    g.a = i;
                    g.b = i;
                    writing.store(0, SeqCst);
                }
            })
        };
        let mut last = 0;
        for _ in 0..2 {
            let r = p.read();
            assert_eq!(
                writing.load(SeqCst),
                0,
                "a reader entered a write transaction"
            );
            assert_eq!(r.a, r.b, "torn transaction visible");
            assert!(r.a >= last);
            last = r.a;
        }
        w.join().unwrap();
        assert_eq!(p.read().a, 2);
    });
}

/// Two writers are serialised: both increments survive, each with its own allocation.
#[test]
fn writers_are_exclusive() {
    model(|| {
        let p = Arc::new(pool());
        let inside = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (p, inside) = (p.clone(), inside.clone());
                thread::spawn(move || {
                    let mut g = p.write();
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two writers at once");
                    g.a += 1;
                    g.boxed = Some(PBox::new(g.a));
                    inside.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        let r = p.read();
        assert_eq!(r.a, 2);
        assert_eq!(**r.boxed.as_ref().unwrap(), 2);
        drop(r);
        p.check().unwrap();
    });
}

/// The non-blocking and re-entrant paths (issue 14): a `try_write` racing a writer either
/// gets the pool alone or `WouldBlock`, never a second writer inside; a thread's second read
/// guard (taken without locking) still excludes writers until both are dropped.
#[test]
fn try_write_and_reentrant_reads_keep_exclusion() {
    model(|| {
        let p = Arc::new(pool());
        let inside = Arc::new(AtomicUsize::new(0));
        let (q, w_inside) = (p.clone(), inside.clone());
        let writer = thread::spawn(move || {
            if let Ok(mut g) = q.try_write() {
                assert_eq!(
                    w_inside.fetch_add(1, SeqCst),
                    0,
                    "a writer beside another guard"
                );
                g.a += 1;
                w_inside.fetch_sub(1, SeqCst);
            }
        });
        {
            let r1 = p.read();
            inside.fetch_add(1, SeqCst);
            let r2 = p.read();
            drop(r1);
            assert_eq!(r2.a, r2.a); // still a reader: no writer may be inside now
            inside.fetch_sub(1, SeqCst);
            drop(r2);
        }
        let mut g = p.write();
        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two writers at once");
        g.b += 1;
        inside.fetch_sub(1, SeqCst);
        drop(g);
        writer.join().unwrap();
        assert_eq!(p.read().b, 1);
    });
}

/// Opening and closing a pool in one thread while another resolves handles of its own pool:
/// the registry and the per-thread lookup caches never send a handle to the wrong pool.
#[test]
fn registry_open_close_races() {
    model(|| {
        let p = Arc::new(pool());
        {
            let mut g = p.write();
            g.boxed = Some(PBox::new(7));
        }
        let t = thread::spawn(|| {
            let q = pool();
            let mut g = q.write();
            g.boxed = Some(PBox::new(1));
            drop(g);
            assert_eq!(**q.read().boxed.as_ref().unwrap(), 1);
        });
        assert_eq!(**p.read().boxed.as_ref().unwrap(), 7);
        t.join().unwrap();
        let mut g = p.write();
        **g.boxed.as_mut().unwrap() += 1;
        drop(g);
        assert_eq!(**p.read().boxed.as_ref().unwrap(), 8);
    });
}
