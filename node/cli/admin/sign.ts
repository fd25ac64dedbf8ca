import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';

export const signCommand: Command = {
  summary: 'add your admin signature to a proposal file',
  usage: `Usage: alliance admin sign FILE --key ADMIN_KEY_FILE [--roster FILE] [--out FILE]

Adds this admin's Ed25519 signature to the proposal FILE (a genesis or any roster entry) and writes
it back in place, or to --out. Shows what is being signed. Refuses a second signature by the same
admin and a file that is not a roster proposal. For a genesis, the key must be one of its admins.
With --roster (the roster log), the key must be a current admin and the proposal must fit the
roster: same alliance, and not stale (an entry already applied at its seq, or a prev that is not the
head). Signing never checks the whole entry against the roster again: "alliance admin propose" did.

Options:
  --key FILE        your admin key file (written by alliance admin keygen)
  --roster FILE     the roster log (JSON Lines), to check the key and the proposal against
  --out FILE        write the signed proposal here (must not exist) instead of replacing FILE
`,
  options: { key: { type: 'string' }, roster: { type: 'string' }, out: { type: 'string' } },
  allowPositionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('give exactly one proposal FILE');
    const file = positionals[0]!;
    const keyFile = values.key as string | undefined;
    const rosterFile = values.roster as string | undefined;
    const out = values.out as string | undefined;
    if (!keyFile) throw new UsageError('--key is required');
    if (out === '') throw new UsageError('--out needs a file name');

    const rf = await import('./roster-file.ts');
    const roster = await import('../../membership/roster.ts');
    const { loadAdminKey } = await import('../../membership/keys.ts');
    const { describeEntry } = await import('../../membership/proposal-build.ts');
    const parsed = await rf.readProposal(file);
    const key = await loadAdminKey(keyFile);
    const { entry } = parsed;

    // Who may sign, and how many must.
    let admins: Array<{ kid: string }>;
    let quorum: number | undefined;
    let whose: string;
    if (entry.type === 'genesis') {
      admins = entry.body.admins;
      quorum = entry.body.quorum;
      whose = 'the genesis';
    } else if (rosterFile !== undefined) {
      const { state } = await rf.readRosterLog(rosterFile);
      if (entry.alliance !== state.alliance) {
        throw new rf.AdminToolError('WRONG_ALLIANCE', `${file} is for alliance ${entry.alliance}, but the roster ${rosterFile} is alliance ${state.alliance}`);
      }
      if (entry.seq <= state.seq) {
        const applied = state.hashes[entry.seq] === parsed.hash;
        throw new rf.AdminToolError(
          'STALE_PROPOSAL',
          applied
            ? `${file} (seq ${entry.seq}) is already in the roster ${rosterFile}: nothing to sign`
            : `${file} is stale: the roster ${rosterFile} already has another entry at seq ${entry.seq} (its head is seq ${state.seq}); propose again from the current roster`,
        );
      }
      if (entry.seq === state.seq + 1 && entry.prev !== state.head) {
        throw new rf.AdminToolError('STALE_PROPOSAL', `${file} does not follow the roster ${rosterFile}: its prev is not the hash of the head (seq ${state.seq}); propose again from the current roster`);
      }
      admins = state.admins;
      quorum = state.quorum;
      whose = `the roster ${rosterFile}`;
    } else {
      admins = [];
      whose = '';
    }
    if (whose !== '' && !admins.some((a) => a.kid === key.kid)) {
      throw new rf.AdminToolError('NOT_ADMIN', `the key ${keyFile} (${key.kid}) is not an admin of ${whose}; its admins are ${admins.map((a) => a.kid).join(', ')}`, { kid: key.kid });
    }
    if (parsed.kids.includes(key.kid)) {
      throw new rf.AdminToolError('ALREADY_SIGNED', `${file} is already signed by ${key.kid} (${keyFile}): each admin signs once; pass the file to another admin`, { kid: key.kid });
    }
    const signed = await roster.addSignature(parsed.signed, { privateKey: key.privateKey, kid: key.kid });
    const text = rf.proposalText(signed);
    if (out !== undefined) rf.writeNewFile(out, text);
    else rf.replaceFile(file, text);

    const n = signed.signatures.length;
    const status = quorum === undefined ? '' : n >= quorum ? `; quorum ${quorum} reached: ready to submit` : `; quorum ${quorum}: ${quorum - n} more needed`;
    const unchecked = whose === '' ? '\nNot checked against a roster: give --roster to make sure this key is an admin and the proposal is not stale.' : '';
    process.stderr.write(`alliance admin sign: signed ${describeEntry(entry)}\nas ${key.kid}${key.public.name === undefined ? '' : ` (${key.public.name})`}: ${n} signature(s)${status}; written to ${out ?? file}${unchecked}\n`);
    return 0;
  },
};
