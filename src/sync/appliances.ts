import { randomBytes } from 'node:crypto';
import { BrandRepository } from '../accounts/brands.js';
import { AccountsError } from '../accounts/errors.js';
import { StoreRepository } from '../accounts/stores.js';
import { UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation, nowIso } from '../db/errors.js';
import { hashSecret } from '../db/hashed-secrets.js';
import { SyncError } from './errors.js';
import { feedHead } from './scope-cache.js';

/** Appliance names become HSM labels and account-key names (`appliance-<name>`): lower case, digits, single dashes. */
export const VALID_APPLIANCE_NAME = /^[a-z0-9](?:-?[a-z0-9]){0,39}$/;

export type ApplianceState = 'active' | 'disabled';

export interface ApplianceRecord {
  readonly id: number;
  readonly name: string;
  readonly storeId: string;
  readonly brandId: number;
  readonly state: ApplianceState;
  /** snapd key id of the identity key, once enrolled. */
  readonly identityKeyId: string | undefined;
  /** snapd-encoded public identity key, once enrolled. */
  readonly identityPublicKey: string | undefined;
  readonly createdAt: string;
  readonly enrolledAt: string | undefined;
  readonly disabledAt: string | undefined;
}

/** What the CLI and the admin API show of an appliance; never a token. */
export interface ApplianceView {
  readonly name: string;
  readonly store: string;
  readonly brand: string;
  readonly state: ApplianceState;
  readonly enrolled: boolean;
  readonly identityKeyId: string | null;
  readonly createdAt: string;
  readonly enrolledAt: string | null;
  readonly disabledAt: string | null;
  /** Keys whose private halves its HSM holds, as registered at enrolment. */
  readonly keys: ReadonlyArray<{ readonly label: string; readonly purpose: string; readonly state: string; readonly keyId: string }>;
  /** How it keeps up, as central last saw it; null before its first pull. */
  readonly sync: ApplianceSyncView | null;
}

export interface ApplianceSyncView {
  /** Its last pull of the change feed. */
  readonly lastPullAt: string;
  /** The change it had applied then, and how many central holds beyond it now. */
  readonly cursor: number;
  readonly changesBehind: number;
  /** Its last issuance push central took, and the appliance's own sequence that reached. */
  readonly lastPushAt: string | null;
  readonly issuancePushed: number;
}

const opt = (v: unknown) => (v === null || v === undefined ? undefined : String(v));

const toAppliance = (r: Record<string, unknown>): ApplianceRecord => ({
  id: Number(r['id']),
  name: String(r['name']),
  storeId: String(r['store_id']),
  brandId: Number(r['brand_id']),
  state: String(r['state']) as ApplianceState,
  identityKeyId: opt(r['identity_key_id']),
  identityPublicKey: opt(r['identity_public_key']),
  createdAt: String(r['created_at']),
  enrolledAt: opt(r['enrolled_at']),
  disabledAt: opt(r['disabled_at']),
});

/** The appliances table and its enrolment tokens (stored hashed, one-time, with an expiry). */
export class ApplianceRepository {
  constructor(private readonly db: Database) {}

  async byName(name: string): Promise<ApplianceRecord | undefined> {
    const row = await this.db('appliances').where({ name }).first();
    return row ? toAppliance(row) : undefined;
  }

  async byId(id: number): Promise<ApplianceRecord | undefined> {
    const row = await this.db('appliances').where({ id }).first();
    return row ? toAppliance(row) : undefined;
  }

  async list(brandId?: number): Promise<ApplianceRecord[]> {
    const q = this.db('appliances').orderBy('name');
    if (brandId !== undefined) q.where({ brand_id: brandId });
    return (await q).map(toAppliance);
  }

  async create(a: { name: string; storeId: string; brandId: number }, at: Date): Promise<ApplianceRecord> {
    const [row] = await this.db('appliances').insert({ name: a.name, store_id: a.storeId, brand_id: a.brandId, state: 'active', created_at: nowIso(at) }).returning('*');
    return toAppliance(row as Record<string, unknown>);
  }

  async setState(id: number, state: ApplianceState, at: Date): Promise<void> {
    await this.db('appliances').where({ id }).update({ state, disabled_at: state === 'disabled' ? nowIso(at) : null });
  }

  async setIdentity(id: number, identity: { keyId: string; publicKey: string }, at: Date): Promise<void> {
    await this.db('appliances').where({ id }).update({ identity_key_id: identity.keyId, identity_public_key: identity.publicKey, enrolled_at: nowIso(at) });
  }

  async addEnrolmentToken(applianceId: number, token: string, at: Date, expiresAt: Date): Promise<void> {
    await this.db('appliance_enrolment_tokens').insert({ token_hash: hashSecret(token), appliance_id: applianceId, created_at: nowIso(at), expires_at: nowIso(expiresAt), used_at: null });
  }

  /** The appliance a live, unused enrolment token is for (the token is not spent). */
  async enrolmentTokenFor(token: string, at: Date): Promise<ApplianceRecord | undefined> {
    const row = await this.db('appliance_enrolment_tokens').where({ token_hash: hashSecret(token) }).whereNull('used_at').andWhere('expires_at', '>', nowIso(at)).first();
    return row ? this.byId(Number(row.appliance_id)) : undefined;
  }

  /** Spends the token; false when it was unknown, used or expired. One statement: two enrolments racing with one token cannot both win. */
  async spendEnrolmentToken(token: string, at: Date): Promise<boolean> {
    const changed = await this.db('appliance_enrolment_tokens').where({ token_hash: hashSecret(token) }).whereNull('used_at').andWhere('expires_at', '>', nowIso(at)).update({ used_at: nowIso(at) });
    return Number(changed) === 1;
  }

  /** Keys whose private halves the appliance's HSM holds. */
  async heldKeys(name: string): Promise<ApplianceView['keys']> {
    const rows = (await this.db('signing_keys').where({ held_by: name }).orderBy('id').select('label', 'purpose', 'state', 'key_id')) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ label: String(r['label']), purpose: String(r['purpose']), state: String(r['state']), keyId: String(r['key_id']) }));
  }
}

export interface ApplianceServiceOptions {
  /** How long an enrolment token may wait to be used. */
  readonly enrolmentTokenHours?: number;
  readonly clock?: () => Date;
}

const DEFAULT_TOKEN_HOURS = 24;

/**
 * Central's register of appliances: adding one (with a one-time enrolment
 * token, shown once), listing, disabling and enabling. Every change is one
 * unit of work with its audit record.
 */
export class ApplianceService {
  readonly repository: ApplianceRepository;
  private readonly clock: () => Date;

  constructor(
    private readonly db: Database,
    private readonly options: ApplianceServiceOptions = {},
  ) {
    this.repository = new ApplianceRepository(db);
    this.clock = options.clock ?? (() => new Date());
  }

  /** Adds an appliance serving `storeId`'s subtree; the enrolment token is in the answer and nowhere else. */
  async add(name: string, storeId: string, actor: Actor, options: { expiresHours?: number; /** The admin API's scope: the store must be this brand's. */ brand?: string } = {}): Promise<{ appliance: ApplianceView; token: string; expiresAt: string }> {
    if (!VALID_APPLIANCE_NAME.test(name)) {
      throw new SyncError('ERR_ENROLMENT_FAILED', `"${name}" cannot be an appliance name: use up to 40 lower-case letters, digits and single dashes`);
    }
    const hours = options.expiresHours ?? this.options.enrolmentTokenHours ?? DEFAULT_TOKEN_HOURS;
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + hours * 3600_000);
    const token = `sve_${randomBytes(32).toString('base64url')}`;
    try {
      await new UnitOfWork(this.db, this.clock).run(actor, async (trx, audit) => {
        const store = await new StoreRepository(trx).byId(storeId);
        if (!store) throw new AccountsError('ERR_STORE_UNKNOWN', `no store "${storeId}": serial-vault store list shows them`);
        const brand = (await new BrandRepository(trx).byId(store.brandId))!;
        if (options.brand !== undefined && brand.accountId !== options.brand) throw new AccountsError('ERR_STORE_UNKNOWN', `brand "${options.brand}" has no store "${storeId}"`);
        const repo = new ApplianceRepository(trx);
        if (await repo.byName(name)) throw new SyncError('ERR_APPLIANCE_EXISTS', `appliance "${name}" already exists: choose another name`);
        const made = await repo.create({ name, storeId, brandId: brand.id }, now);
        await repo.addEnrolmentToken(made.id, token, now, expiresAt);
        await audit({ action: 'appliance.add', targetType: 'appliance', targetId: name, storeId: brand.accountId, before: null, after: { store: storeId, tokenExpiresAt: nowIso(expiresAt) } });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new SyncError('ERR_APPLIANCE_EXISTS', `appliance "${name}" already exists: choose another name`);
      throw e;
    }
    return { appliance: await this.show(name), token, expiresAt: nowIso(expiresAt) };
  }

  async list(brandAccountId?: string): Promise<ApplianceView[]> {
    let brandId: number | undefined;
    if (brandAccountId !== undefined) {
      const brand = await new BrandRepository(this.db).byAccountId(brandAccountId);
      if (!brand) throw new AccountsError('ERR_BRAND_UNKNOWN', `no brand "${brandAccountId}"`);
      brandId = brand.id;
    }
    const head = await feedHead(this.db);
    return Promise.all((await this.repository.list(brandId)).map((a) => this.view(a, head)));
  }

  /** One appliance; with `brandAccountId`, only if it is that brand's (the admin API's scope). */
  async show(name: string, brandAccountId?: string): Promise<ApplianceView> {
    return this.view(await this.record(name, brandAccountId), await feedHead(this.db));
  }

  disable(name: string, actor: Actor, brandAccountId?: string): Promise<ApplianceView> {
    return this.setState(name, 'disabled', actor, brandAccountId);
  }

  enable(name: string, actor: Actor, brandAccountId?: string): Promise<ApplianceView> {
    return this.setState(name, 'active', actor, brandAccountId);
  }

  /** A disabled appliance's next call is refused with ERR_APPLIANCE_DISABLED, whichever replica it reaches: every call reads its row. */
  private async setState(name: string, state: ApplianceState, actor: Actor, brandAccountId?: string): Promise<ApplianceView> {
    const a = await this.record(name, brandAccountId);
    if (a.state !== state) {
      await new UnitOfWork(this.db, this.clock).run(actor, async (trx, audit) => {
        await new ApplianceRepository(trx).setState(a.id, state, this.clock());
        const brand = await new BrandRepository(trx).byId(a.brandId);
        await audit({ action: state === 'disabled' ? 'appliance.disable' : 'appliance.enable', targetType: 'appliance', targetId: name, storeId: brand?.accountId ?? null, before: { state: a.state }, after: { state } });
      });
    }
    return this.show(name);
  }

  private async record(name: string, brandAccountId?: string): Promise<ApplianceRecord> {
    const a = await this.repository.byName(name);
    const brand = a && brandAccountId !== undefined ? await new BrandRepository(this.db).byAccountId(brandAccountId) : undefined;
    if (!a || (brandAccountId !== undefined && brand?.id !== a.brandId)) {
      throw new SyncError('ERR_APPLIANCE_UNKNOWN', `no appliance "${name}"${brandAccountId ? ` of brand "${brandAccountId}"` : ''}: serial-vault appliance list shows them`);
    }
    return a;
  }

  /** `head`: central's last change, read once for a whole list. */
  private async view(a: ApplianceRecord, head: number): Promise<ApplianceView> {
    const brand = await new BrandRepository(this.db).byId(a.brandId);
    return {
      name: a.name,
      store: a.storeId,
      brand: brand?.accountId ?? '',
      state: a.state,
      enrolled: a.enrolledAt !== undefined,
      identityKeyId: a.identityKeyId ?? null,
      createdAt: a.createdAt,
      enrolledAt: a.enrolledAt ?? null,
      disabledAt: a.disabledAt ?? null,
      keys: await this.repository.heldKeys(a.name),
      sync: await this.syncView(a.id, head),
    };
  }

  private async syncView(applianceId: number, head: number): Promise<ApplianceSyncView | null> {
    const pos = (await this.db('sync_positions').where('appliance_id', applianceId).first()) as Record<string, unknown> | undefined;
    if (!pos) return null;
    const push = (await this.db('sync_push_acks').where({ appliance_id: applianceId, kind: 'issuance' }).first()) as Record<string, unknown> | undefined;
    return {
      lastPullAt: String(pos['seen_at']),
      cursor: Number(pos['cursor']),
      changesBehind: Math.max(0, head - Number(pos['cursor'])),
      lastPushAt: push ? String(push['updated_at']) : null,
      issuancePushed: push ? Number(push['acked']) : 0,
    };
  }
}
