import type { LogLevel } from '../config.ts';

/** The demo's defaults, apart from the heavy modules, so the command checks its flags at once. */
export const DEMO_DEFAULTS = {
  dir: 'data/demo',
  records: 1000,
  httpPort: 4101,
  /** P2P ports of a new demo: HTTP base + this + member position (kept in the state for later runs). */
  p2pOffset: 10,
  tokenTtlSeconds: 12 * 3600,
  tokenTtl: '12h',
  logLevel: 'warn' as LogLevel,
} as const;
