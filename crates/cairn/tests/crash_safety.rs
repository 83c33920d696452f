//! `kill -9` in the middle of a log-batch stream from 8 clients, on each backend. After
//! a restart on the same database, with no repair step: every acknowledged batch is
//! there whole, no batch is there in part, and no run is half created.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cairn_client::{Client, SearchRuns};
use cairn_core::entities::{KeyValue, Metric, ViewType};
use common::{CairnProcess, TestPostgres};

const CLIENTS: usize = 8;
/// Keys per batch; a batch at step s logs each key once at step s.
const KEYS: usize = 20;
const RUN_TAGS: [&str; 3] = ["owner", "purpose", "shard"];

/// What one client saw acknowledged: run id -> steps whose batch was acknowledged.
type Acked = BTreeMap<String, BTreeSet<i64>>;

fn batch(step: i64) -> Vec<Metric> {
    (0..KEYS)
        .map(|k| Metric {
            key: format!("m{k}"),
            value: (step * 100 + k as i64) as f64,
            timestamp: 1_700_000_000_000 + step,
            step,
            run_id: None,
            model_id: None,
        })
        .collect()
}

/// Creates runs (with three tags each) and streams batches to them, a new run every
/// 25 batches, until the server stops answering.
async fn stream(url: String, client: usize, deadline: Instant) -> Acked {
    let c = Client::new(&url);
    let mut acked = Acked::new();
    let mut run: Option<String> = None;
    let mut step = 0i64;
    while Instant::now() < deadline {
        if run.is_none() || step == 25 {
            let tags: Vec<KeyValue> = RUN_TAGS
                .iter()
                .map(|k| KeyValue::new(*k, format!("client-{client}")))
                .collect();
            match c.create_run("0", None, None, &tags).await {
                Ok(r) => {
                    acked.insert(r.info.run_id.clone(), BTreeSet::new());
                    run = Some(r.info.run_id);
                    step = 0;
                }
                Err(_) => return acked,
            }
        }
        let Some(id) = run.as_deref() else {
            return acked;
        };
        let params = [KeyValue::new(format!("p{step}"), step.to_string())];
        let tags = [KeyValue::new("last_step", step.to_string())];
        match c.log_batch(id, &batch(step), &params, &tags).await {
            Ok(()) => {
                if let Some(steps) = acked.get_mut(id) {
                    steps.insert(step);
                }
            }
            Err(_) => return acked,
        }
        step += 1;
    }
    acked
}

/// Starts the server, streams from 8 clients, kills it with SIGKILL mid-stream,
/// restarts it on the same database and checks what it holds.
async fn kill_9_mid_stream(start: impl Fn() -> CairnProcess) {
    let server = start();
    let deadline = Instant::now() + Duration::from_secs(60);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(stream(server.url.clone(), i, deadline)))
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.kill9();
    let mut acked = Acked::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let batches: usize = acked.values().map(BTreeSet::len).sum();
    assert!(batches > 0, "no batch was acknowledged before the kill");

    let restarted = start();
    let c = Client::new(&restarted.url);
    // Every run the database holds, acknowledged or not, is whole.
    let mut runs = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .search_runs(&SearchRuns {
                experiment_ids: vec!["0".into()],
                view_type: ViewType::All,
                max_results: Some(1000),
                page_token: token.take(),
                ..Default::default()
            })
            .await
            .unwrap();
        runs.extend(page.items);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let stored: BTreeSet<&str> = runs.iter().map(|r| r.info.run_id.as_str()).collect();
    for id in acked.keys() {
        assert!(
            stored.contains(id.as_str()),
            "acknowledged run {id} is gone"
        );
    }
    for run in &runs {
        let id = &run.info.run_id;
        let tags: BTreeSet<&str> = run.data.tags.iter().map(|t| t.key.as_str()).collect();
        for key in RUN_TAGS {
            assert!(tags.contains(key), "run {id} is half created: no tag {key}");
        }
        // A batch is all or nothing: the steps of every key, the params and the
        // latest metrics tell one story.
        let mut steps_of_key = Vec::new();
        for k in 0..KEYS {
            let history = c
                .get_metric_history(id, &format!("m{k}"), None, None)
                .await
                .unwrap();
            steps_of_key.push(
                history
                    .items
                    .iter()
                    .map(|m| m.step)
                    .collect::<BTreeSet<_>>(),
            );
        }
        let steps = steps_of_key[0].clone();
        assert!(
            steps_of_key.iter().all(|s| *s == steps),
            "run {id}: a batch was stored in part"
        );
        let params: BTreeSet<i64> = run
            .data
            .params
            .iter()
            .filter_map(|p| p.key.strip_prefix('p')?.parse().ok())
            .collect();
        assert_eq!(params, steps, "run {id}: params and metrics disagree");
        if let Some(acked_steps) = acked.get(id) {
            let lost: Vec<_> = acked_steps.difference(&steps).collect();
            assert!(
                lost.is_empty(),
                "run {id}: acknowledged batches lost: {lost:?}"
            );
        }
        if let Some(last) = steps.iter().next_back() {
            let latest = run.data.metrics.iter().find(|m| m.key == "m0").unwrap();
            assert_eq!(
                latest.step, *last,
                "run {id}: latest_metrics behind the history"
            );
        }
    }
    println!(
        "killed mid-stream: {batches} acknowledged batches in {} runs, {} runs stored; all whole",
        acked.len(),
        runs.len()
    );
    restarted.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kill_9_mid_log_batch_stream_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    kill_9_mid_stream(|| CairnProcess::start(&data)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kill_9_mid_log_batch_stream_loses_nothing_acknowledged() {
    let Some(db) = TestPostgres::create(module_path!()).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    kill_9_mid_stream(|| CairnProcess::start_with(&data, &["--backend-store-uri", &db.url], &[]))
        .await;
}
