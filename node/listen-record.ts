/**
 * Where a running node listens, recorded in its data directory (`listen.json`), so that a command
 * given only the data directory (`alliance lookup --data-dir DIR`, `alliance export --data-dir DIR`)
 * reaches the node that runs there, on whatever port it was started with (`--http`, `ALLIANCE_HTTP`,
 * port 0, the demo's ports). Written once the node listens, removed when it stops; a record left by a
 * process that is gone (kill -9) is ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from './atomic-file.ts';

export const LISTEN_FILE = 'listen.json';

export interface ListenRecord {
  pid: number;
  /** As the ready line shows it: http://127.0.0.1:4000/graphql. */
  graphqlUrl: string;
  startedAt: string;
}

export function listenRecordPath(dataDir: string): string {
  return path.join(dataDir, LISTEN_FILE);
}

/**
 * Records this process's node of `dataDir`. A node that cannot write it runs all the same: the record
 * only spares other commands a `--http`.
 */
export function recordListenAddress(dataDir: string, graphqlUrl: string): void {
  const file = listenRecordPath(dataDir);
  const record: ListenRecord = { pid: process.pid, graphqlUrl, startedAt: new Date().toISOString() };
  try {
    writeFileAtomicSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  } catch {
    // The temporary file is gone already (node/atomic-file.ts); the node runs without a record.
  }
}

/**
 * Removes the record if it is this node's: with PostgreSQL, several nodes may share a data directory,
 * and the record is the last one started's.
 */
export function forgetListenAddress(dataDir: string, graphqlUrl: string): void {
  const r = readRecord(dataDir);
  if (r !== undefined && r.pid === process.pid && r.graphqlUrl === graphqlUrl) fs.rmSync(listenRecordPath(dataDir), { force: true });
}

/** The record of the node running on `dataDir`, or undefined if there is none or its process is gone. */
export function readListenAddress(dataDir: string): ListenRecord | undefined {
  const r = readRecord(dataDir);
  return r !== undefined && isAlive(r.pid) ? r : undefined;
}

function readRecord(dataDir: string): ListenRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(listenRecordPath(dataDir), 'utf8')) as Partial<ListenRecord>;
    if (!Number.isInteger(r.pid) || typeof r.graphqlUrl !== 'string' || !/^https?:\/\//.test(r.graphqlUrl)) return undefined;
    return r as ListenRecord;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, run by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
