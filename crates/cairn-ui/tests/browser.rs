//! The UI in a real browser (Debian's chromium, headless): a run made through the
//! REST API is found with the filter box, opened, charted, compared with another,
//! and an alias moved from the registry page is read back through the REST API.
//! Screenshots of each page go to the folder the test prints.

mod common;

use cairn_core::entities::{KeyValue, Metric};
use common::{Browser, TestServer};
use thirtyfour::prelude::*;

fn metric(key: &str, value: f64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: 1_700_000_000_000 + step * 1000,
        step,
        run_id: None,
        model_id: None,
    }
}

/// A finished run with a loss curve, an accuracy and two params.
async fn seed_run(s: &TestServer, exp: &str, name: &str, lr: &str, tags: &[KeyValue]) -> String {
    let run = s
        .client
        .create_run(exp, Some(name), Some(1_700_000_000_000), tags)
        .await
        .unwrap();
    let id = run.info.run_id.clone();
    let scale: f64 = lr.parse().unwrap();
    let mut metrics: Vec<Metric> = (0..20)
        .map(|i| metric("loss", 2.0 / (1.0 + scale * 10.0 * i as f64), i))
        .collect();
    metrics.push(metric("accuracy", 0.8 + scale, 19));
    s.client
        .log_batch(
            &id,
            &metrics,
            &[KeyValue::new("lr", lr), KeyValue::new("model", "linear")],
            &[],
        )
        .await
        .unwrap();
    id
}

/// Clicks what leads to another page and waits until the old one is gone.
async fn follow(b: &Browser, by: By) {
    let old = b.driver.find(By::Tag("html")).await.unwrap();
    b.driver.find(by).await.unwrap().click().await.unwrap();
    old.wait_until()
        .stale()
        .await
        .expect("the click loads a new page");
}

async fn text_of(b: &Browser, css: &str) -> String {
    b.driver
        .query(By::Css(css))
        .first()
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_open_chart_compare_and_move_an_alias_in_chromium() {
    let s = TestServer::spawn().await;
    let Some(b) = Browser::start("find_open_chart_compare_and_move_an_alias_in_chromium").await
    else {
        return;
    };
    let c = &s.client;
    let exp = c.create_experiment("ui-flow", &[]).await.unwrap();
    let alpha = seed_run(&s, &exp, "alpha", "0.1", &[]).await;
    let beta = seed_run(&s, &exp, "beta", "0.01", &[]).await;
    let sweep = seed_run(&s, &exp, "sweep", "0.05", &[]).await;
    for (i, lr) in ["0.2", "0.3"].iter().enumerate() {
        seed_run(
            &s,
            &exp,
            &format!("trial-{i}"),
            lr,
            &[KeyValue::new("mlflow.parentRunId", &sweep)],
        )
        .await;
    }
    let alpha_run = c.get_run(&alpha).await.unwrap();
    let root = alpha_run
        .info
        .artifact_uri
        .strip_prefix("mlflow-artifacts:/")
        .unwrap()
        .to_string();
    c.upload_artifact(&format!("{root}/notes.txt"), "trained on the full set")
        .await
        .unwrap();
    c.upload_artifact(
        &format!("{root}/data/sample.csv"),
        "text,label\nhi,greet\nbye,leave\n",
    )
    .await
    .unwrap();
    c.create_registered_model("ui-model", None, &[])
        .await
        .unwrap();
    for run in [&alpha_run, &c.get_run(&beta).await.unwrap()] {
        c.create_model_version(
            "ui-model",
            &format!("{}/model", run.info.artifact_uri),
            Some(&run.info.run_id),
        )
        .await
        .unwrap();
    }
    c.set_registered_model_alias("ui-model", "champion", "1")
        .await
        .unwrap();

    // The runs page: children grouped under their parent.
    b.driver
        .goto(format!("{}/experiments/{exp}", s.url))
        .await
        .unwrap();
    let rows = b
        .driver
        .find_all(By::Css("table.runs tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    let nested = b
        .driver
        .find_all(By::Css(format!("tr[data-child-of='{sweep}']")))
        .await
        .unwrap();
    assert_eq!(nested.len(), 2, "both trials sit under the sweep");
    b.shot("runs").await;

    // Find the run through the filter box.
    let filter = b.driver.find(By::Id("filter")).await.unwrap();
    filter.send_keys("params.lr = '0.1'").await.unwrap();
    follow(&b, By::Css("form.filter button[type=submit]")).await;
    let table = text_of(&b, "table.runs tbody").await;
    assert!(table.contains("alpha"), "{table}");
    assert!(!table.contains("beta"), "{table}");
    assert!(b
        .driver
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains("filter="));

    // A wrong filter is pointed at, not swallowed.
    let filter = b.driver.find(By::Id("filter")).await.unwrap();
    filter.clear().await.unwrap();
    filter
        .send_keys("params.lr = '0.1' AND metrics.loss >")
        .await
        .unwrap();
    follow(&b, By::Css("form.filter button[type=submit]")).await;
    let error = text_of(&b, "#filter-error").await;
    assert!(error.contains("expected a value"), "{error}");
    b.shot("filter-error").await;

    // Open the run and see its chart.
    b.driver
        .goto(format!("{}/experiments/{exp}", s.url))
        .await
        .unwrap();
    follow(&b, By::LinkText("alpha")).await;
    b.driver
        .query(By::Css("#chart-loss svg.plot path.line"))
        .first()
        .await
        .expect("the loss chart");
    assert!(b
        .driver
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with(&alpha));
    let params = text_of(&b, "#h-params + table").await;
    assert!(params.contains("lr") && params.contains("0.1"), "{params}");
    b.shot("run").await;

    // Artifacts: a text preview and a CSV table.
    b.driver
        .goto(format!("{}/runs/{alpha}/artifacts?file=notes.txt", s.url))
        .await
        .unwrap();
    assert!(text_of(&b, ".preview pre")
        .await
        .contains("trained on the full set"));
    b.driver
        .goto(format!(
            "{}/runs/{alpha}/artifacts?path=data&file=data/sample.csv",
            s.url
        ))
        .await
        .unwrap();
    assert!(text_of(&b, ".preview table").await.contains("greet"));
    b.shot("artifacts").await;

    // Compare it with another run, selected on the runs page.
    b.driver
        .goto(format!("{}/experiments/{exp}", s.url))
        .await
        .unwrap();
    for id in [&alpha, &beta] {
        b.driver
            .find(By::Css(format!("input[name=run][value='{id}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    follow(
        &b,
        By::XPath("//button[normalize-space()='Compare selected']"),
    )
    .await;
    b.driver
        .query(By::Css("#curves svg.plot"))
        .first()
        .await
        .expect("the compare chart");
    let series = b
        .driver
        .find_all(By::Css("#curves g.series"))
        .await
        .unwrap();
    assert_eq!(series.len(), 2);
    b.driver
        .find(By::Css("#parallel svg"))
        .await
        .expect("parallel coordinates");
    b.driver
        .find(By::Css("#scatter svg"))
        .await
        .expect("scatter");
    let diff = text_of(&b, "table.diff").await;
    assert!(
        diff.contains("param lr") && !diff.contains("param model"),
        "{diff}"
    );
    // Hover read-out from app.js.
    let plot = b.driver.find(By::Css("#curves svg.plot")).await.unwrap();
    b.driver
        .action_chain()
        .move_to_element_center(&plot)
        .perform()
        .await
        .unwrap();
    let tip = text_of(&b, "#curves .tip").await;
    assert!(tip.contains("x ="), "hover shows values: {tip}");
    b.shot("compare").await;

    // Move the alias from the registry page, then read it through the REST API.
    b.driver
        .goto(format!("{}/registry/ui-model", s.url))
        .await
        .unwrap();
    b.driver
        .find(By::Id("alias"))
        .await
        .unwrap()
        .send_keys("champion")
        .await
        .unwrap();
    b.driver
        .find(By::Css("#alias-version option[value='2']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    follow(&b, By::Css("#alias-form button[type=submit]")).await;
    let history = text_of(&b, "#alias-history").await;
    assert!(history.contains("moved v1 → v2"), "{history}");
    let mv = c
        .get_model_version_by_alias("ui-model", "champion")
        .await
        .unwrap();
    assert_eq!(mv.version, "2");
    b.shot("registry").await;

    b.driver.goto(format!("{}/", s.url)).await.unwrap();
    assert!(text_of(&b, "table.grid").await.contains("ui-flow"));
    b.shot("experiments").await;
    b.quit().await;
}

/// A model's Evaluation page in chromium: the champion's and the challenger's online
/// metrics side by side over the same labelled entities, their coverage, and the
/// newest drift report's table with both distributions drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluation_page_shows_both_versions_and_the_drift_table_in_chromium() {
    use cairn_core::monitor::{GroundTruth, LabelText};
    use cairn_core::predictions::PredictionRecord;

    let s = TestServer::spawn().await;
    let Some(b) =
        Browser::start("the_evaluation_page_shows_both_versions_and_the_drift_table_in_chromium")
            .await
    else {
        return;
    };
    let c = &s.client;
    c.create_registered_model("churn", None, &[]).await.unwrap();
    for _ in 0..2 {
        c.create_model_version("churn", "s3://bucket/churn/model", None)
            .await
            .unwrap();
    }
    c.set_registered_model_alias("churn", "champion", "1")
        .await
        .unwrap();
    c.set_registered_model_alias("churn", "challenger", "2")
        .await
        .unwrap();
    let now = cairn_testkit::now_ms();
    // 40 entities, each predicted by both versions (a shadow challenger); the
    // champion is right on 30 of the 32 labelled, the challenger on all 32.
    let mut records = Vec::new();
    for version in [1i64, 2] {
        for i in 0..40i64 {
            let truth = if i % 2 == 0 { "stay" } else { "leave" };
            let wrong = version == 1 && i < 2;
            let label = match (truth, wrong) {
                ("stay", true) => "leave",
                (t, false) => t,
                _ => "stay",
            };
            records.push(PredictionRecord {
                request_id: format!("r{version}-{i}"),
                row_index: 0,
                model_name: "churn".into(),
                model_version: version,
                alias: Some(
                    if version == 1 {
                        "champion"
                    } else {
                        "challenger"
                    }
                    .into(),
                ),
                entity_id: Some(format!("c{i}")),
                timestamp_ms: now - 86_400_000 + i * 60_000,
                inputs: serde_json::json!({"tenure": i}),
                outputs: serde_json::json!({"label": label}),
                shadow: false,
                ground_truth: None,
            });
        }
    }
    c.log_predictions(&records).await.unwrap();
    let truths: Vec<GroundTruth> = (0..32i64)
        .map(|i| GroundTruth {
            model_name: "churn".into(),
            entity_id: format!("c{i}"),
            label: Some(LabelText::from(if i % 2 == 0 { "stay" } else { "leave" })),
            value: None,
            event_time_ms: None,
        })
        .collect();
    c.log_ground_truth(&truths).await.unwrap();
    let dist = |r: [f64; 2], cur: [f64; 2]| serde_json::json!({"labels": ["a", "b"], "reference": r, "current": cur});
    c.create_monitor_report(&cairn_api_types::monitor::CreateReportRequest {
        model_name: "churn".into(),
        model_version: Some(1),
        kind: "drift".into(),
        window_start_ms: None,
        window_end_ms: None,
        job_run_id: None,
        summary: serde_json::json!({"share": 0.5, "drifted_columns": 1, "columns": 2, "dataset_drift": true}),
        report: serde_json::json!({"columns": {
            "tenure": {"stattest": "ks", "score": 0.001, "threshold": 0.05, "drift": true,
                       "distribution": dist([0.7, 0.3], [0.2, 0.8])},
            "plan": {"stattest": "z", "score": 0.6, "threshold": 0.05, "drift": false,
                     "distribution": dist([0.5, 0.5], [0.52, 0.48])},
        }, "drifted_columns": 1, "share": 0.5, "dataset_drift": true}),
    })
    .await
    .unwrap();

    // From the model's page to its Evaluation page.
    b.driver
        .goto(format!("{}/registry/churn", s.url))
        .await
        .unwrap();
    follow(&b, By::Id("evaluation-link")).await;
    b.shot("evaluation").await;
    let accuracy = |v: &'static str| {
        let b = &b;
        async move { text_of(b, &format!("#{v} td[data-metric=accuracy]")).await }
    };
    assert_eq!(accuracy("v1").await, "0.9375", "30 of 32");
    assert_eq!(accuracy("v2").await, "1");
    assert!(text_of(&b, "#v1").await.contains("@champion"));
    assert!(text_of(&b, "#v2").await.contains("@challenger"));
    assert_eq!(text_of(&b, "#v1 td.coverage").await, "80.0 %");
    let meta = text_of(&b, "p.meta").await;
    assert!(
        meta.contains("read from output label") && !meta.contains("probabilities"),
        "{meta}"
    );
    // A line per version on the charts.
    let lines = b
        .driver
        .find_all(By::Css("#chart-accuracy path.line, #chart-accuracy circle"))
        .await
        .unwrap();
    assert!(!lines.is_empty(), "the accuracy chart draws the versions");
    // The drift table: a row per column, the drifting one marked, both drawn.
    let rows = b.driver.find_all(By::Css("#drift tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(text_of(&b, "#drift-verdict").await, "dataset drift");
    let drifting = b.driver.find_all(By::Css("#drift tr.drift")).await.unwrap();
    assert_eq!(drifting.len(), 1);
    assert!(drifting[0].text().await.unwrap().contains("tenure"));
    let drawn = b.driver.find_all(By::Css("#drift svg.hist")).await.unwrap();
    assert_eq!(drawn.len(), 2);
    b.quit().await;
}

/// Writes a view and a contract into the server's contracts folder and waits until
/// the catalog (watched folder) shows both.
async fn seed_contracts(s: &TestServer) {
    let dir = s.dir.path().join("contracts");
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("wine_id,alcohol,colour\n");
    for i in 0..50 {
        let alcohol = 9.0 + (i % 10) as f64 * 0.5;
        let colour = if i % 3 == 0 { "white" } else { "red" };
        csv.push_str(&format!("{i},{alcohol},{colour}\n"));
    }
    csv.push_str("50,31.5,red\n");
    std::fs::write(dir.join("wine.csv"), csv).unwrap();
    std::fs::write(
        dir.join("wine.yaml"),
        "view: wine_features\ndescription: red and white wines\nsource: wine.csv\nentity: wine_id\n\
         fields:\n  wine_id: {type: int, required: true, unique: true}\n  \
         alcohol: {type: float, min: 8, max: 15, description: alcohol by volume in percent}\n  \
         colour: {type: string, accepted_values: [red, white]}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("quality.yaml"),
        "contract: wine_is_high_quality\nmodel: wine-quality\n\
         features: [wine_features.alcohol, wine_features.colour]\n",
    )
    .unwrap();
    for _ in 0..200 {
        let c = s.client.data_catalog().await.unwrap();
        if c.views.len() == 1 && c.contracts.len() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the contracts folder was not read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_a_feature_see_its_profile_and_users_and_open_its_report_in_chromium() {
    let s = TestServer::spawn().await;
    let Some(b) =
        Browser::start("find_a_feature_see_its_profile_and_users_and_open_its_report_in_chromium")
            .await
    else {
        return;
    };
    seed_contracts(&s).await;
    let check = s.client.run_data_check("wine_features").await.unwrap();
    assert!(!check.passed, "alcohol 31.5 breaks max 15");

    b.driver.goto(format!("{}/data", s.url)).await.unwrap();
    b.driver
        .find(By::Id("q"))
        .await
        .unwrap()
        .send_keys("by volume")
        .await
        .unwrap();
    follow(&b, By::Css("form[role=search] button")).await;
    b.shot("data-search").await;
    follow(&b, By::Css("table.hits a")).await;
    b.shot("data-field").await;
    assert!(text_of(&b, "h1").await.contains("wine_features.alcohol"));
    // Its profile from the last check: 51 rows, the histogram drawn.
    let profile = text_of(&b, "dl.profile").await;
    assert!(
        profile.contains("51") && profile.contains("31.5"),
        "{profile}"
    );
    let bars = b
        .driver
        .find_all(By::Css("figure.histogram rect"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 20);
    // Which contract and model read it.
    let uses = text_of(&b, "ul.uses").await;
    assert!(
        uses.contains("wine_is_high_quality") && uses.contains("wine-quality"),
        "{uses}"
    );
    // The last quality report, with the violating row.
    follow(&b, By::Css("a.report")).await;
    b.shot("data-report").await;
    let report = text_of(&b, "main").await;
    assert!(report.contains("Quality report: wine_features"), "{report}");
    assert!(
        report.contains("max <= 15") && report.contains("31.5"),
        "{report}"
    );
    b.quit().await;
}
