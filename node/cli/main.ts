import { parseArgs } from 'node:util';
import type { Command, CommandGroup } from './command.ts';
import { isAllianceError } from '../errors.ts';
import { EXIT, UsageError } from './errors.ts';
import { startCommand } from './start.ts';
import { migrateCommand } from './migrate.ts';
import { tokenCommand } from './token.ts';
import { importCommand } from './import.ts';
import { normalizeCommand } from './normalize.ts';
import { lookupCommand } from './lookup.ts';
import { exportCommand } from './export.ts';
import { benchCommand } from './bench.ts';
import { initCommand } from './init.ts';
import { rotateKeysCommand } from './rotate-keys.ts';
import { adminCommand } from './admin.ts';
import { demoCommand } from './demo.ts';

const COMMANDS: Record<string, Command | CommandGroup> = {
  start: startCommand,
  migrate: migrateCommand,
  token: tokenCommand,
  import: importCommand,
  normalize: normalizeCommand,
  lookup: lookupCommand,
  export: exportCommand,
  init: initCommand,
  'rotate-keys': rotateKeysCommand,
  admin: adminCommand,
  bench: benchCommand,
  demo: demoCommand,
};

function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `Usage: alliance <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "alliance <command> --help" for a command's options.\n`;
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`alliance: unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.usage;
  }
  if ('subcommands' in command) return runGroup(name, command, rest);
  return runCommand(name, command, rest);
}

async function runGroup(name: string, group: CommandGroup, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(group.usage);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = group.subcommands[sub];
  if (!command) {
    process.stderr.write(`alliance ${name}: unknown subcommand "${sub}"\n\n${group.usage}`);
    return EXIT.usage;
  }
  return runCommand(`${name} ${sub}`, command, rest);
}

async function runCommand(name: string, command: Command, rest: string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...command.options, help: { type: 'boolean', short: 'h' } },
        allowPositionals: command.allowPositionals ?? false,
        strict: true,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (parsed.values.help) {
      process.stdout.write(command.usage);
      return EXIT.ok;
    }
    return await command.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`alliance ${name}: ${err.message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    if (isAllianceError(err)) {
      process.stderr.write(`alliance ${name}: ${err.message} [${err.code}]\n`);
      return EXIT.failure;
    }
    process.stderr.write(`alliance ${name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failure;
  }
}
