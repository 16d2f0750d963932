//! The `pcoll` binary: the commands that need no Rust type (see the crate's documentation,
//! `cli/src/lib.rs`, for them and for building a tool that knows the root type).

fn main() -> std::process::ExitCode {
    pcoll_cli::untyped_main()
}
