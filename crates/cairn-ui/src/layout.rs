//! The page shell every view shares: header navigation, skip link, assets.

use maud::{html, Markup, DOCTYPE};

use crate::reply::Reply;

/// Bumped with the binary so browsers fetch new assets after an upgrade.
const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A whole page around `body`, as a 200 reply.
pub fn page(title: &str, body: Markup) -> Reply {
    Reply::html(document(title, body).into_string())
}

/// The whole HTML document around `body`: what a page's `render` returns, so a test
/// reads the same text the server sends.
pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cairn" }
                link rel="stylesheet" href={ "/static/app.css?v=" (ASSET_VERSION) };
                script defer src={ "/static/app.js?v=" (ASSET_VERSION) } {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "cairn" }
                    nav aria-label="Main" {
                        a href="/experiments" { "Experiments" }
                        a href="/registry" { "Models" }
                        a href="/jobs" { "Jobs" }
                        a href="/data" { "Data" }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// `Home / Experiments / x` trail.
pub fn crumbs(items: &[(&str, Option<String>)]) -> Markup {
    html! {
        nav.crumbs aria-label="Breadcrumb" {
            @for (i, (label, href)) in items.iter().enumerate() {
                @if i > 0 { span.sep aria-hidden="true" { "/" } }
                @match href {
                    Some(h) => a href=(h) { (label) },
                    None => span aria-current="page" { (label) },
                }
            }
        }
    }
}

/// What a run is called on a page: its name, or its id when it has none.
pub fn run_name(info: &cairn_core::entities::RunInfo) -> &str {
    if info.run_name.is_empty() {
        &info.run_id
    } else {
        &info.run_name
    }
}

/// A run status as a coloured label.
pub fn status(s: &str) -> Markup {
    html! { span class={ "status " (s.to_ascii_lowercase()) } { (s) } }
}
