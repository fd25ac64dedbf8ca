import type { Command } from './command.ts';
import { UsageError } from './errors.ts';
import { DEFAULTS, loadConfig } from '../config.ts';

export const initCommand: Command = {
  summary: 'create this member\'s keys and print its membership request',
  usage: `Usage: alliance init --member-id ID --name NAME [--kind KIND] [--country CC] [--addr MULTIADDR ...] [--data-dir DIR]
       alliance init --print [--data-dir DIR]

Creates the member identity in the data directory (keys/member.json, readable by the owner only):
an Ed25519 signing key, an X25519 key that epoch keys are wrapped to, and the libp2p peer key.
Prints the public membership request (JSON) on stdout: send it to an alliance admin, who adds the
member to the roster. An existing identity is never overwritten; back the file up, it cannot be
recreated. With --print, prints the request of the existing identity again (its newest keys, after
"alliance rotate-keys").

Start the node of a real member with --genesis FILE (alliance start): without it, a data directory
holding this identity and no roster yet is refused (GENESIS_REQUIRED).

Options:
  --member-id ID      the member's id in the alliance: 1-128 letters, digits or . _ : -
  --name NAME         display name (1-200 characters)
  --kind KIND         PLATFORM, RIGHTS_HOLDER, ENFORCEMENT or OTHER (default OTHER)
  --country CC        ISO 3166-1 alpha-2 country code (default ZZ: none / international)
  --addr MULTIADDR    address other members dial, e.g. /dns4/node.example.org/tcp/4001
                      (repeatable; without /p2p/<peer id>)
  --print             print the existing identity's request instead of creating one
  --data-dir DIR      node data directory (env ALLIANCE_DATA_DIR, default ${DEFAULTS.dataDir})
`,
  options: {
    'member-id': { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    country: { type: 'string' },
    addr: { type: 'string', multiple: true },
    print: { type: 'boolean' },
    'data-dir': { type: 'string' },
  },
  async run(values) {
    const keys = await import('../membership/keys.ts');
    const config = loadConfig({ dataDir: values['data-dir'] as string | undefined });
    if (values.print) {
      for (const flag of ['member-id', 'name', 'kind', 'country', 'addr']) {
        if (values[flag] !== undefined) throw new UsageError(`--print takes no --${flag}`);
      }
      const request = keys.membershipRequest(await keys.loadMemberIdentity(config.dataDir));
      process.stdout.write(`${JSON.stringify(request, null, 2)}\n`);
      return 0;
    }
    const id = values['member-id'] as string | undefined;
    const name = values.name as string | undefined;
    if (id === undefined) throw new UsageError('--member-id is required');
    if (name === undefined) throw new UsageError('--name is required');
    const input = {
      id,
      name,
      kind: values.kind as string | undefined,
      country: values.country as string | undefined,
      addrs: values.addr as unknown as string[] | undefined,
    };
    // Bad flag values are usage errors (exit 2), like --role or --type elsewhere.
    try {
      keys.validateMemberProfile(input);
    } catch (err) {
      if (err instanceof keys.KeyError && keys.PROFILE_ERROR_CODES.includes(err.code)) throw new UsageError(err.message);
      throw err;
    }
    const request = await keys.initMemberIdentity(config.dataDir, input);
    process.stdout.write(`${JSON.stringify(request, null, 2)}\n`);
    process.stderr.write(`alliance init: member identity written to ${keys.memberIdentityPath(config.dataDir)} (owner-only; back it up, it cannot be recreated)\n`);
    return 0;
  },
};
