import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The node's Prometheus metrics, on a registry of its own (several nodes can share a process in
 * tests). Labels never carry identifiers or record contents.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'alliance_http_requests_total',
    help: 'HTTP requests by method, route and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'alliance_http_request_duration_seconds',
    help: 'HTTP request duration by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly graphqlOperations = new Counter({
    name: 'alliance_graphql_operations_total',
    help: 'GraphQL operations executed, by operation type.',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  readonly graphqlErrors = new Counter({
    name: 'alliance_graphql_errors_total',
    help: 'GraphQL errors returned, by extensions.code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly lookups = new Counter({
    name: 'alliance_lookups_total',
    help: 'Lookups answered.',
    registers: [this.registry],
  });
  readonly lookupIdentifiers = new Counter({
    name: 'alliance_lookup_identifiers_total',
    help: 'Identifiers looked up, by whether they could be normalised (valid or invalid).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly lookupHits = new Counter({
    name: 'alliance_lookup_hits_total',
    help: "Lookup hits: other members' live indicators (peer) and this member's own records (own).",
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly lookupsRateLimited = new Counter({
    name: 'alliance_lookups_rate_limited_total',
    help: 'Lookups refused with RATE_LIMITED.',
    registers: [this.registry],
  });
  readonly lookupDuration = new Histogram({
    name: 'alliance_lookup_duration_seconds',
    help: 'Time to answer a lookup (normalising, digesting, the database round trip).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly matches = new Counter({
    name: 'alliance_matches_total',
    help: 'Matches entering a state: NEW (raised, or raised again after a retraction), CONFIRMED or DISMISSED (acknowledgeMatch), RETRACTED.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly matchSubscriptions = new Gauge({
    name: 'alliance_match_subscriptions',
    help: 'matchFound subscriptions open on this API process.',
    registers: [this.registry],
  });

  constructor(opts: { countRecords: () => Promise<number> }) {
    const count = opts.countRecords;
    new Gauge({
      name: 'alliance_records',
      help: 'Records this member holds (NaN while the database cannot be read).',
      registers: [this.registry],
      // An unreachable database must not fail the whole scrape: the count is then NaN (unknown).
      async collect() {
        try {
          this.set(await count());
        } catch {
          this.set(Number.NaN);
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'alliance_' });
  }
}
