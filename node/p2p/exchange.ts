/**
 * The exchange (DESIGN §4): one service that joins the P2P host to the node's storage.
 *
 * - Gossip: batches and roster entries arrive on the alliance's two topics. The topic validators
 *   store them (BatchStore.ingest, RosterStore.submit) before gossipsub forwards them, so a node
 *   only relays what it verified and kept; forgeries are Rejected (the sender's score drops),
 *   duplicates Ignored.
 * - Catch-up: heads are exchanged with every peer on connect and every `headsIntervalMs`; an origin
 *   (or the roster) a peer holds further than this node is fetched with the sync protocol, from that
 *   peer, in order. A gap seen on gossip (seq beyond head + 1) triggers the same sync instead of
 *   being skipped. Batches are end-to-end signed, so any peer may serve any origin's.
 * - Heads are claims, judged before they are believed (`network.heads`, the lag gauge, sync): an
 *   origin the roster does not have (once this node's roster is as far as the peer's), and this
 *   node's own origin beyond its own head, are refused at once; a seq the peer then fails to serve
 *   when asked is dropped. Each costs the peer one penalty in its gossip score (host.ts,
 *   PeerPenalties: the same account as invalid gossip). A peer's claims are replaced by its next
 *   announcement and forgotten when it disconnects, so a wrong one never outlives its peer.
 * - Roster changes (from gossip, sync, GraphQL or another process): the peer directory re-reads the
 *   roster (hanging up members that are no longer ACTIVE), a revoked member's indicators are
 *   dropped, and new entries are relayed on the roster topic.
 *
 * Log lines name a peer's member id `peerMember` and a batch's `origin`: `member` is the key a node's
 * own logger may carry (the demo binds it), and JSON tools keep only the last of two equal keys.
 *
 *   const exchange = await startExchange({ alliance, self, privateKey, listen, store, roster, registry, logger, headsIntervalMs });
 *   await exchange.publishBatch(jws);       // the Publisher's onBatch
 *   await exchange.status();                // GraphQL `network`
 *   await exchange.stop();
 */
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import type { BatchStore, IngestOutcome } from '../indicators/batch-store.ts';
import type { RosterStore } from '../membership/roster-store.ts';
import type { RosterState } from '../membership/roster-state.ts';
import { isRosterError } from '../membership/roster-error.ts';
import type { NetworkStatus, OriginHeadStatus } from './status.ts';
import type { BatchAlarm } from '../indicators/batch-store.ts';
import { createHost, PeerPenalties, type ConnectionLimits, type Host } from './host.ts';
import { PeerDirectory, type Backoff } from './peers.ts';
import { ExchangeMetrics } from './metrics.ts';
import {
  DEFAULT_EXCHANGE_LIMITS,
  batchesTopic,
  registerExchangeProtocols,
  requestHeads,
  requestSync,
  rosterTopic,
  type ExchangeLimits,
  type ExchangeProtocols,
  type RateLimit,
  type SyncResponse,
} from './protocols.ts';
import { isWireError } from './wire.ts';

/**
 * The signing key a batch names in its (small) JWS header, read without verifying anything
 * (verification follows, in order): a key belongs to one member, so it keys validation per origin
 * without parsing the payload twice. Unreadable input shares one queue.
 */
function claimedKid(data: Uint8Array): string {
  try {
    const dot = data.indexOf(0x2e);
    if (dot <= 0 || dot > 1024) return '';
    const header = JSON.parse(Buffer.from(Buffer.from(data.buffer, data.byteOffset, dot).toString('latin1'), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid.slice(0, 128) : '';
  } catch {
    return '';
  }
}

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

export interface Exchange {
  /** Peers and per-origin heads as this node sees them. */
  status(): Promise<NetworkStatus>;
  /** Batches refused and kept as evidence (forks), newest first. */
  batchAlarms(): Promise<BatchAlarm[]>;
  readonly host: Host;
  readonly peers: PeerDirectory;
  readonly metrics: ExchangeMetrics;
  /** Each peer's account of misbehaviour, part of its gossip score. */
  readonly penalties: PeerPenalties;
  /** Gossips one of this node's batches (already stored). Resolves once handed to gossipsub. */
  publishBatch(jws: string): Promise<void>;
  /** Exchanges heads with every connected peer now and fetches what they hold further (tests, admin). */
  syncNow(): Promise<void>;
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Failed sync requests in a row that a sync retries before it waits for the next heads exchange. */
const SYNC_RETRIES = 3;
/** Failures worth a retry: the peer was slow or busy, not wrong. */
const RETRYABLE = new Set(['TIMEOUT', 'UNAVAILABLE', 'RATE_LIMITED']);

/** Creates the host and starts exchanging. Throws HostError when the host cannot listen. */
/** Refusals an honest sender can cause (penalized() says why). */
const NOT_PROOF_OF_FORGERY = new Set(['unknown_origin', 'unsupported_version', 'origin_suspended', 'origin_revoked', 'kid_not_valid', 'from_future', 'stale_epoch', 'bad_prev', 'fork']);

export async function startExchange(opts: ExchangeOptions): Promise<Exchange> {
  const log = opts.logger.child({ component: 'p2p' });
  const { alliance, store, roster } = opts;
  const syncLimit = opts.syncLimit ?? 256;
  const responseBytes = { ...DEFAULT_EXCHANGE_LIMITS, ...opts.limits }.responseBytes;
  const batches = batchesTopic(alliance);
  const rosterT = rosterTopic(alliance);
  /**
   * What each connected peer holds, by its own account, per origin: the claims of its last heads
   * answer that this node could not refute (and raised by batches it relays past a gap). The source
   * of `network.heads`, the lag gauge and sync.
   */
  const claims = new Map<string, Map<string, number>>();
  /**
   * Per peer and origin, the lowest claim the peer failed to serve when asked. Announcing it (or more)
   * again is the same lie: refused and counted again, not chased again. Forgotten with the peer, or
   * once this node holds that much of the origin itself (the claim may then be true).
   */
  const refuted = new Map<string, Map<string, number>>();
  /** Origins the lag gauge has a series for. */
  const lagged = new Set<string>();
  /** One sync per origin at a time; a request arriving meanwhile re-runs it once more. */
  const originSyncs = new Map<string, { running: Promise<void>; again: string | undefined }>();
  /** The roster sync running (one at a time), and whether it ended with its peer saying it had no more. */
  let rosterSync: Promise<{ peerId: string; exhausted: boolean }> | undefined;
  let stopped = false;
  const abort = new AbortController();

  const peers = new PeerDirectory({
    roster: () => roster.state,
    self: opts.self,
    backoff: opts.backoff,
    pingIntervalMs: opts.pingIntervalMs,
    log,
    onConnect: (p) => void exchangeHeads(p.peerId),
    onDisconnect: (p) => forgetClaims(p.peerId),
  });
  const metrics = new ExchangeMetrics(opts.registry, { peers: () => peers.counts() });
  const penalties = new PeerPenalties({ onAdd: (_peer, reason, n) => metrics.penalty(reason, n) });

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
      { topic: batches, validator: (peer, msg) => validateBatch(peer.toString(), msg) },
      { topic: rosterT, validator: (peer, msg) => validateRosterEntry(peer.toString(), msg) },
    ],
  });

  let protocols: ExchangeProtocols;
  try {
    protocols = await registerExchangeProtocols(host, {
      alliance,
      metrics,
      log,
      limits: opts.limits,
      rateLimit: opts.rateLimit,
      onRequest: (id) => peers.markSeen(id),
      source: {
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
      },
    });
    host.services.pubsub.subscribe(batches);
    host.services.pubsub.subscribe(rosterT);
    await peers.start(host);
  } catch (err) {
    await host.stop();
    throw err;
  }

  const unwatch = roster.watch((state, previousSeq) => void onRosterChange(state, previousSeq));
  const headsTimer = setInterval(() => void exchangeAllHeads(), opts.headsIntervalMs);
  headsTimer.unref?.();
  const gossipRepairMs = opts.gossipRepairMs ?? 10_000;
  const gossipTimer = setInterval(() => checkGossip(), Math.max(50, Math.floor(gossipRepairMs / 4)));
  gossipTimer.unref?.();

  // ------------------------------------------------------------------------------------------
  // Gossip state

  /** Connected members missing from gossip, and since when (performance.now()). */
  const missingFromGossip = new Map<string, number>();

  /**
   * gossipsub keeps one stream each way per peer, whichever connection it was opened on. When two
   * members dial each other at once they hold two connections; if the one carrying a gossip stream
   * fails, gossipsub drops the peer (or the stream) for good although the other connection stays
   * open, and nothing is gossiped between the two until they reconnect. Every member subscribes to
   * the batches topic, so a connected member that is not a subscriber here is in that state: after
   * `gossipRepairMs` its connections are closed, and the peer directory dials it afresh.
   */
  function checkGossip(): void {
    if (stopped) return;
    const subscribed = new Set(host.services.pubsub.getSubscribers(batches).map(String));
    const now = performance.now();
    const still = new Set<string>();
    for (const p of peers.status()) {
      if (!p.connected || subscribed.has(p.peerId)) continue;
      still.add(p.peerId);
      const since = missingFromGossip.get(p.peerId);
      if (since === undefined) missingFromGossip.set(p.peerId, now);
      else if (now - since >= gossipRepairMs) {
        missingFromGossip.delete(p.peerId);
        log.warn({ peerMember: p.memberId, peer: p.peerId }, 'connected peer missing from gossip; reconnecting');
        metrics.gossipReconnect();
        void host.hangUp(peerIdFromString(p.peerId)).catch((err: unknown) => log.debug({ peer: p.peerId, err }, 'hang-up failed'));
      }
    }
    for (const id of missingFromGossip.keys()) if (!still.has(id)) missingFromGossip.delete(id);
  }

  // ------------------------------------------------------------------------------------------
  // Gossip validators

  function count(outcome: IngestOutcome, via: 'gossip' | 'sync'): void {
    metrics.batchReceived(outcome.status, outcome.status === 'rejected' ? outcome.reason : undefined);
    if (outcome.status === 'rejected') {
      // Reason, origin and seq only: never the payload.
      log.warn({ via, reason: outcome.reason, origin: outcome.origin, seq: outcome.seq }, 'batch refused');
    } else if (outcome.status === 'stored') {
      metrics.indicatorsStored('add', outcome.adds);
      metrics.indicatorsStored('retract', outcome.retracts);
    }
  }

  /** Validation in arrival order per signing key (so per origin): a burst of one origin's batches is not taken for gaps. */
  const originQueues = new Map<string, Promise<unknown>>();

  function validateBatch(from: string, msg: Message): Promise<TopicValidatorResult> {
    const key = claimedKid(msg.data);
    const previous = originQueues.get(key) ?? Promise.resolve();
    const run = previous.then(() => validateBatchNow(from, msg));
    const settled = run.catch(() => undefined);
    originQueues.set(key, settled);
    void settled.then(() => {
      if (originQueues.get(key) === settled) originQueues.delete(key);
    });
    return run;
  }

  async function validateBatchNow(from: string, msg: Message): Promise<TopicValidatorResult> {
    if (stopped) return TopicValidatorResult.Ignore;
    peers.markSeen(from);
    let outcome = await store.ingest(msg.data);
    // This node's roster may be behind the sender's (a new member, a rotated key, a new epoch):
    // catch up with the sender's roster, then judge the batch again.
    if (outcome.status === 'future_epoch' || (outcome.status === 'rejected' && outcome.reason === 'unknown_origin')) {
      await syncRoster(from);
      outcome = await store.ingest(msg.data);
    }
    count(outcome, 'gossip');
    switch (outcome.status) {
      case 'stored':
        return TopicValidatorResult.Accept;
      case 'duplicate':
      case 'future_epoch':
        return TopicValidatorResult.Ignore;
      case 'gap':
        // The sender relayed a batch it verified and stored, so it holds the chain up to it.
        noteClaim(from, outcome.origin, outcome.seq);
        scheduleOriginSync(outcome.origin, from);
        return TopicValidatorResult.Ignore;
      case 'rejected':
        // The host counts a Reject in the sender's penalties.
        return penalized(outcome.reason) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
    }
  }

  /**
   * Whether a refused batch costs the peer that sent it (by gossip or sync): only what is invalid
   * whatever the receiver's roster, chain or clock (the format and signature checks, schema/wire.md
   * §6). The rest can come from an honest peer: one whose roster lags a suspension or key rotation,
   * whose clock or grace period differs, or that stored the other branch of an origin's fork (the
   * origin is the culprit, and its evidence is kept). Those are refused and counted, but the
   * sender's score is left alone.
   */
  function penalized(reason: string): boolean {
    return !NOT_PROOF_OF_FORGERY.has(reason);
  }

  async function validateRosterEntry(from: string, msg: Message): Promise<TopicValidatorResult> {
    if (stopped) return TopicValidatorResult.Ignore;
    peers.markSeen(from);
    let text: string;
    try {
      text = decoder.decode(msg.data);
    } catch {
      log.warn({ reason: 'malformed' }, 'roster entry refused');
      return TopicValidatorResult.Reject;
    }
    try {
      const r = await roster.submit(text);
      return r.applied ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
    } catch (err) {
      if (isRosterError(err, 'gap')) {
        void syncRoster(from);
        return TopicValidatorResult.Ignore;
      }
      if (isRosterError(err)) {
        log.warn({ reason: err.reason, seq: err.seq }, 'roster entry refused');
        return TopicValidatorResult.Reject;
      }
      log.error({ err }, 'roster entry could not be stored');
      return TopicValidatorResult.Ignore;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Heads and sync

  /** Raises `peerId`'s claim on `origin` to `seq` (a batch it relayed shows it holds that far). */
  function noteClaim(peerId: string, origin: string, seq: number): void {
    if (!peers.isAllowed(peerId) || origin === opts.self) return;
    let c = claims.get(peerId);
    if (c === undefined) claims.set(peerId, (c = new Map()));
    if ((c.get(origin) ?? 0) < seq) c.set(origin, seq);
  }

  /** Drops everything `peerId` claimed, and what it was caught at (it disconnected, or left the roster). */
  function forgetClaims(peerId: string): void {
    refuted.delete(peerId);
    if (!claims.delete(peerId) || stopped) return;
    void updateLag().catch(() => undefined);
  }

  /** Per origin, the highest seq a connected peer claims. */
  function bestClaims(): Map<string, number> {
    const best = new Map<string, number>();
    for (const c of claims.values()) for (const [origin, seq] of c) if ((best.get(origin) ?? 0) < seq) best.set(origin, seq);
    return best;
  }

  function penalize(peerId: string, reason: string, n = 1): void {
    penalties.add(peerId, reason, n);
  }

  function syncable(origin: string): boolean {
    if (origin === opts.self) return false;
    const m = roster.state?.members.find((x) => x.id === origin);
    return m !== undefined && m.status === 'ACTIVE';
  }

  async function exchangeAllHeads(): Promise<void> {
    await Promise.all(peers.status().filter((p) => p.connected).map((p) => exchangeHeads(p.peerId)));
  }

  async function exchangeHeads(peerId: string): Promise<void> {
    if (stopped) return;
    try {
      const h = await requestHeads(host, peerId, alliance, { metrics, signal: abort.signal, limits: opts.limits });
      peers.markSeen(peerId);
      // A roster head past this node's is fetched from the peer; if the peer then says it has no more
      // while this node is still short of it, the peer announced entries it does not hold.
      let rosterUnserved = false;
      if (h.roster !== null && h.roster.seq > (roster.state?.seq ?? -1)) {
        const r = await syncRoster(peerId);
        rosterUnserved = r.peerId === peerId && r.exhausted && (roster.state?.seq ?? -1) < h.roster.seq;
      }
      const state = roster.state;
      const local = await store.heads();
      if (stopped) return;
      // Whether an origin is unknown can be told only from a roster at least as far as the peer's
      // (or once the peer's roster head is shown to be a claim it cannot back); if this node's is
      // still behind because its roster sync failed, such origins are passed over unjudged.
      const rosterCaughtUp = h.roster === null || rosterUnserved || (state !== null && state.seq >= h.roster.seq);
      const members = new Set(state?.members.map((m) => m.id) ?? []);
      const ownHead = local.get(opts.self)?.seq ?? 0;
      const caught = refuted.get(peerId);
      const next = new Map<string, number>();
      let unknown = 0;
      let ownBeyond = 0;
      let repeated = 0;
      for (const o of h.origins) {
        const localSeq = local.get(o.origin)?.seq ?? 0;
        const failedAt = caught?.get(o.origin);
        if (failedAt !== undefined && failedAt <= localSeq) caught!.delete(o.origin);
        if (o.origin === opts.self) {
          // This node signs its own chain: nobody holds more of it than it does.
          if (o.seq > ownHead) ownBeyond++;
        } else if (!members.has(o.origin)) {
          // A batch is stored only if a roster member signed it: nobody holds an origin no roster has.
          if (rosterCaughtUp) unknown++;
        } else if (failedAt !== undefined && failedAt > localSeq && o.seq >= failedAt) {
          repeated++;
        } else {
          next.set(o.origin, o.seq);
        }
      }
      if (rosterUnserved) repeated++;
      if (unknown > 0 || ownBeyond > 0 || repeated > 0) {
        // Counts only: an unknown origin's id is whatever the peer wrote.
        log.warn({ peer: peerId, peerMember: peers.memberOf(peerId), unknownOrigins: unknown, ownHeadBeyond: ownBeyond > 0, unserved: repeated, rosterUnserved }, 'peer announced heads it cannot hold');
        penalize(peerId, 'unknown_origin', unknown);
        penalize(peerId, 'own_head', ownBeyond);
        penalize(peerId, 'unserved_head', repeated);
      }
      // The peer may have gone meanwhile; its claims go with it.
      if (!peers.isConnected(peerId)) return;
      claims.set(peerId, next);
      for (const [origin, seq] of next) {
        if (seq > (local.get(origin)?.seq ?? 0) && syncable(origin)) scheduleOriginSync(origin, peerId);
      }
      await updateLag(local);
    } catch (err) {
      if (stopped) return;
      log.debug({ peer: peerId, code: isWireError(err) ? err.code : undefined, err: isWireError(err) ? undefined : err }, 'heads exchange failed');
    }
  }

  function scheduleOriginSync(origin: string, peerId: string): Promise<void> {
    const current = originSyncs.get(origin);
    if (current !== undefined) {
      current.again = peerId;
      return current.running;
    }
    const slot: { running: Promise<void>; again: string | undefined } = { running: Promise.resolve(), again: undefined };
    slot.running = (async () => {
      let peer: string | undefined = peerId;
      try {
        while (peer !== undefined && !stopped) {
          slot.again = undefined;
          await syncOrigin(origin, peer);
          peer = slot.again;
        }
      } finally {
        originSyncs.delete(origin);
      }
    })();
    originSyncs.set(origin, slot);
    return slot.running;
  }

  /**
   * Fetches `origin`'s batches from `peerId` and stores them, page after page. The next page is asked
   * for as soon as a page has arrived, so it travels while this one is verified and stored: a node
   * catching up waits on its database or on the network, not on both in turn. A request that fails
   * after progress (a timeout, a busy peer) is retried a few times before the sync gives up until the
   * next heads exchange.
   */
  async function syncOrigin(origin: string, peerId: string): Promise<void> {
    let prefetch: { from: number; page: Promise<SyncResponse>; cancel: AbortController; claim: number | undefined } | undefined;
    const fetchPage = (from: number) => {
      const cancel = new AbortController();
      const page = requestSync(host, peerId, alliance, { kind: 'batches', origin, from, limit: syncLimit }, { metrics, signal: AbortSignal.any([abort.signal, cancel.signal]), limits: opts.limits });
      // Awaited below unless dropped; a dropped page's failure is of no interest.
      page.catch(() => undefined);
      // What the peer claimed when asked: an honest peer answers with at least that much.
      return { from, page, cancel, claim: claims.get(peerId)?.get(origin) };
    };
    /** Set when the peer said it has nothing further: what it had claimed when asked. */
    let exhausted: { claim: number | undefined } | undefined;
    const drop = () => {
      prefetch?.cancel.abort();
      prefetch = undefined;
    };
    let failures = 0;
    try {
      for (;;) {
        if (stopped) return;
        const from = ((await store.head(origin))?.seq ?? 0) + 1;
        if (prefetch?.from !== from) {
          drop();
          prefetch = fetchPage(from);
        }
        let res: SyncResponse;
        try {
          res = await prefetch.page;
        } catch (err) {
          prefetch = undefined;
          if (stopped || ++failures > SYNC_RETRIES || !isWireError(err) || !RETRYABLE.has(err.code)) throw err;
          await new Promise((r) => setTimeout(r, (isWireError(err) ? Number(err.details?.retryAfterMs ?? 0) : 0) || 250 * failures));
          continue;
        }
        const asked = prefetch;
        prefetch = undefined;
        failures = 0;
        peers.markSeen(peerId);
        if (res.items.length === 0) {
          exhausted = { claim: asked.claim };
          return;
        }
        if (res.more) prefetch = fetchPage(from + res.items.length);
        log.debug({ peer: peerId, origin, from, batches: res.items.length, more: res.more }, 'batches fetched');
        const outcomes = await store.ingestMany(res.items);
        let stored = 0;
        for (const o of outcomes) {
          count(o, 'sync');
          if (o.status === 'stored') stored++;
        }
        log.debug({ origin, stored }, 'batches synced');
        const bad = outcomes.find((o) => o.status === 'rejected' || o.status === 'future_epoch');
        if (bad?.status === 'future_epoch') {
          drop();
          await syncRoster(peerId);
          continue;
        }
        if (bad?.status === 'rejected' && penalized(bad.reason)) penalize(peerId, 'invalid_message');
        if (bad !== undefined || stored === 0) return;
        if (!res.more) {
          exhausted = { claim: asked.claim };
          return;
        }
      }
    } catch (err) {
      if (stopped) return;
      log.debug({ peer: peerId, origin, code: isWireError(err) ? err.code : undefined, err: isWireError(err) ? undefined : err }, 'batch sync failed');
    } finally {
      drop();
      if (exhausted?.claim !== undefined && !stopped) await judgeServed(origin, peerId, exhausted.claim).catch(() => undefined);
      await updateLag().catch(() => undefined);
    }
  }

  /**
   * The peer said it holds nothing past what this node now has of `origin`. If it had claimed more
   * when asked, it announced what it cannot serve: the claim is dropped and the peer penalised.
   */
  async function judgeServed(origin: string, peerId: string, claimed: number): Promise<void> {
    const head = (await store.head(origin))?.seq ?? 0;
    if (claimed <= head) return;
    const c = claims.get(peerId);
    if (c !== undefined && (c.get(origin) ?? 0) > head) c.delete(origin);
    if (peers.isConnected(peerId)) {
      let r = refuted.get(peerId);
      if (r === undefined) refuted.set(peerId, (r = new Map()));
      r.set(origin, Math.min(r.get(origin) ?? claimed, claimed));
    }
    log.warn({ peer: peerId, peerMember: peers.memberOf(peerId), origin, claimed, served: head }, 'peer announced batches it could not serve');
    penalize(peerId, 'unserved_head');
  }

  /**
   * Fetches roster entries from `peerId` (or joins the roster sync already running, whichever peer it
   * asks). Resolves with the peer that was asked and whether it said it had nothing further.
   */
  function syncRoster(peerId: string): Promise<{ peerId: string; exhausted: boolean }> {
    rosterSync ??= (async () => {
      try {
        for (;;) {
          if (stopped) return { peerId, exhausted: false };
          const from = (roster.state?.seq ?? -1) + 1;
          const res = await requestSync(host, peerId, alliance, { kind: 'roster', from, limit: syncLimit }, { metrics, signal: abort.signal, limits: opts.limits });
          let applied = 0;
          for (const text of res.items) {
            const r = await roster.submit(text);
            if (r.applied) applied++;
          }
          if (!res.more) return { peerId, exhausted: true };
          if (applied === 0) return { peerId, exhausted: false };
        }
      } catch (err) {
        if (stopped) return { peerId, exhausted: false };
        const reason = isRosterError(err) ? err.reason : isWireError(err) ? err.code : undefined;
        log.warn({ peer: peerId, reason, err: reason === undefined ? err : undefined }, 'roster sync failed');
        return { peerId, exhausted: false };
      } finally {
        rosterSync = undefined;
      }
    })();
    return rosterSync;
  }

  /** Sets the lag gauge from the claims of connected peers; origins no longer claimed or syncable go back to 0 or away. */
  async function updateLag(local?: Map<string, { seq: number }>): Promise<void> {
    const heads = local ?? (await store.heads());
    const best = bestClaims();
    for (const origin of new Set([...best.keys(), ...lagged])) {
      if (!syncable(origin)) {
        metrics.clearLag(origin);
        lagged.delete(origin);
        continue;
      }
      metrics.setLag(origin, Math.max(0, (best.get(origin) ?? 0) - (heads.get(origin)?.seq ?? 0)));
      lagged.add(origin);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Roster changes

  async function onRosterChange(state: RosterState, previousSeq: number): Promise<void> {
    if (stopped) return;
    peers.update();
    for (const peerId of [...claims.keys()]) if (!peers.isAllowed(peerId)) forgetClaims(peerId);
    for (const m of state.members) {
      if (m.status !== 'REVOKED') continue;
      const purged = await store.purgeOrigin(m.id).catch((err: unknown) => {
        log.error({ err, origin: m.id }, 'indicators of a revoked member could not be dropped');
        return 0;
      });
      if (purged > 0) log.info({ origin: m.id, indicators: purged }, 'indicators of a revoked member dropped');
    }
    // Relay entries this node stored by other ways than gossip (GraphQL, sync, another process);
    // gossipsub drops the ones its peers have already seen.
    try {
      const { items } = await roster.entries(previousSeq + 1, Math.max(1, state.seq - previousSeq));
      for (const text of items) await publish(rosterT, text);
    } catch (err) {
      log.debug({ err }, 'roster entries could not be relayed');
    }
  }

  async function publish(topic: string, text: string): Promise<void> {
    if (stopped) return;
    try {
      await host.services.pubsub.publish(topic, encoder.encode(text));
    } catch (err) {
      // A message gossipsub has already seen (the same bytes) is not an error here.
      if (/duplicate/i.test((err as Error).message)) return;
      throw err;
    }
  }

  return {
    host,
    peers,
    metrics,
    penalties,
    async publishBatch(jws) {
      await publish(batches, jws);
      metrics.batchPublished();
    },
    async syncNow() {
      await exchangeAllHeads();
      await Promise.all([...originSyncs.values()].map((s) => s.running));
    },
    async status(): Promise<NetworkStatus> {
      const local = await store.heads();
      const best = bestClaims();
      const origins = new Set([...local.keys(), ...best.keys()]);
      const heads: OriginHeadStatus[] = [...origins].sort().map((origin) => {
        const localSeq = local.get(origin)?.seq ?? 0;
        const seq = Math.max(localSeq, best.get(origin) ?? 0);
        return { origin, seq, localSeq, lag: seq - localSeq };
      });
      return {
        peerId: host.peerId.toString(),
        listenAddrs: host.getMultiaddrs().map((a) => a.toString()),
        peers: peers.status(),
        heads,
      };
    },
    batchAlarms: () => store.alarms(),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(headsTimer);
      clearInterval(gossipTimer);
      unwatch();
      abort.abort();
      await Promise.allSettled([...originSyncs.values()].map((s) => s.running));
      await peers.stop();
      await protocols.unregister();
      await host.stop();
    },
  };
}
