/**
 * npm run bench:allowlist: a station's allow-list of 1,000,000 serials
 * imported by the command line, as an operator runs it (its own process,
 * SQLite, SoftHSM2), from CSV, then the same file again (changes nothing),
 * then the same serials, shuffled, as a JSON array into another station.
 * Times each process from start to exit, and samples its peak RSS (VmHWM).
 * Last line: RESULT allowlist_rows=… import_s=… reimport_s=… json_import_s=… peak_rss_mb=…
 * Goals: import_s < 60 on the 2-core bench machine, peak RSS bounded
 * (the same for 100,000 rows as for 1,000,000: BENCH_ALLOWLIST_ROWS).
 *
 * Until the `allowlist` command is in the program, the child runs the
 * command module itself (`--child`), the same code under the same options.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { allowlistCommand } from '../../src/cli/commands/allowlist.js';
import { processIo } from '../../src/cli/io.js';
import { buildProgram } from '../../src/cli/program.js';
import { fmt } from './measure.js';

const ROWS = Number(process.env['BENCH_ALLOWLIST_ROWS'] ?? 1_000_000);
const GOAL_S = 60;
const root = resolve(import.meta.dirname, '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

const serial = (i: number) => `SN-${String(i).padStart(10, '0')}`;

/** Writes a file line by line, waiting when the stream asks to. */
async function writeFile(path: string, lines: (write: (s: string) => Promise<void>) => Promise<void>): Promise<void> {
  const out = createWriteStream(path);
  await lines(async (s) => {
    if (!out.write(s)) await once(out, 'drain');
  });
  out.end();
  await once(out, 'finish');
}

const vmHwmMb = (pid: number): number => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // gone already
  }
};

/** Runs the import command in its own process: its wall time, peak RSS and output. */
function timedImport(args: readonly string[]): Promise<{ seconds: number; rssMb: number; stdout: string }> {
  const wired = buildProgram(processIo).commands.some((c) => c.name() === 'allowlist');
  const argv = wired ? [cli, 'allowlist', ...args] : [fileURLToPath(import.meta.url), '--child', ...args];
  return new Promise((res, rej) => {
    const start = performance.now();
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let peak = 0;
    let stdout = '';
    const sampler = setInterval(() => (peak = Math.max(peak, vmHwmMb(child.pid!))), 50);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('exit', (code) => {
      clearInterval(sampler);
      const seconds = (performance.now() - start) / 1000;
      if (code !== 0) rej(new Error(`allowlist ${args.join(' ')} exited with ${code}`));
      else res({ seconds, rssMb: peak, stdout });
    });
  });
}

async function main(): Promise<void> {
  // The vault and its stations are made here, then closed: the command opens the data directory itself.
  const { startTestVault, testDataDir } = await import('../support/vault.js');
  const dir = testDataDir();
  try {
    const t = await startTestVault(dir, 'sqlite', { log: { level: 'warn' } } as never);
    const model = (await t.vault.models.find('demo-brand', 'demo-model'))!;
    for (const name of ['bench-csv', 'bench-json']) await t.vault.provisioning.stationAdmin.create({ brandId: 'demo-brand', name, models: [model], allowlist: true });
    await t.close();

    const csv = join(dir, 'serials.csv');
    const json = join(dir, 'serials.json');
    await writeFile(csv, async (write) => {
      await write('serial\n');
      for (let i = 0; i < ROWS; i++) await write(`${serial(i)}\n`);
    });
    await writeFile(json, async (write) => {
      await write('[\n');
      // Shuffled (7919 is prime): the list's index then takes them in no particular order.
      for (let i = 0; i < ROWS; i++) await write(`  {"serial": "${serial((i * 7919) % ROWS)}"}${i < ROWS - 1 ? ',' : ''}\n`);
      await write(']\n');
    });
    console.log(`allow-list benchmark: ${ROWS} serials, CSV ${fmt(statSync(csv).size / 1e6)} MB, JSON ${fmt(statSync(json).size / 1e6)} MB; node ${process.version}`);

    const common = ['--brand', 'demo-brand', '--data-dir', dir];
    const first = await timedImport(['import', csv, '--station', 'bench-csv', ...common]);
    console.log(`  CSV import:    ${fmt(first.seconds)} s, peak RSS ${fmt(first.rssMb)} MB: ${first.stdout.trim()}`);
    const again = await timedImport(['import', csv, '--station', 'bench-csv', ...common]);
    console.log(`  CSV re-import: ${fmt(again.seconds)} s, peak RSS ${fmt(again.rssMb)} MB: ${again.stdout.trim()}`);
    const fromJson = await timedImport(['import', json, '--station', 'bench-json', ...common]);
    console.log(`  JSON import:   ${fmt(fromJson.seconds)} s, peak RSS ${fmt(fromJson.rssMb)} MB: ${fromJson.stdout.trim()}`);

    for (const [what, r, added] of [['CSV import', first, ROWS], ['CSV re-import', again, 0], ['JSON import', fromJson, ROWS]] as const) {
      if (!r.stdout.includes(`read ${ROWS} serials, added ${added},`)) throw new Error(`${what}: unexpected summary ${r.stdout.trim()}`);
    }
    const peak = Math.max(first.rssMb, again.rssMb, fromJson.rssMb);
    if (first.seconds > GOAL_S) console.log(`  over the goal: the import took ${fmt(first.seconds)} s, more than ${GOAL_S} s`);
    console.log(`RESULT allowlist_rows=${ROWS} import_s=${fmt(first.seconds)} reimport_s=${fmt(again.seconds)} json_import_s=${fmt(fromJson.seconds)} peak_rss_mb=${fmt(peak)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const command = allowlistCommand(processIo).exitOverride();
  await command.parseAsync(process.argv.slice(3), { from: 'user' });
} else {
  await main();
}
