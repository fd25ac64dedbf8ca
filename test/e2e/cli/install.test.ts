/**
 * The README's install, as a newcomer runs it: `npm ci` and then `npx alliance`, with the machine's
 * own npm on the machine's own Node (20 here, while the project runs on the Node 24 it installs) and
 * npm's default settings. Nothing of it may read as breakage: no warnings, no audit or funding
 * notices, while the project still says that it needs Node 24, and brings it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../../helpers/cli.ts';
import { npmEnv } from '../../helpers/npm.ts';

/** What reaching the registry needs from the machine's npm settings (CA, proxy), and nothing else. */
function newcomerConfig(dir: string): Record<string, string> {
  const global = spawnSync('npm', ['config', 'get', 'globalconfig'], { env: npmEnv(), encoding: 'utf8' }).stdout.trim();
  const lines = fs.existsSync(global) ? fs.readFileSync(global, 'utf8').split('\n') : [];
  const keep = lines.filter((l) => /^\s*(cafile|ca|registry|strict-ssl|proxy|https-proxy|noproxy)\s*=/.test(l));
  fs.writeFileSync(path.join(dir, 'global.npmrc'), `${keep.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'user.npmrc'), '');
  return { NPM_CONFIG_GLOBALCONFIG: path.join(dir, 'global.npmrc'), NPM_CONFIG_USERCONFIG: path.join(dir, 'user.npmrc') };
}

describe('installing the project', () => {
  const tmp = tempDir('alliance-install-');
  afterAll(() => tmp.remove());

  it(
    '`npm ci` and the first `npx alliance` are quiet on the machine\'s Node, and the project still runs on the Node 24 it asks for',
    () => {
      const project = path.join(tmp.dir, 'alliance-node');
      fs.mkdirSync(project);
      for (const f of ['package.json', 'package-lock.json', '.npmrc']) {
        if (fs.existsSync(path.join(REPO_ROOT, f))) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(project, f));
      }
      fs.cpSync(path.join(REPO_ROOT, 'node'), path.join(project, 'node'), { recursive: true });
      const env = npmEnv(newcomerConfig(tmp.dir));
      const machineNode = spawnSync('node', ['--version'], { env, encoding: 'utf8' }).stdout.trim();
      expect(machineNode).not.toMatch(/^v24\./);

      const ci = spawnSync('npm', ['ci'], { cwd: project, env, encoding: 'utf8', timeout: 300_000 });
      expect(ci.status, ci.stderr).toBe(0);
      expect(ci.stderr).toBe('');
      expect(ci.stdout.trim()).toMatch(/^added \d+ packages in [\d.]+m?s$/);

      const npx = spawnSync('npx', ['alliance', '--help'], { cwd: project, env, encoding: 'utf8', timeout: 120_000 });
      expect(npx.status, npx.stderr).toBe(0);
      expect(npx.stderr).toBe('');
      expect(npx.stdout).toMatch(/^Usage: alliance <command>/);

      // Honest about what it needs: engines still asks for Node 24, which the installed Node is.
      const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')) as { engines: { node: string } };
      expect(pkg.engines.node).toBe('>=24.0.0 <25');
      const projectNode = spawnSync(path.join(project, 'node_modules', '.bin', 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
      expect(projectNode).toMatch(/^v24\./);
    },
    420_000,
  );
});
