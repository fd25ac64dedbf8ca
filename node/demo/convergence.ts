/**
 * When the demo's exchange has converged: every node has published everything its records call for
 * (empty outbox, no unsent batch), and holds every other member's batch chain up to that member's own
 * head (same seq and hash), so it holds the other members' live indicators as they do.
 */
import type { RunningNode } from '../node.ts';
import { RecordOutbox } from '../records/outbox.ts';

export interface MemberNode {
  id: string;
  node: RunningNode;
}

/** What keeps the nodes from having converged; empty once they have. */
export async function divergence(nodes: readonly MemberNode[]): Promise<string[]> {
  const problems: string[] = [];
  for (const n of nodes) {
    const refs = await new RecordOutbox(n.node.db).size();
    const unsent = await n.node.batches.unpublishedCount(n.id);
    if (refs > 0 || unsent > 0) problems.push(`${n.id} has ${refs} records and ${unsent} batches still to publish`);
  }
  for (const origin of nodes) {
    const head = await origin.node.batches.head(origin.id);
    for (const n of nodes) {
      if (n === origin) continue;
      const h = await n.node.batches.head(origin.id);
      if (h?.seq !== head?.seq || h?.hash !== head?.hash) problems.push(`${n.id} holds ${origin.id}'s batches up to seq ${h?.seq ?? 0} of ${head?.seq ?? 0}`);
    }
  }
  return problems;
}

/** Polls until converged (returns []); returns the problems left if `timeoutMs` passes or `signal` aborts first. */
export async function waitForConvergence(nodes: readonly MemberNode[], opts: { timeoutMs: number; signal?: AbortSignal | undefined; intervalMs?: number }): Promise<string[]> {
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    const problems = await divergence(nodes);
    if (problems.length === 0 || Date.now() > until || opts.signal?.aborted) return problems;
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 200));
  }
}
