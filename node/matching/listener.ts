/**
 * PostgreSQL fan-out of match alerts: a dedicated connection (outside the pool, since LISTEN is
 * per session) listens on `alliance_match` and feeds every announced match id into this process's
 * MatchFeed. The matcher NOTIFYs inside its transaction, so ids arrive once committed, in every
 * process over the database, this one included: several API processes each push every match to
 * their own subscribers.
 *
 * A lost connection is re-established with backoff (0.5 s doubling to 30 s); matches raised while
 * it was down are not pushed (subscribers that must not miss any re-read `matches(filter: {state:
 * [NEW], since})` after reconnecting).
 */
import type { Startable } from '@libp2p/interface';
import pg from 'pg';
import type { Logger } from '../log.ts';
import type { MatchFeed } from './feed.ts';
import { MATCH_CHANNEL } from './model.ts';

export interface MatchListenerOptions {
  connectionString: string;
  feed: MatchFeed;
  logger: Logger;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export class MatchListener implements Startable {
  readonly #opts: MatchListenerOptions;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #stopped = false;

  constructor(opts: MatchListenerOptions) {
    this.#opts = opts;
  }

  /** Connects and listens; if the first attempt fails it keeps retrying in the background. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#connect();
  }

  get listening(): boolean {
    return this.#client !== undefined;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#opts.connectionString, application_name: 'alliance-node match listener' });
    client.on('notification', (n) => {
      if (n.channel !== MATCH_CHANNEL || n.payload === undefined || !/^\d{1,18}$/.test(n.payload)) return;
      this.#opts.feed.publish([n.payload]);
    });
    client.on('error', (err) => {
      this.#opts.logger.warn({ err }, 'match listener connection failed; reconnecting');
      this.#lost(client);
    });
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${MATCH_CHANNEL}`);
    } catch (err) {
      this.#opts.logger.warn({ err, retryMs: this.#retryMs }, 'match listener could not connect; retrying');
      await client.end().catch(() => undefined);
      this.#retry();
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#retryMs = RETRY_MIN_MS;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, wait);
    this.#timer.unref();
  }
}
