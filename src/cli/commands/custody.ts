import { readFile, writeFile } from 'node:fs/promises';
import { Command, Option } from '@commander-js/extra-typings';
import { decodeStream } from '../../assertions/index.js';
import { OPERATOR_ACTOR } from '../../audit/unit-of-work.js';
import { CEREMONY_ACTIONS, isCeremonyAction, type CeremonyAction } from '../../custody/ceremony-store.js';
import type { CeremonyView, KeyView, OutcomeView } from '../../custody/views.js';
import { localCustodyOps, remoteCustodyOps, type CustodyOps } from '../custody-client.js';
import { CliError, type CliIo } from '../io.js';
import { targetOptions, withPerson, type Target } from './target.js';
import { dataDirOption, withVault } from './vault-options.js';

/**
 * The custody operations of the chosen side: the admin API (--url), or the
 * local data directory as the person whose token is given, else as the
 * operator. Approving always needs a person.
 */
const withCustody = <T>(o: Target, fn: (ops: CustodyOps) => Promise<T>) => withPerson(o, { local: localCustodyOps, remote: remoteCustodyOps }, fn);

function keyLine(k: KeyView): string {
  const window = k.until ? `${k.since} – ${k.until}` : `from ${k.since}`;
  return `${k.label.padEnd(34)} ${k.purpose.padEnd(8)} ${k.state.padEnd(8)} ${window}${k.replacedBy ? `  → ${k.replacedBy}` : ''}\n${''.padEnd(35)}${k.keyId}\n`;
}

function ceremonyText(c: CeremonyView): string {
  const params = Object.entries(c.params).map(([k, v]) => `${k}=${v}`).join(' ');
  const approvals = c.approvals.map((a) => `${a.approver} (${a.at})`).join(', ') || 'none yet';
  return [
    `ceremony ${c.id}: ${c.action} ${params}`,
    `  state:     ${c.state}${c.executedAt ? ` at ${c.executedAt}` : ''}`,
    `  proposed:  by ${c.proposedBy} at ${c.proposedAt}; expires ${c.expiresAt}`,
    `  approvals: ${c.approvals.length} of ${c.approvalsNeeded}: ${approvals}`,
    ...(c.result ? [`  result:    ${JSON.stringify(c.result)}`] : []),
    '',
  ].join('\n');
}

function outcomeText(o: OutcomeView, brand: string): string {
  if (o.outcome === 'proposed' && o.ceremony) {
    const c = o.ceremony;
    const left = c.approvalsNeeded - c.approvals.length;
    return `${ceremonyText(c)}it waits for ${left} more approval${left === 1 ? '' : 's'} from security officers of "${brand}" other than ${c.proposedBy}, before ${c.expiresAt}:\n  serial-vault ceremony approve ${c.id} --brand ${brand} --url ADMIN-URL --token-file YOUR-TOKEN\n`;
  }
  const result = o.result as { key?: KeyLike; replaced?: KeyLike; accountKeyRequest?: string } | null;
  const lines = [o.ceremony ? `ceremony ${o.ceremony.id} approved and executed: ${o.ceremony.action}` : 'done'];
  if (result?.key) lines.push(`key ${result.key.label} (${result.key.purpose}) ${result.key.state === 'pending' ? 'awaits its account-key' : 'signs'} from ${result.key.since}; key id ${result.key.keyId}`);
  if (result?.replaced) lines.push(`it replaces ${result.replaced.label}, which stops signing then; what it signed keeps verifying`);
  if (result?.accountKeyRequest) lines.push(`submit the account-key-request (serial-vault key request ${result.key?.label ?? 'LABEL'} prints it) to Canonical, then: serial-vault key import-account-key FILE`);
  return `${lines.join('\n')}\n`;
}

interface KeyLike {
  label: string;
  purpose: string;
  state: string;
  since: string;
  keyId: string;
}

const brandOption = () => new Option('--brand <account-id>', 'the brand').makeOptionMandatory();

export function custodyCommands(io: CliIo, key: Command, exportCmd: Command): Command[] {
  const print = (o: { json?: boolean | undefined }, value: unknown, text: () => string) => io.stdout(o.json ? `${JSON.stringify(value, null, 2)}\n` : text());
  const guarded = (o: Target & { brand: string; expiresIn?: string | undefined }, action: CeremonyAction, params: Record<string, string>) =>
    withCustody(o, async (ops) => {
      const outcome = await ops.request(o.brand, action, params, o.expiresIn !== undefined ? Number(o.expiresIn) : undefined);
      print(o, outcome, () => outcomeText(outcome, o.brand));
    });
  const expiresOption = () => new Option('--expires-in <seconds>', 'how long the proposal waits for approvals (default: the brand policy\'s expiry)');

  targetOptions(key.command('states').description("a brand's keys: purpose, state (pending, active, retired, revoked), window and successor").addOption(brandOption())).action((o) =>
    withCustody(o, async (ops) => {
      const keys = await ops.keys(o.brand);
      print(o, keys, () => keys.map(keyLine).join('') || `brand "${o.brand}" has no keys\n`);
    }),
  );
  targetOptions(
    key
      .command('create')
      .description('make a new key for a purpose in the HSM and register it (a ceremony when the brand policy guards key.create)')
      .addOption(brandOption())
      .addOption(new Option('--purpose <purpose>', 'what it signs').choices(['serials', 'models', 'store'] as const).makeOptionMandatory())
      .option('--token <label>', 'with several HSM tokens (hsm.tokens): the token to make it in; default the first')
      .addOption(expiresOption()),
  ).action((o) => guarded(o, 'key.create', { purpose: o.purpose, ...(o.token ? { token: o.token } : {}) }));
  targetOptions(
    key
      .command('rotate')
      .description('replace the key in use for a purpose by a new one, from now or --at a time, with no downtime: what the old key signed keeps verifying')
      .addOption(brandOption())
      .addOption(new Option('--purpose <purpose>', 'what the key signs').choices(['serials', 'models', 'store'] as const).makeOptionMandatory())
      .option('--key <label>', 'the key to replace, when the brand has several in use for the purpose')
      .option('--at <time>', 'when the new key takes over (RFC 3339, e.g. 2027-01-01T00:00:00Z); default now')
      .addOption(expiresOption()),
  ).action((o) => guarded(o, 'key.rotate', { purpose: o.purpose, ...(o.key ? { key: o.key } : {}), ...(o.at ? { at: o.at } : {}) }));
  targetOptions(
    key
      .command('revoke')
      .description('stop every use of a key at once; in the local setup its account-key is re-issued with until, so devices refuse what it signs from then on')
      .argument('<label>', 'the key (serial-vault key states lists them)')
      .addOption(brandOption())
      .addOption(expiresOption()),
  ).action((label, o) => guarded(o, 'key.revoke', { key: label }));
  targetOptions(
    key.command('destroy').description("remove a revoked key's private half from the HSM").argument('<label>', 'the revoked key').addOption(brandOption()).addOption(expiresOption()),
  ).action((label, o) => guarded(o, 'key.destroy', { key: label }));
  targetOptions(key.command('health').description('what needs attention: models without a usable key, keys missing from the HSM or expiring, account-keys awaited, ceremonies waiting; exits 1 when anything does').addOption(brandOption())).action((o) =>
    withCustody(o, async (ops) => {
      const findings = await ops.health(o.brand);
      print(o, findings, () => (findings.length === 0 ? `ok: nothing needs attention for "${o.brand}"\n` : findings.map((f) => `${f.kind}: ${f.message}\n`).join('')));
      if (findings.length > 0) process.exitCode = 1;
    }),
  );
  targetOptions(key.command('request').description("print a pending key's account-key-request, to submit to Canonical").argument('<label>', 'the pending key').addOption(brandOption()).option('--out <file>', 'write it to a file')).action((label, o) =>
    withCustody(o, async (ops) => {
      const k = (await ops.keys(o.brand)).find((x) => x.label === label);
      if (!k?.accountKeyRequest) throw new CliError(`key "${label}" of "${o.brand}" has no account-key-request waiting${k ? ` (it is ${k.state})` : ''}`);
      if (o.out) await writeFile(o.out, k.accountKeyRequest);
      else io.stdout(k.accountKeyRequest);
    }),
  );
  key
    .command('import-account-key')
    .description('activate a pending key with the account-key Canonical signed for it (checked: this key, this brand, constraints that allow its purpose)')
    .argument('<file>', 'the account-key assertion')
    .addOption(dataDirOption())
    .action(async (file, o) => {
      const [assertion] = decodeStream(await readFile(file).catch((e: Error) => Promise.reject(new CliError(`cannot read ${file}: ${e.message}`))));
      if (!assertion) throw new CliError(`${file} holds no assertion`);
      await withVault(o.dataDir, async (vault) => {
        const k = await vault.custody.lifecycle.importAccountKey(assertion, OPERATOR_ACTOR);
        io.stdout(`key ${k.label} is active from ${k.since} (${k.purpose})\n`);
      });
    });

  const ceremony = new Command('ceremony').description('M-of-N approvals of key actions by security officers');
  targetOptions(ceremony.command('list').description("a brand's ceremonies, newest first").addOption(brandOption()).option('--open', 'only those waiting for approvals')).action((o) =>
    withCustody(o, async (ops) => {
      const list = await ops.ceremonies(o.brand, o.open ? true : undefined);
      print(o, list, () => list.map((c) => `${String(c.id).padStart(5)}  ${c.state.padEnd(9)} ${c.action.padEnd(18)} ${c.approvals.length}/${c.approvalsNeeded}  by ${c.proposedBy}, expires ${c.expiresAt}\n`).join('') || 'no ceremonies\n');
    }),
  );
  targetOptions(ceremony.command('show').description('one ceremony in full: what it runs, who approved').argument('<id>').addOption(brandOption())).action((id, o) =>
    withCustody(o, async (ops) => {
      const c = await ops.ceremony(o.brand, Number(id));
      print(o, c, () => ceremonyText(c));
    }),
  );
  targetOptions(ceremony.command('approve').description('approve a ceremony as a security officer (with your token); the approval that completes it runs it').argument('<id>').addOption(brandOption())).action((id, o) =>
    withCustody(o, async (ops) => {
      const outcome = await ops.approve(o.brand, Number(id));
      print(o, outcome, () => outcomeText(outcome, o.brand));
    }),
  );
  targetOptions(
    ceremony
      .command('propose')
      .description(`propose any guarded action with its parameters (${CEREMONY_ACTIONS.join(', ')})`)
      .argument('<action>')
      .addOption(brandOption())
      .option('--param <name=value...>', 'a parameter, e.g. --param model=pi --param key=brand-acme-serials-2')
      .addOption(expiresOption()),
  ).action((action, o) => {
    if (!isCeremonyAction(action)) throw new CliError(`"${action}" is not a ceremony action: use one of ${CEREMONY_ACTIONS.join(', ')}`);
    const params = Object.fromEntries((o.param ?? []).map((p) => [p.slice(0, Math.max(0, p.indexOf('='))), p.slice(p.indexOf('=') + 1)]));
    return guarded(o, action, params);
  });
  targetOptions(
    ceremony
      .command('policy')
      .description("set a brand's ceremony policy: M approvals, the guarded actions, how long a proposal lasts (itself a guarded action)")
      .addOption(brandOption())
      .requiredOption('--approvals <m>', 'approvals needed from security officers other than the proposer (1–9)')
      .option('--actions <list>', `comma-separated guarded actions (default all: ${CEREMONY_ACTIONS.join(',')})`)
      .option('--expiry-hours <h>', 'how long a proposal waits (1–720, default 24)')
      .addOption(expiresOption()),
  ).action((o) => guarded(o, 'ceremony.policy', { approvals: o.approvals, ...(o.actions ? { actions: o.actions } : {}), ...(o.expiryHours ? { expiryHours: o.expiryHours } : {}) }));

  targetOptions(exportCmd.command('chain').description("print the brand's account and every registered account-key (with their states on stderr): what a device or snap ack needs").addOption(brandOption()).option('--out <file>', 'write the assertions to a file')).action((o) =>
    withCustody(o, async (ops) => {
      const chain = await ops.chain(o.brand);
      const stream = chain.assertions.map((a) => (a.endsWith('\n') ? a : `${a}\n`)).join('\n');
      if (o.json) return print(o, chain, () => '');
      for (const k of chain.keys) io.stderr(`${k.label}: ${k.purpose}, ${k.state} (${k.keyId})\n`);
      if (o.out) await writeFile(o.out, stream);
      else io.stdout(stream);
    }),
  );
  return [ceremony];
}

/** `model resign`: the model signed again, as its next revision, by the brand's models key in use now. */
export function addModelResign(model: Command, io: CliIo): void {
  model
    .command('resign')
    .description("sign a model again as its next revision with the brand's models key in use now (after a rotation)")
    .addOption(brandOption())
    .requiredOption('--model <name>', 'the model')
    .addOption(dataDirOption())
    .action(async (o) => {
      await withVault(o.dataDir, async (vault) => {
        const m = await vault.models.resign(o.brand, o.model);
        io.stdout(`model ${m.brandAccountId}/${m.name} re-signed: revision ${(await vault.models.assertion(m)).revision}\n`);
      });
    });
}
