import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the exchange (docs/architecture.md, "The exchange"): peers, batches received and published, sync
 * requests and stream errors. They register on the API's registry so that one `/metrics` scrape shows
 * everything. Label values are fixed vocabularies (outcomes, reasons, error codes, protocol names) or
 * member ids, never identifiers, digests, refs or peer addresses: every value is checked against its
 * vocabulary or the id pattern before it becomes a label, and anything else is counted as `other`.
 */

export type BatchResult = 'stored' | 'duplicate' | 'gap' | 'future_epoch' | 'rejected';
export type SyncDirection = 'in' | 'out';
export type SyncKind = 'heads' | 'batches' | 'roster' | 'unknown';
export type StreamProtocol = 'heads' | 'sync';

const BATCH_RESULTS: readonly BatchResult[] = ['stored', 'duplicate', 'gap', 'future_epoch', 'rejected'];
const SYNC_KINDS: readonly SyncKind[] = ['heads', 'batches', 'roster', 'unknown'];
/** Reasons and codes are short snake-case or upper-case words (BatchError reasons, WireError codes). */
const WORD = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;
/** The wire format's id rule: a member id is a label value like any other name. */
const MEMBER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function word(value: string): string {
  return WORD.test(value) ? value : 'other';
}

export interface PeerCounts {
  /** Roster members this node may connect to (ACTIVE, other than itself). */
  known: number;
  /** Of those, how many have an open connection. */
  connected: number;
}

export interface ExchangeMetricsOptions {
  /** Read at every scrape for `alliance_p2p_peers`; without it the gauge is set by `setPeers`. */
  peers?: (() => PeerCounts) | undefined;
}

export class ExchangeMetrics {
  readonly peers: Gauge<'state'>;
  readonly batchesReceived: Counter<'result'>;
  readonly batchesRejected: Counter<'reason'>;
  readonly batchesPublished: Counter;
  readonly indicatorsReceived: Counter<'op'>;
  readonly syncRequests: Counter<'direction' | 'kind' | 'result'>;
  readonly streamErrors: Counter<'protocol' | 'code'>;
  readonly syncLag: Gauge<'origin'>;
  readonly syncDuration: Histogram<'direction' | 'kind'>;
  readonly gossipReconnects: Counter;
  readonly penalties: Counter<'reason'>;

  constructor(registry: Registry, opts: ExchangeMetricsOptions = {}) {
    const registers = [registry];
    const count = opts.peers;
    this.peers = new Gauge({
      name: 'alliance_p2p_peers',
      help: 'Roster peers this node may connect to (known) and those with an open connection (connected).',
      labelNames: ['state'] as const,
      registers,
      ...(count === undefined
        ? {}
        : {
            collect(this: Gauge<'state'>) {
              const c = count();
              this.set({ state: 'known' }, c.known);
              this.set({ state: 'connected' }, c.connected);
            },
          }),
    });
    this.batchesReceived = new Counter({
      name: 'alliance_batches_received_total',
      help: 'Batches received from peers (gossip and sync), by ingest outcome.',
      labelNames: ['result'] as const,
      registers,
    });
    this.batchesRejected = new Counter({
      name: 'alliance_batches_rejected_total',
      help: 'Batches refused, by reason (the BatchError reason or the roster check that failed).',
      labelNames: ['reason'] as const,
      registers,
    });
    this.batchesPublished = new Counter({
      name: 'alliance_batches_published_total',
      help: 'Batches this member signed and published.',
      registers,
    });
    this.indicatorsReceived = new Counter({
      name: 'alliance_indicators_received_total',
      help: 'Indicators in batches stored from peers, by op (add, retract).',
      labelNames: ['op'] as const,
      registers,
    });
    this.syncRequests = new Counter({
      name: 'alliance_sync_requests_total',
      help: 'Heads and sync requests served (in) and made (out), by kind and result (ok or the wire error code).',
      labelNames: ['direction', 'kind', 'result'] as const,
      registers,
    });
    this.streamErrors = new Counter({
      name: 'alliance_stream_errors_total',
      help: 'Request/response streams that failed, by protocol and wire error code.',
      labelNames: ['protocol', 'code'] as const,
      registers,
    });
    this.syncLag = new Gauge({
      name: 'alliance_sync_lag_batches',
      help: 'Batches of an origin that a peer has announced and this node does not hold yet, by origin member id.',
      labelNames: ['origin'] as const,
      registers,
    });
    this.syncDuration = new Histogram({
      name: 'alliance_sync_duration_seconds',
      help: 'Duration of heads and sync requests, served (in) and made (out).',
      labelNames: ['direction', 'kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.gossipReconnects = new Counter({
      name: 'alliance_p2p_gossip_reconnects_total',
      help: 'Connected peers hung up on (and redialed) because gossip had lost track of them.',
      registers,
    });
    this.penalties = new Counter({
      name: 'alliance_p2p_penalties_total',
      help: 'Misbehaviours counted against peers\' scores, by reason (invalid_message, unknown_origin, own_head, unserved_head).',
      labelNames: ['reason'] as const,
      registers,
    });
  }

  setPeers(c: PeerCounts): void {
    this.peers.set({ state: 'known' }, c.known);
    this.peers.set({ state: 'connected' }, c.connected);
  }

  /** One received batch; `reason` is counted too when the result is `rejected`. */
  batchReceived(result: BatchResult, reason?: string): void {
    const r = BATCH_RESULTS.includes(result) ? result : 'rejected';
    this.batchesReceived.inc({ result: r });
    if (r === 'rejected') this.batchesRejected.inc({ reason: word(reason ?? 'unknown') });
  }

  batchPublished(): void {
    this.batchesPublished.inc();
  }

  indicatorsStored(op: 'add' | 'retract', n: number): void {
    if (n > 0) this.indicatorsReceived.inc({ op: op === 'add' ? 'add' : 'retract' }, n);
  }

  /** One finished request; `result` is `ok` or a WireError code. */
  syncRequest(direction: SyncDirection, kind: SyncKind, result: string, seconds?: number): void {
    const k = SYNC_KINDS.includes(kind) ? kind : 'unknown';
    this.syncRequests.inc({ direction, kind: k, result: word(result) });
    if (seconds !== undefined && Number.isFinite(seconds)) this.syncDuration.observe({ direction, kind: k }, seconds);
  }

  gossipReconnect(): void {
    this.gossipReconnects.inc();
  }

  /** `n` misbehaviours of one reason counted against a peer (PeerPenalties). */
  penalty(reason: string, n = 1): void {
    if (n > 0 && Number.isFinite(n)) this.penalties.inc({ reason: word(reason) }, n);
  }

  streamError(protocol: StreamProtocol, code: string): void {
    this.streamErrors.inc({ protocol, code: word(code) });
  }

  /** Sets the lag of one origin; an origin that is not a member id is not recorded at all. */
  setLag(origin: string, batches: number): void {
    if (!MEMBER_ID.test(origin) || !Number.isFinite(batches)) return;
    this.syncLag.set({ origin }, Math.max(0, batches));
  }

  /** Drops the lag series of an origin (e.g. a revoked member), so it does not linger at its last value. */
  clearLag(origin: string): void {
    if (MEMBER_ID.test(origin)) this.syncLag.remove({ origin });
  }
}
