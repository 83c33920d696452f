//! Quality checks: a view's constraints and profile over its source, with DataFusion.
//!
//! The source is read once for all constraints and profiles: every constraint is a
//! predicate, counted with `sum(case when … then 1 else 0 end)` in one aggregate, next
//! to each field's null count, approximate distinct count (HyperLogLog), min, max,
//! mean and approximate quantiles (t-digest). All of it is streamed: memory does not
//! grow with the file. Then, only where needed: the most frequent values of text
//! fields, duplicates of `unique` fields, and up to five example rows of each
//! violated constraint, each a query that DataFusion runs under the memory limit,
//! spilling to disk beyond it.
//!
//! A value that does not read as its field's type (text in an `int` field) is a
//! violation of the field's type, not a failed check: CSV fields are read as text
//! and cast with `try_cast`, so one bad row does not stop the others being checked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, TimeUnit};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, approx_percentile_cont, avg, count, max, min, sum,
};
use datafusion::logical_expr::{cast, try_cast, when, Expr};
use datafusion::prelude::{
    col, lit, CsvReadOptions, DataFrame, ParquetReadOptions, SessionConfig, SessionContext,
};
use serde::{Deserialize, Serialize};

use crate::spec::{Field, FieldType, ViewSelection};
use crate::{DataError, Result};

/// How a check runs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Memory DataFusion may hold before it spills to disk.
    pub memory_limit: usize,
    /// Example rows kept per violated constraint.
    pub examples: usize,
    /// Most frequent values reported per text field.
    pub top_values: usize,
    /// Profile each field (distinct count, quantiles, histogram, top values) beside
    /// its constraints; without it a check computes only what the constraints need.
    pub profile: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            memory_limit: 512 * 1024 * 1024,
            examples: 5,
            top_values: 5,
            profile: true,
        }
    }
}

/// The result of checking a view or a contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    /// The view or contract checked.
    pub target: String,
    /// `view` or `contract`.
    pub kind: String,
    /// The version (digest) of its file.
    pub version: String,
    pub checked_at_ms: i64,
    pub duration_ms: u64,
    /// Whether every constraint held.
    pub passed: bool,
    /// Violations over all views and fields.
    pub violations: u64,
    pub views: Vec<ViewReport>,
}

/// One view's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViewReport {
    pub view: String,
    pub version: String,
    pub source: String,
    /// What was read: each file's path, size and modification time, hashed.
    pub fingerprint: String,
    pub files: Vec<SourceFile>,
    pub rows: u64,
    pub violations: u64,
    pub fields: Vec<FieldReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: String,
    pub bytes: u64,
    pub modified_ms: i64,
}

/// One field's profile and constraints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldReport {
    pub field: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// False when the source has no such column (every constraint then fails).
    pub present: bool,
    pub rows: u64,
    pub nulls: u64,
    /// Approximate (HyperLogLog) distinct values.
    pub distinct: Option<u64>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<f64>,
    /// Approximate quantiles (t-digest): p5, p25, p50, p75, p95.
    pub quantiles: Option<BTreeMap<String, f64>>,
    /// Most frequent values (text and bool fields), with their counts.
    pub top_values: Vec<(String, u64)>,
    /// Numbers in equal-width bins between min and max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    pub constraints: Vec<ConstraintResult>,
}

/// A histogram: `counts[i]` values in `[edges[i], edges[i + 1])` (the last bin
/// includes its upper edge).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// Bins of a numeric field's histogram.
const BINS: usize = 20;

/// One constraint of one field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConstraintResult {
    /// What it asks, as written (`min >= 4`, `required`, `type int`).
    pub constraint: String,
    pub violations: u64,
    /// Up to a few violating rows: the entity key (when the view has one) and the
    /// field's value, as text.
    pub examples: Vec<BTreeMap<String, String>>,
}

/// The name of a field's raw column in the aggregate (as read, before the cast).
const QUANTILES: [(&str, f64); 5] = [
    ("p5", 0.05),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
];

pub(crate) fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Int => DataType::Int64,
        FieldType::Float => DataType::Float64,
        FieldType::Bool => DataType::Boolean,
        FieldType::String => DataType::Utf8,
        FieldType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        FieldType::FloatList => {
            DataType::List(Arc::new(ArrowField::new("item", DataType::Float64, true)))
        }
    }
}

fn source_err(view: &str, e: impl std::fmt::Display) -> DataError {
    DataError::Source(format!("view `{view}`: {e}"))
}

/// The files a source names (a file, a folder of them, or a glob), for the
/// fingerprint; object-store URLs are listed by DataFusion and fingerprinted by URL.
fn list_files(location: &str) -> Vec<std::path::PathBuf> {
    let path = std::path::Path::new(location);
    if location.contains("://") {
        return Vec::new();
    }
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        return files;
    }
    if location.contains(['*', '?', '[']) {
        // A glob in the last component: `data/*.parquet`.
        let (dir, pattern) = match location.rsplit_once('/') {
            Some((d, p)) => (d, p),
            None => (".", location),
        };
        let re = regex::Regex::new(&format!(
            "^{}$",
            regex::escape(pattern)
                .replace(r"\*", ".*")
                .replace(r"\?", ".")
        ));
        let mut files: Vec<_> = match (std::fs::read_dir(dir), re) {
            (Ok(d), Ok(re)) => d
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| re.is_match(n))
                })
                .collect(),
            _ => Vec::new(),
        };
        files.sort();
        return files;
    }
    vec![path.to_path_buf()]
}

/// What identifies the data a check read: files' paths, sizes and modification
/// times; for PostgreSQL, the table or query and the time it was read.
fn fingerprint(view: &crate::FeatureView) -> (String, Vec<SourceFile>) {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    if view.postgres.is_some() {
        h.update(format!("{}\n{}", view.source, now_ms()).as_bytes());
        let digest = h.finalize();
        return (
            digest.iter().take(8).map(|b| format!("{b:02x}")).collect(),
            Vec::new(),
        );
    }
    let location = view.location.as_str();
    h.update(location.as_bytes());
    let mut files = Vec::new();
    for p in list_files(location) {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        h.update(format!("\n{}\t{}\t{modified_ms}", p.display(), meta.len()).as_bytes());
        files.push(SourceFile {
            path: p.display().to_string(),
            bytes: meta.len(),
            modified_ms,
        });
    }
    let digest = h.finalize();
    (
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect(),
        files,
    )
}

/// Is the source Parquet (else CSV), by its name.
fn is_parquet(location: &str, files: &[SourceFile]) -> bool {
    let parquet = |p: &str| {
        let p = p.to_ascii_lowercase();
        p.ends_with(".parquet") || p.ends_with(".pq")
    };
    parquet(location) || files.first().is_some_and(|f| parquet(&f.path))
}

/// Opens the view's source; CSV columns are read as text (cast per field later).
async fn open(
    ctx: &SessionContext,
    sel: &ViewSelection,
    files: &[SourceFile],
) -> Result<DataFrame> {
    let view = &sel.view;
    if let Some(pg) = &view.postgres {
        return crate::postgres::open(ctx, &view.name, pg, &sel.fields).await;
    }
    if let Some(name) = view.source.strip_prefix("builtin:") {
        return crate::builtin::open(ctx, name);
    }
    let location = view.location.as_str();
    register_store(ctx, &view.name, location)?;
    if !location.contains("://") && files.is_empty() {
        return Err(source_err(
            &view.name,
            format!("{}: no such file", view.source),
        ));
    }
    if is_parquet(location, files) {
        return ctx
            .read_parquet(location, ParquetReadOptions::default().file_extension(""))
            .await
            .map_err(|e| source_err(&view.name, e));
    }
    // The header names the columns; every one is read as text.
    let probe = ctx
        .read_csv(
            location,
            CsvReadOptions::new()
                .has_header(true)
                .file_extension("")
                .schema_infer_max_records(1),
        )
        .await
        .map_err(|e| source_err(&view.name, e))?;
    let schema = Schema::new(
        probe
            .schema()
            .fields()
            .iter()
            .map(|f| ArrowField::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    ctx.read_csv(
        location,
        CsvReadOptions::new()
            .has_header(true)
            .file_extension("")
            .schema(&schema),
    )
    .await
    .map_err(|e| source_err(&view.name, e))
}

/// Makes an object-store source (`s3://bucket/data/*.parquet`) readable: its bucket
/// is registered with the session, with the cloud settings artifacts use.
fn register_store(ctx: &SessionContext, view: &str, location: &str) -> Result<()> {
    if !location.contains("://") || location.starts_with("file://") {
        return Ok(());
    }
    let url = url::Url::parse(location)
        .map_err(|e| source_err(view, format!("{location} is not a URL: {e}")))?;
    let mut root = url.clone();
    root.set_path("/");
    root.set_query(None);
    // DataFusion's own object_store release (not the one artifacts are served with),
    // opened with the same settings.
    let (store, _) =
        datafusion::object_store::parse_url_opts(&root, cairn_artifacts::cloud_options())
            .map_err(|e| source_err(view, e))?;
    ctx.register_object_store(&root, std::sync::Arc::from(store));
    Ok(())
}

/// The columns a frame has, by name.
pub(crate) fn column_names(df: &DataFrame) -> Vec<String> {
    df.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Opens a selection's source (CSV as text).
pub(crate) async fn open_selection(ctx: &SessionContext, sel: &ViewSelection) -> Result<DataFrame> {
    let (_, files) = fingerprint(&sel.view);
    open(ctx, sel, &files).await
}

/// The violation predicates of a field's constraints (on its typed column `c` and
/// raw column `r`), each with how it reads in the report.
fn predicates(f: &Field, c: &Expr, r: &Expr) -> Vec<(String, Expr)> {
    let k = &f.constraints;
    let mut out = vec![(
        format!("type {}", format!("{:?}", f.ty).to_lowercase()),
        r.clone().is_not_null().and(c.clone().is_null()),
    )];
    if k.required {
        out.push(("required".into(), r.clone().is_null()));
    }
    let num = |v: f64| match f.ty {
        FieldType::Int if v.fract() == 0.0 && v.abs() < 9.0e15 => lit(v as i64),
        _ => lit(v),
    };
    if let Some(v) = k.min {
        out.push((format!("min >= {v}"), c.clone().lt(num(v))));
    }
    if let Some(v) = k.gt {
        out.push((format!("gt > {v}"), c.clone().lt_eq(num(v))));
    }
    if let Some(v) = k.max {
        out.push((format!("max <= {v}"), c.clone().gt(num(v))));
    }
    if let Some(v) = k.lt {
        out.push((format!("lt < {v}"), c.clone().gt_eq(num(v))));
    }
    if !k.accepted_values.is_empty() {
        let values: Vec<Expr> = k
            .accepted_values
            .iter()
            .map(|v| match f.ty {
                FieldType::Int => lit(v.trim().parse::<i64>().unwrap_or_default()),
                FieldType::Float => lit(v.trim().parse::<f64>().unwrap_or_default()),
                FieldType::Bool => lit(v.trim() == "true"),
                _ => lit(v.clone()),
            })
            .collect();
        out.push((
            format!("accepted_values [{}]", k.accepted_values.join(", ")),
            c.clone().is_not_null().and(c.clone().in_list(values, true)),
        ));
    }
    if let Some(re) = &k.regex {
        out.push((
            format!("regex {re}"),
            c.clone().is_not_null().and(datafusion::logical_expr::not(
                datafusion::functions::expr_fn::regexp_like(c.clone(), lit(re.clone()), None),
            )),
        ));
    }
    let length = || datafusion::functions::expr_fn::character_length(c.clone());
    if let Some(n) = k.min_length {
        out.push((format!("min_length {n}"), length().lt(lit(n as i64))));
    }
    if let Some(n) = k.max_length {
        out.push((format!("max_length {n}"), length().gt(lit(n as i64))));
    }
    out
}

fn flag(pred: Expr) -> Result<Expr> {
    Ok(sum(when(pred, lit(1i64))
        .otherwise(lit(0i64))
        .map_err(df_err)?))
}

pub(crate) fn df_err(e: datafusion::error::DataFusionError) -> DataError {
    DataError::Source(e.to_string())
}

fn u64_at(batch: &RecordBatch, name: &str) -> u64 {
    let Some(a) = batch.column_by_name(name) else {
        return 0;
    };
    if a.is_null(0) {
        return 0;
    }
    match a.data_type() {
        DataType::Int64 => a
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0)
            .max(0) as u64,
        DataType::UInt64 => a
            .as_primitive::<datafusion::arrow::datatypes::UInt64Type>()
            .value(0),
        _ => array_value_to_string(a, 0)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    }
}

fn f64_at(batch: &RecordBatch, name: &str) -> Option<f64> {
    let a = batch.column_by_name(name)?;
    if a.is_null(0) {
        return None;
    }
    let a = datafusion::arrow::compute::cast(a, &DataType::Float64).ok()?;
    Some(
        a.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .value(0),
    )
}

fn text_at(batch: &RecordBatch, name: &str) -> Option<String> {
    let a = batch.column_by_name(name)?;
    if a.is_null(0) {
        return None;
    }
    array_value_to_string(a, 0).ok()
}

/// Rows of `batches` as column → value text.
fn rows_of(batches: &[RecordBatch]) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (f, a) in b.schema().fields().iter().zip(b.columns()) {
                let v = if a.is_null(i) {
                    "null".to_string()
                } else {
                    array_value_to_string(a, i).unwrap_or_default()
                };
                row.insert(f.name().clone(), v);
            }
            out.push(row);
        }
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Checks the selected fields of a view: every constraint and every profile.
#[tracing::instrument(skip_all, fields(view = %sel.view.name))]
pub async fn check_view(sel: &ViewSelection, options: &CheckOptions) -> Result<ViewReport> {
    let view = &sel.view;
    let (fingerprint, files) = fingerprint(view);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(options.memory_limit, 1.0)
        .build_arc()
        .map_err(df_err)?;
    let ctx =
        SessionContext::new_with_config_rt(SessionConfig::new().with_batch_size(65_536), runtime);
    let df = open(&ctx, sel, &files).await?;
    let columns = column_names(&df);
    let fields: Vec<&Field> = sel.fields.iter().filter_map(|n| view.field(n)).collect();

    // The typed view: each present field cast to its type, beside its raw column.
    let raw_name = |i: usize| format!("__raw_{i}");
    let typed_name = |i: usize| format!("__typed_{i}");
    let mut select = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if columns.contains(&f.name) {
            let raw = col(format!("\"{}\"", f.name));
            select.push(raw.clone().alias(raw_name(i)));
            select.push(try_cast(raw, arrow_type(f.ty)).alias(typed_name(i)));
        }
    }
    let entity = view.entity.as_ref().filter(|e| columns.contains(e));
    if let Some(e) = entity {
        select.push(col(format!("\"{e}\"")).alias("__entity"));
    }
    let typed = if select.is_empty() {
        df.clone()
            .select(vec![lit(1i64).alias("__one")])
            .map_err(df_err)?
    } else {
        df.clone().select(select).map_err(df_err)?
    };

    // One pass: row count, and per field its profile and violation counts.
    let mut aggs = vec![count(lit(1i64)).alias("__rows")];
    let mut preds: Vec<Vec<(String, Expr)>> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if !columns.contains(&f.name) {
            preds.push(Vec::new());
            continue;
        }
        let r = col(raw_name(i));
        let c = col(typed_name(i));
        aggs.push(count(r.clone()).alias(format!("__nonnull_{i}")));
        match f.ty {
            _ if !options.profile => {}
            // HyperLogLog over floats goes through decimals (DataFusion hashes no
            // floats): values equal to 9 decimal places count once.
            FieldType::Float => aggs.push(
                approx_distinct(try_cast(c.clone(), DataType::Decimal128(38, 9)))
                    .alias(format!("__distinct_{i}")),
            ),
            FieldType::FloatList => {}
            _ => aggs.push(approx_distinct(c.clone()).alias(format!("__distinct_{i}"))),
        }
        match f.ty {
            FieldType::Int | FieldType::Float => {
                aggs.push(min(c.clone()).alias(format!("__min_{i}")));
                aggs.push(max(c.clone()).alias(format!("__max_{i}")));
                aggs.push(avg(cast(c.clone(), DataType::Float64)).alias(format!("__mean_{i}")));
                for (q, p) in QUANTILES.iter().filter(|_| options.profile) {
                    aggs.push(
                        approx_percentile_cont(
                            cast(c.clone(), DataType::Float64).sort(true, false),
                            lit(*p),
                            None,
                        )
                        .alias(format!("__{q}_{i}")),
                    );
                }
            }
            FieldType::Timestamp | FieldType::String => {
                aggs.push(min(c.clone()).alias(format!("__min_{i}")));
                aggs.push(max(c.clone()).alias(format!("__max_{i}")));
            }
            _ => {}
        }
        let ps = predicates(f, &c, &r);
        for (j, (_, p)) in ps.iter().enumerate() {
            aggs.push(flag(p.clone())?.alias(format!("__v_{i}_{j}")));
        }
        preds.push(ps);
    }
    let summary = typed
        .clone()
        .aggregate(vec![], aggs)
        .map_err(df_err)?
        .collect()
        .await
        .map_err(|e| source_err(&view.name, e))?;
    let Some(summary) = summary.into_iter().find(|b| b.num_rows() > 0) else {
        return Err(source_err(&view.name, "the aggregate returned no row"));
    };
    let rows = u64_at(&summary, "__rows");

    let mut reports = Vec::new();
    let mut total = 0u64;
    for (i, f) in fields.iter().enumerate() {
        if !columns.contains(&f.name) {
            // A field the source lacks breaks every promise about it.
            let violations = rows.max(1);
            total += violations;
            reports.push(FieldReport {
                field: f.name.clone(),
                ty: f.ty,
                present: false,
                rows,
                nulls: rows,
                distinct: None,
                min: None,
                max: None,
                mean: None,
                quantiles: None,
                top_values: Vec::new(),
                histogram: None,
                constraints: vec![ConstraintResult {
                    constraint: "present".into(),
                    violations,
                    examples: Vec::new(),
                }],
            });
            continue;
        }
        let c = col(typed_name(i));
        let mut constraints = Vec::new();
        for (j, (what, pred)) in preds[i].iter().enumerate() {
            let violations = u64_at(&summary, &format!("__v_{i}_{j}"));
            let examples = if violations > 0 {
                examples(&typed, pred.clone(), i, entity.is_some(), options.examples).await?
            } else {
                Vec::new()
            };
            constraints.push(ConstraintResult {
                constraint: what.clone(),
                violations,
                examples,
            });
        }
        if f.constraints.unique {
            let (duplicates, examples) = duplicates(&typed, &c, options.examples)
                .await
                .map_err(|e| source_err(&view.name, e))?;
            constraints.push(ConstraintResult {
                constraint: "unique".into(),
                violations: duplicates,
                examples,
            });
        }
        if let Some(age) = f.constraints.freshness {
            let newest = f64_at(&summary, &format!("__max_{i}"));
            // Timestamps are microseconds since the epoch.
            let limit_us = (now_ms() as f64 - age.as_millis() as f64) * 1000.0;
            let stale = newest.is_none_or(|n| n < limit_us);
            constraints.push(ConstraintResult {
                constraint: format!("freshness {}", humanize(age)),
                violations: u64::from(stale),
                examples: if stale {
                    vec![BTreeMap::from([(
                        "newest".to_string(),
                        text_at(&summary, &format!("__max_{i}")).unwrap_or_else(|| "none".into()),
                    )])]
                } else {
                    Vec::new()
                },
            });
        }
        let violations: u64 = constraints.iter().map(|c| c.violations).sum();
        total += violations;
        let quantiles = (f.ty.is_numeric() && options.profile).then(|| {
            QUANTILES
                .iter()
                .filter_map(|(q, _)| {
                    Some((q.to_string(), f64_at(&summary, &format!("__{q}_{i}"))?))
                })
                .collect::<BTreeMap<_, _>>()
        });
        let top_values = if options.profile && matches!(f.ty, FieldType::String | FieldType::Bool) {
            let batches = typed
                .clone()
                .filter(c.clone().is_not_null())
                .map_err(df_err)?
                .aggregate(
                    vec![c.clone().alias("value")],
                    vec![count(lit(1i64)).alias("rows")],
                )
                .map_err(df_err)?
                .sort(vec![
                    col("rows").sort(false, false),
                    col("value").sort(true, false),
                ])
                .map_err(df_err)?
                .limit(0, Some(options.top_values))
                .map_err(df_err)?
                .collect()
                .await
                .map_err(|e| source_err(&view.name, e))?;
            rows_of(&batches)
                .into_iter()
                .map(|r| {
                    let n = r.get("rows").and_then(|n| n.parse().ok()).unwrap_or(0);
                    (r.get("value").cloned().unwrap_or_default(), n)
                })
                .collect()
        } else {
            Vec::new()
        };
        let nonnull = u64_at(&summary, &format!("__nonnull_{i}"));
        reports.push(FieldReport {
            field: f.name.clone(),
            ty: f.ty,
            present: true,
            rows,
            nulls: rows.saturating_sub(nonnull),
            distinct: (options.profile && f.ty != FieldType::FloatList)
                .then(|| u64_at(&summary, &format!("__distinct_{i}"))),
            min: text_at(&summary, &format!("__min_{i}")),
            max: text_at(&summary, &format!("__max_{i}")),
            mean: f64_at(&summary, &format!("__mean_{i}")),
            quantiles,
            top_values,
            histogram: None,
            constraints,
        });
    }
    if options.profile {
        histograms(&typed, &fields, &columns, &summary, &mut reports)
            .await
            .map_err(|e| source_err(&view.name, e))?;
    }
    Ok(ViewReport {
        view: view.name.clone(),
        version: sel.version.clone(),
        source: view.source.clone(),
        fingerprint,
        files,
        rows,
        violations: total,
        fields: reports,
    })
}

/// Fills the histograms of numeric fields in one more pass: each bin is a counted
/// predicate, so all fields' bins come from one aggregate.
async fn histograms(
    typed: &DataFrame,
    fields: &[&Field],
    columns: &[String],
    summary: &RecordBatch,
    reports: &mut [FieldReport],
) -> Result<()> {
    let mut aggs = Vec::new();
    let mut plans = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if !f.ty.is_numeric() || !columns.contains(&f.name) {
            continue;
        }
        let (Some(lo), Some(hi)) = (
            f64_at(summary, &format!("__min_{i}")),
            f64_at(summary, &format!("__max_{i}")),
        ) else {
            continue;
        };
        if !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        let bins = if hi > lo { BINS } else { 1 };
        let width = if hi > lo {
            (hi - lo) / bins as f64
        } else {
            1.0
        };
        let x = cast(col(format!("__typed_{i}")), DataType::Float64);
        for k in 0..bins {
            let a = lo + width * k as f64;
            let upper = if k + 1 == bins {
                x.clone().lt_eq(lit(hi))
            } else {
                x.clone().lt(lit(lo + width * (k + 1) as f64))
            };
            let pred = if k == 0 {
                upper
            } else {
                x.clone().gt_eq(lit(a)).and(upper)
            };
            aggs.push(flag(pred)?.alias(format!("__h_{i}_{k}")));
        }
        let edges = (0..=bins)
            .map(|k| if k == bins { hi } else { lo + width * k as f64 })
            .collect();
        plans.push((i, edges, bins));
    }
    if plans.is_empty() {
        return Ok(());
    }
    let batches = typed
        .clone()
        .aggregate(vec![], aggs)
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)?;
    let Some(batch) = batches.into_iter().find(|b| b.num_rows() > 0) else {
        return Ok(());
    };
    for (i, edges, bins) in plans {
        let counts = (0..bins)
            .map(|k| u64_at(&batch, &format!("__h_{i}_{k}")))
            .collect();
        if let Some(r) = reports.iter_mut().find(|r| r.field == fields[i].name) {
            r.histogram = Some(Histogram { edges, counts });
        }
    }
    Ok(())
}

/// A `unique` field's duplicates (`count - count(distinct)`: the rows beyond the
/// first of each repeated value) and up to `n` repeated values with their counts,
/// from one grouping of the field (which spills to disk under the memory limit)
/// read as a stream: only values seen more than once come out of it.
async fn duplicates(
    typed: &DataFrame,
    c: &Expr,
    n: usize,
) -> datafusion::error::Result<(u64, Vec<BTreeMap<String, String>>)> {
    use futures::StreamExt;
    let mut stream = typed
        .clone()
        .filter(c.clone().is_not_null())?
        .aggregate(
            vec![c.clone().alias("value")],
            vec![count(lit(1i64)).alias("rows")],
        )?
        .filter(col("rows").gt(lit(1i64)))?
        .execute_stream()
        .await?;
    let (mut total, mut examples) = (0u64, Vec::new());
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if let Some(rows) = batch.column_by_name("rows") {
            let rows = datafusion::arrow::compute::cast(rows, &DataType::Int64)?;
            let rows = rows.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            total += rows
                .iter()
                .flatten()
                .map(|r| (r - 1).max(0) as u64)
                .sum::<u64>();
        }
        if examples.len() < n {
            let take = batch.slice(0, (n - examples.len()).min(batch.num_rows()));
            examples.extend(rows_of(&[take]));
        }
    }
    Ok((total, examples))
}

/// Up to `n` rows violating `pred`: the entity key and the field's value as read.
async fn examples(
    typed: &DataFrame,
    pred: Expr,
    i: usize,
    entity: bool,
    n: usize,
) -> Result<Vec<BTreeMap<String, String>>> {
    let mut cols = vec![col(format!("__raw_{i}")).alias("value")];
    if entity {
        cols.insert(0, col("__entity").alias("entity"));
    }
    let batches = typed
        .clone()
        .filter(pred)
        .map_err(df_err)?
        .select(cols)
        .map_err(df_err)?
        .limit(0, Some(n))
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)?;
    Ok(rows_of(&batches))
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A view's first `limit` rows, each field as text (`null` when missing).
pub async fn head(
    view: &crate::FeatureView,
    limit: usize,
) -> Result<Vec<BTreeMap<String, String>>> {
    let (_, files) = fingerprint(view);
    let sel = ViewSelection {
        view: view.clone(),
        version: String::new(),
        fields: Vec::new(),
    };
    let ctx = SessionContext::new();
    let df = open(&ctx, &sel, &files).await?;
    let batches = df
        .limit(0, Some(limit))
        .map_err(df_err)?
        .collect()
        .await
        .map_err(|e| source_err(&view.name, e))?;
    Ok(rows_of(&batches))
}

/// Checks a view, or every view a contract reads.
pub async fn check(
    state: &crate::ContractState,
    name: &str,
    options: &CheckOptions,
) -> Result<CheckReport> {
    let started = std::time::Instant::now();
    let checked_at_ms = now_ms();
    let selection = crate::spec::selection(state, name)?;
    let file = state
        .get(name)
        .ok_or_else(|| DataError::NotFound(format!("no view or contract is named `{name}`")))?;
    let mut views = Vec::new();
    for sel in &selection {
        views.push(check_view(sel, options).await?);
    }
    let violations = views.iter().map(|v| v.violations).sum();
    Ok(CheckReport {
        target: name.to_string(),
        kind: match file.item {
            crate::Item::View(_) => "view".into(),
            crate::Item::Contract(_) => "contract".into(),
        },
        version: file.version.clone(),
        checked_at_ms,
        duration_ms: started.elapsed().as_millis() as u64,
        passed: violations == 0,
        violations,
        views,
    })
}

impl CheckReport {
    /// The report as a person reads it in a terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} `{}` (version {}): {} in {} ms",
            self.kind,
            self.target,
            self.version,
            if self.passed {
                "passed".to_string()
            } else {
                format!("{} violations", self.violations)
            },
            self.duration_ms
        );
        for v in &self.views {
            let _ = writeln!(
                s,
                "\nview `{}`: {} rows from {} (fingerprint {})",
                v.view, v.rows, v.source, v.fingerprint
            );
            for f in &v.fields {
                let mut profile = format!("nulls {}", f.nulls);
                if let Some(d) = f.distinct {
                    let _ = write!(profile, ", ~{d} distinct");
                }
                if let (Some(lo), Some(hi)) = (&f.min, &f.max) {
                    let _ = write!(profile, ", min {lo}, max {hi}");
                }
                if let Some(m) = f.mean {
                    let _ = write!(profile, ", mean {m:.6}");
                }
                if let Some(q) = &f.quantiles {
                    let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k} {v}")).collect();
                    let _ = write!(profile, ", {}", qs.join(" "));
                }
                if !f.top_values.is_empty() {
                    let tops: Vec<String> = f
                        .top_values
                        .iter()
                        .map(|(v, n)| format!("{v} ({n})"))
                        .collect();
                    let _ = write!(profile, ", top {}", tops.join(", "));
                }
                let _ = writeln!(
                    s,
                    "  {} ({}): {profile}",
                    f.field,
                    format!("{:?}", f.ty).to_lowercase()
                );
                for c in &f.constraints {
                    if c.violations == 0 {
                        let _ = writeln!(s, "    ok    {}", c.constraint);
                        continue;
                    }
                    let _ = writeln!(s, "    FAIL  {}: {} rows", c.constraint, c.violations);
                    for e in &c.examples {
                        let row: Vec<String> = e.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        let _ = writeln!(s, "          {}", row.join(" "));
                    }
                }
            }
        }
        s
    }
}
