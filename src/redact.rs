//! Keeping the secrets of a database URL out of everything printed or logged: the password of
//! `scheme://user:password@host`, and query parameters such as `?password=` and
//! `?sslpassword=` (libpq's passphrase of an encrypted client key).

/// The URL with every secret replaced by `***`: the password in its user information, and the
/// value of every parameter [`is_secret_parameter`] names. Text that isn't a URL is returned
/// as it is. Where the URL is ambiguous (an `@` in the path), more is hidden rather than less.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let query_at = rest.find(['?', '#']).unwrap_or(rest.len());
    let (before_query, after) = rest.split_at(query_at);
    format!(
        "{scheme}://{}{}",
        redact_credentials(before_query),
        redact_query(after)
    )
}

/// `user:password@host/path` → `user:***@host/path`. The last `@` ends the credentials: a
/// password may hold an unescaped `@`, a host may not.
fn redact_credentials(authority_and_path: &str) -> String {
    let Some((credentials, host)) = authority_and_path.rsplit_once('@') else {
        return authority_and_path.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{user}:***@{host}"),
        None => authority_and_path.to_owned(),
    }
}

/// `?a=1&password=x#f` → `?a=1&password=***#f`.
fn redact_query(query_and_fragment: &str) -> String {
    let Some(query) = query_and_fragment.strip_prefix('?') else {
        return query_and_fragment.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_parameter(name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Whether a URL query parameter carries a secret: `password`, `sslpassword`, and anything
/// else whose name says pass(word), secret or token. The name is compared percent-decoded and
/// case-insensitively, as a driver might read it.
pub fn is_secret_parameter(name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    let name = name.trim();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_in_the_user_information_is_hidden() {
        assert_eq!(
            redact("postgres://hw:s3cr3t@db:5432/hw"),
            "postgres://hw:***@db:5432/hw"
        );
        assert_eq!(redact("postgres://hw@db/hw"), "postgres://hw@db/hw");
        assert_eq!(redact("sqlite://./headwater.db"), "sqlite://./headwater.db");
        assert_eq!(redact("not a url"), "not a url");
        assert_eq!(
            redact("postgres://hw:p@ss@db/hw"),
            "postgres://hw:***@db/hw",
            "an unescaped @ in the password"
        );
    }

    /// `?password=` and `?sslpassword=` were printed by `headwater config` and logged.
    #[test]
    fn secret_query_parameters_are_hidden() {
        assert_eq!(
            redact("postgres://hw@db/hw?sslmode=verify-full&password=s3cr3t&sslpassword=k3y"),
            "postgres://hw@db/hw?sslmode=verify-full&password=***&sslpassword=***"
        );
        assert_eq!(
            redact("postgres://hw:a@db/hw?PassWord=b&application_name=x#frag"),
            "postgres://hw:***@db/hw?PassWord=***&application_name=x#frag"
        );
        assert_eq!(
            redact("postgres:///hw?host=/run/pg&%70assword=s3cr3t&user=hw"),
            "postgres:///hw?host=/run/pg&%70assword=***&user=hw"
        );
        let url = "postgres://db/hw?password=s3cr3t@x&sslpassword";
        let redacted = redact(url);
        assert!(!redacted.contains("s3cr3t"), "{redacted}");
    }

    #[test]
    fn parameters_that_carry_secrets_are_known_by_name() {
        for secret in [
            "password",
            "sslpassword",
            "PASSWORD",
            "pwd",
            "client_secret",
            "token",
        ] {
            assert!(is_secret_parameter(secret), "{secret}");
        }
        for plain in ["sslmode", "sslkey", "host", "user", "dbname", "options"] {
            assert!(!is_secret_parameter(plain), "{plain}");
        }
    }
}
