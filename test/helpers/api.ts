import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { loadConfig, type AuthConfig, type Config, type LimitsConfig, type LookupConfig, type LogLevel } from '../../node/config.ts';
import { createLogger } from '../../node/log.ts';
import { buildApi, type Api, type ApiServices } from '../../node/api/server.ts';
import { ApiMetrics } from '../../node/api/metrics.ts';
import { CaseDataAudit } from '../../node/api/case-data.ts';
import { NO_NETWORK } from '../../node/api/resolvers/network.ts';
import { AuditLog } from '../../node/audit/audit-log.ts';
import { AuditWriter } from '../../node/audit/audit-writer.ts';
import { LookupService } from '../../node/lookup/lookup.ts';
import { RateLimiter } from '../../node/lookup/rate-limit.ts';
import { MatchStore } from '../../node/matching/store.ts';
import { RosterProposals } from '../../node/membership/proposals.ts';
import { RosterStore } from '../../node/membership/roster-store.ts';
import { RecordExporter } from '../../node/records/export.ts';
import { RecordStore } from '../../node/records/store.ts';
import type { IdentifierType } from '../../node/identifiers/vocabulary.ts';
import { createTokenVerifier, type Role } from '../../node/api/auth.ts';
import { issueToken, loadOrCreateApiKey, type ApiKey } from '../../node/api/tokens.ts';
import type { Database } from '../../node/storage/database.ts';
import type { LoadedAdminKey } from '../../node/membership/keys.ts';
import type { LookupSources } from '../../node/lookup/lookup.ts';
import type { MatchFeed } from '../../node/matching/feed.ts';
import { openTestDb, type StorageKind, type TestDb } from './storage.ts';

export interface GqlResponse<D = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: D | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
    [k: string]: unknown;
  };
}

export interface TestApiOptions {
  storage?: StorageKind;
  limits?: Partial<LimitsConfig>;
  auth?: Partial<AuthConfig>;
  /** Where the node's pino JSON lines go; default: nowhere (level silent). */
  logger?: Logger;
  /** The node's admin key (ALLIANCE_ADMIN_KEY): signs roster proposals. Default none. */
  adminKey?: LoadedAdminKey;
  /** The roster the API uses, made over the test database; default: a RosterStore over it. */
  roster?: (db: Database) => Promise<ApiServices['roster']>;
  /** What lookups read from the node (member id, roster, epoch keys, live epochs); default none. */
  lookup?: (db: Database) => LookupSources | Promise<LookupSources>;
  /** Lookup quota settings (ALLIANCE_LOOKUP_RATE, ALLIANCE_LOOKUP_BURST). */
  lookupQuota?: Partial<LookupConfig>;
  /** ALLIANCE_LOG_REQUESTS; default the node's (true). */
  logRequests?: boolean;
  /** Raised matches pushed to matchFound subscribers; default none. */
  matchFeed?: MatchFeed;
  /** ALLIANCE_METRICS_TOKEN; default none (/metrics open). */
  metricsToken?: string;
  /** The quotas' clock (ms); default the real one. */
  clock?: () => number;
  /** How long a WebSocket may wait before connection_init, ms; default the node's (3 s). */
  subscriptionInitTimeoutMs?: number;
}

export interface TestApi {
  /** e.g. http://127.0.0.1:43121 */
  baseUrl: string;
  graphqlUrl: string;
  api: Api;
  db: Database;
  testDb: TestDb;
  key: ApiKey;
  config: Config;
  dataDir: string;
  /** A token this node issued (EdDSA, its own key, issuer and audience). */
  token(role: Role, opts?: { sub?: string; ttlSeconds?: number }): Promise<string>;
  /** POSTs one GraphQL request as JSON over real HTTP. */
  gql<D = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResponse<D>>;
  /** Plain fetch relative to the server's base URL. */
  fetch(pathAndQuery: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

const NO_LOOKUP_SOURCES: LookupSources = { self: () => undefined, roster: () => null, epochKeys: () => new Map(), liveEpochs: () => [] };

/**
 * The services an API serves from, over a test database: the real ones, with the roster and the
 * lookup's view of the node (member id, epoch keys) a test may stand in for with fixtures. The node
 * itself builds them in node/node.ts.
 */
async function testApiServices(db: Database, config: Config, opts: TestApiOptions): Promise<ApiServices> {
  const store = opts.roster === undefined ? await RosterStore.open(db) : undefined;
  const roster = opts.roster === undefined ? store! : await opts.roster(db);
  const sources = opts.lookup === undefined ? NO_LOOKUP_SOURCES : await opts.lookup(db);
  const records = new RecordStore(db);
  const audit = new AuditLog(db);
  const writer = new AuditWriter(db);
  const lookup = new LookupService(db, sources, writer);
  const digestsOf = (type: IdentifierType, canonical: string) => lookup.digestsOf(type, canonical);
  const quota = () => new RateLimiter({ perMinute: config.lookup.ratePerMinute, burst: config.lookup.burst, now: opts.clock });
  return {
    storage: db,
    records,
    exporter: new RecordExporter(records, audit, digestsOf),
    audit,
    caseData: new CaseDataAudit(writer, digestsOf),
    lookup,
    lookupQuota: quota(),
    normalizeQuota: quota(),
    matches: new MatchStore(db),
    matchFeed: opts.matchFeed,
    roster,
    rosterState: () => sources.roster() ?? store?.state ?? null,
    proposals: new RosterProposals(db, async () => roster, opts.adminKey),
    network: NO_NETWORK,
  };
}

/**
 * Builds the real API (`buildApi`) over a fresh migrated database with a real Ed25519 API key in a
 * temporary data directory, listening on 127.0.0.1 on a free port.
 */
export async function startTestApi(opts: TestApiOptions = {}): Promise<TestApi> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-api-'));
  const base = loadConfig({ dataDir, http: '127.0.0.1:0' }, {});
  const config: Config = {
    ...base,
    auth: { ...base.auth, ...opts.auth },
    limits: { ...base.limits, ...opts.limits },
    lookup: { ...base.lookup, ...opts.lookupQuota },
    logRequests: opts.logRequests ?? base.logRequests,
    metricsToken: opts.metricsToken,
  };
  const key = await loadOrCreateApiKey(dataDir);
  const testDb = await openTestDb(opts.storage ?? 'pglite');
  const logger = opts.logger ?? createLogger('silent');
  let api: Api;
  try {
    const services = await testApiServices(testDb.db, config, opts);
    api = await buildApi({
      config,
      services,
      metrics: new ApiMetrics({ countRecords: () => services.records.count() }),
      logger,
      verifyToken: createTokenVerifier(config.auth, key.publicKey),
      subscriptionInitTimeoutMs: opts.subscriptionInitTimeoutMs,
    });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await testDb.close();
    throw err;
  }
  const address = api.app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no TCP address');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const graphqlUrl = `${baseUrl}/graphql`;

  let closed = false;
  return {
    baseUrl,
    graphqlUrl,
    api,
    db: testDb.db,
    testDb,
    key,
    config,
    dataDir,
    token: (role, o = {}) => issueToken(key, config.auth, { role, sub: o.sub ?? `test-${role}`, ttlSeconds: o.ttlSeconds ?? 600 }),
    gql: (query, variables, token) => gqlAt(graphqlUrl, query, variables, token),
    fetch: (p, init) => fetch(`${baseUrl}${p}`, init),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await api.app.close();
      } finally {
        try {
          await testDb.close();
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      }
    },
  };
}

/** POSTs one GraphQL request to `url` and returns status, headers and the parsed JSON body. */
export async function gqlAt<D = Record<string, unknown>>(url: string, query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResponse<D>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: GqlResponse<D>['body'];
  try {
    body = JSON.parse(text) as GqlResponse<D>['body'];
  } catch {
    throw new Error(`response ${res.status} is not JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/** A pino destination that keeps every JSON line it is given. */
export function logCollector(level: LogLevel = 'info'): { stream: Writable; lines: string[]; logger: Logger } {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
      cb();
    },
  });
  return { stream, lines, logger: createLogger(level, stream) };
}

export const CREATE_RECORD = /* GraphQL */ `
  mutation Create($input: RecordInput!) {
    createRecord(input: $input) { id name version identifiers { type value } }
  }
`;
