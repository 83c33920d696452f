//! The UI at scale, for docs/benchmarks.md (not a pass/fail test: it is ignored by
//! default and prints figures). Seeds an experiment of 10,000 runs with 50 params
//! and 20 metrics each, and 100 runs with 1,000-step histories, through the REST
//! API; then times the runs page and the compare page at the server (over HTTP on
//! loopback) and in headless chromium (navigation start to the first frame drawn
//! after the load event).
//!
//! cargo test --release -p cairn-ui --test scale -- --ignored --nocapture

mod common;

use std::time::{Duration, Instant};

use cairn_core::entities::{KeyValue, Metric};
use common::{Browser, TestServer};
use futures::stream::{self, StreamExt, TryStreamExt};

const RUNS: usize = 10_000;
const PARAMS: usize = 50;
const METRICS: usize = 20;
const COMPARE_RUNS: usize = 100;
const STEPS: i64 = 1_000;

fn metric(key: String, value: f64, step: i64) -> Metric {
    Metric {
        key,
        value,
        timestamp: 1_700_000_000_000 + step * 100,
        step,
        run_id: None,
        model_id: None,
    }
}

/// A deterministic value in [0, 1) from two numbers.
fn noise(a: usize, b: usize) -> f64 {
    let x =
        (a as u64).wrapping_mul(6364136223846793005) ^ (b as u64).wrapping_mul(1442695040888963407);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

/// Wall time of `n` GETs of `path`, one after another, in milliseconds.
async fn time_get(s: &TestServer, path: &str, n: usize) -> Vec<f64> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let r = http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body = r.bytes().await.unwrap();
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(body.len() > 1000);
    }
    out
}

/// Milliseconds from navigation start to the first frame after load, `n` times.
async fn time_browser(b: &Browser, url: &str, n: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for _ in 0..n {
        b.driver.goto(url).await.unwrap();
        let ret = b
            .driver
            .execute(
                "return new Promise(r => requestAnimationFrame(() => \
                 requestAnimationFrame(() => r(performance.now()))));",
                Vec::new(),
            )
            .await
            .unwrap();
        out.push(ret.json().as_f64().unwrap());
    }
    out
}

fn report(what: &str, v: Vec<f64>) {
    println!(
        "| {what} | {:.0} | {:.0} | {} |",
        median(v.clone()),
        p95(v.clone()),
        v.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it with --ignored --nocapture, in release"]
async fn runs_page_and_compare_at_scale() {
    let s = TestServer::spawn().await;
    let Some(b) = Browser::start("runs_page_and_compare_at_scale").await else {
        return;
    };
    let c = &s.client;
    let exp = c.create_experiment("scale", &[]).await.unwrap();
    let t = Instant::now();
    stream::iter(0..RUNS)
        .map(|i| {
            let exp = exp.clone();
            async move {
                let run = c
                    .create_run(
                        &exp,
                        Some(&format!("run-{i:05}")),
                        Some(1_700_000_000_000 + i as i64),
                        &[],
                    )
                    .await?;
                let params: Vec<KeyValue> = (0..PARAMS)
                    .map(|p| KeyValue::new(format!("p{p:02}"), format!("v{}", (i + p) % 7)))
                    .collect();
                let metrics: Vec<Metric> = (0..METRICS)
                    .map(|m| metric(format!("m{m:02}"), noise(i, m), 0))
                    .collect();
                c.log_batch(&run.info.run_id, &metrics, &params, &[]).await
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    println!(
        "seeded {RUNS} runs x {PARAMS} params x {METRICS} metrics in {:.1?}",
        t.elapsed()
    );

    let cmp = c.create_experiment("compare", &[]).await.unwrap();
    let t = Instant::now();
    let ids: Vec<String> = stream::iter(0..COMPARE_RUNS)
        .map(|i| {
            let cmp = cmp.clone();
            async move {
                let run = c
                    .create_run(&cmp, Some(&format!("trial-{i:03}")), None, &[])
                    .await?;
                let id = run.info.run_id.clone();
                let params = [
                    KeyValue::new("lr", format!("{}", [0.001, 0.003, 0.01, 0.03, 0.1][i % 5])),
                    KeyValue::new("layers", format!("{}", 1 + i % 4)),
                    KeyValue::new("optimizer", ["adam", "sgd"][i % 2]),
                ];
                for key in ["loss", "val_accuracy"] {
                    let rate = 0.002 + noise(i, 7) * 0.01;
                    let ms: Vec<Metric> = (0..STEPS)
                        .map(|st| {
                            let decay = (-(st as f64) * rate).exp();
                            let v = if key == "loss" {
                                decay + 0.05 * noise(i, st as usize)
                            } else {
                                1.0 - 0.6 * decay
                            };
                            metric(key.to_string(), v, st)
                        })
                        .collect();
                    c.log_batch(&id, &ms, &[], &[]).await?;
                }
                c.log_batch(&id, &[], &params, &[]).await?;
                Ok::<_, cairn_client::ClientError>(id)
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await
        .unwrap();
    println!(
        "seeded {COMPARE_RUNS} runs x 2 metrics x {STEPS} steps in {:.1?}",
        t.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let runs = format!("/experiments/{exp}");
    let sorted = format!("/experiments/{exp}?order=metrics.%60m07%60+DESC");
    let filtered = format!(
        "/experiments/{exp}?filter=metrics.m03+%3E+0.5+AND+params.p01+%3D+%27v3%27&order=metrics.%60m01%60+ASC"
    );
    let columns = format!(
        "/experiments/{exp}?{}",
        (0..10)
            .map(|m| format!("m=m{m:02}"))
            .chain((0..10).map(|p| format!("p=p{p:02}")))
            .collect::<Vec<_>>()
            .join("&")
    );
    let page1000 = format!("/experiments/{exp}?per=1000");
    let compare = format!(
        "/compare?{}",
        ids.iter()
            .map(|id| format!("run={id}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let grouped = format!("{compare}&group=lr");
    println!("\n| page (server, over HTTP) | median ms | p95 ms | requests |\n|---|---|---|---|");
    for (what, path) in [
        ("runs page, 100 newest of 10,000", &runs),
        ("runs page sorted by a metric", &sorted),
        ("runs page, metric + param filter, sorted", &filtered),
        ("runs page, 20 chosen columns", &columns),
        ("runs page, 1,000 runs per page", &page1000),
        ("compare 100 runs x 1,000 steps", &compare),
        ("compare grouped by a param (bands)", &grouped),
    ] {
        time_get(&s, path, 3).await;
        report(what, time_get(&s, path, 20).await);
    }
    println!("\n| page (chromium, to first frame after load) | median ms | p95 ms | loads |\n|---|---|---|---|");
    for (what, path) in [
        ("runs page, 100 newest of 10,000", &runs),
        ("runs page sorted by a metric", &sorted),
        ("runs page, 1,000 runs per page", &page1000),
        ("compare 100 runs x 1,000 steps", &compare),
        ("compare grouped by a param (bands)", &grouped),
    ] {
        let url = format!("{}{path}", s.url);
        time_browser(&b, &url, 2).await;
        report(what, time_browser(&b, &url, 10).await);
    }
    b.driver.goto(format!("{}{runs}", s.url)).await.unwrap();
    b.shot("scale-runs").await;
    b.driver.goto(format!("{}{compare}", s.url)).await.unwrap();
    b.shot("scale-compare").await;
    b.quit().await;
}
