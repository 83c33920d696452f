//! The experiments list: search by name, create, rename, delete and restore.

use cairn_core::entities::{Experiment, LifecycleStage};
use cairn_service::Services;
use maud::{html, Markup};

use super::{quoted, view_type};
use crate::error::UiResult;
use crate::format;
use crate::layout;
use crate::query::Params;
use crate::reply::Reply;

/// Experiments per page; the list pages on with MLflow's page tokens.
const PAGE: i64 = 100;

/// What the experiments list shows: one page of a name search.
#[derive(Debug, Clone)]
pub struct ExperimentList {
    /// The request's query, kept for the paging link.
    pub query: Params,
    /// The name searched for ("" for all).
    pub search: String,
    /// `active`, `deleted` or `all`.
    pub view_name: &'static str,
    pub experiments: Vec<Experiment>,
    pub next_page_token: Option<String>,
}

/// The experiments list page.
pub async fn list(state: &Services, q: Params) -> UiResult<Reply> {
    let list = ExperimentList::load(state, q).await?;
    Ok(Reply::html(list.render().into_string()))
}

impl ExperimentList {
    /// Searches the experiments the query asks for.
    pub async fn load(state: &Services, q: Params) -> UiResult<Self> {
        let (view, view_name) = view_type(q.get("view"));
        let search = q.get("q").unwrap_or("").to_string();
        let filter =
            (!search.is_empty()).then(|| format!("name ILIKE {}", quoted(&format!("%{search}%"))));
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
        Ok(ExperimentList {
            query: q,
            search,
            view_name,
            experiments: page.items,
            next_page_token: page.next_page_token,
        })
    }

    /// The page's HTML: no I/O, so a test can render a hand-built list.
    pub fn render(&self) -> Markup {
        let (q, name, view_name) = (&self.query, self.search.as_str(), self.view_name);
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
            @if self.experiments.is_empty() {
                p.empty { "No experiments match." }
            } @else {
                table.grid {
                    thead { tr {
                        th { "Name" } th { "ID" } th { "Created" } th { "Last update" } th { "State" } th { "Actions" }
                    } }
                    tbody {
                        @for e in &self.experiments {
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
                @if let Some(next) = &self.next_page_token {
                    p.pager { a href={ "/experiments" (q.with("page", &[next])) } { "Next page →" } }
                }
            }
        };
        layout::document("Experiments", body)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::fixtures::{experiment, query};

    fn list(experiments: Vec<Experiment>, next: Option<&str>) -> ExperimentList {
        ExperimentList {
            query: query("q=a%26b&view=all"),
            search: "a&b".into(),
            view_name: "all",
            experiments,
            next_page_token: next.map(str::to_string),
        }
    }

    #[test]
    fn names_are_escaped_and_each_stage_gets_its_actions() {
        let mut gone = experiment("7", "old");
        gone.lifecycle_stage = LifecycleStage::Deleted;
        let html = list(
            vec![
                experiment("0", "Default"),
                experiment("3", "<script>alert('x')</script>"),
                gone,
            ],
            Some("tok"),
        )
        .render()
        .into_string();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(html.contains("<title>Experiments · cairn</title>"));
        assert!(
            html.contains("&lt;script&gt;alert('x')&lt;/script&gt;</a>")
                && !html.contains("<script>alert"),
            "{html}"
        );
        // The search box keeps what was typed; the view select keeps the view.
        assert!(html.contains(r#"value="a&amp;b""#), "{html}");
        assert!(html.contains(r#"<option value="all" selected>all</option>"#));
        // The default experiment cannot be deleted; a deleted one is restored.
        assert!(!html.contains("/experiments/0/delete"));
        assert!(html.contains("/experiments/3/delete"));
        assert!(html.contains("/experiments/7/restore") && !html.contains("/experiments/7/rename"));
        assert!(html.contains("<td>1970-01-01 00:00:00</td>"));
        // The next page keeps the search.
        assert!(
            html.contains(r#"href="/experiments?q=a%26b&amp;view=all&amp;page=tok""#),
            "{html}"
        );
    }

    #[test]
    fn an_empty_search_says_so_without_a_table() {
        let html = list(Vec::new(), None).render().into_string();
        assert!(html.contains("No experiments match."));
        assert!(!html.contains("<table") && !html.contains("Next page"));
    }
}
