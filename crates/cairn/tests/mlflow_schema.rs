//! One database, two servers: cairn on a database MLflow made, and `mlflow server`
//! 3.17.2 on a database cairn made, each reading what the other wrote; on SQLite and
//! on PostgreSQL.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_client::{Client, SearchRuns};
use cairn_core::entities::{KeyValue, RunStatus};
use common::{free_port, metric, python_with_mlflow, skip_or_fail, wait_http_ok, TestDb};

async fn cairn_serves_a_database_that_mlflow_created(data: &std::path::Path, db: TestDb) {
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    std::fs::create_dir_all(data).unwrap();
    // MLflow's own SQL store creates the schema (all alembic migrations) and logs a run.
    let script = r#"
import sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
eid = c.create_experiment("made-by-mlflow")
r = c.create_run(eid, run_name="py-run")
c.log_param(r.info.run_id, "alpha", "0.5")
for s in range(5):
    c.log_metric(r.info.run_id, "loss", 1.0 / (s + 1), step=s)
c.set_tag(r.info.run_id, "origin", "python")
c.set_terminated(r.info.run_id)
print(r.info.run_id)
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(db.mlflow_uri())
        .stderr(Stdio::inherit())
        .output()
        .expect("python runs");
    assert!(out.status.success(), "MLflow could not create its database");
    let py_run = String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string();

    let server = db.start_cairn(data);
    let c = Client::new(&server.url);
    let run = c.get_run(&py_run).await.unwrap();
    assert_eq!(run.info.run_name, "py-run");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.data.params, vec![KeyValue::new("alpha", "0.5")]);
    assert_eq!(run.data.metrics[0].value, 0.2);
    assert!(run.data.tags.contains(&KeyValue::new("origin", "python")));
    assert_eq!(
        c.get_metric_history(&py_run, "loss", None, None)
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let exp = c.get_experiment_by_name("made-by-mlflow").await.unwrap();
    // cairn writes into MLflow's database and finds it with a search.
    let mine = c
        .create_run(&exp.experiment_id, Some("rust-run"), None, &[])
        .await
        .unwrap();
    c.log_metric(&mine.info.run_id, &metric("loss", 0.1, 0))
        .await
        .unwrap();
    let found = c
        .search_runs(&SearchRuns {
            experiment_ids: vec![exp.experiment_id.clone()],
            filter: Some("metrics.loss < 0.15".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].info.run_id, mine.info.run_id);
    server.stop();
}

async fn mlflow_server_serves_a_database_that_cairn_created(dir: &std::path::Path, db: TestDb) {
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    let data = dir.join("data");

    // 1. cairn creates the database and logs a run.
    let cairn = db.start_cairn(&data);
    let c = Client::new(&cairn.url);
    let exp = c
        .create_experiment("made-by-cairn", &[KeyValue::new("team", "rust")])
        .await
        .unwrap();
    let run = c
        .create_run(&exp, Some("rust-run"), None, &[])
        .await
        .unwrap()
        .info
        .run_id;
    c.log_batch(
        &run,
        &(0..10)
            .map(|s| metric("acc", s as f64 / 10.0, s))
            .collect::<Vec<_>>(),
        &[KeyValue::new("lr", "0.01")],
        &[KeyValue::new("origin", "cairn")],
    )
    .await
    .unwrap();
    c.log_metric(&run, &metric("nan_metric", f64::NAN, 0))
        .await
        .unwrap();
    c.update_run(
        &run,
        Some(RunStatus::Finished),
        Some(1_700_000_001_000),
        None,
    )
    .await
    .unwrap();
    cairn.stop();

    // 2. The real `mlflow server` opens the same database: no migration, same answers.
    let port = free_port();
    let db_uri = db.mlflow_uri();
    let mut mlflow = Command::new(&python)
        .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--backend-store-uri", &db_uri, "--workers", "1"])
        .arg("--artifacts-destination")
        .arg(dir.join("mlflow-artifacts"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mlflow server starts");
    let url = format!("http://127.0.0.1:{port}");
    let healthy = wait_http_ok(&format!("{url}/health"), Duration::from_secs(120));
    if !healthy {
        let _ = mlflow.kill();
        panic!("mlflow server did not come up on cairn's database");
    }
    let m = Client::new(&url);
    let got = m.get_run(&run).await;
    let py_run = m.create_run(&exp, Some("py-run"), None, &[]).await;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(mlflow.id().to_string())
        .status();
    let _ = mlflow.wait();
    let got = got.expect("mlflow server reads cairn's run");
    assert_eq!(got.info.run_name, "rust-run");
    assert_eq!(got.info.status, RunStatus::Finished);
    assert_eq!(got.data.params, vec![KeyValue::new("lr", "0.01")]);
    let acc = got.data.metrics.iter().find(|m| m.key == "acc").unwrap();
    assert_eq!((acc.value, acc.step), (0.9, 9));
    assert!(got
        .data
        .metrics
        .iter()
        .find(|m| m.key == "nan_metric")
        .unwrap()
        .value
        .is_nan());
    let py_run = py_run
        .expect("mlflow server writes into cairn's database")
        .info
        .run_id;
    let m_exp = m.get_experiment(&exp).await;
    assert!(m_exp.is_err(), "the mlflow server is stopped");

    // 3. cairn reads back what MLflow wrote.
    let cairn = db.start_cairn(&data);
    let c = Client::new(&cairn.url);
    assert_eq!(c.get_run(&py_run).await.unwrap().info.run_name, "py-run");
    assert_eq!(
        c.get_experiment(&exp).await.unwrap().tags,
        vec![KeyValue::new("team", "rust")]
    );
    cairn.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_cairn_serves_a_database_that_mlflow_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = TestDb::sqlite(&data);
    cairn_serves_a_database_that_mlflow_created(&data, db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_cairn_serves_a_database_that_mlflow_created() {
    let Some(db) = TestDb::postgres(module_path!()).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    cairn_serves_a_database_that_mlflow_created(&dir.path().join("data"), db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_mlflow_server_serves_a_database_that_cairn_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(&dir.path().join("data"));
    mlflow_server_serves_a_database_that_cairn_created(dir.path(), db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_mlflow_server_serves_a_database_that_cairn_created() {
    let Some(db) = TestDb::postgres(module_path!()).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    mlflow_server_serves_a_database_that_cairn_created(dir.path(), db).await;
}
