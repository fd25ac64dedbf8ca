import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, runCli, startNodeProcess, tempDir, type CliResult, type StartedNode } from '../../helpers/cli.ts';
import { createPgDatabase, STORAGES } from '../../helpers/storage.ts';
import { loadEpochKeys } from '../../../node/membership/epoch-keys.ts';
import type { AdminKey } from '../../../node/membership/types.ts';

const P2P = ['--p2p', '/ip4/127.0.0.1/tcp/0'];
const PROPOSAL = 'id seq type status signers signaturesNeeded summary reason createdBy';
const PROPOSE = `mutation P($type: RosterEntryType!, $body: String!) { proposeRosterChange(type: $type, body: $body) { ${PROPOSAL} } }`;
const APPROVE = `mutation A($id: ID!) { approveRosterProposal(id: $id) { ${PROPOSAL} } }`;
const ALLIANCE = '{ alliance { id epoch quorum members { id status } rosterHead { seq } } }';

interface Proposal {
  id: string;
  seq: number;
  type: string;
  status: string;
  signers: string[];
  signaturesNeeded: number;
  summary: string;
  createdBy: string;
}
type Gql<T> = Awaited<ReturnType<typeof graphql<T>>>;

async function ok(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  expect(r.code, `alliance ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

/**
 * The online admin workflow through real node processes: `alliance start` with ALLIANCE_ADMIN_KEY
 * signs what its admin proposes and approves over GraphQL. The alliance has three admins and quorum
 * 2; each admin runs the member's node with their own key in turn (restarts over the same storage),
 * so the proposal collects its quorum from two nodes' signatures and is applied. The steps build on
 * each other (run the file, not one test with -t).
 */
describe.each(STORAGES)('alliance start with ALLIANCE_ADMIN_KEY (%s)', (storage) => {
  let root: { dir: string; remove: () => void };
  let dropDb: (() => Promise<void>) | undefined;
  let storageFlags: string[] = [];
  let node: StartedNode | undefined;
  let token = '';
  let memberAdd: Proposal;
  const W = (name: string) => path.join(root.dir, name);
  const DATA = () => W('acme');
  const kid = (a: number) => (JSON.parse(fs.readFileSync(W(`admin${a}.pub.json`), 'utf8')) as AdminKey).kid;

  beforeAll(async () => {
    root = tempDir('alliance-admin-key-');
    if (storage === 'pg') {
      const pg = await createPgDatabase();
      dropDb = pg.drop;
      storageFlags = ['--database-url', pg.url];
    }
    await Promise.all([1, 2, 3, 4].map(async (a) => fs.writeFileSync(W(`admin${a}.pub.json`), (await ok(['admin', 'keygen', '--out', W(`admin${a}.key`), '--name', `Admin ${a}`])).stdout)));
    await ok(['admin', 'genesis', '--alliance', 'online-alliance', '--admin', W('admin1.pub.json'), '--admin', W('admin2.pub.json'), '--admin', W('admin3.pub.json'), '--quorum', '2', '--out', W('genesis.json')]);
    await ok(['admin', 'sign', W('genesis.json'), '--key', W('admin1.key')]);
    await ok(['admin', 'sign', W('genesis.json'), '--key', W('admin3.key')]);
    await ok(['init', '--member-id', 'acme', '--name', 'Acme Marketplace', '--kind', 'PLATFORM', '--data-dir', DATA()]);
  }, 60_000);
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await dropDb?.();
    root.remove();
  });

  /** (Re)starts the member's node signing with admin key `a`. */
  async function startAs(a: number): Promise<StartedNode> {
    await node?.stop();
    node = await startNodeProcess(['--data-dir', DATA(), ...storageFlags, ...P2P, '--genesis', W('genesis.json')], { env: { ALLIANCE_ADMIN_KEY: W(`admin${a}.key`) } });
    if (token === '') token = node.bootstrapToken ?? '';
    return node;
  }
  const gql = <T>(query: string, variables?: Record<string, unknown>): Promise<Gql<T>> => graphql<T>(node!.url, token, query, variables);

  it('proposes member.add signed by the node\'s admin key: OPEN, one signature more needed', async () => {
    await startAs(1);
    expect(token).not.toBe('');
    const request = (await ok(['init', '--print', '--data-dir', DATA()])).stdout;
    const r = await gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'MEMBER_ADD', body: request });
    expect(r.body.errors).toBeUndefined();
    memberAdd = r.body.data!.proposeRosterChange;
    expect(memberAdd).toMatchObject({ seq: 1, type: 'MEMBER_ADD', status: 'OPEN', signers: [kid(1)], signaturesNeeded: 1, createdBy: 'bootstrap-admin' });
    expect(memberAdd.summary).toContain('member acme');

    // The same node cannot approve twice with the same key.
    const again = await gql(APPROVE, { id: memberAdd.id });
    expect(again.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'duplicate_signature' });
    const a = await gql<{ alliance: { members: unknown[]; rosterHead: { seq: number } } }>(ALLIANCE);
    expect(a.body.data!.alliance).toMatchObject({ members: [], rosterHead: { seq: 0 } });
  }, 60_000);

  it('a node whose key is not an admin cannot approve (FORBIDDEN, NOT_AN_ADMIN) and proposes unsigned', async () => {
    await startAs(4);
    const r = await gql(APPROVE, { id: memberAdd.id });
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_AN_ADMIN' });
    expect(r.body.errors?.[0]?.message).toContain(kid(4));
    const q = await gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'QUORUM_SET', body: JSON.stringify({ quorum: 3 }) });
    expect(q.body.data!.proposeRosterChange).toMatchObject({ seq: 1, status: 'OPEN', signers: [], signaturesNeeded: 2 });
  }, 60_000);

  it('another admin\'s node approves: the quorum is reached and the entry applied; the rival proposal goes STALE', async () => {
    await startAs(2);
    const r = await gql<{ approveRosterProposal: Proposal }>(APPROVE, { id: memberAdd.id });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data!.approveRosterProposal).toMatchObject({ id: memberAdd.id, status: 'SUBMITTED', signers: [kid(1), kid(2)], signaturesNeeded: 0 });
    const a = await gql<{ alliance: { members: Array<{ id: string; status: string }>; rosterHead: { seq: number } } }>(ALLIANCE);
    expect(a.body.data!.alliance).toMatchObject({ members: [{ id: 'acme', status: 'ACTIVE' }], rosterHead: { seq: 1 } });
    const list = await gql<{ rosterProposals: Proposal[] }>(`{ rosterProposals { ${PROPOSAL} } }`);
    expect(list.body.data!.rosterProposals.map((p) => [p.type, p.status])).toEqual([['QUORUM_SET', 'STALE'], ['MEMBER_ADD', 'SUBMITTED']]);
    // Approving an applied proposal is CONFLICT.
    const done = await gql(APPROVE, { id: memberAdd.id });
    expect(done.body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'SUBMITTED' });
  }, 60_000);

  it('an epoch.new proposed on one admin\'s node and approved on another\'s installs this member\'s key', async () => {
    const p = await gql<{ proposeRosterChange: Proposal }>(PROPOSE, { type: 'EPOCH_NEW', body: JSON.stringify({ reason: 'first key' }) });
    expect(p.body.data!.proposeRosterChange).toMatchObject({ seq: 2, type: 'EPOCH_NEW', status: 'OPEN', signers: [kid(2)], signaturesNeeded: 1 });
    expect(loadEpochKeys(DATA())).toEqual([]);
    await startAs(3);
    const r = await gql<{ approveRosterProposal: Proposal }>(APPROVE, { id: p.body.data!.proposeRosterChange.id });
    expect(r.body.data!.approveRosterProposal).toMatchObject({ status: 'SUBMITTED', signers: [kid(2), kid(3)] });
    const a = await gql<{ alliance: { epoch: number } }>(ALLIANCE);
    expect(a.body.data!.alliance.epoch).toBe(1);
    expect(loadEpochKeys(DATA()).map((k) => [k.alliance, k.epoch])).toEqual([['online-alliance', 1]]);
    expect(await node!.stop()).toEqual({ code: 0, signal: null });
    node = undefined;
  }, 60_000);

  it('an admin key file that is missing or not a private key stops the start (exit 1)', async () => {
    const start = (file: string) => runCli(['start', '--data-dir', DATA(), ...storageFlags, ...P2P, '--http', '127.0.0.1:0'], { env: { ALLIANCE_ADMIN_KEY: file } });
    const missing = await start(W('nope.key'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no admin key file .*nope\.key \[ADMIN_KEY_MISSING\]/);
    const pub = await start(W('admin1.pub.json'));
    expect(pub.code).toBe(1);
    expect(pub.stderr).toMatch(/is not an admin key file: .*\[ADMIN_KEY_INVALID\]/);
    expect(`${missing.stdout}${pub.stdout}`).not.toContain('ready');
  }, 30_000);
});
