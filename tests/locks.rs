//! Lock behaviour (issue 14): `try_write` and `try_read` never wait, `write_timeout` waits at
//! most its timeout, a thread asking for a guard it cannot get while holding another of the
//! same pool gets a clear panic at once, and a second `read()` on a thread never queues behind
//! a waiting writer. Every wait in these tests is bounded: a hang fails the test.

mod common;

use common::panic_message;

use std::sync::mpsc;
use std::time::Duration;

use pcoll::{Error, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
}

fn pool() -> Pool<Root> {
    Pool::<Root>::options().in_memory().unwrap()
}

/// Runs `f` on another thread and fails if it does not finish within 20 s.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not finish: a hang"))
}

#[test]
fn try_forms_never_wait_for_another_thread() {
    bounded("try forms", || {
        let p = std::sync::Arc::new(pool());
        let (held, release) = (mpsc::channel(), mpsc::channel::<()>());
        let q = p.clone();
        let (held_tx, release_rx) = (held.0, release.1);
        let writer = std::thread::spawn(move || {
            let mut w = q.write();
            w.v.push(1);
            held_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        });
        held.1.recv().unwrap();
        assert!(matches!(p.try_write(), Err(Error::WouldBlock { .. })));
        assert!(matches!(p.try_read(), Err(Error::WouldBlock { .. })));
        assert!(matches!(
            p.write_timeout(Duration::from_millis(30)),
            Err(Error::WouldBlock { .. })
        ));
        release.0.send(()).unwrap();
        writer.join().unwrap();
        let mut w = p.write_timeout(Duration::from_secs(10)).unwrap();
        w.v.push(2);
        drop(w);
        assert_eq!(p.try_read().unwrap().v, [1, 2]);
        // Readers do not block readers.
        let r = p.read();
        assert!(bounded("try_read beside a reader", {
            let p = p.clone();
            move || p.try_read().is_ok()
        }));
        drop(r);
    });
}

#[test]
fn a_thread_holding_a_guard_is_told_at_once() {
    bounded("same-thread guards", || {
        let p = pool();
        {
            let _r = p.read();
            let msg = panic_message(|| drop(p.write()));
            assert!(msg.contains("holds read()"), "{msg}");
            let msg = panic_message(|| drop(p.try_write()));
            assert!(msg.contains("holds read()"), "{msg}");
        }
        {
            let _w = p.write();
            let msg = panic_message(|| drop(p.read()));
            assert!(msg.contains("holds write()"), "{msg}");
            let msg = panic_message(|| drop(p.write()));
            assert!(msg.contains("nested write()"), "{msg}");
        }
        p.write().v.push(3); // nothing is left locked
        assert_eq!(p.read().v, [3]);
    });
}

#[test]
fn a_second_read_does_not_queue_behind_a_waiting_writer() {
    bounded("re-entrant read", || {
        let p = std::sync::Arc::new(pool());
        p.write().v.push(1);
        let first = p.read();
        let (waiting_tx, waiting_rx) = mpsc::channel();
        let q = p.clone();
        let writer = std::thread::spawn(move || {
            waiting_tx.send(()).unwrap();
            q.write().v.push(2); // waits for `first`
        });
        waiting_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(50)); // let the writer queue up
        let second = p.read(); // would deadlock if it queued behind the writer
        assert_eq!(first.v, second.v);
        drop(second);
        drop(first);
        writer.join().unwrap();
        assert_eq!(p.read().v, [1, 2]);
    });
}

/// Two read guards of one thread, the first dropped first: the pool stays read-locked until
/// the second drops. (loom found this: the first design released the lock with the first
/// guard, letting a writer in beside the second.)
#[test]
fn read_guards_release_the_lock_with_the_last_one() {
    bounded("guards dropped out of order", || {
        let p = std::sync::Arc::new(pool());
        let r1 = p.read();
        let r2 = p.read();
        drop(r1);
        let q = p.clone();
        let blocked = bounded("try_write", move || q.try_write().is_err());
        assert!(blocked, "a writer got in beside a live read guard");
        drop(r2);
        let q = p.clone();
        assert!(bounded("try_write", move || q.try_write().is_ok()));
    });
}
