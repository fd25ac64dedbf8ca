/**
 * The roster a node starts with: the one in storage, founded on a fresh database from the
 * `--genesis` file (its entries applied in order), or, without one, as a single-member development
 * alliance (dev-alliance.ts); and the line that tells the operator which alliance the node is in.
 */
import { AllianceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Database } from '../storage/database.ts';
import { ensureDevelopmentAlliance, isDevelopmentAlliance } from './dev-alliance.ts';
import { hasMemberIdentity, loadMemberIdentity } from './keys.ts';
import { isRosterError, parseSignedEntry } from './roster.ts';
import { memberById, type RosterState } from './roster-state.ts';
import { readRosterFile } from './roster-file.ts';
import { RosterStore, type RosterStoreOptions } from './roster-store.ts';

/** A genesis or roster log file that cannot start a node. */
export class GenesisError extends AllianceError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('GENESIS_INVALID', message, details);
  }
}

export interface GenesisFile {
  file: string;
  entries: string[];
  /** The hash of its genesis (its first entry, seq 0). */
  hash: string;
}

/** Reads a `--genesis` file (checked before any storage is touched: a typo must not touch it). */
export async function loadGenesisFile(file: string): Promise<GenesisFile> {
  const entries = readRosterFile(file);
  let parsed;
  try {
    parsed = await parseSignedEntry(entries[0]!);
  } catch (err) {
    if (isRosterError(err)) throw new GenesisError(`${file}: the first entry is not a valid signed roster entry (${err.reason}: ${err.message})`, { file });
    throw err;
  }
  if (parsed.entry.seq !== 0 || parsed.entry.type !== 'genesis') {
    throw new GenesisError(`${file}: the first entry must be the genesis (seq 0); it is a ${parsed.entry.type} at seq ${parsed.entry.seq}`, { file });
  }
  return { file, entries, hash: parsed.hash };
}

/** Opens the roster, founding it from `genesis` or as a development alliance when storage holds none. */
export async function openRoster(db: Database, opts: { genesis: GenesisFile | undefined; dataDir: string; logger: Logger; onEpoch: RosterStoreOptions['onEpoch'] }): Promise<RosterStore> {
  const { genesis, logger } = opts;
  const roster = await RosterStore.open(db, { genesisHash: genesis?.hash, onEpoch: opts.onEpoch });
  if (genesis !== undefined) {
    for (const [i, text] of genesis.entries.entries()) {
      try {
        const r = await roster.submit(text);
        if (r.applied) logger.info({ seq: r.seq, hash: r.hash }, 'roster entry applied from the genesis file');
      } catch (err) {
        if (isRosterError(err)) throw new GenesisError(`${genesis.file}: entry ${i + 1} (seq ${err.seq ?? '?'}) was refused: ${err.reason}: ${err.message}`, { reason: err.reason });
        throw err;
      }
    }
  } else {
    const dev = await ensureDevelopmentAlliance(roster, opts.dataDir);
    if (dev) logger.info(dev, 'development alliance (single member): start with --genesis FILE to join a real one');
  }
  return roster;
}

export interface AllianceSummary {
  id: string;
  epoch: number;
  /** The single-member development alliance `start` founds without `--genesis`. */
  development: boolean;
  /** This node's member id (from its identity), if it has one. */
  member: string | undefined;
  /** Its status in the roster; undefined if it is not (yet) a member. */
  status: string | undefined;
  /** One line for humans: `alliance <id> (development, single member)` or `alliance <id>, member <id>, epoch N`. */
  line: string;
}

export async function summarizeAlliance(state: RosterState, dataDir: string): Promise<AllianceSummary> {
  const development = await isDevelopmentAlliance(state, dataDir);
  const id = hasMemberIdentity(dataDir) ? (await loadMemberIdentity(dataDir)).profile.id : undefined;
  const status = id === undefined ? undefined : memberById(state, id)?.status;
  let line: string;
  if (development && state.members.length === 1) line = `alliance ${state.alliance} (development, single member)`;
  else {
    const who = id === undefined ? 'no member identity here (alliance init)' : `member ${id}${status === undefined ? ' (not in the roster yet)' : status === 'ACTIVE' ? '' : ` (${status})`}`;
    line = `alliance ${state.alliance}${development ? ' (development)' : ''}, ${who}, epoch ${state.epoch}`;
  }
  return { id: state.alliance, epoch: state.epoch, development, member: id, status, line };
}
