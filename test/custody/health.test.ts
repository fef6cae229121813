import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { freePort, waitUntilOk } from '../support/net.js';
import { removeDataDir, testDataDir } from '../support/vault.js';

const bin = resolve('dist/src/cli/main.js');

/**
 * Key health that people notice, from a running vault: the metric, a
 * warning in the log, and readiness still up (other models can be served).
 * The demo brand has no security officer, which the report names.
 */
describe('key health while serving', () => {
  const dir = testDataDir();
  afterAll(() => removeDataDir(dir));

  it('counts each kind of finding in a metric, warns in the log, and stays ready', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    expect((await cli('init', '--data-dir', dir, '--demo', '--port', String(port), '--admin-port', String(adminPort), '--store-port', '0')).code).toBe(0);
    const log = join(dir, 'vault.log');
    const server = spawn(process.execPath, [bin, 'serve', '--data-dir', dir], { env: { ...process.env, SERIAL_VAULT_LOG_FILE: log }, stdio: 'ignore' });
    const exited = new Promise((r) => server.once('exit', r));
    try {
      expect(await waitUntilOk(`http://127.0.0.1:${adminPort}/health/ready`)).toBe(true);
      let metrics = '';
      for (let i = 0; i < 50 && !/serial_vault_key_health_findings\{kind="no-security-officer"\} 1/.test(metrics); i++) {
        await new Promise((r) => setTimeout(r, 100));
        metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      }
      expect(metrics).toMatch(/serial_vault_key_health_findings\{kind="no-security-officer"\} 1/);
      expect(metrics).toMatch(/serial_vault_key_health_findings\{kind="model-without-key"\} 0/);
      const warning = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('key health')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(warning).toHaveLength(1);
      expect(warning[0]).toMatchObject({ level: 40, findings: [{ kind: 'no-security-officer', brand: 'demo-brand', subject: 'demo-brand' }] });
      expect((await fetch(`http://127.0.0.1:${adminPort}/health/ready`)).status).toBe(200);
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});
