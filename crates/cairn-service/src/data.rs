//! Data contracts: the catalog of feature views and model contracts (the server's
//! contracts folder, watched), their quality checks and the stored results.
//!
//! A check runs where it is asked for: `cairn data check` on the machine that has
//! the data (a laptop, a job's worker) sends its report here to be kept, and the
//! server runs one itself when the UI or the API asks, over the sources it can
//! read. Either way the result is stored with the source's fingerprint, so the
//! history says which data each verdict was about.

use std::sync::{Arc, OnceLock};

use cairn_core::data::{DataCheck, FieldHit, FieldUse};
use cairn_core::{ErrorCode, MlflowError, Result};
use cairn_data::{CheckOptions, CheckReport, ContractFolder, ContractState, DataError, Item};
use cairn_store::DataCheckStore;

pub struct DataService {
    store: Arc<dyn DataCheckStore>,
    folder: OnceLock<Arc<ContractFolder>>,
}

/// A field with where it is used and how it last checked.
#[derive(Debug, Clone)]
pub struct FieldDetail {
    pub field: cairn_data::spec::Field,
    pub used_by: Vec<FieldUse>,
    /// The field's entry of the newest check of its view (JSON as stored).
    pub last_check: Option<serde_json::Value>,
}

fn data_error(e: DataError) -> MlflowError {
    match e {
        DataError::NotFound(m) => MlflowError::not_found(m),
        DataError::Spec(e) => MlflowError::invalid_parameter(e.to_string()),
        // The source is the user's data: what went wrong reading it is theirs to see
        // (a missing file, a bad Parquet footer); no secret travels in it.
        DataError::Source(m) => MlflowError::new(ErrorCode::InvalidParameterValue, m),
        DataError::Io(e) => MlflowError::invalid_parameter(e.to_string()),
    }
}

/// The row a report is stored as.
pub fn to_stored(report: &CheckReport, job_run_id: Option<String>) -> DataCheck {
    DataCheck {
        id: 0,
        target: report.target.clone(),
        kind: report.kind.clone(),
        version: report.version.clone(),
        fingerprint: report
            .views
            .iter()
            .map(|v| format!("{}:{}", v.view, v.fingerprint))
            .collect::<Vec<_>>()
            .join(","),
        passed: report.passed,
        violations: report.violations as i64,
        rows: report.views.iter().map(|v| v.rows as i64).sum(),
        checked_ms: report.checked_at_ms,
        duration_ms: report.duration_ms as i64,
        job_run_id,
        report: serde_json::to_value(report).unwrap_or(serde_json::Value::Null),
    }
}

impl DataService {
    pub fn new(store: Arc<dyn DataCheckStore>) -> Self {
        DataService {
            store,
            folder: OnceLock::new(),
        }
    }

    /// Gives the service the server's contracts folder (once, at start).
    pub fn attach_folder(&self, folder: Arc<ContractFolder>) {
        let _ = self.folder.set(folder);
    }

    /// The catalog now: every view and contract, and the files refused.
    pub fn catalog(&self) -> Arc<ContractState> {
        self.folder
            .get()
            .map_or_else(|| Arc::new(ContractState::default()), |f| f.state())
    }

    /// Fields whose name, description or tags contain every word of `query`
    /// (case-insensitive), and views whose name or description do.
    pub fn search(&self, query: &str) -> Vec<FieldHit> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let state = self.catalog();
        let mut hits = Vec::new();
        for file in state.items.values() {
            let Item::View(v) = &file.item else { continue };
            for f in &v.fields {
                let text = format!(
                    "{} {} {} {} {}",
                    v.name,
                    f.name,
                    f.description.as_deref().unwrap_or(""),
                    f.tags.join(" "),
                    v.description.as_deref().unwrap_or("")
                )
                .to_lowercase();
                if words.iter().all(|w| text.contains(w.as_str())) {
                    hits.push(FieldHit {
                        view: v.name.clone(),
                        field: f.name.clone(),
                        ty: format!("{:?}", f.ty).to_lowercase(),
                        description: f.description.clone(),
                    });
                }
            }
        }
        hits
    }

    /// The contracts that read `view.field` (or the whole view).
    pub fn uses(&self, view: &str, field: &str) -> Vec<FieldUse> {
        let state = self.catalog();
        let mut out = Vec::new();
        for file in state.items.values() {
            let Item::Contract(c) = &file.item else {
                continue;
            };
            let reads = |r: &cairn_data::spec::FieldRef| {
                r.view == view && r.field.as_deref().is_none_or(|f| f == field)
            };
            if c.features.iter().any(reads) {
                out.push(FieldUse {
                    contract: c.name.clone(),
                    role: "feature".into(),
                    model: c.model.clone(),
                });
            }
            if c.label.as_ref().is_some_and(|l| reads(&l.field)) {
                out.push(FieldUse {
                    contract: c.name.clone(),
                    role: "label".into(),
                    model: c.model.clone(),
                });
            }
        }
        out
    }

    /// Runs the check of `name` here and stores it.
    #[tracing::instrument(skip(self))]
    pub async fn run_check(&self, name: &str) -> Result<DataCheck> {
        let state = self.catalog();
        let report = cairn_data::check(&state, name, &CheckOptions::default())
            .await
            .map_err(data_error)?;
        self.record(&report, None).await
    }

    /// Stores a check made elsewhere (`cairn data check`).
    #[tracing::instrument(skip_all, fields(target = %report.target))]
    pub async fn record(
        &self,
        report: &CheckReport,
        job_run_id: Option<String>,
    ) -> Result<DataCheck> {
        if report.target.trim().is_empty() {
            return Err(MlflowError::missing("target"));
        }
        let mut stored = to_stored(report, job_run_id);
        stored.id = self.store.add_data_check(stored.clone()).await?;
        Ok(stored)
    }

    pub async fn checks(&self, target: Option<&str>, limit: i64) -> Result<Vec<DataCheck>> {
        Ok(self.store.data_checks(target, limit.clamp(1, 1000)).await?)
    }

    pub async fn check(&self, id: i64) -> Result<DataCheck> {
        self.store
            .data_check(id)
            .await?
            .ok_or_else(|| MlflowError::not_found(format!("data check {id} does not exist")))
    }

    pub async fn latest(&self) -> Result<Vec<DataCheck>> {
        Ok(self.store.latest_data_checks().await?)
    }

    /// A field of a view, the contracts that read it, and its part of the view's
    /// newest stored check (profile and constraint results).
    pub async fn field(&self, view: &str, field: &str) -> Result<FieldDetail> {
        let state = self.catalog();
        let Some(Item::View(v)) = state.get(view).map(|f| &f.item) else {
            return Err(MlflowError::not_found(format!("no view is named `{view}`")));
        };
        let Some(f) = v.field(field) else {
            return Err(MlflowError::not_found(format!(
                "view `{view}` has no field `{field}`"
            )));
        };
        let last_check = match self.store.data_checks(Some(view), 1).await?.first() {
            Some(c) => self.store.data_check(c.id).await?.and_then(|c| {
                c.report["views"]
                    .as_array()?
                    .iter()
                    .find(|v| v["view"] == view)?["fields"]
                    .as_array()?
                    .iter()
                    .find(|f| f["field"] == field)
                    .cloned()
            }),
            None => None,
        };
        Ok(FieldDetail {
            field: f.clone(),
            used_by: self.uses(view, field),
            last_check,
        })
    }

    /// A view's first `limit` rows, as text.
    pub async fn rows(
        &self,
        view: &str,
        limit: usize,
    ) -> Result<Vec<std::collections::BTreeMap<String, String>>> {
        let state = self.catalog();
        let Some(Item::View(v)) = state.get(view).map(|f| &f.item) else {
            return Err(MlflowError::not_found(format!("no view is named `{view}`")));
        };
        cairn_data::check::head(v, limit.clamp(1, 1000))
            .await
            .map_err(data_error)
    }
}
