import type { ApiContext } from '../context.ts';
import { describeEntry } from '../../membership/proposal-build.ts';
import { canonicalJson } from '../../membership/roster.ts';
import type { ProposalStatus, RosterProposal, RosterProposals } from '../../membership/proposals.ts';

/** MEMBER_ADD <-> member.add */
export function entryTypeOf(gql: string): string {
  return gql.toLowerCase().replace('_', '.');
}
function gqlTypeOf(type: string): string {
  return type.toUpperCase().replace('.', '_');
}

function view(p: RosterProposal) {
  return {
    id: p.id,
    seq: p.seq,
    hash: p.hash,
    type: gqlTypeOf(p.type),
    status: p.status,
    signers: p.signers,
    signaturesNeeded: p.signaturesNeeded,
    summary: describeEntry(p.entry),
    body: canonicalJson(p.entry.body),
    signed: p.signed,
    reason: p.reason,
    createdBy: p.createdBy,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** `rosterProposals`, `proposeRosterChange`, `approveRosterProposal`, `submitRosterEntry` (schema/membership.graphql). */
export function rosterProposalResolvers(proposals: RosterProposals) {
  return {
    Query: {
      async rosterProposals(_: unknown, args: { status?: ProposalStatus[] | null }) {
        return (await proposals.list(args.status)).map(view);
      },
    },
    Mutation: {
      async proposeRosterChange(_: unknown, args: { type: string; body: string }, ctx: ApiContext) {
        return view(await proposals.propose(entryTypeOf(args.type), args.body, ctx.principal.sub));
      },
      async approveRosterProposal(_: unknown, args: { id: string }) {
        return view(await proposals.approve(args.id));
      },
      async submitRosterEntry(_: unknown, args: { signed: string }) {
        return proposals.submitSigned(args.signed);
      },
    },
  };
}
