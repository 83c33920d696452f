//! A PostgreSQL database per test.
//!
//! Tests that need PostgreSQL get a database of their own (`cairn_t_<uuid>`), made on
//! the server `CAIRN_TEST_POSTGRES` names (default: the trust-auth server at
//! 127.0.0.1:5432, database `test`) and dropped when the test ends, so tests stay
//! parallel. Where no PostgreSQL answers, a test skips with a message saying so;
//! under CI (`CI` set) it fails instead, because there it must run.

use sqlx::Connection;

/// The server test databases are made on, as an admin URL.
pub fn postgres_admin_url() -> String {
    std::env::var("CAIRN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/test".to_string())
}

/// A database for one test, dropped (connections and all) when this is dropped.
pub struct TestPostgres {
    admin: String,
    pub name: String,
    pub url: String,
}

impl TestPostgres {
    /// A new empty database, or `None` (after saying why) when no PostgreSQL answers
    /// outside CI. Under CI a missing server is a failure.
    pub async fn create(test: &str) -> Option<TestPostgres> {
        let admin = postgres_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => {
                crate::skip_or_fail_named(
                    test,
                    &format!(
                        "PostgreSQL at {admin} ({e}); set CAIRN_TEST_POSTGRES to a server where \
                         this user may create databases"
                    ),
                );
                return None;
            }
        };
        let name = format!("cairn_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin}: {e}"));
        let _ = conn.close().await;
        let (base, _) = admin
            .rsplit_once('/')
            .expect("CAIRN_TEST_POSTGRES names a database");
        Some(TestPostgres {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }
}

impl TestPostgres {
    /// Ends every other session on this database, as a server restart or a failover
    /// would; returns how many there were.
    pub async fn terminate_connections(&self) -> usize {
        let mut conn = sqlx::PgConnection::connect(&self.admin)
            .await
            .expect("admin connection");
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .fetch_all(&mut conn)
        .await
        .expect("pg_terminate_backend");
        let _ = conn.close().await;
        ended.len()
    }
}

impl TestPostgres {
    /// Drops the database now, ending its sessions, as a lost or wiped database
    /// would look to a server still using it.
    pub async fn drop_database(&self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin)
            .await
            .expect("admin connection");
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("DROP DATABASE");
        let _ = conn.close().await;
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside or outside a runtime; a thread of its own works for both.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}
