//! cairn on databases it did not create, and databases it must refuse.

use cairn_server::{Server, ServerConfig};
use cairn_testkit::TestServer;

fn config(db: &std::path::Path) -> ServerConfig {
    ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        backend_store_uri: format!("sqlite:///{}", db.display()).into(),
        default_artifact_root: "mlflow-artifacts:/".into(),
        db_pool_size: cairn_store::DEFAULT_POOL_SIZE,
        jobs: None,
        contracts: None,
        artifacts_destination: db.with_file_name("artifacts").display().to_string().into(),
    }
}

#[tokio::test]
async fn data_survives_a_restart() {
    let s = TestServer::spawn().await;
    let id = s.client.create_experiment("kept", &[]).await.unwrap();
    let run = s
        .client
        .create_run(&id, Some("r"), None, &[])
        .await
        .unwrap()
        .info
        .run_id;
    s.client.log_param(&run, "p", "1").await.unwrap();
    let (dir, db) = s.stop().await;
    let s = TestServer::spawn_on(dir, db).await;
    assert_eq!(s.client.get_run(&run).await.unwrap().data.params.len(), 1);
    assert_eq!(s.client.get_experiment(&id).await.unwrap().name, "kept");
}

#[tokio::test]
async fn another_alembic_revision_is_refused_with_both_revisions_named() {
    let s = TestServer::spawn().await;
    let (dir, db) = s.stop().await;
    edit_database(&db, "UPDATE alembic_version SET version_num = '0123abcd'").await;
    let err = Server::start(&config(&db)).await.err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("'0123abcd'") && msg.contains("dc11669786a5"),
        "{msg}"
    );
    drop(dir);
}

#[tokio::test]
async fn a_database_that_is_not_mlflows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("other.db");
    edit_database(&db, "CREATE TABLE something (x INTEGER)").await;
    let err = Server::start(&config(&db)).await.err().expect("refused");
    assert!(err.to_string().contains("not an MLflow database"), "{err}");
}

/// Edits a database behind cairn's back, as another tool would.
async fn edit_database(db: &std::path::Path, sql: &'static str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
}
