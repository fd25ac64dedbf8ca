import { writeFileAtomicSync } from '../../atomic-file.ts';
import type { Command } from '../command.ts';
import { configFrom, STORAGE_OPTIONS, STORAGE_USAGE } from '../options.ts';

export const exportCommand: Command = {
  summary: "write this node's roster log file (one signed entry per line)",
  usage: `Usage: alliance admin export [--out FILE] [--data-dir DIR] [--database-url URL]

Writes the node's validated roster as a roster log file: JSON Lines, one signed entry per line in
seq order from the genesis. It is what admins pass around: the input of "alliance admin propose",
and what another node is started with (alliance start --genesis FILE) or given with
"alliance admin submit FILE". Public data: signed entries hold no private key.

Talks to the storage directly; with embedded storage, stop the node first.

Options:
  --out FILE             write to FILE (replaced if it exists) instead of stdout
${STORAGE_USAGE}`,
  options: { ...STORAGE_OPTIONS, out: { type: 'string' } },
  async run(values) {
    const config = configFrom(values);
    const { openStorage } = await import('../../storage/open.ts');
    const { RosterStore } = await import('../../membership/roster-store.ts');
    const db = await openStorage(config);
    let text: string;
    let head: string;
    try {
      // open replays the chain: a stored roster that does not validate is never exported.
      const store = await RosterStore.open(db);
      text = await store.exportJsonl();
      const s = store.state;
      head = s === null ? 'the roster is empty' : `${s.seq + 1} entries of alliance ${s.alliance}, head ${s.head}`;
    } finally {
      await db.close();
    }
    const out = values.out as string | undefined;
    if (out === undefined) {
      process.stdout.write(text);
    } else {
      writeFileAtomicSync(out, text, { dirMode: 0o777 });
    }
    process.stderr.write(`alliance admin export: ${head}${out === undefined ? '' : ` written to ${out}`}\n`);
    return 0;
  },
};
