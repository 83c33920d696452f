//! cairn's data-contract API (`/api/2.0/cairn/data/...`): the catalog of feature
//! views and model contracts, search over their fields, a view's first rows, and
//! quality checks run on the server or sent by `cairn data check`.

use cairn_core::data::{DataCheck, FieldHit, FieldUse};
use serde::{Deserialize, Serialize};

/// A view or contract as its file defines it, with the file and its version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogEntry {
    pub name: String,
    /// The contract file.
    pub file: String,
    /// The digest of the file's text.
    pub version: String,
    /// Why the file's latest edit is refused (its last good version is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The view or contract: its fields, types, constraints, or its features,
    /// label and model.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// A contract file that does not read, and why.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefusedFile {
    pub file: String,
    pub error: String,
}

/// `data/catalog`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogResponse {
    pub views: Vec<CatalogEntry>,
    pub contracts: Vec<CatalogEntry>,
    pub refused: Vec<RefusedFile>,
}

/// `data/search`, `data/views/get`, `data/views/rows`, `data/fields/get`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// Words every hit contains (field name, description, tags, view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// A view or contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A field of the view `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchFieldsResponse {
    pub fields: Vec<FieldHit>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ViewRowsResponse {
    /// Each row's fields as text.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Value>,
}

/// `data/fields/get`: a field, who reads it, and its part of the view's last check.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GetFieldResponse {
    pub view: String,
    #[schema(value_type = Object)]
    pub field: serde_json::Value,
    pub used_by: Vec<FieldUse>,
    /// The field's profile and constraint results from the newest check of its view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub last_check: Option<serde_json::Value>,
}

/// `data/checks/run`: checks a view or contract on the server and keeps the result.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunCheckRequest {
    pub name: String,
}

/// `data/checks/create`: keeps a check made elsewhere (`cairn data check`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateCheckRequest {
    /// The report `cairn data check --format json` prints.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_run_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResponse {
    pub check: DataCheck,
}

/// `data/checks`: a target's checks (or all), newest first, without reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListChecksRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListChecksResponse {
    pub checks: Vec<DataCheck>,
}

/// `data/checks/get`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetCheckRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}
