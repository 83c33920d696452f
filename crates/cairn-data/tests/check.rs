//! Every constraint kind passes on clean rows and fails, with its count and examples,
//! on rows that break it; on CSV and on Parquet.

use std::path::Path;
use std::sync::Arc;

use cairn_data::check::{CheckOptions, FieldReport};
use cairn_data::{ContractFile, ContractFolder};
use datafusion::prelude::{CsvReadOptions, SessionContext};

const VIEW: &str = r#"view: people
description: test rows
source: SOURCE
entity: id
event_timestamp: seen_at
tags: [test]
fields:
  id: {type: int, required: true, unique: true}
  score: {type: float, min: 0, max: 1, description: a probability}
  level: {type: int, gt: 0, lt: 10}
  grade: {type: string, accepted_values: [a, b, c]}
  code: {type: string, regex: "^[A-Z]{3}$", min_length: 3, max_length: 3}
  active: {type: bool, required: true}
  seen_at: {type: timestamp, freshness: 3650d}
"#;

const CLEAN: &str = "id,score,level,grade,code,active,seen_at\n\
1,0.5,1,a,ABC,true,2024-01-01T00:00:00\n\
2,0,9,b,XYZ,false,2024-01-02T00:00:00\n\
3,1,5,c,QQQ,true,2024-01-03T00:00:00\n";

/// One row breaking each constraint once (and the type of `level` once).
const DIRTY: &str = "id,score,level,grade,code,active,seen_at\n\
1,0.5,1,a,ABC,true,2024-01-01T00:00:00\n\
1,1.5,0,d,abc,,2024-01-02T00:00:00\n\
3,-0.1,10,c,ABCD,true,2024-01-03T00:00:00\n\
4,0.2,seven,b,AB,false,2024-01-04T00:00:00\n";

/// Writes the view over `source`: a path, or `postgres:TABLE` for a table of the
/// test database.
fn write_view(dir: &Path, source: &str) {
    let text = match source.strip_prefix("postgres:") {
        Some(table) => VIEW.replace(
            "source: SOURCE",
            &format!("postgres: {{url: \"{}\", table: {table}}}", pg_url()),
        ),
        None => VIEW.replace("SOURCE", source),
    };
    std::fs::write(dir.join("people.yaml"), text).unwrap();
}

fn pg_url() -> String {
    std::env::var("CAIRN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".to_string())
}

/// Loads CLEAN and DIRTY into tables of a schema of this test's own (typed columns,
/// `level` as text so that one value is not a number); `None` where no PostgreSQL
/// answers outside CI.
async fn pg_tables(schema: &str) -> Option<sqlx::PgPool> {
    let pool = match sqlx::PgPool::connect(&pg_url()).await {
        Ok(p) => p,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is missing under CI: {e}"
            );
            eprintln!("SKIPPED: no PostgreSQL at {}: {e}", pg_url());
            return None;
        }
    };
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    for (name, text) in [("clean", CLEAN), ("dirty", DIRTY)] {
        sqlx::query(&format!(
            "CREATE TABLE {schema}.{name} (id BIGINT, score DOUBLE PRECISION, level TEXT, \
             grade TEXT, code TEXT, active BOOLEAN, seen_at TIMESTAMP)"
        ))
        .execute(&pool)
        .await
        .unwrap();
        for line in text.lines().skip(1) {
            let v: Vec<Option<&str>> = line
                .split(',')
                .map(|x| (!x.is_empty()).then_some(x))
                .collect();
            sqlx::query(&format!(
                "INSERT INTO {schema}.{name} VALUES ($1::bigint, $2::float8, $3, $4, $5, $6::boolean, $7::timestamp)"
            ))
            .bind(v[0])
            .bind(v[1])
            .bind(v[2])
            .bind(v[3])
            .bind(v[4])
            .bind(v[5])
            .bind(v[6])
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    Some(pool)
}

async fn to_parquet(csv: &Path, parquet: &Path) {
    let ctx = SessionContext::new();
    let df = ctx
        .read_csv(
            csv.to_str().unwrap(),
            CsvReadOptions::new().has_header(true),
        )
        .await
        .unwrap();
    df.write_parquet(
        parquet.to_str().unwrap(),
        datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await
    .unwrap();
}

async fn run(dir: &Path) -> cairn_data::CheckReport {
    let folder = ContractFolder::open(dir, Arc::new(())).unwrap();
    let state = folder.state();
    assert!(state.errors.is_empty(), "{:?}", state.errors);
    cairn_data::check(&state, "people", &CheckOptions::default())
        .await
        .unwrap()
}

fn violations(f: &FieldReport, constraint: &str) -> u64 {
    f.constraints
        .iter()
        .find(|c| c.constraint.starts_with(constraint))
        .unwrap_or_else(|| {
            panic!(
                "{}: no constraint {constraint}: {:?}",
                f.field, f.constraints
            )
        })
        .violations
}

fn field<'r>(r: &'r cairn_data::CheckReport, name: &str) -> &'r FieldReport {
    r.views[0].fields.iter().find(|f| f.field == name).unwrap()
}

async fn clean_and_dirty(ext: &str) {
    let schema = "cairn_data_check_test";
    let pool = if ext == "postgres" {
        match pg_tables(schema).await {
            Some(p) => Some(p),
            None => return,
        }
    } else {
        None
    };
    let source = |name: &str| match ext {
        "postgres" => format!("postgres:{schema}.{name}"),
        _ => format!("data/{name}.{ext}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for (name, text) in [("clean", CLEAN), ("dirty", DIRTY)] {
        let csv = data.join(format!("{name}.csv"));
        std::fs::write(&csv, text).unwrap();
        if ext == "parquet" {
            // Parquet keeps the types a reader infers; `level` is text in the dirty
            // file, as a producer that lost the type would write it.
            to_parquet(&csv, &data.join(format!("{name}.parquet"))).await;
        }
    }

    write_view(dir.path(), &source("clean"));
    let r = run(dir.path()).await;
    assert!(r.passed, "{}", r.to_text());
    assert_eq!(r.views[0].rows, 3);
    let score = field(&r, "score");
    assert_eq!(score.min.as_deref(), Some("0.0"));
    assert_eq!(score.max.as_deref(), Some("1.0"));
    assert!((score.mean.unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(score.quantiles.as_ref().unwrap()["p50"], 0.5);
    let grade = field(&r, "grade");
    assert_eq!(grade.distinct, Some(3));
    assert_eq!(grade.top_values.len(), 3);

    write_view(dir.path(), &source("dirty"));
    let r = run(dir.path()).await;
    assert!(!r.passed);
    let text = r.to_text();
    assert_eq!(violations(field(&r, "id"), "unique"), 1, "{text}");
    assert_eq!(violations(field(&r, "id"), "required"), 0, "{text}");
    assert_eq!(violations(field(&r, "score"), "min"), 1, "{text}");
    assert_eq!(violations(field(&r, "score"), "max"), 1, "{text}");
    assert_eq!(violations(field(&r, "level"), "type int"), 1, "{text}");
    assert_eq!(violations(field(&r, "level"), "gt"), 1, "{text}");
    assert_eq!(violations(field(&r, "level"), "lt"), 1, "{text}");
    assert_eq!(
        violations(field(&r, "grade"), "accepted_values"),
        1,
        "{text}"
    );
    assert_eq!(violations(field(&r, "code"), "regex"), 3, "{text}");
    assert_eq!(violations(field(&r, "code"), "min_length"), 1, "{text}");
    assert_eq!(violations(field(&r, "code"), "max_length"), 1, "{text}");
    assert_eq!(violations(field(&r, "active"), "required"), 1, "{text}");
    assert_eq!(violations(field(&r, "seen_at"), "freshness"), 0, "{text}");
    assert_eq!(r.violations, 13, "{text}");
    // Without the profile, the same verdicts and nothing else.
    let folder = ContractFolder::open(dir.path(), Arc::new(())).unwrap();
    let lean = cairn_data::check(
        &folder.state(),
        "people",
        &CheckOptions {
            profile: false,
            ..CheckOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(lean.violations, 13);
    let score = field(&lean, "score");
    assert!(score.quantiles.is_none() && score.histogram.is_none() && score.distinct.is_none());
    assert!(field(&lean, "grade").top_values.is_empty());
    // Examples name the entity and the value as read.
    let min = field(&r, "score")
        .constraints
        .iter()
        .find(|c| c.constraint.starts_with("min"))
        .unwrap();
    assert_eq!(min.examples[0]["entity"], "3");
    assert_eq!(min.examples[0]["value"], "-0.1");
    let unique = field(&r, "id")
        .constraints
        .iter()
        .find(|c| c.constraint == "unique")
        .unwrap();
    assert_eq!(unique.examples[0]["value"], "1");
    assert_eq!(unique.examples[0]["rows"], "2");
    if let Some(pool) = pool {
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_constraint_passes_and_fails_on_csv() {
    clean_and_dirty("csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_constraint_passes_and_fails_on_parquet() {
    clean_and_dirty("parquet").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_constraint_passes_and_fails_on_a_postgresql_table() {
    clean_and_dirty("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_data_and_a_missing_column_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("old.csv"),
        "id,seen_at\n1,2001-01-01T00:00:00\n2,2001-01-02T00:00:00\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("old.yaml"),
        "view: old\nsource: old.csv\nentity: id\nfields:\n  id: {type: int}\n  \
         seen_at: {type: timestamp, freshness: 1d}\n  gone: {type: float, required: true}\n",
    )
    .unwrap();
    let folder = ContractFolder::open(dir.path(), Arc::new(())).unwrap();
    let r = cairn_data::check(&folder.state(), "old", &CheckOptions::default())
        .await
        .unwrap();
    let fresh = &r.views[0].fields[1].constraints;
    let fresh = fresh
        .iter()
        .find(|c| c.constraint.starts_with("freshness"))
        .unwrap();
    assert_eq!(fresh.violations, 1);
    assert!(
        fresh.examples[0]["newest"].starts_with("2001-01-02"),
        "{:?}",
        fresh.examples
    );
    let gone = &r.views[0].fields[2];
    assert!(!gone.present);
    assert_eq!(gone.constraints[0].violations, 2);
    assert!(!r.passed);
}

#[test]
fn a_bad_contract_file_names_its_file_line_and_key() {
    let path = Path::new("contracts/people.yaml");
    let text = VIEW.replace("min: 0, max: 1", "minimum: 0, max: 1");
    let err = ContractFile::parse(&text, path).unwrap_err().to_string();
    assert!(
        err.contains("contracts/people.yaml, line 9")
            && err.contains("fields.score")
            && err.contains("minimum"),
        "{err}"
    );
    let err = ContractFile::parse(&VIEW.replace("type: float", "type: real"), path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 9") && err.contains("real"), "{err}");
    let err = ContractFile::parse(&VIEW.replace("entity: id", "entity: user"), path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 4") && err.contains("key `entity`"),
        "{err}"
    );
    let err = ContractFile::parse(
        &VIEW.replace("min_length: 3", "min_length: 3, unique: maybe"),
        path,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("fields.code"), "{err}");
    let err = ContractFile::parse("contract: c\nfeatures: [a.b.c]\n", path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("features[0]"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_checks_the_fields_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rows.csv"), DIRTY).unwrap();
    write_view(dir.path(), "rows.csv");
    std::fs::write(
        dir.path().join("model.yaml"),
        "contract: scorer\nmodel: scorer\nfeatures: [people.level]\n\
         label: {field: people.active, task: classification}\n",
    )
    .unwrap();
    let folder = ContractFolder::open(dir.path(), Arc::new(())).unwrap();
    let r = cairn_data::check(&folder.state(), "scorer", &CheckOptions::default())
        .await
        .unwrap();
    assert_eq!(r.kind, "contract");
    let fields: Vec<&str> = r.views[0].fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["id", "level", "active", "seen_at"]);
    // level: type, gt, lt; active: required; id: unique.
    assert_eq!(r.violations, 5, "{}", r.to_text());

    std::fs::write(
        dir.path().join("model.yaml"),
        "contract: scorer\nfeatures: [people.height]\n",
    )
    .unwrap();
    folder.reload();
    let err = cairn_data::check(&folder.state(), "scorer", &CheckOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no field `height`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_contracts_read_and_the_built_in_wine_passes_its_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/contracts");
    let folder = ContractFolder::open(&dir, Arc::new(())).unwrap();
    let state = folder.state();
    assert!(state.errors.is_empty(), "{:?}", state.errors);
    assert!(
        state.items.len() >= 4,
        "views and contracts: {:?}",
        state.items.keys()
    );
    let r = cairn_data::check(&state, "wine_is_high_quality", &CheckOptions::default())
        .await
        .unwrap();
    assert!(r.passed, "{}", r.to_text());
    assert_eq!(r.views[0].rows, 1599);
    let set = tempfile::tempdir().unwrap();
    let out = set.path().join("wine.csv");
    let t = cairn_data::training::write_training_set(&state, "wine_is_high_quality", &out)
        .await
        .unwrap();
    assert_eq!(
        (t.rows, t.features.len(), t.label.as_str()),
        (1599, 11, "is_high_quality")
    );
}
