//! cairn's data-contract API (`/api/2.0/cairn/data/...`), for the CLI and tests.

use cairn_api_types::data::*;
use cairn_core::data::{DataCheck, FieldHit};

use crate::{Client, Result};

impl Client {
    pub async fn data_catalog(&self) -> Result<CatalogResponse> {
        self.cairn_get("data/catalog", &[]).await
    }

    pub async fn search_data_fields(&self, query: &str) -> Result<Vec<FieldHit>> {
        let r: SearchFieldsResponse = self
            .cairn_get("data/search", &[("q", query.to_string())])
            .await?;
        Ok(r.fields)
    }

    pub async fn view_rows(
        &self,
        view: &str,
        max_results: usize,
    ) -> Result<Vec<serde_json::Value>> {
        let r: ViewRowsResponse = self
            .cairn_get(
                "data/views/rows",
                &[
                    ("name", view.to_string()),
                    ("max_results", max_results.to_string()),
                ],
            )
            .await?;
        Ok(r.rows)
    }

    pub async fn data_field(&self, view: &str, field: &str) -> Result<GetFieldResponse> {
        self.cairn_get(
            "data/fields/get",
            &[("name", view.to_string()), ("field", field.to_string())],
        )
        .await
    }

    /// Checks of `target` (or all), newest first.
    pub async fn data_checks(&self, target: Option<&str>) -> Result<Vec<DataCheck>> {
        let query: Vec<(&str, String)> = target
            .map(|t| ("target", t.to_string()))
            .into_iter()
            .collect();
        let r: ListChecksResponse = self.cairn_get("data/checks", &query).await?;
        Ok(r.checks)
    }

    pub async fn data_check(&self, id: i64) -> Result<DataCheck> {
        let r: CheckResponse = self
            .cairn_get("data/checks/get", &[("id", id.to_string())])
            .await?;
        Ok(r.check)
    }

    /// Checks a view or contract on the server, which keeps the result.
    pub async fn run_data_check(&self, name: &str) -> Result<DataCheck> {
        let r: CheckResponse = self
            .cairn_post(
                "data/checks/run",
                &RunCheckRequest {
                    name: name.to_string(),
                },
            )
            .await?;
        Ok(r.check)
    }

    /// Keeps a check made here (the report `cairn data check` built).
    pub async fn create_data_check(
        &self,
        report: serde_json::Value,
        job_run_id: Option<String>,
    ) -> Result<DataCheck> {
        let r: CheckResponse = self
            .cairn_post(
                "data/checks/create",
                &CreateCheckRequest { report, job_run_id },
            )
            .await?;
        Ok(r.check)
    }
}
