//! The jobs UI in a real browser (Debian's chromium, headless) against a real `cairn
//! server` process: a job is run from its form, its steps go green and its logs
//! stream while it runs, and the MLflow run its training step made opens from the
//! run's page; its nightly schedule is paused and resumed from its page. Screenshots go to the folder the test prints.

mod common;

use std::time::{Duration, Instant};

use cairn_testkit::Browser;
use common::CairnProcess;
use thirtyfour::prelude::*;

const JOB: &str = r#"
name: train-wine
description: Train the wine classifier from a form.
parameters:
  alpha: {type: float, default: 1.0, description: the L2 penalty}
  note: {type: string, default: nightly}
schedules:
  - cron: '0 3 * * *'
    timezone: Europe/Paris
steps:
  - name: prepare
    kind: command
    argv: [sh, -c, 'for i in 1 2 3 4; do echo preparing $i for ${{ params.note }}; sleep 0.6; done']
  - name: train
    kind: train
    needs: [prepare]
    spec:
      task: tabular_classification
      experiment: wine-jobs
      run_name: wine-from-job
      data:
        builtin: wine_is_high_quality
        test_fraction: 0.2
        seed: 0
      model:
        kind: logistic
        alpha: ${{ params.alpha }}
        max_iterations: 50
  - name: report
    kind: command
    needs: [train]
    argv: [echo, 'trained run ${{ steps.train.outputs.run_id }}']
"#;

/// What `read` gives of the element `css` selects, waited for up to 5 s. The page
/// loads another after a form post and reloads itself when a run ends, so an element
/// can be missing for a moment, or found just before a reload and gone when it is
/// read: it is then looked for again, in the new page.
async fn read_element(
    b: &Browser,
    css: &str,
    read: impl AsyncFn(WebElement) -> WebDriverResult<String>,
) -> String {
    for _ in 0..50 {
        // Not there yet while the browser is still loading the next page.
        let element = match b.driver.find(By::Css(css)).await {
            Ok(element) => element,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match read(element).await {
            Ok(v) => return v,
            Err(e) if e.to_string().contains("stale element") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("no {css} (or it kept going stale) for 5 s");
}

async fn attr(b: &Browser, css: &str, name: &str) -> String {
    read_element(b, css, async |e: WebElement| {
        Ok(e.attr(name).await?.unwrap_or_default())
    })
    .await
}

async fn text(b: &Browser, css: &str) -> String {
    read_element(b, css, async |e: WebElement| e.text().await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_a_job_from_its_form_watch_it_and_open_its_mlflow_run_in_chromium() {
    let Some(b) =
        Browser::start("run_a_job_from_its_form_watch_it_and_open_its_mlflow_run_in_chromium")
            .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::write(jobs.join("train-wine.yaml"), JOB).unwrap();
    let server = CairnProcess::start_with(
        &dir.path().join("data"),
        &["--jobs-dir", jobs.to_str().unwrap()],
        &[],
    );

    b.driver.goto(format!("{}/jobs", server.url)).await.unwrap();
    b.driver
        .find(By::LinkText("train-wine"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.driver.find(By::Css("form.run-form")).await.unwrap();
    // The form is built from the typed parameters.
    assert_eq!(attr(&b, "#param-alpha", "type").await, "number");
    assert_eq!(attr(&b, "#param-alpha", "value").await, "1");
    assert!(
        b.driver
            .find(By::Css("svg.dag [data-step=report]"))
            .await
            .is_ok(),
        "the DAG is drawn"
    );
    b.shot("jobs-job").await;

    // The schedule, paused and resumed from the job's page.
    assert!(text(&b, "li[data-schedule='0'] .schedule-state")
        .await
        .starts_with("next "));
    for (button, state) in [("Pause", "paused"), ("Resume", "next ")] {
        let form = b
            .driver
            .find(By::Css("li[data-schedule='0'] button"))
            .await
            .unwrap();
        assert_eq!(form.text().await.unwrap(), button);
        form.click().await.unwrap();
        let start = Instant::now();
        while !text(&b, "li[data-schedule='0'] .schedule-state")
            .await
            .starts_with(state)
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the schedule is not {state} after {button}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let alpha = b.driver.find(By::Css("#param-alpha")).await.unwrap();
    alpha.clear().await.unwrap();
    alpha.send_keys("0.5").await.unwrap();
    let note = b.driver.find(By::Css("#param-note")).await.unwrap();
    note.clear().await.unwrap();
    note.send_keys("the-browser").await.unwrap();
    b.driver
        .find(By::Css("form.run-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The run's page, while it runs: states and log lines arrive without a reload.
    let start = Instant::now();
    let mut saw_live_log = false;
    let mut saw_prepare_green_while_running = false;
    loop {
        let state = attr(&b, "#run-state", "data-state").await;
        if state == "RUNNING" || state == "PENDING" {
            let logs = text(&b, "#job-logs").await;
            if logs.contains("preparing 1 for the-browser") {
                saw_live_log = true;
            }
            if attr(&b, "tr[data-step=prepare]", "data-state").await == "COMPLETED" {
                saw_prepare_green_while_running = true;
            }
        }
        if state == "COMPLETED" || state == "FAILED" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run did not end"
        );
        if saw_live_log && !saw_prepare_green_while_running {
            b.shot("jobs-run-live").await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(saw_live_log, "log lines streamed in while the run ran");
    assert!(
        saw_prepare_green_while_running,
        "a step went green while the run ran"
    );
    // The page reloads once the run ends; then every step is green.
    let start = Instant::now();
    loop {
        let ok = b
            .driver
            .find(By::Css("[data-job-run][data-final=true]"))
            .await
            .is_ok();
        if ok {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the ended run's page did not reload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        attr(&b, "#run-state", "data-state").await,
        "COMPLETED",
        "{}",
        text(&b, "#job-logs").await
    );
    for step in ["prepare", "train", "report"] {
        assert_eq!(
            attr(&b, &format!("tr[data-step={step}]"), "data-state").await,
            "COMPLETED"
        );
        assert_eq!(
            attr(&b, &format!("svg.dag [data-step={step}]"), "data-state").await,
            "COMPLETED"
        );
    }
    let logs = text(&b, "#job-logs").await;
    assert!(logs.contains("[report] trained run "), "{logs}");
    b.shot("jobs-run-done").await;

    // The MLflow run the training step made, linked from the run's page.
    b.driver
        .find(By::Css("ul.mlflow-runs a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let body = text(&b, "main").await;
        if body.contains("wine-from-job") && body.contains("alpha") {
            assert!(
                body.contains("cairn.job_run_id"),
                "the run carries the job run's tag: {body}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the MLflow run's page: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.shot("jobs-mlflow-run").await;
    b.quit().await;
}
