//! `cairn db upgrade` and `cairn db check` on SQLite and PostgreSQL, and MLflow's own
//! SQL store on the schema cairn creates (and the reverse).

mod common;

use std::path::Path;
use std::process::Command;

use common::{cairn, python_with_mlflow, skip_or_fail, TestPostgres};

/// MLflow's SQL store (no server) on `uri`: `mlflow db upgrade` finds nothing to do,
/// then a run is logged and read back, and experiment 0 is there.
const MLFLOW_USES_IT: &str = r#"
import subprocess, sys
from mlflow.tracking import MlflowClient
uri = sys.argv[1]
subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", uri], check=True)
c = MlflowClient(tracking_uri=uri)
assert c.get_experiment("0").name == "Default"
eid = c.create_experiment("made-on-cairns-schema")
r = c.create_run(eid, run_name="py")
c.log_metric(r.info.run_id, "loss", 0.5, step=3)
c.log_param(r.info.run_id, "lr", "0.1")
got = c.get_run(r.info.run_id)
assert got.data.metrics == {"loss": 0.5}, got.data.metrics
mv = c.create_registered_model("on-cairns-schema")
print("ok", eid)
"#;

fn python_with_psycopg() -> Option<std::path::PathBuf> {
    let python = python_with_mlflow()?;
    Command::new(&python)
        .args(["-c", "import psycopg"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| python)
}

fn mlflow_uses(python: &Path, uri: &str) -> String {
    let out = Command::new(python)
        .args(["-c", MLFLOW_USES_IT, uri])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "MLflow's SQL store on {uri} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn postgres_schema_made_by_cairn_is_mlflows() {
    let Some(db) = TestPostgres::create(module_path!()).await else {
        return;
    };
    let (ok, _, err) = cairn(&["db", "check", &db.url]);
    assert!(!ok && err.contains("no MLflow schema yet"), "{err}");
    let (ok, out, err) = cairn(&["db", "upgrade", &db.url]);
    assert!(ok, "{err}");
    assert!(out.contains("dc11669786a5"), "{out}");
    // Twice is the same as once.
    let (ok, _, err) = cairn(&["db", "upgrade", &db.url]);
    assert!(ok, "{err}");
    let (ok, out, err) = cairn(&["db", "check", &db.url]);
    assert!(ok && out.contains("serves it as it is"), "{out}{err}");

    let Some(python) = python_with_psycopg() else {
        return skip_or_fail("a Python with mlflow and psycopg (MLflow on PostgreSQL)");
    };
    assert!(mlflow_uses(&python, &db.url).contains("ok"));
    let (ok, out, err) = cairn(&["db", "check", &db.url]);
    assert!(ok, "after MLflow used it: {out}{err}");
}

#[tokio::test]
async fn postgres_schema_made_by_mlflow_passes_cairns_check() {
    let Some(db) = TestPostgres::create(module_path!()).await else {
        return;
    };
    let Some(python) = python_with_psycopg() else {
        return skip_or_fail("a Python with mlflow and psycopg (MLflow on PostgreSQL)");
    };
    let out = Command::new(&python)
        .args(["-m", "mlflow", "db", "upgrade", &db.url])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, out, err) = cairn(&["db", "check", &db.url]);
    assert!(ok, "{out}{err}");
    // Upgrade on MLflow's database only adds experiment 0, as MLflow's store would.
    let (ok, _, err) = cairn(&["db", "upgrade", &db.url]);
    assert!(ok, "{err}");
    assert!(mlflow_uses(&python, &db.url).contains("ok"));
}

#[tokio::test]
async fn postgres_databases_cairn_must_not_touch_are_refused() {
    let Some(db) = TestPostgres::create(module_path!()).await else {
        return;
    };
    let (ok, _, err) = cairn(&["db", "upgrade", &db.url]);
    assert!(ok, "{err}");
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql("UPDATE alembic_version SET version_num = '0584bdc529eb'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (ok, _, err) = cairn(&["db", "check", &db.url]);
    assert!(
        !ok && err.contains("0584bdc529eb") && err.contains("mlflow db upgrade"),
        "{err}"
    );
    let (ok, _, err) = cairn(&["db", "upgrade", &db.url]);
    assert!(!ok && err.contains("0584bdc529eb"), "{err}");

    let Some(other) = TestPostgres::create(module_path!()).await else {
        return;
    };
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&other.url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE customers (id int)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (ok, _, err) = cairn(&["db", "check", &other.url]);
    assert!(!ok && err.contains("not an MLflow database"), "{err}");
    let (ok, _, err) = cairn(&["db", "upgrade", &other.url]);
    assert!(!ok && err.contains("alembic_version"), "{err}");
    // A wrong database name is one clear line, not a hang.
    let bad = format!("{}_missing", other.url);
    let (ok, _, err) = cairn(&["db", "check", &bad]);
    assert!(!ok && err.contains("does not exist"), "{err}");
}

#[test]
fn sqlite_upgrade_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("m.db").display());
    let (ok, _, err) = cairn(&["db", "check", &url]);
    assert!(!ok && err.contains("no MLflow schema yet"), "{err}");
    assert!(
        !dir.path().join("m.db").exists(),
        "check must not create the file"
    );
    let (ok, _, err) = cairn(&["db", "upgrade", &url]);
    assert!(ok, "{err}");
    let (ok, out, err) = cairn(&["db", "check", &url]);
    assert!(ok && out.contains("dc11669786a5"), "{out}{err}");
    if let Some(python) = python_with_mlflow() {
        assert!(mlflow_uses(&python, &url).contains("ok"));
    } else {
        skip_or_fail("a Python with the mlflow package");
    }
    let (ok, _, err) = cairn(&["db", "check", "mysql://root@127.0.0.1/db"]);
    assert!(
        !ok && err.contains("unsupported backend store URI"),
        "{err}"
    );
}
