import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { ConfigError, DEFAULTS, loadConfig, parseHostPort, SETTINGS, settingsMarkdown, type ConfigFlags, type Setting } from '../../node/config.ts';
import { DEFAULT_CONNECTION_LIMITS } from '../../node/p2p/host.ts';
import { withSettingsTable } from '../../scripts/docs/settings-table.ts';

/** The ConfigError loadConfig throws, so its setting and message can be checked. */
function configError(flags: ConfigFlags, env: Record<string, string>): ConfigError {
  try {
    loadConfig(flags, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify({ flags, env })}`);
}

describe('loadConfig precedence: flags > env > defaults', () => {
  it('defaults when neither is given', () => {
    const c = loadConfig({}, {});
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.http).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(c.p2p).toBe('/ip4/0.0.0.0/tcp/4001');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.genesis).toBeUndefined();
    expect(c.adminKeyFile).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.auth).toMatchObject({ issuer: 'alliance-node', audience: 'alliance-api', jwksUrl: undefined, jwksAlgorithms: ['RS256', 'ES256', 'EdDSA'] });
    expect(c.limits).toEqual({
      bodyBytes: DEFAULTS.bodyBytes,
      queryDepth: DEFAULTS.queryDepth,
      aliases: DEFAULTS.aliases,
      tokens: DEFAULTS.tokens,
      documentChars: DEFAULTS.documentChars,
      variableValues: DEFAULTS.variableValues,
      cost: DEFAULTS.cost,
      subscriptionsPerSocket: DEFAULTS.subscriptionsPerSocket,
      socketsPerSubject: DEFAULTS.socketsPerSubject,
      importRecords: DEFAULTS.importRecords,
    });
  });

  const env = {
    ALLIANCE_DATA_DIR: '/srv/env-data',
    ALLIANCE_HTTP: '0.0.0.0:5000',
    ALLIANCE_P2P: '/ip4/10.0.0.1/tcp/5001',
    DATABASE_URL: 'postgres://env@db:5432/env',
    ALLIANCE_LOG_LEVEL: 'warn',
    ALLIANCE_GENESIS: '/srv/env-genesis.json',
    ALLIANCE_ADMIN_KEY: '/srv/admin.json',
  };

  it('env beats defaults', () => {
    const c = loadConfig({}, env);
    expect(c.dataDir).toBe('/srv/env-data');
    expect(c.http).toEqual({ host: '0.0.0.0', port: 5000 });
    expect(c.p2p).toBe('/ip4/10.0.0.1/tcp/5001');
    expect(c.databaseUrl).toBe('postgres://env@db:5432/env');
    expect(c.logLevel).toBe('warn');
    expect(c.genesis).toBe('/srv/env-genesis.json');
    expect(c.adminKeyFile).toBe('/srv/admin.json');
  });

  it('flags beat env', () => {
    const c = loadConfig(
      { dataDir: 'rel/flag-data', http: '[::1]:6000', p2p: '/ip6/::1/tcp/6001', databaseUrl: 'postgresql://flag@h/flag', logLevel: 'debug', genesis: 'g.json' },
      env,
    );
    expect(c.dataDir).toBe(path.resolve('rel/flag-data'));
    expect(c.http).toEqual({ host: '::1', port: 6000 });
    expect(c.p2p).toBe('/ip6/::1/tcp/6001');
    expect(c.databaseUrl).toBe('postgresql://flag@h/flag');
    expect(c.logLevel).toBe('debug');
    expect(c.genesis).toBe('g.json');
  });

  it('each setting falls back on its own (a flag for one does not hide env for another)', () => {
    const c = loadConfig({ http: '127.0.0.1:7000' }, env);
    expect(c.http.port).toBe(7000);
    expect(c.dataDir).toBe('/srv/env-data');
    expect(c.databaseUrl).toBe('postgres://env@db:5432/env');
  });

  it('an empty env value counts as unset', () => {
    const c = loadConfig({}, { ALLIANCE_DATA_DIR: '', ALLIANCE_HTTP: '', DATABASE_URL: '', ALLIANCE_MAX_DEPTH: '' });
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.http.port).toBe(4000);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.limits.queryDepth).toBe(DEFAULTS.queryDepth);
  });

  it('reads limits, auth and the external identity provider from env', () => {
    const c = loadConfig(
      {},
      {
        ALLIANCE_MAX_DEPTH: '7',
        ALLIANCE_MAX_COST: '1234',
        ALLIANCE_TOKEN_AUDIENCE: 'aud-x',
        ALLIANCE_JWKS_URL: 'https://idp.example/jwks',
        ALLIANCE_JWKS_ISSUER: 'https://idp.example/',
        ALLIANCE_JWKS_ALGORITHMS: ' ES256 , RS256 ',
      },
    );
    expect(c.limits.queryDepth).toBe(7);
    expect(c.limits.cost).toBe(1234);
    expect(c.auth).toMatchObject({ audience: 'aud-x', jwksUrl: 'https://idp.example/jwks', jwksIssuer: 'https://idp.example/', jwksAlgorithms: ['ES256', 'RS256'] });
  });

  it('reads the exchange settings from env, with documented defaults', () => {
    const connectionLimits = { handshakeTimeoutMs: 5000, maxPending: 32, reservedPending: 8, pendingPerAddress: 4, connectionsPerSecond: 5 };
    expect(loadConfig({}, {}).exchange).toEqual({ epochGraceDays: 7, indicatorLifetimeDays: 365, publishWindowMs: 100, batchItems: 1000, pskFile: undefined, headsIntervalMs: 30_000, connectionLimits });
    // The node's defaults are the host's: one policy, written down twice only so config.ts stays free of libp2p.
    expect(connectionLimits).toEqual(DEFAULT_CONNECTION_LIMITS);
    const c = loadConfig(
      {},
      {
        ALLIANCE_EPOCH_GRACE_DAYS: '0',
        ALLIANCE_INDICATOR_LIFETIME_DAYS: '30',
        ALLIANCE_PUBLISH_WINDOW_MS: '20',
        ALLIANCE_BATCH_ITEMS: '50',
        ALLIANCE_P2P_PSK: '/etc/alliance/swarm.key',
        ALLIANCE_HEADS_INTERVAL_MS: '500',
        ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS: '1500',
        ALLIANCE_P2P_MAX_PENDING: '100',
        ALLIANCE_P2P_RESERVED_PENDING: '99',
        ALLIANCE_P2P_PENDING_PER_ADDRESS: '12',
        ALLIANCE_P2P_CONNECTIONS_PER_SECOND: '20',
      },
    );
    expect(c.exchange).toEqual({
      epochGraceDays: 0,
      indicatorLifetimeDays: 30,
      publishWindowMs: 20,
      batchItems: 50,
      pskFile: '/etc/alliance/swarm.key',
      headsIntervalMs: 500,
      connectionLimits: { handshakeTimeoutMs: 1500, maxPending: 100, reservedPending: 99, pendingPerAddress: 12, connectionsPerSecond: 20 },
    });
    // A smaller pool takes the defaults that still fit it.
    expect(loadConfig({}, { ALLIANCE_P2P_MAX_PENDING: '3' }).exchange.connectionLimits).toMatchObject({ maxPending: 3, reservedPending: 2, pendingPerAddress: 3 });
  });

  it('parseHostPort reads host:port, [v6]:port and a bare port', () => {
    expect(parseHostPort('localhost:80', 'x')).toEqual({ host: 'localhost', port: 80 });
    expect(parseHostPort('[::]:4000', 'x')).toEqual({ host: '::', port: 4000 });
    expect(parseHostPort('4000', 'x')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseHostPort(':4000', 'x')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseHostPort('0', 'x')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('10.1.2.3:65535', 'x')).toEqual({ host: '10.1.2.3', port: 65535 });
  });
});

describe('invalid settings give a ConfigError naming the setting', () => {
  const cases: [string, ConfigFlags, Record<string, string>, string, RegExp][] = [
    ['ALLIANCE_HTTP not host:port', {}, { ALLIANCE_HTTP: 'nope' }, 'ALLIANCE_HTTP', /"nope" is not HOST:PORT/],
    ['ALLIANCE_HTTP port above 65535', {}, { ALLIANCE_HTTP: '127.0.0.1:70000' }, 'ALLIANCE_HTTP', /port 70000 is above 65535/],
    ['ALLIANCE_HTTP without a port', {}, { ALLIANCE_HTTP: 'localhost:' }, 'ALLIANCE_HTTP', /HOST:PORT/],
    ['ALLIANCE_HTTP with a space in the host', {}, { ALLIANCE_HTTP: 'my host:80' }, 'ALLIANCE_HTTP', /HOST:PORT/],
    ['ALLIANCE_HTTP with a v6 address unbracketed', {}, { ALLIANCE_HTTP: '::1:80' }, 'ALLIANCE_HTTP', /HOST:PORT/],
    ['--http invalid (named as the flag)', { http: 'nope' }, { ALLIANCE_HTTP: '127.0.0.1:1' }, '--http', /"nope" is not HOST:PORT/],
    ['ALLIANCE_P2P not a multiaddr', {}, { ALLIANCE_P2P: 'tcp://0.0.0.0:4001' }, 'ALLIANCE_P2P', /not a multiaddr/],
    ['--p2p not a multiaddr', { p2p: 'nope' }, {}, '--p2p', /not a multiaddr/],
    ['DATABASE_URL with another scheme', {}, { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /scheme mysql: is not postgres/],
    ['DATABASE_URL not a URL', {}, { DATABASE_URL: 'localhost/db' }, 'DATABASE_URL', /not a URL/],
    ['--database-url with another scheme', { databaseUrl: 'sqlite://x' }, {}, '--database-url', /scheme sqlite:/],
    ['ALLIANCE_LOG_LEVEL unknown', {}, { ALLIANCE_LOG_LEVEL: 'loud' }, 'ALLIANCE_LOG_LEVEL', /"loud" is not one of fatal, error, warn, info, debug, trace, silent/],
    ['--log-level unknown', { logLevel: 'LOUD' }, {}, '--log-level', /"LOUD" is not one of/],
    ['ALLIANCE_MAX_DEPTH not a number', {}, { ALLIANCE_MAX_DEPTH: 'abc' }, 'ALLIANCE_MAX_DEPTH', /"abc" is not a whole number/],
    ['ALLIANCE_MAX_DEPTH negative', {}, { ALLIANCE_MAX_DEPTH: '-3' }, 'ALLIANCE_MAX_DEPTH', /not a whole number/],
    ['ALLIANCE_MAX_DEPTH fractional', {}, { ALLIANCE_MAX_DEPTH: '2.5' }, 'ALLIANCE_MAX_DEPTH', /not a whole number/],
    ['ALLIANCE_MAX_DEPTH below its minimum', {}, { ALLIANCE_MAX_DEPTH: '1' }, 'ALLIANCE_MAX_DEPTH', /1 is outside 2\.\.100/],
    ['ALLIANCE_MAX_COST too high', {}, { ALLIANCE_MAX_COST: '99999999999' }, 'ALLIANCE_MAX_COST', /outside/],
    ['ALLIANCE_MAX_BODY_BYTES not a number', {}, { ALLIANCE_MAX_BODY_BYTES: '8MB' }, 'ALLIANCE_MAX_BODY_BYTES', /not a whole number/],
    ['ALLIANCE_EPOCH_GRACE_DAYS negative', {}, { ALLIANCE_EPOCH_GRACE_DAYS: '-1' }, 'ALLIANCE_EPOCH_GRACE_DAYS', /not a whole number/],
    ['ALLIANCE_EPOCH_GRACE_DAYS over a year', {}, { ALLIANCE_EPOCH_GRACE_DAYS: '400' }, 'ALLIANCE_EPOCH_GRACE_DAYS', /outside 0\.\.365/],
    ['ALLIANCE_BATCH_ITEMS over the wire limit', {}, { ALLIANCE_BATCH_ITEMS: '1001' }, 'ALLIANCE_BATCH_ITEMS', /outside 1\.\.1000/],
    ['ALLIANCE_INDICATOR_LIFETIME_DAYS zero', {}, { ALLIANCE_INDICATOR_LIFETIME_DAYS: '0' }, 'ALLIANCE_INDICATOR_LIFETIME_DAYS', /outside 1\.\./],
    ['ALLIANCE_HEADS_INTERVAL_MS too small', {}, { ALLIANCE_HEADS_INTERVAL_MS: '10' }, 'ALLIANCE_HEADS_INTERVAL_MS', /outside 100\.\./],
    ['ALLIANCE_DB_POOL zero', {}, { ALLIANCE_DB_POOL: '0' }, 'ALLIANCE_DB_POOL', /outside 1\.\./],
    ['ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS too short', {}, { ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS: '99' }, 'ALLIANCE_P2P_HANDSHAKE_TIMEOUT_MS', /99 is outside 100\.\.600000/],
    ['ALLIANCE_P2P_MAX_PENDING zero', {}, { ALLIANCE_P2P_MAX_PENDING: '0' }, 'ALLIANCE_P2P_MAX_PENDING', /outside 1\.\./],
    ['ALLIANCE_P2P_RESERVED_PENDING all of the pending room', {}, { ALLIANCE_P2P_MAX_PENDING: '10', ALLIANCE_P2P_RESERVED_PENDING: '10' }, 'ALLIANCE_P2P_RESERVED_PENDING', /10 is outside 0\.\.9/],
    ['ALLIANCE_P2P_PENDING_PER_ADDRESS above the pending room', {}, { ALLIANCE_P2P_MAX_PENDING: '10', ALLIANCE_P2P_PENDING_PER_ADDRESS: '11' }, 'ALLIANCE_P2P_PENDING_PER_ADDRESS', /11 is outside 1\.\.10/],
    ['ALLIANCE_P2P_PENDING_PER_ADDRESS zero', {}, { ALLIANCE_P2P_PENDING_PER_ADDRESS: '0' }, 'ALLIANCE_P2P_PENDING_PER_ADDRESS', /outside 1\.\./],
    ['ALLIANCE_P2P_CONNECTIONS_PER_SECOND not a number', {}, { ALLIANCE_P2P_CONNECTIONS_PER_SECOND: 'many' }, 'ALLIANCE_P2P_CONNECTIONS_PER_SECOND', /not a whole number/],
    ['ALLIANCE_JWKS_URL without ALLIANCE_JWKS_ISSUER', {}, { ALLIANCE_JWKS_URL: 'https://idp.example/jwks' }, 'ALLIANCE_JWKS_ISSUER', /required when ALLIANCE_JWKS_URL is set/],
    ['ALLIANCE_JWKS_URL not a URL', {}, { ALLIANCE_JWKS_URL: 'idp.example/jwks', ALLIANCE_JWKS_ISSUER: 'i' }, 'ALLIANCE_JWKS_URL', /not a URL/],
    ['ALLIANCE_JWKS_URL not http(s)', {}, { ALLIANCE_JWKS_URL: 'file:///etc/jwks.json', ALLIANCE_JWKS_ISSUER: 'i' }, 'ALLIANCE_JWKS_URL', /http\(s\)/],
    ['ALLIANCE_JWKS_ALGORITHMS with HS256', {}, { ALLIANCE_JWKS_ALGORITHMS: 'RS256,HS256' }, 'ALLIANCE_JWKS_ALGORITHMS', /HS256 is not allowed/],
    ['ALLIANCE_JWKS_ALGORITHMS with none', {}, { ALLIANCE_JWKS_ALGORITHMS: 'none' }, 'ALLIANCE_JWKS_ALGORITHMS', /none is not allowed/],
    ['ALLIANCE_JWKS_ALGORITHMS with lower-case hs512', {}, { ALLIANCE_JWKS_ALGORITHMS: 'ES256,hs512' }, 'ALLIANCE_JWKS_ALGORITHMS', /hs512 is not allowed/],
    ['ALLIANCE_JWKS_ALGORITHMS with an unknown name', {}, { ALLIANCE_JWKS_ALGORITHMS: 'RSA-OAEP' }, 'ALLIANCE_JWKS_ALGORITHMS', /RSA-OAEP is not allowed/],
    ['ALLIANCE_JWKS_ALGORITHMS empty list', {}, { ALLIANCE_JWKS_ALGORITHMS: ' , ' }, 'ALLIANCE_JWKS_ALGORITHMS', /lists no algorithm/],
  ];

  it.each(cases)('%s', (_name, flags, env, setting, message) => {
    const err = configError(flags, env);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details).toEqual({ setting });
    expect(err.message).toContain(`invalid setting ${setting}:`);
    expect(err.message).toMatch(message);
  });
});

describe('the settings table', () => {
  const settings = Object.entries(SETTINGS as Record<string, Setting>);

  it('is what the operator guide says: its configuration table is the one the settings make', () => {
    const readme = fs.readFileSync(new URL('../../docs/operator.md', import.meta.url), 'utf8');
    // On failure: node scripts/docs/settings-table.ts --write
    expect(withSettingsTable(readme, settingsMarkdown())).toBe(readme);
    expect(settingsMarkdown().split('\n')).toHaveLength(settings.length + 3);
  });

  it('names each variable and flag once, and gives DEFAULTS the defaults it reads', () => {
    const envs = settings.map(([, s]) => s.env);
    expect(new Set(envs).size).toBe(envs.length);
    const flags = settings.flatMap(([, s]) => (s.flag === undefined ? [] : [s.flag]));
    expect(new Set(flags).size).toBe(flags.length);
    expect(Object.keys(DEFAULTS)).toEqual(settings.filter(([, s]) => s.default !== undefined).map(([k]) => k));
    for (const [key, s] of settings) if (s.default !== undefined) expect(DEFAULTS[key as keyof typeof DEFAULTS]).toBe(s.default);
  });

  it.each(settings.filter(([, s]) => s.min !== undefined))('reads %s within its bounds, the bounds included, and refuses past them', (_, s) => {
    const { min, max } = s as Required<Pick<Setting, 'min' | 'max'>>;
    expect(min).toBeLessThanOrEqual(s.default as number);
    expect(max).toBeGreaterThanOrEqual(s.default as number);
    // Bounds that depend on another setting (reserved and per-address pending, under max pending) are read with room for them.
    const room = { ALLIANCE_P2P_MAX_PENDING: '100000' };
    const at = (v: number) => s.read(String(v), s.env, { p2pMaxPending: 100_000 });
    expect(at(min)).toBe(min);
    expect(at(max)).toBe(max);
    expect(() => loadConfig({}, { ...room, [s.env]: String(max + 1) })).toThrow(`invalid setting ${s.env}: ${max + 1} is outside ${min}..${max}`);
    if (min > 0) expect(() => loadConfig({}, { ...room, [s.env]: String(min - 1) })).toThrow(`invalid setting ${s.env}: ${min - 1} is outside ${min}..${max}`);
    expect(() => loadConfig({}, { [s.env]: '1e3' })).toThrow(`invalid setting ${s.env}: "1e3" is not a whole number`);
  });

  it('reads every text and boolean default through the same checks as a value given', () => {
    for (const [, s] of settings) {
      if (s.default === undefined || typeof s.default === 'number') continue;
      expect(s.read(undefined, s.env, {})).toEqual(s.read(String(s.default), s.env, {}));
    }
    expect(() => loadConfig({}, { ALLIANCE_LOG_REQUESTS: 'yes' })).toThrow('invalid setting ALLIANCE_LOG_REQUESTS: "yes" is not true or false');
  });
});
