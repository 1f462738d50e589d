use std::process::ExitCode;

fn main() -> ExitCode {
    istio_peer::cli::main()
}
