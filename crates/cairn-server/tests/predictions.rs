//! The prediction log's API (`/api/2.0/cairn/predictions/...`), on both backends:
//! batches are written whole or not at all, and read back per version, entity and
//! request, page by page.

use cairn_testkit::on_both_backends;

use cairn_core::predictions::PredictionRecord;
use serde_json::json;

fn record(request: &str, row: i64, version: i64, entity: Option<&str>) -> PredictionRecord {
    PredictionRecord {
        request_id: request.into(),
        row_index: row,
        model_name: "churn".into(),
        model_version: version,
        alias: Some("champion".into()),
        entity_id: entity.map(str::to_string),
        timestamp_ms: 1_700_000_000_000 + row,
        inputs: json!({"tenure": row, "plan": "basic"}),
        outputs: json!({"label": row % 2, "probabilities": [0.25, 0.75]}),
        shadow: false,
        ground_truth: None,
    }
}

on_both_backends! {
    async fn a_batch_is_logged_and_read_back_by_version_entity_and_page(s) {
        let batch: Vec<_> = (0..5)
            .map(|i| record("req-1", i, 1 + i % 2, Some(&format!("customer-{i}"))))
            .chain([record("req-2", 0, 2, None)])
            .collect();
        s.client.log_predictions(&batch).await.unwrap();

        let all = s.client.search_predictions("churn", &[]).await.unwrap();
        assert_eq!(all.items, batch, "everything, oldest first, as written");
        let v2 = s
            .client
            .search_predictions("churn", &[("model_version", "2".into())])
            .await
            .unwrap();
        assert_eq!(v2.items.iter().map(|r| r.row_index).collect::<Vec<_>>(), [1, 3, 0]);
        let one = s
            .client
            .search_predictions("churn", &[("entity_id", "customer-3".into())])
            .await
            .unwrap();
        assert_eq!(one.items, [batch[3].clone()]);
        let by_request = s
            .client
            .search_predictions("churn", &[("request_id", "req-2".into())])
            .await
            .unwrap();
        assert_eq!(by_request.items, [batch[5].clone()]);

        // Pages of two, stitched back together.
        let mut token: Option<String> = None;
        let mut pages = Vec::new();
        loop {
            let mut q = vec![("max_results", "2".to_string())];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let page = s.client.search_predictions("churn", &q).await.unwrap();
            pages.extend(page.items);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(pages, batch);
        assert!(s.client.search_predictions("other", &[]).await.unwrap().items.is_empty());
    }

    async fn a_bad_record_rejects_its_whole_batch(s) {
        let mut bad = record("req-9", 1, 0, None);
        bad.model_version = 0;
        let err = s
            .client
            .log_predictions(&[record("req-9", 0, 1, None), bad])
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert!(err.to_string().contains("predictions[1].model_version"), "{err}");
        assert!(s.client.search_predictions("churn", &[]).await.unwrap().items.is_empty());

        let err = s
            .client
            .search_predictions("churn", &[("max_results", "many".into())])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("max_results"), "{err}");
        let err = s.client.search_predictions("", &[]).await.unwrap_err();
        assert!(err.to_string().contains("model_name"), "{err}");
    }
}
