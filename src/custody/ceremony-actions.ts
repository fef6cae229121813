import type { Brand } from '../accounts/brands.js';
import { formatRfc3339, parseRfc3339 } from '../assertions/index.js';
import type { Actor } from '../audit/unit-of-work.js';
import type { CeremonyActionSpec, CeremonyActions } from './ceremonies.js';
import { CEREMONY_ACTIONS, CeremonyStore, isCeremonyAction } from './ceremony-store.js';
import type { Custody } from './custody.js';
import { CustodyError } from './errors.js';
import { rootLabel, type KeyPurpose } from './signing-keys.js';
import { UnitOfWork } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';

const purposeOf = (v: string | undefined): KeyPurpose => {
  if (v !== 'serials' && v !== 'models' && v !== 'store') throw new CustodyError('ERR_KEY_PURPOSE_INVALID', `a brand key's purpose is serials, models or store, not "${v ?? ''}"`);
  return v;
};

/** A time as RFC 3339 with its zone (never the server's local time), or none. */
const timeOf = (v: string | undefined): Date | undefined => {
  if (v === undefined || v === '') return undefined;
  const t = parseRfc3339(v);
  if (!t) throw new CustodyError('ERR_CEREMONY_ACTION_INVALID', `"${v}" is not an RFC 3339 time with its zone, e.g. 2027-01-01T00:00:00Z`);
  return t;
};

async function brandKeyNamed(custody: Custody, brand: Brand, label: string | undefined) {
  const key = label ? await custody.keys.byLabel(label) : undefined;
  if (!key || key.brandId !== brand.id) throw new CustodyError('ERR_SIGNING_KEY_UNKNOWN', `brand "${brand.accountId}" has no key "${label ?? ''}": serial-vault key states --brand ${brand.accountId} lists them`);
  return key;
}

/** Changes a model's key: given by the catalog, which holds models (above custody). */
export type ModelKeyChange = (brand: Brand, model: string, keyLabel: string, actor: Actor) => Promise<unknown>;

/** Appoints or removes a security officer of the brand's store: given by the accounts, under the ceremony that ran. */
export interface OfficerChanges {
  grant(brand: Brand, email: string, ceremony: number | undefined): Promise<unknown>;
  revoke(brand: Brand, email: string, ceremony: number | undefined): Promise<unknown>;
}

/**
 * The guarded actions and what each runs. The catalog's model-key change
 * comes in from the composition root, as the catalog sits above custody.
 */
export function ceremonyActions(custody: Custody, db: Database, changeModelKey: ModelKeyChange, officers: OfficerChanges): CeremonyActions {
  const lifecycle = custody.lifecycle;
  const actions: Record<(typeof CEREMONY_ACTIONS)[number], CeremonyActionSpec> = {
    'key.create': {
      required: ['brand', 'purpose'],
      // With several HSM tokens: the one the key is made in.
      optional: ['token'],
      check: (p) => void purposeOf(p['purpose']),
      run: (p, brand, actor) => lifecycle.create(brand, purposeOf(p['purpose']), actor, p['token'] ? { token: p['token'] } : {}),
    },
    'key.rotate': {
      required: ['brand', 'purpose'],
      optional: ['key', 'at'],
      // The key replaced and the time are fixed when proposed: what the approvers see is what runs.
      async check(p, brand) {
        const at = timeOf(p['at']);
        const current = await lifecycle.current(brand, purposeOf(p['purpose']), p['key']);
        lifecycle.checkRotatable(current);
        return { brand: brand.accountId, purpose: p['purpose']!, key: current.label, ...(at ? { at: formatRfc3339(at) } : {}) };
      },
      run: (p, brand, actor) => {
        const at = timeOf(p['at']);
        return lifecycle.rotate(brand, purposeOf(p['purpose']), actor, { ...(p['key'] ? { label: p['key'] } : {}), ...(at ? { at } : {}) });
      },
    },
    'key.revoke': {
      required: ['brand', 'key'],
      async check(p, brand) {
        const key = await brandKeyNamed(custody, brand, p['key']);
        if (key.state === 'revoked') throw new CustodyError('ERR_KEY_NOT_ACTIVE', `key "${key.label}" is already revoked`);
      },
      run: (p, _brand, actor) => lifecycle.revoke(p['key']!, actor),
    },
    'key.destroy': {
      required: ['brand', 'key'],
      async check(p, brand) {
        const key = await brandKeyNamed(custody, brand, p['key']);
        if (key.state !== 'revoked') throw new CustodyError('ERR_KEY_NOT_ACTIVE', `key "${key.label}" must be revoked before it is destroyed`);
      },
      run: (p, _brand, actor) => lifecycle.destroy(p['key']!, actor),
    },
    'authority.create': {
      required: ['brand', 'authority', 'name'],
      async check(p) {
        const id = p['authority']!;
        if ((await custody.keys.byLabel(rootLabel(id))) || (await custody.brands.byAccountId(id)) || (await custody.assertions.get('account', [id]))) {
          throw new CustodyError('ERR_CEREMONY_ACTION_INVALID', `account "${id}" already exists in this vault: an authority needs an account id of its own`);
        }
      },
      run: (p, _brand, actor) => custody.authorities.createAuthority(p['authority']!, p['name']!, actor),
    },
    'model.signing-key': {
      required: ['brand', 'model', 'key'],
      async check(p, brand) {
        const key = await brandKeyNamed(custody, brand, p['key']);
        if (key.purpose !== 'serials') throw new CustodyError('ERR_KEY_PURPOSE_INVALID', `key "${key.label}" is a ${key.purpose} key; a model's serials are signed by a serials key`);
      },
      run: (p, brand, actor) => changeModelKey(brand, p['model']!, p['key']!, actor),
    },
    'officer.grant': {
      required: ['brand', 'email'],
      run: (p, brand, _actor, ceremony) => officers.grant(brand, p['email']!, ceremony),
    },
    'officer.revoke': {
      required: ['brand', 'email'],
      run: (p, brand, _actor, ceremony) => officers.revoke(brand, p['email']!, ceremony),
    },
    'ceremony.policy': {
      required: ['brand', 'approvals'],
      optional: ['actions', 'expiryHours'],
      check: (p) => void policyOf(p),
      async run(p, brand, actor) {
        const policy = policyOf(p);
        await new UnitOfWork(db).run(actor, async (trx, record) => {
          const store = new CeremonyStore(trx);
          const before = await store.policy(brand.id);
          await store.setPolicy(brand.id, policy);
          await record({ action: 'ceremony.policy', targetType: 'brand', targetId: brand.accountId, storeId: brand.accountId, before, after: policy });
        });
        return policy;
      },
    },
  };
  return actions;
}

/** A policy from ceremony parameters: M from 1 to 9, known actions, an expiry from 1 hour to 30 days. */
export function policyOf(p: Readonly<Record<string, string>>) {
  const approvals = Number(p['approvals']);
  if (!Number.isInteger(approvals) || approvals < 1 || approvals > 9) throw new CustodyError('ERR_CEREMONY_POLICY_INVALID', `approvals must be a whole number from 1 to 9, not "${p['approvals'] ?? ''}"`);
  const actions = p['actions'] === undefined ? [...CEREMONY_ACTIONS] : p['actions'].split(',').map((a) => a.trim()).filter((a) => a !== '');
  const unknown = actions.filter((a) => !isCeremonyAction(a));
  if (unknown.length > 0) throw new CustodyError('ERR_CEREMONY_POLICY_INVALID', `unknown ceremony actions: ${unknown.join(', ')} (known: ${CEREMONY_ACTIONS.join(', ')})`);
  // The policy guards itself, or one proposal could switch every guard off.
  if (!actions.includes('ceremony.policy')) actions.push('ceremony.policy');
  const expiryHours = p['expiryHours'] === undefined ? 24 : Number(p['expiryHours']);
  if (!Number.isFinite(expiryHours) || expiryHours < 1 || expiryHours > 720) throw new CustodyError('ERR_CEREMONY_POLICY_INVALID', `expiryHours must be from 1 to 720, not "${p['expiryHours'] ?? ''}"`);
  return { approvals, actions: actions.filter(isCeremonyAction), expiryHours };
}

