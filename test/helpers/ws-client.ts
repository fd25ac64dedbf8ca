/**
 * A minimal GraphQL over WebSocket client (graphql-transport-ws) on Node's own WebSocket, for
 * subscription tests against a real server.
 */
export interface WsMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export class WsClient {
  readonly messages: WsMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly #socket: WebSocket;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener('message', (ev) => {
      this.messages.push(JSON.parse(String(ev.data)) as WsMessage);
      this.#wake();
    });
    socket.addEventListener('close', (ev) => {
      this.closed = { code: ev.code, reason: ev.reason };
      this.#wake();
    });
  }

  /** Opens a socket to the GraphQL endpoint (http URL), speaking `protocol`. */
  static open(graphqlUrl: string, protocol: string | string[] = 'graphql-transport-ws'): Promise<WsClient> {
    const socket = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), protocol);
    return new Promise((resolve, reject) => {
      socket.addEventListener('open', () => resolve(new WsClient(socket)), { once: true });
      socket.addEventListener('error', () => reject(new Error('WebSocket could not be opened')), { once: true });
    });
  }

  /** Opens a socket and sends connection_init with `payload`. */
  static async init(graphqlUrl: string, payload: unknown): Promise<WsClient> {
    const c = await WsClient.open(graphqlUrl);
    c.send({ type: 'connection_init', ...(payload === undefined ? {} : { payload }) });
    return c;
  }

  send(message: WsMessage): void {
    this.#socket.send(JSON.stringify(message));
  }

  /** Sends text as it is (for messages that are not JSON or not of the protocol). */
  sendRaw(text: string): void {
    this.#socket.send(text);
  }

  subscribe(id: string, query: string, variables?: Record<string, unknown>): void {
    this.send({ id, type: 'subscribe', payload: { query, ...(variables === undefined ? {} : { variables }) } });
  }

  /** The first message (from `from` on) that `match` accepts; fails after `timeoutMs` or when the socket closes first. */
  async next(match: (m: WsMessage) => boolean, opts: { from?: number; timeoutMs?: number } = {}): Promise<WsMessage> {
    const until = Date.now() + (opts.timeoutMs ?? 20_000);
    for (;;) {
      const found = this.messages.slice(opts.from ?? 0).find(match);
      if (found !== undefined) return found;
      if (this.closed !== undefined) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the message came; got ${JSON.stringify(this.messages)}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no such message within ${opts.timeoutMs ?? 20_000} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Resolves once the server has closed the socket. */
  async whenClosed(timeoutMs = 20_000): Promise<{ code: number; reason: string }> {
    const until = Date.now() + timeoutMs;
    while (this.closed === undefined) {
      if (Date.now() > until) throw new Error(`socket still open after ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, until - Date.now());
        this.#waiters.add(wake);
      });
    }
    return this.closed;
  }

  close(): void {
    if (this.closed === undefined) this.#socket.close();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Polls the node's /metrics until `alliance_match_subscriptions` reads `n`. */
export async function waitForSubscribers(graphqlUrl: string, n: number, timeoutMs = 20_000): Promise<void> {
  const url = graphqlUrl.replace(/\/graphql$/, '/metrics');
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(url)).text();
    const m = /^alliance_match_subscriptions (\S+)$/m.exec(text);
    if (m !== null && Number(m[1]) === n) return;
    if (Date.now() > until) throw new Error(`alliance_match_subscriptions is ${m?.[1]}, not ${n}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
