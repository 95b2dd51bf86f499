//! The one error type, and its mapping onto HTTP.
//!
//! Every failure a client can cause gets a 4xx with an RFC 9457 `application/problem+json` body
//! that says what is wrong and, where it applies, *where* (a JSON path into the request, or the
//! name of a query parameter). Agents such as the Spline Spark agent log the body verbatim, so
//! it is often the only diagnostic an operator sees. 5xx is kept for our own faults; their
//! cause is logged with an id that the response repeats, and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;
use utoipa::ToSchema;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed (bad JSON, wrong types, missing fields, bad parameters).
    #[error("{detail}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
        /// Where: a JSON path into the body, or a parameter name.
        path: Option<String>,
    },
    /// 422: well-formed JSON that does not describe a valid entity (dangling ids, cycles...).
    #[error("{detail}")]
    Unprocessable {
        /// Stable machine-readable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
        /// Where, as a JSON path into the body.
        path: Option<String>,
    },
    /// 401: no bearer token, or one that isn't configured.
    #[error("{detail}")]
    Unauthorized {
        /// What is missing or wrong.
        detail: String,
        /// A token was presented but is not valid (`WWW-Authenticate` then says so).
        invalid_token: bool,
    },
    /// 403: a valid token without the scope or the namespace the request needs.
    #[error("{0}")]
    Forbidden(String),
    /// 421: with authentication off, a `Host` that names neither this machine nor a configured
    /// name: a page of another site reaching the service through DNS rebinding.
    #[error("{0}")]
    HostNotAllowed(String),
    /// 404: the thing asked for is not stored.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request contradicts what is stored (e.g. a reused plan id).
    #[error("{detail}")]
    Conflict {
        /// What contradicts what.
        detail: String,
        /// Where in the request.
        path: Option<String>,
    },
    /// 413: the body, or what it inflates to, is over the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 413: the payload holds more of something (operations, events) than a limit allows.
    #[error("{detail}")]
    OverLimit {
        /// Stable machine-readable code, e.g. `too-many-operations`.
        code: &'static str,
        /// What is over which limit.
        detail: String,
        /// Where in the request.
        path: Option<String>,
    },
    /// 415: a `Content-Type` or `Content-Encoding` we don't speak.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a read ran past the query time limit; a narrower question may not.
    #[error("{0}")]
    QueryTimeout(String),
    /// 503: the database can't take the request now (down, restarting, out of connections,
    /// busy, or aborting the write over lock conflicts). Nothing was stored; worth retrying.
    #[error("{detail}")]
    Unavailable {
        /// What is unavailable, for the client.
        detail: String,
        /// The database error behind it: logged, and read by the store to retry a transaction.
        #[source]
        cause: Option<sqlx::Error>,
    },
    /// 503: the connection broke while the database was committing, so the request may or may
    /// not be stored. Sending it again is safe: ingest is idempotent.
    #[error(
        "the connection to the database broke while committing: the request may have been \
         stored; sending it again is safe"
    )]
    CommitUnknown(#[source] sqlx::Error),
    /// 500: our own fault. The cause is logged, not returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// A 400 with a code, a message and an optional location.
    pub fn bad_request(
        code: &'static str,
        detail: impl Into<String>,
        path: Option<String>,
    ) -> Self {
        Error::BadRequest {
            code,
            detail: detail.into(),
            path,
        }
    }

    /// A 422 with a code, a message and a location.
    pub fn unprocessable(
        code: &'static str,
        detail: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        Error::Unprocessable {
            code,
            detail: detail.into(),
            path: Some(path.into()),
        }
    }

    /// A 503 the service decides on by itself (a probe that timed out, a missing migration).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Error::Unavailable {
            detail: detail.into(),
            cause: None,
        }
    }

    /// The error of a COMMIT. A broken connection leaves its outcome unknown: the database may
    /// have made the transaction durable before the answer was lost.
    pub fn from_commit(err: sqlx::Error) -> Self {
        match classify(&err) {
            Some(Failure::Outage) => {
                tracing::warn!(error = %err, "connection lost while committing; outcome unknown");
                Error::CommitUnknown(err)
            }
            _ => err.into(),
        }
    }

    /// The database aborted the transaction over a conflict with a concurrent one (deadlock,
    /// serialization failure): running it again usually succeeds.
    pub fn is_lock_conflict(&self) -> bool {
        matches!(
            self,
            Error::Unavailable {
                cause: Some(cause),
                ..
            } if classify(cause) == Some(Failure::LockConflict)
        )
    }

    /// The HTTP status this error answers with.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::HostNotAllowed(_) => StatusCode::MISDIRECTED_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::PayloadTooLarge { .. } | Error::OverLimit { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::QueryTimeout(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable { .. } | Error::CommitUnknown(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code of the problem document (and the metrics' reject
    /// reason).
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::Unprocessable { code, .. }
            | Error::OverLimit { code, .. } => code,
            Error::Unauthorized { .. } => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::HostNotAllowed(_) => "host-not-allowed",
            Error::NotFound(_) => "not-found",
            Error::Conflict { .. } => "conflict",
            Error::PayloadTooLarge { .. } => "payload-too-large",
            Error::UnsupportedMediaType(_) => "unsupported-media-type",
            Error::QueryTimeout(_) => "query-timeout",
            Error::Unavailable { .. } => "unavailable",
            Error::CommitUnknown(_) => "commit-unknown",
            Error::Internal(_) => "internal",
        }
    }

    fn path(&self) -> Option<String> {
        match self {
            Error::BadRequest { path, .. }
            | Error::Unprocessable { path, .. }
            | Error::OverLimit { path, .. }
            | Error::Conflict { path, .. } => path.clone(),
            _ => None,
        }
    }

    /// What the client is told: the error's own text, except for our own faults, whose cause
    /// (a database's error text, say) is logged with an id that the client gets instead.
    pub fn public_detail(&self) -> String {
        match self {
            Error::Internal(cause) => {
                let error_id = uuid::Uuid::new_v4();
                tracing::error!(%error_id, error = ?cause, "internal error");
                format!("internal error {error_id}; the cause is in the server log")
            }
            other => other.to_string(),
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status_code();
        let code = self.code();
        let detail = self.public_detail();
        Problem {
            problem_type: format!("urn:headwater:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail,
            path: self.path(),
        }
    }
}

/// The RFC 9457 problem document every error answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem: `urn:headwater:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Stable machine-readable code, e.g. `invalid-field` or `unknown-plan`.
    pub code: String,
    /// What is wrong, for a human.
    pub detail: String,
    /// Where the problem is: a JSON path into the request body such as
    /// `operations.reads[2].inputSources`, or a query parameter name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status_code(), axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            // Both OpenLineage clients retry a 503; tell them when.
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Error::Unauthorized { invalid_token, .. } = self {
            let challenge = match invalid_token {
                true => "Bearer realm=\"headwater\", error=\"invalid_token\"",
                false => "Bearer realm=\"headwater\"",
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// SQLSTATE of a statement cancelled, here by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

fn is_query_canceled(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED))
}

impl Error {
    /// The answer to a read that ran past the query time limit.
    pub fn query_timeout() -> Self {
        Error::QueryTimeout(
            "the query ran past the time limit (HEADWATER_QUERY_TIMEOUT_SECS); ask for less: \
             a smaller depth or maxNodes, or a narrower filter"
                .to_owned(),
        )
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match classify(&err) {
            Some(failure) => {
                tracing::warn!(error = %err, ?failure, "the database could not take a request");
                Error::Unavailable {
                    detail: failure.detail().to_owned(),
                    cause: Some(err),
                }
            }
            None if is_query_canceled(&err) => Error::query_timeout(),
            None => Error::Internal(err.into()),
        }
    }
}

/// A database failure that is no fault of the request nor of ours: the same request succeeds
/// once the database can take it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server is down, shutting down or starting, or the connection broke.
    Outage,
    /// No pooled connection within the acquire timeout: all of them busy, or the server not
    /// answering (the pool keeps trying to connect until the timeout).
    NoConnection,
    /// Out of something: server connections, memory, disk; or a lock it would not wait for
    /// (PostgreSQL `lock_timeout`, SQLite busy or locked).
    Saturated,
    /// Aborted over a conflict with a concurrent transaction: deadlock or serialization
    /// failure.
    LockConflict,
}

impl Failure {
    fn detail(self) -> &'static str {
        match self {
            Failure::Outage => "the database is unavailable; nothing was stored; retry later",
            Failure::NoConnection => {
                "no database connection within the acquire timeout (the database is busy or \
                 unreachable); nothing was stored; retry later"
            }
            Failure::Saturated => "the database is busy; nothing was stored; retry later",
            Failure::LockConflict => {
                "the write kept conflicting with concurrent writes; nothing was stored; retry later"
            }
        }
    }
}

/// Sorts a database error into a [`Failure`], or `None` for one that retrying won't cure.
///
/// PostgreSQL errors go by SQLSTATE class (see its "Error Codes" appendix); SQLite errors by
/// primary result code (the low byte of the extended code).
pub fn classify(err: &sqlx::Error) -> Option<Failure> {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Some(Failure::Outage)
        }
        sqlx::Error::PoolTimedOut => Some(Failure::NoConnection),
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            if db.try_downcast_ref::<PgDatabaseError>().is_some() {
                postgres_failure(&code)
            } else if db.try_downcast_ref::<SqliteError>().is_some() {
                sqlite_failure(&code)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn postgres_failure(sqlstate: &str) -> Option<Failure> {
    match sqlstate {
        // connection_exception, admin/crash shutdown, cannot_connect_now, idle_session_timeout,
        // and read_only_sql_transaction: a standby, before or after a fail-over.
        s if s.starts_with("08") => Some(Failure::Outage),
        "57P01" | "57P02" | "57P03" | "57P05" | "25006" => Some(Failure::Outage),
        // insufficient_resources (53300 too_many_connections among them), lock_not_available.
        s if s.starts_with("53") => Some(Failure::Saturated),
        "55P03" => Some(Failure::Saturated),
        "40001" | "40P01" => Some(Failure::LockConflict),
        _ => None,
    }
}

/// `SQLITE_BUSY` (5), `SQLITE_LOCKED` (6) and `SQLITE_FULL` (13), with any extended code.
fn sqlite_failure(code: &str) -> Option<Failure> {
    let primary = code.parse::<i32>().ok()? & 0xff;
    matches!(primary, 5 | 6 | 13).then_some(Failure::Saturated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let problem = Error::Internal(anyhow::anyhow!("password=hunter2")).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("hunter2"));
    }

    #[test]
    fn the_public_detail_of_an_internal_error_hides_its_cause() {
        let err = Error::Internal(anyhow::anyhow!("index row requires 11480 bytes"));
        let detail = err.public_detail();
        assert!(detail.starts_with("internal error "), "{detail}");
        assert!(!detail.contains("index row"), "{detail}");
        let err = Error::bad_request("invalid-field", "x: wrong", None);
        assert_eq!(err.public_detail(), "x: wrong");
    }

    #[test]
    fn client_errors_carry_code_and_path() {
        let err = Error::bad_request("invalid-field", "missing field", Some("a.b[1]".into()));
        let problem = err.problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (400, "invalid-field")
        );
        assert_eq!(problem.path.as_deref(), Some("a.b[1]"));
        assert_eq!(problem.problem_type, "urn:headwater:problem:invalid-field");
    }
}
