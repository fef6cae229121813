import { Command, Option } from '@commander-js/extra-typings';
import { parse as parseYaml } from 'yaml';
import { AssertionError, decodeStream, type HeaderValue } from '../../assertions/index.js';
import { checkSerialTemplate, type ModelRecord } from '../../catalog/models.js';
import type { ModelOptions } from '../../catalog/model-service.js';
import { addModelResign } from './custody.js';
import { addModelSerialKeys } from './model-keys.js';
import { OPERATOR } from '../../accounts/principal.js';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption, withVault } from './vault-options.js';

const LOCAL_ROOT_NOTICE =
  'note: this is a local root authority for development and air-gapped demos. Real Ubuntu Core devices only trust Canonical\'s root: for them, register the brand\'s keys with Canonical and import the account and account-key it signs.\n';

function modelLine(m: ModelRecord): string {
  const policy = m.serialPolicy === 'template' ? `serials from ${m.serialTemplate ?? '{model}-{n:08}'}` : 'serials proposed by devices';
  return `${m.brandAccountId}/${m.name}  ${m.enabled ? 'enabled' : 'disabled'}, ${policy}${m.allowReprovision ? ', re-provisioning allowed' : ''}${m.provisioning === 'hardware-identity' ? ', onboarding by hardware identity' : ''}`;
}

const policyOptions = (cmd: Command<[string], Record<string, unknown>>) =>
  cmd
    .addOption(new Option('--serial-policy <policy>', 'who chooses serials: the device (its proposed serial) or the vault (a template with a counter)').choices(['device', 'template']))
    .option('--serial-template <template>', 'for --serial-policy template: e.g. "{model}-{n:08}" ({brand}, {model}, {n} or {n:0W})')
    .option('--allow-reprovision', 'let a serial be issued again to a new device key (replaced boards)')
    .addOption(new Option('--provisioning <method>', "how its devices show they may have a serial: an API key (the gadget's api-key header), or a hardware identity imported with hardware-identity import (no API key needed)").choices(['api-key', 'hardware-identity']))
    .option('--key <label>', 'the brand key (HSM label) that signs this model\'s serials; default the brand\'s first key')
    .option('--no-catalog-check', "register it even if the brand's store does not offer the snaps it names (e.g. Canonical's, not imported yet)");

function settingsFrom(options: { serialPolicy?: string; serialTemplate?: string; allowReprovision?: boolean; provisioning?: string; key?: string; catalogCheck?: boolean }): ModelOptions {
  if (options.serialTemplate !== undefined) {
    try {
      checkSerialTemplate(options.serialTemplate);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  }
  return {
    ...(options.serialPolicy ? { serialPolicy: options.serialPolicy as 'device' | 'template' } : options.serialTemplate ? { serialPolicy: 'template' as const } : {}),
    ...(options.serialTemplate ? { serialTemplate: options.serialTemplate } : {}),
    ...(options.allowReprovision ? { allowReprovision: true } : {}),
    ...(options.provisioning ? { provisioning: options.provisioning as 'api-key' | 'hardware-identity' } : {}),
    ...(options.key ? { keyLabel: options.key } : {}),
    ...(options.catalogCheck === false ? { checkCatalog: false } : {}),
  };
}

export function brandCommands(io: CliIo): Command[] {
  const authority = new Command('authority').description('local root authorities (development and air-gapped demos only)');
  authority
    .command('create')
    .description('create a root authority in the HSM that signs brand accounts and keys, trusted by this vault')
    .argument('<account-id>', 'its account id, e.g. my-root')
    .option('--display-name <name>', 'display name', 'Local root')
    .option('--brand <account-id>', "propose it as a ceremony of this brand's security officers (needed once any brand has them)")
    .addOption(dataDirOption())
    .action(async (accountId, options) => {
      await withVault(options.dataDir, async (vault) => {
        io.stderr(LOCAL_ROOT_NOTICE);
        if (options.brand) {
          const o = await vault.ceremonies.request(OPERATOR, 'authority.create', { brand: options.brand, authority: accountId, name: options.displayName });
          io.stdout(o.outcome === 'proposed' ? `proposed ceremony ${o.ceremony.id}: security officers of "${options.brand}" approve it with serial-vault ceremony approve ${o.ceremony.id} --brand ${options.brand}\n` : `created root authority "${accountId}"\n`);
          return;
        }
        if (await vault.ceremonies.guardedAnywhere('authority.create')) {
          throw new CliError('a new authority is a guarded key action here: propose it with --brand BRAND, for that brand\'s security officers to approve');
        }
        const { key } = await vault.custody.authorities.createAuthority(accountId, options.displayName);
        io.stdout(`created root authority "${accountId}" (key ${key.keyId}, HSM label ${key.label})\n`);
      });
    });

  /** The assertions in a file ("-": standard input), or a one-line refusal naming it. */
  const readAssertions = async (file: string) => decodeStream(await io.readFile(file).catch((e: Error) => Promise.reject(new CliError(`cannot read ${file}: ${e.message}`))));

  authority
    .command('trust')
    .description("trust a root that signs itself: Canonical's account and root account-key (for brands in the canonical setup), from an assertion file")
    .argument('<file>', 'the account and account-key assertions of the root ("-" for standard input)')
    .addOption(dataDirOption())
    .action(async (file, options) => {
      const assertions = await readAssertions(file);
      const account = assertions.find((a) => a.type === 'account');
      const accountKey = assertions.find((a) => a.type === 'account-key');
      if (!account || !accountKey) throw new CliError(`${file} must hold the root's account and account-key assertions`);
      await withVault(options.dataDir, async (vault) => {
        await vault.custody.authorities.trustRoot(account, accountKey);
        io.stdout(`trusting root "${account.headerString('account-id')}" (key ${accountKey.headerString('public-key-sha3-384')})\n`);
      });
    });

  authority
    .command('store-assertion')
    .description("keep a store assertion a trusted root signed (Canonical's, with the operator's account), served to devices at v2/assertions/store/<id>")
    .argument('<file>', 'the store assertion, optionally with its operator account ("-" for standard input)')
    .addOption(dataDirOption())
    .action(async (file, options) => {
      const assertions = await readAssertions(file);
      const store = assertions.find((a) => a.type === 'store');
      if (!store) throw new CliError(`${file} holds no store assertion`);
      await withVault(options.dataDir, async (vault) => {
        await vault.custody.authorities.importStoreAssertion(store, assertions.filter((a) => a !== store));
        io.stdout(`serving store assertion "${store.headerString('store')}" signed by ${store.authorityId}\n`);
      });
    });

  const brand = new Command('brand').description('brand accounts and their signing keys');
  brand
    .command('create')
    .description('create a brand account and its serial-signing key in the HSM, signed by a local root authority')
    .argument('<account-id>', 'the brand account id, e.g. acme (2-28 lower-case letters, digits, dashes)')
    .requiredOption('--authority <account-id>', 'the local root authority that signs the account and account-key')
    .option('--display-name <name>', 'display name')
    .addOption(dataDirOption())
    .action(async (accountId, options) => {
      await withVault(options.dataDir, async (vault) => {
        io.stderr(`generating the brand key of "${accountId}" in the HSM…\n`);
        const { key } = await vault.custody.createBrand(accountId, options.displayName ?? accountId, options.authority);
        io.stdout(`created brand "${accountId}" with key ${key.keyId} (HSM label ${key.label})\n`);
      });
    });
  brand
    .command('import')
    .description('register a brand from its account and account-key assertions (e.g. signed by Canonical) and the HSM key they register')
    .requiredOption('--assertions <file>', 'a file with the account and the account-key assertions')
    .requiredOption('--key <label>', 'the HSM label of the key the account-key registers')
    .addOption(dataDirOption())
    .action(async (options) => {
      const data = await io.readFile(options.assertions).catch((e: Error) => {
        throw new CliError(`cannot read ${options.assertions}: ${e.message}`);
      });
      let assertions;
      try {
        assertions = decodeStream(data);
      } catch (e) {
        throw new CliError(`cannot decode ${options.assertions}: ${(e as Error).message}`, 1);
      }
      const account = assertions.find((a) => a.is('account'));
      const accountKey = assertions.find((a) => a.is('account-key'));
      if (!account || !accountKey) throw new CliError(`${options.assertions} must hold an account and an account-key assertion`, 1);
      await withVault(options.dataDir, async (vault) => {
        const { brand: b, key } = await vault.custody.importBrand(account, accountKey, options.key);
        io.stdout(`imported brand "${b.accountId}" with key ${key.keyId} (HSM label ${key.label})\n`);
      });
    });
  brand
    .command('list')
    .description('list brands and their keys')
    .addOption(dataDirOption())
    .action(async (options) => {
      await withVault(options.dataDir, async (vault) => {
        for (const b of await vault.custody.brands.list()) {
          io.stdout(`${b.accountId}  ${b.displayName}\n`);
          for (const k of await vault.custody.keys.forBrand(b.id)) io.stdout(`  key ${k.keyId} (HSM label ${k.label})\n`);
        }
      });
    });

  const model = new Command('model').description('device models: their signed assertion and serial policy');
  policyOptions(
    model
      .command('import')
      .description('register a model assertion already signed by its brand (verified against the brand\'s keys)')
      .argument('<file>', 'the model assertion'),
  )
    .addOption(dataDirOption())
    .action(async (file, options) => {
      const data = await io.readFile(file).catch((e: Error) => {
        throw new CliError(`cannot read ${file}: ${e.message}`);
      });
      let assertion;
      try {
        [assertion] = decodeStream(data);
      } catch (e) {
        throw new CliError(`cannot decode ${file}: ${(e as Error).message}`, 1);
      }
      if (!assertion) throw new CliError(`${file} holds no assertion`, 1);
      const a = assertion;
      await withVault(String(options['dataDir']), async (vault) => {
        const m = await vault.models.importModel(a, settingsFrom(options as Record<string, never>));
        io.stdout(`registered ${modelLine(m)}\n`);
      });
    });
  policyOptions(
    model
      .command('create')
      .description('build a model from YAML or JSON headers, sign it with the brand key in the HSM and register it')
      .argument('<file>', 'headers: brand-id, model, architecture, gadget, kernel or base and snaps, …'),
  )
    .addOption(dataDirOption())
    .action(async (file, options) => {
      const text = (await io.readFile(file).catch((e: Error) => {
        throw new CliError(`cannot read ${file}: ${e.message}`);
      })).toString('utf8');
      let parsed: unknown;
      try {
        parsed = parseYaml(text);
      } catch (e) {
        throw new CliError(`${file} is not valid YAML or JSON: ${(e as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${file} must hold a map of headers`);
      const headers = toHeaders(parsed as Record<string, unknown>);
      await withVault(String(options['dataDir']), async (vault) => {
        try {
          const m = await vault.models.createModel(headers, settingsFrom(options as Record<string, never>));
          io.stdout(`created and registered ${modelLine(m)}\n`);
        } catch (e) {
          if (e instanceof AssertionError) throw new CliError(`${e.message} [${e.code}]`, 1);
          throw e;
        }
      });
    });
  model
    .command('show')
    .description('print a model assertion')
    .argument('<name>', 'model name, or brand/model')
    .addOption(dataDirOption())
    .action(async (name, options) => {
      await withVault(options.dataDir, async (vault) => {
        const m = await findModel(vault.models, name);
        io.stdout((await vault.models.assertion(m)).encode().toString('utf8'));
      });
    });
  model
    .command('list')
    .description('list registered models')
    .addOption(dataDirOption())
    .action(async (options) => {
      await withVault(options.dataDir, async (vault) => {
        const models = await vault.models.list();
        io.stdout(models.length === 0 ? 'no models\n' : `${models.map(modelLine).join('\n')}\n`);
      });
    });

  addModelResign(model, io);
  addModelSerialKeys(model as unknown as Command, io);

  return [authority, brand, model];
}

export async function findModel(models: { list(): Promise<ModelRecord[]> }, name: string): Promise<ModelRecord> {
  const all = await models.list();
  const [brandId, modelName] = name.includes('/') ? (name.split('/', 2) as [string, string]) : [undefined, name];
  const matches = all.filter((m) => m.name === modelName && (brandId === undefined || m.brandAccountId === brandId));
  if (matches.length === 0) throw new CliError(`no model ${name} in this vault`, 1);
  if (matches.length > 1) throw new CliError(`several brands have a model "${name}": write brand/model`, 1);
  return matches[0] as ModelRecord;
}

function toHeaders(v: Record<string, unknown>): Record<string, HeaderValue> {
  const convert = (x: unknown, path: string): HeaderValue => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    if (Array.isArray(x)) return x.map((y, i) => convert(y, `${path}[${i}]`));
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, convert(y, `${path}.${k}`)]));
    throw new CliError(`header ${path} must be a string, number, boolean, list or map`);
  };
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x, k)]));
}
