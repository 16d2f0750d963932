//! `pcoll`: look inside a pcoll pool file.
//!
//! Without the application's Rust types (the `pcoll` binary):
//! - `pcoll info FILE [--json]`: header, sizes, root type and schema, log and recovery state,
//!   allocation statistics;
//! - `pcoll check FILE [--recover] [--progress | --no-progress]`: everything `info` reads,
//!   validated; exit code 0 healthy, 1 damaged, 2 not a pool, 3 unreadable (missing, locked
//!   by a writer, another root type, an I/O error). A progress bar on standard error for
//!   pool files over 100 MiB when standard error is a terminal; `--progress` draws it always,
//!   `--no-progress` never;
//! - `pcoll schema FILE [--json]`: the root type's stored layout.
//!
//! With the root type, in a tool the application builds in three lines
//! (`fn main() -> ExitCode { pcoll_cli::typed_main::<MyRoot>() }`, see [`typed_main`]), also:
//! - `check` walks reachability (`Pool::check`);
//! - `dump FILE [--path users.alice]`: the contents as JSON (the whole root, or the value at
//!   a dotted path of field names, map keys and indexes);
//! - `export FILE OUT [--format json|cbor]`, `import IN OUT [--format ..]`: `Pool::export`
//!   and `Options::import`;
//! - `compact FILE OUT`: a new pool holding only the live data (`Options::compact`);
//!   `compact FILE --in-place` replaces FILE by it (`Options::shrink`).
//!
//! Pointers in a pool can only be followed with the layout of every value, and an
//! `Option<T>`'s layout is the compiler's, which the stored schema cannot record soundly:
//! that is why these commands need the type. Nothing writes FILE except
//! `check --recover`, which rolls an interrupted transaction back in place (as the next open
//! would); `import` and `compact` write only OUT, whole or not at all (`compact --in-place`,
//! asked for, replaces FILE whole).

mod generic;
mod progress;
mod schema;
mod typed;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub use typed::{Typed, Untyped, WithRoot};

/// Exit code: the pool is damaged (what and where on stdout).
pub const DAMAGED: u8 = 1;
/// Exit code: the file is not a pcoll pool.
pub const NOT_A_POOL: u8 = 2;
/// Exit code: the file cannot be read (missing, locked, another root type, I/O).
pub const UNREADABLE: u8 = 3;

type Outcome = Result<u8, (u8, String)>;

#[derive(Parser)]
#[command(name = "pcoll", version, about = "Look inside a pcoll pool file")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// An export format on the command line.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Cbor,
}

impl From<Format> for pcoll::ExportFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Json => pcoll::ExportFormat::Json,
            Format::Cbor => pcoll::ExportFormat::Cbor,
        }
    }
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
    /// Validates the header, log, allocator metadata, root and schema blocks (and, with the
    /// root type, reachability). Exit code: 0 healthy, 1 damaged, 2 not a pool, 3 unreadable.
    Check {
        /// The pool file.
        file: PathBuf,
        /// Roll back an interrupted transaction in place first (writes FILE).
        #[arg(long)]
        recover: bool,
        /// Draw a progress bar on standard error whatever the pool's size, even when standard
        /// error is not a terminal (default: for pool files over 100 MiB on a terminal).
        #[arg(long, conflicts_with = "no_progress")]
        progress: bool,
        /// Never draw the progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// The root type's stored layout: fields, offsets, types.
    Schema {
        /// The pool file.
        file: PathBuf,
        /// Print the stored JSON.
        #[arg(long)]
        json: bool,
    },
    /// The contents as JSON (needs the root type).
    Dump {
        /// The pool file.
        file: PathBuf,
        /// A dotted path into the root: field names, map keys, indexes (`users.alice`).
        #[arg(long)]
        path: Option<String>,
    },
    /// Writes the whole pool to OUT (needs the root type).
    Export {
        /// The pool file.
        file: PathBuf,
        /// The export file to create.
        out: PathBuf,
        /// json or cbor.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Creates the pool OUT from an export (needs the root type).
    Import {
        /// The export file.
        input: PathBuf,
        /// The pool file to create.
        out: PathBuf,
        /// json or cbor.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Creates the pool OUT holding only FILE's live data, or with `--in-place` replaces FILE
    /// by it (needs the root type).
    Compact {
        /// The pool file.
        file: PathBuf,
        /// The pool file to create.
        #[arg(required_unless_present = "in_place", conflicts_with = "in_place")]
        out: Option<PathBuf>,
        /// Shrink FILE itself: the copy replaces it (renamed over it while it is locked).
        #[arg(long)]
        in_place: bool,
    },
}

/// The tool's `main` for an application's root type `R`: every command, the typed ones
/// included. Put it in a binary of the application:
///
/// ```no_run
/// use pcoll::{PHashMap, PString, Persistent};
/// #[derive(Persistent, Default, serde::Serialize, serde::Deserialize)]
/// struct Root { users: PHashMap<PString, u64> }
///
/// fn main() -> std::process::ExitCode {
///     pcoll_cli::typed_main::<Root>()
/// }
/// ```
pub fn typed_main<R>() -> ExitCode
where
    R: pcoll::Persistent + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    exit(run(
        std::env::args_os(),
        &WithRoot::<R>::new(),
        &mut std::io::stdout(),
    ))
}

/// The `pcoll` binary's `main`: the commands that need no type.
pub fn untyped_main() -> ExitCode {
    exit(run(std::env::args_os(), &Untyped, &mut std::io::stdout()))
}

fn exit((code, err): (u8, Option<String>)) -> ExitCode {
    if let Some(msg) = err {
        eprintln!("pcoll: {msg}");
    }
    ExitCode::from(code)
}

/// Runs the tool on `args` (the program name first) with `typed`'s root type, writing to
/// `out`: the exit code, and the error message for standard error if there is one.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    typed: &dyn Typed,
    out: &mut dyn Write,
) -> (u8, Option<String>) {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return (code, None);
        }
    };
    let res = match &cli.cmd {
        Cmd::Info { file, json } => generic::info(out, file, *json),
        Cmd::Check {
            file,
            recover,
            progress,
            no_progress,
        } => generic::check(
            out,
            file,
            *recover,
            progress::When::from_flags(*progress, *no_progress),
            &|f, p| typed.check_with_progress(f, p),
            typed.has_type(),
        ),
        Cmd::Schema { file, json } => generic::show_schema(out, file, *json),
        Cmd::Dump { file, path } => typed::dump(typed, out, file, path.as_deref()),
        Cmd::Export {
            file,
            out: to,
            format,
        } => typed::outcome(out, typed.export(file, to, (*format).into())),
        Cmd::Import {
            input,
            out: to,
            format,
        } => typed::outcome(out, typed.import(input, to, (*format).into())),
        Cmd::Compact {
            file,
            out: Some(to),
            ..
        } => typed::outcome(out, typed.compact(file, to)),
        Cmd::Compact { file, .. } => typed::outcome(out, typed.shrink(file)),
    };
    match res {
        Ok(code) => (code, None),
        Err((code, msg)) => (code, Some(msg)),
    }
}
