//! Thin binary: everything lives in the library.
fn main() -> std::process::ExitCode {
    peergrid::app::cli::main()
}
