import type { Command } from './command.ts';
import { DEFAULTS, loadConfig } from '../config.ts';

export const rotateKeysCommand: Command = {
  summary: "rotate this member's keys in place and print its new membership request",
  usage: `Usage: alliance rotate-keys [--encryption] [--peer] [--data-dir DIR]

Adds a new Ed25519 signing key to the member identity of the data directory (keys/member.json) and
prints the new membership request (JSON) on stdout: send it to the alliance admins, who turn it into
a member.update ("alliance admin rotate --request FILE"). No key is ever removed:

- until the member.update is applied, the roster still lists the old signing key and the node keeps
  signing with it; from the entry's createdAt on, only the new key is accepted;
- batches signed before the rotation stay verifiable with the old key;
- with --encryption, the X25519 key epoch keys are wrapped to is replaced too; the old one is kept,
  so an epoch.new wrapped to it before the rotation is applied still installs. Once the rotation is
  applied, the admins issue an epoch.new so the member receives the current key under the new one;
- with --peer, the libp2p peer key (the node's peer id) is replaced too; the node keeps the old
  peer id while the roster lists it.

The identity file is rewritten atomically (owner-only); back it up again afterwards. Works beside a
running node. Run it again before the admins applied the last rotation and only the newest key
counts: the request always offers the newest keys.

Options:
  --encryption        also replace the encryption key
  --peer              also replace the peer key
  --data-dir DIR      node data directory (env ALLIANCE_DATA_DIR, default ${DEFAULTS.dataDir})
`,
  options: {
    encryption: { type: 'boolean' },
    peer: { type: 'boolean' },
    'data-dir': { type: 'string' },
  },
  async run(values) {
    const config = loadConfig({ dataDir: values['data-dir'] as string | undefined });
    const { memberIdentityPath, rotateMemberKeys } = await import('../membership/keys.ts');
    const r = await rotateMemberKeys(config.dataDir, { encryption: values.encryption === true, peer: values.peer === true });
    process.stdout.write(`${JSON.stringify(r.request, null, 2)}\n`);
    const changed = [`signing key ${r.previousSigningKid} -> ${r.signingKid}`];
    if (r.encryptionKid !== undefined) changed.push(`encryption key -> ${r.encryptionKid}`);
    if (r.peerId !== undefined) changed.push(`peer id -> ${r.peerId}`);
    process.stderr.write(
      `alliance rotate-keys: member ${r.request.id}: ${changed.join('; ')} (old keys kept in ${memberIdentityPath(config.dataDir)}; back it up)\n` +
        `Send the request above to an admin: alliance admin rotate --roster ROSTER --member ${r.request.id} --request FILE --out FILE.\n` +
        'Until that member.update is applied, the node keeps using the keys the roster lists.\n',
    );
    return 0;
  },
};
