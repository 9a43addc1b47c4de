//! cella: the command-line tool that sets up, builds, runs and tests Cella.
fn main() {
    eprintln!("cella: not built yet");
    std::process::exit(2);
}
