//! The logged-model search (`logged-models/search`): attributes, `metrics.`,
//! `params.` and `tags.` clauses, and `order_by` given as `{field_name, ascending}`.

use super::parser::parse_filter;
use super::validate::{check_key, check_numeric, check_op, check_string, entity};
use super::{Clause, Entity, Op, OrderBy, Target, Value};
use crate::error::MlflowError;
use crate::logged_model::LoggedModelStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedModelAttr {
    ModelId,
    Name,
    ModelType,
    Status,
    SourceRunId,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

impl LoggedModelAttr {
    fn parse(key: &str) -> Option<Self> {
        Some(match key {
            "model_id" => LoggedModelAttr::ModelId,
            "name" => LoggedModelAttr::Name,
            "model_type" => LoggedModelAttr::ModelType,
            "status" => LoggedModelAttr::Status,
            "source_run_id" => LoggedModelAttr::SourceRunId,
            "creation_timestamp" | "creation_time" | "creation_timestamp_ms" => {
                LoggedModelAttr::CreationTimestamp
            }
            "last_updated_timestamp" | "last_updated_time" | "last_updated_timestamp_ms" => {
                LoggedModelAttr::LastUpdatedTimestamp
            }
            _ => return None,
        })
    }

    /// The column in MLflow's `logged_models` table.
    pub fn column(self) -> &'static str {
        match self {
            LoggedModelAttr::ModelId => "model_id",
            LoggedModelAttr::Name => "name",
            LoggedModelAttr::ModelType => "model_type",
            LoggedModelAttr::Status => "status",
            LoggedModelAttr::SourceRunId => "source_run_id",
            LoggedModelAttr::CreationTimestamp => "creation_timestamp_ms",
            LoggedModelAttr::LastUpdatedTimestamp => "last_updated_timestamp_ms",
        }
    }
}

const NUMERIC_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
const STRING_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In, Op::NotIn];

/// `READY`, `LOGGED_MODEL_READY` or a number, as the number stored in the table.
fn status_number(raw: &str) -> Result<f64, MlflowError> {
    let name = if raw.starts_with("LOGGED_MODEL_") {
        raw.to_string()
    } else if raw == "FAILED" {
        "LOGGED_MODEL_UPLOAD_FAILED".to_string()
    } else {
        format!("LOGGED_MODEL_{raw}")
    };
    Ok(LoggedModelStatus::parse(&name)
        .or_else(|_| LoggedModelStatus::parse(raw))?
        .number() as f64)
}

/// Parses and checks a logged-model search filter.
pub fn logged_model_filter(input: &str) -> Result<Vec<Clause<LoggedModelAttr>>, MlflowError> {
    parse_filter(input)?
        .clauses
        .into_iter()
        .map(|c| {
            check_key(&c)?;
            let target = match entity(c.entity.as_deref())? {
                Entity::Metric => {
                    check_op(&c, "metric", NUMERIC_OPS)?;
                    check_numeric(&c, "metric")?;
                    Target::Metric(c.key.clone())
                }
                Entity::Param => {
                    check_op(&c, "param", &[Op::Eq, Op::Ne, Op::Like, Op::ILike])?;
                    check_string(&c, "param")?;
                    Target::Param(c.key.clone())
                }
                Entity::Tag => {
                    check_op(&c, "tag", &[Op::Eq, Op::Ne, Op::Like, Op::ILike])?;
                    check_string(&c, "tag")?;
                    Target::Tag(c.key.clone())
                }
                Entity::Attribute => {
                    let attr = LoggedModelAttr::parse(&c.key).ok_or_else(|| {
                        MlflowError::invalid_parameter(format!(
                            "Invalid attribute '{}'. Valid attributes are name, model_id, \
                             model_type, status, source_run_id, creation_timestamp, \
                             last_updated_timestamp",
                            c.key
                        ))
                    })?;
                    match attr {
                        LoggedModelAttr::CreationTimestamp
                        | LoggedModelAttr::LastUpdatedTimestamp => {
                            check_op(&c, "attribute", NUMERIC_OPS)?;
                            check_numeric(&c, "attribute")?;
                        }
                        LoggedModelAttr::Status => {
                            check_op(&c, "attribute", &[Op::Eq, Op::Ne])?;
                            let Value::Str(s) = &c.value else {
                                return Err(MlflowError::invalid_parameter(
                                    "Expected a quoted string value for attribute 'status'",
                                ));
                            };
                            return Ok(Clause {
                                target: Target::Attribute(attr),
                                op: c.op,
                                value: Value::Num(status_number(s)?),
                            });
                        }
                        _ => {
                            check_op(&c, "attribute", STRING_OPS)?;
                            check_string(&c, "attribute")?;
                        }
                    }
                    Target::Attribute(attr)
                }
                Entity::Dataset => {
                    return Err(MlflowError::invalid_parameter(
                        "Logged models are filtered by dataset through the 'datasets' field",
                    ))
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

/// Checks one `{field_name, ascending}` order entry: an attribute or `metrics.<key>`.
pub fn logged_model_order_by(
    field_name: &str,
    ascending: bool,
) -> Result<OrderBy<LoggedModelAttr>, MlflowError> {
    let target = match field_name.split_once('.') {
        Some(("metrics", key)) if !key.is_empty() => Target::Metric(key.to_string()),
        Some(_) => {
            return Err(MlflowError::invalid_parameter(format!(
                "Invalid order by field name: {field_name}. Only metrics are supported."
            )))
        }
        None => Target::Attribute(LoggedModelAttr::parse(field_name).ok_or_else(|| {
            MlflowError::invalid_parameter(format!("Invalid order by field name: {field_name}"))
        })?),
    };
    Ok(OrderBy { target, ascending })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_name_status_and_metrics() {
        let c = logged_model_filter("name = 'model' AND status = 'READY' AND metrics.acc > 0.5")
            .unwrap();
        assert_eq!(c[0].target, Target::Attribute(LoggedModelAttr::Name));
        assert_eq!(c[1].value, Value::Num(2.0));
        assert_eq!(c[2].target, Target::Metric("acc".into()));
        assert!(logged_model_filter("status = 'SHINY'").is_err());
        assert!(logged_model_filter("bogus = 'x'").is_err());
    }

    #[test]
    fn orders_by_attributes_and_metrics_only() {
        assert!(logged_model_order_by("creation_timestamp", false).is_ok());
        assert!(logged_model_order_by("metrics.acc", true).is_ok());
        assert!(logged_model_order_by("params.x", true).is_err());
        assert!(logged_model_order_by("nope", true).is_err());
    }
}
