//! Many runs side by side: one metric's curves overlaid (or averaged per value of a
//! param with a min-max band), parallel coordinates of params to a metric, a scatter
//! of one param against a metric, and the params and metrics that differ.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_core::entities::{Metric, Run};
use cairn_core::ids::RunId;
use cairn_core::validation::BULK_INTERVAL_MAX_RUNS;
use cairn_service::tracking::BulkInterval;
use cairn_service::Services;
use futures::future::try_join_all;
use maud::{html, Markup};

use super::run::{thin, ChartOptions, MAX_POINTS};
use crate::chart::{self, Item, LineChart, Series, Value};
use crate::error::{UiError, UiResult};
use crate::format;
use crate::layout;
use crate::query::Params;
use crate::reply::Reply;

/// Steps per run asked of the store: the bulk-interval sampling keeps the shape of
/// a 1,000-step curve at a fraction of the points.
const CURVE_STEPS: i64 = 500;
/// Params on the parallel-coordinates chart besides the metric.
const MAX_AXES: usize = 8;

fn name(r: &Run) -> &str {
    layout::run_name(&r.info)
}

fn param<'r>(r: &'r Run, k: &str) -> Option<&'r str> {
    r.data
        .params
        .iter()
        .find(|p| p.key == k)
        .map(|p| p.value.as_str())
}

fn metric(r: &Run, k: &str) -> Option<f64> {
    r.data.metrics.iter().find(|m| m.key == k).map(|m| m.value)
}

/// What the comparison shows: the runs, the keys chosen for each chart and the
/// sampled curves of the chosen metric.
#[derive(Debug, Clone)]
pub struct ComparePage {
    /// The request's query: the forms and links keep the rest of it.
    pub query: Params,
    /// The runs, in the order the query names them.
    pub runs: Vec<Run>,
    pub options: ChartOptions,
    pub selection: Selection,
    /// Each run's sampled history of `selection.curve_metric`, in the order of
    /// `runs` (empty when there is no curve metric).
    pub curves: Vec<Vec<Metric>>,
    /// Whether the table shows every param, not only those that differ.
    pub show_all: bool,
}

/// The keys the runs share and the ones chosen for each chart: what the query asks
/// for when the runs have it, else a default.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Metric keys, those most runs have first, then those with the longest history.
    pub metric_keys: Vec<String>,
    /// Every param key, sorted.
    pub param_keys: Vec<String>,
    /// The param keys whose values are not the same in every run.
    pub differing: Vec<String>,
    /// The metric whose curves are overlaid.
    pub curve_metric: Option<String>,
    /// The metric of the parallel-coordinates and scatter charts.
    pub target: Option<String>,
    /// The param the curves are averaged by.
    pub group: Option<String>,
    /// The param on the scatter's x axis.
    pub scatter_x: Option<String>,
}

impl Selection {
    /// The keys of `runs` and what `q` picks among them.
    pub fn new(q: &Params, runs: &[Run]) -> Selection {
        // Metrics by how many runs have them, then by how far their histories go: the
        // default curve is a shared metric with a history, not a final score.
        let mut metric_count: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
        let mut param_keys: BTreeSet<&str> = BTreeSet::new();
        for r in runs {
            for m in &r.data.metrics {
                let e = metric_count.entry(m.key.as_str()).or_default();
                e.0 += 1;
                e.1 = e.1.max(m.step);
            }
            param_keys.extend(r.data.params.iter().map(|p| p.key.as_str()));
        }
        let mut metric_keys: Vec<&str> = metric_count.keys().copied().collect();
        metric_keys.sort_by_key(|k| std::cmp::Reverse(metric_count[k]));
        let differing: Vec<&str> = match runs.first() {
            None => Vec::new(),
            Some(first_run) => param_keys
                .iter()
                .copied()
                .filter(|k| {
                    let first = param(first_run, k);
                    runs.iter().any(|r| param(r, k) != first)
                })
                .collect(),
        };
        let chosen = |key: &str, fallback: Option<&str>, allowed: &[&str]| -> Option<String> {
            q.get(key)
                .filter(|v| allowed.contains(v))
                .or(fallback)
                .map(str::to_string)
        };
        let params_list: Vec<&str> = param_keys.iter().copied().collect();
        let curve_metric = chosen("metric", metric_keys.first().copied(), &metric_keys);
        let target = chosen("pm", curve_metric.as_deref(), &metric_keys);
        let group = chosen("group", None, &params_list);
        let scatter_x = chosen(
            "sx",
            differing.first().or(param_keys.first()).copied(),
            &params_list,
        );
        let owned = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        Selection {
            metric_keys: owned(&metric_keys),
            param_keys: owned(&params_list),
            differing: owned(&differing),
            curve_metric,
            target,
            group,
            scatter_x,
        }
    }
}

/// The comparison page.
pub async fn page(state: &Services, q: Params) -> UiResult<Reply> {
    let view = ComparePage::load(state, q).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl ComparePage {
    /// The runs the query names (at least one, at most [`BULK_INTERVAL_MAX_RUNS`])
    /// and the chosen metric's curves, sampled.
    pub async fn load(state: &Services, q: Params) -> UiResult<Self> {
        let ids = q.all("run");
        if ids.is_empty() {
            return Err(UiError::BadInput(
                "select at least one run to compare ('run' in the query)".into(),
            ));
        }
        if ids.len() > BULK_INTERVAL_MAX_RUNS {
            return Err(UiError::BadInput(format!(
                "compare at most {BULK_INTERVAL_MAX_RUNS} runs at once, not {}",
                ids.len()
            )));
        }
        let run_ids = ids
            .iter()
            .map(|id| RunId::parse(id.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let runs: Vec<Run> =
            try_join_all(run_ids.iter().map(|id| state.tracking.get_run(id))).await?;
        let options = ChartOptions::from_query(&q)?;
        let selection = Selection::new(&q, &runs);
        let curves = match &selection.curve_metric {
            Some(key) => {
                let points = state
                    .tracking
                    .metric_history_bulk_interval(BulkInterval {
                        run_ids: ids.clone(),
                        metric_key: key.clone(),
                        start_step: None,
                        end_step: None,
                        max_results: Some(CURVE_STEPS),
                    })
                    .await?;
                let mut by_run: HashMap<String, Vec<Metric>> = HashMap::new();
                for m in points {
                    if let Some(id) = m.run_id.clone() {
                        by_run.entry(id).or_default().push(m);
                    }
                }
                runs.iter()
                    .map(|r| by_run.remove(r.info.run_id.as_str()).unwrap_or_default())
                    .collect()
            }
            None => Vec::new(),
        };
        let show_all = q.get("all") == Some("1");
        Ok(ComparePage {
            query: q,
            runs,
            options,
            selection,
            curves,
            show_all,
        })
    }

    /// The page's HTML: no I/O, so a test can render hand-built runs.
    pub fn render(&self) -> Markup {
        let (q, runs, options, sel) = (&self.query, &self.runs, &self.options, &self.selection);
        let metric_keys: Vec<&str> = sel.metric_keys.iter().map(String::as_str).collect();
        let param_keys: Vec<&str> = sel.param_keys.iter().map(String::as_str).collect();
        let differing: Vec<&str> = sel.differing.iter().map(String::as_str).collect();
        let (curve_metric, target, group, scatter_x) =
            (&sel.curve_metric, &sel.target, &sel.group, &sel.scatter_x);
        let curves = match curve_metric {
            Some(key) => {
                let per_run: Vec<(&Run, Vec<(f64, f64)>)> = runs
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let history = self.curves.get(i).map(Vec::as_slice).unwrap_or(&[]);
                        (r, options.points(history))
                    })
                    .collect();
                let series = match group {
                    Some(g) => grouped(g, &per_run),
                    None => per_run
                        .into_iter()
                        .map(|(r, points)| Series {
                            label: name(r).to_string(),
                            points,
                            band: Vec::new(),
                        })
                        .collect(),
                };
                Some(
                    LineChart {
                        id: "curves",
                        title: key,
                        x_label: options.x_label(),
                        log_y: options.log_y,
                        x_range: options.range,
                        series,
                    }
                    .render(),
                )
            }
            None => None,
        };

        let item = |r: &Run, values: Vec<Option<Value>>| Item {
            label: name(r).to_string(),
            href: format!("/runs/{}", r.info.run_id),
            values,
        };
        let parallel = target.as_ref().map(|t| {
            let axes_params: Vec<&str> = differing.iter().copied().take(MAX_AXES).collect();
            let mut axes: Vec<String> = axes_params.iter().map(|s| s.to_string()).collect();
            axes.push(t.clone());
            let items: Vec<Item> = runs
                .iter()
                .map(|r| {
                    let mut v: Vec<Option<Value>> = axes_params
                        .iter()
                        .map(|k| param(r, k).map(Value::parse))
                        .collect();
                    v.push(metric(r, t).map(Value::Num));
                    item(r, v)
                })
                .collect();
            chart::parallel("parallel", &axes, &items)
        });
        let scatter = match (scatter_x, target) {
            (Some(x), Some(t)) => {
                let items: Vec<Item> = runs
                    .iter()
                    .map(|r| {
                        item(
                            r,
                            vec![param(r, x).map(Value::parse), metric(r, t).map(Value::Num)],
                        )
                    })
                    .collect();
                Some(chart::scatter("scatter", x, t, &items))
            }
            _ => None,
        };

        let show_all = self.show_all;
        let table_params: Vec<&str> = if show_all {
            param_keys.clone()
        } else {
            differing.clone()
        };
        let select = |id: &str,
                      label: &str,
                      key: &str,
                      values: &[&str],
                      current: Option<&str>,
                      none: Option<&str>| {
            html! {
                label for=(id) { (label) }
                select id=(id) name=(key) data-autosubmit {
                    @if let Some(n) = none { option value="" selected[current.is_none()] { (n) } }
                    @for v in values { option value=(v) selected[Some(*v) == current] { (v) } }
                }
            }
        };
        let keep = q.without(&["metric", "group", "pm", "sx"]);
        let body = html! {
            (layout::crumbs(&[("Experiments", Some("/experiments".into())), ("Compare", None)]))
            h1 { "Comparing " (runs.len()) " runs" }
            form.controls method="get" action="/compare" {
                @for (k, v) in &keep.0 { input type="hidden" name=(k) value=(v); }
                (select("c-metric", "Metric", "metric", &metric_keys, curve_metric.as_deref(), None))
                (select("c-group", "Group by", "group", &param_keys, group.as_deref(), Some("each run")))
                (select("c-pm", "Target metric", "pm", &metric_keys, target.as_deref(), None))
                (select("c-sx", "Scatter x", "sx", &param_keys, scatter_x.as_deref(), None))
                noscript { button type="submit" { "Apply" } }
            }
            section aria-labelledby="h-curves" {
                h2 #h-curves { "Metric curves" }
                @match curves {
                    Some(c) => { (options.form(q)) (c) },
                    None => p.empty { "These runs have no metrics." },
                }
            }
            div.cols {
                section aria-labelledby="h-parallel" {
                    h2 #h-parallel { "Parallel coordinates" }
                    @if let Some(p) = parallel { (p) }
                }
                section aria-labelledby="h-scatter" {
                    h2 #h-scatter { "Scatter" }
                    @match scatter { Some(s) => (s), None => p.empty { "Needs a param and a metric." } }
                }
            }
            section aria-labelledby="h-diff" {
                h2 #h-diff { @if show_all { "All params" } @else { "Params that differ" } }
                p {
                    @if show_all {
                        a href=(q.with("all", &[])) { "Show only params that differ" }
                    } @else {
                        a href=(q.with("all", &["1"])) { "Show all " (param_keys.len()) " params" }
                    }
                }
                (diff_table(runs, &table_params, &metric_keys))
            }
        };
        layout::document("Compare runs", body)
    }
}

/// One series per value of `group`: the mean of its runs' curves at each x, with the
/// min-max band around it.
fn grouped(group: &str, per_run: &[(&Run, Vec<(f64, f64)>)]) -> Vec<Series> {
    let mut groups: BTreeMap<String, Vec<&Vec<(f64, f64)>>> = BTreeMap::new();
    for (r, pts) in per_run {
        let key = param(r, group).unwrap_or("(none)").to_string();
        groups.entry(key).or_default().push(pts);
    }
    groups
        .into_iter()
        .map(|(value, curves)| {
            let mut at: BTreeMap<u64, (f64, f64, f64, f64, usize)> = BTreeMap::new();
            for c in &curves {
                for &(x, y) in c.iter() {
                    if !y.is_finite() {
                        continue;
                    }
                    // Keys by the float's bits, made sortable: same step, same key.
                    let bits = x.to_bits();
                    let key = if x < 0.0 { !bits } else { bits | (1 << 63) };
                    let e = at
                        .entry(key)
                        .or_insert((x, 0.0, f64::INFINITY, f64::NEG_INFINITY, 0));
                    e.1 += y;
                    e.2 = e.2.min(y);
                    e.3 = e.3.max(y);
                    e.4 += 1;
                }
            }
            let rows: Vec<(f64, f64, f64, f64)> = at
                .into_values()
                .map(|(x, sum, lo, hi, n)| (x, sum / n as f64, lo, hi))
                .collect();
            Series {
                label: format!("{group}={value} ({} runs)", curves.len()),
                points: thin(
                    &rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
                    MAX_POINTS,
                ),
                band: rows.iter().map(|r| (r.0, r.2, r.3)).collect(),
            }
        })
        .collect()
}

fn diff_table(runs: &[Run], params: &[&str], metrics: &[&str]) -> Markup {
    html! {
        div.scroll {
            table.grid.diff {
                thead { tr {
                    th { "" }
                    @for r in runs { th { a href={ "/runs/" (r.info.run_id) } { (name(r)) } } }
                } }
                tbody {
                    @if params.is_empty() {
                        tr { td colspan=(runs.len() + 1) { "All params are the same." } }
                    }
                    @for k in params {
                        tr { th scope="row" { "param " (k) } @for r in runs { td { (param(r, k).unwrap_or("—")) } } }
                    }
                    @for k in metrics {
                        tr { th scope="row" { "metric " (k) } @for r in runs { td.num { (metric(r, k).map(format::number).unwrap_or_else(|| "—".into())) } } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::fixtures::{self, with_data};
    use cairn_core::entities::{KeyValue, LifecycleStage, RunData, RunInfo, RunStatus};

    fn run(id: &str, lr: &str) -> Run {
        Run {
            info: RunInfo {
                run_id: id.into(),
                run_uuid: id.into(),
                run_name: id.into(),
                experiment_id: "1".into(),
                user_id: "u".into(),
                status: RunStatus::Finished,
                start_time: Some(0),
                end_time: None,
                artifact_uri: String::new(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData {
                params: vec![KeyValue::new("lr", lr)],
                ..Default::default()
            },
            inputs: Default::default(),
            outputs: Default::default(),
        }
    }

    #[test]
    fn groups_average_with_a_band() {
        let (a, b, c) = (run("a", "0.1"), run("b", "0.1"), run("c", "1"));
        let per_run = vec![
            (&a, vec![(0.0, 1.0), (1.0, 3.0)]),
            (&b, vec![(0.0, 3.0), (1.0, 5.0)]),
            (&c, vec![(0.0, 7.0)]),
        ];
        let s = grouped("lr", &per_run);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].label, "lr=0.1 (2 runs)");
        assert_eq!(s[0].points, vec![(0.0, 2.0), (1.0, 4.0)]);
        assert_eq!(s[0].band, vec![(0.0, 1.0, 3.0), (1.0, 3.0, 5.0)]);
        assert_eq!(s[1].points, vec![(0.0, 7.0)]);
    }

    /// Two runs that share `loss` (with a history) and `lr`, and differ in `lr`.
    fn two_runs() -> Vec<Run> {
        vec![
            with_data(
                fixtures::run("aaa", "alpha"),
                &[("lr", "0.1"), ("model", "linear")],
                &[("loss", 0.5, 9), ("acc", 0.9, 0)],
                &[],
            ),
            with_data(
                fixtures::run("bbb", "<beta>"),
                &[("lr", "0.2"), ("model", "linear")],
                &[("loss", 0.25, 9)],
                &[],
            ),
        ]
    }

    fn compare(q: &str, runs: Vec<Run>, curves: Vec<Vec<Metric>>) -> ComparePage {
        let query = fixtures::query(q);
        ComparePage {
            options: ChartOptions::from_query(&query).expect("valid options"),
            selection: Selection::new(&query, &runs),
            show_all: query.get("all") == Some("1"),
            query,
            runs,
            curves,
        }
    }

    #[test]
    fn the_selection_defaults_to_a_shared_metric_and_a_differing_param() {
        let runs = two_runs();
        let s = Selection::new(&fixtures::query(""), &runs);
        assert_eq!(s.metric_keys, vec!["loss", "acc"]);
        assert_eq!(s.param_keys, vec!["lr", "model"]);
        assert_eq!(s.differing, vec!["lr"]);
        assert_eq!(s.curve_metric.as_deref(), Some("loss"));
        assert_eq!(s.target.as_deref(), Some("loss"));
        assert_eq!((s.group, s.scatter_x.as_deref()), (None, Some("lr")));
        // What the query asks for, when the runs have it.
        let s = Selection::new(&fixtures::query("metric=acc&group=model&pm=nope"), &runs);
        assert_eq!(s.curve_metric.as_deref(), Some("acc"));
        assert_eq!(s.target.as_deref(), Some("acc"));
        assert_eq!(s.group.as_deref(), Some("model"));
    }

    #[test]
    fn runs_are_compared_side_by_side() {
        let curves = vec![
            vec![
                fixtures::metric("loss", 1.0, 0),
                fixtures::metric("loss", 0.5, 9),
            ],
            vec![
                fixtures::metric("loss", 0.75, 0),
                fixtures::metric("loss", 0.25, 9),
            ],
        ];
        let html = compare("run=aaa&run=bbb", two_runs(), curves)
            .render()
            .into_string();
        assert!(html.contains("<h1>Comparing 2 runs</h1>"), "{html}");
        assert!(html.contains(r#"id="curves""#) && html.contains(r#"id="parallel""#));
        assert!(html.contains(r#"id="scatter""#));
        assert!(
            html.contains(r#"<option value="loss" selected>loss</option>"#),
            "{html}"
        );
        // The diff table: only the param that differs, every metric, a dash where
        // a run has none, names escaped.
        assert!(
            html.contains("param lr") && !html.contains("param model"),
            "{html}"
        );
        assert!(html.contains("Show all 2 params"));
        assert!(
            html.contains(r#"<td class="num">0.9</td><td class="num">—</td>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="/runs/bbb">&lt;beta&gt;</a>"#),
            "{html}"
        );
        // The hidden fields keep the runs.
        assert!(html.contains(r#"<input type="hidden" name="run" value="aaa">"#));

        let html = compare("run=aaa&run=bbb&all=1", two_runs(), Vec::new())
            .render()
            .into_string();
        assert!(
            html.contains("All params") && html.contains("param model"),
            "{html}"
        );
    }

    #[test]
    fn runs_without_metrics_or_differences_say_so() {
        let runs = vec![fixtures::run("aaa", "a"), fixtures::run("bbb", "b")];
        let html = compare("run=aaa&run=bbb", runs, Vec::new())
            .render()
            .into_string();
        assert!(html.contains("These runs have no metrics."), "{html}");
        assert!(html.contains("Needs a param and a metric."));
        assert!(html.contains("All params are the same."));
    }
}
