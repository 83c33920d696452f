//! Jobs: the jobs folder's jobs with their last runs, a job's page (its DAG drawn, its
//! schedules and triggers, the run form built from its typed parameters, its runs),
//! and a run's page (its steps as a graph and a timeline, live logs, parameters,
//! outputs, and links to the MLflow runs its steps made).
//!
//! A running run's page follows the run with `app.js` (the REST API's run and logs,
//! polled), and reloads once when it ends; without JavaScript a reload shows the same.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::entities::{Run, ViewType};
use cairn_core::jobs::{JobRun, JobRunId, LogLine, State, StepRun};
use cairn_jobs::spec::{ParamType, ScheduleKind, Trigger};
use cairn_jobs::JobSpec;
use cairn_service::jobs::{ScheduleState, Start};
use cairn_service::Services;
use maud::{html, Markup};
use serde_json::{Map, Value};

use crate::error::{UiError, UiResult};
use crate::format;
use crate::layout;
use crate::query::{segment, Params};
use crate::reply::Reply;

/// Runs listed on a job's page.
pub const RUNS: u32 = 50;
/// Log lines a run's page shows at load (the rest follow live).
pub const LOG_LINES: u32 = 5_000;

fn job_url(name: &str) -> String {
    format!("/jobs/{}", segment(name))
}

fn run_url(id: &str) -> String {
    format!("/job-runs/{}", segment(id))
}

fn state_label(s: State) -> Markup {
    html! { span.state data-state=(s.as_str()) { (s.as_str()) } }
}

/// The MLflow tag a job step's runs carry (set by `cairn train`).
const JOB_RUN_TAG: &str = "cairn.job_run_id";

// ---- the list ----------------------------------------------------------------------

/// A job and its newest run.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub job: Arc<JobSpec>,
    pub error: Option<String>,
    pub last: Option<JobRun>,
    pub schedules: Vec<ScheduleState>,
}

#[derive(Debug, Clone)]
pub struct JobList {
    /// Whether the server has a jobs folder at all.
    pub folder: Option<String>,
    pub jobs: Vec<JobRow>,
    /// Files that define no job because they do not read: (file, error).
    pub broken: Vec<(String, String)>,
}

pub async fn list(state: &Services, _q: Params) -> UiResult<Reply> {
    let view = JobList::load(state).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl JobList {
    pub async fn load(state: &Services) -> UiResult<Self> {
        let Some(lib) = state.jobs.library_state() else {
            return Ok(JobList {
                folder: None,
                jobs: Vec::new(),
                broken: Vec::new(),
            });
        };
        let folder = state.jobs.library().map(|l| l.dir().display().to_string());
        let recent = state.jobs.list_runs(None, 1000).await?;
        let mut last: HashMap<&str, &JobRun> = HashMap::new();
        for r in &recent {
            last.entry(r.job_name.as_str()).or_insert(r);
        }
        let mut jobs = Vec::with_capacity(lib.items.len());
        for j in lib.items.values() {
            jobs.push(JobRow {
                job: Arc::clone(j),
                error: lib.error_for(&j.name).map(str::to_string),
                last: last.get(j.name.as_str()).map(|r| (*r).clone()),
                schedules: state.jobs.schedules(j).await?,
            });
        }
        let active: Vec<&std::path::Path> = lib.items.values().map(|j| j.file.as_path()).collect();
        let broken = lib
            .errors
            .iter()
            .filter(|(f, _)| !active.contains(&f.as_path()))
            .map(|(f, e)| (f.display().to_string(), e.clone()))
            .collect();
        Ok(JobList {
            folder,
            jobs,
            broken,
        })
    }

    pub fn render(&self) -> Markup {
        let body = html! {
            h1 { "Jobs" }
            @match &self.folder {
                None => p.empty { "This server has no jobs folder." },
                Some(f) => p.meta { "Job files in " code { (f) } ", read again when they change." },
            }
            @for (file, error) in &self.broken {
                div.notice.error role="alert" { strong { "Refused: " } (file) pre.code { (error) } }
            }
            @if self.jobs.is_empty() { p.empty { "No jobs yet: add a YAML file to the jobs folder." } } @else {
                table.grid {
                    thead { tr { th { "Job" } th { "Steps" } th { "Schedules" } th { "Last run" } th { "State" } th { "Description" } } }
                    tbody {
                        @for row in &self.jobs {
                            tr {
                                td {
                                    a href=(job_url(&row.job.name)) { (row.job.name) }
                                    @if row.error.is_some() { " " span.status.failed title="its latest edit does not read" { "edit refused" } }
                                }
                                td.num { (row.job.steps.len()) }
                                td { (schedules_summary(&row.schedules)) }
                                td {
                                    @if let Some(r) = &row.last {
                                        a href=(run_url(r.run_id.as_str())) { (format::time_ms(Some(r.created_ms))) }
                                    } @else { span.muted { "never" } }
                                }
                                td { @if let Some(r) = &row.last { (state_label(r.state)) } }
                                td { (row.job.description) }
                            }
                        }
                    }
                }
            }
        };
        layout::document("Jobs", body)
    }
}

fn schedules_summary(schedules: &[ScheduleState]) -> String {
    let next = schedules.iter().filter_map(|s| s.next_ms).min();
    match (schedules.len(), next) {
        (0, _) => String::new(),
        (n, Some(t)) => format!("{n}, next {}", format::time_ms(Some(t))),
        (n, None) => format!("{n}, paused"),
    }
}

// ---- a job -------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct JobPage {
    pub job: Arc<JobSpec>,
    /// The error of the file's latest edit, when it does not read.
    pub error: Option<String>,
    pub runs: Vec<JobRun>,
    pub schedules: Vec<ScheduleState>,
    /// A refused run form: the message, and what was typed.
    pub form_error: Option<String>,
    pub given: Params,
}

pub async fn job(state: &Services, name: String) -> UiResult<Reply> {
    let view = JobPage::load(state, &name, None, Params::default()).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl JobPage {
    pub async fn load(
        state: &Services,
        name: &str,
        form_error: Option<String>,
        given: Params,
    ) -> UiResult<Self> {
        let job = state.jobs.job(name)?;
        let error = state
            .jobs
            .library_state()
            .and_then(|s| s.error_for(name).map(str::to_string));
        let runs = state.jobs.list_runs(Some(name), RUNS).await?;
        let schedules = state.jobs.schedules(&job).await?;
        Ok(JobPage {
            job,
            error,
            runs,
            schedules,
            form_error,
            given,
        })
    }

    pub fn render(&self) -> Markup {
        let j = &self.job;
        let body = html! {
            (layout::crumbs(&[("Jobs", Some("/jobs".into())), (&j.name, None)]))
            h1 { (j.name) }
            @if !j.description.is_empty() { p { (j.description) } }
            p.meta { code { (j.file.display()) } " · version " code { (j.version) } " · pool " (j.pool) }
            @if let Some(e) = &self.error {
                div.notice.error role="alert" { strong { "The latest edit of this file is refused; runs use the last good version." } pre.code { (e) } }
            }
            section.columns {
                div {
                    h2 { "Run" }
                    form.run-form method="post" action={ (job_url(&j.name)) "/run" } {
                        @if let Some(e) = &self.form_error { p.error role="alert" { (e) } }
                        @if j.parameters.is_empty() { p.muted { "No parameters." } }
                        @for p in &j.parameters {
                            (param_field(p, &self.given))
                        }
                        button type="submit" { "Run " (j.name) }
                    }
                }
                div {
                    h2 { "Steps" }
                    (dag(&j.steps.iter().map(|s| (s.name.clone(), s.needs.clone(), None, s.kind.clone())).collect::<Vec<_>>()))
                    @if !self.schedules.is_empty() {
                        h2 { "Schedules" }
                        ul.schedules {
                            @for s in &self.schedules {
                                li data-schedule=(s.index) {
                                    @match &s.when {
                                        ScheduleKind::Cron { expr, timezone } => { "cron " code { (expr) } " (" (timezone) ")" },
                                        ScheduleKind::Interval { every } => { "every " (format!("{}", humantime::format_duration(*every))) },
                                    }
                                    @if s.paused {
                                        " — " span.muted.schedule-state { "paused" }
                                        @if s.paused_in_file { span.muted { " (in the file)" } }
                                    } @else {
                                        " — " span.schedule-state { "next " (format::time_ms(s.next_ms)) }
                                    }
                                    " "
                                    form.inline method="post" action={ (job_url(&j.name)) "/schedules/" (s.index) "/" (if s.paused { "resume" } else { "pause" }) } {
                                        button.kids type="submit" { (if s.paused { "Resume" } else { "Pause" }) }
                                    }
                                }
                            }
                        }
                        p.meta { "Missed times after downtime: " (match j.missed { cairn_jobs::spec::MissedPolicy::RunOnce => "run once", cairn_jobs::spec::MissedPolicy::Skip => "skip" }) "." }
                    }
                    @if !j.triggers.is_empty() {
                        h2 { "Triggers" }
                        ul { @for t in &j.triggers { li { (trigger_text(t)) } } }
                    }
                }
            }
            h2 { "Runs" }
            (runs_table(&self.runs))
        };
        layout::document(&j.name, body)
    }
}

fn trigger_text(t: &Trigger) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "any".into());
    match t {
        Trigger::ModelVersionCreated { model } => {
            format!("a version of {} is registered", opt(model))
        }
        Trigger::AliasSet { model, alias } => {
            format!("alias {} of {} is set or moved", opt(alias), opt(model))
        }
        Trigger::JobCompleted { job, states } => format!("job {job} ends {}", states.join(" or ")),
        Trigger::Webhook { .. } => "a call to its webhook".into(),
    }
}

fn param_field(p: &cairn_jobs::ParamSpec, given: &Params) -> Markup {
    let id = format!("param-{}", p.name);
    let value = given
        .get(&p.name)
        .map(str::to_string)
        .or_else(|| p.default.as_ref().map(|d| d.to_string()))
        .unwrap_or_default();
    html! {
        div.field {
            label for=(id) { (p.name) @if p.required { " *" } " " span.muted { "(" (p.ty.as_str()) ")" } }
            @match p.ty {
                ParamType::Bool => {
                    input type="hidden" name=(p.name) value="false";
                    input #(id) type="checkbox" name=(p.name) value="true" checked[value == "true"];
                },
                ParamType::Choice => select #(id) name=(p.name) {
                    @for c in &p.choices { option value=(c) selected[*c == value] { (c) } }
                },
                ParamType::Int => input #(id) type="number" step="1" name=(p.name) value=(value) required[p.required && p.default.is_none()];,
                ParamType::Float => input #(id) type="number" step="any" name=(p.name) value=(value) required[p.required && p.default.is_none()];,
                ParamType::String => input #(id) type="text" name=(p.name) value=(value) required[p.required && p.default.is_none()];,
            }
            @if !p.description.is_empty() { " " span.meta { (p.description) } }
        }
    }
}

fn runs_table(runs: &[JobRun]) -> Markup {
    html! {
        @if runs.is_empty() { p.empty { "No runs yet." } } @else {
            table.grid {
                thead { tr { th { "Run" } th { "Job" } th { "State" } th { "Trigger" } th { "Created" } th { "Duration" } } }
                tbody {
                    @for r in runs {
                        tr {
                            td { a href=(run_url(r.run_id.as_str())) { code { (&r.run_id.as_str()[..8]) } } }
                            td { (r.job_name) }
                            td { (state_label(r.state)) }
                            td { (r.trigger) }
                            td { (format::time_ms(Some(r.created_ms))) }
                            td.num { (format::duration_ms(r.started_ms, r.ended_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// The DAG: steps in columns by depth (a step one column right of the deepest step it
/// needs), edges from each need to the step. `state` colours a run's steps.
fn dag(steps: &[(String, Vec<String>, Option<State>, String)]) -> Markup {
    const W: i64 = 150;
    const H: i64 = 38;
    const GAP_X: i64 = 50;
    const GAP_Y: i64 = 14;
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.as_str(), i))
        .collect();
    let mut depth = vec![0i64; steps.len()];
    // Steps come in an order that respects `needs` for a checked job; a few passes
    // settle any other order.
    for _ in 0..steps.len() {
        for (i, s) in steps.iter().enumerate() {
            for n in &s.1 {
                if let Some(&j) = index.get(n.as_str()) {
                    depth[i] = depth[i].max(depth[j] + 1);
                }
            }
        }
    }
    let mut rows: HashMap<i64, i64> = HashMap::new();
    let pos: Vec<(i64, i64)> = depth
        .iter()
        .map(|&d| {
            let row = rows.entry(d).or_insert(0);
            let p = (d * (W + GAP_X) + 4, *row * (H + GAP_Y) + 4);
            *row += 1;
            p
        })
        .collect();
    let width = depth.iter().max().map_or(0, |d| (d + 1) * (W + GAP_X)) + 8;
    let height = rows.values().max().map_or(0, |r| r * (H + GAP_Y)) + 8;
    html! {
        svg.dag role="img" aria-label="The steps and what each needs" width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
            @for (i, s) in steps.iter().enumerate() {
                @for n in &s.1 {
                    @if let Some(&j) = index.get(n.as_str()) {
                        path.edge d={ "M" (pos[j].0 + W) "," (pos[j].1 + H / 2) " C" (pos[j].0 + W + GAP_X / 2) "," (pos[j].1 + H / 2) " " (pos[i].0 - GAP_X / 2) "," (pos[i].1 + H / 2) " " (pos[i].0) "," (pos[i].1 + H / 2) } {}
                    }
                }
            }
            @for (i, s) in steps.iter().enumerate() {
                g.node data-step=(s.0) data-state=(s.2.map(State::as_str).unwrap_or("")) {
                    rect x=(pos[i].0) y=(pos[i].1) width=(W) height=(H) rx="6" {}
                    text x=(pos[i].0 + 8) y=(pos[i].1 + 16) { (s.0) }
                    text.kind x=(pos[i].0 + 8) y=(pos[i].1 + 31) {
                        (s.3) @if let Some(st) = s.2 { " · " tspan.state { (st.as_str()) } }
                    }
                }
            }
        }
    }
}

/// Starts a run from the job page's form; back to the form with the message when
/// a parameter is refused.
pub async fn run_job(state: &Services, name: String, f: Params) -> UiResult<Reply> {
    let job = state.jobs.job(&name)?;
    let mut params = Map::new();
    for p in &job.parameters {
        // A checkbox sends the hidden `false` and, when ticked, `true` after it.
        let values: Vec<&str> =
            f.0.iter()
                .filter(|(k, _)| k == &p.name)
                .map(|(_, v)| v.as_str())
                .collect();
        let value = if p.ty == ParamType::Bool {
            values.last().copied()
        } else {
            values.first().copied()
        };
        match value {
            Some(v) if !v.is_empty() => {
                params.insert(p.name.clone(), Value::from(v));
            }
            _ => {}
        }
    }
    match state.jobs.run_job(&name, &params, Start::manual()).await {
        Ok(Some(run)) => Ok(Reply::redirect(&run_url(run.run_id.as_str()))),
        Ok(None) => Err(UiError::BadInput("the run was not created".into())),
        Err(e) if e.code == cairn_core::ErrorCode::InvalidParameterValue => {
            let view = JobPage::load(state, &name, Some(e.message), f).await?;
            Ok(Reply::html(view.render().into_string()).with_status(400))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- a run -------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct RunPage {
    pub run: JobRun,
    pub steps: Vec<StepRun>,
    pub logs: Vec<LogLine>,
    /// The MLflow runs its steps made (tagged with the job run's id).
    pub mlflow_runs: Vec<Run>,
    /// The step kinds by name, from the job file the run started with.
    pub kinds: HashMap<String, String>,
}

pub async fn run(state: &Services, id: String) -> UiResult<Reply> {
    let view = RunPage::load(state, &id).await?;
    Ok(Reply::html(view.render().into_string()))
}

impl RunPage {
    pub async fn load(state: &Services, id: &str) -> UiResult<Self> {
        let id = JobRunId::parse(id)?;
        let d = state.jobs.get_run(&id).await?;
        let logs = state.jobs.logs(&id, 0, LOG_LINES).await?;
        let kinds = match state.jobs.job(&d.run.job_name) {
            Ok(j) => j
                .steps
                .iter()
                .map(|s| (s.name.clone(), s.kind.clone()))
                .collect(),
            Err(_) => HashMap::new(),
        };
        let mlflow_runs = mlflow_runs_of(state, id.as_str()).await.unwrap_or_default();
        Ok(RunPage {
            run: d.run,
            steps: d.steps,
            logs,
            mlflow_runs,
            kinds,
        })
    }

    pub fn render(&self) -> Markup {
        let r = &self.run;
        let id = r.run_id.as_str();
        let final_ = r.state.is_final();
        let start = r.started_ms.unwrap_or(r.created_ms);
        let end = r.ended_ms.unwrap_or_else(|| {
            self.steps
                .iter()
                .filter_map(|s| s.ended_ms.or(s.started_ms))
                .max()
                .unwrap_or(start)
                .max(start + 1)
        });
        let span = (end - start).max(1) as f64;
        let nodes: Vec<(String, Vec<String>, Option<State>, String)> = self
            .steps
            .iter()
            .map(|s| {
                (
                    s.step_name.clone(),
                    s.needs.clone(),
                    Some(s.state),
                    self.kinds.get(&s.step_name).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let after = self.logs.last().map_or(0, |l| l.id);
        let body = html! {
            (layout::crumbs(&[("Jobs", Some("/jobs".into())), (&r.job_name, Some(job_url(&r.job_name))), (&id[..8], None)]))
            section data-job-run=(id) data-final=(final_) {
                h1 { (r.job_name) " " span #run-state.state data-state=(r.state.as_str()) { (r.state.as_str()) } }
                p.meta {
                    "Run " code { (id) } " · " (r.trigger) " · created " (format::time_ms(Some(r.created_ms)))
                    " · duration " (format::duration_ms(r.started_ms, r.ended_ms)) " · job version " code { (r.job_version) }
                }
                @if let Some(m) = &r.message { p { (m) } }
                @if !final_ {
                    form method="post" action={ (run_url(id)) "/cancel" } {
                        button.danger type="submit" { "Cancel run" }
                    }
                }
                h2 { "Steps" }
                (dag(&nodes))
                table.grid.steps {
                    thead { tr { th { "Step" } th { "State" } th { "Try" } th { "Worker" } th { "Timeline" } th { "Duration" } th { "Outputs" } th { "Message" } } }
                    tbody {
                        @for s in &self.steps {
                            tr data-step=(s.step_name) data-state=(s.state.as_str()) {
                                td { (s.step_name) }
                                td { span.state { (s.state.as_str()) } }
                                td.num { (s.attempt) }
                                td { (s.worker.as_deref().unwrap_or("")) }
                                td.timeline {
                                    @if let Some(st) = s.started_ms {
                                        @let left = (st - start) as f64 / span * 100.0;
                                        @let width = ((s.ended_ms.unwrap_or(end) - st) as f64 / span * 100.0).max(0.5);
                                        span.bar style={ "left:" (format!("{left:.1}")) "%;width:" (format!("{width:.1}")) "%" } {}
                                    }
                                }
                                td.num { (format::duration_ms(s.started_ms, s.ended_ms)) }
                                td { (outputs(&s.outputs, s.cached_from.as_deref())) }
                                td { (s.message.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if !self.mlflow_runs.is_empty() {
                    h2 { "MLflow runs" }
                    ul.mlflow-runs {
                        @for m in &self.mlflow_runs {
                            li { a href={ "/runs/" (segment(&m.info.run_id)) } { (layout::run_name(&m.info)) } " " (layout::status(m.info.status.as_str())) }
                        }
                    }
                }
                h2 { "Parameters" }
                @if r.params.is_empty() { p.muted { "None." } } @else {
                    dl.info { @for (k, v) in &r.params { dt { (k) } dd { code { (plain(v)) } } } }
                }
                @if !r.event.is_empty() {
                    h2 { "Trigger" }
                    dl.info { @for (k, v) in &r.event { dt { (k) } dd { code { (plain(v)) } } } }
                }
                h2 { "Logs" }
                pre #job-logs.code data-after=(after) {
                    @for l in &self.logs { "[" (l.step_name) "] " (l.line) "\n" }
                }
            }
        };
        layout::document(&format!("{} run", r.job_name), body)
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn outputs(o: &Map<String, Value>, cached_from: Option<&str>) -> Markup {
    html! {
        @if let Some(from) = cached_from { span.tag title="the same inputs completed in this run" { "cached: " a href=(run_url(from)) { (&from[..from.len().min(8)]) } } " " }
        @for (k, v) in o {
            @let text = plain(v);
            span.tag {
                (k) "="
                @if k == "run_id" && text.len() == 32 { a href={ "/runs/" (segment(&text)) } { (text) } } @else { (text) }
            }
            " "
        }
    }
}

/// The MLflow runs tagged with this job run, across experiments.
async fn mlflow_runs_of(state: &Services, job_run: &str) -> UiResult<Vec<Run>> {
    let experiments = state
        .tracking
        .search_experiments(None, &[], ViewType::ActiveOnly, Some(1000), None)
        .await?;
    let ids: Vec<String> = experiments
        .items
        .iter()
        .map(|e| e.experiment_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let filter = format!("tags.`{JOB_RUN_TAG}` = '{job_run}'");
    let page = state
        .tracking
        .search_runs(
            &ids,
            Some(&filter),
            &[],
            ViewType::ActiveOnly,
            Some(100),
            None,
        )
        .await?;
    Ok(page.items)
}

/// Pauses or resumes a schedule from its job's page.
pub async fn set_schedule_paused(
    state: &Services,
    name: String,
    index: String,
    paused: bool,
) -> UiResult<Reply> {
    let index: usize = index
        .parse()
        .map_err(|_| UiError::BadInput(format!("schedule `{index}` is not a number")))?;
    state.jobs.set_schedule_paused(&name, index, paused).await?;
    Ok(Reply::redirect(&job_url(&name)))
}

/// Cancels a run from its page.
pub async fn cancel(state: &Services, id: String) -> UiResult<Reply> {
    let run_id = JobRunId::parse(&id)?;
    state.jobs.cancel(&run_id).await?;
    Ok(Reply::redirect(&run_url(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(
        name: &str,
        needs: &[&str],
        state: State,
    ) -> (String, Vec<String>, Option<State>, String) {
        (
            name.into(),
            needs.iter().map(|s| s.to_string()).collect(),
            Some(state),
            "command".into(),
        )
    }

    #[test]
    fn the_dag_puts_each_step_right_of_what_it_needs() {
        let svg = dag(&[
            step("a", &[], State::Completed),
            step("b", &["a"], State::Running),
            step("c", &["a", "b"], State::Pending),
        ])
        .into_string();
        let x = |name: &str| {
            let at = svg.find(&format!("data-step=\"{name}\"")).unwrap();
            let rest = &svg[at..];
            let x = rest.split("x=\"").nth(1).unwrap();
            x[..x.find('"').unwrap()].parse::<i64>().unwrap()
        };
        assert!(x("a") < x("b") && x("b") < x("c"), "{svg}");
        assert_eq!(svg.matches("class=\"edge\"").count(), 3);
        assert!(svg.contains("data-state=\"RUNNING\""));
    }
}
