//! `../shared/compat/client_flow.py`, the real `mlflow` client's everyday flow, against
//! the real `cairn` binary on a free port with a fresh data folder.

mod common;

use std::process::Command;

use common::{python_with_mlflow, shared_dir, skip_or_fail, CairnProcess};

/// The checks that use only the tracking API; all must pass. The others (artifacts,
/// registry, logged models) are reported, and asserted once those APIs exist.
const TRACKING_CHECKS: &[&str] = &[
    "set_experiment_creates_and_reuses",
    "experiment_tags_and_search_experiments",
    "start_run_and_end_run_status",
    "log_params_roundtrip",
    "log_metrics_with_steps_latest_value",
    "set_tags_roundtrip",
    "get_metric_history_steps_and_values",
    "log_batch_via_client",
    "search_runs_with_filter_and_order",
    "delete_and_restore_run",
];

#[test]
fn mlflow_client_flow_passes_its_tracking_checks() {
    let Some(shared) = shared_dir() else {
        return skip_or_fail("../shared/compat/client_flow.py");
    };
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    let data = tempfile::tempdir().unwrap();
    let server = CairnProcess::start(&data.path().join("data"));
    let report = data.path().join("client_flow.json");
    let output = Command::new(&python)
        .arg(shared.join("compat/client_flow.py"))
        .arg("--json")
        .arg(&report)
        .env("MLFLOW_TRACKING_URI", &server.url)
        .output()
        .expect("client_flow.py runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("client_flow.py wrote its report"))
            .unwrap();
    let results = report["results"].as_array().unwrap();
    let mut failed_tracking = Vec::new();
    for check in TRACKING_CHECKS {
        let r = results
            .iter()
            .find(|r| r["name"] == *check)
            .unwrap_or_else(|| panic!("client_flow.py has no check {check}"));
        if r["ok"] != true {
            failed_tracking.push(format!("{check}: {}", r["message"]));
        }
    }
    let others: Vec<String> = results
        .iter()
        .filter(|r| !TRACKING_CHECKS.contains(&r["name"].as_str().unwrap_or("")))
        .map(|r| {
            format!(
                "{} {}",
                if r["ok"] == true { "PASS" } else { "FAIL" },
                r["name"]
            )
        })
        .collect();
    println!(
        "client_flow.py: {} passed, {} failed; outside tracking: {}",
        report["passed"],
        report["failed"],
        others.join(", ")
    );
    server.stop();
    assert!(
        failed_tracking.is_empty(),
        "tracking checks failed: {failed_tracking:#?}"
    );
}
