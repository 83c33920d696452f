//! What each search target accepts: which entities, keys, operators and value types.
//! The rules mirror MLflow's `SearchUtils` and `SearchExperimentsUtils`.

use super::parser::parse_order_by;
use super::{parse_filter, Clause, DatasetField, Entity, Op, OrderBy, RawClause, Target, Value};
use crate::error::MlflowError;

/// The run attributes a filter or `order_by` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAttr {
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
}

impl RunAttr {
    fn parse(key: &str) -> Option<Self> {
        Some(match key {
            "run_id" => RunAttr::RunId,
            "run_name" | "run name" | "Run name" | "Run Name" => RunAttr::RunName,
            "status" => RunAttr::Status,
            "user_id" => RunAttr::UserId,
            "artifact_uri" => RunAttr::ArtifactUri,
            "start_time" | "created" | "Created" => RunAttr::StartTime,
            "end_time" => RunAttr::EndTime,
            _ => return None,
        })
    }

    /// The column in MLflow's `runs` table.
    pub fn column(self) -> &'static str {
        match self {
            RunAttr::RunId => "run_uuid",
            RunAttr::RunName => "name",
            RunAttr::Status => "status",
            RunAttr::UserId => "user_id",
            RunAttr::ArtifactUri => "artifact_uri",
            RunAttr::StartTime => "start_time",
            RunAttr::EndTime => "end_time",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, RunAttr::StartTime | RunAttr::EndTime)
    }
}

/// The experiment attributes a filter or `order_by` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentAttr {
    ExperimentId,
    Name,
    CreationTime,
    LastUpdateTime,
}

impl ExperimentAttr {
    fn parse(key: &str) -> Option<Self> {
        Some(match key {
            "experiment_id" => ExperimentAttr::ExperimentId,
            "name" => ExperimentAttr::Name,
            "creation_time" => ExperimentAttr::CreationTime,
            "last_update_time" => ExperimentAttr::LastUpdateTime,
            _ => return None,
        })
    }

    /// The column in MLflow's `experiments` table.
    pub fn column(self) -> &'static str {
        match self {
            ExperimentAttr::ExperimentId => "experiment_id",
            ExperimentAttr::Name => "name",
            ExperimentAttr::CreationTime => "creation_time",
            ExperimentAttr::LastUpdateTime => "last_update_time",
        }
    }

    pub fn is_numeric(self) -> bool {
        !matches!(self, ExperimentAttr::Name)
    }
}

pub(super) fn entity(raw: Option<&str>) -> Result<Entity, MlflowError> {
    let Some(raw) = raw else {
        return Ok(Entity::Attribute);
    };
    Ok(match raw.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Entity::Metric,
        "param" | "params" | "parameter" | "parameters" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        "dataset" | "datasets" => Entity::Dataset,
        _ => {
            return Err(MlflowError::invalid_parameter(format!(
                "Invalid entity type '{raw}'. Valid values are ['metric', 'parameter', 'tag', \
                 'attribute', 'dataset']"
            )))
        }
    })
}

const NUMERIC_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
const STRING_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike];
const KV_OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Like,
    Op::ILike,
    Op::IsNull,
    Op::IsNotNull,
];
const SET_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];

pub(super) fn check_op(c: &RawClause, what: &str, allowed: &[Op]) -> Result<(), MlflowError> {
    if allowed.contains(&c.op) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|o| o.as_str()).collect();
    Err(MlflowError::invalid_parameter(format!(
        "Invalid comparator '{}' not one of '{:?}' for {what} '{}'",
        c.op.as_str(),
        names,
        c.key
    )))
}

pub(super) fn check_numeric(c: &RawClause, what: &str) -> Result<(), MlflowError> {
    match c.value {
        Value::Num(_) => Ok(()),
        _ => Err(MlflowError::invalid_parameter(format!(
            "Expected numeric value type for {what} '{}'. Found {}",
            c.key,
            describe(&c.value)
        ))),
    }
}

pub(super) fn check_string(c: &RawClause, what: &str) -> Result<(), MlflowError> {
    match (&c.value, c.op) {
        (Value::Str(_), _) => Ok(()),
        (Value::List(_), Op::In | Op::NotIn) => Ok(()),
        (Value::None, Op::IsNull | Op::IsNotNull) => Ok(()),
        _ => Err(MlflowError::invalid_parameter(format!(
            "Expected a quoted string value for {what} '{}'. Found {}",
            c.key,
            describe(&c.value)
        ))),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("'{s}'"),
        Value::Num(n) => format!("{n}"),
        Value::List(items) => format!("({})", items.join(", ")),
        Value::None => "NULL".to_string(),
    }
}

pub(super) fn check_key(c: &RawClause) -> Result<(), MlflowError> {
    if c.key.is_empty() {
        return Err(MlflowError::invalid_parameter(format!(
            "Invalid filter: an empty key after '{}'",
            c.entity.as_deref().unwrap_or("")
        )));
    }
    Ok(())
}

/// Parses and checks a `runs/search` filter.
pub fn run_filter(input: &str) -> Result<Vec<Clause<RunAttr>>, MlflowError> {
    let filter = parse_filter(input)?;
    filter
        .clauses
        .into_iter()
        .map(|c| {
            let pos = c.pos;
            run_clause(c).map_err(|e| match e.position {
                Some(_) => e,
                None => e.at(pos),
            })
        })
        .collect()
}

/// Checks one clause of a `runs/search` filter.
fn run_clause(c: RawClause) -> Result<Clause<RunAttr>, MlflowError> {
    check_key(&c)?;
    let target = match entity(c.entity.as_deref())? {
        Entity::Metric => {
            check_op(&c, "metric", NUMERIC_OPS)?;
            check_numeric(&c, "metric")?;
            Target::Metric(c.key.clone())
        }
        Entity::Param => {
            check_op(&c, "param", KV_OPS)?;
            check_string(&c, "param")?;
            Target::Param(c.key.clone())
        }
        Entity::Tag => {
            check_op(&c, "tag", KV_OPS)?;
            check_string(&c, "tag")?;
            Target::Tag(c.key.clone())
        }
        Entity::Attribute => {
            let attr = RunAttr::parse(&c.key).ok_or_else(|| {
                MlflowError::invalid_parameter(format!(
                    "Invalid attribute key '{}' specified. Valid keys are '['run_id', \
                             'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', \
                             'end_time', 'created']'",
                    c.key
                ))
            })?;
            if attr.is_numeric() {
                check_op(&c, "attribute", NUMERIC_OPS)?;
                check_numeric(&c, "attribute")?;
            } else if attr == RunAttr::RunId {
                check_op(&c, "attribute", SET_OPS)?;
                check_string(&c, "attribute")?;
            } else {
                check_op(&c, "attribute", STRING_OPS)?;
                check_string(&c, "attribute")?;
            }
            Target::Attribute(attr)
        }
        Entity::Dataset => {
            let field = match c.key.as_str() {
                "name" => DatasetField::Name,
                "digest" => DatasetField::Digest,
                "context" => DatasetField::Context,
                other => {
                    return Err(MlflowError::invalid_parameter(format!(
                        "Invalid dataset key '{other}' specified. Valid keys are \
                                 '['name', 'digest', 'context']'"
                    )))
                }
            };
            check_op(&c, "dataset", SET_OPS)?;
            check_string(&c, "dataset")?;
            Target::Dataset(field)
        }
    };
    Ok(Clause {
        target,
        op: c.op,
        value: c.value,
    })
}

/// Parses and checks a `experiments/search` filter.
pub fn experiment_filter(input: &str) -> Result<Vec<Clause<ExperimentAttr>>, MlflowError> {
    let filter = parse_filter(input)?;
    filter
        .clauses
        .into_iter()
        .map(|c| {
            check_key(&c)?;
            let target = match entity(c.entity.as_deref())? {
                Entity::Tag => {
                    check_op(&c, "tag", KV_OPS)?;
                    check_string(&c, "tag")?;
                    Target::Tag(c.key.clone())
                }
                Entity::Attribute => {
                    let attr = ExperimentAttr::parse(&c.key).ok_or_else(|| {
                        MlflowError::invalid_parameter(format!(
                            "Invalid attribute key '{}' specified. Valid keys are \
                             '['experiment_id', 'name', 'creation_time', 'last_update_time']'",
                            c.key
                        ))
                    })?;
                    match attr {
                        ExperimentAttr::Name => {
                            check_op(&c, "attribute", SET_OPS)?;
                            check_string(&c, "attribute")?;
                        }
                        ExperimentAttr::ExperimentId => {
                            check_op(&c, "attribute", &[Op::Eq, Op::Ne, Op::In, Op::NotIn])?;
                            check_string(&c, "attribute")?;
                        }
                        _ => {
                            check_op(&c, "attribute", NUMERIC_OPS)?;
                            check_numeric(&c, "attribute")?;
                        }
                    }
                    Target::Attribute(attr)
                }
                other => {
                    return Err(MlflowError::invalid_parameter(format!(
                        "Invalid entity type '{}' for an experiment search: only attributes \
                         and tags are searchable (got {:?})",
                        c.entity.as_deref().unwrap_or(""),
                        other
                    )))
                }
            };
            Ok(Clause {
                target,
                op: c.op,
                value: c.value,
            })
        })
        .collect()
}

pub(super) fn duplicate_check<A: PartialEq>(
    out: &[OrderBy<A>],
    t: &Target<A>,
    raw: &str,
) -> Result<(), MlflowError> {
    if out.iter().any(|o| &o.target == t) {
        return Err(MlflowError::invalid_parameter(format!(
            "`order_by` contains duplicate fields: '{raw}'"
        )));
    }
    Ok(())
}

/// Parses and checks `order_by` entries of a run search.
pub fn run_order_by(entries: &[String]) -> Result<Vec<OrderBy<RunAttr>>, MlflowError> {
    let mut out = Vec::with_capacity(entries.len());
    for raw in entries {
        let (ent, key, ascending) = parse_order_by(raw)?;
        let target = match entity(ent.as_deref())? {
            Entity::Metric => Target::Metric(key),
            Entity::Param => Target::Param(key),
            Entity::Tag => Target::Tag(key),
            Entity::Attribute => Target::Attribute(RunAttr::parse(&key).ok_or_else(|| {
                MlflowError::invalid_parameter(format!(
                    "Invalid order_by clause '{raw}': unknown attribute '{key}'"
                ))
            })?),
            Entity::Dataset => {
                return Err(MlflowError::invalid_parameter(format!(
                    "Invalid order_by clause '{raw}': runs cannot be ordered by dataset fields"
                )))
            }
        };
        duplicate_check(&out, &target, raw)?;
        out.push(OrderBy { target, ascending });
    }
    Ok(out)
}

/// Parses and checks `order_by` entries of an experiment search.
pub fn experiment_order_by(
    entries: &[String],
) -> Result<Vec<OrderBy<ExperimentAttr>>, MlflowError> {
    let mut out = Vec::with_capacity(entries.len());
    for raw in entries {
        let (ent, key, ascending) = parse_order_by(raw)?;
        let target = match entity(ent.as_deref())? {
            Entity::Attribute => {
                Target::Attribute(ExperimentAttr::parse(&key).ok_or_else(|| {
                    MlflowError::invalid_parameter(format!(
                        "Invalid order_by clause '{raw}': unknown attribute '{key}'. Valid keys \
                     are 'experiment_id', 'name', 'creation_time', 'last_update_time'"
                    ))
                })?)
            }
            _ => {
                return Err(MlflowError::invalid_parameter(format!(
                    "Invalid order_by clause '{raw}': experiments can only be ordered by \
                     attributes"
                )))
            }
        };
        duplicate_check(&out, &target, raw)?;
        out.push(OrderBy { target, ascending });
    }
    Ok(out)
}
