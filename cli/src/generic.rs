//! The commands that need no Rust type: `info`, `check` (without the reachability walk),
//! `schema`. They read through `pcoll::inspect`, which never writes the file (but
//! `check --recover`).

use std::io::Write;
use std::path::Path;

use pcoll::inspect::{self, PoolInfo};
use pcoll::{Error, Progress};
use serde_json::{Value, json};

use crate::progress::{Bar, When};
use crate::{DAMAGED, NOT_A_POOL, Outcome, UNREADABLE, schema};

/// Inspects `file`, sorting failures into exit codes.
pub(crate) fn read(file: &Path) -> Result<PoolInfo, (u8, String)> {
    read_with(file, &mut |_| {})
}

/// [`read`], reporting the allocator walk's progress.
fn read_with(file: &Path, progress: &mut dyn FnMut(Progress)) -> Result<PoolInfo, (u8, String)> {
    if !looks_like_a_pool(file) {
        return Err((NOT_A_POOL, format!("{}: not a pcoll pool", file.display())));
    }
    inspect::inspect_with_progress(file, progress).map_err(|e| (code_of(&e), e.to_string()))
}

/// The file starts with the header's magic (in either slot).
fn looks_like_a_pool(file: &Path) -> bool {
    use std::io::Read;
    let mut page = vec![0u8; 2048 + 8];
    let Ok(mut f) = std::fs::File::open(file) else {
        return true; // let inspect report why it cannot be read
    };
    let n = f.read(&mut page).unwrap_or(0);
    let magic = b"PCOLPOOL";
    page[..n.min(8)] == magic[..n.min(8)] && n >= 8 || n >= 2048 + 8 && &page[2048..2056] == magic
}

pub(crate) fn code_of(e: &Error) -> u8 {
    match e {
        Error::NotFound { .. }
        | Error::Locked { .. }
        | Error::Io { .. }
        | Error::RootTypeMismatch { .. } => UNREADABLE,
        Error::BadMagic { .. } | Error::UnsupportedVersion { .. } => NOT_A_POOL,
        _ => DAMAGED,
    }
}

pub(crate) fn info(out: &mut dyn Write, file: &Path, as_json: bool) -> Outcome {
    let i = read(file)?;
    if as_json {
        w(out, format!("{:#}\n", info_json(&i)))?;
    } else {
        w(out, info_text(&i))?;
    }
    Ok(0)
}

/// The reachability walk's summary when the tool knows the root type (`Ok(None)`: it does
/// not), reporting its progress.
pub(crate) type FullCheck<'a> =
    &'a dyn Fn(&Path, &mut dyn FnMut(Progress)) -> Result<Option<String>, Error>;

/// `full`: see [`FullCheck`]; `typed`: whether it walks (one more stage of the bar).
pub(crate) fn check(
    out: &mut dyn Write,
    file: &Path,
    recover: bool,
    when: When,
    full: FullCheck<'_>,
    typed: bool,
) -> Outcome {
    // Shares of the bar: inspect's walk (twice with --recover), then the typed check's two
    // walks, which fill a table of the blocks and reach every value: about three times as long.
    let mut weights = vec![1; 1 + usize::from(recover)];
    if typed {
        weights.push(3);
    }
    let mut bar = Bar::new(when, file, &weights);
    if recover {
        read_with(file, &mut |p| bar.update(p))?; // refuse non-pools before writing anything
        bar.next_stage();
        let r = inspect::recover(file).map_err(|e| (code_of(&e), e.to_string()))?;
        w(out, format!("recovery: {}\n", recovery_text(&r)))?;
    }
    let i = read_with(file, &mut |p| bar.update(p))?;
    let schema_ok = i.schema.as_deref().is_none_or(|s| {
        serde_json::from_str::<Value>(s).is_ok_and(|v| v["size"].as_u64() == Some(i.root_size))
    });
    let mut problems = i.problems.clone();
    if !schema_ok {
        problems.push("the stored schema does not parse or does not match the root's size".into());
    }
    let mut text = format!(
        "{}: {}\nrecovery: {}\nchecked: header, log ({} segments), allocator ({} blocks, {}), \
         root and schema blocks\n",
        i.path.display(),
        i.root_type,
        recovery_text(&i.recovery),
        i.log_segments,
        i.blocks,
        bytes(i.allocated_bytes)
    );
    if problems.is_empty() {
        bar.next_stage();
        match full(file, &mut |p| bar.update(p)) {
            Ok(Some(walk)) => text.push_str(&format!("checked: reachability: {walk}\n")),
            Ok(None) => text.push_str(
                "not checked: reachability (needs the root type: Pool::check() in the \
                 application, or a tool built with pcoll_cli::typed_main)\n",
            ),
            Err(e) => problems.push(format!("reachability: {e}")),
        }
    }
    if problems.is_empty() {
        text.push_str("healthy\n");
    }
    for p in &problems {
        text.push_str(&format!("damaged: {p}\n"));
    }
    drop(bar); // cleared before the report
    w(out, text)?;
    Ok(if problems.is_empty() { 0 } else { DAMAGED })
}

pub(crate) fn show_schema(out: &mut dyn Write, file: &Path, as_json: bool) -> Outcome {
    let i = read(file)?;
    let Some(text) = i.schema else {
        return Err((
            DAMAGED,
            format!(
                "{}: no schema stored (made by an older pcoll)",
                file.display()
            ),
        ));
    };
    if as_json {
        w(out, format!("{text}\n"))?;
        return Ok(0);
    }
    let v: Value =
        serde_json::from_str(&text).map_err(|e| (DAMAGED, format!("stored schema: {e}")))?;
    w(out, schema::tree(&v))?;
    Ok(0)
}

fn recovery_text(r: &pcoll::Recovery) -> String {
    let mut parts = Vec::new();
    if let Some((g, n)) = r.rolled_back {
        parts.push(format!(
            "transaction {g} was interrupted: rolled back ({n} undo entries)"
        ));
    }
    if let Some(g) = r.completed_migration {
        parts.push(format!(
            "migration {g} was interrupted after its commit point: completed"
        ));
    }
    if r.redo_replayed > 0 {
        parts.push(format!(
            "{} redo record(s) replayed (a commit was interrupted after its commit point)",
            r.redo_replayed
        ));
    }
    if parts.is_empty() {
        "clean".into()
    } else {
        parts.join("; ")
    }
}

fn info_text(i: &PoolInfo) -> String {
    let installed = if i.root_generation == 0 {
        "since creation".to_owned()
    } else {
        format!("installed by migration {}", i.root_generation)
    };
    let mut s = format!(
        "pool        {}\n\
         format      version {}, redo slots: {}\n\
         size        {} in the pool, file {}\n\
         uuid        {:#018x}, {} header writes\n\
         root        {} ({} bytes at offset {}, fingerprint {:#018x}, {installed})\n\
         log         {} segment(s), {}\n\
         heap        {} segment(s), {}; {} blocks, {} allocated\n\
         recovery    {}\n",
        i.path.display(),
        i.format_version,
        if i.redo_slots { "yes" } else { "no" },
        bytes(i.pool_bytes),
        bytes(i.file_bytes),
        i.uuid,
        i.header_writes,
        i.root_type,
        i.root_size,
        i.root_offset,
        i.root_fingerprint,
        i.log_segments,
        bytes(i.log_bytes),
        i.heap_segments,
        bytes(i.heap_bytes),
        i.blocks,
        bytes(i.allocated_bytes),
        recovery_text(&i.recovery),
    );
    match i.schema.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(v)) => s.push_str(&format!("schema\n{}", indent(&schema::tree(&v)))),
        Some(Err(_)) => s.push_str("schema      (stored, but not valid JSON)\n"),
        None => s.push_str("schema      (not stored: made by an older pcoll)\n"),
    }
    if i.problems.is_empty() {
        s.push_str("problems    none found\n");
    } else {
        for p in &i.problems {
            s.push_str(&format!("problem     {p}\n"));
        }
    }
    s
}

fn info_json(i: &PoolInfo) -> Value {
    let r = &i.recovery;
    json!({
        "path": i.path,
        "format_version": i.format_version,
        "redo_slots": i.redo_slots,
        "pool_bytes": i.pool_bytes,
        "file_bytes": i.file_bytes,
        "uuid": i.uuid,
        "header_writes": i.header_writes,
        "root": {
            "type": i.root_type,
            "offset": i.root_offset,
            "size": i.root_size,
            "fingerprint": i.root_fingerprint,
            "migration": i.root_generation,
        },
        "schema": i.schema.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
        "log": { "segments": i.log_segments, "bytes": i.log_bytes },
        "heap": {
            "segments": i.heap_segments,
            "bytes": i.heap_bytes,
            "blocks": i.blocks,
            "allocated_bytes": i.allocated_bytes,
        },
        "recovery": {
            "rolled_back": r.rolled_back.map(|(g, n)| json!({"generation": g, "entries": n})),
            "completed_migration": r.completed_migration,
            "redo_replayed": r.redo_replayed,
        },
        "problems": i.problems,
    })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Writes `text` to the tool's output (a closed pipe is an error like any other).
pub(crate) fn w(out: &mut dyn Write, text: String) -> Result<(), (u8, String)> {
    out.write_all(text.as_bytes())
        .map_err(|e| (UNREADABLE, format!("writing the output: {e}")))
}
