//! Turns validated search clauses into SQL over MLflow's tables.

use super::Sql;
use crate::types::RunSearch;
use cairn_core::search::{
    Clause, DatasetField, ExperimentAttr, LoggedModelAttr, Op, OrderBy, RegistryAttr, RunAttr,
    Target, Value,
};

type Qb = Sql;

/// cairn's covering probe indexes (see `schema::SQLITE_CAIRN_DDL`), named explicitly
/// to SQLite: without the hint it prefers MLflow's unique (key, run_uuid) indexes,
/// which hold no value and cost a second seek into the table for every run probed.
const METRICS_PROBE: &str = "cairn_idx_latest_metrics_probe";
/// Latest metrics by key and value: walks one metric's runs in value order.
const METRICS_ORDER: &str = "cairn_idx_latest_metrics_order";
const PARAMS_PROBE: &str = "cairn_idx_params_probe";

fn push_value(qb: &mut Qb, v: &Value) {
    match v {
        Value::Str(s) => {
            qb.push_bind(s.clone());
        }
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            qb.push_bind(*n as i64);
        }
        Value::Num(n) => {
            qb.push_bind(*n);
        }
        Value::List(items) => {
            qb.push_list(items.iter().cloned());
        }
        Value::None => {
            qb.push("NULL");
        }
    }
}

/// `column op value`, with ILIKE as a case-folded LIKE (SQLite runs with
/// `case_sensitive_like = ON`, so LIKE is case-sensitive as in MLflow).
pub(crate) fn push_comparison(qb: &mut Qb, column: &str, op: Op, value: &Value) {
    match op {
        Op::ILike => {
            qb.push(format!("LOWER({column}) LIKE LOWER("));
            push_value(qb, value);
            qb.push(")");
        }
        Op::In | Op::NotIn => {
            qb.push(format!("{column} {} ", op.as_str()));
            push_value(qb, value);
        }
        Op::IsNull | Op::IsNotNull => {
            qb.push(format!("{column} {}", op.as_str()));
        }
        _ => {
            qb.push(format!("{column} {} ", op.as_str()));
            push_value(qb, value);
        }
    }
}

/// A key/value table (params, tags) clause: IS NULL means "the run lacks the key".
fn push_kv_clause(
    qb: &mut Qb,
    table: &str,
    hint: Option<&str>,
    owner: &str,
    key: &str,
    c: &Clause<impl Sized>,
) {
    let exists = if c.op == Op::IsNull {
        "NOT EXISTS"
    } else {
        "EXISTS"
    };
    qb.push(format!("{exists} (SELECT 1 FROM {table} kv"));
    if let Some(index) = hint {
        qb.hint(index);
    }
    qb.push(format!(" WHERE kv.run_uuid = {owner} AND kv.\"key\" = "));
    qb.push_bind(key.to_string());
    if !matches!(c.op, Op::IsNull | Op::IsNotNull) {
        qb.push(" AND ");
        push_comparison(qb, "kv.value", c.op, &c.value);
    }
    qb.push(")");
}

pub(crate) fn push_run_clause(qb: &mut Qb, c: &Clause<RunAttr>) {
    match &c.target {
        Target::Metric(key) => {
            qb.push("EXISTS (SELECT 1 FROM latest_metrics lm")
                .hint(METRICS_PROBE);
            qb.push(" WHERE lm.run_uuid = r.run_uuid AND lm.is_nan = FALSE AND lm.\"key\" = ");
            qb.push_bind(key.clone());
            qb.push(" AND ");
            push_comparison(qb, "lm.value", c.op, &c.value);
            qb.push(")");
        }
        Target::Param(key) => {
            push_kv_clause(qb, "params", Some(PARAMS_PROBE), "r.run_uuid", key, c);
        }
        Target::Tag(key) => push_kv_clause(qb, "tags", None, "r.run_uuid", key, c),
        Target::Attribute(attr) => {
            push_comparison(qb, &format!("r.{}", attr.column()), c.op, &c.value);
        }
        Target::Dataset(field) => {
            qb.push(
                "EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
                 WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' \
                 AND i.destination_id = r.run_uuid AND ",
            );
            match field {
                DatasetField::Name => push_comparison(qb, "d.name", c.op, &c.value),
                DatasetField::Digest => push_comparison(qb, "d.digest", c.op, &c.value),
                DatasetField::Context => {
                    qb.push(
                        "EXISTS (SELECT 1 FROM input_tags it WHERE it.input_uuid = i.input_uuid \
                         AND it.name = 'mlflow.data.context' AND ",
                    );
                    push_comparison(qb, "it.value", c.op, &c.value);
                    qb.push(")");
                }
            }
            qb.push(")");
        }
    }
}

/// LEFT JOINs that bring each order key's value next to its run (alias `o<i>`), from
/// key `from` on (the keys before it are joined already).
pub(crate) fn push_run_order_joins(qb: &mut Qb, order: &[OrderBy<RunAttr>], from: usize) {
    for (i, o) in order.iter().enumerate().skip(from) {
        let (table, hint, key) = match &o.target {
            Target::Metric(k) => ("latest_metrics", Some(METRICS_PROBE), k),
            Target::Param(k) => ("params", Some(PARAMS_PROBE), k),
            Target::Tag(k) => ("tags", None, k),
            _ => continue,
        };
        qb.push(format!(" LEFT JOIN {table} o{i}"));
        if let Some(index) = hint {
            qb.hint(index);
        }
        qb.push(format!(
            " ON o{i}.run_uuid = r.run_uuid AND o{i}.\"key\" = "
        ));
        qb.push_bind(key.clone());
    }
}

/// ORDER BY: missing values last (and, for metrics, NaN after numbers but before
/// missing), then MLflow's tie-breaks: start_time DESC, run_id ASC. With `led`, the
/// first key is a metric every row has a number for (see [`RunSet::Led`]).
pub(crate) fn push_run_order_by(qb: &mut Qb, order: &[OrderBy<RunAttr>], led: bool) {
    let mut keys = Vec::new();
    let mut has_start_time = false;
    for (i, o) in order.iter().enumerate() {
        let dir = if o.ascending { "ASC" } else { "DESC" };
        match &o.target {
            Target::Metric(_) if led && i == 0 => keys.push(format!("o0.value {dir}")),
            Target::Metric(_) => {
                keys.push(format!(
                    "CASE WHEN o{i}.is_nan = TRUE THEN 1 WHEN o{i}.value IS NULL THEN 2 ELSE 0 END"
                ));
                keys.push(format!("o{i}.value {dir}"));
            }
            Target::Param(_) | Target::Tag(_) => {
                keys.push(format!("(o{i}.value IS NULL)"));
                keys.push(format!("o{i}.value {dir}"));
            }
            Target::Attribute(attr) => {
                has_start_time |= *attr == RunAttr::StartTime;
                keys.push(format!("(r.{} IS NULL)", attr.column()));
                keys.push(format!("r.{} {dir}", attr.column()));
            }
            Target::Dataset(_) => {}
        }
    }
    if !has_start_time {
        keys.push("r.start_time DESC".to_string());
    }
    keys.push("r.run_uuid ASC".to_string());
    qb.push(" ORDER BY ");
    qb.push(keys.join(", "));
}

/// Which runs of a search a run-id query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunSet {
    /// Every match, in the search's order.
    All,
    /// The matches with a number for the first order key, a metric: the query walks
    /// that metric's values in order (`cairn_idx_latest_metrics_order`) and stops once
    /// the page is full, instead of sorting every match of the experiment.
    Led,
    /// The matches without one (NaN or no such metric), which sort after all of those.
    Rest,
}

/// The metric the first order key names, when a search can be led by it.
pub(crate) fn lead_metric(order: &[OrderBy<RunAttr>]) -> Option<&str> {
    match order.first().map(|o| &o.target) {
        Some(Target::Metric(key)) => Some(key),
        _ => None,
    }
}

/// The query for the ids of one page of `set`'s runs (`max_results` + 1 rows from
/// `offset`, so the caller sees whether more follow), or with `count` for how many
/// runs `set` holds.
pub(crate) fn run_ids_sql(
    mut qb: Sql,
    s: &RunSearch,
    set: RunSet,
    count: bool,
    limit: u64,
    offset: u64,
) -> Sql {
    let select = if count {
        "SELECT COUNT(*)"
    } else {
        "SELECT r.run_uuid"
    };
    let lead = lead_metric(&s.order_by).filter(|_| set != RunSet::All);
    if let (RunSet::Led, Some(key)) = (set, lead) {
        // CROSS JOIN fixes SQLite's join order: the metric index is the outer loop.
        qb.push(format!("{select} FROM latest_metrics o0"))
            .hint(METRICS_ORDER);
        qb.push(" CROSS JOIN runs r");
        push_run_order_joins(&mut qb, &s.order_by, 1);
        qb.push(" WHERE o0.\"key\" = ").push_bind(key);
        qb.push(" AND o0.is_nan = FALSE AND r.run_uuid = o0.run_uuid AND");
    } else {
        qb.push(format!("{select} FROM runs r"));
        if !count {
            push_run_order_joins(&mut qb, &s.order_by, 0);
        }
        qb.push(" WHERE");
    }
    qb.push(" r.experiment_id IN ");
    qb.push_list(s.experiment_ids.iter().copied());
    qb.push(" AND r.lifecycle_stage IN ");
    qb.push_list(s.view_type.stages().iter().map(|s| s.to_string()));
    for c in &s.filter {
        qb.push(" AND ");
        push_run_clause(&mut qb, c);
    }
    if let (RunSet::Rest, Some(key)) = (set, lead) {
        qb.push(" AND NOT EXISTS (SELECT 1 FROM latest_metrics x")
            .hint(METRICS_PROBE);
        qb.push(" WHERE x.run_uuid = r.run_uuid AND x.is_nan = FALSE AND x.\"key\" = ");
        qb.push_bind(key).push(")");
    }
    if !count {
        push_run_order_by(&mut qb, &s.order_by, set == RunSet::Led);
        qb.push_page(limit.saturating_sub(1), offset);
    }
    qb
}

pub(crate) fn push_experiment_clause(qb: &mut Qb, c: &Clause<ExperimentAttr>) {
    match &c.target {
        Target::Tag(key) => {
            let exists = if c.op == Op::IsNull {
                "NOT EXISTS"
            } else {
                "EXISTS"
            };
            qb.push(format!(
                "{exists} (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = \
                 e.experiment_id AND t.\"key\" = "
            ));
            qb.push_bind(key.clone());
            if !matches!(c.op, Op::IsNull | Op::IsNotNull) {
                qb.push(" AND ");
                push_comparison(qb, "t.value", c.op, &c.value);
            }
            qb.push(")");
        }
        Target::Attribute(ExperimentAttr::ExperimentId) => {
            // Ids are strings on the wire and integers in the table.
            push_comparison(qb, "CAST(e.experiment_id AS TEXT)", c.op, &c.value);
        }
        Target::Attribute(attr) => {
            push_comparison(qb, &format!("e.{}", attr.column()), c.op, &c.value);
        }
        _ => {}
    }
}

pub(crate) fn push_experiment_order_by(qb: &mut Qb, order: &[OrderBy<ExperimentAttr>]) {
    let mut keys = Vec::new();
    let mut has_id = false;
    for o in order {
        if let Target::Attribute(attr) = &o.target {
            has_id |= *attr == ExperimentAttr::ExperimentId;
            let dir = if o.ascending { "ASC" } else { "DESC" };
            keys.push(format!("e.{} {dir}", attr.column()));
        }
    }
    if order.is_empty() {
        // MLflow's default: newest first.
        keys.push("e.creation_time DESC".to_string());
    }
    if !has_id {
        keys.push("e.experiment_id ASC".to_string());
    }
    qb.push(" ORDER BY ");
    qb.push(keys.join(", "));
}

pub(crate) fn push_registry_clause(
    qb: &mut Sql,
    alias: &str,
    tag_table: &str,
    owner: &str,
    c: &Clause<RegistryAttr>,
) {
    match &c.target {
        Target::Attribute(attr) => {
            push_comparison(qb, &format!("{alias}.{}", attr.column()), c.op, &c.value);
        }
        Target::Tag(key) => {
            // `tag.x != 'v'` also matches entities without the tag: the client relies on
            // it to leave prompts out (`tag.mlflow.prompt.is_prompt != 'true'`).
            let negate = c.op == Op::Ne;
            qb.push(format!(
                "{}EXISTS (SELECT 1 FROM {tag_table} t WHERE t.workspace = 'default' AND {owner} AND t.\"key\" = ",
                if negate { "NOT " } else { "" }
            ));
            qb.push_bind(key.clone()).push(" AND ");
            push_comparison(qb, "t.value", if negate { Op::Eq } else { c.op }, &c.value);
            qb.push(")");
        }
        _ => {}
    }
}

pub(crate) fn push_registry_order(
    qb: &mut Sql,
    alias: &str,
    order: &[OrderBy<RegistryAttr>],
    tail: &[(RegistryAttr, &str)],
) {
    let mut keys = Vec::new();
    let mut seen = Vec::new();
    for o in order {
        if let Target::Attribute(a) = o.target {
            seen.push(a);
            keys.push(format!(
                "{alias}.{} {}",
                a.column(),
                if o.ascending { "ASC" } else { "DESC" }
            ));
        }
    }
    for (a, dir) in tail {
        if !seen.contains(a) {
            keys.push(format!("{alias}.{} {dir}", a.column()));
        }
    }
    qb.push(" ORDER BY ").push(keys.join(", "));
}

pub(crate) fn push_logged_model_clause(qb: &mut Sql, c: &Clause<LoggedModelAttr>) {
    match &c.target {
        Target::Attribute(attr) => {
            push_comparison(qb, &format!("m.{}", attr.column()), c.op, &c.value);
        }
        Target::Tag(key) | Target::Param(key) => {
            let (table, k, v) = if matches!(c.target, Target::Tag(_)) {
                ("logged_model_tags", "tag_key", "tag_value")
            } else {
                ("logged_model_params", "param_key", "param_value")
            };
            // `!=` also matches models without the key, as in the registry searches.
            let negate = c.op == Op::Ne;
            qb.push(format!(
                "{}EXISTS (SELECT 1 FROM {table} kv WHERE kv.model_id = m.model_id AND kv.{k} = ",
                if negate { "NOT " } else { "" }
            ));
            qb.push_bind(key.clone());
            qb.push(" AND ");
            let op = if negate { Op::Eq } else { c.op };
            push_comparison(qb, &format!("kv.{v}"), op, &c.value);
            qb.push(")");
        }
        Target::Metric(key) => {
            qb.push(
                "EXISTS (SELECT 1 FROM logged_model_metrics lm WHERE lm.model_id = m.model_id \
                 AND lm.metric_name = ",
            );
            qb.push_bind(key.clone());
            qb.push(" AND ");
            push_comparison(qb, "lm.metric_value", c.op, &c.value);
            qb.push(")");
        }
        Target::Dataset(_) => {
            qb.push("1 = 1");
        }
    }
}

/// The latest value of a model's metric: MLflow orders by timestamp, then step. The
/// key is bound once as placeholder N and used twice (null test and value); later
/// anonymous `?`s continue from N + 1, as SQLite numbers them.
fn latest_metric_sql(placeholder: &str) -> String {
    format!(
        "(SELECT lm.metric_value FROM logged_model_metrics lm WHERE lm.model_id = m.model_id \
         AND lm.metric_name = {placeholder} ORDER BY lm.metric_timestamp_ms DESC, \
         lm.metric_step DESC, lm.run_id ASC LIMIT 1)"
    )
}

pub(crate) fn push_logged_model_order(qb: &mut Sql, order: &[OrderBy<LoggedModelAttr>]) {
    let mut keys = Vec::new();
    let (mut has_created, mut has_id) = (false, false);
    for o in order {
        let dir = if o.ascending { "ASC" } else { "DESC" };
        let expr = match &o.target {
            Target::Attribute(a) => {
                has_created |= *a == LoggedModelAttr::CreationTimestamp;
                has_id |= *a == LoggedModelAttr::ModelId;
                format!("m.{}", a.column())
            }
            Target::Metric(key) => {
                qb.params.push(key.clone().into());
                latest_metric_sql(&qb.placeholder(qb.params.len()))
            }
            _ => continue,
        };
        keys.push(format!("({expr} IS NULL) ASC"));
        keys.push(format!("{expr} {dir}"));
    }
    if !has_created {
        keys.push("m.creation_timestamp_ms DESC".into());
    }
    if !has_id {
        keys.push("m.model_id ASC".into());
    }
    qb.push(" ORDER BY ").push(keys.join(", "));
}
