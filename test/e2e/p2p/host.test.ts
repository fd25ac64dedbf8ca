import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub';
import { afterEach, describe, expect, it } from 'vitest';
import { createHost, generateSwarmKey, HostError, parseSwarmKey, PeerPenalties, PENALTY, readSwarmKey, SCORE_THRESHOLDS } from '../../../node/p2p/host.ts';
import { batchesTopic, rosterTopic } from '../../../node/p2p/protocols.ts';
import { multiaddr } from '@multiformats/multiaddr';
import { connected, dialAddr, Hosts, newKey, sleep, tcpAddr, waitFor } from '../../helpers/p2p.ts';

const hosts = new Hosts();
afterEach(async () => {
  await hosts.closeAll();
});

const TOPIC = batchesTopic('test-alliance');
const text = (d: Uint8Array): string => new TextDecoder().decode(d);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('connection gater', () => {
  it('lets allowed peers connect and talk', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const a = await hosts.start({ key: ka, allow: new Set([kb.id]) });
    const b = await hosts.start({ key: kb, allow: new Set([ka.id]) });
    await a.dial(dialAddr(b));
    await waitFor(() => connected(a, b) && connected(b, a), 'both sides to see the connection');
    expect(await a.services.ping.ping(b.peerId)).toBeGreaterThanOrEqual(0);
  });

  it('refuses a non-member inbound, and still admits members afterwards', async () => {
    const [ka, kb, kc] = [await newKey(), await newKey(), await newKey()];
    const a = await hosts.start({ key: ka, allow: new Set([kb.id]) });
    const b = await hosts.start({ key: kb, allow: new Set([ka.id]) });
    // c admits everyone: only a's gater stands between them.
    const c = await hosts.start({ key: kc, allow: 'all' });
    const seenByA: string[] = [];
    a.addEventListener('peer:connect', (evt) => seenByA.push(evt.detail.toString()));

    const dialed = await c.dial(dialAddr(a), { signal: AbortSignal.timeout(5000) }).then(
      () => 'opened',
      () => 'refused',
    );
    // Whatever c's side saw of the handshake, a never keeps the connection.
    await waitFor(() => !connected(c, a) && !connected(a, c), 'no connection between a and the non-member');
    expect(['opened', 'refused']).toContain(dialed);
    expect(seenByA).not.toContain(kc.id);

    await b.dial(dialAddr(a));
    await waitFor(() => connected(a, b), 'the member to connect after the refusal');
    expect(seenByA).toContain(kb.id);
    expect(seenByA).not.toContain(kc.id);
  });

  it('refuses to dial a non-member, by peer id and by bare address', async () => {
    const [ka, kc] = [await newKey(), await newKey()];
    const a = await hosts.start({ key: ka, allow: new Set() });
    const c = await hosts.start({ key: kc, allow: 'all' });
    // With /p2p/<id> the dial is denied before any socket opens (denyDialPeer).
    await expect(a.dial(dialAddr(c))).rejects.toThrow();
    // Without it the peer id is only known after the handshake (denyOutboundEncryptedConnection).
    await expect(a.dial(multiaddr(tcpAddr(c)), { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    await sleep(100);
    expect(connected(a, c)).toBe(false);
    expect(connected(c, a)).toBe(false);
  });

  it('fails closed when the allow check throws', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const a = await hosts.start({
      key: ka,
      isAllowed: () => {
        throw new Error('roster unavailable');
      },
    });
    const b = await hosts.start({ key: kb, allow: 'all' });
    await b.dial(dialAddr(a), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    await waitFor(() => !connected(a, b) && !connected(b, a), 'no connection');
    await expect(a.dial(dialAddr(b))).rejects.toThrow();
  });

  it('reports a listen failure as P2P_START_FAILED', async () => {
    const a = await hosts.start({});
    const k = await newKey();
    const err = await createHost({ privateKey: k.key, listen: tcpAddr(a), isAllowed: () => true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as HostError).code).toBe('P2P_START_FAILED');
  });
});

describe('private network (pre-shared key)', () => {
  it('connects nodes with the same key and refuses nodes with another key or none', async () => {
    const psk = parseSwarmKey(generateSwarmKey());
    const other = parseSwarmKey(generateSwarmKey());
    const a = await hosts.start({ psk });
    const b = await hosts.start({ psk });
    const c = await hosts.start({ psk: other });
    const d = await hosts.start({});

    await a.dial(dialAddr(b));
    expect(connected(a, b)).toBe(true);

    // A mismatched key turns the handshake into random bytes: it fails when they happen to be
    // unparseable, or hangs until the dial deadline when they look like a length prefix.
    const attempt = async (from: typeof a, to: typeof a): Promise<void> => {
      await expect(from.dial(dialAddr(to), { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    };
    await Promise.all([attempt(c, a), attempt(a, c), attempt(d, a), attempt(a, d)]);
    expect(a.getConnections().map((conn) => conn.remotePeer.toString())).toEqual([b.peerId.toString()]);
    expect(connected(a, c) || connected(c, a) || connected(a, d) || connected(d, a)).toBe(false);
  });
});

describe('swarm key files', () => {
  const hex = 'ab'.repeat(32);

  it('accepts the pnet format with CRLF, upper-case hex and trailing newlines, in canonical form', () => {
    const canonical = `/key/swarm/psk/1.0.0/\n/base16/\n${hex}`;
    expect(text(parseSwarmKey(canonical))).toBe(canonical);
    expect(text(parseSwarmKey(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${hex.toUpperCase()}\r\n\r\n`))).toBe(canonical);
    expect(text(parseSwarmKey(bytes(`${canonical}\n`)))).toBe(canonical);
  });

  it.each([
    ['empty', ''],
    ['wrong tag', `/key/swarm/psk/2.0.0/\n/base16/\n${hex}`],
    ['base64 codec', `/key/swarm/psk/1.0.0/\n/base64/\n${Buffer.alloc(32).toString('base64')}`],
    ['short key', `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(2)}`],
    ['non-hex key', `/key/swarm/psk/1.0.0/\n/base16/\n${'zz'.repeat(32)}`],
    ['text after the key', `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\nextra`],
    ['too long', `/key/swarm/psk/1.0.0/\n/base16/\n${hex}${'\n'.repeat(2000)}`],
  ])('refuses %s with SWARM_KEY_INVALID', (_name, content) => {
    let err: unknown;
    try {
      parseSwarmKey(content);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HostError);
    expect((err as HostError).code).toBe('SWARM_KEY_INVALID');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(() => parseSwarmKey(new Uint8Array([0xff, 0xfe, 0x00]))).toThrow(/not text/);
  });

  it('reads a generated key file, and names a missing or oversized file in its error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-key-'));
    try {
      const file = path.join(dir, 'swarm.key');
      const generated = generateSwarmKey();
      fs.writeFileSync(file, generated);
      expect(text(readSwarmKey(file))).toBe(generated.trimEnd());
      expect(generateSwarmKey()).not.toBe(generated);

      expect(() => readSwarmKey(path.join(dir, 'missing.key'))).toThrow(expect.objectContaining({ code: 'SWARM_KEY_INVALID', message: expect.stringContaining('missing.key') }));
      fs.writeFileSync(file, 'x'.repeat(5000));
      expect(() => readSwarmKey(file)).toThrow(expect.objectContaining({ code: 'SWARM_KEY_INVALID' }));
      expect(() => readSwarmKey(dir)).toThrow(expect.objectContaining({ code: 'SWARM_KEY_INVALID' }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gossip', () => {
  it('delivers a message from A to B, unsigned, named by the SHA-256 of its bytes', async () => {
    const a = await hosts.start({ topics: [{ topic: TOPIC }] });
    const b = await hosts.start({ topics: [{ topic: TOPIC }] });
    const atA: string[] = [];
    const atB: Array<{ msgId: string; msg: Message }> = [];
    a.services.pubsub.addEventListener('message', (evt) => atA.push(text(evt.detail.data)));
    b.services.pubsub.addEventListener('gossipsub:message', (evt) => atB.push({ msgId: evt.detail.msgId, msg: evt.detail.msg }));
    a.services.pubsub.subscribe(TOPIC);
    b.services.pubsub.subscribe(TOPIC);
    await a.dial(dialAddr(b));
    await waitFor(() => a.services.pubsub.getSubscribers(TOPIC).some((p) => p.equals(b.peerId)), 'A to learn B subscribed');

    const data = bytes('eyJhbGciOiJFZERTQSJ9.payload.signature');
    const result = await a.services.pubsub.publish(TOPIC, data);
    expect(result.recipients.map((p) => p.toString())).toContain(b.peerId.toString());
    await waitFor(() => atB.length === 1, 'B to receive the message');
    expect(atB[0]!.msg.type).toBe('unsigned');
    expect(text(atB[0]!.msg.data)).toBe(text(data));
    expect(atB[0]!.msgId).toBe(createHash('sha256').update(data).digest('base64url'));
    // emitSelf is off: the publisher does not hear its own message.
    expect(atA).toEqual([]);
  });

  it('publishes without subscribers instead of failing', async () => {
    const a = await hosts.start({ topics: [{ topic: TOPIC }] });
    const result = await a.services.pubsub.publish(TOPIC, bytes('alone'));
    expect(result.recipients).toEqual([]);
  });

  it('does not deliver or forward a rejected message, and lowers the sender score', async () => {
    const [ka, kb, kc] = [await newKey(), await newKey(), await newKey()];
    const validated: string[] = [];
    const validator = (_peer: unknown, msg: Message): TopicValidatorResult => {
      validated.push(text(msg.data));
      return text(msg.data).startsWith('forged') ? TopicValidatorResult.Reject : TopicValidatorResult.Accept;
    };
    // A line A - B - C: A and C only know B, so everything C gets from A went through B's validator.
    const heartbeatIntervalMs = 200;
    const a = await hosts.start({ key: ka, allow: new Set([kb.id]), topics: [{ topic: TOPIC }], heartbeatIntervalMs });
    const b = await hosts.start({ key: kb, allow: new Set([ka.id, kc.id]), topics: [{ topic: TOPIC, validator }], heartbeatIntervalMs });
    const c = await hosts.start({ key: kc, allow: new Set([kb.id]), topics: [{ topic: TOPIC }], heartbeatIntervalMs });
    const atB: string[] = [];
    const atC: string[] = [];
    b.services.pubsub.addEventListener('message', (evt) => atB.push(text(evt.detail.data)));
    c.services.pubsub.addEventListener('message', (evt) => atC.push(text(evt.detail.data)));
    for (const h of [a, b, c]) h.services.pubsub.subscribe(TOPIC);
    await a.dial(dialAddr(b));
    await c.dial(dialAddr(b));
    await waitFor(() => b.services.pubsub.getMeshPeers(TOPIC).includes(kc.id) && a.services.pubsub.getSubscribers(TOPIC).length === 1, 'B to graft C and A to see B');

    await a.services.pubsub.publish(TOPIC, bytes('valid-1'));
    await waitFor(() => atC.includes('valid-1'), 'a valid message to reach C through B');
    const before = b.services.pubsub.getScore(ka.id);

    await a.services.pubsub.publish(TOPIC, bytes('forged-1'));
    await waitFor(() => validated.includes('forged-1'), 'B to validate the forgery');
    await waitFor(() => b.services.pubsub.getScore(ka.id) < before && b.services.pubsub.getScore(ka.id) < 0, 'B to lower A score', 5000);

    await a.services.pubsub.publish(TOPIC, bytes('valid-2'));
    await waitFor(() => atC.includes('valid-2'), 'the next valid message to reach C');
    await sleep(300);
    expect(atB).not.toContain('forged-1');
    expect(atC).not.toContain('forged-1');
    expect(atC).toEqual(['valid-1', 'valid-2']);
  });

  it('counts rejections per peer, not per topic: two forgeries on each of two topics cost what four on one cost', async () => {
    const [ka, kb] = [await newKey(), await newKey()];
    const ROSTER = rosterTopic('test-alliance');
    const validator = (_peer: unknown, msg: Message): TopicValidatorResult => (text(msg.data).startsWith('forged') ? TopicValidatorResult.Reject : TopicValidatorResult.Accept);
    const heartbeatIntervalMs = 200;
    const topics = [TOPIC, ROSTER];
    const a = await hosts.start({ key: ka, allow: new Set([kb.id]), topics: topics.map((topic) => ({ topic })), heartbeatIntervalMs });
    const penalties = new PeerPenalties();
    const b = await hosts.start({ key: kb, allow: new Set([ka.id]), topics: topics.map((topic) => ({ topic, validator })), heartbeatIntervalMs, penalties });
    for (const h of [a, b]) for (const t of topics) h.services.pubsub.subscribe(t);
    await a.dial(dialAddr(b));
    await waitFor(() => topics.every((t) => a.services.pubsub.getSubscribers(t).length === 1 && b.services.pubsub.getSubscribers(t).length === 1), 'A and B to see each other on both topics');

    for (const t of topics) for (const n of [1, 2]) await a.services.pubsub.publish(t, bytes(`forged-${t}-${n}`));
    await waitFor(() => penalties.count(ka.id) > 3.99, 'B to count all four', 5000);
    // 10 × 4² = 160, less the at most 20 of positive topic scores: graylisted. Counted per topic it
    // was 10 × (2² + 2²) = 80, which the positive part kept above the graylist threshold.
    await waitFor(() => b.services.pubsub.getScore(ka.id) <= -140, 'the score to follow the count', 5000);
    expect(b.services.pubsub.getScore(ka.id)).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    expect(b.services.pubsub.getScore(ka.id)).toBeGreaterThanOrEqual(-160.5);
  });

  it('ignores subscriptions to topics it was not configured for', async () => {
    const a = await hosts.start({});
    const b = await hosts.start({ topics: [{ topic: TOPIC }] });
    const other = '/alliance/other/batches/1';
    // A's subscriptions travel together in one RPC; B keeps the allowed one and drops the other.
    a.services.pubsub.subscribe(TOPIC);
    a.services.pubsub.subscribe(other);
    await a.dial(dialAddr(b));
    await waitFor(() => b.services.pubsub.getSubscribers(TOPIC).some((p) => p.equals(a.peerId)), 'B to see A on the allowed topic');
    expect(b.services.pubsub.getSubscribers(other)).toEqual([]);
  });
});

describe('PeerPenalties', () => {
  it('counts per peer, costs weight × count², and fades to 1% over an hour', () => {
    let now = 0;
    const heard: Array<[string, string, number]> = [];
    const p = new PeerPenalties({ now: () => now, onAdd: (...a) => heard.push(a) });
    expect(p.score('x')).toBe(0);
    p.add('x', 'invalid_message');
    expect(p.score('x')).toBe(PENALTY.weight);
    p.add('x', 'own_head', 2);
    expect(p.count('x')).toBe(3);
    expect(p.score('x')).toBe(PENALTY.weight * 9);
    expect(p.count('y')).toBe(0);
    now = PENALTY.fadeSeconds * 1000;
    expect(p.count('x')).toBeCloseTo(0.03, 10);
    // Adding to a faded count starts from what is left of it.
    p.add('x', 'invalid_message');
    expect(p.count('x')).toBeCloseTo(1.03, 10);
    p.add('x', 'invalid_message', 0);
    p.add('x', 'invalid_message', -5);
    p.add('x', 'invalid_message', Number.NaN);
    expect(p.count('x')).toBeCloseTo(1.03, 10);
    expect(heard).toEqual([['x', 'invalid_message', 1], ['x', 'own_head', 2], ['x', 'invalid_message', 1]]);
  });
});
