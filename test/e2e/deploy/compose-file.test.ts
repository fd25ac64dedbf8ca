/**
 * docker-compose.yml, the Dockerfile and .dockerignore read as text and checked against what they
 * must agree with: the init script's layout and addresses, the node's configuration parser, the
 * package's runtime dependencies. (The compose file's schema is checked by docker-compose itself in
 * .ci/run, and below where docker-compose is installed.)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.ts';
import { loadConfig } from '../../../node/config.ts';
import { COMPOSE_MEMBERS, CONTAINER_P2P_PORT, CONTAINER_UID, GENESIS_FILE, parseOptions } from '../../../scripts/deploy/init-compose.ts';

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/**
 * The block YAML docker-compose.yml is written in: nested maps, lists of scalars or maps, quoted and
 * plain scalars, JSON-style flow lists, `{}`, comments. Anything else throws, so that a new construct
 * in the file shows up here rather than being misread.
 */
function parseYamlLite(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, i) => ({ n: i + 1, indent: raw.length - raw.trimStart().length, text: raw.replace(/\s+#.*$/, '').trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
  let i = 0;
  const scalar = (v: string): Yaml => {
    if (v === '{}') return {};
    if (v.startsWith('[')) return JSON.parse(v) as Yaml;
    if (v.startsWith('"')) return JSON.parse(v) as string;
    if (/^['&*!|>{]/.test(v)) throw new Error(`unsupported YAML value ${v}`);
    return v;
  };
  const block = (indent: number): Yaml => {
    if (lines[i]!.text.startsWith('- ')) {
      const list: Yaml[] = [];
      while (i < lines.length && lines[i]!.indent === indent && lines[i]!.text.startsWith('- ')) list.push(scalar(lines[i++]!.text.slice(2)));
      return list;
    }
    const map: { [key: string]: Yaml } = {};
    while (i < lines.length && lines[i]!.indent === indent) {
      const l = lines[i++]!;
      const m = /^([\w.-]+):(?: (.*))?$/.exec(l.text);
      if (!m) throw new Error(`line ${l.n}: unsupported YAML: ${l.text}`);
      if (Object.hasOwn(map, m[1]!)) throw new Error(`line ${l.n}: duplicate key ${m[1]}`);
      if (m[2] !== undefined) map[m[1]!] = scalar(m[2]);
      else if (i < lines.length && lines[i]!.indent > indent) map[m[1]!] = block(lines[i]!.indent);
      else throw new Error(`line ${l.n}: ${m[1]} has no value`);
    }
    if (i < lines.length && lines[i]!.indent > indent) throw new Error(`line ${lines[i]!.n}: unexpected indentation`);
    return map;
  };
  const doc = block(0);
  if (i !== lines.length) throw new Error(`line ${lines[i]!.n}: unexpected indentation`);
  return doc;
}

/** `${VAR:-default}` as docker-compose substitutes it with VAR unset. */
const withDefaults = (v: string) => v.replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name, def: string) => def);
const variables = (v: string) => [...v.matchAll(/\$\{(\w+)(?::-[^}]*)?\}/g)].map((m) => m[1]);

type Service = {
  image?: string;
  build?: string;
  user?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  networks?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
};
const compose = parseYamlLite(read('docker-compose.yml')) as {
  version: string;
  services: Record<string, Service>;
  networks: Record<string, { internal?: string }>;
  volumes: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  it('is a compose file Debian\'s docker-compose 1.29 reads: version 3.8 (3.x with depends_on conditions)', () => {
    expect(compose.version).toBe('3.8');
    expect(Object.keys(compose.services).sort()).toEqual(COMPOSE_MEMBERS.flatMap((m) => [m.service, m.service.replace('node-', 'db-')]).sort());
  });

  const hostPorts = new Set<string>();
  for (const member of COMPOSE_MEMBERS) {
    const letter = member.service.replace('node-', '');
    describe(`${member.service} (${member.id})`, () => {
      const node = compose.services[member.service]!;
      const dbName = `db-${letter}`;
      const db = compose.services[dbName]!;

      it('runs the image as the unprivileged user that owns the data directory, from the genesis the init script writes', () => {
        expect(node).toMatchObject({ image: 'alliance-node:latest', build: '.' });
        expect(withDefaults(node.user!)).toBe(`${CONTAINER_UID}:${CONTAINER_UID}`);
        expect(node.command).toEqual(['start', '--genesis', `/${GENESIS_FILE}`]);
        const deployDir = '${ALLIANCE_DEPLOY_DIR:-./deploy}';
        expect(node.volumes).toEqual([`${deployDir}/${member.service}:/data`, `${deployDir}/${path.dirname(GENESIS_FILE)}:/${path.dirname(GENESIS_FILE)}:ro`]);
        // The script's default output, run from the repository root, is what the compose file mounts.
        expect(withDefaults(deployDir)).toBe('./deploy');
        expect(path.relative(process.cwd(), parseOptions([]).out)).toBe('deploy');
      });

      it('listens where the roster says the others dial it, and serves HTTP on 127.0.0.1 of the host only', () => {
        const env = Object.fromEntries(Object.entries(node.environment!).map(([k, v]) => [k, withDefaults(v)]));
        const config = loadConfig({}, env);
        expect(config.dataDir).toBe('/data');
        expect(config.p2p).toBe(`/ip4/0.0.0.0/tcp/${CONTAINER_P2P_PORT}`);
        expect(parseOptions([]).addrs[member.service]).toBe(`/dns4/${member.service}/tcp/${CONTAINER_P2P_PORT}`);
        expect(config.exchange.pskFile).toBeUndefined();
        expect(variables(node.environment!.ALLIANCE_P2P_PSK!)).toEqual(['ALLIANCE_P2P_PSK']);
        expect(node.ports).toHaveLength(1);
        const [bind, hostPort, containerPort] = node.ports![0]!.split(':');
        expect(bind).toBe('127.0.0.1');
        expect(Number(containerPort)).toBe(config.http.port);
        expect(config.http.host).toBe('0.0.0.0');
        expect(hostPorts.has(hostPort!), `host port ${hostPort} used once`).toBe(false);
        hostPorts.add(hostPort!);
        expect(node.networks).toEqual(['alliance', `member-${letter}`]);
        expect(compose.networks.alliance).toEqual({});
      });

      it(`uses its own database, ${dbName}, on a network only the two of them share, once it is healthy`, () => {
        const url = new URL(withDefaults(node.environment!.DATABASE_URL!));
        const dbEnv = db.environment!;
        expect(url.hostname).toBe(dbName);
        expect(url.username).toBe(dbEnv.POSTGRES_USER);
        expect(url.pathname).toBe(`/${dbEnv.POSTGRES_DB}`);
        // One variable sets both ends, so they cannot drift apart.
        expect(url.password).toBe(withDefaults(dbEnv.POSTGRES_PASSWORD!));
        expect(variables(node.environment!.DATABASE_URL!)).toEqual(variables(dbEnv.POSTGRES_PASSWORD!));
        expect(variables(dbEnv.POSTGRES_PASSWORD!)).toEqual([`NODE_${letter.toUpperCase()}_DB_PASSWORD`]);
        expect(db.image).toBe('postgres:16');
        expect(db.volumes).toEqual([`pg-${letter}:/var/lib/postgresql/data`]);
        expect(Object.hasOwn(compose.volumes, `pg-${letter}`)).toBe(true);
        expect(db.healthcheck!.test.join(' ')).toMatch(/^CMD-SHELL pg_isready -U alliance -d alliance$/);
        expect(node.depends_on).toEqual({ [dbName]: { condition: 'service_healthy' } });
        expect(db.networks).toEqual([`member-${letter}`]);
        expect(compose.networks[`member-${letter}`]).toEqual({ internal: 'true' });
        expect(db.ports).toBeUndefined();
      });
    });
  }

  it('the YAML reader of this test refuses what it does not know', () => {
    expect(() => parseYamlLite('a:\n  - &anchor x\n')).toThrow(/unsupported YAML value &anchor/);
    expect(() => parseYamlLite('a: 1\na: 2\n')).toThrow(/duplicate key a/);
    expect(() => parseYamlLite('a:\nb: 1\n')).toThrow(/a has no value/);
  });

  // Where docker-compose is installed (CI installs it): its own validation of the file, with the
  // paths the init script creates absent, as on a fresh clone.
  const dockerCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  if (dockerCompose.status === 0) {
    it('validates with docker-compose config on a fresh clone (no deploy/ directory needed)', () => {
      const env = { ...process.env, ALLIANCE_DEPLOY_DIR: path.join(REPO_ROOT, 'deploy-does-not-exist') };
      const r = spawnSync('docker-compose', ['-f', path.join(REPO_ROOT, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', env });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(fs.existsSync(env.ALLIANCE_DEPLOY_DIR)).toBe(false);
    });
  }
});

describe('Dockerfile', () => {
  const text = read('Dockerfile').replace(/\\\n\s*/g, ' ');
  const instructions = text
    .split('\n')
    .filter((l) => /^[A-Z]+\s/.test(l))
    .map((l) => ({ op: l.split(/\s/, 1)[0]!, args: l.slice(l.indexOf(' ') + 1).trim() }));
  const all = (op: string) => instructions.filter((x) => x.op === op).map((x) => x.args);

  it('builds on the official Node 24 slim image and installs the runtime dependencies only', () => {
    expect(all('FROM')).toEqual(['node:24-bookworm-slim']);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toMatch(/^>=24\b/);
    expect(all('RUN').join('\n')).toMatch(/npm ci --omit=dev\b/);
  });

  it('its ENV defaults are the container settings the compose file relies on, and EXPOSE names their ports', () => {
    const env: Record<string, string> = {};
    for (const args of all('ENV')) for (const m of args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
    expect(env).toMatchObject({ ALLIANCE_DATA_DIR: '/data', ALLIANCE_HTTP: '0.0.0.0:4000', ALLIANCE_P2P: `/ip4/0.0.0.0/tcp/${CONTAINER_P2P_PORT}` });
    const config = loadConfig({}, env);
    expect(all('EXPOSE')).toEqual([`${config.http.port} ${CONTAINER_P2P_PORT}`]);
    expect(all('VOLUME')).toEqual([`["${config.dataDir}"]`]);
  });

  it('runs as the node user, node as PID 1 without an init, stopped by SIGTERM', () => {
    const users = all('USER');
    expect(users).toEqual(['node']);
    expect(instructions.findIndex((x) => x.op === 'USER')).toBeGreaterThan(instructions.findLastIndex((x) => x.op === 'RUN'));
    expect(all('STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(text).not.toMatch(/tini|dumb-init/);
    expect(JSON.parse(all('ENTRYPOINT')[0]!)).toEqual(['node', '/app/node/cli/bin.ts']);
    expect(all('WORKDIR')).toEqual(['/app']);
    expect(fs.existsSync(path.join(REPO_ROOT, 'node/cli/bin.ts'))).toBe(true);
    expect(JSON.parse(all('CMD')[0]!)).toEqual(['start']);
    // The signal handlers the image relies on.
    expect(read('node/cli/start.ts')).toMatch(/onStopRequest\(/);
    expect(read('node/cli/lifecycle.ts')).toMatch(/process\.on\('SIGTERM'/);
  });

  it('copies only what exists and what .dockerignore lets into the build context', () => {
    const ignore = read('.dockerignore').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.slice(1).map((l) => {
      expect(l.startsWith('!'), `.dockerignore line ${l}: only exceptions after *`).toBe(true);
      return l.slice(1).replace(/\/$/, '');
    });
    const sources = all('COPY').map((args) => args.split(/\s+/).slice(0, -1)).flat();
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const clean = src.replace(/\/$/, '');
      expect(fs.existsSync(path.join(REPO_ROOT, clean)), `${src} exists`).toBe(true);
      expect(allowed, `${src} is let into the build context`).toContain(clean);
    }
    // What the node reads at run time besides node/: its SQL and its GraphQL SDL.
    for (const dir of ['node', 'migrations', 'schema', 'package.json']) expect(sources.map((s) => s.replace(/\/$/, ''))).toContain(dir);
    for (const secret of ['deploy', 'data', 'node_modules', '.git']) expect(allowed).not.toContain(secret);
  });

  it('every package the node imports at run time is a dependency, not a devDependency (npm ci --omit=dev)', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const imported = new Map<string, string>();
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (e.name.endsWith('.ts')) {
          // Type-only imports are erased when Node strips the types.
          const code = read(rel).replace(/^(import|export) type [^;]*;/gms, '');
          for (const m of code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'([^'.][^']*)'/gm)) {
            const spec = m[1]!;
            if (spec.startsWith('node:')) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            imported.set(name, rel);
          }
        }
      }
    };
    walk('node');
    walk('scripts/deploy');
    expect(imported.size).toBeGreaterThan(5);
    for (const [name, file] of imported) expect(Object.keys(pkg.dependencies), `${name} (imported by ${file})`).toContain(name);
  });
});
