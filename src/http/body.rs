//! Reading request bodies: size limits, gzip, the memory all bodies may take together, and the
//! media type that picks a parser.
//!
//! Bodies are read whole, because the raw payload is archived byte for byte. The size limit
//! applies twice: to the bytes on the wire, and to what they inflate to, so a small gzip bomb
//! cannot exhaust memory. And all bodies held at once, across requests, share one budget of
//! bytes ([`BodyBudget`]): a body takes its share as it arrives and inflates, and gives it back
//! when the last of its bytes is dropped, so many large requests at once wait their turn, or
//! answer 503, instead of taking the memory of the process.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use bytes::Buf;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// How long a body waits for its share of the budget before answering 503: below the 5 s the
/// OpenLineage clients wait for an answer, so that they get the 503 they retry.
const BUDGET_WAIT: Duration = Duration::from_secs(3);

/// Bytes inflated per step; each step is CPU work, off the async workers.
const INFLATE_STEP: usize = 1024 * 1024;

/// The bytes of request bodies that may be in memory at once, across all requests: on the
/// wire, and inflated.
#[derive(Debug)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes not taken by any body now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    fn share(&self) -> Share {
        Share {
            permits: self.permits.clone(),
            total: self.total,
            held: None,
            bytes: 0,
        }
    }
}

/// One body's share of the budget; given back when dropped.
#[derive(Debug)]
struct Share {
    permits: Arc<Semaphore>,
    total: usize,
    held: Option<OwnedSemaphorePermit>,
    bytes: usize,
}

impl Share {
    /// Takes more of the budget, so that the share covers `bytes` in all: waits for it at
    /// most [`BUDGET_WAIT`], then answers 503; a body that alone needs more than the whole
    /// budget answers 413.
    async fn grow_to(&mut self, bytes: usize) -> Result<()> {
        if bytes <= self.bytes {
            return Ok(());
        }
        if bytes > self.total {
            return Err(over_budget(self.total));
        }
        let more = u32::try_from(bytes - self.bytes).map_err(|_| over_budget(self.total))?;
        let acquire = self.permits.clone().acquire_many_owned(more);
        let Ok(Ok(permit)) = tokio::time::timeout(BUDGET_WAIT, acquire).await else {
            return Err(busy());
        };
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        self.bytes = bytes;
        Ok(())
    }
}

fn over_budget(total: usize) -> Error {
    Error::OverLimit {
        code: "payload-too-large",
        detail: format!(
            "the request body alone needs more than the {total} bytes all bodies in memory \
             may take together (HEADWATER_BODY_BUDGET_BYTES)"
        ),
        path: None,
    }
}

fn busy() -> Error {
    Error::unavailable(
        "the server is holding as many request bodies as it may (HEADWATER_BODY_BUDGET_BYTES); \
         nothing was stored; retry later",
    )
}

/// Bytes that keep their share of the budget for as long as they (or any slice of them) live.
struct Budgeted {
    data: Vec<u8>,
    _share: Share,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

fn budgeted(data: Vec<u8>, share: Share) -> Bytes {
    Bytes::from_owner(Budgeted {
        data,
        _share: share,
    })
}

/// A request body, inflated, with what it cost on the wire.
#[derive(Debug)]
pub struct ReceivedBody {
    /// The body after gunzip. Holds its share of the [`BodyBudget`] until the last clone or
    /// slice of it is dropped.
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

/// Reads the body, enforcing `limit` before and after gunzip, within `budget`. `watch` sees
/// the (inflated) bytes in order as they come, and may refuse the body before the rest is
/// read: counting a batch's events there keeps a gzip bomb from being inflated whole.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    budget: &BodyBudget,
    mut watch: impl FnMut(&[u8]) -> Result<()>,
) -> Result<ReceivedBody> {
    let gzipped = is_gzip(headers)?;
    if declared_length(headers).is_some_and(|n| n > limit) {
        return Err(Error::PayloadTooLarge { limit });
    }
    let mut wire_share = budget.share();
    let plain = (!gzipped).then_some(&mut watch);
    let wire = collect(body, limit, &mut wire_share, plain).await?;
    let wire_bytes = wire.len();
    let bytes = match gzipped {
        false => budgeted(wire, wire_share),
        true => {
            let mut share = budget.share();
            let inflated = inflate(wire, limit, &mut share, &mut watch).await?;
            drop(wire_share);
            budgeted(inflated, share)
        }
    };
    Ok(ReceivedBody { bytes, wire_bytes })
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The body's frames in one buffer. The share covers the buffer's capacity, taken before
/// each time it grows.
async fn collect(
    mut body: Body,
    limit: usize,
    share: &mut Share,
    mut watch: Option<&mut impl FnMut(&[u8]) -> Result<()>>,
) -> Result<Vec<u8>> {
    let mut data: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(read_error)?.into_data() else {
            continue;
        };
        let needed = data.len() + chunk.len();
        if needed > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        if needed > data.capacity() {
            // Doubling, as a vector grows, but never past what may be held.
            let most = limit.min(share.total).max(needed);
            let capacity = (data.capacity() * 2).clamp(needed, most);
            share.grow_to(capacity).await?;
            data.reserve_exact(capacity - data.len());
        }
        if let Some(watch) = watch.as_mut() {
            watch(&chunk)?;
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// Inflates step by step, each step off the async workers, the share grown before each.
async fn inflate(
    wire: Vec<u8>,
    limit: usize,
    share: &mut Share,
    watch: &mut impl FnMut(&[u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    let mut decoder = flate2::read::MultiGzDecoder::new(Bytes::from(wire).reader());
    let mut out = Vec::new();
    loop {
        let step = (limit + 1 - out.len()).min(INFLATE_STEP);
        share.grow_to(out.len() + step).await?;
        let done;
        let seen = out.len();
        (decoder, out, done) = tokio::task::spawn_blocking(move || {
            let done = inflate_step(&mut decoder, &mut out, step, limit);
            (decoder, out, done)
        })
        .await
        .map_err(|e| Error::Internal(e.into()))?;
        let done = done?;
        watch(&out[seen..])?;
        if done {
            return Ok(out);
        }
    }
}

/// Inflates at most `step` more bytes into `out`, into capacity reserved for exactly them;
/// `true` once the stream ends. One byte more than `limit` proves the body too large without
/// inflating the rest.
fn inflate_step(
    decoder: &mut impl Read,
    out: &mut Vec<u8>,
    step: usize,
    limit: usize,
) -> Result<bool> {
    let start = out.len();
    out.reserve_exact(step);
    out.resize(start + step, 0);
    let mut filled = start;
    let ended = loop {
        if filled == start + step {
            break false;
        }
        match decoder.read(&mut out[filled..]) {
            Ok(0) => break true,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::bad_request(
                    "invalid-gzip",
                    format!("Content-Encoding is gzip but the body is not valid gzip: {e}"),
                    None,
                ));
            }
        }
    };
    out.truncate(filled);
    if out.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    Ok(ended)
}

fn read_error(err: axum::Error) -> Error {
    let inner = err.into_inner();
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

/// Inflates at most `limit + 1` bytes, in the same steps as [`read`] but outside any budget.
/// Public for the fuzz targets, which must inflate as [`read`] does.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Bytes> {
    let mut decoder = flate2::read::MultiGzDecoder::new(data);
    let mut out = Vec::new();
    loop {
        let step = (limit + 1 - out.len()).min(INFLATE_STEP);
        if inflate_step(&mut decoder, &mut out, step, limit)? {
            return Ok(Bytes::from(out));
        }
    }
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

    fn gzipped() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        headers
    }

    /// A body keeps its share until its last slice is dropped, then the budget is whole again.
    #[tokio::test]
    async fn the_budget_follows_the_bytes() {
        let budget = BodyBudget::new(10_000);
        let plain = read(
            &HeaderMap::new(),
            Body::from(vec![7u8; 3000]),
            5000,
            &budget,
            |_| Ok(()),
        )
        .await
        .unwrap();
        assert!(budget.available() <= 7000, "{}", budget.available());
        let slice = plain.bytes.slice(10..20);
        drop(plain);
        assert!(budget.available() <= 7000, "a slice keeps it");
        drop(slice);
        assert_eq!(budget.available(), 10_000);

        let wire = gzip(&vec![1u8; 4000]);
        let inflated = read(&gzipped(), Body::from(wire), 5000, &budget, |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(inflated.bytes.len(), 4000);
        assert!(budget.available() <= 6000, "{}", budget.available());
        drop(inflated);
        assert_eq!(budget.available(), 10_000);
    }

    /// The watch sees inflated bytes as they come: refusing stops the rest being inflated.
    #[tokio::test]
    async fn a_watch_refuses_a_bomb_after_its_first_step() {
        let budget = BodyBudget::new(64 << 20);
        let wire = gzip(&vec![b' '; 32 << 20]);
        let mut seen = 0;
        let err = read(&gzipped(), Body::from(wire), 48 << 20, &budget, |bytes| {
            seen += bytes.len();
            Err(Error::Forbidden("enough".to_owned()))
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "enough");
        assert_eq!(seen, INFLATE_STEP);
        assert_eq!(budget.available(), 64 << 20);
    }

    #[tokio::test]
    async fn a_body_alone_over_the_budget_is_too_large_and_a_busy_budget_answers_503() {
        let budget = BodyBudget::new(1000);
        let err = read(
            &HeaderMap::new(),
            Body::from(vec![0u8; 2000]),
            5000,
            &budget,
            |_| Ok(()),
        )
        .await
        .unwrap_err();
        assert_eq!(err.status_code(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            err.to_string().contains("HEADWATER_BODY_BUDGET_BYTES"),
            "{err}"
        );
        let held = read(
            &HeaderMap::new(),
            Body::from(vec![0u8; 800]),
            5000,
            &budget,
            |_| Ok(()),
        )
        .await
        .unwrap();
        let err = read(
            &HeaderMap::new(),
            Body::from(vec![0u8; 800]),
            5000,
            &budget,
            |_| Ok(()),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "unavailable");
        drop(held);
        assert_eq!(
            budget.available(),
            1000,
            "a refused body gives its share back"
        );
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
