import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../node/config.ts';
import { logCollector, startTestApi, type TestApi } from '../../helpers/api.ts';

interface Line {
  msg: string;
  level: number;
  reqId?: string;
  req?: { method: string; path: string };
  res?: { statusCode: number };
  responseTime?: number;
}

describe('request log', () => {
  let t: TestApi | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line);
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it('writes one line per request at info, with id, method, path without query, status and time', async () => {
    const logs = logCollector('info');
    t = await startTestApi({ logger: logs.logger });
    const res = await t.fetch('/graphql?query=%7B__typename%7D');
    await t.fetch('/healthz');
    await settle();
    const id = res.headers.get('x-request-id')!;
    const mine = parse(logs.lines).filter((l) => l.reqId === id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ msg: 'request completed', level: 30, req: { method: 'GET', path: '/graphql' }, res: { statusCode: res.status } });
    expect(mine[0]!.responseTime).toBeGreaterThan(0);
    expect(logs.lines.join('\n')).not.toContain('__typename');
    expect(parse(logs.lines).filter((l) => l.msg === 'request completed')).toHaveLength(2);
    expect(parse(logs.lines).some((l) => l.msg === 'incoming request')).toBe(false);
  });

  it('logs arrivals too at debug', async () => {
    const logs = logCollector('debug');
    t = await startTestApi({ logger: logs.logger });
    const res = await t.fetch('/healthz');
    await settle();
    const mine = parse(logs.lines).filter((l) => l.reqId === res.headers.get('x-request-id'));
    expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    expect(mine[0]).toMatchObject({ level: 20, req: { method: 'GET', path: '/healthz' } });
  });

  it('writes none with ALLIANCE_LOG_REQUESTS=false, and errors still', async () => {
    const logs = logCollector('info');
    t = await startTestApi({ logger: logs.logger, logRequests: false });
    expect((await t.fetch('/healthz')).status).toBe(200);
    expect((await t.gql('{ records { totalCount } }', undefined, await t.token('analyst'))).status).toBe(200);
    await t.db.close();
    const failed = await t.gql('{ records { totalCount } }', undefined, await t.token('analyst'));
    expect(failed.body.errors![0]!.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    await settle();
    expect(parse(logs.lines).filter((l) => l.msg === 'request completed')).toEqual([]);
    expect(parse(logs.lines).some((l) => l.level >= 50)).toBe(true);
  });

  it('ALLIANCE_LOG_REQUESTS takes true or false only', () => {
    expect(loadConfig({}, {}).logRequests).toBe(true);
    expect(loadConfig({}, { ALLIANCE_LOG_REQUESTS: 'false' }).logRequests).toBe(false);
    expect(loadConfig({}, { ALLIANCE_LOG_REQUESTS: 'true' }).logRequests).toBe(true);
    expect(() => loadConfig({}, { ALLIANCE_LOG_REQUESTS: 'no' })).toThrow(/ALLIANCE_LOG_REQUESTS: "no" is not true or false/);
  });
});
