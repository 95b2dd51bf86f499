//! The SQL behind the Spline consumer API on SQLite: the same listings, plans, walks and
//! labels as [`crate::store::postgres`]'s, answering the same.
//!
//! A Spline execution event is a `run` node with an `eventKey`; its plan is the `job` it is
//! `run_of`, and the data source it wrote is that job's `output`. [`event_rows`] joins the
//! three into one row carrying the fields Spline lists, so listings filter, sort and page in
//! SQL. Where the dialects differ:
//!
//! - JSON is TEXT: `->` yields JSON text, `->>` an SQL value (a JSON number an INTEGER, `true`
//!   1), so text fields read through [`text`], which answers as PostgreSQL's `->>` does.
//! - No regular expressions: a data source's name (the last segment of its URI) is cut with
//!   string and JSON functions (see [`name_of`]).
//! - No arrays: lists travel as one JSON text parameter, read with `json_each`.
//! - NULLs sort first ascending and last descending, PostgreSQL's the other way round: every
//!   ORDER BY over a nullable column says where its NULLs go.
//! - LIKE folds ASCII only, where `ILIKE` folds every letter (see [`Search`]).
//! - No planner statistics: where the planner would read every event or plan member, the join
//!   order is fixed with `cross join`, starting from what the request names.
//!
//! Nothing a client sends is spliced into SQL: values are bound, sort columns come from a
//! closed enum, and the letters a search folds come from Unicode's case tables.

use serde_json::{Value, json};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Row, Sqlite, SqlitePool};

use super::search::Search;
use super::{json_list, ts_opt};
use crate::error::Result;
use crate::model::{Node, NodeId};
use crate::store::rows::{ALIASED_COLUMNS, NODE_COLUMNS, node_from_row};
use crate::store::{
    DataSourceAt, LabelQuery, Page, SplineEvent, SplineEventField, SplineEventPage,
    SplineEventQuery, SplineEventSort, SplineRun,
};

/// `{json} ->> {path}` as PostgreSQL answers it: a string's text, NULL for JSON null or
/// nothing, and any other value's JSON text (`true`, `3.5`), never an SQL number.
fn text(json: &str, path: &str) -> String {
    format!(
        "(case json_type({json}, '{path}') when 'text' then {json} ->> '{path}'
              when 'null' then null else {json} -> '{path}' end)"
    )
}

/// A data source's URI: Spline-fed datasets carry it; for any other the key holds it.
fn uri_of(dataset: &str) -> String {
    format!(
        "coalesce({}, substr({dataset}.key, 9))",
        text(&format!("{dataset}.properties"), "$.uri")
    )
}

/// Spline names a data source after the last segment of its URI (PostgreSQL:
/// `coalesce(substring(uri from '([^/]+)/*$'), uri)`). Without its trailing slashes, the URI
/// becomes a JSON array of its segments (`json_quote` never escapes `/`, so splitting the
/// quoted string at every `/` keeps each segment a valid JSON string), and the name is the last
/// one; a URI of nothing but slashes is its own name.
fn name_of(uri: &str) -> String {
    let trimmed = format!("rtrim({uri}, '/')");
    format!(
        "(case when {trimmed} = '' then {uri}
               else ('[' || replace(json_quote({trimmed}), '/', '\",\"') || ']') ->> '$[#-1]'
          end)"
    )
}

/// The run `r`, plan `j` and written data source `d` of every Spline event. The runs are read
/// from the index of Spline events (`migrations/sqlite`), which holds no other runs: the
/// planner, even with statistics, would read every run through the index on `kind`.
const EVENT_JOINS: &str = "from node r indexed by node_spline_event_timestamp
    join edge ro on ro.source_id = r.node_id and ro.kind = 'run_of'
    join node j on j.node_id = ro.target_id
    join edge o on o.source_id = j.node_id and o.kind = 'output'
    join node d on d.node_id = o.target_id
    where r.kind = 'run' and r.properties ->> 'eventKey' is not null";

/// Every Spline event, one row each, with Spline's listing fields under snake_case names;
/// `conditions` (`and ...` on `r`, `j`, `d`) narrow it.
fn event_rows(conditions: &str) -> String {
    format!(
        "select e.*, {name} as data_source_name from (
             select r.node_id as run_id, j.node_id as job_id, d.node_id as data_source_id,
                    {event_id} as execution_event_id,
                    {plan_id} as execution_plan_id,
                    concat_ws(' ', {system}, {version}) as framework_name,
                    j.name as application_name,
                    {app_id} as application_id,
                    cast(r.properties ->> 'timestamp' as integer) as timestamp,
                    cast(r.properties ->> 'durationNs' as integer) as duration_ns,
                    {uri} as data_source_uri,
                    {kind} as data_source_type,
                    coalesce(j.properties ->> 'append', 0) as append,
                    r.properties ->> 'error' is not null as failed,
                    r.properties -> 'error' as error,
                    r.properties -> 'extra' as extra,
                    r.properties -> 'labels' as labels,
                    j.properties -> 'labels' as plan_labels
             {EVENT_JOINS} {conditions}) e",
        name = name_of("e.data_source_uri"),
        event_id = text("r.properties", "$.eventKey"),
        plan_id = text("r.properties", "$.planId"),
        system = text("j.properties", "$.systemInfo.name"),
        version = text("j.properties", "$.systemInfo.version"),
        app_id = text("r.properties", "$.extra.appId"),
        uri = uri_of("d"),
        kind = text("j.properties", "$.destinationType"),
    )
}

/// `$label ? $value` of PostgreSQL's jsonb for the label `$name` of `labels`: the label is an
/// array holding the string, an object with the key, or the string itself.
fn has_label(labels: &str) -> String {
    format!(
        "exists (select 1 from json_each({labels}) lab
                 where lab.key = l.value ->> '$.name'
                   and case lab.type
                       when 'array' then exists (select 1 from json_each(lab.value) a
                                                 where a.type = 'text' and a.value = v.value)
                       when 'object' then exists (select 1 from json_each(lab.value) a
                                                  where a.key = v.value)
                       when 'text' then lab.value = v.value
                       else 0 end)"
    )
}

/// The filters of a listing over `x` (events, or data sources by their last write).
/// `$1` is bound by the source; `$2`..`$9` by [`bind_filters`].
fn filter(q: &SplineEventQuery) -> String {
    let search = Search::new(q.search.as_deref().unwrap_or_default());
    let like = |column: &str| search.matches(column, "$5");
    format!(
        "where ($2 is null or x.timestamp >= $2)
           and ($3 is null or x.timestamp <= $3)
           and not exists (
               select 1 from json_each($4) l
               where not exists (
                   select 1 from json_each(l.value, '$.values') v
                   where {event} or {plan}))
           and ($5 is null or {framework} or {application} or {application_id}
                or {uri} or {kind})
           and ($6 is null or x.append in (select value from json_each($6))
                or ($7 and x.execution_event_id is null))
           and ($8 is null or x.application_id = $8)
           and ($9 is null or x.data_source_uri = $9)",
        event = has_label("x.labels"),
        plan = has_label("x.plan_labels"),
        framework = like("x.framework_name"),
        application = like("x.application_name"),
        application_id = like("x.application_id"),
        uri = like("x.data_source_uri"),
        kind = like("x.data_source_type"),
    )
}

/// The node `alias` was stored at or before `$1`, when `$1` is given.
fn stored_by(alias: &str) -> String {
    format!("($1 is null or {alias}.created_at <= $1)")
}

/// Events stored by `$1`, as `x`, with the event key as the tie-breaker.
fn events_source() -> String {
    format!(
        "with x as (select e.*, e.execution_event_id as row_key from ({}) e)",
        event_rows(&format!("and {}", stored_by("r")))
    )
}

/// Data sources that Spline plans read or write, stored at or before `$1`, as `x`: each with
/// the fields of its latest write (by event timestamp), or nulls when it was never written.
fn data_sources_source() -> String {
    format!(
        "with e as ({events}),
         last_write as (
             select * from (
                 select e.*, row_number() over (
                     partition by e.data_source_id
                     order by e.timestamp desc nulls first, e.execution_event_id desc nulls first
                 ) as latest
                 from e)
             where latest = 1),
         x as (
             select w.execution_event_id, w.execution_plan_id, w.framework_name,
                    w.application_name, w.application_id, w.timestamp, w.duration_ns,
                    {name} as data_source_name, d.uri as data_source_uri, w.data_source_type,
                    w.append, w.error, w.extra, w.labels, w.plan_labels, d.uri as row_key
             from (select d.node_id, {uri} as uri from node d
                   where d.kind = 'dataset' and {data_source_stored}
                     and (exists (select 1 from edge t
                                  where t.target_id = d.node_id and t.kind = 'writes_to')
                          or exists (select 1 from edge t
                                     where t.source_id = d.node_id and t.kind = 'reads_from'))) d
             left join last_write w on w.data_source_id = d.node_id)",
        events = event_rows(&format!("and {}", stored_by("r"))),
        name = name_of("d.uri"),
        uri = uri_of("d"),
        data_source_stored = stored_by("d"),
    )
}

/// One page of Spline execution events.
pub(super) async fn events(pool: &SqlitePool, query: &SplineEventQuery) -> Result<SplineEventPage> {
    page(pool, &events_source(), query).await
}

/// One page of data sources, each described by its last write.
pub(super) async fn data_sources(
    pool: &SqlitePool,
    query: &SplineEventQuery,
) -> Result<SplineEventPage> {
    page(pool, &data_sources_source(), query).await
}

async fn page(pool: &SqlitePool, source: &str, q: &SplineEventQuery) -> Result<SplineEventPage> {
    let sql = format!(
        "{source} select x.*, count(*) over () as total from x {filter}
         order by {order} limit $10 offset $11",
        filter = filter(q),
        order = order_by(q.sort)
    );
    let rows = bind_filters(&sql, q, true)
        .bind(i64::from(q.page.limit))
        .bind(i64::from(q.page.offset))
        .fetch_all(pool)
        .await?;
    let total = match rows.first() {
        Some(row) => row.get::<i64, _>("total") as u64,
        None if q.page.offset == 0 => 0,
        // A page past the end still reports how many there are.
        None => count(pool, source, q).await?,
    };
    let date_range = match q.date_range {
        true => date_range(pool, source, q).await?,
        false => None,
    };
    Ok(SplineEventPage {
        items: rows.iter().map(event_from_row).collect(),
        total,
        date_range,
    })
}

async fn count(pool: &SqlitePool, source: &str, q: &SplineEventQuery) -> Result<u64> {
    let sql = format!("{source} select count(*) as total from x {}", filter(q));
    let row = bind_filters(&sql, q, true).fetch_one(pool).await?;
    Ok(row.get::<i64, _>("total") as u64)
}

/// Earliest and latest timestamp of everything the filters match, the time window aside
/// (Spline's `totalDateRange`, which the UI's date picker is bounded by).
async fn date_range(
    pool: &SqlitePool,
    source: &str,
    q: &SplineEventQuery,
) -> Result<Option<(i64, i64)>> {
    let sql = format!(
        "{source} select min(x.timestamp) as earliest, max(x.timestamp) as latest from x {}",
        filter(q)
    );
    let row = bind_filters(&sql, q, false).fetch_one(pool).await?;
    let earliest: Option<i64> = row.get("earliest");
    let latest: Option<i64> = row.get("latest");
    Ok(earliest.zip(latest))
}

/// Binds `$1`..`$9`; without `window` the timestamp bounds are left out.
fn bind_filters<'q>(
    sql: &'q str,
    q: &'q SplineEventQuery,
    window: bool,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    let labels: Vec<Value> = q
        .labels
        .iter()
        .map(|l| json!({"name": l.name, "values": l.values}))
        .collect();
    sqlx::query(sql)
        .bind(ts_opt(q.as_at))
        .bind(q.timestamp_start.filter(|_| window))
        .bind(q.timestamp_end.filter(|_| window))
        .bind(Value::Array(labels).to_string())
        .bind(
            q.search
                .as_deref()
                .map(|term| Search::new(term).pattern().to_owned()),
        )
        .bind(q.append.as_deref().map(json_list))
        .bind(q.include_unwritten)
        .bind(q.application_id.as_deref())
        .bind(q.data_source_uri.as_deref())
}

/// The ORDER BY of a listing. Nulls sort below every value, as in Spline's ArangoDB.
fn order_by(sort: SplineEventSort) -> String {
    let column = match sort.field {
        SplineEventField::ExecutionEventId => "execution_event_id",
        SplineEventField::ExecutionPlanId => "execution_plan_id",
        SplineEventField::FrameworkName => "framework_name",
        SplineEventField::ApplicationName => "application_name",
        SplineEventField::ApplicationId => "application_id",
        SplineEventField::Timestamp => "timestamp",
        SplineEventField::DurationNs => "duration_ns",
        SplineEventField::DataSourceName => "data_source_name",
        SplineEventField::DataSourceUri => "data_source_uri",
        SplineEventField::DataSourceType => "data_source_type",
        SplineEventField::Append => "append",
    };
    // PostgreSQL's default for the tie-breaker: NULLs last ascending, first descending.
    let (direction, nulls, key_nulls) = match sort.ascending {
        true => ("asc", "first", "last"),
        false => ("desc", "last", "first"),
    };
    format!("x.{column} {direction} nulls {nulls}, x.row_key {direction} nulls {key_nulls}")
}

/// A JSON column (JSON text, or NULL); JSON null reads as absent, as on PostgreSQL.
fn json_column(row: &SqliteRow, column: &str) -> Option<Value> {
    let text: Option<String> = row.get(column);
    text.and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(|v| !v.is_null())
}

fn event_from_row(row: &SqliteRow) -> SplineEvent {
    SplineEvent {
        execution_event_id: row.get("execution_event_id"),
        execution_plan_id: row.get("execution_plan_id"),
        framework_name: row.get("framework_name"),
        application_name: row.get("application_name"),
        application_id: row.get("application_id"),
        timestamp: row.get("timestamp"),
        duration_ns: row.get("duration_ns"),
        data_source_name: row.get("data_source_name"),
        data_source_uri: row.get("data_source_uri"),
        data_source_type: row.get("data_source_type"),
        append: row.get("append"),
        error: json_column(row, "error"),
        extra: json_column(row, "extra"),
        labels: json_column(row, "labels"),
        plan_labels: json_column(row, "plan_labels"),
    }
}

/// A Spline plan `j` with an event (whose timestamp is at or before `$1`, epoch ms, if given).
const PLAN_RAN: &str = "j.kind = 'job' and j.properties ->> 'format' = 'spline'
    and exists (select 1 from edge ro join node r on r.node_id = ro.source_id
                where ro.target_id = j.node_id and ro.kind = 'run_of'
                  and ($1 is null or cast(r.properties ->> 'timestamp' as integer) <= $1))";

/// Spline plans with an event at or before `as_at` (epoch ms), the latest stored first.
pub(super) async fn plans(
    pool: &SqlitePool,
    as_at: Option<i64>,
    page: Page,
) -> Result<(Vec<(NodeId, Node)>, u64)> {
    let sql = format!(
        "select {NODE_COLUMNS}, count(*) over () as total from node j where {PLAN_RAN}
         order by j.created_at desc, j.key limit $2 offset $3"
    );
    let rows = sqlx::query(&sql)
        .bind(as_at)
        .bind(i64::from(page.limit))
        .bind(i64::from(page.offset))
        .fetch_all(pool)
        .await?;
    let total = match rows.first() {
        Some(row) => row.get::<i64, _>("total") as u64,
        None => count_plans(pool, as_at).await?,
    };
    let plans = rows.iter().map(node_from_row).collect::<Result<_>>()?;
    Ok((plans, total))
}

async fn count_plans(pool: &SqlitePool, as_at: Option<i64>) -> Result<u64> {
    let sql = format!("select count(*) from node j where {PLAN_RAN}");
    let n: i64 = sqlx::query_scalar(&sql).bind(as_at).fetch_one(pool).await?;
    Ok(n as u64)
}

/// The operation and attribute nodes of the plans with these ids.
pub(super) async fn plan_members(
    pool: &SqlitePool,
    plan_ids: &[String],
) -> Result<Vec<(NodeId, Node)>> {
    // From the ids' end (`cross join`), so that the plan-member index serves each id; SQLite's
    // planner would otherwise read every operation and attribute.
    let sql = format!(
        "select {ALIASED_COLUMNS}
         from (select distinct value as plan_id from json_each($1)) q
         cross join node n on n.properties ->> 'planId' = q.plan_id
         where n.kind in ('operation', 'attribute')
         order by n.kind, n.key"
    );
    let rows = sqlx::query(&sql)
        .bind(json_list(plan_ids))
        .fetch_all(pool)
        .await?;
    rows.iter().map(node_from_row).collect()
}

/// A Spline run's timestamp (epoch ms), of the run `r`.
const RUN_TIMESTAMP: &str = "cast(r.properties ->> 'timestamp' as integer)";

/// The columns of a Spline run that the time-aware walk needs, in [`RUN_COLUMNS`]' order,
/// of the run `r`, plan `j` and written data source `d`.
const WALK_COLUMNS: &str = "r.node_id as run_id, j.node_id as job_id,
    cast(r.properties ->> 'timestamp' as integer) as timestamp,
    coalesce(j.properties ->> 'append', 0) as append,
    r.properties ->> 'error' is not null as failed,
    d.node_id as data_source_id";

/// The run columns the time-aware walk needs, from a CTE `c` with a request index `idx`. The
/// plan's reads come as a JSON array.
const RUN_ROW: &str = "
    select c.idx, c.run_id, c.job_id, c.timestamp, c.append, c.failed, c.data_source_id,
           (select json_group_array(i.source_id) from edge i
            where i.target_id = c.job_id and i.kind = 'input') as reads
    from c order by c.idx, c.timestamp nulls last, c.run_id";

/// The columns of [`WALK_COLUMNS`] from a subquery `e`.
const RUN_COLUMNS: &str = "e.run_id, e.job_id, e.timestamp, e.append, e.failed, e.data_source_id";

/// Requests as `req(data_source, at_ms, idx)`, `idx` counting from 1, from `$1`: a JSON array
/// of `[data source, epoch ms]` pairs.
const REQUESTS: &str = "req as materialized (
    select cast(q.value ->> '$[0]' as integer) as data_source,
           cast(q.value ->> '$[1]' as integer) as at_ms,
           q.key + 1 as idx
    from json_each($1) q)";

/// `w`: the runs that wrote a requested data source; callers append `and ...` conditions on
/// `e`. The joins of [`EVENT_JOINS`] are walked from the data source's end, in this order
/// (`cross join`): without statistics SQLite's planner would start from the events, and read
/// all of them for every step of a walk.
fn writes_of_requested() -> String {
    format!(
        "w as materialized (
             select {RUN_COLUMNS} from (
                 select {WALK_COLUMNS}
                 from node d
                 cross join edge o on o.target_id = d.node_id and o.kind = 'output'
                 cross join node j on j.node_id = o.source_id
                 cross join edge ro on ro.target_id = j.node_id and ro.kind = 'run_of'
                 cross join node r on r.node_id = ro.source_id
                 where d.node_id in (select data_source from req)
                   and r.kind = 'run' and r.properties ->> 'eventKey' is not null) e
             where true"
    )
}

/// Spline runs by run node id.
pub(super) async fn runs(pool: &SqlitePool, runs: &[NodeId]) -> Result<Vec<SplineRun>> {
    // From the ids' end, in this order (`cross join`): SQLite's planner would otherwise read
    // every run and test each against the list.
    let sql = format!(
        "with c as (
             select 1 as idx, {WALK_COLUMNS}
             from (select distinct value as run_id from json_each($1)) q
             cross join node r on r.node_id = q.run_id
             cross join edge ro on ro.source_id = r.node_id and ro.kind = 'run_of'
             cross join node j on j.node_id = ro.target_id
             cross join edge o on o.source_id = j.node_id and o.kind = 'output'
             cross join node d on d.node_id = o.target_id
             where r.kind = 'run' and r.properties ->> 'eventKey' is not null)
         {RUN_ROW}"
    );
    let rows = sqlx::query(&sql)
        .bind(json_list(runs))
        .fetch_all(pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// For each read, its data source's successful writes before it, from the last overwrite on.
pub(super) async fn writes_before(
    pool: &SqlitePool,
    reads: &[DataSourceAt],
) -> Result<Vec<Vec<SplineRun>>> {
    per_request(pool, &writes_before_sql(), reads).await
}

fn writes_before_sql() -> String {
    format!(
        "with {REQUESTS},
         {WRITES} and not e.failed),
         c as (
             select req.idx, w.* from req
             join w on w.data_source_id = req.data_source and w.timestamp < req.at_ms
             where w.timestamp >= coalesce(
                 (select max(o.timestamp) from w o
                  where o.data_source_id = req.data_source and not o.append
                    and o.timestamp < req.at_ms),
                 w.timestamp))
         {RUN_ROW}",
        WRITES = writes_of_requested()
    )
}

/// For each write, the readers of its data source after it up to and including the next
/// successful overwrite, and that overwrite.
pub(super) async fn reads_after(
    pool: &SqlitePool,
    writes: &[DataSourceAt],
) -> Result<Vec<Vec<SplineRun>>> {
    per_request(pool, &reads_after_sql(), writes).await
}

fn reads_after_sql() -> String {
    format!(
        "with {REQUESTS},
         {WRITES} and not e.failed and not e.append),
         b as materialized (
             select req.*,
                    (select min(w.timestamp) from w
                     where w.data_source_id = req.data_source and w.timestamp > req.at_ms) as until_ms
             from req),
         c as (
             select b.idx, {WALK_COLUMNS} from b
             cross join edge i on i.source_id = b.data_source and i.kind = 'input'
             cross join node j on j.node_id = i.target_id
             cross join edge ro on ro.target_id = j.node_id and ro.kind = 'run_of'
             cross join node r on r.node_id = ro.source_id
             cross join edge o on o.source_id = j.node_id and o.kind = 'output'
             cross join node d on d.node_id = o.target_id
             where r.kind = 'run' and r.properties ->> 'eventKey' is not null
               and {RUN_TIMESTAMP} > b.at_ms
               and (b.until_ms is null or {RUN_TIMESTAMP} <= b.until_ms)
             union
             select b.idx, w.* from b
             join w on w.data_source_id = b.data_source and w.timestamp = b.until_ms)
         {RUN_ROW}",
        WRITES = writes_of_requested(),
    )
}

/// Runs a walk query over `requests` and groups its rows by request.
async fn per_request(
    pool: &SqlitePool,
    sql: &str,
    requests: &[DataSourceAt],
) -> Result<Vec<Vec<SplineRun>>> {
    let pairs: Vec<(NodeId, i64)> = requests.iter().map(|r| (r.data_source, r.at)).collect();
    let rows = sqlx::query(sql)
        .bind(json_list(&pairs))
        .fetch_all(pool)
        .await?;
    let mut grouped = vec![Vec::new(); requests.len()];
    for row in &rows {
        let idx: i64 = row.get("idx");
        if let Some(group) = grouped.get_mut((idx - 1) as usize) {
            group.push(run_from_row(row)?);
        }
    }
    Ok(grouped)
}

fn run_from_row(row: &SqliteRow) -> Result<SplineRun> {
    let reads: String = row.get("reads");
    let mut reads: Vec<NodeId> = serde_json::from_str(&reads)
        .map_err(|e| anyhow::anyhow!("a Spline plan's reads are not a JSON id list: {e}"))?;
    reads.sort_unstable();
    Ok(SplineRun {
        run: row.get("run_id"),
        job: row.get("job_id"),
        timestamp: row.get("timestamp"),
        append: row.get("append"),
        failed: row.get("failed"),
        reads,
        writes: row.get("data_source_id"),
    })
}

/// Nodes that carry Spline labels: Spline plans and Spline events.
const LABELLED: &str = "((n.kind = 'job' and n.properties ->> 'format' = 'spline')
                         or (n.kind = 'run' and n.properties ->> 'eventKey' is not null))";

/// Label names on Spline plans and events.
pub(super) async fn label_names(pool: &SqlitePool, query: &LabelQuery) -> Result<Vec<String>> {
    let search = Search::new(query.search.as_deref().unwrap_or_default());
    let sql = format!(
        "select distinct k.key as label from node n
         join json_each(case json_type(n.properties, '$.labels')
             when 'object' then n.properties -> 'labels' else '{{}}' end) k
         where {LABELLED} and ($1 is null or {like})
         order by 1 limit coalesce($3, -1) offset $2",
        like = search.matches("k.key", "$1")
    );
    let rows = sqlx::query(&sql)
        .bind(query.search.as_ref().map(|_| search.pattern()))
        .bind(i64::from(query.offset))
        .bind(query.limit.map(i64::from))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(|r| r.get("label")).collect())
}

/// The values of one label on Spline plans and events.
pub(super) async fn label_values(
    pool: &SqlitePool,
    name: &str,
    query: &LabelQuery,
) -> Result<Vec<String>> {
    let search = Search::new(query.search.as_deref().unwrap_or_default());
    // As PostgreSQL's `jsonb_array_elements_text`: a string's text, another value's JSON.
    let value = "(case v.type when 'text' then v.value when 'null' then null
                  else lab.value -> v.fullkey end)";
    // The label is found by key rather than by a JSON path, which would have to quote `name`.
    let sql = format!(
        "select distinct {value} as label from node n
         join json_each(case json_type(n.properties, '$.labels')
             when 'object' then n.properties -> 'labels' else '{{}}' end) lab
         join json_each(case lab.type when 'array' then lab.value else '[]' end) v
         where {LABELLED} and lab.key = $1 and ($2 is null or {like})
         order by 1 limit coalesce($4, -1) offset $3",
        like = search.matches(value, "$2")
    );
    let rows = sqlx::query(&sql)
        .bind(name)
        .bind(query.search.as_ref().map(|_| search.pattern()))
        .bind(i64::from(query.offset))
        .bind(query.limit.map(i64::from))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(|r| r.get("label")).collect())
}
