//! Spline's consumer REST API under `/consumer`, and its `/about` probes, so the Spline UI
//! (`SPLINE_CONSUMER_URL=http://host:8080/consumer`) and scripts written against Spline's
//! server work against Headwater.
//!
//! Paths, parameters, defaults and JSON shapes follow Spline's server (the 1.0 line). The data
//! comes from the one graph that the Spline producer API writes (see [`ids`] for how Spline's
//! ids map onto node keys); errors are the crate's problem documents, with Spline's status
//! codes: 404 for an unknown id, 400 for a bad parameter.
//!
//! Listings page, filter and sort in SQL ([`crate::store::Store::spline_events`]); the
//! time-aware lineage and impact overviews are pure code over loaded runs ([`walk`]); a plan's
//! operation order and schemas are pure code over its loaded operations ([`plan_view`]).
//! Browsers may read every route from any origin by default (`http::cors`), since the Spline
//! UI does.

mod about;
mod attributes;
mod data_sources;
mod events;
mod expressions;
mod ids;
mod labels;
mod operations;
mod overview;
mod params;
mod plan_view;
mod plans;
mod render;
mod walk;

use utoipa_axum::router::OpenApiRouter;

use super::AppState;

pub(super) const TAG: &str = "spline-consumer";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(events::routes())
        .merge(data_sources::routes())
        .merge(plans::routes())
        .merge(overview::routes())
        .merge(operations::routes())
        .merge(attributes::routes())
        .merge(labels::routes())
        .layer(axum::middleware::from_fn(super::scope::whole_graph_api))
        // The probes carry nothing of any namespace, and are open to every caller (see
        // `http::auth`): a namespace-limited token must get them too.
        .merge(about::routes())
}
