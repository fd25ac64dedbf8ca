import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import type { ProposalError } from '../../membership/proposal-build.ts';
import type { ChainHead, EntryProposal, EntryType, RosterEntry, RosterState } from '../../membership/roster.ts';

/** An integer flag value from `min` to `max` (UsageError otherwise). */
export function parseInteger(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' on' : ` to ${max}`} (got ${JSON.stringify(text)})`);
  return n;
}

/** Flags each entry type takes besides --roster, --type, --out (and --body, which replaces them). */
const TYPE_FLAGS: Record<Exclude<EntryType, 'genesis'>, readonly string[]> = {
  'member.add': ['request'],
  'member.update': ['member', 'request'],
  'member.suspend': ['member', 'reason'],
  'member.reinstate': ['member', 'reason'],
  'member.revoke': ['member', 'reason'],
  'admin.add': ['admin'],
  'admin.remove': ['kid'],
  'quorum.set': ['quorum'],
  'epoch.new': ['reason'],
};
const ALL_TYPE_FLAGS = ['request', 'member', 'reason', 'admin', 'kid', 'quorum'] as const;

/** Which flag a body field came from, so that a bad value is a usage error naming the flag. */
const FIELD_FLAGS: Record<string, string> = { 'body.reason': '--reason', 'body.quorum': '--quorum', 'body.kid': '--kid', 'body.id': '--member' };

/** A refusal of a value that came from a flag, as a UsageError naming the flag; anything else as it is. */
function flagError(err: unknown, fromFlags: boolean): unknown {
  const refusal = err instanceof Error && (err as ProposalError).code === 'PROPOSAL_REFUSED' ? (err as ProposalError) : undefined;
  const flag = refusal?.field === undefined ? undefined : FIELD_FLAGS[refusal.field];
  if (!fromFlags || flag === undefined) return err;
  // The roster's own message, without the proposal context: it is about the flag's value.
  const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
  return new UsageError(`${flag}: ${cause.replace(/^body\.\w+: /, '')}`);
}

/** `buildEntry`, with a refused flag value as a UsageError (exit 2) and anything else PROPOSAL_REFUSED (exit 1). */
export async function makeEntry(head: ChainHead, proposal: EntryProposal, fromFlags: boolean, what: string): Promise<RosterEntry> {
  const { buildEntry } = await import('../../membership/proposal-build.ts');
  try {
    return await buildEntry(head, proposal, what);
  } catch (err) {
    throw flagError(err, fromFlags);
  }
}

/** `epochNewEntry`, with a refused --reason as a UsageError when it came from the flag. */
export async function makeEpochNew(state: RosterState, opts: { reason?: string | undefined; createdAt?: string | undefined; fromFlags: boolean }): Promise<RosterEntry> {
  const { epochNewEntry } = await import('../../membership/proposal-build.ts');
  try {
    return await epochNewEntry(state, opts);
  } catch (err) {
    throw flagError(err, opts.fromFlags);
  }
}

/** Hints after a proposal is written: what the admins will have to do next. */
export function nextSteps(file: string, entry: RosterEntry, after: RosterState, quorum: number): string {
  const lines = [`It needs ${quorum} admin signature(s): each admin runs "alliance admin sign ${file} --key THEIR_KEY_FILE"; then submit it to a node.`];
  if (entry.type !== 'epoch.new' && after.rekeyNeeded) {
    lines.push(
      entry.type === 'member.revoke'
        ? 'A revocation must be followed by an epoch.new the revoked member cannot unwrap: "alliance admin revoke" prepares both entries together.'
        : 'Once it is applied, propose an epoch.new ("alliance admin propose --type epoch.new") so that exactly the ACTIVE members hold the current epoch key.',
    );
  }
  return `${lines.join('\n')}\n`;
}

export const proposeCommand: Command = {
  summary: 'write a proposal for the next roster entry',
  usage: `Usage: alliance admin propose --roster FILE --type TYPE [--body FILE | TYPE'S FLAGS] --out FILE

Writes an unsigned proposal for the entry after the roster's head (seq = head + 1, prev = the head's
hash), after checking that the roster would accept it (apart from the signatures). Admins then sign
it in turn ("alliance admin sign") and it is submitted to a node. A proposal goes stale when another
entry is applied first: propose again from the new roster.

Types and their flags (--body FILE gives the body as JSON instead, for any type but epoch.new):
  member.add        --request FILE        the member's membership request (JSON printed by alliance init)
  member.update     --member ID --request FILE
                                          changes whatever the member's new request changes: signing
                                          key (a rotation, see also "alliance admin rotate"), encryption
                                          key, peer id, addresses, name
  member.suspend    --member ID [--reason TEXT]   ACTIVE -> SUSPENDED
  member.reinstate  --member ID [--reason TEXT]   SUSPENDED -> ACTIVE
  member.revoke     --member ID [--reason TEXT]   for good; use "alliance admin revoke" to prepare the
                                          epoch.new that must follow it
  admin.add         --admin PUBKEY.json   an admin's public key, as alliance admin keygen printed it
  admin.remove      --kid KID
  quorum.set        --quorum N
  epoch.new         [--reason TEXT]       a fresh epoch key, wrapped to every ACTIVE member's encryption
                                          key; the key itself is not written anywhere else

Options:
  --roster FILE     the roster log (JSON Lines, one signed entry per line, as alliance admin export writes it)
  --type TYPE       the entry type (above)
  --body FILE       the entry body as JSON (schema/roster.md §3)
  --out FILE        where to write the proposal (must not exist)
`,
  options: {
    roster: { type: 'string' },
    type: { type: 'string' },
    body: { type: 'string' },
    out: { type: 'string' },
    request: { type: 'string' },
    member: { type: 'string' },
    reason: { type: 'string' },
    admin: { type: 'string' },
    kid: { type: 'string' },
    quorum: { type: 'string' },
  },
  async run(values) {
    const s = (k: string) => values[k] as string | undefined;
    const rosterFile = s('roster');
    const type = s('type');
    const out = s('out');
    if (!rosterFile) throw new UsageError('--roster is required');
    if (!type) throw new UsageError('--type is required');
    if (!out) throw new UsageError('--out is required');
    if (type === 'genesis') throw new UsageError('a genesis is written by "alliance admin genesis"');
    if (!Object.hasOwn(TYPE_FLAGS, type)) throw new UsageError(`--type must be one of ${Object.keys(TYPE_FLAGS).join(', ')} (got ${JSON.stringify(type)})`);
    const t = type as keyof typeof TYPE_FLAGS;
    const given = ALL_TYPE_FLAGS.filter((f) => values[f] !== undefined);
    const bodyFile = s('body');
    if (bodyFile !== undefined) {
      if (t === 'epoch.new') throw new UsageError('epoch.new takes no --body: its key is generated and wrapped here');
      if (given.length > 0) throw new UsageError(`--body replaces the type's flags: drop --${given.join(', --')}`);
    } else {
      const wrong = given.filter((f) => !TYPE_FLAGS[t].includes(f));
      if (wrong.length > 0) throw new UsageError(`--${wrong.join(', --')} do(es) not apply to ${t} (it takes ${TYPE_FLAGS[t].map((f) => `--${f}`).join(', ') || 'no flags'} or --body)`);
      const need: Record<string, readonly string[]> = {
        'member.add': ['request'],
        'member.update': ['member', 'request'],
        'member.suspend': ['member'],
        'member.reinstate': ['member'],
        'member.revoke': ['member'],
        'admin.add': ['admin'],
        'admin.remove': ['kid'],
        'quorum.set': ['quorum'],
      };
      for (const f of need[t] ?? []) if (values[f] === undefined) throw new UsageError(`${t} needs --${f} (or --body FILE)`);
    }
    const quorumValue = t === 'quorum.set' && bodyFile === undefined ? parseInteger(s('quorum')!, '--quorum', 1) : undefined;

    const rf = await import('./roster-file.ts');
    const { checkMembershipRequest, describeEntry, dryRun, memberUpdateFromRequest, ProposalError } = await import('../../membership/proposal-build.ts');
    const { state } = await rf.readRosterLog(rosterFile);
    const err = process.stderr;
    let entry: RosterEntry;
    if (t === 'epoch.new') {
      entry = await makeEpochNew(state, { reason: s('reason'), fromFlags: true });
    } else {
      let body: unknown;
      if (bodyFile !== undefined) {
        body = rf.readJson(bodyFile, 'body file');
      } else {
        switch (t) {
          case 'member.add':
            body = await checkMembershipRequest(rf.readRequest(s('request')!), `membership request ${s('request')}`);
            break;
          case 'member.update': {
            const member = rf.requireMember(state, s('member')!, rosterFile);
            const update = await memberUpdateFromRequest(member, rf.readRequest(s('request')!), `membership request ${s('request')}`);
            if (update.ignored.length > 0) err.write(`alliance admin propose: note: member.update cannot change ${update.ignored.join(' or ')}; the request's value is ignored\n`);
            if (Object.keys(update.body).length === 1) throw new ProposalError('NOTHING_TO_CHANGE', `the request ${s('request')} changes nothing the roster holds about ${member.id}`);
            body = update.body;
            break;
          }
          case 'member.suspend':
          case 'member.reinstate':
          case 'member.revoke': {
            const member = rf.requireMember(state, s('member')!, rosterFile);
            body = { id: member.id, ...(s('reason') === undefined ? {} : { reason: s('reason') }) };
            break;
          }
          case 'admin.add':
            body = { admin: await rf.readPublicAdminKey(s('admin')!) };
            break;
          case 'admin.remove':
            body = { kid: s('kid') };
            break;
          case 'quorum.set':
            body = { quorum: quorumValue };
            break;
        }
      }
      entry = await makeEntry(state, { type: t, body } as EntryProposal, bodyFile === undefined, `the ${t} proposal`);
    }
    const [after] = await dryRun(state, [entry]);
    const roster = await import('../../membership/roster.ts');
    rf.writeNewFile(out, rf.proposalText(await roster.createProposal(entry)));
    err.write(`alliance admin propose: wrote ${out}: ${describeEntry(entry)}\n${nextSteps(out, entry, after!, state.quorum)}`);
    return 0;
  },
};
