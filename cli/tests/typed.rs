//! A tool built with the root type (`pcoll_cli::run` with `WithRoot<Root>`, as
//! `typed_main` runs it): the full `check`, `dump`, `export`, `import`, `compact`, over real
//! pool files; and the `pcoll` binary's answer to the same commands without the type.

mod common;

use common::{Dir, Root};
use std::path::Path;
use std::process::Command;

use pcoll::{PString, Persistent, Pool};
use pcoll_cli::{NOT_A_POOL, UNREADABLE, Untyped, WithRoot, run};
use serde::{Deserialize, Serialize};

#[derive(Persistent, Default, Serialize, Deserialize)]
struct Other {
    x: u64,
}

fn make_pool(path: &Path) {
    let p = Pool::<Root>::create(path).unwrap();
    let mut w = p.write();
    for i in 0..2000u64 {
        w.users.insert(format!("user{i}"), i);
        w.log.push(i * i);
        w.by_time.insert(i, format!("event {i}"));
    }
    w.users.retain(|_, v| *v % 2 == 0);
    w.inner.hits = 7;
    w.inner.tags.push(PString::from("alpha"));
}

/// Runs the typed tool: exit code, stdout, error message.
fn tool(args: &[&str]) -> (u8, String, Option<String>) {
    let mut out = Vec::new();
    let argv = std::iter::once("pcoll").chain(args.iter().copied());
    let (code, err) = run(argv, &WithRoot::<Root>::new(), &mut out);
    (code, String::from_utf8(out).unwrap(), err)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_walks_reachability_with_the_type() {
    let d = Dir::new("typed-check");
    let f = d.file("a.pool");
    make_pool(&f);
    let before = std::fs::read(&f).unwrap();
    let (code, out, _) = tool(&["check", s(&f)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("checked: reachability:") && out.contains("none leaked"),
        "{out}"
    );
    assert!(out.contains("healthy"));
    assert_eq!(std::fs::read(&f).unwrap(), before, "read-only");
    // A pool of another root type: unreadable for this tool, named as such.
    let g = d.file("other.pool");
    drop(Pool::<Other>::create(&g).unwrap());
    let (code, out, _) = tool(&["check", s(&g)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("root type"), "{out}");
}

#[test]
fn dump_prints_the_root_or_a_path_in_it() {
    let d = Dir::new("typed-dump");
    let f = d.file("a.pool");
    make_pool(&f);
    let (code, out, err) = tool(&["dump", s(&f)]);
    assert_eq!(code, 0, "{err:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["users"].as_object().unwrap().len(), 1000);
    assert_eq!(v["users"]["user42"], 42);
    assert_eq!(v["log"][30], 900);
    assert_eq!(v["by_time"]["5"], "event 5");
    assert_eq!(v["inner"]["tags"][0], "alpha");
    let (code, out, _) = tool(&["dump", s(&f), "--path", "inner.tags.0"]);
    assert_eq!((code, out.trim()), (0, "\"alpha\""));
    let (code, out, _) = tool(&["dump", s(&f), "--path", "users.user10"]);
    assert_eq!((code, out.trim()), (0, "10"));
    let (code, _, err) = tool(&["dump", s(&f), "--path", "users.user11"]);
    assert_eq!(code, UNREADABLE);
    assert!(err.unwrap().contains("user11"));
    let junk = d.file("junk");
    std::fs::write(&junk, vec![7u8; 9000]).unwrap();
    assert_eq!(tool(&["dump", s(&junk)]).0, NOT_A_POOL);
}

#[test]
fn export_import_and_compact_round_trip() {
    let d = Dir::new("typed-roundtrip");
    let f = d.file("a.pool");
    make_pool(&f);
    let (_, original, _) = tool(&["dump", s(&f)]);
    for fmt in ["json", "cbor"] {
        let x = d.file(&format!("a.{fmt}"));
        let b = d.file(&format!("b-{fmt}.pool"));
        let (code, out, err) = tool(&["export", s(&f), s(&x), "--format", fmt]);
        assert_eq!(code, 0, "{err:?}");
        assert!(out.starts_with("exported"), "{out}");
        // OUT is never overwritten.
        assert_eq!(
            tool(&["export", s(&f), s(&x), "--format", fmt]).0,
            UNREADABLE
        );
        let (code, _, err) = tool(&["import", s(&x), s(&b), "--format", fmt]);
        assert_eq!(code, 0, "{err:?}");
        assert_eq!(tool(&["dump", s(&b)]).1, original, "{fmt}");
        assert_eq!(tool(&["check", s(&b)]).0, 0);
    }
    let c = d.file("c.pool");
    let (code, out, err) = tool(&["compact", s(&f), s(&c)]);
    assert_eq!(code, 0, "{err:?}");
    assert!(out.starts_with("compacted"), "{out}");
    assert_eq!(tool(&["dump", s(&c)]).1, original);
    assert_eq!(tool(&["check", s(&c)]).0, 0);
    assert!(std::fs::metadata(&c).unwrap().len() <= std::fs::metadata(&f).unwrap().len());
    // A file in the way: refused, and left as it was.
    std::fs::write(d.file("taken"), b"mine").unwrap();
    assert_ne!(tool(&["compact", s(&f), s(&d.file("taken"))]).0, 0);
    assert_eq!(std::fs::read(d.file("taken")).unwrap(), b"mine");
    // In place: FILE becomes its compacted copy; OUT and --in-place exclude each other. The
    // pool grows first (a burst of data, then gone), so there is free space to give back.
    {
        let p = Pool::<Root>::open_existing(&f).unwrap();
        let n = p.read().log.len();
        p.write().log.extend(0..200_000u64);
        p.write().log.truncate(n);
    }
    let before = std::fs::metadata(&f).unwrap().len();
    let (code, out, err) = tool(&["compact", s(&f), "--in-place"]);
    assert_eq!(code, 0, "{err:?}");
    assert!(out.starts_with("shrank"), "{out}");
    assert!(std::fs::metadata(&f).unwrap().len() < before);
    assert_eq!(tool(&["dump", s(&f)]).1, original);
    assert_eq!(tool(&["check", s(&f)]).0, 0);
    assert_ne!(
        tool(&["compact", s(&f), s(&d.file("x")), "--in-place"]).0,
        0
    );
    assert_ne!(tool(&["compact", s(&f)]).0, 0);
    assert!(!d.file("x").exists());
}

#[test]
fn the_pcoll_binary_says_these_commands_need_the_type() {
    let d = Dir::new("typed-untyped");
    let f = d.file("a.pool");
    make_pool(&f);
    let o = Command::new(env!("CARGO_BIN_EXE_pcoll"))
        .args(["dump", s(&f)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(i32::from(NOT_A_POOL)));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("typed_main"), "{err}");
    // In process, the same: and nothing is written.
    let mut out = Vec::new();
    let (code, msg) = run(
        ["pcoll", "compact", s(&f), s(&d.file("c.pool"))],
        &Untyped,
        &mut out,
    );
    assert_eq!(code, NOT_A_POOL);
    assert!(msg.unwrap().contains("root type"));
    assert!(!d.file("c.pool").exists());
}

/// The typed check with `--progress` / `--no-progress`, run by [`typed_check_draws_its_bar_on_stderr_only`]
/// in a child process (this test binary again): the bar goes to the process's standard error.
/// Writes the tool's standard output to `PCOLL_CLI_CHILD_OUT` and exits with its code.
fn child_tool(file: &str) -> ! {
    let flag = std::env::var("PCOLL_CLI_CHILD_FLAG").unwrap();
    let (code, out, err) = tool(&["check", &flag, file]);
    std::fs::write(std::env::var_os("PCOLL_CLI_CHILD_OUT").unwrap(), out).unwrap();
    if let Some(e) = err {
        eprintln!("pcoll: {e}");
    }
    std::process::exit(i32::from(code))
}

#[test]
fn typed_check_draws_its_bar_on_stderr_only() {
    if let Ok(file) = std::env::var("PCOLL_CLI_CHILD_FILE") {
        child_tool(&file);
    }
    let d = Dir::new("typed-progress");
    let f = d.file("a.pool");
    make_pool(&f);
    let (code, plain, _) = tool(&["check", s(&f)]);
    assert_eq!(code, 0, "{plain}");
    assert!(plain.contains("checked: reachability:"), "{plain}");
    let child = |flag: &str| {
        let out = d.file(&format!("out{flag}"));
        let o = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "typed_check_draws_its_bar_on_stderr_only",
                "--quiet",
            ])
            .env("PCOLL_CLI_CHILD_FILE", &f)
            .env("PCOLL_CLI_CHILD_FLAG", flag)
            .env("PCOLL_CLI_CHILD_OUT", &out)
            .output()
            .unwrap();
        let stdout = std::fs::read_to_string(&out).unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        (o.status.code(), stdout, stderr)
    };
    let (code, out, err) = child("--progress");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, plain, "stdout unchanged");
    assert!(err.contains("checking a.pool"), "{err:?}");
    assert!(
        err.contains("reachability"),
        "the typed walk reported: {err:?}"
    );
    let (code, out, err) = child("--no-progress");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, plain);
    assert_eq!(err, "", "--no-progress draws nothing");
}
