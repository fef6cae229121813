import { createPrivateKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { idForLabel } from '../../src/keystore/key-ref.js';
import { privateKeyTemplate, publicKeyTemplate } from '../../src/keystore/policy.js';
import { findToken } from '../../src/keystore/pkcs11/slots.js';
import { SOFTHSM_MODULE, type TestToken } from './softhsm.js';

/**
 * Direct PKCS#11 access to a test token, beside the keystore: for importing
 * a known key (test only; the product never imports private keys) and for
 * reading attributes back to check the key policy.
 */
export async function withTokenSession<T>(token: TestToken, fn: (p11: pkcs11js.PKCS11, session: Buffer) => T): Promise<T> {
  const p11 = new pkcs11js.PKCS11();
  p11.load(SOFTHSM_MODULE);
  let initialised = false;
  try {
    p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    initialised = true;
  } catch (e) {
    if ((e as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
  }
  try {
    const { slot } = findToken(p11, { label: token.label });
    const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      try {
        p11.C_Login(session, pkcs11js.CKU_USER, token.pin);
      } catch (e) {
        if ((e as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
      }
      return fn(p11, session);
    } finally {
      p11.C_CloseSession(session);
    }
  } finally {
    if (initialised) p11.C_Finalize();
  }
}

/** Imports an RSA private key from PEM under the vault's key policy (test tokens only). */
export async function importRsaKey(token: TestToken, label: string, pem: string | Buffer): Promise<void> {
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const b = (x: string | undefined) => Buffer.from(x ?? '', 'base64url');
  const id = idForLabel(label);
  await withTokenSession(token, (p11, session) => {
    const privateTemplate = privateKeyTemplate({ label, id }).filter((a) => a.type !== pkcs11js.CKA_MODULUS_BITS);
    p11.C_CreateObject(session, [
      ...privateTemplate,
      { type: pkcs11js.CKA_MODULUS, value: b(jwk.n) },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: b(jwk.e) },
      { type: pkcs11js.CKA_PRIVATE_EXPONENT, value: b(jwk.d) },
      { type: pkcs11js.CKA_PRIME_1, value: b(jwk.p) },
      { type: pkcs11js.CKA_PRIME_2, value: b(jwk.q) },
      { type: pkcs11js.CKA_EXPONENT_1, value: b(jwk.dp) },
      { type: pkcs11js.CKA_EXPONENT_2, value: b(jwk.dq) },
      { type: pkcs11js.CKA_COEFFICIENT, value: b(jwk.qi) },
    ]);
    p11.C_CreateObject(session, [
      ...publicKeyTemplate({ label, id }).filter((a) => a.type !== pkcs11js.CKA_MODULUS_BITS),
      { type: pkcs11js.CKA_MODULUS, value: b(jwk.n) },
    ]);
  });
}
