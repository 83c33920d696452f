//! The model registry: models, one model's versions with their source runs and
//! metrics, aliases set, moved and deleted from the page with their history, tags
//! and the description.

use std::collections::BTreeSet;

use cairn_core::entities::Run;
use cairn_core::ids::{ModelName, RunId, Version};
use cairn_core::registry::{AliasEvent, ModelVersion, RegisteredModel};
use cairn_service::registry::RegistrySearchRequest;
use cairn_service::Services;
use futures::future::join_all;
use maud::{html, Markup};

use super::quoted;
use crate::error::UiResult;
use crate::format;
use crate::layout;
use crate::query::{segment, Params};
use crate::reply::Reply;

/// Versions listed on a model's page, newest first.
pub const VERSIONS: i64 = 200;
/// Alias moves listed.
pub const HISTORY: u32 = 100;
/// Metric columns of the versions table.
const METRIC_COLUMNS: usize = 6;

fn model_url(name: &str) -> String {
    format!("/registry/{}", segment(name))
}

/// What the registry's list shows: one page of a name search.
#[derive(Debug, Clone)]
pub struct ModelList {
    /// The request's query, kept for the paging link.
    pub query: Params,
    /// The name searched for ("" for all).
    pub search: String,
    pub models: Vec<RegisteredModel>,
    pub next_page_token: Option<String>,
}

/// The registered models list page.
pub async fn list(state: &Services, q: Params) -> UiResult<Reply> {
    let view = ModelList::load(state, q).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl ModelList {
    /// Searches the registered models the query asks for, by name.
    pub async fn load(state: &Services, q: Params) -> UiResult<Self> {
        let search = q.get("q").unwrap_or("").to_string();
        let page = state
            .registry
            .search_registered_models(RegistrySearchRequest {
                filter: (!search.is_empty())
                    .then(|| format!("name ILIKE {}", quoted(&format!("%{search}%")))),
                order_by: vec!["name ASC".into()],
                max_results: Some(100),
                page_token: q.get("page").map(str::to_string),
            })
            .await?;
        Ok(ModelList {
            query: q,
            search,
            models: page.items,
            next_page_token: page.next_page_token,
        })
    }

    /// The page's HTML: no I/O, so a test can render a hand-built list.
    pub fn render(&self) -> Markup {
        let (q, search) = (&self.query, self.search.as_str());
        let body = html! {
            h1 { "Registered models" }
            form.search method="get" action="/registry" role="search" {
                label for="q" { "Name" }
                input #q type="search" name="q" value=(search) placeholder="contains…";
                button type="submit" { "Search" }
            }
            @if self.models.is_empty() { p.empty { "No registered models match." } } @else {
                table.grid {
                    thead { tr { th { "Name" } th { "Latest version" } th { "Aliases" } th { "Last modified" } th { "Description" } } }
                    tbody {
                        @for m in &self.models {
                            tr {
                                td { a href=(model_url(&m.name)) { (m.name) } }
                                td.num { (m.latest_versions.iter().filter_map(|v| v.version.parse::<i64>().ok()).max().map(|v| v.to_string()).unwrap_or_default()) }
                                td { @for a in &m.aliases { span.alias { "@" (a.alias) " → v" (a.version) } " " } }
                                td { (format::time_ms(m.last_updated_timestamp)) }
                                td { (m.description.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if let Some(next) = &self.next_page_token {
                    p.pager { a href={ "/registry" (q.with("page", &[next])) } { "Next page →" } }
                }
            }
        };
        layout::document("Registered models", body)
    }
}

/// What a model's page shows: the model, its versions with their source runs, and
/// its alias history.
#[derive(Debug, Clone)]
pub struct ModelPage {
    /// The model's name as the request spelled it: the page's forms post to it.
    pub name: String,
    pub model: RegisteredModel,
    /// The newest [`VERSIONS`] versions, newest first.
    pub versions: Vec<ModelVersion>,
    /// Each version's source run, in the order of `versions`; `None` when it has
    /// none or it is gone (deleted, or another server's).
    pub runs: Vec<Option<Run>>,
    /// The newest [`HISTORY`] alias moves, newest first.
    pub history: Vec<AliasEvent>,
}

/// A registered model's page.
pub async fn model(state: &Services, name: String) -> UiResult<Reply> {
    let view = ModelPage::load(state, name).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl ModelPage {
    /// The model, its versions, their source runs and the alias history.
    pub async fn load(state: &Services, name: String) -> UiResult<Self> {
        let name = ModelName::parse(name)?;
        let model = state.registry.get_registered_model(&name).await?;
        let versions = state
            .registry
            .search_model_versions(RegistrySearchRequest {
                filter: Some(format!("name = {}", quoted(name.as_str()))),
                order_by: vec!["version_number DESC".into()],
                max_results: Some(VERSIONS),
                page_token: None,
            })
            .await?
            .items;
        let history = state.registry.alias_history(&name, HISTORY).await?;
        // A version's source run may be gone (deleted, or another server's): it then
        // shows without metrics.
        let runs: Vec<Option<Run>> = join_all(versions.iter().map(|v| async {
            match &v.run_id {
                Some(id) => match RunId::parse(id.as_str()) {
                    Ok(id) => state.tracking.get_run(&id).await.ok(),
                    Err(_) => None,
                },
                _ => None,
            }
        }))
        .await;
        Ok(ModelPage {
            name: name.into_string(),
            model,
            versions,
            runs,
            history,
        })
    }

    /// The page's HTML: no I/O, so a test can render a hand-built model.
    pub fn render(&self) -> Markup {
        let (name, model, versions, runs, history) = (
            self.name.as_str(),
            &self.model,
            &self.versions,
            &self.runs,
            &self.history,
        );
        let metric_keys: Vec<String> = runs
            .iter()
            .flatten()
            .flat_map(|r| r.data.metrics.iter().map(|m| m.key.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .take(METRIC_COLUMNS)
            .collect();
        let url = model_url(name);
        let body = html! {
            (layout::crumbs(&[("Models", Some("/registry".into())), (name, None)]))
            h1 { (name) }
            p.meta { "Created " (format::time_ms(model.creation_timestamp)) " · last modified " (format::time_ms(model.last_updated_timestamp)) " · " a #evaluation-link href={ (url) "/evaluation" } { "Evaluation" } }
            section aria-labelledby="h-desc" {
                h2 #h-desc { "Description" }
                form method="post" action={ (url) "/description" } {
                    label.sr for="description" { "Description" }
                    textarea #description name="description" rows="3" cols="80" { (model.description.as_deref().unwrap_or("")) }
                    button type="submit" { "Save description" }
                }
            }
            div.cols {
                section aria-labelledby="h-aliases" {
                    h2 #h-aliases { "Aliases" }
                    @if model.aliases.is_empty() { p.empty { "No aliases." } } @else {
                        table.grid #aliases {
                            thead { tr { th { "Alias" } th { "Version" } th { "" } } }
                            tbody {
                                @for a in &model.aliases {
                                    tr data-alias=(a.alias) {
                                        td { span.alias { "@" (a.alias) } }
                                        td.num { a href={ "#v" (a.version) } { (a.version) } }
                                        td {
                                            form.inline method="post" action={ (url) "/aliases/delete" } {
                                                input type="hidden" name="alias" value=(a.alias);
                                                button.danger type="submit" aria-label={ "Delete alias " (a.alias) } { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    (alias_form(&url, &model.aliases.iter().map(|a| a.alias.as_str()).collect::<Vec<_>>(), versions))
                }
                section aria-labelledby="h-tags" {
                    h2 #h-tags { "Tags" }
                    @if model.tags.is_empty() { p.empty { "No tags." } } @else {
                        table.grid.kv {
                            tbody {
                                @for t in &model.tags {
                                    tr {
                                        th scope="row" { (t.key) }
                                        td.wrap { (t.value) }
                                        td {
                                            form.inline method="post" action={ (url) "/tags/delete" } {
                                                input type="hidden" name="key" value=(t.key);
                                                button.danger type="submit" aria-label={ "Delete tag " (t.key) } { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    form.inline method="post" action={ (url) "/tags" } {
                        label for="tag-key" { "Key" } input #tag-key type="text" name="key" required;
                        label for="tag-value" { "Value" } input #tag-value type="text" name="value";
                        button type="submit" { "Set tag" }
                    }
                }
            }
            section aria-labelledby="h-versions" {
                h2 #h-versions { "Versions (" (versions.len()) ")" }
                (versions_table(versions, runs, &metric_keys))
            }
            section aria-labelledby="h-history" {
                h2 #h-history { "Alias history" }
                @if history.is_empty() { p.empty { "No alias has been set yet." } } @else {
                    table.grid #alias-history {
                        thead { tr { th { "When" } th { "Alias" } th { "Change" } } }
                        tbody {
                            @for e in history {
                                tr {
                                    td { (format::time_ms(Some(e.time_ms))) }
                                    td { span.alias { "@" (e.alias) } }
                                    td {
                                        @match (e.from_version, e.to_version) {
                                            (None, Some(to)) => { "set to v" (to) },
                                            (Some(from), Some(to)) => { "moved v" (from) " → v" (to) },
                                            (Some(from), None) => { "removed from v" (from) },
                                            (None, None) => { "" },
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        layout::document(name, body)
    }
}

fn alias_form(url: &str, aliases: &[&str], versions: &[ModelVersion]) -> Markup {
    html! {
        form.inline #alias-form method="post" action={ (url) "/aliases" } {
            label for="alias" { "Alias" }
            input #alias type="text" name="alias" required list="alias-names" placeholder="champion";
            datalist #alias-names {
                @for a in aliases { option value=(a) {} }
                @if !aliases.contains(&"champion") { option value="champion" {} }
                @if !aliases.contains(&"challenger") { option value="challenger" {} }
            }
            label for="alias-version" { "Version" }
            select #alias-version name="version" required {
                @for v in versions { option value=(v.version) { (v.version) } }
            }
            button type="submit" { "Set alias" }
        }
    }
}

fn versions_table(
    versions: &[ModelVersion],
    runs: &[Option<Run>],
    metric_keys: &[String],
) -> Markup {
    if versions.is_empty() {
        return html! { p.empty { "No versions." } };
    }
    html! {
        div.scroll {
            table.grid #versions {
                thead { tr {
                    th { "Version" } th { "Registered" } th { "Aliases" } th { "Stage" } th { "Status" } th { "Source run" }
                    @for k in metric_keys { th { (k) } }
                    th { "Tags" }
                } }
                tbody {
                    @for (v, run) in versions.iter().zip(runs) {
                        tr #{ "v" (v.version) } {
                            td.num { (v.version) }
                            td { (format::time_ms(v.creation_timestamp)) }
                            td { @for a in &v.aliases { span.alias { "@" (a) } " " } }
                            td { (v.current_stage) }
                            td { (v.status) }
                            td {
                                @match (run, &v.run_id) {
                                    (Some(r), _) => a href={ "/runs/" (r.info.run_id) } { (layout::run_name(&r.info)) },
                                    (None, Some(id)) if !id.is_empty() => code { (id) },
                                    _ => span.muted { (v.source.as_deref().unwrap_or("")) },
                                }
                            }
                            @for k in metric_keys {
                                td.num { (run.as_ref().and_then(|r| r.data.metrics.iter().find(|m| &m.key == k)).map(|m| format::number(m.value)).unwrap_or_default()) }
                            }
                            td { @for t in &v.tags { span.tag { (t.key) "=" (t.value) } " " } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn set_alias(state: &Services, name: String, f: Params) -> UiResult<Reply> {
    let alias = f.require("alias")?.trim();
    let version = f.require("version")?;
    let name = ModelName::parse(name)?;
    state
        .registry
        .set_alias(&name, alias, Version::parse(version)?)
        .await?;
    Ok(Reply::redirect(&model_url(name.as_str())))
}

pub async fn delete_alias(state: &Services, name: String, f: Params) -> UiResult<Reply> {
    let alias = f.require("alias")?;
    let name = ModelName::parse(name)?;
    state.registry.delete_alias(&name, alias).await?;
    Ok(Reply::redirect(&model_url(name.as_str())))
}

pub async fn describe(state: &Services, name: String, f: Params) -> UiResult<Reply> {
    // An emptied box clears the description (MLflow stores the empty string).
    let text = f.text("description");
    let name = ModelName::parse(name)?;
    state
        .registry
        .update_registered_model(&name, Some(text))
        .await?;
    Ok(Reply::redirect(&model_url(name.as_str())))
}

pub async fn set_tag(state: &Services, name: String, f: Params) -> UiResult<Reply> {
    let value = f.text("value");
    let key = f.require("key")?.trim();
    let name = ModelName::parse(name)?;
    state
        .registry
        .set_registered_model_tag(&name, key, value)
        .await?;
    Ok(Reply::redirect(&model_url(name.as_str())))
}

pub async fn delete_tag(state: &Services, name: String, f: Params) -> UiResult<Reply> {
    let key = f.require("key")?;
    let name = ModelName::parse(name)?;
    state
        .registry
        .delete_registered_model_tag(&name, key)
        .await?;
    Ok(Reply::redirect(&model_url(name.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::entities::KeyValue;
    use cairn_core::registry::RegisteredModelAlias;

    use crate::pages::fixtures::{model, query, run, version, with_data};

    #[test]
    fn the_list_shows_latest_versions_and_aliases() {
        let mut m = model("my <model>/v");
        m.latest_versions = vec![version("m", "2", None), version("m", "10", None)];
        m.aliases = vec![RegisteredModelAlias {
            alias: "champion".into(),
            version: "2".into(),
        }];
        m.description = Some("a & b".into());
        let view = ModelList {
            query: query("q=my"),
            search: "my".into(),
            models: vec![m],
            next_page_token: Some("n".into()),
        };
        let html = view.render().into_string();
        assert!(
            html.contains(r#"<a href="/registry/my%20%3Cmodel%3E%2Fv">my &lt;model&gt;/v</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<td class="num">10</td>"#),
            "newest by number: {html}"
        );
        assert!(html.contains("@champion → v2") && html.contains("<td>a &amp; b</td>"));
        assert!(
            html.contains(r#"href="/registry?q=my&amp;page=n""#),
            "{html}"
        );

        let empty = ModelList {
            query: query(""),
            search: String::new(),
            models: Vec::new(),
            next_page_token: None,
        };
        assert!(empty
            .render()
            .into_string()
            .contains("No registered models match."));
    }

    #[test]
    fn a_model_shows_versions_with_their_runs_and_alias_moves() {
        let mut m = model("m");
        m.description = Some("<best>".into());
        m.tags = vec![KeyValue::new("owner", "ada")];
        m.aliases = vec![RegisteredModelAlias {
            alias: "champion".into(),
            version: "2".into(),
        }];
        let mut v2 = version("m", "2", Some("aaa"));
        v2.aliases = vec!["champion".into()];
        let source = with_data(run("aaa", "alpha"), &[], &[("acc", 0.91234567, 1)], &[]);
        let view = ModelPage {
            name: "m".into(),
            model: m,
            versions: vec![v2, version("m", "1", Some("gone"))],
            runs: vec![Some(source), None],
            history: vec![
                AliasEvent {
                    alias: "champion".into(),
                    from_version: Some(1),
                    to_version: Some(2),
                    time_ms: 0,
                },
                AliasEvent {
                    alias: "champion".into(),
                    from_version: None,
                    to_version: Some(1),
                    time_ms: 0,
                },
            ],
        };
        let html = view.render().into_string();
        assert!(html.contains(">&lt;best&gt;</textarea>"), "{html}");
        assert!(html.contains(r#"<tr data-alias="champion">"#));
        assert!(html.contains("Versions (2)"));
        // The source run's metric is a column; a gone run shows its id.
        assert!(html.contains("<th>acc</th>") && html.contains(r#"<td class="num">0.912346</td>"#));
        assert!(html.contains(r#"<a href="/runs/aaa">alpha</a>"#));
        assert!(html.contains("<code>gone</code>"), "{html}");
        assert!(html.contains("moved v1 → v2") && html.contains("set to v1"));
        assert!(
            html.contains(r#"<option value="challenger"></option>"#),
            "{html}"
        );
    }

    #[test]
    fn a_new_model_has_empty_states() {
        let view = ModelPage {
            name: "m".into(),
            model: model("m"),
            versions: Vec::new(),
            runs: Vec::new(),
            history: Vec::new(),
        };
        let html = view.render().into_string();
        for empty in [
            "No aliases.",
            "No tags.",
            "No versions.",
            "No alias has been set yet.",
        ] {
            assert!(html.contains(empty), "{empty}: {html}");
        }
    }
}
