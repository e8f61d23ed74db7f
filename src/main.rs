//! The `pantau` binary: everything lives in the library; see `pantau --help`.

/// mimalloc rather than the system allocator: panel computations allocate and free large
/// column buffers many times a second, which glibc's allocator hands back to the kernel and
/// faults in again (measured with `cargo bench --bench engine`: the wall's full recompute over 10M
/// complaints went from ~0.6–0.7 s to ~0.44–0.54 s, see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    pantau::cli::main()
}
