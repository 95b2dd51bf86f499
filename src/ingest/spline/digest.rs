//! A plan's content digest: what tells a retry of a plan from another plan under its id.
//!
//! The Spark agent derives a plan's id from its content and posts the plan again on every run,
//! so an id posted twice is normally the same plan, and storing it again changes nothing
//! (plans are immutable). A different plan under a known id must not be grafted onto the
//! stored one (it would add edges to its job, and the consumer API and the graph would then
//! disagree): it is refused with 409. The digest is of the plan as parsed, not of its bytes,
//! so the same plan spelled otherwise (whitespace, key order, another producer API version)
//! is the same plan.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::wire::ExecutionPlan;

/// The job property that holds the digest.
pub const PROPERTY: &str = "contentSha256";

/// The hex SHA-256 of the plan's content but its id, in a canonical JSON spelling (object keys
/// sorted, no whitespace). Each operation, attribute and expression is turned into JSON values
/// one at a time, so a large plan is never held twice whole.
pub fn of(plan: &ExecutionPlan) -> String {
    let mut hash = Sha256::new();
    feed(&mut hash, "name", &plan.name);
    feed(&mut hash, "discriminator", &plan.discriminator);
    feed(&mut hash, "labels", &plan.labels);
    feed(&mut hash, "systemInfo", &plan.system_info);
    feed(&mut hash, "agentInfo", &plan.agent_info);
    feed(&mut hash, "extraInfo", &plan.extra_info);
    let ops = &plan.operations;
    feed(&mut hash, "write", &ops.write);
    feed_all(&mut hash, "reads", ops.reads.as_deref());
    feed_all(&mut hash, "other", ops.other.as_deref());
    feed_all(&mut hash, "attributes", plan.attributes.as_deref());
    let expressions = plan.expressions.as_ref();
    feed_all(
        &mut hash,
        "functions",
        expressions.and_then(|e| e.functions.as_deref()),
    );
    feed_all(
        &mut hash,
        "constants",
        expressions.and_then(|e| e.constants.as_deref()),
    );
    hex::encode(hash.finalize())
}

/// A list part; absent is empty, as it is in what is stored.
fn feed_all<T: Serialize>(hash: &mut Sha256, label: &str, items: Option<&[T]>) {
    let items = items.unwrap_or_default();
    hash.update(format!("{label}[{}]", items.len()));
    for item in items {
        feed(hash, "", item);
    }
}

fn feed<T: Serialize>(hash: &mut Sha256, label: &str, part: &T) {
    hash.update(label);
    // The wire types serialize to JSON whatever they hold.
    let value = serde_json::to_value(part).unwrap_or(Value::Null);
    canonical(&value, hash);
}

/// Writes `value` as JSON with object keys sorted and no whitespace.
fn canonical(value: &Value, out: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.update("{");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.update(",");
                }
                out.update(Value::String(key.clone()).to_string());
                out.update(":");
                canonical(item, out);
            }
            out.update("}");
        }
        Value::Array(items) => {
            out.update("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.update(",");
                }
                canonical(item, out);
            }
            out.update("]");
        }
        scalar => out.update(scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(value: Value) -> ExecutionPlan {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> Value {
        json!({
            "id": "00000000-0000-4000-8000-000000000001",
            "operations": {
                "write": {"id": "op-0", "outputSource": "s3://a/out", "append": false,
                          "childIds": ["op-1"], "params": {"b": 1, "a": {"y": 2, "x": 1}}},
                "reads": [{"id": "op-1", "inputSources": ["s3://a/in"], "output": ["attr-1"]}]
            },
            "attributes": [{"id": "attr-1", "name": "x"}],
            "systemInfo": {"name": "spark", "version": "3.5.0"}
        })
    }

    #[test]
    fn the_same_plan_spelled_otherwise_has_the_same_digest() {
        // The keys of `base` in another order, with other whitespace.
        let respelled = r#"{
            "systemInfo": {"version": "3.5.0", "name": "spark"},
            "attributes": [{"name": "x", "id": "attr-1"}],
            "operations": {
                "reads": [{"output": ["attr-1"], "inputSources": ["s3://a/in"], "id": "op-1"}],
                "write": {"params": {"a": {"x": 1, "y": 2}, "b": 1}, "childIds": ["op-1"],
                          "append": false, "outputSource": "s3://a/out", "id": "op-0"}
            },
            "id": "00000000-0000-4000-8000-000000000001"
        }"#;
        let respelled: ExecutionPlan = serde_json::from_str(respelled).unwrap();
        assert_eq!(of(&plan(base())), of(&respelled));
    }

    #[test]
    fn another_output_or_input_is_another_plan() {
        let digest = of(&plan(base()));
        let mut other = base();
        other["operations"]["write"]["outputSource"] = json!("s3://a/else");
        assert_ne!(of(&plan(other)), digest);
        let mut other = base();
        other["operations"]["reads"][0]["inputSources"] = json!(["s3://a/in", "s3://a/x"]);
        assert_ne!(of(&plan(other)), digest);
        let mut other = base();
        other["operations"]["other"] = json!([]);
        assert_eq!(of(&plan(other)), digest, "empty is absent");
    }
}
