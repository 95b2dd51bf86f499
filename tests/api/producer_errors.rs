//! Every way a producer request can be wrong: the problem document names what and where, and
//! nothing from the rejected request is stored while earlier lineage stays exactly as it was.

use axum::http::StatusCode;
use headwater::http::HttpSettings;
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{Counts, TestApp, TestResponse, V10, V11, V12, data_path, encode, gzip};

/// The plan stored before each bad request.
const SEED_ID: &str = "5f0c2c8e-1d7a-4c57-9a51-0b7b3c1e0a01";
/// The id the bad plans carry, so a wrongly accepted one would add a new job.
const OTHER_ID: &str = "5f0c2c8e-1d7a-4c57-9a51-0b7b3c1e0a02";
/// A plan id nothing was stored for.
const UNKNOWN_ID: &str = "5f0c2c8e-1d7a-4c57-9a51-0b7b3c1e0aff";
const PLANS: &str = "/producer/execution-plans";
const EVENTS: &str = "/producer/execution-events";

/// A consistent v1.2 plan using every part the validator checks.
fn base_plan(id: &str) -> Value {
    json!({
        "id": id,
        "name": "orders job",
        "discriminator": "d1",
        "labels": {"team": ["data"]},
        "operations": {
            "write": {"id": "op-0", "outputSource": "s3://lake/out", "append": false, "childIds": ["op-1"]},
            "reads": [
                {"id": "op-2", "inputSources": ["s3://lake/in"], "output": ["attr-0"]},
                {"id": "op-3", "inputSources": ["s3://lake/in2"], "output": ["attr-2"]}
            ],
            "other": [{"id": "op-1", "childIds": ["op-2", "op-3"], "output": ["attr-0", "attr-1"]}]
        },
        "attributes": [
            {"id": "attr-0", "name": "a"},
            {"id": "attr-1", "name": "b", "childRefs": [{"__exprId": "expr-0"}]},
            {"id": "attr-2", "name": "c"}
        ],
        "expressions": {
            "functions": [{"id": "expr-0", "name": "concat", "childRefs": [{"__attrId": "attr-0"}, {"__exprId": "lit-0"}]}],
            "constants": [{"id": "lit-0", "value": "x"}]
        },
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    })
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The bad-plan base with the value at a JSON pointer replaced (`Some`) or removed (`None`).
fn edited(pointer: &str, value: Option<Value>) -> Vec<u8> {
    let mut plan = base_plan(OTHER_ID);
    let (parent, field) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = plan
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{pointer}"));
    match (parent, value) {
        (Value::Object(map), Some(v)) => drop(map.insert(field.to_owned(), v)),
        (Value::Object(map), None) => assert!(map.remove(field).is_some(), "{pointer}"),
        (Value::Array(items), Some(v)) => items[field.parse::<usize>().unwrap()] = v,
        _ => panic!("cannot edit {pointer}"),
    }
    body(&plan)
}

/// `value` serialized and padded with trailing whitespace (still valid JSON) to `len` bytes.
fn padded(value: &Value, len: usize) -> Vec<u8> {
    let mut bytes = body(value);
    assert!(
        bytes.len() <= len,
        "the plan alone is {} bytes",
        bytes.len()
    );
    bytes.resize(len, b' ');
    bytes
}

fn seed_event() -> Value {
    json!([{"planId": SEED_ID, "timestamp": 1_700_000_000_000_i64, "discriminator": "d1"}])
}

/// An app holding one stored plan and event, and what it answered before any bad request.
struct Seeded {
    app: TestApp,
    counts: Counts,
    snapshot: Value,
}

async fn seeded(pool: TestDb) -> Seeded {
    seeded_app(TestApp::new(pool)).await
}

async fn seeded_app(app: TestApp) -> Seeded {
    let plan = app.post_plan(V12, body(&base_plan(SEED_ID))).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text());
    let events = app.post_events(V12, body(&seed_event())).await;
    assert_eq!(events.status, StatusCode::CREATED, "{}", events.text());
    let counts = app.counts().await;
    let snapshot = snapshot(&app).await;
    Seeded {
        app,
        counts,
        snapshot,
    }
}

/// What the stored seed looks like through the query API: lineage and the job's details.
async fn snapshot(app: &TestApp) -> Value {
    let lineage = app.lineage("dataset:s3://lake/in", "both", 5).await;
    let job = app
        .get(&format!(
            "/api/v1/graph/node?key={}",
            encode(&format!("job:{SEED_ID}"))
        ))
        .await;
    assert_eq!(job.status, StatusCode::OK, "{}", job.text());
    json!({"lineage": lineage, "job": job.json()})
}

impl Seeded {
    /// Asserts the problem document, that nothing was stored and that the seed is unchanged.
    async fn assert_rejected(
        &self,
        response: &TestResponse,
        status: StatusCode,
        code: &str,
        path: Option<&str>,
    ) {
        response.assert_problem(status, code, path);
        assert_eq!(self.app.counts().await, self.counts, "something was stored");
        assert_eq!(snapshot(&self.app).await, self.snapshot, "the seed changed");
    }

    async fn plan(&self, content_type: &str, body: impl Into<Vec<u8>>) -> TestResponse {
        self.app.post_plan(content_type, body).await
    }

    async fn events(&self, body: impl Into<Vec<u8>>) -> TestResponse {
        self.app.post_events(V12, body).await
    }
}

/// Bodies that are not JSON, truncated, or followed by garbage are `malformed-json` without a path.
#[rstest]
#[tokio::test]
async fn bodies_that_are_not_json_are_malformed_json(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let plan = body(&base_plan(OTHER_ID));
    let truncated = plan[..plan.len() / 2].to_vec();
    let trailing = [plan.as_slice(), b" {"].concat();
    for content_type in [V12, V11, V10] {
        for bad in [
            b"not json".to_vec(),
            Vec::new(),
            truncated.clone(),
            trailing.clone(),
        ] {
            println!("{content_type}: {}", String::from_utf8_lossy(&bad));
            let r = s.plan(content_type, bad).await;
            s.assert_rejected(&r, StatusCode::BAD_REQUEST, "malformed-json", None)
                .await;
        }
    }
}

/// Event arrays that are not JSON are `malformed-json` too.
#[rstest]
#[tokio::test]
async fn event_bodies_that_are_not_json_are_malformed_json(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let valid = body(&json!([{"planId": SEED_ID, "timestamp": 1}]));
    let trailing = [valid.as_slice(), b"]"].concat();
    for bad in [b"[{".to_vec(), b"[{planId}]".to_vec(), trailing] {
        println!("{}", String::from_utf8_lossy(&bad));
        let r = s.events(bad).await;
        s.assert_rejected(&r, StatusCode::BAD_REQUEST, "malformed-json", None)
            .await;
    }
}

/// A body that isn't JSON is `malformed-json` even when what precedes the syntax error has the
/// wrong shape: the syntax is the first thing to fix.
#[rstest]
#[tokio::test]
async fn a_body_that_is_not_json_is_malformed_even_if_it_starts_with_the_wrong_shape(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let r = s.events(b"{planId}".to_vec()).await;
    s.assert_rejected(&r, StatusCode::BAD_REQUEST, "malformed-json", None)
        .await;
    let r = s.plan(V12, br#"{"id": 42, "operations": "#.to_vec()).await;
    s.assert_rejected(&r, StatusCode::BAD_REQUEST, "malformed-json", None)
        .await;
}

/// A wrong type is reported at the offending value (v1.2 and v1.1 alike), the root as `$`.
#[rstest]
#[tokio::test]
async fn plan_values_of_the_wrong_type_are_invalid_fields_at_the_value(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let cases = [
        (
            "/operations/reads/0/inputSources",
            json!("s3://x"),
            "operations.reads[0].inputSources",
        ),
        (
            "/operations/reads/1/inputSources/0",
            json!(7),
            "operations.reads[1].inputSources[0]",
        ),
        (
            "/operations/write/append",
            json!("yes"),
            "operations.write.append",
        ),
        (
            "/operations/write/childIds",
            json!({}),
            "operations.write.childIds",
        ),
        (
            "/operations/other/0/output",
            json!("attr-0"),
            "operations.other[0].output",
        ),
        ("/attributes/1/name", json!({}), "attributes[1].name"),
        ("/systemInfo/version", json!(["3"]), "systemInfo.version"),
        ("/labels", json!({"team": "data"}), "labels.team"),
        ("/operations", json!([]), "operations"),
        ("/id", json!("not-a-uuid"), "id"),
        ("/id", json!(42), "id"),
    ];
    for (pointer, value, path) in cases {
        println!("{pointer} = {value}");
        for content_type in [V12, V11] {
            let r = s
                .plan(content_type, edited(pointer, Some(value.clone())))
                .await;
            s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-field", Some(path))
                .await;
        }
    }
    for root in [json!([]), json!("plan"), json!(null)] {
        let r = s.plan(V12, body(&root)).await;
        s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-field", Some("$"))
            .await;
    }
}

/// A missing required field is reported at the field itself, not at its parent (v1.2 and v1.1).
#[rstest]
#[tokio::test]
async fn missing_required_plan_fields_are_invalid_fields_at_the_field(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let cases = [
        ("/operations", "operations"),
        ("/systemInfo", "systemInfo"),
        ("/systemInfo/name", "systemInfo.name"),
        ("/operations/write", "operations.write"),
        (
            "/operations/write/outputSource",
            "operations.write.outputSource",
        ),
        ("/operations/write/append", "operations.write.append"),
        ("/operations/write/childIds", "operations.write.childIds"),
        ("/operations/write/id", "operations.write.id"),
        (
            "/operations/reads/1/inputSources",
            "operations.reads[1].inputSources",
        ),
        ("/operations/other/0/id", "operations.other[0].id"),
        ("/attributes/2/name", "attributes[2].name"),
        (
            "/expressions/constants/0/value",
            "expressions.constants[0].value",
        ),
    ];
    for (pointer, path) in cases {
        println!("without {pointer}");
        for content_type in [V12, V11] {
            let r = s.plan(content_type, edited(pointer, None)).await;
            s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-field", Some(path))
                .await;
        }
    }
}

/// A literal whose value is `null` is legal, unlike one without a value.
#[rstest]
#[tokio::test]
async fn a_null_literal_value_is_accepted(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let app = TestApp::new(pool);
    let r = app
        .post_plan(
            V12,
            edited("/expressions/constants/0/value", Some(Value::Null)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json(), json!(OTHER_ID));
}

/// A reference needs exactly one of `__attrId` and `__exprId`.
#[rstest]
#[tokio::test]
async fn references_with_both_or_neither_id_are_invalid_fields(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let both = json!({"__attrId": "attr-0", "__exprId": "expr-0"});
    let cases = [
        (
            "/attributes/1/childRefs/0",
            both.clone(),
            "attributes[1].childRefs[0]",
        ),
        (
            "/attributes/1/childRefs/0",
            json!({}),
            "attributes[1].childRefs[0]",
        ),
        (
            "/expressions/functions/0/childRefs/1",
            both,
            "expressions.functions[0].childRefs[1]",
        ),
    ];
    for (pointer, value, path) in cases {
        println!("{pointer} = {value}");
        let r = s.plan(V12, edited(pointer, Some(value))).await;
        s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-field", Some(path))
            .await;
    }
}

/// Spline's generator bug `"id":{}` (plan) and `"planId":{}` (event) are rejected at that field.
#[rstest]
#[tokio::test]
async fn the_object_id_fixtures_are_rejected_at_the_id(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let dir = "spline/producer-invalid/spline_a088d6b_lineage-4ops-2reads-0attr-3expr";
    let plan = std::fs::read(data_path(&format!("{dir}-plan.json"))).unwrap();
    let r = s.plan(V12, plan).await;
    s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-field", Some("id"))
        .await;
    let event = std::fs::read(data_path(&format!("{dir}-event.json"))).unwrap();
    let r = s.events(event).await;
    s.assert_rejected(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid-field",
        Some("[0].planId"),
    )
    .await;
}

/// Events with missing or mistyped fields are rejected at `[i].field`, whichever event it is.
#[rstest]
#[tokio::test]
async fn malformed_events_are_invalid_fields_at_their_index(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let good = json!({"planId": SEED_ID, "timestamp": 1, "discriminator": "d1"});
    let cases = [
        (json!([{"timestamp": 1}]), "[0].planId"),
        (json!([{"planId": SEED_ID}]), "[0].timestamp"),
        (
            json!([{"planId": "not-a-uuid", "timestamp": 1}]),
            "[0].planId",
        ),
        (
            json!([good, {"planId": SEED_ID, "timestamp": "today"}]),
            "[1].timestamp",
        ),
        (
            json!([good, good, {"planId": SEED_ID, "timestamp": 1.5}]),
            "[2].timestamp",
        ),
        (
            json!([good, {"planId": SEED_ID, "timestamp": 2, "labels": []}]),
            "[1].labels",
        ),
        (json!({"planId": SEED_ID, "timestamp": 1}), "$"),
    ];
    for (events, path) in cases {
        println!("{events}");
        let r = s.events(body(&events)).await;
        s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-field", Some(path))
            .await;
    }
}

/// An event for a plan that isn't stored is `unknown-plan`, and its valid siblings aren't stored.
#[rstest]
#[tokio::test]
async fn an_event_of_an_unknown_plan_rejects_the_whole_array(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let ok = |ts: i64| json!({"planId": SEED_ID, "timestamp": ts, "discriminator": "d1"});
    let unknown = json!({"planId": UNKNOWN_ID, "timestamp": 5});
    let cases = [
        (json!([unknown]), "[0].planId"),
        (json!([ok(2), unknown]), "[1].planId"),
        (json!([ok(2), ok(3), unknown, ok(4)]), "[2].planId"),
    ];
    for (events, path) in cases {
        println!("{events}");
        let r = s.events(body(&events)).await;
        s.assert_rejected(&r, StatusCode::BAD_REQUEST, "unknown-plan", Some(path))
            .await;
    }
}

/// Rejected events leave no trace, so the same body succeeds once its plan is stored.
#[rstest]
#[tokio::test]
async fn events_rejected_for_an_unknown_plan_succeed_once_the_plan_is_stored(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let events = body(&json!([{"planId": OTHER_ID, "timestamp": 7, "discriminator": "d1"}]));
    let r = s.events(events.clone()).await;
    s.assert_rejected(
        &r,
        StatusCode::BAD_REQUEST,
        "unknown-plan",
        Some("[0].planId"),
    )
    .await;
    let plan = s.plan(V12, body(&base_plan(OTHER_ID))).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.text());
    let r = s.events(events).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let run = format!(
        "/api/v1/graph/node?key={}",
        encode(&format!("run:{OTHER_ID}:7"))
    );
    assert_eq!(
        s.app.get(&run).await.status,
        StatusCode::OK,
        "the run is stored"
    );
}

/// A plan id re-posted with another discriminator is a 409 at `discriminator`.
#[rstest]
#[tokio::test]
async fn a_stored_plan_id_with_another_discriminator_is_a_conflict(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let mut other = base_plan(SEED_ID);
    other["discriminator"] = json!("d2");
    let mut absent = base_plan(SEED_ID);
    absent.as_object_mut().unwrap().remove("discriminator");
    for plan in [other, absent] {
        let r = s.plan(V12, body(&plan)).await;
        s.assert_rejected(&r, StatusCode::CONFLICT, "conflict", Some("discriminator"))
            .await;
    }
}

/// An event whose discriminator differs from its plan's is a 409 at `[i].discriminator`.
#[rstest]
#[tokio::test]
async fn an_event_with_another_discriminator_is_a_conflict(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let ok = json!({"planId": SEED_ID, "timestamp": 2, "discriminator": "d1"});
    let cases = [
        (
            json!([{"planId": SEED_ID, "timestamp": 2, "discriminator": "d2"}]),
            "[0].discriminator",
        ),
        (
            json!([ok, {"planId": SEED_ID, "timestamp": 3}]),
            "[1].discriminator",
        ),
    ];
    for (events, path) in cases {
        println!("{events}");
        let r = s.events(body(&events)).await;
        s.assert_rejected(&r, StatusCode::CONFLICT, "conflict", Some(path))
            .await;
    }
}

/// A gzip-labelled body that isn't gzip (or is cut short) is `invalid-gzip`.
#[rstest]
#[tokio::test]
async fn a_body_that_is_not_gzip_is_invalid_gzip(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let plan = body(&base_plan(OTHER_ID));
    let zipped = gzip(&plan);
    let cut = zipped[..zipped.len() / 2].to_vec();
    for (uri, bad) in [(PLANS, plan), (PLANS, cut), (EVENTS, b"[]".to_vec())] {
        let r = s
            .app
            .post(uri, Some(V12), &[("Content-Encoding", "gzip")], bad)
            .await;
        s.assert_rejected(&r, StatusCode::BAD_REQUEST, "invalid-gzip", None)
            .await;
    }
}

/// Errors inside a gzipped body are reported exactly as in a plain one.
#[rstest]
#[tokio::test]
async fn errors_inside_a_gzip_body_keep_their_code_and_path(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let cases = [
        (
            b"not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed-json",
            None,
        ),
        (
            edited("/operations/write/append", None),
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("operations.write.append"),
        ),
        (
            edited("/operations/write/childIds", Some(json!(["op-9"]))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-operation",
            Some("operations.write.childIds[0]"),
        ),
    ];
    for (plain, status, code, path) in cases {
        for encoding in ["gzip", "x-gzip"] {
            let headers = [("Content-Encoding", encoding)];
            let r = s.app.post(PLANS, Some(V12), &headers, gzip(&plain)).await;
            s.assert_rejected(&r, status, code, path).await;
        }
    }
}

const LIMIT: usize = 4096;

async fn limited(pool: TestDb) -> Seeded {
    let settings = HttpSettings {
        max_body_bytes: LIMIT,
        ..HttpSettings::default()
    };
    seeded_app(TestApp::with_settings(pool, settings)).await
}

/// A body one byte over the limit is a 413, on both endpoints.
#[rstest]
#[tokio::test]
async fn a_body_over_the_limit_is_payload_too_large(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = limited(pool).await;
    let r = s.plan(V12, padded(&base_plan(OTHER_ID), LIMIT + 1)).await;
    s.assert_rejected(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", None)
        .await;
    let events = json!([{"planId": SEED_ID, "timestamp": 9, "discriminator": "d1"}]);
    let r = s.events(padded(&events, LIMIT * 4)).await;
    s.assert_rejected(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", None)
        .await;
}

/// A small gzip body that inflates past the limit is a 413, not an out-of-memory.
#[rstest]
#[tokio::test]
async fn a_gzip_bomb_is_payload_too_large(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = limited(pool).await;
    for inflated in [LIMIT + 1, 2 * 1024 * 1024] {
        let bomb = gzip(&padded(&base_plan(OTHER_ID), inflated));
        assert!(
            bomb.len() < LIMIT,
            "the bomb itself is {} bytes",
            bomb.len()
        );
        let r = s
            .app
            .post(PLANS, Some(V12), &[("Content-Encoding", "gzip")], bomb)
            .await;
        s.assert_rejected(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", None)
            .await;
    }
}

/// The limit is inclusive: exactly `max_body_bytes`, plain or inflated, is accepted.
#[rstest]
#[tokio::test]
async fn a_body_of_exactly_the_limit_is_accepted(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = limited(pool).await;
    let r = s.plan(V12, padded(&base_plan(OTHER_ID), LIMIT)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let mut plan = base_plan(OTHER_ID);
    plan["discriminator"] = json!(null);
    plan["id"] = json!(UNKNOWN_ID);
    let zipped = gzip(&padded(&plan, LIMIT));
    let r = s
        .app
        .post(PLANS, Some(V12), &[("Content-Encoding", "gzip")], zipped)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(s.app.counts().await.raw_payloads, s.counts.raw_payloads + 2);
}

/// Missing, foreign or unknown-version media types and unknown encodings are 415s.
#[rstest]
#[tokio::test]
async fn unsupported_media_types_and_encodings_are_415(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let plan = body(&base_plan(OTHER_ID));
    let media_types = [
        None,
        Some("text/plain"),
        Some("application/xml"),
        Some("application/vnd.absa.spline.producer.v1.3+json"),
        Some("application/vnd.absa.spline.producer.v9+json"),
    ];
    for uri in [PLANS, EVENTS] {
        for content_type in media_types {
            println!("{uri} {content_type:?}");
            let r = s.app.post(uri, content_type, &[], plan.clone()).await;
            s.assert_rejected(
                &r,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                None,
            )
            .await;
        }
        let r = s
            .app
            .post(uri, Some(V12), &[("Content-Encoding", "br")], plan.clone())
            .await;
        s.assert_rejected(
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            None,
        )
        .await;
    }
}

/// Repeated ids among operations, attributes or expressions are `duplicate-id` at the repeat.
#[rstest]
#[tokio::test]
async fn duplicate_ids_are_unprocessable_at_the_repeat(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let cases = [
        ("/operations/other/0/id", "op-2", "operations.other[0].id"),
        ("/operations/reads/1/id", "op-0", "operations.reads[1].id"),
        ("/attributes/1/id", "attr-0", "attributes[1].id"),
        (
            "/expressions/constants/0/id",
            "expr-0",
            "expressions.constants[0].id",
        ),
    ];
    for (pointer, id, path) in cases {
        println!("{pointer} = {id}");
        let r = s.plan(V12, edited(pointer, Some(json!(id)))).await;
        s.assert_rejected(
            &r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "duplicate-id",
            Some(path),
        )
        .await;
    }
}

/// Dangling ids are 422s pointing at the exact list entry that dangles.
#[rstest]
#[tokio::test]
async fn dangling_ids_are_unprocessable_at_the_dangling_entry(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let cases = [
        (
            "/operations/other/0/childIds",
            json!(["op-2", "op-9"]),
            "unknown-operation",
            "operations.other[0].childIds[1]",
        ),
        (
            "/operations/write/childIds",
            json!(["op-9"]),
            "unknown-operation",
            "operations.write.childIds[0]",
        ),
        (
            "/operations/reads/0/output",
            json!(["attr-0", "attr-9"]),
            "unknown-attribute",
            "operations.reads[0].output[1]",
        ),
        (
            "/operations/other/0/output",
            json!(["attr-9"]),
            "unknown-attribute",
            "operations.other[0].output[0]",
        ),
        (
            "/attributes/1/childRefs",
            json!([{"__exprId": "expr-9"}]),
            "unknown-reference",
            "attributes[1].childRefs[0]",
        ),
        (
            "/expressions/functions/0/childRefs",
            json!([{"__attrId": "attr-9"}]),
            "unknown-reference",
            "expressions.functions[0].childRefs[0]",
        ),
    ];
    for (pointer, value, code, path) in cases {
        println!("{pointer} = {value}");
        let r = s.plan(V12, edited(pointer, Some(value))).await;
        s.assert_rejected(&r, StatusCode::UNPROCESSABLE_ENTITY, code, Some(path))
            .await;
    }
}

/// A cycle among operations is `cyclic-operations` at one of the operations on the cycle.
#[rstest]
#[tokio::test]
async fn cyclic_operations_are_unprocessable(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let self_loop = edited(
        "/operations/other/0/childIds",
        Some(json!(["op-2", "op-1"])),
    );
    let r = s.plan(V12, self_loop).await;
    s.assert_rejected(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "cyclic-operations",
        Some("operations.other[0].id"),
    )
    .await;
    let two =
        json!([{"id": "op-1", "childIds": ["op-2", "op-4"]}, {"id": "op-4", "childIds": ["op-1"]}]);
    let r = s.plan(V12, edited("/operations/other", Some(two))).await;
    let path = r.json()["path"].as_str().unwrap_or_default().to_owned();
    assert!(
        ["operations.other[0].id", "operations.other[1].id"].contains(&path.as_str()),
        "{}",
        r.text()
    );
    s.assert_rejected(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "cyclic-operations",
        Some(&path),
    )
    .await;
}

/// Blank data source URIs are `empty-source` at the blank one.
#[rstest]
#[tokio::test]
async fn empty_source_uris_are_unprocessable(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let cases = [
        (
            "/operations/write/outputSource",
            json!(""),
            "operations.write.outputSource",
        ),
        (
            "/operations/write/outputSource",
            json!("  "),
            "operations.write.outputSource",
        ),
        (
            "/operations/reads/0/inputSources",
            json!(["s3://x", " "]),
            "operations.reads[0].inputSources[1]",
        ),
        (
            "/operations/reads/1/inputSources",
            json!([""]),
            "operations.reads[1].inputSources[0]",
        ),
    ];
    for (pointer, value, path) in cases {
        println!("{pointer} = {value}");
        let r = s.plan(V12, edited(pointer, Some(value))).await;
        s.assert_rejected(
            &r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty-source",
            Some(path),
        )
        .await;
    }
}

/// Unknown routes answer a problem document too.
#[rstest]
#[tokio::test]
async fn an_unknown_route_is_a_not_found_problem(#[values(Postgres, Sqlite)] backend: Backend) {
    let pool = TestDb::new(backend).await;
    let s = seeded(pool).await;
    let r = s.app.get("/producer/nothing-here").await;
    s.assert_rejected(&r, StatusCode::NOT_FOUND, "not-found", None)
        .await;
    let r = s
        .app
        .post(
            "/producer/execution-plan",
            Some(V12),
            &[],
            body(&base_plan(OTHER_ID)),
        )
        .await;
    s.assert_rejected(&r, StatusCode::NOT_FOUND, "not-found", None)
        .await;
}
