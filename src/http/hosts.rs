//! Which `Host` names the service answers while authentication is off: a defence against DNS
//! rebinding.
//!
//! Without tokens, anyone who can reach the port may read, write and delete. A page of
//! `evil.example` can reach a service on the visitor's loopback by pointing its own name at
//! 127.0.0.1 after the page has loaded: the browser then sends `Host: evil.example:8080` and
//! treats the answers as the page's own, so no CORS rule applies. The request still names
//! the attacker's host, so only names known to be this machine are answered: loopback names,
//! IP addresses (a page whose origin is an address is served by that address, so it can't
//! rebind), and the names configured in `HEADWATER_ALLOWED_HOSTS`. With tokens the check is
//! not needed: a rebound page has no token.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// The host names requests may name, beyond loopback names and IP addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    any: bool,
    names: Vec<String>,
}

impl AllowedHosts {
    /// Parses the setting: comma-separated host names (`lineage.internal,hw.example.com`;
    /// a port, if given, is ignored), `*` for any host (the check is off), empty for none.
    pub fn parse(text: &str) -> anyhow::Result<AllowedHosts> {
        let mut hosts = AllowedHosts::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                hosts.any = true;
                continue;
            }
            let authority = item.parse::<axum::http::uri::Authority>().ok().filter(|a| {
                // No user, and a port only if it is a number.
                let rebuilt = match a.port_u16() {
                    Some(port) => format!("{}:{port}", a.host()),
                    None => a.host().to_owned(),
                };
                rebuilt == a.as_str()
            });
            let name = authority.map(|a| host_name(a.as_str())).unwrap_or_default();
            anyhow::ensure!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c)),
                "allowed host `{item}` is not a host name, such as lineage.example.com"
            );
            hosts.names.push(name);
        }
        Ok(hosts)
    }

    /// Whether a request naming `host` (a `Host` header: name or address, maybe a port) is
    /// answered.
    pub fn allows(&self, host: &str) -> bool {
        let name = host_name(host);
        self.any || is_this_machine(&name) || self.names.contains(&name)
    }
}

/// The host of `name[:port]`, `[v6][:port]` or a bare IPv6 address: lower-cased, without a
/// final dot.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None if host.matches(':').count() > 1 => host,
        None => host.split(':').next().unwrap_or_default(),
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `localhost`, or any IP address.
fn is_this_machine(name: &str) -> bool {
    name == "localhost" || name.parse::<IpAddr>().is_ok()
}

/// Refuses a request whose `Host` (or, without one, the authority of its URI) isn't allowed.
/// A request naming no host at all (HTTP/1.0) can't come from a browser, and is answered.
pub(super) async fn guard(
    State(hosts): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let named = request
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match named {
        Some(host) if !hosts.allows(&host) => {
            tracing::warn!(%host, "refused a request for a host that is not this service's (DNS rebinding?)");
            Error::HostNotAllowed(format!(
                "this service does not answer for the host `{}` while authentication is off; \
                 name it in HEADWATER_ALLOWED_HOSTS, or use a tokens file",
                host_name(&host)
            ))
            .into_response()
        }
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_are_allowed_with_any_port() {
        let hosts = AllowedHosts::default();
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "localhost.:80",
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
            "10.1.2.3:8080",
        ] {
            assert!(hosts.allows(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!hosts.allows(host), "{host}");
        }
    }

    #[test]
    fn configured_names_are_allowed_and_star_allows_any() {
        let hosts = AllowedHosts::parse("lineage.internal, HW.Example.com:9000").unwrap();
        assert!(hosts.allows("lineage.internal:8080"));
        assert!(hosts.allows("hw.example.com"));
        assert!(!hosts.allows("example.com"));
        assert!(AllowedHosts::parse("*").unwrap().allows("anything.example"));
        assert_eq!(AllowedHosts::parse("").unwrap(), AllowedHosts::default());
        for bad in [
            "http://x.example/",
            "user@x.example",
            "x.example:port",
            "x y",
        ] {
            let err = AllowedHosts::parse(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
