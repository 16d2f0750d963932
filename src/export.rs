//! Export and import (feature `serde`): a whole pool to and from a self-describing file,
//! JSON or CBOR (RFC 8949), for backups, moves between machines and schema changes that
//! serde can bridge.
//!
//! Format version 1: one record (a JSON object, or a CBOR map) with, in this order,
//! - `format`: the string `"pcoll-export"`;
//! - `version`: 1;
//! - `root_type`: `std::any::type_name` of the root;
//! - `fingerprint`: the root type's layout fingerprint (informative: import checks the data,
//!   not the fingerprint, so a root that serde can read from the old data imports);
//! - `schema`: the root's schema (JSON text, `docs/format.md`, "Schema");
//! - `root`: the root as serde writes it (containers as their std counterparts: `PVec` a
//!   sequence, `PString` a string, maps as maps, `PBox<T>` as `T`).
//!
//! An import reads the whole input first (values in process memory), then creates the pool
//! beside `path`, stores the root in one transaction, makes it durable and links it into
//! place: a crash or a bad input leaves no pool at `path`, never half of one.

use std::io::{Read, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::persistent::{Fingerprint, Persistent};
use crate::pool::{Options, Pool};

/// The formats of [`Pool::export`] and [`Options::import`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// JSON text (`serde_json`).
    Json,
    /// CBOR, compact binary (`ciborium`).
    Cbor,
}

const FORMAT: &str = "pcoll-export";
const VERSION: u32 = 1;

#[derive(Serialize)]
struct Out<'a, R> {
    format: &'static str,
    version: u32,
    root_type: &'static str,
    fingerprint: u64,
    schema: String,
    root: &'a R,
}

/// What an import reads: the root, once `format` and `version` (which come first) were
/// found to be this build's, so that a later format is reported as such and not as a root
/// that does not deserialize.
struct In<R> {
    root: R,
}

impl<'de, R: Deserialize<'de>> Deserialize<'de> for In<R> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(InVisitor(std::marker::PhantomData))
    }
}

struct InVisitor<R>(std::marker::PhantomData<R>);

impl<'de, R: Deserialize<'de>> serde::de::Visitor<'de> for InVisitor<R> {
    type Value = In<R>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a pcoll export record")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<In<R>, A::Error> {
        use serde::de::Error as _;
        let mut root = None;
        let mut checked = (false, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let f: String = map.next_value()?;
                    if f != FORMAT {
                        return Err(A::Error::custom(format!("not a pcoll export ({f:?})")));
                    }
                    checked.0 = true;
                }
                "version" => {
                    let v: u32 = map.next_value()?;
                    if v != VERSION {
                        return Err(A::Error::custom(format!(
                            "export format version {v}, this build reads version {VERSION}"
                        )));
                    }
                    checked.1 = true;
                }
                "root" if checked == (true, true) => root = Some(map.next_value()?),
                "root" => return Err(A::Error::custom("`root` before `format` and `version`")),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let root = root.ok_or_else(|| A::Error::missing_field("root"))?;
        Ok(In { root })
    }
}

impl<R: Persistent + Serialize> Pool<R> {
    /// Writes the whole pool to `w` in `format` (see [`ExportFormat`]; the layout is in
    /// `src/export.rs`). Takes a read guard for the duration: writers wait.
    ///
    /// ```
    /// use pcoll::{ExportFormat, PVec, Persistent, Pool};
    /// #[derive(Persistent, Default, serde::Serialize, serde::Deserialize)]
    /// struct Root { v: PVec<u64> }
    ///
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// pool.write().v.extend([1, 2, 3]);
    /// let mut out = Vec::new();
    /// pool.export(&mut out, ExportFormat::Json)?;
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.contains(r#""root":{"v":[1,2,3]}"#));
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn export(&self, w: impl Write, format: ExportFormat) -> Result<()> {
        let root = self.read();
        let out = Out {
            format: FORMAT,
            version: VERSION,
            root_type: std::any::type_name::<R>(),
            fingerprint: Fingerprint::of::<R>(),
            schema: Fingerprint::schema_of::<R>(),
            root: &*root,
        };
        let path = self.path();
        let mut w = std::io::BufWriter::new(w);
        match format {
            ExportFormat::Json => serde_json::to_writer(&mut w, &out)
                .map_err(|e| Error::io(path, "export", e.into()))?,
            ExportFormat::Cbor => ciborium::into_writer(&out, &mut w).map_err(|e| match e {
                ciborium::ser::Error::Io(e) => Error::io(path, "export", e),
                ciborium::ser::Error::Value(v) => {
                    Error::io(path, "export", std::io::Error::other(v))
                }
            })?,
        }
        w.flush().map_err(|e| Error::io(path, "export", e))
    }
}

impl<R: Persistent + Default + DeserializeOwned> Options<R> {
    /// Creates a pool at `path` holding the root read from `r` (written by
    /// [`Pool::export`] in `format`). [`Error::AlreadyExists`] if a file is at `path`;
    /// [`Error::Import`] if the input is not an export or its root does not deserialize as
    /// `R`. Either way, or after a crash, there is no pool at `path` unless the import
    /// completed.
    ///
    /// ```
    /// use pcoll::{ExportFormat, PVec, Persistent, Pool};
    /// #[derive(Persistent, Default, serde::Serialize, serde::Deserialize)]
    /// struct Root { v: PVec<u64> }
    ///
    /// # let dir = std::env::temp_dir().join(format!("pcoll-doc-import-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let pool = Pool::<Root>::options().in_memory()?;
    /// pool.write().v.extend([1, 2, 3]);
    /// let mut out = Vec::new();
    /// pool.export(&mut out, ExportFormat::Cbor)?;
    ///
    /// let copy = Pool::<Root>::options().import(dir.join("copy.pool"), &out[..], ExportFormat::Cbor)?;
    /// assert_eq!(copy.read().v, [1, 2, 3]);
    ///
    /// let bad = Pool::<Root>::options().import(dir.join("bad.pool"), &b"{}"[..], ExportFormat::Json);
    /// assert!(matches!(bad, Err(pcoll::Error::Import { .. })));
    /// assert!(!dir.join("bad.pool").exists());
    /// # drop(copy); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pcoll::Error>(())
    /// ```
    pub fn import(
        self,
        path: impl AsRef<Path>,
        r: impl Read,
        format: ExportFormat,
    ) -> Result<Pool<R>> {
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let bad = |what: String| Error::Import {
            path: path.to_owned(),
            what,
        };
        let r = std::io::BufReader::new(r);
        let input: In<R> = match format {
            ExportFormat::Json => serde_json::from_reader(r).map_err(|e| bad(e.to_string()))?,
            ExportFormat::Cbor => ciborium::from_reader(r).map_err(|e| bad(e.to_string()))?,
        };
        self.build_beside(path, ".import", |pool| {
            pool.transaction(|root| {
                *root = input.root; // moves in at commit: one copy into the pool
                Ok(())
            })
            .map(|()| None)
        })
    }
}
