import type { JWK } from 'jose';

/** Member kinds, as the roster's `member.add` takes them (schema/roster.md §3). */
export const MEMBER_KINDS = ['PLATFORM', 'RIGHTS_HOLDER', 'ENFORCEMENT', 'OTHER'] as const;
export type MemberKind = (typeof MEMBER_KINDS)[number];

export const MEMBER_STATUSES = ['ACTIVE', 'SUSPENDED', 'REVOKED'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/**
 * A public Ed25519 key as the roster carries it. `kid` is the RFC 7638 JWK thumbprint of `jwk`.
 * A key signs batches from `validFrom` (the roster entry that added it) until `validUntil`, set when
 * a later `member.update` replaces it: batches signed with it after that are refused.
 */
export interface SigningKey {
  kid: string;
  /** `{kty: 'OKP', crv: 'Ed25519', x}` only: never a private member. */
  jwk: JWK;
  /** ISO 8601 UTC. */
  validFrom: string;
  validUntil?: string | null;
}

/** A public X25519 key for ECDH-ES+A256KW: the epoch key is wrapped to it. `kid` is its RFC 7638 thumbprint. */
export interface EncryptionKey {
  kid: string;
  /** `{kty: 'OKP', crv: 'X25519', x}`. */
  jwk: JWK;
}

/**
 * What `alliance init` prints and an admin turns into a `member.add` entry: the member's public
 * identity. Ids are 1-128 characters of A-Z a-z 0-9 . _ : - (the wire format's id rule).
 */
export interface MembershipRequest {
  id: string;
  name: string;
  kind: MemberKind;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
  signingKeys: SigningKey[];
  encryptionKey: EncryptionKey;
  /** libp2p peer id (base58btc, Ed25519 identity). */
  peerId: string;
  /** libp2p multiaddrs other members dial. */
  addrs: string[];
}

export interface Member extends MembershipRequest {
  status: MemberStatus;
}

/** An admin of the alliance: signs roster entries with this Ed25519 key. `kid` is the RFC 7638 thumbprint. */
export interface AdminKey {
  kid: string;
  jwk: JWK;
  /** Free text to tell admins apart (a person or team), never used for checks. */
  name?: string;
}
