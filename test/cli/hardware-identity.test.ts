import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeStream, hardwareKeyDigest, signAssertion, type Assertion } from '../../src/assertions/index.js';
import { OPERATOR } from '../../src/accounts/principal.js';
import { hardwareIdentityCommand } from '../../src/cli/commands/hardware-identity.js';
import { CliError } from '../../src/cli/io.js';
import { hardwareIdentityRoutes } from '../../src/http/admin/routes/hardware-identities.js';
import { HardwareIdentities } from '../../src/provisioning/hardware-identities.js';
import { removeDataDir, startTestVault, testDataDir, type TestVault } from '../support/vault.js';

/**
 * `serial-vault hardware-identity import|list` and the admin routes, on the
 * demo brand's real chain: identities signed in SoftHSM2 by the brand key.
 * The command opens the data directory itself, so it runs once the test
 * vault is closed; the routes are called as the router would, past its
 * authentication and policy steps.
 */

const spki = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

async function run(dataDir: string, args: string[], terminal = false): Promise<{ stdout: string; stderr: string; error?: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: (t: string) => void (stdout += t), stderr: (t: string) => void (stderr += t), readFile: async () => Buffer.alloc(0), stderrIsTerminal: terminal };
  try {
    await hardwareIdentityCommand(io).parseAsync([...args, '--data-dir', dataDir], { from: 'user' });
    return { stdout, stderr };
  } catch (e) {
    if (e instanceof CliError) return { stdout, stderr, error: e.message };
    throw e;
  }
}

describe('hardware identities from the command line and the admin API', () => {
  const dir = testDataDir();
  let tv: TestVault;
  let identities: Assertion[];
  let file: string;
  let open = false;

  beforeAll(async () => {
    tv = await startTestVault(dir, 'sqlite');
    open = true;
    const brand = await tv.vault.custody.signerFor('brand-demo-brand-serials');
    identities = [];
    for (let i = 1; i <= 5; i++) {
      const key = spki();
      identities.push(await signAssertion({ type: 'hardware-identity', 'authority-id': 'demo-brand', 'issuer-id': 'demo-brand', manufacturer: 'Demo Manufacturing', 'hardware-name': 'demo-board', 'hardware-id': `BOARD-${i}`, 'hardware-id-key': key, 'hardware-id-key-sha3-384': hardwareKeyDigest(key) }, undefined, brand));
    }
    file = join(dir, 'identities.assert');
    writeFileSync(file, encodeStream(identities.slice(0, 3)));
  }, 120_000);

  afterAll(async () => {
    if (open) await tv.close();
    removeDataDir(dir);
  });

  describe('the admin routes', () => {
    const routes = () => hardwareIdentityRoutes({ hardwareIdentities: new HardwareIdentities(tv.vault.db), custody: tv.vault.custody });
    const byAction = (action: string) => routes().find((r) => r.action === action)!;

    it('imports the body verified through the brand chain, recorded for the person, and lists a page at a time', async () => {
      const imported = await byAction('hardware-identity.import').handle({ principal: OPERATOR, params: { brand: 'demo-brand' }, query: {}, body: undefined, source: Readable.from([encodeStream(identities.slice(3))]) });
      expect(imported).toEqual({ read: 2, added: 2, unchanged: 0 });
      const list = byAction('hardware-identity.read');
      const first = (await list.handle({ principal: OPERATOR, params: { brand: 'demo-brand' }, query: { limit: 1 }, body: undefined })) as { items: Array<{ id: number; hardwareId: string; boundTo: unknown }>; next: string | null; total: number };
      expect(first).toMatchObject({ items: [{ hardwareId: 'BOARD-4', boundTo: null }], total: 2 });
      const second = (await list.handle({ principal: OPERATOR, params: { brand: 'demo-brand' }, query: { limit: 1, after: Number(first.next) }, body: undefined })) as typeof first;
      expect(second.items.map((i) => i.hardwareId)).toEqual(['BOARD-5']);
      expect(second.next).toBe(String(second.items[0]!.id));
    });

    it('refuses a brand the vault does not hold', async () => {
      await expect(byAction('hardware-identity.import').handle({ principal: OPERATOR, params: { brand: 'no-such-brand' }, query: {}, body: undefined, source: Readable.from([]) })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    });
  });

  describe('the command', () => {
    beforeAll(async () => {
      await tv.close();
      open = false;
    });

    it('imports a file and prints the counts; a second run adds nothing', async () => {
      expect(await run(dir, ['import', file, '--brand', 'demo-brand'])).toEqual({ stdout: 'read 3, added 3, unchanged 0\n', stderr: '' });
      const again = await run(dir, ['import', file, '--brand', 'demo-brand'], true);
      expect(again.stdout).toBe('read 3, added 0, unchanged 3\n');
      expect(again.stderr).toMatch(/^\rchecking hardware identities \[#+\] 100% 3 read\n$/);
    });

    it('lists what the brand holds', async () => {
      const { stdout } = await run(dir, ['list', '--brand', 'demo-brand', '--limit', '2']);
      expect(stdout).toMatch(/^BOARD-4 {2}demo-board {2}Demo Manufacturing {2}issued by demo-brand {2}not onboarded yet\n {2}\S{64}\nBOARD-5 .*\n.*\n2 of 5 shown\n$/);
    });

    it('names the bad assertion and imports nothing of its file', async () => {
      const bad = join(dir, 'bad.assert');
      const text = encodeStream(identities).toString().replace('hardware-id: BOARD-2', 'hardware-id: BOARD-X');
      writeFileSync(bad, text);
      const { error } = await run(dir, ['import', bad, '--brand', 'demo-brand']);
      expect(error).toMatch(/^cannot import assertion 2 of the file \(at byte \d+\): hardware identity "BOARD-X" does not verify: .* \[ERR_HARDWARE_IDENTITY_INVALID\]$/);
      expect((await run(dir, ['import', file, '--brand', 'other-brand'])).error).toBe('brand "other-brand" is not set up in this vault: serial-vault brand list shows them');
    });
  });
});
