//! Reading request bodies: size limits, gzip, and the media type that picks a parser.
//!
//! Bodies are read whole, because the raw payload is archived byte for byte. The size limit
//! applies twice: to the bytes on the wire, and to what they inflate to, so a small gzip bomb
//! cannot exhaust memory.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

use crate::error::{Error, Result};

/// A request body, inflated, with what it cost on the wire.
#[derive(Debug)]
pub struct ReceivedBody {
    /// The body after gunzip.
    pub bytes: Bytes,
    /// Bytes on the wire.
    pub wire_bytes: usize,
}

/// The media type's essence (`type/subtype`, parameters such as `charset` dropped), lower-cased.
pub fn media_type(headers: &HeaderMap) -> Result<String> {
    let raw = headers.get(header::CONTENT_TYPE).ok_or_else(|| {
        Error::UnsupportedMediaType("a Content-Type header is required".to_owned())
    })?;
    let text = raw.to_str().map_err(|_| {
        Error::UnsupportedMediaType("the Content-Type header is not ASCII".to_owned())
    })?;
    let parsed: mime::Mime = text
        .parse()
        .map_err(|_| Error::UnsupportedMediaType(format!("`{text}` is not a media type")))?;
    Ok(parsed.essence_str().to_ascii_lowercase())
}

/// Reads the body, enforcing `limit` before and after gunzip.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<ReceivedBody> {
    let gzipped = is_gzip(headers)?;
    let wire = axum::body::to_bytes(body, limit)
        .await
        .map_err(|err| read_error(err, limit))?;
    let wire_bytes = wire.len();
    let bytes = match gzipped {
        false => wire,
        true => tokio::task::spawn_blocking(move || gunzip(&wire, limit))
            .await
            .map_err(|e| Error::Internal(e.into()))??,
    };
    Ok(ReceivedBody { bytes, wire_bytes })
}

fn read_error(err: axum::Error, limit: usize) -> Error {
    let inner = err.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return Error::PayloadTooLarge { limit };
        }
        source = e.source();
    }
    Error::bad_request(
        "unreadable-body",
        format!("the request body could not be read: {inner}"),
        None,
    )
}

fn is_gzip(headers: &HeaderMap) -> Result<bool> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let value = value
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match value.as_str() {
        "gzip" | "x-gzip" => Ok(true),
        "" | "identity" => Ok(false),
        other => Err(Error::UnsupportedMediaType(format!(
            "Content-Encoding `{other}` is not supported; send gzip or an uncompressed body"
        ))),
    }
}

/// Inflates at most `limit + 1` bytes: one byte more than allowed proves the body too large
/// without inflating the rest. Public for the fuzz targets, which must inflate as [`read`] does.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Bytes> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let mut reader = flate2::read::MultiGzDecoder::new(data).take(limit as u64 + 1);
    reader.read_to_end(&mut out).map_err(|e| {
        Error::bad_request(
            "invalid-gzip",
            format!("Content-Encoding is gzip but the body is not valid gzip: {e}"),
            None,
        )
    })?;
    if out.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gunzip_round_trips_within_the_limit() {
        assert_eq!(
            gunzip(&gzip(b"hello"), 5).unwrap(),
            Bytes::from_static(b"hello")
        );
    }

    #[test]
    fn a_bomb_stops_one_byte_past_the_limit() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            gunzip(&bomb, 1024),
            Err(Error::PayloadTooLarge { limit: 1024 })
        ));
    }

    #[test]
    fn garbage_is_a_bad_request() {
        assert!(matches!(
            gunzip(b"not gzip", 1024),
            Err(Error::BadRequest {
                code: "invalid-gzip",
                ..
            })
        ));
    }

    #[test]
    fn media_type_parameters_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=UTF-8".parse().unwrap(),
        );
        assert_eq!(media_type(&headers).unwrap(), "application/json");
    }
}
