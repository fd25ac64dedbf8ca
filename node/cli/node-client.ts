/**
 * How commands ask a running node over GraphQL: at `--url` with a token, or at the node of a data
 * directory with a short-lived token signed by that node's API key.
 */
import os from 'node:os';
import { UsageError } from './errors.ts';
import { nextLine } from './stdin.ts';
import type { Role } from '../api/auth.ts';

export interface NodeTarget {
  url: string;
  token: string;
}

/** The node did not answer: unreachable, token refused, quota spent, or an error of its own (exit 3). */
export class NoAnswer extends Error {}

const TIMEOUT_MS = 30_000;

export async function remoteTarget(url: string, token: string | undefined, role: Role): Promise<NodeTarget> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL such as http://127.0.0.1:4000/graphql`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--url must be an http(s) URL');
  // The base URL of a node is as good as its GraphQL URL.
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
  const t = token === '-' ? await tokenFromStdin() : (token ?? (process.env.ALLIANCE_TOKEN || undefined));
  if (t === undefined) throw new UsageError(`--url needs a token: env ALLIANCE_TOKEN, or --token - to read it from standard input (alliance token --role ${role})`);
  return { url: u.toString(), token: t };
}

/**
 * `--token -`: the first line of standard input. Not from a terminal, which would show the token on
 * the screen as it is typed: there it belongs in ALLIANCE_TOKEN, or comes through a pipe.
 */
async function tokenFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--token - reads the token from standard input, which is a terminal: pipe it in, or set ALLIANCE_TOKEN');
  const line = (await nextLine())?.trim();
  if (!line) throw new UsageError('--token - reads the token from standard input: its first line is empty');
  return line;
}

/**
 * The node of `--data-dir`, with a 5-minute token of `role` for `--sub`: at `--http` if given, else
 * where the node running on that data directory recorded that it listens, else at ALLIANCE_HTTP.
 */
export async function localTarget(values: Record<string, string | boolean | undefined>, role: Role): Promise<NodeTarget> {
  const fs = await import('node:fs');
  const { loadConfig } = await import('../config.ts');
  const { apiKeyPath, issueToken, loadOrCreateApiKey } = await import('../api/tokens.ts');
  const { readListenAddress } = await import('../listen-record.ts');
  const config = loadConfig({ dataDir: values['data-dir'] as string | undefined, http: values.http as string | undefined });
  if (!fs.existsSync(apiKeyPath(config.dataDir))) {
    throw new UsageError(`no node in ${config.dataDir} (no API key there): give --data-dir of a node that has run, or --url with a token in ALLIANCE_TOKEN`);
  }
  let url: string;
  const recorded = values.http === undefined ? readListenAddress(config.dataDir) : undefined;
  if (recorded !== undefined) url = recorded.graphqlUrl;
  else if (values.http !== undefined || process.env.ALLIANCE_HTTP) {
    const { host, port } = config.http;
    const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/graphql`;
  } else {
    // Guessing the default port would ask whichever node happens to listen there, with a token it refuses.
    throw new NoAnswer(`no node is running on ${config.dataDir}: start it (alliance start --data-dir ${config.dataDir}), or give --http HOST:PORT or --url`);
  }
  const sub = (values.sub as string | undefined) ?? `cli-${os.userInfo().username.replace(/[^\w.@:-]/g, '_').slice(0, 120) || 'user'}`;
  const token = await issueToken(await loadOrCreateApiKey(config.dataDir), config.auth, { role, sub, ttlSeconds: 300 });
  return { url, token };
}

/** `--url`/`--token` or `--data-dir`/`--http`/`--sub`, checked for mixing. */
export async function targetOf(values: Record<string, string | boolean | undefined>, role: Role): Promise<NodeTarget> {
  const url = values.url as string | undefined;
  if (url !== undefined && (values['data-dir'] !== undefined || values.http !== undefined || values.sub !== undefined)) {
    throw new UsageError('--url asks that node with --token; --data-dir, --http and --sub are for the node of a data directory');
  }
  if (url === undefined && values.token !== undefined) throw new UsageError('--token goes with --url');
  return url !== undefined ? remoteTarget(url, values.token as string | undefined, role) : localTarget(values, role);
}

/** One GraphQL request; the `field` of `data`, or NoAnswer naming what the node said. */
export async function askNode<T>(target: NodeTarget, query: string, variables: Record<string, unknown>, field: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${target.token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new NoAnswer(`cannot reach the node at ${target.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  let body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string; retryAfter?: number } }> };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new NoAnswer(`the node at ${target.url} answered HTTP ${res.status} without a GraphQL response`);
  }
  const e = body.errors?.[0];
  if (e !== undefined) {
    const code = e.extensions?.code ?? `HTTP ${res.status}`;
    const retry = e.extensions?.retryAfter === undefined ? '' : ` (retry in ${e.extensions.retryAfter} s)`;
    throw new NoAnswer(`the node refused the request: ${e.message}${retry} [${code}]`);
  }
  const data = body.data?.[field];
  if (data == null) throw new NoAnswer(`the node at ${target.url} answered HTTP ${res.status} without a ${field} result`);
  return data as T;
}
