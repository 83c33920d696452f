//! Reading labelled examples from delimited text files. Quoting follows RFC 4180
//! (Banking77 has quoted fields that span lines), so a real CSV reader does it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};

/// A column by header name or by 0-based position (for files without a header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Index(i) => write!(f, "column {i}"),
            Column::Name(n) => write!(f, "column '{n}'"),
        }
    }
}

/// How one delimited file is laid out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextFile {
    pub path: PathBuf,
    /// `\t` or `,`; inferred from the extension (`.tsv` -> tab) when absent.
    #[serde(default)]
    pub delimiter: Option<char>,
    #[serde(default = "yes")]
    pub has_header: bool,
    #[serde(default = "default_text_column")]
    pub text_column: Column,
    #[serde(default = "default_label_column")]
    pub label_column: Column,
    /// Word-level slot tags (BIO, space-separated, one per whitespace-separated
    /// word of the text), as ATIS ships them in its third column. Fine-tuning
    /// learns to predict them beside the intent, as JointBERT does.
    #[serde(default)]
    pub slot_column: Option<Column>,
}

fn yes() -> bool {
    true
}
fn default_text_column() -> Column {
    Column::Name("text".into())
}
fn default_label_column() -> Column {
    Column::Name("label".into())
}

/// Texts and their labels, row-aligned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextExamples {
    pub texts: Vec<String>,
    pub labels: Vec<String>,
    /// One slot tag per whitespace-separated word of each text; empty when the
    /// file's layout names no slot column.
    pub slots: Vec<Vec<String>>,
}

impl TextExamples {
    pub fn len(&self) -> usize {
        self.texts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

impl TextFile {
    /// A file laid out as this one, at another path (train/dev/test share a layout).
    pub fn with_path(&self, path: PathBuf) -> TextFile {
        TextFile {
            path,
            ..self.clone()
        }
    }

    pub fn read(&self) -> Result<TextExamples> {
        let delimiter = self
            .delimiter
            .unwrap_or_else(|| infer_delimiter(&self.path));
        if !delimiter.is_ascii() {
            return Err(MlError::Config(format!(
                "delimiter {delimiter:?} of {} is not an ASCII character",
                self.path.display()
            )));
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter as u8)
            .has_headers(self.has_header)
            .flexible(true)
            .from_path(&self.path)
            .map_err(|e| data_error(&self.path, e))?;
        let headers = if self.has_header {
            Some(
                reader
                    .headers()
                    .map_err(|e| data_error(&self.path, e))?
                    .clone(),
            )
        } else {
            None
        };
        let locate = |column: &Column| match &headers {
            Some(h) => resolve(&self.path, h, column),
            None => position(&self.path, column),
        };
        let text_at = locate(&self.text_column)?;
        let label_at = locate(&self.label_column)?;
        let slot_at = self.slot_column.as_ref().map(locate).transpose()?;
        let mut out = TextExamples::default();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| data_error(&self.path, e))?;
            let line = record.position().map(|p| p.line()).unwrap_or(i as u64 + 1);
            let field = |at: usize, what: &Column| {
                record.get(at).map(str::to_string).ok_or_else(|| {
                    MlError::Data(format!(
                        "{} line {line}: no {what} (the row has {} fields)",
                        self.path.display(),
                        record.len()
                    ))
                })
            };
            let text = field(text_at, &self.text_column)?;
            let label = field(label_at, &self.label_column)?;
            if label.trim().is_empty() {
                return Err(MlError::Data(format!(
                    "{} line {line}: empty label in {}",
                    self.path.display(),
                    self.label_column
                )));
            }
            if let (Some(at), Some(column)) = (slot_at, &self.slot_column) {
                let tags: Vec<String> = field(at, column)?
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let words = text.split_whitespace().count();
                if tags.len() != words {
                    return Err(MlError::Data(format!(
                        "{} line {line}: {column} has {} slot tags for the text's {words} words",
                        self.path.display(),
                        tags.len()
                    )));
                }
                out.slots.push(tags);
            }
            out.texts.push(text);
            out.labels.push(label.trim().to_string());
        }
        if out.is_empty() {
            return Err(MlError::Data(format!(
                "{} has no rows",
                self.path.display()
            )));
        }
        Ok(out)
    }
}

fn infer_delimiter(path: &Path) -> char {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("tsv") || e.eq_ignore_ascii_case("tab") => '\t',
        _ => ',',
    }
}

fn resolve(path: &Path, headers: &csv::StringRecord, column: &Column) -> Result<usize> {
    match column {
        Column::Index(i) if *i < headers.len() => Ok(*i),
        Column::Name(n) => headers.iter().position(|h| h == n).ok_or_else(|| {
            MlError::Data(format!(
                "{}: no {column} in the header (it has {:?})",
                path.display(),
                headers.iter().collect::<Vec<_>>()
            ))
        }),
        Column::Index(_) => Err(MlError::Data(format!(
            "{}: {column} is past the header's {} columns",
            path.display(),
            headers.len()
        ))),
    }
}

fn position(path: &Path, column: &Column) -> Result<usize> {
    match column {
        Column::Index(i) => Ok(*i),
        Column::Name(n) => Err(MlError::Config(format!(
            "{}: has_header is false, so columns are chosen by position, not by name '{n}'",
            path.display()
        ))),
    }
}

fn data_error(path: &Path, e: csv::Error) -> MlError {
    MlError::Data(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_spanning_lines_and_headerless_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tsv");
        std::fs::write(&p, "text\tlabel\n\"a \"\"quoted\"\"\nline\"\tx\nplain\ty\n").unwrap();
        let f = TextFile {
            path: p,
            delimiter: None,
            has_header: true,
            text_column: default_text_column(),
            label_column: default_label_column(),
            slot_column: None,
        };
        let ex = f.read().unwrap();
        assert_eq!(ex.texts, vec!["a \"quoted\"\nline", "plain"]);
        assert_eq!(ex.labels, vec!["x", "y"]);

        let p = dir.path().join("b.tsv");
        std::fs::write(&p, "atis_flight\tfly to boston\tO O B\n").unwrap();
        let f = TextFile {
            path: p.clone(),
            delimiter: None,
            has_header: false,
            text_column: Column::Index(1),
            label_column: Column::Index(0),
            slot_column: Some(Column::Index(2)),
        };
        let ex = f.read().unwrap();
        assert_eq!(ex.texts, vec!["fly to boston"]);
        assert_eq!(ex.slots, vec![vec!["O", "O", "B"]]);

        std::fs::write(
            &p,
            "atis_flight\tfly to boston\tO O B\natis_flight\tfly to denver\tO B\n",
        )
        .unwrap();
        let err = f.read().unwrap_err().to_string();
        assert!(
            err.contains("line 2: column 2 has 2 slot tags for the text's 3 words"),
            "{err}"
        );
        std::fs::write(&p, "atis_flight\tfly to boston\tO O B\n").unwrap();

        let bad = TextFile {
            text_column: Column::Index(5),
            ..f
        };
        let err = bad.read().unwrap_err().to_string();
        assert!(err.contains("line 1: no column 5"), "{err}");
    }

    #[test]
    fn a_missing_header_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "sentence,intent\nhi,greet\n").unwrap();
        let f = TextFile {
            path: p,
            delimiter: None,
            has_header: true,
            text_column: default_text_column(),
            label_column: default_label_column(),
            slot_column: None,
        };
        let err = f.read().unwrap_err().to_string();
        assert!(err.contains("no column 'text' in the header"), "{err}");
    }
}
