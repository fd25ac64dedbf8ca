/**
 * The one composition root (docs/architecture.md, "The composition root"): builds every service of
 * a node once, in dependency order, each from the ones built before it (no forward references);
 * starts the long-lived ones in that order and stops them in reverse. Every long-lived service has
 * the same shape, libp2p's `Startable` (`start()`, `stop()`).
 *
 *   storage → keys, roster → audit, records → matching, indicators, lookup → exchange, publisher
 *   → API → periodic jobs
 */
import fs from 'node:fs';
import type { Startable } from '@libp2p/interface';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Database } from './storage/database.ts';
import { openStorage } from './storage/open.ts';
import { PeriodicJobs } from './periodic.ts';
import { forgetListenAddress, recordListenAddress } from './listen-record.ts';
import { backfillCanonical } from './records/backfill.ts';
import { RecordStore } from './records/store.ts';
import { RecordOutbox } from './records/outbox.ts';
import { RecordExporter } from './records/export.ts';
import { AuditLog } from './audit/audit-log.ts';
import { AuditWriter } from './audit/audit-writer.ts';
import type { RosterStore } from './membership/roster-store.ts';
import { RosterProposals } from './membership/proposals.ts';
import { epochKeyInstaller, type EpochInstallOutcome } from './membership/epoch-install.ts';
import { EpochKeyring } from './membership/epoch-keyring.ts';
import { loadGenesisFile, openRoster, summarizeAlliance, type AllianceSummary } from './membership/founding.ts';
import { hasMemberIdentity, loadAdminKey, loadMemberIdentity, peerFor } from './membership/keys.ts';
import { OwnSigningKeys } from './membership/own-signing-keys.ts';
import { liveEpochs, memberById } from './membership/roster-state.ts';
import { BatchStore } from './indicators/batch-store.ts';
import { Publisher } from './indicators/publisher.ts';
import { RevocationPurge } from './indicators/revocation-purge.ts';
import { Matcher } from './matching/matcher.ts';
import { MatchFeed } from './matching/feed.ts';
import { MatchListener } from './matching/listener.ts';
import { MatchStore } from './matching/store.ts';
import { LookupService } from './lookup/lookup.ts';
import { RateLimiter } from './lookup/rate-limit.ts';
import { Exchange } from './p2p/exchange.ts';
import { readSwarmKey } from './p2p/host.ts';
import { buildApi, type Api } from './api/server.ts';
import { createTokenVerifier } from './api/auth.ts';
import { CaseDataAudit } from './api/case-data.ts';
import { ApiMetrics } from './api/metrics.ts';
import type { NetworkSource } from './api/resolvers/network.ts';
import { issueToken, loadOrCreateApiKey } from './api/tokens.ts';

export { GenesisError, type AllianceSummary } from './membership/founding.ts';

export interface RunningNode {
  /** Where GraphQL answers, e.g. http://127.0.0.1:4000/graphql. */
  graphqlUrl: string;
  /** Set on the very first start of a data directory: a short-lived admin token to begin with. */
  bootstrapToken: string | undefined;
  db: Database;
  api: Api;
  /** Prometheus metrics of the whole node (`/metrics`). */
  metrics: ApiMetrics;
  roster: RosterStore;
  records: RecordStore;
  matches: MatchStore;
  /** Signed batches and live indicators of every origin. */
  batches: BatchStore;
  /** Raises match alerts in every transaction that changes indicators. */
  matcher: Matcher;
  /** This member's record changes → signed batches; undefined without a member identity. */
  publisher: Publisher | undefined;
  /** The P2P side; undefined without a member identity (nothing to connect as). */
  exchange: Exchange | undefined;
  /** Which alliance the node is in, for the start-up line. */
  alliance: AllianceSummary;
  /** Stops taking requests, lets those in flight finish, stops every service, then closes storage. Safe to call twice. */
  stop(): Promise<void>;
}

export const BOOTSTRAP_TOKEN_TTL_SECONDS = 3600;

const HOUR_MS = 3_600_000;

/** Starts one member node over the configured storage. */
export async function startNode(config: Config, logger: Logger): Promise<RunningNode> {
  // Files first: a typo in a file name must not touch the storage.
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const apiKey = await loadOrCreateApiKey(config.dataDir);
  const genesis = config.genesis === undefined ? undefined : await loadGenesisFile(config.genesis);
  const adminKey = config.adminKeyFile === undefined ? undefined : await loadAdminKey(config.adminKeyFile);
  const psk = config.exchange.pskFile === undefined ? undefined : readSwarmKey(config.exchange.pskFile);
  const identity = hasMemberIdentity(config.dataDir) ? await loadMemberIdentity(config.dataDir) : undefined;
  const graceMs = config.exchange.epochGraceDays * 86_400_000;

  const db = await openStorage(config);
  const started: Startable[] = [];
  const stopStarted = async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
  };
  try {
    const backfill = await backfillCanonical(db, config.defaultRegion);
    if (backfill.filled || backfill.invalid) logger.info(backfill, 'identifiers given their canonical form');

    // Records and their outbox: every record write queues its ref for publishing.
    const records = new RecordStore(db);
    const outbox = new RecordOutbox(db);

    // Keys and roster. A new epoch key is installed as its epoch.new applies (also while the roster
    // catches up at open); every record is then derived again under it, while the previous epoch's
    // indicators stay matchable for the grace period.
    const keyring = new EpochKeyring(config.dataDir);
    const report = (o: EpochInstallOutcome) => {
      if (o.status === 'installed') {
        logger.info({ epoch: o.epoch }, 'epoch key installed');
        keyring.reload();
        if (identity !== undefined) {
          outbox.queueAll().then(
            (n) => logger.info({ epoch: o.epoch, records: n }, 'records queued for re-publishing under the new epoch'),
            (err: unknown) => logger.error({ err }, 'records could not be queued for the new epoch'),
          );
        }
      } else if (o.status === 'failed') logger.warn({ epoch: o.epoch, code: o.code, reason: o.message }, 'epoch key for this member could not be unwrapped');
    };
    const roster = await openRoster(db, { genesis, dataDir: config.dataDir, logger, onEpoch: epochKeyInstaller(config.dataDir, { report }) });
    const state = roster.state!;
    keyring.load(state.alliance);
    const alliance = await summarizeAlliance(state, config.dataDir);
    if (adminKey !== undefined) logger.info({ kid: adminKey.kid, admin: state.admins.some((a) => a.kid === adminKey.kid) }, 'admin key loaded: roster proposals approved through GraphQL are signed with it');
    const proposals = new RosterProposals(db, async () => roster, adminKey);
    const epochsLive = () => liveEpochs(roster.state, graceMs, new Date());

    // Audit.
    const audit = new AuditLog(db);
    const auditWriter = new AuditWriter(db);

    // Matching: every transaction that changes indicators goes through the matcher's database, so
    // the alerts it raises are pushed once committed.
    const metrics = new ApiMetrics({ countRecords: () => records.count() });
    const matchFeed = new MatchFeed((err) => logger.error({ err }, 'match subscribers failed'));
    const matcher = new Matcher(db, {
      self: () => alliance.member,
      roster: () => roster.state,
      liveEpochs: epochsLive,
      notify: db.kind === 'pg',
      // On PostgreSQL this process hears its own matches through LISTEN, like every other process.
      onRaised: db.kind === 'pg' ? undefined : (ids) => matchFeed.publish(ids),
      onTransition: (matchState, n) => metrics.matches.inc({ state: matchState }, n),
      onError: (err) => logger.error({ err }, 'matching failed; a full matching pass follows'),
    });
    const matches = new MatchStore(db);
    const matchListener = db.kind === 'pg' && config.databaseUrl !== undefined ? new MatchListener({ connectionString: config.databaseUrl, feed: matchFeed, logger }) : undefined;

    // Indicators: the batch store, and the purge of revoked members' indicators beside it (every
    // node runs it, with or without a member identity and so an exchange).
    const batches = new BatchStore(matcher.database, {
      roster: () => roster.state,
      graceMs,
      onError: (err) => logger.error({ err }, 'batch listener failed'),
      onIndicators: matcher.onIndicators,
    });
    const revocationPurge = new RevocationPurge({ store: batches, roster, logger });

    // Lookup, export, case-data audit.
    const lookup = new LookupService(db, { self: () => alliance.member, roster: () => roster.state, epochKeys: () => keyring.all(), liveEpochs: epochsLive }, auditWriter);
    const digestsOf = lookup.digestsOf.bind(lookup);
    const quota = () => new RateLimiter({ perMinute: config.lookup.ratePerMinute, burst: config.lookup.burst });

    // The network and publishing: only a node with a member identity has something to connect as.
    let exchange: Exchange | undefined;
    let publisher: Publisher | undefined;
    let ownKeys: OwnSigningKeys | undefined;
    if (identity !== undefined) {
      const ex = new Exchange({
        alliance: state.alliance,
        self: identity.profile.id,
        // The peer key the roster lists: after an in-place rotation the newer one waits for its member.update.
        privateKey: (peerFor(identity, memberById(state, identity.profile.id)) ?? identity.peer).privateKey,
        listen: config.p2p,
        psk,
        store: batches,
        roster,
        registry: metrics.registry,
        logger,
        headsIntervalMs: config.exchange.headsIntervalMs,
        connectionLimits: config.exchange.connectionLimits,
      });
      ownKeys = new OwnSigningKeys({ dataDir: config.dataDir, identity, roster, peerId: () => (exchange === undefined ? undefined : ex.host.peerId.toString()), logger });
      publisher = new Publisher(matcher.database, {
        self: ownKeys,
        outbox,
        roster: () => roster.state,
        epochKey: (e) => keyring.get(e),
        store: batches,
        lifetimeDays: config.exchange.indicatorLifetimeDays,
        batchItems: config.exchange.batchItems,
        windowMs: config.exchange.publishWindowMs,
        graceMs,
        onBatch: (jws) => ex.publishBatch(jws),
        onError: (err) => logger.error({ err }, 'publishing failed; retrying'),
      });
      exchange = ex;
    }
    const network: NetworkSource = exchange ?? {
      async status() {
        const heads = [...(await batches.heads())].map(([origin, h]) => ({ origin, seq: h.seq, localSeq: h.seq, lag: 0 }));
        return { peerId: null, listenAddrs: [], peers: [], heads };
      },
      batchAlarms: () => batches.alarms(),
    };

    // The API: transports only, over the services above.
    const api = await buildApi({
      config,
      logger,
      metrics,
      verifyToken: createTokenVerifier(config.auth, apiKey.publicKey),
      services: {
        storage: db,
        records,
        exporter: new RecordExporter(records, audit, digestsOf),
        audit,
        caseData: new CaseDataAudit(auditWriter, digestsOf),
        lookup,
        lookupQuota: quota(),
        normalizeQuota: quota(),
        matches,
        matchFeed,
        roster,
        rosterState: () => roster.state,
        proposals,
        network,
      },
    });
    const http: Startable = {
      start: async () => {
        await api.app.listen({ host: config.http.host, port: config.http.port });
      },
      stop: () => api.app.close(),
    };

    // Periodic work: matching caught up with what single steps cannot see (a full pass on the first
    // start with matching or after a failed step; origins ACTIVE again, also on each roster change),
    // expired indicators and audit rows past retention dropped, revoked members swept again.
    const jobs = new PeriodicJobs(
      [
        {
          name: 'matching caught up',
          everyMs: HOUR_MS,
          atStart: true,
          run: async () => {
            const r = await matcher.catchUp();
            return r.full || r.origins.length > 0 ? { full: r.full, origins: r.origins, raised: r.outcome?.raised.length ?? 0 } : undefined;
          },
        },
        {
          name: 'expired indicators dropped',
          everyMs: HOUR_MS,
          run: async () => {
            const n = await batches.expire();
            return n > 0 ? { indicators: n } : undefined;
          },
        },
        {
          name: 'audit rows past retention deleted',
          everyMs: HOUR_MS,
          atStart: true,
          run: async () => {
            const n = await audit.prune(config.audit.retentionDays);
            return n > 0 ? { rows: n, retentionDays: config.audit.retentionDays } : undefined;
          },
        },
        {
          name: 'revoked members swept',
          everyMs: HOUR_MS,
          run: async () => {
            await revocationPurge.sweep();
            return undefined;
          },
        },
      ],
      logger,
    );
    let unwatchMatching: (() => void) | undefined;
    const matchingFollowsRoster: Startable = {
      start: () => {
        unwatchMatching = roster.watch(() => jobs.runNow('matching caught up'));
      },
      stop: () => unwatchMatching?.(),
    };

    // Started in dependency order, stopped in reverse. The exchange listens before the publisher
    // hands it batches; HTTP opens last, once everything it serves runs, and so stops taking
    // requests first.
    const services: Array<Startable | undefined> = [matchListener, revocationPurge, exchange, ownKeys, publisher, jobs, matchingFollowsRoster, http];
    for (const s of services) {
      if (s === undefined) continue;
      await s.start();
      started.push(s);
    }
    if (exchange !== undefined) logger.info({ peerId: exchange.host.peerId.toString(), listen: exchange.host.getMultiaddrs().map(String) }, 'p2p listening');

    const address = api.app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
    const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
    const graphqlUrl = `http://${shownHost}:${port}/graphql`;
    const bootstrapToken = apiKey.created ? await issueToken(apiKey, config.auth, { role: 'admin', sub: 'bootstrap-admin', ttlSeconds: BOOTSTRAP_TOKEN_TTL_SECONDS }) : undefined;
    // Commands given only the data directory find this node there (listen-record.ts).
    recordListenAddress(config.dataDir, graphqlUrl);

    let stopping: Promise<void> | undefined;
    return {
      graphqlUrl,
      bootstrapToken,
      db,
      api,
      metrics,
      roster,
      records,
      matches,
      batches,
      matcher,
      publisher,
      exchange,
      alliance,
      stop() {
        stopping ??= (async () => {
          forgetListenAddress(config.dataDir, graphqlUrl);
          try {
            await stopStarted();
          } finally {
            await db.close();
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stopStarted().catch(() => undefined);
    await db.close();
    throw err;
  }
}
