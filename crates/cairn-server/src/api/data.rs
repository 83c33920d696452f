//! cairn's data-contract API: the catalog, field search, a view's rows, and quality
//! checks (run here, or sent by `cairn data check`).

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::data::{
    CatalogEntry, CatalogResponse, CheckResponse, CreateCheckRequest, DataQuery, GetCheckRequest,
    GetFieldResponse, ListChecksRequest, ListChecksResponse, RefusedFile, RunCheckRequest,
    SearchFieldsResponse, ViewRowsResponse,
};
use cairn_core::MlflowError;
use cairn_data::{CheckReport, Item};

use super::{number, Errors};
use crate::error::ApiResult;
use crate::extract::MlflowRequest;
use cairn_service::Services;

pub fn routes() -> Router<Services> {
    Router::new()
        .route("/data/catalog", get(catalog))
        .route("/data/search", get(search))
        .route("/data/views/rows", get(rows))
        .route("/data/fields/get", get(field))
        .route("/data/checks", get(checks))
        .route("/data/checks/get", get(get_check))
        .route("/data/checks/run", post(run_check))
        .route("/data/checks/create", post(create_check))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    catalog,
    search,
    rows,
    field,
    checks,
    get_check,
    run_check,
    create_check
))]
pub(super) struct Api;

fn required(field: &str, value: Option<String>) -> ApiResult<String> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| MlflowError::missing(field).into())
}

/// Every view and contract of the server's contracts folder, and the files it
/// refuses (with the error; their last good version stays listed).
#[utoipa::path(get, path = "/data/catalog", tag = "data",
    operation_id = "getDataCatalog",
    responses((status = 200, description = "the catalog", body = CatalogResponse), Errors))]
async fn catalog(State(s): State<Services>) -> ApiResult<Json<CatalogResponse>> {
    let state = s.data.catalog();
    let mut views = Vec::new();
    let mut contracts = Vec::new();
    for (name, file) in &state.items {
        let (definition, list) = match &file.item {
            Item::View(v) => (serde_json::to_value(v), &mut views),
            Item::Contract(c) => (serde_json::to_value(c), &mut contracts),
        };
        list.push(CatalogEntry {
            name: name.clone(),
            file: file.file.display().to_string(),
            version: file.version.clone(),
            error: state.error_for(name).map(str::to_string),
            definition: definition.map_err(|e| MlflowError::internal(e.to_string()))?,
        });
    }
    let refused = state
        .errors
        .iter()
        .map(|(file, error)| RefusedFile {
            file: file.display().to_string(),
            error: error.clone(),
        })
        .collect();
    Ok(Json(CatalogResponse {
        views,
        contracts,
        refused,
    }))
}

/// Fields whose name, description, tags or view contain every word of `q`.
#[utoipa::path(get, path = "/data/search", tag = "data",
    operation_id = "searchDataFields",
    params(DataQuery),
    responses((status = 200, description = "the fields found", body = SearchFieldsResponse), Errors))]
async fn search(
    State(s): State<Services>,
    Query(q): Query<DataQuery>,
) -> ApiResult<Json<SearchFieldsResponse>> {
    Ok(Json(SearchFieldsResponse {
        fields: s.data.search(q.q.as_deref().unwrap_or("")),
    }))
}

/// A view's first rows (`max_results`, at most 1,000; 20 by default).
#[utoipa::path(get, path = "/data/views/rows", tag = "data",
    operation_id = "getViewRows",
    params(DataQuery),
    responses((status = 200, description = "the rows, each field as text", body = ViewRowsResponse), Errors))]
async fn rows(
    State(s): State<Services>,
    Query(q): Query<DataQuery>,
) -> ApiResult<Json<ViewRowsResponse>> {
    let name = required("name", q.name)?;
    let limit = number("max_results", q.max_results)?
        .unwrap_or(20)
        .clamp(1, 1000) as usize;
    let rows = s.data.rows(&name, limit).await?;
    Ok(Json(ViewRowsResponse {
        rows: rows
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect(),
    }))
}

/// A field of a view: its definition, the contracts that read it, and its part of
/// the view's newest check.
#[utoipa::path(get, path = "/data/fields/get", tag = "data",
    operation_id = "getDataField",
    params(DataQuery),
    responses((status = 200, description = "the field", body = GetFieldResponse), Errors))]
async fn field(
    State(s): State<Services>,
    Query(q): Query<DataQuery>,
) -> ApiResult<Json<GetFieldResponse>> {
    let view = required("name", q.name)?;
    let name = required("field", q.field)?;
    let f = s.data.field(&view, &name).await?;
    Ok(Json(GetFieldResponse {
        view,
        field: serde_json::to_value(&f.field).map_err(|e| MlflowError::internal(e.to_string()))?,
        used_by: f.used_by,
        last_check: f.last_check,
    }))
}

/// Checks of a view or contract (or all), newest first, without their reports.
#[utoipa::path(get, path = "/data/checks", tag = "data",
    operation_id = "listDataChecks",
    params(ListChecksRequest),
    responses((status = 200, description = "the checks", body = ListChecksResponse), Errors))]
async fn checks(
    State(s): State<Services>,
    Query(q): Query<ListChecksRequest>,
) -> ApiResult<Json<ListChecksResponse>> {
    let limit = number("max_results", q.max_results)?.unwrap_or(50);
    Ok(Json(ListChecksResponse {
        checks: s.data.checks(q.target.as_deref(), limit).await?,
    }))
}

/// One check with its whole report.
#[utoipa::path(get, path = "/data/checks/get", tag = "data",
    operation_id = "getDataCheck",
    params(GetCheckRequest),
    responses((status = 200, description = "the check", body = CheckResponse), Errors))]
async fn get_check(
    State(s): State<Services>,
    Query(q): Query<GetCheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    let id = number("id", q.id)?.ok_or_else(|| MlflowError::missing("id"))?;
    Ok(Json(CheckResponse {
        check: s.data.check(id).await?,
    }))
}

/// Checks a view or contract here, over the sources this server reads, and keeps
/// the result.
#[utoipa::path(post, path = "/data/checks/run", tag = "data",
    operation_id = "runDataCheck",
    request_body = RunCheckRequest,
    responses((status = 200, description = "the check, kept", body = CheckResponse), Errors))]
async fn run_check(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<RunCheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    Ok(Json(CheckResponse {
        check: s.data.run_check(&req.name).await?,
    }))
}

/// Keeps a check made elsewhere: the report `cairn data check --format json` prints.
#[utoipa::path(post, path = "/data/checks/create", tag = "data",
    operation_id = "createDataCheck",
    request_body = CreateCheckRequest,
    responses((status = 200, description = "kept", body = CheckResponse), Errors))]
async fn create_check(
    State(s): State<Services>,
    MlflowRequest(req): MlflowRequest<CreateCheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    let report: CheckReport = serde_json::from_value(req.report).map_err(|e| {
        MlflowError::invalid_parameter(format!("`report` is not a check report: {e}"))
    })?;
    Ok(Json(CheckResponse {
        check: s.data.record(&report, req.job_run_id).await?,
    }))
}
