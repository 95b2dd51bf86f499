//! The SQL behind the Spline consumer API: Spline's events, data sources, plans and labels,
//! read back from the one graph.
//!
//! A Spline execution event is a `run` node with an `eventKey`; its plan is the `job` it is
//! `run_of`, and the data source it wrote is that job's `output`. [`event_rows`] joins the
//! three into one row carrying the fields Spline lists (`ExecutionEventInfo`), so listings
//! filter, sort and page in SQL by those fields. Nothing a client sends is spliced into SQL:
//! values are bound, and sort columns come from a closed enum.

use serde_json::{Value, json};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

use crate::error::Result;
use crate::model::{Node, NodeId};
use crate::store::rows::{NODE_COLUMNS, like_pattern, node_from_row};
use crate::store::{
    DataSourceAt, LabelQuery, Page, SplineEvent, SplineEventField, SplineEventPage,
    SplineEventQuery, SplineEventSort, SplineRun,
};

/// A data source's URI: Spline-fed datasets carry it; for any other the key holds it.
const URI: &str = "coalesce(d.properties ->> 'uri', substr(d.key, 9))";

/// Spline names a data source after the last segment of its URI (`([^/]+)/*$`).
const NAME: &str = "coalesce(substring(u.uri from '([^/]+)/*$'), u.uri)";

/// Every Spline event, one row each, with Spline's listing fields under snake_case names.
/// Callers append `and ...` conditions.
fn event_rows() -> String {
    format!(
        "select r.node_id as run_id, j.node_id as job_id, d.node_id as data_source_id,
                r.properties ->> 'eventKey' as execution_event_id,
                r.properties ->> 'planId' as execution_plan_id,
                concat_ws(' ', j.properties -> 'systemInfo' ->> 'name',
                          j.properties -> 'systemInfo' ->> 'version') as framework_name,
                j.name as application_name,
                r.properties -> 'extra' ->> 'appId' as application_id,
                (r.properties ->> 'timestamp')::bigint as timestamp,
                (r.properties ->> 'durationNs')::bigint as duration_ns,
                {NAME} as data_source_name,
                u.uri as data_source_uri,
                j.properties ->> 'destinationType' as data_source_type,
                coalesce((j.properties ->> 'append')::boolean, false) as append,
                r.properties ->> 'error' is not null as failed,
                r.properties -> 'error' as error,
                r.properties -> 'extra' as extra,
                r.properties -> 'labels' as labels,
                j.properties -> 'labels' as plan_labels
         from node r
         join edge ro on ro.source_id = r.node_id and ro.kind = 'run_of'
         join node j on j.node_id = ro.target_id
         join edge o on o.source_id = j.node_id and o.kind = 'output'
         join node d on d.node_id = o.target_id
         cross join lateral (select {URI} as uri) u
         where r.kind = 'run' and r.properties ? 'eventKey'"
    )
}

/// The filters of a listing over `x` (events, or data sources by their last write).
/// `$1` is bound by the source; `$2`..`$9` by [`bind_filters`].
const FILTER: &str = "
    where ($2::bigint is null or x.timestamp >= $2)
      and ($3::bigint is null or x.timestamp <= $3)
      and not exists (
          select 1 from jsonb_array_elements($4::jsonb) l
          where not exists (
              select 1 from jsonb_array_elements_text(l -> 'values') v
              where coalesce(x.labels -> (l ->> 'name'), '[]') ? v
                 or coalesce(x.plan_labels -> (l ->> 'name'), '[]') ? v))
      and ($5::text is null or x.framework_name ilike $5 or x.application_name ilike $5
           or x.application_id ilike $5 or x.data_source_uri ilike $5
           or x.data_source_type ilike $5)
      and ($6::boolean[] is null or x.append = any($6)
           or ($7::boolean and x.execution_event_id is null))
      and ($8::text is null or x.application_id = $8)
      and ($9::text is null or x.data_source_uri = $9)";

/// The node `alias` was stored at or before `$1`, when `$1` is given.
fn stored_by(alias: &str) -> String {
    format!("($1::timestamptz is null or {alias}.created_at <= $1)")
}

/// Events stored by `$1`, as `x`, with the event key as the tie-breaker.
fn events_source() -> String {
    format!(
        "with x as (select e.*, e.execution_event_id as row_key
                    from ({} and {}) e)",
        event_rows(),
        stored_by("r")
    )
}

/// Data sources that Spline plans read or write, stored at or before `$1`, as `x`: each with
/// the fields of its latest write (by event timestamp), or nulls when it was never written.
fn data_sources_source() -> String {
    format!(
        "with e as ({events} and {run_stored}),
         last_write as (
             select distinct on (e.data_source_id) e.* from e
             order by e.data_source_id, e.timestamp desc, e.execution_event_id desc),
         x as (
             select w.execution_event_id, w.execution_plan_id, w.framework_name,
                    w.application_name, w.application_id, w.timestamp, w.duration_ns,
                    {NAME} as data_source_name, u.uri as data_source_uri, w.data_source_type,
                    w.append, w.error, w.extra, w.labels, w.plan_labels, u.uri as row_key
             from node d
             cross join lateral (select {URI} as uri) u
             left join last_write w on w.data_source_id = d.node_id
             where d.kind = 'dataset' and {data_source_stored}
               and (exists (select 1 from edge t where t.target_id = d.node_id and t.kind = 'writes_to')
                    or exists (select 1 from edge t where t.source_id = d.node_id and t.kind = 'reads_from')))",
        events = event_rows(),
        run_stored = stored_by("r"),
        data_source_stored = stored_by("d"),
    )
}

/// One page of Spline execution events.
pub(super) async fn events(pool: &PgPool, query: &SplineEventQuery) -> Result<SplineEventPage> {
    page(pool, &events_source(), query).await
}

/// One page of data sources, each described by its last write.
pub(super) async fn data_sources(
    pool: &PgPool,
    query: &SplineEventQuery,
) -> Result<SplineEventPage> {
    page(pool, &data_sources_source(), query).await
}

async fn page(pool: &PgPool, source: &str, q: &SplineEventQuery) -> Result<SplineEventPage> {
    let sql = format!(
        "{source} select x.*, count(*) over () as total from x {FILTER}
         order by {} limit $10 offset $11",
        order_by(q.sort)
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

async fn count(pool: &PgPool, source: &str, q: &SplineEventQuery) -> Result<u64> {
    let sql = format!("{source} select count(*) as total from x {FILTER}");
    let row = bind_filters(&sql, q, true).fetch_one(pool).await?;
    Ok(row.get::<i64, _>("total") as u64)
}

/// Earliest and latest timestamp of everything the filters match, the time window aside
/// (Spline's `totalDateRange`, which the UI's date picker is bounded by).
async fn date_range(
    pool: &PgPool,
    source: &str,
    q: &SplineEventQuery,
) -> Result<Option<(i64, i64)>> {
    let sql = format!(
        "{source} select min(x.timestamp) as earliest, max(x.timestamp) as latest from x {FILTER}"
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
) -> Query<'q, Postgres, PgArguments> {
    let labels: Vec<Value> = q
        .labels
        .iter()
        .map(|l| json!({"name": l.name, "values": l.values}))
        .collect();
    sqlx::query(sql)
        .bind(q.as_at)
        .bind(q.timestamp_start.filter(|_| window))
        .bind(q.timestamp_end.filter(|_| window))
        .bind(Value::Array(labels))
        .bind(q.search.as_deref().map(like_pattern))
        .bind(q.append.clone())
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
    let (direction, nulls) = match sort.ascending {
        true => ("asc", "first"),
        false => ("desc", "last"),
    };
    format!("x.{column} {direction} nulls {nulls}, x.row_key {direction}")
}

fn event_from_row(row: &PgRow) -> SplineEvent {
    let json = |column: &str| row.get::<Option<Value>, _>(column).filter(|v| !v.is_null());
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
        error: json("error"),
        extra: json("extra"),
        labels: json("labels"),
        plan_labels: json("plan_labels"),
    }
}

/// A Spline plan `j` with an event (whose timestamp is at or before `$1`, epoch ms, if given).
const PLAN_RAN: &str = "j.kind = 'job' and j.properties ->> 'format' = 'spline'
    and exists (select 1 from edge ro join node r on r.node_id = ro.source_id
                where ro.target_id = j.node_id and ro.kind = 'run_of'
                  and ($1::bigint is null or (r.properties ->> 'timestamp')::bigint <= $1))";

/// Spline plans with an event at or before `as_at` (epoch ms), the latest stored first.
pub(super) async fn plans(
    pool: &PgPool,
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

async fn count_plans(pool: &PgPool, as_at: Option<i64>) -> Result<u64> {
    let sql = format!("select count(*) from node j where {PLAN_RAN}");
    let n: i64 = sqlx::query_scalar(&sql).bind(as_at).fetch_one(pool).await?;
    Ok(n as u64)
}

/// The operation and attribute nodes of the plans with these ids.
pub(super) async fn plan_members(
    pool: &PgPool,
    plan_ids: &[String],
) -> Result<Vec<(NodeId, Node)>> {
    let sql = format!(
        "select {NODE_COLUMNS} from node
         where kind in ('operation', 'attribute') and properties ->> 'planId' = any($1)
         order by kind, key"
    );
    let rows = sqlx::query(&sql).bind(plan_ids).fetch_all(pool).await?;
    rows.iter().map(node_from_row).collect()
}

/// The run columns the time-aware walk needs, from a CTE `c` with a request index `idx`.
const RUN_ROW: &str = "
    select c.idx, c.run_id, c.job_id, c.timestamp, c.append, c.failed, c.data_source_id,
           array(select i.source_id from edge i
                 where i.target_id = c.job_id and i.kind = 'input'
                 order by i.source_id) as reads
    from c order by c.idx, c.timestamp, c.run_id";

/// The columns of `event_rows` that `RUN_ROW` reads, in its order.
const RUN_COLUMNS: &str = "e.run_id, e.job_id, e.timestamp, e.append, e.failed, e.data_source_id";

/// Requests as `req(data_source, at_ms, idx)`, `idx` counting from 1.
const REQUESTS: &str = "req as (
    select * from unnest($1::bigint[], $2::bigint[]) with ordinality as q(data_source, at_ms, idx))";

/// `w`: the runs that wrote a requested data source; callers append `and ...` conditions.
fn writes_of_requested() -> String {
    format!(
        "w as (select {RUN_COLUMNS} from ({}) e
               where e.data_source_id in (select data_source from req)",
        event_rows()
    )
}

/// Spline runs by run node id.
pub(super) async fn runs(pool: &PgPool, runs: &[NodeId]) -> Result<Vec<SplineRun>> {
    let sql = format!(
        "with c as (select 1::bigint as idx, {RUN_COLUMNS} from ({events}) e
                    where e.run_id = any($1))
         {RUN_ROW}",
        events = event_rows()
    );
    let rows = sqlx::query(&sql).bind(runs).fetch_all(pool).await?;
    Ok(rows.iter().map(run_from_row).collect())
}

/// For each read, its data source's successful writes before it, from the last overwrite on.
pub(super) async fn writes_before(
    pool: &PgPool,
    reads: &[DataSourceAt],
) -> Result<Vec<Vec<SplineRun>>> {
    let sql = format!(
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
    );
    per_request(pool, &sql, reads).await
}

/// For each write, the readers of its data source after it up to and including the next
/// successful overwrite, and that overwrite.
pub(super) async fn reads_after(
    pool: &PgPool,
    writes: &[DataSourceAt],
) -> Result<Vec<Vec<SplineRun>>> {
    let sql = format!(
        "with {REQUESTS},
         {WRITES} and not e.failed and not e.append),
         b as (select req.*,
                      (select min(w.timestamp) from w
                       where w.data_source_id = req.data_source and w.timestamp > req.at_ms) as until_ms
               from req),
         c as (
             select b.idx, {RUN_COLUMNS} from b
             join edge i on i.source_id = b.data_source and i.kind = 'input'
             join ({events}) e on e.job_id = i.target_id
             where e.timestamp > b.at_ms and (b.until_ms is null or e.timestamp <= b.until_ms)
             union
             select b.idx, w.* from b
             join w on w.data_source_id = b.data_source and w.timestamp = b.until_ms)
         {RUN_ROW}",
        WRITES = writes_of_requested(),
        events = event_rows()
    );
    per_request(pool, &sql, writes).await
}

/// Runs a walk query over `requests` and groups its rows by request.
async fn per_request(
    pool: &PgPool,
    sql: &str,
    requests: &[DataSourceAt],
) -> Result<Vec<Vec<SplineRun>>> {
    let data_sources: Vec<NodeId> = requests.iter().map(|r| r.data_source).collect();
    let times: Vec<i64> = requests.iter().map(|r| r.at).collect();
    let rows = sqlx::query(sql)
        .bind(data_sources)
        .bind(times)
        .fetch_all(pool)
        .await?;
    let mut grouped = vec![Vec::new(); requests.len()];
    for row in &rows {
        let idx: i64 = row.get("idx");
        if let Some(group) = grouped.get_mut((idx - 1) as usize) {
            group.push(run_from_row(row));
        }
    }
    Ok(grouped)
}

fn run_from_row(row: &PgRow) -> SplineRun {
    SplineRun {
        run: row.get("run_id"),
        job: row.get("job_id"),
        timestamp: row.get("timestamp"),
        append: row.get("append"),
        failed: row.get("failed"),
        reads: row.get("reads"),
        writes: row.get("data_source_id"),
    }
}

/// Nodes that carry Spline labels: Spline plans and Spline events.
const LABELLED: &str = "((n.kind = 'job' and n.properties ->> 'format' = 'spline')
                         or (n.kind = 'run' and n.properties ? 'eventKey'))";

/// Label names on Spline plans and events.
pub(super) async fn label_names(pool: &PgPool, query: &LabelQuery) -> Result<Vec<String>> {
    let sql = format!(
        "select distinct k as label from node n
         cross join lateral jsonb_object_keys(case jsonb_typeof(n.properties -> 'labels')
             when 'object' then n.properties -> 'labels' else '{{}}'::jsonb end) k
         where {LABELLED} and ($1::text is null or k ilike $1)
         order by 1 offset $2 limit $3"
    );
    let rows = sqlx::query(&sql)
        .bind(query.search.as_deref().map(like_pattern))
        .bind(i64::from(query.offset))
        .bind(query.limit.map(i64::from))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(|r| r.get("label")).collect())
}

/// The values of one label on Spline plans and events.
pub(super) async fn label_values(
    pool: &PgPool,
    name: &str,
    query: &LabelQuery,
) -> Result<Vec<String>> {
    let sql = format!(
        "select distinct v as label from node n
         cross join lateral jsonb_array_elements_text(case jsonb_typeof(n.properties -> 'labels' -> $1)
             when 'array' then n.properties -> 'labels' -> $1 else '[]'::jsonb end) v
         where {LABELLED} and ($2::text is null or v ilike $2)
         order by 1 offset $3 limit $4"
    );
    let rows = sqlx::query(&sql)
        .bind(name)
        .bind(query.search.as_deref().map(like_pattern))
        .bind(i64::from(query.offset))
        .bind(query.limit.map(i64::from))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(|r| r.get("label")).collect())
}
