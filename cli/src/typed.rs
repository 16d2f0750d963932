//! The commands that need the root's Rust type: the full `check`, `dump`, `export`,
//! `import`, `compact`. [`WithRoot`] implements them for a root type; [`Untyped`] (the
//! `pcoll` binary) answers each with how to get them.

use std::io::Write;
use std::marker::PhantomData;
use std::path::Path;

use pcoll::{Error, ExportFormat, Persistent, Pool, Progress};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::generic::{code_of, read, w};
use crate::{NOT_A_POOL, Outcome, UNREADABLE};

/// What the tool can do with a root type (object safe, so one `run` serves every tool).
pub trait Typed {
    /// `Pool::check` on the file opened read-only: `Ok(None)` when there is no type.
    fn check(&self, file: &Path) -> Result<Option<String>, Error>;
    /// [`check`](Typed::check), reporting its progress (`Pool::check_with_progress`); by
    /// default, `check` without reports.
    fn check_with_progress(
        &self,
        file: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<String>, Error> {
        let _ = progress;
        self.check(file)
    }
    /// The whole root as JSON.
    fn dump(&self, file: &Path) -> Result<Value, Error>;
    /// `Pool::export` of the file opened read-only into a new file `out`.
    fn export(&self, file: &Path, out: &Path, format: ExportFormat) -> Result<String, Error>;
    /// `Options::import` of `input` into a new pool `out`.
    fn import(&self, input: &Path, out: &Path, format: ExportFormat) -> Result<String, Error>;
    /// `Options::compact` of the file into a new pool `out`.
    fn compact(&self, file: &Path, out: &Path) -> Result<String, Error>;
    /// `Options::shrink` of the file: its compacted copy replaces it.
    fn shrink(&self, file: &Path) -> Result<String, Error> {
        let _ = file;
        Err(needs_type())
    }
    /// False for [`Untyped`].
    fn has_type(&self) -> bool {
        true
    }
}

/// The `pcoll` binary: no root type.
#[derive(Debug, Clone, Copy)]
pub struct Untyped;

fn needs_type() -> Error {
    Error::InvalidOption {
        path: "<pcoll>".into(),
        what: "this command needs the pool's root type: build a tool with \
               `pcoll_cli::typed_main::<YourRoot>()` (README, \"The pcoll tool\")"
            .into(),
    }
}

impl Typed for Untyped {
    fn check(&self, _: &Path) -> Result<Option<String>, Error> {
        Ok(None)
    }
    fn dump(&self, _: &Path) -> Result<Value, Error> {
        Err(needs_type())
    }
    fn export(&self, _: &Path, _: &Path, _: ExportFormat) -> Result<String, Error> {
        Err(needs_type())
    }
    fn import(&self, _: &Path, _: &Path, _: ExportFormat) -> Result<String, Error> {
        Err(needs_type())
    }
    fn compact(&self, _: &Path, _: &Path) -> Result<String, Error> {
        Err(needs_type())
    }
    fn has_type(&self) -> bool {
        false
    }
}

/// A tool for pools whose root is `R`.
#[derive(Debug)]
pub struct WithRoot<R>(PhantomData<fn() -> R>);

impl<R> WithRoot<R> {
    /// The tool for `R`.
    pub fn new() -> Self {
        WithRoot(PhantomData)
    }
}

impl<R> Default for WithRoot<R> {
    fn default() -> Self {
        Self::new()
    }
}

fn io_err(path: &Path, op: &'static str, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        op,
        source,
    }
}

fn open_ro<R: Persistent + Default>(file: &Path) -> Result<Pool<R>, Error> {
    Pool::<R>::options().read_only(true).open_existing(file)
}

impl<R> Typed for WithRoot<R>
where
    R: Persistent + Default + Serialize + DeserializeOwned,
{
    fn check(&self, file: &Path) -> Result<Option<String>, Error> {
        self.check_with_progress(file, &mut |_| {})
    }

    fn check_with_progress(
        &self,
        file: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<String>, Error> {
        let rep = open_ro::<R>(file)?.check_with_progress(progress)?;
        Ok(Some(format!(
            "{} blocks reachable from the root, {} bytes, none leaked",
            rep.blocks, rep.allocated_bytes
        )))
    }

    fn dump(&self, file: &Path) -> Result<Value, Error> {
        let pool = open_ro::<R>(file)?;
        let root = pool.read();
        serde_json::to_value(&*root).map_err(|e| io_err(file, "dump", e.into()))
    }

    fn export(&self, file: &Path, out: &Path, format: ExportFormat) -> Result<String, Error> {
        let pool = open_ro::<R>(file)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(out)
            .map_err(|e| io_err(out, "create", e))?;
        if let Err(e) = pool.export(&f, format) {
            let _ = std::fs::remove_file(out);
            return Err(e);
        }
        f.sync_all().map_err(|e| io_err(out, "fsync", e))?;
        let n = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(format!(
            "exported {} to {} ({n} bytes)",
            file.display(),
            out.display()
        ))
    }

    fn import(&self, input: &Path, out: &Path, format: ExportFormat) -> Result<String, Error> {
        let r = std::fs::File::open(input).map_err(|e| io_err(input, "open", e))?;
        Pool::<R>::options().import(out, r, format)?;
        Ok(format!(
            "imported {} into {}",
            input.display(),
            out.display()
        ))
    }

    fn shrink(&self, file: &Path) -> Result<String, Error> {
        let s = Pool::<R>::options().shrink(file)?;
        Ok(format!(
            "shrank {} from {} to {} bytes",
            file.display(),
            s.before,
            s.after
        ))
    }
    fn compact(&self, file: &Path, out: &Path) -> Result<String, Error> {
        let from = open_ro::<R>(file)?;
        drop(Pool::<R>::options().compact(&from, out)?);
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        Ok(format!(
            "compacted {} ({} bytes) into {} ({} bytes)",
            file.display(),
            len(file),
            out.display(),
            len(out)
        ))
    }
}

/// `dump`: the root, or the value at `path`, pretty-printed.
pub(crate) fn dump(
    typed: &dyn Typed,
    out: &mut dyn Write,
    file: &Path,
    path: Option<&str>,
) -> Outcome {
    if typed.has_type() {
        read(file)?; // sorts out non-pools and damage with the generic exit codes
    }
    let root = typed.dump(file).map_err(|e| (code(&e), e.to_string()))?;
    let mut at = &root;
    for step in path.unwrap_or("").split('.').filter(|s| !s.is_empty()) {
        let next = match at {
            Value::Object(m) => m.get(step),
            Value::Array(v) => step.parse::<usize>().ok().and_then(|i| v.get(i)),
            _ => None,
        };
        at = next.ok_or_else(|| (UNREADABLE, format!("no `{step}` in the dumped value")))?;
    }
    w(out, format!("{at:#}\n"))?;
    Ok(0)
}

/// A typed command's one-line report, or its error as an exit code.
pub(crate) fn outcome(out: &mut dyn Write, r: Result<String, Error>) -> Outcome {
    let line = r.map_err(|e| (code(&e), e.to_string()))?;
    w(out, format!("{line}\n"))?;
    Ok(0)
}

fn code(e: &Error) -> u8 {
    match e {
        Error::InvalidOption { .. } => NOT_A_POOL,
        e => code_of(e),
    }
}
