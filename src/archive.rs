//! The raw-payload archive as a whole: replay it into the graph, export it as JSON-lines, and
//! import JSON or JSON-lines files (exports, OpenLineage events, Spline plans and events).
//!
//! Every payload, whether it comes from HTTP, an import file or the archive itself, is parsed
//! by the same parsers ([`changes`]), so the graph it yields does not depend on how it came in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::ingest::openlineage;
use crate::ingest::spline::{self, ApiVersion};
use crate::model::{ChangeSet, RawPayload};
use crate::store::{RawPayloadQuery, Store};

/// Raw-payload format of Spline execution plans.
pub const SPLINE_PLAN: &str = "spline.plan";
/// Raw-payload format of Spline execution-event batches.
pub const SPLINE_EVENTS: &str = "spline.events";
/// Raw-payload format of OpenLineage events.
pub const OPENLINEAGE_EVENT: &str = "openlineage.event";

/// Payloads read from the archive per query: big enough to amortise round trips, small enough
/// to keep memory flat whatever the archive's size.
const PAGE: u32 = 200;

/// Parses an archived payload back into its graph changes, by its format and version.
pub fn changes(raw: &RawPayload) -> Result<ChangeSet, Error> {
    match raw.format.as_str() {
        SPLINE_PLAN => {
            spline::plan(spline_version(&raw.version)?, &raw.body, raw.received_at).map(|p| p.1)
        }
        SPLINE_EVENTS => spline::events(spline_version(&raw.version)?, &raw.body),
        OPENLINEAGE_EVENT => openlineage::event(&raw.body).map(|p| p.changes),
        other => Err(unsupported(format!("unknown payload format `{other}`"))),
    }
}

fn spline_version(version: &str) -> Result<ApiVersion, Error> {
    [ApiVersion::V10, ApiVersion::V11, ApiVersion::V12]
        .into_iter()
        .find(|v| v.as_str() == version)
        .ok_or_else(|| unsupported(format!("unknown Spline producer API version `{version}`")))
}

fn unsupported(detail: String) -> Error {
    Error::BadRequest {
        code: "unsupported-payload",
        detail,
        path: None,
    }
}

/// Which archived payloads an operation covers: received in `[since, until)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    /// Received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Received before this time.
    pub until: Option<DateTime<Utc>>,
}

/// Progress of a long archive command on stderr.
///
/// On a terminal it is an `indicatif` bar (by bytes, or by items when that is what is known)
/// or a spinner when there is no total, with the counts in its message. When stderr is not a
/// terminal (CI, a log file) indicatif draws nothing, so a plain line is printed instead, at
/// most one per interval: long runs show they are alive without flooding a log.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    every: Duration,
    last: Instant,
    output: Output,
    /// What the position counts, and the total when known.
    unit: Unit,
    total: Option<u64>,
    position: u64,
    /// Names of the two counts, e.g. `stored` and `rejected`.
    nouns: (&'static str, &'static str),
}

#[derive(Debug)]
enum Output {
    Quiet,
    Plain,
    Bar(indicatif::ProgressBar),
}

/// What a progress position counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of input read.
    Bytes,
    /// Items (records, payloads) handled.
    Items,
}

impl Progress {
    /// Reports on stderr, prefixed with `label`; without a terminal, a line every `every`.
    pub fn new(label: &'static str, every: Duration) -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        let output = match bar.is_hidden() {
            true => Output::Plain,
            false => Output::Bar(bar.with_prefix(label)),
        };
        Progress {
            label,
            every,
            last: Instant::now(),
            output,
            unit: Unit::Items,
            total: None,
            position: 0,
            nouns: ("done", "failed"),
        }
    }

    /// Reports nothing (tests, or callers with their own reporting).
    pub fn quiet() -> Self {
        Progress {
            label: "",
            every: Duration::MAX,
            last: Instant::now(),
            output: Output::Quiet,
            unit: Unit::Items,
            total: None,
            position: 0,
            nouns: ("done", "failed"),
        }
    }

    /// Starts counting `unit`s towards `total` (a spinner when it is unknown), naming the
    /// two counts [`tick`](Self::tick) reports, e.g. `("stored", "rejected")`.
    pub fn start(&mut self, unit: Unit, total: Option<u64>, nouns: (&'static str, &'static str)) {
        self.unit = unit;
        self.total = total;
        self.position = 0;
        self.nouns = nouns;
        self.last = Instant::now();
        if let Output::Bar(bar) = &self.output {
            bar.set_style(style(unit, total.is_some()));
            match total {
                Some(total) => bar.set_length(total),
                None => bar.unset_length(),
            }
            bar.set_position(0);
            bar.set_message(self.message(0, 0));
            bar.reset_elapsed();
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    }

    /// The position: bytes or items so far, as last set.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves the position to `position` (bytes or items, as started).
    pub fn set_position(&mut self, position: u64) {
        self.position = position;
        if let Output::Bar(bar) = &self.output {
            bar.set_position(position);
        }
    }

    /// Reports the two counts: on the bar at once, as a plain line if the interval has passed.
    pub fn tick(&mut self, done: u64, failed: u64) {
        match &self.output {
            Output::Quiet => {}
            Output::Bar(bar) => bar.set_message(self.message(done, failed)),
            Output::Plain => {
                if let Some(line) = self.due(done, failed) {
                    eprintln!("{line}");
                }
            }
        }
    }

    /// Stops the bar, leaving its last state on screen, so what is printed next starts on a
    /// line of its own. Plain lines need no ending: the command prints its summary.
    pub fn finish(&mut self) {
        if let Output::Bar(bar) = &self.output {
            bar.finish();
        }
    }

    /// The plain line for these counts, if the interval has passed since the last one.
    fn due(&mut self, done: u64, failed: u64) -> Option<String> {
        if self.last.elapsed() < self.every {
            return None;
        }
        self.last = Instant::now();
        Some(self.line(done, failed))
    }

    /// E.g. `import: 1.50 MiB of 6.00 MiB (25%), 120 stored, 2 rejected`.
    fn line(&self, done: u64, failed: u64) -> String {
        let counts = self.message(done, failed);
        let amount = |n: u64| match self.unit {
            Unit::Bytes => indicatif::BinaryBytes(n).to_string(),
            Unit::Items => n.to_string(),
        };
        let label = self.label;
        match (self.unit, self.total) {
            (_, Some(total)) => {
                let percent = match total {
                    0 => 100,
                    _ => self.position.min(total) * 100 / total,
                };
                let (done, total) = (amount(self.position), amount(total));
                format!("{label}: {done} of {total} ({percent}%), {counts}")
            }
            (Unit::Bytes, None) => format!("{label}: {} read, {counts}", amount(self.position)),
            (Unit::Items, None) => format!("{label}: {counts}"),
        }
    }

    /// E.g. `120 stored, 2 rejected`.
    fn message(&self, done: u64, failed: u64) -> String {
        let (done_noun, failed_noun) = self.nouns;
        format!("{done} {done_noun}, {failed} {failed_noun}")
    }
}

/// A bar when the total is known, else a spinner; the message carries the counts.
fn style(unit: Unit, bounded: bool) -> indicatif::ProgressStyle {
    let template = match (unit, bounded) {
        (Unit::Bytes, true) => {
            "{prefix}: {spinner} [{elapsed_precise}] [{wide_bar}] \
             {binary_bytes}/{binary_total_bytes} ({eta}) {msg}"
        }
        (Unit::Items, true) => {
            "{prefix}: {spinner} [{elapsed_precise}] [{wide_bar}] {human_pos}/{human_len} ({eta}) \
             {msg}"
        }
        (Unit::Bytes, false) => "{prefix}: {spinner} [{elapsed_precise}] {binary_bytes} {msg}",
        (Unit::Items, false) => "{prefix}: {spinner} [{elapsed_precise}] {msg}",
    };
    indicatif::ProgressStyle::with_template(template)
        .expect("progress templates are valid")
        .progress_chars("=> ")
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    /// Payloads whose changes were applied.
    pub replayed: u64,
    /// Payloads the current parsers or guards rejected: (payload id, format, reason).
    pub failed: Vec<(i64, String, String)>,
}

/// Re-parses every archived payload in `range` in order of receipt and re-applies its changes.
///
/// Idempotent: upserts merge by producer time, so replaying twice (or over a live graph)
/// changes nothing. A payload the parsers now reject is reported, and the replay goes on.
pub async fn replay(
    store: &dyn Store,
    range: TimeRange,
    progress: &mut Progress,
) -> anyhow::Result<ReplaySummary> {
    let mut summary = ReplaySummary::default();
    let mut after_id = 0;
    progress.start(Unit::Items, None, ("replayed", "failed"));
    loop {
        let page = store.raw_payloads(&query(range, after_id)).await?;
        let Some(last) = page.last() else {
            progress.finish();
            return Ok(summary);
        };
        after_id = last.id;
        for stored in page {
            let outcome = match changes(&stored.raw) {
                Ok(changes) => store.reapply(changes).await.map(|_| ()),
                Err(err) => Err(err),
            };
            match outcome {
                Ok(()) => summary.replayed += 1,
                Err(Error::Internal(err)) => return Err(err.context("replaying")),
                // The database is down or busy: every record after this would fail the same.
                Err(err) if err.status_code().is_server_error() => {
                    return Err(anyhow::Error::new(err).context("replaying"));
                }
                Err(err) => {
                    let reason = describe(&err);
                    summary.failed.push((stored.id, stored.raw.format, reason));
                }
            }
            let failed = summary.failed.len() as u64;
            progress.set_position(summary.replayed + failed);
            progress.tick(summary.replayed, failed);
        }
    }
}

fn query(range: TimeRange, after_id: i64) -> RawPayloadQuery {
    RawPayloadQuery {
        after_id,
        since: range.since,
        until: range.until,
        limit: PAGE,
    }
}

/// An error's detail with the JSON path it points at, when it has one.
fn describe(err: &Error) -> String {
    match err {
        Error::BadRequest {
            path: Some(path), ..
        }
        | Error::Unprocessable {
            path: Some(path), ..
        }
        | Error::Conflict {
            path: Some(path), ..
        } => format!("{err} (at {path})"),
        _ => err.to_string(),
    }
}

/// One line of an export: an archived payload with what is needed to archive it again.
///
/// The body is embedded as JSON when that keeps its bytes exact (one line, nothing around
/// it), else carried as a string in `bodyText`: plan ids derived from the body and duplicate
/// detection by hash both depend on the exact bytes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    /// Raw-payload format, e.g. `spline.plan`.
    pub format: String,
    /// Wire-format version, e.g. `1.2`.
    pub version: String,
    /// The request's `Content-Type`.
    pub content_type: String,
    /// When Headwater first received it.
    pub received_at: DateTime<Utc>,
    /// When the event it carries happened, if it carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<DateTime<Utc>>,
    /// Bytes on the wire when first received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_bytes: Option<usize>,
    /// The body, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
    /// The body, as text, when it can't be embedded byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

impl ExportRecord {
    fn from_raw(raw: RawPayload) -> anyhow::Result<Self> {
        let text = String::from_utf8(raw.body.to_vec())
            .map_err(|_| anyhow::anyhow!("a {} payload is not UTF-8", raw.format))?;
        let embeddable = !text.contains(['\n', '\r'])
            && serde_json::from_str::<Box<RawValue>>(&text).is_ok_and(|v| v.get() == text);
        let (body, body_text) = match embeddable {
            true => (Some(RawValue::from_string(text)?), None),
            false => (None, Some(text)),
        };
        Ok(ExportRecord {
            format: raw.format,
            version: raw.version,
            content_type: raw.content_type,
            received_at: raw.received_at,
            event_time: raw.event_time,
            wire_bytes: Some(raw.wire_bytes),
            body,
            body_text,
        })
    }

    fn into_raw(self) -> Result<RawPayload, Error> {
        let text = match (self.body, self.body_text) {
            (Some(body), _) => body.get().to_owned(),
            (None, Some(text)) => text,
            (None, None) => {
                return Err(unsupported(
                    "an export record needs `body` or `bodyText`".into(),
                ));
            }
        };
        Ok(RawPayload {
            format: self.format,
            version: self.version,
            content_type: self.content_type,
            wire_bytes: self.wire_bytes.unwrap_or(text.len()),
            body: text.into_bytes().into(),
            received_at: self.received_at,
            event_time: self.event_time,
            received_by: None,
            request_id: None,
        })
    }
}

/// Writes the archived payloads in `range` as JSON-lines, oldest first; returns how many.
pub async fn export(
    store: &dyn Store,
    range: TimeRange,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut written = 0;
    let mut after_id = 0;
    loop {
        let page = store.raw_payloads(&query(range, after_id)).await?;
        let Some(last) = page.last() else {
            out.flush()?;
            return Ok(written);
        };
        after_id = last.id;
        for stored in page {
            serde_json::to_writer(&mut *out, &ExportRecord::from_raw(stored.raw)?)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
}

/// A record an import could not store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The file.
    pub file: PathBuf,
    /// Its line, from 1 (the first line of a file holding one JSON document).
    pub line: usize,
    /// The item of a JSON array of OpenLineage events, from 0.
    pub item: Option<usize>,
    /// What was wrong.
    pub reason: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(item) = self.item {
            write!(f, " [{item}]")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    /// Records stored (or already stored).
    pub stored: u64,
    /// Of those, how many were stored before.
    pub duplicates: u64,
    /// Records not stored.
    pub rejects: Vec<Reject>,
}

/// Who the audit log says stored an imported payload.
pub const IMPORT_ACTOR: &str = "cli:import";

/// Imports files one after another; see [`import_file`].
pub async fn import(
    store: &dyn Store,
    files: &[PathBuf],
    progress: &mut Progress,
) -> anyhow::Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    progress.start(Unit::Bytes, total_bytes(files), ("stored", "rejected"));
    for file in files {
        import_file(store, file, &mut summary, progress).await?;
    }
    progress.finish();
    Ok(summary)
}

/// The size of all `files` together, if every size can be read.
fn total_bytes(files: &[PathBuf]) -> Option<u64> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .sum()
}

/// Stores every record of one file through the same parsers and [`Store::apply`] as HTTP
/// ingest, so importing twice, or importing what was posted, changes nothing.
///
/// A file holding one JSON document (an event, a plan, an array of events) is one record;
/// otherwise each line is one (JSON-lines), blank lines and `#` comments skipped.
///
/// Moves `progress` on by the bytes of the file, from where it stands.
pub async fn import_file(
    store: &dyn Store,
    file: &Path,
    summary: &mut ImportSummary,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let before = progress.position();
    for (line, record) in records(&text) {
        // Records are slices of `text`: where one ends is how far the file has been read.
        let read = record.as_ptr() as usize - text.as_ptr() as usize + record.len();
        progress.set_position(before + read as u64);
        for (item, result) in payloads(record) {
            let outcome = match result {
                Ok((mut raw, changes)) => {
                    raw.received_by = Some(IMPORT_ACTOR.to_owned());
                    store.apply(&raw, changes).await
                }
                Err(err) => Err(err),
            };
            match outcome {
                Ok(o) => {
                    summary.stored += 1;
                    summary.duplicates += u64::from(o.duplicate);
                }
                Err(Error::Internal(err)) => return Err(err.context("importing")),
                // The database is down or busy: every record after this would fail the same.
                Err(err) if err.status_code().is_server_error() => {
                    return Err(anyhow::Error::new(err).context("importing"));
                }
                Err(err) => summary.rejects.push(Reject {
                    file: file.to_owned(),
                    line,
                    item,
                    reason: describe(&err),
                }),
            }
            progress.tick(summary.stored, summary.rejects.len() as u64);
        }
    }
    progress.set_position(before + text.len() as u64);
    Ok(())
}

/// The records of a file with their line numbers.
fn records(text: &str) -> Vec<(usize, &str)> {
    if serde_json::from_str::<&RawValue>(text).is_ok() {
        return vec![(1, text.trim())];
    }
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect()
}

type Payload = Result<(RawPayload, ChangeSet), Error>;

/// The payloads one record holds (several for an array of OpenLineage events), each with its
/// item number within the record when there are several.
fn payloads(record: &str) -> Vec<(Option<usize>, Payload)> {
    let value: Value = match serde_json::from_str(record) {
        Ok(value) => value,
        Err(e) => return vec![(None, Err(invalid_json(e)))],
    };
    match &value {
        Value::Object(o) if o.contains_key("format") && o.contains_key("receivedAt") => {
            vec![(None, exported(record))]
        }
        Value::Object(o) if o.contains_key("operations") => {
            vec![(None, spline_payload(SPLINE_PLAN, record))]
        }
        Value::Array(items) if items.first().is_some_and(|i| i.get("planId").is_some()) => {
            vec![(None, spline_payload(SPLINE_EVENTS, record))]
        }
        Value::Array(_) => openlineage_items(record),
        _ => vec![(None, openlineage_payload(record))],
    }
}

fn invalid_json(e: serde_json::Error) -> Error {
    Error::BadRequest {
        code: "invalid-json",
        detail: format!("invalid JSON: {e}"),
        path: None,
    }
}

fn exported(record: &str) -> Payload {
    let record: ExportRecord = serde_json::from_str(record).map_err(invalid_json)?;
    let raw = record.into_raw()?;
    let changes = changes(&raw)?;
    Ok((raw, changes))
}

/// A Spline plan or event batch, taken as producer API v1.2 as the generator files are.
fn spline_payload(format: &str, record: &str) -> Payload {
    let raw = RawPayload {
        format: format.to_owned(),
        version: ApiVersion::V12.as_str().to_owned(),
        content_type: spline::MEDIA_TYPE_V12.to_owned(),
        wire_bytes: record.len(),
        body: record.as_bytes().to_vec().into(),
        received_at: Utc::now(),
        event_time: None,
        received_by: None,
        request_id: None,
    };
    let changes = changes(&raw)?;
    Ok((raw, changes))
}

/// One OpenLineage event, archived as `POST /api/v1/lineage` archives it.
fn openlineage_payload(record: &str) -> Payload {
    let parsed = openlineage::event(record.as_bytes())?;
    let raw = RawPayload {
        format: OPENLINEAGE_EVENT.to_owned(),
        version: parsed.spec_version,
        content_type: "application/json".to_owned(),
        wire_bytes: record.len(),
        body: record.as_bytes().to_vec().into(),
        received_at: Utc::now(),
        event_time: Some(parsed.event_time),
        received_by: None,
        request_id: None,
    };
    Ok((raw, parsed.changes))
}

/// An array of OpenLineage events: each is archived on its own, as the batch endpoint does.
fn openlineage_items(record: &str) -> Vec<(Option<usize>, Payload)> {
    match serde_json::from_str::<Vec<&RawValue>>(record) {
        Ok(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (Some(i), openlineage_payload(item.get())))
            .collect(),
        Err(e) => vec![(None, Err(invalid_json(e)))],
    }
}

/// Opens `--output FILE`, or stdout when there is none.
pub fn output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_one_document_is_one_record_else_lines_are() {
        let pretty = "{\n  \"a\": 1\n}\n";
        assert_eq!(records(pretty), vec![(1, "{\n  \"a\": 1\n}")]);
        let lines = "# comment\n{\"a\":1}\n\n{\"b\":2}\r\n";
        assert_eq!(records(lines), vec![(2, "{\"a\":1}"), (4, "{\"b\":2}")]);
    }

    #[test]
    fn export_records_keep_the_body_byte_for_byte() {
        for body in ["{\"b\":1,\"a\":2}", "{\n \"a\": 1\n}\n", " [1] "] {
            let raw = RawPayload {
                format: SPLINE_EVENTS.into(),
                version: "1.2".into(),
                content_type: "application/json".into(),
                body: body.as_bytes().to_vec().into(),
                wire_bytes: 3,
                received_at: Utc::now(),
                event_time: None,
                received_by: None,
                request_id: None,
            };
            let line = serde_json::to_string(&ExportRecord::from_raw(raw).unwrap()).unwrap();
            assert!(!line.contains('\n'), "{line}");
            let back: ExportRecord = serde_json::from_str(&line).unwrap();
            let back = back.into_raw().unwrap();
            assert_eq!(back.body.as_ref(), body.as_bytes());
            assert_eq!(back.wire_bytes, 3);
        }
    }

    /// Plain lines, as when stderr is not a terminal.
    fn plain(label: &'static str, every: Duration) -> Progress {
        Progress {
            label,
            every,
            output: Output::Plain,
            ..Progress::quiet()
        }
    }

    #[test]
    fn plain_progress_lines_name_the_counts_and_the_share_read() {
        let mut p = plain("import", Duration::ZERO);
        p.start(Unit::Bytes, Some(4 * 1024 * 1024), ("stored", "rejected"));
        p.set_position(1024 * 1024);
        assert_eq!(
            p.line(120, 2),
            "import: 1.00 MiB of 4.00 MiB (25%), 120 stored, 2 rejected"
        );
        p.start(Unit::Bytes, Some(0), ("stored", "rejected"));
        assert_eq!(
            p.line(0, 0),
            "import: 0 B of 0 B (100%), 0 stored, 0 rejected"
        );
        p.start(Unit::Bytes, None, ("stored", "rejected"));
        p.set_position(2048);
        assert_eq!(p.line(3, 0), "import: 2.00 KiB read, 3 stored, 0 rejected");
        let mut p = plain("replay", Duration::ZERO);
        p.start(Unit::Items, None, ("replayed", "failed"));
        p.set_position(7);
        assert_eq!(p.line(5, 2), "replay: 5 replayed, 2 failed");
        p.start(Unit::Items, Some(10), ("replayed", "failed"));
        p.set_position(7);
        assert_eq!(p.line(5, 2), "replay: 7 of 10 (70%), 5 replayed, 2 failed");
    }

    #[test]
    fn plain_progress_lines_come_at_most_once_per_interval() {
        let mut p = plain("import", Duration::from_secs(3600));
        p.start(Unit::Items, None, ("done", "failed"));
        assert_eq!(p.due(1, 0), None, "not before an interval has passed");
        p.every = Duration::ZERO;
        assert_eq!(p.due(2, 0).as_deref(), Some("import: 2 done, 0 failed"));
        assert!(p.due(3, 0).is_some(), "each time an interval has passed");
        p.every = Duration::from_secs(3600);
        assert_eq!(p.due(4, 0), None, "the interval starts again at each line");
    }

    #[test]
    fn progress_styles_parse() {
        for unit in [Unit::Bytes, Unit::Items] {
            for bounded in [true, false] {
                let _ = style(unit, bounded);
            }
        }
    }

    #[test]
    fn unknown_formats_and_versions_are_rejected() {
        let mut raw = RawPayload {
            format: "nope".into(),
            version: "1".into(),
            content_type: "application/json".into(),
            body: b"{}".to_vec().into(),
            wire_bytes: 2,
            received_at: Utc::now(),
            event_time: None,
            received_by: None,
            request_id: None,
        };
        assert!(changes(&raw).is_err());
        raw.format = SPLINE_PLAN.into();
        raw.version = "9".into();
        assert!(changes(&raw).unwrap_err().to_string().contains("`9`"));
    }
}
