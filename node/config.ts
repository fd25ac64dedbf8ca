import path from 'node:path';
import { AllianceError } from './errors.ts';

/**
 * The node's whole configuration in one typed place. Precedence: command-line flags, then
 * environment variables, then the defaults documented here (and in the README's Configuration table).
 */
export interface Config {
  /** Keys, the embedded database and the lock file live here. Env `ALLIANCE_DATA_DIR`, default `./data`. */
  dataDir: string;
  /** PostgreSQL connection string; unset means embedded PGlite in `<dataDir>/pgdata`. Env `DATABASE_URL`. */
  databaseUrl: string | undefined;
  /**
   * A tarball of an empty embedded database (`createPgliteTemplate`) that a new `<dataDir>/pgdata` is
   * unpacked from instead of running initdb, which takes seconds per database (the test suite sets it). Env `ALLIANCE_PGLITE_TEMPLATE`, default none.
   */
  pgliteTemplate: string | undefined;
  /** HTTP listen address. Env `ALLIANCE_HTTP`, default `127.0.0.1:4000`. */
  http: { host: string; port: number };
  /** libp2p listen multiaddr. Env `ALLIANCE_P2P`, default `/ip4/0.0.0.0/tcp/4001`. */
  p2p: string;
  /** Roster genesis file. Env `ALLIANCE_GENESIS`, default none (development alliance). */
  genesis: string | undefined;
  /**
   * Admin key file (from `alliance admin keygen`) this node signs roster proposals with when an admin
   * approves them through GraphQL. Env `ALLIANCE_ADMIN_KEY`, default none (proposals are then signed
   * offline with `alliance admin sign` and submitted with `submitRosterEntry`).
   */
  adminKeyFile: string | undefined;
  /** pino level. Env `ALLIANCE_LOG_LEVEL`, default `info`. */
  logLevel: LogLevel;
  /**
   * One `request completed` line per HTTP request at info (id, method, path, status, time; never a
   * query string). A node answering thousands of lookups a second may leave them to the metrics.
   * Env `ALLIANCE_LOG_REQUESTS` (`true` or `false`), default `true`.
   */
  logRequests: boolean;
  /**
   * Bearer token `/metrics` asks for (Prometheus: `authorization.credentials_file`), at least 32
   * characters. Env `ALLIANCE_METRICS_TOKEN`, default none: `/metrics` is then open to whoever
   * reaches the HTTP port (keep it private, or set this).
   */
  metricsToken: string | undefined;
  auth: AuthConfig;
  limits: LimitsConfig;
  /**
   * Largest pool of PostgreSQL connections. Lookups and audit inserts run on a second pool of up to
   * the same size (its connections plan those statements once). Env `ALLIANCE_DB_POOL`, default 10.
   */
  dbPoolSize: number;
  /**
   * Region (ISO 3166-1 alpha-2) for identifiers of records that give none: national phone numbers,
   * business ids. Env `ALLIANCE_DEFAULT_REGION`, default none (such values must then be international).
   */
  defaultRegion: string | undefined;
  exchange: ExchangeConfig;
  lookup: LookupConfig;
  audit: AuditConfig;
}

/**
 * Per-subject quota on `lookup` (a token bucket per token subject, in this process): it bounds how
 * fast one account can test guesses against the alliance's indicators.
 */
export interface LookupConfig {
  /** Identifiers a subject may look up per minute, sustained; 0 turns the quota off. Env `ALLIANCE_LOOKUP_RATE`, default 60000. */
  ratePerMinute: number;
  /** Identifiers a subject may look up at once after being idle (the bucket's size). Env `ALLIANCE_LOOKUP_BURST`, default 5000. */
  burst: number;
}

export interface AuditConfig {
  /** Days audit rows are kept before the node deletes them. Env `ALLIANCE_AUDIT_RETENTION_DAYS`, default 365. */
  retentionDays: number;
}

/** Publishing and receiving indicators (DESIGN §2, §4). */
export interface ExchangeConfig {
  /**
   * How long indicators of a previous epoch stay matchable (and may still arrive) after the next
   * epoch starts, in days. Env `ALLIANCE_EPOCH_GRACE_DAYS`, default 7.
   */
  epochGraceDays: number;
  /** How long peers match an indicator after it is published (it is refreshed before). Env `ALLIANCE_INDICATOR_LIFETIME_DAYS`, default 365. */
  indicatorLifetimeDays: number;
  /** How long record changes are collected into one batch before it is signed, ms. Env `ALLIANCE_PUBLISH_WINDOW_MS`, default 100. */
  publishWindowMs: number;
  /** Most indicators per published batch (the wire limit is 1000). Env `ALLIANCE_BATCH_ITEMS`, default 1000. */
  batchItems: number;
  /** libp2p private-network pre-shared key file (`@libp2p/pnet` swarm key). Env `ALLIANCE_P2P_PSK`, default none. */
  pskFile: string | undefined;
  /** How often heads are exchanged with every connected peer, ms. Env `ALLIANCE_HEADS_INTERVAL_MS`, default 30000. */
  headsIntervalMs: number;
  /** The P2P listener's limits on connections not yet known to be members' (node/p2p/host.ts, ConnectionLimits). */
  connectionLimits: P2pConnectionLimits;
}

/**
 * Until its handshake ends, an inbound P2P connection is known only by its address; these keep
 * connections an outsider opens and never completes from taking the room members need.
 */
export interface P2pConnectionLimits {
  /** Longest handshake (pnet, noise, yamux) of an inbound connection, ms. Env `ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS`, default 5000. */
  handshakeTimeoutMs: number;
  /** Most inbound connections in their handshake at once. Env `ALLIANCE_P2P_MAX_PENDING`, default 32. */
  maxPending: number;
  /** Of those, how many only members' known addresses may use. Env `ALLIANCE_P2P_RESERVED_PENDING`, default 8. */
  reservedPending: number;
  /** Most inbound connections in their handshake from one address. Env `ALLIANCE_P2P_PENDING_PER_ADDRESS`, default 4. */
  pendingPerAddress: number;
  /** Most new inbound connections per second from one address. Env `ALLIANCE_P2P_CONNECTIONS_PER_SECOND`, default 5. */
  connectionsPerSecond: number;
}

export interface AuthConfig {
  /** `iss` of tokens this node issues and accepts. Env `ALLIANCE_TOKEN_ISSUER`, default `alliance-node`. */
  issuer: string;
  /** `aud` required in every token. Env `ALLIANCE_TOKEN_AUDIENCE`, default `alliance-api`. */
  audience: string;
  /** External identity provider's JWKS URL. Env `ALLIANCE_JWKS_URL`, default none. */
  jwksUrl: string | undefined;
  /** Issuer pinned for the external provider; required with `jwksUrl`. Env `ALLIANCE_JWKS_ISSUER`. */
  jwksIssuer: string | undefined;
  /** Algorithms accepted from the external provider. Env `ALLIANCE_JWKS_ALGORITHMS`, default `RS256,ES256,EdDSA`. */
  jwksAlgorithms: string[];
  /** Claim holding the role(s) in external tokens. Env `ALLIANCE_JWKS_ROLE_CLAIM`, default `roles`. */
  jwksRoleClaim: string;
}

export interface LimitsConfig {
  /** Largest HTTP request body in bytes. Env `ALLIANCE_MAX_BODY_BYTES`, default 8 MiB. */
  bodyBytes: number;
  /** Deepest GraphQL selection. Env `ALLIANCE_MAX_DEPTH`, default 10. */
  queryDepth: number;
  /** Most aliases in one document. Env `ALLIANCE_MAX_ALIASES`, default 30. */
  aliases: number;
  /** Most lexical tokens in one document. Env `ALLIANCE_MAX_TOKENS`, default 5000. */
  tokens: number;
  /** Longest document text, in characters (long values belong in variables). Env `ALLIANCE_MAX_DOCUMENT_CHARS`, default 262144. */
  documentChars: number;
  /** Most JSON values in one request's variables (each is coerced before any resolver runs). Env `ALLIANCE_MAX_VARIABLE_VALUES`, default 10000. */
  variableValues: number;
  /**
   * Most field values one operation may resolve, lists counted at the page size asked for (a full
   * page of 500 records with every field is about 15,000). Env `ALLIANCE_MAX_COST`, default 10000.
   */
  cost: number;
  /** Open subscriptions on one WebSocket. Env `ALLIANCE_MAX_SUBSCRIPTIONS_PER_SOCKET`, default 20. */
  subscriptionsPerSocket: number;
  /** Open WebSockets of one token subject (per API process). Env `ALLIANCE_MAX_SOCKETS_PER_SUBJECT`, default 16. */
  socketsPerSubject: number;
  /** Most records per `importRecords` call. Env `ALLIANCE_MAX_IMPORT`, default 500. */
  importRecords: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const DEFAULTS = {
  dataDir: './data',
  http: '127.0.0.1:4000',
  p2p: '/ip4/0.0.0.0/tcp/4001',
  logLevel: 'info',
  logRequests: true,
  issuer: 'alliance-node',
  audience: 'alliance-api',
  jwksAlgorithms: 'RS256,ES256,EdDSA',
  jwksRoleClaim: 'roles',
  bodyBytes: 2 * 1024 * 1024,
  queryDepth: 10,
  aliases: 30,
  tokens: 5000,
  documentChars: 256 * 1024,
  variableValues: 10_000,
  cost: 20_000,
  importRecords: 500,
  subscriptionsPerSocket: 20,
  socketsPerSubject: 16,
  dbPoolSize: 10,
  epochGraceDays: 7,
  indicatorLifetimeDays: 365,
  publishWindowMs: 100,
  batchItems: 1000,
  headsIntervalMs: 30_000,
  p2pHandshakeTimeoutMs: 5000,
  p2pMaxPending: 32,
  p2pReservedPending: 8,
  p2pPendingPerAddress: 4,
  p2pConnectionsPerSecond: 5,
  lookupRatePerMinute: 60_000,
  lookupBurst: 5000,
  auditRetentionDays: 365,
} as const;

/** Signature algorithms an external identity provider may use: asymmetric only, as JOSE names them. */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

export class ConfigError extends AllianceError {
  constructor(setting: string, message: string) {
    super('CONFIG_INVALID', `invalid setting ${setting}: ${message}`, { setting });
  }
}

/** Values given on the command line; `undefined` means "not given", so env or default applies. */
export interface ConfigFlags {
  dataDir?: string | undefined;
  http?: string | undefined;
  p2p?: string | undefined;
  genesis?: string | undefined;
  databaseUrl?: string | undefined;
  logLevel?: string | undefined;
  defaultRegion?: string | undefined;
}

type Env = Record<string, string | undefined>;

export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const pick = (flag: string | undefined, envName: string): string | undefined => {
    if (flag !== undefined) return flag;
    const v = env[envName];
    return v === undefined || v === '' ? undefined : v;
  };

  const dataDir = path.resolve(pick(flags.dataDir, 'ALLIANCE_DATA_DIR') ?? DEFAULTS.dataDir);
  const databaseUrl = pick(flags.databaseUrl, 'DATABASE_URL');
  if (databaseUrl !== undefined) parseDatabaseUrl(databaseUrl, flags.databaseUrl !== undefined ? '--database-url' : 'DATABASE_URL');

  const logLevel = (pick(flags.logLevel, 'ALLIANCE_LOG_LEVEL') ?? DEFAULTS.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(flags.logLevel !== undefined ? '--log-level' : 'ALLIANCE_LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const jwksUrl = pick(undefined, 'ALLIANCE_JWKS_URL');
  const jwksIssuer = pick(undefined, 'ALLIANCE_JWKS_ISSUER');
  if (jwksUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(jwksUrl);
    } catch {
      throw new ConfigError('ALLIANCE_JWKS_URL', `"${jwksUrl}" is not a URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw new ConfigError('ALLIANCE_JWKS_URL', 'must be an http(s) URL');
    }
    if (jwksIssuer === undefined) {
      throw new ConfigError('ALLIANCE_JWKS_ISSUER', 'is required when ALLIANCE_JWKS_URL is set (the issuer is pinned)');
    }
  }

  const int = (envName: string, def: number, min: number, max: number): number => {
    const raw = pick(undefined, envName);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw)) throw new ConfigError(envName, `"${raw}" is not a whole number`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(envName, `${n} is outside ${min}..${max}`);
    return n;
  };

  const bool = (envName: string, def: boolean): boolean => {
    const raw = pick(undefined, envName);
    if (raw === undefined) return def;
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new ConfigError(envName, `"${raw}" is not true or false`);
  };

  const jwksAlgorithms = (pick(undefined, 'ALLIANCE_JWKS_ALGORITHMS') ?? DEFAULTS.jwksAlgorithms)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (jwksAlgorithms.length === 0) throw new ConfigError('ALLIANCE_JWKS_ALGORITHMS', `lists no algorithm (use some of ${JWKS_ALGORITHMS.join(', ')})`);
  for (const alg of jwksAlgorithms) {
    // Symmetric and unsigned algorithms would let anyone who knows the JWKS forge tokens.
    if (!(JWKS_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError('ALLIANCE_JWKS_ALGORITHMS', `${alg} is not allowed: only the asymmetric algorithms ${JWKS_ALGORITHMS.join(', ')}`);
    }
  }

  const pgliteTemplate = pick(undefined, 'ALLIANCE_PGLITE_TEMPLATE');

  const p2pMaxPending = int('ALLIANCE_P2P_MAX_PENDING', DEFAULTS.p2pMaxPending, 1, 100_000);
  const connectionLimits: P2pConnectionLimits = {
    handshakeTimeoutMs: int('ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS', DEFAULTS.p2pHandshakeTimeoutMs, 100, 600_000),
    maxPending: p2pMaxPending,
    // Some room must stay for anyone: a member whose address is not known yet (behind NAT, listed by
    // name, never seen) connects through it.
    reservedPending: int('ALLIANCE_P2P_RESERVED_PENDING', Math.min(DEFAULTS.p2pReservedPending, p2pMaxPending - 1), 0, p2pMaxPending - 1),
    pendingPerAddress: int('ALLIANCE_P2P_PENDING_PER_ADDRESS', Math.min(DEFAULTS.p2pPendingPerAddress, p2pMaxPending), 1, p2pMaxPending),
    connectionsPerSecond: int('ALLIANCE_P2P_CONNECTIONS_PER_SECOND', DEFAULTS.p2pConnectionsPerSecond, 1, 100_000),
  };

  const metricsToken = pick(undefined, 'ALLIANCE_METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{32,512}$/.test(metricsToken)) {
    throw new ConfigError('ALLIANCE_METRICS_TOKEN', 'must be 32 to 512 printable characters without spaces (e.g. openssl rand -base64 32)');
  }

  return {
    dataDir,
    databaseUrl,
    pgliteTemplate: pgliteTemplate === undefined ? undefined : path.resolve(pgliteTemplate),
    http: parseHostPort(pick(flags.http, 'ALLIANCE_HTTP') ?? DEFAULTS.http, flags.http !== undefined ? '--http' : 'ALLIANCE_HTTP'),
    p2p: parseMultiaddr(pick(flags.p2p, 'ALLIANCE_P2P') ?? DEFAULTS.p2p, flags.p2p !== undefined ? '--p2p' : 'ALLIANCE_P2P'),
    genesis: pick(flags.genesis, 'ALLIANCE_GENESIS'),
    adminKeyFile: (() => {
      const f = pick(undefined, 'ALLIANCE_ADMIN_KEY');
      return f === undefined ? undefined : path.resolve(f);
    })(),
    logLevel,
    logRequests: bool('ALLIANCE_LOG_REQUESTS', DEFAULTS.logRequests),
    metricsToken,
    auth: {
      issuer: pick(undefined, 'ALLIANCE_TOKEN_ISSUER') ?? DEFAULTS.issuer,
      audience: pick(undefined, 'ALLIANCE_TOKEN_AUDIENCE') ?? DEFAULTS.audience,
      jwksUrl,
      jwksIssuer,
      jwksAlgorithms,
      jwksRoleClaim: pick(undefined, 'ALLIANCE_JWKS_ROLE_CLAIM') ?? DEFAULTS.jwksRoleClaim,
    },
    limits: {
      bodyBytes: int('ALLIANCE_MAX_BODY_BYTES', DEFAULTS.bodyBytes, 1024, 1024 * 1024 * 1024),
      queryDepth: int('ALLIANCE_MAX_DEPTH', DEFAULTS.queryDepth, 2, 100),
      aliases: int('ALLIANCE_MAX_ALIASES', DEFAULTS.aliases, 0, 10_000),
      tokens: int('ALLIANCE_MAX_TOKENS', DEFAULTS.tokens, 50, 1_000_000),
      documentChars: int('ALLIANCE_MAX_DOCUMENT_CHARS', DEFAULTS.documentChars, 1024, 1024 * 1024 * 1024),
      variableValues: int('ALLIANCE_MAX_VARIABLE_VALUES', DEFAULTS.variableValues, 100, 100_000_000),
      cost: int('ALLIANCE_MAX_COST', DEFAULTS.cost, 10, 10_000_000),
      subscriptionsPerSocket: int('ALLIANCE_MAX_SUBSCRIPTIONS_PER_SOCKET', DEFAULTS.subscriptionsPerSocket, 1, 10_000),
      socketsPerSubject: int('ALLIANCE_MAX_SOCKETS_PER_SUBJECT', DEFAULTS.socketsPerSubject, 1, 100_000),
      importRecords: int('ALLIANCE_MAX_IMPORT', DEFAULTS.importRecords, 1, 1_000_000),
    },
    dbPoolSize: int('ALLIANCE_DB_POOL', DEFAULTS.dbPoolSize, 1, 1000),
    defaultRegion: parseRegion(pick(flags.defaultRegion, 'ALLIANCE_DEFAULT_REGION'), flags.defaultRegion !== undefined ? '--region' : 'ALLIANCE_DEFAULT_REGION'),
    exchange: {
      epochGraceDays: int('ALLIANCE_EPOCH_GRACE_DAYS', DEFAULTS.epochGraceDays, 0, 365),
      indicatorLifetimeDays: int('ALLIANCE_INDICATOR_LIFETIME_DAYS', DEFAULTS.indicatorLifetimeDays, 1, 3650),
      publishWindowMs: int('ALLIANCE_PUBLISH_WINDOW_MS', DEFAULTS.publishWindowMs, 0, 60_000),
      batchItems: int('ALLIANCE_BATCH_ITEMS', DEFAULTS.batchItems, 1, 1000),
      pskFile: pick(undefined, 'ALLIANCE_P2P_PSK'),
      headsIntervalMs: int('ALLIANCE_HEADS_INTERVAL_MS', DEFAULTS.headsIntervalMs, 100, 3_600_000),
      connectionLimits,
    },
    lookup: {
      ratePerMinute: int('ALLIANCE_LOOKUP_RATE', DEFAULTS.lookupRatePerMinute, 0, 100_000_000),
      burst: int('ALLIANCE_LOOKUP_BURST', DEFAULTS.lookupBurst, 1, 100_000_000),
    },
    audit: {
      retentionDays: int('ALLIANCE_AUDIT_RETENTION_DAYS', DEFAULTS.auditRetentionDays, 1, 36_500),
    },
  };
}

export function parseHostPort(value: string, setting: string): { host: string; port: number } {
  // Accept "host:port", "[v6]:port" and a bare ":port" / "port" (on the default host, 127.0.0.1).
  const m = /^\[([^\]\s]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]\s]*):(\d+)$/.exec(value) ?? /^()(\d+)$/.exec(value);
  if (!m) throw new ConfigError(setting, `"${value}" is not HOST:PORT`);
  const host = m[1] || '127.0.0.1';
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(setting, `port ${m[2]} is above 65535`);
  return { host, port };
}

function parseMultiaddr(value: string, setting: string): string {
  if (!/^(\/[a-z0-9-]+\/[^/]+)+$/i.test(value)) {
    throw new ConfigError(setting, `"${value}" is not a multiaddr such as /ip4/0.0.0.0/tcp/4001`);
  }
  return value;
}

function parseDatabaseUrl(value: string, setting: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(setting, 'is not a URL (expected postgres://user@host:5432/db)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new ConfigError(setting, `scheme ${u.protocol} is not postgres: or postgresql:`);
  }
}

function parseRegion(value: string | undefined, setting: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[A-Za-z]{2}$/.test(value)) throw new ConfigError(setting, `"${value}" is not a two-letter country code such as CN or DE`);
  return value.toUpperCase();
}
