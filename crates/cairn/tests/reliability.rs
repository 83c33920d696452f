//! Many writers at once: zero errors, and every point the server acknowledged is
//! readable afterwards. (`kill -9` in the middle of writers is `crash_safety.rs`.)
//!
//! The soak lasts `CAIRN_SOAK_SECS` seconds: 60 in CI (as the tracking issue asks),
//! 5 on a developer's machine unless set.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cairn_client::Client;
use cairn_core::entities::Metric;
use common::CairnProcess;

const CLIENTS: usize = 16;

fn soak_duration() -> Duration {
    let default = if std::env::var_os("CI").is_some() {
        60
    } else {
        5
    };
    let secs = std::env::var("CAIRN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(secs)
}

/// Each client logs `loss` at increasing steps to its own run until `deadline` or its
/// first error, and returns the steps the server acknowledged.
async fn log_until(
    c: Client,
    run_id: String,
    deadline: Instant,
) -> (BTreeSet<i64>, Option<String>) {
    let mut acked = BTreeSet::new();
    let mut step = 0i64;
    while Instant::now() < deadline {
        let m = Metric {
            key: "loss".into(),
            value: 1.0 / (step + 1) as f64,
            timestamp: 1_700_000_000_000 + step,
            step,
            run_id: None,
            model_id: None,
        };
        match c.log_metric(&run_id, &m).await {
            Ok(()) => {
                acked.insert(step);
            }
            Err(e) => return (acked, Some(e.to_string())),
        }
        step += 1;
    }
    (acked, None)
}

async fn start_clients(
    url: &str,
    deadline: Instant,
) -> Vec<(
    String,
    tokio::task::JoinHandle<(BTreeSet<i64>, Option<String>)>,
)> {
    let c = Client::new(url);
    let mut out = Vec::new();
    for i in 0..CLIENTS {
        let run = c
            .create_run("0", Some(&format!("writer-{i}")), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        let task = tokio::spawn(log_until(Client::new(url), run.clone(), deadline));
        out.push((run, task));
    }
    out
}

async fn assert_all_acked_present(url: &str, acked: &[(String, BTreeSet<i64>)]) {
    let c = Client::new(url);
    for (run, steps) in acked {
        let history = c.get_metric_history(run, "loss", None, None).await.unwrap();
        let stored: BTreeSet<i64> = history.items.iter().map(|m| m.step).collect();
        let lost: Vec<_> = steps.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "run {run}: {} acknowledged points lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_log_concurrently_with_zero_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = CairnProcess::start(&dir.path().join("data"));
    let duration = soak_duration();
    let clients = start_clients(&server.url, Instant::now() + duration).await;
    let mut acked = Vec::new();
    let mut total = 0;
    for (run, task) in clients {
        let (steps, err) = task.await.unwrap();
        assert!(err.is_none(), "a client saw an error: {err:?}");
        total += steps.len();
        acked.push((run, steps));
    }
    println!("{CLIENTS} clients, {duration:?}: {total} acknowledged log-metric calls ({:.0}/s), zero errors", total as f64 / duration.as_secs_f64());
    assert_all_acked_present(&server.url, &acked).await;
    server.stop();
}
