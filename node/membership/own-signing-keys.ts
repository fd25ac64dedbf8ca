/**
 * This member's signing keys as the node signs with them. A key rotated in place (`alliance
 * rotate-keys`) while the node runs becomes the roster's once its member.update applies: the
 * identity file is read again then, so publishing goes on under the new key. A new peer id listed
 * for this member needs a restart (the libp2p host keeps the key it started with): said in the log.
 */
import type { Startable } from '@libp2p/interface';
import type { Logger } from '../log.ts';
import type { Ed25519Key } from '../encoding/ed25519.ts';
import { loadMemberIdentity, type MemberIdentity } from './keys.ts';
import { memberById, type RosterState } from './roster-state.ts';

export interface OwnSigningKeysOptions {
  dataDir: string;
  identity: MemberIdentity;
  roster: { readonly state: RosterState | null; watch(fn: (state: RosterState) => void): () => void };
  /** The peer id the node's host runs under, once it runs. */
  peerId: () => string | undefined;
  logger: Logger;
}

export class OwnSigningKeys implements Startable {
  readonly id: string;
  #keys: Array<{ kid: string; privateKey: Ed25519Key }>;
  readonly #opts: OwnSigningKeysOptions;
  #unwatch: (() => void) | undefined;

  constructor(opts: OwnSigningKeysOptions) {
    this.#opts = opts;
    this.id = opts.identity.profile.id;
    this.#keys = opts.identity.signingKeys.map((k) => ({ kid: k.kid, privateKey: k.privateKey }));
  }

  /** Every signing key the identity holds (old and new). */
  get signingKeys(): ReadonlyArray<{ kid: string; privateKey: Ed25519Key }> {
    return this.#keys;
  }

  start(): void {
    this.#unwatch = this.#opts.roster.watch((st) => this.#changed(st));
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  #changed(st: RosterState): void {
    const { logger } = this.#opts;
    const listed = memberById(st, this.id)?.peerId;
    const running = this.#opts.peerId();
    if (listed !== undefined && running !== undefined && listed !== running) {
      logger.warn({ listed }, 'the roster lists a new peer id for this member: restart the node to connect with it');
    }
    const current = memberById(st, this.id)?.signingKeys.find((k) => k.validUntil === undefined || k.validUntil === null);
    if (current === undefined || this.#keys.some((k) => k.kid === current.kid)) return;
    loadMemberIdentity(this.#opts.dataDir).then(
      (fresh) => {
        this.#keys = fresh.signingKeys.map((k) => ({ kid: k.kid, privateKey: k.privateKey }));
        logger.info({ kid: current.kid, held: this.#keys.some((k) => k.kid === current.kid) }, 'signing key of this member rotated');
      },
      (err: unknown) => logger.error({ err }, 'member identity could not be read again after a key rotation'),
    );
  }
}
