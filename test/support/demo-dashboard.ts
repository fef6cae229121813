/**
 * `scripts/demo-dashboard.sh`: the demo vault with its dashboard, signed in
 * through a local OpenID Connect provider on loopback (the same one the
 * browser tests use) that signs in one demo person at once, no password.
 * For trying the dashboard on a workstation; production signs in through
 * the brand's own provider (README, "Single sign-on").
 *
 *   node dist/test/support/demo-dashboard.js DATA_DIR [EMAIL]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestProvider } from './oidc.js';

const ADMIN = 'http://127.0.0.1:8081/';
const cli = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

async function main(): Promise<void> {
  const [dataDir = './data', email = 'admin@demo.test'] = process.argv.slice(2);
  const idp = await startTestProvider({ demo: { email, email_verified: true, name: 'Demo administrator' } }, `${ADMIN}auth/callback`, ADMIN);
  idp.nextLogin = 'demo';
  // The provider's port is new on each run: the vault's sso settings follow it.
  const configFile = join(dataDir, 'config.json');
  const config = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(join(dataDir, 'sso-client-secret'), `${idp.clientSecret}\n`, { mode: 0o600 });
  writeFileSync(configFile, `${JSON.stringify({ ...config, sso: { issuer: idp.issuer, clientId: idp.clientId, clientSecretFile: 'sso-client-secret' } }, null, 2)}\n`);
  // The demo person administers the demo brand (a second run finds them there already).
  const made = spawnSync(process.execPath, [cli, 'admin', 'create', '--email', email, '--name', 'Demo administrator', '--data-dir', dataDir], { encoding: 'utf8' });
  if (made.status !== 0 && !/already/i.test(made.stderr)) process.stderr.write(made.stderr);
  console.log(`demo-dashboard: open ${ADMIN} in a browser; the local provider at ${idp.issuer} signs you in as ${email}`);
  const vault = spawn(process.execPath, [cli, 'serve', '--data-dir', dataDir], { stdio: 'inherit' });
  const stop = () => vault.kill('SIGTERM');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  vault.on('exit', (code) => {
    void idp.close().finally(() => process.exit(code ?? 0));
  });
}

await main();
