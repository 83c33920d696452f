//! Training and evaluation for cairn: reading labelled data, featurizing it,
//! fitting classifiers, scoring them and searching their hyperparameters. No IO
//! beyond local files: `cairn train` does the tracking calls.

pub mod data;
pub mod encoder;
pub mod error;
pub mod finetune;
pub mod linear;
pub mod metrics;
pub mod model_dir;
pub mod plots;
pub mod sparse;
pub mod tabular;
pub mod text;
pub mod text_classifier;

pub use error::{MlError, Result};
