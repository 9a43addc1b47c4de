//! cella: the command-line tool that sets up, builds, runs and tests Cella (`cargo cella help`).
#![forbid(unsafe_code)]

fn main() {
    let result = cella::cli::parse(std::env::args().skip(1))
        .and_then(|invocation| cella::commands::execute(&invocation));
    if let Err(error) = result {
        cella::progress::write_output(cella::progress::Stream::Stderr, error.report().as_bytes());
        std::process::exit(error.exit_code());
    }
}
