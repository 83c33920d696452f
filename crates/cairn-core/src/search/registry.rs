//! The registry's searches: registered models (by name and tags) and model versions
//! (by name, version number, run id, source and tags), as `SearchUtils` and
//! `SearchModelVersionUtils` define them in MLflow.

use super::parser::{parse_filter, parse_order_by};
use super::validate::{check_key, check_numeric, check_op, check_string, duplicate_check, entity};
use super::{Clause, Entity, Op, OrderBy, RawClause, Target};
use crate::error::MlflowError;

/// The registry attributes a filter or `order_by` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryAttr {
    Name,
    Version,
    RunId,
    Source,
    CreationTimestamp,
    LastUpdatedTimestamp,
}

impl RegistryAttr {
    /// The column in `registered_models` / `model_versions`.
    pub fn column(self) -> &'static str {
        match self {
            RegistryAttr::Name => "name",
            RegistryAttr::Version => "version",
            RegistryAttr::RunId => "run_id",
            RegistryAttr::Source => "source",
            RegistryAttr::CreationTimestamp => "creation_time",
            RegistryAttr::LastUpdatedTimestamp => "last_updated_time",
        }
    }
}

const TAG_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Like, Op::ILike];

fn tag_clause<A>(c: RawClause) -> Result<Clause<A>, MlflowError> {
    check_op(&c, "tag", TAG_OPS)?;
    check_string(&c, "tag")?;
    Ok(Clause {
        target: Target::Tag(c.key),
        op: c.op,
        value: c.value,
    })
}

/// Parses and checks a `registered-models/search` filter.
pub fn registered_model_filter(input: &str) -> Result<Vec<Clause<RegistryAttr>>, MlflowError> {
    parse_filter(input)?
        .clauses
        .into_iter()
        .map(|c| {
            check_key(&c)?;
            match entity(c.entity.as_deref())? {
                Entity::Tag => tag_clause(c),
                Entity::Attribute if c.key == "name" => {
                    check_op(
                        &c,
                        "attribute",
                        &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In],
                    )?;
                    check_string(&c, "attribute")?;
                    Ok(Clause {
                        target: Target::Attribute(RegistryAttr::Name),
                        op: c.op,
                        value: c.value,
                    })
                }
                _ => Err(MlflowError::invalid_parameter(format!(
                    "Invalid filter string key '{}': registered models can be searched by \
                     name and tags",
                    c.key
                ))),
            }
        })
        .collect()
}

/// Parses and checks a `model-versions/search` filter.
pub fn model_version_filter(input: &str) -> Result<Vec<Clause<RegistryAttr>>, MlflowError> {
    parse_filter(input)?
        .clauses
        .into_iter()
        .map(|c| {
            check_key(&c)?;
            let attr = match entity(c.entity.as_deref())? {
                Entity::Tag => return tag_clause(c),
                Entity::Attribute => match c.key.as_str() {
                    "name" => RegistryAttr::Name,
                    "version_number" => RegistryAttr::Version,
                    "run_id" => RegistryAttr::RunId,
                    "source_path" => RegistryAttr::Source,
                    _ => {
                        return Err(MlflowError::invalid_parameter(format!(
                            "Invalid attribute name '{}'. Valid keys are 'name', \
                             'version_number', 'run_id', 'source_path'",
                            c.key
                        )))
                    }
                },
                _ => {
                    return Err(MlflowError::invalid_parameter(format!(
                        "Invalid filter string key '{}': model versions can be searched by \
                         attributes and tags",
                        c.key
                    )))
                }
            };
            match attr {
                RegistryAttr::Version => {
                    check_op(
                        &c,
                        "attribute",
                        &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge],
                    )?;
                    check_numeric(&c, "attribute")?;
                }
                RegistryAttr::RunId => {
                    check_op(&c, "attribute", &[Op::Eq, Op::Ne, Op::In, Op::NotIn])?;
                    check_string(&c, "attribute")?;
                }
                _ => {
                    check_op(
                        &c,
                        "attribute",
                        &[Op::Eq, Op::Ne, Op::Like, Op::ILike, Op::In],
                    )?;
                    check_string(&c, "attribute")?;
                }
            }
            Ok(Clause {
                target: Target::Attribute(attr),
                op: c.op,
                value: c.value,
            })
        })
        .collect()
}

fn registry_order_by(
    entries: &[String],
    attr: impl Fn(&str) -> Option<RegistryAttr>,
    valid: &str,
) -> Result<Vec<OrderBy<RegistryAttr>>, MlflowError> {
    let mut out = Vec::with_capacity(entries.len());
    for raw in entries {
        let (ent, key, ascending) = parse_order_by(raw)?;
        let found = match entity(ent.as_deref())? {
            Entity::Attribute => attr(&key),
            _ => None,
        };
        let target = Target::Attribute(found.ok_or_else(|| {
            MlflowError::invalid_parameter(format!(
                "Invalid order by key '{key}' specified. Valid keys are {valid}"
            ))
        })?);
        duplicate_check(&out, &target, raw)?;
        out.push(OrderBy { target, ascending });
    }
    Ok(out)
}

/// Parses and checks `order_by` entries of a registered-model search.
pub fn registered_model_order_by(
    entries: &[String],
) -> Result<Vec<OrderBy<RegistryAttr>>, MlflowError> {
    registry_order_by(
        entries,
        |k| match k {
            "name" => Some(RegistryAttr::Name),
            "creation_timestamp" => Some(RegistryAttr::CreationTimestamp),
            "last_updated_timestamp" | "timestamp" => Some(RegistryAttr::LastUpdatedTimestamp),
            _ => None,
        },
        "'name', 'creation_timestamp', 'last_updated_timestamp', 'timestamp'",
    )
}

/// Parses and checks `order_by` entries of a model-version search.
pub fn model_version_order_by(
    entries: &[String],
) -> Result<Vec<OrderBy<RegistryAttr>>, MlflowError> {
    registry_order_by(
        entries,
        |k| match k {
            "name" => Some(RegistryAttr::Name),
            "version_number" => Some(RegistryAttr::Version),
            "creation_timestamp" => Some(RegistryAttr::CreationTimestamp),
            "last_updated_timestamp" | "timestamp" => Some(RegistryAttr::LastUpdatedTimestamp),
            _ => None,
        },
        "'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Value;

    #[test]
    fn the_clients_prompt_clause_parses() {
        let c =
            registered_model_filter("name LIKE 'Reg%' AND tag.`mlflow.prompt.is_prompt` != 'true'")
                .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].target, Target::Tag("mlflow.prompt.is_prompt".into()));
        assert_eq!(c[1].op, Op::Ne);
    }

    #[test]
    fn model_version_filters_check_their_attributes() {
        let c = model_version_filter("name = 'm' and version_number > 2 and run_id IN ('a','b')")
            .unwrap();
        assert_eq!(c[1].value, Value::Num(2.0));
        assert!(model_version_filter("version_number = '2'").is_err());
        assert!(model_version_filter("metrics.x > 1").is_err());
        assert!(model_version_filter("stage = 'x'").is_err());
        assert!(registered_model_filter("run_id = 'x'").is_err());
    }

    #[test]
    fn order_by_keys_are_checked() {
        let o = model_version_order_by(&["version_number DESC".into()]).unwrap();
        assert!(!o[0].ascending);
        assert!(registered_model_order_by(&["version_number".into()]).is_err());
        assert!(registered_model_order_by(&["name".into(), "name DESC".into()]).is_err());
    }
}
