import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { parseInteger } from './propose.ts';

export const genesisCommand: Command = {
  summary: 'write the unsigned genesis proposal of a new alliance',
  usage: `Usage: alliance admin genesis --alliance ID --admin PUBKEY.json [--admin ...] --quorum N
                              [--name NAME] [--epoch N] --out FILE

Writes the genesis entry (seq 0) of a new alliance as an unsigned proposal file. Then each founding
admin signs it with "alliance admin sign FILE --key ADMIN_KEY_FILE"; it needs the quorum's number of
their signatures. The signed genesis is what every node of the alliance is started with
(alliance start --genesis FILE) and the first line of the roster log.

The genesis has no members and no epoch key: members are admitted with member.add entries, and the
first epoch.new (epoch N + 1) delivers the first key (alliance admin propose).

Options:
  --alliance ID       the alliance id: 1-128 letters, digits or . _ : -
  --admin FILE        a founding admin's public key, as "alliance admin keygen" printed it
                      ({"kid","jwk","name"}); repeat for each admin (1 to 64)
  --quorum N          admin signatures every entry needs, the genesis included (1 to the number of admins)
  --name NAME         the alliance's display name (1-200 characters)
  --epoch N           number of the first epoch (default 0; the first epoch key is then epoch N + 1)
  --out FILE          where to write the proposal (must not exist)
`,
  options: {
    alliance: { type: 'string' },
    admin: { type: 'string', multiple: true },
    quorum: { type: 'string' },
    name: { type: 'string' },
    epoch: { type: 'string' },
    out: { type: 'string' },
  },
  async run(values) {
    const alliance = values.alliance as string | undefined;
    const adminFiles = (values.admin as unknown as string[] | undefined) ?? [];
    const out = values.out as string | undefined;
    if (alliance === undefined) throw new UsageError('--alliance is required');
    if (adminFiles.length === 0) throw new UsageError('give at least one --admin PUBKEY.json');
    if (values.quorum === undefined) throw new UsageError('--quorum is required');
    if (!out) throw new UsageError('--out is required');
    const roster = await import('../../membership/roster.ts');
    if (!roster.ROSTER_ID_PATTERN.test(alliance)) throw new UsageError(`--alliance ${JSON.stringify(alliance)} must be 1-128 letters, digits or . _ : -`);
    const quorum = parseInteger(values.quorum as string, '--quorum', 1);
    const epoch = values.epoch === undefined ? 0 : parseInteger(values.epoch as string, '--epoch', 0);
    if (quorum > adminFiles.length) throw new UsageError(`--quorum ${quorum} is more than the ${adminFiles.length} admin(s) given`);
    if (adminFiles.length > roster.FIELD_LIMITS.admins) throw new UsageError(`at most ${roster.FIELD_LIMITS.admins} admins`);
    const name = values.name as string | undefined;

    const { AdminToolError, readPublicAdminKey, proposalText, writeNewFile } = await import('./roster-file.ts');
    const { describeEntry } = await import('../../membership/proposal-build.ts');
    const admins = [];
    const seen = new Map<string, string>();
    for (const file of adminFiles) {
      const admin = await readPublicAdminKey(file);
      const first = seen.get(admin.kid);
      if (first !== undefined) throw new AdminToolError('NOT_AN_ADMIN_KEY', `${file} is the same admin key as ${first} (${admin.kid}): each founding admin needs their own key`, { file });
      seen.set(admin.kid, file);
      admins.push(admin);
    }
    let entry;
    try {
      entry = await roster.createGenesis(alliance, { ...(name === undefined ? {} : { name }), admins, quorum, epoch });
    } catch (err) {
      // Everything but the name was checked above.
      if (roster.isRosterError(err) && err.field === 'body.name') throw new UsageError(`--name must be 1-200 characters without control characters`);
      throw err;
    }
    writeNewFile(out, proposalText(await roster.createProposal(entry)));
    process.stderr.write(
      `alliance admin genesis: wrote ${out}: ${describeEntry(entry)}\n` +
        `It needs ${quorum} admin signature(s): each admin runs "alliance admin sign ${out} --key THEIR_KEY_FILE".\n`,
    );
    return 0;
  },
};
