//! One module per page family; each handler reads its query, calls services and
//! renders.

pub mod artifacts;
pub mod compare;
pub mod experiments;
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
