-- The Spline consumer API (`/consumer`) reads Spline plans and events back in Spline's shapes.

-- Execution events list latest first by default: index their `timestamp` so a page of the
-- newest events doesn't sort them all, and so time windows are range scans. A Spline event is
-- a `run` node with an `eventKey` (OpenLineage runs have none).
create index node_spline_event_timestamp on node (((properties ->> 'timestamp')::bigint))
    where kind = 'run' and properties ? 'eventKey';

-- A plan's operations and attributes are loaded together (its operation graph, one operation's
-- schemas, one attribute's lineage). Their keys share the prefix `op:<planId>:`, but whether a
-- btree serves a prefix scan depends on the database collation; the plan id they carry doesn't.
create index node_spline_plan_member on node ((properties ->> 'planId'), kind)
    where kind in ('operation', 'attribute');
