//! Turns validated search clauses into SQL over MLflow's tables.

use super::sql::Sql;
use cairn_core::search::{
    Clause, DatasetField, ExperimentAttr, Op, OrderBy, RunAttr, Target, Value,
};

type Qb = Sql;

/// cairn's covering probe indexes (see `schema::SQLITE_CAIRN_DDL`), named explicitly:
/// without the hint SQLite prefers MLflow's unique (key, run_uuid) indexes, which hold
/// no value and cost a second seek into the table for every run probed.
const METRICS_PROBE_HINT: &str = " INDEXED BY cairn_idx_latest_metrics_probe";
const PARAMS_PROBE_HINT: &str = " INDEXED BY cairn_idx_params_probe";
const PARAMS_PROBE: &str = "params kv INDEXED BY cairn_idx_params_probe";

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
fn push_kv_clause(qb: &mut Qb, table: &str, owner: &str, key: &str, c: &Clause<impl Sized>) {
    let exists = if c.op == Op::IsNull {
        "NOT EXISTS"
    } else {
        "EXISTS"
    };
    qb.push(format!(
        "{exists} (SELECT 1 FROM {table} WHERE kv.run_uuid = {owner} AND kv.\"key\" = "
    ));
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
            qb.push(
                "EXISTS (SELECT 1 FROM latest_metrics lm INDEXED BY cairn_idx_latest_metrics_probe \
                 WHERE lm.run_uuid = r.run_uuid AND lm.is_nan = 0 AND lm.\"key\" = ",
            );
            qb.push_bind(key.clone());
            qb.push(" AND ");
            push_comparison(qb, "lm.value", c.op, &c.value);
            qb.push(")");
        }
        Target::Param(key) => push_kv_clause(qb, PARAMS_PROBE, "r.run_uuid", key, c),
        Target::Tag(key) => push_kv_clause(qb, "tags kv", "r.run_uuid", key, c),
        Target::Attribute(attr) => {
            push_comparison(qb, &format!("r.{}", attr.column()), c.op, &c.value)
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

/// LEFT JOINs that bring each order key's value next to its run (alias `o<i>`).
pub(crate) fn push_run_order_joins(qb: &mut Qb, order: &[OrderBy<RunAttr>]) {
    for (i, o) in order.iter().enumerate() {
        let (table, hint, key) = match &o.target {
            Target::Metric(k) => ("latest_metrics", METRICS_PROBE_HINT, k),
            Target::Param(k) => ("params", PARAMS_PROBE_HINT, k),
            Target::Tag(k) => ("tags", "", k),
            _ => continue,
        };
        qb.push(format!(
            " LEFT JOIN {table} o{i}{hint} ON o{i}.run_uuid = r.run_uuid AND o{i}.\"key\" = "
        ));
        qb.push_bind(key.clone());
    }
}

/// ORDER BY: missing values last (and, for metrics, NaN after numbers but before
/// missing), then MLflow's tie-breaks: start_time DESC, run_id ASC.
pub(crate) fn push_run_order_by(qb: &mut Qb, order: &[OrderBy<RunAttr>]) {
    let mut keys = Vec::new();
    let mut has_start_time = false;
    for (i, o) in order.iter().enumerate() {
        let dir = if o.ascending { "ASC" } else { "DESC" };
        match &o.target {
            Target::Metric(_) => {
                keys.push(format!(
                    "CASE WHEN o{i}.is_nan = 1 THEN 1 WHEN o{i}.value IS NULL THEN 2 ELSE 0 END"
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
            push_comparison(qb, &format!("e.{}", attr.column()), c.op, &c.value)
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
