//! Integration tests: the real router against a real database, one fresh database per test,
//! and every test once per backend: PostgreSQL (at `DATABASE_URL`) and embedded SQLite.

mod db;
mod helpers;

mod abuse_queries;
mod browsers;
mod commands;
mod connections;
mod database_failures;
mod explorer;
mod graph_properties;
mod graph_queries;
mod graph_questions;
mod health_metrics;
mod ingest_bounds;
mod limits;
mod lineage_index;
mod marquez_api;
mod nul_characters;
mod openapi;
mod openlineage_fixtures;
mod openlineage_ingest;
mod producer_errors;
mod producer_fixtures;
mod producer_status;
mod producer_versions;
mod retention;
mod scope_matrix;
mod security;
mod server;
mod spline_consumer;
mod tenancy;
