import type { Command } from '@commander-js/extra-typings';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption, withVault } from './vault-options.js';

const split = (ref: string) => {
  if (!ref.includes('/')) throw new CliError(`give the model as BRAND/MODEL, not "${ref}"`);
  return ref.split('/', 2) as [string, string];
};

/**
 * `model serial-keys`: the keys beside a model's own that sign its
 * serials, each in its own HSM token or slot. Signing spreads over them,
 * and a token that fails is skipped until it is back.
 */
export function addModelSerialKeys(model: Command, io: CliIo): void {
  const keys = model.command('serial-keys').description("keys beside a model's own that sign its serials too: one per HSM token or slot, for throughput and for a token that fails");
  keys
    .command('add')
    .description('let another serials key of the brand (serial-vault key states lists them) sign the model\'s serials')
    .argument('<brand/model>', 'the model')
    .argument('<label>', 'the key')
    .addOption(dataDirOption())
    .action(async (ref, label, o) => {
      const [brand, name] = split(ref);
      await withVault(o.dataDir, async (vault) => {
        const ids = await vault.models.addSerialKey(brand, name, label);
        io.stdout(`${label} now signs serials of ${brand}/${name}, with ${ids.length} key${ids.length === 1 ? '' : 's'} beside the model's own\n`);
      });
    });
  keys
    .command('remove')
    .description('stop a key signing the model\'s serials beside its own')
    .argument('<brand/model>', 'the model')
    .argument('<label>', 'the key')
    .addOption(dataDirOption())
    .action(async (ref, label, o) => {
      const [brand, name] = split(ref);
      await withVault(o.dataDir, async (vault) => {
        if (!(await vault.models.removeSerialKey(brand, name, label))) throw new CliError(`${label} does not sign serials of ${brand}/${name} beside its own key`, 1);
        io.stdout(`${label} no longer signs serials of ${brand}/${name}\n`);
      });
    });
  keys
    .command('list')
    .description("the model's own key and the keys beside it, with whether each one's token answers now")
    .argument('<brand/model>', 'the model')
    .addOption(dataDirOption())
    .action(async (ref, o) => {
      const [brand, name] = split(ref);
      await withVault(o.dataDir, async (vault) => {
        const m = await vault.models.find(brand, name);
        if (!m) throw new CliError(`no model ${ref} in this vault`, 1);
        const ids = [m.signingKeyId, ...(await vault.models.serialKeyIds(m))];
        for (const k of await vault.custody.keys.byIds(ids)) {
          const found = await vault.keystore.find(k.label).catch(() => undefined);
          io.stdout(`${k.label.padEnd(34)} ${k.id === m.signingKeyId ? 'own   ' : 'beside'} ${found ? 'in the HSM' : 'NOT FOUND in the HSM'}  ${k.keyId}\n`);
        }
      });
    });
}
