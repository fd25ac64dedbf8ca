import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/cli.ts';
import { openPglite } from '../../../node/storage/pglite.ts';
import { pgliteDir } from '../../../node/storage/open.ts';

describe('alliance import with invalid identifiers', () => {
  const tmp = tempDir('alliance-import-skip-');
  afterAll(() => tmp.remove());
  const dataDir = path.join(tmp.dir, 'data');
  const csv = path.join(tmp.dir, 'sellers.csv');
  fs.writeFileSync(
    csv,
    ['kind,name,region,phone,ip', 'SELLER,Good One,CN,138 0013 8000,192.0.2.1', 'SELLER,Bad Phone,CN,12,192.0.2.2', 'SELLER,Bad Ip,,,10.0.0.300', 'SHOP,Good Two,,,198.51.100.4'].join('\n'),
  );
  const count = async () => {
    const db = await openPglite({ dataDir: pgliteDir(dataDir) });
    try {
      const { rows } = await db.query<{ n: number; c: string[] }>('SELECT count(*)::int AS n, array_agg(DISTINCT i.canonical) AS c FROM records r LEFT JOIN record_identifiers i ON i.record_id = r.id');
      return rows[0]!;
    } finally {
      await db.close();
    }
  };

  it('rejects the whole file by default, naming each bad row, column and reason', async () => {
    const r = await runCli(['import', csv, '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/row 2 \(line 3\), column phone: not a valid phone: .*/);
    expect(r.stderr).toMatch(/row 3 \(line 4\), column ip: not a valid ip: .*/);
    expect(r.stderr).toMatch(/nothing was imported/);
    expect((await count()).n).toBe(0);
  });

  it('with --on-invalid skip imports the valid rows, lists every skipped row, and stores canonical forms', async () => {
    const r = await runCli(['import', csv, '--data-dir', dataDir, '--on-invalid', 'skip']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/imported 2 records, skipped 2 invalid rows/);
    expect(r.stderr).toMatch(/row 2 \(line 3\), column phone/);
    expect(r.stderr).toMatch(/row 3 \(line 4\), column ip/);
    const after = await count();
    expect(after.c).toEqual(expect.arrayContaining(['+8613800138000', '192.0.2.1', '198.51.100.4']));
  });

  it('refuses an unknown --on-invalid mode with exit status 2', async () => {
    const r = await runCli(['import', csv, '--data-dir', dataDir, '--on-invalid', 'maybe']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--on-invalid must be reject or skip/);
  });
});
