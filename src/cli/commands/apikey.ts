import { Command } from '@commander-js/extra-typings';
import { CliError, type CliIo } from '../io.js';
import { findModel } from './brand.js';
import { stationApiKeyAction } from './station.js';
import { targetOptions } from './target.js';
import { dataDirOption, withVault } from './vault-options.js';

/** `apikey create|list|revoke`: the gadget's api-key header, each key of a station. */
export function apikeyCommand(io: CliIo): Command {
  const apikey = new Command('apikey').description('API keys for factory lines and devices (the gadget\'s api-key header)');
  targetOptions(
    apikey
      .command('create')
      .description("create an API key of a station (--station), or of a model's own station (--model); printed once, stored only as a hash")
      .option('--station <name>', 'the factory line it belongs to (with --brand)')
      .option('--brand <account-id>', 'the brand of --station')
      .option('--model <name>', 'model name, or brand/model: a key of the station named after the model (made with no limits on first use)')
      .option('--name <name>', 'what the key is for, e.g. factory-line-1'),
  ).action(async (options) => {
      if (options.station) {
        if (!options.brand) throw new CliError('--station needs --brand');
        return stationApiKeyAction(io)({ ...options, station: options.station, brand: options.brand });
      }
      if (!options.model) throw new CliError('give --station NAME --brand B, or --model BRAND/MODEL');
      const modelName = options.model;
      const keyName = options.name ?? 'default';
      await withVault(options.dataDir, async (vault) => {
        const m = await findModel(vault.models, modelName);
        const { key } = await vault.provisioning.apiKeyAdmin.create(m, keyName);
        io.stderr(`API key "${keyName}" for ${m.brandAccountId}/${m.name}; it is shown only now:\n`);
        io.stdout(`${key}\n`);
      });
    });
  apikey
    .command('list')
    .description('list API keys (their prefixes; the secrets are not kept)')
    .addOption(dataDirOption())
    .action(async (options) => {
      await withVault(options.dataDir, async (vault) => {
        for (const k of await vault.provisioning.apiKeys.list()) {
          const m = await vault.models.byId(k.modelId);
          io.stdout(`sv_${k.prefix}_…  ${k.name}  ${m ? `${m.brandAccountId}/${m.name}` : '?'}${k.revoked ? '  revoked' : ''}\n`);
        }
      });
    });
  apikey
    .command('revoke')
    .description('revoke an API key by its prefix (sv_PREFIX_…)')
    .argument('<prefix>', 'the 12 hexadecimal characters after "sv_"')
    .addOption(dataDirOption())
    .action(async (prefix, options) => {
      await withVault(options.dataDir, async (vault) => {
        if (!(await vault.provisioning.apiKeyAdmin.revoke(prefix.replace(/^sv_/, '').slice(0, 12)))) throw new CliError(`no active API key with prefix ${prefix}`, 1);
        io.stdout(`revoked ${prefix}\n`);
      });
    });

  return apikey;
}
