//! One module per page family. Each page comes in two steps: a view model's async
//! `load` reads the query and calls the services, and its `render` builds the HTML
//! from that model alone, with no I/O, so the pages' HTML is tested from hand-built
//! models without a store. The page function the server routes to runs one, then the
//! other. The form handlers (create, rename, delete, aliases, tags) only call a
//! service and redirect.

pub mod artifacts;
pub mod compare;
pub mod data;
pub mod evaluation;
pub mod experiments;
#[cfg(test)]
mod fixtures;
pub mod jobs;
pub mod registry;
pub mod run;
pub mod runs;

use cairn_core::entities::ViewType;

/// `active` (default), `deleted` or `all`, as the pages spell the lifecycle views.
pub(crate) fn view_type(v: Option<&str>) -> (ViewType, &'static str) {
    match v {
        Some("deleted") => (ViewType::DeletedOnly, "deleted"),
        Some("all") => (ViewType::All, "all"),
        _ => (ViewType::ActiveOnly, "active"),
    }
}

/// A quoted string for MLflow's search grammar: single quotes unless the text holds
/// one (the grammar has no escapes).
pub(crate) fn quoted(s: &str) -> String {
    if s.contains('\'') {
        format!("\"{}\"", s.replace('"', ""))
    } else {
        format!("'{s}'")
    }
}
