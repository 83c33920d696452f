//! SQL shared by both backends: a small builder (text plus bound values, so no value
//! is ever spliced into SQL), the translation of search clauses into SQL over
//! MLflow's tables ([`search`]), and every store operation written once as a script
//! over an executor ([`exec`]) for both drivers: [`tracking`], [`registry`],
//! [`logged_models`], [`predictions`], [`jobs`], [`monitor`].
//!
//! The dialects differ here only where they must, each spot saying why: placeholders
//! (`?N` against `$N`, see [`Sql::new`]), SQLite's `INDEXED BY` hints and chunked
//! `IN` lists against PostgreSQL's arrays, and PostgreSQL's row locks.

pub(crate) mod data;
pub(crate) mod exec;
pub(crate) mod jobs;
pub(crate) mod logged_models;
pub(crate) mod monitor;
pub(crate) mod predictions;
pub(crate) mod registry;
pub(crate) mod search;
pub(crate) mod tracking;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    /// A NULL, typed as the value it stands for: PostgreSQL types every parameter.
    NullInt,
    NullReal,
    NullText,
    /// A PostgreSQL array (`= ANY($n)`); SQLite has none, so [`Sql::push_in`] writes
    /// a list of placeholders there instead.
    Texts(Vec<String>),
    Ints(Vec<i64>),
}

impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Bind::NullInt, Bind::Int)
    }
}

impl From<Option<f64>> for Bind {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Bind::NullReal, Bind::Real)
    }
}

impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Self {
        v.map_or(Bind::NullText, Bind::Text)
    }
}

impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Bind::NullText, Bind::from)
    }
}

impl From<&String> for Bind {
    fn from(v: &String) -> Self {
        Bind::Text(v.clone())
    }
}

impl From<&Option<String>> for Bind {
    fn from(v: &Option<String>) -> Self {
        v.as_deref().into()
    }
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
    /// A statement written once for both dialects, numbering its values `?1`, `?2`...:
    /// PostgreSQL's `$1`, `$2`... are written in its place there.
    pub fn new(dialect: Dialect, text: &str) -> Self {
        let text = match dialect {
            Dialect::Sqlite => text.to_string(),
            Dialect::Postgres => {
                let mut out = String::with_capacity(text.len());
                let mut chars = text.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
                        out.push('$');
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        };
        Sql {
            text,
            params: Vec::new(),
            dialect,
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

    /// ` FOR UPDATE`, on PostgreSQL only: there replicas write at once, and a write
    /// that depends on a row locks it; SQLite's one writer thread already serialises.
    pub fn lock(&mut self) -> &mut Self {
        if self.dialect == Dialect::Postgres {
            self.text.push_str(" FOR UPDATE");
        }
        self
    }

    /// ` IN (?, ?, ...)` on SQLite, ` = ANY($n)` with one array value on PostgreSQL
    /// (one statement however many values, where SQLite's lists are chunked).
    pub fn push_in(&mut self, values: impl IntoIterator<Item = String>) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.push(" IN ").push_list(values),
            Dialect::Postgres => self
                .push(" = ANY(")
                .push_bind(Bind::Texts(values.into_iter().collect()))
                .push(")"),
        }
    }

    /// As [`Sql::push_in`], for integers.
    pub fn push_in_ints(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.push(" IN ").push_list(values),
            Dialect::Postgres => self
                .push(" = ANY(")
                .push_bind(Bind::Ints(values.into_iter().collect()))
                .push(")"),
        }
    }

    /// How many values a list may hold per statement: SQLite binds at most 32,766
    /// values, and a page may hold 50,000 runs; a PostgreSQL array is one value.
    pub fn chunk_size(dialect: Dialect, sqlite: usize) -> usize {
        match dialect {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => usize::MAX,
        }
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
