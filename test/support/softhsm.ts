import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSoftHsmModule } from '../../src/keystore/pkcs11/module-path.js';

/**
 * Throwaway SoftHSM2 tokens for tests: one token directory per test process
 * (SOFTHSM2_CONF is read when the module initialises), a token per label.
 * Missing SoftHSM2 fails the suite: the HSM tests never skip.
 */
export const SOFTHSM_MODULE = (() => {
  const path = findSoftHsmModule();
  if (!path) throw new Error('SoftHSM2 is not installed: run scripts/setup-system.sh --test');
  return path;
})();

let root: string | undefined;

export function softhsmRoot(): string {
  if (root) return root;
  root = mkdtempSync(join(tmpdir(), 'sv-softhsm-'));
  mkdirSync(join(root, 'tokens'));
  writeFileSync(join(root, 'softhsm2.conf'), `directories.tokendir = ${join(root, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env['SOFTHSM2_CONF'] = join(root, 'softhsm2.conf');
  return root;
}

export interface TestToken {
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  readonly pinFile: string;
  /** `pkcs11:token=…?module-path=…&pin-source=file:…` */
  readonly uri: string;
  /** Deletes the token, as if it were removed. */
  remove(): void;
  /** Creates the token again (same label and PINs, new serial and slot, no keys). */
  init(): void;
}

let counter = 0;

export function softhsmUtil(...args: string[]): string {
  softhsmRoot();
  return execFileSync('softhsm2-util', args, { encoding: 'utf8', env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createTestToken(label = `test-${process.pid}-${++counter}`, pin = '1234-user', soPin = '5678-so'): TestToken {
  const dir = softhsmRoot();
  const pinFile = join(dir, `${label}.pin`);
  writeFileSync(pinFile, `${pin}\n`);
  chmodSync(pinFile, 0o600);
  const init = () => void softhsmUtil('--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin);
  const remove = () => {
    try {
      softhsmUtil('--delete-token', '--token', label);
    } catch {
      // already gone
    }
  };
  init();
  return { label, pin, soPin, pinFile, uri: `pkcs11:token=${label}?module-path=${SOFTHSM_MODULE}&pin-source=file:${pinFile}`, remove, init };
}

export function cleanupSoftHsm(): void {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
}
