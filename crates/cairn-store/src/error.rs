use cairn_core::MlflowError;

/// What can go wrong in a store: a rule the data broke (with its MLflow error code), a
/// database failure, or a database cairn must not touch.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Mlflow(#[from] MlflowError),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("the store is closed")]
    Closed,
    #[error("the transaction could not be committed; nothing of it was written")]
    CommitFailed,
    #[error("a database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "the database is at MLflow schema revision '{found}', but this cairn supports only \
         '{supported}' (mlflow {mlflow_version}); upgrade it with `mlflow db upgrade` from \
         mlflow {mlflow_version}, or point cairn at a new database"
    )]
    SchemaRevision {
        found: String,
        supported: &'static str,
        mlflow_version: &'static str,
    },
    #[error("the database has tables but no alembic_version table, so it is not an MLflow database: {0}")]
    NotMlflowDatabase(String),
    #[error("unsupported backend store URI '{0}': use sqlite:///<path> or postgresql://user@host:port/db")]
    UnsupportedUri(String),
    #[error("PostgreSQL error: {0}")]
    Postgres(sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Constraint violations are the client's: a name taken between the check and the
/// insert by another replica, or a value longer than MLflow's column. Everything else
/// stays a database error.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            let detail = d.message().to_string();
            match d.code().as_deref() {
                Some("23505") => return StoreError::Mlflow(MlflowError::already_exists(detail)),
                Some("22001") => {
                    return StoreError::Mlflow(MlflowError::invalid_parameter(format!(
                        "a value is longer than its column allows: {detail}"
                    )))
                }
                _ => {}
            }
        }
        StoreError::Postgres(e)
    }
}

impl StoreError {
    pub fn not_found(message: impl Into<String>) -> Self {
        StoreError::Mlflow(MlflowError::not_found(message))
    }
}

/// What a service's caller sees of a store failure. A rule the data broke keeps its
/// MLflow error; anything else (a database error, a closed store, a failed commit)
/// becomes the opaque `INTERNAL_ERROR`, because its text can carry hosts, SQL or
/// values. Its cause is logged here, once, inside the caller's span: the request
/// span of an HTTP call carries the request id.
impl From<StoreError> for MlflowError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Mlflow(e) => e,
            other => {
                tracing::error!(error = %other, "store failure");
                MlflowError::internal_opaque()
            }
        }
    }
}
