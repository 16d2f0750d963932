//! Crash-image testing (feature `testing`): builds the images the medium may hold at every
//! persistence point of a transaction and checks that recovery turns each into the state
//! before or after it. The method is pmreorder's and Yat's, run inside `cargo test`:
//!
//! 1. The pool runs on memory with a [`Recorder`] that keeps a *shadow* of the durable medium:
//!    a barrier copies the ranges it covers into the shadow; growth extends it with zeros.
//! 2. At every event (each barrier, each logged range, growth, commit, recovery step), the
//!    medium may hold the shadow plus any subset of *pending unit versions*:
//!    - a file (`Durability::Sync`: private mapping, write-back at commit): only the bytes the
//!      barrier in progress hands to the file can land, each 4 KiB page all or nothing — a
//!      page's pending version is its durable bytes overlaid with the bytes being written;
//!    - persistent memory (shared mapping): any 64-byte line whose current bytes differ from
//!      the shadow may have been evicted to the medium at any time.
//! 3. Each image is opened (recovery runs), `check()`ed, observed, and compared with the model
//!    before and after the transaction; after it, once the commit was acknowledged. For images
//!    whose recovery did work, recovery itself is crashed at each of its barriers and run
//!    again: the answer must be the same (idempotence).
//!
//! Subsets: all of them when few versions are pending, else accumulative prefixes, reverse
//! prefixes, single omissions and seeded random subsets, up to a per-point budget.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use crate::heap::map::PAGE;

/// Fault injection: make the n-th `pwrite`, `fdatasync`, `fallocate` or `mmap` of this
/// thread fail (`tests/faults.rs`).
pub use crate::heap::sys::faults;
use crate::{Durability, Event, Medium, Persistent, Pool, Recorder};

/// The medium model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// Ordinary file: 4 KiB pages, written back by pcoll at its barriers.
    FilePages,
    /// Persistent memory: 64-byte cache lines, any dirty line evictable at any time.
    PmemLines,
}

impl Media {
    /// Both models, in the order the tests run them.
    pub const BOTH: [Media; 2] = [Media::FilePages, Media::PmemLines];

    fn unit(self) -> usize {
        match self {
            Media::FilePages => PAGE,
            Media::PmemLines => 64,
        }
    }

    fn medium(self) -> Medium {
        match self {
            Media::FilePages => Medium::File,
            Media::PmemLines => Medium::Pmem,
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
    /// Images that recovered to the state before the transaction.
    pub before: usize,
    /// Images that recovered to the state after it.
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
    /// The medium model.
    pub media: Media,
    /// Images per persistence point at most.
    pub budget: usize,
    /// Enumerate every subset up to this many pending versions.
    pub exhaustive_upto: usize,
    /// Crash recovery too (for images whose recovery had work to do).
    pub crash_recovery: bool,
    /// Seed of the random subsets.
    pub seed: u64,
    /// A [`Pool::checkpoint`] after each transaction of [`crash_check_history`], and right
    /// after the open of [`crash_check_open`], its images checked too.
    pub checkpoint_each: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            media: Media::FilePages,
            budget: 48,
            exhaustive_upto: 5,
            crash_recovery: true,
            seed: 0x5eed,
            checkpoint_each: false,
        }
    }
}

/// A recorder that records nothing: it makes a memory pool commit as its simulated medium
/// would.
struct Silent;

impl Recorder for Silent {
    fn event(&self, _: Event, _: &[u8]) {}
}

/// The options every crash-image pool is opened with.
fn image_opts<R: Persistent + Default>(media: Media) -> crate::Options<R> {
    Pool::<R>::options()
        .durability(Durability::Sync)
        .initial_size(256 << 10)
        .log_size(60 << 10) // 16 pages: a 24 KiB ring, so cases reach its checkpoint and its limit
        .max_size(8 << 20)
        .simulate(media.medium())
}

/// The start image of a run: the pool `setup` leaves, committed as the medium would (write-back
/// or line flushes, redo records), so the image holds what those commits leave.
fn start_image<R: Persistent + Default>(media: Media, setup: impl Fn(&Pool<R>)) -> Vec<u8> {
    let p0 = image_opts::<R>(media)
        .recorder(Arc::new(Silent))
        .in_memory()
        .expect("memory pool");
    setup(&p0);
    p0.image()
}

/// Opens an image of a pool of `R` (with `rec` recording recovery), checks it, and returns
/// the model and the recovered image.
fn open_checked<R: Persistent + Default, M>(
    media: Media,
    img: &[u8],
    rec: Option<Arc<dyn Recorder>>,
    observe: &dyn Fn(&R) -> M,
) -> Result<(M, Vec<u8>), crate::Error> {
    let mut opts = image_opts::<R>(media);
    let recorded = rec.is_some();
    if let Some(r) = rec {
        opts = opts.recorder(r);
    }
    let pool = opts.from_image(img)?;
    pool.check()?;
    let m = observe(&pool.read());
    let recovered = pool.image();
    if recorded {
        follow_up(&pool)?;
    }
    Ok((m, recovered))
}

/// After a recorded recovery, two transactions that change no byte but write the file as
/// commits do: a small one (a redo commit, on pools with redo slots) and one larger than a
/// redo slot (an undo commit: it overwrites the log entries a rollback needs until its
/// restored bytes are durable). Their crash images must recover to the same model. The
/// order alternates from one recovery to the next, so each kind is also the first commit
/// after a recovery (the one that settles it).
fn follow_up<R: Persistent>(pool: &Pool<R>) -> crate::Result<()> {
    static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut sizes = [64u64, 48 << 10];
    if TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 1 {
        sizes.reverse();
    }
    for want in sizes {
        let w = pool.write();
        {
            let mut tx = pool.core.tx();
            let from = tx.st.heap.hdr.heap_off;
            let len = want.min(tx.st.heap.valid_size() - from) as usize;
            let p = pool.core.ptr(from, len);
            tx.log_ptr(p, len)?;
        }
        w.commit()?;
    }
    Ok(())
}

/// Runs `op` as one write transaction on a pool prepared by `setup`, and checks every crash
/// image of it. `observe` maps the root to a comparable model.
///
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// use pcoll::testing::{Config, crash_check};
///
/// let report = crash_check(
///     Config { budget: 8, ..Config::default() },
///     |pool: &Pool<Root>| pool.write().v.push(1),
///     |root: &mut Root| root.v.push(2),
///     |root: &Root| root.v.to_vec(),
/// );
/// assert!(report.violations.is_empty(), "{:?}", report.violations);
/// assert!(report.before > 0 && report.after > 0); // images of both states were found
/// ```
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
    crash_check_history(cfg, setup, &[&op], observe)
}

/// [`crash_check`] on both media with `cfg` (its `media` set to each), every report asserted
/// clean under `"{name} ({media:?})"`: the crash-image cases of the container tests.
pub fn crash_check_both<R, M>(
    name: &str,
    cfg: Config,
    setup: impl Fn(&Pool<R>) + Copy,
    op: impl Fn(&mut R) + Copy,
    observe: impl Fn(&R) -> M + Copy + Send + Sync + 'static,
) -> Vec<CrashReport>
where
    R: Persistent + Default,
    M: PartialEq + Debug + Send + Sync + 'static,
{
    Media::BOTH
        .iter()
        .map(|&media| {
            let rep = crash_check(Config { media, ..cfg }, setup, op, observe);
            rep.assert_ok(&format!("{name} ({media:?})"));
            rep
        })
        .collect()
}

/// [`crash_check`] for a history of transactions, each its own write transaction, run one
/// after another on a pool prepared by `setup` (so commits that leave work for later ones,
/// such as the redo ring's pending homes, are checked across them). After k acknowledged
/// commits every image must recover to the state after k of them or, while the next commits,
/// after k + 1. The report's `before` counts images of any state but the last.
///
/// ```
/// # use pcoll::{PVec, Persistent, Pool};
/// # #[derive(Persistent, Default)] struct Root { v: PVec<u64> }
/// use pcoll::testing::{Config, crash_check_history};
///
/// let push = |x: u64| move |r: &mut Root| r.v.push(x);
/// let report = crash_check_history(
///     Config { budget: 8, ..Config::default() },
///     |_: &Pool<Root>| {},
///     &[&push(1), &push(2), &push(3)],
///     |root: &Root| root.v.to_vec(),
/// );
/// assert!(report.violations.is_empty(), "{:?}", report.violations);
/// ```
pub fn crash_check_history<R, M>(
    cfg: Config,
    setup: impl Fn(&Pool<R>),
    txns: &[&dyn Fn(&mut R)],
    observe: impl Fn(&R) -> M + Send + Sync + 'static,
) -> CrashReport
where
    R: Persistent + Default,
    M: PartialEq + Debug + Send + Sync + 'static,
{
    let start = start_image(cfg.media, setup);
    let p1 = image_opts::<R>(cfg.media)
        .from_image(&start)
        .expect("reopen start image");
    let run = |p: &Pool<R>, t: &dyn Fn(&mut R)| {
        t(&mut p.write());
        if cfg.checkpoint_each {
            p.checkpoint().expect("checkpoint");
        }
    };
    let mut states = vec![observe(&p1.read())];
    for t in txns {
        run(&p1, t);
        states.push(observe(&p1.read()));
    }
    drop(p1);
    let media = cfg.media;
    let open: OpenImage<M> = Arc::new(move |img, rec| {
        open_checked::<R, M>(media, img, rec, &observe).map_err(|e| format!("open or check: {e}"))
    });
    run_recorded_states(cfg, &start, states, open, |rec| {
        let p2 = image_opts::<R>(cfg.media)
            .recorder(rec)
            .from_image(&start)
            .expect("recorded pool");
        for t in txns {
            run(&p2, t);
        }
    })
}

/// The image of a pool of the layout from before the redo ring (header flag `REDO` without
/// `RING`: two record slots where the ring is now), as a kill left it: the state `setup` made,
/// at its homes, and the redo records of `txns` (one or two small transactions, each its own
/// commit) in slots 0 and 1, in the first record format (`PRDO`, all those builds wrote),
/// their homes not written. Opening it replays the slots; a
/// write-back open then upgrades the pool to the ring ([`crash_check_open`] checks that open).
pub fn two_slot_image<R: Persistent + Default>(
    media: Media,
    setup: impl Fn(&Pool<R>),
    txns: &[&dyn Fn(&mut R)],
) -> Vec<u8> {
    assert!(
        (1..=2).contains(&txns.len()),
        "the old layout has two slots"
    );
    old_records_image(media, setup, txns, false)
}

/// The image of a ring pool from the builds before packed redo records (header flag
/// `PACKED` clear), as a kill left it: the state `setup` made, at its homes, and the redo
/// records of `txns` (small transactions, each its own commit) at the ring's start, in the
/// first record format, their homes not written. Opening it replays them; a write-back open
/// then sets `PACKED` ([`crash_check_open`] checks that open).
pub fn unpacked_ring_image<R: Persistent + Default>(
    media: Media,
    setup: impl Fn(&Pool<R>),
    txns: &[&dyn Fn(&mut R)],
) -> Vec<u8> {
    old_records_image(media, setup, txns, true)
}

/// The records of `txns` in the first format, over `setup`'s homes, in the ring (`ring`) or
/// in the two slots.
fn old_records_image<R: Persistent + Default>(
    media: Media,
    setup: impl Fn(&Pool<R>),
    txns: &[&dyn Fn(&mut R)],
    ring: bool,
) -> Vec<u8> {
    use crate::heap::header::{FLAG_PACKED, FLAG_RING, HDR_LEN, Header, SLOT_OFFSETS};
    let start = start_image(media, setup);
    let p = image_opts::<R>(media)
        .recorder(Arc::new(Silent))
        .from_image(&start)
        .expect("start image");
    let layout = {
        let r = p.core.read_lock();
        p.core.with_state(&r, |st| st.txn.redo_layout())
    };
    let (slots, tail) = layout.expect("a pool with redo slots");
    for t in txns {
        t(&mut p.write());
    }
    // What the commits left (their records, the commit record they retired), with the homes
    // their records name put back as they were: not yet written back.
    let mut img = p.image();
    drop(p);
    assert_eq!(img.len(), start.len(), "txns too large: the pool grew");
    let word = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
    let mut records = Vec::new();
    let mut at = (slots[0].0 + tail) as usize;
    for _ in txns {
        assert_eq!(
            &img[at..at + 4],
            b"PRD2",
            "each txn commits one redo record"
        );
        let rec = img[at..at + 32 + word(&img, at + 16) as usize].to_vec();
        let magic = u32::from_le_bytes(*b"PRD2");
        let count = u32::from_le_bytes(rec[4..8].try_into().expect("4")) as usize;
        let ranges = crate::txn::redo::ranges_of(magic, &rec[32..], count).expect("a record");
        for (off, n, _) in ranges {
            let (off, n) = (off as usize, n as usize);
            img[off..off + n].copy_from_slice(&start[off..off + n]);
        }
        at += rec.len();
        records.push(crate::txn::redo::to_first_format(&rec));
    }
    let area = slots[0].0 as usize..(slots[1].0 + slots[1].1) as usize;
    img[area.clone()].fill(0);
    if ring {
        let mut at = area.start;
        for rec in &records {
            assert!(
                at + rec.len() <= area.start + area.len() / 2,
                "records fit half the ring"
            );
            img[at..][..rec.len()].copy_from_slice(rec);
            at += rec.len();
        }
    } else {
        for (slot, rec) in slots.iter().zip(&records) {
            assert!(rec.len() as u64 <= slot.1, "a record fits its slot");
            img[slot.0 as usize..][..rec.len()].copy_from_slice(rec);
        }
    }
    let cleared = if ring {
        FLAG_PACKED
    } else {
        FLAG_RING | FLAG_PACKED
    };
    for off in SLOT_OFFSETS {
        if let Ok(mut h) = Header::decode(&img[off..off + HDR_LEN], "<image>".as_ref()) {
            h.flags &= !cleared;
            img[off..off + HDR_LEN].copy_from_slice(&h.encode());
        }
    }
    img
}

/// The image of a kill at the first barrier of `txn` (run after `setup`): for a transaction
/// too large for the redo ring, its undo log is durable and no record commits it, so opening
/// the image rolls it back (on a file, leaving the barriers that settle the rollback to the
/// first write or [`Pool::checkpoint`]).
pub fn interrupted_image<R: Persistent + Default>(
    media: Media,
    setup: impl Fn(&Pool<R>),
    txn: &dyn Fn(&mut R),
) -> Vec<u8> {
    interrupted_image_after(media, setup, None, txn)
}

/// [`interrupted_image`] with `committed` run first in the same process, as its own
/// transaction: a small one leaves its redo record unretired and its homes pending, so
/// opening the image rolls `txn` back and replays `committed`'s record.
pub fn interrupted_image_after<R: Persistent + Default>(
    media: Media,
    setup: impl Fn(&Pool<R>),
    committed: Option<&dyn Fn(&mut R)>,
    txn: &dyn Fn(&mut R),
) -> Vec<u8> {
    struct Grab(std::sync::Mutex<(bool, Option<Vec<u8>>)>);
    impl Recorder for Grab {
        fn event(&self, ev: Event, image: &[u8]) {
            let mut g = self.0.lock().expect("grab");
            if ev == Event::Barrier && g.0 && g.1.is_none() {
                g.1 = Some(image.to_vec());
            }
        }
    }
    let start = start_image(media, setup);
    let grab = Arc::new(Grab(std::sync::Mutex::new((committed.is_none(), None))));
    let p = image_opts::<R>(media)
        .recorder(grab.clone())
        .from_image(&start)
        .expect("start image");
    if let Some(c) = committed {
        c(&mut p.write());
        grab.0.lock().expect("grab").0 = true;
    }
    txn(&mut p.write());
    drop(p);
    let img = grab.0.lock().expect("grab").1.take();
    img.expect("txn made a barrier")
}

/// Opens `image` (a pool's bytes, as a kill left them) under the recorder, runs `txn` as one
/// write transaction and closes the pool, checking every crash image of that open, commit and
/// close: each must open to the state the image recovers to or, once `txn` was acknowledged,
/// the state after it. For recovery steps that open takes beyond rolling back and replaying
/// (the upgrade of a [`two_slot_image`]).
pub fn crash_check_open<R, M>(
    cfg: Config,
    image: &[u8],
    txn: &dyn Fn(&mut R),
    observe: impl Fn(&R) -> M + Send + Sync + 'static,
) -> CrashReport
where
    R: Persistent + Default,
    M: PartialEq + Debug + Send + Sync + 'static,
{
    let first = |p: &Pool<R>| {
        if cfg.checkpoint_each {
            p.checkpoint().expect("checkpoint");
        }
    };
    let p1 = image_opts::<R>(cfg.media)
        .from_image(image)
        .expect("open the image");
    first(&p1);
    let mut states = vec![observe(&p1.read())];
    txn(&mut p1.write());
    states.push(observe(&p1.read()));
    drop(p1);
    let media = cfg.media;
    let open: OpenImage<M> = Arc::new(move |img, rec| {
        open_checked::<R, M>(media, img, rec, &observe).map_err(|e| format!("open or check: {e}"))
    });
    run_recorded_states(cfg, image, states, open, |rec| {
        let p2 = image_opts::<R>(cfg.media)
            .recorder(rec)
            .from_image(image)
            .expect("recorded open");
        first(&p2);
        txn(&mut p2.write());
    })
}

/// A crash image's root, for [`crash_check_migration`]: the old type or the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side<O, N> {
    /// The image opened with its old root (the migration rolled back).
    Old(O),
    /// The image opened with its new root (the migration committed).
    New(N),
}

/// [`crash_check`] for a migration: `setup` fills a pool of `Old`, then
/// `Options::<New>::migrate(migrate)` runs on its image. Every crash image must open as the
/// `Old` that `setup` left or as the `New` that the migration made, and pass `check()`.
///
/// ```
/// use pcoll::testing::{Config, crash_check_migration};
/// use pcoll::{Persistent, Pool};
///
/// #[derive(Persistent, Default)]
/// struct V1 { hits: u32 }
/// #[derive(Persistent, Default)]
/// struct V2 { hits: u64 }
///
/// let report = crash_check_migration(
///     Config { budget: 8, ..Config::default() },
///     |pool: &Pool<V1>| pool.write().hits = 3,
///     |old: &mut V1, new: &mut V2| new.hits = u64::from(old.hits),
///     |old: &V1| old.hits,
///     |new: &V2| new.hits,
/// );
/// assert!(report.violations.is_empty(), "{:?}", report.violations);
/// assert!(report.before > 0 && report.after > 0);
/// ```
pub fn crash_check_migration<Old, New, MO, MN>(
    cfg: Config,
    setup: impl Fn(&Pool<Old>),
    migrate: impl Fn(&mut Old, &mut New),
    observe_old: impl Fn(&Old) -> MO + Send + Sync + 'static,
    observe_new: impl Fn(&New) -> MN + Send + Sync + 'static,
) -> CrashReport
where
    Old: Persistent + Default,
    New: Persistent + Default,
    MO: PartialEq + Debug + Send + Sync + 'static,
    MN: PartialEq + Debug + Send + Sync + 'static,
{
    let start = start_image(cfg.media, setup);
    let p0 = image_opts::<Old>(cfg.media)
        .from_image(&start)
        .expect("reopen start image");
    let before = Side::Old(observe_old(&p0.read()));
    drop(p0);
    let p1 = image_opts::<New>(cfg.media)
        .migrate(&migrate)
        .from_image(&start)
        .expect("migration");
    let after = Side::New(observe_new(&p1.read()));
    drop(p1);

    let media = cfg.media;
    let open: OpenImage<Side<MO, MN>> = Arc::new(move |img, rec| {
        let new = open_checked::<New, MN>(media, img, rec.clone(), &observe_new);
        let res = match new {
            Err(crate::Error::RootTypeMismatch { .. }) => {
                open_checked::<Old, MO>(media, img, rec, &observe_old)
                    .map(|(m, i)| (Side::Old(m), i))
            }
            other => other.map(|(m, i)| (Side::New(m), i)),
        };
        res.map_err(|e| format!("open or check: {e}"))
    });
    run_recorded(cfg, &start, before, after, open, |rec| {
        let p2 = image_opts::<New>(cfg.media)
            .recorder(rec)
            .migrate(&migrate)
            .from_image(&start)
            .expect("recorded migration");
        drop(p2);
    })
}

/// Opens a crash image (recording its recovery when given a recorder): model and recovered
/// image, or what went wrong.
type OpenImage<M> =
    Arc<dyn Fn(&[u8], Option<Arc<dyn Recorder>>) -> Result<(M, Vec<u8>), String> + Send + Sync>;

/// Runs `op` on a pool recorded from `start` and checks every crash image against the models.
fn run_recorded<M: PartialEq + Debug + Send + Sync + 'static>(
    cfg: Config,
    start: &[u8],
    before: M,
    after: M,
    open: OpenImage<M>,
    op: impl FnOnce(Arc<dyn Recorder>),
) -> CrashReport {
    run_recorded_states(cfg, start, vec![before, after], open, op)
}

/// [`run_recorded`] for a history: `states[k]` is the model after k of its transactions.
fn run_recorded_states<M: PartialEq + Debug + Send + Sync + 'static>(
    cfg: Config,
    start: &[u8],
    states: Vec<M>,
    open: OpenImage<M>,
    op: impl FnOnce(Arc<dyn Recorder>),
) -> CrashReport {
    let oracle = Arc::new(Oracle {
        cfg,
        states,
        open,
        report: Mutex::new(CrashReport::default()),
    });
    let rec = Arc::new(Shadow::new(start.to_vec(), cfg, {
        let oracle = oracle.clone();
        Box::new(move |img: &[u8], acked: usize| oracle.check_image(img, acked))
    }));
    op(rec.clone());
    let mut report = oracle.report.lock().unwrap().clone();
    report.points = rec.points();
    report
}

/// Checks an image, given how many commits were acknowledged before it.
type ImageCheck = Box<dyn Fn(&[u8], usize) + Send + Sync>;

/// The recorder: a shadow of the durable medium plus the image enumerator.
struct Shadow {
    state: Mutex<ShadowState>,
    cfg: Config,
    check: ImageCheck,
}

struct ShadowState {
    durable: Vec<u8>,
    /// Ranges handed to the medium since the last barrier, with their bytes at that moment
    /// (a hand-over without a barrier is followed by other changes in memory).
    inflight: Vec<(u64, u64, Vec<u8>)>,
    acked: usize,
    points: usize,
    rng: u64,
}

impl Shadow {
    fn new(durable: Vec<u8>, cfg: Config, check: ImageCheck) -> Shadow {
        let st = ShadowState {
            durable,
            inflight: Vec::new(),
            acked: 0,
            points: 0,
            rng: cfg.seed,
        };
        Shadow {
            state: Mutex::new(st),
            cfg,
            check,
        }
    }

    fn points(&self) -> usize {
        self.state.lock().unwrap().points
    }

    /// The unit versions that may reach the medium now: (unit offset, bytes).
    fn pending(&self, st: &ShadowState, image: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let unit = self.cfg.media.unit();
        let span = |u: usize| (u * unit, ((u + 1) * unit).min(image.len()));
        match self.cfg.media {
            Media::PmemLines => (0..image.len().div_ceil(unit))
                .map(span)
                .filter(|&(a, b)| st.durable.get(a..b) != Some(&image[a..b]))
                .map(|(a, b)| (a, image[a..b].to_vec()))
                .collect(),
            Media::FilePages => {
                let mut units: Vec<usize> = Vec::new();
                for &(off, len, _) in &st.inflight {
                    units.extend(off as usize / unit..((off + len) as usize).div_ceil(unit));
                }
                units.sort_unstable();
                units.dedup();
                units
                    .into_iter()
                    .map(span)
                    .filter_map(|(a, b)| {
                        let mut v = st.durable[a..b].to_vec();
                        for (off, len, bytes) in &st.inflight {
                            let (off, len) = (*off as usize, *len as usize);
                            let (lo, hi) = (off.max(a), (off + len).min(b));
                            if lo < hi {
                                v[lo - a..hi - a].copy_from_slice(&bytes[lo - off..hi - off]);
                            }
                        }
                        (v != st.durable[a..b]).then_some((a, v))
                    })
                    .collect()
            }
        }
    }

    /// Builds the crash images of this point and hands each to the checker.
    fn crash_point(&self, st: &mut ShadowState, image: &[u8]) {
        st.points += 1;
        let pending = self.pending(st, image);
        for subset in subsets(
            pending.len(),
            self.cfg.budget,
            self.cfg.exhaustive_upto,
            &mut st.rng,
        ) {
            let mut img = st.durable.clone();
            for &i in &subset {
                let (a, v) = &pending[i];
                if img.len() < a + v.len() {
                    // Memory the pool mapped before its growth event: a write there would
                    // extend the file.
                    img.resize(a + v.len(), 0);
                }
                img[*a..*a + v.len()].copy_from_slice(v);
            }
            (self.check)(&img, st.acked);
        }
    }

    /// The barrier completed: what it covered is durable.
    fn settle(&self, st: &mut ShadowState, image: &[u8]) {
        let unit = self.cfg.media.unit() as u64;
        for (off, len, bytes) in std::mem::take(&mut st.inflight) {
            match self.cfg.media {
                Media::FilePages => {
                    st.durable[off as usize..(off + len) as usize].copy_from_slice(&bytes);
                }
                Media::PmemLines => {
                    let (a, b) = (
                        off / unit * unit,
                        ((off + len).div_ceil(unit) * unit).min(image.len() as u64),
                    );
                    st.durable[a as usize..b as usize]
                        .copy_from_slice(&image[a as usize..b as usize]);
                }
            }
        }
    }
}

impl Recorder for Shadow {
    fn event(&self, ev: Event, image: &[u8]) {
        let mut st = self.state.lock().unwrap();
        match ev {
            Event::Persist { off, len } => {
                let bytes = image[off as usize..(off + len) as usize].to_vec();
                st.inflight.push((off, len, bytes));
            }
            Event::Barrier => {
                self.crash_point(&mut st, image);
                self.settle(&mut st, image);
            }
            Event::Grow { len } => {
                st.durable.resize(len as usize, 0);
                self.crash_point(&mut st, image);
            }
            Event::Committed => {
                st.acked += 1;
                self.crash_point(&mut st, image);
            }
            _ => self.crash_point(&mut st, image),
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

/// Opens crash images and compares them with the models: `states[k]` after k transactions
/// (`[before, after]` for one).
struct Oracle<M> {
    cfg: Config,
    states: Vec<M>,
    open: OpenImage<M>,
    report: Mutex<CrashReport>,
}

impl<M: PartialEq + Debug + Send + Sync + 'static> Oracle<M> {
    /// Recovers `img` and returns the observed model, or what went wrong.
    fn recover(&self, img: &[u8], rec: Option<Arc<dyn Recorder>>) -> Result<(M, Vec<u8>), String> {
        (self.open)(img, rec)
    }

    /// After `acked` acknowledged commits, an image must hold that state or, while the next
    /// transaction commits, the one after it.
    fn check_image(self: &Arc<Self>, img: &[u8], acked: usize) {
        let res =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.recover(img, None)));
        let mut rep = self.report.lock().unwrap();
        rep.images += 1;
        let (m, recovered) = match res {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return rep.violations.push(e),
            Err(_) => return rep.violations.push("recovery panicked".into()),
        };
        let last = self.states.len() - 1;
        let k = acked.min(last);
        let ok = self.states[k..=(k + 1).min(last)].contains(&m);
        if !ok {
            let what = if k == last {
                "after (acknowledged)".to_string()
            } else {
                format!("state {k} or {} of {last}", k + 1)
            };
            return rep.violations.push(format!("expected {what}, got {m:?}"));
        }
        if m == self.states[last] {
            rep.after += 1;
        } else {
            rep.before += 1;
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
