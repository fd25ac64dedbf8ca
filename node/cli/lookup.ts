import type { Command } from './command.ts';
import { EXIT, UsageError } from './errors.ts';
import { IDENTIFIER_TYPES } from '../identifiers/vocabulary.ts';
import { DEFAULTS } from '../config.ts';
import { askNode, NoAnswer, targetOf, type NodeTarget } from './node-client.ts';
import { remainingLines } from './stdin.ts';

const LOOKUP_QUERY = `query Lookup($ids: [IdentifierInput!]!, $region: String) {
  lookup(identifiers: $ids, region: $region) {
    results {
      index type input canonical error { reason message }
      matches { member { id name kind } ref categories status confidence firstSeen lastSeen expiresAt epoch }
      ownRecords { id name kind status categories confidence ref updatedAt }
    }
    subjects { member { id name kind } own ref recordId identifiers count categories status confidence lastSeen }
  }
}`;

/** Values per request: the node's limit per lookup call. */
const CHUNK = 1000;

interface Match {
  member: { id: string; name: string; kind: string };
  ref: string;
  categories: string[];
  status: string;
  confidence: number;
  firstSeen: string;
  lastSeen: string;
}
interface Result {
  index: number;
  type: string;
  input: string;
  canonical: string | null;
  error: { reason: string; message: string } | null;
  matches: Match[];
  ownRecords: Array<{ id: string; name: string; status: string; categories: string[]; confidence: number }>;
}
interface Subject {
  member: { id: string; name: string; kind: string } | null;
  own: boolean;
  ref: string;
  recordId: string | null;
  identifiers: number[];
  count: number;
  status: string;
}

export const lookupCommand: Command = {
  summary: 'ask a running node who in the alliance knows identifiers',
  usage: `Usage: alliance lookup --type TYPE [--region CC] [--json] [--url URL | --data-dir DIR] VALUE...

Asks a running node (GraphQL lookup) which other members hold each VALUE, and which of this member's
own records do. With no VALUE, reads one value per line from standard input (sent 1,000 per request).
Every lookup is audited by the node and counts against the token subject's quota. Each value gets
its block in order, numbered (#1, #2, ...); an invalid value's refusal is in its place, its line
starting with "#N !".

Options:
  --type TYPE       ${IDENTIFIER_TYPES.join(' ')}
  --region CC       region for national phone numbers and ids (default: the node's ALLIANCE_DEFAULT_REGION)
  --json            one JSON object per line for each value: {"type","input","canonical","matches","ownRecords"}
                    or {"type","input","error","reason"}; then {"subjects":[...]} per request
  --url URL         the node's GraphQL URL (as alliance start prints it), with a token of role trust or
                    admin from env ALLIANCE_TOKEN (ALLIANCE_TOKEN=$(alliance token --role trust) ...)
  --token -         read that token from the first line of standard input instead; the values, if
                    not given as arguments, follow on the next lines. (A token written on the command
                    line itself is accepted, but shows in the process list, shell history and npm's
                    echo of the command: prefer the two ways above.)
  --data-dir DIR    without --url: the node running on this data directory (env ALLIANCE_DATA_DIR,
                    default ${DEFAULTS.dataDir}), found where it recorded its address (DIR/listen.json), with a
                    5-minute trust token signed by the node's API key
  --http HOST:PORT  that node's HTTP address, if not the one it recorded (env ALLIANCE_HTTP)
  --sub NAME        subject of that token, as the audit log shows it (default cli-<user name>)

Exit status: 0 every value answered, found or not; 1 a value is invalid (the others are still
answered); 2 wrong usage; 3 no answer from the node (not running, unreachable, token refused, quota
spent, or an error of the node).
`,
  options: {
    type: { type: 'string' },
    region: { type: 'string' },
    json: { type: 'boolean' },
    url: { type: 'string' },
    token: { type: 'string' },
    'data-dir': { type: 'string' },
    http: { type: 'string' },
    sub: { type: 'string' },
  },
  allowPositionals: true,
  async run(values, positionals) {
    const type = (values.type as string | undefined)?.toLowerCase();
    if (!type) throw new UsageError('--type is required');
    if (!(IDENTIFIER_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${IDENTIFIER_TYPES.join(', ')} (got "${type}")`);
    const region = values.region as string | undefined;
    if (region !== undefined && !/^[A-Za-z]{2}$/.test(region)) throw new UsageError(`--region must be a two-letter country code such as CN (got "${region}")`);
    let target: NodeTarget;
    try {
      target = await targetOf(values, 'trust');
    } catch (err) {
      if (err instanceof NoAnswer) {
        process.stderr.write(`alliance lookup: ${err.message}\n`);
        return EXIT.unavailable;
      }
      throw err;
    }
    let inputs = positionals;
    if (inputs.length === 0) {
      if (process.stdin.isTTY) throw new UsageError('give at least one VALUE, or values on standard input');
      inputs = [];
      for await (const line of remainingLines()) if (line.trim() !== '') inputs.push(line);
      if (inputs.length === 0) throw new UsageError('no values given');
    }

    const enumType = type.toUpperCase();
    let invalid = 0;
    try {
      for (let start = 0; start < inputs.length; start += CHUNK) {
        const chunk = inputs.slice(start, start + CHUNK);
        const { results, subjects } = await ask(target, chunk.map((value) => ({ type: enumType, value })), region);
        for (const r of results) if (r.error) invalid++;
        if (values.json) printJson(type, results, subjects, start);
        else printText(type, results, subjects, start);
      }
    } catch (err) {
      if (err instanceof NoAnswer) {
        process.stderr.write(`alliance lookup: ${err.message}\n`);
        return EXIT.unavailable;
      }
      throw err;
    }
    if (invalid > 0 && !values.json) process.stderr.write(`alliance lookup: ${invalid} of ${inputs.length} value${inputs.length === 1 ? '' : 's'} invalid, marked "!" in the output\n`);
    return invalid > 0 ? EXIT.failure : EXIT.ok;
  },
};

function ask(target: NodeTarget, ids: Array<{ type: string; value: string }>, region: string | undefined): Promise<{ results: Result[]; subjects: Subject[] }> {
  return askNode(target, LOOKUP_QUERY, { ids, ...(region === undefined ? {} : { region }) }, 'lookup');
}

function printJson(type: string, results: Result[], subjects: Subject[], offset: number): void {
  const out: string[] = [];
  for (const r of results) {
    out.push(
      JSON.stringify(
        r.error
          ? { type, input: r.input, error: r.error.message, reason: r.error.reason }
          : { type, input: r.input, canonical: r.canonical, matches: r.matches, ownRecords: r.ownRecords },
      ),
    );
  }
  out.push(JSON.stringify({ subjects: subjects.map((s) => ({ ...s, identifiers: s.identifiers.map((i) => i + offset) })) }));
  process.stdout.write(`${out.join('\n')}\n`);
}

function printText(type: string, results: Result[], subjects: Subject[], offset: number): void {
  const out: string[] = [];
  for (const r of results) {
    const n = `#${r.index + offset + 1}`;
    if (r.error) {
      // In its place, so that the blocks stay in the order of the values.
      out.push(`${n} ! ${JSON.stringify(r.input)} is not a valid ${type}: ${r.error.message} [${r.error.reason}]`);
      continue;
    }
    out.push(`${n} ${type} ${r.canonical}`);
    for (const m of r.matches) {
      out.push(`  ${m.member.id} (${m.member.name}, ${m.member.kind}): ${m.status}, confidence ${m.confidence}, ${m.categories.join(' ') || 'no category'}; ref ${m.ref}; first seen ${m.firstSeen}, last seen ${m.lastSeen}`);
    }
    for (const o of r.ownRecords) out.push(`  own record ${o.id} ${JSON.stringify(o.name)}: ${o.status}, confidence ${o.confidence}, ${o.categories.join(' ') || 'no category'}`);
    if (r.matches.length === 0 && r.ownRecords.length === 0) out.push('  no match');
  }
  const shared = subjects.filter((s) => s.count > 1);
  if (shared.length > 0) {
    out.push('Actors that several of these identifiers point at:');
    for (const s of shared) {
      const who = s.own ? `own record ${s.recordId}` : `${s.member?.id} ref ${s.ref}`;
      out.push(`  ${who}: ${s.count} identifiers (${s.identifiers.map((i) => `#${i + offset + 1}`).join(', ')}), ${s.status}`);
    }
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
}
