import { writeFile } from 'node:fs/promises';
import { Command, Option } from '@commander-js/extra-typings';
import { decodeAssertion, formatRfc3339, parseRfc3339 } from '../../assertions/index.js';
import type { SystemUserSummary } from '../../provisioning/system-users.js';
import { CliError, type CliIo } from '../io.js';
import { localSystemUserOps, remoteSystemUserOps, type SystemUserOps } from '../system-user-client.js';
import { targetOptions, withPerson, type Target } from './target.js';

const withSystemUsers = <T>(o: Target, fn: (ops: SystemUserOps) => Promise<T>) => withPerson(o, { local: localSystemUserOps, remote: remoteSystemUserOps }, fn);

const collect = (value: string, previous: string[]) => [...previous, value];

function time(option: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const t = parseRfc3339(text);
  if (!t) throw new CliError(`${option} must be an RFC 3339 time, e.g. 2027-01-01T00:00:00Z, not "${text}"`);
  return t;
}

function summary(v: SystemUserSummary): string {
  const login = [v.sshKeys > 0 ? `${v.sshKeys} ssh key${v.sshKeys === 1 ? '' : 's'}` : '', v.password ? 'password' : ''].filter(Boolean).join(' and ');
  const devices = v.serials.length > 0 ? `${v.serials.length} serial${v.serials.length === 1 ? '' : 's'} of ${v.models.join(', ')}` : v.models.join(', ');
  return `${v.email}  ${v.username}  revision ${v.revision}  ${devices}  ${login}  ${v.since} – ${v.until}`;
}

/** `system-user create|show|list`: a brand's permits for local accounts on its devices, signed in the HSM. */
export function systemUserCommand(io: CliIo): Command {
  const read = async (file: string) => (await io.readFile(file).catch((e: Error) => Promise.reject(new CliError(`cannot read ${file}: ${e.message}`)))).toString('utf8');
  /** An authorized_keys-style file: one key a line; blank lines and comments skipped. */
  const sshKeys = async (files: readonly string[]) => (await Promise.all(files.map(read))).flatMap((t) => t.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));

  const cmd = new Command('system-user').description("system-user assertions: local accounts (factory service accounts) that the brand's devices create from a USB stick or with snap create-user --known");
  targetOptions(cmd
    .command('create')
    .description('sign a system-user with the brand\'s models key in the HSM; the same brand and email again is its next revision')
    .requiredOption('--brand <account-id>', 'the brand that signs it')
    .requiredOption('--email <email>', 'whom the account is for; with the brand, what names the assertion')
    .requiredOption('--username <name>', 'the account made on the device')
    .option('--name <name>', "the account's full name (default: the username)")
    .option('--model <name>', 'a model of the brand whose devices accept it (repeat for more; at least one)', collect, [] as string[])
    .option('--serial <serial>', 'only the device with this serial accepts it (repeat for more; needs exactly one --model)', collect, [] as string[])
    .option('--ssh-key-file <file>', 'public keys for the account, one a line as in authorized_keys (repeat for more files)', collect, [] as string[])
    .addOption(new Option('--password-file <file>', 'the password, hashed here with SHA-512 crypt (never stored, never logged)').conflicts('passwordHashFile'))
    .option('--password-hash-file <file>', 'a SHA-512 crypt hash made elsewhere ($6$…, e.g. openssl passwd -6)')
    .option('--force-password-change', 'the user must choose a new password at first login')
    .option('--since <time>', 'valid from (RFC 3339; default now)')
    .option('--until <time>', 'valid until (RFC 3339; default a year after --since)')
    .option('--out <file>', 'write the assertion to a file instead of standard output'))
    .action(async (o) => {
      const since = time('--since', o.since);
      const until = time('--until', o.until);
      // A file's last line break is not part of the password.
      const password = o.passwordFile !== undefined ? (await read(o.passwordFile)).replace(/\r?\n$/, '') : undefined;
      const passwordHash = o.passwordHashFile !== undefined ? (await read(o.passwordHashFile)).trim() : undefined;
      const keys = await sshKeys(o.sshKeyFile);
      await withSystemUsers(o, async (ops) => {
        const made = await ops.create({
          brand: o.brand,
          email: o.email,
          username: o.username,
          ...(o.name !== undefined ? { name: o.name } : {}),
          models: o.model,
          serials: o.serial,
          sshKeys: keys,
          ...(password !== undefined ? { password } : {}),
          ...(passwordHash !== undefined ? { passwordHash } : {}),
          ...(o.forcePasswordChange ? { forcePasswordChange: true } : {}),
          ...(since ? { since } : {}),
          ...(until ? { until } : {}),
        });
        const a = decodeAssertion(Buffer.from(made.assertion, 'utf8'));
        if (o.out) await writeFile(o.out, made.assertion);
        else io.stdout(made.assertion);
        const v = a.is('system-user') ? a.view : undefined;
        io.stderr(`system-user ${o.brand}/${o.email} revision ${made.revision}${v ? `, valid ${formatRfc3339(v.since)} – ${formatRfc3339(v.until)}` : ''}\n`);
      });
    });
  targetOptions(cmd
    .command('show')
    .description('print the latest revision of a system-user assertion')
    .requiredOption('--brand <account-id>', 'the brand')
    .requiredOption('--email <email>', 'the email it was issued for'))
    .action(async (o) => {
      await withSystemUsers(o, async (ops) => io.stdout(await ops.get(o.brand, o.email)));
    });
  targetOptions(cmd
    .command('list')
    .description("the brand's system-users, latest revisions")
    .requiredOption('--brand <account-id>', 'the brand'))
    .action(async (o) => {
      await withSystemUsers(o, async (ops) => {
        const all = await ops.list(o.brand);
        if (o.json) return io.stdout(`${JSON.stringify(all, null, 2)}\n`);
        io.stdout(all.length === 0 ? `brand "${o.brand}" has issued no system-users\n` : `${all.map(summary).join('\n')}\n`);
      });
    });
  return cmd;
}
