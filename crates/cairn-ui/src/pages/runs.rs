//! An experiment's runs: a table with chosen param, metric and tag columns, sorting,
//! MLflow's search grammar in a filter box, paging, selection for comparison or
//! deletion, HPO children grouped under their parent, and the deleted runs.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use cairn_core::entities::{Experiment, Run, ViewType};
use cairn_core::ids::RunId;
use cairn_service::Services;
use maud::{html, Markup};

use super::view_type;
use crate::error::{UiError, UiResult};
use crate::format;
use crate::layout;
use crate::query::Params;
use crate::reply::Reply;

/// The tag MLflow (and Optuna's callback, and `cairn train`) sets on child runs.
pub use cairn_core::entities::PARENT_RUN_TAG as PARENT_TAG;
const DEFAULT_ORDER: &str = "attributes.start_time DESC";
/// Columns shown per kind when the link names none.
const DEFAULT_COLUMNS: usize = 6;

/// The columns of the table, by kind.
struct Columns {
    metrics: Vec<String>,
    params: Vec<String>,
    tags: Vec<String>,
}

/// A filter the grammar refused, pointed at where it stopped.
#[derive(Debug, Clone)]
pub struct FilterError {
    pub message: String,
    /// The character where the grammar stopped, when it says.
    pub position: Option<usize>,
}

/// What an experiment's runs page shows: one page of a run search, or the filter's
/// error when the grammar refused it (then no search ran).
#[derive(Debug, Clone)]
pub struct RunsPage {
    /// The request's query: columns, paging and sort links keep the rest of it.
    pub query: Params,
    /// The experiment's id as the request spelled it: the page's links repeat it.
    pub id: String,
    pub experiment: Experiment,
    pub view: ViewType,
    /// `active`, `deleted` or `all`.
    pub view_name: &'static str,
    /// The filter as typed ("" for none).
    pub filter: String,
    /// The sort, in MLflow's `order_by` grammar.
    pub order: String,
    pub runs: Vec<Run>,
    pub next_page_token: Option<String>,
    pub filter_error: Option<FilterError>,
}

/// An experiment's runs page: 400 when the filter is refused, with how long loading
/// and rendering took in `server-timing`.
pub async fn page(state: &Services, id: String, q: Params) -> UiResult<Reply> {
    let started = Instant::now();
    let view = RunsPage::load(state, id, q).await?;
    let html = view.render().into_string();
    let timing = format!("page;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0);
    Ok(Reply::html(html)
        .with_status(view.status())
        .with_header("server-timing", timing))
}

impl RunsPage {
    /// The experiment, then its runs as the query filters, sorts and pages them.
    pub async fn load(state: &Services, id: String, q: Params) -> UiResult<Self> {
        let experiment = state.tracking.get_experiment(&id).await?;
        let (view, view_name) = view_type(q.get("view"));
        let filter = q.get("filter").unwrap_or("").to_string();
        let order = q.get("order").unwrap_or(DEFAULT_ORDER).to_string();
        let per = q.number("per", 100.0, 1.0, 1000.0)? as i64;

        // The filter is checked on its own first so its error can point into the box;
        // the service checks it again with everything else.
        let checked = cairn_core::search::run_filter(&filter).map_err(|e| FilterError {
            message: e.message,
            position: e.position,
        });
        let (runs, next_page_token, filter_error) = match checked {
            Err(e) => (Vec::new(), None, Some(e)),
            Ok(_) => {
                let page = state
                    .tracking
                    .search_runs(
                        std::slice::from_ref(&id),
                        Some(&filter),
                        std::slice::from_ref(&order),
                        view,
                        Some(per),
                        q.get("page"),
                    )
                    .await?;
                (page.items, page.next_page_token, None)
            }
        };
        Ok(RunsPage {
            query: q,
            id,
            experiment,
            view,
            view_name,
            filter,
            order,
            runs,
            next_page_token,
            filter_error,
        })
    }

    /// 400 when the filter was refused, else 200.
    pub fn status(&self) -> u16 {
        if self.filter_error.is_some() {
            400
        } else {
            200
        }
    }

    /// The page's HTML: no I/O, so a test can render hand-built runs.
    pub fn render(&self) -> Markup {
        let (exp, q, runs) = (&self.experiment, &self.query, &self.runs);
        let id = self.id.as_str();
        let filter_error = self.filter_error.as_ref();
        let columns = columns(q, runs);
        let body = html! {
            (layout::crumbs(&[("Experiments", Some("/experiments".into())), (&exp.name, None)]))
            h1 { (exp.name) }
            p.meta {
                "ID " (exp.experiment_id)
                @if let Some(loc) = &exp.artifact_location { " · artifacts at " code { (loc) } }
                " · " (exp.lifecycle_stage.as_str())
            }
            (filter_box(id, q, &self.filter, self.view_name, filter_error))
            (column_chooser(q, runs, &columns))
            @if filter_error.is_none() {
                (table(id, q, runs, &columns, &self.order, self.view))
                nav.pager aria-label="Pages" {
                    @if q.get("page").is_some() {
                        a href={ "/experiments/" (id) (q.with("page", &[])) } { "← First page" }
                    }
                    span { (runs.len()) " runs on this page" }
                    @if let Some(next) = &self.next_page_token {
                        a rel="next" href={ "/experiments/" (id) (q.with("page", &[next])) } { "Next page →" }
                    }
                }
            }
        };
        layout::document(&exp.name, body)
    }
}

/// The columns the link names, or the first few keys of each kind on this page.
fn columns(q: &Params, runs: &[Run]) -> Columns {
    let chosen = |k: &str| q.all(k);
    if q.get("p").is_some() || q.get("m").is_some() || q.get("t").is_some() {
        return Columns {
            metrics: chosen("m"),
            params: chosen("p"),
            tags: chosen("t"),
        };
    }
    let keys = page_keys(runs);
    Columns {
        metrics: keys.0.into_iter().take(DEFAULT_COLUMNS).collect(),
        params: keys.1.into_iter().take(DEFAULT_COLUMNS).collect(),
        tags: Vec::new(),
    }
}

/// Metric, param and (user) tag keys present on the page, sorted.
fn page_keys(runs: &[Run]) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let mut m = BTreeSet::new();
    let mut p = BTreeSet::new();
    let mut t = BTreeSet::new();
    for r in runs {
        m.extend(r.data.metrics.iter().map(|x| x.key.clone()));
        p.extend(r.data.params.iter().map(|x| x.key.clone()));
        t.extend(
            r.data
                .tags
                .iter()
                .filter(|x| !x.key.starts_with("mlflow."))
                .map(|x| x.key.clone()),
        );
    }
    (m, p, t)
}

fn filter_box(
    id: &str,
    q: &Params,
    filter: &str,
    view_name: &str,
    error: Option<&FilterError>,
) -> Markup {
    let keep = q.without(&["filter", "page", "view"]);
    html! {
        form.search.filter method="get" action={ "/experiments/" (id) } role="search" {
            @for (k, v) in &keep.0 {
                input type="hidden" name=(k) value=(v);
            }
            label for="filter" { "Filter" }
            input #filter type="search" name="filter" value=(filter) size="60"
                placeholder="metrics.accuracy > 0.9 AND params.model = 'linear'"
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "filter-error")];
            label for="view" { "Runs" }
            select #view name="view" data-autosubmit {
                @for v in ["active", "deleted", "all"] {
                    option value=(v) selected[v == view_name] { (v) }
                }
            }
            button type="submit" { "Search" }
        }
        @if let Some(e) = error {
            div #filter-error .filter-error role="alert" {
                p { (e.message) }
                @if let Some(pos) = e.position {
                    @let (before, token, after) = split_at_token(filter, pos);
                    pre { (before) mark { (if token.is_empty() { "⟂" } else { token.as_str() }) } (after) }
                }
            }
        }
    }
}

/// The filter cut around the token at character `pos` (up to the next space).
fn split_at_token(filter: &str, pos: usize) -> (String, String, String) {
    let chars: Vec<char> = filter.chars().collect();
    let pos = pos.min(chars.len());
    let end = chars[pos..]
        .iter()
        .position(|c| c.is_whitespace())
        .map_or(chars.len(), |n| pos + n.max(1));
    (
        chars[..pos].iter().collect(),
        chars[pos..end].iter().collect(),
        chars[end..].iter().collect(),
    )
}

fn column_chooser(q: &Params, runs: &[Run], cols: &Columns) -> Markup {
    let (m, p, t) = page_keys(runs);
    let keep = q.without(&["m", "p", "t", "page"]);
    let group = |title: &str, name: &str, keys: &BTreeSet<String>, chosen: &[String]| {
        html! {
            fieldset {
                legend { (title) }
                @for k in keys.iter().chain(chosen.iter().filter(|c| !keys.contains(*c))) {
                    label.check {
                        input type="checkbox" name=(name) value=(k) checked[chosen.contains(k)];
                        (k)
                    }
                }
            }
        }
    };
    html! {
        details.columns {
            summary { "Columns" }
            form method="get" {
                @for (k, v) in &keep.0 {
                    input type="hidden" name=(k) value=(v);
                }
                (group("Metrics", "m", &m, &cols.metrics))
                (group("Params", "p", &p, &cols.params))
                (group("Tags", "t", &t, &cols.tags))
                button type="submit" { "Show columns" }
            }
        }
    }
}

/// The `order` that sorts by `key`: descending first, then flipping.
fn sort_link(q: &Params, id: &str, key: &str, current: &str) -> (String, &'static str) {
    let desc = format!("{key} DESC");
    let asc = format!("{key} ASC");
    let (next, mark) = if current == desc {
        (asc, "▼")
    } else if current == asc || current == key {
        (desc, "▲")
    } else {
        (desc, "")
    };
    let href = format!(
        "/experiments/{id}{}",
        q.without(&["page"]).with("order", &[&next])
    );
    (href, mark)
}

fn table(
    id: &str,
    q: &Params,
    runs: &[Run],
    cols: &Columns,
    order: &str,
    view: ViewType,
) -> Markup {
    if runs.is_empty() {
        return html! { p.empty { "No runs match." } };
    }
    let back = format!("/experiments/{id}{}", q.with("page", &[]));
    let rows = nest(runs);
    let th = |label: &str, key: &str| {
        let (href, mark) = sort_link(q, id, key, order);
        html! { th { a href=(href) { (label) } " " span.sort { (mark) } } }
    };
    html! {
        form #sel method="get" action="/compare" {
            input type="hidden" name="back" value=(back);
            div.toolbar {
                button type="submit" { "Compare selected" }
                @if view != ViewType::DeletedOnly {
                    button.danger type="submit" formmethod="post" formaction="/runs/lifecycle" name="action" value="delete" { "Delete selected" }
                }
                @if view != ViewType::ActiveOnly {
                    button type="submit" formmethod="post" formaction="/runs/lifecycle" name="action" value="restore" { "Restore selected" }
                }
            }
            div.scroll {
                table.grid.runs {
                    thead { tr {
                        th { input type="checkbox" data-select-all aria-label="Select all runs on this page"; }
                        (th("Run", "attributes.run_name"))
                        (th("Created", "attributes.start_time"))
                        th { "Duration" }
                        th { "Status" }
                        th { "User" }
                        @for k in &cols.metrics { (th(k, &format!("metrics.`{k}`"))) }
                        @for k in &cols.params { (th(k, &format!("params.`{k}`"))) }
                        @for k in &cols.tags { (th(k, &format!("tags.`{k}`"))) }
                    } }
                    tbody {
                        @for (run, depth, kids) in &rows {
                            (row(run, *depth, *kids, cols))
                        }
                    }
                }
            }
        }
    }
}

/// Runs in display order with their depth and child count: each run whose parent is
/// on the page follows its parent (an HPO sweep reads as one group).
fn nest(runs: &[Run]) -> Vec<(&Run, usize, usize)> {
    let on_page: HashMap<&str, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.info.run_id.as_str(), i))
        .collect();
    let parent_of = |r: &Run| -> Option<usize> {
        let p = r.data.tags.iter().find(|t| t.key == PARENT_TAG)?;
        on_page.get(p.value.as_str()).copied()
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); runs.len()];
    let mut roots = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        match parent_of(r) {
            Some(p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut out = Vec::with_capacity(runs.len());
    let mut seen = vec![false; runs.len()];
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        out.push((&runs[i], depth, children[i].len()));
        stack.extend(children[i].iter().rev().map(|c| (*c, depth + 1)));
    }
    // A parent loop (a corrupt tag) leaves runs unreached: show them flat.
    for (i, r) in runs.iter().enumerate() {
        if !seen[i] {
            out.push((r, 0, 0));
        }
    }
    out
}

fn row(run: &Run, depth: usize, kids: usize, cols: &Columns) -> Markup {
    let info = &run.info;
    let metric = |k: &str| {
        run.data
            .metrics
            .iter()
            .find(|m| m.key == k)
            .map(|m| m.value)
    };
    let param = |k: &str| {
        run.data
            .params
            .iter()
            .find(|p| p.key == k)
            .map(|p| p.value.as_str())
    };
    let tag = |k: &str| {
        run.data
            .tags
            .iter()
            .find(|t| t.key == k)
            .map(|t| t.value.as_str())
    };
    let parent = tag(PARENT_TAG);
    let name = layout::run_name(info);
    html! {
        tr data-run=(info.run_id) data-child-of=[parent.filter(|_| depth > 0)] {
            td { input type="checkbox" name="run" value=(info.run_id) aria-label={ "Select " (name) }; }
            td.name style={ "padding-left:" (0.5 + depth as f64 * 1.4) "em" } {
                @if depth > 0 { span.nest aria-hidden="true" { "↳ " } }
                a href={ "/runs/" (info.run_id) } { (name) }
                @if kids > 0 {
                    " "
                    button.kids type="button" data-toggle-children=(info.run_id) aria-expanded="true" {
                        (kids) " child runs"
                    }
                }
            }
            td { (format::time_ms(info.start_time)) }
            td.num { (format::duration_ms(info.start_time, info.end_time)) }
            td { (layout::status(info.status.as_str())) }
            td { (info.user_id) }
            @for k in &cols.metrics { td.num { @if let Some(v) = metric(k) { (format::number(v)) } } }
            @for k in &cols.params { td { (param(k).unwrap_or("")) } }
            @for k in &cols.tags { td { (tag(k).unwrap_or("")) } }
        }
    }
}

/// Deletes or restores the selected runs, then goes back to the runs page.
pub async fn lifecycle(state: &Services, f: Params) -> UiResult<Reply> {
    let runs = f.all("run");
    if runs.is_empty() {
        return Err(UiError::BadInput("select at least one run ('run')".into()));
    }
    let action = f.require("action")?;
    for run in &runs {
        // `all` drops empty values, so this refuses nothing the match would accept.
        let run = RunId::parse(run.as_str())?;
        match action {
            "delete" => state.tracking.delete_run(&run).await?,
            "restore" => state.tracking.restore_run(&run).await?,
            other => {
                return Err(UiError::BadInput(format!(
                    "'action' must be delete or restore, not '{other}'"
                )))
            }
        }
    }
    // Only a path on this server: the field comes from the page, but a form can be forged.
    let back = f
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/experiments");
    Ok(Reply::redirect(back))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::fixtures::{experiment, query, run, with_data};

    fn page(runs: Vec<Run>, q: &str, filter_error: Option<FilterError>) -> RunsPage {
        let query = query(q);
        RunsPage {
            filter: query.get("filter").unwrap_or("").to_string(),
            query,
            id: "1".into(),
            experiment: experiment("1", "exp <1>"),
            view: ViewType::ActiveOnly,
            view_name: "active",
            order: DEFAULT_ORDER.into(),
            runs,
            next_page_token: Some("p2".into()),
            filter_error,
        }
    }

    #[test]
    fn runs_show_formatted_values_with_children_under_their_parent() {
        let parent = with_data(
            run("aaa", "sweep"),
            &[("lr", "0.1")],
            &[("acc", 0.123456789, 3)],
            &[],
        );
        let child = with_data(
            run("bbb", "<trial>"),
            &[("lr", "0.2")],
            &[("acc", 1.5e-7, 3)],
            &[(PARENT_TAG, "aaa"), ("team", "red")],
        );
        // The child first, as a search by start time may return it.
        let view = page(vec![child, parent], "", None);
        assert_eq!(view.status(), 200);
        let html = view.render().into_string();
        assert!(
            html.contains("<title>exp &lt;1&gt; · cairn</title>"),
            "{html}"
        );
        let (at_parent, at_child) = (
            html.find(r#"data-run="aaa""#).expect("the parent's row"),
            html.find(r#"data-run="bbb""#).expect("the child's row"),
        );
        assert!(at_parent < at_child, "the child follows its parent");
        assert!(
            html.contains(r#"data-run="bbb" data-child-of="aaa""#),
            "{html}"
        );
        assert!(html.contains("1 child runs"));
        assert!(html.contains("&lt;trial&gt;</a>"), "{html}");
        assert!(html.contains(r#"<td class="num">0.123457</td>"#), "{html}");
        assert!(html.contains(r#"<td class="num">1.5000e-7</td>"#), "{html}");
        assert!(html.contains(r#"<td class="num">1m 05s</td>"#), "{html}");
        // Default columns: the page's metrics and params; user tags only when asked.
        assert!(html.contains("metrics.%60acc%60+DESC") && html.contains("params.%60lr%60+DESC"));
        assert!(!html.contains("tags.%60team%60"));
        assert!(html.contains("2 runs on this page"));
        assert!(html.contains(r#"href="/experiments/1?page=p2""#), "{html}");
    }

    #[test]
    fn a_refused_filter_is_a_400_pointing_at_the_token() {
        let view = page(
            Vec::new(),
            "filter=metrics.acc+%3E%3E+1",
            Some(FilterError {
                message: "unexpected '>'".into(),
                position: Some(12),
            }),
        );
        assert_eq!(view.status(), 400);
        let html = view.render().into_string();
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
        assert!(
            html.contains("<pre>metrics.acc <mark>&gt;&gt;</mark> 1</pre>"),
            "{html}"
        );
        // No table and no pager when no search ran.
        assert!(!html.contains("runs on this page") && !html.contains("No runs match."));
    }

    #[test]
    fn no_runs_says_so() {
        let html = page(Vec::new(), "view=active", None).render().into_string();
        assert!(html.contains("No runs match."));
        assert!(html.contains("0 runs on this page"));
    }

    #[test]
    fn the_token_at_an_error_is_cut_out() {
        let (a, t, b) = split_at_token("metrics.acc >> 1", 12);
        assert_eq!(
            (a.as_str(), t.as_str(), b.as_str()),
            ("metrics.acc ", ">>", " 1")
        );
        let (a, t, b) = split_at_token("metrics.acc >", 13);
        assert_eq!(
            (a.as_str(), t.as_str(), b.as_str()),
            ("metrics.acc >", "", "")
        );
    }
}
