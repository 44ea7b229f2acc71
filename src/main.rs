//! `theory-conform`: certifies that processors honour `theory.run.v1`.
//! `main` only wires: the command line, then logging as it asks.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = theory_conform::cli::Cli::parse();
    theory_conform::log::init(cli.log_settings());
    cli.run().into()
}
