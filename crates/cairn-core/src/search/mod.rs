//! MLflow's search language: filters (`metrics.acc > 0.5 AND params.lr = '0.01'`) and
//! `order_by` keys (`metrics.loss DESC`).
//!
//! `lexer` turns a string into tokens, `parser` turns tokens into a [`Filter`] of
//! AND-ed [`Clause`]s, and `validate` checks each clause against what the searched
//! entity supports (runs, experiments). Every error is INVALID_PARAMETER_VALUE and
//! names the token it stopped at. The store turns a validated filter into SQL.

mod lexer;
mod logged_models;
mod parser;
mod registry;
mod validate;

pub use logged_models::{logged_model_filter, logged_model_order_by, LoggedModelAttr};
pub use parser::parse_filter;
pub use registry::{
    model_version_filter, model_version_order_by, registered_model_filter,
    registered_model_order_by, RegistryAttr,
};
pub use validate::{
    experiment_filter, experiment_order_by, run_filter, run_order_by, ExperimentAttr, RunAttr,
};

/// What a clause's key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
}

/// The right-hand side of a clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
    List(Vec<String>),
    /// For `IS NULL` / `IS NOT NULL`.
    None,
}

/// One `key op value` condition, as parsed (the entity still as written).
#[derive(Debug, Clone, PartialEq)]
pub struct RawClause {
    /// Where the clause starts in the filter (a character index), for messages.
    pub pos: usize,
    /// The entity prefix as written (`metrics`, `tag`, ...), `None` when bare.
    pub entity: Option<String>,
    pub key: String,
    pub op: Op,
    pub value: Value,
}

/// A parsed filter: clauses joined by AND.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub clauses: Vec<RawClause>,
}

/// A clause checked against a search target, its entity and key resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause<A> {
    pub target: Target<A>,
    pub op: Op,
    pub value: Value,
}

/// What a validated clause or order key refers to; `A` is the target's attribute enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<A> {
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(A),
    Dataset(DatasetField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetField {
    Name,
    Digest,
    Context,
}

/// One validated `order_by` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy<A> {
    pub target: Target<A>,
    pub ascending: bool,
}

#[cfg(test)]
mod tests;
