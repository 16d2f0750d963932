//! The pool header: page 0 of the file holds two copies (slots A at 0 and B at 2048). A write
//! goes to the slot with the older sequence number and is made durable; open takes the valid
//! slot with the newer one. So a torn header write leaves the other copy intact. The header
//! changes only at creation and at growth (`valid_size` is growth's commit point).
//!
//! Slot layout (little-endian, 256 bytes), see `docs/format.md`:
//!
//! ```text
//!   0  magic      [u8; 8]  "PCOLPOOL"
//!   8  version    u32      FORMAT_VERSION
//!  12  flags      u32      feature flags: bit 0 REDO (redo slots in the primary log);
//!                            unknown bits are refused
//!  16  page_size  u32      4096
//!  20  hdr_len    u32      256
//!  24  seq        u64      bumped on every header write
//!  32  uuid       u64      random at creation; its low 16 bits (never 0) tag handles
//!  40  valid_size u64      bytes of the file that belong to the pool
//!  48  log_off    u64      offset of the primary log segment
//!  56  heap_off   u64      offset of the first heap segment
//!  64  root_off   u64      offset of the root object
//!  72  root_size  u64      size of the root type
//!  80  root_fp    u64      layout fingerprint of the root type
//!  88  root_name  [u8;128] the root type's name, NUL padded (for error messages)
//! 216  root_gen   u64      the transaction that installed this root: 0 at creation, a
//!                            migration's generation after it (its commit point, see
//!                            `docs/format.md`)
//! 224  schema_off u64      block holding the root's schema (JSON, `src/schema.rs`); 0: none
//! 232  schema_len u64      its length in bytes
//! 240  (zero)
//! 252  crc32      u32      over bytes 0..252
//! ```

use std::path::Path;

use crate::error::Error;

pub(crate) const MAGIC: [u8; 8] = *b"PCOLPOOL";
pub(crate) const FORMAT_VERSION: u32 = 1;
pub(crate) const HDR_LEN: usize = 256;
/// The pool keeps redo slots at the end of its primary log segment (`txn/redo.rs`). Builds
/// that do not know the flag refuse the pool instead of ignoring committed records.
pub(crate) const FLAG_REDO: u32 = 1;
/// The redo area is a ring of records appended one after another (`txn/redo.rs`), not two
/// alternating slots. Builds that do not know it refuse the pool: they would miss records.
pub(crate) const FLAG_RING: u32 = 2;
/// Redo records may be packed (`"PRD2"`: varint range heads, `txn/redo.rs`). Builds that do
/// not know it refuse the pool: they would stop at such a record and lose its commit.
pub(crate) const FLAG_PACKED: u32 = 4;
pub(crate) const SLOT_OFFSETS: [usize; 2] = [0, 2048];
const NAME_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub flags: u32,
    pub seq: u64,
    pub uuid: u64,
    pub valid_size: u64,
    pub log_off: u64,
    pub heap_off: u64,
    pub root_off: u64,
    pub root_size: u64,
    pub root_fp: u64,
    pub root_name: String,
    pub root_gen: u64,
    pub schema_off: u64,
    pub schema_len: u64,
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        put(&mut b, 0, &MAGIC);
        put(&mut b, 8, &FORMAT_VERSION.to_le_bytes());
        put(&mut b, 12, &self.flags.to_le_bytes());
        put(&mut b, 16, &(super::map::PAGE as u32).to_le_bytes());
        put(&mut b, 20, &(HDR_LEN as u32).to_le_bytes());
        let words = [
            self.seq,
            self.uuid,
            self.valid_size,
            self.log_off,
            self.heap_off,
            self.root_off,
            self.root_size,
            self.root_fp,
        ];
        for (i, w) in words.iter().enumerate() {
            put(&mut b, 24 + 8 * i, &w.to_le_bytes());
        }
        let name = self.root_name.as_bytes();
        let n = floor_char_boundary(&self.root_name, NAME_LEN.min(name.len()));
        put(&mut b, 88, &name[..n]);
        put(&mut b, 216, &self.root_gen.to_le_bytes());
        put(&mut b, 224, &self.schema_off.to_le_bytes());
        put(&mut b, 232, &self.schema_len.to_le_bytes());
        let crc = crc32fast::hash(&b[..252]);
        put(&mut b, 252, &crc.to_le_bytes());
        b
    }

    /// Decodes one slot. Errors name what is wrong; the caller picks between slots.
    pub(crate) fn decode(b: &[u8], path: &Path) -> Result<Header, Error> {
        let path = path.to_owned();
        if b.len() < HDR_LEN || b[..8] != MAGIC {
            return Err(Error::BadMagic { path });
        }
        let version = u32_at(b, 8);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path,
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if crc32fast::hash(&b[..252]) != u32_at(b, 252) {
            return Err(Error::HeaderChecksum { path });
        }
        let flags = u32_at(b, 12);
        if flags & !(FLAG_REDO | FLAG_RING | FLAG_PACKED) != 0
            || u32_at(b, 16) != super::map::PAGE as u32
            || u32_at(b, 20) != HDR_LEN as u32
        {
            return Err(Error::corrupted(
                &path,
                "header declares unknown flags or page size",
            ));
        }
        let name_bytes = &b[88..88 + NAME_LEN];
        let end = name_bytes.iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
        Ok(Header {
            flags,
            seq: u64_at(b, 24),
            uuid: u64_at(b, 32),
            valid_size: u64_at(b, 40),
            log_off: u64_at(b, 48),
            heap_off: u64_at(b, 56),
            root_off: u64_at(b, 64),
            root_size: u64_at(b, 72),
            root_fp: u64_at(b, 80),
            root_name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
            root_gen: u64_at(b, 216),
            schema_off: u64_at(b, 224),
            schema_len: u64_at(b, 232),
        })
    }

    /// Picks the newest valid slot of page 0. With no valid slot, reports the error of the
    /// slot that got furthest (a bad checksum says more than bad magic).
    pub(crate) fn read(page0: &[u8], path: &Path) -> Result<Header, Error> {
        let a = Header::decode(&page0[SLOT_OFFSETS[0]..], path);
        let b = Header::decode(&page0[SLOT_OFFSETS[1]..], path);
        match (a, b) {
            (Ok(a), Ok(b)) => Ok(if a.seq >= b.seq { a } else { b }),
            (Ok(h), Err(_)) | (Err(_), Ok(h)) => Ok(h),
            (Err(ea), Err(eb)) => Err(match (&ea, &eb) {
                (Error::BadMagic { .. }, _) => eb,
                _ => ea,
            }),
        }
    }

    /// The slot the next write of this header goes to.
    pub(crate) fn slot(&self) -> usize {
        SLOT_OFFSETS[(self.seq % 2) as usize]
    }

    /// The 16-bit tag stamped into handles of this pool (never 0: 0 is "no pool").
    pub(crate) fn tag(&self) -> u16 {
        (self.uuid as u16).max(1)
    }
}

fn floor_char_boundary(s: &str, mut n: usize) -> usize {
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            flags: 0,
            seq: 7,
            uuid: 0xdead_beef_1234,
            valid_size: 1 << 20,
            log_off: 4096,
            heap_off: 69632,
            root_off: 73728,
            root_size: 24,
            root_fp: 42,
            root_name: "app::Root".into(),
            root_gen: 9,
            schema_off: 77824,
            schema_len: 300,
        }
    }

    #[test]
    fn roundtrip() {
        let h = sample();
        let b = h.encode();
        assert_eq!(Header::decode(&b, Path::new("p")).unwrap(), h);
    }

    #[test]
    fn checksum_failure_is_reported() {
        let mut b = sample().encode();
        b[45] ^= 1;
        assert!(matches!(
            Header::decode(&b, Path::new("p")),
            Err(Error::HeaderChecksum { .. })
        ));
    }

    #[test]
    fn magic_and_version() {
        let mut b = sample().encode();
        b[9] = 9;
        assert!(matches!(
            Header::decode(&b, Path::new("p")),
            Err(Error::UnsupportedVersion { found, .. }) if found != FORMAT_VERSION
        ));
        b[0] = b'X';
        assert!(matches!(
            Header::decode(&b, Path::new("p")),
            Err(Error::BadMagic { .. })
        ));
    }

    #[test]
    fn newest_valid_slot_wins() {
        let mut page = vec![0u8; 4096];
        let mut h = sample();
        page[..HDR_LEN].copy_from_slice(&h.encode());
        h.seq = 8;
        h.valid_size = 2 << 20;
        page[2048..2048 + HDR_LEN].copy_from_slice(&h.encode());
        assert_eq!(
            Header::read(&page, Path::new("p")).unwrap().valid_size,
            2 << 20
        );
        page[2048 + 50] ^= 0xff; // tear the newer copy: the older one stands
        assert_eq!(
            Header::read(&page, Path::new("p")).unwrap().valid_size,
            1 << 20
        );
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let mut h = sample();
        h.root_name = "é".repeat(100);
        let d = Header::decode(&h.encode(), Path::new("p")).unwrap();
        assert!(d.root_name.len() <= NAME_LEN && d.root_name.chars().all(|c| c == 'é'));
    }
}
