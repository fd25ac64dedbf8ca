import type { Member } from '../../membership/types.ts';
import type { RosterState } from '../../membership/roster-state.ts';
import type { RosterAlarm } from '../../membership/roster-store.ts';

/** What the membership resolvers read: the roster as the node's store has it (refreshed per call). */
export interface RosterSource {
  /** The current roster state, caught up with storage; null while the roster is empty. */
  refresh(): Promise<RosterState | null>;
  alarms(): Promise<RosterAlarm[]>;
}

function filterMembers(members: Member[], status: readonly string[] | null | undefined): Member[] {
  return status == null ? members : members.filter((m) => status.includes(m.status));
}

function memberView(m: Member) {
  return {
    id: m.id,
    name: m.name,
    kind: m.kind,
    country: m.country,
    status: m.status,
    peerId: m.peerId,
    addrs: m.addrs,
    signingKeys: m.signingKeys.map((k) => ({ kid: k.kid, validFrom: k.validFrom, validUntil: k.validUntil ?? null })),
    encryptionKid: m.encryptionKey.kid,
  };
}

/** `alliance`, `members`, `rosterAlarms` (schema/membership.graphql). Public keys and ids only: never key material. */
export function membershipResolvers(roster: RosterSource) {
  return {
    Query: {
      async alliance() {
        const state = await roster.refresh();
        if (state === null) return null;
        return {
          id: state.alliance,
          name: state.name,
          epoch: state.epoch,
          epochStartedAt: state.epochStartedAt,
          quorum: state.quorum,
          admins: state.admins.map((a) => ({ kid: a.kid, name: a.name ?? null })),
          members: (args: { status?: string[] | null }) => filterMembers(state.members, args.status).map(memberView),
          rosterHead: { seq: state.seq, hash: state.head, updatedAt: state.updatedAt },
          rekeyNeeded: state.rekeyNeeded,
        };
      },
      async members(_: unknown, args: { status?: string[] | null }) {
        const state = await roster.refresh();
        return state === null ? [] : filterMembers(state.members, args.status).map(memberView);
      },
      async rosterAlarms() {
        return roster.alarms();
      },
    },
  };
}
