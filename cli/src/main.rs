//! The `safespaces` command. Not built yet: see the command-line issue.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("safespaces: the command-line companion is not built yet");
    std::process::exit(2);
}
