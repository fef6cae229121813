import { Command } from '@commander-js/extra-typings';
import type { SyncStatus } from '../../sync/agent.js';
import type { CentralSync } from '../../sync/service.js';
import type { Vault } from '../../vault.js';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption, withVault } from './vault-options.js';

const ago = (iso: string | undefined, now = Date.now()) => (iso === undefined ? 'never' : `${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))} s ago`);

function applianceText(s: SyncStatus): string {
  const backlog = Object.entries(s.push.backlog).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `appliance ${s.appliance ?? '?'} of central ${s.upstream}`,
    `  pull:    ${s.pull.cursor === undefined ? 'no snapshot yet' : `at change ${s.pull.cursor} of ${s.pull.head ?? '?'}`}${s.pull.lagSeconds !== undefined ? `, up to date ${Math.round(s.pull.lagSeconds)} s ago` : ''}`,
    `  push:    not yet acknowledged: ${backlog || 'nothing'}; last push ${ago(s.push.lastPushAt)}`,
    `  leases:  ${s.leases.models.map((m) => `${m.brand}/${m.model} ${m.left} left`).join(', ') || 'none (no vault-numbered models)'}`,
    ...(s.alarms.length > 0 ? ['  alarms:', ...s.alarms.map((a) => `    - ${a}`)] : ['  alarms:  none']),
    '',
  ].join('\n');
}

/** Central's view: each appliance, how far it has pulled, and what it pushed. */
async function centralStatus(vault: Vault, sync: CentralSync) {
  const [appliances, positions, head] = await Promise.all([sync.appliances.list(), sync.feed.positions(), sync.feed.head()]);
  const acks = (await vault.db('sync_push_acks').select('appliance_id', 'kind', 'acked')) as Array<{ appliance_id: number; kind: string; acked: number | string }>;
  return {
    role: 'central' as const,
    head,
    appliances: await Promise.all(
      appliances.map(async (a) => {
        const record = await sync.appliances.repository.byName(a.name);
        const id = record?.id ?? -1;
        const p = positions.find((x) => x.applianceId === id);
        return {
          name: a.name,
          store: a.store,
          state: a.state,
          enrolled: a.enrolled,
          cursor: p?.cursor ?? null,
          changesBehind: p ? Math.max(0, head - p.cursor) : null,
          lastPullAt: p?.seenAt ?? null,
          pushed: Object.fromEntries(acks.filter((k) => Number(k.appliance_id) === id).map((k) => [k.kind, Number(k.acked)])),
        };
      }),
    ),
  };
}

export function syncCommand(io: CliIo): Command {
  const sync = new Command('sync').description("the link between central and its appliances: where each stands (the rest runs by itself under serve)");
  sync
    .command('status')
    .description('on an appliance: how far behind central it is, what it has not pushed, the serial numbers left in its leases, and any alarm; on central: each appliance\'s last pull and push')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .action(async (options) => {
      await withVault(options.dataDir, async (vault) => {
        if (vault.sync.role === 'appliance') {
          const status = await vault.sync.status();
          io.stdout(options.json ? `${JSON.stringify(status, null, 2)}\n` : applianceText(status));
          return;
        }
        const status = await centralStatus(vault, vault.sync);
        if (options.json) return io.stdout(`${JSON.stringify(status, null, 2)}\n`);
        if (status.appliances.length === 0) return io.stdout('central (or standalone): no appliances yet; add one with "serial-vault appliance add NAME --store S"\n');
        io.stdout(`central: feed at change ${status.head}\n`);
        for (const a of status.appliances) {
          io.stdout(`  ${a.name} (store ${a.store}, ${a.state}${a.enrolled ? '' : ', not enrolled'}): ${a.cursor === null ? 'never pulled' : `${a.changesBehind} changes behind, last pull ${ago(a.lastPullAt ?? undefined)}`}; pushed ${Object.entries(a.pushed).map(([k, n]) => `${k} to ${n}`).join(', ') || 'nothing'}\n`);
        }
      });
    });
  for (const [name, what] of [
    ['pull', 'apply what central has now (the first time: its snapshot), once, and exit'],
    ['push', 'push everything central has not acknowledged, once, and exit'],
  ] as const) {
    sync
      .command(name)
      .description(`on an appliance: ${what}; serve does this by itself`)
      .addOption(dataDirOption())
      .action(async (options) => {
        await withVault(options.dataDir, async (vault) => {
          if (vault.sync.role !== 'appliance') throw new CliError(`sync ${name} runs on an appliance (a vault with upstream.url); this one is central or standalone`, 1);
          if (name === 'push') await vault.sync.agent.pushNow();
          else while (await vault.sync.agent.pullOnce());
          io.stdout(applianceText(await vault.sync.status()));
        });
      });
  }
  return sync;
}
