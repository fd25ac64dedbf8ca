import type { ParseArgsConfig } from 'node:util';

/** One `alliance` command: its help, its options and what it runs. */
export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  allowPositionals?: boolean;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

/** A command with subcommands (`alliance admin keygen ...`): `alliance GROUP SUB [options]`. */
export interface CommandGroup {
  summary: string;
  /** Shown for `alliance GROUP`, `--help` and an unknown subcommand. */
  usage: string;
  subcommands: Record<string, Command>;
}
