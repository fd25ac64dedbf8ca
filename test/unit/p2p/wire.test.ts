import { describe, expect, it } from 'vitest';
import { isControlFrame, parseHeadsResponse, parseSyncRequest } from '../../../node/p2p/protocols.ts';
import { Deadline, decodeVarint, encodeFrame, encodeVarint, frameText, parseJsonFrame, varintLength, WireError } from '../../../node/p2p/wire.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const HASH = 'kikJRY5Nl1H5TQbT7BWhGUsuLEi5PmUifEC8bToMy8I';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err.code;
    throw err;
  }
  return undefined;
}

describe('varint framing', () => {
  it('encodes lengths as unsigned LEB128, the lpStream / it-length-prefixed prefix', () => {
    expect([...encodeVarint(0)]).toEqual([0x00]);
    expect([...encodeVarint(127)]).toEqual([0x7f]);
    expect([...encodeVarint(128)]).toEqual([0x80, 0x01]);
    expect([...encodeVarint(300)]).toEqual([0xac, 0x02]);
    expect([...encodeVarint(614_400)]).toEqual([0x80, 0xc0, 0x25]);
    expect([...encodeFrame(enc('{"v":1}'))]).toEqual([0x07, ...enc('{"v":1}')]);
    expect(() => encodeVarint(-1)).toThrow(RangeError);
    expect(() => encodeVarint(1.5)).toThrow(RangeError);
  });

  it('decodes what it encodes, and waits for the rest of a split prefix', () => {
    for (const n of [0, 1, 127, 128, 16_383, 16_384, 614_400, 2_359_296]) {
      const v = encodeVarint(n);
      expect(varintLength(n)).toBe(v.byteLength);
      expect(decodeVarint(v, 2_359_296)).toEqual({ value: n, bytes: v.byteLength });
      if (v.byteLength > 1) expect(decodeVarint(v.subarray(0, v.byteLength - 1), 2_359_296)).toBeNull();
    }
    expect(decodeVarint(new Uint8Array(0), 100)).toBeNull();
  });

  it('refuses a prefix longer than the limit can need, and non-minimal encodings', () => {
    // 614,400 needs 3 bytes: a fourth is over the limit whatever its value.
    expect(code(() => decodeVarint(new Uint8Array([0x80, 0x80, 0x80]), 614_400))).toBe('FRAME_TOO_LARGE');
    expect(code(() => decodeVarint(new Uint8Array([0xff, 0xff, 0xff, 0x7f]), 614_400))).toBe('FRAME_TOO_LARGE');
    expect(code(() => decodeVarint(new Uint8Array([0x81, 0x00]), 614_400))).toBe('MALFORMED');
    // A value above the limit but within the prefix length is the reader's to refuse (it knows the limit).
    expect(decodeVarint(encodeVarint(614_401), 614_400)).toEqual({ value: 614_401, bytes: 3 });
  });

  it('decodes frames as UTF-8 JSON or refuses them as MALFORMED', () => {
    expect(parseJsonFrame(enc('{"v":1,"end":true,"more":false}'))).toEqual({ v: 1, end: true, more: false });
    expect(code(() => parseJsonFrame(enc('{"v":1,')))).toBe('MALFORMED');
    expect(code(() => frameText(new Uint8Array([0xc3, 0x28])))).toBe('MALFORMED');
    expect(frameText(enc('é'))).toBe('é');
  });

  it('tells control frames from payloads by their first bytes', () => {
    expect(isControlFrame(enc('{"v":1,"end":true,"more":false}'))).toBe(true);
    expect(isControlFrame(enc('{"v":1,"error":{"code":"RATE_LIMITED"}}'))).toBe(true);
    expect(isControlFrame(enc('eyJhbGciOiJFZERTQSJ9.e30.c2ln'))).toBe(false);
    expect(isControlFrame(enc('{"payload":"e30","signatures":[]}'))).toBe(false);
    expect(isControlFrame(enc('{"v"'))).toBe(false);
  });
});

describe('Deadline', () => {
  it('aborts with a TIMEOUT WireError', async () => {
    const d = new Deadline(20, undefined, 'the test');
    await new Promise((r) => setTimeout(r, 60));
    expect(d.signal.aborted).toBe(true);
    expect(d.signal.reason).toBeInstanceOf(WireError);
    expect(d.signal.reason).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('the test') });
  });

  it('passes a parent abort reason through, and does nothing once cleared', async () => {
    const parent = new AbortController();
    const d = new Deadline(10_000, parent.signal);
    const reason = new Error('stop');
    parent.abort(reason);
    expect(d.signal.reason).toBe(reason);
    d.clear();
    const cleared = new Deadline(20);
    cleared.clear();
    await new Promise((r) => setTimeout(r, 50));
    expect(cleared.signal.aborted).toBe(false);
    const already = new Deadline(10_000, AbortSignal.abort(reason));
    expect(already.signal.reason).toBe(reason);
    already.clear();
  });
});

describe('request and response shapes', () => {
  it('parses sync requests, capping the limit', () => {
    expect(parseSyncRequest({ v: 1, kind: 'batches', origin: 'm1', from: 13, limit: 256 }, 256)).toEqual({ kind: 'batches', origin: 'm1', from: 13, limit: 256 });
    expect(parseSyncRequest({ v: 1, kind: 'batches', origin: 'm1', from: 1, limit: 5000, extra: true }, 256)).toEqual({ kind: 'batches', origin: 'm1', from: 1, limit: 256 });
    expect(parseSyncRequest({ v: 1, kind: 'roster', from: 0, limit: 10 }, 256)).toEqual({ kind: 'roster', from: 0, limit: 10 });
  });

  it.each([
    ['not an object', [], 'MALFORMED'],
    ['no version', { kind: 'roster', from: 0, limit: 1 }, 'MALFORMED'],
    ['a newer version', { v: 2, kind: 'roster', from: 0, limit: 1 }, 'PROTOCOL'],
    ['an unknown kind', { v: 1, kind: 'records', from: 0, limit: 1 }, 'PROTOCOL'],
    ['no kind', { v: 1, from: 0, limit: 1 }, 'MALFORMED'],
    ['batches from 0', { v: 1, kind: 'batches', origin: 'm1', from: 0, limit: 1 }, 'MALFORMED'],
    ['a negative roster seq', { v: 1, kind: 'roster', from: -1, limit: 1 }, 'MALFORMED'],
    ['an unsafe seq', { v: 1, kind: 'roster', from: 2 ** 53, limit: 1 }, 'MALFORMED'],
    ['a string limit', { v: 1, kind: 'roster', from: 0, limit: '1' }, 'MALFORMED'],
    ['a zero limit', { v: 1, kind: 'roster', from: 0, limit: 0 }, 'MALFORMED'],
    ['an origin that is not an id', { v: 1, kind: 'batches', origin: 'a/b', from: 1, limit: 1 }, 'MALFORMED'],
  ])('refuses a sync request with %s', (_name, req, expected) => {
    expect(code(() => parseSyncRequest(req, 256))).toBe(expected);
  });

  it('parses heads responses and refuses what is out of shape', () => {
    const ok = { v: 1, roster: { seq: 0, head: HASH }, origins: [{ origin: 'm1', seq: 12, hash: HASH }] };
    expect(parseHeadsResponse(ok, 10)).toEqual({ roster: ok.roster, origins: ok.origins });
    expect(parseHeadsResponse({ v: 1, roster: null, origins: [] }, 10)).toEqual({ roster: null, origins: [] });
    expect(code(() => parseHeadsResponse({ v: 1, roster: null }, 10))).toBe('MALFORMED');
    expect(code(() => parseHeadsResponse({ v: 1, origins: [] }, 10))).toBe('MALFORMED');
    expect(code(() => parseHeadsResponse({ ...ok, roster: { seq: -1, head: HASH } }, 10))).toBe('MALFORMED');
    expect(code(() => parseHeadsResponse({ ...ok, origins: [{ origin: 'm1', seq: 1, hash: `${HASH}=` }] }, 10))).toBe('MALFORMED');
    expect(code(() => parseHeadsResponse({ ...ok, origins: [{ origin: 'm1', seq: 1 }] }, 10))).toBe('MALFORMED');
    const many = Array.from({ length: 11 }, (_, i) => ({ origin: `m${i}`, seq: 1, hash: HASH }));
    expect(code(() => parseHeadsResponse({ v: 1, roster: null, origins: many }, 10))).toBe('FRAME_TOO_LARGE');
  });
});
