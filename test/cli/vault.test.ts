import { spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrustDatabase, decodeStream } from '../../src/assertions/index.js';
import { cli } from '../support/cli.js';
import { removeDataDir, testDataDir } from '../support/vault.js';
import { freePort, waitUntilOk } from '../support/net.js';

const dir = testDataDir();
afterAll(() => removeDataDir(dir));

describe('the vault commands, as the README uses them', () => {
  let port: number;

  it('init --demo sets up the embedded defaults and prints how to register a device', async () => {
    port = await freePort();
    const { code, stdout, stderr } = await cli('init', '--data-dir', dir, '--demo', '--port', String(port), '--admin-port', '0', '--store-port', '0');
    expect(stderr).toMatch(/initialised vault data/);
    expect(code).toBe(0);
    expect(stdout).toContain(`serial-vault serve --data-dir ${resolve(dir)}`);
    expect(stdout).toMatch(/serial-vault device register --url http:\/\/127\.0\.0\.1:\d+\/v1\/ --api-key-file \S+ --model-assertion \S+ --trusted \S+/);
    expect(stdout).toMatch(/real devices only trust Canonical's/);
  });

  it('init is idempotent: a second run keeps the token, config and demo', async () => {
    const { code, stdout } = await cli('init', '--data-dir', dir, '--demo');
    expect(code).toBe(0);
    expect(stdout).toMatch(/already there/);
  });

  it('export trusted prints the root that verifies the demo model', async () => {
    const { stdout } = await cli('export', 'trusted', '--data-dir', dir);
    const trusted = decodeStream(Buffer.from(stdout));
    expect(trusted.map((a) => a.type)).toEqual(['account', 'account-key']);
    const model = decodeStream(readFileSync(join(dir, 'demo', 'demo-model.model')));
    const chain = decodeStream(readFileSync(join(dir, 'demo', 'trusted.assert')));
    expect(chain.length).toBe(2);
    const shown = await cli('model', 'show', 'demo-model', '--data-dir', dir);
    expect(Buffer.from(shown.stdout).equals(readFileSync(join(dir, 'demo', 'demo-model.model')))).toBe(true);
    expect(model[0]?.headerString('brand-id')).toBe('demo-brand');
  });

  it('authority create, brand create, model create from YAML, apikey create and revoke', async () => {
    expect((await cli('authority', 'create', 'acme-root', '--data-dir', dir)).stderr).toMatch(/local root authority/);
    expect((await cli('brand', 'create', 'acme', '--authority', 'acme-root', '--display-name', 'ACME', '--data-dir', dir)).stdout).toMatch(/created brand "acme" with key \S{64}/);
    const yaml = join(dir, 'model.yaml');
    writeFileSync(yaml, 'brand-id: acme\nmodel: gateway-20\narchitecture: arm64\nbase: core20\ngrade: dangerous\nsnaps:\n  - name: pc\n    type: gadget\n  - name: pc-kernel\n    type: kernel\n');
    // The brand's store must offer the snaps the model names, the gadget and kernel its own.
    const refused = await cli('model', 'create', yaml, '--data-dir', dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('model gateway-20 names gadget snap "pc", which store "acme" does not offer: register, import or include it there first [ERR_MODEL_SNAP]');
    for (const [name, type] of [['pc', 'gadget'], ['pc-kernel', 'kernel'], ['core20', 'base']]) {
      expect((await cli('snap', 'register', name!, '--store', 'acme', '--type', type!, '--data-dir', dir)).code).toBe(0);
    }
    const created = await cli('model', 'create', yaml, '--serial-template', 'GW-{n:05}', '--data-dir', dir);
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(/acme\/gateway-20 {2}enabled, serials from GW-\{n:05\}/);
    const key = await cli('apikey', 'create', '--model', 'acme/gateway-20', '--name', 'line-1', '--data-dir', dir);
    expect(key.stdout).toMatch(/^sv_[0-9a-f]{12}_\S{32}\n$/);
    const list = await cli('apikey', 'list', '--data-dir', dir);
    expect(list.stdout).toMatch(/line-1 {2}acme\/gateway-20/);
    expect(list.stdout).not.toContain(key.stdout.trim());
    const prefix = key.stdout.slice(0, 15);
    expect((await cli('apikey', 'revoke', prefix, '--data-dir', dir)).code).toBe(0);
    expect((await cli('apikey', 'list', '--data-dir', dir)).stdout).toMatch(/line-1 {2}acme\/gateway-20 {2}revoked/);
  });

  it('model create refuses a model snapd would refuse, naming the header', async () => {
    const yaml = join(dir, 'bad.yaml');
    writeFileSync(yaml, 'brand-id: acme\nmodel: Bad_Model\narchitecture: amd64\ngadget: pc\nkernel: pc-kernel\n');
    const { code, stderr } = await cli('model', 'create', yaml, '--data-dir', dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/"model" header .*\[ERR_HEADER_INVALID\]/);
  });

  it('serve, then device register with the printed command, as in the README', async () => {
    const bin = resolve('dist/src/cli/main.js');
    const server = spawn(process.execPath, [bin, 'serve', '--data-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const ready = await waitUntilOk(`http://127.0.0.1:${port}/health/ready`, 100);
      expect(ready).toBe(true);
      const out = join(dir, 'answer.assert');
      const result = await new Promise<{ code: number | null; stderr: string }>((res) => {
        const device = spawn(
          process.execPath,
          [bin, 'device', 'register', '--url', `http://127.0.0.1:${port}/v1/`, '--api-key-file', join(dir, 'demo', 'api-key'), '--model-assertion', join(dir, 'demo', 'demo-model.model'), '--trusted', join(dir, 'demo', 'trusted.assert'), '--out', out],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        device.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        device.on('exit', (code) => res({ code, stderr }));
      });
      expect(result.stderr).toMatch(/registered: serial DEMO-\d{6} of demo-brand\/demo-model, verified against the trusted root/);
      expect(result.code).toBe(0);
      const answer = decodeStream(readFileSync(out));
      const trust = new TrustDatabase({ trusted: decodeStream(readFileSync(join(dir, 'demo', 'trusted.assert'))) });
      expect(trust.addBatch([...decodeStream(readFileSync(join(dir, 'demo', 'demo-model.model'))), ...answer]).every((r) => !r.error)).toBe(true);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  });

  it('serve on a port in use exits non-zero with one line, and does not hang', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    const busy = await new Promise<number>((res) => taken.listen(0, '127.0.0.1', () => res((taken.address() as { port: number }).port)));
    try {
      // A real process: it must exit by itself (signer threads and database closed), not hang.
      const server = spawn(process.execPath, [resolve('dist/src/cli/main.js'), 'serve', '--data-dir', dir, '--port', String(busy)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((res) => server.on('exit', res));
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(`serial-vault: cannot start the device API: port ${busy} is already in use [ERR_LISTEN_FAILED]`);
    } finally {
      taken.close();
    }
  });

  it('keeps working when the data directory moves (a snap refresh, a restored backup)', async () => {
    const moved = `${dir}-moved`;
    cpSync(dir, moved, { recursive: true });
    try {
      const { code, stdout } = await cli('model', 'list', '--data-dir', moved);
      expect(code).toBe(0);
      expect(stdout).toContain('demo-brand/demo-model');
      expect(readFileSync(join(moved, 'softhsm2.conf'), 'utf8')).toContain(`directories.tokendir = ${join(resolve(moved), 'tokens')}`);
      expect((await cli('config', 'show', '--data-dir', moved)).stdout).toContain(`pin-source=file:${join(resolve(moved), 'secrets', 'user-pin')}`);
    } finally {
      removeDataDir(moved);
    }
  });
});
