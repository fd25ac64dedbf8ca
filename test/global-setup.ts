/**
 * Runs once before the suite: makes the embedded-database template every fresh PGlite database of the
 * run is unpacked from (initdb takes seconds on a 2-core machine, unpacking a fraction of that), and
 * hands its path to the test files (`inject('pgliteTemplate')`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createPgliteTemplate } from '../node/storage/pglite.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-test-template-'));
  const file = path.join(dir, 'pglite-empty.tar');
  await createPgliteTemplate(file);
  project.provide('pgliteTemplate', file);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
