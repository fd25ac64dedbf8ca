/**
 * No SQL of the node names a cast after the column it casts (`seq::text AS seq`). PostgreSQL resolves
 * a name in ORDER BY or GROUP BY to the output column first, so such an alias silently changes how
 * rows are ordered or grouped (as text: 0, 1, 10, 11, 2, ...) and keeps an index from being used.
 * The storage adapters return bigint values as decimal strings, so no query needs such a cast.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// `x::type AS x`, `t.x::type AS x`, `CAST(x AS type) AS x` (type may have words, digits, brackets).
const CAST_AS_ITSELF = [
  /\b(?:\w+\.)?(\w+)\s*::\s*[a-z][\w ]*?(?:\[\])?\s+AS\s+"?\1"?(?!\w)/gi,
  /\bCAST\s*\(\s*(?:\w+\.)?(\w+)\s+AS\s+[a-z][\w ]*?(?:\[\])?\s*\)\s+AS\s+"?\1"?(?!\w)/gi,
];

function castsUnderOwnName(text: string): string[] {
  return CAST_AS_ITSELF.flatMap((re) => [...text.matchAll(re)].map((m) => m[0]));
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|sql)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

describe('SQL aliases', () => {
  it('the check finds the casts that once sorted a roster as text, and passes plain columns', () => {
    expect(castsUnderOwnName("SELECT seq::text AS seq, hash FROM roster_entries ORDER BY seq")).toEqual(['seq::text AS seq']);
    expect(castsUnderOwnName('SELECT id::text AS id, state FROM matches')).toEqual(['id::text AS id']);
    expect(castsUnderOwnName('SELECT h.seq::float8 AS seq FROM h')).toEqual(['h.seq::float8 AS seq']);
    expect(castsUnderOwnName('SELECT r.confidence::int AS "confidence"')).toEqual(['r.confidence::int AS "confidence"']);
    expect(castsUnderOwnName('SELECT CAST(id AS text) AS id')).toEqual(['CAST(id AS text) AS id']);
    expect(castsUnderOwnName('SELECT ids::bigint[] AS ids')).toEqual(['ids::bigint[] AS ids']);
    expect(castsUnderOwnName('SELECT seq, count(*)::int AS n, id::text AS id_text, $1::text[] AS t FROM x ORDER BY seq')).toEqual([]);
  });

  it('no SQL in node/, scripts/ or migrations/ casts a column under its own name', () => {
    const found: string[] = [];
    for (const file of [...sourceFiles('node'), ...sourceFiles('scripts'), ...sourceFiles('migrations')]) {
      for (const hit of castsUnderOwnName(fs.readFileSync(path.join(ROOT, file), 'utf8'))) found.push(`${file}: ${hit}`);
    }
    expect(found).toEqual([]);
  });
});
