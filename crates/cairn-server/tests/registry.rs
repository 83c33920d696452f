//! The model registry over HTTP: versions, aliases, stages, search, and MLflow's
//! status codes for the mistakes clients make.

use cairn_testkit::on_both_backends;

use cairn_core::entities::KeyValue;
use cairn_core::ErrorCode;
use cairn_testkit::TestServer;
use serde_json::{json, Value};

async fn run_in_new_experiment(s: &TestServer, name: &str) -> String {
    let exp = s.client.create_experiment(name, &[]).await.unwrap();
    s.client
        .create_run(&exp, Some("source"), None, &[])
        .await
        .unwrap()
        .info
        .run_id
}

on_both_backends! {
    async fn versions_are_numbered_and_never_reused(s) {
        let run = run_in_new_experiment(&s, "reg-numbers").await;
        let c = &s.client;
        let src = format!("runs:/{run}/model");
        c.create_registered_model("m", Some("first"), &[KeyValue::new("team", "a")])
            .await
            .unwrap();
        let dup = c.create_registered_model("m", None, &[]).await.unwrap_err();
        assert_eq!(dup.code(), Some(ErrorCode::ResourceAlreadyExists));
        assert_eq!(dup.status(), Some(400));
        for want in ["1", "2", "3"] {
            let mv = c.create_model_version("m", &src, Some(&run)).await.unwrap();
            assert_eq!(mv.version, want);
            assert_eq!(mv.status, "READY");
            assert_eq!(mv.current_stage, "None");
            assert_eq!(mv.run_id.as_deref(), Some(run.as_str()));
        }
        c.delete_model_version("m", "3").await.unwrap();
        let gone = c.get_model_version("m", "3").await.unwrap_err();
        assert_eq!(gone.code(), Some(ErrorCode::ResourceDoesNotExist));
        assert_eq!(gone.status(), Some(404));
        let mv = c.create_model_version("m", &src, Some(&run)).await.unwrap();
        assert_eq!(mv.version, "4", "a deleted version's number is not reused");
        assert_eq!(
            c.get_model_version_download_uri("m", "4").await.unwrap(),
            src
        );
        let rm = c.get_registered_model("m").await.unwrap();
        assert_eq!(rm.description.as_deref(), Some("first"));
        assert_eq!(rm.tags, vec![KeyValue::new("team", "a")]);
        let versions: Vec<_> = rm
            .latest_versions
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(versions, ["4"], "latest version per stage");
    }

    async fn aliases_move_and_answer_with_mlflows_codes(s) {
        let run = run_in_new_experiment(&s, "reg-alias").await;
        let c = &s.client;
        let src = format!("runs:/{run}/model");
        c.create_registered_model("a", None, &[]).await.unwrap();
        c.create_model_version("a", &src, Some(&run)).await.unwrap();
        c.create_model_version("a", &src, Some(&run)).await.unwrap();

        c.set_registered_model_alias("a", "champion", "1")
            .await
            .unwrap();
        let mv = c.get_model_version_by_alias("a", "champion").await.unwrap();
        assert_eq!(
            (mv.version.as_str(), mv.aliases.clone()),
            ("1", vec!["champion".to_string()])
        );
        c.set_registered_model_alias("a", "champion", "2")
            .await
            .unwrap();
        assert_eq!(
            c.get_model_version_by_alias("a", "champion")
                .await
                .unwrap()
                .version,
            "2"
        );
        assert!(c
            .get_model_version("a", "1")
            .await
            .unwrap()
            .aliases
            .is_empty());
        let rm = c.get_registered_model("a").await.unwrap();
        assert_eq!(rm.aliases.len(), 1);
        assert_eq!(rm.aliases[0].version, "2");
        // `latest` is the newest version, and reserved as an alias name.
        assert_eq!(
            c.get_model_version_by_alias("a", "latest")
                .await
                .unwrap()
                .version,
            "2"
        );
        for reserved in ["latest", "v1", "V12"] {
            let e = c
                .set_registered_model_alias("a", reserved, "1")
                .await
                .unwrap_err();
            assert_eq!(
                e.code(),
                Some(ErrorCode::InvalidParameterValue),
                "{reserved}"
            );
        }
        let e = c
            .set_registered_model_alias("a", "bad alias", "1")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(400));
        // An alias to a version that does not exist, and a version that is not a number.
        let e = c
            .set_registered_model_alias("a", "x", "9")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ResourceDoesNotExist));
        let e = c
            .set_registered_model_alias("a", "x", "two")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));
        assert!(e.to_string().contains("'version'"), "{e}");

        c.delete_registered_model_alias("a", "champion")
            .await
            .unwrap();
        // MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE, not 404.
        let e = c
            .get_model_version_by_alias("a", "champion")
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (Some(400), Some(ErrorCode::InvalidParameterValue))
        );
        let e = c
            .get_model_version_by_alias("nope", "champion")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        // Deleting a version drops the aliases that pointed at it.
        c.set_registered_model_alias("a", "challenger", "1")
            .await
            .unwrap();
        c.delete_model_version("a", "1").await.unwrap();
        assert!(c
            .get_model_version_by_alias("a", "challenger")
            .await
            .is_err());
    }

    async fn stages_archive_existing_versions(s) {
        let run = run_in_new_experiment(&s, "reg-stages").await;
        let c = &s.client;
        let src = format!("runs:/{run}/model");
        c.create_registered_model("st", None, &[]).await.unwrap();
        for _ in 0..3 {
            c.create_model_version("st", &src, Some(&run))
                .await
                .unwrap();
        }
        c.transition_model_version_stage("st", "1", "Production", false)
            .await
            .unwrap();
        c.transition_model_version_stage("st", "2", "production", true)
            .await
            .unwrap();
        assert_eq!(
            c.get_model_version("st", "1").await.unwrap().current_stage,
            "Archived"
        );
        assert_eq!(
            c.get_model_version("st", "2").await.unwrap().current_stage,
            "Production"
        );
        let e = c
            .transition_model_version_stage("st", "3", "Shipped", false)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));
        let latest: Value = c
            .post(
                "registered-models/get-latest-versions",
                &json!({"name": "st", "stages": ["Production", "None"]}),
            )
            .await
            .unwrap();
        let mut got: Vec<(String, String)> = latest["model_versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["current_stage"].as_str().unwrap().into(),
                    v["version"].as_str().unwrap().into(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("None".into(), "3".into()),
                ("Production".into(), "2".into())
            ]
        );
    }

    async fn searches_filter_order_page_and_leave_prompts_out(s) {
        let run = run_in_new_experiment(&s, "reg-search").await;
        let c = &s.client;
        for name in ["Reg-b", "Reg-a", "Reg-c", "other"] {
            c.create_registered_model(name, None, &[KeyValue::new("kind", "model")])
                .await
                .unwrap();
            c.create_model_version(name, &format!("runs:/{run}/model"), Some(&run))
                .await
                .unwrap();
        }
        c.create_registered_model(
            "Reg-prompt",
            None,
            &[KeyValue::new("mlflow.prompt.is_prompt", "true")],
        )
        .await
        .unwrap();
        // The client appends this clause to every search_registered_models call.
        let flt = "name LIKE 'Reg%' AND tag.`mlflow.prompt.is_prompt` != 'true'";
        let page1 = c
            .search_registered_models(Some(flt), &[], Some(2), None)
            .await
            .unwrap();
        let names: Vec<_> = page1.items.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Reg-a", "Reg-b"]);
        let token = page1.next_page_token.expect("a second page");
        let page2 = c
            .search_registered_models(Some(flt), &[], Some(2), Some(&token))
            .await
            .unwrap();
        let names: Vec<_> = page2.items.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Reg-c"]);
        assert!(page2.next_page_token.is_none());
        let desc = c
            .search_registered_models(Some("name ILIKE 'reg-%'"), &["name DESC"], None, None)
            .await
            .unwrap();
        assert_eq!(
            desc.items.first().map(|m| m.name.as_str()),
            Some("Reg-prompt")
        );

        let versions = c
            .search_model_versions(
                Some("name = 'Reg-a' AND version_number >= 1"),
                &[],
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(versions.items.len(), 1);
        let by_run = c
            .search_model_versions(
                Some(&format!("run_id = '{run}'")),
                &["name ASC"],
                None,
                None,
            )
            .await
            .unwrap();
        let names: Vec<_> = by_run.items.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["Reg-a", "Reg-b", "Reg-c", "other"]);

        for bad in [
            "name = 'x' OR name = 'y'",
            "metrics.acc > 1",
            "version_number = 'x'",
        ] {
            let e = c
                .search_model_versions(Some(bad), &[], None, None)
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue), "{bad}");
        }
        let e = c
            .search_registered_models(None, &["bogus"], None, None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));
        let e = c
            .search_registered_models(None, &[], Some(1001), None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("max_results"), "{e}");
    }

    async fn rename_and_delete_carry_versions_tags_and_aliases(s) {
        let run = run_in_new_experiment(&s, "reg-rename").await;
        let c = &s.client;
        c.create_registered_model("old", None, &[KeyValue::new("k", "v")])
            .await
            .unwrap();
        c.create_model_version("old", &format!("runs:/{run}/model"), Some(&run))
            .await
            .unwrap();
        c.set_registered_model_alias("old", "champion", "1")
            .await
            .unwrap();
        c.create_registered_model("taken", None, &[]).await.unwrap();
        let e = c.rename_registered_model("old", "taken").await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ResourceAlreadyExists));
        let rm = c.rename_registered_model("old", "new").await.unwrap();
        assert_eq!(rm.name, "new");
        assert_eq!(rm.tags, vec![KeyValue::new("k", "v")]);
        assert_eq!(
            c.get_model_version_by_alias("new", "champion")
                .await
                .unwrap()
                .name,
            "new"
        );
        assert!(c.get_registered_model("old").await.is_err());

        c.delete_registered_model("new").await.unwrap();
        let e = c.get_registered_model("new").await.unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert!(
            e.to_string()
                .contains("Registered Model with name=new not found"),
            "{e}"
        );
        // The name is free again and numbering restarts with the new model.
        c.create_registered_model("new", None, &[]).await.unwrap();
        let mv = c
            .create_model_version("new", &format!("runs:/{run}/model"), Some(&run))
            .await
            .unwrap();
        assert_eq!(mv.version, "1");
    }

    async fn sources_must_belong_to_the_run_or_model_they_name(s) {
        let run = run_in_new_experiment(&s, "reg-sources").await;
        let c = &s.client;
        c.create_registered_model("src", None, &[]).await.unwrap();
        let info = c.get_run(&run).await.unwrap().info;
        // Inside the run's artifacts: fine. Outside it, or another run's: refused.
        let inside = format!("{}/model", info.artifact_uri);
        c.create_model_version("src", &inside, Some(&run))
            .await
            .unwrap();
        for (source, run_id) in [
            (format!("runs:/{run}/model"), None),
            (
                "runs:/0123456789abcdef0123456789abcdef/model".to_string(),
                Some(run.as_str()),
            ),
            (
                "mlflow-artifacts:/0/elsewhere/model".to_string(),
                Some(run.as_str()),
            ),
            (
                format!("{}/../../secret", info.artifact_uri),
                Some(run.as_str()),
            ),
            ("/etc/passwd".to_string(), Some(run.as_str())),
        ] {
            let e = c
                .create_model_version("src", &source, run_id)
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue), "{source}");
        }
        // An object-store source names no run of cairn's: taken as given.
        c.create_model_version("src", "s3://bucket/models/m1", None)
            .await
            .unwrap();
        let e = c
            .create_model_version("missing", "s3://bucket/m", None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ResourceDoesNotExist));
        // Nothing half-written: only the two accepted versions exist.
        let all = c
            .search_model_versions(Some("name = 'src'"), &[], None, None)
            .await
            .unwrap();
        assert_eq!(all.items.len(), 2);
    }
}
