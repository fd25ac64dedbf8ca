import fs from 'node:fs';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Database } from './storage/database.ts';
import { openStorage } from './storage/open.ts';
import { backfillCanonical } from './records/backfill.ts';
import { buildApi, type Api } from './api/server.ts';
import { createTokenVerifier } from './api/auth.ts';
import { issueToken, loadOrCreateApiKey } from './api/tokens.ts';

export interface RunningNode {
  /** Where GraphQL answers, e.g. http://127.0.0.1:4000/graphql. */
  graphqlUrl: string;
  /** Set on the very first start of a data directory: a short-lived admin token to begin with. */
  bootstrapToken: string | undefined;
  db: Database;
  api: Api;
  /** Stops taking requests, lets those in flight finish, then closes storage. Safe to call twice. */
  stop(): Promise<void>;
}

export const BOOTSTRAP_TOKEN_TTL_SECONDS = 3600;

/** Starts one member node over the configured storage. */
export async function startNode(config: Config, logger: Logger): Promise<RunningNode> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const apiKey = await loadOrCreateApiKey(config.dataDir);
  const db = await openStorage(config);
  let api: Api;
  try {
    const backfill = await backfillCanonical(db, config.defaultRegion);
    if (backfill.filled || backfill.invalid) logger.info(backfill, 'identifiers given their canonical form');
    api = await buildApi({ config, db, logger, verifyToken: createTokenVerifier(config.auth, apiKey.publicKey) });
    await api.app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await db.close();
    throw err;
  }
  const address = api.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;

  const bootstrapToken = apiKey.created
    ? await issueToken(apiKey, config.auth, { role: 'admin', sub: 'bootstrap-admin', ttlSeconds: BOOTSTRAP_TOKEN_TTL_SECONDS })
    : undefined;

  let stopping: Promise<void> | undefined;
  return {
    graphqlUrl: `http://${shownHost}:${port}/graphql`,
    bootstrapToken,
    db,
    api,
    stop() {
      stopping ??= (async () => {
        try {
          await api.app.close();
        } finally {
          await db.close();
        }
      })();
      return stopping;
    },
  };
}
