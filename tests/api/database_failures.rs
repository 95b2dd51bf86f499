//! Every way the database can fail a request that is no fault of the request answers 503 with
//! `Retry-After` and a problem document, never 500. The failures are real ones, caused on a
//! real server: a terminated backend, a role out of connections, a lock timeout, an exhausted
//! pool, a busy SQLite file, and lock conflicts raised by a trigger.

use std::str::FromStr;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use headwater::error::{Failure, classify};
use headwater::http::HttpSettings;
use headwater::store::postgres::{PgStore, PoolSettings};
use headwater::store::sqlite::SqliteStore;
use headwater::{AppState, Error, app};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::helpers::*;

/// The answer an error turns into: status, `Retry-After`, and the problem's code.
async fn answer(err: Error) -> (StatusCode, Option<String>, String) {
    let response = err.into_response();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let problem: Value = serde_json::from_slice(&body).expect("a problem document");
    (
        status,
        retry_after,
        problem["code"].as_str().unwrap().to_owned(),
    )
}

#[track_caller]
fn assert_unavailable(answered: (StatusCode, Option<String>, String), code: &str) {
    let (status, retry_after, answered_code) = answered;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answered_code, code);
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(seconds > 0);
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connecting")
}

/// The error `sql` fails with.
async fn failure_of(conn: &mut PgConnection, sql: &str) -> sqlx::Error {
    sqlx::query(sql)
        .execute(conn)
        .await
        .expect_err("the statement fails")
}

#[tokio::test]
async fn postgres_outages_and_lock_conflicts_answer_503() {
    let db = TestDb::new(Postgres).await;
    let mut conn = connect(db.url()).await;

    for (errcode, failure) in [
        ("serialization_failure", Failure::LockConflict),
        ("deadlock_detected", Failure::LockConflict),
        ("too_many_connections", Failure::Saturated),
        ("cannot_connect_now", Failure::Outage),
    ] {
        let sql = format!("do $$ begin raise exception 'test' using errcode = '{errcode}'; end $$");
        let err = failure_of(&mut conn, &sql).await;
        assert_eq!(classify(&err), Some(failure), "{errcode}: {err}");
        let err = Error::from(err);
        assert_eq!(err.is_lock_conflict(), failure == Failure::LockConflict);
        assert_unavailable(answer(err).await, "unavailable");
    }

    // The backend is terminated under a live connection: admin_shutdown, or the broken socket.
    let killed = failure_of(&mut conn, "select pg_terminate_backend(pg_backend_pid())").await;
    assert_eq!(classify(&killed), Some(Failure::Outage), "{killed}");
    assert_unavailable(answer(killed.into()).await, "unavailable");

    // Nothing listens on port 1.
    let refused = PgConnection::connect("postgres://postgres@127.0.0.1:1/none")
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(classify(&refused), Some(Failure::Outage), "{refused}");

    // A client error stays a client error, and our own stay 500.
    let mut conn = connect(db.url()).await;
    let syntax = failure_of(&mut conn, "selec 1").await;
    assert_eq!(classify(&syntax), None);
    assert_eq!(
        answer(syntax.into()).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn a_role_out_of_connections_and_a_lock_timeout_answer_503() {
    let db = TestDb::new(Postgres).await;
    let role = format!("hw_limited_{}", uuid::Uuid::new_v4().simple());
    db.execute(&format!("create role {role} login connection limit 0"))
        .await;
    let options = PgConnectOptions::from_str(db.url())
        .unwrap()
        .username(&role);
    let refused = PgConnection::connect_with(&options).await;
    db.execute(&format!("drop role {role}")).await;
    let err = refused.expect_err("connection limit 0");
    assert_eq!(classify(&err), Some(Failure::Saturated), "{err}");
    assert_unavailable(answer(err.into()).await, "unavailable");

    db.execute("create table hw_locked (id int primary key)")
        .await;
    db.execute("insert into hw_locked values (1)").await;
    let mut holder = connect(db.url()).await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("select * from hw_locked for update")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut waiter = connect(db.url()).await;
    sqlx::query("set lock_timeout = '50ms'")
        .execute(&mut waiter)
        .await
        .unwrap();
    let err = failure_of(&mut waiter, "update hw_locked set id = 2").await;
    assert_eq!(classify(&err), Some(Failure::Saturated), "{err}");
    assert_unavailable(answer(err.into()).await, "unavailable");
    tx.rollback().await.unwrap();
}

/// A connection that breaks while COMMIT is in flight may have committed: the answer says the
/// outcome is unknown rather than that nothing was stored.
#[tokio::test]
async fn a_connection_lost_at_commit_answers_commit_unknown() {
    let db = TestDb::new(Postgres).await;
    db.execute("create table hw_commit (id int)").await;
    let mut writer = connect(db.url()).await;
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut writer)
        .await
        .unwrap();
    let mut tx = writer.begin().await.unwrap();
    sqlx::query("insert into hw_commit values (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let terminated: bool = sqlx::query_scalar("select pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut connect(db.url()).await)
        .await
        .unwrap();
    assert!(terminated);
    let err = tx.commit().await.expect_err("the backend is gone");
    assert_unavailable(answer(Error::from_commit(err)).await, "commit-unknown");
}

/// An exhausted pool sheds the request after the acquire timeout, as a 503.
#[tokio::test]
async fn an_exhausted_pool_answers_503_after_the_acquire_timeout() {
    let db = TestDb::new(Postgres).await;
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(200),
        query_timeout: None,
    };
    let store = PgStore::connect_lazy(db.url(), settings).unwrap();
    let held = store.pool().acquire().await.unwrap();
    let app = TestApp {
        router: app(AppState::new(store.clone(), HttpSettings::default())),
        db,
    };
    let plan = minimal_plan(&plan_id(1), &["s3://b/in"], "s3://b/out", "id");
    let response = app.post_plan(V12, plan.to_string()).await;
    response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    assert!(response.headers.contains_key(header::RETRY_AFTER));
    drop(held);
    store_plan(&app, &plan).await;
}

/// A second process holding SQLite's write lock past the busy timeout makes the write busy.
#[tokio::test]
async fn a_busy_sqlite_file_answers_503() {
    let db = TestDb::new(Sqlite).await;
    let mut holder = SqliteConnection::connect(db.url()).await.unwrap();
    sqlx::query("begin immediate")
        .execute(&mut holder)
        .await
        .unwrap();
    let impatient = SqliteConnectOptions::from_str(db.url())
        .unwrap()
        .busy_timeout(Duration::ZERO);
    let mut writer = SqliteConnection::connect_with(&impatient).await.unwrap();
    let err = failure_of_sqlite(&mut writer, "begin immediate").await;
    assert_eq!(classify(&err), Some(Failure::Saturated), "{err}");
    assert_unavailable(answer(err.into()).await, "unavailable");
    sqlx::query("rollback").execute(&mut holder).await.unwrap();
}

async fn failure_of_sqlite(conn: &mut SqliteConnection, sql: &str) -> sqlx::Error {
    sqlx::query(sql)
        .execute(conn)
        .await
        .expect_err("the statement fails")
}

/// A trigger that raises a serialization failure on the first `fail_first` archive inserts
/// (a sequence counts them: it is not rolled back with the transaction).
async fn fail_writes(db: &TestDb, fail_first: u32) {
    db.execute("create sequence hw_attempts").await;
    db.execute(&format!(
        "create function hw_conflict() returns trigger language plpgsql as $$
         begin
             if nextval('hw_attempts') <= {fail_first} then
                 raise exception 'simulated conflict' using errcode = 'serialization_failure';
             end if;
             return new;
         end $$"
    ))
    .await;
    db.execute(
        "create trigger hw_conflict before insert on raw_payload
         for each row execute function hw_conflict()",
    )
    .await;
}

#[tokio::test]
async fn a_write_aborted_by_lock_conflicts_is_retried_inside_the_store() {
    let app = TestApp::new(TestDb::new(Postgres).await);
    fail_writes(&app.db, 2).await;
    let plan = minimal_plan(&plan_id(1), &["s3://b/in"], "s3://b/out", "id");
    store_plan(&app, &plan).await;
    assert_eq!(app.db.scalar("select last_value from hw_attempts").await, 3);
    assert_eq!(app.counts().await.raw_payloads, 1);
}

#[tokio::test]
async fn a_write_that_keeps_conflicting_answers_503_and_stores_nothing() {
    let app = TestApp::new(TestDb::new(Postgres).await);
    fail_writes(&app.db, 1000).await;
    let plan = minimal_plan(&plan_id(1), &["s3://b/in"], "s3://b/out", "id");
    let response = app.post_plan(V12, plan.to_string()).await;
    response.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    assert!(response.headers.contains_key(header::RETRY_AFTER));
    assert!(app.db.scalar("select last_value from hw_attempts").await > 1);
    assert_eq!(app.counts().await, Counts::ZERO);
}

fn one_connection() -> PoolSettings {
    PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(30),
        query_timeout: None,
    }
}

/// A 2xx promises a durable commit: a database set to `synchronous_commit = off` does not get
/// to acknowledge Headwater's writes before flushing them.
#[tokio::test]
async fn sessions_commit_synchronously_even_where_the_database_says_off() {
    let db = TestDb::new(Postgres).await;
    let name = db.url().rsplit('/').next().unwrap().to_owned();
    db.execute(&format!(
        "alter database {name} set synchronous_commit = off"
    ))
    .await;
    let store = PgStore::connect_lazy(db.url(), one_connection()).unwrap();
    let setting: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(setting, "on");
    let mut plain = connect(db.url()).await;
    let default: String = sqlx::query_scalar("show synchronous_commit")
        .fetch_one(&mut plain)
        .await
        .unwrap();
    assert_eq!(default, "off", "the database setting took effect elsewhere");
}

/// The embedded backend syncs its write-ahead log at every commit (`synchronous = FULL`).
#[tokio::test]
async fn sqlite_commits_are_synced() {
    let db = TestDb::new(Sqlite).await;
    let store = SqliteStore::connect_lazy(db.url(), one_connection()).unwrap();
    let synchronous: i64 = sqlx::query_scalar("pragma synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
    let journal: String = sqlx::query_scalar("pragma journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}
