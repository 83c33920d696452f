//! `${{ ... }}` templates in step settings: parameters, earlier steps' outputs, the run
//! and the event that triggered it.
//!
//! Written here rather than taken from a template crate: the language is four kinds of
//! reference and no logic (GitHub Actions' expression syntax without its functions),
//! and a general engine (minijinja, tera) would accept far more than a job file may
//! say, and report errors in its own terms rather than the job's.

use std::fmt;

/// What a template refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    /// `params.NAME`
    Param(String),
    /// `steps.STEP.outputs.KEY`
    Output { step: String, key: String },
    /// `job.run_id`, `job.name`
    Job(String),
    /// `event.FIELD`: the registry event or finished run that triggered the run.
    Event(String),
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ref::Param(n) => write!(f, "params.{n}"),
            Ref::Output { step, key } => write!(f, "steps.{step}.outputs.{key}"),
            Ref::Job(n) => write!(f, "job.{n}"),
            Ref::Event(n) => write!(f, "event.{n}"),
        }
    }
}

/// The fields `job.` offers.
pub const JOB_FIELDS: &[&str] = &["run_id", "name", "attempt"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(Ref),
}

/// A parsed template: text with references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_ref(expr: &str) -> Result<Ref, String> {
    let parts: Vec<&str> = expr.split('.').collect();
    let bad = |why: &str| Err(format!("`{expr}` {why}"));
    if parts.iter().any(|p| !is_name(p)) {
        return bad(
            "is not a reference: use params.NAME, steps.STEP.outputs.KEY, job.FIELD or event.FIELD",
        );
    }
    match parts.as_slice() {
        ["params", name] => Ok(Ref::Param(name.to_string())),
        ["steps", step, "outputs", key] => Ok(Ref::Output {
            step: step.to_string(),
            key: key.to_string(),
        }),
        ["job", field] if JOB_FIELDS.contains(field) => Ok(Ref::Job(field.to_string())),
        ["job", _] => bad(&format!(
            "names no field of the job (it has {})",
            JOB_FIELDS.join(", ")
        )),
        ["event", field] => Ok(Ref::Event(field.to_string())),
        _ => bad(
            "is not a reference: use params.NAME, steps.STEP.outputs.KEY, job.FIELD or event.FIELD",
        ),
    }
}

impl Template {
    /// Parses `text`; the error says which reference is wrong and why.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 3..];
            let Some(end) = after.find("}}") else {
                return Err(format!(
                    "`${{{{` at byte {} is never closed with `}}}}`",
                    text.len() - rest.len() + start
                ));
            };
            parts.push(Part::Ref(parse_ref(after[..end].trim())?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The references, in order.
    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// The text with every reference replaced by `lookup`'s value; a reference it
    /// has no value for is an error naming it.
    pub fn render(
        &self,
        source: &str,
        mut lookup: impl FnMut(&Ref) -> Option<String>,
    ) -> crate::Result<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => match lookup(r) {
                    Some(v) => out.push_str(&v),
                    None => {
                        return Err(crate::JobError::Template {
                            template: source.to_string(),
                            message: format!("`{r}` has no value in this run"),
                        })
                    }
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_of_reference_between_text() {
        let t = Template::parse(
            "--lr=${{ params.lr }} ${{steps.train.outputs.run_id}}/${{ job.run_id }}",
        )
        .unwrap();
        let refs: Vec<_> = t.refs().cloned().collect();
        assert_eq!(
            refs,
            vec![
                Ref::Param("lr".into()),
                Ref::Output {
                    step: "train".into(),
                    key: "run_id".into()
                },
                Ref::Job("run_id".into())
            ]
        );
        let out = t.render("", |r| Some(format!("<{r}>"))).unwrap();
        assert_eq!(
            out,
            "--lr=<params.lr> <steps.train.outputs.run_id>/<job.run_id>"
        );
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        for bad in [
            "${{ params }}",
            "${{ steps.train.run_id }}",
            "${{ params.lr + 1 }}",
            "${{ job.nope }}",
            "${{ params.lr ",
            "${{ secrets.key }}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_without_references_is_itself() {
        let t = Template::parse("plain $HOME {not} ${ x }").unwrap();
        assert_eq!(t.refs().count(), 0);
        assert_eq!(t.render("", |_| None).unwrap(), "plain $HOME {not} ${ x }");
    }

    #[test]
    fn a_missing_value_names_the_reference() {
        let t = Template::parse("${{ params.epochs }}").unwrap();
        let err = t.render("x", |_| None).unwrap_err().to_string();
        assert!(err.contains("params.epochs"), "{err}");
    }
}
