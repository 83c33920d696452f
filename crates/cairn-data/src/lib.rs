//! Data contracts and their quality checks.
//!
//! A contracts folder holds YAML files, each a *feature view* (a source of rows,
//! CSV or Parquet files, with typed fields, an entity key, an event timestamp and
//! constraints per field) or a *model contract* (a registered model's input
//! features, label and predictions, named as fields of views). A view reads CSV or
//! Parquet files (a file, a folder, a glob) or a PostgreSQL table or query. [`check()`] runs a
//! view's constraints over its source with Apache DataFusion: one streamed
//! aggregate pass computes every constraint's violations and every field's profile,
//! so a file of any size is checked in bounded memory.
//!
//! DataFusion rather than Polars: it is already cairn's columnar engine (drift reads
//! through it), it is a library with a Rust API first, and its aggregates spill to
//! disk under a memory limit.

pub mod builtin;
pub mod check;
mod error;
mod postgres;
pub mod spec;
pub mod training;

pub use check::{check, check_view, CheckOptions, CheckReport, ViewReport};
pub use error::{DataError, Result};
pub use spec::{ContractFile, FeatureView, Item, ModelContract};

/// The contracts folder, watched like the jobs folder.
pub type ContractFolder = cairn_yaml::folder::Folder<ContractFile>;
/// What the contracts folder holds now.
pub type ContractState = cairn_yaml::folder::FolderState<ContractFile>;
