import type { KeyStore } from '../keystore/keystore.js';
import type { CeremonyService } from './ceremonies.js';
import type { Custody } from './custody.js';
import { keyStateAt, successorAt, usableAt } from './key-state.js';

/** What people must notice about keys, each kind a metric label. */
export type FindingKind = 'model-without-key' | 'key-missing-from-hsm' | 'key-expiring' | 'account-key-awaited' | 'ceremony-waiting' | 'no-security-officer';
export const FINDING_KINDS: readonly FindingKind[] = ['model-without-key', 'key-missing-from-hsm', 'key-expiring', 'account-key-awaited', 'ceremony-waiting', 'no-security-officer'];

export interface Finding {
  readonly kind: FindingKind;
  readonly brand: string;
  /** The model, key label or ceremony id it is about. */
  readonly subject: string;
  readonly message: string;
}

/** The models that need a key, from the catalog (above custody). */
export type ModelsInUse = () => Promise<ReadonlyArray<{ readonly brandAccountId: string; readonly name: string; readonly signingKeyId: number; readonly enabled: boolean }>>;

const EXPIRY_WARNING_MS = 30 * 86400_000;

export interface KeyHealthParts {
  readonly custody: Custody;
  readonly keystore: KeyStore;
  readonly ceremonies: CeremonyService;
  readonly models: ModelsInUse;
  /** This instance's holder (an appliance's name; unset on central): keys another instance's HSM holds are not looked for here. */
  readonly holder?: string | undefined;
}

/**
 * The key health report: an enabled model no key may sign for, a key the
 * HSM has lost, a key whose account-key ends within 30 days, an account-key
 * still awaited from Canonical, a ceremony waiting for approvals, a brand
 * with no security officer to guard its keys.
 */
export async function keyHealth(parts: KeyHealthParts, now: Date): Promise<Finding[]> {
  const { custody, keystore, ceremonies } = parts;
  const findings: Finding[] = [];
  const brands = await custody.brands.list();
  const byId = new Map(brands.map((b) => [b.id, b]));
  const keys = await custody.keys.all();
  const lineage = new Map(keys.map((k) => [k.id, k]));
  for (const m of await parts.models()) {
    if (!m.enabled) continue;
    const start = lineage.get(m.signingKeyId);
    const key = start && successorAt(start, lineage, now);
    if (!key || !usableAt(key, now)) {
      findings.push({ kind: 'model-without-key', brand: m.brandAccountId, subject: m.name, message: `model ${m.brandAccountId}/${m.name} is enabled but no key may sign its serials (its key is ${key ? keyStateAt(key, now) : 'gone'}): devices cannot register` });
    }
  }
  for (const k of keys) {
    const brand = k.brandId !== undefined ? byId.get(k.brandId)?.accountId ?? '' : '';
    const state = keyStateAt(k, now);
    if (state === 'revoked' || state === 'retired') continue;
    // A key held in another instance's HSM (an appliance's, or central's as seen from an appliance) is not in this one by design.
    if (k.heldBy === parts.holder && !(await keystore.find(k.label))) {
      findings.push({ kind: 'key-missing-from-hsm', brand, subject: k.label, message: `key "${k.label}" (${k.purpose}) is ${state} but not in the HSM` });
    }
    if (k.state === 'pending') {
      findings.push({ kind: 'account-key-awaited', brand, subject: k.label, message: `key "${k.label}" awaits its account-key: submit its request (serial-vault key request ${k.label}) and import the answer (serial-vault key import-account-key FILE)` });
      continue;
    }
    const accountKey = await custody.assertions.get('account-key', [k.keyId]);
    const until = accountKey?.is('account-key') ? accountKey.view.until : undefined;
    if (until && until.getTime() - now.getTime() < EXPIRY_WARNING_MS && k.replacedBy === undefined) {
      findings.push({ kind: 'key-expiring', brand, subject: k.label, message: `the account-key of "${k.label}" ends ${until.toISOString()}: rotate the key before then` });
    }
  }
  for (const c of await ceremonies.list({ open: true })) {
    if (Date.parse(c.expiresAt) <= now.getTime()) continue;
    const brand = byId.get(c.brandId)?.accountId ?? '';
    findings.push({ kind: 'ceremony-waiting', brand, subject: String(c.id), message: `ceremony ${c.id} (${c.action}) has ${c.approvals.length} of ${c.approvalsNeeded} approvals; it expires ${c.expiresAt}` });
  }
  for (const b of brands) {
    if ((await ceremonies.officers(b)).length === 0) {
      findings.push({ kind: 'no-security-officer', brand: b.accountId, subject: b.accountId, message: `brand "${b.accountId}" has no security officer: key actions are not guarded by ceremonies (grant security-officer on its store)` });
    }
  }
  return findings;
}
