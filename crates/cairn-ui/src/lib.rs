//! cairn's web UI: experiments, runs, comparison, charts and the model registry,
//! rendered on the server and built into the binary.
//!
//! Pages are plain HTML (maud) with SVG charts drawn here, so reading works without
//! JavaScript and every view is a shareable URL: filters, sort, columns, selections
//! and chart settings live in the query string. `app.js` only adds hover values,
//! drag-to-zoom, series toggles and auto-submit. Pages call the same service functions
//! as the REST API ([`cairn_service::Services`]), never the store.
//!
//! Each page is a function from the services and the request's parameters to a
//! [`Reply`]; it loads a view model, then renders it with no I/O (see [`pages`]).
//! No HTTP framework here: `cairn-server`'s `ui` module routes requests to these
//! functions and writes their replies.

mod chart;
mod error;
mod format;
mod layout;
pub mod pages;
mod query;
mod reply;

pub use error::{UiError, UiResult};
pub use query::{segment, to_query, Params};
pub use reply::{Body, Reply};

/// The UI's stylesheet.
pub fn stylesheet() -> Reply {
    Reply::asset("text/css; charset=utf-8", include_str!("../assets/app.css"))
}

/// The UI's one script (hover values, zoom, toggles, auto-submit).
pub fn script() -> Reply {
    Reply::asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    )
}
