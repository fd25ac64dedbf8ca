import { DEFAULTS, loadConfig, type Config } from '../config.ts';

/** Flags shared by every command that opens a node's data directory or storage. */
export const STORAGE_OPTIONS = {
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
} as const;

export const STORAGE_USAGE = `  --data-dir DIR         node data directory (env ALLIANCE_DATA_DIR, default ${DEFAULTS.dataDir})
  --database-url URL     PostgreSQL to use instead of the embedded database (env DATABASE_URL)
`;

export function configFrom(values: Record<string, string | boolean | undefined>): Config {
  const s = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  return loadConfig({
    dataDir: s('data-dir'),
    databaseUrl: s('database-url'),
    http: s('http'),
    p2p: s('p2p'),
    genesis: s('genesis'),
    logLevel: s('log-level'),
    defaultRegion: s('region'),
  });
}
