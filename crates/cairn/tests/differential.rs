//! The wire, compared with the product cairn replaces: the same 896 raw requests
//! (`compat/differential/cases.py`: every endpoint with the edge cases a client
//! meets) sent to a real `mlflow server` 3.17.2 and to this cairn, each on a fresh
//! database, comparing status, `error_code`, body kind and the key set of every
//! answer. Any difference not in `compat/differential/known.tsv` fails, and so does a
//! listed one that has gone (so the list stays the truth), except a DERIVED one, which
//! can come and go with the order of ties.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::{python_with_mlflow, skip_or_fail, workspace_root};
use serde_json::Value;

#[test]
fn cairn_answers_raw_requests_as_mlflow_server_does_or_as_documented() {
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with mlflow==3.17.2 (the reference server)");
    };
    let root = workspace_root();
    let mlflow = python.with_file_name("mlflow");
    if !mlflow.exists() {
        return skip_or_fail("the `mlflow` command beside the Python that imports mlflow");
    }
    let out = tempfile::tempdir().expect("temp dir");
    let report = out.path().join("differential.json");
    let output = Command::new(&python)
        .arg(root.join("compat/differential/run.py"))
        .args(["--start", "--sfx", "ci", "--json"])
        .arg(&report)
        .arg("--mlflow-bin")
        .arg(&mlflow)
        .arg("--cairn-bin")
        .arg(env!("CARGO_BIN_EXE_cairn"))
        .output()
        .expect("the harness runs");
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + String::from_utf8_lossy(&output.stderr).as_ref();
    assert!(output.status.success(), "the harness failed: {said}");

    let known: BTreeMap<String, String> =
        std::fs::read_to_string(root.join("compat/differential/known.tsv"))
            .expect("known.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let case = cols.next()?.to_string();
                let judgement = cols.nth(1)?.to_string();
                Some((case, judgement))
            })
            .collect();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    let cases = report["cases"].as_array().expect("cases");
    let mut unexpected = Vec::new();
    let mut differing = BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or_default();
        let diff = case["diff"].as_object().cloned().unwrap_or_default();
        if diff.is_empty() {
            continue;
        }
        differing.insert(name.to_string());
        if !known.contains_key(name) {
            unexpected.push(format!(
                "{name}: {} {} (mlflow {} {}, cairn {} {})",
                case["request"]["method"].as_str().unwrap_or_default(),
                case["request"]["path"].as_str().unwrap_or_default(),
                case["mlflow"]["status"],
                case["mlflow"]["error_code"],
                case["cairn"]["status"],
                case["cairn"]["error_code"],
            ));
        }
    }
    // A DERIVED difference follows from another one and may come and go with the order
    // of ties (runs both servers start at the same time): only the others must stay.
    let gone: Vec<&String> = known
        .iter()
        .filter(|(k, judgement)| *judgement != "DERIVED" && !differing.contains(*k))
        .map(|(k, _)| k)
        .collect();
    let mut by_judgement: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &differing {
        if let Some(j) = known.get(name) {
            *by_judgement.entry(j.as_str()).or_default() += 1;
        }
    }
    eprintln!(
        "differential: {} requests compared with mlflow server 3.17.2, {} differ, all documented: \
         {by_judgement:?}",
        cases.len(),
        differing.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} answers differ from MLflow's and are not in compat/differential/known.tsv:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        gone.is_empty(),
        "these listed differences are gone; remove them from compat/differential/known.tsv: {gone:?}"
    );
}
