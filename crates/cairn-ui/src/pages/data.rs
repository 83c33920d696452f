//! The data catalog: feature views and model contracts with search over their
//! fields, a view's fields and first rows, a field's profile and who reads it, a
//! contract's lineage to the registered model and its serving alias, and the
//! quality history with each stored report.

use std::sync::Arc;

use cairn_core::data::{DataCheck, FieldHit, FieldUse};
use cairn_core::ids::ModelName;
use cairn_core::registry::RegisteredModel;
use cairn_data::check::{CheckReport, FieldReport, Histogram};
use cairn_data::spec::{Constraints, Field, ModelContract};
use cairn_data::{ContractFile, FeatureView, Item};
use cairn_service::Services;
use maud::{html, Markup};

use crate::error::{UiError, UiResult};
use crate::format;
use crate::layout;
use crate::query::{segment, Params};
use crate::reply::Reply;

fn view_url(name: &str) -> String {
    format!("/data/views/{}", segment(name))
}

fn field_url(view: &str, field: &str) -> String {
    format!("/data/views/{}/fields/{}", segment(view), segment(field))
}

fn contract_url(name: &str) -> String {
    format!("/data/contracts/{}", segment(name))
}

fn check_url(id: i64) -> String {
    format!("/data/checks/{id}")
}

fn verdict(c: &DataCheck) -> Markup {
    html! {
        @if c.passed { span.status.finished { "passed" } }
        @else { span.status.failed { (violations(c.violations as u64)) } }
    }
}

fn violations(n: u64) -> String {
    if n == 1 {
        "1 violation".into()
    } else {
        format!("{n} violations")
    }
}

/// A field's constraints as short phrases.
fn constraints(c: &Constraints) -> Vec<String> {
    let mut out = Vec::new();
    if c.required {
        out.push("required".to_string());
    }
    if let Some(v) = c.min {
        out.push(format!(">= {v}"));
    }
    if let Some(v) = c.gt {
        out.push(format!("> {v}"));
    }
    if let Some(v) = c.max {
        out.push(format!("<= {v}"));
    }
    if let Some(v) = c.lt {
        out.push(format!("< {v}"));
    }
    if !c.accepted_values.is_empty() {
        out.push(format!("one of {}", c.accepted_values.join(", ")));
    }
    if let Some(r) = &c.regex {
        out.push(format!("matches {r}"));
    }
    if let Some(n) = c.min_length {
        out.push(format!("length >= {n}"));
    }
    if let Some(n) = c.max_length {
        out.push(format!("length <= {n}"));
    }
    if c.unique {
        out.push("unique".to_string());
    }
    if let Some(d) = c.freshness {
        out.push(format!("fresh within {}", humantime::format_duration(d)));
    }
    out
}

fn type_name(f: &Field) -> String {
    format!("{:?}", f.ty).to_lowercase()
}

// ---- the catalog ---------------------------------------------------------------------

/// `/data`: views, contracts, refused files, and field search (`?q=`).
#[derive(Debug)]
pub struct Catalog {
    pub query: String,
    pub hits: Vec<FieldHit>,
    pub files: Vec<Arc<ContractFile>>,
    pub refused: Vec<(String, String)>,
    pub latest: Vec<DataCheck>,
}

pub async fn catalog(state: &Services, q: Params) -> UiResult<Reply> {
    let catalog = state.data.catalog();
    let query = q.text("q").trim().to_string();
    let view = Catalog {
        hits: if query.is_empty() {
            Vec::new()
        } else {
            state.data.search(&query)
        },
        query,
        files: catalog.items.values().cloned().collect(),
        refused: catalog
            .errors
            .iter()
            .map(|(f, e)| (f.display().to_string(), e.clone()))
            .collect(),
        latest: state.data.latest().await?,
    };
    Ok(Reply::html(view.render().into_string()))
}

impl Catalog {
    fn last(&self, name: &str) -> Option<&DataCheck> {
        self.latest.iter().find(|c| c.target == name)
    }

    pub fn render(&self) -> Markup {
        let body = html! {
            h1 { "Data" }
            form.toolbar method="get" action="/data" role="search" {
                label for="q" { "Find a feature" }
                input #q type="search" name="q" value=(self.query) placeholder="field, description or tag";
                button type="submit" { "Search" }
            }
            @if !self.query.is_empty() {
                section aria-label="Search results" {
                    h2 { "Fields matching “" (self.query) "”" }
                    @if self.hits.is_empty() { p.empty { "No field matches." } } @else {
                        table.grid.hits {
                            thead { tr { th { "Field" } th { "View" } th { "Type" } th { "Description" } } }
                            tbody {
                                @for h in &self.hits {
                                    tr {
                                        td { a href=(field_url(&h.view, &h.field)) { (h.field) } }
                                        td { a href=(view_url(&h.view)) { (h.view) } }
                                        td { (h.ty) }
                                        td { (h.description.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @for (file, error) in &self.refused {
                div.notice.error role="alert" { strong { "Refused: " } (file) pre.code { (error) } }
            }
            h2 { "Feature views" }
            table.grid {
                thead { tr { th { "View" } th { "Fields" } th { "Source" } th { "Last check" } th { "Description" } } }
                tbody {
                    @for f in &self.files {
                        @if let Item::View(v) = &f.item {
                            tr {
                                td { a href=(view_url(&v.name)) { (v.name) } }
                                td.num { (v.fields.len()) }
                                td { code { (v.source) } }
                                td { @if let Some(c) = self.last(&v.name) { a href=(check_url(c.id)) { (verdict(c)) } } @else { span.muted { "never" } } }
                                td { (v.description.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
            h2 { "Model contracts" }
            table.grid {
                thead { tr { th { "Contract" } th { "Model" } th { "Features" } th { "Last check" } th { "Description" } } }
                tbody {
                    @for f in &self.files {
                        @if let Item::Contract(c) = &f.item {
                            tr {
                                td { a href=(contract_url(&c.name)) { (c.name) } }
                                td { @if let Some(m) = &c.model { a href={ "/registry/" (segment(m)) } { (m) } } }
                                td.num { (c.features.len()) }
                                td { @if let Some(k) = self.last(&c.name) { a href=(check_url(k.id)) { (verdict(k)) } } @else { span.muted { "never" } } }
                                td { (c.description.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        };
        layout::document("Data", body)
    }
}

// ---- a view ------------------------------------------------------------------------------

#[derive(Debug)]
pub struct ViewPage {
    pub view: FeatureView,
    pub version: String,
    pub file: String,
    pub error: Option<String>,
    /// The first rows, or why they cannot be read.
    pub rows: Result<Vec<std::collections::BTreeMap<String, String>>, String>,
    pub checks: Vec<DataCheck>,
}

fn lookup(state: &Services, name: &str) -> UiResult<Arc<ContractFile>> {
    state.data.catalog().get(name).cloned().ok_or_else(|| {
        UiError::Service(cairn_core::MlflowError::not_found(format!(
            "no view or contract is named `{name}`"
        )))
    })
}

pub async fn view(state: &Services, name: String) -> UiResult<Reply> {
    let file = lookup(state, &name)?;
    let Item::View(v) = &file.item else {
        return Ok(Reply::redirect(&contract_url(&name)));
    };
    let page = ViewPage {
        view: v.clone(),
        version: file.version.clone(),
        file: file.file.display().to_string(),
        error: state.data.catalog().error_for(&name).map(str::to_string),
        rows: state.data.rows(&name, 10).await.map_err(|e| e.message),
        checks: state.data.checks(Some(&name), 20).await?,
    };
    Ok(Reply::html(page.render().into_string()))
}

fn history(checks: &[DataCheck]) -> Markup {
    html! {
        @if checks.is_empty() { p.empty { "Not checked yet." } } @else {
            table.grid.history {
                thead { tr { th { "Checked" } th { "Verdict" } th { "Rows" } th { "Took" } th { "Source fingerprint" } } }
                tbody {
                    @for c in checks {
                        tr {
                            td { a href=(check_url(c.id)) { (format::time_ms(Some(c.checked_ms))) } }
                            td { (verdict(c)) }
                            td.num { (c.rows) }
                            td.num { (c.duration_ms) " ms" }
                            td { code { (c.fingerprint) } }
                        }
                    }
                }
            }
        }
    }
}

fn run_button(name: &str) -> Markup {
    html! {
        form method="post" action={ "/data/checks/run/" (segment(name)) } {
            button type="submit" { "Check now" }
        }
    }
}

impl ViewPage {
    pub fn render(&self) -> Markup {
        let v = &self.view;
        let body = html! {
            (layout::crumbs(&[("Data", Some("/data".into())), (v.name.as_str(), None)]))
            h1 { "View " (v.name) }
            @if let Some(e) = &self.error { div.notice.error role="alert" { strong { "Latest edit refused: " } pre.code { (e) } } }
            @if let Some(d) = &v.description { p { (d) } }
            p.meta {
                "Source " code { (v.source) }
                @if let Some(e) = &v.entity { " · entity " code { (e) } }
                @if let Some(t) = &v.event_timestamp { " · event time " code { (t) } }
                " · " code { (self.file) } " version " code { (self.version) }
            }
            (run_button(&v.name))
            h2 { "Fields" }
            table.grid.fields {
                thead { tr { th { "Field" } th { "Type" } th { "Constraints" } th { "Description" } } }
                tbody {
                    @for f in &v.fields {
                        tr {
                            td { a href=(field_url(&v.name, &f.name)) { (f.name) } }
                            td { (type_name(f)) }
                            td { (constraints(&f.constraints).join(", ")) }
                            td { (f.description.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            h2 { "First rows" }
            @match &self.rows {
                Err(e) => div.notice.error role="alert" { "Cannot read the source: " (e) },
                Ok(rows) if rows.is_empty() => p.empty { "No rows." },
                Ok(rows) => div.scroll {
                    table.grid.rows {
                        thead { tr { @for k in rows[0].keys() { th { (k) } } } }
                        tbody { @for r in rows { tr { @for v in r.values() { td { (v) } } } } }
                    }
                },
            }
            h2 { "Quality history" }
            (history(&self.checks))
        };
        layout::document(&format!("View {}", v.name), body)
    }
}

// ---- a field -------------------------------------------------------------------------------

#[derive(Debug)]
pub struct FieldPage {
    pub view: String,
    pub field: Field,
    pub used_by: Vec<FieldUse>,
    pub profile: Option<FieldReport>,
    /// The newest check of the view, for its report link.
    pub last_check: Option<DataCheck>,
}

pub async fn field(state: &Services, view: String, field: String) -> UiResult<Reply> {
    let detail = state.data.field(&view, &field).await?;
    let page = FieldPage {
        profile: detail
            .last_check
            .and_then(|v| serde_json::from_value(v).ok()),
        last_check: state.data.checks(Some(&view), 1).await?.into_iter().next(),
        field: detail.field,
        used_by: detail.used_by,
        view,
    };
    Ok(Reply::html(page.render().into_string()))
}

/// Bars of a histogram, drawn as SVG.
fn histogram(h: &Histogram) -> Markup {
    let (w, ht, pad) = (480.0, 140.0, 20.0);
    let top = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = (w - 2.0 * pad) / h.counts.len().max(1) as f64;
    html! {
        figure.histogram {
            svg width=(w) height=(ht + 20.0) role="img" aria-label="histogram" {
                @for (i, c) in h.counts.iter().enumerate() {
                    @let bh = (*c as f64 / top) * (ht - 10.0);
                    rect x=(pad + bw * i as f64) y=(ht - bh) width=((bw - 1.0).max(1.0)) height=(bh) fill="#4c72b0" {
                        title { (format::number(h.edges[i])) " – " (format::number(h.edges[i + 1])) ": " (c) }
                    }
                }
                text x=(pad) y=(ht + 14.0) font-size="11" { (format::number(h.edges[0])) }
                text x=(w - pad) y=(ht + 14.0) font-size="11" text-anchor="end" { (format::number(*h.edges.last().unwrap_or(&0.0))) }
            }
        }
    }
}

fn profile(p: &FieldReport) -> Markup {
    let mut quantiles: Vec<(&String, &f64)> = p.quantiles.iter().flatten().collect();
    quantiles.sort_by_key(|(k, _)| k.trim_start_matches('p').parse::<u32>().unwrap_or(0));
    html! {
        dl.profile {
            div { dt { "Rows" } dd { (p.rows) } }
            div { dt { "Missing" } dd { (p.nulls) } }
            @if let Some(d) = p.distinct { div { dt { "Distinct (approx.)" } dd { (d) } } }
            @if let Some(v) = &p.min { div { dt { "Min" } dd { (v) } } }
            @if let Some(v) = &p.max { div { dt { "Max" } dd { (v) } } }
            @if let Some(v) = p.mean { div { dt { "Mean" } dd { (format::number(v)) } } }
            @for (k, v) in quantiles { div { dt { (k) } dd { (format::number(*v)) } } }
        }
        @if let Some(h) = &p.histogram { (histogram(h)) }
        @if !p.top_values.is_empty() {
            table.grid.top { thead { tr { th { "Value" } th { "Rows" } } }
                tbody { @for (v, n) in &p.top_values { tr { td { (v) } td.num { (n) } } } } }
        }
        table.grid.constraints {
            thead { tr { th { "Constraint" } th { "Violations" } } }
            tbody { @for c in &p.constraints { tr { td { (c.constraint) } td.num { @if c.violations == 0 { "0" } @else { span.status.failed { (c.violations) } } } } } }
        }
    }
}

impl FieldPage {
    pub fn render(&self) -> Markup {
        let f = &self.field;
        let body = html! {
            (layout::crumbs(&[("Data", Some("/data".into())), (self.view.as_str(), Some(view_url(&self.view))), (f.name.as_str(), None)]))
            h1 { (self.view) "." (f.name) }
            p.meta { "Type " code { (type_name(f)) } @for t in &f.tags { " " span.tag { (t) } } }
            @if let Some(d) = &f.description { p { (d) } }
            p { "Constraints: " @let c = constraints(&f.constraints); @if c.is_empty() { span.muted { "none" } } @else { (c.join(", ")) } }
            h2 { "Used by" }
            @if self.used_by.is_empty() { p.empty { "No contract reads this field." } } @else {
                ul.uses {
                    @for u in &self.used_by {
                        li {
                            a href=(contract_url(&u.contract)) { (u.contract) } " (" (u.role) ")"
                            @if let Some(m) = &u.model { " → model " a.model href={ "/registry/" (segment(m)) } { (m) } }
                        }
                    }
                }
            }
            h2 { "Profile" }
            @match (&self.profile, &self.last_check) {
                (Some(p), Some(c)) => {
                    p.meta { "From the " a.report href=(check_url(c.id)) { "check of " (format::time_ms(Some(c.checked_ms))) } " (" (verdict(c)) ")" }
                    (profile(p))
                }
                _ => p.empty { "Not checked yet: check the view to see its profile." },
            }
        };
        layout::document(&format!("{}.{}", self.view, f.name), body)
    }
}

// ---- a contract --------------------------------------------------------------------------

#[derive(Debug)]
pub struct ContractPage {
    pub contract: ModelContract,
    pub version: String,
    pub file: String,
    pub model: Option<RegisteredModel>,
    /// The model's versions, newest first.
    pub versions: Vec<cairn_core::registry::ModelVersion>,
    pub checks: Vec<DataCheck>,
}

pub async fn contract(state: &Services, name: String) -> UiResult<Reply> {
    let file = lookup(state, &name)?;
    let Item::Contract(c) = &file.item else {
        return Ok(Reply::redirect(&view_url(&name)));
    };
    let model = match c.model.as_deref().map(ModelName::parse) {
        Some(Ok(m)) => state.registry.get_registered_model(&m).await.ok(),
        _ => None,
    };
    let versions = match &model {
        Some(m) => {
            state
                .registry
                .search_model_versions(cairn_service::registry::RegistrySearchRequest {
                    filter: Some(format!("name = {}", super::quoted(&m.name))),
                    order_by: vec!["version_number DESC".into()],
                    max_results: Some(50),
                    page_token: None,
                })
                .await?
                .items
        }
        None => Vec::new(),
    };
    let page = ContractPage {
        versions,
        contract: c.clone(),
        version: file.version.clone(),
        file: file.file.display().to_string(),
        model,
        checks: state.data.checks(Some(&name), 20).await?,
    };
    Ok(Reply::html(page.render().into_string()))
}

impl ContractPage {
    pub fn render(&self) -> Markup {
        let c = &self.contract;
        let link = |r: &cairn_data::spec::FieldRef| match &r.field {
            Some(f) => html! { a href=(field_url(&r.view, f)) { (r) } },
            None => html! { a href=(view_url(&r.view)) { (r) } },
        };
        let body = html! {
            (layout::crumbs(&[("Data", Some("/data".into())), (c.name.as_str(), None)]))
            h1 { "Contract " (c.name) }
            @if let Some(d) = &c.description { p { (d) } }
            p.meta { code { (self.file) } " version " code { (self.version) } }
            (run_button(&c.name))
            h2 { "Lineage" }
            ol.lineage {
                li { "Views: " @for (i, v) in c.features.iter().map(|f| f.view.as_str()).chain(c.label.iter().map(|l| l.field.view.as_str())).collect::<std::collections::BTreeSet<_>>().into_iter().enumerate() { @if i > 0 { ", " } a href=(view_url(v)) { (v) } } }
                li { "Contract: " (c.name) }
                li { "Registered model: " @match &c.model { Some(m) => a href={ "/registry/" (segment(m)) } { (m) }, None => span.muted { "none named" } } }
                @if let Some(m) = &self.model {
                    li { "Versions: " @if self.versions.is_empty() { span.muted { "none" } } @for (i, v) in self.versions.iter().enumerate() { @if i > 0 { ", " } a href={ "/registry/" (segment(&m.name)) } { "v" (v.version) } } }
                    li { "Serving aliases: " @if m.aliases.is_empty() { span.muted { "none" } } @for a in &m.aliases { span.alias { "@" (a.alias) " → v" (a.version) } " " } }
                }
                @if let Some(e) = &c.exposed_at { li { "Exposed at " code { (e) } } }
            }
            h2 { "Features" }
            ul { @for f in &c.features { li { (link(f)) } } }
            @if let Some(l) = &c.label { h2 { "Label" } p { (link(&l.field)) " (" (format!("{:?}", l.task).to_lowercase()) ")" } }
            @if !c.predictions.is_empty() { h2 { "Predictions" } p { (c.predictions.join(", ")) } }
            h2 { "Quality history" }
            (history(&self.checks))
        };
        layout::document(&format!("Contract {}", c.name), body)
    }
}

// ---- a check's report ------------------------------------------------------------------------

pub async fn check(state: &Services, id: String) -> UiResult<Reply> {
    let id: i64 = id
        .parse()
        .map_err(|_| UiError::BadInput(format!("`{id}` is not a check id")))?;
    let stored = state.data.check(id).await?;
    let report: CheckReport = serde_json::from_value(stored.report.clone())
        .map_err(|e| UiError::BadInput(format!("check {id} has no readable report: {e}")))?;
    let body = html! {
        (layout::crumbs(&[("Data", Some("/data".into())), (report.target.as_str(), Some(if report.kind == "view" { view_url(&report.target) } else { contract_url(&report.target) })), ("report", None)]))
        h1 { "Quality report: " (report.target) }
        p.meta { (report.kind) " version " code { (report.version) } " · checked " (format::time_ms(Some(stored.checked_ms))) " in " (report.duration_ms) " ms · " (verdict(&stored)) }
        @for v in &report.views {
            section.report-view {
                h2 { "View " a href=(view_url(&v.view)) { (v.view) } }
                p.meta { (v.rows) " rows from " code { (v.source) } " · fingerprint " code { (v.fingerprint) } }
                @for f in &v.fields {
                    details.field-report open[f.constraints.iter().any(|c| c.violations > 0)] {
                        summary { a href=(field_url(&v.view, &f.field)) { (f.field) } " (" (format!("{:?}", f.ty).to_lowercase()) ")"
                            @let bad: u64 = f.constraints.iter().map(|c| c.violations).sum();
                            @if bad > 0 { " " span.status.failed { (violations(bad)) } } }
                        (profile(f))
                        @for c in f.constraints.iter().filter(|c| !c.examples.is_empty()) {
                            h4 { "Examples: " (c.constraint) }
                            table.grid.examples {
                                thead { tr { @for k in c.examples[0].keys() { th { (k) } } } }
                                tbody { @for e in &c.examples { tr { @for v in e.values() { td { (v) } } } } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Reply::html(
        layout::document(&format!("Report {}", report.target), body).into_string(),
    ))
}

/// Runs a check from the page's button, then shows its report.
pub async fn run_check(state: &Services, name: String) -> UiResult<Reply> {
    let check = state.data.run_check(&name).await?;
    Ok(Reply::redirect(&check_url(check.id)))
}
