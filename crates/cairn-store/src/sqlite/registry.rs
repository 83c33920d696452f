//! [`RegistryStore`] on SQLite: MLflow's `registered_models`, `model_versions`, their
//! tag tables and `registered_model_aliases`, in the `default` workspace.
//!
//! Every statement names `workspace = 'default'`: MLflow's keys on these tables begin
//! with the workspace column, so without it SQLite scans the whole table.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_core::entities::{KeyValue, Page};
use cairn_core::page_token;
use cairn_core::registry::{
    AliasEvent, ModelVersion, RegisteredModel, RegisteredModelAlias, Stage, DELETED_STAGE,
};
use cairn_core::search::RegistryAttr;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::tracking::{opt_text, query_all};
use super::SqliteStore;
use crate::shared::{
    model_exists, model_not_found, version_not_found, MODEL_COLUMNS, VERSION_COLUMNS,
};
use crate::sql::search::{push_registry_clause, push_registry_order};
use crate::sql::Sql;
use crate::types::{NewModelVersion, RegistrySearch};
use crate::{RegistryStore, Result};

fn registered_model(row: &Row<'_>) -> rusqlite::Result<RegisteredModel> {
    Ok(RegisteredModel {
        name: row.get(0)?,
        creation_timestamp: row.get(1)?,
        last_updated_timestamp: row.get(2)?,
        description: row.get(3)?,
        latest_versions: Vec::new(),
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

fn model_version(row: &Row<'_>) -> rusqlite::Result<ModelVersion> {
    let source: Option<String> = row.get(7)?;
    // MLflow's SQL store keeps no model id column; a `models:/m-...` source names it.
    let model_id = source
        .as_deref()
        .and_then(cairn_core::logged_model::model_id_of_uri)
        .map(str::to_string);
    Ok(ModelVersion {
        name: row.get(0)?,
        version: row.get::<_, i64>(1)?.to_string(),
        creation_timestamp: row.get(2)?,
        last_updated_timestamp: row.get(3)?,
        description: row.get(4)?,
        user_id: row.get(5)?,
        current_stage: row
            .get::<_, Option<String>>(6)?
            .unwrap_or_else(|| Stage::None.as_str().to_string()),
        source,
        run_id: row.get(8)?,
        status: row
            .get::<_, Option<String>>(9)?
            .unwrap_or_else(|| "READY".to_string()),
        status_message: row.get(10)?,
        tags: Vec::new(),
        run_link: row.get(11)?,
        aliases: Vec::new(),
        model_id,
    })
}

/// Adds tags and aliases to versions, two queries per page.
fn complete_versions(conn: &Connection, versions: &mut [ModelVersion]) -> Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let mut names: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
    names.sort();
    names.dedup();
    let mut tags: HashMap<(String, String), Vec<KeyValue>> = HashMap::new();
    let mut sql =
        Sql::sqlite("SELECT name, version, \"key\", value FROM model_version_tags WHERE workspace = 'default' AND name IN ");
    sql.push_list(names.iter().cloned())
        .push(" ORDER BY \"key\"");
    for (name, version, kv) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?.to_string(),
            KeyValue::new(r.get::<_, String>(2)?, opt_text(r, 3)?),
        ))
    })? {
        tags.entry((name, version)).or_default().push(kv);
    }
    let mut aliases: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut sql =
        Sql::sqlite("SELECT name, version, alias FROM registered_model_aliases WHERE workspace = 'default' AND name IN ");
    sql.push_list(names.iter().cloned()).push(" ORDER BY alias");
    for (name, version, alias) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?.to_string(),
            r.get::<_, String>(2)?,
        ))
    })? {
        aliases.entry((name, version)).or_default().push(alias);
    }
    for v in versions {
        let key = (v.name.clone(), v.version.clone());
        v.tags = tags.remove(&key).unwrap_or_default();
        v.aliases = aliases.remove(&key).unwrap_or_default();
    }
    Ok(())
}

/// Adds tags, aliases and the latest version per stage to registered models.
fn complete_models(conn: &Connection, models: &mut [RegisteredModel]) -> Result<()> {
    if models.is_empty() {
        return Ok(());
    }
    let names = || models.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    let mut tags: HashMap<String, Vec<KeyValue>> = HashMap::new();
    let mut sql = Sql::sqlite("SELECT name, \"key\", value FROM registered_model_tags WHERE workspace = 'default' AND name IN ");
    sql.push_list(names()).push(" ORDER BY \"key\"");
    for (name, kv) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            KeyValue::new(r.get::<_, String>(1)?, opt_text(r, 2)?),
        ))
    })? {
        tags.entry(name).or_default().push(kv);
    }
    let mut aliases: HashMap<String, Vec<RegisteredModelAlias>> = HashMap::new();
    let mut sql =
        Sql::sqlite("SELECT name, alias, version FROM registered_model_aliases WHERE workspace = 'default' AND name IN ");
    sql.push_list(names()).push(" ORDER BY alias");
    for (name, alias) in query_all(conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            RegisteredModelAlias {
                alias: r.get(1)?,
                version: r.get::<_, i64>(2)?.to_string(),
            },
        ))
    })? {
        aliases.entry(name).or_default().push(alias);
    }
    // The newest version in each stage, as MLflow's `latest_versions`.
    let mut sql = Sql::sqlite(format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv JOIN (SELECT name, current_stage, \
         MAX(version) AS version FROM model_versions WHERE workspace = 'default' AND \
         current_stage != '{DELETED_STAGE}' AND name IN "
    ));
    sql.push_list(names());
    sql.push(
        " GROUP BY name, current_stage) latest ON mv.workspace = 'default' AND latest.name = \
         mv.name AND latest.version = mv.version ORDER BY mv.version",
    );
    let mut latest = query_all(conn, &sql, model_version)?;
    complete_versions(conn, &mut latest)?;
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

fn get_model(conn: &Connection, name: &str) -> Result<Option<RegisteredModel>> {
    let mut sql = Sql::sqlite(format!(
        "SELECT {MODEL_COLUMNS} FROM registered_models rm WHERE rm.workspace = 'default' AND rm.name = "
    ));
    sql.push_bind(name.to_string());
    let mut found = query_all(conn, &sql, registered_model)?;
    complete_models(conn, &mut found)?;
    Ok(found.pop())
}

fn require_model(conn: &Connection, name: &str) -> Result<()> {
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM registered_models WHERE workspace = 'default' AND name = ?1",
        )?
        .query_row([name], |_| Ok(()))
        .optional()?;
    exists.ok_or_else(|| model_not_found(name))
}

fn get_version(conn: &Connection, name: &str, version: i64) -> Result<Option<ModelVersion>> {
    let mut sql = Sql::sqlite(format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' AND mv.name = "
    ));
    sql.push_bind(name.to_string())
        .push(" AND mv.version = ")
        .push_bind(version)
        .push(format!(" AND mv.current_stage != '{DELETED_STAGE}'"));
    let mut found = query_all(conn, &sql, model_version)?;
    complete_versions(conn, &mut found)?;
    Ok(found.pop())
}

fn require_version(conn: &Connection, name: &str, version: i64) -> Result<ModelVersion> {
    get_version(conn, name, version)?.ok_or_else(|| version_not_found(name, version))
}

fn touch_model(conn: &Connection, name: &str, now_ms: i64) -> Result<()> {
    conn.prepare_cached("UPDATE registered_models SET last_updated_time = ?2 WHERE workspace = 'default' AND name = ?1")?
        .execute(params![name, now_ms])?;
    Ok(())
}

#[async_trait]
impl RegistryStore for SqliteStore {
    async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
        now_ms: i64,
    ) -> Result<RegisteredModel> {
        let (name, description, tags) = (
            name.to_string(),
            description.map(str::to_string),
            tags.to_vec(),
        );
        self.writer
            .run(move |conn| {
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO registered_models (name, creation_time, last_updated_time, \
                         description) VALUES (?1, ?2, ?2, ?3) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![name, now_ms, description])?;
                if inserted == 0 {
                    return Err(model_exists(&name));
                }
                let mut stmt = conn.prepare_cached(
                    "INSERT INTO registered_model_tags (\"key\", value, name) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO UPDATE SET value = excluded.value",
                )?;
                for t in &tags {
                    stmt.execute(params![t.key, t.value, name])?;
                }
                get_model(conn, &name)?.ok_or_else(|| model_not_found(&name))
            })
            .await
    }

    async fn get_registered_model(&self, name: &str) -> Result<Option<RegisteredModel>> {
        let name = name.to_string();
        self.readers.run(move |conn| get_model(conn, &name)).await
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        now_ms: i64,
    ) -> Result<RegisteredModel> {
        let (name, new_name) = (name.to_string(), new_name.to_string());
        self.writer
            .run(move |conn| {
                require_model(conn, &name)?;
                if name != new_name && get_model(conn, &new_name)?.is_some() {
                    return Err(model_exists(&new_name));
                }
                // MLflow's tables cascade renames through foreign keys that SQLite only
                // enforces when asked; renaming every table keeps them consistent either way.
                for table in [
                    "registered_models",
                    "model_versions",
                    "registered_model_tags",
                    "model_version_tags",
                    "registered_model_aliases",
                ] {
                    conn.execute(
                        &format!("UPDATE {table} SET name = ?2 WHERE workspace = 'default' AND name = ?1"),
                        params![name, new_name],
                    )?;
                }
                conn.execute(
                    "UPDATE cairn_alias_events SET name = ?2 WHERE name = ?1",
                    params![name, new_name],
                )?;
                touch_model(conn, &new_name, now_ms)?;
                conn.execute(
                    "UPDATE model_versions SET last_updated_time = ?2 WHERE workspace = 'default' AND name = ?1",
                    params![new_name, now_ms],
                )?;
                get_model(conn, &new_name)?.ok_or_else(|| model_not_found(&new_name))
            })
            .await
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
        now_ms: i64,
    ) -> Result<RegisteredModel> {
        let (name, description) = (name.to_string(), description.to_string());
        self.writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached(
                        "UPDATE registered_models SET description = ?2, last_updated_time = ?3 \
                         WHERE workspace = 'default' AND name = ?1",
                    )?
                    .execute(params![name, description, now_ms])?;
                if n == 0 {
                    return Err(model_not_found(&name));
                }
                get_model(conn, &name)?.ok_or_else(|| model_not_found(&name))
            })
            .await
    }

    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.writer
            .run(move |conn| {
                require_model(conn, &name)?;
                for table in [
                    "registered_model_aliases",
                    "model_version_tags",
                    "model_versions",
                    "registered_model_tags",
                    "registered_models",
                ] {
                    conn.execute(
                        &format!("DELETE FROM {table} WHERE workspace = 'default' AND name = ?1"),
                        [&name],
                    )?;
                }
                conn.execute("DELETE FROM cairn_alias_events WHERE name = ?1", [&name])?;
                Ok(())
            })
            .await
    }

    async fn search_registered_models(&self, s: &RegistrySearch) -> Result<Page<RegisteredModel>> {
        let mut sql = Sql::sqlite(format!(
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
        let (max_results, offset) = (s.max_results, s.offset);
        self.readers
            .run(move |conn| {
                let mut items = query_all(conn, &sql, registered_model)?;
                let has_more = items.len() as u64 > max_results;
                items.truncate(max_results as usize);
                complete_models(conn, &mut items)?;
                let next_page_token = page_token::next(offset, items.len(), max_results, has_more);
                Ok(Page {
                    items,
                    next_page_token,
                })
            })
            .await
    }

    async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let (name, key, value) = (name.to_string(), key.to_string(), value.to_string());
        self.writer
            .run(move |conn| {
                require_model(conn, &name)?;
                conn.prepare_cached(
                    "INSERT INTO registered_model_tags (\"key\", value, name) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO UPDATE SET value = excluded.value",
                )?
                .execute(params![key, value, name])?;
                Ok(())
            })
            .await
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.writer
            .run(move |conn| {
                require_model(conn, &name)?;
                conn.prepare_cached(
                    "DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = ?1 AND \"key\" = ?2",
                )?
                .execute(params![name, key])?;
                Ok(())
            })
            .await
    }

    async fn create_model_version(&self, new: NewModelVersion) -> Result<ModelVersion> {
        self.writer
            .run(move |conn| {
                require_model(conn, &new.name)?;
                let version: i64 = conn
                    .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE workspace = 'default' AND name = ?1")?
                    .query_row([&new.name], |r| r.get(0))?;
                conn.prepare_cached(
                    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, \
                     description, current_stage, source, run_id, status, run_link, \
                     storage_location) VALUES (?1, ?2, ?3, ?3, ?4, 'None', ?5, ?6, 'READY', ?7, ?8)",
                )?
                .execute(params![
                    new.name,
                    version,
                    new.now_ms,
                    new.description,
                    new.source,
                    new.run_id,
                    new.run_link,
                    new.storage_location
                ])?;
                let mut stmt = conn.prepare_cached(
                    "INSERT INTO model_version_tags (\"key\", value, name, version) VALUES \
                     (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET value = excluded.value",
                )?;
                for t in &new.tags {
                    stmt.execute(params![t.key, t.value, new.name, version])?;
                }
                touch_model(conn, &new.name, new.now_ms)?;
                require_version(conn, &new.name, version)
            })
            .await
    }

    async fn get_model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>> {
        let name = name.to_string();
        self.readers
            .run(move |conn| get_version(conn, &name, version))
            .await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
        now_ms: i64,
    ) -> Result<ModelVersion> {
        let (name, description) = (name.to_string(), description.to_string());
        self.writer
            .run(move |conn| {
                require_version(conn, &name, version)?;
                conn.prepare_cached(
                    "UPDATE model_versions SET description = ?3, last_updated_time = ?4 \
                     WHERE workspace = 'default' AND name = ?1 AND version = ?2",
                )?
                .execute(params![name, version, description, now_ms])?;
                require_version(conn, &name, version)
            })
            .await
    }

    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        now_ms: i64,
    ) -> Result<ModelVersion> {
        let name = name.to_string();
        self.writer
            .run(move |conn| {
                require_version(conn, &name, version)?;
                if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
                    conn.prepare_cached(
                        "UPDATE model_versions SET current_stage = 'Archived', \
                         last_updated_time = ?4 WHERE workspace = 'default' AND name = ?1 AND version != ?2 \
                         AND current_stage = ?3",
                    )?
                    .execute(params![
                        name,
                        version,
                        stage.as_str(),
                        now_ms
                    ])?;
                }
                conn.prepare_cached(
                    "UPDATE model_versions SET current_stage = ?3, last_updated_time = ?4 \
                     WHERE workspace = 'default' AND name = ?1 AND version = ?2",
                )?
                .execute(params![name, version, stage.as_str(), now_ms])?;
                touch_model(conn, &name, now_ms)?;
                require_version(conn, &name, version)
            })
            .await
    }

    async fn delete_model_version(&self, name: &str, version: i64, now_ms: i64) -> Result<()> {
        let name = name.to_string();
        self.writer
            .run(move |conn| {
                require_version(conn, &name, version)?;
                conn.prepare_cached(
                    "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
                     SELECT name, alias, version, NULL, ?3 FROM registered_model_aliases \
                     WHERE workspace = 'default' AND name = ?1 AND version = ?2",
                )?
                .execute(params![name, version, now_ms])?;
                conn.prepare_cached(
                    "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND version = ?2",
                )?
                .execute(params![name, version])?;
                conn.prepare_cached(
                    "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ?1 AND version = ?2",
                )?
                .execute(params![name, version])?;
                // As MLflow's SQL store: the row stays so the number is never reused.
                conn.prepare_cached(
                    "UPDATE model_versions SET current_stage = ?3, last_updated_time = ?4, \
                     description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', \
                     run_id = NULL, run_link = NULL, status_message = NULL, \
                     storage_location = NULL WHERE workspace = 'default' AND name = ?1 AND version = ?2",
                )?
                .execute(params![name, version, DELETED_STAGE, now_ms])?;
                touch_model(conn, &name, now_ms)
            })
            .await
    }

    async fn search_model_versions(&self, s: &RegistrySearch) -> Result<Page<ModelVersion>> {
        let mut sql = Sql::sqlite(format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' AND mv.current_stage != '{DELETED_STAGE}'"
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
        let (max_results, offset) = (s.max_results, s.offset);
        self.readers
            .run(move |conn| {
                let mut items = query_all(conn, &sql, model_version)?;
                let has_more = items.len() as u64 > max_results;
                items.truncate(max_results as usize);
                complete_versions(conn, &mut items)?;
                let next_page_token = page_token::next(offset, items.len(), max_results, has_more);
                Ok(Page {
                    items,
                    next_page_token,
                })
            })
            .await
    }

    async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let (name, key, value) = (name.to_string(), key.to_string(), value.to_string());
        self.writer
            .run(move |conn| {
                require_version(conn, &name, version)?;
                conn.prepare_cached(
                    "INSERT INTO model_version_tags (\"key\", value, name, version) VALUES \
                     (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET value = excluded.value",
                )?
                .execute(params![key, value, name, version])?;
                Ok(())
            })
            .await
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        let (name, key) = (name.to_string(), key.to_string());
        self.writer
            .run(move |conn| {
                require_version(conn, &name, version)?;
                conn.prepare_cached(
                    "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ?1 AND version = ?2 AND \"key\" = ?3",
                )?
                .execute(params![name, version, key])?;
                Ok(())
            })
            .await
    }

    async fn model_version_download_uri(&self, name: &str, version: i64) -> Result<String> {
        let name = name.to_string();
        self.readers
            .run(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT COALESCE(storage_location, source) FROM model_versions WHERE \
                     workspace = 'default' AND name = ?1 AND version = ?2 AND current_stage != '{DELETED_STAGE}'"
                ))?
                .query_row(params![name, version], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .ok_or_else(|| version_not_found(&name, version))
                .map(Option::unwrap_or_default)
            })
            .await
    }

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        now_ms: i64,
    ) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.writer
            .run(move |conn| {
                require_version(conn, &name, version)?;
                conn.prepare_cached(
                    "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
                     SELECT ?1, ?2, (SELECT version FROM registered_model_aliases \
                     WHERE workspace = 'default' AND name = ?1 AND alias = ?2), ?3, ?4 \
                     WHERE (SELECT version FROM registered_model_aliases \
                     WHERE workspace = 'default' AND name = ?1 AND alias = ?2) IS NOT ?3",
                )?
                .execute(params![name, alias, version, now_ms])?;
                conn.prepare_cached(
                    "INSERT INTO registered_model_aliases (alias, version, name) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO UPDATE SET version = excluded.version",
                )?
                .execute(params![alias, version, name])?;
                Ok(())
            })
            .await
    }

    async fn delete_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        now_ms: i64,
    ) -> Result<()> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.writer
            .run(move |conn| {
                require_model(conn, &name)?;
                conn.prepare_cached(
                    "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
                     SELECT name, alias, version, NULL, ?3 FROM registered_model_aliases \
                     WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                )?
                .execute(params![name, alias, now_ms])?;
                conn.prepare_cached(
                    "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                )?
                .execute(params![name, alias])?;
                Ok(())
            })
            .await
    }

    async fn alias_history(&self, name: &str, limit: u32) -> Result<Vec<AliasEvent>> {
        let name = name.to_string();
        self.readers
            .run(move |conn| {
                require_model(conn, &name)?;
                let mut stmt = conn.prepare_cached(
                    "SELECT alias, from_version, to_version, time_ms FROM cairn_alias_events \
                     WHERE name = ?1 ORDER BY id DESC LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![name, limit], |r| {
                    Ok(AliasEvent {
                        alias: r.get(0)?,
                        from_version: r.get(1)?,
                        to_version: r.get(2)?,
                        time_ms: r.get(3)?,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>> {
        let (name, alias) = (name.to_string(), alias.to_string());
        self.readers
            .run(move |conn| {
                require_model(conn, &name)?;
                let version: Option<i64> = conn
                    .prepare_cached(
                        "SELECT version FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                    )?
                    .query_row(params![name, alias], |r| r.get(0))
                    .optional()?;
                match version {
                    Some(v) => get_version(conn, &name, v),
                    None => Ok(None),
                }
            })
            .await
    }
}
