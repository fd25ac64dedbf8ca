/**
 * Gossiping what this node sends on its own account: its batches (Exchange.publishBatch) and the
 * roster entries it relays (roster-sync.ts). Owns no state; the exchange's signal tells it to stop.
 */
import type { Host } from './host.ts';

const encoder = new TextEncoder();

/** Publishes `text` on `topic`; nothing once `signal` is aborted (the exchange stopped). */
export async function publish(host: Host, topic: string, text: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  try {
    await host.services.pubsub.publish(topic, encoder.encode(text));
  } catch (err) {
    // A message gossipsub has already seen (the same bytes) is not an error here.
    if (/duplicate/i.test((err as Error).message)) return;
    throw err;
  }
}
