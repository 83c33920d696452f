//! A model contract's training set: its input features joined to its label on the
//! entity, point-in-time correct where the views have event timestamps.
//!
//! The label's view is the spine: one training row per label row. Each feature view
//! is joined to it on the entity; where both have event timestamps, a feature row
//! counts only if it was true at or before the label's time, and of those the
//! latest wins (an "as of" join, done as a left join on the entity with the time
//! condition, then `row_number()` over each label row by feature time, descending,
//! keeping the first). A label with no feature row before it gets missing values,
//! never a value from its future. Without timestamps the join is on the entity alone,
//! so such a view should have one row per entity (its `unique` constraint says so).

use std::path::Path;

use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{cast, try_cast, ExprFunctionExt, JoinType};
use datafusion::prelude::{col, lit, DataFrame, SessionContext};

use crate::check::{arrow_type, column_names, df_err, open_selection};
use crate::spec::{FieldRef, Item, ModelContract, Task, ViewSelection};
use crate::{ContractState, DataError, FeatureView, Result};

/// What a training set was built from.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub contract: String,
    /// The contract file's version.
    pub version: String,
    /// The label column's name in the set.
    pub label: String,
    pub task: Task,
    /// The feature columns, in the contract's order.
    pub features: Vec<String>,
    pub rows: usize,
}

fn view<'s>(state: &'s ContractState, contract: &str, name: &str) -> Result<&'s FeatureView> {
    match state.get(name).map(|f| &f.item) {
        Some(Item::View(v)) => Ok(v),
        _ => Err(DataError::NotFound(format!(
            "contract `{contract}` reads view `{name}`, which the contracts folder does not define"
        ))),
    }
}

/// The features a reference stands for: the field, or all of a view's fields but
/// its entity and event timestamp.
fn expand(v: &FeatureView, r: &FieldRef, contract: &str) -> Result<Vec<String>> {
    match &r.field {
        Some(f) if v.field(f).is_some() => Ok(vec![f.clone()]),
        Some(f) => Err(DataError::NotFound(format!(
            "contract `{contract}` reads `{r}`, but view `{}` has no field `{f}`",
            v.name
        ))),
        None => Ok(v
            .fields
            .iter()
            .map(|f| f.name.clone())
            .filter(|f| Some(f) != v.entity.as_ref() && Some(f) != v.event_timestamp.as_ref())
            .collect()),
    }
}

/// The typed frame of `fields` of `v`, with its entity as `key` (text) and its event
/// time as `time` when asked.
async fn frame(
    ctx: &SessionContext,
    v: &FeatureView,
    fields: &[String],
    key: &str,
    time: Option<&str>,
) -> Result<DataFrame> {
    let Some(entity) = &v.entity else {
        return Err(DataError::Source(format!(
            "view `{}` has no `entity`, so it cannot be joined to a label",
            v.name
        )));
    };
    let mut wanted: Vec<String> = fields.to_vec();
    wanted.push(entity.clone());
    if let Some(ts) = &v.event_timestamp {
        wanted.push(ts.clone());
    }
    let sel = ViewSelection {
        view: v.clone(),
        version: String::new(),
        fields: wanted,
    };
    let df = open_selection(ctx, &sel).await?;
    let columns = column_names(&df);
    let mut select = Vec::new();
    for name in fields {
        let f = v.field(name).ok_or_else(|| {
            DataError::NotFound(format!("view `{}` has no field `{name}`", v.name))
        })?;
        if !columns.contains(name) {
            return Err(DataError::Source(format!(
                "view `{}`: the source has no column `{name}`",
                v.name
            )));
        }
        select.push(try_cast(col(format!("\"{name}\"")), arrow_type(f.ty)).alias(name));
    }
    select.push(cast(col(format!("\"{entity}\"")), DataType::Utf8).alias(key));
    if let (Some(alias), Some(ts)) = (time, &v.event_timestamp) {
        select.push(
            try_cast(
                col(format!("\"{ts}\"")),
                arrow_type(crate::spec::FieldType::Timestamp),
            )
            .alias(alias),
        );
    }
    df.select(select).map_err(df_err)
}

/// Builds the training set of `contract` and writes it to `out` as CSV (header row;
/// the features, then the label).
#[tracing::instrument(skip(state, out))]
pub async fn write_training_set(
    state: &ContractState,
    contract: &str,
    out: &Path,
) -> Result<TrainingSet> {
    let file = state.get(contract).ok_or_else(|| {
        DataError::NotFound(format!(
            "no contract is named `{contract}` in the contracts folder"
        ))
    })?;
    let Item::Contract(c) = &file.item else {
        return Err(DataError::NotFound(format!(
            "`{contract}` is a view, not a model contract"
        )));
    };
    let df = training_frame(state, c).await?;
    let features: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| Some(n.as_str()) != c.label.as_ref().and_then(|l| l.field.field.as_deref()))
        .collect();
    let label = c
        .label
        .as_ref()
        .and_then(|l| l.field.field.clone())
        .unwrap_or_default();
    let task = c.label.as_ref().map_or(Task::Classification, |l| l.task);
    let written = df
        .write_csv(
            &out.display().to_string(),
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await
        .map_err(df_err)?;
    let rows = written
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::UInt64Array>()
        })
        .map_or(0, |a| a.value(0) as usize);
    Ok(TrainingSet {
        contract: c.name.clone(),
        version: file.version.clone(),
        label,
        task,
        features,
        rows,
    })
}

/// The contract's features grouped by view (in the contract's order), and all of
/// them in order; a whole view that holds the label gives its other fields.
type ByView = Vec<(String, Vec<String>)>;

fn features_by_view(
    state: &ContractState,
    c: &ModelContract,
    label: Option<(&str, &str)>,
) -> Result<(ByView, Vec<String>)> {
    let mut by_view: ByView = Vec::new();
    let mut order: Vec<String> = Vec::new();
    for r in &c.features {
        let v = view(state, &c.name, &r.view)?;
        let mut names = expand(v, r, &c.name)?;
        if let Some((label_view, label_field)) = label {
            if r.field.is_none() && r.view == label_view {
                names.retain(|n| n != label_field);
            }
        }
        for n in &names {
            if order.contains(n) || label.is_some_and(|(_, l)| l == n) {
                return Err(DataError::Source(format!(
                    "contract `{}`: two inputs (or an input and the label) are named `{n}`",
                    c.name
                )));
            }
            order.push(n.clone());
        }
        match by_view.iter_mut().find(|(name, _)| *name == r.view) {
            Some((_, fields)) => fields.extend(names),
            None => by_view.push((r.view.clone(), names)),
        }
    }
    if order.is_empty() {
        return Err(DataError::Source(format!(
            "contract `{}` names no features",
            c.name
        )));
    }
    Ok((by_view, order))
}

/// Joins each feature view but the spine's onto `df` (which has `__entity`, `__row`
/// and, for as-of joins, `__ts`): per spine row, the view's row for the entity that
/// is latest by event time, at or before `__ts` when `as_of`.
async fn join_views(
    ctx: &SessionContext,
    state: &ContractState,
    c: &ModelContract,
    mut df: DataFrame,
    by_view: &ByView,
    spine: &str,
    as_of: bool,
) -> Result<DataFrame> {
    for (i, (name, fields)) in by_view.iter().enumerate() {
        if name == spine {
            continue;
        }
        let v = view(state, &c.name, name)?;
        let key = format!("__key_{i}");
        let time = format!("__time_{i}");
        let timed = v.event_timestamp.is_some();
        let right = frame(ctx, v, fields, &key, timed.then_some(time.as_str())).await?;
        let filter = (as_of && timed).then(|| col(time.as_str()).lt_eq(col("__ts")));
        let joined = df
            .join(
                right,
                JoinType::Left,
                &["__entity"],
                &[key.as_str()],
                filter,
            )
            .map_err(df_err)?;
        let mut rank = row_number().partition_by(vec![col("__row")]);
        if timed {
            rank = rank.order_by(vec![col(time.as_str()).sort(false, false)]);
        }
        let rank = rank.build().map_err(df_err)?.alias("__rank");
        let mut drop = vec![key.clone(), "__rank".to_string()];
        if timed {
            drop.push(time.clone());
        }
        df = joined
            .window(vec![rank])
            .map_err(df_err)?
            .filter(col("__rank").eq(lit(1u64)))
            .map_err(df_err)?
            .drop_columns(&drop.iter().map(String::as_str).collect::<Vec<_>>())
            .map_err(df_err)?;
    }
    Ok(df)
}

/// One partition: a spine view's rows keep their file order, so the same files give
/// the same rows in the same order.
fn ordered_context() -> SessionContext {
    SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_target_partitions(1),
    )
}

/// The contract's training set as a DataFrame: feature columns in the contract's
/// order, then the label, one row per labelled row of the label view, in its order.
pub async fn training_frame(state: &ContractState, c: &ModelContract) -> Result<DataFrame> {
    let Some(label) = &c.label else {
        return Err(DataError::Source(format!(
            "contract `{}` has no label to train on",
            c.name
        )));
    };
    let label_field = label.field.field.clone().unwrap_or_default();
    let spine_view = view(state, &c.name, &label.field.view)?;
    let ctx = ordered_context();
    let (by_view, order) = features_by_view(
        state,
        c,
        Some((label.field.view.as_str(), label_field.as_str())),
    )?;

    // The spine: the label view's rows, with its own features among them.
    let mut spine_fields: Vec<String> = by_view
        .iter()
        .find(|(v, _)| *v == spine_view.name)
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    spine_fields.push(label_field.clone());
    let spine_time = spine_view.event_timestamp.as_ref().map(|_| "__ts");
    let df = frame(&ctx, spine_view, &spine_fields, "__entity", spine_time)
        .await?
        .window(vec![row_number().alias("__row")])
        .map_err(df_err)?;
    let df = join_views(
        &ctx,
        state,
        c,
        df,
        &by_view,
        &spine_view.name,
        spine_time.is_some(),
    )
    .await?;
    let mut select: Vec<_> = order.iter().map(|n| col(format!("\"{n}\""))).collect();
    select.push(col(format!("\"{label_field}\"")));
    df.filter(col(format!("\"{label_field}\"")).is_not_null())
        .map_err(df_err)?
        .sort(vec![col("__row").sort(true, false)])
        .map_err(df_err)?
        .select(select)
        .map_err(df_err)
}

/// What a model is asked about: each row of the contract's first feature view (or
/// of `source`, a file laid out as that view), with the other views' latest values
/// for its entity. Columns: `__entity` (text), then the features in order.
pub async fn inference_frame(
    state: &ContractState,
    c: &ModelContract,
    source: Option<&Path>,
) -> Result<(DataFrame, Vec<String>)> {
    let label = c
        .label
        .as_ref()
        .and_then(|l| Some((l.field.view.as_str(), l.field.field.as_deref()?)));
    let (by_view, order) = features_by_view(state, c, label)?;
    let (first, own) = &by_view[0];
    let mut spine = view(state, &c.name, first)?.clone();
    if let Some(path) = source {
        spine.postgres = None;
        spine.source = path.display().to_string();
        spine.location = std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string();
    }
    let ctx = ordered_context();
    let df = frame(&ctx, &spine, own, "__entity", None)
        .await?
        .window(vec![row_number().alias("__row")])
        .map_err(df_err)?;
    let df = join_views(&ctx, state, c, df, &by_view, &spine.name, false).await?;
    let mut select = vec![col("__entity")];
    select.extend(order.iter().map(|n| col(format!("\"{n}\""))));
    let df = df
        .sort(vec![col("__row").sort(true, false)])
        .map_err(df_err)?
        .select(select)
        .map_err(df_err)?;
    Ok((df, order))
}
