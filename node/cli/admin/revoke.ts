import path from 'node:path';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';

export const revokeCommand: Command = {
  summary: 'prepare a member\'s revocation and the new epoch it cannot unwrap',
  usage: `Usage: alliance admin revoke MEMBER_ID --roster FILE --out-dir DIR [--reason TEXT]

Revokes a member for good, in two roster entries prepared together as two unsigned proposal files:

  DIR/<seq>-member.revoke.json      member.revoke at head + 1 (the member's keys stop being valid)
  DIR/<seq+1>-epoch.new.json        epoch.new at head + 2: a fresh epoch key wrapped only to the
                                    members that stay ACTIVE, so the revoked member cannot read
                                    indicators published from then on

Both are checked against the roster before they are written. Sign both ("alliance admin sign") and
submit them in this order; the epoch.new is chained on the member.revoke and is refused without it.
Prints the two file names. A SUSPENDED member can be revoked too.

Options:
  --roster FILE     the roster log (JSON Lines, one signed entry per line, as alliance admin export writes it)
  --out-dir DIR     where to write the two proposals (created if missing; the files must not exist)
  --reason TEXT     why (1-1000 characters), recorded in both entries
`,
  options: { roster: { type: 'string' }, 'out-dir': { type: 'string' }, reason: { type: 'string' } },
  allowPositionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('give exactly one MEMBER_ID');
    const id = positionals[0]!;
    const rosterFile = values.roster as string | undefined;
    const outDir = values['out-dir'] as string | undefined;
    const reason = values.reason as string | undefined;
    if (!rosterFile) throw new UsageError('--roster is required');
    if (!outDir) throw new UsageError('--out-dir is required');

    const rf = await import('./roster-file.ts');
    const roster = await import('../../membership/roster.ts');
    const { describeEntry, dryRun, ProposalError } = await import('../../membership/proposal-build.ts');
    const { makeEpochNew, makeEntry } = await import('./propose.ts');
    const { state } = await rf.readRosterLog(rosterFile);
    const member = rf.requireMember(state, id, rosterFile);
    if (member.status === 'REVOKED') throw new ProposalError('PROPOSAL_REFUSED', `member ${id} is already revoked (bad_state)`, { reason: 'bad_state' });

    const revoke = await makeEntry(state, { type: 'member.revoke', body: { id, ...(reason === undefined ? {} : { reason }) } }, true, 'the member.revoke proposal');
    const [afterRevoke] = await dryRun(state, [revoke]);
    // The same createdAt for both: the new epoch starts the instant the member's keys stop.
    const epoch = await makeEpochNew(afterRevoke!, { reason: reason ?? `member ${id} revoked`, createdAt: revoke.createdAt, fromFlags: true });
    await dryRun(afterRevoke!, [epoch]);
    if (Object.hasOwn((epoch.body as { keys: Record<string, string> }).keys, id)) throw new Error('internal: the new epoch key is wrapped for the revoked member');

    const files = [path.join(outDir, `${revoke.seq}-member.revoke.json`), path.join(outDir, `${epoch.seq}-epoch.new.json`)];
    const texts = [rf.proposalText(await roster.createProposal(revoke)), rf.proposalText(await roster.createProposal(epoch))];
    rf.writeNewFile(files[0]!, texts[0]!);
    try {
      rf.writeNewFile(files[1]!, texts[1]!);
    } catch (err) {
      // Both or neither: a lone member.revoke would leave the revoked member holding the current key.
      (await import('node:fs')).rmSync(files[0]!, { force: true });
      throw err;
    }
    process.stdout.write(`${files.join('\n')}\n`);
    process.stderr.write(
      `alliance admin revoke: wrote\n  ${files[0]}: ${describeEntry(revoke)}\n  ${files[1]}: ${describeEntry(epoch)}\n` +
        `Each needs ${state.quorum} admin signature(s) ("alliance admin sign FILE --key THEIR_KEY_FILE"); submit them in this order.\n`,
    );
    return 0;
  },
};
