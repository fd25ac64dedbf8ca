/**
 * The exchange (docs/architecture.md, "The exchange"): joins the P2P host to the node's storage.
 * It owns the host, the peer directory (peers.ts), the metrics and the peers' penalties, and
 * composes the parts that do the work, each in its own file with the state it owns:
 *
 * - gossip.ts: topic validators that store batches and roster entries before gossipsub forwards them;
 * - heads.ts: heads exchanged with every peer on connect and every `headsIntervalMs`;
 * - claims.ts: a peer's heads are claims, judged before they are believed;
 * - origin-sync.ts: what a peer holds further of an origin is fetched from it, in order;
 * - roster-sync.ts: the roster fetched from a peer that is further; roster changes followed;
 * - lag.ts (lag gauge, `network` heads), gossip-repair.ts (members missing from gossip redialed),
 *   serve.ts (answers to peers' requests), publish.ts, outcomes.ts.
 *
 * Transport only: what a roster change means for stored indicators (a revoked member's are
 * dropped) is indicators/revocation-purge.ts's business, and every node runs it.
 *
 * Each start makes a run: a host and the parts over it, sharing one AbortController whose signal
 * tells every part the exchange is stopping (and aborts its requests in flight). The parts with a
 * life of their own (timers, a roster watch, syncs running) are libp2p Startables, started in order
 * and stopped in reverse.
 *
 * Log lines name a peer's member id `peerMember` and a batch's `origin`: `member` is the key a node's
 * own logger may carry (the demo binds it), and JSON tools keep only the last of two equal keys.
 *
 *   const exchange = new Exchange({ alliance, self, privateKey, listen, store, roster, registry, logger, headsIntervalMs });
 *   await exchange.start();                 // throws HostError when the host cannot listen
 *   await exchange.publishBatch(jws);       // the Publisher's onBatch
 *   await exchange.status();                // GraphQL `network`
 *   await exchange.stop();
 */
import type { PrivateKey, Startable } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import type { BatchAlarm, BatchStore } from '../indicators/batch-store.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import type { NetworkStatus } from './status.ts';
import { createHost, PeerPenalties, type ConnectionLimits, type Host } from './host.ts';
import { PeerDirectory, type Backoff } from './peers.ts';
import { ExchangeMetrics } from './metrics.ts';
import { DEFAULT_EXCHANGE_LIMITS, batchesTopic, registerExchangeProtocols, rosterTopic, type ExchangeLimits, type ExchangeProtocols, type RateLimit } from './protocols.ts';
import { PeerClaims } from './claims.ts';
import { SyncLag } from './lag.ts';
import { RosterSync, RosterWatch } from './roster-sync.ts';
import { OriginSync } from './origin-sync.ts';
import { HeadsExchange } from './heads.ts';
import { GossipValidation } from './gossip.ts';
import { GossipRepair } from './gossip-repair.ts';
import { exchangeSource } from './serve.ts';
import { publish } from './publish.ts';

export interface ExchangeOptions {
  alliance: string;
  /** This node's member id. */
  self: string;
  /** The member's libp2p key (its peer id is the roster's). */
  privateKey: PrivateKey;
  /** Listen multiaddr. */
  listen: string;
  /** Private-network key (`readSwarmKey`), if the alliance uses one. */
  psk?: Uint8Array | undefined;
  store: BatchStore;
  roster: RosterStore;
  /** The API's metrics registry: one scrape shows everything. */
  registry: Registry;
  logger: Logger;
  /** How often heads are exchanged with each connected peer, ms. */
  headsIntervalMs: number;
  /** Batches (or roster entries) asked for per sync request; default 256. */
  syncLimit?: number | undefined;
  backoff?: Partial<Backoff> | undefined;
  pingIntervalMs?: number | undefined;
  limits?: Partial<ExchangeLimits> | undefined;
  rateLimit?: Partial<RateLimit> | undefined;
  /** Gossipsub heartbeat, ms (tests run it faster). */
  heartbeatIntervalMs?: number | undefined;
  /** Limits on inbound connections in their handshake (host.ts); unset ones are the defaults. */
  connectionLimits?: Partial<ConnectionLimits> | undefined;
  /**
   * How long a connected member may stay missing from gossip (not a subscriber of the batches topic
   * in this node's gossipsub) before the connection is dropped and redialed; default 10000 ms.
   */
  gossipRepairMs?: number | undefined;
}

/** One start of the exchange: the host and the parts over it. */
interface Run {
  host: Host;
  /** Aborted when the exchange stops: every part reads it as "stopping". */
  abort: AbortController;
  batchesTopic: string;
  protocols: ExchangeProtocols;
  claims: PeerClaims;
  lag: SyncLag;
  heads: HeadsExchange;
  originSync: OriginSync;
  /** The long-lived parts, in start order (stopped in reverse). */
  parts: Startable[];
  stopping?: Promise<void>;
}

export class Exchange implements Startable {
  readonly peers: PeerDirectory;
  readonly metrics: ExchangeMetrics;
  /** Each peer's account of misbehaviour, part of its gossip score. */
  readonly penalties: PeerPenalties;
  readonly #opts: ExchangeOptions;
  readonly #log: Logger;
  #run: Run | undefined;
  #starting = false;

  constructor(opts: ExchangeOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'p2p' });
    // The directory exists before the host: the host's connection gater asks it from the start.
    this.peers = new PeerDirectory({
      roster: () => opts.roster.state,
      self: opts.self,
      backoff: opts.backoff,
      pingIntervalMs: opts.pingIntervalMs,
      log: this.#log,
      onConnect: (p) => void this.#run?.heads.withPeer(p.peerId),
      onDisconnect: (p) => this.#run && this.#forget(this.#run, p.peerId),
    });
    this.metrics = new ExchangeMetrics(opts.registry, { peers: () => this.peers.counts() });
    this.penalties = new PeerPenalties({ onAdd: (_peer, reason, n) => this.metrics.penalty(reason, n) });
  }

  /** The libp2p host (from `start()` on). */
  get host(): Host {
    return this.#started().host;
  }

  /** Creates the host and starts exchanging. Throws HostError when the host cannot listen. */
  async start(): Promise<void> {
    if (this.#starting || (this.#run !== undefined && this.#run.stopping === undefined)) throw new Error('the exchange is already started');
    this.#starting = true;
    try {
      await this.#start();
    } finally {
      this.#starting = false;
    }
  }

  /** Stops exchanging and the host; waits for the syncs running. Safe to call twice. */
  async stop(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    run.stopping ??= this.#stop(run);
    await run.stopping;
  }

  /** Gossips one of this node's batches (already stored). Resolves once handed to gossipsub. */
  async publishBatch(jws: string): Promise<void> {
    const run = this.#started();
    await publish(run.host, run.batchesTopic, jws, run.abort.signal);
    this.metrics.batchPublished();
  }

  /** Exchanges heads with every connected peer now and fetches what they hold further (tests, admin). */
  async syncNow(): Promise<void> {
    const run = this.#started();
    await run.heads.withAll();
    await run.originSync.idle();
  }

  /** Peers and per-origin heads as this node sees them. */
  async status(): Promise<NetworkStatus> {
    const run = this.#started();
    const heads = await run.lag.heads();
    return {
      peerId: run.host.peerId.toString(),
      listenAddrs: run.host.getMultiaddrs().map((a) => a.toString()),
      peers: this.peers.status(),
      heads,
    };
  }

  /** Batches refused and kept as evidence (forks), newest first. */
  batchAlarms(): Promise<BatchAlarm[]> {
    return this.#opts.store.alarms();
  }

  #started(): Run {
    if (this.#run === undefined) throw new Error('the exchange is not started');
    return this.#run;
  }

  /** Drops what `peerId` claimed (it disconnected, or left the roster), and the lag that rested on it. */
  #forget(run: Run, peerId: string): void {
    if (!run.claims.forget(peerId) || run.abort.signal.aborted) return;
    void run.lag.update().catch(() => undefined);
  }

  async #start(): Promise<void> {
    const opts = this.#opts;
    const { alliance, self, store, roster, limits } = opts;
    const { peers, metrics, penalties } = this;
    const log = this.#log;
    const syncLimit = opts.syncLimit ?? 256;
    const responseBytes = { ...DEFAULT_EXCHANGE_LIMITS, ...limits }.responseBytes;
    const batches = batchesTopic(alliance);
    const rosterT = rosterTopic(alliance);
    const abort = new AbortController();
    const signal = abort.signal;

    // The validators are the host's from its creation; messages reach them once the topics are
    // subscribed (below), by when the part that judges them exists.
    let gossip: GossipValidation | undefined;
    const host = await createHost({
      privateKey: opts.privateKey,
      listen: opts.listen,
      psk: opts.psk,
      isAllowed: (id) => peers.isAllowed(id),
      isMemberAddress: (ip) => peers.isMemberAddress(ip),
      limits: opts.connectionLimits,
      penalties,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      topics: [
        { topic: batches, validator: (peer, msg) => gossip?.batch(peer.toString(), msg) ?? TopicValidatorResult.Ignore },
        { topic: rosterT, validator: (peer, msg) => gossip?.rosterEntry(peer.toString(), msg) ?? TopicValidatorResult.Ignore },
      ],
    });

    const claims = new PeerClaims({ self, peers, penalties, log });
    const lag = new SyncLag({ self, roster: () => roster.state, store, claims, metrics });
    const rosterSync = new RosterSync({ host, alliance, roster, metrics, log, signal, syncLimit, limits });
    const originSync = new OriginSync({ host, alliance, store, peers, claims, lag, rosterSync, penalties, metrics, log, signal, syncLimit, limits });
    const heads = new HeadsExchange({ host, alliance, self, store, roster, peers, claims, lag, rosterSync, originSync, metrics, log, signal, intervalMs: opts.headsIntervalMs, limits });
    gossip = new GossipValidation({ store, roster, peers, claims, rosterSync, originSync, metrics, log, signal });
    const repair = new GossipRepair({ host, topic: batches, peers, metrics, log, signal, repairMs: opts.gossipRepairMs ?? 10_000 });

    let run: Run;
    try {
      const source = exchangeSource(store, roster, responseBytes);
      const protocols = await registerExchangeProtocols(host, { alliance, source, metrics, log, limits, rateLimit: opts.rateLimit, onRequest: (id) => peers.markSeen(id) });
      run = { host, abort, batchesTopic: batches, protocols, claims, lag, heads, originSync, parts: [] };
      const watch = new RosterWatch({ host, topic: rosterT, roster, peers, claims, forget: (id) => this.#forget(run, id), log, signal });
      run.parts.push(originSync, watch, heads, repair);
      host.services.pubsub.subscribe(batches);
      host.services.pubsub.subscribe(rosterT);
      // From here the directory's connects reach this run's heads exchange.
      this.#run = run;
      await peers.start(host);
    } catch (err) {
      this.#run = undefined;
      abort.abort();
      await host.stop();
      throw err;
    }
    for (const part of run.parts) await part.start();
  }

  async #stop(run: Run): Promise<void> {
    run.abort.abort();
    for (const part of [...run.parts].reverse()) await part.stop();
    await this.peers.stop();
    await run.protocols.unregister();
    await run.host.stop();
  }
}
