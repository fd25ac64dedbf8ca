/**
 * What the demo hands its user once it is ready: per member its GraphQL URL and a token per role,
 * and example lookups (curl and `alliance lookup`) that find a recurring seller at the other members
 * although each member spelled it differently. The same goes to stdout (text) and to demo.json.
 */
import type { MemberKind } from '../membership/types.ts';
import type { IdentifierType } from '../identifiers/vocabulary.ts';

export interface DemoMemberSummary {
  id: string;
  name: string;
  kind: MemberKind;
  graphqlUrl: string;
  /** Records the member's node holds. */
  records: number;
  /** Match alerts raised at the member (every state). */
  matches: number;
  tokens: { analyst: string; trust: string; admin: string };
}

export interface DemoExample {
  /** Where to run it. */
  member: string;
  type: IdentifierType;
  value: string;
  /** Member ids expected among the lookup's matches. */
  expect: string[];
  curl: string;
  cli: string;
}

export interface DemoSummary {
  alliance: { id: string; name: string; epoch: number };
  dir: string;
  readyInSeconds: number;
  /** True when this run seeded the records (the first run); false when it reused a seeded demo. */
  seeded: boolean;
  tokenTtl: string;
  members: DemoMemberSummary[];
  examples: DemoExample[];
  /** A curl per member listing its match alerts (analyst token). */
  matches: Array<{ member: string; curl: string }>;
}

export const LOOKUP_QUERY =
  'query Lookup($ids: [IdentifierInput!]!) { lookup(identifiers: $ids) { results { input canonical matches { member { id name kind } status confidence categories firstSeen } ownRecords { name status } } } }';

/** With each match's `id`: what acknowledgeMatch takes to decide it. */
export const MATCHES_QUERY =
  '{ matches(first: 10) { totalCount edges { node { id state types confidence member { id name } record { name status } } } } }';

/** `text` as one shell word (POSIX single quotes). */
export function shellQuote(text: string): string {
  if (/^[\w@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function curlFor(url: string, token: string, body: Record<string, unknown>): string {
  return `curl -s ${shellQuote(url)} -H ${shellQuote(`authorization: Bearer ${token}`)} -H 'content-type: application/json' -d ${shellQuote(JSON.stringify(body))}`;
}

export function lookupCurl(url: string, token: string, type: IdentifierType, value: string): string {
  return curlFor(url, token, { query: LOOKUP_QUERY, variables: { ids: [{ type: type.toUpperCase(), value }] } });
}

/**
 * The token goes in the environment, not on the command line, where `npm run` would echo it back in
 * its `> node ...` line (and the process list would show it).
 */
export function lookupCli(url: string, token: string, type: IdentifierType, value: string): string {
  return `ALLIANCE_TOKEN=${shellQuote(token)} npx alliance lookup --url ${shellQuote(url)} --type ${type} ${shellQuote(value)}`;
}

export function matchesCurl(url: string, token: string): string {
  return curlFor(url, token, { query: MATCHES_QUERY });
}

/** The file scripts read: demo.json. */
export function summaryJson(s: DemoSummary): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

/** The text printed once the demo is ready. */
export function formatSummary(s: DemoSummary, summaryFile: string): string {
  const lines: string[] = [];
  const n = (x: number) => x.toLocaleString('en-US');
  const records = s.members.map((m) => m.records);
  const same = records.every((r) => r === records[0]);
  lines.push(
    `alliance demo ready in ${s.readyInSeconds.toFixed(1)} s: alliance ${s.alliance.id} (${s.alliance.name}), epoch ${s.alliance.epoch}, ` +
      `${s.members.length} members, ${same ? `${n(records[0] ?? 0)} records each` : `${records.map(n).join(' / ')} records`}` +
      `${s.seeded ? '' : ' (reused from an earlier run)'}, exchange converged`,
  );
  lines.push('');
  for (const m of s.members) {
    lines.push(`${m.id}  ${m.name}  (${m.kind})`);
    lines.push(`  GraphQL  ${m.graphqlUrl}`);
    lines.push(`  records  ${n(m.records)}, match alerts raised: ${n(m.matches)}`);
    lines.push(`  tokens (valid ${s.tokenTtl}):`);
    lines.push(`    analyst  ${m.tokens.analyst}`);
    lines.push(`    trust    ${m.tokens.trust}`);
    lines.push(`    admin    ${m.tokens.admin}`);
    lines.push('');
  }
  lines.push('Example lookups (trust token): a seller several members know, each of them having spelled it its own way.');
  s.examples.forEach((e, i) => {
    lines.push('');
    lines.push(`${i + 1}. ${e.type} ${JSON.stringify(e.value)} at ${e.member}: expect matches from ${e.expect.join(' and ')}`);
    lines.push(`   ${e.curl}`);
    lines.push(`   ${e.cli}`);
  });
  lines.push('');
  lines.push('Match alerts (analyst token), e.g. at the first member:');
  if (s.matches[0] !== undefined) {
    lines.push(`   ${s.matches[0].curl}`);
    lines.push('   then decide one by its id (analyst token): mutation { acknowledgeMatch(id: "<id>", verdict: CONFIRMED, note: "...") { id state } }');
  }
  lines.push('');
  lines.push(`All of this as JSON: ${summaryFile}. Data: ${s.dir}. Stop with Ctrl-C; run again to reuse the same alliance (--fresh starts over).`);
  return `${lines.join('\n')}\n`;
}
