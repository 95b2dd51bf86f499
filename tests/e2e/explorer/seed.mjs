// Seeds a running Headwater with fixtures from tests/data, the way producers would: Spline
// plans and their events through the producer API, OpenLineage events one by one or as a
// batch. Usage: node seed.mjs <base url>, with HEADWATER_E2E_TOKEN set when the service wants
// a producer token. Exits non-zero on any answer but 2xx.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

const data = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../data");
const V11 = "application/vnd.absa.spline.producer.v1.1+json";
const V12 = "application/vnd.absa.spline.producer.v1.2+json";

/**
 * Spline JSON-lines (a line with `operations` is a plan, an array is its events), with the
 * content type their senders use.
 */
const SPLINE = [
  ["spline/producer-v1.2-generated/spline-getting-started_triangle-lineage-5reads-3-10@10ops-4attr.json.txt", V12],
  ["spline/producer-v1.2-generated/spline_test-data-generator_triangle-lineage-3reads-20ops-3attr.json.txt", V11],
];

/** OpenLineage events, posted in this order; arrays go to the batch endpoint. */
const OPENLINEAGE = [
  "dbt_postgres_artifact_events_ARRAY.json",
  "dbt_postgres_structured_logs_failed_run_ARRAY.json",
  "spark_cll_03_COMPLETE_create_table_lifecycleStateChange.json",
  "spark_cll_08_COMPLETE_ctas_columnLineage_parent.json",
  "spark_dataproc_hdfs_COMPLETE_sql_columnLineage_symlinks.json",
  "airflow_01_dag_START.json",
  "airflow_02_task_START_parent.json",
  "airflow_03_task_COMPLETE_bigquery_columnLineage.json",
  "airflow_08_dag_COMPLETE.json",
];

async function post(base, route, contentType, body) {
  const headers = { "content-type": contentType };
  if (process.env.HEADWATER_E2E_TOKEN) headers.authorization = `Bearer ${process.env.HEADWATER_E2E_TOKEN}`;
  const response = await fetch(new URL(route, base), { method: "POST", headers, body });
  if (!response.ok) {
    throw new Error(`POST ${route} answered ${response.status}: ${await response.text()}`);
  }
  return response;
}

async function seedSpline(base, [file, contentType]) {
  const lines = (await readFile(path.join(data, file), "utf8")).split("\n");
  let posted = 0;
  for (const line of lines) {
    const text = line.trim();
    if (!text || text.startsWith("#")) continue;
    const route = text.startsWith("[") ? "/producer/execution-events" : "/producer/execution-plans";
    await post(base, route, contentType, text);
    posted += 1;
  }
  return posted;
}

/** A stable UUID-shaped id for a job's run, so a fixture's START and COMPLETE share one run. */
function runIdOf(job) {
  const hex = createHash("sha1").update(`${job.namespace}/${job.name}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The dbt fixtures are test expectations whose run ids are matcher placeholders; as they
 * stand every event would land on one run. Each run gets its job's id instead (in memory,
 * the files stay as they are), as the API tests render them.
 */
function renderRunIds(event) {
  const placeholder = (id) => typeof id === "string" && id.includes("{{");
  if (placeholder(event.run?.runId)) event.run.runId = runIdOf(event.job);
  const parent = event.run?.facets?.parent;
  if (parent && placeholder(parent.run?.runId)) parent.run.runId = runIdOf(parent.job);
  return event;
}

async function seedOpenLineage(base, file) {
  const raw = await readFile(path.join(data, "openlineage", file), "utf8");
  const batch = raw.trimStart().startsWith("[");
  const text = batch ? JSON.stringify(JSON.parse(raw).map(renderRunIds)) : raw;
  const response = await post(base, batch ? "/api/v1/lineage/batch" : "/api/v1/lineage", "application/json", text);
  if (batch) {
    const answer = await response.json();
    if (answer.summary.failed !== 0) throw new Error(`${file}: ${JSON.stringify(answer.failed_events)}`);
    return answer.summary.successful;
  }
  return 1;
}

export async function seed(base) {
  let count = 0;
  for (const file of SPLINE) count += await seedSpline(base, file);
  for (const file of OPENLINEAGE) count += await seedOpenLineage(base, file);
  return count;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const base = process.argv[2];
  if (!base) throw new Error("usage: node seed.mjs <base url>");
  const count = await seed(base);
  console.log(`seeded ${count} requests into ${base}`);
}
