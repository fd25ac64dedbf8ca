import { KeyObject } from 'node:crypto';
import type { CryptoKey } from 'jose';

/** An Ed25519 key as Web Crypto (jose) or node:crypto holds it. */
export type Ed25519Key = CryptoKey | KeyObject;

/** Throws TypeError unless `k` is an Ed25519 key of `type`; `what` names it in the message. */
export function assertEd25519(k: unknown, type: 'public' | 'private', what: string): asserts k is Ed25519Key {
  const ok =
    k instanceof globalThis.CryptoKey ? k.type === type && k.algorithm.name === 'Ed25519'
    : k instanceof KeyObject ? k.type === type && k.asymmetricKeyType === 'ed25519'
    : false;
  if (!ok) throw new TypeError(`${what} must be an Ed25519 ${type} key (CryptoKey or KeyObject)`);
}
