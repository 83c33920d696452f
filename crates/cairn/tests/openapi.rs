//! `cairn server --serve` serves one OpenAPI document: the tracking server's, with the
//! serving endpoints' merged in (`Server::document`). The tracking half is a snapshot
//! in `crates/cairn-server/tests`; this checks that the merge keeps it valid.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A Python that has `openapi-spec-validator`: `$CAIRN_PYTHON`, the project's `.venv`
/// or `python3`, whichever imports it.
fn python_with_spec_validator() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("CAIRN_PYTHON").map(PathBuf::from),
        Some(root.join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import openapi_spec_validator"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn the_document_with_the_serving_endpoints_merged_in_is_valid() {
    let mut doc = cairn_server::openapi();
    doc.merge(cairn_serving::openapi());
    let doc = serde_json::to_value(&doc).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/2.0/mlflow/runs/get",
        "/invocations",
        "/models/{name}/invocations",
        "/serving/health",
    ] {
        assert!(paths.contains_key(path), "{path} is missing");
    }
    let mut ids = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique: {ids:?}");

    let Some(python) = python_with_spec_validator() else {
        cairn_testkit::skip_or_fail("openapi-spec-validator (pip install openapi-spec-validator)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let out = Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses the merged document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
