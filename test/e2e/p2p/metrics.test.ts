import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ExchangeMetrics } from '../../../node/p2p/metrics.ts';

async function values(registry: Registry, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

describe('ExchangeMetrics', () => {
  it('registers every exchange metric on the given registry', async () => {
    const registry = new Registry();
    new ExchangeMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual([
      'alliance_batches_published_total',
      'alliance_batches_received_total',
      'alliance_batches_rejected_total',
      'alliance_indicators_received_total',
      'alliance_p2p_gossip_reconnects_total',
      'alliance_p2p_peers',
      'alliance_p2p_penalties_total',
      'alliance_stream_errors_total',
      'alliance_sync_duration_seconds',
      'alliance_sync_lag_batches',
      'alliance_sync_requests_total',
    ]);
    // A second set on the same registry is a programming error prom-client reports.
    expect(() => new ExchangeMetrics(registry)).toThrow();
  });

  it('counts connections redialed because gossip lost track of a peer', async () => {
    const registry = new Registry();
    const m = new ExchangeMetrics(registry);
    expect(await values(registry, 'alliance_p2p_gossip_reconnects_total')).toEqual([{ labels: {}, value: 0 }]);
    m.gossipReconnect();
    m.gossipReconnect();
    expect(await values(registry, 'alliance_p2p_gossip_reconnects_total')).toEqual([{ labels: {}, value: 2 }]);
  });

  it('counts penalties by reason, keeping reasons to words', async () => {
    const registry = new Registry();
    const m = new ExchangeMetrics(registry);
    m.penalty('unknown_origin', 3);
    m.penalty('own_head');
    m.penalty('unknown_origin');
    m.penalty('bad reason <script>');
    m.penalty('own_head', 0);
    expect(await values(registry, 'alliance_p2p_penalties_total')).toEqual([
      { labels: { reason: 'unknown_origin' }, value: 4 },
      { labels: { reason: 'own_head' }, value: 1 },
      { labels: { reason: 'other' }, value: 1 },
    ]);
  });

  it('reads the peer counts at scrape time', async () => {
    const registry = new Registry();
    let counts = { known: 3, connected: 1 };
    new ExchangeMetrics(registry, { peers: () => counts });
    expect(await values(registry, 'alliance_p2p_peers')).toEqual(
      expect.arrayContaining([
        { labels: { state: 'known' }, value: 3 },
        { labels: { state: 'connected' }, value: 1 },
      ]),
    );
    counts = { known: 3, connected: 3 };
    expect((await values(registry, 'alliance_p2p_peers')).find((v) => v.labels.state === 'connected')?.value).toBe(3);
  });

  it('keeps label values to their vocabularies', async () => {
    const registry = new Registry();
    const m = new ExchangeMetrics(registry);
    m.batchReceived('stored');
    m.batchReceived('rejected', 'bad_signature');
    m.batchReceived('rejected', 'seller@example.com');
    m.batchReceived('bogus' as never);
    m.streamError('sync', 'TIMEOUT');
    m.streamError('sync', '+8613800138000');
    m.syncRequest('in', 'batches', 'ok', 0.01);
    m.syncRequest('out', 'weird' as never, 'not a code!', 0.02);
    m.setLag('member-a', 4);
    m.setLag('not an id/with slash', 9);
    m.setLag('member-b', -3);
    m.indicatorsStored('add', 5);
    m.indicatorsStored('retract', 0);

    expect(await values(registry, 'alliance_batches_received_total')).toEqual(
      expect.arrayContaining([
        { labels: { result: 'stored' }, value: 1 },
        { labels: { result: 'rejected' }, value: 3 },
      ]),
    );
    expect(await values(registry, 'alliance_batches_rejected_total')).toEqual(
      expect.arrayContaining([
        { labels: { reason: 'bad_signature' }, value: 1 },
        { labels: { reason: 'other' }, value: 1 },
        { labels: { reason: 'unknown' }, value: 1 },
      ]),
    );
    expect((await values(registry, 'alliance_stream_errors_total')).map((v) => v.labels.code).sort()).toEqual(['TIMEOUT', 'other']);
    expect(await values(registry, 'alliance_sync_requests_total')).toEqual(
      expect.arrayContaining([
        { labels: { direction: 'in', kind: 'batches', result: 'ok' }, value: 1 },
        { labels: { direction: 'out', kind: 'unknown', result: 'other' }, value: 1 },
      ]),
    );
    expect(await values(registry, 'alliance_sync_lag_batches')).toEqual([
      { labels: { origin: 'member-a' }, value: 4 },
      { labels: { origin: 'member-b' }, value: 0 },
    ]);
    expect(await values(registry, 'alliance_indicators_received_total')).toEqual([{ labels: { op: 'add' }, value: 5 }]);
    const text = await registry.metrics();
    expect(text).not.toContain('example.com');
    expect(text).not.toContain('8613800138000');
    m.clearLag('member-a');
    expect((await values(registry, 'alliance_sync_lag_batches')).map((v) => v.labels.origin)).toEqual(['member-b']);
  });
});
