//! Who may do what: API tokens, their scopes and the namespaces they are limited to.
//!
//! Neither Spline nor Marquez authenticates anyone, so lineage servers end up behind a
//! reverse proxy that knows nothing of producers, consumers or namespaces. Headwater checks
//! bearer tokens itself. Tokens are configured as SHA-256 hashes of their secrets in a TOML
//! file, so the file (and a leaked copy of it) never holds a usable secret; a presented secret
//! is hashed and compared with every configured hash in constant time.
//!
//! This module knows no HTTP: it turns a presented secret into a [`Principal`], and a
//! principal into yes or no for a scope or a namespace. `http::auth` applies it to requests.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Post lineage (Spline producer API, OpenLineage).
    Producer,
    /// Read lineage (every `GET`).
    Consumer,
    /// Delete, prune, replay, and read the audit log.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are documented.
    pub const ALL: [Scope; 3] = [Scope::Producer, Scope::Consumer, Scope::Admin];

    /// The name used in token files and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Producer => "producer",
            Scope::Consumer => "consumer",
            Scope::Admin => "admin",
        }
    }

    /// Parses a scope name.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a request, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name, as configured: what the audit log records.
    pub name: String,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
    /// The dataset and job namespaces it may read and write; `None` for all of them.
    pub namespaces: Option<BTreeSet<String>>,
}

impl Principal {
    /// The principal of every request while authentication is off.
    pub fn anonymous() -> Self {
        Principal {
            name: ANONYMOUS.to_owned(),
            scopes: Scope::ALL.into_iter().collect(),
            namespaces: None,
        }
    }

    /// Whether the token carries `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the token may see and write lineage in `namespace`.
    pub fn may_touch(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|allowed| allowed.contains(namespace))
    }

    /// Whether the token is limited to some namespaces.
    pub fn is_limited(&self) -> bool {
        self.namespaces.is_some()
    }
}

/// The name audit records carry when authentication is off.
pub const ANONYMOUS: &str = "anonymous";

/// One `[[token]]` of a tokens file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds the token, for the audit log and the server log. Unique in the file.
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub sha256: String,
    /// What the token allows.
    pub scopes: Vec<String>,
    /// Limits the token to these dataset and job namespaces; absent: all of them.
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// A configured token: the hash to compare against, and who it stands for.
#[derive(Clone)]
struct Token {
    hash: [u8; 32],
    principal: Principal,
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// Hashes never appear in debug output either: they are what a secret is checked against.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .tokens
            .iter()
            .map(|t| t.principal.name.as_str())
            .collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

impl Tokens {
    /// Reads a tokens file. Every mistake names the file and the token, so a bad file stops
    /// the service at start-up instead of locking everyone out later.
    pub fn load(path: &Path) -> anyhow::Result<Tokens> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("tokens file {}: cannot read it: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| anyhow::anyhow!("tokens file {}: {e}", path.display()))
    }

    /// Parses the text of a tokens file.
    pub fn parse(text: &str) -> anyhow::Result<Tokens> {
        let file: TokensFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("not a valid tokens file: {e}"))?;
        let mut names = BTreeSet::new();
        let mut tokens = Vec::with_capacity(file.token.len());
        for (i, entry) in file.token.into_iter().enumerate() {
            let token = Token::of(entry).map_err(|e| anyhow::anyhow!("token[{i}]: {e}"))?;
            if !names.insert(token.principal.name.clone()) {
                anyhow::bail!(
                    "token[{i}]: the name `{}` is used twice",
                    token.principal.name
                );
            }
            tokens.push(token);
        }
        Ok(Tokens { tokens })
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The principal whose token `secret` is, if any.
    ///
    /// Every configured hash is compared, in constant time, whatever matched before: how
    /// long this takes says nothing about which token, or how much of one, a guess matched.
    pub fn authenticate(&self, secret: &str) -> Option<&Principal> {
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.hash.ct_eq(&presented)) {
                found = Some(&token.principal);
            }
        }
        found
    }

    /// The principal named `name` whose secret is `secret` (OAuth client credentials).
    pub fn authenticate_client(&self, name: &str, secret: &str) -> Option<&Principal> {
        self.authenticate(secret).filter(|p| p.name == name)
    }
}

impl Token {
    fn of(entry: TokenEntry) -> anyhow::Result<Token> {
        let name = entry.name.trim().to_owned();
        anyhow::ensure!(!name.is_empty(), "`name` is empty");
        let hash =
            parse_hash(&entry.sha256).map_err(|e| anyhow::anyhow!("`{name}`: `sha256` {e}"))?;
        let scopes = parse_scopes(&entry.scopes).map_err(|e| anyhow::anyhow!("`{name}`: {e}"))?;
        let namespaces = match entry.namespaces {
            None => None,
            Some(list) => {
                Some(parse_namespaces(list).map_err(|e| anyhow::anyhow!("`{name}`: {e}"))?)
            }
        };
        Ok(Token {
            hash,
            principal: Principal {
                name,
                scopes,
                namespaces,
            },
        })
    }
}

fn parse_hash(hex_text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes =
        hex::decode(hex_text.trim()).map_err(|e| anyhow::anyhow!("is not hexadecimal: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("has {} bytes; a SHA-256 has 32", b.len()))
}

/// Parses scope names; at least one, each known.
pub fn parse_scopes<S: AsRef<str>>(names: &[S]) -> anyhow::Result<BTreeSet<Scope>> {
    let mut scopes = BTreeSet::new();
    for name in names {
        let name = name.as_ref();
        let scope = Scope::parse(name).ok_or_else(|| {
            anyhow::anyhow!("unknown scope `{name}`; use producer, consumer or admin")
        })?;
        scopes.insert(scope);
    }
    anyhow::ensure!(!scopes.is_empty(), "`scopes` is empty");
    Ok(scopes)
}

fn parse_namespaces(list: Vec<String>) -> anyhow::Result<BTreeSet<String>> {
    let set: BTreeSet<String> = list.into_iter().map(|n| n.trim().to_owned()).collect();
    anyhow::ensure!(
        !set.is_empty() && !set.contains(""),
        "`namespaces` must list at least one namespace, none of them empty (leave it out to allow all)"
    );
    Ok(set)
}

/// The hex SHA-256 of a secret: what a tokens file stores.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Prefix of generated secrets, so a leaked one is recognisable (secret scanners, logs).
const SECRET_PREFIX: &str = "hw_";

/// A fresh secret: 32 random bytes from the operating system, base64url without padding.
pub fn new_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(format!("{SECRET_PREFIX}{encoded}"))
}

/// The `[[token]]` block to paste into a tokens file for `secret`.
pub fn toml_block(
    name: &str,
    secret: &str,
    scopes: &BTreeSet<Scope>,
    namespaces: &[String],
) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let list = |items: Vec<String>| items.join(", ");
    let mut block = format!(
        "[[token]]\nname = {}\nsha256 = \"{}\"\nscopes = [{}]\n",
        quote(name),
        hash_secret(secret),
        list(scopes.iter().map(|s| quote(s.as_str())).collect())
    );
    if !namespaces.is_empty() {
        block.push_str(&format!(
            "namespaces = [{}]\n",
            list(namespaces.iter().map(|n| quote(n)).collect())
        ));
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(secret: &str, extra: &str) -> String {
        format!(
            "[[token]]\nname = \"etl\"\nsha256 = \"{}\"\nscopes = [\"producer\"]\n{extra}",
            hash_secret(secret)
        )
    }

    #[test]
    fn a_configured_secret_authenticates_and_others_do_not() {
        let tokens = Tokens::parse(&file("s3cret", "")).unwrap();
        let principal = tokens.authenticate("s3cret").unwrap();
        assert_eq!(principal.name, "etl");
        assert!(principal.may(Scope::Producer));
        assert!(!principal.may(Scope::Consumer));
        assert!(tokens.authenticate("s3cre").is_none());
        assert!(tokens.authenticate("").is_none());
        assert!(tokens.authenticate_client("etl", "s3cret").is_some());
        assert!(tokens.authenticate_client("other", "s3cret").is_none());
    }

    #[test]
    fn namespaces_limit_a_token() {
        let tokens =
            Tokens::parse(&file("s", "namespaces = [\"s3://lake\", \"airflow\"]\n")).unwrap();
        let p = tokens.authenticate("s").unwrap();
        assert!(p.is_limited());
        assert!(p.may_touch("airflow"));
        assert!(!p.may_touch("s3://other"));
        assert!(Principal::anonymous().may_touch("anything"));
    }

    #[test]
    fn mistakes_in_the_file_are_named() {
        let err = |text: &str| format!("{:#}", Tokens::parse(text).unwrap_err());
        assert!(
            err(&file("s", "").replace("producer", "writer")).contains("unknown scope `writer`")
        );
        assert!(
            err("[[token]]\nname = \"a\"\nsha256 = \"abcd\"\nscopes = [\"admin\"]\n")
                .contains("has 2 bytes")
        );
        assert!(err(&file("s", "namespaces = []\n")).contains("at least one namespace"));
        assert!(err(&format!("{}{}", file("a", ""), file("b", ""))).contains("used twice"));
        assert!(err(&file("s", "colour = \"red\"\n")).contains("unknown field"));
        assert!(Tokens::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_new_secret_round_trips_through_its_block() {
        let secret = new_secret().unwrap();
        assert!(secret.starts_with("hw_") && secret.len() > 40, "{secret}");
        assert_ne!(secret, new_secret().unwrap());
        let scopes = parse_scopes(&["consumer", "producer"]).unwrap();
        let block = toml_block("ci \"bot\"", &secret, &scopes, &["s3://lake".into()]);
        let tokens = Tokens::parse(&block).unwrap();
        let p = tokens.authenticate(&secret).unwrap();
        assert_eq!(p.name, "ci \"bot\"");
        assert_eq!(p.scopes, scopes);
        assert!(p.may_touch("s3://lake") && !p.may_touch("s3://else"));
        assert!(
            !block.contains(&secret),
            "the block must not hold the secret"
        );
    }

    #[test]
    fn debug_output_shows_names_only() {
        let tokens = Tokens::parse(&file("s3cret", "")).unwrap();
        let text = format!("{tokens:?}");
        assert!(
            text.contains("etl") && !text.contains(&hash_secret("s3cret")),
            "{text}"
        );
    }
}
