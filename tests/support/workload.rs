//! Lineage requests built so that what each one stored can be told apart in the graph.
//!
//! Every request names datasets and jobs of its own (under `/req-NNNNN/`) and reads a few hub
//! datasets shared with others, so concurrent writers contend on the hubs as producers on one
//! platform do. A stored node or edge belongs to the request whose own names it carries
//! ([`Workload::owner_of`]), which is how a test checks that a request is in the graph whole
//! or not at all.

use std::collections::HashMap;

use headwater::ingest::spline::convert::event_key;
use serde_json::{Value, json};
use uuid::Uuid;

pub const SPLINE_V12: &str = "application/vnd.absa.spline.producer.v1.2+json";
pub const PLANS: &str = "/producer/execution-plans";
pub const EVENTS: &str = "/producer/execution-events";
pub const LINEAGE: &str = "/api/v1/lineage";

const RUN_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/// Hubs shared by requests of one format. The formats don't share hubs: a Spline sighting is
/// stamped with its arrival time, so a hub both formats wrote would merge by arrival order.
const HUBS: usize = 4;
/// Producer times start here and advance a second per request.
const EPOCH_SECONDS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// What a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Spline plan, `reads` read operations wide.
    SplinePlan { plan: Uuid, reads: usize },
    /// The execution event of the plan posted by request `plan_request`.
    SplineEvent {
        plan: Uuid,
        timestamp_ms: i64,
        plan_request: usize,
    },
    /// One OpenLineage COMPLETE event of a run of its own.
    OpenLineage { run: Uuid },
}

/// One POST.
#[derive(Debug, Clone)]
pub struct Request {
    pub index: usize,
    pub kind: Kind,
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: String,
}

impl Request {
    /// The request that must be acknowledged before this one is sent (an event's plan).
    pub fn after(&self) -> Option<usize> {
        match self.kind {
            Kind::SplineEvent { plan_request, .. } => Some(plan_request),
            _ => None,
        }
    }

    /// A key every stored version of the request has: its output dataset (or, for an event,
    /// its run).
    pub fn landmark(&self) -> String {
        match self.kind {
            Kind::SplineEvent {
                plan, timestamp_ms, ..
            } => {
                format!("run:{}", event_key(&plan, timestamp_ms))
            }
            _ => format!("dataset:{}", uri(self.index, "out")),
        }
    }
}

/// A list of requests, in the order a client would post them.
#[derive(Debug, Clone)]
pub struct Workload {
    pub requests: Vec<Request>,
    by_uuid: HashMap<Uuid, usize>,
    event_of_plan: HashMap<Uuid, usize>,
}

impl Workload {
    /// `units` units of work, each either an OpenLineage event, or a Spline plan followed by
    /// its event; plans are between 4 and 40 reads wide, so some transactions are long.
    /// `seed` keeps the ids of two workloads apart.
    pub fn new(units: usize, seed: u64) -> Workload {
        let mut requests = Vec::new();
        for unit in 0..units {
            let index = requests.len();
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{seed}/{index}").as_bytes());
            if unit % 3 == 2 {
                requests.push(openlineage(index, id));
                continue;
            }
            let reads = 4 + (unit * 7) % 37;
            requests.push(spline_plan(index, id, reads));
            requests.push(spline_event(index + 1, id, index));
        }
        let mut by_uuid = HashMap::new();
        let mut event_of_plan = HashMap::new();
        for r in &requests {
            match r.kind {
                Kind::SplinePlan { plan, .. } => {
                    by_uuid.insert(plan, r.index);
                }
                Kind::SplineEvent { plan, .. } => {
                    event_of_plan.insert(plan, r.index);
                }
                Kind::OpenLineage { run } => {
                    by_uuid.insert(run, r.index);
                }
            }
        }
        Workload {
            requests,
            by_uuid,
            event_of_plan,
        }
    }

    /// The request a stored node belongs to, by its key; `None` for a shared hub.
    pub fn owner_of(&self, key: &str) -> Option<usize> {
        if let Some(at) = key.find("/req-") {
            let digits = &key[at + 5..at + 10];
            return digits.parse().ok();
        }
        let (prefix, rest) = key.split_once(':')?;
        let uuid: Uuid = rest.get(..36)?.parse().ok()?;
        match (prefix, rest.len() > 36) {
            // `run:<plan>:<timestamp>`: a Spline event's run.
            ("run", true) => self.event_of_plan.get(&uuid).copied(),
            _ => self.by_uuid.get(&uuid).copied(),
        }
    }
}

fn uri(index: usize, name: &str) -> String {
    format!("s3://faults/req-{index:05}/{name}")
}

fn hub(format: &str, index: usize) -> String {
    format!("s3://faults/hubs/{format}-{}", index % HUBS)
}

fn spline_plan(index: usize, plan: Uuid, reads: usize) -> Request {
    let read_ids: Vec<String> = (0..reads).map(|k| format!("op-{}", k + 2)).collect();
    let reads_json: Vec<Value> = (0..reads)
        .map(|k| {
            let mut sources = vec![uri(index, &format!("in-{k}"))];
            if k == 0 {
                sources.push(hub("spline", index));
            }
            json!({"id": read_ids[k], "name": "LogicalRelation", "inputSources": sources,
                   "output": [format!("attr-{k}")]})
        })
        .collect();
    let attributes: Vec<Value> = (0..reads)
        .map(|k| json!({"id": format!("attr-{k}"), "name": format!("c{k}"), "dataType": "string"}))
        .chain([json!({"id": "attr-sum", "name": "total",
                       "childRefs": [{"__attrId": "attr-0"}]})])
        .collect();
    let body = json!({
        "id": plan,
        "name": format!("faults-{index}"),
        "operations": {
            "write": {"id": "op-0", "name": "InsertIntoHadoopFsRelationCommand",
                      "outputSource": uri(index, "out"), "append": false, "childIds": ["op-1"]},
            "reads": reads_json,
            "other": [{"id": "op-1", "name": "Join", "childIds": read_ids,
                       "output": (0..reads).map(|k| format!("attr-{k}")).chain(["attr-sum".to_owned()]).collect::<Vec<_>>()}]
        },
        "attributes": attributes,
        "systemInfo": {"name": "spark", "version": "3.5.0"},
        "agentInfo": {"name": "spline", "version": "2.2.1"}
    });
    Request {
        index,
        kind: Kind::SplinePlan { plan, reads },
        path: PLANS,
        content_type: SPLINE_V12,
        body: body.to_string(),
    }
}

fn spline_event(index: usize, plan: Uuid, plan_request: usize) -> Request {
    let timestamp_ms = (EPOCH_SECONDS + index as i64) * 1000;
    let body = json!([{
        "planId": plan,
        "timestamp": timestamp_ms,
        "durationNs": 4_200_000_000_i64,
        "extra": {"appId": format!("app-{index}")}
    }]);
    Request {
        index,
        kind: Kind::SplineEvent {
            plan,
            timestamp_ms,
            plan_request,
        },
        path: EVENTS,
        content_type: SPLINE_V12,
        body: body.to_string(),
    }
}

fn openlineage(index: usize, run: Uuid) -> Request {
    let time = chrono::DateTime::from_timestamp(EPOCH_SECONDS + index as i64, 0).unwrap();
    let dataset = |uri: String| {
        let (namespace, name) = uri.split_at("s3://faults".len());
        json!({"namespace": namespace, "name": name.trim_start_matches('/')})
    };
    let mut output = dataset(uri(index, "out"));
    output["facets"] = json!({"schema": {"fields": [
        {"name": "id", "type": "bigint"}, {"name": "amount", "type": "decimal"},
        {"name": "status", "type": "string"}]}});
    let body = json!({
        "eventType": "COMPLETE",
        "eventTime": time.to_rfc3339(),
        "producer": "https://example.com/headwater-fault-tests",
        "schemaURL": RUN_SCHEMA,
        "run": {"runId": run},
        "job": {"namespace": "faults", "name": format!("req-{index:05}/job")},
        "inputs": [dataset(uri(index, "in-0")), dataset(uri(index, "in-1")),
                   dataset(hub("openlineage", index))],
        "outputs": [output]
    });
    Request {
        index,
        kind: Kind::OpenLineage { run },
        path: LINEAGE,
        content_type: "application/json",
        body: body.to_string(),
    }
}

#[test]
fn every_request_owns_its_landmark_and_hubs_belong_to_none() {
    let workload = Workload::new(12, 7);
    for r in &workload.requests {
        assert_eq!(
            workload.owner_of(&r.landmark()),
            Some(r.index),
            "{:?}",
            r.kind
        );
    }
    let plan = workload.requests.iter().find_map(|r| match r.kind {
        Kind::SplinePlan { plan, .. } => Some((r.index, plan)),
        _ => None,
    });
    let (index, plan) = plan.unwrap();
    assert_eq!(workload.owner_of(&format!("job:{plan}")), Some(index));
    assert_eq!(workload.owner_of(&format!("op:{plan}:op-3")), Some(index));
    assert_eq!(workload.owner_of("dataset:s3://faults/hubs/spline-1"), None);
}
