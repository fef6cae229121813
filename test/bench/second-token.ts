import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initToken } from '../../src/keystore/pkcs11/init-token.js';
import { findSoftHsmModule } from '../../src/keystore/pkcs11/module-path.js';

/**
 * A second SoftHSM2 token in a bench's data directory, with a serials key
 * of the demo brand in it that signs the demo model's serials beside the
 * model's own key: what an operator does with `key create --token` and
 * `model serial-keys add`, through the same CLI.
 */
export async function addSecondToken(data: string, cli: string, run: (args: string[]) => Promise<string>): Promise<void> {
  const secret = (name: string) => readFileSync(join(data, 'secrets', name), 'utf8').trim();
  initToken({ modulePath: findSoftHsmModule()!, label: 'serial-vault-2', pin: secret('user-pin'), soPin: secret('so-pin') });
  const configFile = join(data, 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { hsm: Record<string, unknown> };
  const { writeFileSync } = await import('node:fs');
  writeFileSync(configFile, JSON.stringify({ ...config, hsm: { ...config.hsm, tokens: ['pkcs11:token=serial-vault-2?pin-source=file:secrets/user-pin'] } }, null, 2));
  const made = await run([cli, 'key', 'create', '--brand', 'demo-brand', '--purpose', 'serials', '--token', 'serial-vault-2', '--data-dir', data, '--json']);
  const label = (JSON.parse(made) as { result: { key: { label: string } } }).result.key.label;
  await run([cli, 'model', 'serial-keys', 'add', 'demo-brand/demo-model', label, '--data-dir', data]);
}
