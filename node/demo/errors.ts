import { AllianceError } from '../errors.ts';

export type DemoErrorCode =
  /** Another process runs a demo in the same directory. */
  | 'DEMO_RUNNING'
  /** A port the demo needs is taken. */
  | 'PORT_IN_USE'
  /** The demo directory holds something the demo did not make, or state it cannot read. */
  | 'DEMO_DIR_INVALID'
  /** Seeding was refused or the exchange did not converge in time. */
  | 'DEMO_FAILED';

/** Why `alliance demo` cannot start or run. */
export class DemoError extends AllianceError {
  declare readonly code: DemoErrorCode;
  constructor(code: DemoErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
