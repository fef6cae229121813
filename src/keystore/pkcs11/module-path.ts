import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian, Ubuntu and our snap put SoftHSM2's PKCS#11 module. */
export function softhsmModuleCandidates(): string[] {
  const snap = process.env['SNAP'];
  const paths = [
    '/usr/lib/softhsm/libsofthsm2.so',
    '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
    '/usr/lib/arm-linux-gnueabihf/softhsm/libsofthsm2.so',
    '/usr/local/lib/softhsm/libsofthsm2.so',
  ];
  return snap ? [...paths.map((p) => join(snap, p)), ...paths] : paths;
}

/** The SoftHSM2 module on this machine, or undefined when SoftHSM2 is not installed. */
export function findSoftHsmModule(): string | undefined {
  return softhsmModuleCandidates().find((p) => existsSync(p));
}
