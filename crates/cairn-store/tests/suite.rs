//! One suite of store tests, run on every backend (quickwit's metastore suite is the
//! model): each test is a function over [`Stores`], and [`store_suite!`] runs it on a
//! fresh SQLite file (`sqlite::<test>`) and on a fresh PostgreSQL database
//! (`postgres::<test>`), below HTTP and the services.

use cairn_core::entities::{KeyValue, LifecycleStage, Metric, RunStatus, ViewType, RUN_NAME_TAG};
use cairn_core::logged_model::LoggedModelStatus;
use cairn_core::predictions::{PredictionRecord, PredictionSearch};
use cairn_core::{search, ErrorCode, MlflowError};
use cairn_store::{
    ExperimentSearch, HistoryRange, LoggedModelSearch, NewExperiment, NewLoggedModel,
    NewModelVersion, NewRun, RegistrySearch, RunSearch, StoreError, Stores,
};

const ROOT: &str = "mlflow-artifacts:/";

/// Declares each suite function once and runs it on both backends.
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
                    let stores = cairn_store::open(&uri, super::ROOT).await.expect("open SQLite");
                    super::$name(&stores).await;
                    stores.tracking.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let test = concat!("store suite ", stringify!($name));
                    let Some(db) = cairn_testkit::TestPostgres::create(test).await else {
                        return;
                    };
                    let stores = cairn_store::open(&db.url, super::ROOT)
                        .await
                        .expect("open PostgreSQL");
                    super::$name(&stores).await;
                    stores.tracking.close().await;
                }
            )*
        }
    };
}

store_suite!(
    experiments_are_created_found_renamed_tagged_and_deleted,
    a_taken_experiment_name_is_refused,
    a_log_batch_is_written_whole_or_not_at_all,
    metric_history_pages_in_step_order,
    run_search_filters_orders_and_pages,
    model_versions_are_numbered_and_never_reused,
    aliases_move_and_keep_their_history,
    logged_models_go_from_pending_to_ready,
    predictions_are_appended_and_paged,
);

fn code_of(e: StoreError) -> ErrorCode {
    match e {
        StoreError::Mlflow(MlflowError { code, .. }) => code,
        other => panic!("expected an MLflow error, got {other}"),
    }
}

fn new_experiment(name: &str) -> NewExperiment {
    NewExperiment {
        name: name.into(),
        artifact_location: None,
        tags: vec![KeyValue::new("team", "search")],
        now_ms: 1_000,
    }
}

async fn new_run(stores: &Stores, experiment_id: i64, name: &str) -> String {
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    stores
        .tracking
        .create_run(NewRun {
            run_id: run_id.clone(),
            experiment_id,
            user_id: "tester".into(),
            run_name: name.into(),
            start_time: Some(2_000),
            artifact_uri: format!("{ROOT}{experiment_id}/{run_id}/artifacts"),
            tags: vec![KeyValue::new(RUN_NAME_TAG, name)],
        })
        .await
        .expect("create run");
    run_id
}

fn point(key: &str, value: f64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp: 3_000 + step,
        step,
        run_id: None,
        model_id: None,
    }
}

fn experiment_search(view_type: ViewType) -> ExperimentSearch {
    ExperimentSearch {
        filter: Vec::new(),
        order_by: Vec::new(),
        view_type,
        max_results: 100,
        offset: 0,
    }
}

async fn experiments_are_created_found_renamed_tagged_and_deleted(stores: &Stores) {
    let t = &stores.tracking;
    let id = t
        .create_experiment(new_experiment("first"))
        .await
        .expect("create");
    let n: i64 = id.parse().expect("numeric id");
    let exp = t.get_experiment(n).await.expect("get").expect("exists");
    assert_eq!(exp.name, "first");
    assert_eq!(exp.tags, vec![KeyValue::new("team", "search")]);
    assert_eq!(exp.lifecycle_stage, LifecycleStage::Active);
    assert!(
        exp.artifact_location
            .as_deref()
            .is_some_and(|l| l.ends_with(&id)),
        "the default location ends with the new id: {:?}",
        exp.artifact_location
    );
    let by_name = t.get_experiment_by_name("first").await.expect("by name");
    assert_eq!(by_name.map(|e| e.experiment_id), Some(id.clone()));

    t.rename_experiment(n, "renamed").await.expect("rename");
    assert!(t
        .get_experiment_by_name("first")
        .await
        .expect("old name")
        .is_none());
    t.set_experiment_tag(n, "stage", "dev").await.expect("tag");
    assert!(t.delete_experiment_tag(n, "team").await.expect("untag"));
    assert!(!t
        .delete_experiment_tag(n, "team")
        .await
        .expect("untag twice"));
    let exp = t.get_experiment(n).await.expect("get").expect("exists");
    assert_eq!(exp.name, "renamed");
    assert_eq!(exp.tags, vec![KeyValue::new("stage", "dev")]);

    t.set_experiment_lifecycle(n, LifecycleStage::Deleted, 5_000)
        .await
        .expect("delete");
    let active = t
        .search_experiments(&experiment_search(ViewType::ActiveOnly))
        .await
        .expect("search");
    assert!(active.items.iter().all(|e| e.experiment_id != id));
    let deleted = t
        .search_experiments(&experiment_search(ViewType::DeletedOnly))
        .await
        .expect("search");
    assert_eq!(
        deleted
            .items
            .iter()
            .map(|e| e.experiment_id.as_str())
            .collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    // Experiment 0 is made with the schema, so "all" holds both.
    let all = t
        .search_experiments(&experiment_search(ViewType::All))
        .await
        .expect("search");
    assert_eq!(all.items.len(), 2);
}

async fn a_taken_experiment_name_is_refused(stores: &Stores) {
    let t = &stores.tracking;
    t.create_experiment(new_experiment("taken"))
        .await
        .expect("create");
    let err = t
        .create_experiment(new_experiment("taken"))
        .await
        .expect_err("duplicate");
    assert_eq!(code_of(err), ErrorCode::ResourceAlreadyExists);
}

async fn a_log_batch_is_written_whole_or_not_at_all(stores: &Stores) {
    let t = &stores.tracking;
    let run_id = new_run(stores, 0, "batch").await;
    t.log_batch(
        &run_id,
        vec![point("loss", 0.5, 0), point("loss", 0.25, 1)],
        vec![KeyValue::new("lr", "0.1")],
        vec![KeyValue::new("kind", "test")],
    )
    .await
    .expect("log batch");
    // The same param with another value is refused, and the batch's metric and tag
    // are not written either.
    let err = t
        .log_batch(
            &run_id,
            vec![point("acc", 0.9, 0)],
            vec![KeyValue::new("lr", "0.2")],
            vec![KeyValue::new("late", "yes")],
        )
        .await
        .expect_err("a changed param");
    assert_eq!(code_of(err), ErrorCode::InvalidParameterValue);
    let run = t.get_run(&run_id).await.expect("get").expect("exists");
    let metrics: Vec<(&str, f64, i64)> = run
        .data
        .metrics
        .iter()
        .map(|m| (m.key.as_str(), m.value, m.step))
        .collect();
    assert_eq!(metrics, vec![("loss", 0.25, 1)], "the latest point per key");
    assert_eq!(run.data.params, vec![KeyValue::new("lr", "0.1")]);
    assert!(run.data.tags.contains(&KeyValue::new("kind", "test")));
    assert!(!run.data.tags.iter().any(|t| t.key == "late"));
    // Logging the same param with the same value again is allowed.
    t.log_batch(&run_id, vec![], vec![KeyValue::new("lr", "0.1")], vec![])
        .await
        .expect("same value again");

    let info = t
        .update_run(
            &run_id,
            Some(RunStatus::Finished),
            Some(9_000),
            Some("renamed"),
        )
        .await
        .expect("update");
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(9_000));
    assert_eq!(info.run_name, "renamed");
}

async fn metric_history_pages_in_step_order(stores: &Stores) {
    let t = &stores.tracking;
    let run_id = new_run(stores, 0, "history").await;
    let points: Vec<Metric> = (0..10)
        .rev()
        .map(|s| point("loss", s as f64 / 10.0, s))
        .collect();
    t.log_batch(&run_id, points.clone(), vec![], vec![])
        .await
        .expect("log");
    let first = t
        .metric_history(&run_id, "loss", 0, 4)
        .await
        .expect("page 1");
    assert_eq!(
        first.iter().map(|m| m.step).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    let last = t
        .metric_history(&run_id, "loss", 8, 4)
        .await
        .expect("page 3");
    assert_eq!(last.iter().map(|m| m.step).collect::<Vec<_>>(), vec![8, 9]);
    let range = t
        .metric_history_range(&HistoryRange {
            run_ids: vec![run_id.clone()],
            key: "loss".into(),
            start_step: Some(3),
            end_step: Some(5),
        })
        .await
        .expect("range");
    assert_eq!(
        range.iter().map(|m| m.step).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
}

async fn run_search_filters_orders_and_pages(stores: &Stores) {
    let t = &stores.tracking;
    let mut ids = Vec::new();
    for i in 0..5 {
        let run_id = new_run(stores, 0, &format!("run-{i}")).await;
        t.log_batch(&run_id, vec![point("m", f64::from(i), 0)], vec![], vec![])
            .await
            .expect("log");
        ids.push(run_id);
    }
    let search = |filter: &str, order: &str, max_results: u64, offset: u64| RunSearch {
        experiment_ids: vec![0],
        filter: search::run_filter(filter).expect("filter"),
        order_by: search::run_order_by(&[order.to_string()]).expect("order"),
        view_type: ViewType::ActiveOnly,
        max_results,
        offset,
    };
    let found = t
        .search_runs(&search("metrics.m > 2", "metrics.m DESC", 100, 0))
        .await
        .expect("search");
    assert_eq!(
        found
            .items
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone()]
    );
    let page = t
        .search_runs(&search("", "metrics.m ASC", 2, 2))
        .await
        .expect("page");
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[3].clone()]
    );
    assert!(page.next_page_token.is_some(), "a fifth run follows");
    t.set_run_lifecycle(&ids[0], LifecycleStage::Deleted, Some(10_000))
        .await
        .expect("delete");
    let active = t
        .search_runs(&search("", "metrics.m ASC", 100, 0))
        .await
        .expect("active");
    assert_eq!(active.items.len(), 4);
}

fn new_version(name: &str) -> NewModelVersion {
    NewModelVersion {
        name: name.into(),
        source: "models:/m-0123abcd".into(),
        storage_location: "mlflow-artifacts:/0/models/m-0123abcd/artifacts".into(),
        run_id: None,
        run_link: None,
        description: None,
        tags: Vec::new(),
        now_ms: 4_000,
    }
}

async fn model_versions_are_numbered_and_never_reused(stores: &Stores) {
    let r = &stores.registry;
    r.create_registered_model("clf", Some("a classifier"), &[], 1_000)
        .await
        .expect("create model");
    let err = r
        .create_registered_model("clf", None, &[], 1_000)
        .await
        .expect_err("duplicate");
    assert_eq!(code_of(err), ErrorCode::ResourceAlreadyExists);
    let v1 = r
        .create_model_version(new_version("clf"))
        .await
        .expect("v1");
    let v2 = r
        .create_model_version(new_version("clf"))
        .await
        .expect("v2");
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"));
    r.delete_model_version("clf", 2, 5_000)
        .await
        .expect("delete v2");
    assert!(r.get_model_version("clf", 2).await.expect("get").is_none());
    let v3 = r
        .create_model_version(new_version("clf"))
        .await
        .expect("v3");
    assert_eq!(v3.version, "3", "a deleted version's number is not reused");
    let versions = r
        .search_model_versions(&RegistrySearch {
            filter: search::model_version_filter("name = 'clf'").expect("filter"),
            order_by: Vec::new(),
            max_results: 100,
            offset: 0,
        })
        .await
        .expect("search");
    let mut numbers: Vec<String> = versions.items.into_iter().map(|v| v.version).collect();
    numbers.sort();
    assert_eq!(numbers, vec!["1", "3"], "deleted versions are hidden");
    assert_eq!(
        r.model_version_download_uri("clf", 1).await.expect("uri"),
        "mlflow-artifacts:/0/models/m-0123abcd/artifacts"
    );
}

async fn aliases_move_and_keep_their_history(stores: &Stores) {
    let r = &stores.registry;
    r.create_registered_model("ranker", None, &[], 1_000)
        .await
        .expect("create model");
    for _ in 0..2 {
        r.create_model_version(new_version("ranker"))
            .await
            .expect("version");
    }
    r.set_registered_model_alias("ranker", "champion", 1, 6_000)
        .await
        .expect("set");
    r.set_registered_model_alias("ranker", "champion", 2, 7_000)
        .await
        .expect("move");
    let by_alias = r
        .get_model_version_by_alias("ranker", "champion")
        .await
        .expect("by alias")
        .expect("points somewhere");
    assert_eq!(by_alias.version, "2");
    let history = r.alias_history("ranker", 10).await.expect("history");
    let moves: Vec<(Option<i64>, Option<i64>)> = history
        .iter()
        .map(|e| (e.from_version, e.to_version))
        .collect();
    assert_eq!(
        moves,
        vec![(Some(1), Some(2)), (None, Some(1))],
        "newest first"
    );
    r.delete_registered_model_alias("ranker", "champion", 8_000)
        .await
        .expect("delete alias");
    assert!(r
        .get_model_version_by_alias("ranker", "champion")
        .await
        .expect("by alias")
        .is_none());
    assert_eq!(
        r.alias_history("ranker", 10).await.expect("history").len(),
        3
    );
}

async fn logged_models_go_from_pending_to_ready(stores: &Stores) {
    let lm = &stores.logged_models;
    let run_id = new_run(stores, 0, "producer").await;
    let model = lm
        .create_logged_model(NewLoggedModel {
            model_id: "m-0123456789abcdef0123456789abcdef".into(),
            experiment_id: 0,
            name: "model".into(),
            artifact_location:
                "mlflow-artifacts:/0/models/m-0123456789abcdef0123456789abcdef/artifacts".into(),
            model_type: Some("sklearn".into()),
            source_run_id: Some(run_id.clone()),
            params: vec![KeyValue::new("C", "1.0")],
            tags: vec![KeyValue::new("flavor", "sklearn")],
            now_ms: 1_000,
        })
        .await
        .expect("create");
    assert_eq!(model.info.status, LoggedModelStatus::Pending);
    let ready = lm
        .finalize_logged_model(&model.info.model_id, LoggedModelStatus::Ready, 2_000)
        .await
        .expect("finalize");
    assert_eq!(ready.info.status, LoggedModelStatus::Ready);
    lm.set_logged_model_tags(&model.info.model_id, &[KeyValue::new("stage", "dev")])
        .await
        .expect("tag");
    let found = lm
        .search_logged_models(&LoggedModelSearch {
            experiment_ids: vec![0],
            filter: Vec::new(),
            order_by: Vec::new(),
            max_results: 10,
            offset: 0,
        })
        .await
        .expect("search");
    assert_eq!(found.items.len(), 1);
    assert!(found.items[0]
        .info
        .tags
        .contains(&KeyValue::new("stage", "dev")));
    lm.delete_logged_model(&model.info.model_id, 3_000)
        .await
        .expect("delete");
    assert!(lm
        .get_logged_model(&model.info.model_id, false)
        .await
        .expect("get")
        .is_none());
    assert!(lm
        .get_logged_model(&model.info.model_id, true)
        .await
        .expect("get deleted")
        .is_some());
}

fn prediction(request: &str, row: i64, entity: &str) -> PredictionRecord {
    PredictionRecord {
        request_id: request.into(),
        row_index: row,
        model_name: "clf".into(),
        model_version: 1,
        alias: Some("champion".into()),
        entity_id: Some(entity.into()),
        timestamp_ms: 1_000 + row,
        inputs: serde_json::json!({"x": row}),
        outputs: serde_json::json!({"y": row % 2}),
        shadow: false,
        ground_truth: None,
    }
}

async fn predictions_are_appended_and_paged(stores: &Stores) {
    let p = &stores.predictions;
    let records: Vec<PredictionRecord> = (0..5)
        .map(|i| prediction("req-1", i, &format!("e{i}")))
        .collect();
    p.log_predictions(&records).await.expect("log");
    let first = p
        .search_predictions(&PredictionSearch {
            model_name: "clf".into(),
            max_results: 3,
            ..PredictionSearch::default()
        })
        .await
        .expect("page 1");
    assert_eq!(
        first.iter().map(|(_, r)| r.row_index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let after = first.last().map(|(id, _)| *id);
    let rest = p
        .search_predictions(&PredictionSearch {
            model_name: "clf".into(),
            max_results: 10,
            after_id: after,
            ..PredictionSearch::default()
        })
        .await
        .expect("page 2");
    assert_eq!(
        rest.iter().map(|(_, r)| r.row_index).collect::<Vec<_>>(),
        vec![3, 4]
    );
    let one = p
        .search_predictions(&PredictionSearch {
            model_name: "clf".into(),
            entity_id: Some("e3".into()),
            max_results: 10,
            ..PredictionSearch::default()
        })
        .await
        .expect("by entity");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].1, records[3]);

    // A shadow's prediction of the same entity keeps its flag and is told apart.
    let shadowed = PredictionRecord {
        model_version: 2,
        alias: Some("challenger".into()),
        shadow: true,
        ..prediction("req-1", 3, "e3")
    };
    p.log_predictions(std::slice::from_ref(&shadowed))
        .await
        .expect("log a shadow prediction");
    for (flag, want) in [
        (Some(true), vec![&shadowed]),
        (Some(false), vec![&records[3]]),
    ] {
        let found = p
            .search_predictions(&PredictionSearch {
                model_name: "clf".into(),
                entity_id: Some("e3".into()),
                shadow: flag,
                max_results: 10,
                ..PredictionSearch::default()
            })
            .await
            .expect("by shadow flag");
        assert_eq!(found.iter().map(|(_, r)| r).collect::<Vec<_>>(), want);
    }

    // A search reads each row's ground truth beside it, once the entity has one.
    stores
        .monitor
        .log_ground_truth(
            vec![cairn_core::monitor::GroundTruth {
                model_name: "clf".into(),
                entity_id: "e3".into(),
                label: Some("1".into()),
                value: None,
                event_time_ms: Some(5_000),
            }],
            6_000,
        )
        .await
        .expect("log a label");
    let labelled = p
        .search_predictions(&PredictionSearch {
            model_name: "clf".into(),
            max_results: 10,
            ..PredictionSearch::default()
        })
        .await
        .expect("search with ground truth");
    let truths: Vec<_> = labelled
        .iter()
        .map(|(_, r)| (r.entity_id.as_deref(), r.ground_truth.clone()))
        .collect();
    let one = Some(cairn_core::predictions::RecordTruth {
        label: Some("1".into()),
        value: None,
    });
    assert_eq!(truths.len(), 6);
    for (entity, truth) in truths {
        assert_eq!(
            truth,
            if entity == Some("e3") {
                one.clone()
            } else {
                None
            },
            "{entity:?}"
        );
    }
}
