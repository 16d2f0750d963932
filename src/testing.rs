//! Crash-image testing (feature `testing`): builds the images the medium may hold at every
//! persistence point of a transaction and checks that recovery turns each into the state
//! before or after it. The method is pmreorder's and Yat's, run inside `cargo test`:
//!
//! 1. The pool runs on memory with a [`Recorder`] that keeps a *shadow* of the durable medium:
//!    a barrier over a range copies the current bytes of that range into the shadow; growth
//!    extends it with zeros.
//! 2. At every event (each barrier, each logged range, growth, commit, recovery step), the
//!    *pending units* are those whose current bytes differ from the shadow: pages of 4 KiB
//!    (a file: the kernel may write back any dirty page, in any order, at any time) or lines
//!    of 64 bytes (persistent memory). Each crash image is the shadow plus a subset of them.
//! 3. Each image is opened (recovery runs), `check()`ed, observed, and compared with the model
//!    before and after the transaction; after it, once the commit was acknowledged. For images
//!    whose recovery did work, recovery itself is crashed at each of its barriers and run
//!    again: the answer must be the same (idempotence).
//!
//! Subsets: all of them when few units are pending, else accumulative prefixes, reverse
//! prefixes, single omissions and seeded random subsets, up to a per-point budget.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use crate::heap::map::PAGE;
use crate::{Durability, Event, Persistent, Pool, Recorder};

/// The unit the medium writes atomically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// Ordinary file: 4 KiB pages, any dirty page may reach the disk at any time.
    FilePages,
    /// Persistent memory: 64-byte cache lines.
    PmemLines,
}

impl Media {
    fn unit(self) -> usize {
        match self {
            Media::FilePages => PAGE,
            Media::PmemLines => 64,
        }
    }
}

/// What a crash-image run found.
#[derive(Debug, Default, Clone)]
pub struct CrashReport {
    /// Persistence points at which images were built.
    pub points: usize,
    /// Crash images opened and checked (recovery-crash images included).
    pub images: usize,
    /// Images produced by crashing recovery itself.
    pub recovery_images: usize,
    /// Images that recovered to the state before the transaction / after it.
    pub before: usize,
    pub after: usize,
    /// Everything that went wrong (empty when the transaction is crash-atomic).
    pub violations: Vec<String>,
}

impl CrashReport {
    /// Panics with the violations, if any; prints a one-line summary either way.
    pub fn assert_ok(&self, name: &str) {
        println!(
            "crash-images {name}: {} points, {} images ({} of recovery), {} before / {} after, {} violations",
            self.points,
            self.images,
            self.recovery_images,
            self.before,
            self.after,
            self.violations.len()
        );
        assert!(
            self.violations.is_empty(),
            "{name}: {:#?}",
            &self.violations[..self.violations.len().min(10)]
        );
    }
}

/// Settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub media: Media,
    /// Images per persistence point at most.
    pub budget: usize,
    /// Enumerate every subset up to this many pending units.
    pub exhaustive_upto: usize,
    /// Crash recovery too (for images whose recovery had work to do).
    pub crash_recovery: bool,
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            media: Media::FilePages,
            budget: 48,
            exhaustive_upto: 5,
            crash_recovery: true,
            seed: 0x5eed,
        }
    }
}

/// Runs `op` as one write transaction on a pool prepared by `setup`, and checks every crash
/// image of it. `observe` maps the root to a comparable model.
pub fn crash_check<R, M>(
    cfg: Config,
    setup: impl Fn(&Pool<R>),
    op: impl Fn(&mut R),
    observe: impl Fn(&R) -> M + Send + Sync + 'static,
) -> CrashReport
where
    R: Persistent + Default,
    M: PartialEq + Debug + Send + Sync + 'static,
{
    let opts = || {
        Pool::<R>::options()
            .durability(Durability::Sync)
            .initial_size(256 << 10)
            .max_size(8 << 20)
    };
    let p0 = opts().in_memory().expect("memory pool");
    setup(&p0);
    let start = p0.image();
    let before = observe(&p0.read());
    drop(p0);

    let p1 = opts().from_image(&start).expect("reopen start image");
    op(&mut p1.write());
    let after = observe(&p1.read());
    drop(p1);

    let observe: Arc<dyn Fn(&R) -> M + Send + Sync> = Arc::new(observe);
    let oracle = Arc::new(Oracle {
        cfg,
        before,
        after,
        observe,
        report: Mutex::new(CrashReport::default()),
    });
    let rec = Arc::new(Shadow::new(start.clone(), cfg, {
        let oracle = oracle.clone();
        Box::new(move |img: &[u8], acked: bool| oracle.check_image(img, acked))
    }));
    let p2 = opts()
        .recorder(rec.clone())
        .from_image(&start)
        .expect("recorded pool");
    op(&mut p2.write());
    drop(p2);
    let mut report = oracle.report.lock().unwrap().clone();
    report.points = rec.points();
    report
}

type ImageCheck = Box<dyn Fn(&[u8], bool) + Send + Sync>;

/// The recorder: a shadow of the durable medium plus the image enumerator.
struct Shadow {
    state: Mutex<ShadowState>,
    cfg: Config,
    check: ImageCheck,
}

struct ShadowState {
    durable: Vec<u8>,
    acked: bool,
    points: usize,
    rng: u64,
}

impl Shadow {
    fn new(durable: Vec<u8>, cfg: Config, check: ImageCheck) -> Shadow {
        Shadow {
            state: Mutex::new(ShadowState {
                durable,
                acked: false,
                points: 0,
                rng: cfg.seed,
            }),
            cfg,
            check,
        }
    }

    fn points(&self) -> usize {
        self.state.lock().unwrap().points
    }

    /// The pending units: where `image` differs from the durable shadow.
    fn pending(&self, durable: &[u8], image: &[u8]) -> Vec<usize> {
        let unit = self.cfg.media.unit();
        (0..image.len().div_ceil(unit))
            .filter(|&u| {
                let (a, b) = (u * unit, ((u + 1) * unit).min(image.len()));
                durable.get(a..b) != Some(&image[a..b])
            })
            .collect()
    }

    /// Builds the crash images of this point and hands each to the checker.
    fn crash_point(&self, st: &mut ShadowState, image: &[u8]) {
        st.points += 1;
        let pending = self.pending(&st.durable, image);
        let unit = self.cfg.media.unit();
        for subset in subsets(
            pending.len(),
            self.cfg.budget,
            self.cfg.exhaustive_upto,
            &mut st.rng,
        ) {
            let mut img = st.durable.clone();
            for &i in &subset {
                let u = pending[i];
                let (a, b) = (u * unit, ((u + 1) * unit).min(image.len()));
                if img.len() < b {
                    img.resize(b, 0);
                }
                img[a..b].copy_from_slice(&image[a..b]);
            }
            (self.check)(&img, st.acked);
        }
    }
}

impl Recorder for Shadow {
    fn event(&self, ev: Event, image: &[u8]) {
        let mut st = self.state.lock().unwrap();
        match ev {
            Event::Persist { off, len } => {
                self.crash_point(&mut st, image);
                let unit = self.cfg.media.unit() as u64;
                let (a, b) = (
                    off / unit * unit,
                    ((off + len).div_ceil(unit) * unit).min(image.len() as u64),
                );
                st.durable[a as usize..b as usize].copy_from_slice(&image[a as usize..b as usize]);
            }
            Event::Grow { len } => {
                st.durable.resize(len as usize, 0);
                self.crash_point(&mut st, image);
            }
            Event::Logged { .. } | Event::Recovery => self.crash_point(&mut st, image),
            Event::Committed => {
                st.acked = true;
                self.crash_point(&mut st, image);
            }
        }
    }
}

/// Which subsets of `n` pending units to try: all of them for small n, else prefixes,
/// reverse prefixes, single omissions and random subsets, at most `budget` in all.
fn subsets(n: usize, budget: usize, exhaustive: usize, rng: &mut u64) -> Vec<Vec<usize>> {
    if n <= exhaustive {
        return (0..1u64 << n)
            .map(|m| (0..n).filter(|i| m >> i & 1 == 1).collect())
            .take(budget.max(1 << n))
            .collect();
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let push = |s: Vec<usize>, out: &mut Vec<Vec<usize>>| {
        if out.len() < budget && !out.contains(&s) {
            out.push(s);
        }
    };
    push(Vec::new(), &mut out);
    push((0..n).collect(), &mut out);
    for k in 1..n {
        push((0..k).collect(), &mut out);
        push((n - k..n).collect(), &mut out);
        push((0..n).filter(|&i| i != k - 1).collect(), &mut out);
    }
    while out.len() < budget {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        let r = *rng;
        let s: Vec<usize> = (0..n)
            .filter(|i| r.rotate_left(*i as u32 * 7) & 1 == 1)
            .collect();
        let before = out.len();
        push(s, &mut out);
        if out.len() == before && (1usize << n.min(20)) <= out.len() {
            break;
        }
    }
    out
}

/// Opens crash images and compares them with the models.
struct Oracle<R: Persistent, M> {
    cfg: Config,
    before: M,
    after: M,
    observe: Arc<dyn Fn(&R) -> M + Send + Sync>,
    report: Mutex<CrashReport>,
}

impl<R: Persistent + Default, M: PartialEq + Debug + Send + Sync + 'static> Oracle<R, M> {
    /// Recovers `img` and returns the observed model, or what went wrong.
    fn recover(&self, img: &[u8], rec: Option<Arc<dyn Recorder>>) -> Result<(M, Vec<u8>), String> {
        let mut opts = Pool::<R>::options()
            .durability(Durability::Sync)
            .max_size(8 << 20);
        if let Some(r) = rec {
            opts = opts.recorder(r);
        }
        let pool = opts
            .from_image(img)
            .map_err(|e| format!("open failed: {e}"))?;
        pool.check().map_err(|e| format!("check failed: {e}"))?;
        let m = (self.observe)(&pool.read());
        Ok((m, pool.image()))
    }

    fn check_image(self: &Arc<Self>, img: &[u8], acked: bool) {
        let res =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.recover(img, None)));
        let mut rep = self.report.lock().unwrap();
        rep.images += 1;
        let (m, recovered) = match res {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return rep.violations.push(e),
            Err(_) => return rep.violations.push("recovery panicked".into()),
        };
        if m == self.after {
            rep.after += 1;
        } else if m == self.before && !acked {
            rep.before += 1;
        } else {
            let what = if acked {
                "after (acknowledged)"
            } else {
                "before or after"
            };
            return rep.violations.push(format!("expected {what}, got {m:?}"));
        }
        drop(rep);
        if self.cfg.crash_recovery && recovered != img {
            self.crash_recovery(img, &m);
        }
    }

    /// Crashes the recovery of `img` at each of its persistence points and recovers again.
    fn crash_recovery(self: &Arc<Self>, img: &[u8], expect: &M) {
        let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(Vec::new()));
        let cfg = Config {
            crash_recovery: false,
            budget: self.cfg.budget.min(16),
            ..self.cfg
        };
        let sink = seen.clone();
        let rec = Arc::new(Shadow::new(
            img.to_vec(),
            cfg,
            Box::new(move |i: &[u8], _| sink.lock().unwrap().push(i.to_vec())),
        ));
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.recover(img, Some(rec))
        }));
        if !matches!(first, Ok(Ok(_))) {
            return self
                .report
                .lock()
                .unwrap()
                .violations
                .push("recovery with recorder failed".into());
        }
        for again in seen.lock().unwrap().iter() {
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.recover(again, None)
            }));
            let mut rep = self.report.lock().unwrap();
            rep.images += 1;
            rep.recovery_images += 1;
            match res {
                Ok(Ok((m, _))) if &m == expect => {}
                Ok(Ok((m, _))) => rep
                    .violations
                    .push(format!("recovery not idempotent: {m:?} vs {expect:?}")),
                Ok(Err(e)) => rep
                    .violations
                    .push(format!("after a crash in recovery: {e}")),
                Err(_) => rep.violations.push("second recovery panicked".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_exhaustive_when_small_and_bounded_when_large() {
        let mut rng = 1;
        assert_eq!(subsets(3, 100, 5, &mut rng).len(), 8);
        let big = subsets(40, 30, 5, &mut rng);
        assert_eq!(big.len(), 30);
        assert!(big.contains(&vec![]) && big.contains(&(0..40).collect::<Vec<_>>()));
    }
}
