//! CRC-32C (Castagnoli) for the undo log and commit record: the SSE4.2 `crc32` instruction
//! where the CPU has it (8 bytes a cycle), a table otherwise. Both give the same value.

#![allow(unsafe_code)]

/// CRC-32C of `data`.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut c = Crc32c::new();
    c.update(data);
    c.finish()
}

/// A CRC-32C over data given in pieces: the value [`crc32c`] gives for the pieces joined, with
/// no buffer to join them in (a commit's record is hundreds of KiB).
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Self {
        Crc32c(0xffff_ffff)
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2 (checked just above).
            self.0 = unsafe { hw(self.0, data) };
            return;
        }
        self.0 = soft(self.0, data);
    }

    pub(crate) fn finish(&self) -> u32 {
        !self.0
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
#[target_feature(enable = "sse4.2")]
fn hw(c: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};
    let mut c = u64::from(c);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        c = _mm_crc32_u64(c, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let mut c = c as u32;
    for &b in words.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    c
}

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn soft(c: u32, data: &[u8]) -> u32 {
    data.iter().fold(c, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soft_whole(data: &[u8]) -> u32 {
        !soft(0xffff_ffff, data)
    }

    #[test]
    fn known_values_and_both_paths_agree() {
        assert_eq!(soft_whole(b"123456789"), 0xe306_9283); // the CRC-32C check value
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in [0, 1, 7, 8, 9, 63, 64, 65, 999] {
            assert_eq!(crc32c(&data[..n]), soft_whole(&data[..n]), "length {n}");
        }
    }

    #[test]
    fn pieces_give_the_crc_of_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13 + 5) as u8).collect();
        for cuts in [&[][..], &[1], &[3, 11], &[8, 16, 17, 500], &[999]] {
            let mut c = Crc32c::new();
            let mut from = 0;
            for &to in cuts.iter().chain([&1000]) {
                c.update(&data[from..to]);
                from = to;
            }
            assert_eq!(c.finish(), crc32c(&data), "cut at {cuts:?}");
        }
    }
}
