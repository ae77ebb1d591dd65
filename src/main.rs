//! The `mailops` binary: everything is in the library (`src/lib.rs`).

/// mimalloc rather than glibc's malloc: the front half builds a model of a
/// million mailboxes on every core, and glibc grows a worker thread's heap
/// one `mprotect` call per page (150,000 calls at 10,000 tenants, a fifth of
/// `validate`'s time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mailops::main()
}
