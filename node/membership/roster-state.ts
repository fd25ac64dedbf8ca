/**
 * The roster as state (schema/roster.md §5-6): a pure reducer over signed entries. Every node runs
 * the same chain through it, from its genesis, and gets the same state; an entry it refuses comes
 * back as a `RosterError` with a stable `reason`.
 *
 *   let state = await replay(storedEntries, { genesis: pinnedGenesisHash });
 *   state = await applyEntry(state, incoming);        // throws RosterError, state unchanged
 *   signingKeyValidAt(state, batch.origin, batch.kid, batch.createdAt);
 */
import { toWireTime } from '../encoding/time.ts';
import { jweHeader, type EntryOf, type RosterEntry, type RosterLimits } from './roster-entry.ts';
import { RosterError } from './roster-error.ts';
import { parseSignedEntry, verifySignatures, type ParsedEntry, type SignedEntry } from './roster-sign.ts';
import type { AdminKey, Member, SigningKey } from './types.ts';

/** The admins and quorum that sign entries from `since` on (until the next record). */
export interface Governance {
  /** First seq these admins sign: the seq after the entry that set them (1 for the genesis's). */
  since: number;
  admins: AdminKey[];
  quorum: number;
}

/** The roster after some entry. Plain JSON data: it can be stored and compared. */
export interface RosterState {
  alliance: string;
  /** The alliance's display name from the genesis, or null. */
  name: string | null;
  /** Seq of the last applied entry (the head); 0 after the genesis alone. */
  seq: number;
  /** `entryHash` of the head: the `prev` of the next entry. */
  head: string;
  /** `hashes[s]` is the hash of the entry at seq `s`, for every s from 0 to `seq`. */
  hashes: string[];
  /** `createdAt` of the head entry; the next entry may not be older. */
  updatedAt: string;
  /** Current admins, in the order they were added. */
  admins: AdminKey[];
  /** Current quorum. */
  quorum: number;
  /** Every admin set the chain has had, oldest first; the last one is `admins` / `quorum`. */
  governance: Governance[];
  /**
   * Every member ever added, in the order of admission, with its status. `signingKeys` hold the
   * roster's validity: `validFrom` is the `createdAt` of the entry that added the key, `validUntil`
   * that of the entry that replaced it (or revoked the member), or null while it is current.
   */
  members: Member[];
  /** Kids no longer in `members` or `admins` that may never be used again (replaced encryption keys). */
  retiredKids: string[];
  /** Current epoch number. */
  epoch: number;
  /** `createdAt` of the entry that started it (the genesis, or the `epoch.new`). */
  epochStartedAt: string;
  /** Wrapped K_e of the current epoch per member id (empty for the genesis epoch, which has no key). */
  epochKeys: Record<string, string>;
  /**
   * Every epoch of the chain with when it started, oldest first; the last is the current one. An
   * epoch ends when the next starts; its indicators stay matchable for the grace period after that
   * (`epochLiveUntil`).
   */
  epochs: EpochSpan[];
  /**
   * True when membership changed since the current epoch started (a member added, suspended,
   * reinstated, revoked, or given a new encryption key): admins should issue `epoch.new`, so that
   * exactly the ACTIVE members hold the current key. Informational; not enforced.
   */
  rekeyNeeded: boolean;
}

/** One epoch of the chain: its number and the `createdAt` of the entry that started it. */
export interface EpochSpan {
  epoch: number;
  startedAt: string;
}

export interface ApplyOptions {
  /** The alliance id this node belongs to: a genesis (or any entry) of another is `wrong_alliance`. */
  alliance?: string;
  /** The pinned hash of this node's genesis (from `--genesis FILE`): another genesis is `wrong_alliance`. */
  genesis?: string;
  limits?: Partial<RosterLimits>;
}

/** What `acceptEntry` returns: the new state and the entry as it was applied. */
export interface AcceptedEntry extends ParsedEntry {
  state: RosterState;
  /** Kids of the admins whose signatures were verified. */
  signers: string[];
}

/**
 * Validates one signed entry against `state` (null: only a genesis is accepted) and returns the
 * next state. Pure: `state` is not changed, and the same inputs always give the same result.
 * Throws `RosterError` with the first failing reason, in the order of schema/roster.md §6.
 */
export async function applyEntry(state: RosterState | null, input: SignedEntry | string | Uint8Array, opts: ApplyOptions = {}): Promise<RosterState> {
  return (await acceptEntry(state, input, opts)).state;
}

/** `applyEntry` that also returns the parsed entry, its hash, exact payload and signers (for storage). */
export async function acceptEntry(state: RosterState | null, input: SignedEntry | string | Uint8Array, opts: ApplyOptions = {}): Promise<AcceptedEntry> {
  const parsed = await parseSignedEntry(input, opts.limits);
  const { entry, hash } = parsed;
  const seq = entry.seq;

  if (opts.alliance !== undefined && entry.alliance !== opts.alliance) {
    throw new RosterError('wrong_alliance', `the entry is for alliance ${entry.alliance}, not ${opts.alliance}`, { field: 'alliance', seq });
  }
  if (state === null) {
    if (entry.type !== 'genesis') throw new RosterError('gap', `the roster starts with the genesis (seq 0); got seq ${seq}`, { field: 'seq', seq });
    if (opts.genesis !== undefined && hash !== opts.genesis) throw new RosterError('wrong_alliance', "the genesis is not this node's genesis", { field: 'payload', seq, hash });
    const body = entry.body;
    const signers = await verifySignatures(parsed, body.admins, body.quorum);
    return { ...parsed, state: genesisState(entry, hash), signers };
  }

  if (entry.alliance !== state.alliance) throw new RosterError('wrong_alliance', `the entry is for alliance ${entry.alliance}, not ${state.alliance}`, { field: 'alliance', seq });
  if (seq <= state.seq) {
    const stored = state.hashes[seq]!;
    if (stored === hash) throw new RosterError('replay', `the entry at seq ${seq} is already applied`, { field: 'seq', seq, stored, hash });
    // A different entry at an applied seq: an alarm only if admins really signed it, else a forgery.
    if (entry.type === 'genesis') await verifySignatures(parsed, entry.body.admins, entry.body.quorum);
    else {
      const gov = governanceAt(state, seq);
      await verifySignatures(parsed, gov.admins, gov.quorum);
    }
    throw new RosterError('fork', `FORK: a validly signed entry at seq ${seq} differs from the one applied (${stored}); not applied`, { field: 'seq', seq, stored, hash });
  }
  if (seq > state.seq + 1) throw new RosterError('gap', `the entry has seq ${seq}; the head is ${state.seq}: entries ${state.seq + 1}..${seq - 1} are missing`, { field: 'seq', seq });
  if (entry.prev !== state.head) throw new RosterError('wrong_prev', `prev is not the hash of entry ${state.seq}`, { field: 'prev', seq });
  if (entry.createdAt < state.updatedAt) throw new RosterError('bad_time', `createdAt ${entry.createdAt} is before the previous entry's (${state.updatedAt})`, { field: 'createdAt', seq });

  const signers = await verifySignatures(parsed, state.admins, state.quorum);
  const next = transition(state, entry as ChangeEntry);
  return { ...parsed, state: { ...next, seq, head: hash, hashes: [...state.hashes, hash], updatedAt: entry.createdAt }, signers };
}

/** Validates a whole chain from its genesis; throws at the first refused entry (the error has its `seq`). */
export async function replay(entries: Iterable<SignedEntry | string | Uint8Array>, opts: ApplyOptions = {}): Promise<RosterState> {
  let state: RosterState | null = null;
  for (const e of entries) state = await applyEntry(state, e, opts);
  if (state === null) throw new RosterError('gap', 'the roster is empty: it starts with a genesis');
  return state;
}

/** The admins and quorum that had to sign the entry at `seq` (>= 1). */
export function governanceAt(state: RosterState, seq: number): Governance {
  let out = state.governance[0]!;
  for (const g of state.governance) if (g.since <= seq) out = g;
  return out;
}

export function memberById(state: RosterState, id: string): Member | undefined {
  return state.members.find((m) => m.id === id);
}

/** Members whose status is ACTIVE: those that publish, hold the current epoch key, and may connect. */
export function activeMembers(state: RosterState): Member[] {
  return state.members.filter((m) => m.status === 'ACTIVE');
}

/**
 * The member and roster key for a batch `kid` (any status, current or rotated key), e.g. for
 * `verifyBatch`'s `resolveKey`; then `signingKeyValidAt` decides whether the batch is acceptable.
 */
export function findSigningKey(state: RosterState, kid: string): { member: Member; key: SigningKey } | undefined {
  for (const member of state.members) {
    const key = member.signingKeys.find((k) => k.kid === kid);
    if (key !== undefined) return { member, key };
  }
  return undefined;
}

/**
 * Whether a batch of `memberId` signed with `kid` and created at `at` is acceptable: the member is
 * ACTIVE now, and `kid` is one of its signing keys with `validFrom <= at < validUntil` (no
 * `validUntil`: still current). After a rotation the old kid stays good for batches created before
 * the rotation entry's `createdAt` and is refused for later ones. `at` is a batch time
 * (`YYYY-MM-DDTHH:MM:SSZ`) or a Date; anything else is refused.
 */
export function signingKeyValidAt(state: RosterState, memberId: string, kid: string, at: string | Date): boolean {
  const t = at instanceof Date ? (Number.isNaN(at.getTime()) ? '' : toWireTime(at)) : at;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(t)) return false;
  const member = memberById(state, memberId);
  if (member === undefined || member.status !== 'ACTIVE') return false;
  const key = member.signingKeys.find((k) => k.kid === kid);
  if (key === undefined) return false;
  return key.validFrom <= t && (key.validUntil === undefined || key.validUntil === null || t < key.validUntil);
}

/**
 * Until when indicators derived under `epoch` may be created and matched: `undefined` for the current
 * epoch (no end yet), the start of the next epoch plus `graceMs` for an older one, and `null` for an
 * epoch the chain never had. Times are batch times (`YYYY-MM-DDTHH:MM:SSZ`).
 */
export function epochLiveUntil(state: RosterState, epoch: number, graceMs: number): string | undefined | null {
  const i = state.epochs.findIndex((e) => e.epoch === epoch);
  if (i < 0) return null;
  const next = state.epochs[i + 1];
  if (next === undefined) return undefined;
  return toWireTime(new Date(Date.parse(next.startedAt) + graceMs));
}

/** The epochs whose indicators are matchable at `now`: the current one and those in their grace period. */
export function liveEpochs(state: RosterState | null, graceMs: number, now: Date): number[] {
  if (state === null) return [];
  const t = toWireTime(now);
  return state.epochs
    .map((e) => e.epoch)
    .filter((epoch) => {
      const until = epochLiveUntil(state, epoch, graceMs);
      return until === undefined || (until !== null && t < until);
    });
}

// ---------------------------------------------------------------------------------------------

function genesisState(entry: EntryOf<'genesis'>, hash: string): RosterState {
  const { body, createdAt } = entry;
  const admins = body.admins.map(copyAdmin);
  return {
    alliance: entry.alliance,
    name: body.name ?? null,
    seq: 0,
    head: hash,
    hashes: [hash],
    updatedAt: createdAt,
    admins,
    quorum: body.quorum,
    governance: [{ since: 1, admins, quorum: body.quorum }],
    members: [],
    retiredKids: [],
    epoch: body.epoch,
    epochStartedAt: createdAt,
    epochKeys: {},
    epochs: [{ epoch: body.epoch, startedAt: createdAt }],
    rekeyNeeded: false,
  };
}

function copyAdmin(a: AdminKey): AdminKey {
  return { kid: a.kid, jwk: { kty: 'OKP', crv: 'Ed25519', x: a.jwk.x! }, ...(a.name === undefined ? {} : { name: a.name }) };
}

/** Every kid the roster has ever held: admins (current and former), members' keys, retired kids. */
function usedKids(state: RosterState): Set<string> {
  const out = new Set<string>(state.retiredKids);
  for (const g of state.governance) for (const a of g.admins) out.add(a.kid);
  for (const m of state.members) {
    for (const k of m.signingKeys) out.add(k.kid);
    out.add(m.encryptionKey.kid);
  }
  return out;
}

/** An entry after the genesis. */
type ChangeEntry = Exclude<RosterEntry, EntryOf<'genesis'>>;

/** The state after a (signed, chained) entry; throws the content reasons. */
function transition(s: RosterState, e: ChangeEntry): RosterState {
  const seq = e.seq;
  const t = e.createdAt;
  const fail = (reason: 'member_exists' | 'key_exists' | 'unknown_member' | 'bad_state' | 'bad_epoch', field: string, message: string): never => {
    throw new RosterError(reason, message, { field, seq });
  };
  const findMember = (id: string): Member => memberById(s, id) ?? fail('unknown_member', 'body.id', `no member ${id} in the roster`);
  const replaceMember = (m: Member): Member[] => s.members.map((x) => (x.id === m.id ? m : x));
  const closeKeys = (keys: SigningKey[]): SigningKey[] => keys.map((k) => (k.validUntil === undefined || k.validUntil === null ? { ...k, validUntil: t } : k));

  switch (e.type) {
    case 'member.add': {
      const b = e.body;
      if (memberById(s, b.id) !== undefined) fail('member_exists', 'body.id', `member ${b.id} already exists`);
      const used = usedKids(s);
      const kids = [...b.signingKeys.map((k) => k.kid), b.encryptionKey.kid];
      for (const [i, kid] of kids.entries()) {
        if (used.has(kid) || kids.indexOf(kid) !== i) fail('key_exists', i < b.signingKeys.length ? `body.signingKeys[${i}].kid` : 'body.encryptionKey.kid', `key ${kid} is already in the roster`);
      }
      if (s.members.some((m) => m.peerId === b.peerId)) fail('key_exists', 'body.peerId', `peer id ${b.peerId} is already a member's`);
      const member: Member = {
        id: b.id,
        name: b.name,
        kind: b.kind,
        country: b.country,
        signingKeys: b.signingKeys.map((k) => ({ kid: k.kid, jwk: { ...k.jwk }, validFrom: t, validUntil: null })),
        encryptionKey: { kid: b.encryptionKey.kid, jwk: { ...b.encryptionKey.jwk } },
        peerId: b.peerId,
        addrs: [...b.addrs],
        status: 'ACTIVE',
      };
      return { ...s, members: [...s.members, member], rekeyNeeded: true };
    }
    case 'member.update': {
      const b = e.body;
      const m = findMember(b.id);
      if (m.status === 'REVOKED') fail('bad_state', 'body.id', `member ${b.id} is revoked: it can no longer be changed`);
      const used = usedKids(s);
      const next: Member = { ...m };
      let retired = s.retiredKids;
      let rekey = s.rekeyNeeded;
      if (b.signingKey !== undefined) {
        if (used.has(b.signingKey.kid)) fail('key_exists', 'body.signingKey.kid', `key ${b.signingKey.kid} is already in the roster`);
        next.signingKeys = [...closeKeys(m.signingKeys), { kid: b.signingKey.kid, jwk: { ...b.signingKey.jwk }, validFrom: t, validUntil: null }];
      }
      if (b.encryptionKey !== undefined) {
        if (used.has(b.encryptionKey.kid)) fail('key_exists', 'body.encryptionKey.kid', `key ${b.encryptionKey.kid} is already in the roster`);
        next.encryptionKey = { kid: b.encryptionKey.kid, jwk: { ...b.encryptionKey.jwk } };
        retired = [...retired, m.encryptionKey.kid];
        rekey = true;
      }
      if (b.peerId !== undefined) {
        if (s.members.some((x) => x.id !== m.id && x.peerId === b.peerId)) fail('key_exists', 'body.peerId', `peer id ${b.peerId} is already a member's`);
        next.peerId = b.peerId;
      }
      if (b.name !== undefined) next.name = b.name;
      if (b.addrs !== undefined) next.addrs = [...b.addrs];
      return { ...s, members: replaceMember(next), retiredKids: retired, rekeyNeeded: rekey };
    }
    case 'member.suspend':
    case 'member.reinstate':
    case 'member.revoke': {
      const m = findMember(e.body.id);
      const from = e.type === 'member.suspend' ? ['ACTIVE'] : e.type === 'member.reinstate' ? ['SUSPENDED'] : ['ACTIVE', 'SUSPENDED'];
      if (!from.includes(m.status)) fail('bad_state', 'body.id', `${e.type} needs a member that is ${from.join(' or ')}; ${m.id} is ${m.status}`);
      const status = e.type === 'member.suspend' ? 'SUSPENDED' : e.type === 'member.reinstate' ? 'ACTIVE' : 'REVOKED';
      const next: Member = { ...m, status, ...(status === 'REVOKED' ? { signingKeys: closeKeys(m.signingKeys) } : {}) };
      return { ...s, members: replaceMember(next), rekeyNeeded: true };
    }
    case 'admin.add': {
      const a = e.body.admin;
      if (usedKids(s).has(a.kid)) fail('key_exists', 'body.admin.kid', `key ${a.kid} is, or was, already in the roster`);
      if (s.admins.length >= 64) fail('bad_state', 'body.admin', 'the alliance already has 64 admins');
      return withGovernance(s, seq, [...s.admins, copyAdmin(a)], s.quorum);
    }
    case 'admin.remove': {
      const kid = e.body.kid;
      if (!s.admins.some((a) => a.kid === kid)) fail('bad_state', 'body.kid', `${kid} is not an admin`);
      if (s.admins.length - 1 < s.quorum) fail('bad_state', 'body.kid', `removing an admin would leave ${s.admins.length - 1}, below the quorum of ${s.quorum}: lower the quorum first`);
      return withGovernance(
        s,
        seq,
        s.admins.filter((a) => a.kid !== kid),
        s.quorum,
      );
    }
    case 'quorum.set': {
      const q = e.body.quorum;
      if (q > s.admins.length) fail('bad_state', 'body.quorum', `the quorum ${q} is above the number of admins (${s.admins.length})`);
      return withGovernance(s, seq, s.admins, q);
    }
    case 'epoch.new': {
      const b = e.body;
      if (b.epoch !== s.epoch + 1) fail('bad_epoch', 'body.epoch', `the next epoch is ${s.epoch + 1}, not ${b.epoch}`);
      const active = activeMembers(s);
      const ids = Object.keys(b.keys);
      for (const id of ids) {
        const m = memberById(s, id);
        if (m === undefined || m.status !== 'ACTIVE') return fail('bad_epoch', 'body.keys', `a key is wrapped for ${id}, which is not an ACTIVE member`);
        const h = jweHeader(b.keys[id]!);
        if (h === undefined || h.kid !== m.encryptionKey.kid) return fail('bad_epoch', `body.keys.${id}`, `the key for ${id} is not wrapped to its encryption key ${m.encryptionKey.kid}`);
        // epoch-keys.ts binds each wrapped key to its alliance and epoch in the JWE header: a key
        // wrapped for another epoch or alliance is not this epoch's key.
        if ((h.epoch !== undefined && h.epoch !== b.epoch) || (h.alliance !== undefined && h.alliance !== e.alliance)) {
          fail('bad_epoch', `body.keys.${id}`, `the key for ${id} is wrapped for another epoch or alliance`);
        }
      }
      const missing = active.find((m) => !Object.hasOwn(b.keys, m.id));
      if (missing !== undefined) fail('bad_epoch', 'body.keys', `no key is wrapped for the ACTIVE member ${missing.id}`);
      return {
        ...s,
        epoch: b.epoch,
        epochStartedAt: t,
        epochKeys: Object.fromEntries(ids.map((id) => [id, b.keys[id]!])),
        epochs: [...s.epochs, { epoch: b.epoch, startedAt: t }],
        rekeyNeeded: false,
      };
    }
  }
}

function withGovernance(s: RosterState, seq: number, admins: AdminKey[], quorum: number): RosterState {
  return { ...s, admins, quorum, governance: [...s.governance, { since: seq + 1, admins, quorum }] };
}
