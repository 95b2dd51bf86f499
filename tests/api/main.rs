//! Integration tests: the real router against a real PostgreSQL, one fresh database per test
//! (`#[sqlx::test]` creates it from `DATABASE_URL` and applies the migrations).

mod helpers;

mod graph_queries;
mod openapi;
mod producer_errors;
mod producer_fixtures;
mod producer_status;
mod producer_versions;
mod server;
