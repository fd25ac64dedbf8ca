/**
 * Fixtures for single-node matching tests: a real roster (this member and three others; then one
 * suspended, then one revoked), and indicator rows written directly, as the exchange would leave them.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Database } from '../../node/storage/database.ts';
import type { RecordFields } from '../../node/records/model.ts';
import { applyEntry, type RosterState } from '../../node/membership/roster-state.ts';
import { epochBody, genesisText, newTestAdmin, newTestMember, nextText, type TestAdmin, type TestMember } from './roster.ts';

export const SELF = 'member-self';
export const FAR = '2099-01-01T00:00:00Z';

export interface Rosters {
  /** SELF, peer-a, peer-b, peer-c ACTIVE; epoch 1. */
  base: RosterState;
  /** peer-b suspended. */
  suspended: RosterState;
  /** peer-b suspended, peer-c revoked. */
  revoked: RosterState;
  /** Removes the member identities' data directories. */
  cleanup(): void;
}

async function step(state: RosterState, p: Parameters<typeof nextText>[1], admin: TestAdmin): Promise<RosterState> {
  return applyEntry(state, await nextText(state, p, [admin]));
}

export async function buildRosters(alliance = 'match-alliance'): Promise<Rosters> {
  const admin = await newTestAdmin('admin');
  const members: TestMember[] = [];
  let s = await applyEntry(null, await genesisText(alliance, [admin], 1));
  for (const id of [SELF, 'peer-a', 'peer-b', 'peer-c']) {
    const m = await newTestMember(id);
    members.push(m);
    s = await step(s, { type: 'member.add', body: m.request }, admin);
  }
  const base = await step(s, { type: 'epoch.new', body: await epochBody(alliance, 1, members.map((m) => m.request)) }, admin);
  const suspended = await step(base, { type: 'member.suspend', body: { id: 'peer-b' } }, admin);
  const revoked = await step(suspended, { type: 'member.revoke', body: { id: 'peer-c' } }, admin);
  return {
    base,
    suspended,
    revoked,
    cleanup: () => {
      for (const m of members) fs.rmSync(m.dataDir, { recursive: true, force: true });
    },
  };
}

/** A stand-in digest for a label (base64url SHA-256: the shape of a real one). */
export const digest = (label: string) => createHash('sha256').update(label).digest('base64url');
/** A peer's ref (16 bytes, base64url). */
export const peerRef = (n: number) => Buffer.alloc(16, n).toString('base64url');

export function recordFields(name: string, over: Partial<RecordFields> = {}): RecordFields {
  return {
    kind: 'SELLER',
    name,
    identifiers: [{ type: 'phone', value: '+86 138 0013 8000', canonical: '+8613800138000' }],
    categories: ['COUNTERFEIT'],
    status: 'SUSPECTED',
    confidence: 70,
    brands: [],
    notes: null,
    evidence: [],
    externalId: null,
    region: null,
    ...over,
  };
}

export interface IndicatorRow {
  origin: string;
  type?: string;
  digest: string;
  ref: string;
  epoch?: number;
  categories?: string[];
  status?: string;
  confidence?: number;
  expiresAt?: string;
  seq?: number;
}

/** Upserts indicator rows. */
export async function putIndicators(db: Database, ...rows: IndicatorRow[]): Promise<void> {
  for (const r of rows) {
    await db.query(
      `INSERT INTO indicators (origin, type, digest, ref, epoch, categories, status, confidence, first_seen, expires_at, seq)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, '2026-05-01', $9, $10)
       ON CONFLICT (origin, type, digest, ref) DO UPDATE SET categories = EXCLUDED.categories, status = EXCLUDED.status,
         confidence = EXCLUDED.confidence, expires_at = EXCLUDED.expires_at, seq = EXCLUDED.seq`,
      [r.origin, r.type ?? 'phone', r.digest, r.ref, r.epoch ?? 1, r.categories ?? ['COUNTERFEIT'], r.status ?? 'CONFIRMED', r.confidence ?? 90, r.expiresAt ?? FAR, r.seq ?? 1],
    );
  }
}
