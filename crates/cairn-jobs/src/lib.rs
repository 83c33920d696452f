//! cairn's jobs: what a job file says and how it is read.
//!
//! A job is a YAML file in the jobs folder: typed parameters, schedules, triggers
//! and a DAG of steps (see [`spec`]). Step kinds are a [`kinds::Registry`], so later
//! kinds plug in without touching the engine; templates (`${{ params.lr }}`) are
//! [`template`]; schedule times are [`schedule`]; the folder, watched and reloaded
//! with the last good version of each file kept, is [`library`]. The [`worker`]
//! claims steps and runs them through an [`executor`].

mod error;
pub mod executor;
pub mod kinds;
pub mod library;
pub mod schedule;
pub mod spec;
pub mod template;
pub mod worker;

pub use error::{JobError, Location, Result};
pub use kinds::{Action, Registry};
pub use library::{JobLibrary, LibraryState};
pub use spec::{JobSpec, ParamSpec, ParamType, ParamValue};
