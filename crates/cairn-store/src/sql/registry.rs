//! The model registry, written once for both stores: MLflow's `registered_models`,
//! `model_versions`, their tag tables and `registered_model_aliases`, in the
//! `default` workspace, and the [`RegistryStore`](crate::RegistryStore)
//! implementation.
//!
//! Every statement names `workspace = 'default'`: MLflow's keys on these tables begin
//! with the workspace column, so without it SQLite scans the whole table.
//!
//! On PostgreSQL, writes that depend on a model's current state (the next version
//! number, a rename) first lock that model's row ([`lock_model`]), so replicas
//! writing to one model queue behind each other instead of computing the same
//! number; SQLite's one writer thread needs no lock.

use std::collections::HashMap;

use cairn_core::entities::{KeyValue, Page};
use cairn_core::registry::{
    AliasEvent, ModelVersion, RegisteredModel, RegisteredModelAlias, Stage, DELETED_STAGE,
};
use cairn_core::search::RegistryAttr;

use super::exec::{fetch_page, key_values, page, Cols, Exec};
use super::search::{push_registry_clause, push_registry_order};
use super::Dialect;
use crate::shared::{
    model_exists, model_not_found, version_not_found, MODEL_COLUMNS, VERSION_COLUMNS,
};
use crate::types::{NewModelVersion, RegistrySearch};
use crate::Result;

/// Reads [`MODEL_COLUMNS`].
fn registered_model(row: &dyn Cols) -> Result<RegisteredModel> {
    Ok(RegisteredModel {
        name: row.text(0)?,
        creation_timestamp: row.opt_int(1)?,
        last_updated_timestamp: row.opt_int(2)?,
        // MLflow leaves an empty description out of a registered model (proto3's
        // default), though it writes one for a model version.
        description: row.opt_text(3)?.filter(|d| !d.is_empty()),
        latest_versions: Vec::new(),
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

/// Reads [`VERSION_COLUMNS`].
fn model_version(row: &dyn Cols) -> Result<ModelVersion> {
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
async fn complete_versions<E: Exec>(ex: &mut E, versions: &mut [ModelVersion]) -> Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let mut names: Vec<String> = versions.iter().map(|v| v.name.clone()).collect();
    names.sort();
    names.dedup();
    let mut sql = ex.sql(
        "SELECT name, version, \"key\", value FROM model_version_tags \
         WHERE workspace = 'default' AND name",
    );
    sql.push_in(names.iter().cloned()).push(" ORDER BY \"key\"");
    let mut tags: HashMap<(String, String), Vec<KeyValue>> = HashMap::new();
    for (owner, kv) in ex
        .fetch(&sql, |r| {
            let owner = (r.text(0)?, r.int(1)?.to_string());
            Ok((owner, KeyValue::new(r.text(2)?, r.text_or_empty(3)?)))
        })
        .await?
    {
        tags.entry(owner).or_default().push(kv);
    }
    let mut sql = ex.sql(
        "SELECT name, version, alias FROM registered_model_aliases \
         WHERE workspace = 'default' AND name",
    );
    sql.push_in(names).push(" ORDER BY alias");
    let mut aliases: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (owner, alias) in ex
        .fetch(&sql, |r| {
            Ok(((r.text(0)?, r.int(1)?.to_string()), r.text(2)?))
        })
        .await?
    {
        aliases.entry(owner).or_default().push(alias);
    }
    for v in versions {
        let key = (v.name.clone(), v.version.clone());
        v.tags = tags.remove(&key).unwrap_or_default();
        v.aliases = aliases.remove(&key).unwrap_or_default();
    }
    Ok(())
}

/// Adds tags, aliases and the latest version per stage to registered models.
async fn complete_models<E: Exec>(ex: &mut E, models: &mut [RegisteredModel]) -> Result<()> {
    if models.is_empty() {
        return Ok(());
    }
    let names = || models.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    let mut sql = ex.sql(
        "SELECT name, \"key\", value FROM registered_model_tags \
         WHERE workspace = 'default' AND name",
    );
    sql.push_in(names()).push(" ORDER BY \"key\"");
    let mut tags = key_values(ex, &sql).await?;
    let mut sql = ex.sql(
        "SELECT name, alias, version FROM registered_model_aliases \
         WHERE workspace = 'default' AND name",
    );
    sql.push_in(names()).push(" ORDER BY alias");
    let mut aliases: HashMap<String, Vec<RegisteredModelAlias>> = HashMap::new();
    for (name, alias) in ex
        .fetch(&sql, |r| {
            let alias = RegisteredModelAlias {
                alias: r.text(1)?,
                version: r.int(2)?.to_string(),
            };
            Ok((r.text(0)?, alias))
        })
        .await?
    {
        aliases.entry(name).or_default().push(alias);
    }
    // The newest version in each stage, as MLflow's `latest_versions`.
    let mut sql = ex.sql(&format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv JOIN (SELECT name, current_stage, \
         MAX(version) AS version FROM model_versions WHERE workspace = 'default' AND \
         current_stage != '{DELETED_STAGE}' AND name"
    ));
    sql.push_in(names()).push(
        " GROUP BY name, current_stage) latest ON mv.workspace = 'default' AND latest.name = \
         mv.name AND latest.version = mv.version ORDER BY mv.version",
    );
    let mut latest = ex.fetch(&sql, model_version).await?;
    complete_versions(ex, &mut latest).await?;
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

pub(crate) async fn get_model<E: Exec>(ex: &mut E, name: &str) -> Result<Option<RegisteredModel>> {
    let sql = ex
        .sql(&format!(
            "SELECT {MODEL_COLUMNS} FROM registered_models rm \
             WHERE rm.workspace = 'default' AND rm.name = ?1"
        ))
        .arg(name);
    let mut found = ex.fetch(&sql, registered_model).await?;
    complete_models(ex, &mut found).await?;
    Ok(found.pop())
}

async fn require_model<E: Exec>(ex: &mut E, name: &str) -> Result<RegisteredModel> {
    get_model(ex, name)
        .await?
        .ok_or_else(|| model_not_found(name))
}

/// RESOURCE_DOES_NOT_EXIST unless the model exists.
async fn check_model<E: Exec>(ex: &mut E, name: &str) -> Result<()> {
    let sql = ex
        .sql("SELECT 1 FROM registered_models WHERE workspace = 'default' AND name = ?1")
        .arg(name);
    ex.fetch_optional(&sql, |_| Ok(()))
        .await?
        .ok_or_else(|| model_not_found(name))
}

/// As [`check_model`], in a write: on PostgreSQL the model's row stays locked for the
/// rest of the transaction.
async fn lock_model<E: Exec>(ex: &mut E, name: &str) -> Result<()> {
    let mut sql = ex
        .sql("SELECT 1 FROM registered_models WHERE workspace = 'default' AND name = ?1")
        .arg(name);
    sql.lock();
    ex.fetch_optional(&sql, |_| Ok(()))
        .await?
        .ok_or_else(|| model_not_found(name))
}

/// [`lock_model`] where only PostgreSQL needs it: SQLite's writes are serial already,
/// and there the version check that follows answers for a missing model.
async fn lock_model_pg<E: Exec>(ex: &mut E, name: &str) -> Result<()> {
    if ex.dialect() == Dialect::Postgres {
        lock_model(ex, name).await?;
    }
    Ok(())
}

pub(crate) async fn get_version<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
) -> Result<Option<ModelVersion>> {
    let sql = ex
        .sql(&format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' \
             AND mv.name = ?1 AND mv.version = ?2 AND mv.current_stage != '{DELETED_STAGE}'"
        ))
        .arg(name)
        .arg(version);
    let mut found = ex.fetch(&sql, model_version).await?;
    complete_versions(ex, &mut found).await?;
    Ok(found.pop())
}

async fn require_version<E: Exec>(ex: &mut E, name: &str, version: i64) -> Result<ModelVersion> {
    get_version(ex, name, version)
        .await?
        .ok_or_else(|| version_not_found(name, version))
}

/// Runs a statement over `?1` = the model's name and the given further values.
async fn run<E: Exec>(ex: &mut E, text: &str, name: &str, more: &[super::Bind]) -> Result<u64> {
    let mut sql = ex.sql(text).arg(name);
    sql.params.extend_from_slice(more);
    ex.execute(&sql).await
}

async fn touch_model<E: Exec>(ex: &mut E, name: &str, now_ms: i64) -> Result<()> {
    run(
        ex,
        "UPDATE registered_models SET last_updated_time = ?2 \
         WHERE workspace = 'default' AND name = ?1",
        name,
        &[now_ms.into()],
    )
    .await?;
    Ok(())
}

async fn upsert_model_tag<E: Exec>(ex: &mut E, name: &str, key: &str, value: &str) -> Result<()> {
    run(
        ex,
        "INSERT INTO registered_model_tags (name, \"key\", value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (workspace, \"key\", name) DO UPDATE SET value = excluded.value",
        name,
        &[key.into(), value.into()],
    )
    .await?;
    Ok(())
}

async fn upsert_version_tag<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    run(
        ex,
        "INSERT INTO model_version_tags (name, version, \"key\", value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (workspace, \"key\", name, version) DO UPDATE SET value = excluded.value",
        name,
        &[version.into(), key.into(), value.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn create_model<E: Exec>(
    ex: &mut E,
    name: &str,
    description: Option<&str>,
    tags: &[KeyValue],
    now_ms: i64,
) -> Result<RegisteredModel> {
    let inserted = run(
        ex,
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) \
         VALUES (?1, ?2, ?2, ?3) ON CONFLICT DO NOTHING",
        name,
        &[now_ms.into(), description.into()],
    )
    .await?;
    if inserted == 0 {
        return Err(model_exists(name));
    }
    for t in tags {
        upsert_model_tag(ex, name, &t.key, &t.value).await?;
    }
    require_model(ex, name).await
}

pub(crate) async fn rename_model<E: Exec>(
    ex: &mut E,
    name: &str,
    new_name: &str,
    now_ms: i64,
) -> Result<RegisteredModel> {
    lock_model(ex, name).await?;
    if name != new_name && get_model(ex, new_name).await?.is_some() {
        return Err(model_exists(new_name));
    }
    // MLflow's foreign keys carry the new name to versions, tags and aliases (ON
    // UPDATE CASCADE); PostgreSQL enforces them, SQLite only when asked, so there
    // every table is renamed, which keeps them consistent either way.
    let tables: &[&str] = match ex.dialect() {
        Dialect::Postgres => &["registered_models"],
        Dialect::Sqlite => &[
            "registered_models",
            "model_versions",
            "registered_model_tags",
            "model_version_tags",
            "registered_model_aliases",
        ],
    };
    for table in tables {
        let text =
            format!("UPDATE {table} SET name = ?2 WHERE workspace = 'default' AND name = ?1");
        run(ex, &text, name, &[new_name.into()]).await?;
    }
    run(
        ex,
        "UPDATE cairn_alias_events SET name = ?2 WHERE name = ?1",
        name,
        &[new_name.into()],
    )
    .await?;
    touch_model(ex, new_name, now_ms).await?;
    run(
        ex,
        "UPDATE model_versions SET last_updated_time = ?2 WHERE workspace = 'default' AND name = ?1",
        new_name,
        &[now_ms.into()],
    )
    .await?;
    require_model(ex, new_name).await
}

pub(crate) async fn update_model<E: Exec>(
    ex: &mut E,
    name: &str,
    description: &str,
    now_ms: i64,
) -> Result<RegisteredModel> {
    let n = run(
        ex,
        "UPDATE registered_models SET description = ?2, last_updated_time = ?3 \
         WHERE workspace = 'default' AND name = ?1",
        name,
        &[description.into(), now_ms.into()],
    )
    .await?;
    if n == 0 {
        return Err(model_not_found(name));
    }
    require_model(ex, name).await
}

pub(crate) async fn delete_model<E: Exec>(ex: &mut E, name: &str) -> Result<()> {
    lock_model(ex, name).await?;
    for table in [
        "registered_model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ] {
        let text = format!("DELETE FROM {table} WHERE workspace = 'default' AND name = ?1");
        run(ex, &text, name, &[]).await?;
    }
    run(
        ex,
        "DELETE FROM cairn_alias_events WHERE name = ?1",
        name,
        &[],
    )
    .await?;
    Ok(())
}

pub(crate) async fn search_models<E: Exec>(
    ex: &mut E,
    s: &RegistrySearch,
) -> Result<Page<RegisteredModel>> {
    let mut sql = ex.sql(&format!(
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
    let (mut items, has_more) = fetch_page(ex, &sql, s.max_results, registered_model).await?;
    complete_models(ex, &mut items).await?;
    Ok(page(items, s.offset, s.max_results, has_more))
}

pub(crate) async fn set_model_tag<E: Exec>(
    ex: &mut E,
    name: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    lock_model(ex, name).await?;
    upsert_model_tag(ex, name, key, value).await
}

pub(crate) async fn delete_model_tag<E: Exec>(ex: &mut E, name: &str, key: &str) -> Result<()> {
    lock_model(ex, name).await?;
    run(
        ex,
        "DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = ?1 \
         AND \"key\" = ?2",
        name,
        &[key.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn create_version<E: Exec>(
    ex: &mut E,
    new: &NewModelVersion,
) -> Result<ModelVersion> {
    lock_model(ex, &new.name).await?;
    let sql = ex
        .sql(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions \
             WHERE workspace = 'default' AND name = ?1",
        )
        .arg(new.name.as_str());
    let version = ex.fetch_optional(&sql, |r| r.int(0)).await?.unwrap_or(1);
    run(
        ex,
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, \
         description, current_stage, source, run_id, status, run_link, storage_location) \
         VALUES (?1, ?2, ?3, ?3, ?4, 'None', ?5, ?6, 'READY', ?7, ?8)",
        &new.name,
        &[
            version.into(),
            new.now_ms.into(),
            (&new.description).into(),
            new.source.as_str().into(),
            (&new.run_id).into(),
            (&new.run_link).into(),
            new.storage_location.as_str().into(),
        ],
    )
    .await?;
    for t in &new.tags {
        upsert_version_tag(ex, &new.name, version, &t.key, &t.value).await?;
    }
    touch_model(ex, &new.name, new.now_ms).await?;
    require_version(ex, &new.name, version).await
}

pub(crate) async fn update_version<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
    description: &str,
    now_ms: i64,
) -> Result<ModelVersion> {
    require_version(ex, name, version).await?;
    run(
        ex,
        "UPDATE model_versions SET description = ?3, last_updated_time = ?4 \
         WHERE workspace = 'default' AND name = ?1 AND version = ?2",
        name,
        &[version.into(), description.into(), now_ms.into()],
    )
    .await?;
    require_version(ex, name, version).await
}

pub(crate) async fn transition_stage<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
    stage: Stage,
    archive_existing: bool,
    now_ms: i64,
) -> Result<ModelVersion> {
    lock_model_pg(ex, name).await?;
    require_version(ex, name, version).await?;
    let values = [version.into(), stage.as_str().into(), now_ms.into()];
    if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
        run(
            ex,
            "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ?4 \
             WHERE workspace = 'default' AND name = ?1 AND version != ?2 AND current_stage = ?3",
            name,
            &values,
        )
        .await?;
    }
    run(
        ex,
        "UPDATE model_versions SET current_stage = ?3, last_updated_time = ?4 \
         WHERE workspace = 'default' AND name = ?1 AND version = ?2",
        name,
        &values,
    )
    .await?;
    touch_model(ex, name, now_ms).await?;
    require_version(ex, name, version).await
}

pub(crate) async fn delete_version<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
    now_ms: i64,
) -> Result<()> {
    lock_model_pg(ex, name).await?;
    require_version(ex, name, version).await?;
    run(
        ex,
        "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
         SELECT name, alias, version, NULL, ?3 FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = ?1 AND version = ?2",
        name,
        &[version.into(), now_ms.into()],
    )
    .await?;
    for table in ["registered_model_aliases", "model_version_tags"] {
        let text = format!(
            "DELETE FROM {table} WHERE workspace = 'default' AND name = ?1 AND version = ?2"
        );
        run(ex, &text, name, &[version.into()]).await?;
    }
    // As MLflow's SQL store: the row stays so the number is never reused.
    run(
        ex,
        "UPDATE model_versions SET current_stage = ?3, last_updated_time = ?4, \
         description = NULL, user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = NULL, \
         run_link = NULL, status_message = NULL, storage_location = NULL \
         WHERE workspace = 'default' AND name = ?1 AND version = ?2",
        name,
        &[version.into(), DELETED_STAGE.into(), now_ms.into()],
    )
    .await?;
    touch_model(ex, name, now_ms).await
}

pub(crate) async fn search_versions<E: Exec>(
    ex: &mut E,
    s: &RegistrySearch,
) -> Result<Page<ModelVersion>> {
    let mut sql = ex.sql(&format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions mv WHERE mv.workspace = 'default' \
         AND mv.current_stage != '{DELETED_STAGE}'"
    ));
    for c in &s.filter {
        sql.push(" AND ");
        let join = "t.name = mv.name AND t.version = mv.version";
        push_registry_clause(&mut sql, "mv", "model_version_tags", join, c);
    }
    if s.order_by.is_empty() {
        sql.push(" ORDER BY mv.last_updated_time DESC, mv.name ASC, mv.version DESC");
    } else {
        let ties = [(RegistryAttr::Name, "ASC"), (RegistryAttr::Version, "DESC")];
        push_registry_order(&mut sql, "mv", &s.order_by, &ties);
    }
    sql.push_page(s.max_results, s.offset);
    let (mut items, has_more) = fetch_page(ex, &sql, s.max_results, model_version).await?;
    complete_versions(ex, &mut items).await?;
    Ok(page(items, s.offset, s.max_results, has_more))
}

pub(crate) async fn set_version_tag<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
    key: &str,
    value: &str,
) -> Result<()> {
    require_version(ex, name, version).await?;
    upsert_version_tag(ex, name, version, key, value).await
}

pub(crate) async fn delete_version_tag<E: Exec>(
    ex: &mut E,
    name: &str,
    version: i64,
    key: &str,
) -> Result<()> {
    require_version(ex, name, version).await?;
    run(
        ex,
        "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ?1 \
         AND version = ?2 AND \"key\" = ?3",
        name,
        &[version.into(), key.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn download_uri<E: Exec>(ex: &mut E, name: &str, version: i64) -> Result<String> {
    let sql = ex
        .sql(&format!(
            "SELECT COALESCE(storage_location, source) FROM model_versions WHERE \
             workspace = 'default' AND name = ?1 AND version = ?2 \
             AND current_stage != '{DELETED_STAGE}'"
        ))
        .arg(name)
        .arg(version);
    ex.fetch_optional(&sql, |r| r.opt_text(0))
        .await?
        .ok_or_else(|| version_not_found(name, version))
        .map(Option::unwrap_or_default)
}

pub(crate) async fn set_alias<E: Exec>(
    ex: &mut E,
    name: &str,
    alias: &str,
    version: i64,
    now_ms: i64,
) -> Result<()> {
    lock_model_pg(ex, name).await?;
    require_version(ex, name, version).await?;
    // Recorded only when the alias moves (or is new): SQLite's `IS NOT` is
    // PostgreSQL's `IS DISTINCT FROM`.
    let differs = match ex.dialect() {
        Dialect::Sqlite => "IS NOT",
        Dialect::Postgres => "IS DISTINCT FROM",
    };
    let text = format!(
        "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
         SELECT ?1, ?2, (SELECT version FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = ?1 AND alias = ?2), ?3, ?4 \
         WHERE (SELECT version FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = ?1 AND alias = ?2) {differs} ?3"
    );
    run(
        ex,
        &text,
        name,
        &[alias.into(), version.into(), now_ms.into()],
    )
    .await?;
    run(
        ex,
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?1, ?2, ?3) \
         ON CONFLICT (workspace, name, alias) DO UPDATE SET version = excluded.version",
        name,
        &[alias.into(), version.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_alias<E: Exec>(
    ex: &mut E,
    name: &str,
    alias: &str,
    now_ms: i64,
) -> Result<()> {
    lock_model(ex, name).await?;
    run(
        ex,
        "INSERT INTO cairn_alias_events (name, alias, from_version, to_version, time_ms) \
         SELECT name, alias, version, NULL, ?3 FROM registered_model_aliases \
         WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
        name,
        &[alias.into(), now_ms.into()],
    )
    .await?;
    run(
        ex,
        "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 \
         AND alias = ?2",
        name,
        &[alias.into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn alias_history<E: Exec>(
    ex: &mut E,
    name: &str,
    limit: u32,
) -> Result<Vec<AliasEvent>> {
    check_model(ex, name).await?;
    let sql = ex
        .sql(
            "SELECT alias, from_version, to_version, time_ms FROM cairn_alias_events \
             WHERE name = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .arg(name)
        .arg(i64::from(limit));
    ex.fetch(&sql, |r| {
        Ok(AliasEvent {
            alias: r.text(0)?,
            from_version: r.opt_int(1)?,
            to_version: r.opt_int(2)?,
            time_ms: r.int(3)?,
        })
    })
    .await
}

pub(crate) async fn version_by_alias<E: Exec>(
    ex: &mut E,
    name: &str,
    alias: &str,
) -> Result<Option<ModelVersion>> {
    check_model(ex, name).await?;
    let sql = ex
        .sql(
            "SELECT version FROM registered_model_aliases WHERE workspace = 'default' \
             AND name = ?1 AND alias = ?2",
        )
        .arg(name)
        .arg(alias);
    match ex.fetch_optional(&sql, |r| r.int(0)).await? {
        Some(v) => get_version(ex, name, v).await,
        None => Ok(None),
    }
}

/// Implements [`RegistryStore`](crate::RegistryStore) for a store with `$read` and
/// `$write` macros (see `lite_read`, `pg_write`).
macro_rules! registry_store {
    ($store:ty, $read:ident, $write:ident) => {
        const _: () = {
            use cairn_core::entities::{KeyValue, Page};
            use cairn_core::registry::{AliasEvent, ModelVersion, RegisteredModel, Stage};
            use $crate::sql::registry as script;
            use $crate::types::{NewModelVersion, RegistrySearch};
            use $crate::Result;

            #[async_trait::async_trait]
            impl $crate::RegistryStore for $store {
                async fn create_registered_model(
                    &self,
                    name: &str,
                    description: Option<&str>,
                    tags: &[KeyValue],
                    now_ms: i64,
                ) -> Result<RegisteredModel> {
                    let (name, tags) = (name.to_string(), tags.to_vec());
                    let description = description.map(str::to_string);
                    $write!(self, |ex| {
                        let description = description.as_deref();
                        script::create_model(ex, &name, description, &tags, now_ms).await
                    })
                }

                async fn get_registered_model(
                    &self,
                    name: &str,
                ) -> Result<Option<RegisteredModel>> {
                    let name = name.to_string();
                    $read!(self, |ex| script::get_model(ex, &name).await)
                }

                async fn rename_registered_model(
                    &self,
                    name: &str,
                    new_name: &str,
                    now_ms: i64,
                ) -> Result<RegisteredModel> {
                    let (name, new_name) = (name.to_string(), new_name.to_string());
                    $write!(self, |ex| script::rename_model(
                        ex, &name, &new_name, now_ms
                    )
                    .await)
                }

                async fn update_registered_model(
                    &self,
                    name: &str,
                    description: &str,
                    now_ms: i64,
                ) -> Result<RegisteredModel> {
                    let (name, description) = (name.to_string(), description.to_string());
                    $write!(self, |ex| {
                        script::update_model(ex, &name, &description, now_ms).await
                    })
                }

                async fn delete_registered_model(&self, name: &str) -> Result<()> {
                    let name = name.to_string();
                    $write!(self, |ex| script::delete_model(ex, &name).await)
                }

                async fn search_registered_models(
                    &self,
                    s: &RegistrySearch,
                ) -> Result<Page<RegisteredModel>> {
                    let s = s.clone();
                    $read!(self, |ex| script::search_models(ex, &s).await)
                }

                async fn set_registered_model_tag(
                    &self,
                    name: &str,
                    key: &str,
                    value: &str,
                ) -> Result<()> {
                    let (name, key, value) = (name.to_string(), key.to_string(), value.to_string());
                    $write!(self, |ex| script::set_model_tag(ex, &name, &key, &value)
                        .await)
                }

                async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
                    let (name, key) = (name.to_string(), key.to_string());
                    $write!(self, |ex| script::delete_model_tag(ex, &name, &key).await)
                }

                async fn create_model_version(&self, new: NewModelVersion) -> Result<ModelVersion> {
                    $write!(self, |ex| script::create_version(ex, &new).await)
                }

                async fn get_model_version(
                    &self,
                    name: &str,
                    version: i64,
                ) -> Result<Option<ModelVersion>> {
                    let name = name.to_string();
                    $read!(self, |ex| script::get_version(ex, &name, version).await)
                }

                async fn update_model_version(
                    &self,
                    name: &str,
                    version: i64,
                    description: &str,
                    now_ms: i64,
                ) -> Result<ModelVersion> {
                    let (name, description) = (name.to_string(), description.to_string());
                    $write!(self, |ex| {
                        script::update_version(ex, &name, version, &description, now_ms).await
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
                    let name = name.to_string();
                    $write!(self, |ex| {
                        script::transition_stage(
                            ex,
                            &name,
                            version,
                            stage,
                            archive_existing,
                            now_ms,
                        )
                        .await
                    })
                }

                async fn delete_model_version(
                    &self,
                    name: &str,
                    version: i64,
                    now_ms: i64,
                ) -> Result<()> {
                    let name = name.to_string();
                    $write!(self, |ex| script::delete_version(
                        ex, &name, version, now_ms
                    )
                    .await)
                }

                async fn search_model_versions(
                    &self,
                    s: &RegistrySearch,
                ) -> Result<Page<ModelVersion>> {
                    let s = s.clone();
                    $read!(self, |ex| script::search_versions(ex, &s).await)
                }

                async fn set_model_version_tag(
                    &self,
                    name: &str,
                    version: i64,
                    key: &str,
                    value: &str,
                ) -> Result<()> {
                    let (name, key, value) = (name.to_string(), key.to_string(), value.to_string());
                    $write!(self, |ex| {
                        script::set_version_tag(ex, &name, version, &key, &value).await
                    })
                }

                async fn delete_model_version_tag(
                    &self,
                    name: &str,
                    version: i64,
                    key: &str,
                ) -> Result<()> {
                    let (name, key) = (name.to_string(), key.to_string());
                    $write!(self, |ex| script::delete_version_tag(
                        ex, &name, version, &key
                    )
                    .await)
                }

                async fn model_version_download_uri(
                    &self,
                    name: &str,
                    version: i64,
                ) -> Result<String> {
                    let name = name.to_string();
                    $read!(self, |ex| script::download_uri(ex, &name, version).await)
                }

                async fn set_registered_model_alias(
                    &self,
                    name: &str,
                    alias: &str,
                    version: i64,
                    now_ms: i64,
                ) -> Result<()> {
                    let (name, alias) = (name.to_string(), alias.to_string());
                    $write!(self, |ex| script::set_alias(
                        ex, &name, &alias, version, now_ms
                    )
                    .await)
                }

                async fn delete_registered_model_alias(
                    &self,
                    name: &str,
                    alias: &str,
                    now_ms: i64,
                ) -> Result<()> {
                    let (name, alias) = (name.to_string(), alias.to_string());
                    $write!(self, |ex| script::delete_alias(ex, &name, &alias, now_ms)
                        .await)
                }

                async fn alias_history(&self, name: &str, limit: u32) -> Result<Vec<AliasEvent>> {
                    let name = name.to_string();
                    $read!(self, |ex| script::alias_history(ex, &name, limit).await)
                }

                async fn get_model_version_by_alias(
                    &self,
                    name: &str,
                    alias: &str,
                ) -> Result<Option<ModelVersion>> {
                    let (name, alias) = (name.to_string(), alias.to_string());
                    $read!(self, |ex| script::version_by_alias(ex, &name, &alias).await)
                }
            }
        };
    };
}
pub(crate) use registry_store;
