//! Job files: a job's name, typed parameters, schedules, triggers and a DAG of steps,
//! read from YAML with every error located (file, line, column and key).
//!
//! YAML goes through `marked-yaml`, which keeps the position of every node, so a key
//! that is wrong deep inside a step (or a `needs` that names no step, or a template
//! that names no parameter) is reported where the user wrote it. Its limits apply to
//! job files: no anchors or aliases, and no explicit tags.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use marked_yaml::{Node, Spanned};
use serde::Deserialize;

pub use cairn_core::jobs::{RetryDelay, RetryPolicy};

use crate::error::{JobError, Location, Result};
use crate::kinds::{Registry, StepConfig};
use crate::template::Ref;

/// A parsed, checked job file.
#[derive(Debug)]
pub struct JobSpec {
    pub name: String,
    pub description: String,
    pub parameters: Vec<ParamSpec>,
    pub schedules: Vec<Schedule>,
    pub triggers: Vec<Trigger>,
    /// What a schedule does about times missed while no scheduler ran.
    pub missed: MissedPolicy,
    /// The worker pool its steps run in (`cairn worker --pool`); `default` when unset.
    pub pool: String,
    /// In file order; [`JobSpec::order`] gives an order that respects `needs`.
    pub steps: Vec<Step>,
    /// The file it came from, and the folder relative paths in it start from.
    pub file: PathBuf,
    /// The file's text: a run keeps the text it started with (see `version`).
    pub source: String,
    /// The file's version: a digest of its text (hex), recorded on each run.
    pub version: String,
}

/// A job parameter: its type, default and whether a run must give it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<ParamValue>,
    pub required: bool,
    pub description: String,
    /// The values a `choice` takes.
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Float,
    Bool,
    Choice,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::Choice => "choice",
        }
    }
}

/// A parameter's value, typed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

impl ParamValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Bool(b) => serde_json::Value::from(*b),
            ParamValue::Int(i) => serde_json::Value::from(*i),
            ParamValue::Float(x) => serde_json::Value::from(*x),
            ParamValue::String(s) => serde_json::Value::from(s.as_str()),
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::String(s) => f.write_str(s),
        }
    }
}

impl ParamSpec {
    /// `text` read as this parameter's type (a CLI `-p key=value`, a form field, a
    /// YAML default).
    pub fn parse_value(&self, text: &str) -> std::result::Result<ParamValue, String> {
        let text = text.trim();
        match self.ty {
            ParamType::String => Ok(ParamValue::String(text.to_string())),
            ParamType::Int => text
                .parse()
                .map(ParamValue::Int)
                .map_err(|_| format!("`{text}` is not an int")),
            ParamType::Float => match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(ParamValue::Float(x)),
                _ => Err(format!("`{text}` is not a finite float")),
            },
            ParamType::Bool => match text {
                "true" | "True" | "yes" | "1" => Ok(ParamValue::Bool(true)),
                "false" | "False" | "no" | "0" => Ok(ParamValue::Bool(false)),
                _ => Err(format!("`{text}` is not a bool (true or false)")),
            },
            ParamType::Choice => {
                if self.choices.iter().any(|c| c == text) {
                    Ok(ParamValue::String(text.to_string()))
                } else {
                    Err(format!(
                        "`{text}` is not one of the choices ({})",
                        self.choices.join(", ")
                    ))
                }
            }
        }
    }

    /// A JSON value checked against this parameter's type (REST API and UI form).
    pub fn check_json(&self, v: &serde_json::Value) -> std::result::Result<ParamValue, String> {
        use serde_json::Value as J;
        match (self.ty, v) {
            (_, J::String(s)) => self.parse_value(s),
            (ParamType::Int, J::Number(n)) => n
                .as_i64()
                .map(ParamValue::Int)
                .ok_or_else(|| format!("{n} is not an int")),
            (ParamType::Float, J::Number(n)) => n
                .as_f64()
                .map(ParamValue::Float)
                .ok_or_else(|| format!("{n} is not a float")),
            (ParamType::Bool, J::Bool(b)) => Ok(ParamValue::Bool(*b)),
            (ty, other) => Err(format!("{other} is not a {}", ty.as_str())),
        }
    }
}

/// When a job runs by itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub when: ScheduleKind,
    pub paused: bool,
    /// Parameters this schedule's runs take, over the defaults.
    pub parameters: Vec<(String, ParamValue)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleKind {
    /// A five-field cron expression, read in `timezone` (an IANA name).
    Cron { expr: String, timezone: String },
    /// Every `every`, counted from the Unix epoch (so replicas agree on the times).
    Interval { every: Duration },
}

/// What a scheduler does, on start, about times that passed while none ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// One run for all the missed times (the latest of them).
    #[default]
    RunOnce,
    /// No run for missed times; the next one on time.
    Skip,
}

/// An event that starts a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A model version was created (registered), for `model` when given.
    ModelVersionCreated { model: Option<String> },
    /// An alias was set or moved, for `model` and `alias` when given.
    AliasSet {
        model: Option<String>,
        alias: Option<String>,
    },
    /// Another job's run ended in one of `states` (default: COMPLETED).
    JobCompleted { job: String, states: Vec<String> },
    /// A POST to the job's webhook URL (`/api/2.0/cairn/jobs/webhook/<job>`) with the
    /// secret held by the server's environment variable `secret_env` as its bearer
    /// token (the secret itself is never in the job file).
    Webhook { secret_env: String },
}

/// Skip a step whose inputs (rendered settings and kind) match an earlier success.
#[derive(Debug, Clone, PartialEq)]
pub struct CachePolicy {
    /// How long a success stays usable; `None`: for ever.
    pub expiry: Option<Duration>,
}

/// One step of the DAG.
#[derive(Debug)]
pub struct Step {
    pub name: String,
    pub kind: String,
    pub needs: Vec<String>,
    pub retry: RetryPolicy,
    pub timeout: Option<Duration>,
    pub cache: Option<CachePolicy>,
    /// Concurrency tags: a limit set on a tag holds across every worker.
    pub tags: Vec<String>,
    /// The kind's own settings.
    pub config: Box<dyn StepConfig>,
}

/// The keys every step has; the others belong to its kind.
const COMMON_STEP_KEYS: &[&str] = &[
    "name",
    "kind",
    "needs",
    "retries",
    "retry_delay",
    "retry_backoff",
    "retry_jitter",
    "timeout",
    "cache",
    "tags",
];

// ---- the file as written -----------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: IndexMap<String, RawParam>,
    #[serde(default)]
    schedules: Vec<RawSchedule>,
    #[serde(default)]
    triggers: Vec<RawTrigger>,
    #[serde(default)]
    missed: MissedPolicy,
    pool: Option<Spanned<String>>,
    // Steps are read by hand (see `parse_step`): their keys are split between the
    // common ones and the kind's.
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    #[serde(rename = "type")]
    ty: ParamType,
    default: Option<Spanned<String>>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    description: String,
    #[serde(default)]
    choices: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    parameters: IndexMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "on", rename_all = "snake_case")]
enum RawTrigger {
    ModelVersionCreated {
        model: Option<String>,
    },
    AliasSet {
        model: Option<String>,
        alias: Option<String>,
    },
    JobCompleted {
        job: String,
        #[serde(default)]
        states: Vec<String>,
    },
    Webhook {
        secret_env: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    needs: Vec<Spanned<String>>,
    #[serde(default)]
    retries: u32,
    // `retry_delay` (a duration or a list) is read from its node: see `parse_step`.
    retry_backoff: Option<RawBackoff>,
    #[serde(default)]
    retry_jitter: f64,
    timeout: Option<Spanned<String>>,
    cache: Option<RawCache>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackoff {
    base: Spanned<String>,
    #[serde(default = "two")]
    factor: f64,
    max: Option<Spanned<String>>,
}

fn two() -> f64 {
    2.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    expiry: Option<Spanned<String>>,
}

/// The pool of jobs that name none, and of workers started without `--pool`.
pub const DEFAULT_POOL: &str = "default";

/// The states a job run ends in (Prefect's names), for `job_completed` triggers.
pub const FINAL_STATES: &[&str] = &["COMPLETED", "FAILED", "CRASHED", "CANCELLED"];

// ---- reading -----------------------------------------------------------------------

/// Builds located errors for one job file (cairn-yaml's, as [`JobError::Spec`]).
pub(crate) struct At<'a> {
    pub file: &'a str,
}

impl At<'_> {
    fn yaml(&self) -> cairn_yaml::At<'_> {
        cairn_yaml::At { file: self.file }
    }

    pub fn err(
        &self,
        span: Option<&marked_yaml::Span>,
        key: &str,
        message: impl Into<String>,
    ) -> JobError {
        self.yaml().err(span, key, message).into()
    }

    /// A deserialisation error of the node at `prefix`, located.
    pub fn decode_error(&self, prefix: &str, e: marked_yaml::FromNodeError) -> JobError {
        self.yaml().decode_error(prefix, e).into()
    }
}

pub use cairn_yaml::{digest, parse_duration};

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

fn spanned_duration(at: &At<'_>, key: &str, s: &Spanned<String>) -> Result<Duration> {
    parse_duration(s.as_str()).map_err(|m| at.err(Some(s.span()), key, m))
}

impl JobSpec {
    /// Reads and checks a job file.
    pub fn read(path: &Path, registry: &Registry) -> Result<JobSpec> {
        let text = std::fs::read_to_string(path)?;
        JobSpec::parse(&text, path, registry)
    }

    /// Parses and checks a job file's text; `path` names it in errors and is where
    /// relative paths in it start.
    pub fn parse(text: &str, path: &Path, registry: &Registry) -> Result<JobSpec> {
        let file = path.display().to_string();
        let at = At { file: &file };
        let map = at.yaml().load_mapping(text, "a job file")?;
        let map = &map;
        let mut top = map.clone();
        let steps_node = top.remove("steps");
        let raw: RawJob = marked_yaml::from_node(&Node::Mapping(top)).map_err(|e| {
            // A missing `steps` is reported as such, not as an unknown key.
            at.decode_error("", e)
        })?;
        let name = raw.name.as_str().trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(at.err(
                Some(raw.name.span()),
                "name",
                "a job name is letters, digits, `-`, `_` and `.`, and not empty",
            ));
        }
        let pool = match &raw.pool {
            Some(p)
                if p.is_empty()
                    || !p
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) =>
            {
                return Err(at.err(
                    Some(p.span()),
                    "pool",
                    "a pool name is letters, digits, `-` and `_`",
                ))
            }
            Some(p) => p.as_str().to_string(),
            None => DEFAULT_POOL.to_string(),
        };
        let parameters = read_params(&at, raw.parameters, map.get_mapping("parameters"))?;
        let schedules = raw
            .schedules
            .into_iter()
            .enumerate()
            .map(|(i, s)| read_schedule(&at, i, s, &parameters))
            .collect::<Result<Vec<_>>>()?;
        let triggers = raw
            .triggers
            .into_iter()
            .enumerate()
            .map(|(i, t)| read_trigger(&at, i, t, map.get_node("triggers")))
            .collect::<Result<Vec<_>>>()?;

        let Some(steps_node) = steps_node else {
            return Err(at.err(
                Some(map.span()),
                "steps",
                "a job needs `steps`, a list of at least one step",
            ));
        };
        let Some(seq) = steps_node.as_sequence().filter(|s| !s.is_empty()) else {
            return Err(at.err(
                Some(steps_node.span()),
                "steps",
                "`steps` is a list of at least one step",
            ));
        };
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut steps = Vec::new();
        let mut spans = Vec::new();
        for (i, node) in seq.iter().enumerate() {
            let (step, needs_spans) = parse_step(&at, i, node, registry, &base, text)?;
            spans.push((*node.span(), needs_spans));
            steps.push(step);
        }
        let spec = JobSpec {
            name,
            description: raw.description,
            parameters,
            schedules,
            triggers,
            missed: raw.missed,
            pool,
            steps,
            file: path.to_path_buf(),
            source: text.to_string(),
            version: digest(text),
        };
        spec.check_graph(&at, &spans)?;
        spec.check_templates(&at)?;
        Ok(spec)
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Step indices in an order where each step comes after what it needs (file order
    /// among steps that are ready together).
    pub fn order(&self) -> Vec<usize> {
        let index: HashMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut done = vec![false; self.steps.len()];
        let mut out = Vec::with_capacity(self.steps.len());
        while out.len() < self.steps.len() {
            let before = out.len();
            for (i, s) in self.steps.iter().enumerate() {
                if !done[i]
                    && s.needs
                        .iter()
                        .all(|n| index.get(n.as_str()).is_some_and(|&j| done[j]))
                {
                    done[i] = true;
                    out.push(i);
                }
            }
            if out.len() == before {
                break; // a cycle; refused when the file was read
            }
        }
        out
    }

    /// Every step `name` needs, directly or through others.
    pub fn upstream(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = self
            .step(name)
            .map(|s| s.needs.iter().map(String::as_str).collect())
            .unwrap_or_default();
        while let Some(n) = todo.pop() {
            if seen.insert(n.to_string()) {
                if let Some(s) = self.step(n) {
                    todo.extend(s.needs.iter().map(String::as_str));
                }
            }
        }
        seen
    }

    /// The parameters of a run: `given` checked against their types, defaults for
    /// the rest, and every required one present; as JSON values by name.
    pub fn resolve_params(
        &self,
        given: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        for name in given.keys() {
            if !self.parameters.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(JobError::param(
                    name,
                    format!(
                        "job `{}` has no such parameter (it has: {})",
                        self.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        let mut out = serde_json::Map::new();
        for p in &self.parameters {
            let value = match given.get(&p.name) {
                Some(v) => Some(p.check_json(v).map_err(|m| JobError::param(&p.name, m))?),
                None => p.default.clone(),
            };
            match value {
                Some(v) => {
                    out.insert(p.name.clone(), v.to_json());
                }
                None if p.required => {
                    return Err(JobError::param(&p.name, "is required and has no default"))
                }
                None => {}
            }
        }
        Ok(out)
    }

    fn check_graph(
        &self,
        at: &At<'_>,
        spans: &[(marked_yaml::Span, Vec<marked_yaml::Span>)],
    ) -> Result<()> {
        let mut names = HashSet::new();
        for (i, s) in self.steps.iter().enumerate() {
            if !names.insert(s.name.as_str()) {
                return Err(at.err(
                    Some(&spans[i].0),
                    &format!("steps[{i}].name"),
                    format!("a second step named `{}`", s.name),
                ));
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            for (j, n) in s.needs.iter().enumerate() {
                if !names.contains(n.as_str()) {
                    return Err(at.err(
                        spans[i].1.get(j),
                        &format!("steps[{i}].needs[{j}]"),
                        format!(
                            "step `{}` needs `{n}`, which is no step of this job",
                            s.name
                        ),
                    ));
                }
                if n == &s.name {
                    return Err(at.err(
                        spans[i].1.get(j),
                        &format!("steps[{i}].needs[{j}]"),
                        format!("step `{n}` needs itself"),
                    ));
                }
            }
        }
        let order = self.order();
        if order.len() < self.steps.len() {
            let placed: HashSet<usize> = order.into_iter().collect();
            let stuck: Vec<&str> = (0..self.steps.len())
                .filter(|i| !placed.contains(i))
                .map(|i| self.steps[i].name.as_str())
                .collect();
            let first = (0..self.steps.len())
                .find(|i| !placed.contains(i))
                .unwrap_or(0);
            return Err(at.err(
                Some(&spans[first].0),
                &format!("steps[{first}].needs"),
                format!("the steps {} need each other in a cycle", stuck.join(", ")),
            ));
        }
        Ok(())
    }

    fn check_templates(&self, at: &At<'_>) -> Result<()> {
        for (i, s) in self.steps.iter().enumerate() {
            let upstream = self.upstream(&s.name);
            for t in s.config.templates() {
                for r in t.template.refs() {
                    let problem = match r {
                        Ref::Param(p) if !self.parameters.iter().any(|q| &q.name == p) => {
                            Some(format!("`{r}`: the job has no parameter `{p}`"))
                        }
                        Ref::Output { step, .. } if self.step(step).is_none() => {
                            Some(format!("`{r}`: the job has no step `{step}`"))
                        }
                        Ref::Output { step, .. } if !upstream.contains(step) => Some(format!(
                            "`{r}`: step `{}` does not need `{step}` (add it to `needs`), so its outputs may not exist yet",
                            s.name
                        )),
                        Ref::Event(_) if self.triggers.is_empty() => Some(format!(
                            "`{r}`: the job has no trigger, so its runs have no event"
                        )),
                        _ => None,
                    };
                    if let Some(message) = problem {
                        return Err(JobError::Spec {
                            at: Location {
                                file: at.file.to_string(),
                                line: t.line,
                                column: t.column,
                                key: Some(format!("steps[{i}].{}", t.key)),
                            },
                            message,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn read_params(
    at: &At<'_>,
    raw: IndexMap<String, RawParam>,
    node: Option<&marked_yaml::types::MarkedMappingNode>,
) -> Result<Vec<ParamSpec>> {
    let mut out = Vec::new();
    for (name, p) in raw {
        // The name's place in the file, for the errors below.
        let span = node
            .and_then(|m| m.keys().find(|k| k.as_str() == name))
            .map(|k| *k.span())
            .unwrap_or_else(marked_yaml::Span::new_blank);
        let name = Spanned::new(span, name);
        let key = format!("parameters.{}", name.as_str());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at.err(
                Some(name.span()),
                &key,
                "a parameter name is letters, digits, `_` and `-`",
            ));
        }
        if p.ty == ParamType::Choice && p.choices.is_empty() {
            return Err(at.err(
                Some(name.span()),
                &format!("{key}.choices"),
                "a `choice` parameter lists its `choices`",
            ));
        }
        if p.ty != ParamType::Choice && !p.choices.is_empty() {
            return Err(at.err(
                Some(name.span()),
                &format!("{key}.choices"),
                "only a `choice` parameter has `choices`",
            ));
        }
        let mut spec = ParamSpec {
            name: name.as_str().to_string(),
            ty: p.ty,
            default: None,
            required: p.required,
            description: p.description,
            choices: p.choices,
        };
        if let Some(d) = &p.default {
            spec.default = Some(
                spec.parse_value(d.as_str())
                    .map_err(|m| at.err(Some(d.span()), &format!("{key}.default"), m))?,
            );
        }
        out.push(spec);
    }
    Ok(out)
}

fn read_schedule(at: &At<'_>, i: usize, s: RawSchedule, params: &[ParamSpec]) -> Result<Schedule> {
    let key = format!("schedules[{i}]");
    let when = match (&s.cron, &s.interval) {
        (Some(expr), None) => {
            let tz = s
                .timezone
                .as_ref()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| "UTC".into());
            if let Some(t) = &s.timezone {
                if t.as_str().parse::<chrono_tz::Tz>().is_err() {
                    return Err(at.err(
                        Some(t.span()),
                        &format!("{key}.timezone"),
                        format!(
                            "`{}` is not an IANA time zone (e.g. Europe/Paris, UTC)",
                            t.as_str()
                        ),
                    ));
                }
            }
            crate::schedule::parse_cron(expr.as_str())
                .map_err(|m| at.err(Some(expr.span()), &format!("{key}.cron"), m))?;
            ScheduleKind::Cron {
                expr: expr.as_str().to_string(),
                timezone: tz,
            }
        }
        (None, Some(every)) => {
            if let Some(t) = &s.timezone {
                return Err(at.err(
                    Some(t.span()),
                    &format!("{key}.timezone"),
                    "`timezone` goes with `cron`, not `interval`",
                ));
            }
            let every = spanned_duration(at, &format!("{key}.interval"), every)?;
            if every < Duration::from_secs(1) {
                return Err(at.err(
                    None,
                    &format!("{key}.interval"),
                    "an interval is at least 1s",
                ));
            }
            ScheduleKind::Interval { every }
        }
        _ => return Err(at.err(None, &key, "a schedule has either `cron` or `interval`")),
    };
    let mut parameters = Vec::new();
    for (name, value) in s.parameters {
        let Some(p) = params.iter().find(|p| p.name == name.as_str()) else {
            return Err(at.err(
                Some(name.span()),
                &format!("{key}.parameters.{}", name.as_str()),
                "the job has no such parameter",
            ));
        };
        let v = p.parse_value(value.as_str()).map_err(|m| {
            at.err(
                Some(value.span()),
                &format!("{key}.parameters.{}", name.as_str()),
                m,
            )
        })?;
        parameters.push((p.name.clone(), v));
    }
    Ok(Schedule {
        when,
        paused: s.paused,
        parameters,
    })
}

fn read_trigger(at: &At<'_>, i: usize, t: RawTrigger, node: Option<&Node>) -> Result<Trigger> {
    let span = node
        .and_then(Node::as_sequence)
        .and_then(|s| s.get(i))
        .map(|n| *n.span());
    Ok(match t {
        RawTrigger::ModelVersionCreated { model } => Trigger::ModelVersionCreated { model },
        RawTrigger::AliasSet { model, alias } => Trigger::AliasSet { model, alias },
        RawTrigger::JobCompleted { job, states } => {
            for s in &states {
                if !FINAL_STATES.contains(&s.as_str()) {
                    return Err(at.err(
                        span.as_ref(),
                        &format!("triggers[{i}].states"),
                        format!("`{s}` is not a final state ({})", FINAL_STATES.join(", ")),
                    ));
                }
            }
            let states = if states.is_empty() {
                vec!["COMPLETED".to_string()]
            } else {
                states
            };
            Trigger::JobCompleted { job, states }
        }
        RawTrigger::Webhook { secret_env } => {
            if secret_env.is_empty()
                || !secret_env
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(at.err(span.as_ref(), &format!("triggers[{i}].secret_env"), "the name of an environment variable (letters, digits, `_`) that holds the webhook's secret"));
            }
            Trigger::Webhook { secret_env }
        }
    })
}

fn parse_step(
    at: &At<'_>,
    i: usize,
    node: &Node,
    registry: &Registry,
    base: &Path,
    source: &str,
) -> Result<(Step, Vec<marked_yaml::Span>)> {
    let key = format!("steps[{i}]");
    let Some(map) = node.as_mapping() else {
        return Err(at.err(
            Some(node.span()),
            &key,
            "a step is a mapping with at least `name` and `kind`",
        ));
    };
    let mut common = map.clone();
    let mut own = map.clone();
    common.retain(|k, _| COMMON_STEP_KEYS.contains(&k.as_str()));
    own.retain(|k, _| !COMMON_STEP_KEYS.contains(&k.as_str()));
    // A duration or a list of them: told apart by the node (serde's untagged enums
    // would lose the positions).
    let delays: Option<Vec<Spanned<String>>> = match common.remove("retry_delay") {
        None => None,
        Some(n @ Node::Scalar(_)) => Some(vec![marked_yaml::from_node(&n)
            .map_err(|e| at.decode_error(&format!("{key}.retry_delay"), e))?]),
        Some(n @ Node::Sequence(_)) => Some(
            marked_yaml::from_node(&n)
                .map_err(|e| at.decode_error(&format!("{key}.retry_delay"), e))?,
        ),
        Some(n) => {
            return Err(at.err(
                Some(n.span()),
                &format!("{key}.retry_delay"),
                "a duration or a list of durations",
            ))
        }
    };
    let raw: RawStep =
        marked_yaml::from_node(&Node::Mapping(common)).map_err(|e| at.decode_error(&key, e))?;
    let name = raw.name.as_str().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(at.err(
            Some(raw.name.span()),
            &format!("{key}.name"),
            "a step name is letters, digits, `_` and `-`",
        ));
    }
    let Some(kind) = registry.get(raw.kind.as_str()) else {
        return Err(at.err(
            Some(raw.kind.span()),
            &format!("{key}.kind"),
            format!(
                "`{}` is no step kind (kinds: {})",
                raw.kind.as_str(),
                registry.names().join(", ")
            ),
        ));
    };
    let ctx = crate::kinds::ParseContext {
        at,
        key: &key,
        base,
        source,
    };
    let config = kind.parse(&Node::Mapping(own), &ctx)?;
    let retry = {
        let delay = match (delays, raw.retry_backoff) {
            (Some(_), Some(b)) => {
                return Err(at.err(
                    Some(b.base.span()),
                    &format!("{key}.retry_backoff"),
                    "give `retry_delay` or `retry_backoff`, not both",
                ))
            }
            (Some(list), None) => {
                if list.is_empty() {
                    return Err(at.err(
                        None,
                        &format!("{key}.retry_delay"),
                        "an empty list of delays",
                    ));
                }
                RetryDelay::List(
                    list.iter()
                        .enumerate()
                        .map(|(j, d)| {
                            spanned_duration(at, &format!("{key}.retry_delay[{j}]"), d).map(ms)
                        })
                        .collect::<Result<_>>()?,
                )
            }
            (None, Some(b)) => {
                let base_d = spanned_duration(at, &format!("{key}.retry_backoff.base"), &b.base)?;
                if !(b.factor.is_finite() && b.factor >= 1.0) {
                    return Err(at.err(
                        Some(b.base.span()),
                        &format!("{key}.retry_backoff.factor"),
                        "the factor is a number of at least 1",
                    ));
                }
                let max = match &b.max {
                    Some(m) => spanned_duration(at, &format!("{key}.retry_backoff.max"), m)?,
                    None => Duration::from_secs(3600),
                };
                RetryDelay::Exponential {
                    base_ms: ms(base_d),
                    factor: b.factor,
                    max_ms: ms(max),
                }
            }
            (None, None) => RetryDelay::default(),
        };
        if !(0.0..=1.0).contains(&raw.retry_jitter) {
            return Err(at.err(
                Some(node.span()),
                &format!("{key}.retry_jitter"),
                "the jitter is a fraction between 0 and 1",
            ));
        }
        RetryPolicy {
            retries: raw.retries,
            delay,
            jitter: raw.retry_jitter,
        }
    };
    let timeout = raw
        .timeout
        .as_ref()
        .map(|t| spanned_duration(at, &format!("{key}.timeout"), t))
        .transpose()?;
    let cache = raw
        .cache
        .map(|c| -> Result<CachePolicy> {
            Ok(CachePolicy {
                expiry: c
                    .expiry
                    .as_ref()
                    .map(|e| spanned_duration(at, &format!("{key}.cache.expiry"), e))
                    .transpose()?,
            })
        })
        .transpose()?;
    let needs_spans = raw.needs.iter().map(|n| *n.span()).collect();
    Ok((
        Step {
            name,
            kind: kind.name().to_string(),
            needs: raw
                .needs
                .iter()
                .map(|n| n.as_str().trim().to_string())
                .collect(),
            retry,
            timeout,
            cache,
            tags: raw.tags,
            config,
        },
        needs_spans,
    ))
}
