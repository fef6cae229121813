import type { Brand } from '../accounts/brands.js';
import { OPERATOR, actorOf, rolesOn, type Principal } from '../accounts/principal.js';
import type { Role } from '../accounts/roles.js';
import type { AccountsService } from '../accounts/service.js';
import type { StoreTree } from '../accounts/stores.js';
import { usableAt } from './key-state.js';
import { UnitOfWork } from '../audit/unit-of-work.js';
import type { Database } from '../db/database.js';
import type { KeyInfo, KeyStore } from '../keystore/keystore.js';
import type { Custody } from './custody.js';
import { CustodyError } from './errors.js';
import { unknownKey, type KeymgrKeys } from './keymgr.js';
import type { KeyPurpose, SigningKeyRecord } from './signing-keys.js';

/** Who may sign through `snap sign` with a brand's key, on the brand's store: those who manage its keys. */
export const KEYMGR_SIGNING_ROLES: readonly Role[] = ['admin', 'security-officer'];

/** The purposes of the keys that sign as the brand itself: its serials and its models. */
export const KEYMGR_PURPOSES: readonly KeyPurpose[] = ['serials', 'models'];

/** What the external key manager uses of the vault. */
export interface KeymgrParts {
  readonly db: Database;
  readonly custody: Pick<Custody, 'brands' | 'keys'>;
  readonly keystore: Pick<KeyStore, 'find' | 'list' | 'signDigest'>;
  readonly accounts: Pick<AccountsService, 'authenticateToken' | 'tree'>;
  readonly clock?: () => Date;
}

/**
 * Who is signing: the local operator when no token is given (whoever runs
 * the command on the appliance can read the data directory and its HSM PIN
 * already), else the person the token signs in. A token that signs no one
 * in is refused outright rather than falling back to the operator.
 */
export async function keymgrPrincipal(accounts: KeymgrParts['accounts'], token: string | undefined): Promise<Principal> {
  if (token === undefined || token === '') return OPERATOR;
  const principal = await accounts.authenticateToken(token);
  if (!principal) {
    throw new CustodyError('ERR_KEYMGR_FORBIDDEN', 'cannot sign in with SERIAL_VAULT_TOKEN: the token is unknown, expired or revoked (unset it to sign as the local operator)');
  }
  return principal;
}

interface OfferedKey {
  readonly record: SigningKeyRecord;
  readonly brand: Brand;
}

/**
 * The vault's keys as snapd's external key manager sees them. A key's name
 * is its HSM label (`brand-acme-serials`), the one handle the vault, the
 * HSM and `serial-vault key list` share. Only a brand's serials and models
 * keys are offered: a local root's key signs the accounts and account-keys
 * every trust chain rests on, an authority's store key signs what the
 * catalog decides, and the audit and appliance keys vouch for the vault
 * itself, so signing arbitrary assertions with any of them stays out of
 * `snap sign`'s reach.
 */
export class VaultKeymgrKeys implements KeymgrKeys {
  private readonly clock: () => Date;
  private tree: Promise<StoreTree> | undefined;

  constructor(
    private readonly parts: KeymgrParts,
    private readonly principal: Principal,
  ) {
    this.clock = parts.clock ?? (() => new Date());
  }

  /** Whether the key may sign now: only a brand key in use (not pending, retired or revoked), as the lifecycle decides. */
  protected usable(key: SigningKeyRecord): boolean {
    return key.brandId !== undefined && usableAt(key, this.clock());
  }

  /**
   * A brand's models keys in use; its serials keys only while it has no
   * models key in use (one-key brands sign models with it). Otherwise a
   * snap sign could mint serial assertions outside the vault's checks.
   */
  private async offered(): Promise<OfferedKey[]> {
    const out: OfferedKey[] = [];
    for (const brand of await this.parts.custody.brands.list()) {
      const usable = (await this.parts.custody.keys.ofBrand(brand.id)).filter((k) => KEYMGR_PURPOSES.includes(k.purpose) && this.usable(k));
      const models = usable.filter((k) => k.purpose === 'models');
      for (const record of models.length > 0 ? models : usable) out.push({ record, brand });
    }
    return out;
  }

  private async byName(name: string): Promise<OfferedKey | undefined> {
    return (await this.offered()).find((k) => k.record.label === name);
  }

  /** The HSM's key under the registered label, refused when it is not the key the vault registered (replaced on the token). */
  private async hsmKey(key: OfferedKey): Promise<KeyInfo | undefined> {
    const info = await this.parts.keystore.find(key.record.label);
    if (info && info.keyId !== key.record.keyId) {
      throw new CustodyError('ERR_KEY_MISMATCH', `HSM key "${key.record.label}" (${info.keyId}) is not the key the vault registered (${key.record.keyId})`);
    }
    return info;
  }

  private async maySign(key: OfferedKey): Promise<boolean> {
    if (this.principal.kind === 'operator') return true;
    // One command, one answer: the tree is read once.
    this.tree ??= this.parts.accounts.tree();
    const held = rolesOn(this.principal, await this.tree, key.brand.accountId);
    return KEYMGR_SIGNING_ROLES.some((r) => held.has(r));
  }

  /** Keys the caller may sign with and the HSM holds, as registered: snapd gives up on the first listed name it cannot load. */
  async names(): Promise<string[]> {
    const inHsm = new Map((await this.parts.keystore.list()).map((k) => [k.label, k.keyId]));
    const names: string[] = [];
    for (const key of await this.offered()) {
      if (inHsm.get(key.record.label) === key.record.keyId && (await this.maySign(key))) names.push(key.record.label);
    }
    return names;
  }

  /** Public material, registered in the brand's account-key already: given to anyone who may open the vault. */
  async publicKeyDer(name: string): Promise<Buffer | undefined> {
    const key = await this.byName(name);
    const info = key && (await this.hsmKey(key));
    return info?.publicKey.toKeyObject().export({ type: 'spki', format: 'der' });
  }

  /**
   * Signs in the transaction of its audit record: a signature whose record
   * cannot be written is never handed out. The unit of work holds the audit
   * head's lock meanwhile, so other changes wait the one signature (tens of
   * milliseconds on SoftHSM2).
   */
  async sign(name: string, sha512Digest: Uint8Array): Promise<Uint8Array> {
    const key = await this.byName(name);
    if (!key || !(await this.hsmKey(key))) throw unknownKey(name);
    if (!(await this.maySign(key))) {
      const who = this.principal.kind === 'person' ? this.principal.person.email : 'operator';
      throw new CustodyError(
        'ERR_KEYMGR_FORBIDDEN',
        `cannot sign with "${key.record.label}" as ${who}: that needs the role ${KEYMGR_SIGNING_ROLES.join(' or ')} on store "${key.brand.accountId}"`,
      );
    }
    const { label, keyId } = key.record;
    return new UnitOfWork(this.parts.db, this.clock).run(actorOf(this.principal), async (_trx, record) => {
      const signature = await this.parts.keystore.signDigest(label, sha512Digest);
      await record({
        action: 'key.sign',
        targetType: 'key',
        targetId: label,
        storeId: key.brand.accountId,
        before: null,
        after: { keyId, digestSha512: Buffer.from(sha512Digest).toString('hex'), through: 'keymgr' },
      });
      return signature;
    });
  }
}
