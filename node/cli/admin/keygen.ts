import type { Command } from '../main.ts';
import { UsageError } from '../errors.ts';

export const keygenCommand: Command = {
  summary: 'create an admin key file and print its public key',
  usage: `Usage: alliance admin keygen --out FILE [--name NAME]

Creates an Ed25519 admin key: FILE receives the private JWK (readable by the owner only; never
overwritten), stdout the public admin key as JSON ({"kid","jwk","name"}) to hand to whoever writes
the genesis or an admin.add entry. Each admin keeps their own key file and signs roster entries with it.

Options:
  --out FILE     where to write the private key (must not exist; missing directories are created 0700)
  --name NAME    who the key belongs to (a person or team, 1-200 characters; shown to other admins)
`,
  options: { out: { type: 'string' }, name: { type: 'string' } },
  async run(values) {
    const out = values.out as string | undefined;
    if (!out) throw new UsageError('--out is required');
    const keys = await import('../../membership/keys.ts');
    let adminKey;
    try {
      adminKey = await keys.generateAdminKey(out, { name: values.name as string | undefined });
    } catch (err) {
      if (err instanceof keys.KeyError && err.code === 'ADMIN_NAME_INVALID') throw new UsageError(err.message);
      throw err;
    }
    process.stdout.write(`${JSON.stringify(adminKey, null, 2)}\n`);
    process.stderr.write(`alliance admin keygen: private key written to ${out} (owner-only; keep it safe)\n`);
    return 0;
  },
};
