import type { Command } from './command.ts';
import { configFrom, STORAGE_OPTIONS, STORAGE_USAGE } from './options.ts';
import { DEFAULTS, LOG_LEVELS } from '../config.ts';
import type { PortNeed } from '../ports.ts';

export const startCommand: Command = {
  summary: 'run the node (GraphQL API over this member\'s storage)',
  usage: `Usage: alliance start [options]

Runs the node until SIGINT or SIGTERM (a second one stops it at once, exit status 1). Prints one
line with the GraphQL URL when ready, then one saying which alliance the node is in; on a fresh data
directory it also prints a short-lived admin token. Logs go to stderr as JSON.

Roster: with --genesis FILE (one signed genesis entry, or a roster log file from
"alliance admin export"), an empty roster is founded from the file's entries, and a roster with
another genesis is refused (GENESIS_MISMATCH). Without --genesis, a fresh data directory becomes a
single-member development alliance (member identity "dev-member", admin key keys/dev-admin.jwk,
quorum 1, epoch 1), and one that already is keeps starting. A data directory where "alliance init"
made a member identity and whose roster is still empty is refused (GENESIS_REQUIRED): it is waiting
for its alliance's genesis, pass --genesis FILE.

Options:
${STORAGE_USAGE}  --http HOST:PORT       HTTP listen address (env ALLIANCE_HTTP, default ${DEFAULTS.http})
  --p2p MULTIADDR        libp2p listen address (env ALLIANCE_P2P, default ${DEFAULTS.p2p})
  --genesis FILE         roster genesis or roster log file (env ALLIANCE_GENESIS)
  --log-level LEVEL      ${LOG_LEVELS.join('|')} (env ALLIANCE_LOG_LEVEL, default ${DEFAULTS.logLevel})

Both ports are checked before anything is written: one in use is named with the flag that changes
it (PORT_IN_USE). Once listening, the node records its GraphQL URL in DIR/listen.json (removed when it
stops), where "alliance lookup" and "alliance export" with --data-dir find it. Started by npm
(npm start, npx alliance start), it also stops when that npm goes away. Output nobody reads any more
(alliance start | head) is dropped; it does not stop the node.

Exit status: 0 stopped by SIGINT or SIGTERM; 1 could not start (a port in use: PORT_IN_USE, the data
directory locked by another node: STORAGE_LOCKED, ...) or did not stop cleanly; 2 wrong usage.
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
    const { inUseFailure, portError, requireListenable, tcpOfMultiaddr } = await import('../ports.ts');
    const { onStopRequest } = await import('./lifecycle.ts');
    // Both ports before anything is written: a fresh data directory would otherwise be made into a
    // development alliance by a start that then fails to listen.
    const ports = listenNeeds(config.http, tcpOfMultiaddr(config.p2p));
    await requireListenable([ports.http, ...(ports.p2p ? [ports.p2p] : [])]);
    const { createLogger } = await import('../log.ts');
    const { startNode, BOOTSTRAP_TOKEN_TTL_SECONDS } = await import('../node.ts');
    const logger = createLogger(config.logLevel);
    let node;
    try {
      node = await startNode(config, logger);
    } catch (err) {
      // Taken between the check and the listen: the same one line.
      const taken = inUseFailure(err);
      const need = taken === undefined ? undefined : ports[taken];
      throw need === undefined ? err : portError(need, 'EADDRINUSE');
    }
    const running = node;
    // One write, so whoever reads the ready line gets the bootstrap token (if any) with it.
    let ready = `alliance-node ready: GraphQL at ${running.graphqlUrl} (storage: ${running.db.kind === 'pg' ? 'PostgreSQL' : `embedded, ${config.dataDir}`})\n`;
    ready += `${running.alliance.line}\n`;
    if (running.bootstrapToken) {
      ready += `New data directory: admin token, valid ${BOOTSTRAP_TOKEN_TTL_SECONDS / 60} minutes (later: alliance token --role admin):\n${running.bootstrapToken}\n`;
    }
    // Stop handlers before the ready line: whoever reads it may stop the node at once.
    let removeHandlers = () => {};
    const stopped = new Promise<void>((resolve) => {
      removeHandlers = onStopRequest((reason, first) => {
        if (!first) {
          // Asked again while stopping: the user insists.
          logger.warn({ signal: reason }, 'stopping now, without waiting for the node to close');
          logger.flush();
          process.exit(1);
        }
        logger.info({ signal: reason }, 'stopping');
        running.stop().then(
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
      });
    });
    process.stdout.write(ready);
    logger.info({ url: running.graphqlUrl, storage: running.db.kind, alliance: running.alliance.id, epoch: running.alliance.epoch }, 'node started');
    await stopped;
    removeHandlers();
    return process.exitCode === 1 ? 1 : 0;
  },
};

/** The ports `start` listens on, as the port check names them. */
function listenNeeds(http: { host: string; port: number }, p2p: { host: string; port: number } | undefined): { http: PortNeed; p2p?: PortNeed } {
  return {
    http: { ...http, what: `HTTP port ${http.port} (${http.host})`, fix: 'pass --http HOST:PORT (env ALLIANCE_HTTP) to listen elsewhere' },
    ...(p2p === undefined ? {} : { p2p: { ...p2p, what: `P2P port ${p2p.port} (${p2p.host})`, fix: 'pass --p2p /ip4/HOST/tcp/PORT (env ALLIANCE_P2P) to listen elsewhere' } }),
  };
}
