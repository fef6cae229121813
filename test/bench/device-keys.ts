import { createHash, createPrivateKey } from 'node:crypto';
import { NodeSigner } from '../../src/assertions/index.js';

/**
 * Device keys as a device holds them long before it registers: each key's
 * one-time set-up (its encoded public key, OpenSSL's blinding and Montgomery
 * values, made on first use) is done here, not in a timed run.
 */
export async function readyDeviceKeys(pems: readonly string[]): Promise<NodeSigner[]> {
  const keys = pems.map((pem) => new NodeSigner(createPrivateKey(pem)));
  const warmUp = createHash('sha512').update('warm-up').digest();
  for (const key of keys) {
    void key.publicKey.encoded;
    await key.signDigest(warmUp);
  }
  return keys;
}
