import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverAudits, type AuditResult } from 'graphql-http';
import { startTestApi, type TestApi } from '../../helpers/api.ts';

const describeResult = (r: AuditResult) => `${r.id} ${r.name}${'reason' in r ? `: ${r.reason}` : ''}`;

/**
 * The GraphQL over HTTP audit of the graphql-http package against the real server, with a valid
 * token on every request. MUSTs failing are 'error', SHOULDs 'warn', MAYs 'notice'.
 */
describe('GraphQL over HTTP audit (graphql-http serverAudits)', () => {
  let t: TestApi;
  let results: AuditResult[];

  beforeAll(async () => {
    t = await startTestApi();
    const token = await t.token('analyst');
    results = await Promise.all(
      serverAudits({
        url: t.graphqlUrl,
        fetchFn: (input: string | URL | Request, init?: RequestInit) => {
          const headers = new Headers(init?.headers);
          headers.set('authorization', `Bearer ${token}`);
          return fetch(input, { ...init, headers });
        },
      }).map((audit) => audit.fn()),
    );
  });
  afterAll(() => t?.close());

  it('runs the whole audit', () => {
    expect(results.length).toBeGreaterThan(40);
    expect(results.filter((r) => r.status === 'ok').length).toBeGreaterThan(results.length * 0.9);
  });

  it('has no errors (every MUST holds)', () => {
    expect(results.filter((r) => r.status === 'error').map(describeResult), 'failing MUST audits').toEqual([]);
  });

  it('has no warnings (every SHOULD holds)', () => {
    expect(results.filter((r) => r.status === 'warn').map(describeResult), 'failing SHOULD audits').toEqual([]);
  });

  it('the only MAYs not taken are GETs without a CSRF preflight header', () => {
    const notices = results.filter((r) => r.status === 'notice');
    if (notices.length) console.info(`graphql-http audit notices (MAY):\n${notices.map((r) => `  ${describeResult(r)}`).join('\n')}`);
    // Those requests carry neither a JSON content type nor a preflight header: refused as possible CSRF.
    expect(notices.every((r) => /GET/.test(r.name)), notices.map(describeResult).join('\n')).toBe(true);
  });
});
