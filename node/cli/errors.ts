import { AllianceError } from '../errors.ts';

/** A command used wrongly (unknown flag, missing argument): exit status 2. */
export class UsageError extends AllianceError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** 3: a command that asks a running node got no answer from it (unreachable, token refused, ...). */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 3 } as const;
