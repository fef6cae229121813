import { Command, Option } from '@commander-js/extra-typings';
import type { StationUpdate, StationView } from '../../provisioning/factory-lines.js';
import { reportCsv } from '../../provisioning/registration-stats.js';
import { localFactoryOps, remoteFactoryOps, type FactoryOps } from '../factory-client.js';
import { CliError, type CliIo } from '../io.js';
import { targetOptions, withPerson, type Target } from './target.js';

const withFactory = <T>(o: Target, fn: (ops: FactoryOps) => Promise<T>) => withPerson(o, { local: localFactoryOps, remote: remoteFactoryOps }, fn);

const count = (v: string, name: string) => {
  if (!/^\d+$/.test(v)) throw new CliError(`${name} takes a whole number, not "${v}"`);
  return Number(v);
};
const time = (v: string, name: string) => {
  const d = new Date(v);
  if (!/^\d{4}-\d\d-\d\dT/.test(v) || Number.isNaN(d.getTime())) throw new CliError(`${name} takes an RFC 3339 time, e.g. 2027-01-01T00:00:00Z, not "${v}"`);
  return d;
};
/** `none` clears a limit, a window end or the pattern. */
const orNone = <T>(v: string | undefined, parse: (v: string) => T): T | null | undefined => (v === undefined ? undefined : v === 'none' ? null : parse(v));

export function stationText(s: StationView): string {
  const limit = (n: number | null) => (n === null ? 'no limit' : String(n));
  const used = s.usage.map((u) => `${u.window === 'total' ? 'total' : u.window.startsWith('h:') ? 'this hour' : 'today'} ${u.used}${u.limit !== null ? `/${u.limit}` : ''}`).join(', ');
  return [
    `station ${s.brand}/${s.name}${s.disabled ? '  DISABLED' : ''}`,
    `  models:       ${s.models.join(', ')}`,
    `  provisioning: ${s.provisioning}`,
    `  window:       ${s.validFrom ?? 'any time'} – ${s.validUntil ?? 'no end'}`,
    `  quotas:       per hour ${limit(s.perHour)}, per day ${limit(s.perDay)}, total ${limit(s.total)}`,
    `  issued:       ${used}`,
    `  serials:      ${s.pattern ? `matching ${s.pattern}` : 'any'}${s.allowlist ? ', on its allow-list only' : ''}`,
    `  API keys:     ${s.apiKeys.map((k) => `sv_${k.prefix}_… ${k.name}${k.revoked ? ' (revoked)' : ''}`).join(', ') || 'none'}`,
    '',
  ].join('\n');
}

/** What the station create and update commands share (their options are added by `limitOptions`). */
interface LimitOpts extends Target {
  perHour?: string;
  perDay?: string;
  total?: string;
  from?: string;
  until?: string;
  pattern?: string;
  provisioning?: 'api-key' | 'hardware-identity';
  model?: string[];
  allowlist?: boolean;
  brand?: string;
}

const limitOptions = <C extends Command<[string]>>(cmd: C, clear: boolean) =>
  cmd
    .option('--per-hour <n>', `serials per UTC hour${clear ? ' ("none" clears)' : ''}`)
    .option('--per-day <n>', `serials per UTC day${clear ? ' ("none" clears)' : ''}`)
    .option('--total <n>', `serials in all${clear ? ' ("none" clears)' : ''}`)
    .option('--from <time>', 'provisions from this time (RFC 3339)')
    .option('--until <time>', `provisions until this time (RFC 3339)${clear ? '; "none" clears' : ''}`)
    .option('--pattern <regex>', `every serial must match this regular expression in full${clear ? ' ("none" clears)' : ''}`)
    .addOption(new Option('--provisioning <method>', 'how its devices show they may have a serial: the API key alone, or also a hardware identity').choices(['api-key', 'hardware-identity'] as const));

export function stationCommands(io: CliIo): Command[] {
  const print = (o: { json?: boolean | undefined }, value: unknown, text: () => string) => io.stdout(o.json ? `${JSON.stringify(value, null, 2)}\n` : text());
  const station = new Command('station').description('factory lines: which models a line may provision, when, how many, which serials; each with its own API keys');

  targetOptions(
    limitOptions(
      station
        .command('create')
        .description("create a station for one or more models; prints its first API key once, on the last line (the gadget's api-key header)")
        .argument('<name>', 'e.g. line-1')
        .requiredOption('--model <brand/model...>', 'a model it may provision (repeat for more)')
        .option('--allowlist', 'issue only serials on its allow-list (serial-vault allowlist import)'),
      false,
    ),
  ).action((name, raw) => {
    const o = raw as LimitOpts & { model: string[] };
    return withFactory(o, async (ops) => {
      const brand = o.model[0]!.includes('/') ? o.model[0]!.split('/')[0]! : '';
      if (!brand) throw new CliError('give each --model as BRAND/MODEL');
      const made = await ops.createStation(brand, {
        name,
        models: o.model,
        ...(o.perHour !== undefined ? { perHour: count(o.perHour, '--per-hour') } : {}),
        ...(o.perDay !== undefined ? { perDay: count(o.perDay, '--per-day') } : {}),
        ...(o.total !== undefined ? { total: count(o.total, '--total') } : {}),
        ...(o.from !== undefined ? { validFrom: time(o.from, '--from') } : {}),
        ...(o.until !== undefined ? { validUntil: time(o.until, '--until') } : {}),
        ...(o.pattern !== undefined ? { pattern: o.pattern } : {}),
        ...(o.provisioning ? { provisioning: o.provisioning } : {}),
        ...(o.allowlist ? { allowlist: true } : {}),
      });
      if (o.json) return print(o, made, () => '');
      io.stderr(stationText(made.station));
      io.stderr('its first API key, shown only now (serial-vault apikey create --station makes more):\n');
      io.stdout(`${made.apiKey}\n`);
    });
  });
  targetOptions(station.command('list').description("a brand's stations").requiredOption('--brand <account-id>', 'the brand')).action((o) =>
    withFactory(o, async (ops) => {
      const all = await ops.stations(o.brand);
      print(o, all, () => all.map(stationText).join('') || `brand ${o.brand} has no stations\n`);
    }),
  );
  targetOptions(station.command('show').description('one station, with what it has issued in its quota windows').argument('<name>').requiredOption('--brand <account-id>', 'the brand')).action((name, o) =>
    withFactory(o, async (ops) => {
      const s = await ops.station(o.brand, name);
      print(o, s, () => stationText(s));
    }),
  );
  targetOptions(
    limitOptions(
      station
        .command('update')
        .description("change a station's models, window, quotas, pattern, allow-list use or provisioning; takes effect within seconds")
        .argument('<name>')
        .requiredOption('--brand <account-id>', 'the brand')
        .option('--model <brand/model...>', 'the models it may provision (replaces the list)')
        .option('--allowlist', 'issue only serials on its allow-list')
        .option('--no-allowlist', 'issue serials whether listed or not'),
      true,
    ),
  ).action((name, raw) => {
    const o = raw as LimitOpts & { brand: string };
    const changes: StationUpdate = {
      ...(o.model ? { models: o.model } : {}),
      ...(o.perHour !== undefined ? { perHour: orNone(o.perHour, (v) => count(v, '--per-hour')) } : {}),
      ...(o.perDay !== undefined ? { perDay: orNone(o.perDay, (v) => count(v, '--per-day')) } : {}),
      ...(o.total !== undefined ? { total: orNone(o.total, (v) => count(v, '--total')) } : {}),
      ...(o.from !== undefined ? { validFrom: orNone(o.from, (v) => time(v, '--from')) } : {}),
      ...(o.until !== undefined ? { validUntil: orNone(o.until, (v) => time(v, '--until')) } : {}),
      ...(o.pattern !== undefined ? { pattern: orNone(o.pattern, (v) => v) } : {}),
      ...(o.provisioning ? { provisioning: o.provisioning } : {}),
      ...(o.allowlist !== undefined ? { allowlist: o.allowlist } : {}),
    } as StationUpdate;
    return withFactory(o, async (ops) => {
      const s = await ops.updateStation(o.brand, name, changes);
      print(o, s, () => stationText(s));
    });
  });
  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    targetOptions(
      station
        .command(verb)
        .description(disabled ? 'stop a station provisioning at once (its API keys are refused with a message saying so)' : 'let a disabled station provision again')
        .argument('<name>')
        .requiredOption('--brand <account-id>', 'the brand'),
    ).action((name, o) =>
      withFactory(o, async (ops) => {
        const s = await ops.updateStation(o.brand, name, { disabled });
        print(o, s, () => stationText(s));
      }),
    );
  }

  const remodel = new Command('remodel').description('which devices may move to another model and sub-store (snapd re-registration, e.g. to a reseller)');
  targetOptions(
    remodel
      .command('allow')
      .description('allow devices of one model to re-register as another of the target brand')
      .requiredOption('--from <brand/model>', 'the model devices leave')
      .requiredOption('--to <brand/model>', 'the model they move to (its brand makes the rule)')
      .option('--store <id>', 'only when the target model names this (sub-)store'),
  ).action((o) =>
    withFactory(o, async (ops) => {
      const brand = o.to.split('/')[0]!;
      if (!o.to.includes('/') || !o.from.includes('/')) throw new CliError('give --from and --to as BRAND/MODEL');
      const rule = await ops.allowRemodel(brand, o.from, o.to, o.store);
      print(o, rule, () => `devices of ${rule.from} may now re-register as ${rule.to}${rule.store ? ` (into store ${rule.store})` : ''}\n`);
    }),
  );
  targetOptions(remodel.command('remove').description('stop allowing a move').requiredOption('--from <brand/model>', 'the model devices leave').requiredOption('--to <brand/model>', 'the model they move to')).action((o) =>
    withFactory(o, async (ops) => {
      await ops.removeRemodel(o.to.split('/')[0]!, o.from, o.to);
      print(o, { removed: true }, () => `moves from ${o.from} to ${o.to} are no longer allowed\n`);
    }),
  );
  targetOptions(remodel.command('list').description('moves into a brand’s models that are allowed').requiredOption('--brand <account-id>', 'the brand devices move to')).action((o) =>
    withFactory(o, async (ops) => {
      const rules = await ops.remodelRules(o.brand);
      print(o, rules, () => rules.map((r) => `${r.from} → ${r.to}${r.store ? `  store ${r.store}` : ''}\n`).join('') || 'no moves are allowed\n');
    }),
  );

  const report = targetOptions(
    new Command('report')
      .description('registrations per hour or day, station, model and outcome (issued, repeated, reprovisioned, queued, refused:CODE), as CSV')
      .requiredOption('--brand <account-id>', 'the brand')
      .option('--station <name>', 'one station only')
      .option('--model <name>', 'one model only')
      .option('--from <time>', 'from this time (RFC 3339)')
      .option('--until <time>', 'before this time (RFC 3339)')
      .addOption(new Option('--by <period>', 'one line per hour or per day').choices(['hour', 'day'] as const).default('hour' as const)),
  ).action((o) =>
    withFactory(o, async (ops) => {
      const rows = await ops.report(o.brand, {
        by: o.by,
        ...(o.station ? { station: o.station } : {}),
        ...(o.model ? { model: o.model } : {}),
        ...(o.from ? { from: time(o.from, '--from') } : {}),
        ...(o.until ? { until: time(o.until, '--until') } : {}),
      });
      print(o, rows, () => reportCsv(rows));
    }),
  );
  return [station, remodel, report];
}

/** `apikey create --station NAME --brand B`: another key of a station's line. */
export function stationApiKeyAction(io: CliIo) {
  return (o: Target & { station: string; brand: string; name?: string | undefined }) =>
    withFactory(o, async (ops) => {
      const made = await ops.createApiKey(o.brand, o.station, o.name);
      io.stderr(`API key "${o.name ?? o.station}" of station ${o.brand}/${o.station}; it is shown only now:\n`);
      io.stdout(`${made.apiKey}\n`);
    });
}
