//! The experiments list: search by name, create, rename, delete and restore.

use cairn_core::entities::LifecycleStage;
use cairn_service::Services;
use maud::html;

use super::{quoted, view_type};
use crate::error::UiResult;
use crate::format;
use crate::layout;
use crate::query::Params;
use crate::reply::Reply;

/// Experiments per page; the list pages on with MLflow's page tokens.
const PAGE: i64 = 100;

pub async fn list(state: &Services, q: Params) -> UiResult<Reply> {
    let (view, view_name) = view_type(q.get("view"));
    let name = q.get("q").unwrap_or("");
    let filter = (!name.is_empty()).then(|| format!("name ILIKE {}", quoted(&format!("%{name}%"))));
    let page = state
        .tracking
        .search_experiments(
            filter.as_deref(),
            &["last_update_time DESC".to_string()],
            view,
            Some(PAGE),
            q.get("page"),
        )
        .await?;
    let body = html! {
        h1 { "Experiments" }
        div.toolbar {
            form.search method="get" action="/experiments" role="search" {
                label for="q" { "Name" }
                input #q type="search" name="q" value=(name) placeholder="contains…";
                label for="view" { "Show" }
                select #view name="view" data-autosubmit {
                    @for v in ["active", "deleted", "all"] {
                        option value=(v) selected[v == view_name] { (v) }
                    }
                }
                button type="submit" { "Search" }
            }
            form.inline method="post" action="/experiments/create" {
                label for="new-name" { "New experiment" }
                input #new-name type="text" name="name" required placeholder="name";
                button type="submit" { "Create" }
            }
        }
        @if page.items.is_empty() {
            p.empty { "No experiments match." }
        } @else {
            table.grid {
                thead { tr {
                    th { "Name" } th { "ID" } th { "Created" } th { "Last update" } th { "State" } th { "Actions" }
                } }
                tbody {
                    @for e in &page.items {
                        tr {
                            td { a href={ "/experiments/" (e.experiment_id) } { (e.name) } }
                            td.num { (e.experiment_id) }
                            td { (format::time_ms(e.creation_time)) }
                            td { (format::time_ms(e.last_update_time)) }
                            td { (e.lifecycle_stage.as_str()) }
                            td.actions {
                                @if e.lifecycle_stage == LifecycleStage::Active {
                                    details {
                                        summary { "Rename" }
                                        form.inline method="post" action={ "/experiments/" (e.experiment_id) "/rename" } {
                                            label.sr for={ "rn-" (e.experiment_id) } { "New name for " (e.name) }
                                            input id={ "rn-" (e.experiment_id) } type="text" name="name" value=(e.name) required;
                                            button type="submit" { "Save" }
                                        }
                                    }
                                    @if e.experiment_id != "0" {
                                        form.inline method="post" action={ "/experiments/" (e.experiment_id) "/delete" } {
                                            button.danger type="submit" { "Delete" }
                                        }
                                    }
                                } @else {
                                    form.inline method="post" action={ "/experiments/" (e.experiment_id) "/restore" } {
                                        button type="submit" { "Restore" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &page.next_page_token {
                p.pager { a href={ "/experiments" (q.with("page", &[next])) } { "Next page →" } }
            }
        }
    };
    Ok(layout::page("Experiments", body))
}

pub async fn create(state: &Services, f: Params) -> UiResult<Reply> {
    let id = state
        .tracking
        .create_experiment(f.require("name")?.trim(), None, Vec::new())
        .await?;
    Ok(Reply::redirect(&format!("/experiments/{id}")))
}

pub async fn rename(state: &Services, id: String, f: Params) -> UiResult<Reply> {
    state
        .tracking
        .rename_experiment(&id, f.require("name")?.trim())
        .await?;
    Ok(Reply::redirect("/experiments"))
}

pub async fn delete(state: &Services, id: String) -> UiResult<Reply> {
    state
        .tracking
        .set_experiment_lifecycle(&id, LifecycleStage::Deleted)
        .await?;
    Ok(Reply::redirect("/experiments?view=deleted"))
}

pub async fn restore(state: &Services, id: String) -> UiResult<Reply> {
    state
        .tracking
        .set_experiment_lifecycle(&id, LifecycleStage::Active)
        .await?;
    Ok(Reply::redirect("/experiments"))
}
