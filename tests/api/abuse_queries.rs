//! Questions and payloads whose cost grows far faster than their size (issue 19, faults 6 to
//! 8): each is answered within its bounds, and the answer says what was left out and which
//! setting to raise. Assertions are on the answers' shape and size, never on time.

use axum::http::StatusCode;
use headwater::http::{HttpSettings, QueryLimits};
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, Postgres, Sqlite, TestApp, TestDb, V12, encode, get_json, send_event, store_plan,
};

fn with_limits(query: QueryLimits) -> HttpSettings {
    HttpSettings {
        query,
        ..HttpSettings::default()
    }
}

async fn app(backend: Backend, query: QueryLimits) -> TestApp {
    TestApp::with_settings(TestDb::new(backend).await, with_limits(query))
}

/// A COMPLETE OpenLineage event of job `dos/{job}` reading and writing `dos` datasets.
fn run(n: usize, job: &str, inputs: &[String], outputs: &[String]) -> Value {
    let datasets = |names: &[String]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"namespace": "dos", "name": n}))
            .collect()
    };
    json!({
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z",
        "producer": "https://example.com/abuse-queries",
        "run": {"runId": format!("01890000-0000-7000-8000-{n:012}")},
        "job": {"namespace": "dos", "name": job},
        "inputs": datasets(inputs),
        "outputs": datasets(outputs)
    })
}

fn layer(i: usize) -> Vec<String> {
    (0..4).map(|k| format!("d{i}_{k}")).collect()
}

/// Fault 6. Layers of four datasets, each layer read by a job writing the next, and a job
/// `j0` that reads every dataset and writes `end`. Every dataset is two edges from `end`
/// (through `j0`), but every path from `d0_0` starts with `j0`, so no longer path can end
/// there: a search for paths of each length up to 50 tries every prefix through the layers,
/// 4^layers of them, and finds nothing. The search stops at its step budget.
#[rstest]
#[tokio::test]
async fn a_path_search_stops_at_its_step_budget_with_what_it_found(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    const LAYERS: usize = 6;
    const STEPS: u64 = 1_000;
    let app = app(
        backend,
        QueryLimits {
            max_steps: STEPS,
            ..QueryLimits::default()
        },
    )
    .await;
    let everything: Vec<String> = (0..=LAYERS).flat_map(layer).collect();
    let mut first_outputs = layer(1);
    first_outputs.push("end".to_owned());
    send_event(&app, &run(0, "j0", &everything, &first_outputs)).await;
    for i in 1..LAYERS {
        send_event(&app, &run(i, &format!("j{i}"), &layer(i), &layer(i + 1))).await;
    }
    let uri = format!(
        "/api/v1/graph/paths?from={}&to={}&maxLength=50&maxPaths=100",
        encode("dataset:dos/d0_0"),
        encode("dataset:dos/end")
    );
    let answer = get_json(&app, &uri).await;
    let direct = json!(["dataset:dos/d0_0", "job:dos/j0", "dataset:dos/end"]);
    assert_eq!(answer["shortest"], direct, "{answer}");
    assert_eq!(answer["paths"], json!([direct]), "{answer}");
    assert_eq!(answer["truncated"], true, "{answer}");
    let reason = answer["truncatedReason"].as_str().unwrap_or_default();
    assert!(reason.contains("HEADWATER_MAX_QUERY_STEPS"), "{answer}");
    assert!(reason.contains(&format!("after {STEPS} steps")), "{answer}");

    // With room enough, the same search ends by itself, and says nothing was left out.
    let roomy = TestApp::with_settings(app.db.clone(), with_limits(QueryLimits::default()));
    let answer = get_json(&roomy, &uri).await;
    assert_eq!(answer["paths"], json!([direct]), "{answer}");
    assert_eq!(answer["truncated"], false, "{answer}");
    assert!(answer.get("truncatedReason").is_none(), "{answer}");
}

/// Fault 6, the shape that took 69 s for 15 layers: 20 layers of four datasets, each layer
/// feeding a job writing the next. 4^19 paths lead from the first dataset to the last; the
/// first 100 are found without walking any of the others.
#[rstest]
#[tokio::test]
async fn the_first_of_exponentially_many_paths_are_listed_and_the_rest_counted_as_more(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(
        backend,
        QueryLimits {
            max_steps: 100_000,
            ..QueryLimits::default()
        },
    )
    .await;
    for i in 0..20 {
        send_event(&app, &run(i, &format!("j{i}"), &layer(i), &layer(i + 1))).await;
    }
    let uri = format!(
        "/api/v1/graph/paths?from={}&to={}&maxLength=50&maxPaths=100",
        encode("dataset:dos/d0_0"),
        encode("dataset:dos/d20_0")
    );
    let answer = get_json(&app, &uri).await;
    let paths = answer["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 100, "{answer}");
    assert!(paths.iter().all(|p| p.as_array().unwrap().len() == 41));
    assert_eq!(answer["shortest"].as_array().unwrap().len(), 41);
    assert_eq!(answer["truncated"], true);
    let reason = answer["truncatedReason"].as_str().unwrap();
    assert!(reason.contains("maxPaths"), "{reason}");
    assert!(!reason.contains("HEADWATER_MAX_QUERY_STEPS"), "{reason}");
}

/// One job reading `n` datasets and writing `n`: collapsed, n × n `flows_to` edges.
async fn fan(app: &TestApp, n: usize) {
    let inputs: Vec<String> = (0..n).map(|i| format!("in{i:03}")).collect();
    let outputs: Vec<String> = (0..n).map(|i| format!("out{i:03}")).collect();
    send_event(app, &run(1, "wide", &inputs, &outputs)).await;
}

/// The lineage of the fan's first input, grown by the job's hop: every input and output.
fn fan_lineage(extra: &str) -> String {
    format!(
        "/api/v1/graph/lineage?node={}&direction=both&depth=2&collapseJobs=true&expand={}{extra}",
        encode("dataset:dos/in000"),
        encode("job:dos/wide")
    )
}

/// Fault 8. Collapsing a job that reads 60 datasets and writes 60 makes 3,600 edges; the
/// answer holds at most `HEADWATER_MAX_RESULT_EDGES` of them, in JSON, DOT and the layout.
#[rstest]
#[tokio::test]
async fn collapsing_jobs_stops_at_the_edge_limit_and_names_it(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(
        backend,
        QueryLimits {
            max_result_edges: 1_000,
            ..QueryLimits::default()
        },
    )
    .await;
    fan(&app, 60).await;
    let answer = get_json(&app, &fan_lineage("")).await;
    let edges = answer["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1_000);
    assert!(edges.iter().all(|e| e["kind"] == "flows_to"));
    assert_eq!(answer["nodes"].as_array().unwrap().len(), 120);
    assert_eq!(answer["truncated"], true);
    let reason = answer["truncatedReason"].as_str().unwrap();
    assert!(reason.contains("HEADWATER_MAX_RESULT_EDGES"), "{reason}");
    assert!(reason.contains("1000 edges"), "{reason}");

    let dot = app.get(&fan_lineage("&format=dot")).await;
    assert_eq!(dot.status, StatusCode::OK);
    assert_eq!(dot.text().matches(" -> ").count(), 1_000);

    let laid = get_json(&app, &fan_lineage("").replace("/lineage?", "/layout?")).await;
    assert_eq!(laid["edges"].as_array().unwrap().len(), 1_000);
    assert_eq!(laid["truncated"], true);
    assert_eq!(laid["truncatedReason"], answer["truncatedReason"]);

    // Without collapsing, the walk's own 121 edges fit.
    let plain = fan_lineage("").replace("&collapseJobs=true", "");
    let answer = get_json(&app, &plain).await;
    assert_eq!(answer["edges"].as_array().unwrap().len(), 120);
    assert_eq!(answer["truncated"], false);
}

/// Fault 8, by size: the answer stays within `HEADWATER_MAX_RESULT_BYTES`, and when the
/// nodes alone are over it the question is refused with a 422 naming `maxNodes`.
#[rstest]
#[tokio::test]
async fn a_lineage_answer_stays_within_the_size_limit(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    const BYTES: usize = 200_000;
    let app = app(
        backend,
        QueryLimits {
            max_result_bytes: BYTES,
            ..QueryLimits::default()
        },
    )
    .await;
    fan(&app, 60).await;
    let response = app.get(&fan_lineage("")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    // The frame around nodes and edges (root, depth, reason) is not counted: a few hundred
    // bytes.
    assert!(
        response.body.len() <= BYTES + 1_000,
        "{} bytes",
        response.body.len()
    );
    let answer = response.json();
    let edges = answer["edges"].as_array().unwrap().len();
    assert!((100..3_600).contains(&edges), "{edges} edges");
    let reason = answer["truncatedReason"].as_str().unwrap();
    assert!(reason.contains("HEADWATER_MAX_RESULT_BYTES"), "{reason}");

    let tiny = TestApp::with_settings(
        app.db.clone(),
        with_limits(QueryLimits {
            max_result_bytes: 2_000,
            ..QueryLimits::default()
        }),
    );
    let refused = tiny.get(&fan_lineage("")).await;
    let problem = refused.assert_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "answer-too-large",
        Some("maxNodes"),
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("HEADWATER_MAX_RESULT_BYTES"),
        "{problem}"
    );
}

/// A Spline v1.2 plan whose column `b` of `s3://bomb/out` is computed by `e0`, where
/// `e{i} = e{i+1} + e{i+1}` and the last is `a + a` on column `a` of `s3://bomb/in`: a few
/// kilobytes that spell an expression of 2^depth leaves.
fn bomb_plan(id: &str, depth: usize) -> Value {
    let functions: Vec<Value> = (0..depth)
        .map(|i| {
            let child = match i + 1 < depth {
                true => json!({"__exprId": format!("expr-{}", i + 1)}),
                false => json!({"__attrId": "attr-0"}),
            };
            json!({"id": format!("expr-{i}"), "name": "add", "childRefs": [child, child],
                   "extra": {"_typeHint": "expr.Binary", "symbol": "+", "simpleClassName": "Add"}})
        })
        .collect();
    json!({
        "id": id,
        "operations": {
            "write": {"id": "op-0", "outputSource": "s3://bomb/out", "append": false, "childIds": ["op-1"]},
            "reads": [{"id": "op-2", "inputSources": ["s3://bomb/in"], "output": ["attr-0"]}],
            "other": [{"id": "op-1", "name": "Project", "childIds": ["op-2"], "output": ["attr-1"],
                       "params": {"projectList": [{"__exprId": "expr-0"}]}}]
        },
        "attributes": [
            {"id": "attr-0", "name": "a"},
            {"id": "attr-1", "name": "b", "childRefs": [{"__exprId": "expr-0"}]}
        ],
        "expressions": {"functions": functions},
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    })
}

/// Fault 7. The 22-deep bomb is stored with its derivations, whose expression is cut at
/// 4096 bytes with a marker saying so; the Spline consumer expands at most 50,000 references
/// of it and leaves the rest as references.
#[rstest]
#[tokio::test]
async fn an_expression_bomb_is_stored_and_shown_bounded(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(backend, QueryLimits::default()).await;
    let id = "00000000-0000-4000-8000-00000000b0b0";
    let plan = bomb_plan(id, 22);
    assert!(plan.to_string().len() < 6_000);
    store_plan(&app, &plan).await;
    let marker = "… (elided: longer than 4096 bytes)";

    let columns = get_json(
        &app,
        &format!(
            "/api/v1/graph/column-lineage?node={}&column=a",
            encode("dataset:s3://bomb/in")
        ),
    )
    .await;
    let [edge] = columns["edges"].as_array().unwrap().as_slice() else {
        panic!("{columns}")
    };
    assert_eq!(edge["target"], "field:s3://bomb/out#b");
    let expression = edge["expression"].as_str().unwrap();
    assert_eq!(expression.len(), 4096 + marker.len(), "{expression}");
    assert!(
        expression.starts_with("((((((((((((((((((((((a + a)"),
        "{expression}"
    );
    assert!(expression.ends_with(marker), "{expression}");

    let details = get_json(
        &app,
        &format!(
            "/api/v1/graph/node?key={}",
            encode(&format!("attr:{id}:attr-1"))
        ),
    )
    .await;
    let derives: Vec<&Value> = details["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "derives")
        .collect();
    assert_eq!(derives.len(), 1, "{details}");
    let expression = derives[0]["properties"]["expression"].as_str().unwrap();
    assert!(expression.ends_with(marker) && expression.len() <= 4096 + marker.len());

    let operation = app.get(&format!("/consumer/operations/{id}:op-1")).await;
    assert_eq!(operation.status, StatusCode::OK, "{}", operation.text());
    assert!(
        operation.body.len() < 10_000_000,
        "{} bytes",
        operation.body.len()
    );
    let text = operation.text();
    let expanded =
        text.matches("\"expr.Binary\"").count() + text.matches("\"expr.AttrRef\"").count();
    // The output schema names attr-1 once more as an attribute reference.
    assert!((50_000..50_010).contains(&expanded), "{expanded} nodes");
    assert!(
        text.contains("{\"__exprId\":\"expr-"),
        "references stay beyond the bound"
    );
}

/// Fault 7, the other way expressions multiply: `e{i} = e{i-1} + a{i}` makes attribute `b{i}`
/// (computed by `e{i}`) derive from `a0` to `a{i}`, each derivation storing its expression,
/// so the plan's derivations grow with the cube of its size: 3,000 of them would store
/// 4.5 million edges with up to 4 KiB of expression each. Past the bound (128 MiB) the plan
/// is refused whole, naming the expressions.
#[rstest]
#[tokio::test]
async fn a_plan_whose_derivations_outgrow_it_is_refused(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = app(backend, QueryLimits::default()).await;
    let n = 3_000;
    let reads: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
    let derived: Vec<String> = (0..n).map(|i| format!("b{i}")).collect();
    let mut attributes: Vec<Value> = reads.iter().map(|a| json!({"id": a, "name": a})).collect();
    attributes.extend(
        (0..n).map(|i| json!({"id": derived[i], "name": derived[i], "childRefs": [{"__exprId": format!("e{i}")}]})),
    );
    let functions: Vec<Value> = (0..n)
        .map(|i| {
            let previous = match i {
                0 => json!({"__attrId": "a0"}),
                _ => json!({"__exprId": format!("e{}", i - 1)}),
            };
            json!({"id": format!("e{i}"), "name": "add", "childRefs": [previous, {"__attrId": reads[i]}],
                   "extra": {"_typeHint": "expr.Binary", "symbol": "+"}})
        })
        .collect();
    let plan = json!({
        "id": "00000000-0000-4000-8000-0000000b0b02",
        "operations": {
            "write": {"id": "op-0", "outputSource": "s3://bomb/square", "append": false, "childIds": ["op-1"]},
            "reads": [{"id": "op-2", "inputSources": ["s3://bomb/in"], "output": reads}],
            "other": [{"id": "op-1", "name": "Project", "childIds": ["op-2"], "output": derived}]
        },
        "attributes": attributes,
        "expressions": {"functions": functions},
        "systemInfo": {"name": "spark", "version": "3.5.0"}
    });
    let answer = app.post_plan(V12, plan.to_string()).await;
    let problem = answer.assert_problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-many-derivations",
        Some("expressions"),
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("134217728 bytes"), "{problem}");
    let nodes = app.db.scalar("select count(*) from node").await;
    assert_eq!(nodes, 0, "nothing is stored");
}
