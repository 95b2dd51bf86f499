//! Dataset identity across wire formats.
//!
//! Spline names a data source by URI (`hdfs://nn:8020/data/x`); OpenLineage by a namespace and
//! a name (`hdfs://nn:8020` + `/data/x`). Both must land on one node when they name the same
//! physical location, so both are turned into one canonical URI, and the node key is
//! `dataset:<canonical URI>`. The rules, applied to both formats:
//!
//! 1. An OpenLineage namespace with a scheme (`scheme://authority`, or `file:/dir` as Spark
//!    writes symlinks) is joined to the name with one `/`: (`hdfs://nn:8020`, `/data/x`) and (`s3://bucket`, `data/x`) become
//!    `hdfs://nn:8020/data/x` and `s3://bucket/data/x`.
//! 2. The namespace `file` is the local file system: (`file`, `/tmp/x`) becomes `file:///tmp/x`.
//! 3. `file:/p`, `file:///p` and `file://localhost/p` are one location: `file:///p`.
//! 4. The scheme and the authority (host, bucket) are lower-cased: `HDFS://NN:8020/Data` becomes
//!    `hdfs://nn:8020/Data`. Paths keep their case.
//! 5. `s3a://` and `s3n://` (Hadoop's S3 connectors) are `s3://`.
//! 6. A trailing `/` is dropped: `s3://bucket/dir/` is `s3://bucket/dir`.
//! 7. A namespace without a scheme (`bigquery`, `food_delivery`) has no URI form; the dataset is
//!    `<namespace>/<name>`, e.g. `dataset:bigquery/project.dataset.table`.
//!
//! Every other spelling is kept exactly as the producer sent it.

/// The node key of a dataset named by URI (Spline).
pub fn dataset_key_from_uri(uri: &str) -> String {
    format!("dataset:{}", canonical_uri(uri))
}

/// The node key of a dataset named by namespace and name (OpenLineage, Marquez node ids).
pub fn dataset_key(namespace: &str, name: &str) -> String {
    format!("dataset:{}", dataset_uri(namespace, name))
}

/// The canonical URI of an OpenLineage dataset.
pub fn dataset_uri(namespace: &str, name: &str) -> String {
    let namespace = namespace.trim();
    if namespace.eq_ignore_ascii_case("file") {
        let joined = match name.starts_with('/') {
            true => format!("file://{name}"),
            false => format!("file:{name}"),
        };
        return canonical_uri(&joined);
    }
    if has_scheme(namespace) {
        let base = namespace.trim_end_matches('/');
        return canonical_uri(&format!("{base}/{}", name.trim_start_matches('/')));
    }
    format!("{namespace}/{name}")
}

/// `scheme:...`, e.g. `hdfs://nn` or Spark's `file:/tmp/warehouse`.
fn has_scheme(namespace: &str) -> bool {
    namespace.split_once(':').is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// Applies rules 3 to 6 to a URI; anything that isn't `scheme:...` is returned as is.
pub fn canonical_uri(uri: &str) -> String {
    let uri = uri.trim();
    let Some((scheme, rest)) = uri.split_once(':') else {
        return uri.to_owned();
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return uri.to_owned();
    }
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "s3a" | "s3n" => "s3".to_owned(),
        other => other.to_owned(),
    };
    if scheme == "file" {
        return canonical_file(rest);
    }
    let Some(hier) = rest.strip_prefix("//") else {
        return format!("{scheme}:{rest}");
    };
    let (authority, path) = hier.split_at(hier.find('/').unwrap_or(hier.len()));
    format!(
        "{scheme}://{}{}",
        authority.to_ascii_lowercase(),
        trim_trailing_slash(path)
    )
}

fn canonical_file(rest: &str) -> String {
    let path = if let Some(local) = rest.strip_prefix("//localhost/") {
        format!("/{local}")
    } else if let Some(hier) = rest.strip_prefix("//") {
        match hier.starts_with('/') {
            true => hier.to_owned(),
            // `file://host/path` names another machine: keep its authority.
            false => return format!("file://{}", trim_trailing_slash(hier)),
        }
    } else {
        rest.to_owned()
    };
    format!("file://{}", trim_trailing_slash(&path))
}

fn trim_trailing_slash(path: &str) -> &str {
    match path.len() > 1 {
        true => path.strip_suffix('/').unwrap_or(path),
        false => path,
    }
}

/// Schemes whose OpenLineage names are absolute paths (leading `/`); for object stores and
/// databases the name is the rest of the URI without it.
const PATH_SCHEMES: [&str; 5] = ["file", "hdfs", "dbfs", "maprfs", "viewfs"];

/// The OpenLineage (namespace, name) of a canonical URI, so Spline-fed datasets can be listed
/// by namespace like OpenLineage-fed ones. `None` for URIs without an authority part.
pub fn namespace_and_name(uri: &str) -> Option<(String, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme == "file" {
        return rest
            .starts_with('/')
            .then(|| ("file".to_owned(), rest.to_owned()));
    }
    let (authority, path) = rest.split_at(rest.find('/')?);
    let name = match PATH_SCHEMES.contains(&scheme) {
        true => path.to_owned(),
        false => path.trim_start_matches('/').to_owned(),
    };
    Some((format!("{scheme}://{authority}"), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spline_uris_and_openlineage_names_meet() {
        assert_eq!(
            dataset_key_from_uri("hdfs://nn:8020/data/x"),
            dataset_key("hdfs://nn:8020", "/data/x")
        );
        assert_eq!(
            dataset_key_from_uri("s3a://bucket/dir/"),
            dataset_key("s3://bucket", "dir")
        );
        assert_eq!(
            dataset_key("gs://mock-bucket", "inputs/a.csv"),
            "dataset:gs://mock-bucket/inputs/a.csv"
        );
    }

    #[test]
    fn file_uri_variants_are_one_location() {
        let expected = "file:///tmp/out";
        for spelling in [
            "file:/tmp/out",
            "file:///tmp/out",
            "file://localhost/tmp/out",
            "FILE:/tmp/out/",
        ] {
            assert_eq!(canonical_uri(spelling), expected, "{spelling}");
        }
        assert_eq!(dataset_uri("file", "/tmp/out"), expected);
        assert_eq!(
            dataset_uri("file:/tmp", "out"),
            expected,
            "Spark symlink namespaces"
        );
        assert_eq!(
            canonical_uri("file://splinegen/read_1.csv"),
            "file://splinegen/read_1.csv"
        );
    }

    #[test]
    fn scheme_and_authority_are_case_insensitive_but_paths_are_not() {
        assert_eq!(
            canonical_uri("HDFS://NN:8020/Data/X"),
            "hdfs://nn:8020/Data/X"
        );
    }

    #[test]
    fn names_without_a_uri_form_are_kept() {
        assert_eq!(
            dataset_key("bigquery", "proj.ds.table"),
            "dataset:bigquery/proj.ds.table"
        );
        assert_eq!(canonical_uri("table3"), "table3");
        assert_eq!(
            canonical_uri("jdbc:postgresql://h:5432/db:t"),
            "jdbc:postgresql://h:5432/db:t"
        );
    }

    #[test]
    fn uris_split_back_into_namespace_and_name() {
        let pair = |ns: &str, n: &str| Some((ns.to_owned(), n.to_owned()));
        assert_eq!(
            namespace_and_name("hdfs://nn:8020/data/x"),
            pair("hdfs://nn:8020", "/data/x")
        );
        assert_eq!(
            namespace_and_name("s3://bucket/data/x"),
            pair("s3://bucket", "data/x")
        );
        assert_eq!(namespace_and_name("file:///tmp/x"), pair("file", "/tmp/x"));
        assert_eq!(namespace_and_name("table3"), None);
    }
}
