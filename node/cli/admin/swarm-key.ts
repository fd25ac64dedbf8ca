import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';

export const swarmKeyCommand: Command = {
  summary: 'create a private-network key file (libp2p pnet) that every member node is started with',
  usage: `Usage: alliance admin swarm-key --out FILE

Writes a new 32-byte pre-shared key in the libp2p swarm key format (/key/swarm/psk/1.0.0/, base16)
to FILE, readable by the owner only and never overwritten. Give the same file to every member over
a private channel and start each node with ALLIANCE_P2P_PSK=FILE: nodes then only complete a
connection with nodes holding the same key, before any roster check. All members must switch at
once, so changing it means a short outage of the exchange (nodes catch up afterwards).

Options:
  --out FILE     where to write the key (must not exist; missing directories are created 0700)
`,
  options: { out: { type: 'string' } },
  async run(values) {
    const out = values.out as string | undefined;
    if (!out) throw new UsageError('--out is required');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { generateSwarmKey } = await import('../../p2p/host.ts');
    const { writeFileExclusive } = await import('../../atomic-file.ts');
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true, mode: 0o700 });
    if (!writeFileExclusive(out, generateSwarmKey())) {
      process.stderr.write(`error SWARM_KEY_EXISTS: ${out} already exists; it is never overwritten\n`);
      return 1;
    }
    process.stderr.write(`swarm key written to ${out}: give it to every member (ALLIANCE_P2P_PSK)\n`);
    return 0;
  },
};
