/**
 * What an applied `epoch.new` means for this node: if the data directory holds a member identity
 * and the entry wraps a key to it, unwrap it and store it in `keys/epochs/` (epoch-keys.ts). Used as
 * the RosterStore's `onEpoch` by the node and by `alliance admin submit`.
 */
import { encryptionKeyFor, hasMemberIdentity, loadMemberIdentity, type MemberIdentity } from './keys.ts';
import { EpochKeyError, readWrappedEpochKeyHeader, saveEpochKey, unwrapEpochKey } from './epoch-keys.ts';
import type { EpochEvent } from './roster-store.ts';

export type EpochInstallOutcome =
  | { status: 'installed' | 'present'; epoch: number; file: string }
  | { status: 'no-identity' | 'not-for-us' | 'other-key'; epoch: number }
  | { status: 'failed'; epoch: number; code: string; message: string };

export interface EpochInstallerOptions {
  /** Told about every outcome (a failure is not thrown: the roster entry stands, the key is just not usable here). */
  report?: (outcome: EpochInstallOutcome) => void;
}

/** An `onEpoch` callback that installs this member's key of every applied epoch. */
export function epochKeyInstaller(dataDir: string, opts: EpochInstallerOptions = {}): (event: EpochEvent) => Promise<void> {
  let identity: MemberIdentity | undefined;
  return async ({ entry }) => {
    const outcome = await install(entry.alliance, entry.body.epoch, entry.body.keys);
    opts.report?.(outcome);
  };

  async function install(alliance: string, epoch: number, keys: Record<string, string>): Promise<EpochInstallOutcome> {
    if (identity === undefined) {
      if (!hasMemberIdentity(dataDir)) return { status: 'no-identity', epoch };
      identity = await loadMemberIdentity(dataDir);
    }
    const jwe = Object.hasOwn(keys, identity.profile.id) ? keys[identity.profile.id]! : undefined;
    if (jwe === undefined) return { status: 'not-for-us', epoch };
    try {
      const kid = readWrappedEpochKeyHeader(jwe).kid;
      let recipient = encryptionKeyFor(identity, kid);
      // `alliance rotate-keys --encryption` may have run beside this process since it read the file.
      if (recipient === undefined) {
        identity = await loadMemberIdentity(dataDir);
        recipient = encryptionKeyFor(identity, kid);
      }
      // Wrapped to a key this identity never held (the member's keys live in another data directory).
      if (recipient === undefined) return { status: 'other-key', epoch };
      const key = await unwrapEpochKey(jwe, recipient.privateJwk, { alliance, epoch });
      const saved = saveEpochKey(dataDir, { alliance, epoch, key });
      return { status: saved.created ? 'installed' : 'present', epoch, file: saved.file };
    } catch (err) {
      if (err instanceof EpochKeyError) return { status: 'failed', epoch, code: err.code, message: err.message };
      throw err;
    }
  }
}
