/**
 * Each table has one owning module (docs/architecture.md, "Tables and their owners"): only the
 * module's own folder names the table in its SQL; other modules call it, or read the views it keeps
 * as its published interface for set-based statements across modules (matching, lookup).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const OWNERS: Record<string, string> = {
  schema_migrations: 'storage',
  records: 'records',
  record_identifiers: 'records',
  record_changes: 'records',
  indicator_outbox: 'records',
  roster_entries: 'membership',
  roster_alarms: 'membership',
  roster_proposals: 'membership',
  audit_log: 'audit',
  batches: 'indicators',
  indicators: 'indicators',
  batch_alarms: 'indicators',
  matches: 'matching',
  matching_state: 'matching',
};
/** Views other modules may read, by the module that keeps them. */
const VIEWS: Record<string, string> = {
  record_refs: 'records',
  record_identifier_hits: 'records',
  indicator_rows: 'indicators',
};

/** The SQL-looking references (`FROM x`, `JOIN x`, ...) in `text` with comments removed. */
function tableReferences(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return [...code.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE|TRUNCATE|TABLE)\s+([a-z_][a-z0-9_]*)\b/g)].map((m) => m[1]!);
}

function moduleOf(file: string): string {
  const m = /^node\/([^/]+)\//.exec(file);
  return m ? m[1]! : file;
}

describe('table owners', () => {
  it('every table of the migrations has an owner listed here', () => {
    const created = fs
      .readdirSync(path.join(ROOT, 'migrations'))
      .flatMap((f) => [...fs.readFileSync(path.join(ROOT, 'migrations', f), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)/g)].map((m) => m[1]!));
    const views = fs
      .readdirSync(path.join(ROOT, 'migrations'))
      .flatMap((f) => [...fs.readFileSync(path.join(ROOT, 'migrations', f), 'utf8').matchAll(/CREATE (?:OR REPLACE )?VIEW ([a-z_]+)/g)].map((m) => m[1]!));
    expect(created.filter((t) => OWNERS[t] === undefined)).toEqual([]);
    expect(views.filter((v) => VIEWS[v] === undefined)).toEqual([]);
  });

  it('the check sees a table named in SQL and not in a comment', () => {
    expect(tableReferences("db.query('SELECT id FROM records r JOIN matches m ON true') // FROM batches")).toEqual(['records', 'matches']);
  });

  it('no module names another module\'s table in its SQL', () => {
    const found: string[] = [];
    const files = fs.readdirSync(path.join(ROOT, 'node'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.ts'));
    for (const e of files) {
      const file = path.relative(ROOT, path.join(e.parentPath, e.name));
      const mine = moduleOf(file);
      for (const name of tableReferences(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
        const owner = OWNERS[name];
        if (owner !== undefined && owner !== mine) found.push(`${file} names ${name} (owned by ${owner})`);
      }
    }
    expect(found).toEqual([]);
  });
});
