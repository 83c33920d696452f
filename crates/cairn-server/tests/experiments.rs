use cairn_testkit::on_both_backends;

use cairn_client::SearchExperiments;
use cairn_core::entities::{KeyValue, LifecycleStage, ViewType};
use cairn_core::ErrorCode;

on_both_backends! {
    async fn default_experiment_exists_from_the_first_start(s) {
        let exp = s.client.get_experiment("0").await.unwrap();
        assert_eq!(exp.name, "Default");
        assert_eq!(exp.lifecycle_stage, LifecycleStage::Active);
        assert_eq!(
            exp.artifact_location.as_deref(),
            Some("mlflow-artifacts:/0")
        );
        assert_eq!(s.client.health().await.unwrap(), "OK");
    }

    async fn create_get_rename_and_duplicate_names(s) {
        let c = &s.client;
        let id = c
            .create_experiment("exp-a", &[KeyValue::new("team", "ml")])
            .await
            .unwrap();
        let exp = c.get_experiment(&id).await.unwrap();
        assert_eq!(exp.name, "exp-a");
        assert_eq!(exp.tags, vec![KeyValue::new("team", "ml")]);
        assert_eq!(
            exp.artifact_location,
            Some(format!("mlflow-artifacts:/{id}"))
        );
        assert_eq!(
            c.get_experiment_by_name("exp-a")
                .await
                .unwrap()
                .experiment_id,
            id
        );

        let dup = c.create_experiment("exp-a", &[]).await.unwrap_err();
        assert_eq!(dup.code(), Some(ErrorCode::ResourceAlreadyExists));
        assert_eq!(dup.status(), Some(400));

        c.rename_experiment(&id, "exp-b").await.unwrap();
        assert_eq!(c.get_experiment(&id).await.unwrap().name, "exp-b");
        let missing = c.get_experiment_by_name("exp-a").await.unwrap_err();
        assert_eq!(missing.code(), Some(ErrorCode::ResourceDoesNotExist));
        assert_eq!(missing.status(), Some(404));

        let nope = c.get_experiment("424242").await.unwrap_err();
        assert_eq!(nope.code(), Some(ErrorCode::ResourceDoesNotExist));
        let empty = c.create_experiment("", &[]).await.unwrap_err();
        assert_eq!(empty.code(), Some(ErrorCode::InvalidParameterValue));
        assert!(empty.to_string().contains("'name'"), "{empty}");
    }

    async fn delete_and_restore_take_the_runs_along(s) {
        let c = &s.client;
        let id = c.create_experiment("doomed", &[]).await.unwrap();
        let run = c.create_run(&id, Some("r"), None, &[]).await.unwrap();
        c.delete_experiment(&id).await.unwrap();
        assert_eq!(
            c.get_experiment(&id).await.unwrap().lifecycle_stage,
            LifecycleStage::Deleted
        );
        assert_eq!(
            c.get_run(&run.info.run_id)
                .await
                .unwrap()
                .info
                .lifecycle_stage,
            LifecycleStage::Deleted
        );
        // No new runs in a deleted experiment.
        let err = c.create_run(&id, None, None, &[]).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));
        c.restore_experiment(&id).await.unwrap();
        assert_eq!(
            c.get_run(&run.info.run_id)
                .await
                .unwrap()
                .info
                .lifecycle_stage,
            LifecycleStage::Active
        );
        let err = c.delete_experiment("0").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));
    }

    async fn experiment_tags_set_and_delete(s) {
        let c = &s.client;
        let id = c.create_experiment("tagged", &[]).await.unwrap();
        c.set_experiment_tag(&id, "k", "v1").await.unwrap();
        c.set_experiment_tag(&id, "k", "v2").await.unwrap();
        assert_eq!(
            c.get_experiment(&id).await.unwrap().tags,
            vec![KeyValue::new("k", "v2")]
        );
        c.delete_experiment_tag(&id, "k").await.unwrap();
        assert!(c.get_experiment(&id).await.unwrap().tags.is_empty());
        let err = c.delete_experiment_tag(&id, "k").await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::ResourceDoesNotExist));
    }

    async fn search_experiments_filters_orders_and_pages(s) {
        let c = &s.client;
        for (name, team) in [
            ("alpha", "a"),
            ("beta", "b"),
            ("gamma", "a"),
            ("Alpine", "c"),
        ] {
            c.create_experiment(name, &[KeyValue::new("team", team)])
                .await
                .unwrap();
        }
        let names = |p: cairn_core::entities::Page<cairn_core::entities::Experiment>| {
            p.items.into_iter().map(|e| e.name).collect::<Vec<_>>()
        };
        let search = |filter: &str, order: &[&str]| SearchExperiments {
            filter: Some(filter.to_string()),
            order_by: order.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let p = c
            .search_experiments(&search("tags.team = 'a'", &["name ASC"]))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["alpha", "gamma"]);
        let p = c
            .search_experiments(&search("name LIKE 'Al%'", &[]))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["Alpine"], "LIKE is case-sensitive");
        let p = c
            .search_experiments(&search("name ILIKE 'al%'", &["name DESC"]))
            .await
            .unwrap();
        assert_eq!(names(p), vec!["alpha", "Alpine"]);

        // Paging walks every experiment once, Default included.
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let p = c
                .search_experiments(&SearchExperiments {
                    max_results: Some(2),
                    page_token: token,
                    order_by: vec!["name ASC".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
            seen.extend(p.items.into_iter().map(|e| e.name));
            token = p.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen, vec!["Alpine", "Default", "alpha", "beta", "gamma"]);

        let id = c
            .get_experiment_by_name("beta")
            .await
            .unwrap()
            .experiment_id;
        c.delete_experiment(&id).await.unwrap();
        let deleted = c
            .search_experiments(&SearchExperiments {
                view_type: ViewType::DeletedOnly,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(names(deleted), vec!["beta"]);

        let err = c
            .search_experiments(&search("name = 'x' OR name = 'y'", &[]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameterValue));
        assert!(err.to_string().contains("'OR'"), "{err}");
    }
}
