//! The query parameters Spline's two listings share (execution events, and data sources by
//! their last write), with Spline's names and defaults, turned into a store query. A value
//! Spline would choke on is a 400 naming the parameter.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{Error, Result};
use crate::naming;
use crate::store::{LabelFilter, Page, SplineEventField, SplineEventQuery, SplineEventSort};

/// The largest page: Spline has no limit, but one answer should stay bounded.
const MAX_PAGE_SIZE: i64 = 10_000;

/// Parameters of `/consumer/execution-events` and `/consumer/data-sources`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Only writes at or after this time (epoch ms, inclusive).
    timestamp_start: Option<i64>,
    /// Only writes at or before this time (epoch ms, inclusive).
    timestamp_end: Option<i64>,
    /// When true, `totalDateRange` is `[earliest, latest]` timestamp of the matches, the time
    /// window aside; otherwise `[]`.
    #[serde(rename = "facet.timestamp")]
    facet_timestamp: Option<bool>,
    /// Only what was stored at or before this time (epoch ms), so pages stay put while events
    /// arrive; 0 (the default) is now.
    as_at_time: Option<i64>,
    /// Page number, from 1 (default 1).
    page_num: Option<i64>,
    /// Page size, 1 to 10000 (default 10).
    page_size: Option<i64>,
    /// An item field: `timestamp` (the events' default), `dataSourceUri` (the data sources'
    /// default), `executionEventId`, `executionPlanId`, `frameworkName`, `applicationName`,
    /// `applicationId`, `durationNs`, `dataSourceName`, `dataSourceType` or `append`.
    sort_field: Option<String>,
    /// `asc` or `desc` (default `desc` for events, `asc` for data sources).
    sort_order: Option<String>,
    /// Case-insensitive text in the framework, application name or id, data source URI or
    /// type.
    search_term: Option<String>,
    /// Comma list of write modes: `true` (append), `false` (overwrite). For data sources an
    /// empty item also keeps the ones never written (`append=false,`).
    append: Option<String>,
    /// Only events whose application id (`extra.appId`) is this.
    application_id: Option<String>,
    /// Only writes of the data source with this URI.
    data_source_uri: Option<String>,
}

/// The `label` parameter, which [`labels`] reads from the raw query: a query struct can't
/// take a repeated key.
pub(super) const LABEL_DOC: &str = "Repeatable `name:value1,value2`: the event's (for data \
    sources, the last write's) or its plan's label `name` has one of the values; several must \
    all hold";

/// Where the two listings differ.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listing {
    /// Sort field when none is given.
    pub sort_field: SplineEventField,
    /// Sort order when none is given.
    pub ascending: bool,
    /// Data sources (by their last write), where an empty `append` item means "never
    /// written"; else events.
    pub data_sources: bool,
}

/// A parameter error, named after the parameter.
fn bad(param: &str, detail: impl Into<String>) -> Error {
    Error::bad_request("invalid-parameter", detail, Some(param.to_owned()))
}

impl ListParams {
    /// The store query these parameters ask for; `labels` are the repeated `label` values.
    pub fn query(self, labels: Vec<LabelFilter>, listing: Listing) -> Result<SplineEventQuery> {
        let (append, include_unwritten) = write_modes(self.append.as_deref(), listing)?;
        Ok(SplineEventQuery {
            as_at: as_at(self.as_at_time)?,
            timestamp_start: self.timestamp_start,
            timestamp_end: self.timestamp_end,
            labels,
            search: nonblank(self.search_term),
            append,
            include_unwritten,
            application_id: nonblank(self.application_id),
            data_source_uri: nonblank(self.data_source_uri).map(|u| naming::canonical_uri(&u)),
            sort: sort(
                self.sort_field.as_deref(),
                self.sort_order.as_deref(),
                listing,
            )?,
            page: page(self.page_num, self.page_size)?,
            date_range: self.facet_timestamp.unwrap_or(false),
        })
    }
}

fn nonblank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `asAtTime` below 1 means now, as in Spline: no bound at all, rather than this server's
/// clock, which may lag the database's.
pub(super) fn as_at(millis: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    let Some(ms) = millis.filter(|ms| *ms >= 1) else {
        return Ok(None);
    };
    let at = Utc.timestamp_millis_opt(ms).single();
    at.map(Some)
        .ok_or_else(|| bad("asAtTime", format!("`asAtTime` {ms} is out of range")))
}

/// Spline's 1-based `pageNum` and `pageSize` as an offset page.
pub(super) fn page(page_num: Option<i64>, page_size: Option<i64>) -> Result<Page> {
    let num = page_num.unwrap_or(1);
    let size = page_size.unwrap_or(10);
    if num < 1 || num > i64::from(u32::MAX) {
        return Err(bad("pageNum", "`pageNum` counts from 1"));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        let detail = format!("`pageSize` must be between 1 and {MAX_PAGE_SIZE}");
        return Err(bad("pageSize", detail));
    }
    let offset = (num - 1).saturating_mul(size).min(i64::from(u32::MAX));
    Ok(Page {
        limit: size as u32,
        offset: offset as u32,
    })
}

fn sort(field: Option<&str>, order: Option<&str>, listing: Listing) -> Result<SplineEventSort> {
    let field = match field.map(str::trim).filter(|f| !f.is_empty()) {
        None => listing.sort_field,
        Some(name) => SplineEventField::parse(name).ok_or_else(|| {
            let known: Vec<&str> = SplineEventField::ALL.iter().map(|(_, n)| *n).collect();
            let detail = format!(
                "unknown `sortField` `{name}`; use one of {}",
                known.join(", ")
            );
            bad("sortField", detail)
        })?,
    };
    let ascending = match order.map(|o| o.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => listing.ascending,
        Some("asc") => true,
        Some("desc") => false,
        Some(other) => {
            return Err(bad(
                "sortOrder",
                format!("`sortOrder` is asc or desc, got `{other}`"),
            ));
        }
    };
    Ok(SplineEventSort { field, ascending })
}

/// Spline's `append` list (`true,false,`): the modes asked for, and whether an empty item asks
/// for data sources never written. Events are always written, so there it is just ignored.
fn write_modes(list: Option<&str>, listing: Listing) -> Result<(Option<Vec<bool>>, bool)> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok((None, false));
    };
    let mut modes = Vec::new();
    let mut unwritten = false;
    for item in list.split(',').map(str::trim) {
        match item.to_ascii_lowercase().as_str() {
            "" => unwritten = listing.data_sources,
            "true" => modes.push(true),
            "false" => modes.push(false),
            _ => {
                return Err(bad(
                    "append",
                    format!("`append` items are true or false, got `{item}`"),
                ));
            }
        }
    }
    match modes.is_empty() && !unwritten {
        true => Ok((None, false)),
        false => Ok((Some(modes), unwritten)),
    }
}

/// The repeated `label` parameters (`name:value1,value2`) of a raw query string. As in Spline,
/// one without `name:` is skipped.
pub(super) fn labels(query: Option<&str>) -> Vec<LabelFilter> {
    let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
    pairs
        .filter(|(key, _)| key == "label")
        .filter_map(|(_, value)| {
            let (name, values) = value.split_once(':')?;
            let values = values.split(',').map(str::trim).filter(|v| !v.is_empty());
            (!name.is_empty()).then(|| LabelFilter {
                name: name.to_owned(),
                values: values.map(str::to_owned).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: Listing = Listing {
        sort_field: SplineEventField::Timestamp,
        ascending: false,
        data_sources: false,
    };
    const DATA_SOURCES: Listing = Listing {
        sort_field: SplineEventField::DataSourceUri,
        ascending: true,
        data_sources: true,
    };

    #[test]
    fn defaults_are_splines() {
        let q = ListParams::default().query(Vec::new(), EVENTS).unwrap();
        assert_eq!((q.page.limit, q.page.offset), (10, 0));
        assert_eq!(
            q.sort,
            SplineEventSort {
                field: SplineEventField::Timestamp,
                ascending: false
            }
        );
        assert!(!q.date_range && q.append.is_none());
        let q = ListParams::default()
            .query(Vec::new(), DATA_SOURCES)
            .unwrap();
        assert_eq!(
            q.sort,
            SplineEventSort {
                field: SplineEventField::DataSourceUri,
                ascending: true
            }
        );
    }

    #[test]
    fn pages_count_from_one() {
        let p = page(Some(3), Some(20)).unwrap();
        assert_eq!((p.limit, p.offset), (20, 40));
        assert!(page(Some(0), None).is_err());
        assert!(page(None, Some(0)).is_err());
        assert!(page(None, Some(MAX_PAGE_SIZE + 1)).is_err());
    }

    #[test]
    fn append_lists_keep_empty_items_only_for_data_sources() {
        assert_eq!(
            write_modes(Some("true,"), EVENTS).unwrap(),
            (Some(vec![true]), false)
        );
        assert_eq!(
            write_modes(Some("false,"), DATA_SOURCES).unwrap(),
            (Some(vec![false]), true)
        );
        assert_eq!(write_modes(Some(","), EVENTS).unwrap(), (None, false));
        assert_eq!(write_modes(Some(""), DATA_SOURCES).unwrap(), (None, false));
        assert!(write_modes(Some("maybe"), EVENTS).is_err());
    }

    #[test]
    fn unknown_sort_fields_and_orders_are_rejected() {
        assert!(sort(Some("uri"), None, EVENTS).is_err());
        assert!(sort(None, Some("up"), EVENTS).is_err());
        let s = sort(Some("applicationName"), Some("ASC"), EVENTS).unwrap();
        assert_eq!(
            s,
            SplineEventSort {
                field: SplineEventField::ApplicationName,
                ascending: true
            }
        );
    }

    #[test]
    fn labels_are_name_colon_values_and_repeat() {
        let parsed = labels(Some(
            "label=env%3Aprod%2C+eu&pageNum=1&label=team%3Aa&label=bare",
        ));
        assert_eq!(
            parsed,
            [
                LabelFilter {
                    name: "env".into(),
                    values: vec!["prod".into(), "eu".into()]
                },
                LabelFilter {
                    name: "team".into(),
                    values: vec!["a".into()]
                },
            ]
        );
    }
}
