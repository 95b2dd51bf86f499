//! Reading a `postgres://` URL into connect options without letting a secret reach the log.
//!
//! sqlx logs every query parameter it doesn't know, value and all, at WARN (`ignoring
//! unrecognized connect parameter`). One such parameter is `sslpassword`, libpq's passphrase
//! of an encrypted client key, which sqlx can't use: it would be logged in clear. So the
//! parameters sqlx doesn't read are dropped here, and logged by name only.

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::error::{Error, Result};
use crate::redact::is_secret_parameter;

/// The query parameters sqlx 0.8 reads from a PostgreSQL URL.
const KNOWN: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The connect options a URL names; parameters sqlx doesn't read are dropped with a warning
/// that names them but never shows their values.
pub(super) fn connect_options(text: &str) -> Result<PgConnectOptions> {
    let invalid =
        |e: &dyn std::fmt::Display| Error::Internal(anyhow::anyhow!("invalid database URL: {e}"));
    let mut url = url::Url::parse(text).map_err(|e| invalid(&e))?;
    let (kept, dropped): (Vec<_>, Vec<_>) = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .partition(|(key, _)| is_known(key));
    for (key, _) in &dropped {
        let secret = is_secret_parameter(key);
        tracing::warn!(parameter = %key, secret, "ignoring a database URL parameter the driver doesn't support");
    }
    if !dropped.is_empty() {
        match kept.is_empty() {
            true => url.set_query(None),
            false => {
                url.query_pairs_mut().clear().extend_pairs(kept);
            }
        }
    }
    PgConnectOptions::from_url(&url).map_err(|e| invalid(&e))
}

fn is_known(key: &str) -> bool {
    KNOWN.contains(&key) || (key.starts_with("options[") && key.ends_with(']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameters_are_dropped_known_ones_kept() {
        let options = connect_options(
            "postgres://hw@db:5433/lineage?sslpassword=k3y&application_name=hw&options[search_path]=x",
        )
        .unwrap();
        assert_eq!(options.get_port(), 5433);
        assert_eq!(options.get_database(), Some("lineage"));
        assert_eq!(options.get_application_name(), Some("hw"));
        assert_eq!(options.get_options(), Some("-c search_path=x"));
        let debug = format!("{options:?}");
        assert!(!debug.contains("k3y"), "{debug}");
    }

    #[test]
    fn a_password_parameter_is_still_used() {
        let options = connect_options("postgres://hw@db/hw?password=s3cr3t&x=1").unwrap();
        let debug = format!("{options:?}");
        assert!(debug.contains("s3cr3t"), "the driver has it: {debug}");
    }

    #[test]
    fn a_bad_url_is_an_error_without_the_url() {
        let err = connect_options("postgres://hw:s3cr3t@db:notaport/hw").unwrap_err();
        assert!(!format!("{err:#}").contains("s3cr3t"), "{err:#}");
    }
}
