// Observability (docs/observability.md): /metrics in Prometheus' format, one registry per instance.
// - registry.ts: the metrics and what they read at scrape time;
// - families.ts: the route family, the only path-derived label;
// - requests.ts, verify.ts, oauth.ts: where requests, verification outcomes and OAuth steps are counted;
// - endpoint.ts: GET /metrics behind METRICS_TOKEN.
// Without METRICS_TOKEN there are no metrics at all (services.metrics is undefined): nothing is
// counted, and /metrics is a missing page.
export { createMetrics, METRIC_NAMES, type Metrics, type MetricSources, type PoolCounts } from "./registry.js";
export { routeFamily, ROUTE_FAMILIES, type RouteFamily } from "./families.js";
export { countRequests } from "./requests.js";
export { metricsEndpoint } from "./endpoint.js";
export { observeOAuth, OAUTH_EVENTS } from "./oauth.js";
export { observeVerify } from "./verify.js";
