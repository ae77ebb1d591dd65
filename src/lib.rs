//! mailops: multi-tenant business email hosting as code.
//!
//! The pipeline of DESIGN.md is visible in the module list: `load` → `parse`
//! → `validate` → `model` → `graph` (front half, run by `pipeline`), then the
//! emitters. `cli` holds what the user typed, `commands` does the work.
//! `main.rs` is a thin shell around [`main`].

mod cli;
mod commands;
mod database_url;
mod db;
mod diagnostic;
mod dkim_keys;
mod emit;
mod file_plan;
mod fsutil;
mod generated_dir;
mod graph;
mod host_root;
mod incremental;
mod install;
mod keystore;
mod load;
mod load_diags;
mod model;
mod parallel;
mod parse;
mod pipeline;
mod source;
mod span;
mod validate;

use std::process::ExitCode;

use clap::Parser;

/// The whole command line: parse the arguments, run the command, map the outcome
/// to an exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            commands::exit_operational()
        }
    }
}
