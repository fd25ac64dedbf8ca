import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../node/log.ts';
import { ExchangeMetrics } from '../../../node/p2p/metrics.ts';
import {
  headsProtocol,
  MAX_RETRY_AFTER_MS,
  registerExchangeProtocols,
  requestHeads,
  requestSync,
  syncProtocol,
  type ExchangeLimits,
  type ExchangeProtocolsOptions,
  type ExchangeSource,
  type HeadsResponse,
} from '../../../node/p2p/protocols.ts';
import { Deadline, encodeFrame, encodeVarint, FramedStream, WireError } from '../../../node/p2p/wire.ts';
import { dialAddr, Hosts, sleep, waitFor } from '../../helpers/p2p.ts';

const ALLIANCE = 'test-alliance';
const hosts = new Hosts();
afterEach(async () => {
  await hosts.closeAll();
});

type TestHost = Awaited<ReturnType<Hosts['start']>>;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64hash = (s: string): string => createHash('sha256').update(s).digest('base64url');

/** A compact-JWS-shaped string of about `size` bytes (the protocol checks the shape, not the signature). */
function jws(origin: string, seq: number, size = 40): string {
  const body = Buffer.from(JSON.stringify({ origin, seq, pad: 'x'.repeat(Math.max(0, size - 40)) })).toString('base64url');
  return `eyJhbGciOiJFZERTQSJ9.${body}.c2lnbmF0dXJl`;
}

/** Test data served from arrays: `batches[origin][i]` has seq i + 1, `roster[i]` has seq i. */
function arraySource(data: { batches: Record<string, string[]>; roster: string[] }): ExchangeSource {
  return {
    heads: async () => ({
      roster: data.roster.length === 0 ? null : { seq: data.roster.length - 1, head: b64hash(data.roster.at(-1)!) },
      origins: Object.entries(data.batches).map(([origin, list]) => ({ origin, seq: list.length, hash: b64hash(list.at(-1)!) })),
    }),
    batches: async (origin, from, limit) => {
      const list = data.batches[origin] ?? [];
      return { items: list.slice(from - 1, from - 1 + limit), more: from - 1 + limit < list.length };
    },
    rosterEntries: async (from, limit) => ({ items: data.roster.slice(from, from + limit), more: from + limit < data.roster.length }),
  };
}

const BATCHES = { m1: [1, 2, 3, 4, 5].map((s) => jws('m1', s)), m2: [jws('m2', 1)] };
const ROSTER = [0, 1, 2].map((s) => JSON.stringify({ payload: `entry-${s}-é`, signatures: [{ protected: 'p', signature: 's' }] }));

async function pair(server: Partial<ExchangeProtocolsOptions> = {}): Promise<{ a: TestHost; b: TestHost; registry: Registry; metrics: ExchangeMetrics }> {
  const a = await hosts.start({});
  const b = await hosts.start({});
  const registry = new Registry();
  const metrics = new ExchangeMetrics(registry);
  await registerExchangeProtocols(b, { alliance: ALLIANCE, source: arraySource({ batches: BATCHES, roster: ROSTER }), metrics, ...server });
  await a.dial(dialAddr(b));
  return { a, b, registry, metrics };
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

async function wireError(p: Promise<unknown>): Promise<WireError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WireError);
  return err as WireError;
}

/** Registers `handler` for a protocol on a fresh host that `a` connects to. */
async function rogue(a: TestHost, protocol: string, handler: (stream: import('@libp2p/interface').Stream) => Promise<void>): Promise<TestHost> {
  const r = await hosts.start({});
  await r.handle(protocol, async (stream) => {
    try {
      await handler(stream);
    } catch {
      stream.abort(new Error('rogue handler failed'));
    }
  });
  await a.dial(dialAddr(r));
  return r;
}

/** Sends raw bytes to the responder's protocol and reads back every frame it answers with. */
async function rawExchange(a: TestHost, b: TestHost, protocol: string, raw: Uint8Array): Promise<unknown[]> {
  const stream = await a.dialProtocol(b.peerId, protocol);
  const deadline = new Deadline(5000);
  const io = new FramedStream(stream, { signal: deadline.signal, maxBufferBytes: 1 << 20 });
  try {
    stream.send(raw);
    await io.closeWrite();
    const frames: unknown[] = [];
    while (true) {
      const f = await io.readJson(1 << 20);
      if (f === null) return frames;
      frames.push(f);
    }
  } finally {
    deadline.clear();
    io.dispose();
  }
}

describe('heads', () => {
  it('round-trips the responder heads and counts both sides', async () => {
    const { a, b, registry } = await pair();
    const outRegistry = new Registry();
    const out = new ExchangeMetrics(outRegistry);
    const heads = await requestHeads(a, b.peerId, ALLIANCE, { metrics: out });
    const expected: HeadsResponse = {
      roster: { seq: 2, head: b64hash(ROSTER[2]!) },
      origins: [
        { origin: 'm1', seq: 5, hash: b64hash(BATCHES.m1[4]!) },
        { origin: 'm2', seq: 1, hash: b64hash(BATCHES.m2[0]!) },
      ],
    };
    expect(heads).toEqual(expected);
    expect(await metric(outRegistry, 'alliance_sync_requests_total', { direction: 'out', kind: 'heads', result: 'ok' })).toBe(1);
    await waitFor(async () => (await metric(registry, 'alliance_sync_requests_total', { direction: 'in', kind: 'heads', result: 'ok' })) === 1, 'the responder to count the request');
  });

  it('accepts a peer id string and an empty node', async () => {
    const a = await hosts.start({});
    const b = await hosts.start({});
    await registerExchangeProtocols(b, { alliance: ALLIANCE, source: arraySource({ batches: {}, roster: [] }) });
    await a.dial(dialAddr(b));
    expect(await requestHeads(a, b.peerId.toString(), ALLIANCE)).toEqual({ roster: null, origins: [] });
  });

  it('answers UNAVAILABLE rather than send heads over its limits, and reports requesters', async () => {
    const seen: string[] = [];
    const onRequest = (peer: string): void => {
      seen.push(peer);
      throw new Error('bookkeeping failed');
    };
    const bytes = await pair({ limits: { headsFrameBytes: 100 }, onRequest });
    expect(await wireError(requestHeads(bytes.a, bytes.b.peerId, ALLIANCE))).toMatchObject({ code: 'UNAVAILABLE', remote: true });
    expect(seen).toEqual([bytes.a.peerId.toString()]);
    const count = await pair({ limits: { maxOrigins: 1 } });
    expect(await wireError(requestHeads(count.a, count.b.peerId, ALLIANCE))).toMatchObject({ code: 'UNAVAILABLE', remote: true });
    // Within the limits the same data goes through, the failing hook notwithstanding.
    const fine = await pair({ onRequest });
    expect((await requestHeads(fine.a, fine.b.peerId, ALLIANCE)).origins).toHaveLength(2);
  });

  it('refuses a malformed heads response from the peer', async () => {
    const a = await hosts.start({});
    const bad = [
      { v: 1, roster: null, origins: [{ origin: 'm1', seq: 0, hash: b64hash('x') }] },
      { v: 1, roster: null, origins: [{ origin: 'm1', seq: 1, hash: 'short' }] },
      { v: 1, roster: { seq: 1 }, origins: [] },
      { v: 1, roster: null, origins: [{ origin: 'm1', seq: 1, hash: b64hash('x') }, { origin: 'm1', seq: 2, hash: b64hash('y') }] },
    ];
    let i = 0;
    const r = await rogue(a, headsProtocol(ALLIANCE), async (stream) => {
      stream.send(encodeFrame(enc(JSON.stringify(bad[i++]))));
      await stream.close();
    });
    for (let k = 0; k < bad.length; k++) expect((await wireError(requestHeads(a, r.peerId, ALLIANCE))).code).toBe('MALFORMED');
  });

  it('reports an error frame for a version it does not speak', async () => {
    const { a, b } = await pair();
    const frames = await rawExchange(a, b, headsProtocol(ALLIANCE), encodeFrame(enc('{"v":2}')));
    expect(frames).toEqual([{ v: 1, error: { code: 'PROTOCOL', message: expect.stringContaining('version 2') } }]);
  });
});

describe('sync', () => {
  it('serves batches of one origin from a seq on, with more', async () => {
    const { a, b } = await pair();
    expect(await requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 2, limit: 2 })).toEqual({ items: BATCHES.m1.slice(1, 3), more: true });
    expect(await requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 5, limit: 10 })).toEqual({ items: [BATCHES.m1[4]], more: false });
    expect(await requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 9, limit: 10 })).toEqual({ items: [], more: false });
    expect(await requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'nobody', from: 1, limit: 10 })).toEqual({ items: [], more: false });
  });

  it('serves roster entries as UTF-8 text', async () => {
    const { a, b } = await pair();
    expect(await requestSync(a, b.peerId, ALLIANCE, { kind: 'roster', from: 0, limit: 256 })).toEqual({ items: ROSTER, more: false });
    expect(await requestSync(a, b.peerId, ALLIANCE, { kind: 'roster', from: 1, limit: 1 })).toEqual({ items: [ROSTER[1]], more: true });
  });

  it('caps a response at the responder frame and byte limits, saying there is more', async () => {
    const big = { m1: Array.from({ length: 10 }, (_, i) => jws('m1', i + 1, 1000)) };
    const capped = await pair({ limits: { maxFrames: 3 }, source: arraySource({ batches: big, roster: [] }) });
    expect(await requestSync(capped.a, capped.b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 1, limit: 100 })).toEqual({ items: big.m1.slice(0, 3), more: true });

    const itemBytes = enc(big.m1[0]!).byteLength;
    const budget = await pair({ limits: { responseBytes: itemBytes * 4 + 10 }, source: arraySource({ batches: big, roster: [] }) });
    const res = await requestSync(budget.a, budget.b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 1, limit: 100 });
    expect(res.items).toEqual(big.m1.slice(0, 4));
    expect(res.more).toBe(true);
  });

  it('refuses bad requests before dialing', async () => {
    const a = await hosts.start({});
    const bad = [
      { kind: 'batches', origin: 'm1', from: 0, limit: 1 },
      { kind: 'batches', origin: 'm1', from: 1, limit: 0 },
      { kind: 'batches', origin: 'bad origin', from: 1, limit: 1 },
      { kind: 'batches', origin: 'm1', from: 1.5, limit: 1 },
      { kind: 'roster', from: -1, limit: 1 },
    ] as const;
    for (const req of bad) {
      const err = await wireError(requestSync(a, a.peerId, ALLIANCE, req as never));
      expect(err.code).toBe('MALFORMED');
      expect(err.remote).toBe(false);
    }
  });

  it('answers garbage, unknown kinds and oversized requests with an error frame', async () => {
    const { a, b, registry } = await pair();
    const proto = syncProtocol(ALLIANCE);
    expect(await rawExchange(a, b, proto, encodeFrame(enc('not json')))).toEqual([{ v: 1, error: { code: 'MALFORMED', message: expect.any(String) } }]);
    expect(await rawExchange(a, b, proto, encodeFrame(new Uint8Array([0xff, 0xfe, 0xfd])))).toEqual([{ v: 1, error: { code: 'MALFORMED', message: expect.any(String) } }]);
    expect(await rawExchange(a, b, proto, encodeFrame(enc('{"v":1,"kind":"everything","from":1,"limit":1}')))).toEqual([{ v: 1, error: { code: 'PROTOCOL', message: expect.any(String) } }]);
    expect(await rawExchange(a, b, proto, encodeFrame(enc('{"v":1,"kind":"batches","origin":"m1","from":"1","limit":1}')))).toEqual([{ v: 1, error: { code: 'MALFORMED', message: expect.any(String) } }]);
    // Only the length prefix is sent: the responder refuses on the prefix alone.
    expect(await rawExchange(a, b, proto, encodeVarint(1 << 20))).toEqual([{ v: 1, error: { code: 'FRAME_TOO_LARGE', message: expect.any(String) } }]);
    // An empty stream: no request at all.
    expect(await rawExchange(a, b, proto, new Uint8Array(0))).toEqual([{ v: 1, error: { code: 'PROTOCOL', message: expect.any(String) } }]);
    await waitFor(async () => (await metric(registry, 'alliance_stream_errors_total', { protocol: 'sync', code: 'MALFORMED' })) === 3, 'the errors to be counted');
    expect(await metric(registry, 'alliance_stream_errors_total', { protocol: 'sync', code: 'FRAME_TOO_LARGE' })).toBe(1);
  });

  it('does not tell the requester what went wrong in its storage', async () => {
    const failing: ExchangeSource = {
      heads: async () => {
        throw new Error('relation "batches" does not exist: secret detail');
      },
      batches: async () => {
        throw new Error('secret detail');
      },
      rosterEntries: async () => ({ items: ['{"v":1,"end":true,"more":false}'], more: false }),
    };
    const lines: string[] = [];
    const log = createLogger('warn', { write: (line: string) => void lines.push(line) });
    const { a, b } = await pair({ source: failing, log });
    const h = await wireError(requestHeads(a, b.peerId, ALLIANCE));
    expect(h).toMatchObject({ code: 'UNAVAILABLE', remote: true });
    expect(h.message).not.toContain('secret');
    const s = await wireError(requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 1, limit: 1 }));
    expect(s).toMatchObject({ code: 'UNAVAILABLE', remote: true });
    expect(s.message).not.toContain('secret');
    // The cause stays in the responder's own log.
    await waitFor(() => lines.length >= 2, 'the failures to be logged');
    const logged = lines.map((l) => JSON.parse(l) as { code: string; err?: { message: string } });
    expect(logged.map((l) => l.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    expect(logged[0]!.err?.message).toContain('secret detail');
    // A stored item that would read as a control frame is never sent.
    expect(await wireError(requestSync(a, b.peerId, ALLIANCE, { kind: 'roster', from: 0, limit: 1 }))).toMatchObject({ code: 'UNAVAILABLE', remote: true });
  });
});

describe('limits on what the requester accepts', () => {
  const req = { kind: 'batches', origin: 'm1', from: 1, limit: 3 } as const;
  const started = (r: Promise<unknown>): Promise<{ err: WireError; ms: number }> => {
    const t0 = performance.now();
    return wireError(r).then((err) => ({ err, ms: performance.now() - t0 }));
  };

  it('refuses an oversized frame from its length prefix', async () => {
    const a = await hosts.start({});
    const r = await rogue(a, syncProtocol(ALLIANCE), async (stream) => {
      // Announces 10 MiB and sends a little: the requester must not wait for the rest.
      stream.send(new Uint8Array([...encodeVarint(10 * 1024 * 1024), 1, 2, 3]));
      await sleep(5000);
    });
    const { err, ms } = await started(requestSync(a, r.peerId, ALLIANCE, req));
    expect(err.code).toBe('FRAME_TOO_LARGE');
    expect(ms).toBeLessThan(2000);
  });

  it.each([
    ['a control frame that is not JSON', [encodeFrame(enc('{"v":1,"end":tru'))]],
    ['an end frame without more', [encodeFrame(enc('{"v":1,"end":true}'))]],
    ['a payload that is not a compact JWS', [encodeFrame(enc('hello world')), encodeFrame(enc('{"v":1,"end":true,"more":false}'))]],
    ['a payload that is not UTF-8', [encodeFrame(new Uint8Array([0x65, 0x79, 0xff, 0x2e])), encodeFrame(enc('{"v":1,"end":true,"more":false}'))]],
    ['a non-minimal length prefix', [new Uint8Array([0x85, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65])]],
    ['an empty frame', [new Uint8Array([0x00])]],
  ])('refuses %s as MALFORMED', async (_name, frames) => {
    const a = await hosts.start({});
    const r = await rogue(a, syncProtocol(ALLIANCE), async (stream) => {
      for (const f of frames) stream.send(f);
      await stream.close();
    });
    expect((await wireError(requestSync(a, r.peerId, ALLIANCE, req))).code).toBe('MALFORMED');
  });

  it.each([
    ['past 2^31 ms', 3_000_000_000, MAX_RETRY_AFTER_MS],
    ['at 2^53 - 1 ms', Number.MAX_SAFE_INTEGER, MAX_RETRY_AFTER_MS],
    ['just over the bound', MAX_RETRY_AFTER_MS + 1, MAX_RETRY_AFTER_MS],
    ['below the bound', 1500, 1500],
  ])('takes a retryAfterMs %s as at most MAX_RETRY_AFTER_MS', async (_name, sent, expected) => {
    const a = await hosts.start({});
    const r = await rogue(a, syncProtocol(ALLIANCE), async (stream) => {
      stream.send(encodeFrame(enc(JSON.stringify({ v: 1, error: { code: 'RATE_LIMITED', message: 'busy', retryAfterMs: sent } }))));
      await stream.close();
    });
    const err = await wireError(requestSync(a, r.peerId, ALLIANCE, req));
    expect(err).toMatchObject({ code: 'RATE_LIMITED', remote: true });
    expect(err.details?.retryAfterMs).toBe(expected);
  });

  it('refuses more payload frames than it asked for, and a response without an end frame', async () => {
    const a = await hosts.start({});
    const tooMany = await rogue(a, syncProtocol(ALLIANCE), async (stream) => {
      for (let s = 1; s <= 5; s++) stream.send(encodeFrame(enc(jws('m1', s))));
      stream.send(encodeFrame(enc('{"v":1,"end":true,"more":false}')));
      await stream.close();
    });
    expect((await wireError(requestSync(a, tooMany.peerId, ALLIANCE, req))).code).toBe('PROTOCOL');

    const noEnd = await rogue(a, syncProtocol(ALLIANCE), async (stream) => {
      stream.send(encodeFrame(enc(jws('m1', 1))));
      await stream.close();
    });
    expect((await wireError(requestSync(a, noEnd.peerId, ALLIANCE, req))).code).toBe('PROTOCOL');
  });

  it('refuses a response over its byte budget', async () => {
    const a = await hosts.start({});
    const r = await rogue(a, syncProtocol(ALLIANCE), async (stream) => {
      for (let s = 1; s <= 3; s++) stream.send(encodeFrame(enc(jws('m1', s, 2000))));
      stream.send(encodeFrame(enc('{"v":1,"end":true,"more":false}')));
      await stream.close();
    });
    expect((await wireError(requestSync(a, r.peerId, ALLIANCE, req, { limits: { responseBytes: 5000 } }))).code).toBe('FRAME_TOO_LARGE');
  });

  it('times out on a responder that never answers, within the configured timeout', async () => {
    const a = await hosts.start({});
    let streams = 0;
    const r = await rogue(a, syncProtocol(ALLIANCE), async () => {
      streams++;
      await sleep(10_000);
    });
    const limits: Partial<ExchangeLimits> = { timeoutMs: 300 };
    const registry = new Registry();
    const metrics = new ExchangeMetrics(registry);
    const { err, ms } = await started(requestSync(a, r.peerId, ALLIANCE, req, { limits, metrics }));
    expect(err).toMatchObject({ code: 'TIMEOUT', remote: false });
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(1500);
    expect(streams).toBe(1);
    expect(await metric(registry, 'alliance_stream_errors_total', { protocol: 'sync', code: 'TIMEOUT' })).toBe(1);
    expect(await metric(registry, 'alliance_sync_requests_total', { direction: 'out', kind: 'batches', result: 'TIMEOUT' })).toBe(1);
    // The stream was reset, not left open for the responder to fill later.
    await waitFor(() => a.getConnections(r.peerId).every((c) => c.streams.every((s) => s.protocol !== syncProtocol(ALLIANCE))), 'the stream to be gone');
  });

  it('passes the caller abort reason through', async () => {
    const a = await hosts.start({});
    const r = await rogue(a, headsProtocol(ALLIANCE), async () => {
      await sleep(10_000);
    });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 100);
    await expect(requestHeads(a, r.peerId, ALLIANCE, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('reports a peer that does not serve the protocol, and one that cannot be reached', async () => {
    const a = await hosts.start({});
    const b = await hosts.start({});
    await a.dial(dialAddr(b));
    expect((await wireError(requestHeads(a, b.peerId, ALLIANCE))).code).toBe('PROTOCOL');
    const c = await hosts.start({});
    const cId = c.peerId;
    await c.stop();
    expect((await wireError(requestHeads(a, cId, ALLIANCE, { limits: { timeoutMs: 2000 } }))).code).toBe('UNAVAILABLE');
    expect((await wireError(requestHeads(a, 'not-a-peer-id', ALLIANCE))).code).toBe('UNAVAILABLE');
  });
});

describe('responder protection', () => {
  it('rate-limits each peer on its own and answers RATE_LIMITED', async () => {
    const { a, b, registry } = await pair({ rateLimit: { perSecond: 0.5, burst: 3 } });
    for (let i = 0; i < 3; i++) await requestHeads(a, b.peerId, ALLIANCE);
    const err = await wireError(requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 1, limit: 1 }));
    expect(err).toMatchObject({ code: 'RATE_LIMITED', remote: true });
    expect(err.details?.retryAfterMs).toBeGreaterThan(0);
    // Refused before its request is read, so its kind is not known.
    await waitFor(async () => (await metric(registry, 'alliance_sync_requests_total', { direction: 'in', kind: 'unknown', result: 'RATE_LIMITED' })) === 1, 'the refusal to be counted');

    // Another peer has its own bucket.
    const c = await hosts.start({});
    await c.dial(dialAddr(b));
    expect((await requestHeads(c, b.peerId, ALLIANCE)).origins).toHaveLength(2);
  });

  it('is not held by a requester that stops reading', async () => {
    const big = { m1: Array.from({ length: 100 }, (_, i) => jws('m1', i + 1, 60_000)) };
    const { a, b, registry } = await pair({ limits: { timeoutMs: 500 }, source: arraySource({ batches: big, roster: [] }) });
    const stream = await a.dialProtocol(b.peerId, syncProtocol(ALLIANCE));
    stream.send(encodeFrame(enc(JSON.stringify({ v: 1, kind: 'batches', origin: 'm1', from: 1, limit: 100 }))));
    // Paused: no more window updates, so the responder's writes stall once the window is full.
    stream.pause();
    await waitFor(async () => (await metric(registry, 'alliance_stream_errors_total', { protocol: 'sync', code: 'TIMEOUT' })) === 1, 'the responder to give up', 3000);
    await waitFor(() => stream.status !== 'open', 'the stalled stream to be reset', 2000);
    expect(['reset', 'aborted', 'closed']).toContain(stream.status);
    // It still serves everyone, this requester included.
    const res = await requestSync(a, b.peerId, ALLIANCE, { kind: 'batches', origin: 'm1', from: 1, limit: 2 });
    expect(res).toEqual({ items: big.m1.slice(0, 2), more: true });
  });

  it('stops serving after unregister', async () => {
    const a = await hosts.start({});
    const b = await hosts.start({});
    const served = await registerExchangeProtocols(b, { alliance: ALLIANCE, source: arraySource({ batches: BATCHES, roster: ROSTER }) });
    expect(served).toMatchObject({ heads: headsProtocol(ALLIANCE), sync: syncProtocol(ALLIANCE) });
    await a.dial(dialAddr(b));
    expect((await requestHeads(a, b.peerId, ALLIANCE)).origins).toHaveLength(2);
    await served.unregister();
    expect((await wireError(requestHeads(a, b.peerId, ALLIANCE))).code).toBe('PROTOCOL');
  });
});
