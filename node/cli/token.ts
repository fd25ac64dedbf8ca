import fs from 'node:fs';
import type { Command } from './command.ts';
import { UsageError } from './errors.ts';
import { DEFAULTS, loadConfig } from '../config.ts';
import type { Role } from '../api/auth.ts';

export const tokenCommand: Command = {
  summary: 'print a JWT for this node\'s API',
  usage: `Usage: alliance token --role analyst|trust|admin [--sub NAME] [--ttl 8h] [--data-dir DIR]

Signs a bearer token with the node's API key (in the data directory). The node need not be running.

Options:
  --role ROLE       analyst (records), trust (read and lookup), admin (everything)
  --sub NAME        who the token is for, recorded with every change (default: the role)
  --ttl DURATION    lifetime such as 30m, 8h, 7d; at most 90d (default 8h)
  --data-dir DIR    node data directory (env ALLIANCE_DATA_DIR, default ${DEFAULTS.dataDir})
`,
  options: { role: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string' }, 'data-dir': { type: 'string' } },
  async run(values) {
    const role = values.role as string | undefined;
    if (!role) throw new UsageError('--role is required');
    const { ROLES, AuthError } = await import('../api/auth.ts');
    const { apiKeyPath, issueToken, loadOrCreateApiKey, parseTtl } = await import('../api/tokens.ts');
    if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')} (got "${role}")`);
    const config = loadConfig({ dataDir: values['data-dir'] as string | undefined });
    if (!fs.existsSync(apiKeyPath(config.dataDir))) {
      throw new AuthError('KEY_INVALID', `no API key in ${config.dataDir}: start the node there once first, or check --data-dir`);
    }
    const ttlSeconds = parseTtl((values.ttl as string | undefined) ?? '8h');
    const key = await loadOrCreateApiKey(config.dataDir);
    const token = await issueToken(key, config.auth, { role: role as Role, sub: (values.sub as string | undefined) ?? role, ttlSeconds });
    process.stdout.write(`${token}\n`);
    return 0;
  },
};
