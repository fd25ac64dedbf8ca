import path from 'node:path';
import { AllianceError } from './errors.ts';

/**
 * The node's settings, in one table (`SETTINGS`, below): each setting's environment variable, its
 * command-line flag if it has one, how its value is read and checked (with its bounds), its default
 * and its line in the docs. Everything else derives from the table: `DEFAULTS`, `loadConfig` (which
 * reads and checks every setting, naming the setting in any ConfigError), the flags `loadConfig`
 * takes, and the configuration table of docs/operator.md (`settingsMarkdown`, printed by
 * `scripts/docs/settings-table.ts`; a test keeps the guide equal to it). A setting is added, or a
 * default changed, here only.
 *
 * Precedence: command-line flags, then environment variables (an empty one counts as unset), then
 * the defaults. A default is read like a value given, so it passes the same checks.
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Signature algorithms an external identity provider may use: asymmetric only, as JOSE names them. */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

export class ConfigError extends AllianceError {
  constructor(setting: string, message: string) {
    super('CONFIG_INVALID', `invalid setting ${setting}: ${message}`, { setting });
  }
}

// ---------------------------------------------------------------------------------------------
// How settings are read

type Default = string | number | boolean | undefined;

/** One setting. `T` is what `loadConfig` makes of it, `D` its default as `DEFAULTS` shows it. */
export interface Setting<T = unknown, D extends Default = Default> {
  /** The environment variable. */
  readonly env: string;
  /** The command-line flag (`--http`), if the commands that load the configuration take one. */
  readonly flag?: string | undefined;
  /** Which commands take the flag, when not all of them do (shown beside it in the docs). */
  readonly flagOf?: string | undefined;
  /** What it sets, for the docs table: one line. */
  readonly doc: string;
  /** Used when neither flag nor variable gives a value; undefined: none. */
  readonly default: D;
  /** Lowest and highest value, for whole numbers. */
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /**
   * The value, from the text given (undefined: not given) or else the default. `name` is how the
   * setting was given (the flag or the variable), for the ConfigError; `read` holds the settings
   * read before this one, for bounds that depend on them.
   */
  read(raw: string | undefined, name: string, read: Readonly<Record<string, unknown>>): T;
}

/** A value parsed by `parse`; without a default, absent stays undefined. */
function value<T, D extends string | boolean | undefined, F extends string | undefined = undefined>(o: {
  env: string;
  flag?: F;
  flagOf?: string;
  doc: string;
  default: D;
  parse: (raw: string, name: string) => T;
}): Setting<D extends undefined ? T | undefined : T, D> & { readonly flag: F } {
  return {
    env: o.env,
    flag: o.flag as F,
    flagOf: o.flagOf,
    doc: o.doc,
    default: o.default,
    read: (raw, name) => {
      const text = raw ?? (o.default === undefined ? undefined : String(o.default));
      return (text === undefined ? undefined : o.parse(text, name)) as D extends undefined ? T | undefined : T;
    },
  };
}

/** Text taken as it is. */
const asText = (raw: string): string => raw;
/** A file or directory, made absolute against the working directory at start. */
const asPath = (raw: string): string => path.resolve(raw);

/**
 * A whole number (digits only) from `min` to `max`. `within` narrows the bounds by settings read
 * before it; the default is then brought within them too.
 */
function int(o: {
  env: string;
  doc: string;
  default: number;
  min: number;
  max: number;
  within?: (read: Readonly<Record<string, unknown>>) => { min?: number; max?: number };
}): Setting<number, number> {
  return {
    env: o.env,
    doc: o.doc,
    default: o.default,
    min: o.min,
    max: o.max,
    read(raw, name, read) {
      const { min, max } = { min: o.min, max: o.max, ...o.within?.(read) };
      if (raw === undefined) return Math.min(Math.max(o.default, min), max);
      if (!/^\d+$/.test(raw)) throw new ConfigError(name, `"${raw}" is not a whole number`);
      const n = Number(raw);
      if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
      return n;
    },
  };
}

function bool(o: { env: string; doc: string; default: boolean }): Setting<boolean, boolean> {
  return value<boolean, boolean>({
    ...o,
    parse: (raw, name) => {
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new ConfigError(name, `"${raw}" is not true or false`);
    },
  });
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

function parseDatabaseUrl(value: string, setting: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(setting, 'is not a URL (expected postgres://user@host:5432/db)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new ConfigError(setting, `scheme ${u.protocol} is not postgres: or postgresql:`);
  }
  return value;
}

function parseLogLevel(value: string, setting: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new ConfigError(setting, `"${value}" is not one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}

function parseJwksUrl(value: string, setting: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigError(setting, `"${value}" is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigError(setting, 'must be an http(s) URL');
  return value;
}

function parseJwksAlgorithms(value: string, setting: string): string[] {
  const algorithms = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (algorithms.length === 0) throw new ConfigError(setting, `lists no algorithm (use some of ${JWKS_ALGORITHMS.join(', ')})`);
  for (const alg of algorithms) {
    // Symmetric and unsigned algorithms would let anyone who knows the JWKS forge tokens.
    if (!(JWKS_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError(setting, `${alg} is not allowed: only the asymmetric algorithms ${JWKS_ALGORITHMS.join(', ')}`);
    }
  }
  return algorithms;
}

function parseMetricsToken(value: string, setting: string): string {
  if (!/^[\x21-\x7e]{32,512}$/.test(value)) {
    throw new ConfigError(setting, 'must be 32 to 512 printable characters without spaces (e.g. openssl rand -base64 32)');
  }
  return value;
}

function parseRegion(value: string, setting: string): string {
  if (!/^[A-Za-z]{2}$/.test(value)) throw new ConfigError(setting, `"${value}" is not a two-letter country code such as CN or DE`);
  return value.toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// The settings, in the order the docs list them

export const SETTINGS = {
  dataDir: value({ env: 'ALLIANCE_DATA_DIR', flag: '--data-dir', doc: 'data directory (keys, embedded database)', default: './data', parse: asPath }),
  databaseUrl: value({
    env: 'DATABASE_URL',
    flag: '--database-url',
    doc: 'PostgreSQL (unset: embedded PGlite in `<data>/pgdata`)',
    default: undefined,
    parse: parseDatabaseUrl,
  }),
  http: value({ env: 'ALLIANCE_HTTP', flag: '--http', doc: 'HTTP listen address', default: '127.0.0.1:4000', parse: parseHostPort }),
  p2p: value({ env: 'ALLIANCE_P2P', flag: '--p2p', doc: 'libp2p listen address', default: '/ip4/0.0.0.0/tcp/4001', parse: parseMultiaddr }),
  genesis: value({ env: 'ALLIANCE_GENESIS', flag: '--genesis', doc: 'roster genesis file', default: undefined, parse: asText }),
  adminKeyFile: value({
    env: 'ALLIANCE_ADMIN_KEY',
    doc: 'admin key file (`alliance admin keygen`) this node signs roster proposals with (GraphQL `approveRosterProposal`)',
    default: undefined,
    parse: asPath,
  }),
  logLevel: value({ env: 'ALLIANCE_LOG_LEVEL', flag: '--log-level', doc: 'log level', default: 'info', parse: parseLogLevel }),
  logRequests: bool({
    env: 'ALLIANCE_LOG_REQUESTS',
    doc: 'one `request completed` line per HTTP request at info (`false`: none; request counts and durations stay in `/metrics`)',
    default: true,
  }),
  metricsToken: value({
    env: 'ALLIANCE_METRICS_TOKEN',
    doc: 'bearer token `/metrics` asks for (32+ characters; unset: `/metrics` is open to whoever reaches the HTTP port)',
    default: undefined,
    parse: parseMetricsToken,
  }),
  issuer: value({ env: 'ALLIANCE_TOKEN_ISSUER', doc: 'token issuer (`iss`)', default: 'alliance-node', parse: asText }),
  audience: value({ env: 'ALLIANCE_TOKEN_AUDIENCE', doc: 'token audience (`aud`)', default: 'alliance-api', parse: asText }),
  jwksUrl: value({ env: 'ALLIANCE_JWKS_URL', doc: 'external identity provider JWKS URL', default: undefined, parse: parseJwksUrl }),
  jwksIssuer: value({ env: 'ALLIANCE_JWKS_ISSUER', doc: 'its pinned issuer (required with the URL)', default: undefined, parse: asText }),
  jwksAlgorithms: value({
    env: 'ALLIANCE_JWKS_ALGORITHMS',
    doc: 'its accepted algorithms (asymmetric only: RS, PS, ES 256/384/512, EdDSA)',
    default: 'RS256,ES256,EdDSA',
    parse: parseJwksAlgorithms,
  }),
  jwksRoleClaim: value({ env: 'ALLIANCE_JWKS_ROLE_CLAIM', doc: 'claim holding its roles', default: 'roles', parse: asText }),
  bodyBytes: int({ env: 'ALLIANCE_MAX_BODY_BYTES', doc: 'largest request body, bytes', default: 2 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 }),
  queryDepth: int({ env: 'ALLIANCE_MAX_DEPTH', doc: 'deepest GraphQL selection', default: 10, min: 2, max: 100 }),
  aliases: int({ env: 'ALLIANCE_MAX_ALIASES', doc: 'most aliases per document', default: 30, min: 0, max: 10_000 }),
  tokens: int({ env: 'ALLIANCE_MAX_TOKENS', doc: 'most tokens per document', default: 5000, min: 50, max: 1_000_000 }),
  documentChars: int({
    env: 'ALLIANCE_MAX_DOCUMENT_CHARS',
    doc: 'longest document text, characters (long values go in variables)',
    default: 256 * 1024,
    min: 1024,
    max: 1024 * 1024 * 1024,
  }),
  variableValues: int({
    env: 'ALLIANCE_MAX_VARIABLE_VALUES',
    doc: "most JSON values in one request's variables (graphql-js checks each before a resolver runs: about 1.5 µs a value)",
    default: 10_000,
    min: 100,
    max: 100_000_000,
  }),
  cost: int({
    env: 'ALLIANCE_MAX_COST',
    doc: 'highest query cost (field values an operation may resolve; a list counts once per item of the page asked for)',
    default: 20_000,
    min: 10,
    max: 10_000_000,
  }),
  subscriptionsPerSocket: int({ env: 'ALLIANCE_MAX_SUBSCRIPTIONS_PER_SOCKET', doc: 'open subscriptions on one WebSocket', default: 20, min: 1, max: 10_000 }),
  socketsPerSubject: int({ env: 'ALLIANCE_MAX_SOCKETS_PER_SUBJECT', doc: 'open WebSockets of one token subject, per API process', default: 16, min: 1, max: 100_000 }),
  importRecords: int({
    env: 'ALLIANCE_MAX_IMPORT',
    doc: 'most records per `importRecords` call (bulk files: `alliance import`)',
    default: 500,
    min: 1,
    max: 1_000_000,
  }),
  dbPoolSize: int({
    env: 'ALLIANCE_DB_POOL',
    doc: 'PostgreSQL pool size (lookups and audit inserts use a second pool of up to the same size, whose connections plan those statements once)',
    default: 10,
    min: 1,
    max: 1000,
  }),
  pgliteTemplate: value({
    env: 'ALLIANCE_PGLITE_TEMPLATE',
    doc: 'tarball of an empty embedded database that new `<data>/pgdata` directories are unpacked from instead of running initdb (made by `createPgliteTemplate` in `node/storage/pglite.ts`; the test suite uses it)',
    default: undefined,
    parse: asPath,
  }),
  defaultRegion: value({
    env: 'ALLIANCE_DEFAULT_REGION',
    flag: '--region',
    flagOf: 'import',
    doc: 'region for national phone numbers and ids of records without one',
    default: undefined,
    parse: parseRegion,
  }),
  epochGraceDays: int({
    env: 'ALLIANCE_EPOCH_GRACE_DAYS',
    doc: "days a previous epoch's indicators stay matchable (and may still arrive) after a new epoch starts",
    default: 7,
    min: 0,
    max: 365,
  }),
  indicatorLifetimeDays: int({
    env: 'ALLIANCE_INDICATOR_LIFETIME_DAYS',
    doc: 'days peers match a published indicator (refreshed before it runs out)',
    default: 365,
    min: 1,
    max: 3650,
  }),
  publishWindowMs: int({ env: 'ALLIANCE_PUBLISH_WINDOW_MS', doc: 'how long record changes are collected into one batch, ms', default: 100, min: 0, max: 60_000 }),
  // The wire's limit on items per batch (schema/wire.md §5) is the highest value.
  batchItems: int({ env: 'ALLIANCE_BATCH_ITEMS', doc: 'most indicators per published batch (at most 1000)', default: 1000, min: 1, max: 1000 }),
  pskFile: value({
    env: 'ALLIANCE_P2P_PSK',
    doc: 'private-network key file (libp2p pnet swarm key; every member then needs the same file)',
    default: undefined,
    parse: asText,
  }),
  headsIntervalMs: int({ env: 'ALLIANCE_HEADS_INTERVAL_MS', doc: 'how often heads are exchanged with each peer, ms', default: 30_000, min: 100, max: 3_600_000 }),
  // The P2P listener's limits on connections not yet known to be members' (node/p2p/host.ts,
  // ConnectionLimits, whose defaults are these: test/config.test.ts keeps them equal).
  p2pHandshakeTimeoutMs: int({
    env: 'ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS',
    doc: 'longest handshake (pnet, noise, yamux) of an inbound P2P connection, ms',
    default: 5000,
    min: 100,
    max: 600_000,
  }),
  p2pMaxPending: int({ env: 'ALLIANCE_P2P_MAX_PENDING', doc: 'most inbound P2P connections in their handshake at once', default: 32, min: 1, max: 100_000 }),
  p2pReservedPending: int({
    env: 'ALLIANCE_P2P_RESERVED_PENDING',
    doc: "of those, places only members' known addresses may use (below `ALLIANCE_P2P_MAX_PENDING`)",
    default: 8,
    min: 0,
    max: 99_999,
    // Some room must stay for anyone: a member whose address is not known yet (behind NAT, listed by
    // name, never seen) connects through it.
    within: (read) => ({ max: (read.p2pMaxPending as number) - 1 }),
  }),
  p2pPendingPerAddress: int({
    env: 'ALLIANCE_P2P_PENDING_PER_ADDRESS',
    doc: 'most inbound P2P connections in their handshake from one address',
    default: 4,
    min: 1,
    max: 100_000,
    within: (read) => ({ max: read.p2pMaxPending as number }),
  }),
  p2pConnectionsPerSecond: int({
    env: 'ALLIANCE_P2P_CONNECTIONS_PER_SECOND',
    doc: 'most new inbound P2P connections per second from one address',
    default: 5,
    min: 1,
    max: 100_000,
  }),
  // A token bucket per token subject, in each API process (node/lookup/rate-limit.ts): it bounds how
  // fast one account can test guesses against the alliance's indicators.
  lookupRatePerMinute: int({
    env: 'ALLIANCE_LOOKUP_RATE',
    doc: 'identifiers one token subject may look up per minute, sustained (0: no quota)',
    default: 60_000,
    min: 0,
    max: 100_000_000,
  }),
  lookupBurst: int({
    env: 'ALLIANCE_LOOKUP_BURST',
    doc: "identifiers one token subject may look up at once (the quota's burst; also caps a call below 1,000)",
    default: 5000,
    min: 1,
    max: 100_000_000,
  }),
  auditRetentionDays: int({ env: 'ALLIANCE_AUDIT_RETENTION_DAYS', doc: 'days audit log rows are kept', default: 365, min: 1, max: 36_500 }),
} as const satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;
type SettingName = keyof Settings;
type ValueOf<K extends SettingName> = ReturnType<Settings[K]['read']>;

/** Every setting that has a default, with it. */
export type Defaults = { readonly [K in SettingName as Settings[K]['default'] extends undefined ? never : K]: Settings[K]['default'] };

export const DEFAULTS: Defaults = Object.freeze(
  Object.fromEntries(Object.entries(SETTINGS as Record<string, Setting>).flatMap(([k, s]) => (s.default === undefined ? [] : [[k, s.default]]))),
) as Defaults;

type FlagSetting = { [K in SettingName]: Settings[K] extends { flag: string } ? K : never }[SettingName];

/** Values given on the command line; `undefined` means "not given", so env or default applies. */
export type ConfigFlags = { [K in FlagSetting]?: string | undefined };

// ---------------------------------------------------------------------------------------------
// The configuration the node runs with

/** The node's whole configuration, typed and checked; see SETTINGS for each value's setting. */
export interface Config {
  /** Keys, the embedded database and the lock file live here. */
  dataDir: string;
  /** PostgreSQL connection string; unset means embedded PGlite in `<dataDir>/pgdata`. */
  databaseUrl: string | undefined;
  /**
   * A tarball of an empty embedded database (`createPgliteTemplate`) that a new `<dataDir>/pgdata` is
   * unpacked from instead of running initdb, which takes seconds per database (the test suite sets it).
   */
  pgliteTemplate: string | undefined;
  http: { host: string; port: number };
  /** libp2p listen multiaddr. */
  p2p: string;
  /** Roster genesis file; none: a development alliance. */
  genesis: string | undefined;
  /**
   * Admin key file this node signs roster proposals with when an admin approves them through
   * GraphQL; none: proposals are signed offline (`alliance admin sign`) and submitted with
   * `submitRosterEntry`.
   */
  adminKeyFile: string | undefined;
  logLevel: LogLevel;
  /**
   * One `request completed` line per HTTP request at info (never a query string). A node answering
   * thousands of lookups a second may leave them to the metrics.
   */
  logRequests: boolean;
  /** Bearer token `/metrics` asks for; none: `/metrics` is open to whoever reaches the HTTP port. */
  metricsToken: string | undefined;
  auth: AuthConfig;
  limits: LimitsConfig;
  /** Largest pool of PostgreSQL connections (lookups and audit inserts run on a second one of the same size). */
  dbPoolSize: number;
  /** Region (ISO 3166-1 alpha-2) for national phone numbers and business ids of records that give none. */
  defaultRegion: string | undefined;
  exchange: ExchangeConfig;
  lookup: LookupConfig;
  audit: AuditConfig;
}

/** Per-subject quota on `lookup` and `normalize` (a token bucket per token subject, in this process). */
export interface LookupConfig {
  /** Identifiers a subject may look up per minute, sustained; 0 turns the quota off. */
  ratePerMinute: number;
  /** Identifiers a subject may look up at once after being idle (the bucket's size). */
  burst: number;
}

export interface AuditConfig {
  /** Days audit rows are kept before the node deletes them. */
  retentionDays: number;
}

/** Publishing and receiving indicators (docs/architecture.md, "The exchange"). */
export interface ExchangeConfig {
  /** Days indicators of a previous epoch stay matchable (and may still arrive) after the next epoch starts. */
  epochGraceDays: number;
  /** Days peers match an indicator after it is published (it is refreshed before). */
  indicatorLifetimeDays: number;
  /** How long record changes are collected into one batch before it is signed, ms. */
  publishWindowMs: number;
  /** Most indicators per published batch. */
  batchItems: number;
  /** libp2p private-network pre-shared key file (`@libp2p/pnet` swarm key). */
  pskFile: string | undefined;
  /** How often heads are exchanged with every connected peer, ms. */
  headsIntervalMs: number;
  /** The P2P listener's limits on connections not yet known to be members' (node/p2p/host.ts, ConnectionLimits). */
  connectionLimits: P2pConnectionLimits;
}

/**
 * Until its handshake ends, an inbound P2P connection is known only by its address; these keep
 * connections an outsider opens and never completes from taking the room members need.
 */
export interface P2pConnectionLimits {
  /** Longest handshake (pnet, noise, yamux) of an inbound connection, ms. */
  handshakeTimeoutMs: number;
  /** Most inbound connections in their handshake at once. */
  maxPending: number;
  /** Of those, how many only members' known addresses may use. */
  reservedPending: number;
  /** Most inbound connections in their handshake from one address. */
  pendingPerAddress: number;
  /** Most new inbound connections per second from one address. */
  connectionsPerSecond: number;
}

export interface AuthConfig {
  /** `iss` of tokens this node issues and accepts. */
  issuer: string;
  /** `aud` required in every token. */
  audience: string;
  /** External identity provider's JWKS URL. */
  jwksUrl: string | undefined;
  /** Issuer pinned for the external provider; required with `jwksUrl`. */
  jwksIssuer: string | undefined;
  /** Algorithms accepted from the external provider. */
  jwksAlgorithms: string[];
  /** Claim holding the role(s) in external tokens. */
  jwksRoleClaim: string;
}

export interface LimitsConfig {
  /** Largest HTTP request body in bytes. */
  bodyBytes: number;
  /** Deepest GraphQL selection. */
  queryDepth: number;
  /** Most aliases in one document. */
  aliases: number;
  /** Most lexical tokens in one document. */
  tokens: number;
  /** Longest document text, in characters (long values belong in variables). */
  documentChars: number;
  /** Most JSON values in one request's variables (each is coerced before any resolver runs). */
  variableValues: number;
  /** Most field values one operation may resolve, lists counted at the page size asked for (a full page of 500 records with every field is about 15,000). */
  cost: number;
  /** Open subscriptions on one WebSocket. */
  subscriptionsPerSocket: number;
  /** Open WebSockets of one token subject (per API process). */
  socketsPerSubject: number;
  /** Most records per `importRecords` call. */
  importRecords: number;
}

type Env = Record<string, string | undefined>;

/** Reads every setting, in the table's order; the first invalid one throws its ConfigError. */
function readSettings(flags: ConfigFlags, env: Env): { [K in SettingName]: ValueOf<K> } {
  const read: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS as Record<string, Setting>)) {
    const flag = setting.flag === undefined ? undefined : (flags as Record<string, string | undefined>)[key];
    const fromEnv = env[setting.env];
    const raw = flag ?? (fromEnv === '' ? undefined : fromEnv);
    read[key] = setting.read(raw, flag !== undefined ? setting.flag! : setting.env, read);
  }
  return read as { [K in SettingName]: ValueOf<K> };
}

export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env): Config {
  const s = readSettings(flags, env);
  if (s.jwksUrl !== undefined && s.jwksIssuer === undefined) {
    throw new ConfigError(SETTINGS.jwksIssuer.env, `is required when ${SETTINGS.jwksUrl.env} is set (the issuer is pinned)`);
  }
  return {
    dataDir: s.dataDir,
    databaseUrl: s.databaseUrl,
    pgliteTemplate: s.pgliteTemplate,
    http: s.http,
    p2p: s.p2p,
    genesis: s.genesis,
    adminKeyFile: s.adminKeyFile,
    logLevel: s.logLevel,
    logRequests: s.logRequests,
    metricsToken: s.metricsToken,
    auth: {
      issuer: s.issuer,
      audience: s.audience,
      jwksUrl: s.jwksUrl,
      jwksIssuer: s.jwksIssuer,
      jwksAlgorithms: s.jwksAlgorithms,
      jwksRoleClaim: s.jwksRoleClaim,
    },
    limits: {
      bodyBytes: s.bodyBytes,
      queryDepth: s.queryDepth,
      aliases: s.aliases,
      tokens: s.tokens,
      documentChars: s.documentChars,
      variableValues: s.variableValues,
      cost: s.cost,
      subscriptionsPerSocket: s.subscriptionsPerSocket,
      socketsPerSubject: s.socketsPerSubject,
      importRecords: s.importRecords,
    },
    dbPoolSize: s.dbPoolSize,
    defaultRegion: s.defaultRegion,
    exchange: {
      epochGraceDays: s.epochGraceDays,
      indicatorLifetimeDays: s.indicatorLifetimeDays,
      publishWindowMs: s.publishWindowMs,
      batchItems: s.batchItems,
      pskFile: s.pskFile,
      headsIntervalMs: s.headsIntervalMs,
      connectionLimits: {
        handshakeTimeoutMs: s.p2pHandshakeTimeoutMs,
        maxPending: s.p2pMaxPending,
        reservedPending: s.p2pReservedPending,
        pendingPerAddress: s.p2pPendingPerAddress,
        connectionsPerSecond: s.p2pConnectionsPerSecond,
      },
    },
    lookup: { ratePerMinute: s.lookupRatePerMinute, burst: s.lookupBurst },
    audit: { retentionDays: s.auditRetentionDays },
  };
}

// ---------------------------------------------------------------------------------------------
// The docs

/** A default as the docs table shows it: numbers plain, text and booleans as code, none as a dash. */
function defaultCell(d: Default): string {
  if (d === undefined) return '—';
  return typeof d === 'number' ? String(d) : `\`${d}\``;
}

/** The configuration table of docs/operator.md (Markdown, one row per setting, in the table's order). */
export function settingsMarkdown(): string {
  const row = (cells: string[]) => `|${cells.map((c) => (c === '' ? ' ' : ` ${c} `)).join('|')}|`;
  const lines = [row(['setting', 'flag', 'environment', 'default']), '|---|---|---|---|'];
  for (const s of Object.values(SETTINGS as Record<string, Setting>)) {
    const flag = s.flag === undefined ? '' : `\`${s.flag}\`${s.flagOf === undefined ? '' : ` (${s.flagOf})`}`;
    lines.push(row([s.doc, flag, `\`${s.env}\``, defaultCell(s.default)]));
  }
  return `${lines.join('\n')}\n`;
}
