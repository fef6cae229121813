import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { VaultError } from '../errors.js';
import type { NumberAllocator } from '../provisioning/number-allocator.js';
import { SyncError } from './errors.js';
import type { Lease } from './leases.js';
import type { Upstream } from './upstream.js';

export interface LeaseKeeperOptions {
  /** Numbers asked for per lease (config upstream.leaseSize). */
  readonly leaseSize: number;
  /** How often every numbered model's holding is checked and topped up. */
  readonly checkEveryMs?: number;
  readonly clock?: () => Date;
  /** Told of a lease central could not grant (the sync agent logs it; nothing secret in it). */
  readonly onError?: (model: string, e: unknown) => void;
}

export interface LeaseStatus {
  readonly models: ReadonlyArray<{ readonly brand: string; readonly model: string; readonly left: number }>;
  readonly lastLeaseAt: string | undefined;
  /** The last lease central could not grant; cleared by the next one it grants. */
  readonly lastError: { readonly at: string; readonly model: string; readonly code: string; readonly message: string } | undefined;
}

const CHECK_EVERY_MS = 30_000;
/** After a lease central could not grant, background renewals wait this long (a serial with no number left still asks at once). */
const QUIET_AFTER_FAILURE_MS = 5_000;

interface ModelRef {
  readonly id: number;
  readonly brand: string;
  readonly name: string;
}

/**
 * An appliance's serial template numbers: ranges leased from central per
 * model (`sync_lease_holds`, a local table), taken one number at a time in
 * the issuing transaction. When a fifth of a lease is left it asks central
 * for the next one in the background, so a link that is down for a while
 * goes unnoticed by the factory line; only when every held number is used
 * and central cannot be reached is a serial refused
 * (ERR_SYNC_LEASE_EXHAUSTED, a 503 snapd retries).
 */
export class LeaseKeeper implements NumberAllocator {
  private readonly renewing = new Map<number, Promise<void>>();
  private readonly clock: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private lastLeaseAt: string | undefined;
  private lastError: LeaseStatus['lastError'];

  constructor(
    private readonly db: Database,
    private readonly upstream: Upstream,
    private readonly options: LeaseKeeperOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Renewal starts at or below this many numbers left. */
  get threshold(): number {
    return Math.floor(this.options.leaseSize / 5);
  }

  /** Leases every numbered model at once (so a link lost right after enrolment costs nothing), then checks them periodically. */
  start(): void {
    if (this.timer) return;
    void this.topUp();
    this.timer = setInterval(() => void this.topUp(), this.options.checkEveryMs ?? CHECK_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.renewing.values()]);
  }

  async take(trx: Database, modelId: number): Promise<number | undefined> {
    // The lowest range that has numbers left, moved by one in one statement.
    const lowest = trx('sync_lease_holds').min('first_number').where({ model_id: modelId }).andWhere('next_number', '<', trx.ref('end_number'));
    const [moved] = await trx('sync_lease_holds')
      .where({ model_id: modelId })
      .andWhere('next_number', '<', trx.ref('end_number'))
      .andWhere('first_number', '=', lowest)
      .increment('next_number', 1)
      .returning('next_number');
    if (moved === undefined) return undefined;
    const number = Number(typeof moved === 'object' ? (moved as { next_number: number }).next_number : moved) - 1;
    if ((await this.left(modelId, trx)) <= this.threshold) this.renewSoon(modelId);
    return number;
  }

  /** Every held number is used: a lease now, or the refusal that says the line must wait for central. */
  async replenish(modelId: number): Promise<void> {
    try {
      await this.renew(modelId);
    } catch (e) {
      const model = await this.model(modelId).catch(() => undefined);
      const why = e instanceof VaultError ? e.code : 'an unexpected fault';
      throw new SyncError('ERR_SYNC_LEASE_EXHAUSTED', `model "${model?.name ?? modelId}" has used every serial number leased from central, and central cannot lease more now (${why}); its serials resume once central is reachable`, { cause: why });
    }
  }

  /** Numbers left per numbered model, and how the last lease went. */
  async status(): Promise<LeaseStatus> {
    const models = await this.numberedModels();
    const left = (await this.db('sync_lease_holds').groupBy('model_id').select('model_id').sum({ left: this.db.raw('end_number - next_number') })) as Array<{ model_id: number; left: number | string | null }>;
    const byModel = new Map(left.map((r) => [Number(r.model_id), Number(r.left ?? 0)]));
    return {
      models: models.map((m) => ({ brand: m.brand, model: m.name, left: byModel.get(m.id) ?? 0 })),
      lastLeaseAt: this.lastLeaseAt,
      lastError: this.lastError,
    };
  }

  /** Asks for a lease for every numbered model at or below the threshold; failures are kept for status and retried next time. */
  async topUp(): Promise<void> {
    const models = await this.numberedModels().catch(() => []);
    for (const m of models) {
      if ((await this.left(m.id).catch(() => Infinity)) > this.threshold) continue;
      await this.renew(m.id).catch(() => undefined);
    }
  }

  private renewSoon(modelId: number): void {
    const failedAt = this.lastError ? Date.parse(this.lastError.at) : Number.NaN;
    if (this.clock().getTime() - failedAt < QUIET_AFTER_FAILURE_MS) return;
    // Outside the issuing transaction: the call to central must not hold the database.
    setImmediate(() => void this.renew(modelId).catch(() => undefined));
  }

  /** One lease request per model at a time; callers meanwhile share its outcome. */
  private renew(modelId: number): Promise<void> {
    const running = this.renewing.get(modelId);
    if (running) return running;
    const done = this.lease(modelId).finally(() => this.renewing.delete(modelId));
    this.renewing.set(modelId, done);
    return done;
  }

  private async lease(modelId: number): Promise<void> {
    const model = await this.model(modelId);
    if (!model) throw new SyncError('ERR_SYNC_LEASE_INVALID', `model ${modelId} is not known here; wait for central's models to arrive`);
    const size = this.options.leaseSize;
    try {
      const lease = await this.upstream.request<Lease>('POST', '/sync/v1/leases', { json: { brand: model.brand, model: model.name, size } });
      const { first, end } = lease;
      if (!Number.isSafeInteger(first) || !Number.isSafeInteger(end) || first < 0 || end <= first || end - first > size) {
        throw new SyncError('ERR_UPSTREAM_UNAVAILABLE', `central answered a lease for model "${model.name}" that is not a range of at most ${size} numbers`);
      }
      const at = nowIso(this.clock());
      await this.db('sync_lease_holds').insert({ model_id: model.id, brand_id: model.brand, model: model.name, first_number: first, next_number: first, end_number: end, granted_at: at }).onConflict(['model_id', 'first_number']).ignore();
      this.lastLeaseAt = at;
      this.lastError = undefined;
    } catch (e) {
      this.lastError = { at: nowIso(this.clock()), model: model.name, code: e instanceof VaultError ? e.code : 'ERR_INTERNAL', message: e instanceof VaultError ? e.message : 'the lease could not be stored' };
      this.options.onError?.(model.name, e);
      throw e;
    }
  }

  private async left(modelId: number, trx: Database = this.db): Promise<number> {
    const [row] = (await trx('sync_lease_holds').where({ model_id: modelId }).sum({ left: trx.raw('end_number - next_number') })) as Array<{ left: number | string | null }>;
    return Number(row?.left ?? 0);
  }

  private async model(modelId: number): Promise<ModelRef | undefined> {
    const row = (await this.db('models as m').join('brands as b', 'b.id', 'm.brand_id').where('m.id', modelId).first('m.id', 'm.name', 'b.account_id')) as { id: number; name: string; account_id: string } | undefined;
    return row ? { id: Number(row.id), name: row.name, brand: row.account_id } : undefined;
  }

  /** The models whose serials are numbered by a template: the ones that need leases. */
  private async numberedModels(): Promise<ModelRef[]> {
    const rows = (await this.db('models as m').join('brands as b', 'b.id', 'm.brand_id').where({ 'm.serial_policy': 'template', 'm.enabled': true }).orderBy('m.id').select('m.id', 'm.name', 'b.account_id')) as Array<{
      id: number;
      name: string;
      account_id: string;
    }>;
    return rows.map((r) => ({ id: Number(r.id), name: r.name, brand: r.account_id }));
  }
}
