import { execFile } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from '@commander-js/extra-typings';
import { CONFIG_FILE, ConfigSchema, configOptions } from '../../config.js';
import { CliError, type CliIo } from '../io.js';
import { dataDirOption } from './vault-options.js';

const run = promisify(execFile);

/** `snap set serial-vault KEY=VALUE` keys, and where each goes in the configuration: drawn from the schema. */
export const SNAP_SETTINGS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(configOptions().flatMap((o) => (o.snap ? [[o.snap, o.path]] : [])));

function flatten(value: unknown, prefix = ''): [string, unknown][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [[prefix, value]];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

/**
 * Applies the snap's configuration to DATA_DIR/config.json through the one
 * configuration schema. Every problem is listed and nothing is written when
 * there is one, so `snap set` refuses the change.
 */
export async function applySnapConfig(dataDir: string, settings: unknown): Promise<{ changed: boolean }> {
  const path = join(dataDir, CONFIG_FILE);
  const current = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  const next = structuredClone(current);
  const problems: string[] = [];
  for (const [key, value] of flatten(settings ?? {})) {
    if (key === '' || value === undefined) continue;
    if (key === 'database.url') {
      if (typeof value !== 'string' || !/^postgres(ql)?:\/\//.test(value)) problems.push('database.url: expected a postgres:// URL');
      else next['database'] = { client: 'pg', connection: value };
      continue;
    }
    const target = SNAP_SETTINGS[key];
    if (!target) {
      problems.push(`${key}: unknown setting (known: ${[...Object.keys(SNAP_SETTINGS), 'database.url'].join(', ')})`);
      continue;
    }
    let node = next;
    for (const k of target.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[target.at(-1) as string] = value;
  }
  const parsed = ConfigSchema.safeParse({ ...next, dataDir });
  if (!parsed.success) {
    const back = Object.fromEntries(Object.entries(SNAP_SETTINGS).map(([k, p]) => [p.join('.'), k]));
    problems.push(...parsed.error.issues.map((i) => `${back[i.path.join('.')] ?? i.path.join('.')}: ${i.message}`));
  }
  if (problems.length > 0) throw new CliError(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 1);
  const changed = JSON.stringify(next) !== JSON.stringify(current);
  if (changed) {
    await writeFile(`${path}.new`, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await rename(`${path}.new`, path);
  }
  return { changed };
}

export function snapCommand(io: CliIo): Command {
  return new Command('snap-configure')
    .description('(used by the snap\'s configure hook) apply `snap set` values through the configuration schema')
    .addOption(dataDirOption())
    .action(async (options) => {
      const snapctl = process.env['SNAPCTL'] ?? 'snapctl';
      const { stdout } = await run(snapctl, ['get', '-d']).catch((e: Error) => {
        throw new CliError(`cannot read the snap configuration: ${e.message}`);
      });
      const settings = stdout.trim() === '' ? {} : (JSON.parse(stdout) as unknown);
      const { changed } = await applySnapConfig(options.dataDir, settings);
      if (changed) {
        io.stderr('configuration changed: restarting the daemon\n');
        await run(snapctl, ['restart', 'serial-vault.daemon']).catch(() => undefined);
      }
    });
}
