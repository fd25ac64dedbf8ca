import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';

export const rotateCommand: Command = {
  summary: 'propose a member\'s key rotation from its new membership request',
  usage: `Usage: alliance admin rotate --roster FILE --member ID --request NEW_REQUEST.json --out FILE

Writes an unsigned member.update proposal that rotates the member's signing key to the newest
signing key of its new membership request (the JSON "alliance rotate-keys" printed in the member's
data directory; its id must be the member's). A request without a signing key the roster does not
have yet is NOTHING_TO_CHANGE. From the entry's createdAt on, batches signed with the old key are
refused; batches created before it stay valid. Whatever else the request changes goes into the same
entry: encryption key, peer id, addresses, name (kind and country cannot change). When the
encryption key changes, propose an epoch.new once the rotation is applied, so that the member
receives the current epoch key under its new key.

Options:
  --roster FILE     the roster log (JSON Lines, one signed entry per line, as alliance admin export writes it)
  --member ID       the member whose keys rotate (ACTIVE or SUSPENDED)
  --request FILE    the member's new membership request
  --out FILE        where to write the proposal (must not exist)
`,
  options: { roster: { type: 'string' }, member: { type: 'string' }, request: { type: 'string' }, out: { type: 'string' } },
  async run(values) {
    const rosterFile = values.roster as string | undefined;
    const id = values.member as string | undefined;
    const requestFile = values.request as string | undefined;
    const out = values.out as string | undefined;
    if (!rosterFile) throw new UsageError('--roster is required');
    if (!id) throw new UsageError('--member is required');
    if (!requestFile) throw new UsageError('--request is required');
    if (!out) throw new UsageError('--out is required');

    const rf = await import('./roster-file.ts');
    const roster = await import('../../membership/roster.ts');
    const { describeEntry, dryRun, memberRotationFromRequest } = await import('../../membership/proposal-build.ts');
    const { makeEntry, nextSteps } = await import('./propose.ts');
    const { state } = await rf.readRosterLog(rosterFile);
    const member = rf.requireMember(state, id, rosterFile);
    const { body, ignored } = await memberRotationFromRequest(member, rf.readRequest(requestFile), `membership request ${requestFile}`);
    if (ignored.length > 0) process.stderr.write(`alliance admin rotate: note: member.update cannot change ${ignored.join(' or ')}; the request's value is ignored\n`);
    const entry = await makeEntry(state, { type: 'member.update', body }, false, 'the member.update proposal');
    const [after] = await dryRun(state, [entry]);
    rf.writeNewFile(out, rf.proposalText(await roster.createProposal(entry)));
    process.stderr.write(
      `alliance admin rotate: wrote ${out}: ${describeEntry(entry)}\n` +
        `New signing key ${body.signingKey.kid}; the old key is refused for batches created from ${entry.createdAt}.\n` +
        nextSteps(out, entry, after!, state.quorum),
    );
    return 0;
  },
};
