import fs from 'node:fs';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Database } from './storage/database.ts';
import { openStorage } from './storage/open.ts';
import { backfillCanonical } from './records/backfill.ts';
import { buildApi, type Api } from './api/server.ts';
import { createTokenVerifier } from './api/auth.ts';
import { issueToken, loadOrCreateApiKey } from './api/tokens.ts';
import { AllianceError } from './errors.ts';
import { RosterStore } from './membership/roster-store.ts';
import { readRosterFile } from './membership/roster-file.ts';
import { epochKeyInstaller, type EpochInstallOutcome } from './membership/epoch-install.ts';
import { ensureDevelopmentAlliance, isDevelopmentAlliance } from './membership/dev-alliance.ts';
import { hasMemberIdentity, loadAdminKey, loadMemberIdentity, peerFor } from './membership/keys.ts';
import { isRosterError, memberById, parseSignedEntry, type RosterState } from './membership/roster.ts';
import { loadEpochKeys } from './membership/epoch-keys.ts';
import { epochKey, type EpochKey } from './indicators/derive.ts';
import { BatchStore } from './indicators/batch-store.ts';
import { Publisher } from './indicators/publisher.ts';
import { startExchange, type Exchange } from './p2p/exchange.ts';
import { readSwarmKey } from './p2p/host.ts';
import type { NetworkSource } from './api/resolvers/network.ts';
import { Matcher } from './matching/matcher.ts';
import { MatchFeed } from './matching/feed.ts';
import { MatchListener } from './matching/listener.ts';
import { forgetListenAddress, recordListenAddress } from './listen-record.ts';

export interface RunningNode {
  /** Where GraphQL answers, e.g. http://127.0.0.1:4000/graphql. */
  graphqlUrl: string;
  /** Set on the very first start of a data directory: a short-lived admin token to begin with. */
  bootstrapToken: string | undefined;
  db: Database;
  api: Api;
  roster: RosterStore;
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
  /** Stops taking requests, lets those in flight finish, then closes storage. Safe to call twice. */
  stop(): Promise<void>;
}

export const BOOTSTRAP_TOKEN_TTL_SECONDS = 3600;

export interface AllianceSummary {
  id: string;
  epoch: number;
  /** The single-member development alliance `start` founds without `--genesis`. */
  development: boolean;
  /** This node's member id (from its identity), if it has one. */
  member: string | undefined;
  /** Its status in the roster; undefined if it is not (yet) a member. */
  status: string | undefined;
  /** One line for humans: `alliance <id> (development, single member)` or `alliance <id>, member <id>, epoch N`. */
  line: string;
}

/** A genesis or roster log file that cannot start a node. */
export class GenesisError extends AllianceError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('GENESIS_INVALID', message, details);
  }
}

/** The entries of a `--genesis` file and the hash of its genesis (its first entry, seq 0). */
async function loadGenesisFile(file: string): Promise<{ entries: string[]; hash: string }> {
  const entries = readRosterFile(file);
  let parsed;
  try {
    parsed = await parseSignedEntry(entries[0]!);
  } catch (err) {
    if (isRosterError(err)) throw new GenesisError(`${file}: the first entry is not a valid signed roster entry (${err.reason}: ${err.message})`, { file });
    throw err;
  }
  if (parsed.entry.seq !== 0 || parsed.entry.type !== 'genesis') {
    throw new GenesisError(`${file}: the first entry must be the genesis (seq 0); it is a ${parsed.entry.type} at seq ${parsed.entry.seq}`, { file });
  }
  return { entries, hash: parsed.hash };
}

async function summarize(state: RosterState, dataDir: string): Promise<AllianceSummary> {
  const development = await isDevelopmentAlliance(state, dataDir);
  const id = hasMemberIdentity(dataDir) ? (await loadMemberIdentity(dataDir)).profile.id : undefined;
  const status = id === undefined ? undefined : memberById(state, id)?.status;
  let line: string;
  if (development && state.members.length === 1) line = `alliance ${state.alliance} (development, single member)`;
  else {
    const who = id === undefined ? 'no member identity here (alliance init)' : `member ${id}${status === undefined ? ' (not in the roster yet)' : status === 'ACTIVE' ? '' : ` (${status})`}`;
    line = `alliance ${state.alliance}${development ? ' (development)' : ''}, ${who}, epoch ${state.epoch}`;
  }
  return { id: state.alliance, epoch: state.epoch, development, member: id, status, line };
}

/** Starts one member node over the configured storage. */
export async function startNode(config: Config, logger: Logger): Promise<RunningNode> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const apiKey = await loadOrCreateApiKey(config.dataDir);
  // The genesis file first: a typo in its name must not touch the storage.
  const genesis = config.genesis === undefined ? undefined : await loadGenesisFile(config.genesis);
  const adminKey = config.adminKeyFile === undefined ? undefined : await loadAdminKey(config.adminKeyFile);
  const psk = config.exchange.pskFile === undefined ? undefined : readSwarmKey(config.exchange.pskFile);
  const db = await openStorage(config);
  const graceMs = config.exchange.epochGraceDays * 86_400_000;
  let api: Api;
  let roster: RosterStore;
  let alliance: AllianceSummary;
  let exchange: Exchange | undefined;
  let publisher: Publisher | undefined;
  let batches: BatchStore;
  let matcher: Matcher;
  let matchListener: MatchListener | undefined;
  const matchFeed = new MatchFeed((err) => logger.error({ err }, 'match subscribers failed'));
  let unwatchRoster: (() => void) | undefined;
  let unwatchMatching: (() => void) | undefined;
  // Unwrapped epoch keys of this alliance, reloaded whenever one is installed.
  let epochKeys = new Map<number, EpochKey>();
  const reloadEpochKeys = (allianceId: string) => {
    epochKeys = new Map(loadEpochKeys(config.dataDir, { alliance: allianceId }).map((k) => [k.epoch, epochKey(k.key)]));
  };
  try {
    const backfill = await backfillCanonical(db, config.defaultRegion);
    if (backfill.filled || backfill.invalid) logger.info(backfill, 'identifiers given their canonical form');
    const report = (o: EpochInstallOutcome) => {
      if (o.status === 'installed') {
        logger.info({ epoch: o.epoch }, 'epoch key installed');
        if (roster?.state) reloadEpochKeys(roster.state.alliance);
        // Re-derive every record under the new epoch; the previous epoch's indicators stay
        // matchable at peers for the grace period.
        if (publisher !== undefined) {
          publisher.requeueAll().then(
            (n) => logger.info({ epoch: o.epoch, records: n }, 'records queued for re-publishing under the new epoch'),
            (err: unknown) => logger.error({ err }, 'records could not be queued for the new epoch'),
          );
        }
      }
      else if (o.status === 'failed') logger.warn({ epoch: o.epoch, code: o.code, reason: o.message }, 'epoch key for this member could not be unwrapped');
    };
    roster = await RosterStore.open(db, { genesisHash: genesis?.hash, onEpoch: epochKeyInstaller(config.dataDir, { report }) });
    if (genesis !== undefined) {
      for (const [i, text] of genesis.entries.entries()) {
        try {
          const r = await roster.submit(text);
          if (r.applied) logger.info({ seq: r.seq, hash: r.hash }, 'roster entry applied from the genesis file');
        } catch (err) {
          if (isRosterError(err)) throw new GenesisError(`${config.genesis}: entry ${i + 1} (seq ${err.seq ?? '?'}) was refused: ${err.reason}: ${err.message}`, { reason: err.reason });
          throw err;
        }
      }
    } else {
      const dev = await ensureDevelopmentAlliance(roster, config.dataDir);
      if (dev) logger.info(dev, 'development alliance (single member): start with --genesis FILE to join a real one');
    }
    alliance = await summarize(roster.state!, config.dataDir);
    if (adminKey !== undefined) logger.info({ kid: adminKey.kid, admin: roster.state?.admins.some((a) => a.kid === adminKey.kid) ?? false }, 'admin key loaded: roster proposals approved through GraphQL are signed with it');
    const state = roster.state!;
    reloadEpochKeys(state.alliance);
    // Every transaction that changes indicators goes through the matcher's database, so the alerts it
    // raises are pushed once committed.
    matcher = new Matcher(db, {
      self: () => alliance.member,
      roster: () => roster.state,
      liveEpochs: () => batches.liveEpochs(),
      notify: db.kind === 'pg',
      // On PostgreSQL this process hears its own matches through LISTEN, like every other process.
      onRaised: db.kind === 'pg' ? undefined : (ids) => matchFeed.publish(ids),
      onTransition: (matchState, n) => api?.metrics.matches.inc({ state: matchState }, n),
      onError: (err) => logger.error({ err }, 'matching failed; a full matching pass follows'),
    });
    batches = new BatchStore(matcher.database, {
      roster: () => roster.state,
      graceMs,
      onError: (err) => logger.error({ err }, 'batch listener failed'),
      onIndicators: matcher.onIndicators,
    });
    const localNetwork: NetworkSource = {
      async status() {
        const heads = [...(await batches.heads())].map(([origin, h]) => ({ origin, seq: h.seq, localSeq: h.seq, lag: 0 }));
        return { peerId: null, listenAddrs: [], peers: [], heads };
      },
      batchAlarms: () => batches.alarms(),
    };
    api = await buildApi({
      config,
      db,
      logger,
      roster,
      adminKey,
      verifyToken: createTokenVerifier(config.auth, apiKey.publicKey),
      network: () => exchange ?? localNetwork,
      lookup: {
        self: () => alliance.member,
        roster: () => roster.state,
        epochKeys: () => epochKeys,
        liveEpochs: () => batches.liveEpochs(),
      },
      matchFeed,
    });
    if (db.kind === 'pg' && config.databaseUrl !== undefined) {
      matchListener = await MatchListener.start({ connectionString: config.databaseUrl, feed: matchFeed, logger });
    }
    const identity = hasMemberIdentity(config.dataDir) ? await loadMemberIdentity(config.dataDir) : undefined;
    if (identity !== undefined) {
      exchange = await startExchange({
        alliance: state.alliance,
        self: identity.profile.id,
        // The peer key the roster lists: after an in-place rotation the newer one waits for its member.update.
        privateKey: (peerFor(identity, memberById(state, identity.profile.id)) ?? identity.peer).privateKey,
        listen: config.p2p,
        psk,
        store: batches,
        roster,
        registry: api.metrics.registry,
        logger,
        headsIntervalMs: config.exchange.headsIntervalMs,
        connectionLimits: config.exchange.connectionLimits,
      });
      const ex = exchange;
      const self = { id: identity.profile.id, signingKeys: identity.signingKeys.map((k) => ({ kid: k.kid, privateKey: k.privateKey })) };
      publisher = new Publisher(matcher.database, {
        self,
        roster: () => roster.state,
        epochKey: (e) => epochKeys.get(e),
        store: batches,
        lifetimeDays: config.exchange.indicatorLifetimeDays,
        batchItems: config.exchange.batchItems,
        windowMs: config.exchange.publishWindowMs,
        graceMs,
        onBatch: (jws) => ex.publishBatch(jws),
        onError: (err) => logger.error({ err }, 'publishing failed; retrying'),
      });
      // A new epoch key installed while the node was down (or just before it stopped) must still
      // lead to re-publishing: this node's last batch is then of an older epoch.
      const lastEpoch = await batches.lastEpoch(identity.profile.id);
      if (lastEpoch !== null && lastEpoch < state.epoch && epochKeys.has(state.epoch)) await publisher.requeueAll();
      publisher.start();
      // A key rotated in place (alliance rotate-keys) while the node runs becomes the roster's once
      // its member.update applies: read the identity again then, so publishing goes on under it.
      unwatchRoster = roster.watch((st) => {
        const listed = memberById(st, self.id)?.peerId;
        if (listed !== undefined && listed !== ex.host.peerId.toString()) {
          logger.warn({ listed }, 'the roster lists a new peer id for this member: restart the node to connect with it');
        }
        const current = memberById(st, self.id)?.signingKeys.find((k) => k.validUntil === undefined || k.validUntil === null);
        if (current === undefined || self.signingKeys.some((k) => k.kid === current.kid)) return;
        loadMemberIdentity(config.dataDir).then(
          (fresh) => {
            self.signingKeys = fresh.signingKeys.map((k) => ({ kid: k.kid, privateKey: k.privateKey }));
            logger.info({ kid: current.kid, held: self.signingKeys.some((k) => k.kid === current.kid) }, 'signing key of this member rotated');
          },
          (err: unknown) => logger.error({ err }, 'member identity could not be read again after a key rotation'),
        );
      });
      logger.info({ peerId: ex.host.peerId.toString(), listen: ex.host.getMultiaddrs().map(String) }, 'p2p listening');
    }
    await api.app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await publisher?.stop().catch(() => undefined);
    await exchange?.stop().catch(() => undefined);
    await matchListener?.stop().catch(() => undefined);
    await db.close();
    throw err;
  }
  // Matching steps run inside every indicator change; what they cannot see is caught up here: a full
  // pass on the first start with matching (or after a failed step), and origins that became ACTIVE
  // again (in the background at start, on each roster change, and hourly).
  const catchUpMatches = () =>
    matcher.catchUp().then(
      (r) => {
        if (r.full || r.origins.length > 0) logger.info({ full: r.full, origins: r.origins, raised: r.outcome?.raised.length ?? 0 }, 'matching caught up');
      },
      (err: unknown) => logger.error({ err }, 'matching could not catch up; retrying within the hour'),
    );
  void catchUpMatches();
  unwatchMatching = roster.watch(() => void catchUpMatches());
  // Audit rows past ALLIANCE_AUDIT_RETENTION_DAYS go at start and then hourly, with expired indicators.
  const pruneAudit = () =>
    api.audit.prune(config.audit.retentionDays).then(
      (n) => {
        if (n > 0) logger.info({ rows: n, retentionDays: config.audit.retentionDays }, 'audit rows past retention deleted');
      },
      (err: unknown) => logger.error({ err }, 'deleting old audit rows failed'),
    );
  void pruneAudit();
  const expiryTimer = setInterval(() => {
    batches.expire().then(
      (n) => {
        if (n > 0) logger.info({ indicators: n }, 'expired indicators dropped');
      },
      (err: unknown) => logger.error({ err }, 'expiring indicators failed'),
    );
    void pruneAudit();
    void catchUpMatches();
  }, 3_600_000);
  expiryTimer.unref();
  const address = api.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;

  const bootstrapToken = apiKey.created
    ? await issueToken(apiKey, config.auth, { role: 'admin', sub: 'bootstrap-admin', ttlSeconds: BOOTSTRAP_TOKEN_TTL_SECONDS })
    : undefined;

  const graphqlUrl = `http://${shownHost}:${port}/graphql`;
  // Commands given only the data directory find this node there (listen-record.ts).
  recordListenAddress(config.dataDir, graphqlUrl);
  let stopping: Promise<void> | undefined;
  return {
    graphqlUrl,
    bootstrapToken,
    db,
    api,
    roster,
    batches,
    matcher,
    publisher,
    exchange,
    alliance,
    stop() {
      stopping ??= (async () => {
        forgetListenAddress(config.dataDir, graphqlUrl);
        clearInterval(expiryTimer);
        unwatchRoster?.();
        unwatchMatching?.();
        try {
          await api.app.close();
          await publisher?.stop();
          await exchange?.stop();
          await matchListener?.stop();
        } finally {
          await db.close();
        }
      })();
      return stopping;
    },
  };
}
