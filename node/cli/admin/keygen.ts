import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';

export const keygenCommand: Command = {
  summary: 'create an admin key file and print its public key (or show that of an existing one)',
  usage: `Usage: alliance admin keygen --out FILE [--name NAME]
       alliance admin keygen --show FILE

Creates an Ed25519 admin key: FILE receives the private JWK (readable by the owner only; never
overwritten), stdout the public admin key as JSON ({"kid","jwk","name"}) to hand to whoever writes
the genesis or an admin.add entry. Each admin keeps their own key file and signs roster entries with it.

With --show, prints the public admin key of an existing key file again (the file is only read).

Options:
  --out FILE     where to write the private key (must not exist; missing directories are created 0700)
  --name NAME    who the key belongs to (a person or team, 1-200 characters; shown to other admins)
  --show FILE    print the public admin key of the key file FILE instead of creating one
`,
  options: { out: { type: 'string' }, name: { type: 'string' }, show: { type: 'string' } },
  async run(values) {
    const out = values.out as string | undefined;
    const show = values.show as string | undefined;
    const keys = await import('../../membership/keys.ts');
    if (show !== undefined) {
      if (out !== undefined || values.name !== undefined) throw new UsageError('--show takes no --out or --name: the key file already has its name');
      if (show === '') throw new UsageError('--show needs a key file');
      const key = await keys.loadAdminKey(show);
      process.stdout.write(`${JSON.stringify(key.public, null, 2)}\n`);
      return 0;
    }
    if (!out) throw new UsageError('--out is required');
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
