//! Artifact paths as the proxy receives them, checked before any storage call.

use std::fmt;

use crate::ArtifactError;

/// A relative artifact path that stays inside the root: no `..` or `.` segments, not
/// absolute, no NUL or control characters, no backslashes (a separator on Windows).
/// The empty path is the root. Trailing slashes are dropped (`dir/` lists `dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    /// Checks `raw`, which is already percent-decoded (so `%2e%2e` arrives as `..`).
    pub fn parse(raw: &str) -> Result<Self, ArtifactError> {
        let invalid = |why: &str| ArtifactError::InvalidPath(format!("'{raw}' {why}"));
        if raw.starts_with('/') {
            return Err(invalid("is absolute"));
        }
        if raw.chars().any(|c| c.is_control()) {
            return Err(invalid("contains a control character"));
        }
        if raw.contains('\\') {
            return Err(invalid("contains a backslash"));
        }
        let trimmed = raw.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(ArtifactPath(String::new()));
        }
        for segment in trimmed.split('/') {
            match segment {
                "" => return Err(invalid("has an empty segment")),
                "." | ".." => return Err(invalid("has a '.' or '..' segment")),
                s if s.len() > 1
                    && s.as_bytes()[1] == b':'
                    && s.as_bytes()[0].is_ascii_alphabetic() =>
                {
                    return Err(invalid("names a drive"))
                }
                _ => {}
            }
        }
        Ok(ArtifactPath(trimmed.to_string()))
    }

    pub fn root() -> Self {
        ArtifactPath(String::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// `self/child`, for a child that is itself a checked path.
    pub fn join(&self, child: &ArtifactPath) -> ArtifactPath {
        match (self.is_root(), child.is_root()) {
            (true, _) => child.clone(),
            (_, true) => self.clone(),
            _ => ArtifactPath(format!("{}/{}", self.0, child.0)),
        }
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
