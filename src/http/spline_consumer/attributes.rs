//! `GET /consumer/attribute-lineage-and-impact`: which attributes of its plan an attribute is
//! computed from (lineage) and which are computed from it (impact), over the `derives` edges
//! stored at ingest.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG;
use super::ids::{self, spline_id};
use super::plan_view::{Carriers, PlanView, local_id};
use super::render::Transition;
use crate::error::{Problem, Result};
use crate::graph::{self, HopRule, Limits, Step, Traversal, Walk};
use crate::http::AppState;
use crate::http::query::ApiQuery;
use crate::http::walker::Walker;
use crate::model::{EdgeKind, Node, NodeId};
use crate::store::Store;

/// Derivation chains inside one plan are short; this only bounds a malformed one.
const LIMITS: Limits = Limits {
    depth: 10_000,
    max_nodes: 100_000,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_attribute))
}

/// Parameters of an attribute query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct AttributeParams {
    /// `<planId>:<attribute id>`, e.g. `<planId>:attr-3`.
    attribute_id: String,
    /// Sent by the Spline UI, and ignored (the attribute id names its plan).
    #[allow(dead_code)]
    exec_id: Option<String>,
}

/// An attribute's lineage and impact.
#[derive(Debug, Serialize, ToSchema)]
struct AttributeLineageAndImpact {
    /// The attributes it is computed from, transitively; null when it is computed from none.
    lineage: Option<AttributeGraph>,
    /// The attributes computed from it, transitively, and itself.
    impact: AttributeGraph,
}

/// Attributes and derivations.
#[derive(Debug, Serialize, ToSchema)]
struct AttributeGraph {
    /// The attributes, the one asked for first.
    nodes: Vec<AttributeNode>,
    /// From an attribute to one it is computed from.
    edges: Vec<Transition>,
    /// Present (true) when operations were left out of `transOpIds`: an answer lists at most
    /// `HEADWATER_MAX_RESULT_EDGES` of them in all. Not part of Spline's API.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// An attribute and the operations it goes through.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AttributeNode {
    /// `<planId>:attr-N`.
    #[serde(rename = "_id")]
    id: String,
    /// Column name.
    name: String,
    /// The operation that introduces it.
    origin_op_id: Option<String>,
    /// The other operations whose output carries it.
    trans_op_ids: Vec<String>,
}

/// Lineage and impact of an attribute.
#[utoipa::path(
    get,
    path = "/consumer/attribute-lineage-and-impact",
    tag = TAG,
    operation_id = "spline.consumer.attributeLineageAndImpact.get",
    params(AttributeParams),
    responses(
        (status = 200, description = "Lineage and impact", body = AttributeLineageAndImpact),
        (status = 400, description = "`attributeId` is missing", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such attribute", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_attribute(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AttributeParams>,
) -> Result<Json<AttributeLineageAndImpact>> {
    let store = state.store.as_ref();
    let (start, attr) = ids::attribute(store, &params.attribute_id).await?;
    let (plan_id, _) = ids::plan_of(store, &attr).await?;
    let plan_id = plan_id.to_string();
    let members = store
        .spline_plan_members(std::slice::from_ref(&plan_id))
        .await?;
    let view = PlanView::new(&plan_id, members.iter().map(|(_, n)| n));
    let walker = Walker::new(&state, None).await?;
    let lineage = derivations(&walker, start, Step::Backward).await?;
    let impact = derivations(&walker, start, Step::Forward).await?;
    let origins = origins(store, &lineage, &impact, &members).await?;
    let carriers = view.carriers();
    let max_listed = state.settings.query.max_result_edges;
    let render = |t: &Traversal| {
        let mut listing = Listing {
            carriers: &carriers,
            left: max_listed,
            truncated: false,
        };
        render(start, t, &members, &origins, &mut listing)
    };
    Ok(Json(AttributeLineageAndImpact {
        lineage: (!lineage.edges.is_empty()).then(|| render(&lineage)),
        impact: render(&impact),
    }))
}

/// The attributes reachable over `derives` edges one way.
async fn derivations(walker: &Walker<'_>, start: NodeId, step: Step) -> Result<Traversal> {
    let walk = Walk {
        kinds: &[EdgeKind::Derives],
        steps: &[step],
        hops: HopRule::Edge,
        limits: LIMITS,
    };
    graph::walk(walker, &[start], 0, walk).await
}

/// The operation that introduces each attribute reached (its `produces` edge).
async fn origins(
    store: &dyn Store,
    lineage: &Traversal,
    impact: &Traversal,
    members: &[(NodeId, Node)],
) -> Result<HashMap<NodeId, String>> {
    let attrs: Vec<NodeId> = lineage
        .hops
        .keys()
        .chain(impact.hops.keys())
        .copied()
        .collect();
    let produces = store
        .step(&attrs, &[EdgeKind::Produces], Step::Backward)
        .await?;
    let keys: HashMap<NodeId, &str> = members
        .iter()
        .map(|(id, n)| (*id, n.key.as_str()))
        .collect();
    Ok(produces
        .iter()
        .filter_map(|e| Some((e.target, spline_id(keys.get(&e.source)?).to_owned())))
        .collect())
}

fn render(
    start: NodeId,
    t: &Traversal,
    members: &[(NodeId, Node)],
    origins: &HashMap<NodeId, String>,
    listing: &mut Listing<'_, '_>,
) -> AttributeGraph {
    let by_id: HashMap<NodeId, &Node> = members.iter().map(|(id, n)| (*id, n)).collect();
    let mut reached: Vec<NodeId> = t.hops.keys().copied().collect();
    reached.sort_by_key(|id| (*id != start, t.hops[id], *id));
    let nodes = reached
        .iter()
        .filter_map(|id| {
            let attr = by_id.get(id)?;
            let origin = origins.get(id).cloned();
            Some(AttributeNode {
                id: spline_id(&attr.key).to_owned(),
                name: attr.name.clone(),
                trans_op_ids: listing.passes_through(local_id(attr), origin.as_deref()),
                origin_op_id: origin,
            })
        })
        .collect();
    let id_of = |n: &NodeId| by_id.get(n).map(|a| spline_id(&a.key).to_owned());
    // `derives` points from source to derived; Spline's edges point from derived to source.
    let edges = t
        .edges
        .iter()
        .filter_map(|e| {
            Some(Transition {
                source: id_of(&e.target)?,
                target: id_of(&e.source)?,
            })
        })
        .collect();
    AttributeGraph {
        nodes,
        edges,
        truncated: listing.truncated,
    }
}

/// The operations an answer lists as carrying its attributes, within a bound: 10,000
/// attributes derived one from another and carried through 40,000 operations would list
/// 400 million.
struct Listing<'c, 'a> {
    carriers: &'c Carriers<'a>,
    left: usize,
    truncated: bool,
}

impl Listing<'_, '_> {
    /// The operations whose output carries the attribute, other than the one introducing it.
    fn passes_through(&mut self, attr: &str, origin: Option<&str>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .carriers
            .of(attr)
            .into_iter()
            .map(|op| spline_id(&op.key).to_owned())
            .filter(|id| Some(id.as_str()) != origin)
            .collect();
        if ids.len() > self.left {
            ids.truncate(self.left);
            self.truncated = true;
        }
        self.left -= ids.len();
        ids
    }
}
