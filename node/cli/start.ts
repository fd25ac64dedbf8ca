import type { Command } from './main.ts';
import { configFrom, STORAGE_OPTIONS, STORAGE_USAGE } from './options.ts';

export const startCommand: Command = {
  summary: 'run the node (GraphQL API over this member\'s storage)',
  usage: `Usage: alliance start [options]

Runs the node until SIGINT or SIGTERM. Prints one line with the GraphQL URL when ready, then one
saying which alliance the node is in; on a fresh data directory it also prints a short-lived admin
token. Logs go to stderr as JSON.

Roster: with --genesis FILE (one signed genesis entry, or a roster log file from
"alliance admin export"), an empty roster is founded from the file's entries, and a roster with
another genesis is refused (GENESIS_MISMATCH). Without --genesis, a fresh data directory becomes a
single-member development alliance (member identity "dev-member", admin key keys/dev-admin.jwk,
quorum 1, epoch 1), and one that already is keeps starting. A data directory where "alliance init"
made a member identity and whose roster is still empty is refused (GENESIS_REQUIRED): it is waiting
for its alliance's genesis, pass --genesis FILE.

Options:
${STORAGE_USAGE}  --http HOST:PORT       HTTP listen address (env ALLIANCE_HTTP, default 127.0.0.1:4000)
  --p2p MULTIADDR        libp2p listen address (env ALLIANCE_P2P, default /ip4/0.0.0.0/tcp/4001)
  --genesis FILE         roster genesis or roster log file (env ALLIANCE_GENESIS)
  --log-level LEVEL      fatal|error|warn|info|debug|trace|silent (env ALLIANCE_LOG_LEVEL, default info)
`,
  options: {
    ...STORAGE_OPTIONS,
    http: { type: 'string' },
    p2p: { type: 'string' },
    genesis: { type: 'string' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const config = configFrom(values);
    // Loaded here, not at the top, so `alliance --help` and the light commands start fast.
    const { createLogger } = await import('../log.ts');
    const { startNode, BOOTSTRAP_TOKEN_TTL_SECONDS } = await import('../node.ts');
    const logger = createLogger(config.logLevel);
    const node = await startNode(config, logger);
    // One write, so whoever reads the ready line gets the bootstrap token (if any) with it.
    let ready = `alliance-node ready: GraphQL at ${node.graphqlUrl} (storage: ${node.db.kind === 'pg' ? 'PostgreSQL' : `embedded, ${config.dataDir}`})\n`;
    ready += `${node.alliance.line}\n`;
    if (node.bootstrapToken) {
      ready += `New data directory: admin token, valid ${BOOTSTRAP_TOKEN_TTL_SECONDS / 60} minutes (later: alliance token --role admin):\n${node.bootstrapToken}\n`;
    }
    // Signal handlers before the ready line: whoever reads it may stop the node at once.
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'stopping');
        node.stop().then(
          () => {
            logger.info('stopped');
            logger.flush();
            resolve();
          },
          (err: unknown) => {
            logger.error({ err }, 'error while stopping');
            logger.flush();
            process.exitCode = 1;
            resolve();
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.stdout.write(ready);
    logger.info({ url: node.graphqlUrl, storage: node.db.kind, alliance: node.alliance.id, epoch: node.alliance.epoch }, 'node started');
    await stopped;
    return process.exitCode === 1 ? 1 : 0;
  },
};
