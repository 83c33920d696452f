//! A small SQL builder: text plus bound values, so no value is ever spliced into SQL.

use rusqlite::types::Value;

#[derive(Default)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Value>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            params: Vec::new(),
        }
    }

    pub fn push(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.text.push_str(text.as_ref());
        self
    }

    pub fn push_bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.params.push(value.into());
        self.text.push('?');
        self
    }

    /// ` LIMIT max + 1 OFFSET offset`: one row more than the page, so the caller knows
    /// whether a next page exists without counting.
    pub fn push_page(&mut self, max_results: u64, offset: u64) -> &mut Self {
        self.push(" LIMIT ").push_bind((max_results + 1) as i64);
        self.push(" OFFSET ").push_bind(offset as i64)
    }

    /// `(?, ?, ...)` for the values.
    pub fn push_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
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
