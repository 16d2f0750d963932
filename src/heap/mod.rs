//! The pool file: mapping, header, persistence, growth, and the allocator. This layer knows
//! nothing of transactions: the allocator records what it changes through the [`Undo`] trait,
//! which the transaction layer implements.

pub(crate) mod alloc;
pub mod check;
pub(crate) mod checksum;
pub(crate) mod header;
pub(crate) mod map;
pub mod persist;
pub(crate) mod segment;
pub(crate) mod sys;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use header::Header;
use map::{Backing, Mapping, PAGE};
use persist::{Event, Persister};
use segment::Kind;

/// Address space the scratch pool may use (reserved, not committed).
#[cfg(not(any(miri, loom)))]
pub(crate) const SCRATCH_MAX: u64 = 32 << 30;
#[cfg(any(miri, loom))]
pub(crate) const SCRATCH_MAX: u64 = 64 << 20;

/// The mapping and its persistence, borrowed together by everything that writes the pool.
#[derive(Debug)]
pub(crate) struct HeapIo {
    pub map: Mapping,
    pub persist: Persister,
    pub path: PathBuf,
}

impl HeapIo {
    /// One barrier over `off .. off + len`; an I/O failure becomes a typed error.
    pub(crate) fn persist(&self, off: usize, len: usize) -> Result<()> {
        self.persist
            .persist(&self.map, off, len)
            .map_err(|f| Error::io(&self.path, f.op, f.err))
    }

    /// A barrier with no ranges of its own: what was handed over before is durable after.
    pub(crate) fn barrier(&self) -> Result<()> {
        self.persist
            .barrier(&self.map)
            .map_err(|f| Error::io(&self.path, f.op, f.err))
    }

    /// `ranges` handed to the file without a barrier (see `Persister::hand_over`).
    pub(crate) fn hand_over(&self, ranges: &[(u64, u64)]) -> Result<()> {
        self.persist
            .hand_over(&self.map, ranges)
            .map_err(|f| Error::io(&self.path, f.op, f.err))
    }

    /// One barrier over `ranges`, with `last` handed to the file after the others.
    pub(crate) fn persist_last(&self, ranges: &[(u64, u64)], last: (u64, u64)) -> Result<()> {
        self.persist
            .persist_last(&self.map, ranges, last)
            .map_err(|f| Error::io(&self.path, f.op, f.err))
    }

    /// `fdatasync` of a file mapped shared (`Durability::Process`), whose barriers do
    /// nothing: recovery uses it, since the interrupted transaction may have been written
    /// under `Sync`, and a restore that a power cut could tear must be durable before the
    /// record that retires its log entries.
    pub(crate) fn sync_shared(&self) -> Result<()> {
        match self.map.backing() {
            Backing::File {
                file,
                mode: map::FileMode::Shared,
            } if !self.persist.is_durable() => {
                sys::fdatasync(file).map_err(|f| Error::io(&self.path, f.op, f.err))
            }
            _ => Ok(()),
        }
    }

    /// One barrier over all `ranges` (offset, length).
    pub(crate) fn persist_many(&self, ranges: &[(u64, u64)]) -> Result<()> {
        self.persist
            .persist_many(&self.map, ranges)
            .map_err(|f| Error::io(&self.path, f.op, f.err))
    }
}

/// How the heap tells the transaction what it is about to change.
pub(crate) trait Undo {
    /// Saves the current bytes of `off .. off + len` before they change (deduplicated). In
    /// `Durability::Sync` the saved bytes are durable when this returns.
    fn log(&mut self, io: &HeapIo, off: usize, len: usize) -> Result<()>;
    /// `off .. off + len` is written without logging (fresh memory); make it durable at commit.
    fn fresh(&mut self, off: usize, len: usize);
}

/// Where a new pool's regions go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub initial: u64,
    pub max: u64,
    pub log_pages: u64,
}

#[derive(Debug)]
pub(crate) struct Heap {
    pub io: HeapIo,
    pub hdr: Header,
    pub alloc: alloc::Alloc,
    pub max_size: u64,
    /// A log link field whose value in the file may still name the end of the pool (a log
    /// growth that stopped before its header; see [`Heap::add_log_segment`]). Memory holds
    /// the right value; the next growth writes it in its first barrier, before any header
    /// can name a segment at that end.
    pub stale_link: Option<usize>,
}

impl Heap {
    /// Lays out a new pool in `map` (already `geo.initial` bytes): header, primary log
    /// segment, one heap segment. The caller allocates the root and writes the header.
    pub(crate) fn format(io: HeapIo, geo: Geometry, uuid: u64) -> Heap {
        let log_off = PAGE as u64;
        let heap_off = log_off + geo.log_pages * PAGE as u64;
        segment::init(&io.map, log_off as usize, geo.log_pages, Kind::Log);
        // Heap segments of at most HEAP_SEG_PAGES fill the rest.
        let mut at = heap_off;
        while at < geo.initial {
            let pages = ((geo.initial - at) / PAGE as u64).min(segment::HEAP_SEG_PAGES);
            segment::init(&io.map, at as usize, pages, Kind::Heap);
            at += pages * PAGE as u64;
        }
        let hdr = Header {
            flags: 0,
            seq: 0,
            uuid,
            valid_size: geo.initial,
            log_off,
            heap_off,
            root_off: 0,
            root_size: 0,
            root_fp: 0,
            root_name: String::new(),
            root_gen: 0,
            schema_off: 0,
            schema_len: 0,
        };
        Heap {
            io,
            alloc: alloc::Alloc::new(heap_off),
            hdr,
            max_size: geo.max,
            stale_link: None,
        }
    }

    /// A heap in anonymous memory for the scratch pool: it holds values that are not in
    /// any pool (built before being stored, handed out by a container). It grows on demand
    /// up to [`SCRATCH_MAX`] and is never unmapped.
    pub(crate) fn scratch() -> Result<Heap> {
        let path = PathBuf::from("<scratch>");
        let initial = 256 << 10;
        let map = Mapping::memory(initial as usize, SCRATCH_MAX as usize)
            .map_err(|e| Error::io(&path, "reserve scratch memory", e))?;
        let persist = Persister::new(
            persist::Durability::Process,
            true,
            false,
            persist::Medium::File,
            None,
        );
        let geo = Geometry {
            initial,
            max: SCRATCH_MAX,
            log_pages: 2,
        };
        Ok(Heap::format(HeapIo { map, persist, path }, geo, 0))
    }

    /// Reads and validates the header of a mapped pool (recovery is the caller's next step).
    pub(crate) fn open(io: HeapIo, file_len: u64, max_size: u64) -> Result<Heap> {
        let path = io.path.clone();
        if file_len < PAGE as u64 {
            return Err(Error::Truncated {
                path,
                len: file_len,
                expected: PAGE as u64,
            });
        }
        let hdr = Header::read(io.map.bytes(0, PAGE), &path)?;
        if hdr.valid_size > file_len {
            return Err(Error::Truncated {
                path,
                len: file_len,
                expected: hdr.valid_size,
            });
        }
        validate_layout(&hdr, &path)?;
        if hdr.valid_size > max_size {
            return Err(Error::InvalidOption {
                path,
                what: format!(
                    "the pool has {} bytes, over max_size {max_size}",
                    hdr.valid_size
                ),
            });
        }
        Ok(Heap {
            alloc: alloc::Alloc::new(hdr.heap_off),
            io,
            hdr,
            max_size,
            stale_link: None,
        })
    }

    /// The root's schema as stored (`None`: a pool made before schemas were stored), or why
    /// it cannot be read.
    pub(crate) fn stored_schema(&self) -> Option<Result<String>> {
        let (off, len) = (self.hdr.schema_off, self.hdr.schema_len);
        if off == 0 {
            return None;
        }
        // Bounds only: `check()` proves that it is an allocated block.
        let inside = off >= self.hdr.heap_off
            && off
                .checked_add(len)
                .is_some_and(|end| end <= self.hdr.valid_size);
        if !inside {
            return Some(Err(Error::corrupted(
                &self.io.path,
                format!("the schema's {len} bytes at offset {off} lie outside the heap"),
            )));
        }
        let bytes = self.io.map.bytes(off as usize, len as usize).to_vec();
        Some(
            String::from_utf8(bytes)
                .map_err(|_| Error::corrupted(&self.io.path, "the stored schema is not UTF-8")),
        )
    }

    pub(crate) fn path(&self) -> &Path {
        &self.io.path
    }

    /// Pages of the primary log segment (its header page included).
    pub(crate) fn log_pages(&self) -> u64 {
        self.io
            .map
            .read_u64(self.hdr.log_off as usize + segment::OFF_PAGES)
    }

    pub(crate) fn valid_size(&self) -> u64 {
        self.hdr.valid_size
    }

    /// Writes the header to its next slot and makes it durable. Growth's commit point.
    pub(crate) fn write_header(&mut self) -> Result<()> {
        let next = self.hdr.clone();
        self.write_header_as(next)
    }

    /// Writes `next` (with the next sequence number) to the header slot not in use and makes
    /// it durable; only then does it become the header in memory. On failure the slot's old
    /// bytes are put back, so memory still matches the file.
    pub(crate) fn write_header_as(&mut self, next: Header) -> Result<()> {
        self.put_header(next, true)
    }

    /// [`Self::write_header_as`] handed to the file without a barrier: the caller's next
    /// barrier makes it durable.
    pub(crate) fn hand_header_as(&mut self, next: Header) -> Result<()> {
        self.put_header(next, false)
    }

    fn put_header(&mut self, mut next: Header, durable: bool) -> Result<()> {
        next.seq = self.hdr.seq + 1;
        let slot = next.slot();
        let old = self.io.map.bytes(slot, header::HDR_LEN).to_vec();
        self.io.map.write_bytes(slot, &next.encode());
        let range = (slot as u64, header::HDR_LEN as u64);
        let res = if durable {
            self.io.persist_many(&[range])
        } else {
            self.io.hand_over(&[range])
        };
        if let Err(e) = res {
            self.io.map.write_bytes(slot, &old);
            return Err(e);
        }
        self.hdr = next;
        Ok(())
    }

    /// Appends a segment of `pages` pages of `kind` at the end of the pool, growing the file.
    /// Order (`docs/format.md`): the file's length with its disk blocks reserved and the
    /// segment header, durable together (one barrier); then the header's `valid_size` (the
    /// commit point, a second barrier). A crash or a failed call in between leaves bytes past
    /// `valid_size` that open ignores and the next growth reuses.
    pub(crate) fn add_segment(&mut self, pages: u64, kind: Kind) -> Result<u64> {
        let off = self.extend(pages, kind, None)?;
        let mut next = self.hdr.clone();
        next.valid_size = off + pages * PAGE as u64;
        self.write_header_as(next)?;
        Ok(off)
    }

    /// [`Self::add_segment`] for the undo log: the link field at `link` (the chain's last
    /// segment) is set to the new segment in the first barrier. On a write-back file the
    /// header is only handed to the file: the transaction's first barrier, which makes its
    /// log durable before anything else of it reaches the file, makes the header durable too
    /// (one barrier for the growth instead of three). Until then a crash leaves a link to
    /// the end of the pool, which open takes for the end of the chain and cuts
    /// (`LogChain::load`). Persistent memory keeps the header's own barrier: there an entry
    /// in the new segment protects a store that may reach the medium at once.
    pub(crate) fn add_log_segment(&mut self, pages: u64, link: usize) -> Result<u64> {
        let off = self.extend(pages, Kind::Log, Some(link))?;
        let mut next = self.hdr.clone();
        next.valid_size = off + pages * PAGE as u64;
        let res = if self.io.persist.is_durable() && !self.io.persist.per_step() {
            self.hand_header_as(next)
        } else {
            self.write_header_as(next)
        };
        if let Err(e) = res {
            // The link is durable, the header that names its segment is not: the next
            // growth, which would put a segment there, first writes the link back.
            self.io.map.write_u64(link, 0);
            self.stale_link = Some(link);
            return Err(e);
        }
        Ok(off)
    }

    /// Grows the file and the mapping by a segment at `valid_size` and writes its segment
    /// header (and `link`, set to it), all durable after one barrier. The header is the
    /// caller's.
    fn extend(&mut self, pages: u64, kind: Kind, link: Option<usize>) -> Result<u64> {
        let off = self.hdr.valid_size;
        let new_len = off + pages * PAGE as u64;
        if new_len > self.max_size || new_len as usize > self.io.map.reserved() {
            return Err(Error::OutOfSpace {
                path: self.io.path.clone(),
                requested: pages * PAGE as u64,
                limit: self.max_size,
            });
        }
        if let Backing::File { file, .. } = self.io.map.backing() {
            let io_err = |f: sys::Failed| Error::io(&self.io.path, f.op, f.err);
            sys::allocate(file, off, new_len - off).map_err(io_err)?;
            // A line flush does not make the file's length durable; write-back's barrier
            // below does.
            if self.io.persist.per_step() {
                sys::fdatasync(file).map_err(io_err)?;
            }
        }
        self.io
            .map
            .grow(new_len as usize)
            .map_err(|e| Error::io(&self.io.path, "mmap", e))?;
        self.io
            .persist
            .note(&self.io.map, Event::Grow { len: new_len });
        segment::init(&self.io.map, off as usize, pages, kind);
        let mut ranges = vec![(off, PAGE as u64)];
        let stale = self.stale_link.take();
        ranges.extend(
            stale
                .filter(|&at| Some(at) != link)
                .map(|at| (at as u64, 8)),
        );
        let old_link = link.map(|at| {
            let old = self.io.map.read_u64(at);
            self.io.map.write_u64(at, off);
            ranges.push((at as u64, 8));
            (at, old)
        });
        if let Err(e) = self.io.persist_many(&ranges) {
            // Memory goes back; the file may hold the link already: the next growth writes
            // it back first.
            if let Some((at, old)) = old_link {
                self.io.map.write_u64(at, old);
            }
            self.stale_link = old_link.map(|(at, _)| at).or(stale);
            return Err(e);
        }
        Ok(off)
    }
}

/// The header's offsets must describe a plausible pool before anything follows them.
fn validate_layout(h: &Header, path: &Path) -> Result<()> {
    let page = PAGE as u64;
    let aligned = |v: u64| v.is_multiple_of(page);
    let ok = aligned(h.valid_size)
        && h.log_off == page
        && aligned(h.heap_off)
        && h.heap_off > h.log_off
        && h.heap_off < h.valid_size
        && h.root_off >= h.heap_off
        && h.root_off
            .checked_add(h.root_size)
            .is_some_and(|e| e <= h.valid_size);
    if ok {
        Ok(())
    } else {
        Err(Error::corrupted(path, "header offsets are out of range"))
    }
}
