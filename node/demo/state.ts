/**
 * What a demo directory holds between runs: `demo-state.json` (written once the alliance is founded:
 * which members, their P2P ports, which the roster lists, and how many records were asked for), and
 * the files of the founding. A run finds it and starts the same alliance again; `--fresh` removes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DemoError } from './errors.ts';
import { writeFileAtomic } from './files.ts';
import { temporaryFileTarget } from '../atomic-file.ts';

export const STATE_FILE = 'demo-state.json';
export const SUMMARY_FILE = 'demo.json';
export const LOCK_FILE = 'demo.lock';

export interface DemoState {
  v: 1;
  alliance: string;
  /** Records per member asked for when the demo was seeded. */
  records: number;
  seed: string;
  members: Array<{ id: string; p2pPort: number }>;
  foundedAt: string;
}

export function statePath(dir: string): string {
  return path.join(dir, STATE_FILE);
}

export function readState(dir: string): DemoState | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(statePath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const bad = () => new DemoError('DEMO_DIR_INVALID', `${statePath(dir)} is not a demo state file: start over with --fresh`);
  let s: DemoState;
  try {
    s = JSON.parse(raw) as DemoState;
  } catch {
    throw bad();
  }
  const okMembers =
    Array.isArray(s?.members) && s.members.every((m) => typeof m?.id === 'string' && Number.isInteger(m.p2pPort) && m.p2pPort > 0 && m.p2pPort < 65536);
  if (s?.v !== 1 || typeof s.alliance !== 'string' || !Number.isInteger(s.records) || s.records < 1 || typeof s.seed !== 'string' || !okMembers) throw bad();
  return s;
}

export function writeState(dir: string, state: DemoState): void {
  writeFileAtomic(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Names the demo makes at the top of its directory; anything else there is not the demo's. */
function isDemoEntry(name: string, memberIds: readonly string[]): boolean {
  const files = [STATE_FILE, SUMMARY_FILE, LOCK_FILE, 'roster.jsonl', 'genesis.json'];
  const written = temporaryFileTarget(name);
  return (
    [...files, 'admins'].includes(name) ||
    memberIds.includes(name) ||
    // Leftovers of a killed run: temporary files of atomic writes of the demo's files (older runs
    // named them .<name>.<pid>.<hex>.tmp), a lock takeover guard.
    (written !== undefined && files.includes(written)) ||
    /^\..+\.tmp$/.test(name) ||
    name.startsWith(`${LOCK_FILE}.`)
  );
}

/**
 * Empties the demo directory of everything the demo made, keeping the lock this run holds. Refuses
 * (DEMO_DIR_INVALID) if it holds anything else: `--dir` may point at a directory of the user's.
 */
export function clearDemoDir(dir: string, memberIds: readonly string[]): void {
  if (!fs.existsSync(dir)) return;
  const entries = fs.readdirSync(dir);
  const foreign = entries.filter((e) => !isDemoEntry(e, memberIds));
  if (foreign.length > 0) {
    throw new DemoError(
      'DEMO_DIR_INVALID',
      `${dir} holds files the demo did not make (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}); it is left alone: pick another --dir or remove them yourself`,
      { dir },
    );
  }
  for (const e of entries) if (e !== LOCK_FILE) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
}

/** True if the directory holds nothing but (possibly) the lock. */
export function isEmptyDemoDir(dir: string): boolean {
  return !fs.existsSync(dir) || fs.readdirSync(dir).every((e) => e === LOCK_FILE);
}
