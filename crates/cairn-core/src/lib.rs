//! cairn's domain: MLflow's entities as they travel on the wire, the error kinds that
//! map to MLflow's `error_code`s, the search-filter grammar and page tokens.
//!
//! This crate does no IO, so everything in it is tested with plain unit tests and the
//! store, server and client crates agree on one definition of each rule.

pub mod data;
pub mod entities;
pub mod error;
pub mod ids;
pub mod jobs;
pub mod logged_model;
pub mod metrics;
pub mod monitor;
pub mod names;
pub mod page_token;
pub mod predictions;
pub mod registry;
pub mod search;
pub mod secret;
pub mod validation;
pub mod wire;

pub use error::{ErrorCode, MlflowError, Result};
pub use secret::SecretUri;

/// The MLflow release whose API cairn speaks; `/version` answers with it, and the
/// client reads it only to pick protocols.
pub const MLFLOW_COMPAT_VERSION: &str = "3.17.2";
