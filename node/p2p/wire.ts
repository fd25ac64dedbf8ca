/**
 * Length-prefixed framing over a libp2p stream with explicit limits (schema/wire.md §10).
 *
 * A frame is an unsigned varint (LEB128, as multiformats' unsigned-varint, `@libp2p/utils` lpStream
 * and it-length-prefixed write it) holding the byte length, then that many bytes. Every read names
 * the largest frame it accepts, and the length prefix is checked before any of the body is read, so
 * a peer announcing a huge frame costs a few bytes, not memory. All reads, writes and the closing of
 * a `FramedStream` share one deadline signal; when it fires the stream is reset at once, whether or
 * not something is waiting on it, so a peer that stops reading or writing holds nothing for longer
 * than the deadline.
 */
import { byteStream, type ByteStream } from '@libp2p/utils';
import type { Stream } from '@libp2p/interface';
import { AllianceError } from '../errors.ts';

export type WireErrorCode =
  /** A frame (or a whole response) is larger than its limit. */
  | 'FRAME_TOO_LARGE'
  /** Bytes that are not what the frame must hold: bad varint, not UTF-8, not JSON, wrong member types. */
  | 'MALFORMED'
  /** The deadline passed (dial, request, response or close). */
  | 'TIMEOUT'
  /** The responder refused the request because the requester is over its rate limit. */
  | 'RATE_LIMITED'
  /** Well-formed frames in the wrong order or number, an unknown version or kind, a stream ended or reset early. */
  | 'PROTOCOL'
  /** The peer cannot be reached, or the responder could not read its own storage. */
  | 'UNAVAILABLE';


export const WIRE_ERROR_CODES: readonly WireErrorCode[] = ['FRAME_TOO_LARGE', 'MALFORMED', 'TIMEOUT', 'RATE_LIMITED', 'PROTOCOL', 'UNAVAILABLE'];

export class WireError extends AllianceError {
  declare readonly code: WireErrorCode;
  /** True when the peer reported the error in an error frame; false when this node detected it. */
  readonly remote: boolean;
  constructor(code: WireErrorCode, message: string, opts: { remote?: boolean; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, opts.details, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.remote = opts.remote ?? false;
  }
}

export function isWireError(err: unknown): err is WireError {
  return err instanceof WireError;
}

/** Bytes of the unsigned varint encoding of `n` (n >= 0). */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('a varint holds a non-negative safe integer');
  const out = new Uint8Array(varintLength(n));
  let i = 0;
  while (n >= 0x80) {
    out[i++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[i] = n;
  return out;
}

/** `frame` with its length prefix, as one buffer. */
export function encodeFrame(frame: Uint8Array): Uint8Array {
  const prefix = encodeVarint(frame.byteLength);
  const out = new Uint8Array(prefix.byteLength + frame.byteLength);
  out.set(prefix, 0);
  out.set(frame, prefix.byteLength);
  return out;
}

/**
 * Decodes the varint at the start of `buf`: `{value, bytes}`, or null if `buf` ends inside it.
 * Throws FRAME_TOO_LARGE once the prefix is longer than `maxFrameBytes` can need (its value would be
 * over the limit whatever follows), and MALFORMED for a non-minimal encoding (a trailing 0x00 group),
 * which the unsigned-varint specification forbids so that each length has one spelling.
 */
export function decodeVarint(buf: Uint8Array, maxFrameBytes: number): { value: number; bytes: number } | null {
  const maxLen = varintLength(maxFrameBytes);
  let value = 0;
  for (let i = 0; i < buf.byteLength; i++) {
    if (i >= maxLen) throw new WireError('FRAME_TOO_LARGE', `the frame length prefix is longer than ${maxLen} bytes (limit ${maxFrameBytes} bytes)`);
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (i > 0 && b === 0) throw new WireError('MALFORMED', 'the frame length is not minimally encoded');
      return { value, bytes: i + 1 };
    }
  }
  if (buf.byteLength >= maxLen) throw new WireError('FRAME_TOO_LARGE', `the frame length prefix is longer than ${maxLen} bytes (limit ${maxFrameBytes} bytes)`);
  return null;
}

const EMPTY = new Uint8Array(0);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/**
 * A deadline for one request or response: `signal` aborts with a TIMEOUT WireError after `ms`, or
 * with the reason of `parent` when that aborts first (the caller's own cancellation, passed through
 * unchanged). `clear()` releases the timer.
 */
export class Deadline {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #parent: AbortSignal | undefined;
  readonly #onParentAbort = (): void => {
    this.#controller.abort(this.#parent?.reason);
  };

  constructor(ms: number, parent?: AbortSignal, what = 'the request') {
    this.signal = this.#controller.signal;
    this.#parent = parent;
    this.#timer = setTimeout(() => this.#controller.abort(new WireError('TIMEOUT', `${what} did not complete within ${ms} ms`)), ms);
    // A pending request must not keep a stopping process alive; its socket does that while it matters.
    this.#timer.unref?.();
    if (parent !== undefined) {
      if (parent.aborted) this.#onParentAbort();
      else parent.addEventListener('abort', this.#onParentAbort, { once: true });
    }
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#parent?.removeEventListener('abort', this.#onParentAbort);
  }
}

export interface FramedStreamOptions {
  /** The deadline: reads, writes and close fail with its reason, and the stream is reset when it fires. */
  signal: AbortSignal;
  /**
   * Most bytes buffered from the peer ahead of the reader; more resets the stream (FRAME_TOO_LARGE).
   * At least the largest frame this side will read.
   */
  maxBufferBytes: number;
}

/** Frames over one libp2p stream, with every failure turned into a WireError (or the caller's abort reason). */
export class FramedStream {
  readonly stream: Stream;
  readonly #bytes: ByteStream<Stream>;
  readonly #signal: AbortSignal;
  #buf: Uint8Array = EMPTY;
  #disposed = false;
  readonly #onAbort = (): void => {
    const reason: unknown = this.#signal.reason;
    this.stream.abort(reason instanceof Error ? reason : new Error(String(reason)));
  };

  constructor(stream: Stream, opts: FramedStreamOptions) {
    this.stream = stream;
    this.#signal = opts.signal;
    this.#bytes = byteStream(stream, { maxBufferSize: opts.maxBufferBytes });
    if (this.#signal.aborted) this.#onAbort();
    else this.#signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /**
   * The next frame, at most `maxFrameBytes` long (FRAME_TOO_LARGE, detected from the length prefix);
   * `null` when the peer closed its side at a frame boundary. A zero-length frame is MALFORMED: no
   * message of these protocols is empty. A stream that ends inside a frame is PROTOCOL.
   */
  async read(maxFrameBytes: number): Promise<Uint8Array | null> {
    let header: { value: number; bytes: number } | null = null;
    while (true) {
      if (header === null) {
        header = decodeVarint(this.#buf, maxFrameBytes);
        if (header !== null) {
          if (header.value > maxFrameBytes) {
            throw new WireError('FRAME_TOO_LARGE', `a frame of ${header.value} bytes is over the limit of ${maxFrameBytes} bytes`, { details: { bytes: header.value, limit: maxFrameBytes } });
          }
          if (header.value === 0) throw new WireError('MALFORMED', 'an empty frame');
        }
      }
      if (header !== null && this.#buf.byteLength >= header.bytes + header.value) {
        const end = header.bytes + header.value;
        const frame = this.#buf.slice(header.bytes, end);
        this.#buf = this.#buf.byteLength === end ? EMPTY : this.#buf.subarray(end);
        return frame;
      }
      const chunks: Uint8Array[] = [this.#buf];
      let have = this.#buf.byteLength;
      // Gather what the body still needs before copying once, rather than concatenating per chunk.
      const need = header === null ? have + 1 : header.bytes + header.value;
      while (have < need) {
        const chunk = await this.#readChunk();
        if (chunk === null) {
          if (have === 0 && header === null) return null;
          throw new WireError('PROTOCOL', 'the stream ended inside a frame');
        }
        chunks.push(chunk);
        have += chunk.byteLength;
      }
      this.#buf = chunks.length === 2 ? concat(chunks[0]!, chunks[1]!) : Buffer.concat(chunks, have);
    }
  }

  /** Reads one frame and parses it as JSON (MALFORMED if it is not UTF-8 JSON). */
  async readJson(maxFrameBytes: number): Promise<unknown | null> {
    const frame = await this.read(maxFrameBytes);
    return frame === null ? null : parseJsonFrame(frame);
  }

  async write(frame: Uint8Array): Promise<void> {
    if (frame.byteLength === 0) throw new RangeError('frames are never empty');
    try {
      await this.#bytes.write(encodeFrame(frame), { signal: this.#signal });
    } catch (err) {
      throw this.#translate(err);
    }
  }

  async writeJson(value: unknown): Promise<void> {
    await this.write(new TextEncoder().encode(JSON.stringify(value)));
  }

  /** Closes this side for writing once everything written has been handed to the muxer (within the deadline). */
  async closeWrite(): Promise<void> {
    try {
      await this.stream.close({ signal: this.#signal });
    } catch (err) {
      throw this.#translate(err);
    }
  }

  /**
   * Closes this side for writing and waits, within the deadline, for the peer to close its side; a
   * peer that keeps its side open is reset at the deadline. Then releases the deadline listener.
   */
  async finish(): Promise<void> {
    try {
      await this.closeWrite();
      if (this.stream.status === 'open' && this.stream.remoteWriteStatus === 'writable') {
        await new Promise<void>((resolve, reject) => {
          const done = (): void => {
            this.stream.removeEventListener('close', done);
            this.stream.removeEventListener('remoteCloseWrite', done);
            this.#signal.removeEventListener('abort', fail);
            resolve();
          };
          const fail = (): void => {
            this.stream.removeEventListener('close', done);
            this.stream.removeEventListener('remoteCloseWrite', done);
            reject(this.#translate(this.#signal.reason));
          };
          this.stream.addEventListener('close', done);
          this.stream.addEventListener('remoteCloseWrite', done);
          if (this.#signal.aborted) fail();
          else this.#signal.addEventListener('abort', fail, { once: true });
        });
      }
    } finally {
      this.dispose();
    }
  }

  /** Resets the stream (both directions, unsent data dropped) and releases the deadline listener. */
  abort(err: Error): void {
    this.stream.abort(err);
    this.dispose();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#signal.removeEventListener('abort', this.#onAbort);
  }

  async #readChunk(): Promise<Uint8Array | null> {
    try {
      const chunk = await this.#bytes.read({ signal: this.#signal });
      return chunk === null ? null : chunk.subarray();
    } catch (err) {
      throw this.#translate(err);
    }
  }

  #translate(err: unknown): unknown {
    if (this.#signal.aborted) return this.#signal.reason;
    return translateStreamError(err);
  }
}

/** Maps what libp2p throws on a stream to a WireError; WireErrors pass unchanged. */
export function translateStreamError(err: unknown): WireError {
  if (err instanceof WireError) return err;
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'StreamBufferError') return new WireError('FRAME_TOO_LARGE', `the peer sent more than the read buffer holds (${message})`, { cause: err });
  if (name === 'TimeoutError' || name === 'InactivityTimeoutError') return new WireError('TIMEOUT', message, { cause: err });
  if (name === 'UnsupportedProtocolError') return new WireError('PROTOCOL', `the peer does not speak the protocol (${message})`, { cause: err });
  return new WireError('PROTOCOL', `the stream failed: ${name}: ${message}`, { cause: err });
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes a frame as UTF-8 text (MALFORMED if it is not valid UTF-8). */
export function frameText(frame: Uint8Array): string {
  try {
    return UTF8.decode(frame);
  } catch {
    throw new WireError('MALFORMED', 'a frame is not UTF-8 text');
  }
}

export function parseJsonFrame(frame: Uint8Array): unknown {
  const text = frameText(frame);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new WireError('MALFORMED', 'a frame is not JSON');
  }
}
