//! cairn's YAML files: job files and data contracts.
//!
//! Both are read the same way: `marked_yaml` keeps each node's place in the file, so
//! every error names the file, line, column and key ([`Located`]); and both live in
//! a folder that is watched and read again on each change, where a broken edit keeps
//! the file's last good version active ([`folder`]).

pub mod folder;

use std::fmt;
use std::time::Duration;

pub use marked_yaml;
use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

/// Where in a file something is wrong: the file, the line and column (1-based, when
/// known) and the key (a dotted path such as `steps[2].needs[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
            if let Some(column) = self.column {
                write!(f, ", column {column}")?;
            }
        }
        if let Some(key) = &self.key {
            write!(f, ", key `{key}`")?;
        }
        Ok(())
    }
}

/// A file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct Located {
    pub at: Location,
    pub message: String,
}

/// Builds located errors for one file.
pub struct At<'a> {
    pub file: &'a str,
}

impl At<'_> {
    /// An error at `span` (the file's start when unknown) about `key`.
    pub fn err(
        &self,
        span: Option<&marked_yaml::Span>,
        key: &str,
        message: impl Into<String>,
    ) -> Located {
        let start = span.and_then(|s| s.start());
        Located {
            at: Location {
                file: self.file.to_string(),
                line: start.map(|m| m.line()),
                column: start.map(|m| m.column()),
                key: (!key.is_empty()).then(|| key.to_string()),
            },
            message: message.into(),
        }
    }

    /// A deserialisation error of the node at `prefix`, located.
    pub fn decode_error(&self, prefix: &str, e: marked_yaml::FromNodeError) -> Located {
        let path = match (prefix.is_empty(), e.path()) {
            (true, Some(p)) => p.to_string(),
            (false, Some(p)) if p != "." && !p.is_empty() => format!("{prefix}.{p}"),
            _ => prefix.to_string(),
        };
        let inner = e.into_inner();
        let mark = inner.start_mark();
        let message = match &inner {
            marked_yaml::Error::UnknownFieldError(field, expected, _) => format!(
                "unknown key `{field}`; expected one of: {}",
                expected.join(", ")
            ),
            other => other.to_string(),
        };
        Located {
            at: Location {
                file: self.file.to_string(),
                line: mark.map(|m| m.line()),
                column: mark.map(|m| m.column()),
                key: (!path.is_empty()).then_some(path),
            },
            message,
        }
    }

    /// Decodes `node` (at `prefix` in the file) into `T`, refusing unknown keys where
    /// `T` does.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        node: &Node,
    ) -> Result<T, Located> {
        marked_yaml::from_node(node).map_err(|e| self.decode_error(prefix, e))
    }

    /// Parses `text` as a file whose top level is a mapping; `what` names the kind
    /// of file in messages ("a job file").
    pub fn load_mapping(&self, text: &str, what: &str) -> Result<MarkedMappingNode, Located> {
        let options = marked_yaml::LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .toplevel_mapping();
        let root = marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| {
            let (mark, message) = load_error(&e, what);
            Located {
                at: Location {
                    file: self.file.to_string(),
                    line: mark.map(|m| m.line()),
                    column: mark.map(|m| m.column()),
                    key: None,
                },
                message,
            }
        })?;
        match root {
            Node::Mapping(map) => Ok(map),
            other => Err(self.err(Some(other.span()), "", format!("{what} is a mapping"))),
        }
    }
}

fn load_error<'e>(
    e: &'e marked_yaml::LoadError,
    what: &str,
) -> (Option<&'e marked_yaml::Marker>, String) {
    use marked_yaml::LoadError as L;
    match e {
        L::TopLevelMustBeMapping(m) => (Some(m), format!("{what} is a mapping")),
        L::TopLevelMustBeSequence(m) => (Some(m), "expected a list".into()),
        L::UnexpectedAnchor(m) => (
            Some(m),
            format!("anchors and aliases are not supported in {what}"),
        ),
        L::MappingKeyMustBeScalar(m) => (Some(m), "a key must be a plain string".into()),
        L::UnexpectedTag(m) => (
            Some(m),
            format!("explicit YAML tags are not supported in {what}"),
        ),
        L::ScanError(m, s) => (Some(m), format!("not valid YAML: {s}")),
        L::DuplicateKey(d) => (
            d.key.span().start(),
            format!("key `{}` appears twice", d.key.as_str()),
        ),
    }
}

/// A file's version: the first 16 hex digits of its text's SHA-256.
pub fn digest(text: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A duration as cairn's files write it: `30s`, `5m`, `1h 30m`, `500ms`, `2d`, or a
/// number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. 30s, 5m, 2h"))
}
