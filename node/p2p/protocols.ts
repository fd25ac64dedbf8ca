/**
 * The exchange's names and its two request/response protocols (docs/architecture.md, "The exchange";
 * schema/wire.md §10):
 *
 * - `/alliance/<id>/heads/1`: what a peer holds, the roster head and each origin's last batch, so a
 *   node can tell what it is missing (asked on connect and periodically);
 * - `/alliance/<id>/sync/1`: a run of one origin's batches (or of roster entries) from a seq on, so a
 *   node that was down or partitioned catches up from any peer that has them.
 *
 * One request per stream. The requester sends one JSON frame and closes its side; the responder
 * answers with frames and closes. Payloads (compact JWS batches, serialised roster entries) travel as
 * raw frames exactly as stored, never re-encoded, so their signatures and hashes hold end to end.
 * The responder limits each peer with a token bucket and bounds every response in frames, bytes and
 * time; the requester enforces the same limits on what it receives.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import type { Logger } from '../log.ts';
import type { ExchangeMetrics, StreamProtocol, SyncKind } from './metrics.ts';
import { MAX_WIRE_INTEGER } from '../encoding/integers.ts';
import { TokenBuckets, type TokenRate } from '../encoding/token-bucket.ts';
import { Deadline, FramedStream, WireError, WIRE_ERROR_CODES, frameText, parseJsonFrame, translateStreamError, type WireErrorCode } from './wire.ts';

// ---------------------------------------------------------------------------------------------
// Names

/** Gossip topic of signed batches. */
export function batchesTopic(alliance: string): string {
  return `/alliance/${alliance}/batches/1`;
}

/** Gossip topic of signed roster entries. */
export function rosterTopic(alliance: string): string {
  return `/alliance/${alliance}/roster/1`;
}

export function headsProtocol(alliance: string): string {
  return `/alliance/${alliance}/heads/1`;
}

export function syncProtocol(alliance: string): string {
  return `/alliance/${alliance}/sync/1`;
}

// ---------------------------------------------------------------------------------------------
// Limits

export interface ExchangeLimits {
  /** Largest request frame. */
  requestBytes: number;
  /** Largest heads response frame: 10,000 origins with 128-character ids fit. */
  headsFrameBytes: number;
  /** Most origins in a heads response. */
  maxOrigins: number;
  /** Largest frame of a sync response: a batch is at most 512 KiB. */
  frameBytes: number;
  /** Most payload frames in one sync response (and the largest `limit` a request gets served). */
  maxFrames: number;
  /** Most payload bytes in one sync response. */
  responseBytes: number;
  /** Whole request, from dial to the end frame (requester), or from the stream opening to its close (responder). */
  timeoutMs: number;
}

export const DEFAULT_EXCHANGE_LIMITS: Readonly<ExchangeLimits> = Object.freeze({
  requestBytes: 4096,
  headsFrameBytes: 2_359_296,
  maxOrigins: 10_000,
  frameBytes: 614_400,
  maxFrames: 256,
  responseBytes: 16_777_216,
  timeoutMs: 10_000,
});

/** A peer's request rate: `perSecond` refill, `burst` the most requests at once after a quiet period. */
export type RateLimit = TokenRate;

/** Heads and sync requests share one bucket per peer. */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimit> = Object.freeze({ perSecond: 10, burst: 20 });

/**
 * The longest a requester waits on a responder's `retryAfterMs`, whatever it says: the frame may carry
 * up to 2^53 - 1, and a sync waiting that long would hold its origin until a restart (past 2^31 - 1 ms
 * a timer even fires at once). A responder's own rate limit asks for far less.
 */
export const MAX_RETRY_AFTER_MS = 10_000;

/** Concurrent streams per connection and protocol; more are reset by libp2p before reaching a handler. */
export const MAX_STREAMS = Object.freeze({ heads: 4, sync: 8 });

// ---------------------------------------------------------------------------------------------
// Messages

export interface HeadsResponse {
  /** The responder's roster head, or null if it has no roster yet. */
  roster: { seq: number; head: string } | null;
  /** Per origin, the seq and batch hash of the last batch the responder holds (its chain is gapless up to there). */
  origins: Array<{ origin: string; seq: number; hash: string }>;
}

export type SyncRequest = { kind: 'batches'; origin: string; from: number; limit: number } | { kind: 'roster'; from: number; limit: number };

export interface SyncResponse {
  /** Compact JWS batches, or serialised roster entries, in seq order from `from`. */
  items: string[];
  /** The responder has further items after these. */
  more: boolean;
}

/** Where the responder's data comes from: the node's batch and roster storage. */
export interface ExchangeSource {
  heads(): Promise<HeadsResponse>;
  /** Batches of `origin` with seq >= `from`, in seq order, at most `limit`. */
  batches(origin: string, from: number, limit: number): Promise<{ items: string[]; more: boolean }>;
  /** Roster entries with seq >= `from`, serialised, in seq order, at most `limit`. */
  rosterEntries(from: number, limit: number): Promise<{ items: string[]; more: boolean }>;
}

const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const HASH = /^[A-Za-z0-9_-]{43}$/;
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Control frames (end, error) start with these bytes; payload frames never do (see `isControlFrame`). */
const CONTROL_PREFIX = new TextEncoder().encode('{"v":');

/**
 * Whether a sync response frame is a control frame. A compact JWS starts with `eyJ` and a serialised
 * roster entry with `{"payload":` (canonical JSON, members sorted), so the first five bytes decide
 * without parsing payloads; the responder refuses to send a payload that would be ambiguous.
 */
export function isControlFrame(frame: Uint8Array): boolean {
  if (frame.byteLength < CONTROL_PREFIX.byteLength) return false;
  for (let i = 0; i < CONTROL_PREFIX.byteLength; i++) if (frame[i] !== CONTROL_PREFIX[i]) return false;
  return true;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An integer from `min` to MAX_WIRE_INTEGER: the range of every seq, limit and delay on the wire. */
function isSeq(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= MAX_WIRE_INTEGER;
}

/** Checks the version member of any message: MALFORMED without one, PROTOCOL for a version this node does not speak. */
function checkVersion(m: unknown, what: string): Record<string, unknown> {
  if (!isRecord(m) || typeof m.v !== 'number') throw new WireError('MALFORMED', `${what} is not a JSON object with a numeric v`);
  if (m.v !== 1) throw new WireError('PROTOCOL', `${what} has version ${String(m.v)}; this node speaks 1`);
  return m;
}

/** Parses a sync request; `maxFrames` caps `limit` (a larger limit is served up to the cap, not refused). */
export function parseSyncRequest(m: unknown, maxFrames: number): SyncRequest {
  const r = checkVersion(m, 'the request');
  if (typeof r.kind !== 'string') throw new WireError('MALFORMED', 'the request has no kind');
  if (r.kind !== 'batches' && r.kind !== 'roster') throw new WireError('PROTOCOL', 'the request kind is neither batches nor roster');
  if (!isSeq(r.limit, 1)) throw new WireError('MALFORMED', 'limit must be a positive integer');
  const limit = Math.min(r.limit, maxFrames);
  if (r.kind === 'batches') {
    if (typeof r.origin !== 'string' || !ID.test(r.origin)) throw new WireError('MALFORMED', 'origin must be a member id');
    if (!isSeq(r.from, 1)) throw new WireError('MALFORMED', 'from must be a batch seq (an integer >= 1)');
    return { kind: 'batches', origin: r.origin, from: r.from, limit };
  }
  if (!isSeq(r.from, 0)) throw new WireError('MALFORMED', 'from must be a roster seq (an integer >= 0)');
  return { kind: 'roster', from: r.from, limit };
}

/** Parses and checks a heads response (MALFORMED for anything out of shape, duplicate origins included). */
export function parseHeadsResponse(m: unknown, maxOrigins: number): HeadsResponse {
  const r = checkVersion(m, 'the heads response');
  let roster: HeadsResponse['roster'] = null;
  if (r.roster !== null) {
    const x = r.roster;
    if (!isRecord(x) || !isSeq(x.seq, 0) || typeof x.head !== 'string' || !HASH.test(x.head)) {
      throw new WireError('MALFORMED', 'roster must be null or {seq, head} with a 43-character base64url hash');
    }
    roster = { seq: x.seq, head: x.head };
  }
  if (!Array.isArray(r.origins)) throw new WireError('MALFORMED', 'origins must be an array');
  if (r.origins.length > maxOrigins) throw new WireError('FRAME_TOO_LARGE', `${r.origins.length} origins is over the limit of ${maxOrigins}`);
  const seen = new Set<string>();
  const origins: HeadsResponse['origins'] = [];
  for (const [i, o] of r.origins.entries()) {
    if (!isRecord(o) || typeof o.origin !== 'string' || !ID.test(o.origin) || !isSeq(o.seq, 1) || typeof o.hash !== 'string' || !HASH.test(o.hash)) {
      throw new WireError('MALFORMED', `origins[${i}] must be {origin, seq, hash} with a member id, a seq >= 1 and a 43-character base64url hash`);
    }
    if (seen.has(o.origin)) throw new WireError('MALFORMED', `origins[${i}] repeats an origin`);
    seen.add(o.origin);
    origins.push({ origin: o.origin, seq: o.seq, hash: o.hash });
  }
  return { roster, origins };
}

/** A remote error frame as a WireError (an unknown code is PROTOCOL: the peer speaks something newer or broken). */
function remoteError(e: unknown): WireError {
  if (!isRecord(e) || typeof e.code !== 'string') return new WireError('MALFORMED', 'the error frame has no code', { remote: true });
  const message = typeof e.message === 'string' ? e.message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 200) : '';
  const code = (WIRE_ERROR_CODES as readonly string[]).includes(e.code) ? (e.code as WireErrorCode) : 'PROTOCOL';
  const details: Record<string, unknown> = {};
  if (code !== e.code) details.remoteCode = e.code.replace(/[^A-Za-z0-9_]/g, '').slice(0, 48);
  if (isSeq(e.retryAfterMs, 0)) details.retryAfterMs = Math.min(e.retryAfterMs, MAX_RETRY_AFTER_MS);
  return new WireError(code, `the peer answered ${e.code}${message === '' ? '' : `: ${message}`}`, { remote: true, details });
}

function errorFrame(err: WireError): Record<string, unknown> {
  const retryAfterMs = err.details?.retryAfterMs;
  return { v: 1, error: { code: err.code, message: err.message, ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}) } };
}

// ---------------------------------------------------------------------------------------------
// Responder

export interface ExchangeProtocolsOptions {
  alliance: string;
  source: ExchangeSource;
  limits?: Partial<ExchangeLimits> | undefined;
  rateLimit?: Partial<RateLimit> | undefined;
  metrics?: ExchangeMetrics | undefined;
  log?: Logger | undefined;
  /** Called with the peer id of every requester (e.g. PeerDirectory.markSeen). */
  onRequest?: ((peerId: string) => void) | undefined;
}

export interface ExchangeProtocols {
  readonly heads: string;
  readonly sync: string;
  /** Stops serving both protocols (streams already open run to their end or deadline). */
  unregister(): Promise<void>;
}

const encoder = new TextEncoder();

/** Registers the heads and sync handlers on `libp2p`. */
export async function registerExchangeProtocols(libp2p: Libp2p, opts: ExchangeProtocolsOptions): Promise<ExchangeProtocols> {
  const limits: ExchangeLimits = { ...DEFAULT_EXCHANGE_LIMITS, ...opts.limits };
  // One bucket per peer (node/encoding/token-bucket.ts), heads and sync together.
  const buckets = new TokenBuckets({ ...DEFAULT_RATE_LIMIT, ...opts.rateLimit });
  const heads = headsProtocol(opts.alliance);
  const sync = syncProtocol(opts.alliance);

  const serve = async (protocol: StreamProtocol, stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    const started = performance.now();
    const deadline = new Deadline(limits.timeoutMs, undefined, 'the response');
    // The request is one small frame: a peer sending more than that ahead is cut off early.
    const io = new FramedStream(stream, { signal: deadline.signal, maxBufferBytes: Math.max(limits.requestBytes * 4, 65_536) });
    let kind: SyncKind = protocol === 'heads' ? 'heads' : 'unknown';
    let result = 'ok';
    try {
      try {
        opts.onRequest?.(peer);
      } catch {
        // Bookkeeping of the caller's must not cost the peer its answer.
      }
      const allowed = buckets.take(peer, performance.now());
      if (!allowed.ok) {
        throw new WireError('RATE_LIMITED', 'over the request rate limit; retry later', { details: { retryAfterMs: allowed.retryAfterMs } });
      }
      const request = await io.readJson(limits.requestBytes);
      if (request === null) throw new WireError('PROTOCOL', 'the stream ended before the request');
      if (protocol === 'heads') {
        checkVersion(request, 'the request');
        const frame = encoder.encode(JSON.stringify(await headsFrame(opts.source, limits)));
        if (frame.byteLength > limits.headsFrameBytes) throw new WireError('UNAVAILABLE', `the responder's heads take ${frame.byteLength} bytes, over the limit of ${limits.headsFrameBytes}`);
        await io.write(frame);
      } else {
        const req = parseSyncRequest(request, limits.maxFrames);
        kind = req.kind;
        await serveSync(io, opts.source, req, limits);
      }
      await io.finish();
    } catch (err) {
      const wire = err instanceof WireError ? err : translateStreamError(err);
      result = wire.code;
      opts.metrics?.streamError(protocol, wire.code);
      if (wire.code === 'TIMEOUT' || io.stream.status !== 'open' || io.stream.writeStatus !== 'writable') {
        // Nothing more can be said on this stream: the deadline reset it, or the peer did.
        io.abort(wire);
      } else {
        await answerError(io, wire);
      }
      const level = wire.code === 'RATE_LIMITED' ? 'debug' : 'warn';
      // The storage failure behind UNAVAILABLE goes to this node's log (through the safe error serializer), not to the peer.
      const cause = wire.code === 'UNAVAILABLE' && wire.cause !== undefined ? { err: wire.cause } : {};
      opts.log?.[level]({ peer, protocol, code: wire.code, reason: wire.message, ...cause }, 'exchange request failed');
    } finally {
      deadline.clear();
      opts.metrics?.syncRequest('in', kind, result, (performance.now() - started) / 1000);
    }
  };

  await libp2p.handle(heads, (stream, connection) => serve('heads', stream, connection), {
    maxInboundStreams: MAX_STREAMS.heads,
    maxOutboundStreams: MAX_STREAMS.heads,
  });
  try {
    await libp2p.handle(sync, (stream, connection) => serve('sync', stream, connection), {
      maxInboundStreams: MAX_STREAMS.sync,
      maxOutboundStreams: MAX_STREAMS.sync,
    });
  } catch (err) {
    await libp2p.unhandle(heads);
    throw err;
  }
  return {
    heads,
    sync,
    unregister: async () => {
      await libp2p.unhandle([heads, sync]);
    },
  };
}

/** Sends an error frame and closes; a stream that fails meanwhile is reset. */
async function answerError(io: FramedStream, err: WireError): Promise<void> {
  try {
    // What the source threw stays in this node's log: the peer learns only that it failed.
    await io.writeJson(errorFrame(err));
    await io.finish();
  } catch (e) {
    io.abort(e instanceof Error ? e : err);
  }
}

async function headsFrame(source: ExchangeSource, limits: ExchangeLimits): Promise<Record<string, unknown>> {
  let h: HeadsResponse;
  try {
    h = await source.heads();
  } catch (err) {
    throw new WireError('UNAVAILABLE', 'the responder could not read its heads', { cause: err });
  }
  if (h.origins.length > limits.maxOrigins) throw new WireError('UNAVAILABLE', `the responder holds more than ${limits.maxOrigins} origins`);
  const frame = {
    v: 1,
    roster: h.roster === null ? null : { seq: h.roster.seq, head: h.roster.head },
    origins: h.origins.map((o) => ({ origin: o.origin, seq: o.seq, hash: o.hash })),
  };
  // Re-check what storage gave before sending it: a peer would refuse the whole response for one bad entry.
  parseHeadsResponse(frame, limits.maxOrigins);
  return frame;
}

async function serveSync(io: FramedStream, source: ExchangeSource, req: SyncRequest, limits: ExchangeLimits): Promise<void> {
  let page: { items: string[]; more: boolean };
  try {
    page = req.kind === 'batches' ? await source.batches(req.origin, req.from, req.limit) : await source.rosterEntries(req.from, req.limit);
  } catch (err) {
    throw new WireError('UNAVAILABLE', `the responder could not read its ${req.kind === 'batches' ? 'batches' : 'roster'}`, { cause: err });
  }
  let more = page.more;
  let total = 0;
  let sent = 0;
  for (const item of page.items) {
    if (sent >= req.limit) {
      more = true;
      break;
    }
    const bytes = encoder.encode(item);
    if (bytes.byteLength === 0 || bytes.byteLength > limits.frameBytes || isControlFrame(bytes)) {
      throw new WireError('UNAVAILABLE', `the responder holds an item it cannot send (${bytes.byteLength} bytes)`);
    }
    if (total + bytes.byteLength > limits.responseBytes) {
      // The rest comes in the next request: the response stops at the byte budget, not mid-item.
      more = true;
      break;
    }
    await io.write(bytes);
    total += bytes.byteLength;
    sent++;
  }
  await io.writeJson({ v: 1, end: true, more });
}

// ---------------------------------------------------------------------------------------------
// Requester

export interface RequestOptions {
  limits?: Partial<ExchangeLimits> | undefined;
  /** The caller's cancellation; its reason is thrown unchanged. */
  signal?: AbortSignal | undefined;
  metrics?: ExchangeMetrics | undefined;
}

function toPeerId(peer: PeerId | string): PeerId {
  if (typeof peer !== 'string') return peer;
  try {
    return peerIdFromString(peer);
  } catch {
    throw new WireError('UNAVAILABLE', 'not a peer id');
  }
}

/**
 * Opens a stream to `peer` for `protocol` and runs `exchange` on it within the deadline. Maps every
 * failure to a WireError (dial failures: UNAVAILABLE), resets the stream on failure and records metrics.
 */
async function request<T>(
  libp2p: Libp2p,
  peer: PeerId | string,
  protocol: string,
  label: { protocol: StreamProtocol; kind: SyncKind },
  opts: RequestOptions,
  exchange: (io: FramedStream, limits: ExchangeLimits) => Promise<T>,
): Promise<T> {
  const limits: ExchangeLimits = { ...DEFAULT_EXCHANGE_LIMITS, ...opts.limits };
  const started = performance.now();
  const deadline = new Deadline(limits.timeoutMs, opts.signal);
  let io: FramedStream | undefined;
  let result = 'ok';
  try {
    const id = toPeerId(peer);
    let stream: Stream;
    try {
      stream = await libp2p.dialProtocol(id, protocol, { signal: deadline.signal, maxOutboundStreams: MAX_STREAMS[label.protocol] });
    } catch (err) {
      if (deadline.signal.aborted) throw deadline.signal.reason;
      const name = err instanceof Error ? err.name : '';
      if (name === 'UnsupportedProtocolError') throw translateStreamError(err);
      throw new WireError('UNAVAILABLE', `cannot open a stream to the peer: ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    io = new FramedStream(stream, { signal: deadline.signal, maxBufferBytes: Math.max(4 * 1024 * 1024, 2 * Math.max(limits.frameBytes, limits.headsFrameBytes)) });
    const out = await exchange(io, limits);
    io.dispose();
    return out;
  } catch (err) {
    const wire = err instanceof WireError ? err : deadline.signal.aborted ? err : translateStreamError(err);
    result = wire instanceof WireError ? wire.code : 'aborted';
    if (wire instanceof WireError && !wire.remote) opts.metrics?.streamError(label.protocol, wire.code);
    io?.abort(wire instanceof Error ? wire : new Error(String(wire)));
    throw wire;
  } finally {
    deadline.clear();
    opts.metrics?.syncRequest('out', label.kind, result, (performance.now() - started) / 1000);
  }
}

/** Asks `peer` for its heads. Throws WireError (or the caller's abort reason). */
export async function requestHeads(libp2p: Libp2p, peer: PeerId | string, alliance: string, opts: RequestOptions = {}): Promise<HeadsResponse> {
  return request(libp2p, peer, headsProtocol(alliance), { protocol: 'heads', kind: 'heads' }, opts, async (io, limits) => {
    await io.writeJson({ v: 1 });
    await io.closeWrite();
    const frame = await io.read(limits.headsFrameBytes);
    if (frame === null) throw new WireError('PROTOCOL', 'the stream ended before the heads response');
    const m = parseJsonFrame(frame);
    if (isRecord(m) && m.v === 1 && 'error' in m) throw remoteError(m.error);
    return parseHeadsResponse(m, limits.maxOrigins);
  });
}

/**
 * Asks `peer` for batches of one origin (or roster entries) from `req.from` on. Returns the items in
 * order, at most `min(req.limit, maxFrames)` of them, and whether the peer has more. Throws WireError
 * (or the caller's abort reason). Items are checked for shape only (a compact JWS; UTF-8 JSON text
 * for roster entries): verifying them is the caller's.
 */
export async function requestSync(libp2p: Libp2p, peer: PeerId | string, alliance: string, req: SyncRequest, opts: RequestOptions = {}): Promise<SyncResponse> {
  const limits0: ExchangeLimits = { ...DEFAULT_EXCHANGE_LIMITS, ...opts.limits };
  // Check our own request as the responder will, so a bad one fails here and not as a remote error.
  const wireReq =
    req.kind === 'batches'
      ? { v: 1, kind: 'batches', origin: req.origin, from: req.from, limit: req.limit }
      : { v: 1, kind: 'roster', from: req.from, limit: req.limit };
  const checked = parseSyncRequest(wireReq, limits0.maxFrames);
  return request(libp2p, peer, syncProtocol(alliance), { protocol: 'sync', kind: req.kind }, opts, async (io, limits) => {
    await io.writeJson({ ...wireReq, limit: checked.limit });
    await io.closeWrite();
    const items: string[] = [];
    let total = 0;
    while (true) {
      const frame = await io.read(limits.frameBytes);
      if (frame === null) throw new WireError('PROTOCOL', 'the stream ended before the end frame');
      if (isControlFrame(frame)) {
        const m = checkVersion(parseJsonFrame(frame), 'a control frame');
        if ('error' in m) throw remoteError(m.error);
        if (m.end !== true || typeof m.more !== 'boolean') throw new WireError('MALFORMED', 'the end frame must be {"v":1,"end":true,"more":true|false}');
        return { items, more: m.more };
      }
      if (items.length >= checked.limit) throw new WireError('PROTOCOL', `the peer sent more than the ${checked.limit} payload frames asked for`);
      total += frame.byteLength;
      if (total > limits.responseBytes) throw new WireError('FRAME_TOO_LARGE', `the response is over the limit of ${limits.responseBytes} bytes`);
      const text = frameText(frame);
      if (req.kind === 'batches' ? !JWS.test(text) : !text.startsWith('{')) {
        throw new WireError('MALFORMED', `payload frame ${items.length} is not ${req.kind === 'batches' ? 'a compact JWS' : 'a serialised roster entry'}`);
      }
      items.push(text);
    }
  });
}
