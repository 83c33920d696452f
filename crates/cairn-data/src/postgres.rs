//! A view's rows from a PostgreSQL table or query, streamed into DataFusion.
//!
//! No maintained crate reads PostgreSQL into DataFusion 55 without pinning another
//! DataFusion release (datafusion-table-providers follows its own), so this small
//! adapter does it with the sqlx pool cairn already uses: the view's fields are
//! selected as text (`"field"::text`), rows are gathered into Arrow batches of 8,192
//! and handed over a channel of two batches, so a table of any size is read in
//! bounded memory. As for CSV, the check then casts each field to its declared type,
//! so a value that does not read as its type is a violation, not a failed query.
//! Every query of a check (the aggregate, examples, top values) runs the SQL again.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::StreamExt;
use sqlx::{Column, Executor, Row};

use crate::spec::{PgSource, PgTarget};
use crate::{DataError, Result};

const BATCH_ROWS: usize = 8192;

/// `"a"."b"` for `a.b`, each part quoted.
fn quote_path(path: &str) -> String {
    path.split('.')
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The connection URL: from the environment variable the view names, or as
/// written. Never printed: errors name the variable or say "the view's URL".
fn url(source: &PgSource) -> Result<String> {
    match (&source.url_env, &source.url) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            DataError::Source(format!(
                "the environment variable {var} (the view's PostgreSQL URL) is not set"
            ))
        }),
        (None, Some(url)) => Ok(url.clone()),
        (None, None) => Err(DataError::Source("the view names no PostgreSQL URL".into())),
    }
}

fn from_clause(source: &PgSource) -> String {
    match &source.target {
        PgTarget::Table(t) => quote_path(t),
        PgTarget::Query(q) => format!("({q}) AS cairn_view"),
    }
}

/// A DataFrame over the view's fields that the table or query has (as text), and
/// the column names it has.
pub(crate) async fn open(
    ctx: &SessionContext,
    view: &str,
    source: &PgSource,
    fields: &[String],
) -> Result<DataFrame> {
    // sqlx's messages name the host and user, never the password.
    let fail = |e: sqlx::Error| DataError::Source(format!("view `{view}`: PostgreSQL: {e}"));
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url(source)?)
        .await
        .map_err(fail)?;
    let from = from_clause(source);
    let described = pool
        .describe(&format!("SELECT * FROM {from}"))
        .await
        .map_err(fail)?;
    let present: Vec<String> = described
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .filter(|c| fields.is_empty() || fields.contains(c))
        .collect();
    let select = if present.is_empty() {
        "1 AS cairn_one".to_string()
    } else {
        present
            .iter()
            .map(|c| format!("{}::text AS {}", quote(c), quote(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names = if present.is_empty() {
        vec!["cairn_one".to_string()]
    } else {
        present
    };
    let schema: SchemaRef = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| ArrowField::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let partition = Arc::new(PgPartition {
        pool,
        sql: format!("SELECT {select} FROM {from}"),
        schema: schema.clone(),
    });
    let table = StreamingTable::try_new(schema, vec![partition])
        .map_err(|e| DataError::Source(e.to_string()))?;
    ctx.read_table(Arc::new(table))
        .map_err(|e| DataError::Source(e.to_string()))
}

#[derive(Debug)]
struct PgPartition {
    pool: sqlx::PgPool,
    sql: String,
    schema: SchemaRef,
}

impl PartitionStream for PgPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<datafusion::error::Result<RecordBatch>>(2);
        let (pool, sql, schema) = (self.pool.clone(), self.sql.clone(), self.schema.clone());
        tokio::spawn(async move {
            let mut rows = sqlx::query(&sql).fetch(&pool);
            let width = schema.fields().len();
            let mut builders: Vec<StringBuilder> =
                (0..width).map(|_| StringBuilder::new()).collect();
            let mut n = 0usize;
            let flush =
                |builders: &mut Vec<StringBuilder>| -> datafusion::error::Result<RecordBatch> {
                    let columns: Vec<ArrayRef> = builders
                        .iter_mut()
                        .map(|b| Arc::new(b.finish()) as ArrayRef)
                        .collect();
                    RecordBatch::try_new(schema.clone(), columns).map_err(Into::into)
                };
            while let Some(row) = rows.next().await {
                let row = match row {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx
                            .send(Err(datafusion::error::DataFusionError::External(
                                e.to_string().into(),
                            )))
                            .await;
                        return;
                    }
                };
                for (i, b) in builders.iter_mut().enumerate() {
                    match row.try_get::<Option<String>, _>(i) {
                        Ok(v) => b.append_option(v),
                        Err(_) => b.append_null(),
                    }
                }
                n += 1;
                if n == BATCH_ROWS {
                    n = 0;
                    if tx.send(flush(&mut builders)).await.is_err() {
                        return; // the query stopped reading (a LIMIT).
                    }
                }
            }
            if n > 0 {
                let _ = tx.send(flush(&mut builders)).await;
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}
