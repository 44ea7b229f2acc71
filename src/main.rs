//! `theory-conform`: certifies that processors honour `theory.run.v1`.
//! `main` only wires: logging, then the command line.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    theory_conform::log::init();
    theory_conform::cli::Cli::parse().run().into()
}
