//! The part of `pcoll-redis` that stands alone: the RESP2 protocol ([`resp`]), its request
//! parser and its reply encoder, as a library for the fuzz target (`fuzz/fuzz_targets/resp.rs`)
//! and the property tests (`tests/resp.rs`). The server itself is the binary (`src/main.rs`).

pub mod resp;
