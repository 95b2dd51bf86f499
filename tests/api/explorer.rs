//! The explorer's server side: the layout API (positions, routes, latest runs, growing the
//! graph, jobs opened into operations) and the page's assets (content types, caching, the
//! Content-Security-Policy, nothing referenced off-host).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use rstest::rstest;

use crate::helpers::{Backend, Postgres, Sqlite, TestDb};
use crate::helpers::{
    TestApp, ds, encode, get_json, minimal_plan, plan_id, sorted, store_plan, store_spline_events,
};

/// raw → job 1 → mid → job 2 → out → job 3 → final. Job 2's only run failed, and is dated in
/// 2100, so time travel to before then shows job 2 without a run.
async fn chain(backend: Backend) -> TestApp {
    let app = TestApp::new(TestDb::new(backend).await);
    let uris = [
        "s3://lake/raw",
        "s3://lake/mid",
        "s3://lake/out",
        "s3://lake/final",
    ];
    for n in 1..=3u32 {
        let plan = minimal_plan(&plan_id(n), &[uris[n as usize - 1]], uris[n as usize], "id");
        store_plan(&app, &plan).await;
        let mut event =
            json!({"planId": plan_id(n), "timestamp": 1_764_000_000_000i64 + i64::from(n)});
        if n == 2 {
            event["timestamp"] = json!(4_102_444_800_000i64);
            event["error"] = json!("java.lang.OutOfMemoryError");
        }
        store_spline_events(&app, &json!([event])).await;
    }
    app
}

fn job(n: u32) -> String {
    format!("job:{}", plan_id(n))
}

fn node<'a>(layout: &'a Value, key: &str) -> &'a Value {
    layout["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["key"] == key)
        .unwrap_or_else(|| panic!("{key} is not drawn: {layout}"))
}

fn keys(layout: &Value) -> Vec<String> {
    sorted(
        layout["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["key"].as_str().unwrap().to_owned()),
    )
}

fn layout_uri(key: &str, rest: &str) -> String {
    format!("/api/v1/graph/layout?node={}{rest}", encode(key))
}

#[rstest]
#[tokio::test]
async fn layout_places_data_flowing_rightwards_with_routed_edges(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = chain(backend).await;
    let response = app
        .get(&layout_uri(
            &ds("s3://lake/raw"),
            "&direction=downstream&depth=5",
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let timing = response.headers["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["lineage;dur=", "runs;dur=", "layout;dur="] {
        assert!(timing.contains(part), "{timing}");
    }
    let layout = response.json();
    let flow = [
        ds("s3://lake/raw"),
        job(1),
        ds("s3://lake/mid"),
        job(2),
        ds("s3://lake/out"),
        job(3),
        ds("s3://lake/final"),
    ];
    assert_eq!(keys(&layout), sorted(flow.iter().cloned()));
    for pair in flow.windows(2) {
        let (a, b) = (node(&layout, &pair[0]), node(&layout, &pair[1]));
        assert!(a["layer"].as_u64() < b["layer"].as_u64(), "{a} {b}");
        assert!(a["x"].as_f64().unwrap() + a["width"].as_f64().unwrap() < b["x"].as_f64().unwrap());
    }
    let edges = layout["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 6);
    for e in edges {
        let (s, t) = (
            node(&layout, e["source"].as_str().unwrap()),
            node(&layout, e["target"].as_str().unwrap()),
        );
        let points = e["points"].as_array().unwrap();
        let first = &points[0];
        assert_eq!(
            first[0].as_f64(),
            Some(s["x"].as_f64().unwrap() + s["width"].as_f64().unwrap())
        );
        assert_eq!(points.last().unwrap()[0].as_f64(), t["x"].as_f64());
        assert_eq!(e["reversed"], false);
    }
    assert!(layout["width"].as_f64().unwrap() > 6.0 * 220.0);
    assert_eq!(layout["truncated"], false);
}

#[rstest]
#[tokio::test]
async fn jobs_carry_their_latest_run_and_a_failure_shows(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = chain(backend).await;
    let layout = get_json(&app, &layout_uri(&ds("s3://lake/raw"), "&depth=5")).await;
    assert_eq!(node(&layout, &job(2))["lastRun"]["state"], "FAILED");
    assert_eq!(node(&layout, &job(1))["lastRun"]["state"], "COMPLETED");
    assert!(node(&layout, &ds("s3://lake/mid")).get("lastRun").is_none());
    // Before job 2's run, time travel shows job 2 without it.
    let before = get_json(
        &app,
        &layout_uri(&ds("s3://lake/raw"), "&depth=5&asOf=2099-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(node(&before, &job(1))["lastRun"]["state"], "COMPLETED");
    assert!(node(&before, &job(2)).get("lastRun").is_none(), "{before}");
}

#[rstest]
#[tokio::test]
async fn expand_grows_the_graph_one_hop_from_the_frontier(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = chain(backend).await;
    let cut = get_json(
        &app,
        &layout_uri(&ds("s3://lake/raw"), "&direction=downstream&depth=1"),
    )
    .await;
    assert_eq!(cut["truncated"], true);
    assert_eq!(node(&cut, &ds("s3://lake/mid"))["frontier"], true);
    assert_eq!(keys(&cut).len(), 3);
    let grown = get_json(
        &app,
        &layout_uri(
            &ds("s3://lake/raw"),
            &format!(
                "&direction=downstream&depth=1&expand={}",
                encode(&ds("s3://lake/mid"))
            ),
        ),
    )
    .await;
    assert!(keys(&grown).contains(&job(2)), "{grown}");
    assert!(keys(&grown).contains(&ds("s3://lake/out")));
    assert!(!keys(&grown).contains(&job(3)));
    assert_eq!(node(&grown, &ds("s3://lake/mid"))["frontier"], false);
    assert_eq!(node(&grown, &ds("s3://lake/out"))["frontier"], true);
    assert_eq!(grown["truncated"], true);
    // Grown to the end, nothing is cut any more.
    let both = format!(
        "&direction=downstream&depth=1&expand={},{}",
        encode(&ds("s3://lake/mid")),
        encode(&ds("s3://lake/out"))
    );
    let whole = get_json(&app, &layout_uri(&ds("s3://lake/raw"), &both)).await;
    assert_eq!(keys(&whole).len(), 7, "{whole}");
    assert_eq!(whole["truncated"], false);
    // The lineage answer grows the same way.
    let lineage = get_json(
        &app,
        &format!(
            "/api/v1/graph/lineage?node={}&direction=downstream&depth=1&expand={}",
            encode(&ds("s3://lake/raw")),
            encode(&ds("s3://lake/mid"))
        ),
    )
    .await;
    assert_eq!(lineage["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(lineage["frontier"], json!([ds("s3://lake/out")]));
}

#[rstest]
#[tokio::test]
async fn a_job_opens_into_its_operations_drawn_as_a_group(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = chain(backend).await;
    let rest = format!("&direction=both&depth=1&operations={}", encode(&job(2)));
    let layout = get_json(&app, &layout_uri(&ds("s3://lake/mid"), &rest)).await;
    let ops = [
        format!("op:{}:op-0", plan_id(2)),
        format!("op:{}:op-1", plan_id(2)),
    ];
    for op in &ops {
        assert_eq!(node(&layout, op)["group"], job(2));
        assert_eq!(node(&layout, op)["kind"], "operation");
    }
    assert!(
        !keys(&layout).contains(&job(2)),
        "the job is drawn as its frame"
    );
    let groups = layout["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["key"], job(2));
    assert_eq!(groups[0]["lastRun"]["state"], "FAILED");
    let edges: Vec<(String, String, String)> = layout["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("source"), s("kind"), s("target"))
        })
        .collect();
    assert!(
        edges.contains(&(ds("s3://lake/mid"), "reads_from".into(), ops[1].clone())),
        "{edges:?}"
    );
    assert!(edges.contains(&(ops[1].clone(), "data_flow".into(), ops[0].clone())));
    assert!(edges.contains(&(ops[0].clone(), "writes_to".into(), ds("s3://lake/out"))));
    // Every member is inside the frame.
    let g = &groups[0];
    for op in &ops {
        let n = node(&layout, op);
        let inside = |v: &str, lo: &str, size: &str| {
            n[v].as_f64().unwrap() >= g[lo].as_f64().unwrap()
                && n[v].as_f64().unwrap() <= g[lo].as_f64().unwrap() + g[size].as_f64().unwrap()
        };
        assert!(
            inside("x", "x", "width") && inside("y", "y", "height"),
            "{n} {g}"
        );
    }
    // The lineage answer lists the operations with the job.
    let lineage = get_json(
        &app,
        &format!(
            "/api/v1/graph/lineage?node={}&direction=both&depth=1{}",
            encode(&ds("s3://lake/mid")),
            &rest[22..]
        ),
    )
    .await;
    let kinds: Vec<&str> = lineage["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"has_operation"), "{lineage}");
}

#[rstest]
#[tokio::test]
async fn bad_layout_parameters_say_which(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = chain(backend).await;
    let raw = ds("s3://lake/raw");
    app.get(&layout_uri(&raw, &format!("&operations={}", encode(&raw))))
        .await
        .assert_problem(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            Some("operations"),
        );
    app.get(&layout_uri(&raw, "&expand=dataset:s3://nowhere"))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("expand"));
    app.get(&layout_uri(&raw, "&depth=99"))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid-parameter", Some("depth"));
    app.get(&layout_uri("dataset:s3://nowhere", ""))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
    // Other formats answer as lineage does.
    let dot = app.get(&layout_uri(&raw, "&format=dot")).await;
    assert_eq!(dot.status, StatusCode::OK);
    assert!(dot.text().starts_with("digraph"), "{}", dot.text());
}

#[rstest]
#[tokio::test]
async fn the_explorer_is_served_at_ui_with_a_strict_policy(
    #[values(Postgres, Sqlite)] backend: Backend,
) {
    let app = TestApp::new(TestDb::new(backend).await);
    let root = app.get("/").await;
    assert_eq!(root.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(root.headers[header::LOCATION], "/ui/");
    assert_eq!(app.get("/ui").await.headers[header::LOCATION], "/ui/");
    let page = app.get("/ui/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = page.text();
    for (asset, content_type) in [
        ("/ui/explorer.js", "text/javascript; charset=utf-8"),
        ("/ui/explorer.css", "text/css; charset=utf-8"),
        ("/ui/favicon.svg", "image/svg+xml"),
    ] {
        assert!(html.contains(&format!("\"{asset}\"")), "{asset} not linked");
        let served = app.get(asset).await;
        assert_eq!(served.status, StatusCode::OK, "{asset}");
        assert_eq!(
            served.headers[header::CONTENT_TYPE],
            content_type,
            "{asset}"
        );
    }
    for module in ["api.js", "draw.js", "export.js"] {
        assert_eq!(
            app.get(&format!("/ui/{module}")).await.status,
            StatusCode::OK
        );
    }
    // Nothing the page or its modules name is fetched from elsewhere.
    for asset in [
        "/ui/",
        "/ui/explorer.js",
        "/ui/api.js",
        "/ui/draw.js",
        "/ui/export.js",
        "/ui/explorer.css",
    ] {
        let text = app.get(asset).await.text();
        for (i, _) in text.match_indices("http") {
            let rest = &text[i..];
            assert!(
                rest.starts_with("http://www.w3.org/"),
                "{asset} names an address: {}",
                &rest[..rest.len().min(60)]
            );
        }
    }
}

#[rstest]
#[tokio::test]
async fn explorer_assets_revalidate_by_etag(#[values(Postgres, Sqlite)] backend: Backend) {
    let app = TestApp::new(TestDb::new(backend).await);
    let first = app.get("/ui/draw.js").await;
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let request = Request::get("/ui/draw.js")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let again = app.request(request).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_ne!(
        app.get("/ui/api.js").await.headers[header::ETAG],
        etag.as_str()
    );
    app.get("/ui/missing.js")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found", None);
}
