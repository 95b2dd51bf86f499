//! JSON decoding that reports *where* a payload is wrong.
//!
//! Spline plans run to megabytes; "invalid type: map, expected a string" is useless without the
//! path to the offending value, so every decode goes through `serde_path_to_error`.

use std::cell::Cell;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};

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

/// Counts the items of a top-level JSON array as its bytes arrive, without decoding any: a
/// gzipped batch is counted while it is inflated, so a bomb of millions of tiny events is
/// refused after its first megabyte instead of held whole. It only spots value starts at the
/// array's top level; anything it can't count (not an array, malformed) is left to the parser.
#[derive(Debug, Default, Clone)]
pub struct ItemCounter {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// An item has begun and no comma has ended it yet.
    in_item: bool,
    not_an_array: bool,
    items: usize,
}

impl ItemCounter {
    /// Reads the next bytes; returns how many items have begun so far.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        for &b in bytes {
            if self.not_an_array {
                break;
            }
            self.step(b);
        }
        self.items
    }

    fn step(&mut self, b: u8) {
        if self.in_string {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return;
        }
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'[' if self.depth == 0 && self.items == 0 => self.depth = 1,
            _ if self.depth == 0 => self.not_an_array = true,
            b',' if self.depth == 1 => self.in_item = false,
            b']' | b'}' => self.depth -= 1,
            _ => {
                if self.depth == 1 && !self.in_item {
                    self.in_item = true;
                    self.items += 1;
                }
                match b {
                    b'"' => self.in_string = true,
                    b'[' | b'{' => self.depth += 1,
                    _ => {}
                }
            }
        }
    }
}

/// The items of a JSON array, decoded one at a time and at most `max` of them: `Ok(None)` as
/// soon as item `max + 1` begins, so an array of millions of tiny items (`[{},{},…]`, which
/// gzip shrinks a thousandfold) costs no more than `max` items, whatever follows. Syntax and
/// shape errors before that point are 400s with a path, as [`decode`] reports them.
pub fn bounded_array<'de, T: Deserialize<'de>>(
    body: &'de [u8],
    max: usize,
) -> Result<Option<Vec<T>>, Error> {
    let over = Cell::new(false);
    let seed = Bounded {
        max,
        over: &over,
        item: PhantomData,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let decoded = seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track));
    match decoded {
        Ok(items) => match de.end() {
            Ok(()) => Ok(Some(items)),
            Err(e) => Err(Error::bad_request(
                "malformed-json",
                format!("trailing data after the JSON document: {e}"),
                None,
            )),
        },
        Err(_) if over.get() => Ok(None),
        Err(e) => Err(into_error(
            serde_path_to_error::Error::new(track.path(), e),
            body,
        )),
    }
}

/// Decodes a sequence into a `Vec`, failing at item `max + 1` with `over` set.
struct Bounded<'a, T> {
    max: usize,
    over: &'a Cell<bool>,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Bounded<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            if items.len() == self.max {
                self.over.set(true);
                return Err(serde::de::Error::custom("too many items"));
            }
            items.push(item);
        }
        Ok(items)
    }
}

/// Decodes a body that must be one JSON object. serde's derived structs also take an array of
/// their fields in order (`[null, null]` for two optional fields), which no client means and
/// no API document describes.
pub fn decode_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return decode(body);
    }
    decode::<serde::de::IgnoredAny>(body)?;
    Err(Error::bad_request(
        "invalid-field",
        "$: the body must be a JSON object".to_owned(),
        Some("$".to_owned()),
    ))
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

/// Refuses a body with a string (or object key) holding U+0000: PostgreSQL can store it
/// neither as text nor in JSON, so it would fail in the database as our fault, and the
/// backends must accept the same payloads. JSON can only carry it escaped (`\u0000`), so
/// the bytes are scanned for that escape; only a body that has one is parsed to find where.
pub fn reject_nul(body: &[u8], prefix: &str) -> Result<(), Error> {
    if !has_escaped_nul(body) {
        return Ok(());
    }
    // Malformed JSON is reported by the decode that follows, with its own code.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(path) => {
            let path = prefixed(prefix, if path.is_empty() { "$" } else { &path });
            let detail = format!("{path}: strings must not contain U+0000 (NUL)");
            Err(Error::bad_request("invalid-field", detail, Some(path)))
        }
        None => Ok(()),
    }
}

/// Whether `\u0000` appears as an escape: after an odd run of backslashes (`\\u0000` is a
/// backslash followed by the text `u0000`).
fn has_escaped_nul(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(at, w)| {
        w == b"\\u0000" && body[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// The path of the first string or key holding U+0000, `""` for the root itself.
fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            match k.contains('\0') {
                true => Some(here),
                false => nul_path(v, here),
            }
        }),
        _ => None,
    }
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
    fn items_are_counted_across_chunks_without_looking_inside_them() {
        let body = br#" [ {"a": [1, 2, "x,]"]}, "s\\\"]", 3, [4, {}], null ] "#;
        for cut in 0..body.len() {
            let mut counter = ItemCounter::default();
            counter.feed(&body[..cut]);
            assert_eq!(counter.feed(&body[cut..]), 5, "cut at {cut}");
        }
        assert_eq!(ItemCounter::default().feed(b"{\"a\": [1, 2]}"), 0);
        assert_eq!(ItemCounter::default().feed(b"[]"), 0);
        assert_eq!(ItemCounter::default().feed(&b"{},".repeat(1000)), 0);
        assert_eq!(
            ItemCounter::default().feed(&[b"[".as_slice(), &b"{},".repeat(1000)].concat()),
            1000
        );
    }

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

    /// PostgreSQL can't store U+0000; ingest answered 500 there (and stored it on SQLite).
    #[test]
    fn an_escaped_nul_is_refused_where_it_is() {
        let err = reject_nul(br#"{"a":[1,{"b\u0000":2}]}"#, "[3]").unwrap_err();
        let Error::BadRequest { code, path, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (code, path.as_deref()),
            ("invalid-field", Some("[3].a[1].b\u{0}"))
        );
        let err = reject_nul(br#"{"x":"a\u0000"}"#, "").unwrap_err();
        assert!(matches!(err, Error::BadRequest { path: Some(p), .. } if p == "x"));
        assert!(reject_nul(br#""\u0000""#, "").is_err(), "the root itself");
        assert!(
            reject_nul(br#"{"x":"a\\u0000"}"#, "").is_ok(),
            "an escaped backslash"
        );
        assert!(reject_nul(br#"{"x":"a\\\u0000"}"#, "").is_err());
        assert!(
            reject_nul(br#"{"x":"\u0000"#, "").is_ok(),
            "malformed: left to decode"
        );
    }

    #[test]
    fn an_array_is_cut_at_one_item_past_the_limit() {
        let body = format!("[{}{{}}]", "{},".repeat(100_000));
        let cut = bounded_array::<serde::de::IgnoredAny>(body.as_bytes(), 1000).unwrap();
        assert!(cut.is_none());
        let items = bounded_array::<&serde_json::value::RawValue>(b"[{}, [1], 2]", 3).unwrap();
        let items: Vec<&str> = items.unwrap().iter().map(|i| i.get()).collect();
        assert_eq!(items, ["{}", "[1]", "2"]);
        // Past the limit, what follows is never read: not even its syntax.
        let broken = b"[1, 2, 3, }";
        assert!(bounded_array::<u8>(broken, 2).unwrap().is_none());
        let err = bounded_array::<u8>(broken, 5).unwrap_err();
        assert_eq!(err.code(), "malformed-json");
        let err = bounded_array::<u8>(b"[1, \"x\"]", 5).unwrap_err();
        assert!(matches!(err, Error::BadRequest { path: Some(p), .. } if p == "[1]"));
        let err = bounded_array::<u8>(b"{}", 5).unwrap_err();
        assert_eq!(err.code(), "invalid-field");
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
