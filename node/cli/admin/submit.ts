import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { configFrom, STORAGE_OPTIONS, STORAGE_USAGE } from '../options.ts';

export const submitCommand: Command = {
  summary: 'submit signed roster entries (a signed entry or a roster log file) to this node',
  usage: `Usage: alliance admin submit FILE [--data-dir DIR] [--database-url URL]

Validates each signed entry of FILE against the node's roster (schema/roster.md) and stores it.
FILE is one signed entry (a fully signed proposal file from "alliance admin sign") or a roster
log file (one signed entry per line, from "alliance admin export"). Prints one line per entry:
"applied" or "already present" (entries the roster already holds are skipped harmlessly). The first
refused entry stops the command with exit status 1 and its reason (e.g. insufficient_signatures,
wrong_prev, gap); a fork (a different, validly signed entry at a seq the roster already has) is
also kept as an alarm for admins (GraphQL rosterAlarms). If an epoch.new wraps a key for this
node's member identity, the key is unwrapped into keys/epochs/.

Talks to the storage directly; with embedded storage, stop the node first.

Options:
${STORAGE_USAGE}`,
  options: { ...STORAGE_OPTIONS },
  allowPositionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('give exactly one FILE');
    const config = configFrom(values);
    // The file first: a typo in its name must not create (or lock) a data directory.
    const { readRosterFile } = await import('../../membership/roster-file.ts');
    const entries = readRosterFile(positionals[0]!);
    const { openStorage } = await import('../../storage/open.ts');
    const { RosterStore } = await import('../../membership/roster-store.ts');
    const { epochKeyInstaller } = await import('../../membership/epoch-install.ts');
    const { isRosterError, parseSignedEntry } = await import('../../membership/roster.ts');
    const db = await openStorage(config);
    try {
      const store = await RosterStore.open(db, {
        onEpoch: epochKeyInstaller(config.dataDir, {
          report: (o) => {
            if (o.status === 'installed') process.stderr.write(`epoch ${o.epoch}: key for this member installed in ${o.file}\n`);
            if (o.status === 'failed') process.stderr.write(`epoch ${o.epoch}: the key wrapped for this member could not be unwrapped: ${o.message} [${o.code}]\n`);
          },
        }),
      });
      for (const [i, text] of entries.entries()) {
        let label = `entry ${i + 1}`;
        try {
          const { entry } = await parseSignedEntry(text);
          label = `seq ${entry.seq} ${entry.type}`;
        } catch {
          // submit reports why
        }
        try {
          const r = await store.submit(text);
          process.stdout.write(`${label} ${r.hash}: ${r.applied ? 'applied' : 'already present'}\n`);
        } catch (err) {
          if (!isRosterError(err)) throw err;
          process.stdout.write(`${label}: refused: ${err.reason}\n`);
          const alarm = err.reason === 'fork' ? ' (kept as an alarm for admins: GraphQL rosterAlarms)' : '';
          process.stderr.write(`alliance admin submit: ${label} refused (${err.reason}): ${err.message}${alarm}\n`);
          return 1;
        }
      }
      const s = store.state;
      if (s) process.stderr.write(`roster of alliance ${s.alliance}: head seq ${s.seq}, epoch ${s.epoch}, ${s.members.length} member(s)\n`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
