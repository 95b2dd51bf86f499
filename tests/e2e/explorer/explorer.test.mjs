// End-to-end tests of the explorer in Debian's Chromium, driven by playwright-core, against a
// live Headwater seeded with Spline and OpenLineage fixtures (see ../explorer.sh, which starts
// the service and seeds it). Every test also fails if the page asked for anything off-host,
// logged an error, or broke its Content-Security-Policy.

import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { chromium } from "playwright-core";

const BASE = process.env.HEADWATER_URL;
/** A reader's token, and one with the producer scope only (the service has auth on). */
const TOKEN = process.env.HEADWATER_E2E_TOKEN;
const PRODUCER_TOKEN = process.env.HEADWATER_E2E_PRODUCER_TOKEN;
const CHROMIUM = process.env.HEADWATER_E2E_CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = process.env.HEADWATER_E2E_ARTIFACTS || "e2e-artifacts";
assert.ok(BASE, "HEADWATER_URL must name the Headwater under test");
assert.ok(TOKEN && PRODUCER_TOKEN, "HEADWATER_E2E_TOKEN and HEADWATER_E2E_PRODUCER_TOKEN must be set");

const HOST = new URL(BASE).host;

// Fixture keys (tests/data/openlineage): the dbt jaffle-shop models, a failed dbt run, the
// Spark column-lineage CTAS, and a Spline test-data-generator plan.
const ns = "dataset:postgres://postgres_host:1234/postgres.public";
const KEYS = {
  stgOrders: `${ns}.stg_orders`,
  stgOrdersJob: "job:job-namespace/postgres.public.jaffle_shop.stg_orders",
  customersJob: "job:job-namespace/postgres.public.jaffle_shop.customers",
  ordersJob: "job:job-namespace/postgres.public.jaffle_shop.orders",
  customers: `${ns}.customers`,
  orders: `${ns}.orders`,
  failedOrders: "dataset:postgres://postgres:5432/postgres.public.orders",
  failedJob: "job:dbt-test-namespace/model.jaffle_shop.orders",
  tbl1: "dataset:file:///tmp/cll_test/tbl1",
  source1: "dataset:file:///tmp/cll_test/cll_source1",
  source2: "dataset:file:///tmp/cll_test/cll_source2",
  ctasJob: "job:testColumnLevelLineage/open_lineage_integration_create_table.execute_create_hive_table_as_select_command.default_tbl1",
  createJob: "job:testColumnLevelLineage/open_lineage_integration_create_table.execute_create_table_command.cll_test_cll_source1",
  splineWrite: "dataset:file://splinegen/write.csv",
};

let browser;
let context;
let page;
let requests;
let problems;

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
});

/**
 * A fresh browser context and page, watched. With `token`, the tab starts signed in (the
 * token in its session storage, as the prompt leaves it); without, it starts signed out.
 */
async function fresh(token) {
  context = await browser.newContext({ viewport: { width: 1400, height: 820 }, acceptDownloads: true, timezoneId: "UTC" });
  if (token) await context.addInitScript((t) => sessionStorage.setItem("headwater.token", t), token);
  page = await context.newPage();
  requests = [];
  apiAuthorization = [];
  problems = [];
  page.on("request", (r) => {
    requests.push(r.url());
    if (new URL(r.url()).pathname.startsWith("/api/")) apiAuthorization.push(r.headers().authorization || null);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
}

let apiAuthorization;

beforeEach(async () => {
  await fresh(TOKEN);
});

afterEach(async () => {
  await context.close();
  assert.ok(apiAuthorization.every((a) => a === null || a === `Bearer ${TOKEN}`), "a call carried another token");
  const offHost = requests.filter((url) => !sameHost(url));
  assert.deepEqual(offHost, [], "the page asked for something off-host");
  assert.deepEqual(problems, [], "the page logged errors");
});

function sameHost(url) {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:") return true;
  return u.protocol === "http:" && u.host === HOST;
}

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Opens the explorer with view settings in the URL, and waits for the drawing. */
async function openView(params) {
  const q = new URLSearchParams(params);
  await page.goto(`${BASE}/ui/?${q}`);
  await page.waitForSelector(`#graph .node[data-key="${params.node}"]`);
}

/** The keys drawn as node groups in the SVG, sorted. */
async function drawnKeys(selector = "#graph .node") {
  const keys = await page.$$eval(selector, (nodes) => nodes.map((n) => n.getAttribute("data-key")));
  return keys.sort();
}

async function waitForKeys(expected) {
  const want = [...expected].sort();
  await page.waitForFunction(
    (w) => JSON.stringify([...document.querySelectorAll("#graph .node")].map((n) => n.dataset.key).sort()) === JSON.stringify(w),
    want,
  );
  assert.deepEqual(await drawnKeys(), want);
}

function query() {
  return new URL(page.url()).searchParams;
}

test("search as you type, open a dataset, and its lineage is drawn", async () => {
  await page.goto(`${BASE}/`);
  assert.equal(new URL(page.url()).pathname, "/ui/");
  await page.waitForSelector("#status:has-text('Search for a dataset or job')");
  await page.fill("#search", "stg_ord");
  const option = `#results [role=option][data-key="${KEYS.stgOrders}"]`;
  await page.waitForSelector(option);
  await page.click(option);
  await waitForKeys([KEYS.stgOrders, KEYS.stgOrdersJob, KEYS.customersJob, KEYS.ordersJob, KEYS.customers, KEYS.orders]);
  assert.equal(query().get("node"), KEYS.stgOrders);
  assert.equal(query().get("direction"), "both");
  // Datasets and jobs look different, and data flows rightwards.
  const kind = (key) => page.getAttribute(`#graph .node[data-key="${key}"]`, "class");
  assert.match(await kind(KEYS.stgOrders), /kind-dataset/);
  assert.match(await kind(KEYS.customersJob), /kind-job/);
  const x = async (key) => (await page.locator(`#graph .node[data-key="${key}"] rect.body`).boundingBox()).x;
  assert.ok(await x(KEYS.stgOrdersJob) < await x(KEYS.stgOrders));
  assert.ok(await x(KEYS.stgOrders) < await x(KEYS.customersJob));
  assert.ok(await x(KEYS.customersJob) < await x(KEYS.customers));
  assert.equal(await page.locator("#graph path.edge").count(), 5);
  await page.waitForSelector("#status:has-text('3 datasets, 3 jobs, 5 edges')");
  await shot("01-search-and-open");
});

test("switching the direction redraws, and the URL carries the view", async () => {
  await openView({ node: KEYS.stgOrders, direction: "both" });
  await page.selectOption("select[name=direction]", "upstream");
  await waitForKeys([KEYS.stgOrders, KEYS.stgOrdersJob]);
  assert.equal(query().get("direction"), "upstream");
  await page.fill("input[name=depth]", "1");
  await page.check("input[name=collapseJobs]");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("collapseJobs") === "true");
  assert.equal(query().get("depth"), "1");
  // Collapsed, only datasets are left; the job would have been the only other node.
  await waitForKeys([KEYS.stgOrders]);
  await page.waitForSelector("#status:has-text('No datasets upstream of postgres.public.stg_orders')");
  await shot("02-direction-upstream-collapsed");
  // The same link in a fresh page shows the same view.
  const shared = page.url();
  const other = await context.newPage();
  await other.goto(shared);
  await other.waitForSelector(`#graph .node[data-key="${KEYS.stgOrders}"]`);
  assert.equal(await other.inputValue("select[name=direction]"), "upstream");
  assert.equal(await other.isChecked("input[name=collapseJobs]"), true);
  await other.close();
  // Back steps through views.
  await page.goBack();
  await page.goBack();
  await page.goBack();
  await waitForKeys([KEYS.stgOrders, KEYS.stgOrdersJob, KEYS.customersJob, KEYS.ordersJob, KEYS.customers, KEYS.orders]);
});

test("time travel: As of goes into the URL, and before the first sighting says so", async () => {
  await openView({ node: KEYS.stgOrders, direction: "both" });
  await page.fill("input[name=asOf]", "2000-01-01T00:00:00");
  await page.locator("input[name=asOf]").dispatchEvent("change");
  await page.waitForSelector("#status.error:has-text('first seen')");
  assert.ok(new Date(query().get("asOf")) < new Date("2000-01-02T00:00:00Z"), query().get("asOf"));
  expectAnswers(404);
  await page.fill("input[name=asOf]", "2099-01-01T00:00:00");
  await page.locator("input[name=asOf]").dispatchEvent("change");
  await page.waitForSelector("#status:has-text('as of 2099-01-01')");
  await waitForKeys([KEYS.stgOrders, KEYS.stgOrdersJob, KEYS.customersJob, KEYS.ordersJob, KEYS.customers, KEYS.orders]);
});

test("a job whose last run failed is marked", async () => {
  await openView({ node: KEYS.failedOrders, direction: "both" });
  const job = page.locator(`#graph .node[data-key="${KEYS.failedJob}"]`);
  assert.match(await job.getAttribute("class"), /failed/);
  assert.equal(await job.locator("text.badge").textContent(), "FAILED");
  // Drawn in red, not in the job's colours.
  const red = "rgb(180, 35, 24)";
  assert.equal(await job.locator("rect.badge-box").evaluate((r) => getComputedStyle(r).fill), red);
  assert.equal(await job.locator("rect.body").evaluate((r) => getComputedStyle(r).stroke), red);
  assert.match(await job.getAttribute("aria-label"), /last run failed/);
  await page.waitForSelector("#status:has-text('whose last run failed')");
  await shot("03-failed-run");
});

test("a cut graph says so, and a node grows by one hop", async () => {
  await openView({ node: KEYS.customers, direction: "upstream", depth: "1" });
  await page.waitForSelector("#status:has-text('graph cut at')");
  const grow = `#graph [data-grow="${KEYS.stgOrders}"]`;
  await page.waitForSelector(grow);
  assert.equal(await page.locator(`#graph .node[data-key="${KEYS.stgOrdersJob}"]`).count(), 0);
  await page.click(grow);
  await page.waitForSelector(`#graph .node[data-key="${KEYS.stgOrdersJob}"]`);
  assert.equal(query().get("expand"), KEYS.stgOrders);
  assert.equal(await page.locator(grow).count(), 0, "the grown node is no longer on the frontier");
  await shot("04-expanded");
});

test("a node's details: properties, columns, runs, raw payload", async () => {
  await openView({ node: KEYS.stgOrders, direction: "both" });
  await page.click(`#graph .node[data-key="${KEYS.stgOrders}"] rect.body`);
  const panel = page.locator("#panel");
  await panel.locator("h2:has-text('postgres.public.stg_orders')").waitFor();
  assert.equal(query().get("selected"), KEYS.stgOrders);
  await panel.locator("text=Columns (2)").waitFor();
  assert.deepEqual(await panel.locator(".columns [data-column]").evaluateAll((b) => b.map((x) => x.dataset.column)), ["order_id", "status"]);
  assert.match(await panel.locator("pre").textContent(), /"key": "dataset:postgres:\/\/postgres_host:1234/);
  await page.click(`#graph .node[data-key="${KEYS.customersJob}"] rect.body`);
  await panel.locator("text=Last run completed").waitFor();
  await shot("05-details");
});

test("tracing a column highlights where it comes from", async () => {
  await openView({ node: KEYS.tbl1, direction: "both", selected: KEYS.tbl1 });
  await page.click("#panel button[data-column=agg]");
  await page.waitForSelector("#graph.tracing");
  await page.waitForFunction(() => new URL(location.href).searchParams.get("trace") === "field:file:///tmp/cll_test/tbl1#agg");
  const traced = await drawnKeys("#graph .node.traced");
  assert.deepEqual(traced, [KEYS.source1, KEYS.source2, KEYS.tbl1, KEYS.ctasJob].sort());
  assert.match(await page.locator(`#graph .node[data-key="${KEYS.source2}"] text.columns`).textContent(), /a, c/);
  assert.equal(await page.locator("#graph path.edge.traced").count(), 3);
  await page.waitForSelector("#status:has-text('Column agg: 5 columns in 3 datasets')");
  await page.locator("#panel .derivation:has-text('AGGREGATION')").waitFor();
  await shot("06-column-trace");
  // Reloading the link keeps the trace.
  await page.reload();
  await page.waitForSelector(`#graph .node.traced[data-key="${KEYS.source1}"]`);
});

test("a Spline job opens into its operations and closes again", async () => {
  await openView({ node: KEYS.splineWrite, direction: "upstream" });
  const job = await page.$eval("#graph .node.kind-job", (n) => n.dataset.key);
  await page.click(`#graph .node[data-key="${job}"] rect.body`);
  await page.click("#panel button:has-text('Show operations')");
  await page.waitForSelector(`#graph .group[data-group="${job}"]`);
  assert.ok(await page.locator("#graph .node.kind-operation").count() >= 2);
  assert.equal(await page.locator(`#graph .node[data-key="${job}"]`).count(), 0);
  assert.equal(query().get("operations"), job);
  await shot("07-operations");
  await page.click(`#graph [data-close-group="${job}"]`);
  await page.waitForSelector(`#graph .node[data-key="${job}"]`);
  assert.equal(await page.locator("#graph .node.kind-operation").count(), 0);
});

test("export as SVG, PNG, DOT and Mermaid", async () => {
  await openView({ node: KEYS.stgOrders, direction: "both" });
  const save = async (format) => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click(`[data-export=${format}]`)]);
    const file = path.join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(file);
    return readFile(file);
  };
  const svg = (await save("svg")).toString("utf8");
  const parsed = await page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    return {
      error: doc.querySelector("parsererror")?.textContent || null,
      root: doc.documentElement.localName,
      keys: [...doc.querySelectorAll("[data-key]")].map((n) => n.getAttribute("data-key")).sort(),
      names: [...doc.querySelectorAll("text.name")].map((n) => n.textContent),
      fill: doc.querySelector(".kind-dataset rect.body")?.getAttribute("fill"),
    };
  }, svg);
  assert.equal(parsed.error, null);
  assert.equal(parsed.root, "svg");
  assert.deepEqual(parsed.keys, [KEYS.stgOrders, KEYS.stgOrdersJob, KEYS.customersJob, KEYS.ordersJob, KEYS.customers, KEYS.orders].sort());
  assert.ok(parsed.names.includes("postgres.public.stg_orders"));
  assert.ok(parsed.fill && parsed.fill !== "none", "styles travel with the file");
  const png = await save("png");
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dot = (await save("dot")).toString("utf8");
  assert.match(dot, /^digraph/);
  assert.ok(dot.includes(KEYS.customersJob));
  const mermaid = (await save("mermaid")).toString("utf8");
  assert.match(mermaid, /^(flowchart|graph) LR/m);
});

test("keyboard only: search, then the node table", async () => {
  await page.goto(`${BASE}/ui/`);
  await page.keyboard.press("/");
  await page.keyboard.type("customers");
  await page.waitForSelector(`#results [role=option][data-key="${KEYS.customers}"]`);
  const keys = await page.$$eval("#results [role=option]", (o) => o.map((x) => x.dataset.key));
  for (let i = 0; i <= keys.indexOf(KEYS.customers); i += 1) await page.keyboard.press("ArrowDown");
  assert.equal(await page.getAttribute("#search", "aria-activedescendant"), `result-${keys.indexOf(KEYS.customers)}`);
  await page.keyboard.press("Enter");
  await page.waitForSelector(`#graph .node[data-key="${KEYS.customersJob}"]`);
  await page.click("#show-table");
  const rows = page.locator("#node-table tbody tr");
  assert.equal(await rows.count(), await page.locator("#graph .node").count());
  await rows.first().focus();
  await page.keyboard.press("ArrowDown");
  const focused = await page.evaluate(() => document.activeElement.dataset.key);
  await page.keyboard.press("Enter");
  await page.locator("#panel h2").waitFor();
  assert.equal(query().get("selected"), focused);
  assert.equal(query().get("view"), "table");
  await shot("08-table");
});

test("nothing upstream, and an unknown node, are said plainly", async () => {
  await openView({ node: KEYS.source2, direction: "upstream" });
  await page.waitForSelector("#status:has-text('Nothing upstream of /tmp/cll_test/cll_source2')");
  await page.goto(`${BASE}/ui/?node=${encodeURIComponent("dataset:s3://nowhere/at-all")}`);
  await page.waitForSelector("#status.error:has-text('Not found')");
  // The 404 of the API call is an expected answer, not a page error.
  problems = problems.filter((p) => !p.includes("404"));
  await shot("09-not-found");
});

test("the page asks for nothing off its own host", async () => {
  // Everything a visit touches: the page, its modules and styles, search, layout, details,
  // a column trace and the exports.
  await page.goto(`${BASE}/ui/?node=${encodeURIComponent(KEYS.tbl1)}&direction=both&selected=${encodeURIComponent(KEYS.tbl1)}&trace=${encodeURIComponent("field:file:///tmp/cll_test/tbl1#agg")}`);
  await page.waitForSelector("#graph.tracing");
  await page.fill("#search", "orders");
  await page.waitForSelector("#results [role=option]");
  await page.keyboard.press("Escape");
  for (const format of ["svg", "png", "dot"]) {
    await Promise.all([page.waitForEvent("download"), page.click(`[data-export=${format}]`)]);
  }
  const paths = requests.map((u) => new URL(u).pathname);
  for (const expected of ["/ui/", "/ui/explorer.js", "/ui/api.js", "/ui/draw.js", "/ui/export.js", "/ui/explorer.css",
    "/api/v1/graph/layout", "/api/v1/graph/node", "/api/v1/graph/column-lineage", "/api/v1/graph/nodes", "/api/v1/graph/lineage"]) {
    assert.ok(paths.includes(expected), `expected a request for ${expected}: ${paths.join(" ")}`);
  }
  const offHost = requests.filter((url) => !sameHost(url));
  assert.deepEqual(offHost, []);
});

/** The browser's own console line for an API answer of `status`: expected where tested. */
function expectAnswers(status) {
  problems = problems.filter((p) => !p.includes(`status of ${status}`));
}

test("without a token the page asks for one, keeps it for the tab, and sends it", async () => {
  await context.close();
  await fresh(null);
  await page.goto(`${BASE}/ui/?node=${encodeURIComponent(KEYS.stgOrders)}&direction=both`);
  const dialog = page.locator("#token-dialog");
  await dialog.locator("text=This Headwater needs a token").waitFor();
  assert.equal(await dialog.getAttribute("open"), "");
  await shot("10-token-prompt");
  await page.fill("#token", "not-a-token");
  await page.click("#token-dialog button[value=ok]");
  await page.locator("#token-reason:has-text('The token was refused.')").waitFor();
  await page.fill("#token", TOKEN);
  await page.click("#token-dialog button[value=ok]");
  await page.waitForSelector(`#graph .node[data-key="${KEYS.customersJob}"]`);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("headwater.token")), TOKEN);
  // The first call went without a token, the second with the wrong one, then the right one.
  assert.deepEqual(apiAuthorization.slice(0, 3), [null, "Bearer not-a-token", `Bearer ${TOKEN}`]);
  // A new view in the same tab needs no new prompt.
  await page.selectOption("select[name=direction]", "upstream");
  await waitForKeys([KEYS.stgOrders, KEYS.stgOrdersJob]);
  assert.equal(apiAuthorization.at(-1), `Bearer ${TOKEN}`);
  apiAuthorization = apiAuthorization.filter((a) => a === `Bearer ${TOKEN}`);
  expectAnswers(401);
});

test("a refused prompt says a token is needed, and Enter token tries again", async () => {
  await context.close();
  await fresh(null);
  await page.goto(`${BASE}/ui/?node=${encodeURIComponent(KEYS.stgOrders)}`);
  await page.locator("#token-dialog[open]").waitFor();
  await page.click("#token-dialog button[value=cancel]");
  await page.waitForSelector("#status.error:has-text('the API answered 401')");
  await page.click("#status button:has-text('Enter token')");
  await page.fill("#token", TOKEN);
  await page.click("#token-dialog button[value=ok]");
  await page.waitForSelector(`#graph .node[data-key="${KEYS.stgOrders}"]`);
  apiAuthorization = apiAuthorization.filter((a) => a !== null);
  expectAnswers(401);
});

test("a token without the consumer scope is refused plainly", async () => {
  await context.close();
  await fresh(PRODUCER_TOKEN);
  await page.goto(`${BASE}/ui/?node=${encodeURIComponent(KEYS.stgOrders)}`);
  await page.waitForSelector("#status.error:has-text('Not allowed')");
  assert.equal(await page.locator("#token-dialog[open]").count(), 0, "a 403 asks for no other token");
  apiAuthorization = [];
  expectAnswers(403);
});
