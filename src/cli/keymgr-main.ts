#!/usr/bin/env node
// `serial-vault-keymgr`: what SNAPD_EXT_KEYMGR names. snapd runs one
// program with the protocol's own arguments (`sign -m RSA-PKCS -k NAME`),
// so this is `serial-vault keymgr …` under a name of its own.
import { features } from '../custody/keymgr.js';

const args = process.argv.slice(2);
let code = 0;
if (args.length === 1 && args[0] === 'features') {
  // snapd asks this first on every `snap sign`: answered without loading the
  // whole command line and vault (about 0.6 s of the 3 s a signature takes).
  process.stdout.write(features());
} else {
  const [{ processIo }, { run }] = await Promise.all([import('./io.js'), import('./program.js')]);
  code = await run(['keymgr', ...args], processIo);
}
// Exit once the answer is written rather than when the event loop drains:
// snap sign runs this three times per assertion, and a timer the keystore
// leaves behind on close would hold each run up to 2 s longer.
process.stdout.write('', () => process.exit(code));
