/**
 * What this node answers to its peers' heads and sync requests (protocols.ts, ExchangeSource): its
 * roster head and per-origin heads, batches of any origin it holds (they are signed end to end, so
 * any node may serve them), and roster entries. Reads storage only; owns no state.
 */
import type { BatchStore } from '../indicators/batch-store.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import type { ExchangeSource } from './protocols.ts';

export function exchangeSource(store: Pick<BatchStore, 'heads' | 'head' | 'range'>, roster: Pick<RosterStore, 'state' | 'entries'>, responseBytes: number): ExchangeSource {
  return {
    async heads() {
      const state = roster.state;
      const heads = await store.heads();
      return {
        roster: state === null ? null : { seq: state.seq, head: state.head },
        origins: [...heads].map(([origin, h]) => ({ origin, seq: h.seq, hash: h.hash })),
      };
    },
    async batches(origin, from, limit) {
      // As many as the response may carry: at 1000 indicators a batch is about 300 KB, so the
      // range's own 4 MiB default would hold a catching-up node to a dozen batches per round trip.
      const items = await store.range(origin, from, { limit, maxBytes: responseBytes });
      const head = await store.head(origin);
      return { items, more: head !== undefined && head.seq >= from + items.length };
    },
    rosterEntries: (from, limit) => roster.entries(from, limit),
  };
}
