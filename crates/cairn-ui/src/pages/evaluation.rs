//! A model's Evaluation page: each version's online metrics over time (a line per
//! version, champion and challenger side by side), label coverage, and the newest
//! drift report with a row per column and both distributions drawn.

use cairn_core::ids::ModelName;
use cairn_core::monitor::{EvalQuery, MonitorReport, OnlineEvaluation, Task, Window};
use cairn_core::registry::RegisteredModel;
use cairn_monitor::drift::Distribution;
use cairn_service::Services;
use maud::{html, Markup, PreEscaped};

use crate::chart::{LineChart, Series};
use crate::error::UiResult;
use crate::format;
use crate::layout;
use crate::query::{segment, Params};
use crate::reply::Reply;

const DAY: i64 = 86_400_000;

/// What the page shows.
#[derive(Debug, Clone)]
pub struct EvaluationPage {
    pub name: String,
    pub model: RegisteredModel,
    /// `7d`, `30d`, ... as asked.
    pub since: String,
    pub window: Window,
    pub evaluation: OnlineEvaluation,
    pub drift: Option<MonitorReport>,
}

/// The Evaluation page of a model.
pub async fn page(state: &Services, name: String, q: Params) -> UiResult<Reply> {
    let view = EvaluationPage::load(state, name, q).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl EvaluationPage {
    pub async fn load(state: &Services, name: String, q: Params) -> UiResult<Self> {
        let name = ModelName::parse(name)?;
        let model = state.registry.get_registered_model(&name).await?;
        let since = q.get("since").unwrap_or("30d").to_string();
        let days = humantime::parse_duration(&since).map_or(30 * DAY, |d| d.as_millis() as i64);
        let window: Window = q.get("window").unwrap_or("day").parse()?;
        let until = cairn_service::now_ms();
        let evaluation = state
            .monitor
            .evaluate(EvalQuery {
                model_name: name.as_str().to_string(),
                version: None,
                since_ms: until - days,
                until_ms: until,
                window,
                prediction_key: None,
                probability_key: None,
                alias: None,
            })
            .await?;
        let drift = state
            .monitor
            .reports(name.as_str(), "drift", 1)
            .await?
            .into_iter()
            .next();
        Ok(EvaluationPage {
            name: name.into_string(),
            model,
            since,
            window,
            evaluation,
            drift,
        })
    }

    /// The aliases pointing at a version (`@champion`).
    fn aliases(&self, version: i64) -> Vec<&str> {
        self.model
            .aliases
            .iter()
            .filter(|a| a.version == version.to_string())
            .map(|a| a.alias.as_str())
            .collect()
    }

    /// The metrics the page charts and tabulates, by task.
    fn metrics(&self) -> &'static [&'static str] {
        match self.evaluation.task {
            Task::Classification => &[
                "accuracy",
                "f1_macro",
                "precision_macro",
                "recall_macro",
                "roc_auc",
            ],
            Task::Regression => &["mae", "rmse", "r2", "mape"],
        }
    }

    pub fn render(&self) -> Markup {
        let name = self.name.as_str();
        let url = format!("/registry/{}", segment(name));
        let e = &self.evaluation;
        let metrics = self.metrics();
        let value = |w: &cairn_core::monitor::WindowMetrics, m: &str| -> Option<f64> {
            let v = serde_json::to_value(w).ok()?;
            v.get("classification")
                .and_then(|c| c.get(m))
                .or_else(|| v.get("regression").and_then(|r| r.get(m)))
                .and_then(serde_json::Value::as_f64)
        };
        // x: days since the range's start, so windows of every version line up.
        let x = |ms: i64| (ms - e.since_ms) as f64 / DAY as f64;
        let chart =
            |id: &str,
             title: &str,
             f: &dyn Fn(&cairn_core::monitor::WindowMetrics) -> Option<f64>| {
                let series: Vec<Series> = e
                    .versions
                    .iter()
                    .map(|v| {
                        let aliases = self.aliases(v.version);
                        Series {
                            label: if aliases.is_empty() {
                                format!("version {}", v.version)
                            } else {
                                format!("version {} @{}", v.version, aliases.join(" @"))
                            },
                            points: v
                                .windows
                                .iter()
                                .filter_map(|w| f(w).map(|y| (x(w.start_ms), y)))
                                .collect(),
                            band: Vec::new(),
                        }
                    })
                    .collect();
                LineChart {
                    id,
                    title,
                    x_label: "days since the range's start",
                    log_y: false,
                    x_range: None,
                    series,
                }
                .render()
            };
        let body = html! {
            (layout::crumbs(&[("Models", Some("/registry".into())), (name, Some(url.clone())), ("Evaluation", None)]))
            h1 { "Evaluation: " (name) }
            form.filters method="get" {
                label for="since" { "Since" }
                input #since name="since" value=(self.since) size="6";
                label for="window" { "Window" }
                select #window name="window" {
                    @for w in ["hour", "day", "week", "all"] {
                        option value=(w) selected[serde_json::to_value(self.window).ok().and_then(|v| v.as_str().map(str::to_string)).as_deref() == Some(w)] { (w) }
                    }
                }
                button type="submit" { "Show" }
            }
            p.meta {
                "Predictions from " (format::time_ms(Some(e.since_ms))) " to " (format::time_ms(Some(e.until_ms)))
                ", read from output " code { (e.prediction_key) }
                @if let Some(p) = &e.probability_key { " (probabilities: " code { (p) } ")" }
                "."
            }
            section aria-labelledby="h-versions" {
                h2 #h-versions { "Versions side by side" }
                @if e.versions.is_empty() {
                    p.empty { "No logged predictions in this range." }
                } @else {
                    table.grid #online-metrics {
                        thead { tr {
                            th { "Version" } th { "Aliases" } th { "Predictions" } th { "Labelled" } th { "Coverage" } th { "Mean label delay" }
                            @for m in metrics { th { (m) } }
                        } }
                        tbody {
                            @for v in &e.versions {
                                tr #{ "v" (v.version) } {
                                    td.num { (v.version) }
                                    td { @for a in self.aliases(v.version) { span.alias { "@" (a) } " " } }
                                    td.num { (v.total.predictions) }
                                    td.num { (v.total.labelled) }
                                    td.num.coverage { (format!("{:.1} %", v.total.coverage * 100.0)) }
                                    td.num { (v.total.mean_label_delay_ms.map(|d| format::duration_ms(Some(0), Some(d as i64))).unwrap_or_default()) }
                                    @for m in metrics {
                                        td.num data-metric=(m) { (value(&v.total, m).map(format::number).unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !e.versions.is_empty() {
                section aria-labelledby="h-time" {
                    h2 #h-time { "Over time" }
                    div.charts {
                        @for m in metrics.iter().take(2) {
                            (chart(&format!("chart-{m}"), m, &|w| value(w, m)))
                        }
                        (chart("chart-coverage", "label coverage", &|w| Some(w.coverage)))
                    }
                }
            }
            section aria-labelledby="h-drift" {
                h2 #h-drift { "Data drift" }
                (self.drift_section())
            }
        };
        layout::document(&format!("{name}: evaluation"), body)
    }

    fn drift_section(&self) -> Markup {
        let Some(r) = &self.drift else {
            return html! { p.empty { "No drift report yet: run " code { "cairn drift check --model " (self.name) " ..." } " or a job's drift step." } };
        };
        let columns = r.report.get("columns").and_then(|c| c.as_object());
        html! {
            p.meta {
                "Newest report, " (format::time_ms(Some(r.created_ms)))
                @if let Some(v) = r.model_version { ", version " (v) }
                @if let Some(j) = &r.job_run_id { ", from job run " a href={ "/job-runs/" (j) } { (j) } }
                ": "
                strong #drift-verdict {
                    @if r.summary.get("dataset_drift").and_then(|d| d.as_bool()) == Some(true) { "dataset drift" } @else { "no dataset drift" }
                }
                " (" (r.summary.get("drifted_columns").and_then(|d| d.as_i64()).unwrap_or(0)) " of "
                (r.summary.get("columns").and_then(|d| d.as_i64()).unwrap_or(0)) " columns)."
            }
            table.grid #drift {
                thead { tr { th { "Column" } th { "Test" } th { "Score" } th { "Threshold" } th { "Drift" } th { "Reference (grey) and current (blue)" } } }
                tbody {
                    @for (col, c) in columns.into_iter().flatten() {
                        tr.drift[c.get("drift").and_then(|d| d.as_bool()) == Some(true)] {
                            td { (col) }
                            td { code { (c.get("stattest").and_then(|s| s.as_str()).unwrap_or("")) } }
                            td.num { (c.get("score").and_then(|s| s.as_f64()).map(|s| format!("{s:.6}")).unwrap_or_else(|| "n/a".into())) }
                            td.num { (c.get("threshold").and_then(|s| s.as_f64()).map(format::number).unwrap_or_default()) }
                            td { @if c.get("drift").and_then(|d| d.as_bool()) == Some(true) { "yes" } @else { "no" } }
                            td {
                                @if let Some(d) = c.get("distribution").and_then(|d| serde_json::from_value::<Distribution>(d.clone()).ok()) {
                                    (PreEscaped(cairn_monitor::html::histogram(col, &d)))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
