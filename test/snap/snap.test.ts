import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStream } from '../../src/assertions/index.js';
import { registerDevice } from '../../src/cli/device-client.js';
import { deviceKeys } from '../support/vault.js';
import { freePort, waitUntilOk } from '../support/net.js';

/** Interfaces snapd knows (its builtin list has these names): `snap pack` only warns on an unknown one. */
const KNOWN_INTERFACES = new Set(['network', 'network-bind', 'pkcs11', 'raw-usb', 'home', 'hardware-observe', 'system-observe', 'log-observe', 'network-observe', 'removable-media']);

const work = mkdtempSync(join(tmpdir(), 'sv-snap-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the snap', () => {
  let snapFile: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const data = join(work, 'data');
  const common = join(work, 'common');
  const settings = join(work, 'snap-config.json');
  const snapctlLog = join(work, 'snapctl.log');

  beforeAll(() => {
    snapFile = execFileSync('scripts/build-snap.sh', ['--prebuilt', join(work, 'build')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    root = join(work, 'unpacked');
    execFileSync('unsquashfs', ['-q', '-n', '-d', root, snapFile], { stdio: 'ignore' });
    mkdirSync(data, { recursive: true });
    mkdirSync(common, { recursive: true });
    // A stand-in snapctl: `get -d` answers what `snap set` stored; other calls are recorded.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'snapctl'),
      `#!/bin/sh\nif [ "$1" = get ]; then cat "${settings}" 2>/dev/null || echo '{}'; else echo "$@" >> "${snapctlLog}"; fi\n`,
    );
    chmodSync(join(bin, 'snapctl'), 0o755);
    env = { PATH: `${bin}:${process.env['PATH']}`, SNAP: root, SNAP_DATA: data, SNAP_COMMON: common, SNAP_NAME: 'serial-vault', HOME: work };
  }, 300_000);

  it('snap pack accepted it, and everything snap pack only warns about holds', () => {
    expect(snapFile).toMatch(/serial-vault_0\.1\.0_\w+\.snap$/);
    const meta = parse(readFileSync(join(root, 'meta', 'snap.yaml'), 'utf8')) as {
      apps: Record<string, { command: string; plugs?: string[] }>;
      hooks: Record<string, { plugs?: string[] }>;
      base: string;
    };
    expect(meta.base).toBe('core24');
    for (const [name, app] of Object.entries(meta.apps)) {
      const command = join(root, app.command);
      expect(existsSync(command), `${name}: ${app.command}`).toBe(true);
      accessSync(command, constants.X_OK);
      for (const plug of app.plugs ?? []) expect(KNOWN_INTERFACES.has(plug), `${name} plug ${plug}`).toBe(true);
    }
    for (const [hook, spec] of Object.entries(meta.hooks)) {
      accessSync(join(root, 'meta', 'hooks', hook), constants.X_OK);
      for (const plug of spec.plugs ?? []) expect(KNOWN_INTERFACES.has(plug), `hook ${hook} plug ${plug}`).toBe(true);
    }
    expect(existsSync(join(root, 'usr', 'lib', 'softhsm', 'libsofthsm2.so'))).toBe(true);
    expect(existsSync(join(root, 'app', 'node_modules', 'vitest'))).toBe(false);
  });

  it('the install hook creates the data directory, config and SoftHSM2 token', () => {
    execFileSync(join(root, 'meta', 'hooks', 'install'), { env, stdio: 'pipe' });
    expect(existsSync(join(data, 'config.json'))).toBe(true);
    expect(existsSync(join(data, 'secrets', 'user-pin'))).toBe(true);
    expect(readFileSync(join(data, 'softhsm2.conf'), 'utf8')).toContain(join(data, 'tokens'));
  });

  it('the configure hook refuses an invalid `snap set`, listing every problem, and changes nothing', () => {
    const before = readFileSync(join(data, 'config.json'), 'utf8');
    writeFileSync(settings, JSON.stringify({ device: { port: 'eighty' }, log: { level: 'loud' }, colour: 'blue' }));
    const r = spawnSync(join(root, 'meta', 'hooks', 'configure'), { env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/device\.port: /);
    expect(r.stderr).toMatch(/log\.level: /);
    expect(r.stderr).toMatch(/colour: unknown setting/);
    expect(readFileSync(join(data, 'config.json'), 'utf8')).toBe(before);
  });

  it('the configure hook applies a valid `snap set` and restarts the daemon', async () => {
    const port = await freePort();
    writeFileSync(settings, JSON.stringify({ device: { port }, admin: { port: 0 }, store: { port: 0 } }));
    execFileSync(join(root, 'meta', 'hooks', 'configure'), { env, stdio: 'pipe' });
    const config = JSON.parse(readFileSync(join(data, 'config.json'), 'utf8')) as { device: { port: number } };
    expect(config.device.port).toBe(port);
    expect(readFileSync(snapctlLog, 'utf8')).toContain('restart serial-vault.daemon');
  });

  it('the daemon, run from the unpacked snap, serves a registration', async () => {
    const out = execFileSync(join(root, 'bin', 'serial-vault'), ['init', '--demo'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/serial-vault device register/);
    const { device } = JSON.parse(readFileSync(join(data, 'config.json'), 'utf8')) as { device: { port: number } };
    const daemon = spawn(join(root, 'bin', 'serial-vault-daemon'), { env, stdio: 'ignore' });
    const exited = new Promise((r) => daemon.once('exit', r));
    try {
      const ready = await waitUntilOk(`http://127.0.0.1:${device.port}/health/ready`, 150);
      expect(ready).toBe(true);
      const [deviceKey] = await deviceKeys(1);
      const result = await registerDevice({
        url: `http://127.0.0.1:${device.port}/v1/`,
        headers: { 'api-key': readFileSync(join(data, 'demo', 'api-key'), 'utf8').trim() },
        model: decodeStream(readFileSync(join(data, 'demo', 'demo-model.model')))[0]!,
        trusted: decodeStream(readFileSync(join(data, 'demo', 'trusted.assert'))),
        deviceKey: deviceKey!,
      });
      expect(result.serial.headerString('serial')).toMatch(/^DEMO-\d{6}$/);
    } finally {
      daemon.kill('SIGTERM');
      await exited;
    }
  });
});
