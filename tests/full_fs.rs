//! A file system that fills up (issue 13): the pool lives on a small file system that the
//! test mounts, a size-limited tmpfs and an ext4 image on a loop device, and grows until the
//! file system refuses. Every acknowledged transaction must survive a reopen, the refused one
//! must leave nothing behind, the pool must go on working (reads, and writes that need no
//! new space), and creating a pool on the full file system must fail cleanly, with no file
//! left. No SIGBUS anywhere: growth and creation reserve blocks with `fallocate` before the
//! mapping touches them.
//!
//! Mounting needs root (and `mkfs.ext4` and a free loop device for ext4): where they are
//! missing, the case is skipped and says why.

use std::path::{Path, PathBuf};
use std::process::Command;

use pcoll::{Durability, Error, PString, PVec, Persistent, Pool};

#[derive(Persistent, Default)]
struct Root {
    v: PVec<u64>,
    s: PString,
}

/// A mounted file system, unmounted (and its directory removed) on drop.
struct Mount {
    dir: PathBuf,
    image: Option<PathBuf>,
}

impl Mount {
    fn new(kind: &str, mib: u64) -> Result<Mount, String> {
        let base = std::env::temp_dir().join(format!("pcoll-fullfs-{kind}-{}", std::process::id()));
        let dir = base.join("mnt");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let (image, args): (Option<PathBuf>, Vec<String>) = match kind {
            "tmpfs" => (
                None,
                ["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"]
                    .map(String::from)
                    .to_vec(),
            ),
            _ => {
                let img = base.join("ext4.img");
                std::fs::File::create(&img)
                    .and_then(|f| f.set_len(mib << 20))
                    .map_err(|e| e.to_string())?;
                run("mkfs.ext4", &["-q", "-F", img.to_str().unwrap()])?;
                (
                    Some(img.clone()),
                    vec!["-o".into(), "loop".into(), img.to_str().unwrap().into()],
                )
            }
        };
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push(dir.to_str().unwrap());
        if let Err(e) = run("mount", &all) {
            let _ = std::fs::remove_dir_all(&base);
            return Err(e);
        }
        Ok(Mount { dir, image })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = run("umount", &[self.dir.to_str().unwrap()]);
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
        let _ = &self.image;
    }
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The file system is full: `fallocate` said ENOSPC (or the pool's own words for it).
fn is_no_space(e: &Error) -> bool {
    match e {
        Error::Io { source, .. } => source.raw_os_error() == Some(libc_enospc()),
        Error::OutOfSpace { .. } => true,
        _ => false,
    }
}

const fn libc_enospc() -> i32 {
    28 // ENOSPC on Linux
}

/// Fills a pool on `m` until the file system refuses, then checks what the module doc says.
fn fill_until_full(m: &Mount, d: Durability) {
    let path = m.dir.join(format!("{d:?}.pool"));
    let mut model: Vec<u64> = Vec::new();
    let mut text: u64; // bytes of `s`
    let (refused, what) = {
        let pool = Pool::<Root>::options()
            .durability(d)
            .initial_size(256 << 10)
            .max_size(1 << 30)
            .create(&path)
            .expect("create on an empty file system");
        let mut round = 0u64;
        let err = loop {
            let chunk: Vec<u64> = (0..8192).map(|i| round << 20 | i).collect();
            let r = pool.transaction(|w| -> pcoll::Result<()> {
                w.s.try_push_str("x")?;
                w.v.try_extend(chunk.iter().copied())
            });
            match r {
                Ok(()) => model.extend(&chunk),
                Err(e) => break e,
            }
            round += 1;
            assert!(round < 10_000, "the file system never filled");
        };
        assert!(is_no_space(&err), "a full file system, got {err:?}");
        text = round;
        // Rolled back: the refused transaction left nothing, and the pool still works.
        assert_eq!(pool.read().v.as_slice(), &model[..]);
        assert_eq!(pool.read().s.len() as u64, text);
        pool.write().v[0] = 7;
        model[0] = 7;
        // Smaller transactions go on until the space is gone for them too.
        let piece = "y".repeat(4096);
        let small = loop {
            match pool.transaction(|w| w.s.try_push_str(&piece)) {
                Ok(()) => text += piece.len() as u64,
                Err(e) => break e,
            }
            assert!(text < 1 << 30, "the file system never filled");
        };
        assert!(is_no_space(&small), "a full file system, got {small:?}");
        assert_eq!(pool.read().s.len() as u64, text);
        pool.check().expect("check after the refusals");
        (round, err.to_string())
    };
    let pool = Pool::<Root>::options()
        .durability(d)
        .open_existing(&path)
        .expect("reopen");
    assert_eq!(
        pool.read().v.as_slice(),
        &model[..],
        "every acknowledged transaction"
    );
    assert_eq!(pool.read().s.len() as u64, text);
    pool.check().expect("check after reopen");
    println!(
        "full file system ({d:?}): {refused} transactions of 8192 elements, then {} bytes of \
         text, each acknowledged one there after reopening; then {what}",
        text - refused
    );
    drop(pool);
    std::fs::remove_file(&path).unwrap(); // room for the next case
}

/// Fills what is left of the file system with a plain file, then a pool creation must fail
/// with the error and leave no file behind.
fn create_on_full(m: &Mount) {
    use std::io::Write as _;
    let filler = m.dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0xa5u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    let before = listing(&m.dir);
    let made = Pool::<Root>::options()
        .durability(Durability::Sync)
        .initial_size(1 << 20)
        .create(m.dir.join("new.pool"));
    let Err(err) = made else {
        panic!("creation on a full file system succeeded");
    };
    assert!(is_no_space(&err), "got {err:?}");
    assert_eq!(listing(&m.dir), before, "nothing left behind");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn case(kind: &str) {
    let m = match Mount::new(kind, 8) {
        Ok(m) => m,
        Err(why) => return println!("full file system ({kind}): skipped, cannot mount: {why}"),
    };
    fill_until_full(&m, Durability::Sync);
    fill_until_full(&m, Durability::Process);
    create_on_full(&m);
}

#[test]
fn a_full_tmpfs_refuses_cleanly_and_loses_nothing() {
    case("tmpfs");
}

#[test]
fn a_full_ext4_refuses_cleanly_and_loses_nothing() {
    case("ext4");
}
