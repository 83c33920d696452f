//! `../shared/compat/client_flow.py`, the real `mlflow` client's everyday flow
//! (tracking, artifacts, registry, logged models), against the real `cairn` binary on
//! a free port: on SQLite with artifacts in a local folder, on SQLite with S3 (moto's
//! server), and on PostgreSQL. Every check must pass.

mod common;

use std::path::Path;
use std::process::Command;

use common::{python_with_mlflow, shared_dir, skip_or_fail, CairnProcess, S3Server, TestPostgres};

/// Runs client_flow.py against `server` and fails on any failed check.
fn run_client_flow(python: &Path, shared: &Path, server: &CairnProcess, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("client_flow.json");
    let output = Command::new(python)
        .arg(shared.join("compat/client_flow.py"))
        .arg("--json")
        .arg(&report)
        .env("MLFLOW_TRACKING_URI", &server.url)
        .output()
        .expect("client_flow.py runs");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("client_flow.py wrote its report"))
            .unwrap();
    let results = report["results"].as_array().unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r["ok"] != true)
        .map(|r| format!("{}: {}", r["name"], r["message"]))
        .collect();
    println!(
        "client_flow.py ({label}): {} passed, {} failed",
        report["passed"], report["failed"]
    );
    assert!(
        results.len() >= 17,
        "client_flow.py ran {} checks",
        results.len()
    );
    assert!(failed.is_empty(), "{label}: checks failed: {failed:#?}");
}

/// Runs the flow on a server with local artifacts and `args` (a backend store).
fn client_flow_with_local_artifacts(args: &[&str], label: &str) {
    let Some(shared) = shared_dir() else {
        return skip_or_fail("../shared/compat/client_flow.py");
    };
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    let data = tempfile::tempdir().unwrap();
    let server = CairnProcess::start_with(&data.path().join("data"), args, &[]);
    run_client_flow(&python, &shared, &server, label);
    server.stop();
    // The files went where the default says: <data-dir>/artifacts.
    assert!(
        data.path()
            .join("data/artifacts")
            .read_dir()
            .unwrap()
            .count()
            > 0
    );
}

#[test]
fn mlflow_client_flow_passes_with_local_artifacts() {
    client_flow_with_local_artifacts(&[], "SQLite, local folder");
}

#[test]
fn mlflow_client_flow_passes_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestPostgres::create(module_path!())) else {
        return;
    };
    client_flow_with_local_artifacts(
        &["--backend-store-uri", &db.url],
        "PostgreSQL, local folder",
    );
}

#[test]
fn mlflow_client_flow_passes_with_s3_artifacts() {
    let Some(shared) = shared_dir() else {
        return skip_or_fail("../shared/compat/client_flow.py");
    };
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    let Some(s3) = S3Server::start(&python, "cairn-flow") else {
        return skip_or_fail("moto[server] in the Python venv (an S3 server on 127.0.0.1)");
    };
    let data = tempfile::tempdir().unwrap();
    let env = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = CairnProcess::start_with(
        &data.path().join("data"),
        &["--artifacts-destination", "s3://cairn-flow/team/artifacts"],
        &env,
    );
    run_client_flow(&python, &shared, &server, "S3");
    server.stop();
    let keys = s3.keys();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("team/artifacts/") && k.ends_with("/MLmodel")),
        "no model files under the S3 prefix: {keys:?}"
    );
    assert!(
        !data.path().join("data/artifacts").exists(),
        "artifacts were written locally although the destination is S3"
    );
}
