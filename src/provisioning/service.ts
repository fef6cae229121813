import type { ModelService } from '../catalog/model-service.js';
import type { Database } from '../db/database.js';
import { vaultSecret } from '../db/settings.js';
import type { KeyStore } from '../keystore/keystore.js';
import type { Custody } from '../custody/custody.js';
import { CustodyError } from '../custody/errors.js';
import { COMMITTED } from '../audit/unit-of-work.js';
import { ShortCache } from '../db/short-cache.js';
import { VaultError } from '../errors.js';
import { ApiKeyAdmin } from './api-key-admin.js';
import { ApiKeyRepository, type ApiKeyRecord } from './api-keys.js';
import { ProvisioningError } from './errors.js';
import { transient } from './transient.js';
import { IssuanceWriter } from './issuance-writer.js';
import { keyAdmitsModel, modelIsEnabled, readSerialRequest, sentModelIsRegistered, stationIsOpen, type AdmissionCheck, type Registration } from './admission.js';
import { SerialIssuer, type IssueResult, type Nonce } from './issuer.js';
import { prepareIssuance } from './issuance-plan.js';
import { serialChecks } from './serial-checks.js';
import { QUEUE_DEFAULTS, type QueueOptions, RegistrationQueue, PENDING, type Pending } from './registration-queue.js';
import { RegistrationStats, type RegistrationOutcome } from './registration-stats.js';
import { RemodelRules } from './remodel.js';
import { RegistrationSteps } from './registration-steps.js';
import { RequestIdRepository } from './request-ids.js';
import { SerialRepository } from './serials.js';
import type { NumberAllocator } from './number-allocator.js';
import { StationQuotas } from './quotas.js';
import { StationAdmin } from './station-admin.js';
import { StationRepository } from './stations.js';
import { HardwareIdentities } from './hardware-identities.js';
import { FactoryLines } from './factory-lines.js';
import { SystemUserService } from './system-users.js';
import { AllowLists } from './allowlists.js';
import { IssuanceSearch } from './issuance-search.js';

export { PENDING, type Pending } from './registration-queue.js';
export type { IssueResult } from './issuer.js';

export interface ProvisioningOptions {
  readonly requestIdTtlMs: number;
  readonly queue?: QueueOptions;
  readonly clock?: () => Date;
  /** Told of every registration's outcome (the metrics). */
  readonly observe?: (event: { station: string; brandId: string; model: string; outcome: RegistrationOutcome }) => void;
  /** Where serial template numbers come from; default the model's own counter (an appliance passes its lease keeper). */
  readonly numbers?: NumberAllocator;
  /** On an appliance, its name: only keys its own HSM holds (signing_keys.held_by) sign here. Unset on central and standalone. */
  readonly holder?: string;
}

export interface IssueInput {
  readonly apiKey: string | undefined;
  /** The body snapd posts: serial-request, then the model (then, on remodel, the old serial). */
  readonly body: Buffer;
  readonly clientAddress?: string;
}

const CACHE_MS = 5000;

/**
 * Device registration, as snapd's devicestate expects it: request ids, then
 * serial-requests admitted (API key and its station, hardware identity,
 * remodel policy) and answered with a serial signed in the HSM, or a 202
 * while the HSM catches up. Idempotent per (brand, model, device key);
 * every answer is logged in the same transaction as the serial it gives.
 */
export class ProvisioningService {
  readonly apiKeys: ApiKeyRepository;
  /** Creating and revoking API keys, audited. */
  readonly apiKeyAdmin: ApiKeyAdmin;
  readonly stations: StationRepository;
  /** Creating and changing stations, audited. */
  readonly stationAdmin: StationAdmin;
  readonly quotas: StationQuotas;
  readonly requestIds: RequestIdRepository;
  readonly serials: SerialRepository;
  readonly remodelRules: RemodelRules;
  readonly hardwareIdentities: HardwareIdentities;
  /** Registrations per hour, station, model and outcome. */
  readonly stats: RegistrationStats;
  /** The serials a station with an allow-list may issue, imported in bulk. */
  readonly allowLists: AllowLists;
  /** system-user assertions for factory service accounts, signed in the HSM, revisions tracked. */
  readonly systemUsers: SystemUserService;
  /** Stations, their API keys, remodel rules and reports, by name: what the CLI and the admin API call. */
  readonly factory: FactoryLines;
  /** The issuance log searched by serial, model, station and time. */
  readonly issuances: IssuanceSearch;
  private readonly writer: IssuanceWriter;
  private readonly issuer: SerialIssuer;
  private readonly queue: RegistrationQueue<IssueResult>;
  /** Model, remodel, request-id and hardware identity: read before anything is reserved. */
  private readonly steps: RegistrationSteps;
  /** The admission checks, in order (see admission.ts). */
  private readonly admission: readonly AdmissionCheck[];
  private origin = '';
  /** Moves on with every registration: which of a model's keys signs first. */
  private turn = 0;
  private readonly clock: () => Date;
  /** API keys, stations, models and the brand's keys, for a few seconds (short-cache.ts). */
  private readonly cache = new ShortCache(CACHE_MS);

  constructor(
    private readonly db: Database,
    private readonly keystore: KeyStore,
    private readonly parts: { readonly custody: Custody; readonly models: ModelService },
    private readonly options: ProvisioningOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.apiKeys = new ApiKeyRepository(db);
    this.apiKeyAdmin = new ApiKeyAdmin(db, this.clock);
    this.stations = new StationRepository(db);
    this.stationAdmin = new StationAdmin(db, this.clock);
    this.quotas = new StationQuotas(db);
    this.requestIds = new RequestIdRepository(db, options.requestIdTtlMs, this.clock);
    this.serials = new SerialRepository(db, this.clock, options.numbers);
    this.remodelRules = new RemodelRules(db, this.clock);
    this.hardwareIdentities = new HardwareIdentities(db, this.clock);
    this.stats = new RegistrationStats(db, this.clock);
    this.writer = new IssuanceWriter(db, this.clock);
    this.systemUsers = new SystemUserService(db, parts.custody, this.clock);
    this.allowLists = new AllowLists(db, this.clock);
    this.issuances = new IssuanceSearch(db);
    this.factory = new FactoryLines({
      stations: this.stations,
      admin: this.stationAdmin,
      apiKeys: this.apiKeys,
      quotas: this.quotas,
      rules: this.remodelRules,
      stats: this.stats,
      models: parts.models,
      clock: this.clock,
    });
    this.issuer = new SerialIssuer(db, keystore, {
      custody: parts.custody,
      serials: this.serials,
      requestIds: this.requestIds,
      writer: this.writer,
      quotas: this.quotas,
      serialChecks: serialChecks(db, this.cache),
    });
    this.steps = new RegistrationSteps({
      custody: parts.custody,
      models: parts.models,
      remodelRules: this.remodelRules,
      hardwareIdentities: this.hardwareIdentities,
      requestIds: this.requestIds,
      cache: this.cache,
    });
    // A refusal the job ended in is the answer for its re-post; a fault that may pass is tried again.
    this.queue = new RegistrationQueue(options.queue ?? QUEUE_DEFAULTS, (e) => e instanceof VaultError && !(e instanceof ProvisioningError && e.code === 'ERR_TEMPORARILY_UNAVAILABLE'));
    // A key rotated or revoked, a model, station or API key changed here: read again at once.
    db.on(COMMITTED, () => this.cache.clear());
    this.admission = [
      keyAdmitsModel,
      stationIsOpen(this.clock),
      modelIsEnabled,
      sentModelIsRegistered((model) => this.steps.modelAssertion(model)),
      (r) => this.steps.remodelIsAllowed(r),
    ];
  }

  /** Called once at start-up: reservations of a previous run are free again. */
  async start(): Promise<void> {
    await this.requestIds.start();
    // This instance's name in its issuance log: stable for the database, so a push upstream is idempotent by (origin, row).
    this.origin = (await vaultSecret(this.db, 'instance-id', 16)).toString('hex');
    await this.serials.releaseAllReservations();
  }

  /** Waits for registrations answered 202 that are still being signed, and writes the figures counted. */
  async stop(): Promise<void> {
    await this.queue.drain();
    await this.stats.flush();
  }

  /** Registrations being signed now (answered or not). */
  get queued(): number {
    return this.queue.depth;
  }

  /** Whether some model onboards by hardware identity, so a device may come without an API key. */
  private keylessAllowed(): Promise<boolean> {
    return this.cache.get('keyless', () => this.parts.models.list().then((ms) => ms.some((m) => m.provisioning === 'hardware-identity'))).catch(transient);
  }

  private async authenticate(apiKey: string | undefined): Promise<ApiKeyRecord | undefined> {
    if (apiKey === undefined && (await this.keylessAllowed())) return undefined;
    const record = await this.cache.get(`key\0${apiKey ?? ''}`, () => this.apiKeys.verify(apiKey)).catch(transient);
    if (!record) {
      this.count({ station: '', brandId: '', model: '' }, 'refused:ERR_API_KEY_INVALID');
      throw new ProvisioningError('ERR_API_KEY_INVALID', apiKey ? 'the api-key header is not a valid API key of this vault' : 'the api-key header is missing: set it in the gadget\'s device-service.headers');
    }
    return record;
  }

  /** Refuses a missing or invalid api-key (missing is fine while some model onboards by hardware identity); answered from a short cache. */
  async checkApiKey(apiKey: string | undefined): Promise<void> {
    await this.authenticate(apiKey);
  }

  async newRequestId(apiKey: string | undefined): Promise<string> {
    const key = await this.authenticate(apiKey);
    // A device without a key gets an id bound to no key (0): its hardware identity stands in at serial time.
    return this.requestIds.create(key?.id ?? 0).catch(transient);
  }

  private count(r: { station: string; brandId: string; model: string }, outcome: RegistrationOutcome): void {
    const event = { ...r, outcome };
    this.stats.count(event);
    this.options.observe?.(event);
  }

  /**
   * A registration, as a list of named steps: who is asking, what they ask,
   * for which model, whether they are admitted, whether the request-id is
   * fresh, which hardware identity they prove; then the serial they
   * already have, or a new one, or a 202 while the HSM catches up.
   */
  async issueSerial(input: IssueInput): Promise<IssueResult | Pending> {
    const key = await this.authenticate(input.apiKey);
    const station = key ? await this.cache.get(`station\0${key.stationId}`, () => this.stations.byId(key.stationId)).catch(transient) : undefined;
    const who = { station: station?.name ?? '', brandId: station?.brandId ?? '', model: '' };
    try {
      const registration = await this.steps.identifyModel(key, station, readSerialRequest(input.body), input.clientAddress);
      Object.assign(who, { brandId: registration.model.brandAccountId, model: registration.model.name });
      for (const check of this.admission) await check(registration);
      const nonce = await this.steps.useRequestId(registration);
      const identity = await this.steps.proveIdentity(registration);
      const result = await this.queue.run(nonce.requestHash, () => this.issue(registration, nonce, identity));
      this.count(who, result === PENDING ? 'queued' : result.outcome);
      return result;
    } catch (e) {
      if (e instanceof VaultError) this.count(who, `refused:${e.code}`);
      throw e;
    }
  }

  /** The serial the device has, or a new one; a key choice made stale by another process is made once more. */
  private async issue(r: Registration, nonce: Nonce, identity: { id: number; keyDigest: string } | undefined): Promise<IssueResult> {
    const plan = () =>
      prepareIssuance(r, nonce, identity, {
        custody: this.parts.custody,
        keystore: this.keystore,
        cache: this.cache,
        serialKeyIds: (id) => this.parts.models.repository.serialKeyIds(id),
        clock: this.clock,
        origin: this.origin,
        turn: this.turn++,
        holder: this.options.holder,
      });
    const issuance = await plan();
    try {
      return (await this.issuer.repeatFor(issuance)) ?? (await this.issuer.issueNew(issuance));
    } catch (e) {
      // The key chosen from a cached read was rotated or revoked by another process a moment ago:
      // read the brand's keys again and sign once more with the key in use now.
      if (!(e instanceof CustodyError && e.code === 'ERR_SIGNING_KEY_UNUSABLE' && issuance.signingKeyFromCache)) throw e;
      this.cache.delete(`brand-keys\0${r.model.brandAccountId}`);
      const fresh = await plan();
      return (await this.issuer.repeatFor(fresh)) ?? (await this.issuer.issueNew(fresh));
    }
  }
}
