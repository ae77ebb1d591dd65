//! The one test harness of the integration tests: every `tests/*.rs` file
//! declares `mod support;` and takes what it needs.
//!
//! - [`bin`]: running the built `mailops` binary, as a user would, with a
//!   clean environment ([`mailops`], [`run`], [`Run`]); the tests never link
//!   to the crate's internals, apart from the file text of
//!   `mailops::testkit`, which the benchmarks' generator writes too;
//! - [`repo`]: throwaway mail repos in temp dirs ([`Repo`]) and the example
//!   repo's tenants read as plain TOML;
//! - [`db`]: the databases to run against — a fresh SQLite file or a
//!   uniquely named MariaDB database ([`TestDb`]) — and [`on_both_engines!`];
//! - [`files`]: folder trees read back for comparison.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod bin;
pub mod db;
pub mod files;
pub mod repo;

pub use bin::*;
pub use db::*;
pub use files::*;
pub use repo::*;
