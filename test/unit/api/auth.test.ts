import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, Kind, parse, type ObjectTypeDefinitionNode, type ObjectTypeExtensionNode } from 'graphql';
import { SignJWT, base64url, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { AuthError, type Role } from '../../../node/api/auth.ts';
import { fieldRolesOf, loadSchemaSdl } from '../../../node/api/schema.ts';
import { apiKeyPath, issueToken, loadOrCreateApiKey, MAX_TOKEN_TTL_SECONDS, parseTtl } from '../../../node/api/tokens.ts';
import { CREATE_RECORD, startTestApi, type GqlResponse, type TestApi } from '../../helpers/api.ts';

const IDP_ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'alliance-api';
const VIEWER = '{ viewer { subject roles } }';

/** A tiny external identity provider: an ES256 key published as a JWKS over real HTTP. */
async function startIdp() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'idp-key-1', alg: 'ES256', use: 'sig' };
  let jwksRequests = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      jwksRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    publicJwk: jwk,
    get jwksRequests() {
      return jwksRequests;
    },
    sign(claims: Record<string, unknown>, opts: { iss?: string; aud?: string; sub?: string; expSeconds?: number; kid?: string } = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? 'idp-key-1', typ: 'JWT' })
        .setIssuer(opts.iss ?? IDP_ISSUER)
        .setAudience(opts.aud ?? AUDIENCE)
        .setSubject(opts.sub ?? 'alice@idp')
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSeconds ?? 300))
        .sign(privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function unsignedJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const enc = (o: Record<string, unknown>) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

function expectUnauthenticated(res: GqlResponse, message: RegExp, reason?: string) {
  expect(res.status).toBe(401);
  expect(res.body.data).toBeUndefined();
  expect(res.body.errors).toHaveLength(1);
  const err = res.body.errors![0]!;
  expect(err.extensions?.code).toBe('UNAUTHENTICATED');
  expect(err.message).toMatch(message);
  if (reason) expect(err.extensions?.reason).toBe(reason);
  expect(err.extensions?.requestId).toBe(res.headers.get('x-request-id'));
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
}

const newInput = (name: string) => ({ kind: 'SELLER', name, identifiers: [{ type: 'EMAIL', value: `${name.replace(/\W/g, '').toLowerCase()}@shop.example.com` }] });

describe('API authentication and roles', () => {
  let t: TestApi;
  let idp: Awaited<ReturnType<typeof startIdp>>;
  const claims = (extra: Record<string, unknown> = {}) => ({ role: 'admin', ...extra });

  /** A token signed with the node's own key, with every claim under the test's control. */
  const localToken = (payload: Record<string, unknown>, opts: { iss?: string; aud?: string; sub?: string | null; exp?: number } = {}) => {
    let jwt = new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: t.key.kid }).setIssuer(opts.iss ?? t.config.auth.issuer).setAudience(opts.aud ?? AUDIENCE);
    if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? 'mallory');
    return jwt.setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 300).sign(t.key.privateKey);
  };

  beforeAll(async () => {
    idp = await startIdp();
    t = await startTestApi({ auth: { jwksUrl: idp.jwksUrl, jwksIssuer: IDP_ISSUER, jwksAlgorithms: ['ES256', 'RS256'], jwksRoleClaim: 'roles' } });
  });
  afterAll(async () => {
    await t?.close();
    await idp?.close();
  });

  describe('tokens that are refused with 401 UNAUTHENTICATED', () => {
    it('no Authorization header', async () => {
      expectUnauthenticated(await t.gql(VIEWER), /bearer token is required/, 'missing');
    });

    it('also for GET, before anything else is looked at', async () => {
      const res = await t.fetch(`/graphql?query=${encodeURIComponent(VIEWER)}`, { headers: { 'mercurius-require-preflight': 'true' } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as GqlResponse['body']).errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
    });

    it.each([
      ['Basic dXNlcjpwYXNz', /must be "Bearer <jwt>"/],
      ['Bearer', /must be "Bearer <jwt>"/],
      ['Bearer two tokens', /must be "Bearer <jwt>"/],
      ['Token abc.def.ghi', /must be "Bearer <jwt>"/],
    ])('malformed header %j', async (header, message) => {
      const res = await fetch(t.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: header }, body: JSON.stringify({ query: VIEWER }) });
      const body = (await res.json()) as GqlResponse['body'];
      expectUnauthenticated({ status: res.status, headers: res.headers, body }, message, 'malformed');
    });

    it('a bearer value that is not a JWT', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, 'not-a-jwt'), /not a JWT/);
      expectUnauthenticated(await t.gql(VIEWER, undefined, 'a.b.c'), /not a JWT/);
    });

    it('alg "none" (unsigned), with otherwise perfect claims', async () => {
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: t.config.auth.issuer, aud: AUDIENCE, sub: 'mallory', role: 'admin', exp: now + 300 };
      expectUnauthenticated(await t.gql(VIEWER, undefined, unsignedJwt({ alg: 'none', typ: 'JWT' }, payload)), /algorithm this node does not accept/, 'algorithm');
      expectUnauthenticated(await t.gql(VIEWER, undefined, unsignedJwt({ alg: 'None' }, payload)), /algorithm/, 'algorithm');
    });

    it('HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
      const jwk = t.key.publicJwk;
      const secrets: [string, Uint8Array][] = [
        ['raw public key bytes', base64url.decode(jwk.x!)],
        ['public JWK JSON', new TextEncoder().encode(JSON.stringify(jwk))],
        ['public key file text', new TextEncoder().encode(JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }))],
      ];
      for (const [, secret] of secrets) {
        const token = await new SignJWT({ role: 'admin' })
          .setProtectedHeader({ alg: 'HS256', kid: t.key.kid })
          .setIssuer(t.config.auth.issuer)
          .setAudience(AUDIENCE)
          .setSubject('mallory')
          .setExpirationTime('5m')
          .sign(secret);
        expectUnauthenticated(await t.gql(VIEWER, undefined, token), /algorithm this node does not accept/, 'algorithm');
      }
    });

    it('expired', async () => {
      const expired = await issueToken(t.key, t.config.auth, { role: 'admin', sub: 'late', ttlSeconds: -60 });
      expectUnauthenticated(await t.gql(VIEWER, undefined, expired), /has expired/, 'expired');
    });

    it('for another audience', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, await localToken(claims(), { aud: 'some-other-api' })), /another audience/, 'aud');
    });

    it('from an issuer this node does not accept', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, await localToken(claims(), { iss: 'https://evil.example/' })), /issuer this node does not accept/, 'issuer');
    });

    it('signed by another Ed25519 key', async () => {
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'EdDSA', kid: t.key.kid })
        .setIssuer(t.config.auth.issuer)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('5m')
        .sign(privateKey as CryptoKey);
      expectUnauthenticated(await t.gql(VIEWER, undefined, forged), /signature is not valid/, 'signature');
    });

    it('a tampered payload (role raised after signing)', async () => {
      const good = await t.token('trust');
      const [h, , s] = good.split('.');
      const payload = JSON.parse(new TextDecoder().decode(base64url.decode(good.split('.')[1]!))) as Record<string, unknown>;
      const tampered = `${h}.${base64url.encode(JSON.stringify({ ...payload, role: 'admin' }))}.${s}`;
      expectUnauthenticated(await t.gql(VIEWER, undefined, tampered), /signature is not valid/, 'signature');
    });

    it('with no role, or only roles this node does not know', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, await localToken({})), /carries no role/, 'role');
      expectUnauthenticated(await t.gql(VIEWER, undefined, await localToken({ role: 'superuser' })), /carries no role/, 'role');
      expectUnauthenticated(await t.gql(VIEWER, undefined, await localToken({ role: 'ADMIN' })), /carries no role/, 'role');
    });

    it('without a subject or an expiry', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, await localToken(claims(), { sub: null })), /not valid/);
      const noExp = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(t.config.auth.issuer).setAudience(AUDIENCE).setSubject('x').sign(t.key.privateKey);
      expectUnauthenticated(await t.gql(VIEWER, undefined, noExp), /not valid/);
    });
  });

  describe('roles', () => {
    it('a valid token is accepted and the viewer is its subject and role', async () => {
      for (const role of ['analyst', 'trust', 'admin'] as Role[]) {
        const res = await t.gql<{ viewer: { subject: string; roles: string[] } }>(VIEWER, undefined, await t.token(role, { sub: `someone-${role}` }));
        expect(res.status).toBe(200);
        expect(res.body.errors).toBeUndefined();
        expect(res.body.data!.viewer).toEqual({ subject: `someone-${role}`, roles: [role.toUpperCase()] });
      }
    });

    it('analyst can create, update, set status, delete, import and read records; changes name the analyst', async () => {
      const token = await t.token('analyst', { sub: 'ana' });
      const created = await t.gql<{ createRecord: { id: string; version: number } }>(CREATE_RECORD, { input: newInput('Analyst Shop') }, token);
      expect(created.body.errors).toBeUndefined();
      const id = created.body.data!.createRecord.id;

      const updated = await t.gql<{ updateRecord: { name: string; version: number; updatedBy: string } }>(
        'mutation($id: ID!) { updateRecord(id: $id, input: { name: "Analyst Shop 2" }) { name version updatedBy } }',
        { id },
        token,
      );
      expect(updated.body.errors).toBeUndefined();
      expect(updated.body.data!.updateRecord).toMatchObject({ name: 'Analyst Shop 2', version: 2, updatedBy: 'ana' });

      const status = await t.gql<{ setRecordStatus: { status: string } }>('mutation($id: ID!) { setRecordStatus(id: $id, status: CONFIRMED, reason: "test buy") { status } }', { id }, token);
      expect(status.body.data!.setRecordStatus.status).toBe('CONFIRMED');

      const read = await t.gql<{ record: { createdBy: string; history: { actor: string; role: string }[] } }>(
        'query($id: ID!) { record(id: $id) { createdBy history { actor role } } }',
        { id },
        token,
      );
      expect(read.body.data!.record.createdBy).toBe('ana');
      expect(read.body.data!.record.history.map((h) => h.actor)).toEqual(['ana', 'ana', 'ana']);
      expect(read.body.data!.record.history.every((h) => h.role === 'analyst')).toBe(true);

      const imported = await t.gql<{ importRecords: { imported: number; ids: string[] } }>(
        'mutation($r: [RecordInput!]!) { importRecords(records: $r) { imported ids } }',
        { r: [newInput('Imported One'), newInput('Imported Two')] },
        token,
      );
      expect(imported.body.errors).toBeUndefined();
      expect(imported.body.data!.importRecords.imported).toBe(2);

      const deleted = await t.gql<{ deleteRecord: { id: string } }>('mutation($id: ID!) { deleteRecord(id: $id, reason: "dup") { id } }', { id }, token);
      expect(deleted.body.data!.deleteRecord.id).toBe(id);
      const gone = await t.gql<{ record: unknown }>('query($id: ID!) { record(id: $id) { id } }', { id }, token);
      expect(gone.body.data!.record).toBeNull();
    });

    it('trust can read records but every records mutation is FORBIDDEN (200, data null) and writes nothing', async () => {
      const analyst = await t.token('analyst');
      const seed = await t.gql<{ createRecord: { id: string } }>(CREATE_RECORD, { input: newInput('Seen By Trust') }, analyst);
      const id = seed.body.data!.createRecord.id;
      const trust = await t.token('trust', { sub: 'tom' });

      const list = await t.gql<{ records: { totalCount: number; edges: { node: { id: string } }[] } }>('{ records(first: 500) { totalCount edges { node { id } } } }', undefined, trust);
      expect(list.status, JSON.stringify(list.body)).toBe(200);
      expect(list.body.errors).toBeUndefined();
      expect(list.body.data!.records.edges.map((e) => e.node.id)).toContain(id);
      const before = list.body.data!.records.totalCount;
      const one = await t.gql<{ record: { id: string } }>('query($id: ID!) { record(id: $id) { id name } }', { id }, trust);
      expect(one.body.data!.record.id).toBe(id);

      const mutations: [string, string, Record<string, unknown>][] = [
        ['createRecord', CREATE_RECORD, { input: newInput('Forbidden Create') }],
        ['updateRecord', 'mutation($id: ID!) { updateRecord(id: $id, input: { name: "Renamed By Trust" }) { id } }', { id }],
        ['setRecordStatus', 'mutation($id: ID!) { setRecordStatus(id: $id, status: CLEARED) { id } }', { id }],
        ['deleteRecord', 'mutation($id: ID!) { deleteRecord(id: $id) { id } }', { id }],
        ['importRecords', 'mutation($r: [RecordInput!]!) { importRecords(records: $r) { imported } }', { r: [newInput('Forbidden Import')] }],
      ];
      for (const [field, query, variables] of mutations) {
        const res = await t.gql(query, variables, trust);
        expect(res.status, field).toBe(200);
        expect(res.body.data, field).toBeNull();
        expect(res.body.errors, field).toHaveLength(1);
        const err = res.body.errors![0]!;
        expect(err.extensions?.code, field).toBe('FORBIDDEN');
        expect(err.message, field).toContain(`Mutation.${field}`);
        expect(err.path, field).toEqual([field]);
      }

      const after = await t.gql<{ records: { totalCount: number } }>('{ records { totalCount } }', undefined, trust);
      expect(after.body.data!.records.totalCount).toBe(before);
      const still = await t.gql<{ record: { name: string; status: string } }>('query($id: ID!) { record(id: $id) { name status } }', { id }, trust);
      expect(still.body.data!.record).toEqual({ name: 'Seen By Trust', status: 'SUSPECTED' });
    });

    it('admin can do everything', async () => {
      const admin = await t.token('admin', { sub: 'root' });
      const created = await t.gql<{ createRecord: { id: string } }>(CREATE_RECORD, { input: newInput('Admin Shop') }, admin);
      expect(created.body.errors).toBeUndefined();
      const id = created.body.data!.createRecord.id;
      const res = await t.gql<{ setRecordStatus: { status: string }; r: { createdBy: string } }>(
        'mutation($id: ID!) { setRecordStatus(id: $id, status: DISPUTED) { status } }',
        { id },
        admin,
      );
      expect(res.body.data!.setRecordStatus.status).toBe('DISPUTED');
      const read = await t.gql<{ record: { createdBy: string } }>('query($id: ID!) { record(id: $id) { createdBy } }', { id }, admin);
      expect(read.body.data!.record.createdBy).toBe('root');
      const del = await t.gql('mutation($id: ID!) { deleteRecord(id: $id) { id } }', { id }, admin);
      expect(del.body.errors).toBeUndefined();
    });

    it('a FORBIDDEN field in a query does not hide the fields the role may see', async () => {
      // Nullable root field (record) errors leave the others in place.
      const trust = await t.token('trust');
      const res = await t.gql<{ viewer: { subject: string }; records: unknown }>('{ viewer { subject } records(first: 1) { totalCount } }', undefined, trust);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.viewer.subject).toBe('test-trust');
    });
  });

  describe('the schema guards every root field', () => {
    it('every Query and Mutation field of the SDL carries @auth with at least one role', () => {
      const sdl = loadSchemaSdl();
      const doc = parse(sdl);
      const roots = doc.definitions.filter(
        (d): d is ObjectTypeDefinitionNode | ObjectTypeExtensionNode =>
          (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) && ['Query', 'Mutation', 'Subscription'].includes(d.name.value),
      );
      const fields = roots.flatMap((d) => (d.fields ?? []).map((f) => ({ key: `${d.name.value}.${f.name.value}`, f })));
      expect(fields.length).toBeGreaterThanOrEqual(8);
      const unguarded = fields.filter(({ f }) => {
        const auth = f.directives?.find((x) => x.name.value === 'auth');
        const roles = auth?.arguments?.find((a) => a.name.value === 'roles')?.value;
        return !(roles?.kind === Kind.LIST && roles.values.length > 0);
      });
      expect(unguarded.map((u) => u.key)).toEqual([]);

      // And the executable schema has no root field the guard map misses.
      const roles = fieldRolesOf(sdl);
      const schema = buildSchema(sdl);
      const executable = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
        type ? Object.keys(type.getFields()).map((f) => `${type.name}.${f}`) : [],
      );
      expect(executable.filter((k) => !roles.has(k))).toEqual([]);
      expect(roles.get('Mutation.createRecord')).toEqual(['analyst']);
      expect(roles.get('Query.records')).toEqual(['analyst', 'trust']);
    });

    it('fieldRolesOf refuses a root field without @auth, naming it', () => {
      const base = 'directive @auth(roles: [Role!]!) on FIELD_DEFINITION\nenum Role { ANALYST TRUST ADMIN }\n';
      expect(() => fieldRolesOf(`${base}type Query { ok: Int @auth(roles: [TRUST]) open: Int }`)).toThrow(/Query\.open/);
      expect(() => fieldRolesOf(`${base}type Query { ok: Int @auth(roles: [TRUST]) }\ntype Mutation\nextend type Mutation { wipe: Int }`)).toThrow(
        /Mutation\.wipe/,
      );
      expect(() => fieldRolesOf(`${base}type Query { ok: Int @auth(roles: [TRUST]) }\ntype Subscription { feed: Int }`)).toThrow(/Subscription\.feed/);
      // Non-root types need no @auth.
      expect(fieldRolesOf(`${base}type Query { ok: Thing @auth(roles: [TRUST]) }\ntype Thing { x: Int }`).get('Query.ok')).toEqual(['trust']);
    });
  });

  describe('external identity provider (JWKS, pinned issuer)', () => {
    it('accepts its token with the roles from the roles claim (array or space-separated string)', async () => {
      const token = await idp.sign({ roles: ['trust'] }, { sub: 'alice@idp' });
      const res = await t.gql<{ viewer: { subject: string; roles: string[] } }>(VIEWER, undefined, token);
      expect(res.status).toBe(200);
      expect(res.body.data!.viewer).toEqual({ subject: 'alice@idp', roles: ['TRUST'] });
      expect(idp.jwksRequests).toBeGreaterThanOrEqual(1);

      // Its roles are enforced like local ones.
      const forbidden = await t.gql(CREATE_RECORD, { input: newInput('IdP Trust Create') }, token);
      expect(forbidden.body.errors![0]!.extensions?.code).toBe('FORBIDDEN');

      const analyst = await idp.sign({ roles: 'analyst unknown-role' }, { sub: 'bob@idp' });
      const created = await t.gql<{ createRecord: { id: string } }>(CREATE_RECORD, { input: newInput('IdP Analyst Shop') }, analyst);
      expect(created.body.errors).toBeUndefined();
      const read = await t.gql<{ record: { createdBy: string } }>('query($id: ID!) { record(id: $id) { createdBy } }', { id: created.body.data!.createRecord.id }, analyst);
      expect(read.body.data!.record.createdBy).toBe('bob@idp');
    });

    it('refuses its key used under another issuer', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, await idp.sign({ roles: ['admin'] }, { iss: 'https://other-idp.example/' })), /issuer this node does not accept/, 'issuer');
      // Claiming to be this node: checked against the node's own key, which did not sign it.
      expectUnauthenticated(await t.gql(VIEWER, undefined, await idp.sign({ roles: ['admin'], role: 'admin' }, { iss: t.config.auth.issuer })), /not accept|not valid/);
    });

    it('refuses HS256 under its issuer (HMAC with its published key as secret)', async () => {
      const secret = new TextEncoder().encode(JSON.stringify(idp.publicJwk));
      const token = await new SignJWT({ roles: ['admin'] })
        .setProtectedHeader({ alg: 'HS256', kid: 'idp-key-1' })
        .setIssuer(IDP_ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('5m')
        .sign(secret);
      expectUnauthenticated(await t.gql(VIEWER, undefined, token), /algorithm this node does not accept/, 'algorithm');
      expectUnauthenticated(await t.gql(VIEWER, undefined, unsignedJwt({ alg: 'none' }, { iss: IDP_ISSUER, aud: AUDIENCE, sub: 'm', roles: ['admin'], exp: 9_999_999_999 })), /algorithm/, 'algorithm');
    });

    it('refuses its tokens when expired, for another audience, signed by a key it does not publish, or without a role', async () => {
      expectUnauthenticated(await t.gql(VIEWER, undefined, await idp.sign({ roles: ['trust'] }, { expSeconds: -120 })), /expired/, 'expired');
      expectUnauthenticated(await t.gql(VIEWER, undefined, await idp.sign({ roles: ['trust'] }, { aud: 'another-api' })), /another audience/, 'aud');
      expectUnauthenticated(await t.gql(VIEWER, undefined, await idp.sign({ groups: ['trust'] })), /carries no role/, 'role');
      const other = await generateKeyPair('ES256');
      const foreign = await new SignJWT({ roles: ['admin'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-key-1' })
        .setIssuer(IDP_ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('5m')
        .sign(other.privateKey);
      expectUnauthenticated(await t.gql(VIEWER, undefined, foreign), /signature is not valid/, 'signature');
    });
  });
});

describe('issuing tokens', () => {
  it('issueToken refuses unknown roles and bad subjects', async () => {
    const dir = fs.mkdtempSync('/tmp/alliance-key-');
    try {
      const key = await loadOrCreateApiKey(dir);
      const auth = { issuer: 'alliance-node', audience: 'alliance-api' };
      await expect(issueToken(key, auth, { role: 'root' as Role, sub: 'x', ttlSeconds: 60 })).rejects.toMatchObject({ code: 'ROLE_INVALID' });
      await expect(issueToken(key, auth, { role: 'ADMIN' as Role, sub: 'x', ttlSeconds: 60 })).rejects.toBeInstanceOf(AuthError);
      for (const sub of ['', 'has space', 'semi;colon', 'x'.repeat(129), 'new\nline', 'ünïcode']) {
        await expect(issueToken(key, auth, { role: 'analyst', sub, ttlSeconds: 60 }), JSON.stringify(sub)).rejects.toMatchObject({ code: 'SUBJECT_INVALID' });
      }
      const ok = await issueToken(key, auth, { role: 'analyst', sub: 'ops.team@acme:1', ttlSeconds: 60 });
      expect(ok.split('.')).toHaveLength(3);

      // The key is created once, owner-only, and reused.
      expect(key.created).toBe(true);
      expect(fs.statSync(apiKeyPath(dir)).mode & 0o077).toBe(0);
      const again = await loadOrCreateApiKey(dir);
      expect(again.created).toBe(false);
      expect(again.kid).toBe(key.kid);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parseTtl reads s/m/h/d lifetimes and refuses anything else', () => {
    expect(parseTtl('90s')).toBe(90);
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('8h')).toBe(28_800);
    expect(parseTtl(' 7d ')).toBe(604_800);
    expect(parseTtl('90d')).toBe(MAX_TOKEN_TTL_SECONDS);
    for (const bad of ['', '8', 'h', '-1h', '1.5h', '8H', '8 h', '2w', '0s', '0d', '91d', '2161h', '1234567s', '8h30m', 'forever']) {
      expect(() => parseTtl(bad), JSON.stringify(bad)).toThrow(AuthError);
      try {
        parseTtl(bad);
      } catch (err) {
        expect((err as AuthError).code).toBe('TTL_INVALID');
      }
    }
  });
});
