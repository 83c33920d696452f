//! Filter grammar:
//!
//! ```text
//! filter := clause ( AND clause )*
//! clause := ident cmp value | ident [NOT] LIKE/ILIKE string | ident [NOT] IN ( list )
//!         | ident IS [NOT] NULL
//! ```

use super::lexer::{tokenize, Kw, Spanned, Tok};
use super::{Filter, Op, RawClause, Value};
use crate::error::MlflowError;

/// Parses a filter string; an empty or blank string is the empty filter.
pub fn parse_filter(input: &str) -> Result<Filter, MlflowError> {
    let tokens = tokenize(input)?;
    let mut p = Parser {
        input,
        tokens: &tokens,
        i: 0,
    };
    let mut clauses = Vec::new();
    if tokens.is_empty() {
        return Ok(Filter { clauses });
    }
    loop {
        clauses.push(p.clause()?);
        match p.next() {
            None => break,
            Some(t) if t.tok == Tok::Kw(Kw::And) => {
                if p.peek().is_none() {
                    return Err(p.unexpected_end("a clause after AND"));
                }
            }
            Some(t) if t.tok == Tok::Kw(Kw::Or) => {
                return Err(MlflowError::invalid_parameter(format!(
                    "Invalid clause(s) in filter string: '{}'. Only AND is supported to join \
                     clauses (position {})",
                    t.text, t.pos
                ))
                .at(t.pos))
            }
            Some(t) => return Err(p.unexpected(t, "AND or the end of the filter")),
        }
    }
    Ok(Filter { clauses })
}

struct Parser<'a> {
    input: &'a str,
    tokens: &'a [Spanned],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Spanned> {
        self.tokens.get(self.i)
    }

    fn next(&mut self) -> Option<&'a Spanned> {
        let t = self.tokens.get(self.i);
        self.i += 1;
        t
    }

    fn unexpected(&self, t: &Spanned, expected: &str) -> MlflowError {
        MlflowError::invalid_parameter(format!(
            "Invalid filter '{}': unexpected token '{}' at position {}, expected {}",
            self.input, t.text, t.pos, expected
        ))
        .at(t.pos)
    }

    fn unexpected_end(&self, expected: &str) -> MlflowError {
        let last = self.tokens.last().map(|t| t.text.as_str()).unwrap_or("");
        MlflowError::invalid_parameter(format!(
            "Invalid filter '{}': the filter ends after '{}', expected {}",
            self.input, last, expected
        ))
        .at(self.input.chars().count())
    }

    fn expect(&mut self, expected: &str) -> Result<&'a Spanned, MlflowError> {
        self.next().ok_or_else(|| self.unexpected_end(expected))
    }

    fn clause(&mut self) -> Result<RawClause, MlflowError> {
        let t = self.expect("an identifier such as metrics.acc")?;
        let (entity, key) = match &t.tok {
            Tok::Ident { entity, key } => (entity.clone(), key.clone()),
            _ => return Err(self.unexpected(t, "an identifier such as metrics.acc")),
        };
        let pos = t.pos;
        let op_tok = self.expect("a comparison operator")?;
        let op = match &op_tok.tok {
            Tok::Cmp(c) => match *c {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            Tok::Kw(Kw::Like) => Op::Like,
            Tok::Kw(Kw::ILike) => Op::ILike,
            Tok::Kw(Kw::In) => Op::In,
            Tok::Kw(Kw::Not) => {
                let t2 = self.expect("IN after NOT")?;
                match t2.tok {
                    Tok::Kw(Kw::In) => Op::NotIn,
                    _ => return Err(self.unexpected(t2, "IN after NOT")),
                }
            }
            Tok::Kw(Kw::Is) => {
                let t2 = self.expect("NULL or NOT NULL after IS")?;
                let op = match t2.tok {
                    Tok::Kw(Kw::Null) => return Ok(self.null_clause(pos, entity, key, Op::IsNull)),
                    Tok::Kw(Kw::Not) => Op::IsNotNull,
                    _ => return Err(self.unexpected(t2, "NULL or NOT NULL after IS")),
                };
                let t3 = self.expect("NULL after IS NOT")?;
                return match t3.tok {
                    Tok::Kw(Kw::Null) => Ok(self.null_clause(pos, entity, key, op)),
                    _ => Err(self.unexpected(t3, "NULL after IS NOT")),
                };
            }
            _ => return Err(self.unexpected(op_tok, "a comparison operator")),
        };
        let value = if matches!(op, Op::In | Op::NotIn) {
            self.list()?
        } else {
            let v = self.expect("a value")?;
            match &v.tok {
                Tok::Str(s) => Value::Str(s.clone()),
                Tok::Num(n) => Value::Num(*n),
                _ => return Err(self.unexpected(v, "a quoted string or a number")),
            }
        };
        Ok(RawClause {
            pos,
            entity,
            key,
            op,
            value,
        })
    }

    fn null_clause(&self, pos: usize, entity: Option<String>, key: String, op: Op) -> RawClause {
        RawClause {
            pos,
            entity,
            key,
            op,
            value: Value::None,
        }
    }

    fn list(&mut self) -> Result<Value, MlflowError> {
        let open = self.expect("'(' to start the IN list")?;
        if open.tok != Tok::LParen {
            return Err(self.unexpected(open, "'(' to start the IN list"));
        }
        let mut items = Vec::new();
        loop {
            let v = self.expect("a quoted string in the IN list")?;
            match &v.tok {
                Tok::Str(s) => items.push(s.clone()),
                _ => return Err(self.unexpected(v, "a quoted string in the IN list")),
            }
            let sep = self.expect("',' or ')' in the IN list")?;
            match sep.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => return Err(self.unexpected(sep, "',' or ')' in the IN list")),
            }
        }
        Ok(Value::List(items))
    }
}

/// Parses one `order_by` entry: `ident [ASC|DESC]`. Returns the raw entity, key and
/// direction.
pub(crate) fn parse_order_by(input: &str) -> Result<(Option<String>, String, bool), MlflowError> {
    let tokens = tokenize(input)?;
    let bad = |what: String| {
        MlflowError::invalid_parameter(format!("Invalid order_by clause '{input}': {what}"))
    };
    let mut it = tokens.iter();
    let (entity, key) = match it.next() {
        Some(Spanned {
            tok: Tok::Ident { entity, key },
            ..
        }) => (entity.clone(), key.clone()),
        Some(t) => {
            return Err(bad(format!(
                "unexpected token '{}' at position {}, expected an identifier",
                t.text, t.pos
            )))
        }
        None => return Err(bad("it is empty".to_string())),
    };
    let ascending = match it.next() {
        None => true,
        Some(Spanned {
            tok: Tok::Kw(Kw::Asc),
            ..
        }) => true,
        Some(Spanned {
            tok: Tok::Kw(Kw::Desc),
            ..
        }) => false,
        Some(t) => {
            return Err(bad(format!(
                "unexpected token '{}' at position {}, expected ASC or DESC",
                t.text, t.pos
            )))
        }
    };
    if let Some(t) = it.next() {
        return Err(bad(format!(
            "unexpected token '{}' at position {} after the sort direction",
            t.text, t.pos
        )));
    }
    Ok((entity, key, ascending))
}
