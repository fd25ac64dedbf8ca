import { AllianceError } from '../errors.ts';

/** A command used wrongly (unknown flag, missing argument): exit status 2. */
export class UsageError extends AllianceError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
