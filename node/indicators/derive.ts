import { createHmac } from 'node:crypto';
import type { EpochKey } from '../membership/epoch-keyring.ts';
import type { StoredRecord } from '../records/model.ts';
import type { IdentifierType } from '../identifiers/vocabulary.ts';
import type { Indicator } from './indicator.ts';

/** Version tag of the derivation; part of every digest, so a new scheme can never collide with this one. */
export const DERIVATION_VERSION = 'alliance:v1';

/**
 * The string that is keyed-hashed for one identifier: `alliance:v1:<type>:<canonical>`
 * (docs/architecture.md, "Keys and digests"). The one place the input is formed: a later stage that replaces `canonical` by an OPRF output
 * (RFC 9497) changes this function and nothing else.
 */
export function derivationInput(type: IdentifierType, canonical: string): string {
  return `${DERIVATION_VERSION}:${type}:${canonical}`;
}

/** `HMAC-SHA256(K_e, "alliance:v1:" + type + ":" + canonical)`, as base64url without padding. */
export function deriveDigest(key: EpochKey, type: IdentifierType, canonical: string): string {
  return createHmac('sha256', key).update(derivationInput(type, canonical), 'utf8').digest('base64url');
}

export interface IndicatorOptions {
  epochKey: EpochKey;
  /** How long peers keep matching an indicator after it is published. */
  lifetimeDays: number;
  now?: Date;
}

/** What of a record its indicators are made of: never its raw values, only digests of them. */
export type IndicatorSource = Pick<StoredRecord, 'ref' | 'categories' | 'status' | 'confidence' | 'createdAt'> & {
  /** Only what digests are made of: the raw value never reaches derivation. */
  identifiers: ReadonlyArray<{ type: IdentifierType; canonical: string }>;
};

/**
 * The indicators of one record (docs/architecture.md, "Records, refs and indicators"): one per
 * distinct (type, canonical) identifier, all carrying the record's `ref`. A CLEARED record (or one being deleted: `op` 'retract') retracts them.
 */
export function indicatorsOf(record: IndicatorSource, opts: IndicatorOptions, op?: Indicator['op']): Indicator[] {
  const now = opts.now ?? new Date();
  const expiresAt = new Date(now.getTime() + opts.lifetimeDays * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const base = {
    op: op ?? (record.status === 'CLEARED' ? 'retract' : 'add'),
    ref: record.ref,
    categories: [...record.categories].sort(),
    status: record.status,
    confidence: record.confidence,
    firstSeen: record.createdAt.slice(0, 10),
    expiresAt,
  } as const;
  const seen = new Set<string>();
  const out: Indicator[] = [];
  for (const id of record.identifiers) {
    const key = `${id.type}\u0000${id.canonical}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ type: id.type, digest: deriveDigest(opts.epochKey, id.type, id.canonical), ...base, categories: [...base.categories] });
  }
  return out;
}
