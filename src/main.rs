//! The `pantau` binary: everything lives in the library; see `pantau --help`.

fn main() -> std::process::ExitCode {
    pantau::cli::main()
}
