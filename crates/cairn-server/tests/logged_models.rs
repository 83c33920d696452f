//! MLflow 3's logged models over HTTP, in the order `log_model` and
//! `register_model` call them.

use cairn_testkit::on_both_backends;

use cairn_core::ErrorCode;
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends! {
    async fn log_model_then_register_it_as_the_client_does(s) {
        let c = &s.client;
        let exp = c.create_experiment("lm", &[]).await.unwrap();
        let run = c
            .create_run(&exp, Some("train"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;

        // 1. create: PENDING, under the experiment's artifact location.
        let created: Value = c
            .post(
                "logged-models",
                &json!({"experiment_id": exp, "name": "model", "source_run_id": run,
                        "params": [{"key": "lr", "value": "0.1"}],
                        "tags": [{"key": "mlflow.source.type", "value": "LOCAL"}]}),
            )
            .await
            .unwrap();
        let info = &created["model"]["info"];
        let id = info["model_id"].as_str().unwrap().to_string();
        assert!(id.starts_with("m-") && id.len() == 34, "{id}");
        assert_eq!(info["status"], "LOGGED_MODEL_PENDING");
        assert_eq!(
            info["artifact_uri"],
            format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
        );
        assert_eq!(
            created["model"]["data"]["params"],
            json!([{"key": "lr", "value": "0.1"}])
        );

        // 2. run outputs and the run's metrics re-logged with the model id.
        c.post::<Value>(
            "runs/outputs",
            &json!({"run_id": run, "models": [{"model_id": id, "step": 0}]}),
        )
        .await
        .unwrap();
        c.post::<Value>(
            "runs/log-batch",
            &json!({"run_id": run, "metrics": [
                {"key": "acc", "value": 0.9, "timestamp": 1, "step": 0, "model_id": id}]}),
        )
        .await
        .unwrap();
        let run_view = c.get_run(&run).await.unwrap();
        assert_eq!(run_view.outputs.model_outputs[0].model_id, id);

        // 3. finalize READY; PENDING is not a final status.
        let e = c
            .send::<Value>(
                Method::PATCH,
                &format!("logged-models/{id}"),
                &json!({"status": "LOGGED_MODEL_PENDING"}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));
        let ready: Value = c
            .send(
                Method::PATCH,
                &format!("logged-models/{id}"),
                &json!({"status": "LOGGED_MODEL_READY"}),
            )
            .await
            .unwrap();
        assert_eq!(ready["model"]["info"]["status"], "LOGGED_MODEL_READY");
        let got: Value = c.get(&format!("logged-models/{id}"), &[]).await.unwrap();
        let metrics = &got["model"]["data"]["metrics"];
        assert_eq!(metrics[0]["key"], "acc");
        assert_eq!(metrics[0]["run_id"], run.as_str());

        // 4. search as `runs:/<run>/model` resolution does.
        let found: Value = c
            .post(
                "logged-models/search",
                &json!({"experiment_ids": [exp], "filter": "name = 'model'"}),
            )
            .await
            .unwrap();
        assert_eq!(found["models"].as_array().unwrap().len(), 1);
        let none: Value = c
            .post(
                "logged-models/search",
                &json!({"experiment_ids": [exp], "filter": "name = 'other' AND status = 'READY'"}),
            )
            .await
            .unwrap();
        assert!(none.get("models").is_none(), "{none}");
        let e = c
            .post::<Value>(
                "logged-models/search",
                &json!({"experiment_ids": [exp], "filter": "color = 'red'"}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));

        // 5. register from models:/<id>: the version's files are the model's.
        c.create_registered_model("Served", None, &[])
            .await
            .unwrap();
        let mv: Value = c
            .post(
                "model-versions/create",
                &json!({"name": "Served", "source": format!("models:/{id}"), "model_id": id}),
            )
            .await
            .unwrap();
        assert_eq!(mv["model_version"]["run_id"], run.as_str());
        assert_eq!(mv["model_version"]["model_id"], id.as_str());
        assert_eq!(
            c.get_model_version_download_uri("Served", "1")
                .await
                .unwrap(),
            format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
        );
        let got: Value = c.get(&format!("logged-models/{id}"), &[]).await.unwrap();
        let tags = got["model"]["info"]["tags"].as_array().unwrap();
        let versions = tags
            .iter()
            .find(|t| t["key"] == "mlflow.modelVersions")
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(versions["value"].as_str().unwrap()).unwrap(),
            json!([{"name": "Served", "version": 1}])
        );
        // A source naming another model than model_id is refused.
        let e = c
            .post::<Value>(
                "model-versions/create",
                &json!({"name": "Served", "source": "models:/m-0123456789abcdef0123456789abcdef", "model_id": id}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));

        // 6. tags, params, delete.
        c.send::<Value>(
            Method::PATCH,
            &format!("logged-models/{id}/tags"),
            &json!({"tags": [{"key": "k", "value": "v"}]}),
        )
        .await
        .unwrap();
        c.send::<Value>(
            Method::DELETE,
            &format!("logged-models/{id}/tags/k"),
            &json!({}),
        )
        .await
        .unwrap();
        let e = c
            .send::<Value>(
                Method::DELETE,
                &format!("logged-models/{id}/tags/k"),
                &json!({}),
            )
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        c.send::<Value>(Method::DELETE, &format!("logged-models/{id}"), &json!({}))
            .await
            .unwrap();
        let e = c
            .get::<Value>(&format!("logged-models/{id}"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (Some(404), Some(ErrorCode::ResourceDoesNotExist))
        );
    }

    async fn logged_models_need_a_live_experiment(s) {
        let c = &s.client;
        let e = c
            .post::<Value>("logged-models", &json!({"experiment_id": "424242"}))
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        let e = c
            .post::<Value>("logged-models", &json!({}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("experiment_id"), "{e}");
        let exp = c.create_experiment("gone", &[]).await.unwrap();
        c.delete_experiment(&exp).await.unwrap();
        let e = c
            .post::<Value>("logged-models", &json!({"experiment_id": exp}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InvalidParameterValue));
    }
}
