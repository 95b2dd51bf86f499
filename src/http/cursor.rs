//! Page cursors: where the next page starts, sealed so that nobody can read or forge one.
//!
//! A cursor holds the key of the last node on its page. As plain text it would show that key
//! (in a URL, a log, a browser's history), and a forged one would let a reader start a page
//! anywhere, next to keys it may not see. So a cursor is encrypted and authenticated
//! (XChaCha20-Poly1305, random nonce) for the reader and the question it answers: another
//! token's cursor, or one for another search, opens as no cursor at all.
//!
//! The key is the service's own secret, kept in the database ([`Store::secret`]): replicas
//! share the database, so a page one replica handed out continues on another, and the key
//! outlives restarts. Deleting the secret's row makes every cursor handed out invalid (a
//! client then starts again from the first page).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use tokio::sync::OnceCell;

use crate::error::{Error, Result};
use crate::store::Store;

/// Name of the secret cursors are sealed with.
const SECRET: &str = "cursor-key";
const NONCE_BYTES: usize = 24;

/// Seals and opens cursors with the key stored in the database, read once per process.
#[derive(Default)]
pub struct Cursors {
    cipher: OnceCell<XChaCha20Poly1305>,
}

impl Cursors {
    /// A cursor for `position`, to be opened only with the same `context` (who asks what).
    pub async fn seal(&self, store: &dyn Store, context: &[u8], position: &str) -> Result<String> {
        let cipher = self.cipher(store).await?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|e| anyhow::anyhow!("no randomness for a cursor's nonce: {e}"))?;
        let payload = Payload {
            msg: position.as_bytes(),
            aad: context,
        };
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|e| anyhow::anyhow!("sealing a cursor: {e}"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The position a cursor sealed for `context` holds; 400 for anything else, named after
    /// the parameter `param`.
    pub async fn open(
        &self,
        store: &dyn Store,
        context: &[u8],
        cursor: &str,
        param: &str,
    ) -> Result<String> {
        let cipher = self.cipher(store).await?;
        let opened = URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .filter(|bytes| bytes.len() > NONCE_BYTES)
            .and_then(|bytes| {
                let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
                let payload = Payload {
                    msg: sealed,
                    aad: context,
                };
                cipher.decrypt(XNonce::from_slice(nonce), payload).ok()
            })
            .and_then(|plain| String::from_utf8(plain).ok());
        opened.ok_or_else(|| {
            let detail = format!(
                "`{param}` is not a cursor this API issued for this token and these parameters"
            );
            Error::bad_request("invalid-parameter", detail, Some(param.to_owned()))
        })
    }

    async fn cipher(&self, store: &dyn Store) -> Result<&XChaCha20Poly1305> {
        self.cipher
            .get_or_try_init(|| async {
                let mut fresh = [0u8; 32];
                getrandom::fill(&mut fresh)
                    .map_err(|e| anyhow::anyhow!("no randomness for the cursor key: {e}"))?;
                let key = store.secret(SECRET, &fresh).await?;
                XChaCha20Poly1305::new_from_slice(&key).map_err(|_| {
                    Error::Internal(anyhow::anyhow!(
                        "the stored secret `{SECRET}` has {} bytes, not 32",
                        key.len()
                    ))
                })
            })
            .await
    }
}

/// What a cursor is bound to: each part length-prefixed, so no two lists of parts run together.
pub fn context(parts: &[&str]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for part in parts {
        bytes.extend((part.len() as u64).to_be_bytes());
        bytes.extend(part.as_bytes());
    }
    bytes
}
