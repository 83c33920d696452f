//! Two `cairn server` processes on one PostgreSQL database, driven at once: what one
//! writes the other reads, concurrent writers through both agree on one state, and
//! neither needs to know the other exists.

mod common;

use std::collections::BTreeSet;

use cairn_client::{Client, SearchRuns};
use cairn_core::entities::{KeyValue, RunStatus};
use common::{metric, CairnProcess, TestPostgres};

fn start_replica(db: &TestPostgres, data: &std::path::Path) -> CairnProcess {
    // Both replicas share the artifact folder, as they would share a bucket.
    CairnProcess::start_with(
        &data.join("replica-data"),
        &[
            "--backend-store-uri",
            &db.url,
            "--artifacts-destination",
            &data.join("artifacts").display().to_string(),
            "--db-pool-size",
            "4",
        ],
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres_keep_one_consistent_state() {
    let Some(db) = TestPostgres::create(module_path!()).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = start_replica(&db, &dir.path().join("a"));
    let b = start_replica(&db, &dir.path().join("b"));
    let (ca, cb) = (Client::new(&a.url), Client::new(&b.url));

    // Runs created on A are updated through B, and the other way round, at once.
    let exp = ca.create_experiment("replicated", &[]).await.unwrap();
    assert_eq!(cb.get_experiment(&exp).await.unwrap().name, "replicated");
    let dup = cb.create_experiment("replicated", &[]).await.unwrap_err();
    assert_eq!(
        dup.code(),
        Some(cairn_core::ErrorCode::ResourceAlreadyExists)
    );
    let mut tasks = Vec::new();
    for i in 0..16i64 {
        let (creator, updater) = if i % 2 == 0 {
            (ca.clone(), cb.clone())
        } else {
            (cb.clone(), ca.clone())
        };
        let exp = exp.clone();
        tasks.push(tokio::spawn(async move {
            let run = creator
                .create_run(&exp, Some(&format!("run-{i}")), None, &[])
                .await
                .unwrap()
                .info
                .run_id;
            for step in 0..10 {
                // Both replicas write to the same run, in turns.
                let via = if step % 2 == 0 { &updater } else { &creator };
                via.log_batch(
                    &run,
                    &[
                        metric("loss", 1.0 / (step + 1) as f64, step),
                        metric("acc", i as f64, step),
                    ],
                    &[KeyValue::new(format!("p{step}"), "v")],
                    &[KeyValue::new("last_step", step.to_string())],
                )
                .await
                .unwrap();
            }
            updater
                .update_run(&run, Some(RunStatus::Finished), Some(1), None)
                .await
                .unwrap();
            (i, run)
        }));
    }
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.unwrap());
    }

    // Both replicas answer the same search with the same page, and it is right.
    let search = SearchRuns {
        experiment_ids: vec![exp.clone()],
        filter: Some(
            "metrics.acc >= 8 and params.p9 = 'v' and attributes.status = 'FINISHED'".into(),
        ),
        order_by: vec!["metrics.acc DESC".into()],
        max_results: Some(100),
        ..Default::default()
    };
    let ids = |page: cairn_core::entities::Page<cairn_core::entities::Run>| {
        page.items
            .into_iter()
            .map(|r| r.info.run_id)
            .collect::<Vec<_>>()
    };
    let via_a = ids(ca.search_runs(&search).await.unwrap());
    let via_b = ids(cb.search_runs(&search).await.unwrap());
    assert_eq!(via_a, via_b);
    let want: Vec<String> = (8..16)
        .rev()
        .map(|i| runs.iter().find(|r| r.0 == i).unwrap().1.clone())
        .collect();
    assert_eq!(via_a, want);
    for (_, run) in &runs {
        let r = cb.get_run(run).await.unwrap();
        assert_eq!(
            r.data.params.len(),
            10,
            "every batch's param, whichever replica took it"
        );
        let history = ca
            .get_metric_history(run, "loss", None, None)
            .await
            .unwrap();
        assert_eq!(history.items.len(), 10);
        let latest = r.data.metrics.iter().find(|m| m.key == "loss").unwrap();
        assert_eq!(latest.step, 9, "latest_metrics holds the newest step");
        assert_eq!(r.info.status, RunStatus::Finished);
    }

    // Versions registered through both replicas at once get distinct numbers.
    let (_, run) = &runs[0];
    ca.create_registered_model("shared", None, &[])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            c.create_model_version("shared", &format!("runs:/{run}/model"), Some(&run))
                .await
                .unwrap()
                .version
        }));
    }
    let mut versions = BTreeSet::new();
    for t in tasks {
        assert!(
            versions.insert(t.await.unwrap()),
            "a version number was given twice"
        );
    }
    let want: BTreeSet<String> = (1..=12).map(|v| v.to_string()).collect();
    assert_eq!(versions, want);

    // An alias moved on one replica is read on the other at once.
    for v in ["3", "7", "12"] {
        ca.set_registered_model_alias("shared", "champion", v)
            .await
            .unwrap();
        assert_eq!(
            cb.get_model_version_by_alias("shared", "champion")
                .await
                .unwrap()
                .version,
            v
        );
    }
    cb.delete_registered_model_alias("shared", "champion")
        .await
        .unwrap();
    assert!(ca
        .get_model_version_by_alias("shared", "champion")
        .await
        .is_err());
    let model = cb.get_registered_model("shared").await.unwrap();
    assert!(model.aliases.is_empty());
    a.stop();
    b.stop();
}
