//! `cairn server` stops cleanly on SIGTERM and SIGINT: exit status 0, and the database
//! folded back into one file (the WAL checkpointed), ready for another process.

mod common;

use std::process::Command;

use cairn_client::Client;
use common::CairnProcess;

fn stop_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = CairnProcess::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = Client::new(&server.url);
        let id = c.create_experiment("before-shutdown", &[]).await.unwrap();
        let run = c.create_run(&id, Some("r"), None, &[]).await.unwrap();
        c.log_param(&run.info.run_id, "p", "1").await.unwrap();
    });
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "cairn exited with {exit:?} on SIG{signal}");
    let wal = data.join("mlflow.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the WAL was not checkpointed on shutdown");
    // The data is in the main file: a new server finds it.
    let again = CairnProcess::start(&data);
    rt.block_on(async {
        let c = Client::new(&again.url);
        c.get_experiment_by_name("before-shutdown").await.unwrap();
    });
    again.stop();
}

#[test]
fn sigterm_stops_cleanly() {
    stop_with("TERM");
}

#[test]
fn sigint_stops_cleanly() {
    stop_with("INT");
}
