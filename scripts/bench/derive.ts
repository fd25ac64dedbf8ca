/**
 * Derivation benchmark: identifiers normalised and digested per second for each type, beside raw
 * HMAC-SHA256 of the same input strings in the same run; and batch signing / verification in items
 * per second, beside raw HMAC of the same items. Single-threaded: every figure is per core.
 *
 *   npm run bench:derive -- [--seconds S] [--json]
 *
 * Inputs: the valid inputs of the published vectors (test/vectors/identifiers.json), cycled.
 * Goals (issue 3): email, url, domain, ip >= 200,000/s per core; phone >= 50,000/s.
 */
import fs from 'node:fs';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { IDENTIFIER_TYPES, type IdentifierType } from '../../node/identifiers/vocabulary.ts';
import { normalize } from '../../node/identifiers/normalize.ts';
import { deriveDigest } from '../../node/indicators/derive.ts';
import { epochKey } from '../../node/membership/epoch-keyring.ts';
import { emit, figure, type Figure } from './report.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:derive -- [--seconds S] [--quick] [--json]\n');
  process.exit(0);
}
// --quick: a tenth of a second per figure, for the suite's quick run.
const SECONDS = Number(values.seconds ?? (values.quick ? '0.1' : '0.5'));
if (!(SECONDS > 0)) {
  process.stderr.write('--seconds must be a positive number\n');
  process.exit(2);
}

const GOALS: Partial<Record<IdentifierType, number>> = { email: 200_000, url: 200_000, domain: 200_000, ip: 200_000, phone: 50_000 };
// The baseline HMACs with the same prepared key object as the derivation.
const KEY = epochKey(randomBytes(32));

/** Calls `fn(i)` for about SECONDS after a warm-up; returns calls per second. */
function rate(fn: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) fn(i);
  let n = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  while (performance.now() < until) {
    for (let k = 0; k < 256; k++) fn(n++);
  }
  return n / ((performance.now() - start) / 1000);
}

const figures: Figure[] = [];

// The published vectors (what the tests check) as the inputs to time: valid values of every type.
const vectors = JSON.parse(fs.readFileSync(new URL('../../test/vectors/identifiers.json', import.meta.url), 'utf8')) as Record<string, { valid?: Array<{ input: string; region?: string }> }>;
for (const type of IDENTIFIER_TYPES) {
  const inputs = (vectors[type]?.valid ?? []).map((v) => ({ input: v.input, region: v.region }));
  if (inputs.length === 0) continue;
  const value = rate((i) => {
    const x = inputs[i % inputs.length]!;
    deriveDigest(KEY, type, normalize(type, x.input, { region: x.region }));
  });
  const baseline = rate((i) => {
    createHmac('sha256', KEY).update(inputs[i % inputs.length]!.input).digest();
  });
  const goal = GOALS[type] ?? null;
  figures.push(
    figure(`normalise+digest ${type}`, value, 'identifiers/s', {
      baseline: { name: 'raw HMAC-SHA256', value: baseline, unit: 'identifiers/s' },
      goal: goal === null ? null : { op: '>=', value: goal },
      note: 'one core',
    }),
  );
}

await benchBatches();

async function benchBatches(): Promise<void> {
  let batch: typeof import('../../node/indicators/batch.ts');
  try {
    batch = await import('../../node/indicators/batch.ts');
  } catch {
    return;
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const items = Array.from({ length: 1000 }, (_, i) => ({
    type: 'email' as const,
    digest: deriveDigest(KEY, 'email', `seller${i}@example.com`),
    op: 'add' as const,
    ref: randomBytes(16).toString('base64url'),
    categories: ['COUNTERFEIT' as const],
    status: 'SUSPECTED' as const,
    confidence: 60,
    firstSeen: '2026-11-25',
    expiresAt: '2027-11-25T00:00:00Z',
  }));
  const b = { v: 1 as const, alliance: 'bench', origin: 'member-a', kid: 'k1', epoch: 1, seq: 1, prev: null, createdAt: '2026-11-25T00:00:00Z', items };
  const jws = await batch.signBatch(b, { privateKey, kid: 'k1' });
  const N = values.quick ? 5 : 20;
  let t = performance.now();
  for (let i = 0; i < N; i++) await batch.signBatch(b, { privateKey, kid: 'k1' });
  const signRate = (N * items.length) / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < N; i++) await batch.verifyBatch(jws, { alliance: 'bench', resolveKey: () => publicKey });
  const verifyRate = (N * items.length) / ((performance.now() - t) / 1000);
  const itemJson = items.map((x) => JSON.stringify(x));
  const hmacRate = rate((i) => {
    createHmac('sha256', KEY).update(itemJson[i % itemJson.length]!).digest();
  });
  const hmac = { name: 'raw HMAC-SHA256 per item', value: hmacRate, unit: 'items/s' };
  figures.push(figure('batch sign (1,000 items, Ed25519)', signRate, 'items/s', { baseline: hmac, note: 'one core' }));
  figures.push(figure('batch verify (1,000 items, Ed25519)', verifyRate, 'items/s', { baseline: hmac, note: 'one core' }));
}

emit(figures, { json: values.json, quick: values.quick, title: 'derivation, one core' });
process.exitCode = figures.some((f) => f.met === false) ? 1 : 0;
