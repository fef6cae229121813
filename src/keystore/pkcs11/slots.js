// @ts-check
/**
 * Token discovery shared by the main thread and the signer workers (plain
 * JavaScript so a worker thread can load it from source and from dist/).
 * Tokens are chosen by label and/or serial, never by slot index: slots move
 * (SoftHSM2 puts a re-initialised token in a new slot).
 */
import pkcs11js from 'pkcs11js';

/** @typedef {{ label?: string, serial?: string }} TokenSelector */
/** @typedef {{ slot: Buffer, label: string, serial: string, manufacturer: string, model: string, flags: number }} FoundToken */

/** A failure that is ours, not the module's: carried to the main thread by code. */
export class TokenError extends Error {
  /** @param {'ERR_HSM_UNAVAILABLE' | 'ERR_HSM_CONFIG' | 'ERR_KEY_NOT_FOUND' | 'ERR_KEY_EXISTS' | 'ERR_HSM_NOT_PERMITTED'} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** @param {string} s */
const trim = (s) => s.replace(/[\s\0]+$/, '');

/**
 * @param {pkcs11js.PKCS11} p11
 * @param {TokenSelector} selector
 * @returns {FoundToken[]}
 */
export function listTokens(p11, selector) {
  const found = [];
  for (const slot of p11.C_GetSlotList(true)) {
    let info;
    try {
      info = p11.C_GetTokenInfo(slot);
    } catch {
      continue; // a token going away between the two calls
    }
    const token = {
      slot,
      label: trim(info.label),
      serial: trim(info.serialNumber),
      manufacturer: trim(info.manufacturerID),
      model: trim(info.model),
      flags: info.flags,
    };
    if ((token.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0) continue;
    if (selector.label !== undefined && token.label !== selector.label) continue;
    if (selector.serial !== undefined && token.serial !== selector.serial) continue;
    found.push(token);
  }
  return found;
}

/** @param {TokenSelector} selector */
export function describeSelector(selector) {
  const parts = [];
  if (selector.label !== undefined) parts.push(`label "${selector.label}"`);
  if (selector.serial !== undefined) parts.push(`serial "${selector.serial}"`);
  return parts.length > 0 ? `token with ${parts.join(' and ')}` : 'token';
}

/**
 * @param {pkcs11js.PKCS11} p11
 * @param {TokenSelector} selector
 * @returns {FoundToken}
 */
export function findToken(p11, selector) {
  const found = listTokens(p11, selector);
  if (found.length === 0) throw new TokenError('ERR_HSM_UNAVAILABLE', `no ${describeSelector(selector)} is present`);
  if (found.length > 1) {
    throw new TokenError(
      'ERR_HSM_CONFIG',
      `${found.length} tokens match the ${describeSelector(selector)} (serials ${found.map((t) => t.serial).join(', ')}): add "serial=" to the HSM URI`,
    );
  }
  return /** @type {FoundToken} */ (found[0]);
}
