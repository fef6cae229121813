import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from '@commander-js/extra-typings';
import type { Vault } from '../../app.js';
import { actorOf, type Principal } from '../../accounts/principal.js';
import { ApplianceService, type ApplianceView } from '../../sync/appliances.js';
import { enrolAppliance } from '../../sync/enrol-client.js';
import { adminRequest } from '../admin-client.js';
import { CliError, type CliIo } from '../io.js';
import { targetOptions, withPerson, type Target } from './target.js';
import { dataDirOption, withVault } from './vault-options.js';

/** Appliances on central, the same from a local data directory and through the admin API. */
interface ApplianceOps {
  add(name: string, store: string, expiresHours?: number): Promise<{ appliance: ApplianceView; token: string; expiresAt: string }>;
  list(): Promise<ApplianceView[]>;
  show(name: string): Promise<ApplianceView>;
  setDisabled(name: string, disabled: boolean): Promise<ApplianceView>;
}

function localOps(vault: Vault, principal: Principal): ApplianceOps {
  const service = new ApplianceService(vault.db);
  const actor = actorOf(principal);
  return {
    add: (name, store, expiresHours) => service.add(name, store, actor, expiresHours ? { expiresHours } : {}),
    list: () => service.list(),
    show: (name) => service.show(name),
    setDisabled: (name, disabled) => (disabled ? service.disable(name, actor) : service.enable(name, actor)),
  };
}

function remoteOps(brand: string | undefined) {
  return (url: string, token: string): ApplianceOps => {
    const request = adminRequest(url, token);
    const needBrand = () => {
      if (!brand) throw new CliError('with --url, name the brand: --brand BRAND');
      return `/api/v1/brands/${encodeURIComponent(brand)}/appliances`;
    };
    /** The brand of a store: the root of its tree (the brand store's id is the brand's account id). */
    const brandOf = async (store: string) => {
      let id = store;
      for (let hops = 0; hops < 32; hops++) {
        const s = await request<{ id: string; parentId: string | null }>('GET', `/api/v1/stores/${encodeURIComponent(id)}`);
        if (s.parentId === null) return s.id;
        id = s.parentId;
      }
      throw new CliError(`cannot find the brand of store "${store}": name it with --brand`);
    };
    return {
      add: async (name, store, expiresHours) => request('POST', `/api/v1/brands/${encodeURIComponent(brand ?? (await brandOf(store)))}/appliances`, { name, store, ...(expiresHours ? { expiresHours } : {}) }),
      list: async () => (await request<{ items: ApplianceView[] }>('GET', needBrand())).items,
      show: (name) => request('GET', `${needBrand()}/${encodeURIComponent(name)}`),
      setDisabled: (name, disabled) => request('PATCH', `${needBrand()}/${encodeURIComponent(name)}`, { disabled }),
    };
  };
}

export function applianceText(a: ApplianceView): string {
  return [
    `appliance ${a.name}${a.state === 'disabled' ? '  DISABLED' : ''}`,
    `  store:    ${a.store} (brand ${a.brand})`,
    `  enrolled: ${a.enrolledAt ?? 'not yet (serial-vault appliance enrol on the appliance, with its token)'}`,
    ...(a.identityKeyId ? [`  identity: ${a.identityKeyId}`] : []),
    ...(a.disabledAt ? [`  disabled: ${a.disabledAt}`] : []),
    ...a.keys.map((k) => `  key:      ${k.label} (${k.purpose}, ${k.state})`),
    '',
  ].join('\n');
}

type Opts = Target & { brand?: string };

const hours = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new CliError(`--expires-hours takes a whole number of hours, not "${v}"`);
  return Number(v);
};

export function applianceCommand(io: CliIo): Command {
  const print = (o: { json?: boolean | undefined }, value: unknown, text: () => string) => io.stdout(o.json ? `${JSON.stringify(value, null, 2)}\n` : text());
  const brandOption = () => new Option('--brand <brand>', "with --url: the brand whose appliances these are (add finds it from --store)");
  const run = <T>(o: Opts, fn: (ops: ApplianceOps) => Promise<T>) => withPerson(o, { local: localOps, remote: remoteOps(o.brand) }, fn);
  const appliance = new Command('appliance').description(
    'appliances that follow this central vault (add, list, show, disable, enable; run on central) and enrolment of this data directory as one (enrol; run on the appliance)',
  );

  targetOptions(
    appliance
      .command('add')
      .description("add an appliance serving a store's subtree; prints its one-time enrolment token once, on the last line: put it in a file on the appliance for serial-vault appliance enrol --token-file")
      .argument('<name>', 'e.g. factory-berlin-1 (lower case, digits, dashes; up to 40)')
      .requiredOption('--store <store>', 'the store whose subtree it serves (its brand store, or a sub-store)')
      .option('--expires-hours <n>', 'how long the token may wait to be used (default 24)')
      .option('--token-out <file>', 'write the enrolment token to this file (mode 600) instead of printing it')
      .addOption(brandOption()),
  ).action((name, o) =>
    run(o, async (ops) => {
      const made = await ops.add(name, o.store, o.expiresHours ? hours(o.expiresHours) : undefined);
      if (o.tokenOut) {
        await writeFile(o.tokenOut, `${made.token}\n`, { mode: 0o600 });
        const { token: _shown, ...rest } = made;
        print(o, rest, () => `${applianceText(made.appliance)}enrolment token (one use, until ${made.expiresAt}) written to ${o.tokenOut}\n`);
        return;
      }
      print(o, made, () => `${applianceText(made.appliance)}enrolment token (one use, until ${made.expiresAt}; shown only now):\n${made.token}\n`);
    }),
  );

  targetOptions(appliance.command('list').description('list the appliances, their stores and states').addOption(brandOption())).action((o) =>
    run(o, async (ops) => {
      const items = await ops.list();
      print(o, items, () => (items.length === 0 ? 'no appliances (serial-vault appliance add NAME --store STORE)\n' : items.map((a) => `${a.name.padEnd(24)} ${a.brand}/${a.store}  ${a.state}${a.enrolled ? '' : ' (not enrolled)'}\n`).join('')));
    }),
  );

  targetOptions(appliance.command('show').description('one appliance: store, enrolment, identity, the keys its HSM holds').argument('<name>').addOption(brandOption())).action((name, o) =>
    run(o, async (ops) => {
      const a = await ops.show(name);
      print(o, a, () => applianceText(a));
    }),
  );

  for (const [verb, disabled, what] of [
    ['disable', true, 'refuse the appliance at once: its next sync call fails, whichever central replica it reaches (a lost or stolen appliance; then revoke its keys)'],
    ['enable', false, 'let a disabled appliance sync again'],
  ] as const) {
    targetOptions(appliance.command(verb).description(what).argument('<name>').addOption(brandOption())).action((name, o) =>
      run(o, async (ops) => {
        const a = await ops.setDisabled(name, disabled);
        print(o, a, () => applianceText(a));
      }),
    );
  }

  appliance
    .command('enrol')
    .description(
      "enrol this data directory as an appliance of a central vault: makes its identity and serial keys in its own HSM, sends their public halves with the one-time token, and sets upstream.url in its config.json. Run it on a fresh data directory (serial-vault init), before anything else; the vault's state then comes from central",
    )
    .addOption(dataDirOption())
    .requiredOption('--upstream <url>', "central's sync listener, e.g. https://central.example:8083/")
    .requiredOption('--token-file <file>', 'a file holding the enrolment token from serial-vault appliance add (never on the command line)')
    .option('--name <name>', 'the name given on central; checked against the token')
    .option('--ca-file <file>', "PEM certificate authorities central's TLS certificate is checked against (default the system's)")
    .option('--json', 'print JSON, for scripts')
    .action(async (o) => {
      const token = (await readFile(o.tokenFile, 'utf8').catch((e: Error) => Promise.reject(new CliError(`cannot read ${o.tokenFile}: ${e.message}`)))).trim();
      if (!token) throw new CliError(`${o.tokenFile} is empty: put the token serial-vault appliance add printed in it`);
      let url: URL;
      try {
        url = new URL(o.upstream);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
      } catch {
        throw new CliError(`--upstream takes central's sync URL, e.g. https://central.example:8083/, not "${o.upstream}"`);
      }
      const result = await withVault(o.dataDir, (vault) =>
        enrolAppliance({ db: vault.db, keystore: vault.keystore, dataDir: vault.config.dataDir }, { upstream: url.toString(), token, ...(o.name ? { name: o.name } : {}), ...(o.caFile ? { caFile: resolve(o.caFile) } : {}), timeoutMs: vault.config.upstream?.timeoutSeconds ? vault.config.upstream.timeoutSeconds * 1000 : 60_000 }),
      );
      print(o, result, () =>
        [
          `enrolled as appliance ${result.appliance.name} of brand ${result.appliance.brand}, serving store ${result.appliance.store}`,
          result.pending.length > 0
            ? `its serial keys wait for Canonical's account-key: on central, submit each request (serial-vault key request ${result.pending.join(', ')}) and import the answer (serial-vault key import-account-key FILE)`
            : `central's authority registered ${result.accountKeys.length} serial key(s)`,
          `upstream.url is set in ${o.dataDir}/config.json: start the vault (serial-vault serve) to sync`,
          '',
        ].join('\n'),
      );
    });
  return appliance;
}
