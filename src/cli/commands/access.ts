import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { ROLES, ROLE_TITLES, isRole, type Role } from '../../accounts/roles.js';
import { adminCliError, localOps, remoteOps, type AdminOps, type StoreNodeOut, type TokenOut } from '../admin-client.js';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption, withVault } from './vault-options.js';
import { targetOptions, withTarget, type Target } from './target.js';
import type { Vault } from '../../app.js';

const ADMIN_SIDES = { local: (vault: Vault) => localOps(vault.accounts), remote: (url: string, token: string) => remoteOps(url, token), asError: adminCliError };
const withOps = <T>(o: Target, fn: (ops: AdminOps) => Promise<T>) => withTarget(o, ADMIN_SIDES, fn);

const roleArg = (value: string): Role => {
  if (!isRole(value)) throw new CliError(`"${value}" is not a role: use one of ${ROLES.join(', ')}`);
  return value;
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

const wholeNumber = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
};

function printTree(io: CliIo, node: StoreNodeOut, prefix = '', last = true, top = true): void {
  const roles = node.roles.length > 0 ? `  [${node.roles.join(', ')}]` : '';
  io.stdout(`${top ? '' : `${prefix}${last ? '└── ' : '├── '}`}${node.id} (${node.kind}) ${node.name}${roles}\n`);
  const next = top ? '' : `${prefix}${last ? '    ' : '│   '}`;
  node.children.forEach((c, i) => printTree(io, c, next, i === node.children.length - 1, false));
}

function tokenLine(t: TokenOut): string {
  const state = t.revokedAt ? 'revoked' : Date.parse(t.expiresAt) <= Date.now() ? 'expired' : `expires ${t.expiresAt}`;
  const scope = `${t.stores ? `stores ${t.stores.join(',')}` : 'all stores'}; ${t.roles ? `roles ${t.roles.join(',')}` : 'all roles'}`;
  return `${t.id}  svp_${t.prefix}_…  ${t.name}  (${scope})  ${state}${t.lastUsedAt ? `, last used ${t.lastUsedAt}` : ''}`;
}

export function accessCommands(io: CliIo): Command[] {
  const out = (o: { json?: boolean }, value: unknown, text: () => string) => io.stdout(o.json ? `${JSON.stringify(value, null, 2)}\n` : text());

  // --- admin create -----------------------------------------------------
  const admin = new Command('admin').description('the first administrators of a brand (on the appliance)');
  admin
    .command('create')
    .description("make someone Store Administrator of a brand's store and print a one-time access token for them")
    .requiredOption('--email <email>', 'their email, as their identity provider knows it')
    .option('--name <name>', 'their display name')
    .option('--brand <account-id>', 'the brand (default: the only one)')
    .option('--days <n>', 'how long the token lives', wholeNumber, 1)
    .addOption(dataDirOption())
    .action(async (o) => {
      await withVault(o.dataDir, async (vault) => {
        try {
          const made = await vault.accounts.bootstrapAdmin({ email: o.email, ...(o.name ? { displayName: o.name } : {}), ...(o.brand ? { brand: o.brand } : {}), days: o.days });
          io.stderr(
            `${made.person.email} is Store Administrator of "${made.store.id}".\n` +
              `Their access token is below, shown this once; it expires ${made.token.expiresAt}.\n` +
              `Use it as "Authorization: Bearer <token>" or with --url and SERIAL_VAULT_TOKEN, then sign in through single sign-on.\n`,
          );
          io.stdout(`${made.secret}\n`);
        } catch (e) {
          throw adminCliError(e);
        }
      });
    });

  // --- store ------------------------------------------------------------
  const store = new Command('store').description('the store tree: brand stores, product and ecosystem sub-stores');
  targetOptions(
    store
      .command('create')
      .description('create a product sub-store (grants above reach it) or an ecosystem sub-store (run by its own administrators)')
      .argument('<id>', 'the new store id: lower-case letters, digits, hyphens')
      .requiredOption('--parent <store>', 'the store it sits under')
      .addOption(new Option('--kind <kind>', 'product: per product line or model; ecosystem: for a reseller or partner').choices(['product', 'ecosystem'] as const).makeOptionMandatory())
      .option('--name <name>', 'display name (default: the id)')
      .option('--admin <email>', 'grant admin on the new store (repeat for several)', collect),
  ).action(async (id, o) => {
    await withOps(o, async (ops) => {
      const s = await ops.createStore({ id, name: o.name ?? id, parent: o.parent, kind: o.kind, ...(o.admin ? { administrators: o.admin } : {}) });
      out(o, s, () => `created ${s.kind} store "${s.id}" under "${s.parentId}"\n`);
    });
  });
  targetOptions(
    store
      .command('list')
      .description('list the stores you hold a role on (all of them on the appliance)')
      .option('--brand <account-id>', 'only this brand')
      .addOption(new Option('--kind <kind>', 'only this kind').choices(['brand', 'product', 'ecosystem'] as const))
      .option('--parent <store>', 'only the stores right under this one'),
  ).action(async (o) => {
    await withOps(o, async (ops) => {
      const stores = await ops.listStores({ ...(o.brand ? { brand: o.brand } : {}), ...(o.kind ? { kind: o.kind } : {}), ...(o.parent ? { parent: o.parent } : {}) });
      out(o, stores, () => stores.map((s) => `${s.id}  ${s.kind}  ${s.name}${s.parentId ? `  (under ${s.parentId})` : ''}\n`).join('') || 'no stores\n');
    });
  });
  targetOptions(store.command('tree').description('show the store tree, with your roles').argument('[store]', 'the top of the tree (default: every brand store you see)')).action(async (top, o) => {
    await withOps(o, async (ops) => {
      const roots = top ? [top] : await ops.roots();
      const trees = await Promise.all(roots.map((r) => ops.tree(r)));
      if (o.json) return out(o, trees, () => '');
      if (trees.length === 0) io.stdout('no stores\n');
      for (const t of trees) printTree(io, t);
    });
  });

  // --- person -----------------------------------------------------------
  const person = new Command('person').description('people, identified by the email they sign in with');
  targetOptions(person.command('add').description('add a person so they can sign in and be granted roles').argument('<email>').option('--name <name>', 'display name')).action(async (email, o) => {
    await withOps(o, async (ops) => {
      const p = await ops.addPerson(email, o.name);
      out(o, p, () => `added ${p.email} (id ${p.id})\n`);
    });
  });
  targetOptions(person.command('list').description('list people').option('--email <part>', 'only emails containing this')).action(async (o) => {
    await withOps(o, async (ops) => {
      const people = await ops.listPeople(o.email ? { email: o.email } : {});
      out(o, people, () => people.map((p) => `${p.id}  ${p.email}  ${p.displayName}${p.status === 'active' ? '' : `  (${p.status})`}\n`).join('') || 'no one\n');
    });
  });

  // --- role -------------------------------------------------------------
  const role = new Command('role').description(`roles on stores: ${ROLES.join(', ')}`).addHelpText('after', `\nRoles:\n${ROLES.map((r) => `  ${r.padEnd(17)} ${ROLE_TITLES[r]}`).join('\n')}\n`);
  targetOptions(role.command('grant').description('grant a role on a store (it reaches the product sub-stores below)').argument('<store>').argument('<email>').argument('<role>', ROLES.join(' | '), roleArg)).action(async (s, email, r, o) => {
    await withOps(o, async (ops) => {
      await ops.grant(s, email, r);
      out(o, { store: s, email, role: r }, () => `granted ${r} on "${s}" to ${email}\n`);
    });
  });
  targetOptions(role.command('revoke').description('revoke a role granted on a store (a store keeps at least one administrator)').argument('<store>').argument('<email>').argument('<role>', ROLES.join(' | '), roleArg)).action(async (s, email, r, o) => {
    await withOps(o, async (ops) => {
      await ops.revoke(s, email, r);
      out(o, { store: s, email, role: r }, () => `revoked ${r} on "${s}" from ${email}\n`);
    });
  });
  targetOptions(role.command('list').description('list the roles that reach a store, granted there or inherited').argument('<store>')).action(async (s, o) => {
    await withOps(o, async (ops) => {
      const grants = await ops.listGrants(s);
      out(o, grants, () => grants.map((g) => `${g.person.email}  ${g.role}${g.inheritedFrom ? `  (from ${g.inheritedFrom})` : ''}\n`).join('') || 'no roles\n');
    });
  });

  // --- token ------------------------------------------------------------
  const token = new Command('token').description('personal access tokens for scripts and factory stations');
  targetOptions(
    token
      .command('create')
      .description('create an access token; it is printed once, on standard output')
      .requiredOption('--name <name>', 'what it is for, e.g. "line 3 station"')
      .option('--days <n>', 'how long it lives', wholeNumber, 30)
      .option('--store <store>', 'limit it to this store and the product sub-stores below (repeat for several)', collect)
      .option('--role <role>', 'limit it to this role (repeat for several)', (v, prev: Role[] = []) => [...prev, roleArg(v)])
      .option('--email <email>', 'on the appliance: whose token it is'),
  ).action(async (o) => {
    await withOps(o, async (ops) => {
      const made = await ops.createToken({ name: o.name, days: o.days, ...(o.store ? { stores: o.store } : {}), ...(o.role ? { roles: o.role } : {}), ...(o.email ? { email: o.email } : {}) });
      if (o.json) return out(o, made, () => '');
      io.stderr(`token ${made.token.id} "${made.token.name}" expires ${made.token.expiresAt}; it is shown this once:\n`);
      io.stdout(`${made.secret}\n`);
    });
  });
  targetOptions(token.command('list').description('list tokens (never their secrets)').option('--email <email>', 'on the appliance: whose tokens')).action(async (o) => {
    await withOps(o, async (ops) => {
      const tokens = await ops.listTokens(o.email);
      out(o, tokens, () => tokens.map((t) => `${tokenLine(t)}\n`).join('') || 'no tokens\n');
    });
  });
  targetOptions(token.command('revoke').description('revoke a token at once').argument('<id>', 'the token id (token list)', wholeNumber)).action(async (id, o) => {
    await withOps(o, async (ops) => {
      await ops.revokeToken(id);
      out(o, { revoked: id }, () => `revoked token ${id}\n`);
    });
  });

  return [admin, store, person, role, token];
}
