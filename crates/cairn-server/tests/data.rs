//! The data-contract API over real HTTP, on both backends: the catalog read from the
//! watched contracts folder, a check run on the server and one sent by a client,
//! the quality history, a field's users and profile, search and a view's rows, and
//! bad input refused with the field named.

use cairn_client::ClientError;
use cairn_testkit::TestServer;

const VIEW: &str = "view: trips\ndescription: taxi trips\nsource: trips.csv\nentity: trip_id\n\
fields:\n  trip_id: {type: int, required: true, unique: true}\n  \
fare: {type: float, min: 0, description: fare in dollars, tags: [money]}\n  \
payment: {type: string, accepted_values: [cash, card]}\n";

const CONTRACT: &str = "contract: fare_model\nmodel: fares\nfeatures: [trips.payment]\n\
label: {field: trips.fare, task: regression}\n";

async fn seeded(s: &TestServer) {
    let dir = s.dir.path().join("contracts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("trips.csv"),
        "trip_id,fare,payment\n1,12.5,cash\n2,-3,card\n3,8,crypto\n3,7,card\n",
    )
    .unwrap();
    std::fs::write(dir.join("trips.yaml"), VIEW).unwrap();
    std::fs::write(dir.join("fare_model.yaml"), CONTRACT).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "view: x\nsource: a.csv\nfields: {a: {type: blob}}\n",
    )
    .unwrap();
    for _ in 0..200 {
        let c = s.client.data_catalog().await.unwrap();
        if c.views.len() == 1 && c.contracts.len() == 1 && c.refused.len() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the contracts folder was not read");
}

async fn the_data_api(s: &TestServer) {
    seeded(s).await;
    let c = &s.client;
    let catalog = c.data_catalog().await.unwrap();
    assert_eq!(catalog.views[0].name, "trips");
    assert_eq!(catalog.views[0].definition["fields"][1]["name"], "fare");
    assert!(
        catalog.refused[0].error.contains("broken.yaml, line 3"),
        "{:?}",
        catalog.refused
    );

    // Checked on the server: a negative fare, an unknown payment, a repeated id.
    let check = c.run_data_check("trips").await.unwrap();
    assert!(!check.passed);
    assert_eq!(check.violations, 3);
    assert_eq!(check.rows, 4);
    let full = c.data_check(check.id).await.unwrap();
    let fare = &full.report["views"][0]["fields"][1];
    assert_eq!(fare["field"], "fare");
    assert_eq!(fare["constraints"][1]["constraint"], "min >= 0");
    assert_eq!(fare["constraints"][1]["examples"][0]["entity"], "2");

    // The contract reads payment and fare, with the entity: 2 of the 3 violations.
    let contract = c.run_data_check("fare_model").await.unwrap();
    assert_eq!(
        (contract.kind.as_str(), contract.violations),
        ("contract", 3)
    );

    // A check made elsewhere is kept as sent.
    let mut report = full.report.clone();
    report["target"] = "trips".into();
    let kept = c
        .create_data_check(report, Some("0123456789abcdef0123456789abcdef".into()))
        .await
        .unwrap();
    let history = c.data_checks(Some("trips")).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id, kept.id, "newest first");
    assert_eq!(
        history[0].job_run_id.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        history[0].report,
        serde_json::json!({}),
        "lists leave the report out"
    );

    // A field: who reads it, and its part of the last check.
    let field = c.data_field("trips", "fare").await.unwrap();
    assert_eq!(field.used_by.len(), 1);
    assert_eq!(field.used_by[0].role, "label");
    assert_eq!(field.used_by[0].model.as_deref(), Some("fares"));
    assert_eq!(field.last_check.unwrap()["min"], "-3.0");

    // Search and rows.
    let hits = c.search_data_fields("MONEY").await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].field, "fare");
    let rows = c.view_rows("trips", 2).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["payment"], "card");

    // Bad input: named, with MLflow's codes and statuses.
    let err = c.run_data_check("nope").await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    let err = c
        .create_data_check(serde_json::json!({"target": "trips"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        matches!(&err, ClientError::Api { message, .. } if message.contains("report")),
        "{err}"
    );
    let err = c.data_check(999_999).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = c.data_field("trips", "tip").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_api_on_sqlite() {
    the_data_api(&TestServer::spawn().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_api_on_postgres() {
    let Some(s) = TestServer::spawn_postgres("data_api").await else {
        return;
    };
    the_data_api(&s).await;
}
