//! Integration tests: the real router against a real PostgreSQL, one fresh database per test
//! (`#[sqlx::test]` creates it from `DATABASE_URL` and applies the migrations).

mod helpers;

mod commands;
mod graph_queries;
mod graph_questions;
mod health_metrics;
mod marquez_api;
mod openapi;
mod openlineage_fixtures;
mod openlineage_ingest;
mod producer_errors;
mod producer_fixtures;
mod producer_status;
mod producer_versions;
mod server;
mod spline_consumer;
