//! Step kinds: what each kind of step takes in a job file, and what it asks the engine
//! to do.
//!
//! A kind parses its own keys (the step's keys other than the common ones: `name`,
//! `needs`, `retries`, ...) into a [`StepConfig`], which, once templates are rendered,
//! turns into an [`Action`]: a process to run, an HTTP request, or an alias to move.
//! The engine runs actions and knows nothing of kinds, so a later kind (`evaluate`,
//! `drift`, `data_check`, `annotate`) is one more [`StepKind`] added to the
//! [`Registry`], usually planning a `cairn` subcommand as a process.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use marked_yaml::{Node, Spanned};
use serde::{Deserialize, Deserializer};

use crate::error::Result;
use crate::spec::At;
use crate::template::{Ref, Template};

/// A templated string of a step's settings, with where it was written.
#[derive(Debug, Clone)]
pub struct Tmpl {
    pub text: String,
    pub template: Template,
    /// The key under the step (`argv[2]`), filled in by the kind (see `Tmpl::at`).
    pub key: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Tmpl {
    fn at(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }
}

impl<'de> Deserialize<'de> for Tmpl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = Spanned::<String>::deserialize(d)?;
        let template = Template::parse(s.as_str()).map_err(serde::de::Error::custom)?;
        let start = s.span().start();
        Ok(Tmpl {
            text: s.as_str().to_string(),
            template,
            key: String::new(),
            line: start.map(|m| m.line()),
            column: start.map(|m| m.column()),
        })
    }
}

/// What a step asks the engine to do, its templates rendered.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run a process. `program` `cairn` means the running cairn binary. Outputs are
    /// the `key=value` lines it writes to the file named by `$CAIRN_OUTPUTS`.
    Process {
        argv: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
        /// Files written into the step's scratch folder before it starts
        /// (name, contents), such as an inline training spec.
        #[serde(default)]
        files: Vec<(String, String)>,
    },
    /// Send a request and check its status; outputs: `status`, `body`.
    Http {
        method: String,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        body: Option<String>,
        expect_status: Vec<u16>,
    },
    /// Point `alias` of `model` at `version` when the version's tags include every
    /// one of `require_tags`; outputs: `model`, `version`, `alias`, `promoted`.
    Promote {
        model: String,
        version: String,
        alias: String,
        require_tags: BTreeMap<String, String>,
    },
}

/// What a step kind sees while it reads its keys.
pub struct ParseContext<'a> {
    pub(crate) at: &'a At<'a>,
    /// The step's key in the file (`steps[2]`).
    pub key: &'a str,
    /// The job file's folder: relative paths start here.
    pub base: &'a Path,
    /// The job file's text (for settings copied verbatim, such as an inline spec).
    pub source: &'a str,
}

impl ParseContext<'_> {
    fn decode<T: serde::de::DeserializeOwned>(&self, node: &Node) -> Result<T> {
        marked_yaml::from_node(node).map_err(|e| self.at.decode_error(self.key, e))
    }

    fn err(
        &self,
        span: Option<&marked_yaml::Span>,
        key: &str,
        message: impl Into<String>,
    ) -> crate::JobError {
        self.at.err(span, &format!("{}.{key}", self.key), message)
    }
}

/// What the engine gives a step when it plans it.
pub trait Render {
    fn render(&self, t: &Tmpl) -> Result<String>;
}

/// A step's own settings, read from its file.
pub trait StepConfig: Send + Sync + fmt::Debug {
    /// Every template, for the checks made when the file is read.
    fn templates(&self) -> Vec<&Tmpl>;
    /// The action, templates rendered by `r`.
    fn plan(&self, r: &dyn Render) -> Result<Action>;
}

/// A kind of step.
pub trait StepKind: Send + Sync {
    fn name(&self) -> &'static str;
    /// Reads the step's own keys (`node` is a mapping without the common ones).
    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>>;
}

/// The step kinds a job file may use.
pub struct Registry {
    kinds: Vec<Box<dyn StepKind>>,
}

impl Default for Registry {
    /// The built-in kinds: `command`, `http`, `train`, `promote`, `drift`, `evaluate`,
    /// `ground_truth`.
    fn default() -> Self {
        let mut r = Registry { kinds: Vec::new() };
        r.add(Box::new(CommandKind));
        r.add(Box::new(HttpKind));
        r.add(Box::new(TrainKind));
        r.add(Box::new(PromoteKind));
        r.add(Box::new(DriftKind));
        r.add(Box::new(EvaluateKind));
        r.add(Box::new(GroundTruthKind));
        r.add(Box::new(DataCheckKind));
        r
    }
}

impl Registry {
    /// Adds a kind (replacing one of the same name).
    pub fn add(&mut self, kind: Box<dyn StepKind>) {
        self.kinds.retain(|k| k.name() != kind.name());
        self.kinds.push(kind);
    }

    pub fn get(&self, name: &str) -> Option<&dyn StepKind> {
        self.kinds
            .iter()
            .find(|k| k.name() == name)
            .map(|k| k.as_ref())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }
}

// ---- command -------------------------------------------------------------------------

struct CommandKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandRaw {
    argv: Vec<Tmpl>,
    #[serde(default)]
    env: BTreeMap<String, Tmpl>,
    cwd: Option<Tmpl>,
}

#[derive(Debug)]
struct Command {
    argv: Vec<Tmpl>,
    env: Vec<(String, Tmpl)>,
    cwd: Option<Tmpl>,
    base: PathBuf,
}

impl StepKind for CommandKind {
    fn name(&self) -> &'static str {
        "command"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: CommandRaw = ctx.decode(node)?;
        if raw.argv.is_empty() {
            return Err(ctx.err(
                Some(node.span()),
                "argv",
                "`argv` names at least the program",
            ));
        }
        Ok(Box::new(Command {
            argv: raw
                .argv
                .into_iter()
                .enumerate()
                .map(|(i, t)| t.at(format!("argv[{i}]")))
                .collect(),
            env: raw
                .env
                .into_iter()
                .map(|(k, t)| {
                    let key = format!("env.{k}");
                    (k, t.at(key))
                })
                .collect(),
            cwd: raw.cwd.map(|t| t.at("cwd")),
            base: ctx.base.to_path_buf(),
        }))
    }
}

impl StepConfig for Command {
    fn templates(&self) -> Vec<&Tmpl> {
        self.argv
            .iter()
            .chain(self.env.iter().map(|(_, t)| t))
            .chain(self.cwd.iter())
            .collect()
    }

    fn plan(&self, r: &dyn Render) -> Result<Action> {
        let cwd = match &self.cwd {
            Some(t) => self.base.join(r.render(t)?),
            None => self.base.clone(),
        };
        Ok(Action::Process {
            argv: self
                .argv
                .iter()
                .map(|t| r.render(t))
                .collect::<Result<_>>()?,
            env: self
                .env
                .iter()
                .map(|(k, t)| Ok((k.clone(), r.render(t)?)))
                .collect::<Result<_>>()?,
            cwd: Some(cwd),
            files: Vec::new(),
        })
    }
}

// ---- http ----------------------------------------------------------------------------

struct HttpKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpRaw {
    url: Tmpl,
    #[serde(default = "get")]
    method: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, Tmpl>,
    body: Option<Tmpl>,
    #[serde(default)]
    expect_status: Vec<u16>,
}

fn get() -> Spanned<String> {
    Spanned::new(marked_yaml::Span::new_blank(), "GET".to_string())
}

#[derive(Debug)]
struct Http {
    url: Tmpl,
    method: String,
    headers: Vec<(String, Tmpl)>,
    body: Option<Tmpl>,
    expect_status: Vec<u16>,
}

impl StepKind for HttpKind {
    fn name(&self) -> &'static str {
        "http"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: HttpRaw = ctx.decode(node)?;
        let method = raw.method.as_str().to_ascii_uppercase();
        if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
            return Err(ctx.err(
                Some(raw.method.span()),
                "method",
                format!("`{method}` is not an HTTP method cairn sends"),
            ));
        }
        let url = raw.url.at("url");
        if url.template.refs().next().is_none() && url::Url::parse(&url.text).is_err() {
            return Err(ctx.err(None, "url", format!("`{}` is not a URL", url.text)));
        }
        Ok(Box::new(Http {
            url,
            method,
            headers: raw
                .headers
                .into_iter()
                .map(|(k, t)| {
                    let key = format!("headers.{k}");
                    (k, t.at(key))
                })
                .collect(),
            body: raw.body.map(|t| t.at("body")),
            expect_status: if raw.expect_status.is_empty() {
                (200..300).collect()
            } else {
                raw.expect_status
            },
        }))
    }
}

impl StepConfig for Http {
    fn templates(&self) -> Vec<&Tmpl> {
        std::iter::once(&self.url)
            .chain(self.headers.iter().map(|(_, t)| t))
            .chain(self.body.iter())
            .collect()
    }

    fn plan(&self, r: &dyn Render) -> Result<Action> {
        Ok(Action::Http {
            method: self.method.clone(),
            url: r.render(&self.url)?,
            headers: self
                .headers
                .iter()
                .map(|(k, t)| Ok((k.clone(), r.render(t)?)))
                .collect::<Result<_>>()?,
            body: self.body.as_ref().map(|t| r.render(t)).transpose()?,
            expect_status: self.expect_status.clone(),
        })
    }
}

// ---- train ---------------------------------------------------------------------------

/// `cairn train` on a spec: a path (relative to the job file) or the spec inline,
/// whose text may hold templates (`lr: ${{ params.lr }}`). The runs it logs carry the
/// `cairn.job_run_id` tag, and its outputs are `run_id`, `experiment_id` and, when it
/// registered a version, `model`, `version` and `promoted`.
struct TrainKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainRaw {
    /// Told apart (path or mapping) by its node in `parse`.
    #[allow(dead_code)]
    spec: serde::de::IgnoredAny,
}

#[derive(Debug)]
struct Train {
    spec: Tmpl,
    inline: bool,
    base: PathBuf,
}

/// The text of a block mapping as written in the job file, dedented: an inline
/// training spec goes to `cairn train` exactly as the user wrote it (YAML types and
/// all), which a re-serialised node would not.
fn block_text(source: &str, node: &Node) -> Option<String> {
    let from = node.span().start()?.character();
    let to = node.span().end()?.character();
    let chars: Vec<char> = source.chars().collect();
    let to = to.min(chars.len());
    // From the line of the mapping's first key (the span may start where the value
    // of `spec:` does, on the line before), so every line keeps its indentation.
    let first = (from..to).find(|&i| !chars[i].is_whitespace())?;
    let line_start = chars[..first]
        .iter()
        .rposition(|&c| c == '\n')
        .map_or(0, |p| p + 1);
    let block: String = chars[line_start..to].iter().collect();
    let indent = block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = block
        .lines()
        .map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start()))
        .collect();
    Some(text.join("\n").trim_end().to_string() + "\n")
}

impl StepKind for TrainKind {
    fn name(&self) -> &'static str {
        "train"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let _: TrainRaw = ctx.decode(node)?;
        let spec_node = node
            .as_mapping()
            .and_then(|m| m.get_node("spec"))
            .ok_or_else(|| ctx.err(None, "spec", "`spec` is a path or a mapping"))?;
        let (spec, inline) = match spec_node {
            Node::Scalar(_) => {
                let t: Tmpl = ctx.decode(spec_node)?;
                let t = t.at("spec");
                if t.template.refs().next().is_none() && !ctx.base.join(&t.text).is_file() {
                    return Err(ctx.err(
                        spec_node.span().start().map(|_| spec_node.span()),
                        "spec",
                        format!(
                            "`{}` is no file (paths start at the job file's folder)",
                            t.text
                        ),
                    ));
                }
                (t, false)
            }
            Node::Mapping(_) => {
                let text = block_text(ctx.source, spec_node).ok_or_else(|| {
                    ctx.err(None, "spec", "the inline spec's position is unknown")
                })?;
                let template = Template::parse(&text)
                    .map_err(|m| ctx.err(Some(spec_node.span()), "spec", m))?;
                let start = spec_node.span().start();
                let t = Tmpl {
                    text,
                    template,
                    key: "spec".into(),
                    line: start.map(|m| m.line()),
                    column: start.map(|m| m.column()),
                };
                (t, true)
            }
            Node::Sequence(_) => {
                return Err(ctx.err(
                    Some(spec_node.span()),
                    "spec",
                    "`spec` is a path or a mapping, not a list",
                ))
            }
        };
        Ok(Box::new(Train {
            spec,
            inline,
            base: ctx.base.to_path_buf(),
        }))
    }
}

impl StepConfig for Train {
    fn templates(&self) -> Vec<&Tmpl> {
        vec![&self.spec]
    }

    fn plan(&self, r: &dyn Render) -> Result<Action> {
        let rendered = r.render(&self.spec)?;
        let (spec_path, files) = if self.inline {
            // The spec is written to the step's scratch folder; its relative data
            // paths are read from the job file's folder (`--base`).
            (
                "${CAIRN_SCRATCH}/train-spec.yaml".to_string(),
                vec![("train-spec.yaml".to_string(), rendered)],
            )
        } else {
            (self.base.join(rendered).display().to_string(), Vec::new())
        };
        let mut argv = vec![
            "cairn".to_string(),
            "train".to_string(),
            spec_path,
            "--quiet".into(),
        ];
        if self.inline {
            argv.push("--base".into());
            argv.push(self.base.display().to_string());
        }
        Ok(Action::Process {
            argv,
            env: BTreeMap::new(),
            cwd: Some(self.base.clone()),
            files,
        })
    }
}

// ---- promote -------------------------------------------------------------------------

struct PromoteKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteRaw {
    model: Tmpl,
    version: Tmpl,
    alias: Tmpl,
    /// Tags the version must carry (key: value), such as the gate tags `cairn train`
    /// sets.
    #[serde(default)]
    require_tags: BTreeMap<String, Tmpl>,
}

#[derive(Debug)]
struct Promote {
    model: Tmpl,
    version: Tmpl,
    alias: Tmpl,
    require_tags: Vec<(String, Tmpl)>,
}

impl StepKind for PromoteKind {
    fn name(&self) -> &'static str {
        "promote"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: PromoteRaw = ctx.decode(node)?;
        Ok(Box::new(Promote {
            model: raw.model.at("model"),
            version: raw.version.at("version"),
            alias: raw.alias.at("alias"),
            require_tags: raw
                .require_tags
                .into_iter()
                .map(|(k, t)| {
                    let key = format!("require_tags.{k}");
                    (k, t.at(key))
                })
                .collect(),
        }))
    }
}

impl StepConfig for Promote {
    fn templates(&self) -> Vec<&Tmpl> {
        [&self.model, &self.version, &self.alias]
            .into_iter()
            .chain(self.require_tags.iter().map(|(_, t)| t))
            .collect()
    }

    fn plan(&self, r: &dyn Render) -> Result<Action> {
        Ok(Action::Promote {
            model: r.render(&self.model)?,
            version: r.render(&self.version)?,
            alias: r.render(&self.alias)?,
            require_tags: self
                .require_tags
                .iter()
                .map(|(k, t)| Ok((k.clone(), r.render(t)?)))
                .collect::<Result<_>>()?,
        })
    }
}

// ---- drift, evaluate: monitoring as `cairn` subcommands -----------------------------

/// A setting handed to a `cairn` subcommand as `--flag [prefix]value`.
#[derive(Debug)]
struct Flag {
    flag: &'static str,
    /// Put before the rendered value (`accuracy=` for `--min accuracy=0.9`).
    prefix: String,
    value: Tmpl,
    /// A path, read from the job file's folder when relative.
    path: bool,
}

/// A step that runs `cairn <argv...> --flag value...`: what the monitoring kinds
/// plan, so a check runs, stores and alerts the same from a job as from a shell.
#[derive(Debug)]
struct CairnCommand {
    argv: Vec<&'static str>,
    flags: Vec<Flag>,
    /// A file given as the command's last argument, read from the job file's folder.
    file: Option<Tmpl>,
    /// A name given as an argument as it is (the view `cairn data check` checks).
    name: Option<Tmpl>,
    base: PathBuf,
}

impl CairnCommand {
    fn flag(&mut self, flag: &'static str, value: Option<Tmpl>, path: bool) {
        if let Some(value) = value {
            self.flags.push(Flag {
                flag,
                prefix: String::new(),
                value: value.at(flag),
                path,
            });
        }
    }
}

impl StepConfig for CairnCommand {
    fn templates(&self) -> Vec<&Tmpl> {
        self.flags
            .iter()
            .map(|f| &f.value)
            .chain(self.file.as_ref())
            .chain(self.name.as_ref())
            .collect()
    }

    fn plan(&self, r: &dyn Render) -> Result<Action> {
        let mut argv: Vec<String> = self.argv.iter().map(|a| a.to_string()).collect();
        if let Some(file) = &self.file {
            argv.push(self.base.join(r.render(file)?).display().to_string());
        }
        if let Some(name) = &self.name {
            argv.push(r.render(name)?);
        }
        for f in &self.flags {
            let value = r.render(&f.value)?;
            argv.push(format!("--{}", f.flag.replace('_', "-")));
            argv.push(if f.path && !is_data_uri(&value) {
                self.base.join(value).display().to_string()
            } else {
                format!("{}{value}", f.prefix)
            });
        }
        Ok(Action::Process {
            argv,
            env: BTreeMap::new(),
            cwd: Some(self.base.clone()),
            files: Vec::new(),
        })
    }
}

/// A data source that names no file: a run's or model version's training set, or
/// a window of the prediction log (see `cairn drift check`).
fn is_data_uri(value: &str) -> bool {
    ["runs:/", "models:/", "predictions:"]
        .iter()
        .any(|p| value.starts_with(p))
}

/// `kind: drift`: `cairn drift check` of `current` against `reference` (files, read
/// from the job file's folder, or `runs:/`, `models:/` and `predictions:` sources:
/// a nightly check is `reference: models:/m@champion`, `current:
/// predictions:m@champion`), kept as `model`'s drift report when a model is
/// named; with dataset drift the step fails and `alert_webhook` is called. Outputs:
/// `drifted_columns`, `share`, `dataset_drift`.
struct DriftKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftRaw {
    reference: Tmpl,
    current: Tmpl,
    model: Option<Tmpl>,
    version: Option<Tmpl>,
    stattest: Option<Tmpl>,
    threshold: Option<Tmpl>,
    drift_share: Option<Tmpl>,
    column_mapping: Option<Tmpl>,
    alert_webhook: Option<Tmpl>,
}

impl StepKind for DriftKind {
    fn name(&self) -> &'static str {
        "drift"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: DriftRaw = ctx.decode(node)?;
        let mut c = CairnCommand {
            // The HTML report stays in the step's scratch folder.
            argv: vec![
                "cairn",
                "drift",
                "check",
                "--format",
                "json",
                "--html",
                "${CAIRN_SCRATCH}/drift.html",
            ],
            flags: Vec::new(),
            file: None,
            name: None,
            base: ctx.base.to_path_buf(),
        };
        c.flag("reference", Some(raw.reference), true);
        c.flag("current", Some(raw.current), true);
        c.flag("model", raw.model, false);
        c.flag("version", raw.version, false);
        c.flag("stattest", raw.stattest, false);
        c.flag("threshold", raw.threshold, false);
        c.flag("drift_share", raw.drift_share, false);
        c.flag("column_mapping", raw.column_mapping, false);
        c.flag("alert_webhook", raw.alert_webhook, false);
        Ok(Box::new(c))
    }
}

/// `kind: data_check`: `cairn data check` of a view or model contract of
/// `contracts_dir` (read from the job file's folder; without it
/// `$CAIRN_CONTRACTS_DIR`, else `contracts` beside the job file); a violated
/// constraint fails the step. Outputs: `passed`, `violations`.
struct DataCheckKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataCheckRaw {
    /// The view or contract.
    check: Tmpl,
    contracts_dir: Option<Tmpl>,
    memory_limit_mib: Option<Tmpl>,
}

impl StepKind for DataCheckKind {
    fn name(&self) -> &'static str {
        "data_check"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: DataCheckRaw = ctx.decode(node)?;
        let mut c = CairnCommand {
            argv: vec!["cairn", "data", "check", "--format", "json"],
            flags: Vec::new(),
            file: None,
            name: Some(raw.check.at("check")),
            base: ctx.base.to_path_buf(),
        };
        c.flag("contracts_dir", raw.contracts_dir, true);
        c.flag("memory_limit_mib", raw.memory_limit_mib, false);
        Ok(Box::new(c))
    }
}

/// `kind: evaluate`: `cairn eval online` of `model` (each version, or `version`)
/// over the predictions `since` ago, kept as evaluation reports; a metric under its
/// `min` or over its `max` fails the step and calls `alert_webhook`. Outputs: the
/// newest version's `accuracy`, `f1_macro` (or `rmse`, `r2`) and `labelled`.
struct EvaluateKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRaw {
    model: Tmpl,
    version: Option<Tmpl>,
    since: Option<Tmpl>,
    until: Option<Tmpl>,
    window: Option<Tmpl>,
    alias: Option<Tmpl>,
    prediction_key: Option<Tmpl>,
    #[serde(default)]
    min: BTreeMap<String, Tmpl>,
    #[serde(default)]
    max: BTreeMap<String, Tmpl>,
    alert_webhook: Option<Tmpl>,
}

impl StepKind for EvaluateKind {
    fn name(&self) -> &'static str {
        "evaluate"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: EvaluateRaw = ctx.decode(node)?;
        let mut c = CairnCommand {
            argv: vec!["cairn", "eval", "online", "--store", "--format", "json"],
            flags: Vec::new(),
            file: None,
            name: None,
            base: ctx.base.to_path_buf(),
        };
        c.flag("model", Some(raw.model), false);
        c.flag("version", raw.version, false);
        c.flag("since", raw.since, false);
        c.flag("until", raw.until, false);
        c.flag("window", raw.window, false);
        c.flag("alias", raw.alias, false);
        c.flag("prediction_key", raw.prediction_key, false);
        c.flag("alert_webhook", raw.alert_webhook, false);
        for (flag, limits) in [("min", raw.min), ("max", raw.max)] {
            for (metric, value) in limits {
                c.flags.push(Flag {
                    flag,
                    prefix: format!("{metric}="),
                    value: value.at(format!("{flag}.{metric}")),
                    path: false,
                });
            }
        }
        Ok(Box::new(c))
    }
}

/// `kind: ground_truth`: `cairn ground-truth import` of a CSV or Parquet file (read
/// from the job file's folder) for `model`, by its entity and label (or value)
/// columns; a bad row fails the step and nothing of the file is sent.
struct GroundTruthKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroundTruthRaw {
    file: Tmpl,
    model: Tmpl,
    entity_column: Tmpl,
    label_column: Option<Tmpl>,
    value_column: Option<Tmpl>,
    time_column: Option<Tmpl>,
}

impl StepKind for GroundTruthKind {
    fn name(&self) -> &'static str {
        "ground_truth"
    }

    fn parse(&self, node: &Node, ctx: &ParseContext<'_>) -> Result<Box<dyn StepConfig>> {
        let raw: GroundTruthRaw = ctx.decode(node)?;
        if raw.label_column.is_some() == raw.value_column.is_some() {
            return Err(ctx.err(
                None,
                "label_column",
                "give `label_column` (classification) or `value_column` (regression)",
            ));
        }
        let mut c = CairnCommand {
            argv: vec!["cairn", "ground-truth", "import"],
            flags: Vec::new(),
            file: None,
            name: None,
            base: ctx.base.to_path_buf(),
        };
        // The file goes as the command's argument, read from the job file's folder.
        c.flag("model", Some(raw.model), false);
        c.flag("entity_column", Some(raw.entity_column), false);
        c.flag("label_column", raw.label_column, false);
        c.flag("value_column", raw.value_column, false);
        c.flag("time_column", raw.time_column, false);
        c.file = Some(raw.file.at("file"));
        Ok(Box::new(c))
    }
}

/// Whether a template refers to a step's outputs (used by callers that list a
/// step's data dependencies).
pub fn output_refs(config: &dyn StepConfig) -> Vec<(String, String)> {
    config
        .templates()
        .iter()
        .flat_map(|t| t.template.refs())
        .filter_map(|r| match r {
            Ref::Output { step, key } => Some((step.clone(), key.clone())),
            _ => None,
        })
        .collect()
}
