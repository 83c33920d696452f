//! URIs that may carry credentials (`postgresql://user:password@host/db`,
//! `?password=...`), kept whole for connecting and shown redacted everywhere else.
//!
//! Written here rather than taken from `secrecy`: that crate hides the whole value,
//! while a log or an error message should still say which host and database it means,
//! with only the credential blanked.

use std::fmt;

/// What replaces a credential in a shown URI.
pub const REDACTED: &str = "***";

/// Query parameters whose values are credentials (libpq's and the object stores').
const SECRET_PARAMS: &[&str] = &[
    "password",
    "sslpassword",
    "secret",
    "token",
    "access_key",
    "secret_key",
    "secret_access_key",
    "session_token",
    "sas_token",
    "sig",
];

/// A URI whose `Display` and `Debug` blank its password and secret query values;
/// [`SecretUri::expose`] gives the whole text to the one place that connects.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUri(String);

impl SecretUri {
    pub fn new(uri: impl Into<String>) -> Self {
        SecretUri(uri.into())
    }

    /// The URI with its credentials, for opening a connection. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URI as it may be shown: see [`redact`].
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl From<String> for SecretUri {
    fn from(uri: String) -> Self {
        SecretUri(uri)
    }
}

impl From<&str> for SecretUri {
    fn from(uri: &str) -> Self {
        SecretUri(uri.to_string())
    }
}

impl fmt::Display for SecretUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for SecretUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUri({:?})", redact(&self.0))
    }
}

/// `uri` with the password of its user info and the values of credential query
/// parameters replaced by [`REDACTED`]; anything that is not a URI comes back as is.
pub fn redact(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_string();
    };
    let (head, rest) = uri.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = String::with_capacity(uri.len());
    out.push_str(head);
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                        format!("{k}={REDACTED}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_parameters_are_blanked_and_the_rest_kept() {
        assert_eq!(
            redact("postgresql://cairn:hunter2@db.example:5432/mlflow"),
            "postgresql://cairn:***@db.example:5432/mlflow"
        );
        assert_eq!(
            redact("postgresql+psycopg://u:p@ss:w@rd@h/db?sslmode=require&password=x"),
            "postgresql+psycopg://u:***@h/db?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgresql://root@127.0.0.1/test"),
            "postgresql://root@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite:///tmp/mlflow.db"), "sqlite:///tmp/mlflow.db");
        assert_eq!(redact("./cairn-data"), "./cairn-data");
        let uri = SecretUri::new("postgres://a:b@h/d");
        assert_eq!(uri.to_string(), "postgres://a:***@h/d");
        assert_eq!(format!("{uri:?}"), "SecretUri(\"postgres://a:***@h/d\")");
        assert_eq!(uri.expose(), "postgres://a:b@h/d");
    }
}
