import { hash, type KeyObject } from 'node:crypto';
import { AssertionError } from '../errors.js';
import type { TypeSpec } from '../assertion.js';
import type { HeaderMap } from '../headers.js';
import { VALID_ACCOUNT_ID, VALID_MODEL, checkNotEmptyString, checkStringMatches } from '../checks.js';
import { decodeBase64Lines } from '../base64.js';
import { parseSubjectPublicKeyInfo } from '../spki.js';

/** A statement by a brand or manufacturer that one physical device holds a hardware key (secure onboarding). */
export interface HardwareIdentityView {
  /** The account that vouches for the device: the signer (`authority-id`). */
  readonly issuerId: string;
  readonly manufacturer: string;
  /** The hardware model's designation (model-name rules, upper case allowed). */
  readonly hardwareName: string;
  /** The individual device; not necessarily the serial it will get. */
  readonly hardwareId: string;
  /** The header as written: base64 of the key's SubjectPublicKeyInfo DER, a PEM body without its armour lines. */
  readonly hardwareIdKey: string;
  /** Unpadded base64url SHA3-384 of the `hardware-id-key` header text, as written. */
  readonly hardwareIdKeySha3384: string;
  readonly hardwareKey: KeyObject;
}

declare module '../assertion.js' {
  interface ViewsByType {
    'hardware-identity': HardwareIdentityView;
  }
}

/**
 * The `hardware-id-key` header read as snapd reads it: a PEM body (Go's PEM
 * decoder drops spaces and tabs and accepts line breaks) holding a DER
 * SubjectPublicKeyInfo of a kind Go parses.
 */
function checkHardwareKey(headers: HeaderMap): { text: string; key: KeyObject } {
  const text = checkNotEmptyString(headers, 'hardware-id-key');
  let der: Buffer;
  try {
    der = decodeBase64Lines(text.replace(/[ \t]/g, ''), 'ERR_PUBLIC_KEY_INVALID', 'hardware-id-key');
  } catch {
    der = Buffer.alloc(0);
  }
  if (der.length === 0) throw new AssertionError('ERR_PUBLIC_KEY_INVALID', 'no PEM block was found', { header: 'hardware-id-key' });
  return { text, key: parseSubjectPublicKeyInfo(der, 'hardware-id-key') };
}

/** The key digest as snapd's EncodeDigest writes it, over the header text rather than the key bytes. */
export function hardwareKeyDigest(headerText: string): string {
  return hash('sha3-384', Buffer.from(headerText, 'utf8'), 'base64url');
}

export const hardwareIdentityType: TypeSpec<HardwareIdentityView> = {
  name: 'hardware-identity',
  primaryKey: ['issuer-id', 'hardware-id-key-sha3-384'],
  check({ headers }) {
    const issuerId = checkStringMatches(headers, 'issuer-id', VALID_ACCOUNT_ID);
    if (issuerId !== headers['authority-id']) {
      throw new AssertionError('ERR_HEADER_MISMATCH', 'issuer id must match authority id', { header: 'issuer-id' });
    }
    const manufacturer = checkNotEmptyString(headers, 'manufacturer');
    const hardwareName = checkStringMatches(headers, 'hardware-name', VALID_MODEL);
    const hardwareId = checkNotEmptyString(headers, 'hardware-id');
    const { text, key } = checkHardwareKey(headers);
    const hardwareIdKeySha3384 = checkNotEmptyString(headers, 'hardware-id-key-sha3-384');
    if (hardwareIdKeySha3384 !== hardwareKeyDigest(text)) {
      throw new AssertionError('ERR_HEADER_MISMATCH', 'hardware id key does not match provided hash', { header: 'hardware-id-key-sha3-384' });
    }
    return { issuerId, manufacturer, hardwareName, hardwareId, hardwareIdKey: text, hardwareIdKeySha3384, hardwareKey: key };
  },
};
