//! Opening an MLflow database: create MLflow 3.17.2's schema in a new one (under an exclusive lock, so
//! processes that open a missing database at once never race), refuse a database at another alembic
//! revision or a file that is not MLflow's, and set the connection up as MLflow does.

use super::super::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// `sqlite_master`'s DDL of a database `mlflow` 3.17.2 created, written by `scripts/gen-sqlite-schema.py`.
pub const SCHEMA: &str = include_str!("schema.sql");

/// The alembic head of mlflow 3.17.2: MLflow's `_verify_schema` refuses a database at any other revision.
pub const ALEMBIC_HEAD: &str = "dc11669786a5";

/// MLflow's own busy timeout (`mlflow/store/db/utils.py`): a writer waits this long for another's lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(20_000);

/// Open (creating when missing) the MLflow database at `path`, whose artifacts default to `artifact_root`.
///
/// Journal mode: left as the file has it — a database mlx creates keeps SQLite's rollback journal, as one
/// MLflow creates does. WAL would be a property of the file that every reader then needs (a `-shm` file
/// beside it, no network filesystem), chosen for MLflow's processes too; with a rollback journal, short
/// `BEGIN IMMEDIATE` transactions and MLflow's busy timeout, concurrent writers wait, never fail.
pub fn open(path: &Path, artifact_root: &Path) -> Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(StoreError::corrupt(
            path,
            format!(
                "cannot create the database: the folder {} does not exist",
                parent.display()
            ),
        ));
    }
    if path.is_dir() {
        return Err(StoreError::corrupt(
            path,
            "a folder, not an MLflow database file",
        ));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let db_err = |e: rusqlite::Error| StoreError::corrupt(path, e.to_string());
    let mut conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
    // What MLflow sets on every session (`mlflow/store/db/utils.py`): foreign keys enforced, and LIKE
    // case-sensitive (MLflow's `LIKE` in a filter is, `ILIKE` is not).
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = true;")
        .map_err(db_err)?;
    let tables = match count_tables(&conn) {
        Ok(n) => n,
        Err(rusqlite::Error::SqliteFailure(f, why))
            if f.code == rusqlite::ErrorCode::NotADatabase =>
        {
            let why = why.unwrap_or_else(|| f.to_string());
            return Err(not_mlflow(path, &why));
        }
        Err(e) => return Err(db_err(e)),
    };
    if tables == 0 {
        create(&mut conn, path, artifact_root)?;
    }
    verify(&conn, path)?;
    Ok(conn)
}

fn count_tables(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
}

fn not_mlflow(path: &Path, why: &str) -> StoreError {
    StoreError::corrupt(
        path,
        format!("not an MLflow database ({why}); mlx leaves it untouched"),
    )
}

/// Create the schema, the `default` workspace, the alembic head and the Default experiment, in one
/// exclusive transaction: a second process that opened the empty file waits, then finds it made.
fn create(conn: &mut Connection, path: &Path, artifact_root: &Path) -> Result<()> {
    let db_err = |e: rusqlite::Error| StoreError::corrupt(path, e.to_string());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(db_err)?;
    if count_tables(&tx).map_err(db_err)? > 0 {
        return Ok(()); // another process made it while we waited
    }
    tx.execute_batch(SCHEMA).map_err(db_err)?;
    tx.execute(
        "INSERT INTO alembic_version (version_num) VALUES (?1)",
        [ALEMBIC_HEAD],
    )
    .map_err(db_err)?;
    tx.execute(
        "INSERT INTO workspaces (name, description) VALUES ('default', 'Default workspace for legacy resources')",
        [],
    )
    .map_err(db_err)?;
    let now = crate::store::now_ms();
    let location = artifact_root.join("0").to_string_lossy().into_owned();
    tx.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, \
         last_update_time, workspace) VALUES (0, 'Default', ?1, 'active', ?2, ?2, 'default')",
        rusqlite::params![location, now],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

/// The database must be MLflow's at exactly the alembic head mlx writes.
fn verify(conn: &Connection, path: &Path) -> Result<()> {
    let has_alembic: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
            [],
            |_| Ok(true),
        )
        .optional()
        .map_err(|e| StoreError::corrupt(path, e.to_string()))?
        .unwrap_or(false);
    if !has_alembic {
        return Err(not_mlflow(path, "it has no alembic_version table"));
    }
    let revision: Option<String> = conn
        .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
        .optional()
        .map_err(|e| StoreError::corrupt(path, e.to_string()))?;
    match revision.as_deref() {
        Some(ALEMBIC_HEAD) => Ok(()),
        Some(other) => Err(StoreError::corrupt(
            path,
            format!(
                "the database is at schema revision {other}, mlx reads and writes only MLflow 3.17.2's \
                 ({ALEMBIC_HEAD}); an older database: upgrade it with `mlflow db upgrade sqlite:///{}` \
                 (back it up first); a newer one: it was made by a newer MLflow than mlx supports. \
                 mlx changed nothing",
                path.display()
            ),
        )),
        None => Err(not_mlflow(path, "its alembic_version table is empty")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_mlflows_65_tables_and_84_indexes() {
        let tables = SCHEMA.matches("CREATE TABLE").count();
        let indexes =
            SCHEMA.matches("CREATE INDEX").count() + SCHEMA.matches("CREATE UNIQUE INDEX").count();
        assert_eq!((tables, indexes), (65, 84));
        assert!(SCHEMA.contains(&format!("-- alembic_version: {ALEMBIC_HEAD}")));
    }

    #[test]
    fn a_new_database_gets_the_schema_and_a_foreign_revision_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlflow.db");
        let conn = open(&path, &dir.path().join("mlruns")).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 65);
        // MLflow's session settings: a row pointing at nothing is refused, LIKE is case-sensitive.
        let orphan = conn.execute(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('k', 'v', 'nope')",
            [],
        );
        assert!(orphan.is_err(), "{orphan:?}");
        let like: i64 = conn
            .query_row("SELECT 'A' LIKE 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(like, 0);
        conn.execute("UPDATE alembic_version SET version_num = 'abc'", [])
            .unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        let err = open(&path, dir.path()).err().unwrap().to_string();
        assert!(err.contains("schema revision abc"), "{err}");
        assert!(err.contains("mlflow db upgrade"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        std::fs::write(
            &path,
            "just some text, long enough to be a header or not ......",
        )
        .unwrap();
        let err = open(&path, dir.path()).err().unwrap().to_string();
        assert!(err.contains("not an MLflow database"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "just some text, long enough to be a header or not ......"
        );
    }
}
