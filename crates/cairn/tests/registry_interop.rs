//! One database and one artifact folder, two servers: a model logged and registered
//! through cairn loads through `mlflow server` 3.17.2, and a version registered
//! through `mlflow server` loads through cairn; on SQLite and on PostgreSQL.

mod common;

use std::path::Path;
use std::process::Command;

use common::{python_with_mlflow, skip_or_fail, start_mlflow, TestDb};

/// The stock client's side of the story; `mode` picks the step.
const SCRIPT: &str = r#"
import sys
import mlflow
import pandas as pd
from mlflow import MlflowClient

mode, name = sys.argv[1], sys.argv[2]
c = MlflowClient()
x = pd.DataFrame({"x": [1.0, 0.0], "y": [1.0, 2.0]})

class LinearScore(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [2.0 * a + 3.0 * b + 1.0 for a, b in zip(model_input["x"], model_input["y"])]

def predictions(uri):
    return [float(p) for p in mlflow.pyfunc.load_model(uri).predict(x)]

if mode == "log-and-register":
    mlflow.set_experiment("interop")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=LinearScore(), pip_requirements=["mlflow"])
    mv = mlflow.register_model(info.model_uri, name)
    c.set_registered_model_alias(name, "champion", mv.version)
    print("registered", mv.version)
elif mode == "load-champion-and-add-version":
    assert predictions("models:/%s@champion" % name) == [6.0, 7.0], "champion predictions"
    mv1 = c.get_model_version(name, "1")
    # The other server registers a second version from the same logged model.
    mv2 = c.create_model_version(name, mv1.source, run_id=mv1.run_id, model_id=mv1.model_id or mv1.source.split("/")[-1])
    c.set_registered_model_alias(name, "challenger", mv2.version)
    c.transition_model_version_stage(name, mv2.version, "Staging")
    print("added", mv2.version)
elif mode == "load-challenger":
    mv = c.get_model_version_by_alias(name, "challenger")
    assert mv.version == "2", mv.version
    assert mv.current_stage == "Staging", mv.current_stage
    assert predictions("models:/%s@challenger" % name) == [6.0, 7.0], "challenger predictions"
    assert predictions("models:/%s/1" % name) == [6.0, 7.0], "version 1 predictions"
    print("ok")
"#;

fn run_step(python: &Path, tracking_uri: &str, mode: &str, name: &str) -> String {
    let out = Command::new(python)
        .args(["-c", SCRIPT, mode, name])
        .env("MLFLOW_TRACKING_URI", tracking_uri)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "step {mode} against {tracking_uri} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn model_versions_cross_between_cairn_and_mlflow_server(data: &Path, db: TestDb) {
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    let name = "Interop";

    // cairn: log a pyfunc model, register it, alias champion.
    let cairn = db.start_cairn(data);
    let out = run_step(&python, &cairn.url, "log-and-register", name);
    assert!(out.contains("registered 1"), "{out}");
    cairn.stop();

    // mlflow server on the same database and folder: loads champion, adds version 2.
    let (mlflow, url) = start_mlflow(&python, &db.mlflow_uri(), &data.join("artifacts"));
    let out = run_step(&python, &url, "load-champion-and-add-version", name);
    assert!(out.contains("added 2"), "{out}");
    drop(mlflow);

    // cairn again: loads the version MLflow registered.
    let cairn = db.start_cairn(data);
    let out = run_step(&python, &cairn.url, "load-challenger", name);
    assert!(out.contains("ok"), "{out}");
    cairn.stop();
}

#[test]
fn sqlite_model_versions_cross_between_cairn_and_mlflow_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = TestDb::sqlite(&data);
    model_versions_cross_between_cairn_and_mlflow_server(&data, db);
}

#[test]
fn postgres_model_versions_cross_between_cairn_and_mlflow_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDb::postgres(module_path!())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    model_versions_cross_between_cairn_and_mlflow_server(&dir.path().join("data"), db);
}
