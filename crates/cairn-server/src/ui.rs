//! The web UI's routes: each calls a page of `cairn-ui` with the services and the
//! request's parameters and writes the [`Reply`] it gets. The pages know nothing of
//! HTTP; this module is their only adapter.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cairn_service::Services;
use cairn_ui::pages::{
    artifacts, compare, data, evaluation, experiments, jobs, registry, run, runs,
};
use cairn_ui::{segment, to_query, Params, Reply, UiResult};

/// The UI's routes, ready to merge beside the API's (`cairn server` mounts them at
/// `/`), with MLflow's UI paths redirected to the matching page (see
/// `mlflow_links`).
pub fn router(state: Services) -> Router {
    Router::new()
        .route("/", get(experiments_list))
        .route("/experiments", get(experiments_list))
        .route("/experiments/create", post(experiment_create))
        .route("/experiments/{id}", get(runs_page))
        .route("/experiments/{id}/rename", post(experiment_rename))
        .route("/experiments/{id}/delete", post(experiment_delete))
        .route("/experiments/{id}/restore", post(experiment_restore))
        .route("/runs/lifecycle", post(runs_lifecycle))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/artifacts", get(artifacts_browse))
        .route("/runs/{id}/artifact", get(artifact_raw))
        .route("/compare", get(compare_page))
        .route("/registry", get(registry_list))
        .route("/registry/{name}", get(registry_model))
        .route("/registry/{name}/evaluation", get(registry_evaluation))
        .route("/registry/{name}/aliases", post(registry_set_alias))
        .route(
            "/registry/{name}/aliases/delete",
            post(registry_delete_alias),
        )
        .route("/registry/{name}/description", post(registry_describe))
        .route("/registry/{name}/tags", post(registry_set_tag))
        .route("/registry/{name}/tags/delete", post(registry_delete_tag))
        .route("/jobs", get(jobs_list))
        .route("/jobs/{name}", get(job_page))
        .route("/jobs/{name}/run", post(job_run))
        .route(
            "/jobs/{name}/schedules/{index}/pause",
            post(job_schedule_pause),
        )
        .route(
            "/jobs/{name}/schedules/{index}/resume",
            post(job_schedule_resume),
        )
        .route("/job-runs/{id}", get(job_run_page))
        .route("/job-runs/{id}/cancel", post(job_run_cancel))
        .route("/data", get(data_catalog))
        .route("/data/views/{name}", get(data_view))
        .route("/data/views/{name}/fields/{field}", get(data_field))
        .route("/data/contracts/{name}", get(data_contract))
        .route("/data/checks/{id}", get(data_check))
        .route("/data/checks/run/{name}", post(data_run_check))
        .merge(mlflow_links())
        .route(
            "/static/app.css",
            get(|| async { write(cairn_ui::stylesheet()) }),
        )
        .route(
            "/static/app.js",
            get(|| async { write(cairn_ui::script()) }),
        )
        .with_state(state)
}

/// MLflow's UI paths, as `mlflow.start_run` prints them and people bookmark them,
/// redirected to cairn's pages. MLflow puts them after `#` (`/#/experiments/1/runs/
/// abc`), which no server sees: the UI's script moves a `#/...` path on `/` into the
/// path, and these routes take it from there.
fn mlflow_links() -> Router<Services> {
    async fn to_run(Path((_, run_id)): Path<(String, String)>) -> Response {
        see_other(&format!("/runs/{}", segment(&run_id)))
    }
    async fn to_run_tab(Path((_, run_id, _)): Path<(String, String, String)>) -> Response {
        see_other(&format!("/runs/{}", segment(&run_id)))
    }
    async fn to_experiment(Path((id, _)): Path<(String, String)>) -> Response {
        see_other(&format!("/experiments/{}", segment(&id)))
    }
    async fn to_model(Path(name): Path<String>) -> Response {
        see_other(&format!("/registry/{}", segment(&name)))
    }
    async fn to_model_version(Path((name, _)): Path<(String, String)>) -> Response {
        see_other(&format!("/registry/{}", segment(&name)))
    }
    async fn to_compare(RawQuery(q): RawQuery) -> Response {
        // `runs=["a","b"]`, a JSON list in one parameter.
        let runs: Vec<String> = query(q)
            .get("runs")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        let pairs: Vec<(&str, &str)> = runs.iter().map(|r| ("run", r.as_str())).collect();
        see_other(&format!("/compare{}", to_query(&pairs)))
    }
    Router::new()
        .route("/experiments/{id}/runs/{run_id}", get(to_run))
        .route("/experiments/{id}/runs/{run_id}/{*tab}", get(to_run_tab))
        .route("/experiments/{id}/models/{model_id}", get(to_experiment))
        .route("/experiments/{id}/{tab}", get(to_experiment))
        .route("/models", get(|| async { see_other("/registry") }))
        .route("/models/{name}", get(to_model))
        .route("/models/{name}/versions/{version}", get(to_model_version))
        .route("/compare-runs", get(to_compare))
}

fn see_other(location: &str) -> Response {
    write(Reply::redirect(location))
}

/// A page's reply, or its error as a page, as an HTTP response.
fn respond(result: UiResult<Reply>) -> Response {
    write(result.unwrap_or_else(cairn_ui::UiError::into_reply))
}

fn write(reply: Reply) -> Response {
    let body = match reply.body {
        cairn_ui::Body::Html(page) => Body::from(page),
        cairn_ui::Body::Static(text) => Body::from(text),
        cairn_ui::Body::Stream(stream) => Body::from_stream(stream),
        cairn_ui::Body::Empty => Body::empty(),
    };
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    for (name, value) in reply.headers {
        // A value that is not a valid header (a control character in a file name, say)
        // is left out rather than failing the page.
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn query(raw: Option<String>) -> Params {
    Params::parse(raw.unwrap_or_default().as_bytes())
}

async fn experiments_list(State(s): State<Services>, RawQuery(q): RawQuery) -> Response {
    respond(experiments::list(&s, query(q)).await)
}

async fn experiment_create(State(s): State<Services>, form: Bytes) -> Response {
    respond(experiments::create(&s, Params::parse(&form)).await)
}

async fn experiment_rename(
    State(s): State<Services>,
    Path(id): Path<String>,
    form: Bytes,
) -> Response {
    respond(experiments::rename(&s, id, Params::parse(&form)).await)
}

async fn experiment_delete(State(s): State<Services>, Path(id): Path<String>) -> Response {
    respond(experiments::delete(&s, id).await)
}

async fn experiment_restore(State(s): State<Services>, Path(id): Path<String>) -> Response {
    respond(experiments::restore(&s, id).await)
}

async fn runs_page(
    State(s): State<Services>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(runs::page(&s, id, query(q)).await)
}

async fn runs_lifecycle(State(s): State<Services>, form: Bytes) -> Response {
    respond(runs::lifecycle(&s, Params::parse(&form)).await)
}

async fn run_page(
    State(s): State<Services>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(run::page(&s, id, query(q)).await)
}

async fn artifacts_browse(
    State(s): State<Services>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(artifacts::browse(&s, id, query(q)).await)
}

async fn artifact_raw(
    State(s): State<Services>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(artifacts::raw(&s, id, query(q)).await)
}

async fn compare_page(State(s): State<Services>, RawQuery(q): RawQuery) -> Response {
    respond(compare::page(&s, query(q)).await)
}

async fn registry_list(State(s): State<Services>, RawQuery(q): RawQuery) -> Response {
    respond(registry::list(&s, query(q)).await)
}

async fn registry_model(State(s): State<Services>, Path(name): Path<String>) -> Response {
    respond(registry::model(&s, name).await)
}

async fn registry_evaluation(
    State(s): State<Services>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(evaluation::page(&s, name, query(q)).await)
}

async fn data_catalog(State(s): State<Services>, RawQuery(q): RawQuery) -> Response {
    respond(data::catalog(&s, query(q)).await)
}

async fn data_view(State(s): State<Services>, Path(name): Path<String>) -> Response {
    respond(data::view(&s, name).await)
}

async fn data_field(
    State(s): State<Services>,
    Path((view, field)): Path<(String, String)>,
) -> Response {
    respond(data::field(&s, view, field).await)
}

async fn data_contract(State(s): State<Services>, Path(name): Path<String>) -> Response {
    respond(data::contract(&s, name).await)
}

async fn data_check(State(s): State<Services>, Path(id): Path<String>) -> Response {
    respond(data::check(&s, id).await)
}

async fn data_run_check(State(s): State<Services>, Path(name): Path<String>) -> Response {
    respond(data::run_check(&s, name).await)
}

async fn jobs_list(State(s): State<Services>, RawQuery(q): RawQuery) -> Response {
    respond(jobs::list(&s, query(q)).await)
}

async fn job_page(State(s): State<Services>, Path(name): Path<String>) -> Response {
    respond(jobs::job(&s, name).await)
}

async fn job_run(State(s): State<Services>, Path(name): Path<String>, form: Bytes) -> Response {
    respond(jobs::run_job(&s, name, Params::parse(&form)).await)
}

async fn job_schedule_pause(
    State(s): State<Services>,
    Path((name, index)): Path<(String, String)>,
) -> Response {
    respond(jobs::set_schedule_paused(&s, name, index, true).await)
}

async fn job_schedule_resume(
    State(s): State<Services>,
    Path((name, index)): Path<(String, String)>,
) -> Response {
    respond(jobs::set_schedule_paused(&s, name, index, false).await)
}

async fn job_run_page(State(s): State<Services>, Path(id): Path<String>) -> Response {
    respond(jobs::run(&s, id).await)
}

async fn job_run_cancel(State(s): State<Services>, Path(id): Path<String>) -> Response {
    respond(jobs::cancel(&s, id).await)
}

async fn registry_set_alias(
    State(s): State<Services>,
    Path(name): Path<String>,
    form: Bytes,
) -> Response {
    respond(registry::set_alias(&s, name, Params::parse(&form)).await)
}

async fn registry_delete_alias(
    State(s): State<Services>,
    Path(name): Path<String>,
    form: Bytes,
) -> Response {
    respond(registry::delete_alias(&s, name, Params::parse(&form)).await)
}

async fn registry_describe(
    State(s): State<Services>,
    Path(name): Path<String>,
    form: Bytes,
) -> Response {
    respond(registry::describe(&s, name, Params::parse(&form)).await)
}

async fn registry_set_tag(
    State(s): State<Services>,
    Path(name): Path<String>,
    form: Bytes,
) -> Response {
    respond(registry::set_tag(&s, name, Params::parse(&form)).await)
}

async fn registry_delete_tag(
    State(s): State<Services>,
    Path(name): Path<String>,
    form: Bytes,
) -> Response {
    respond(registry::delete_tag(&s, name, Params::parse(&form)).await)
}
