//! PostgreSQL-only behaviour: the server outlives its connections.

use cairn_core::entities::{KeyValue, Metric};
use cairn_testkit::TestServer;

#[tokio::test]
async fn lost_connections_are_replaced_without_failing_requests() {
    let Some(s) = TestServer::spawn_postgres(module_path!()).await else {
        return;
    };
    let db = s.postgres.as_ref().unwrap();
    let c = &s.client;
    let exp = c.create_experiment("survivor", &[]).await.unwrap();
    let run = c
        .create_run(&exp, None, None, &[])
        .await
        .unwrap()
        .info
        .run_id;
    for round in 0..3 {
        let killed = db.terminate_connections().await;
        assert!(killed > 0, "the server held no connection to end");
        // Reads and writes after the loss succeed: dead connections are noticed before
        // use and replaced.
        let metric = Metric {
            key: "loss".into(),
            value: round as f64,
            timestamp: 1_700_000_000_000,
            step: round,
            run_id: None,
            model_id: None,
        };
        c.log_batch(
            &run,
            &[metric],
            &[],
            &[KeyValue::new("round", round.to_string())],
        )
        .await
        .unwrap();
        let got = c.get_run(&run).await.unwrap();
        assert_eq!(got.data.metrics[0].step, round);
    }
    assert_eq!(c.health().await.unwrap(), "OK");
}
