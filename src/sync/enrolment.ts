import { createHash } from 'node:crypto';
import { decodeAssertion, formatRfc3339, PublicKey, sha512DigestInfo, signAssertion, verifySignature, type Assertion } from '../assertions/index.js';
import type { Brand } from '../accounts/brands.js';
import { UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Custody } from '../custody/custody.js';
import { SigningKeyRepository, rootLabel } from '../custody/signing-keys.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';
import { ApplianceRepository, type ApplianceRecord } from './appliances.js';
import { SyncError } from './errors.js';

/** What the appliance's identity key signs at enrolment: the token and name it enrols with. */
export const enrolmentProofDigest = (token: string, name: string): Buffer => createHash('sha512').update(`serial-vault-enrol\n${token}\n${name}`, 'utf8').digest();

/** The HSM labels an appliance gives its keys. */
export const identityLabel = (name: string): string => `appliance-${name}-identity`;
export const serialsLabel = (name: string): string => `appliance-${name}-serials`;

export interface EnrolmentPreview {
  readonly appliance: { readonly name: string; readonly store: string; readonly brand: string };
  /** The account-key name its serial key is to request (free in the brand's account now). */
  readonly serialKeyName: string;
}

export interface EnrolmentResult {
  readonly appliance: { readonly name: string; readonly store: string; readonly brand: string };
  /** Local trust: the account-keys central's authority signed, encoded. Canonical trust: none yet (imported later). */
  readonly accountKeys: string[];
  /** Canonical trust: the serial keys waiting for Canonical's account-key. */
  readonly pending: string[];
}

interface SerialKeyInput {
  readonly label: string;
  readonly publicKey: PublicKey;
  readonly request: Assertion;
}

const MAX_SERIAL_KEYS = 4;
/** The enrolment is the appliance's act, authorised by the token an administrator made (whose `appliance.add` is audited). */
const ACTOR = (name: string, clientAddress: string | null): Actor => ({ actor: `appliance:${name}`, actorKind: 'operator', via: 'token', clientAddress });
const floorSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
const invalid = (message: string) => new SyncError('ERR_ENROLMENT_FAILED', message);

/**
 * Central's side of enrolment: a one-time token, then the appliance's public
 * keys. The identity key proves possession by signing the token and name,
 * each serial key by its self-signed account-key-request. In the local
 * setup the authority signs their account-keys at once, as key creation
 * does; in the canonical setup they wait, pending, for the brand to import
 * Canonical's (serial-vault key import-account-key).
 */
export class Enrolment {
  private readonly repo: ApplianceRepository;
  private readonly clock: () => Date;

  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    clock?: () => Date,
  ) {
    this.repo = new ApplianceRepository(db);
    this.clock = clock ?? (() => new Date());
  }

  /** What a token is for, without spending it: the appliance signs its requests for this brand and name. */
  async preview(body: unknown): Promise<EnrolmentPreview> {
    const b = record(body);
    const { appliance, brand } = await this.tokenHolder(str(b['token'], 'token', 200), b['name'] === undefined ? undefined : str(b['name'], 'name', 64));
    return { appliance: { name: appliance.name, store: appliance.storeId, brand: brand.accountId }, serialKeyName: (await this.freeNames(brand, appliance.name, 1))[0]! };
  }

  async enrol(body: unknown, clientAddress: string | null = null): Promise<EnrolmentResult> {
    const b = record(body);
    const token = str(b['token'], 'token', 200);
    const name = str(b['name'], 'name', 64);
    const { appliance, brand } = await this.tokenHolder(token, name);
    const identity = readIdentity(b['identity'], name);
    const proof = Buffer.from(str(b['proof'], 'proof', 4096), 'base64');
    // Proof of possession: only the holder of the identity key could sign this token and name.
    if (!identity.verifyDigestInfo(sha512DigestInfo(enrolmentProofDigest(token, name)), proof)) {
      throw new SyncError('ERR_APPLIANCE_AUTH', 'the enrolment proof is not the identity key’s signature of the token and name: enrol again from the appliance');
    }
    const serialKeys = readSerialKeys(b['serialKeys'], name, brand);
    const keys = new SigningKeyRepository(this.db);
    for (const k of [identity, ...serialKeys.map((s) => s.publicKey)]) {
      if (await keys.byKeyId(k.id)) throw invalid(`key ${k.id} is registered already: an appliance enrols with keys made for it`);
    }
    const setup = await this.custody.trustSetup(brand);
    const names = await this.freeNames(brand, name, serialKeys.length);
    const since = formatRfc3339(floorSecond(this.clock()));
    const signed: Assertion[] = [];
    if (setup.setup === 'local') {
      const root = await this.custody.signerFor(rootLabel(setup.authorityId));
      for (const [i, k] of serialKeys.entries()) {
        signed.push(await signAssertion({ type: 'account-key', 'authority-id': setup.authorityId, 'account-id': brand.accountId, name: names[i]!, since, 'public-key-sha3-384': k.publicKey.id }, Buffer.from(k.publicKey.encoded), root));
      }
    } else {
      // Canonical registers the key under the name its request asks for: it must still be free.
      const taken = await this.takenNames(brand);
      for (const k of serialKeys) {
        const wanted = k.request.headerString('name');
        if (taken.has(wanted)) throw invalid(`account-key name "${wanted}" is taken in account "${brand.accountId}": enrol again (a new request gets a free name)`);
        taken.add(wanted);
      }
    }
    try {
      await new UnitOfWork(this.db, this.clock).run(ACTOR(name, clientAddress), async (trx, audit) => {
        const repo = new ApplianceRepository(trx);
        if (!(await repo.spendEnrolmentToken(token, this.clock()))) throw tokenInvalid();
        await repo.setIdentity(appliance.id, { keyId: identity.id, publicKey: identity.encoded }, this.clock());
        const r = { keys: new SigningKeyRepository(trx), assertions: new AssertionStore(trx) };
        await r.keys.add({ label: identityLabel(name), keyId: identity.id, purpose: 'appliance', brandId: brand.id, name: identityLabel(name), state: 'active', since, heldBy: name });
        for (const [i, k] of serialKeys.entries()) {
          const accountKey = signed[i];
          if (accountKey) await r.assertions.put(accountKey);
          const keyName = accountKey ? names[i]! : k.request.headerString('name');
          await r.keys.add({
            label: k.label,
            keyId: k.publicKey.id,
            purpose: 'serials',
            brandId: brand.id,
            name: keyName,
            state: accountKey ? 'active' : 'pending',
            since: accountKey ? since : k.request.headerString('since'),
            ...(accountKey ? {} : { accountKeyRequest: k.request.encode().toString('utf8') }),
            heldBy: name,
          });
        }
        await audit({
          action: 'appliance.enrol',
          targetType: 'appliance',
          targetId: name,
          storeId: brand.accountId,
          before: null,
          after: { identityKeyId: identity.id, serialKeys: serialKeys.map((k) => ({ label: k.label, keyId: k.publicKey.id })), setup: setup.setup },
        });
      });
    } catch (e) {
      // Another enrolment or key creation took a label or name in the meantime.
      if (isUniqueViolation(e)) throw invalid('a key or account-key name this enrolment needs was taken at the same moment: make a new token (serial-vault appliance add) and enrol again');
      throw e;
    }
    return {
      appliance: { name, store: appliance.storeId, brand: brand.accountId },
      accountKeys: signed.map((a) => a.encode().toString('utf8')),
      pending: signed.length > 0 ? [] : serialKeys.map((k) => k.label),
    };
  }

  private async tokenHolder(token: string, name: string | undefined): Promise<{ appliance: ApplianceRecord; brand: Brand }> {
    const appliance = await this.repo.enrolmentTokenFor(token, this.clock());
    if (!appliance) throw tokenInvalid();
    if (name !== undefined && name !== appliance.name) throw tokenInvalid();
    if (appliance.state !== 'active') throw new SyncError('ERR_APPLIANCE_DISABLED', `appliance "${appliance.name}" is disabled at central: an administrator enables it first`);
    const brand = await this.custody.brands.byId(appliance.brandId);
    if (!brand) throw invalid(`appliance "${appliance.name}" names a brand central no longer has`);
    return { appliance, brand };
  }

  /** `appliance-NAME`, `appliance-NAME-2`, …: account-key names are unique per account (snapd and Canonical refuse a second). */
  private async freeNames(brand: Brand, name: string, count: number): Promise<string[]> {
    const taken = await this.takenNames(brand);
    const names: string[] = [];
    for (let n = 1; names.length < count; n++) {
      const candidate = n === 1 ? `appliance-${name}` : `appliance-${name}-${n}`;
      if (!taken.has(candidate)) names.push(candidate);
    }
    return names;
  }

  private async takenNames(brand: Brand): Promise<Set<string>> {
    const taken = new Set((await this.custody.keys.ofBrand(brand.id)).map((k) => k.name));
    for (const a of (await this.custody.trust()).findMany('account-key', { 'account-id': brand.accountId })) taken.add(a.headerString('name'));
    return taken;
  }
}

const tokenInvalid = () => new SyncError('ERR_ENROLMENT_TOKEN_INVALID', 'the enrolment token is unknown, used already, expired, or for another appliance: make a new one on central (serial-vault appliance add)');

function record(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('an enrolment is a JSON object: {token, name, identity, serialKeys, proof}');
  return body as Record<string, unknown>;
}

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw invalid(`the enrolment's "${field}" must be a string of 1 to ${max} characters`);
  return v;
}

function publicKey(v: unknown, field: string): PublicKey {
  try {
    return PublicKey.decode(str(v, field, 4096));
  } catch (e) {
    if (e instanceof SyncError) throw e;
    throw invalid(`the enrolment's "${field}" is not a public key in snapd's encoding`);
  }
}

function readIdentity(v: unknown, name: string): PublicKey {
  const key = publicKey(record(v)['publicKey'], 'identity.publicKey');
  if (key.bits < 2048) throw invalid(`the identity key of "${name}" has ${key.bits} bits: use 2048 or more`);
  return key;
}

/** Each serial key with its account-key-request, signed by the key itself (its proof of possession), for this brand. */
function readSerialKeys(v: unknown, name: string, brand: Brand): SerialKeyInput[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_SERIAL_KEYS) throw invalid(`the enrolment's "serialKeys" must list 1 to ${MAX_SERIAL_KEYS} keys`);
  const labels = new Set<string>();
  return v.map((item, i) => {
    const k = record(item);
    const label = str(k['label'], `serialKeys[${i}].label`, 128);
    if (!label.startsWith(`appliance-${name}-`) || label === identityLabel(name) || labels.has(label)) throw invalid(`serial key label "${label}" must be distinct and start with "appliance-${name}-"`);
    labels.add(label);
    const key = publicKey(k['publicKey'], `serialKeys[${i}].publicKey`);
    const text = str(k['accountKeyRequest'], `serialKeys[${i}].accountKeyRequest`, 16_384);
    let request: Assertion;
    let view: { accountId: string; publicKeyId: string };
    try {
      const decoded = decodeAssertion(Buffer.from(text, 'utf8'));
      if (!decoded.is('account-key-request')) throw new Error('not an account-key-request');
      verifySignature(decoded.content, decoded.signaturePacket, decoded.view.publicKey);
      request = decoded;
      view = decoded.view;
    } catch {
      throw new SyncError('ERR_APPLIANCE_AUTH', `serial key "${label}": its account-key-request is not one signed by the key itself: enrol again from the appliance`);
    }
    if (view.publicKeyId !== key.id) throw invalid(`serial key "${label}": its account-key-request is for another key`);
    if (view.accountId !== brand.accountId) throw invalid(`serial key "${label}": its account-key-request is for account "${view.accountId}", not "${brand.accountId}"`);
    if (key.bits < 4096) throw invalid(`serial key "${label}" has ${key.bits} bits: snapd needs 4096`);
    return { label, publicKey: key, request };
  });
}
