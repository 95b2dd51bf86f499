//! JSON decoding that reports *where* a payload is wrong.
//!
//! Spline plans run to megabytes; "invalid type: map, expected a string" is useless without the
//! path to the offending value, so every decode goes through `serde_path_to_error`.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Decodes `body` into `T`, turning syntax errors and shape errors into 400s with a JSON path.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| into_error(e, body))?;
    de.end().map_err(|e| {
        Error::bad_request(
            "malformed-json",
            format!("trailing data after the JSON document: {e}"),
            None,
        )
    })?;
    Ok(value)
}

/// Refuses JSON nested deeper than `max` levels, before any parsing: the decoders recurse once
/// per level, so a body of nothing but brackets would cost stack and time out of all
/// proportion to its size. One pass over the bytes, skipping strings.
pub fn check_depth(body: &[u8], max: usize) -> Result<(), Error> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (offset, &byte) in body.iter().enumerate() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(too_deep(max, offset));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn too_deep(max: usize, offset: usize) -> Error {
    Error::bad_request(
        "json-too-deep",
        format!(
            "the JSON nests arrays and objects more than {max} levels deep (at byte {offset}); \
             the limit is HEADWATER_MAX_JSON_DEPTH"
        ),
        None,
    )
}

/// Decodes an already-parsed value; error paths are prefixed with `prefix`, the value's own
/// location in the request (e.g. `outputs[0].facets.schema`), so they point into the body.
pub fn decode_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    prefix: &str,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = render_path(err.path());
        let message = strip_position(&err.into_inner().to_string());
        let path = match missing_field(&message) {
            Some(field) => join(&path, field),
            None => path,
        };
        let path = prefixed(prefix, &path);
        Error::bad_request("invalid-field", format!("{path}: {message}"), Some(path))
    })
}

/// Joins a location prefix and a relative path: `outputs[0]` + `facets.x` or `[1]`.
pub fn prefixed(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path) {
        (true, p) => p.to_owned(),
        (false, "$") => prefix.to_owned(),
        (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
        (false, p) => format!("{prefix}.{p}"),
    }
}

fn into_error(err: serde_path_to_error::Error<serde_json::Error>, body: &[u8]) -> Error {
    let path = render_path(err.path());
    let inner = err.into_inner();
    // Decoding stops at the first problem, so a wrong type early in a body that is broken
    // later would pass for a shape error. Only on failure, check the syntax of the whole body.
    if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        let detail = format!("the body is not valid JSON: {syntax}");
        return Error::bad_request("malformed-json", detail, None);
    }
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            Error::bad_request(
                "malformed-json",
                format!("the body is not valid JSON: {inner}"),
                None,
            )
        }
        _ => {
            let message = strip_position(&inner.to_string());
            // A missing field is reported at its parent; point at the field itself.
            let path = match missing_field(&message) {
                Some(field) => join(&path, field),
                None => path,
            };
            Error::bad_request("invalid-field", format!("{path}: {message}"), Some(path))
        }
    }
}

/// Renders a serde path as `operations.reads[2].inputSources`, or `$` for the document root.
fn render_path(path: &serde_path_to_error::Path) -> String {
    let rendered = path.to_string();
    if rendered == "." {
        "$".to_owned()
    } else {
        rendered
    }
}

fn join(parent: &str, field: &str) -> String {
    if parent == "$" {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde_json appends "at line X column Y"; the path says more, and positions in a gunzipped
/// body mean little to the sender.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(check_depth(br#"{"a":[[1]],"b":"[[[[[["}"#, 3).is_ok());
        assert!(check_depth(br#"{"s":"\\\"[[[["}"#, 1).is_ok());
        let err = check_depth(b"[[[[", 3).unwrap_err();
        assert_eq!(err.code(), "json-too-deep");
        assert!(err.to_string().contains("at byte 3"), "{err}");
        let deep = "[".repeat(100_000);
        assert!(check_depth(deep.as_bytes(), 64).is_err());
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        size: u32,
    }

    fn problem(body: &str) -> (String, Option<String>) {
        match decode::<Outer>(body.as_bytes()).unwrap_err() {
            Error::BadRequest { code, path, .. } => (code.to_owned(), path),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let (code, path) = problem(r#"{"items":[{"name":"a","size":1},{"name":{},"size":2}]}"#);
        assert_eq!(code, "invalid-field");
        assert_eq!(path.as_deref(), Some("items[1].name"));
    }

    #[test]
    fn missing_field_points_at_the_field() {
        let (_, path) = problem(r#"{"items":[{"name":"a"}]}"#);
        assert_eq!(path.as_deref(), Some("items[0].size"));
        let (_, path) = problem(r#"{}"#);
        assert_eq!(path.as_deref(), Some("items"));
    }

    #[test]
    fn value_paths_are_prefixed_with_their_location() {
        let value: serde_json::Value = serde_json::from_str(r#"{"items":[{"name":"a"}]}"#).unwrap();
        let err = decode_value::<Outer>(&value, "[3].payload").unwrap_err();
        let Error::BadRequest { path, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(path.as_deref(), Some("[3].payload.items[0].size"));
        assert_eq!(prefixed("", "a.b"), "a.b");
        assert_eq!(prefixed("x", "$"), "x");
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        let (code, path) = problem(r#"{"items": [ "#);
        assert_eq!((code.as_str(), path), ("malformed-json", None));
        let (code, _) = problem(r#"{"items": []} {"#);
        assert_eq!(code, "malformed-json");
        let (code, _) = problem(r#"{"items": 42, "#);
        assert_eq!(code, "malformed-json", "broken later, wrong shape first");
    }
}
