//! Tokens of the search language. Hand-written: the grammar is small, and MLflow's own
//! parser (sqlparse plus rules) has no Rust equivalent to reuse.

use crate::error::MlflowError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `entity.key`, `key`, ``entity.`quoted key` `` or `entity."quoted key"`.
    Ident {
        entity: Option<String>,
        key: String,
    },
    Str(String),
    Num(f64),
    Cmp(&'static str),
    Kw(Kw),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    And,
    Or,
    Like,
    ILike,
    In,
    Not,
    Is,
    Null,
    Asc,
    Desc,
}

/// A token with the text it came from and its character position, for messages.
#[derive(Debug, Clone)]
pub(crate) struct Spanned {
    pub tok: Tok,
    pub text: String,
    pub pos: usize,
}

fn keyword(word: &str) -> Option<Kw> {
    Some(match word.to_ascii_uppercase().as_str() {
        "AND" => Kw::And,
        "OR" => Kw::Or,
        "LIKE" => Kw::Like,
        "ILIKE" => Kw::ILike,
        "IN" => Kw::In,
        "NOT" => Kw::Not,
        "IS" => Kw::Is,
        "NULL" => Kw::Null,
        "ASC" => Kw::Asc,
        "DESC" => Kw::Desc,
        _ => return None,
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

pub(crate) fn tokenize(input: &str) -> Result<Vec<Spanned>, MlflowError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, what: &str| {
        MlflowError::invalid_parameter(format!(
            "Invalid search expression '{input}': {what} at position {pos}"
        ))
        .at(pos)
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' => {
                i += 1;
                Tok::Cmp("=")
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Cmp("!=")
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                i += if eq { 2 } else { 1 };
                Tok::Cmp(match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    ('>', true) => ">=",
                    _ => ">",
                })
            }
            '\'' | '"' => {
                let (s, next) = read_quoted(&chars, i)
                    .ok_or_else(|| err(start, &format!("unterminated string starting with {c}")))?;
                i = next;
                Tok::Str(s)
            }
            '`' => {
                let (s, next) = read_quoted(&chars, i)
                    .ok_or_else(|| err(start, "unterminated backticked name starting with `"))?;
                i = next;
                Tok::Ident {
                    entity: None,
                    key: s,
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == '.')) =>
            {
                let mut j = i + 1;
                while j < chars.len()
                    && (chars[j].is_ascii_digit()
                        || chars[j] == '.'
                        || chars[j] == 'e'
                        || chars[j] == 'E'
                        || ((chars[j] == '-' || chars[j] == '+')
                            && matches!(chars[j - 1], 'e' | 'E')))
                {
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                let v: f64 = text
                    .parse()
                    .map_err(|_| err(start, &format!("invalid number '{text}'")))?;
                i = j;
                Tok::Num(v)
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && is_word_char(chars[j]) {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                if word.ends_with('.') && matches!(chars.get(j), Some('`') | Some('"')) {
                    // `tags."a b"` or ``tags.`a b` ``: the entity, then a quoted key.
                    let (key, next) =
                        read_quoted(&chars, j).ok_or_else(|| err(j, "unterminated quoted name"))?;
                    i = next;
                    Tok::Ident {
                        entity: Some(word.trim_end_matches('.').to_string()),
                        key,
                    }
                } else if let Some(kw) = keyword(&word) {
                    i = j;
                    Tok::Kw(kw)
                } else {
                    i = j;
                    match word.split_once('.') {
                        Some((entity, key)) => Tok::Ident {
                            entity: Some(entity.to_string()),
                            key: key.to_string(),
                        },
                        None => Tok::Ident {
                            entity: None,
                            key: word,
                        },
                    }
                }
            }
            other => return Err(err(start, &format!("unexpected character '{other}'"))),
        };
        out.push(Spanned {
            tok,
            text: chars[start..i].iter().collect(),
            pos: start,
        });
    }
    Ok(out)
}

/// Reads a string quoted with `chars[start]`; the quote doubled or backslash-escaped
/// stands for itself. Returns the content and the index after the closing quote.
fn read_quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&quote) {
            s.push(quote);
            i += 2;
        } else if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                s.push(quote);
                i += 2;
            } else {
                return Some((s, i + 1));
            }
        } else {
            s.push(c);
            i += 1;
        }
    }
    None
}
