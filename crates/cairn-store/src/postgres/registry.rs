//! [`RegistryStore`] on PostgreSQL: MLflow's `registered_models`, `model_versions`,
//! their tag tables and `registered_model_aliases`, in the `default` workspace.
//!
//! Writes that depend on a model's current state (the next version number, a rename)
//! first lock that model's row, so replicas writing to one model queue behind each
//! other instead of computing the same number.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_core::entities::{KeyValue, Page};
use cairn_core::page_token;
use cairn_core::registry::{
    AliasEvent, ModelVersion, RegisteredModel, RegisteredModelAlias, Stage, DELETED_STAGE,
};
use cairn_core::search::RegistryAttr;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::exec::{write_tx, Cols};
use super::tracking::fetch;
use super::PgStore;
use crate::shared::{
    model_exists, model_not_found, version_not_found, MODEL_COLUMNS, VERSION_COLUMNS,
};
use crate::sql::search::{push_registry_clause, push_registry_order};
use crate::sql::Sql;
use crate::types::{NewModelVersion, RegistrySearch};
use crate::{RegistryStore, Result, StoreError};

fn registered_model(row: &PgRow) -> Result<RegisteredModel> {
    Ok(RegisteredModel {
        name: row.text(0)?,
        creation_timestamp: row.opt_int(1)?,
        last_updated_timestamp: row.opt_int(2)?,
        description: row.opt_text(3)?,
        latest_versions: Vec::new(),
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

fn model_version(row: &PgRow) -> Result<ModelVersion> {
    let source = row.opt_text(7)?;
    // MLflow's SQL store keeps no model id column; a `models:/m-...` source names it.
    let model_id = source
        .as_deref()
        .and_then(cairn_core::logged_model::model_id_of_uri)
        .map(str::to_string);
    Ok(ModelVersion {
        name: row.text(0)?,
        version: row.int(1)?.to_string(),
        creation_timestamp: row.opt_int(2)?,
        last_updated_timestamp: row.opt_int(3)?,
        description: row.opt_text(4)?,
        user_id: row.opt_text(5)?,
        current_stage: row
            .opt_text(6)?
            .unwrap_or_else(|| Stage::None.as_str().to_string()),
        source,
        run_id: row.opt_text(8)?,
        status: row.opt_text(9)?.unwrap_or_else(|| "READY".to_string()),
        status_message: row.opt_text(10)?,
        tags: Vec::new(),
        run_link: row.opt_text(11)?,
        aliases: Vec::new(),
        model_id,
    })
}

/// Adds tags and aliases to versions, two queries per page.
async fn complete_versions(conn: &mut PgConnection, versions: &mut [ModelVersion]) -> Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let mut names: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
    names.sort();
    names.dedup();
    let mut tags: HashMap<(String, String), Vec<KeyValue>> = HashMap::new();
    for r in sqlx::query(
        "SELECT name, version, \"key\", value FROM model_version_tags \
         WHERE workspace = 'default' AND name = ANY($1) ORDER BY \"key\"",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?
    {
        tags.entry((r.text(0)?, r.int(1)?.to_string()))
            .or_default()
            .push(KeyValue::new(r.text(2)?, r.text_or_empty(3)?));
    }
    let mut aliases: HashMap<(String, String), Vec<String>> = HashMap::new();
    for r in sqlx::query(
        "SELECT name, version, alias FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = ANY($1) ORDER BY alias",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?
    {
        aliases
            .entry((r.text(0)?, r.int(1)?.to_string()))
            .or_default()
            .push(r.text(2)?);
    }
    for v in versions {
        let key = (v.name.clone(), v.version.clone());
        v.tags = tags.remove(&key).unwrap_or_default();
        v.aliases = aliases.remove(&key).unwrap_or_default();
    }
    Ok(())
}

/// Adds tags, aliases and the latest version per stage to registered models.
async fn complete_models(conn: &mut PgConnection, models: &mut [RegisteredModel]) -> Result<()> {
    if models.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    for r in sqlx::query(
        "SELECT name, \"key\", value FROM registered_model_tags \
         WHERE workspace = 'default' AND name = ANY($1) ORDER BY \"key\"",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?
    {
        tags.entry(r.text(0)?)
            .or_default()
            .push(KeyValue::new(r.text(1)?, r.text_or_empty(2)?));
    }
    let mut aliases: HashMap<String, Vec<RegisteredModelAlias>> = HashMap::new();
    for r in sqlx::query(
        "SELECT name, alias, version FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = ANY($1) ORDER BY alias",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?
    {
        aliases
            .entry(r.text(0)?)
            .or_default()
            .push(RegisteredModelAlias {
                alias: r.text(1)?,
                version: r.int(2)?.to_string(),
            });
    }
    // The newest version in each stage, as MLflow's `latest_versions`.
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv JOIN (SELECT name, current_stage, \
         MAX(version) AS version FROM model_versions WHERE workspace = 'default' AND \
         current_stage != '{DELETED_STAGE}' AND name = ANY($1) GROUP BY name, current_stage) \
         latest ON mv.workspace = 'default' AND latest.name = mv.name \
         AND latest.version = mv.version ORDER BY mv.version"
    ))
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    let mut latest = rows.iter().map(model_version).collect::<Result<Vec<_>>>()?;
    complete_versions(conn, &mut latest).await?;
    let mut by_model: HashMap<String, Vec<ModelVersion>> = HashMap::new();
    for v in latest {
        by_model.entry(v.name.clone()).or_default().push(v);
    }
    for m in models {
        m.tags = tags.remove(&m.name).unwrap_or_default();
        m.aliases = aliases.remove(&m.name).unwrap_or_default();
        m.latest_versions = by_model.remove(&m.name).unwrap_or_default();
    }
    Ok(())
}

async fn get_model(conn: &mut PgConnection, name: &str) -> Result<Option<RegisteredModel>> {
    let sql = Sql::postgres(format!(
        "SELECT {MODEL_COLUMNS} FROM registered_models rm \
         WHERE rm.workspace = 'default' AND rm.name = $1"
    ))
    .arg(name);
    let mut found = fetch(&mut *conn, &sql, registered_model).await?;
    complete_models(conn, &mut found).await?;
    Ok(found.pop())
}

async fn require_model(conn: &mut PgConnection, name: &str) -> Result<RegisteredModel> {
    get_model(conn, name)
        .await?
        .ok_or_else(|| model_not_found(name))
}

/// Takes the model's row lock for the rest of the transaction; RESOURCE_DOES_NOT_EXIST
/// when there is no such model.
async fn lock_model(conn: &mut PgConnection, name: &str) -> Result<()> {
    sqlx::query(
        "SELECT 1 FROM registered_models WHERE workspace = 'default' AND name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(conn)
    .await?
    .map(|_| ())
    .ok_or_else(|| model_not_found(name))
}

async fn get_version(
    conn: &mut PgConnection,
    name: &str,
    version: i64,
) -> Result<Option<ModelVersion>> {
    let sql = Sql::postgres(format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' \
         AND mv.name = $1 AND mv.version = $2 AND mv.current_stage != '{DELETED_STAGE}'"
    ))
    .arg(name)
    .arg(version);
    let mut found = fetch(&mut *conn, &sql, model_version).await?;
    complete_versions(conn, &mut found).await?;
    Ok(found.pop())
}

async fn require_version(
    conn: &mut PgConnection,
    name: &str,
    version: i64,
) -> Result<ModelVersion> {
    get_version(conn, name, version)
        .await?
        .ok_or_else(|| version_not_found(name, version))
}

async fn touch_model(conn: &mut PgConnection, name: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE registered_models SET last_updated_time = $2 \
         WHERE workspace = 'default' AND name = $1",
    )
    .bind(name)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_model_tag(
    conn: &mut PgConnection,
    name: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO registered_model_tags (\"key\", value, name) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace, \"key\", name) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .bind(name)
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_version_tag(
    conn: &mut PgConnection,
    name: &str,
    version: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO model_version_tags (\"key\", value, name, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace, \"key\", name, version) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .bind(name)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

async fn create_model(
    conn: &mut PgConnection,
    name: &str,
    description: Option<&str>,
    tags: &[KeyValue],
    now_ms: i64,
) -> Result<RegisteredModel> {
    let inserted = sqlx::query(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) \
         VALUES ($1, $2, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(now_ms)
    .bind(description)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(model_exists(name));
    }
    for t in tags {
        upsert_model_tag(conn, name, &t.key, &t.value).await?;
    }
    require_model(conn, name).await
}

async fn rename_model(
    conn: &mut PgConnection,
    name: &str,
    new_name: &str,
    now_ms: i64,
) -> Result<RegisteredModel> {
    lock_model(conn, name).await?;
    if name != new_name && get_model(conn, new_name).await?.is_some() {
        return Err(model_exists(new_name));
    }
    // MLflow's foreign keys carry the new name to versions, tags and aliases
    // (ON UPDATE CASCADE), and PostgreSQL enforces them.
    sqlx::query(
        "UPDATE registered_models SET name = $2, last_updated_time = $3 \
         WHERE workspace = 'default' AND name = $1",
    )
    .bind(name)
    .bind(new_name)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE cairn_alias_events SET name = $2 WHERE name = $1")
        .bind(name)
        .bind(new_name)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE model_versions SET last_updated_time = $2 WHERE workspace = 'default' AND name = $1",
    )
    .bind(new_name)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    require_model(conn, new_name).await
}

async fn delete_model(conn: &mut PgConnection, name: &str) -> Result<()> {
    lock_model(conn, name).await?;
    for table in [
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace = 'default' AND name = $1"
        ))
        .bind(name)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM cairn_alias_events WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn create_version(conn: &mut PgConnection, new: &NewModelVersion) -> Result<ModelVersion> {
    lock_model(conn, &new.name).await?;
    let version: i32 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions \
         WHERE workspace = 'default' AND name = $1",
    )
    .bind(&new.name)
    .fetch_one(&mut *conn)
    .await?;
    let version = i64::from(version);
    sqlx::query(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, \
         description, current_stage, source, run_id, status, run_link, storage_location) \
         VALUES ($1, $2, $3, $3, $4, 'None', $5, $6, 'READY', $7, $8)",
    )
    .bind(&new.name)
    .bind(version)
    .bind(new.now_ms)
    .bind(&new.description)
    .bind(&new.source)
    .bind(&new.run_id)
    .bind(&new.run_link)
    .bind(&new.storage_location)
    .execute(&mut *conn)
    .await?;
    for t in &new.tags {
        upsert_version_tag(conn, &new.name, version, &t.key, &t.value).await?;
    }
    touch_model(conn, &new.name, new.now_ms).await?;
    require_version(conn, &new.name, version).await
}

async fn transition_stage(
    conn: &mut PgConnection,
    name: &str,
    version: i64,
    stage: Stage,
    archive_existing: bool,
    now_ms: i64,
) -> Result<ModelVersion> {
    lock_model(conn, name).await?;
    require_version(conn, name, version).await?;
    if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
        sqlx::query(
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $4 \
             WHERE workspace = 'default' AND name = $1 AND version != $2 AND current_stage = $3",
        )
        .bind(name)
        .bind(version)
        .bind(stage.as_str())
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE model_versions SET current_stage = $3, last_updated_time = $4 \
         WHERE workspace = 'default' AND name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(stage.as_str())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    touch_model(conn, name, now_ms).await?;
    require_version(conn, name, version).await
}

async fn delete_version(
    conn: &mut PgConnection,
    name: &str,
    version: i64,
    now_ms: i64,
) -> Result<()> {
    lock_model(conn, name).await?;
    require_version(conn, name, version).await?;
    sqlx::query(
        "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
         SELECT name, alias, version, NULL, $3 FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    for table in ["registered_model_aliases", "model_version_tags"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace = 'default' AND name = $1 AND version = $2"
        ))
        .bind(name)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    }
    // As MLflow's SQL store: the row stays so the number is never reused.
    sqlx::query(
        "UPDATE model_versions SET current_stage = $3, last_updated_time = $4, \
         description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = NULL, \
         run_link = NULL, status_message = NULL, storage_location = NULL \
         WHERE workspace = 'default' AND name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(DELETED_STAGE)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    touch_model(conn, name, now_ms).await
}

#[async_trait]
impl RegistryStore for PgStore {
    async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
        now_ms: i64,
    ) -> Result<RegisteredModel> {
        write_tx!(self.pool, |c| create_model(
            c,
            name,
            description,
            tags,
            now_ms
        )
        .await)
    }

    async fn get_registered_model(&self, name: &str) -> Result<Option<RegisteredModel>> {
        let mut conn = self.pool.acquire().await?;
        get_model(&mut conn, name).await
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        now_ms: i64,
    ) -> Result<RegisteredModel> {
        write_tx!(self.pool, |c| rename_model(c, name, new_name, now_ms).await)
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
        now_ms: i64,
    ) -> Result<RegisteredModel> {
        write_tx!(self.pool, |c| {
            let n = sqlx::query(
                "UPDATE registered_models SET description = $2, last_updated_time = $3 \
                 WHERE workspace = 'default' AND name = $1",
            )
            .bind(name)
            .bind(description)
            .bind(now_ms)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(model_not_found(name));
            }
            require_model(c, name).await
        })
    }

    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        write_tx!(self.pool, |c| delete_model(c, name).await)
    }

    async fn search_registered_models(&self, s: &RegistrySearch) -> Result<Page<RegisteredModel>> {
        let mut sql = Sql::postgres(format!(
            "SELECT {MODEL_COLUMNS} FROM registered_models rm WHERE rm.workspace = 'default'"
        ));
        for c in &s.filter {
            sql.push(" AND ");
            push_registry_clause(
                &mut sql,
                "rm",
                "registered_model_tags",
                "t.name = rm.name",
                c,
            );
        }
        push_registry_order(&mut sql, "rm", &s.order_by, &[(RegistryAttr::Name, "ASC")]);
        sql.push_page(s.max_results, s.offset);
        let mut conn = self.pool.acquire().await?;
        let mut items = fetch(&mut *conn, &sql, registered_model).await?;
        let has_more = items.len() as u64 > s.max_results;
        items.truncate(s.max_results as usize);
        complete_models(&mut conn, &mut items).await?;
        let next_page_token = page_token::next(s.offset, items.len(), s.max_results, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        write_tx!(self.pool, |c| {
            lock_model(c, name).await?;
            upsert_model_tag(c, name, key, value).await
        })
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        write_tx!(self.pool, |c| {
            lock_model(c, name).await?;
            sqlx::query(
                "DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = $1 \
                 AND \"key\" = $2",
            )
            .bind(name)
            .bind(key)
            .execute(&mut *c)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn create_model_version(&self, new: NewModelVersion) -> Result<ModelVersion> {
        write_tx!(self.pool, |c| create_version(c, &new).await)
    }

    async fn get_model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>> {
        let mut conn = self.pool.acquire().await?;
        get_version(&mut conn, name, version).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
        now_ms: i64,
    ) -> Result<ModelVersion> {
        write_tx!(self.pool, |c| {
            require_version(c, name, version).await?;
            sqlx::query(
                "UPDATE model_versions SET description = $3, last_updated_time = $4 \
                 WHERE workspace = 'default' AND name = $1 AND version = $2",
            )
            .bind(name)
            .bind(version)
            .bind(description)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
            require_version(c, name, version).await
        })
    }

    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        now_ms: i64,
    ) -> Result<ModelVersion> {
        write_tx!(self.pool, |c| transition_stage(
            c,
            name,
            version,
            stage,
            archive_existing,
            now_ms
        )
        .await)
    }

    async fn delete_model_version(&self, name: &str, version: i64, now_ms: i64) -> Result<()> {
        write_tx!(self.pool, |c| delete_version(c, name, version, now_ms)
            .await)
    }

    async fn search_model_versions(&self, s: &RegistrySearch) -> Result<Page<ModelVersion>> {
        let mut sql = Sql::postgres(format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' \
             AND mv.current_stage != '{DELETED_STAGE}'"
        ));
        for c in &s.filter {
            sql.push(" AND ");
            push_registry_clause(
                &mut sql,
                "mv",
                "model_version_tags",
                "t.name = mv.name AND t.version = mv.version",
                c,
            );
        }
        if s.order_by.is_empty() {
            sql.push(" ORDER BY mv.last_updated_time DESC, mv.name ASC, mv.version DESC");
        } else {
            push_registry_order(
                &mut sql,
                "mv",
                &s.order_by,
                &[(RegistryAttr::Name, "ASC"), (RegistryAttr::Version, "DESC")],
            );
        }
        sql.push_page(s.max_results, s.offset);
        let mut conn = self.pool.acquire().await?;
        let mut items = fetch(&mut *conn, &sql, model_version).await?;
        let has_more = items.len() as u64 > s.max_results;
        items.truncate(s.max_results as usize);
        complete_versions(&mut conn, &mut items).await?;
        let next_page_token = page_token::next(s.offset, items.len(), s.max_results, has_more);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        write_tx!(self.pool, |c| {
            require_version(c, name, version).await?;
            upsert_version_tag(c, name, version, key, value).await
        })
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        write_tx!(self.pool, |c| {
            require_version(c, name, version).await?;
            sqlx::query(
                "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = $1 \
                 AND version = $2 AND \"key\" = $3",
            )
            .bind(name)
            .bind(version)
            .bind(key)
            .execute(&mut *c)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        let found: Option<Option<String>> = sqlx::query_scalar(&format!(
            "SELECT COALESCE(storage_location, source) FROM model_versions WHERE \
             workspace = 'default' AND name = $1 AND version = $2 \
             AND current_stage != '{DELETED_STAGE}'"
        ))
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        found
            .ok_or_else(|| version_not_found(name, version))
            .map(Option::unwrap_or_default)
    }

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        now_ms: i64,
    ) -> Result<()> {
        write_tx!(self.pool, |c| {
            lock_model(c, name).await?;
            require_version(c, name, version).await?;
            sqlx::query(
                "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
                 SELECT $1, $2, (SELECT version FROM registered_model_aliases \
                 WHERE workspace = 'default' AND name = $1 AND alias = $2), $3, $4 \
                 WHERE (SELECT version FROM registered_model_aliases \
                 WHERE workspace = 'default' AND name = $1 AND alias = $2) IS DISTINCT FROM $3",
            )
            .bind(name)
            .bind(alias)
            .bind(version as i32)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "INSERT INTO registered_model_aliases (alias, version, name) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace, name, alias) DO UPDATE SET version = excluded.version",
            )
            .bind(alias)
            .bind(version)
            .bind(name)
            .execute(&mut *c)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn delete_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        now_ms: i64,
    ) -> Result<()> {
        write_tx!(self.pool, |c| {
            lock_model(c, name).await?;
            sqlx::query(
                "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
                 SELECT name, alias, version, NULL, $3 FROM registered_model_aliases \
                 WHERE workspace = 'default' AND name = $1 AND alias = $2",
            )
            .bind(name)
            .bind(alias)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = $1 \
                 AND alias = $2",
            )
            .bind(name)
            .bind(alias)
            .execute(&mut *c)
            .await?;
            Ok::<_, StoreError>(())
        })
    }

    async fn alias_history(&self, name: &str, limit: u32) -> Result<Vec<AliasEvent>> {
        let mut conn = self.pool.acquire().await?;
        require_model(&mut conn, name).await?;
        let rows: Vec<(String, Option<i32>, Option<i32>, i64)> = sqlx::query_as(
            "SELECT alias, from_version, to_version, time_ms FROM cairn_alias_events \
             WHERE name = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(name)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(alias, from, to, time_ms)| AliasEvent {
                alias,
                from_version: from.map(i64::from),
                to_version: to.map(i64::from),
                time_ms,
            })
            .collect())
    }

    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>> {
        let mut conn = self.pool.acquire().await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM registered_models WHERE workspace = 'default' \
             AND name = $1)",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
        if !exists {
            return Err(model_not_found(name));
        }
        let version: Option<i32> = sqlx::query_scalar(
            "SELECT version FROM registered_model_aliases WHERE workspace = 'default' \
             AND name = $1 AND alias = $2",
        )
        .bind(name)
        .bind(alias)
        .fetch_optional(&mut *conn)
        .await?;
        match version {
            Some(v) => get_version(&mut conn, name, i64::from(v)).await,
            None => Ok(None),
        }
    }
}
