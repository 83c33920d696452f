//! Contract files: a feature view or a model contract per file, read with every
//! error located (file, line, key).
//!
//! ```yaml
//! view: wine_features
//! description: Physico-chemical tests of red wines
//! source: ../data/wine.csv      # a CSV or Parquet file, a folder or a glob of them,
//!                               # or builtin:winequality (inside the binary)
//! entity: wine_id
//! event_timestamp: measured_at
//! fields:
//!   wine_id: {type: int, required: true, unique: true}
//!   alcohol: {type: float, required: true, min: 8, max: 15, description: "% vol"}
//!   colour: {type: string, accepted_values: [red, white]}
//!   measured_at: {type: timestamp, freshness: 30d}
//! ```
//!
//! ```yaml
//! contract: wine_is_high_quality
//! model: wine-quality
//! features: [wine_features.alcohol, wine_features.sulphates]
//! label: {field: wine_labels.is_high_quality, task: classification}
//! predictions: [prediction]
//! exposed_at: models:/wine-quality@champion
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_yaml::marked_yaml::{Node, Spanned};
use cairn_yaml::{At, Located};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::{ContractState, DataError, Result};

/// One file of the contracts folder.
#[derive(Debug, Clone)]
pub struct ContractFile {
    pub item: Item,
    pub file: PathBuf,
    pub source: String,
    pub version: String,
}

/// What a contract file defines.
#[derive(Debug, Clone)]
pub enum Item {
    View(FeatureView),
    Contract(ModelContract),
}

impl ContractFile {
    pub fn name(&self) -> &str {
        match &self.item {
            Item::View(v) => &v.name,
            Item::Contract(c) => &c.name,
        }
    }
}

/// A typed table over a source of rows.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureView {
    pub name: String,
    pub description: Option<String>,
    /// The source as written in the file (a file, folder or glob; for PostgreSQL,
    /// the table or query).
    pub source: String,
    /// A PostgreSQL table or query instead of files.
    pub postgres: Option<PgSource>,
    /// Where it is read: relative paths resolved against the file's folder.
    #[serde(skip)]
    pub location: String,
    /// The field that identifies an entity (joins and ground truth use it).
    pub entity: Option<String>,
    /// The field holding when a row's values were true (point-in-time joins and
    /// freshness).
    pub event_timestamp: Option<String>,
    pub tags: Vec<String>,
    pub fields: Vec<Field>,
}

impl FeatureView {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A PostgreSQL source: a table (`schema.table`) or a query, and where the
/// connection URL is.
#[derive(Debug, Clone, Serialize)]
pub struct PgSource {
    /// The environment variable holding the URL (the way to keep a password out of
    /// the file).
    pub url_env: Option<String>,
    /// The URL as written (fine for trust or peer authentication); never shown.
    #[serde(skip)]
    pub url: Option<String>,
    pub target: PgTarget,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PgTarget {
    Table(String),
    Query(String),
}

/// A field's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Int,
    Float,
    Bool,
    String,
    Timestamp,
    /// A list of floats (an embedding).
    FloatList,
}

impl FieldType {
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Int | FieldType::Float)
    }
}

/// A field of a view.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub constraints: Constraints,
}

/// What a field's values promise.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Constraints {
    /// No missing values.
    pub required: bool,
    /// Lower bound, inclusive.
    pub min: Option<f64>,
    /// Upper bound, inclusive.
    pub max: Option<f64>,
    /// Lower bound, exclusive.
    pub gt: Option<f64>,
    /// Upper bound, exclusive.
    pub lt: Option<f64>,
    /// The only values allowed (as written; compared as the field's type).
    pub accepted_values: Vec<String>,
    /// A regular expression every value matches (anywhere, unless anchored).
    pub regex: Option<String>,
    /// Shortest and longest text, in characters.
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    /// No value appears twice.
    pub unique: bool,
    /// The newest value is no older than this (timestamp fields).
    #[serde(with = "duration_secs")]
    pub freshness: Option<Duration>,
}

mod duration_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

/// What a registered model takes, predicts and learns from, as fields of views.
#[derive(Debug, Clone, Serialize)]
pub struct ModelContract {
    pub name: String,
    pub description: Option<String>,
    /// The registered model it describes.
    pub model: Option<String>,
    /// Input features: `view.field`, or `view` for all of a view's fields but its
    /// entity and event timestamp.
    pub features: Vec<FieldRef>,
    pub label: Option<Label>,
    /// The fields the model's predictions are written as.
    pub predictions: Vec<String>,
    /// The field a prediction's model version is written as.
    pub model_version_field: Option<String>,
    /// Where the model answers (`models:/name@alias`).
    pub exposed_at: Option<String>,
    /// Where predictions go: `cairn` (the prediction log, the default) or a file
    /// (JSON Lines), as written.
    pub predictions_to: Option<String>,
    /// `predictions_to` as a file, resolved against the contract file's folder.
    #[serde(skip)]
    pub predictions_file: Option<PathBuf>,
    pub tags: Vec<String>,
}

/// `view.field`, or a whole `view`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRef {
    pub view: String,
    pub field: Option<String>,
}

impl std::fmt::Display for FieldRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}.{field}", self.view),
            None => write!(f, "{}", self.view),
        }
    }
}

/// A contract's label: a field of a view, and the kind of target it is.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub field: FieldRef,
    pub task: Task,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Classification,
    Regression,
}

// ---- the files as written ------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    view: Spanned<String>,
    description: Option<String>,
    source: Option<Spanned<String>>,
    postgres: Option<RawPg>,
    entity: Option<Spanned<String>>,
    event_timestamp: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPg {
    url: Option<String>,
    url_env: Option<String>,
    table: Option<String>,
    query: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    ty: FieldType,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    required: bool,
    min: Option<f64>,
    max: Option<f64>,
    gt: Option<f64>,
    lt: Option<f64>,
    #[serde(default)]
    accepted_values: Vec<String>,
    regex: Option<String>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    #[serde(default)]
    unique: bool,
    freshness: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    contract: Spanned<String>,
    description: Option<String>,
    model: Option<String>,
    #[serde(default)]
    features: Vec<Spanned<String>>,
    label: Option<RawLabel>,
    #[serde(default)]
    predictions: Vec<String>,
    model_version_field: Option<String>,
    exposed_at: Option<String>,
    predictions_to: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabel {
    field: Spanned<String>,
    task: Task,
}

/// Names of views, contracts and fields: what SQL and URLs carry without quoting.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl ContractFile {
    /// Reads and checks a contract file's text; `path` names it in errors, and
    /// relative sources start at its folder.
    pub fn parse(text: &str, path: &Path) -> Result<ContractFile, Located> {
        let file = path.display().to_string();
        let at = At { file: &file };
        let map = at.load_mapping(text, "a contract file")?;
        let item = if map.get_node("view").is_some() {
            let mut top = map.clone();
            let fields = top.remove("fields");
            let raw: RawView = at.decode("", &Node::Mapping(top))?;
            Item::View(read_view(&at, raw, fields.as_ref(), path)?)
        } else if map.get_node("contract").is_some() {
            let raw: RawContract = at.decode("", &Node::Mapping(map.clone()))?;
            Item::Contract(read_contract(&at, raw, path)?)
        } else {
            return Err(at.err(
                Some(map.span()),
                "",
                "a contract file defines a `view` or a `contract` (its first key names it)",
            ));
        };
        Ok(ContractFile {
            item,
            file: path.to_path_buf(),
            source: text.to_string(),
            version: cairn_yaml::digest(text),
        })
    }
}

fn read_view(
    at: &At<'_>,
    raw: RawView,
    fields: Option<&Node>,
    path: &Path,
) -> Result<FeatureView, Located> {
    let name = raw.view.as_str().trim().to_string();
    if !valid_name(&name) {
        return Err(at.err(
            Some(raw.view.span()),
            "view",
            "a view name is letters, digits, `_` and `-`",
        ));
    }
    let Some(fields) = fields else {
        return Err(at.err(None, "fields", "a view lists its `fields`"));
    };
    let Some(map) = fields.as_mapping().filter(|m| !m.is_empty()) else {
        return Err(at.err(
            Some(fields.span()),
            "fields",
            "`fields` maps each field's name to its type and constraints",
        ));
    };
    let mut out = Vec::new();
    for (key, node) in map.iter() {
        let fname = key.as_str().to_string();
        let k = format!("fields.{fname}");
        if !valid_name(&fname) {
            return Err(at.err(
                Some(key.span()),
                &k,
                "a field name is letters, digits, `_` and `-`",
            ));
        }
        let f: RawField = at.decode(&k, node)?;
        let bad = |what: &str, message: String| {
            at.err(Some(node.span()), &format!("{k}.{what}"), message)
        };
        for (what, set) in [
            ("min", f.min.is_some()),
            ("max", f.max.is_some()),
            ("gt", f.gt.is_some()),
            ("lt", f.lt.is_some()),
        ] {
            if set && !f.ty.is_numeric() {
                return Err(bad(
                    what,
                    format!("`{what}` bounds a number; `{fname}` is {:?}", f.ty).to_lowercase(),
                ));
            }
        }
        if f.min.is_some() && f.gt.is_some() || f.max.is_some() && f.lt.is_some() {
            return Err(bad(
                if f.min.is_some() && f.gt.is_some() {
                    "gt"
                } else {
                    "lt"
                },
                "give one lower bound (`min` or `gt`) and one upper bound (`max` or `lt`)".into(),
            ));
        }
        for (what, set) in [
            ("regex", f.regex.is_some()),
            ("min_length", f.min_length.is_some()),
            ("max_length", f.max_length.is_some()),
        ] {
            if set && f.ty != FieldType::String {
                return Err(bad(
                    what,
                    format!("`{what}` applies to string fields; `{fname}` is not one"),
                ));
            }
        }
        if let Some(re) = &f.regex {
            if let Err(e) = regex::Regex::new(re) {
                return Err(bad("regex", format!("not a regular expression: {e}")));
            }
        }
        if !f.accepted_values.is_empty() {
            if matches!(f.ty, FieldType::Timestamp | FieldType::FloatList) {
                return Err(bad(
                    "accepted_values",
                    "`accepted_values` applies to int, float, bool and string fields".into(),
                ));
            }
            for v in &f.accepted_values {
                let ok = match f.ty {
                    FieldType::Int => v.trim().parse::<i64>().is_ok(),
                    FieldType::Float => v.trim().parse::<f64>().is_ok(),
                    FieldType::Bool => matches!(v.trim(), "true" | "false"),
                    _ => true,
                };
                if !ok {
                    return Err(bad(
                        "accepted_values",
                        format!("`{v}` is not a {:?} value", f.ty).to_lowercase(),
                    ));
                }
            }
        }
        let freshness = match &f.freshness {
            Some(_) if f.ty != FieldType::Timestamp => {
                return Err(bad(
                    "freshness",
                    "`freshness` applies to timestamp fields".into(),
                ))
            }
            Some(text) => Some(cairn_yaml::parse_duration(text).map_err(|m| bad("freshness", m))?),
            None => None,
        };
        out.push(Field {
            name: fname,
            ty: f.ty,
            description: f.description,
            tags: f.tags,
            constraints: Constraints {
                required: f.required,
                min: f.min,
                max: f.max,
                gt: f.gt,
                lt: f.lt,
                accepted_values: f.accepted_values,
                regex: f.regex,
                min_length: f.min_length,
                max_length: f.max_length,
                unique: f.unique,
                freshness,
            },
        });
    }
    let named = |key: &str, s: &Option<Spanned<String>>| -> Result<Option<String>, Located> {
        match s {
            Some(s) if !out.iter().any(|f| f.name == s.as_str()) => Err(at.err(
                Some(s.span()),
                key,
                format!("`{}` is not one of the view's fields", s.as_str()),
            )),
            Some(s) => Ok(Some(s.as_str().to_string())),
            None => Ok(None),
        }
    };
    let entity = named("entity", &raw.entity)?;
    let event_timestamp = named("event_timestamp", &raw.event_timestamp)?;
    if let Some(ts) = &event_timestamp {
        if out
            .iter()
            .any(|f| &f.name == ts && f.ty != FieldType::Timestamp)
        {
            return Err(at.err(
                raw.event_timestamp.as_ref().map(|s| s.span()),
                "event_timestamp",
                format!("`{ts}` is the event timestamp, so its type is `timestamp`"),
            ));
        }
    }
    let (source, postgres) = match (&raw.source, raw.postgres) {
        (Some(s), None) if !s.as_str().trim().is_empty() => (s.as_str().trim().to_string(), None),
        (Some(s), None) => {
            return Err(at.err(
                Some(s.span()),
                "source",
                "`source` names a file, a folder or a glob",
            ))
        }
        (None, Some(pg)) => {
            let target = match (pg.table, pg.query) {
                (Some(t), None) if !t.trim().is_empty() => PgTarget::Table(t.trim().to_string()),
                (None, Some(q)) if !q.trim().is_empty() => PgTarget::Query(q.trim().to_string()),
                _ => {
                    return Err(at.err(
                        None,
                        "postgres",
                        "`postgres` names one `table` or one `query`",
                    ))
                }
            };
            if pg.url.is_none() == pg.url_env.is_none() {
                return Err(at.err(
                    None,
                    "postgres",
                    "`postgres` gives its URL as `url_env` (an environment variable) or `url`, one of them",
                ));
            }
            let source = match &target {
                PgTarget::Table(t) => format!("postgresql table {t}"),
                PgTarget::Query(q) => format!("postgresql query {q}"),
            };
            (
                source,
                Some(PgSource {
                    url_env: pg.url_env,
                    url: pg.url,
                    target,
                }),
            )
        }
        _ => {
            return Err(at.err(
                None,
                "source",
                "a view reads files (`source`) or PostgreSQL (`postgres`), one of them",
            ))
        }
    };
    Ok(FeatureView {
        name,
        description: raw.description,
        location: if postgres.is_some() {
            String::new()
        } else {
            resolve(&source, path)
        },
        source,
        postgres,
        entity,
        event_timestamp,
        tags: raw.tags,
        fields: out,
    })
}

/// A source as DataFusion reads it: URLs as written, paths relative to the file.
fn resolve(source: &str, path: &Path) -> String {
    if source.contains("://") || source.starts_with("builtin:") || Path::new(source).is_absolute() {
        return source.to_string();
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let joined = base.join(source);
    match std::path::absolute(&joined) {
        Ok(p) => p.display().to_string(),
        Err(_) => joined.display().to_string(),
    }
}

fn field_ref(at: &At<'_>, key: &str, s: &Spanned<String>) -> Result<FieldRef, Located> {
    let text = s.as_str().trim();
    let (view, field) = match text.split_once('.') {
        Some((v, f)) => (v, Some(f)),
        None => (text, None),
    };
    if !valid_name(view) || field.is_some_and(|f| !valid_name(f)) {
        return Err(at.err(
            Some(s.span()),
            key,
            format!("`{text}` is not `view.field` or `view`"),
        ));
    }
    Ok(FieldRef {
        view: view.to_string(),
        field: field.map(str::to_string),
    })
}

fn read_contract(at: &At<'_>, raw: RawContract, path: &Path) -> Result<ModelContract, Located> {
    let name = raw.contract.as_str().trim().to_string();
    if !valid_name(&name) {
        return Err(at.err(
            Some(raw.contract.span()),
            "contract",
            "a contract name is letters, digits, `_` and `-`",
        ));
    }
    let features = raw
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| field_ref(at, &format!("features[{i}]"), f))
        .collect::<Result<Vec<_>, _>>()?;
    let label = match &raw.label {
        Some(l) => {
            let field = field_ref(at, "label.field", &l.field)?;
            if field.field.is_none() {
                return Err(at.err(
                    Some(l.field.span()),
                    "label.field",
                    "a label is one field: `view.field`",
                ));
            }
            Some(Label {
                field,
                task: l.task,
            })
        }
        None => None,
    };
    Ok(ModelContract {
        name,
        description: raw.description,
        model: raw.model,
        features,
        label,
        predictions: raw.predictions,
        model_version_field: raw.model_version_field,
        exposed_at: raw.exposed_at,
        predictions_file: raw
            .predictions_to
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "cairn")
            .map(|p| PathBuf::from(resolve(p, path))),
        predictions_to: raw.predictions_to,
        tags: raw.tags,
    })
}

impl cairn_yaml::folder::FolderItem for ContractFile {
    type Context = ();
    const KIND: &'static str = "contract";

    fn parse(text: &str, path: &Path, _: &()) -> std::result::Result<Self, String> {
        ContractFile::parse(text, path).map_err(|e| e.to_string())
    }

    fn name(&self) -> &str {
        ContractFile::name(self)
    }

    fn file(&self) -> &Path {
        &self.file
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn version(&self) -> &str {
        &self.version
    }
}

/// A view and the fields of it a check covers.
#[derive(Debug, Clone)]
pub struct ViewSelection {
    pub view: FeatureView,
    pub version: String,
    /// The fields to check (all of the view's when the view is checked itself).
    pub fields: Vec<String>,
}

/// What checking `name` covers: the view itself, or each view a contract reads
/// (its features and label, with the views' entity and timestamp).
pub fn selection(state: &ContractState, name: &str) -> Result<Vec<ViewSelection>> {
    let Some(file) = state.get(name) else {
        return Err(DataError::NotFound(format!(
            "no view or contract is named `{name}` in the contracts folder"
        )));
    };
    match &file.item {
        Item::View(v) => Ok(vec![ViewSelection {
            fields: v.fields.iter().map(|f| f.name.clone()).collect(),
            view: v.clone(),
            version: file.version.clone(),
        }]),
        Item::Contract(c) => {
            let mut wanted: IndexMap<String, Vec<String>> = IndexMap::new();
            for r in c.features.iter().chain(c.label.iter().map(|l| &l.field)) {
                let view = match state.get(&r.view).map(|f| &f.item) {
                    Some(Item::View(v)) => v,
                    _ => {
                        return Err(DataError::NotFound(format!(
                            "contract `{}` reads `{r}`, but no view is named `{}`",
                            c.name, r.view
                        )))
                    }
                };
                let fields = wanted.entry(r.view.clone()).or_default();
                match &r.field {
                    Some(f) if view.field(f).is_none() => {
                        return Err(DataError::NotFound(format!(
                            "contract `{}` reads `{r}`, but view `{}` has no field `{f}`",
                            c.name, r.view
                        )))
                    }
                    Some(f) => fields.push(f.clone()),
                    None => fields.extend(view.fields.iter().map(|f| f.name.clone())),
                }
                for key in view.entity.iter().chain(view.event_timestamp.iter()) {
                    fields.push(key.clone());
                }
            }
            Ok(wanted
                .into_iter()
                .filter_map(|(view, mut fields)| {
                    let file = state.get(&view)?;
                    let Item::View(v) = &file.item else {
                        return None;
                    };
                    // In the view's order, once each.
                    fields.sort_by_key(|f| v.fields.iter().position(|g| &g.name == f));
                    fields.dedup();
                    Some(ViewSelection {
                        view: v.clone(),
                        version: file.version.clone(),
                        fields,
                    })
                })
                .collect())
        }
    }
}
