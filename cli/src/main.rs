//! `pcoll`: look inside a pcoll pool file without the application's Rust types.
//!
//! - `pcoll info FILE [--json]`: header, sizes, root type and schema, log and recovery state,
//!   allocation statistics;
//! - `pcoll check FILE [--recover]`: everything `info` reads, validated; exit code 0 healthy,
//!   1 damaged, 2 not a pool, 3 unreadable (missing, locked by a writer, I/O error);
//! - `pcoll schema FILE [--json]`: the root type's stored layout.
//!
//! Read-only: nothing writes FILE except `check --recover`, which rolls an interrupted
//! transaction back in place (as the next open would). See `pcoll::inspect` for what is
//! checked, and what needs the application's types (the reachability walk).

mod schema;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pcoll::Error;
use pcoll::inspect::{self, PoolInfo};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "pcoll", version, about = "Look inside a pcoll pool file")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Header, sizes, root type and schema, log state, allocation statistics.
    Info {
        /// The pool file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validates the header, log, allocator metadata, root and schema blocks.
    /// Exit code: 0 healthy, 1 damaged, 2 not a pool, 3 unreadable.
    Check {
        /// The pool file.
        file: PathBuf,
        /// Roll back an interrupted transaction in place first (writes FILE).
        #[arg(long)]
        recover: bool,
    },
    /// The root type's stored layout: fields, offsets, types.
    Schema {
        /// The pool file.
        file: PathBuf,
        /// Print the stored JSON.
        #[arg(long)]
        json: bool,
    },
}

const DAMAGED: u8 = 1;
const NOT_A_POOL: u8 = 2;
const UNREADABLE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match &cli.cmd {
        Cmd::Info { file, json } => info(file, *json),
        Cmd::Check { file, recover } => check(file, *recover),
        Cmd::Schema { file, json } => show_schema(file, *json),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err((code, msg)) => {
            eprintln!("pcoll: {msg}");
            ExitCode::from(code)
        }
    }
}

type Outcome = Result<u8, (u8, String)>;

/// Inspects `file`, sorting failures into exit codes.
fn read(file: &Path) -> Result<PoolInfo, (u8, String)> {
    if !looks_like_a_pool(file) {
        return Err((NOT_A_POOL, format!("{}: not a pcoll pool", file.display())));
    }
    inspect::inspect(file).map_err(|e| (code_of(&e), e.to_string()))
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

fn code_of(e: &Error) -> u8 {
    match e {
        Error::NotFound { .. } | Error::Locked { .. } | Error::Io { .. } => UNREADABLE,
        Error::BadMagic { .. } | Error::UnsupportedVersion { .. } => NOT_A_POOL,
        _ => DAMAGED,
    }
}

fn info(file: &Path, as_json: bool) -> Outcome {
    let i = read(file)?;
    if as_json {
        println!("{:#}", info_json(&i));
    } else {
        print!("{}", info_text(&i));
    }
    Ok(0)
}

fn check(file: &Path, recover: bool) -> Outcome {
    if recover {
        read(file)?; // refuse non-pools before writing anything
        let r = inspect::recover(file).map_err(|e| (code_of(&e), e.to_string()))?;
        println!("recovery: {}", recovery_text(&r));
    }
    let i = read(file)?;
    let schema_ok = i.schema.as_deref().is_none_or(|s| {
        serde_json::from_str::<Value>(s).is_ok_and(|v| v["size"].as_u64() == Some(i.root_size))
    });
    let mut problems = i.problems.clone();
    if !schema_ok {
        problems.push("the stored schema does not parse or does not match the root's size".into());
    }
    println!("{}: {}", i.path.display(), i.root_type);
    println!("recovery: {}", recovery_text(&i.recovery));
    println!(
        "checked: header, log ({} segments), allocator ({} blocks, {}), root and schema blocks",
        i.log_segments,
        i.blocks,
        bytes(i.allocated_bytes)
    );
    println!("not checked: reachability (needs the root type: Pool::check() in the application)");
    if problems.is_empty() {
        println!("healthy");
        Ok(0)
    } else {
        for p in &problems {
            println!("damaged: {p}");
        }
        Ok(DAMAGED)
    }
}

fn show_schema(file: &Path, as_json: bool) -> Outcome {
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
        println!("{text}");
        return Ok(0);
    }
    let v: Value =
        serde_json::from_str(&text).map_err(|e| (DAMAGED, format!("stored schema: {e}")))?;
    print!("{}", schema::tree(&v));
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
            "{} redo record(s) replayed (usual after small durable commits)",
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
