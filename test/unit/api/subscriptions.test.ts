/**
 * The WebSocket side of the API as graphql-transport-ws says and as a shared node needs: sockets
 * that never initialise are closed (4408), an id used twice closes the socket (4409) and every
 * subscription ends with its socket, a socket holds a bounded number of subscriptions and a token
 * subject a bounded number of sockets, another subprotocol is refused (4406) without a word on
 * stdout, and only subscriptions are served.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApi, type TestApi } from '../../helpers/api.ts';
import { WsClient, waitForSubscribers } from '../../helpers/ws-client.ts';

const SUB = 'subscription { matchFound { id } }';

describe('subscriptions over WebSocket', () => {
  let t: TestApi;
  let token: string;
  const init = async (tok = token) => {
    const c = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${tok}` });
    await c.next((m) => m.type === 'connection_ack');
    return c;
  };

  beforeAll(async () => {
    t = await startTestApi({ limits: { subscriptionsPerSocket: 3, socketsPerSubject: 4 }, subscriptionInitTimeoutMs: 600 });
    token = await t.token('trust', { sub: 'ws-user' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an id used twice on one socket closes it with 4409, and every subscription of the socket ends', async () => {
    for (let round = 0; round < 3; round++) {
      const c = await init();
      c.subscribe('other', SUB);
      await waitForSubscribers(t.graphqlUrl, 1);
      for (let i = 0; i < 200; i++) c.subscribe('same', SUB);
      expect(await c.whenClosed()).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });
      await waitForSubscribers(t.graphqlUrl, 0);
    }
  });

  it('a socket that sends no connection_init is closed with 4408 after the wait (600 ms here)', async () => {
    const idle = await Promise.all(Array.from({ length: 50 }, () => WsClient.open(t.graphqlUrl)));
    const started = Date.now();
    const closed = await Promise.all(idle.map((c) => c.whenClosed(10_000)));
    expect(closed.every((c) => c.code === 4408)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  it('a socket holds at most the configured subscriptions; completing one makes room', async () => {
    const c = await init();
    try {
      for (const id of ['a', 'b', 'c']) c.subscribe(id, SUB);
      await waitForSubscribers(t.graphqlUrl, 3);
      c.subscribe('d', SUB);
      const refused = await c.next((m) => m.id === 'd');
      expect(refused.type).toBe('error');
      expect(refused.payload).toMatchObject([{ extensions: { code: 'BAD_REQUEST' }, message: expect.stringContaining('at most 3 subscriptions per socket') }]);
      c.send({ id: 'a', type: 'complete' });
      await waitForSubscribers(t.graphqlUrl, 2);
      c.subscribe('e', SUB);
      await waitForSubscribers(t.graphqlUrl, 3);
      expect(c.closed).toBeUndefined();
    } finally {
      c.close();
      await c.whenClosed();
    }
    await waitForSubscribers(t.graphqlUrl, 0);
  });

  it('a token subject holds at most the configured sockets (4429); another subject is not affected', async () => {
    const mine = await Promise.all(Array.from({ length: 4 }, () => init()));
    const extra = await WsClient.init(t.graphqlUrl, { authorization: `Bearer ${token}` });
    expect(await extra.whenClosed()).toEqual({ code: 4429, reason: 'at most 4 sockets per token subject' });
    const other = await init(await t.token('analyst', { sub: 'someone-else' }));
    // One closed: room for one more.
    mine[0]!.close();
    await mine[0]!.whenClosed();
    await new Promise((r) => setTimeout(r, 50));
    const again = await init();
    for (const c of [...mine.slice(1), other, again]) c.close();
    await Promise.all([...mine.slice(1), other, again].map((c) => c.whenClosed()));
  });

  it('queries and mutations are refused over the socket: they belong to HTTP', async () => {
    const c = await init();
    try {
      c.subscribe('q', '{ viewer { subject } }');
      const refused = await c.next((m) => m.id === 'q');
      expect(refused).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'BAD_REQUEST' } }] });
    } finally {
      c.close();
    }
  });

  it('another subprotocol is refused at the handshake, none with 4406, and nothing is printed', async () => {
    const log = vi.spyOn(console, 'log');
    try {
      await expect(WsClient.open(t.graphqlUrl, 'graphql-ws')).rejects.toThrow(/could not be opened/);
      const c = await WsClient.open(t.graphqlUrl, []);
      expect(await c.whenClosed()).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });

  it('a WebSocket upgrade to another path is refused', async () => {
    await expect(WsClient.open(t.graphqlUrl.replace('/graphql', '/metrics'))).rejects.toThrow(/could not be opened/);
  });
});
