import type { Command } from './command.ts';
import { UsageError } from './errors.ts';
import { parseInteger } from './admin/propose.ts';
import { LOG_LEVELS, type LogLevel } from '../config.ts';
import { DEMO_DEFAULTS } from '../demo/defaults.ts';

/** Three embedded databases in one process: more is a load test, not a demo (scripts/bench). */
const MAX_RECORDS = 100_000;

export const demoCommand: Command = {
  summary: 'run a three-member demo alliance on this machine, with synthetic data',
  usage: `Usage: alliance demo [--dir DIR] [--records N] [--http-port BASE] [--fresh] [--log-level LEVEL]

Runs a whole alliance in this process, on embedded storage: two marketplaces (bazaarly, marketnest)
and a brand rights holder (aurelia), founded as real admins would found it (two admin keys, a member
identity per member, a genesis signed by both admins, the members admitted, a first epoch key), each
node in its own data directory DIR/<member id>, connected over libp2p on 127.0.0.1.

The first run seeds each member with N synthetic records (deterministic), among them sellers that
several members know under differently written phones, emails, shops, web addresses and payment
accounts, and waits until every member holds the others' indicators. Then it prints, per member,
the GraphQL URL and a token per role (valid 12h), and example lookups (curl and "alliance lookup")
that find such a seller at the other members; the same goes to DIR/demo.json for scripts.

Ctrl-C (or SIGTERM, to the demo or to the npm run demo that runs it) stops every node cleanly; run
by npm, the demo also stops when that npm goes away. Running it again starts the same alliance with
the same data (no reseeding) and prints fresh tokens; --fresh deletes DIR first and starts over.
Environment settings of the node (ALLIANCE_*) apply to every member node, except storage, addresses
and genesis: the demo always uses embedded storage in DIR (DATABASE_URL is ignored).

Options:
  --dir DIR          demo directory (default data/demo)
  --records N        records per member on the first run, 1 to 100000 (default 1000)
  --http-port BASE   GraphQL of the members on BASE, BASE+1, BASE+2 (default 4101); a new demo's
                     P2P ports are BASE+10.. and are kept for later runs
  --fresh            delete the demo in DIR and start over
  --log-level LEVEL  node logs on stderr: ${LOG_LEVELS.join('|')} (default ${DEMO_DEFAULTS.logLevel})

Exit status: 0 stopped by Ctrl-C or SIGTERM, 1 could not start (a port in use, a demo already
running in DIR, ...), 2 wrong usage.
`,
  options: {
    dir: { type: 'string' },
    records: { type: 'string' },
    'http-port': { type: 'string' },
    fresh: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const dir = (values.dir as string | undefined) ?? DEMO_DEFAULTS.dir;
    if (dir.trim() === '') throw new UsageError('--dir needs a directory');
    const records = values.records === undefined ? DEMO_DEFAULTS.records : parseInteger(values.records as string, '--records', 1, MAX_RECORDS);
    // The three HTTP ports and the P2P ports BASE+10.. must all fit below 65536.
    const httpPort = values['http-port'] === undefined ? DEMO_DEFAULTS.httpPort : parseInteger(values['http-port'] as string, '--http-port', 1, 65535 - 20);
    const logLevel = ((values['log-level'] as string | undefined) ?? DEMO_DEFAULTS.logLevel) as LogLevel;
    if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(logLevel)})`);

    // Loaded once the flags are known good: it brings the whole node in.
    const { runDemo } = await import('../demo/run.ts');
    const { onStopRequest } = await import('./lifecycle.ts');
    const abort = new AbortController();
    const removeHandlers = onStopRequest((reason, first) => {
      if (first) {
        process.stderr.write(`alliance demo: ${reason}: stopping the nodes\n`);
        abort.abort();
      } else {
        process.stderr.write('alliance demo: stopping now, without waiting for the nodes\n');
        process.exit(1);
      }
    });
    try {
      const demo = await runDemo(
        { dir, records, httpPort, fresh: values.fresh === true, logLevel },
        { signal: abort.signal, progress: (line) => process.stderr.write(`alliance demo: ${line}\n`) },
      );
      if (demo === undefined) {
        process.stderr.write('alliance demo: stopped\n');
        return 0;
      }
      process.stdout.write(demo.text);
      if (!abort.signal.aborted) await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
      await demo.stop();
      process.stderr.write('alliance demo: stopped\n');
      return 0;
    } finally {
      removeHandlers();
    }
  },
};
