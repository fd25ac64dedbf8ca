/**
 * HTTP load for benchmarks (autocannon): `connections` keep-alive connections for `seconds`, each
 * request built fresh (body and headers), so caches see varied inputs as they would in use.
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** A new request each time: body and extra headers. */
  request: () => { body: string; headers?: Record<string, string> };
}

export interface LoadResult {
  /** Completed requests per second, averaged over the run. */
  requestsPerSecond: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
  /** Responses with a 2xx status. */
  ok: number;
  /** Responses with another status. */
  non2xx: number;
  /** Connection errors and timeouts (no response). */
  errors: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          const r = opts.request();
          return { ...req, body: r.body, headers: { ...req.headers, ...r.headers } };
        },
      },
    ],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}
