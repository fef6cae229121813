import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { databaseFile, storePublicUrl, type Config } from './config.js';
import { checkpointWhenIdle, migrate, openDatabase, type Database } from './db/database.js';
import { AccountsService } from './accounts/service.js';
import { OPERATOR } from './accounts/principal.js';
import { AuditService } from './audit/service.js';
import { createLogger } from './logging.js';
import { Metrics } from './http/metrics.js';
import type { KeyStore } from './keystore/keystore.js';
import { openTokenSet } from './keystore/token-set.js';
import { ModelService } from './catalog/model-service.js';
import { SnapService } from './catalog/snap-service.js';
import { Custody } from './custody/custody.js';
import { CeremonyService } from './custody/ceremonies.js';
import { ceremonyActions } from './custody/ceremony-actions.js';
import { keyHealth } from './custody/key-health.js';
import { ProvisioningService } from './provisioning/service.js';
import { StoreService } from './store/store-service.js';
import { openSync, type SyncService } from './sync/service.js';
import type { Vault, VaultOptions } from './vault.js';
import { useSoftHsmConfig } from './keystore/pkcs11/softhsm.js';

export { VERSION, type Vault, type VaultOptions } from './vault.js';

/**
 * The embedded SoftHSM2 configuration names its token directory by absolute
 * path; when the data directory has moved (snap refresh, restored backup),
 * point it at the tokens beside it again.
 */
async function followDataDir(config: Config): Promise<void> {
  const conf = config.hsm.softhsmConf;
  if (!conf || dirname(conf) !== config.dataDir) return;
  const text = await readFile(conf, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const tokens = join(config.dataDir, 'tokens');
  const updated = text.replace(/^directories\.tokendir\s*=.*$/m, `directories.tokendir = ${tokens}`);
  if (updated !== text) await writeFile(conf, updated, { mode: 0o600 });
}

export function databaseConfig(config: Config) {
  return config.database.client === 'sqlite'
    ? { client: 'sqlite' as const, filename: databaseFile(config) as string, busyTimeoutMs: config.database.busyTimeoutMs }
    : { client: 'pg' as const, connection: config.database.connection };
}

export async function openVault(config: Config, options: VaultOptions = {}): Promise<Vault> {
  const logger = options.logger ?? createLogger(config);
  if (config.hsm.softhsmConf) {
    await followDataDir(config);
    useSoftHsmConfig(config.hsm.softhsmConf);
  }
  const db = openDatabase(databaseConfig(config));
  const metrics = new Metrics();
  timeQueries(db, metrics);
  let keystore: KeyStore | undefined;
  let sync: SyncService | undefined;
  let stopMaintenance = () => undefined as void;
  try {
    const applied = await migrate(db);
    stopMaintenance = checkpointWhenIdle(db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    keystore =
      options.keystore ??
      (await openTokenSet([config.hsm.uri, ...config.hsm.tokens], {
        ...(config.hsm.signers !== undefined ? { signers: config.hsm.signers } : {}),
        signTimeoutMs: config.hsm.signTimeoutMs,
        // Every registration in flight may wait for a signer; beyond that the device API answers 503 itself.
        maxQueue: Math.max(config.device.maxInFlight, config.device.queueMax),
        onEvent: (e, token) => logger.warn({ event: e.type, token, ...('reason' in e ? { reason: e.reason } : {}) }, 'hsm'),
        onChange: (t) => logger.warn({ token: t.label, ...(t.problem ? { problem: t.problem } : {}) }, t.ok ? 'hsm token back in rotation' : 'hsm token out of rotation'),
      }));
    const signing = timedKeyStore(keystore, metrics);
    const custody = new Custody(db, signing);
    const snaps = new SnapService(db, custody, { blobDir: config.catalog.blobDir ?? join(config.dataDir, 'blobs'), maxSnapBytes: config.catalog.maxSnapBytes });
    const models = new ModelService(db, custody, snaps);
    // What an upload cut short left in the blob store's temporary folder.
    const swept = await snaps.blobs.sweep();
    if (swept > 0) logger.info({ files: swept }, 'removed unfinished uploads');
    // Built before provisioning: on an appliance its lease keeper numbers the serials, and only its own keys sign.
    sync = await openSync(config, {
      db,
      keystore: signing,
      custody,
      blobs: snaps.blobs,
      logger,
      onConflicts: (found) => {
        for (const c of found) metrics.syncConflicts.inc({ brand: c.brand, model: c.model });
      },
      onStatus: (s) => {
        if (s.pull.lagSeconds !== undefined) metrics.syncLagSeconds.set(s.pull.lagSeconds);
        if (s.pull.changesBehind !== undefined) metrics.syncChangesBehind.set(s.pull.changesBehind);
        for (const [kind, n] of Object.entries(s.push.backlog)) metrics.syncPushBacklog.set({ kind }, n);
        for (const m of s.leases.models) metrics.syncLeaseRemaining.set({ brand: m.brand, model: m.model }, m.left);
      },
    });
    const appliance = sync.role === 'appliance' ? sync : undefined;
    if (appliance?.name) custody.holdKeysAs(appliance.name);
    if (appliance) snaps.blobs.fetchMissingFrom((digest) => appliance.upstream.stream(`/sync/v1/blobs/${digest}`, { timeoutMs: 3600_000 }));
    const provisioning = new ProvisioningService(db, signing, { custody, models }, {
      ...(appliance ? { numbers: appliance.leases, ...(appliance.name ? { holder: appliance.name } : {}) } : {}),
      requestIdTtlMs: config.device.requestIdTtlSeconds * 1000,
      queue: { max: config.device.queueMax, answerWithinMs: config.device.answerWithinSeconds * 1000, keepAnswersMs: config.device.keepAnswersMinutes * 60_000 },
      observe: (e) => metrics.registrations.inc({ station: e.station, brand: e.brandId, model: e.model, outcome: e.outcome }),
    });
    await provisioning.start();
    const store = new StoreService(db, custody, snaps.blobs, {
      publicUrl: storePublicUrl(config),
      anonymousStore: config.store.anonymousStore,
      sessionTtlMs: config.store.sessionHours * 3600_000,
      nonceTtlMs: config.store.nonceSeconds * 1000,
      clockSkewMs: config.store.clockSkewSeconds * 1000,
    }, snaps.reads);
    const accounts = new AccountsService(db, { sessionTtlMs: config.admin.sessionHours * 3600_000, maxTokenDays: config.admin.maxTokenDays });
    // Checkpoints are signed in the background only once runVault starts them: a CLI command never makes the audit key.
    const audit = new AuditService(db, signing, { checkpointEvery: config.audit.checkpointEvery, checkpointIntervalMs: config.audit.checkpointMinutes * 60_000, logger });
    // Guarded key actions; the catalog's model-key change comes in from here (the catalog sits above custody).
    const ceremonies = new CeremonyService(db, custody, accounts, ceremonyActions(custody, db, (brand, model, key, actor) => models.changeSigningKey(brand.accountId, model, key, actor), {
        grant: (brand, email, ceremony) => accounts.grant(OPERATOR, brand.accountId, email, 'security-officer', { ceremony: ceremony ?? 0 }),
        revoke: (brand, email, ceremony) => accounts.revoke(OPERATOR, brand.accountId, email, 'security-officer', { ceremony: ceremony ?? 0 }),
      }),
    );
    // Used request-ids are kept a day after they expire (re-posts, audit), then forgotten.
    const pruner = setInterval(() => {
      void provisioning.requestIds.prune().catch(() => undefined);
      void accounts.pruneSessions().catch(() => undefined);
      void store.sessions.prune().catch(() => undefined);
      if (sync?.role === 'central') void sync.auth.prune().catch(() => undefined);
    }, 3600_000);
    pruner.unref();
    const stopCheckpointTimer = stopMaintenance;
    stopMaintenance = () => {
      clearInterval(pruner);
      stopCheckpointTimer();
    };
    const ks = keystore;
    const syncService = sync;
    return {
      config,
      db,
      keystore: ks,
      custody,
      models,
      snaps,
      provisioning,
      store,
      accounts,
      audit,
      ceremonies,
      sync: syncService,
      keyHealth: () => keyHealth({ custody, keystore: signing, ceremonies, models: () => models.list(), ...(appliance?.name ? { holder: appliance.name } : {}) }, new Date()),
      logger,
      metrics,
      async close() {
        stopMaintenance();
        if (syncService.role === 'appliance') await syncService.agent.stop();
        await provisioning.stop();
        await audit.stopCheckpoints();
        await ks.close();
        await db.destroy();
      },
    };
  } catch (e) {
    stopMaintenance();
    await keystore?.close();
    await db.destroy();
    throw e;
  }
}

/** Every statement's latency, into serial_vault_db_query_duration_seconds. */
function timeQueries(db: Database, metrics: Metrics): void {
  const started = new Map<string, number>();
  db.on('query', (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now()));
  const finished = (_: unknown, q: { __knexQueryUid: string }) => {
    const t = started.get(q.__knexQueryUid);
    if (t !== undefined) metrics.dbDuration.observe((performance.now() - t) / 1000);
    started.delete(q.__knexQueryUid);
  };
  db.on('query-response', finished);
  db.on('query-error', finished);
}

/** The keystore as the vault uses it, with every signature timed. */
function timedKeyStore(store: KeyStore, metrics: Metrics): KeyStore {
  const signDigest: KeyStore['signDigest'] = async (ref, digest) => {
    const end = metrics.hsmSignDuration.startTimer();
    try {
      return await store.signDigest(ref, digest);
    } finally {
      end();
    }
  };
  return {
    generate: (label) => store.generate(label),
    find: (ref) => store.find(ref),
    list: () => store.list(),
    signDigest,
    destroy: (ref) => store.destroy(ref),
    health: () => store.health(),
    ...(store.isAvailable ? { isAvailable: (ref: string) => store.isAvailable!(ref) } : {}),
    ...(store.tokens ? { tokens: () => store.tokens!() } : {}),
    ...(store.generateOn ? { generateOn: (token: string, label: string) => store.generateOn!(token, label) } : {}),
    close: () => store.close(),
    ...(store.load ? { load: () => store.load!() } : {}),
  };
}
