use super::*;
use crate::error::ErrorCode;
use rand::{Rng, SeedableRng};

fn metric(key: &str) -> Target<RunAttr> {
    Target::Metric(key.to_string())
}

#[test]
fn parses_the_contract_example() {
    let c = run_filter(
        "metrics.loss < 1 and params.alpha = '0.5' and tags.\"t x\" = 'v' and \
         attributes.run_name LIKE 'r%'",
    )
    .unwrap();
    assert_eq!(c.len(), 4);
    assert_eq!(c[0].target, metric("loss"));
    assert_eq!(c[0].op, Op::Lt);
    assert_eq!(c[0].value, Value::Num(1.0));
    assert_eq!(c[1].target, Target::Param("alpha".into()));
    assert_eq!(c[2].target, Target::Tag("t x".into()));
    assert_eq!(c[3].target, Target::Attribute(RunAttr::RunName));
    assert_eq!(c[3].op, Op::Like);
}

#[test]
fn quoted_and_dotted_keys() {
    let c = run_filter("tags.`mlflow.user` = 'me' AND tags.mlflow.runName != 'x'").unwrap();
    assert_eq!(c[0].target, Target::Tag("mlflow.user".into()));
    assert_eq!(c[1].target, Target::Tag("mlflow.runName".into()));
    assert_eq!(c[1].op, Op::Ne);
    let c = run_filter("metrics.`val loss` >= -1.5e-3").unwrap();
    assert_eq!(c[0].target, metric("val loss"));
    assert_eq!(c[0].value, Value::Num(-1.5e-3));
    let c = run_filter("params.p = 'it''s'").unwrap();
    assert_eq!(c[0].value, Value::Str("it's".into()));
}

#[test]
fn in_lists_nulls_and_attributes() {
    let c =
        run_filter("attributes.run_id IN ('a', 'b') and params.x IS NULL and tags.y IS NOT NULL")
            .unwrap();
    assert_eq!(c[0].value, Value::List(vec!["a".into(), "b".into()]));
    assert_eq!(c[1].op, Op::IsNull);
    assert_eq!(c[2].op, Op::IsNotNull);
    let c = run_filter("run_id NOT IN ('a') and created > 5 and status = 'FINISHED'").unwrap();
    assert_eq!(c[0].op, Op::NotIn);
    assert_eq!(c[1].target, Target::Attribute(RunAttr::StartTime));
    let c = run_filter("dataset.name IN ('train') AND datasets.context = 'eval'").unwrap();
    assert_eq!(c[0].target, Target::Dataset(DatasetField::Name));
    assert_eq!(c[1].target, Target::Dataset(DatasetField::Context));
    assert!(run_filter("").unwrap().is_empty());
    assert!(run_filter("   ").unwrap().is_empty());
}

#[test]
fn rejects_with_the_bad_token_named() {
    let e = run_filter("metrics.a > 1 OR metrics.b > 2").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    assert!(
        e.message
            .contains("Invalid clause(s) in filter string: 'OR'"),
        "{e}"
    );
    let e = run_filter("metrics.a > 'x'").unwrap_err();
    assert!(e.message.contains("Expected numeric value"), "{e}");
    let e = run_filter("params.a > '1'").unwrap_err();
    assert!(e.message.contains("Invalid comparator '>'"), "{e}");
    let e = run_filter("metrics.a >").unwrap_err();
    assert!(e.message.contains("'>'"), "{e}");
    let e = run_filter("bogus.a = 'x'").unwrap_err();
    assert!(e.message.contains("'bogus'"), "{e}");
    let e = run_filter("attributes.colour = 'x'").unwrap_err();
    assert!(e.message.contains("'colour'"), "{e}");
    let e = run_filter("metrics.a = 1 metrics.b = 2").unwrap_err();
    assert!(e.message.contains("'metrics.b'"), "{e}");
    let e = run_filter("params.a = 'open").unwrap_err();
    assert!(e.message.contains("unterminated"), "{e}");
    let e = run_filter("params.a = 1 AND").unwrap_err();
    assert!(e.message.contains("'AND'"), "{e}");
}

#[test]
fn experiment_filters() {
    let c =
        experiment_filter("name LIKE 'exp%' AND tags.team = 'x' AND creation_time > 0").unwrap();
    assert_eq!(c[0].target, Target::Attribute(ExperimentAttr::Name));
    assert_eq!(c[2].target, Target::Attribute(ExperimentAttr::CreationTime));
    assert!(experiment_filter("metrics.a > 1").is_err());
    assert!(experiment_filter("experiment_id IN ('1','2')").is_ok());
}

#[test]
fn order_by_entries() {
    let o = run_order_by(&[
        "metrics.loss DESC".into(),
        "params.p".into(),
        "attributes.start_time asc".into(),
        "tags.`a b` DESC".into(),
    ])
    .unwrap();
    assert_eq!(o[0].target, metric("loss"));
    assert!(!o[0].ascending);
    assert!(o[1].ascending);
    assert_eq!(o[2].target, Target::Attribute(RunAttr::StartTime));
    assert_eq!(o[3].target, Target::Tag("a b".into()));
    let e = run_order_by(&["metrics.a".into(), "metrics.a DESC".into()]).unwrap_err();
    assert!(e.message.contains("duplicate"), "{e}");
    assert!(run_order_by(&["metrics.a sideways".into()]).is_err());
    assert!(experiment_order_by(&["name DESC".into(), "last_update_time".into()]).is_ok());
    assert!(experiment_order_by(&["tags.x".into()]).is_err());
}

/// Builds a random string from the grammar's own pieces and from arbitrary characters.
fn random_filter(rng: &mut rand::rngs::StdRng) -> String {
    const PIECES: &[&str] = &[
        "metrics.",
        "params.",
        "tags.",
        "attributes.",
        "dataset.",
        "acc",
        "lr",
        "run_name",
        "start_time",
        "`a b`",
        "\"q\"",
        "'v'",
        "'",
        "\"",
        "`",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "LIKE",
        "ILIKE",
        "IN",
        "NOT",
        "IS",
        "NULL",
        "AND",
        "OR",
        "(",
        ")",
        ",",
        "1",
        "-2.5",
        "1e9",
        "1e",
        ".",
        " ",
        "  ",
        "ä",
        "✓",
        "\\",
        "%",
        "_",
        "\u{0}",
        "--",
        "+",
        "e-",
    ];
    let n = rng.random_range(0..12);
    let mut s = String::new();
    for _ in 0..n {
        if rng.random_bool(0.85) {
            s.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        } else {
            s.push(char::from_u32(rng.random_range(0..0x3000)).unwrap_or('x'));
        }
    }
    s
}

/// Mutates a valid filter: delete, duplicate or replace one character.
fn mutate(rng: &mut rand::rngs::StdRng, base: &str) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for _ in 0..rng.random_range(1..4) {
        if chars.is_empty() {
            break;
        }
        let i = rng.random_range(0..chars.len());
        match rng.random_range(0..3) {
            0 => {
                chars.remove(i);
            }
            1 => {
                let c = chars[i];
                chars.insert(i, c);
            }
            _ => {
                chars[i] =
                    ['\'', '"', '`', '(', ')', '=', ' ', 'x', '.', '<'][rng.random_range(0..10)];
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn random_and_mutated_filters_never_panic_and_always_name_a_token() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xca1e);
    let valid = [
        "metrics.acc > 0.5 and params.lr = '0.01' and tags.search_marker = 'abc'",
        "attributes.run_id IN ('a', 'b') AND tags.`x y` IS NOT NULL",
        "dataset.name = 'd' and attributes.start_time >= 10",
        "name ILIKE '%exp%' AND tags.team != 'x'",
    ];
    let mut errors = 0;
    for i in 0..20_000 {
        let s = if i % 2 == 0 {
            random_filter(&mut rng)
        } else {
            mutate(&mut rng, valid[i % valid.len()])
        };
        for result in [
            run_filter(&s).map(|_| ()),
            experiment_filter(&s).map(|_| ()),
            run_order_by(std::slice::from_ref(&s)).map(|_| ()),
        ] {
            if let Err(e) = result {
                errors += 1;
                assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{s:?}: {e}");
                assert!(
                    e.message.contains('\''),
                    "no token named for {s:?}: {}",
                    e.message
                );
            }
        }
    }
    assert!(
        errors > 10_000,
        "the generator should mostly produce bad filters"
    );
}
