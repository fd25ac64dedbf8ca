import type { Command, CommandGroup } from './command.ts';
import { keygenCommand } from './admin/keygen.ts';
import { submitCommand } from './admin/submit.ts';
import { exportCommand } from './admin/export.ts';
import { genesisCommand } from './admin/genesis.ts';
import { proposeCommand } from './admin/propose.ts';
import { signCommand } from './admin/sign.ts';
import { revokeCommand } from './admin/revoke.ts';
import { rotateCommand } from './admin/rotate.ts';
import { swarmKeyCommand } from './admin/swarm-key.ts';

/** `alliance admin <subcommand>`: network admins' tools, one module each under node/cli/admin/. */
const SUBCOMMANDS: Record<string, Command> = {
  keygen: keygenCommand,
  submit: submitCommand,
  export: exportCommand,
  genesis: genesisCommand,
  propose: proposeCommand,
  sign: signCommand,
  revoke: revokeCommand,
  rotate: rotateCommand,
  'swarm-key': swarmKeyCommand,
};

export const adminCommand: CommandGroup = {
  summary: 'network admin tools: keys, roster proposals, signatures, submission',
  subcommands: SUBCOMMANDS,
  get usage() {
    const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
    return `Usage: alliance admin <subcommand> [options]\n\nSubcommands:\n${lines.join('\n')}\n\nRun "alliance admin <subcommand> --help" for its options.\n`;
  },
};
