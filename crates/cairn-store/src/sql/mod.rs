//! SQL shared by both backends: a small builder (text plus bound values, so no value
//! is ever spliced into SQL) and the translation of search clauses into SQL over
//! MLflow's tables.
//!
//! The two dialects differ here only in placeholders (`?` against `$n`) and in
//! SQLite's `INDEXED BY` hints; everything else is written once in SQL both accept.

pub(crate) mod search;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

impl From<f64> for Bind {
    fn from(v: f64) -> Self {
        Bind::Real(v)
    }
}

impl From<bool> for Bind {
    fn from(v: bool) -> Self {
        Bind::Bool(v)
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Bind>,
    pub dialect: Dialect,
}

impl Sql {
    pub fn sqlite(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            params: Vec::new(),
            dialect: Dialect::Sqlite,
        }
    }

    pub fn postgres(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            params: Vec::new(),
            dialect: Dialect::Postgres,
        }
    }

    pub fn push(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.text.push_str(text.as_ref());
        self
    }

    /// Binds a value and writes its placeholder.
    pub fn push_bind(&mut self, value: impl Into<Bind>) -> &mut Self {
        self.params.push(value.into());
        let n = self.params.len();
        let placeholder = self.placeholder(n);
        self.text.push_str(&placeholder);
        self
    }

    /// Binds a value without writing a placeholder: for a statement whose text
    /// already numbers it (`$1`, `?1`).
    pub fn arg(mut self, value: impl Into<Bind>) -> Self {
        self.params.push(value.into());
        self
    }

    /// The placeholder of the `n`th bound value (1-based), to use it again.
    pub fn placeholder(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// An `INDEXED BY` hint, written for SQLite only: PostgreSQL's planner takes none.
    pub fn hint(&mut self, index: &str) -> &mut Self {
        if self.dialect == Dialect::Sqlite {
            self.text.push_str(" INDEXED BY ");
            self.text.push_str(index);
        }
        self
    }

    /// ` LIMIT max + 1 OFFSET offset`: one row more than the page, so the caller knows
    /// whether a next page exists without counting.
    pub fn push_page(&mut self, max_results: u64, offset: u64) -> &mut Self {
        self.push(" LIMIT ").push_bind((max_results + 1) as i64);
        self.push(" OFFSET ").push_bind(offset as i64)
    }

    /// `(?, ?, ...)` for the values.
    pub fn push_list<V: Into<Bind>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.push_bind(v);
        }
        self.text.push(')');
        self
    }
}
