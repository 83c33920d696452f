//! One run: its info, params, latest metrics, tags, input datasets, metric history
//! charts (step or relative time on x, log scale, smoothing, zoom) and artifacts.

use cairn_artifacts::FileInfo;
use cairn_core::entities::{Experiment, Metric, Run};
use cairn_core::ids::RunId;
use cairn_service::Services;
use futures::future::try_join_all;
use maud::{html, Markup};

use super::artifacts;
use super::runs::PARENT_TAG;
use crate::chart::{self, LineChart, Series};
use crate::error::UiResult;
use crate::format;
use crate::layout;
use crate::query::Params;
use crate::reply::Reply;

/// Points drawn per curve: more than a chart's width in pixels adds nothing visible.
pub const MAX_POINTS: usize = 1000;

/// How a chart's x axis, y scale and smoothing are set, from the query string.
#[derive(Debug, Clone)]
pub struct ChartOptions {
    pub x: XAxis,
    pub log_y: bool,
    pub smooth: f64,
    pub range: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    Step,
    /// Seconds since the run's first point of the metric.
    Relative,
}

impl ChartOptions {
    pub fn from_query(q: &Params) -> UiResult<ChartOptions> {
        let x = match q.get("x") {
            Some("relative") => XAxis::Relative,
            _ => XAxis::Step,
        };
        let range = match (q.get("xmin"), q.get("xmax")) {
            (Some(_), Some(_)) => {
                let a = q.number("xmin", 0.0, f64::MIN, f64::MAX)?;
                let b = q.number("xmax", 0.0, f64::MIN, f64::MAX)?;
                (a < b).then_some((a, b))
            }
            _ => None,
        };
        Ok(ChartOptions {
            x,
            log_y: q.get("log") == Some("1"),
            smooth: q.number("smooth", 0.0, 0.0, 0.99)?,
            range,
        })
    }

    pub fn x_label(&self) -> &'static str {
        match self.x {
            XAxis::Step => "step",
            XAxis::Relative => "seconds since the first point",
        }
    }

    /// A history as (x, y) points, in x order, thinned to [`MAX_POINTS`] and smoothed.
    pub fn points(&self, history: &[Metric]) -> Vec<(f64, f64)> {
        let t0 = history.iter().map(|m| m.timestamp).min().unwrap_or(0);
        let mut pts: Vec<(f64, f64)> = history
            .iter()
            .map(|m| {
                let x = match self.x {
                    XAxis::Step => m.step as f64,
                    XAxis::Relative => (m.timestamp - t0) as f64 / 1000.0,
                };
                (x, m.value)
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart::smooth(&thin(&pts, MAX_POINTS), self.smooth)
    }

    /// The form that sets these options, keeping the rest of the query.
    pub fn form(&self, q: &Params) -> Markup {
        let keep = q.without(&["x", "log", "smooth", "xmin", "xmax"]);
        html! {
            form.chart-options method="get" {
                @for (k, v) in &keep.0 { input type="hidden" name=(k) value=(v); }
                label for="opt-x" { "X axis" }
                select #opt-x name="x" data-autosubmit {
                    option value="step" selected[self.x == XAxis::Step] { "step" }
                    option value="relative" selected[self.x == XAxis::Relative] { "relative time" }
                }
                label.check { input type="checkbox" name="log" value="1" checked[self.log_y] data-autosubmit; "log scale" }
                label for="opt-smooth" { "Smoothing" }
                input #opt-smooth type="range" name="smooth" min="0" max="0.99" step="0.01" value=(self.smooth) data-autosubmit;
                output for="opt-smooth" { (self.smooth) }
                // The zoom range by keyboard too (dragging across a chart sets the same).
                label for="opt-xmin" { "x from" }
                input #opt-xmin type="number" step="any" name="xmin" size="8" value=[self.range.map(|r| r.0)];
                label for="opt-xmax" { "to" }
                input #opt-xmax type="number" step="any" name="xmax" size="8" value=[self.range.map(|r| r.1)];
                button type="submit" { "Apply" }
                @if self.range.is_some() {
                    a href=(q.without(&["xmin", "xmax"]).with("x", &[match self.x { XAxis::Step => "step", XAxis::Relative => "relative" }])) { "Reset zoom" }
                }
            }
        }
    }
}

/// At most `n` points, evenly spread, keeping the first and last.
pub fn thin(pts: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    if pts.len() <= n || n < 2 {
        return pts.to_vec();
    }
    let last = pts.len() - 1;
    (0..n).map(|i| pts[i * last / (n - 1)]).collect()
}

/// What a run's page shows: the run, its experiment, every metric's history and the
/// top folder of its artifacts.
#[derive(Debug, Clone)]
pub struct RunPage {
    /// The request's query: the chart options' form keeps the rest of it.
    pub query: Params,
    pub run: Run,
    pub experiment: Experiment,
    pub options: ChartOptions,
    /// Each metric's key and whole history, by key.
    pub histories: Vec<(String, Vec<Metric>)>,
    /// Where the run's artifacts are in the server's store; `None` when its URI
    /// points elsewhere.
    pub artifact_root: Option<String>,
    /// The top folder of the run's artifacts (empty when unreadable).
    pub artifacts: Vec<FileInfo>,
}

/// A run's page.
pub async fn page(state: &Services, id: String, q: Params) -> UiResult<Reply> {
    let view = RunPage::load(state, id, q).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl RunPage {
    /// The run, its experiment, its metric histories and its artifact listing.
    pub async fn load(state: &Services, id: String, q: Params) -> UiResult<Self> {
        let id = RunId::parse(id)?;
        let run = state.tracking.get_run(&id).await?;
        let experiment = state
            .tracking
            .get_experiment(&run.info.experiment_id)
            .await?;
        let options = ChartOptions::from_query(&q)?;
        let mut keys: Vec<&str> = run.data.metrics.iter().map(|m| m.key.as_str()).collect();
        keys.sort_unstable();
        let pages = try_join_all(keys.iter().map(|k| {
            let tracking = state.tracking.clone();
            let id = id.clone();
            async move { tracking.metric_history(&id, k, None, None).await }
        }))
        .await?;
        let histories = keys
            .iter()
            .zip(pages)
            .map(|(k, page)| (k.to_string(), page.items))
            .collect();
        let artifact_root = artifacts::run_root(&run.info.artifact_uri);
        let artifacts = match &artifact_root {
            Some(r) => state.artifacts.list(Some(r)).await.unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(RunPage {
            query: q,
            run,
            experiment,
            options,
            histories,
            artifact_root,
            artifacts,
        })
    }

    /// The page's HTML: no I/O, so a test can render a hand-built run.
    pub fn render(&self) -> Markup {
        let (run, exp, options, q) = (&self.run, &self.experiment, &self.options, &self.query);
        let name = layout::run_name(&run.info).to_string();
        let body = html! {
            (layout::crumbs(&[
                ("Experiments", Some("/experiments".into())),
                (&exp.name, Some(format!("/experiments/{}", exp.experiment_id))),
                (&name, None),
            ]))
            h1 { (name) " " (layout::status(run.info.status.as_str())) }
            (info(run))
            div.cols {
                section aria-labelledby="h-params" {
                    h2 #h-params { "Parameters (" (run.data.params.len()) ")" }
                    (kv_table(run.data.params.iter().map(|p| (p.key.as_str(), p.value.clone()))))
                }
                section aria-labelledby="h-metrics" {
                    h2 #h-metrics { "Metrics (" (run.data.metrics.len()) ")" }
                    @if run.data.metrics.is_empty() { p.empty { "No metrics." } } @else {
                        table.grid.kv {
                            thead { tr { th { "Metric" } th { "Latest" } th { "Step" } } }
                            tbody {
                                @for m in sorted(&run.data.metrics) {
                                    tr {
                                        td { a href={ "#chart-" (chart_id(&m.key)) } { (m.key) } }
                                        td.num { (format::number(m.value)) }
                                        td.num { (m.step) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-charts" {
                h2 #h-charts { "Metric history" }
                @if self.histories.is_empty() { p.empty { "No metrics logged." } } @else {
                    (options.form(q))
                    div.charts {
                        @for (k, h) in &self.histories {
                            @let id = format!("chart-{}", chart_id(k));
                            (LineChart {
                                id: &id,
                                title: k,
                                x_label: options.x_label(),
                                log_y: options.log_y,
                                x_range: options.range,
                                series: vec![Series { label: k.to_string(), points: options.points(h), band: Vec::new() }],
                            }.render())
                        }
                    }
                }
            }
            section aria-labelledby="h-tags" {
                h2 #h-tags { "Tags" }
                (kv_table(run.data.tags.iter().map(|t| (t.key.as_str(), t.value.clone()))))
            }
            section aria-labelledby="h-inputs" {
                h2 #h-inputs { "Datasets" }
                @if run.inputs.dataset_inputs.is_empty() { p.empty { "No input datasets logged." } } @else {
                    table.grid {
                        thead { tr { th { "Name" } th { "Digest" } th { "Context" } th { "Source" } th { "Schema" } } }
                        tbody {
                            @for d in &run.inputs.dataset_inputs {
                                tr {
                                    td { (d.dataset.name) }
                                    td { code { (d.dataset.digest) } }
                                    td { (d.tags.iter().find(|t| t.key == "mlflow.data.context").map(|t| t.value.as_str()).unwrap_or("")) }
                                    td { (d.dataset.source_type) ": " code.wrap { (d.dataset.source) } }
                                    td { @if let Some(s) = &d.dataset.schema { details { summary { "schema" } pre { (s) } } } }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-artifacts" {
                h2 #h-artifacts { "Artifacts" }
                @if self.artifact_root.is_none() {
                    p.empty { "This run's artifacts are at " code { (run.info.artifact_uri) } ", outside the server's artifact store." }
                } @else if self.artifacts.is_empty() {
                    p.empty { "No artifacts." }
                } @else {
                    (artifacts::listing(&run.info.run_id, "", &self.artifacts))
                    p { a href={ "/runs/" (run.info.run_id) "/artifacts" } { "Browse artifacts with previews →" } }
                }
            }
        };
        layout::document(&name, body)
    }
}

/// A metric key as an HTML id.
pub fn chart_id(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn sorted(metrics: &[Metric]) -> Vec<&Metric> {
    let mut v: Vec<&Metric> = metrics.iter().collect();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    v
}

fn info(run: &Run) -> Markup {
    let i = &run.info;
    let parent = run.data.tags.iter().find(|t| t.key == PARENT_TAG);
    html! {
        dl.info {
            dt { "Run ID" } dd { code { (i.run_id) } }
            @if let Some(p) = parent { dt { "Parent run" } dd { a href={ "/runs/" (p.value) } { code { (p.value) } } } }
            dt { "Started" } dd { (format::time_ms(i.start_time)) }
            dt { "Duration" } dd { (format::duration_ms(i.start_time, i.end_time)) }
            dt { "User" } dd { (i.user_id) }
            dt { "State" } dd { (i.lifecycle_stage.as_str()) }
            dt { "Artifacts" } dd { code.wrap { (i.artifact_uri) } }
        }
    }
}

fn kv_table<'a>(rows: impl Iterator<Item = (&'a str, String)>) -> Markup {
    let mut rows: Vec<(&str, String)> = rows.collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    html! {
        @if rows.is_empty() { p.empty { "None." } } @else {
            table.grid.kv {
                tbody { @for (k, v) in &rows { tr { th scope="row" { (k) } td.wrap { (v) } } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::fixtures::{experiment, metric, query, run, with_data};

    fn page(run: Run, histories: Vec<(String, Vec<Metric>)>, files: Vec<FileInfo>) -> RunPage {
        let query = query("x=relative");
        RunPage {
            options: ChartOptions::from_query(&query).expect("valid options"),
            query,
            artifact_root: artifacts::run_root(&run.info.artifact_uri),
            run,
            experiment: experiment("1", "exp"),
            histories,
            artifacts: files,
        }
    }

    #[test]
    fn a_run_shows_its_values_charts_and_artifacts() {
        let r = with_data(
            run("abc", "r & d"),
            &[("lr", "<0.1>")],
            &[("loss", 0.25, 2), ("acc", 3.0, 2)],
            &[(PARENT_TAG, "par"), ("note", "x")],
        );
        let histories = vec![
            ("acc".to_string(), vec![metric("acc", 3.0, 2)]),
            (
                "loss".to_string(),
                vec![metric("loss", 1.0, 1), metric("loss", 0.25, 2)],
            ),
        ];
        let files = vec![FileInfo {
            path: "model".into(),
            is_dir: true,
            file_size: None,
        }];
        let html = page(r, histories, files).render().into_string();
        assert!(html.contains("<title>r &amp; d · cairn</title>"), "{html}");
        assert!(html.contains(r#"href="/experiments/1">exp</a>"#), "{html}");
        assert!(
            html.contains(r#"<a href="/runs/par"><code>par</code></a>"#),
            "{html}"
        );
        assert!(html.contains("Parameters (1)") && html.contains("&lt;0.1&gt;"));
        // Latest values, sorted by key, linking to their charts.
        let (acc, loss) = (
            html.find(r##"href="#chart-acc""##).expect("acc's row"),
            html.find(r##"href="#chart-loss""##).expect("loss's row"),
        );
        assert!(acc < loss);
        assert!(html.contains(r#"<td class="num">0.25</td>"#), "{html}");
        assert!(html.contains(r#"<td class="num">3</td>"#));
        assert!(html.contains(r#"id="chart-loss""#) && html.contains(r#"id="chart-acc""#));
        // The options form shows the query's choice.
        assert!(
            html.contains(r#"<option value="relative" selected>"#),
            "{html}"
        );
        assert!(html.contains("No input datasets logged."));
        assert!(
            html.contains(r#"href="/runs/abc/artifacts?path=model">model/</a>"#),
            "{html}"
        );
    }

    #[test]
    fn a_bare_run_with_artifacts_elsewhere_says_so() {
        let mut r = run("abc", "");
        r.info.artifact_uri = "s3://bucket/x".into();
        let html = page(r, Vec::new(), Vec::new()).render().into_string();
        // A run without a name goes by its id.
        assert!(html.contains("<title>abc · cairn</title>"), "{html}");
        assert!(html.contains("No metrics.") && html.contains("No metrics logged."));
        assert!(!html.contains("chart-options"));
        assert!(html.contains("<code>s3://bucket/x</code>, outside the server's artifact store."));
        assert!(html.contains("None."), "no params and no tags: {html}");
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let pts: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64, 0.0)).collect();
        let t = thin(&pts, 1000);
        assert_eq!(t.len(), 1000);
        assert_eq!(t[0].0, 0.0);
        assert_eq!(t[999].0, 4999.0);
    }
}
