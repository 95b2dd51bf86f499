//! Headwater: a data-lineage capture service.
//!
//! Producers (the Spline Spark agent, and OpenLineage emitters: Airflow, dbt, Spark, Flink,
//! openlineage-python) post lineage in their own wire formats; Headwater turns every payload
//! into one format-independent graph of nodes and edges, stores it in PostgreSQL or SQLite
//! together with the raw payload, and answers graph questions (lineage both ways at a bounded
//! depth, column lineage, impact, paths) as JSON, and through Marquez- and Spline-compatible
//! read APIs.
//!
//! # Layout
//! - [`model`]: the one graph vocabulary (node and edge kinds, change sets). Depends on nothing.
//! - [`naming`]: dataset identity shared by every wire format (canonical URIs).
//! - [`ingest`]: wire formats (Spline producer API v1.0/v1.1/v1.2, OpenLineage events) parsed
//!   into change sets. No I/O.
//! - [`graph`]: bounded, cycle-safe traversal over any [`graph::EdgeSource`], and the views and
//!   layout built on it. No SQL.
//! - [`store`]: the storage interface and its PostgreSQL and SQLite backends. Stores change sets
//!   and keeps the raw payloads, whatever format they came in; knows no HTTP.
//! - [`http`]: axum routers, extractors and the OpenAPI document; orchestrates the others.
//! - [`auth`]: API tokens, scopes and namespace limits. Knows no HTTP.
//! - [`error`]: the one error type, and how it maps onto HTTP problem responses.
//! - [`archive`]: the raw-payload archive as a whole: replay, export, import.
//! - [`config`] and [`telemetry`]: command line, settings and logging.

pub mod archive;
pub mod auth;
pub mod commands;
pub mod config;
pub mod error;
pub mod graph;
pub mod http;
pub mod ingest;
pub mod model;
pub mod naming;
pub mod redact;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
pub use http::{AppState, app};
