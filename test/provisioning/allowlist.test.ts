import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR } from '../../src/accounts/principal.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import type { ModelRecord } from '../../src/catalog/models.js';
import { allowlistCommand } from '../../src/cli/commands/allowlist.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { CliError } from '../../src/cli/io.js';
import { CookieSealer } from '../../src/http/admin/cookies.js';
import { mountRoutes } from '../../src/http/admin/mount.js';
import { allowListRoutes } from '../../src/http/admin/routes/allowlists.js';
import { errors } from '../../src/http/middleware.js';
import { ProvisioningError } from '../../src/provisioning/errors.js';
import { AllowLists, type AllowListFormat } from '../../src/provisioning/allowlists.js';
import type { StationRecord } from '../../src/provisioning/stations.js';
import { deviceKeys, removeDataDir, startTestVault, testDataDir, type DatabaseKind, type TestVault } from '../support/vault.js';

const dataDir = testDataDir();
afterAll(() => removeDataDir(dataDir));

/** The file as a byte stream, cut into pieces of `size` bytes (splitting lines, tokens and UTF-8 characters). */
const bytes = (text: string, size = 64 * 1024) => {
  const all = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length; i += size) pieces.push(all.subarray(i, i + size));
  return Readable.from(pieces);
};

async function refusal(p: Promise<unknown>): Promise<ProvisioningError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProvisioningError);
  expect((e as ProvisioningError).code).toBe('ERR_ALLOWLIST_INVALID');
  return e as ProvisioningError;
}

describe.each<DatabaseKind>(['sqlite', 'pg'])('station allow-lists on %s', (database) => {
  let t: TestVault;
  let model: ModelRecord;
  let lists: AllowLists;
  let stations = 0;

  const newStation = async (options: { allowlist?: boolean } = {}) => {
    const made = await t.vault.provisioning.stationAdmin.create({ brandId: 'demo-brand', name: `line-${++stations}`, models: [model], ...options });
    return made;
  };
  const importText = (station: StationRecord, text: string, format: AllowListFormat, size?: number) => lists.import(station, bytes(text, size), { format, source: `serials.${format}` });
  const all = (station: StationRecord) => lists.page(station, { limit: 10_000 });
  const stagingRows = async () => Number(((await t.vault.db('allowlist_staging').count({ n: '*' }).first()) as { n: unknown }).n);
  const auditHead = async () => (await new AuditLog(t.vault.db).head()).seq;

  beforeAll(async () => {
    t = await startTestVault(dataDir, database);
    model = (await t.vault.models.find('demo-brand', 'demo-model'))!;
    lists = new AllowLists(t.vault.db);
  });
  afterAll(() => t?.close());

  it('imports CSV with a header, quoted cells, CRLF line ends and blank lines', async () => {
    const { station } = await newStation();
    const result = await importText(station, 'Serial\r\nSN-0001\r\n\r\n"SN,0002"\r\n"SN ""3"""\r\nSN-0001\r\n', 'csv');
    expect(result).toEqual({ read: 4, added: 3, unchanged: 1 });
    expect(await all(station)).toEqual(expect.arrayContaining(['SN-0001', 'SN,0002', 'SN "3"']));
    expect(await lists.count(station)).toBe(3);
    expect(await lists.has(station, 'SN,0002')).toBe(true);
    expect(await lists.has(station, 'SN-0002')).toBe(false);
  });

  it('takes the serial column a header names, and one serial a line without a header', async () => {
    const { station } = await newStation();
    expect(await importText(station, 'model,serial,note\ndemo-model,A1,"made on\nline 3"\ndemo-model,A2,\n', 'csv')).toEqual({ read: 2, added: 2, unchanged: 0 });
    expect(await importText(station, 'A2\nA3', 'csv')).toEqual({ read: 2, added: 1, unchanged: 1 });
    expect((await all(station)).sort()).toEqual(['A1', 'A2', 'A3']);
  });

  it('imports a JSON array of strings or of objects, read in any pieces, and JSON Lines', async () => {
    const { station } = await newStation();
    const objects = JSON.stringify([{ serial: 'J-ü-1', batch: { n: [1, 2, { deep: null }] } }, { note: 'x', serial: 'J\\"2' }, 'J-3'], null, 2);
    // Cut every 3 bytes: tokens, escapes and the two-byte ü fall across chunks.
    expect(await importText(station, objects, 'json', 3)).toEqual({ read: 3, added: 3, unchanged: 0 });
    expect(await importText(station, '\ufeff[ "J-3" ,"J-4",\n"J-\\u0035"]\n', 'json', 1)).toEqual({ read: 3, added: 2, unchanged: 1 });
    expect(await importText(station, '"J-6"\n\n{"serial": "J-7", "line": 3}\n', 'json')).toEqual({ read: 2, added: 2, unchanged: 0 });
    expect((await all(station)).sort()).toEqual(['J\\"2', 'J-3', 'J-4', 'J-5', 'J-6', 'J-7', 'J-ü-1'].sort());
  });

  it('reads an iterable of lines as the file', async () => {
    const { station } = await newStation();
    async function* lines() {
      yield 'serial';
      yield 'L-1';
      yield 'L-2\n';
    }
    const progress: number[] = [];
    expect(await lists.import(station, lines(), { format: 'csv', onProgress: (p) => progress.push(p.lines) })).toEqual({ read: 2, added: 2, unchanged: 0 });
    expect(progress.at(-1)).toBe(3);
  });

  it('records the import once, and a re-import adds nothing and writes no audit record', async () => {
    const { station } = await newStation();
    const text = `serial\n${Array.from({ length: 1200 }, (_, i) => `R-${String(i).padStart(5, '0')}`).join('\n')}\n`;
    const head = await auditHead();
    expect(await importText(station, text, 'csv')).toEqual({ read: 1200, added: 1200, unchanged: 0 });
    expect(await auditHead()).toBe(head + 1);
    const [entry] = await new AuditLog(t.vault.db).list({ storeIds: ['demo-brand'], limit: 1 });
    expect(entry).toMatchObject({ action: 'allowlist.import', targetType: 'station', targetId: `demo-brand/${station.name}`, storeId: 'demo-brand', after: { added: 1200, read: 1200, source: 'serials.csv' } });
    expect(await importText(station, text, 'csv')).toEqual({ read: 1200, added: 0, unchanged: 1200 });
    expect(await auditHead()).toBe(head + 1);
    expect(await lists.count(station)).toBe(1200);
    expect(await stagingRows()).toBe(0);
  });

  const long = 'X'.repeat(200);
  it.each([
    ['an empty quoted serial', 'serial\nOK-1\nOK-2\n""\nOK-3\n', 'csv', 4, 'the serial is empty'],
    ['a 200-character serial', `OK-1\nOK-2\nOK-3\n${long}\n`, 'csv', 4, 'the serial has 200 characters; serials have at most 128'],
    ['a control character', 'OK-1\nOK\u00072\n', 'csv', 2, 'holds a control character (U+0007)'],
    ['a "/"', 'OK-1\nOK/2\n', 'csv', 2, 'contains "/"'],
    ['several cells without a header', 'OK-1\nOK,2\n', 'csv', 2, 'the line has 2 cells'],
    ['an unclosed quote', 'OK-1\n"OK-2\n', 'csv', 2, 'a quoted cell is not closed before the end of the file'],
    ['broken JSON', '[\n"OK-1",\n"OK-2"\n"OK-3"\n]', 'json', 4, 'expected "," or "]" after an element'],
    ['a number in a JSON array', '["OK-1",\n 7]', 'json', 2, 'an element must be a string or an object with a "serial" string'],
    ['an object without a serial', '["OK-1",\n{"sn": "OK-2"}]', 'json', 2, 'the object has no "serial" member'],
    ['an unclosed JSON array', '["OK-1",\n"OK-2"', 'json', 2, 'the file ends before the array is closed'],
    ['a bad JSON line', '"OK-1"\n"OK-2"\n{"serial": OK-3}\n', 'json', 3, 'the line is not JSON'],
    ['a long serial in JSON Lines', `{"serial": "OK-1"}\n{"serial": "${long}"}\n`, 'json', 2, 'the serial has 200 characters'],
  ] as const)('applies nothing of a file with %s, naming its line', async (_what, text, format, line, why) => {
    const { station } = await newStation();
    await importText(station, 'BEFORE-1\n', 'csv');
    const head = await auditHead();
    const e = await refusal(importText(station, text, format));
    expect(e.message).toContain(`cannot import serials.${format}: line ${line}: `);
    expect(e.message).toContain(why);
    expect(e.message).toMatch(/nothing was imported$/);
    expect(await all(station)).toEqual(['BEFORE-1']);
    expect(await stagingRows()).toBe(0);
    expect(await auditHead()).toBe(head);
  });

  it('gives the exact sentence for a bad line', async () => {
    const { station } = await newStation();
    const e = await refusal(importText(station, 'serial\nA\n""\n', 'csv'));
    expect(e.message).toBe('cannot import serials.csv: line 3: the serial is empty; nothing was imported');
  });

  it('applies nothing when the file fails midway, and cleans its staging rows', async () => {
    const { station } = await newStation();
    async function* dying() {
      yield Buffer.from(`${Array.from({ length: 1500 }, (_, i) => `D-${i}`).join('\n')}\n`);
      throw new Error('the disk went away');
    }
    await expect(lists.import(station, Readable.from(dying()), { format: 'csv' })).rejects.toThrow('the disk went away');
    expect(await lists.count(station)).toBe(0);
    expect(await stagingRows()).toBe(0);
  });

  it('refuses text that is not UTF-8, naming the line', async () => {
    const { station } = await newStation();
    const e = await refusal(lists.import(station, Readable.from([Buffer.concat([Buffer.from('A\nB\n'), Buffer.from([0x43, 0xff, 0x0a])])]), { format: 'csv' }));
    expect(e.message).toContain('line 3: the file is not UTF-8 text');
  });

  it("removes an import's staging rows left over an hour ago, and leaves a running import's", async () => {
    const { station } = await newStation();
    const hex = (ms: number) => ms.toString(16).padStart(12, '0');
    const dead = `${hex(Date.now() - 2 * 3600_000)}-0000000000000000`;
    const running = `${hex(Date.now() - 60_000)}-1111111111111111`;
    await t.vault.db('allowlist_staging').insert([
      { import_id: dead, serial: 'DEAD-1' },
      { import_id: running, serial: 'RUN-1' },
    ]);
    await importText(station, 'S-1\n', 'csv');
    expect(await t.vault.db('allowlist_staging').pluck('import_id')).toEqual([running]);
    await t.vault.db('allowlist_staging').where({ import_id: running }).delete();
    expect(await all(station)).toEqual(['S-1']);
  });

  it('pages through a list by key, and removes serials with an audit record', async () => {
    const { station } = await newStation();
    await importText(station, Array.from({ length: 25 }, (_, i) => `P-${String(i).padStart(2, '0')}`).join('\n'), 'csv');
    const first = await lists.page(station, { limit: 10 });
    const second = await lists.page(station, { after: first.at(-1)!, limit: 10 });
    const third = await lists.page(station, { after: second.at(-1)!, limit: 10 });
    expect([...first, ...second, ...third].sort()).toEqual((await all(station)).sort());
    expect(third).toHaveLength(5);
    const head = await auditHead();
    expect(await lists.remove(station, ['P-00', 'P-01', 'NOT-LISTED'])).toBe(2);
    expect(await auditHead()).toBe(head + 1);
    expect(await lists.remove(station, ['P-00'])).toBe(0);
    expect(await auditHead()).toBe(head + 1);
    expect(await lists.count(station)).toBe(23);
  });

  it('lets other writes through while a long file streams in', async () => {
    const { station } = await newStation();
    let release!: () => void;
    const paused = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const midway = new Promise<void>((r) => (reached = r));
    async function* slowFile() {
      yield Buffer.from(`${Array.from({ length: 2000 }, (_, i) => `W-${i}`).join('\n')}\n`);
      reached();
      await paused;
      yield Buffer.from('W-LAST\n');
    }
    const importing = lists.import(station, Readable.from(slowFile()), { format: 'csv' });
    await midway;
    // A unit of work with its audit record, as a registration or an operator makes one: it must not wait for the import.
    const write = t.vault.provisioning.stationAdmin.update(station, { perHour: 100 }, [model]);
    const outcome = await Promise.race([write.then(() => 'written'), new Promise((r) => setTimeout(() => r('blocked'), 3000))]);
    release();
    expect(outcome).toBe('written');
    expect(await importing).toEqual({ read: 2001, added: 2001, unchanged: 0 });
  });

  it('refuses a device whose serial is not on the list, naming the station, and serves it once listed', async () => {
    const { station, key } = await newStation({ allowlist: true });
    const [deviceKey] = await deviceKeys(1);
    const register = () => registerDevice({ url: t.url, headers: { 'api-key': key }, model: t.model, trusted: t.trusted, deviceKey: deviceKey! });
    await expect(register()).rejects.toThrow(`is not on the allow-list of station ${station.name}`);
    // The demo model's serials come from its template: the next one is the first number, given back on refusal.
    await importText(station, 'DEMO-000001\n', 'csv');
    expect((await register()).serial.headerString('serial')).toBe('DEMO-000001');
  });
});

/** The command in-process, as the program runs it (until it is registered there, straight from its module). */
async function allowlist(terminal: boolean, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (x: string) => void (stdout += x), stderr: (x: string) => void (stderr += x), readFile: (p: string) => readFile(p), stderrIsTerminal: terminal };
  try {
    await allowlistCommand(io).parseAsync(argv, { from: 'user' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    return { code: e.exitCode, stdout, stderr: `${stderr}serial-vault: ${e.message}\n` };
  }
}

describe('serial-vault allowlist', () => {
  const file = (name: string, text: string) => {
    const path = join(dataDir, name);
    writeFileSync(path, text);
    return path;
  };
  const at = ['--station', 'cli-line', '--brand', 'demo-brand', '--data-dir', dataDir];

  beforeAll(async () => {
    // The station is made with the vault open here; each command then opens the data directory itself.
    const t = await startTestVault(dataDir, 'sqlite');
    try {
      const model = (await t.vault.models.find('demo-brand', 'demo-model'))!;
      await t.vault.provisioning.stationAdmin.create({ brandId: 'demo-brand', name: 'cli-line', models: [model] });
    } finally {
      await t.close();
    }
  });

  it('imports a file, says what it added, and hints that the station does not check its list yet', async () => {
    const r = await allowlist(false, 'import', file('first.csv', 'serial\nC-1\nC-2\nC-2\n'), ...at);
    expect(r).toMatchObject({ code: 0, stdout: 'read 3 serials, added 2, already listed 1\n' });
    expect(r.stderr).toBe('note: station cli-line does not check its allow-list yet: serial-vault station update cli-line --brand demo-brand --allowlist turns the check on\n');
    expect((await allowlist(false, 'import', file('again.jsonl', '"C-2"\n{"serial": "C-3"}\n'), ...at)).stdout).toBe('read 2 serials, added 1, already listed 1\n');
  });

  it('prints a plain progress line every 100,000 lines in a log, and redraws a bar on a terminal', async () => {
    const big = file('big.csv', `${Array.from({ length: 200_001 }, (_, i) => `B-${i}`).join('\n')}\n`);
    const log = await allowlist(false, 'import', big, ...at);
    expect(log.stdout).toBe('read 200001 serials, added 200001, already listed 0\n');
    expect(log.stderr.split('\n').filter((l) => /^importing big\.csv: \d+ lines read, [\d.]+ of [\d.]+ MB$/.test(l))).toHaveLength(2);
    const tty = await allowlist(true, 'import', big, ...at);
    expect(tty.stdout).toBe('read 200001 serials, added 0, already listed 200001\n');
    // Each redraw goes back to the line's start and clears it (ESC [ K).
    const redraws = tty.stderr.split('\r\u001b[K').filter(Boolean);
    expect(redraws.length).toBeGreaterThan(0);
    expect(redraws.at(-1)).toMatch(/^importing big\.csv \[#{24}\] 100% {2}200001 lines {2}[\d.]+ of [\d.]+ MB {2}\d+ lines\/s\nnote: /);
  }, 60_000);

  it('shows the count and a page of the list, with where the next page starts', async () => {
    const r = await allowlist(false, 'show', '--limit', '2', ...at);
    expect(r.code).toBe(0);
    const [head, ...rest] = r.stdout.split('\n');
    expect(head).toBe('station demo-brand/cli-line: 200004 serials on its allow-list; not checked (serial-vault station update cli-line --brand demo-brand --allowlist turns the check on)');
    expect(rest).toHaveLength(4);
    expect(rest[2]).toBe(`… more with --after ${JSON.stringify(rest[1])}`);
    const next = JSON.parse((await allowlist(false, 'show', '--limit', '2', '--after', rest[1]!, '--json', ...at)).stdout) as { count: number; serials: string[] };
    expect(next.count).toBe(200004);
    expect(next.serials).toHaveLength(2);
    expect(next.serials).not.toContain(rest[1]);
  });

  it('refuses an unknown station, a bad line and a file of no known format, with their reasons', async () => {
    const unknown = await allowlist(false, 'show', '--station', 'nope', '--brand', 'demo-brand', '--data-dir', dataDir);
    expect(unknown).toMatchObject({ code: 1, stderr: 'serial-vault: brand demo-brand has no station named nope: serial-vault station list --brand demo-brand shows its stations [ERR_STATION_UNKNOWN]\n' });
    const bad = await allowlist(false, 'import', file('bad.csv', 'D-1\nD-2\nD/3\n'), ...at);
    expect(bad).toMatchObject({ code: 1, stdout: '', stderr: 'serial-vault: cannot import bad.csv: line 3: serial "D/3" contains "/", which snapd refuses in a serial; nothing was imported [ERR_ALLOWLIST_INVALID]\n' });
    expect((await allowlist(false, 'show', '--json', ...at)).stdout).toContain('"count": 200004');
    expect(await allowlist(false, 'import', file('serials.txt', 'E-1\n'), ...at)).toMatchObject({ code: 2, stderr: 'serial-vault: cannot tell the format of ' + join(dataDir, 'serials.txt') + ' from its name: give --format csv or --format json\n' });
  });
});

describe('the allow-list admin routes', () => {
  let t: TestVault;
  let server: ReturnType<Koa['listen']>;
  let base: string;
  const tokens: Record<string, string> = {};
  const path = (station = 'http-line') => `/api/v1/brands/demo-brand/stations/${station}/allowlist`;
  const call = async (method: string, url: string, o: { as?: string; body?: string; type?: string } = {}) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { authorization: `Bearer ${tokens[o.as ?? 'admin']}`, ...(o.type ? { 'content-type': o.type } : {}) },
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    t = await startTestVault(dataDir, 'sqlite');
    const { accounts, provisioning } = t.vault;
    const model = (await t.vault.models.find('demo-brand', 'demo-model'))!;
    await provisioning.stationAdmin.create({ brandId: 'demo-brand', name: 'http-line', models: [model], allowlist: true });
    for (const role of ['admin', 'security-officer'] as const) {
      await accounts.addPerson(OPERATOR, `${role}@lists.test`, role);
      await accounts.grant(OPERATOR, 'demo-brand', `${role}@lists.test`, role);
      tokens[role] = (await accounts.createToken(OPERATOR, { name: 'lists', days: 1, forEmail: `${role}@lists.test` })).secret;
    }
    // The routes alone, behind the admin API's own steps (authenticate, parse, check the policy, act).
    const app = new Koa();
    const router = new Router();
    app.use(errors(t.vault.logger, undefined));
    mountRoutes(router, allowListRoutes({ stations: provisioning.stations, allowLists: new AllowLists(t.vault.db) }), { accounts, sealer: new CookieSealer(randomBytes(32)), maxBodyBytes: 1 << 20 });
    app.use(router.routes());
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await t?.close();
  });

  it('imports a CSV or JSON body, recorded as the person who sent it', async () => {
    expect(await call('POST', `${path()}?name=line-7.csv`, { body: 'serial\nH-1\n"H,2"\n', type: 'text/csv' })).toEqual({ status: 200, body: { read: 2, added: 2, unchanged: 0 } });
    const [entry] = await new AuditLog(t.vault.db).list({ storeIds: ['demo-brand'], limit: 1 });
    expect(entry).toMatchObject({ actor: 'admin@lists.test', via: 'token', action: 'allowlist.import', targetId: 'demo-brand/http-line', after: { added: 2, read: 2, source: 'line-7.csv' } });
    expect(await call('POST', path(), { body: '["H-2", {"serial": "H-1"}]', type: 'application/json; charset=utf-8' })).toEqual({ status: 200, body: { read: 2, added: 1, unchanged: 1 } });
    expect(await call('POST', path(), { body: '"H-3"\n', type: 'application/x-ndjson' })).toEqual({ status: 200, body: { read: 1, added: 1, unchanged: 0 } });
  });

  it('reads the list a page at a time', async () => {
    const first = await call('GET', `${path()}?limit=2`, { as: 'security-officer' });
    expect(first).toMatchObject({ status: 200, body: { brand: 'demo-brand', station: 'http-line', checked: true, count: 4 } });
    const serials = first.body['serials'] as string[];
    expect(first.body['next']).toBe(serials[1]);
    const second = await call('GET', `${path()}?limit=2&after=${encodeURIComponent(serials[1]!)}`, { as: 'security-officer' });
    expect([...serials, ...(second.body['serials'] as string[])].sort()).toEqual(['H,2', 'H-1', 'H-2', 'H-3']);
  });

  it('refuses a bad line with 400 naming it, another media type, an unknown station, and one who may only read', async () => {
    const bad = await call('POST', `${path()}?name=bad.csv`, { body: 'Z-1\nZ-2\n""\n', type: 'text/csv' });
    expect(bad).toEqual({ status: 400, body: { code: 'ERR_ALLOWLIST_INVALID', message: 'cannot import bad.csv: line 3: the serial is empty; nothing was imported', error_list: [expect.objectContaining({ code: 'ERR_ALLOWLIST_INVALID' })] } });
    expect((await call('GET', path(), { as: 'security-officer' })).body['count']).toBe(4);
    // Refused on line 2 while the upload goes on: the answer still comes, and the rest of the body is read and dropped.
    const chunks = ['Z-1\nZ/2\n', ...Array.from({ length: 20 }, () => 'Z-3\n'.repeat(10_000))];
    const slowBody = new ReadableStream({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 20));
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const early = await fetch(`${base}${path()}`, { method: 'POST', headers: { authorization: `Bearer ${tokens['admin']}`, 'content-type': 'text/csv' }, body: slowBody, duplex: 'half' } as RequestInit);
    expect(early.status).toBe(400);
    expect(((await early.json()) as { message: string }).message).toBe('cannot import the allow-list: line 2: serial "Z/2" contains "/", which snapd refuses in a serial; nothing was imported');
    expect((await call('POST', path(), { body: 'Z-1', type: 'text/plain' })).body['code']).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
    expect(await call('POST', path('nope'), { body: 'Z-1', type: 'text/csv' })).toMatchObject({ status: 404, body: { code: 'ERR_STATION_UNKNOWN' } });
    expect(await call('POST', path(), { as: 'security-officer', body: 'Z-1', type: 'text/csv' })).toMatchObject({ status: 403, body: { code: 'ERR_FORBIDDEN' } });
  });
});
