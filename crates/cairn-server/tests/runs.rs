use cairn_testkit::on_both_backends;

use cairn_client::SearchRuns;
use cairn_core::entities::{
    Dataset, DatasetInput, KeyValue, LifecycleStage, Metric, RunStatus, ViewType,
};
use cairn_core::ErrorCode;
use cairn_testkit::now_ms;

fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp,
        step,
        run_id: None,
        model_id: None,
    }
}

on_both_backends! {
    async fn create_run_names_it_and_mirrors_the_name_tag(s) {
        let c = &s.client;
        let run = c.create_run("0", None, Some(1234), &[]).await.unwrap();
        let name = run.info.run_name.clone();
        assert_eq!(name.split('-').count(), 3, "generated name {name}");
        assert_eq!(run.info.run_id.len(), 32);
        assert_eq!(run.info.run_id, run.info.run_uuid);
        assert_eq!(run.info.status, RunStatus::Running);
        assert_eq!(run.info.start_time, Some(1234));
        assert_eq!(
            run.info.artifact_uri,
            format!("mlflow-artifacts:/0/{}/artifacts", run.info.run_id)
        );
        let got = c.get_run(&run.info.run_id).await.unwrap();
        assert!(got
            .data
            .tags
            .contains(&KeyValue::new("mlflow.runName", name)));

        // A name given only as the tag becomes the run's name.
        let run = c
            .create_run(
                "0",
                None,
                None,
                &[KeyValue::new("mlflow.runName", "from-tag")],
            )
            .await
            .unwrap();
        assert_eq!(run.info.run_name, "from-tag");
        // A name and a different tag conflict.
        let err = c
            .create_run(
                "0",
                Some("a"),
                None,
                &[KeyValue::new("mlflow.runName", "b")],
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));

        // Renaming through update keeps the tag in step.
        let info = c
            .update_run(
                &run.info.run_id,
                Some(RunStatus::Finished),
                Some(99),
                Some("renamed"),
            )
            .await
            .unwrap();
        assert_eq!(info.run_name, "renamed");
        assert_eq!(info.status, RunStatus::Finished);
        assert_eq!(info.end_time, Some(99));
        let got = c.get_run(&run.info.run_id).await.unwrap();
        assert!(got
            .data
            .tags
            .contains(&KeyValue::new("mlflow.runName", "renamed")));

        let err = c.create_run("31337", None, None, &[]).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::ResourceDoesNotExist));
        let err = c
            .get_run("0123456789abcdef0123456789abcdef")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::ResourceDoesNotExist));
        assert!(err
            .to_string()
            .contains("Run with id=0123456789abcdef0123456789abcdef not found"));
    }

    async fn latest_metric_is_the_max_of_step_timestamp_value(s) {
        let c = &s.client;
        let id = c
            .create_run("0", Some("m"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        c.log_metric(&id, &metric("loss", 0.5, 100, 2))
            .await
            .unwrap();
        // An older step logged later does not become the latest value.
        c.log_metric(&id, &metric("loss", 0.9, 200, 1))
            .await
            .unwrap();
        c.log_metric(&id, &metric("nan", f64::NAN, 1, 0))
            .await
            .unwrap();
        c.log_metric(&id, &metric("inf", f64::INFINITY, 1, 0))
            .await
            .unwrap();
        let run = c.get_run(&id).await.unwrap();
        let by_key = |k: &str| {
            run.data
                .metrics
                .iter()
                .find(|m| m.key == k)
                .unwrap()
                .clone()
        };
        assert_eq!(by_key("loss").value, 0.5);
        assert_eq!(by_key("loss").step, 2);
        assert!(by_key("nan").value.is_nan());
        assert_eq!(
            by_key("inf").value,
            f64::MAX,
            "MLflow's SQL store clamps infinities"
        );

        let hist = c.get_metric_history(&id, "loss", None, None).await.unwrap();
        assert_eq!(hist.items.len(), 2);
        assert!(hist.next_page_token.is_none());
        let missing = c
            .get_metric_history(&id, "absent", None, None)
            .await
            .unwrap();
        assert!(missing.items.is_empty());
    }

    async fn params_are_immutable_and_batches_are_atomic(s) {
        let c = &s.client;
        let id = c
            .create_run("0", Some("p"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        c.log_param(&id, "lr", "0.1").await.unwrap();
        c.log_param(&id, "lr", "0.1").await.unwrap();
        let err = c.log_param(&id, "lr", "0.2").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));
        assert!(
            err.to_string()
                .contains("Changing param values is not allowed"),
            "{err}"
        );

        // The conflicting param makes the whole batch fail: its metric and tag stay out.
        let err = c
            .log_batch(
                &id,
                &[metric("acc", 1.0, now_ms(), 0)],
                &[KeyValue::new("lr", "0.3")],
                &[KeyValue::new("t", "v")],
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));
        let run = c.get_run(&id).await.unwrap();
        assert!(run.data.metrics.is_empty());
        assert!(!run.data.tags.iter().any(|t| t.key == "t"));

        let too_many: Vec<Metric> = (0..1001).map(|i| metric("m", i as f64, 1, i)).collect();
        let err = c.log_batch(&id, &too_many, &[], &[]).await.unwrap_err();
        assert!(err.to_string().contains("at most 1000 metrics"), "{err}");
        let err = c.log_param(&id, "bad*key", "1").await.unwrap_err();
        assert!(
            err.to_string().contains("Invalid param name: 'bad*key'"),
            "{err}"
        );
        let err = c
            .log_param(&id, "long", &"x".repeat(6001))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("6000"), "{err}");

        c.log_batch(
            &id,
            &(0..998)
                .map(|i| metric("curve", i as f64, 5, i))
                .collect::<Vec<_>>(),
            &[KeyValue::new("p2", "x")],
            &[KeyValue::new("t2", "y")],
        )
        .await
        .unwrap();
        let run = c.get_run(&id).await.unwrap();
        assert_eq!(run.data.metrics[0].value, 997.0);
        assert_eq!(run.data.params.len(), 2);
    }

    async fn deleted_runs_refuse_writes_and_come_back_on_restore(s) {
        let c = &s.client;
        let id = c
            .create_run("0", Some("d"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        c.set_tag(&id, "a", "1").await.unwrap();
        c.delete_tag(&id, "a").await.unwrap();
        let err = c.delete_tag(&id, "a").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::ResourceDoesNotExist));

        c.delete_run(&id).await.unwrap();
        assert_eq!(
            c.get_run(&id).await.unwrap().info.lifecycle_stage,
            LifecycleStage::Deleted
        );
        let err = c.log_param(&id, "p", "1").await.unwrap_err();
        assert!(
            err.to_string().contains("must be in the 'active' state"),
            "{err}"
        );
        c.restore_run(&id).await.unwrap();
        c.log_param(&id, "p", "1").await.unwrap();
    }

    async fn history_pages_and_bulk_interval_sampling(s) {
        let c = &s.client;
        let a = c
            .create_run("0", Some("a"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        let b = c
            .create_run("0", Some("b"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        for run in [&a, &b] {
            let points: Vec<Metric> = (0..1000)
                .map(|i| metric("loss", 1.0 / (i + 1) as f64, 1000 + i, i))
                .collect();
            c.log_batch(run, &points, &[], &[]).await.unwrap();
        }
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let p = c
                .get_metric_history(&a, "loss", Some(300), token.as_deref())
                .await
                .unwrap();
            all.extend(p.items);
            token = p.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(all.len(), 1000);
        assert_eq!(
            all.iter().map(|m| m.step).collect::<Vec<_>>(),
            (0..1000).collect::<Vec<_>>()
        );
        let err = c
            .get_metric_history(&a, "loss", Some(25001), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));

        let sampled = c
            .get_metric_history_bulk_interval(&[a.clone(), b.clone()], "loss", Some(50))
            .await
            .unwrap();
        assert_eq!(sampled.len(), 100);
        assert!(sampled[..50]
            .iter()
            .all(|m| m.run_id.as_deref() == Some(a.as_str())));
        assert_eq!(sampled[0].step, 0);
        assert_eq!(sampled[49].step, 999);
    }

    async fn metric_ordered_pages_run_through_numbers_nan_and_missing(s) {
        // 11 runs: values with ties, two NaN, two without the metric; every page size
        // must give the same order as one big page, which is MLflow's order.
        let c = &s.client;
        let exp = c.create_experiment("metric-pages", &[]).await.unwrap();
        let values = [
            Some(0.5),
            Some(0.2),
            Some(f64::NAN),
            Some(0.5),
            None,
            Some(0.9),
            Some(0.2),
            None,
            Some(f64::NAN),
            Some(0.7),
            Some(0.5),
        ];
        let mut runs = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let id = c
                .create_run(&exp, None, Some(5000 - (i as i64 % 3)), &[])
                .await
                .unwrap()
                .info
                .run_id;
            if let Some(v) = v {
                c.log_metric(&id, &metric("score", *v, 1, 0)).await.unwrap();
            }
            c.log_param(&id, "even", if i % 2 == 0 { "yes" } else { "no" })
                .await
                .unwrap();
            runs.push((id, *v, 5000 - (i as i64 % 3)));
        }
        for (ascending, filter) in [(false, ""), (true, ""), (false, "params.even = 'yes'")] {
            // The expected order, built the way MLflow defines it: numbers by value,
            // then NaN, then missing; ties by start_time DESC, then run id.
            let mut want: Vec<&(String, Option<f64>, i64)> = runs
                .iter()
                .enumerate()
                .filter(|(i, _)| filter.is_empty() || i % 2 == 0)
                .map(|(_, r)| r)
                .collect();
            let group = |v: &Option<f64>| match v {
                Some(x) if !x.is_nan() => 0,
                Some(_) => 1,
                None => 2,
            };
            want.sort_by(|a, b| {
                group(&a.1)
                    .cmp(&group(&b.1))
                    .then_with(|| match (a.1, b.1) {
                        (Some(x), Some(y)) if !x.is_nan() && !y.is_nan() => {
                            let o = x.partial_cmp(&y).unwrap();
                            if ascending { o } else { o.reverse() }
                        }
                        _ => std::cmp::Ordering::Equal,
                    })
                    .then_with(|| b.2.cmp(&a.2))
                    .then_with(|| a.0.cmp(&b.0))
            });
            let want: Vec<String> = want.into_iter().map(|r| r.0.clone()).collect();
            let order = if ascending { "metrics.score ASC" } else { "metrics.score DESC" };
            for page_size in [1, 2, 3, 4, 100] {
                let mut got = Vec::new();
                let mut token = None;
                loop {
                    let p = c
                        .search_runs(&SearchRuns {
                            experiment_ids: vec![exp.clone()],
                            filter: Some(filter.into()),
                            order_by: vec![order.into()],
                            max_results: Some(page_size),
                            page_token: token.take(),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                    got.extend(p.items.into_iter().map(|r| r.info.run_id));
                    match p.next_page_token {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                assert_eq!(got, want, "{order} {filter:?} in pages of {page_size}");
            }
        }
    }

    async fn search_runs_filters_orders_and_pages(s) {
        let c = &s.client;
        let exp = c.create_experiment("search", &[]).await.unwrap();
        let mut ids = Vec::new();
        for (i, (lr, acc)) in [
            ("0.01", Some(0.9)),
            ("0.01", Some(0.7)),
            ("0.1", Some(0.95)),
            ("0.01", None),
        ]
        .iter()
        .enumerate()
        {
            let id = c
                .create_run(&exp, Some(&format!("run-{i}")), Some(1000 + i as i64), &[])
                .await
                .unwrap()
                .info
                .run_id;
            c.log_param(&id, "lr", lr).await.unwrap();
            if let Some(acc) = acc {
                c.log_metric(&id, &metric("acc", *acc, 1, 0)).await.unwrap();
            }
            c.set_tag(&id, "group", if i % 2 == 0 { "even" } else { "odd" })
                .await
                .unwrap();
            ids.push(id);
        }
        let search = |filter: &str, order: &[&str]| SearchRuns {
            experiment_ids: vec![exp.clone()],
            filter: Some(filter.into()),
            order_by: order.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let run_ids = |p: cairn_core::entities::Page<cairn_core::entities::Run>| {
            p.items
                .into_iter()
                .map(|r| r.info.run_id)
                .collect::<Vec<_>>()
        };

        let p = c
            .search_runs(&search(
                "metrics.acc > 0.5 and params.lr = '0.01'",
                &["metrics.acc DESC"],
            ))
            .await
            .unwrap();
        assert_eq!(run_ids(p), vec![ids[0].clone(), ids[1].clone()]);

        // Runs without the metric sort last, whatever the direction.
        let p = c
            .search_runs(&search("", &["metrics.acc ASC"]))
            .await
            .unwrap();
        assert_eq!(
            run_ids(p),
            vec![
                ids[1].clone(),
                ids[0].clone(),
                ids[2].clone(),
                ids[3].clone()
            ]
        );
        let p = c
            .search_runs(&search("", &["metrics.acc DESC"]))
            .await
            .unwrap();
        assert_eq!(
            run_ids(p),
            vec![
                ids[2].clone(),
                ids[0].clone(),
                ids[1].clone(),
                ids[3].clone()
            ]
        );
        // Default order: newest start_time first.
        let p = c.search_runs(&search("", &[])).await.unwrap();
        assert_eq!(run_ids(p), ids.iter().rev().cloned().collect::<Vec<_>>());

        let p = c
            .search_runs(&search(
                "tags.group = 'odd' AND attributes.run_name LIKE 'run-%'",
                &["attributes.run_name"],
            ))
            .await
            .unwrap();
        assert_eq!(run_ids(p), vec![ids[1].clone(), ids[3].clone()]);
        let p = c
            .search_runs(&search(
                &format!("attributes.run_id IN ('{}', '{}')", ids[0], ids[2]),
                &["start_time ASC"],
            ))
            .await
            .unwrap();
        assert_eq!(run_ids(p), vec![ids[0].clone(), ids[2].clone()]);
        let p = c
            .search_runs(&search(
                "params.missing IS NULL and tags.group ILIKE 'EVEN'",
                &[],
            ))
            .await
            .unwrap();
        assert_eq!(run_ids(p).len(), 2);
        let p = c
            .search_runs(&search("attributes.start_time >= 1002", &[]))
            .await
            .unwrap();
        assert_eq!(run_ids(p).len(), 2);

        // Pages of one walk the same order as one big page.
        let mut paged = Vec::new();
        let mut token = None;
        loop {
            let mut q = search("", &["params.lr DESC", "attributes.run_name ASC"]);
            q.max_results = Some(1);
            q.page_token = token;
            let p = c.search_runs(&q).await.unwrap();
            token = p.next_page_token.clone();
            paged.extend(run_ids(p));
            if token.is_none() {
                break;
            }
        }
        let whole = run_ids(
            c.search_runs(&search("", &["params.lr DESC", "attributes.run_name ASC"]))
                .await
                .unwrap(),
        );
        assert_eq!(paged, whole);
        assert_eq!(whole[0], ids[2]);

        c.delete_run(&ids[3]).await.unwrap();
        let mut q = search("", &[]);
        q.view_type = ViewType::DeletedOnly;
        assert_eq!(
            run_ids(c.search_runs(&q).await.unwrap()),
            vec![ids[3].clone()]
        );
        q.view_type = ViewType::All;
        assert_eq!(run_ids(c.search_runs(&q).await.unwrap()).len(), 4);

        let err = c
            .search_runs(&search("metrics.acc >> 1", &[]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));
        assert!(err.to_string().contains("'>'"), "{err}");
        let err = c
            .search_runs(&search("", &["metrics.acc sideways"]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("'sideways'"), "{err}");
    }

    async fn dataset_inputs_are_stored_and_searchable(s) {
        let c = &s.client;
        let id = c
            .create_run("0", Some("ds"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        let input = DatasetInput {
            tags: vec![KeyValue::new("mlflow.data.context", "training")],
            dataset: Dataset {
                name: "wine".into(),
                digest: "abc123".into(),
                source_type: "local".into(),
                source: "{\"uri\": \"wine.csv\"}".into(),
                schema: Some("{}".into()),
                profile: None,
            },
        };
        c.log_inputs(&id, std::slice::from_ref(&input))
            .await
            .unwrap();
        c.log_inputs(&id, std::slice::from_ref(&input))
            .await
            .unwrap();
        let run = c.get_run(&id).await.unwrap();
        assert_eq!(run.inputs.dataset_inputs, vec![input]);
        let found = c
            .search_runs(&SearchRuns {
                experiment_ids: vec!["0".into()],
                filter: Some("dataset.name = 'wine' AND dataset.context = 'training'".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
    }

    async fn concurrent_writers_never_see_a_locked_database(s) {
        let run = s
            .client
            .create_run("0", Some("busy"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        let mut tasks = Vec::new();
        for w in 0..16 {
            let c = s.client.clone();
            let run = run.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    c.log_metric(&run, &metric(&format!("w{w}"), i as f64, 1, i))
                        .await?;
                }
                Ok::<_, cairn_client::ClientError>(())
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        for w in 0..16 {
            let h = s
                .client
                .get_metric_history(&run, &format!("w{w}"), None, None)
                .await
                .unwrap();
            assert_eq!(h.items.len(), 50);
        }
    }
}
