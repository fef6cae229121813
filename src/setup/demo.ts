import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeStream } from '../assertions/index.js';
import type { Vault } from '../vault.js';
import { exists, writeAtomically } from './files.js';

export interface DemoFiles {
  readonly model: string;
  readonly trusted: string;
  readonly apiKey: string;
  readonly created: boolean;
}

/**
 * A local root, a brand, a model with vault-allocated serials and an API
 * key, for trying the vault out. Each step checks whether it was already
 * done, and each writes all of its rows in one transaction, so a run
 * stopped at any point (kill -9 included) completes when run again.
 */
export async function createDemo(vault: Vault): Promise<DemoFiles> {
  const dir = join(vault.config.dataDir, 'demo');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { model: join(dir, 'demo-model.model'), trusted: join(dir, 'trusted.assert'), apiKey: join(dir, 'api-key') };
  let created = false;
  if (!(await vault.custody.keys.rootOf('demo-root'))) {
    await vault.custody.authorities.createAuthority('demo-root', 'Demo root (local, not trusted by real devices)');
    created = true;
  }
  if (!(await vault.custody.brands.byAccountId('demo-brand'))) {
    await vault.custody.createBrand('demo-brand', 'Demo Brand', 'demo-root');
    created = true;
  }
  let model = await vault.models.find('demo-brand', 'demo-model');
  if (!model) {
    model = await vault.models.createModel(
      { 'brand-id': 'demo-brand', model: 'demo-model', 'display-name': 'Demo Model', architecture: 'amd64', gadget: 'pc', kernel: 'pc-kernel', store: 'demo-brand' },
      // The demo names Canonical's pc and pc-kernel, which a fresh catalog does not hold.
      { serialPolicy: 'template', serialTemplate: 'DEMO-{n:06}', checkCatalog: false },
    );
    created = true;
  }
  // The key is shown once: a run stopped before its file was written makes another.
  if (!(await exists(files.apiKey)) || !(await vault.provisioning.apiKeys.verify((await readFile(files.apiKey, 'utf8')).trim()))) {
    const { key } = await vault.provisioning.apiKeyAdmin.create(model, 'demo');
    await writeAtomically(files.apiKey, `${key}\n`, 0o600);
    created = true;
  }
  await writeAtomically(files.model, (await vault.models.assertion(model)).encode());
  await writeAtomically(files.trusted, encodeStream(await vault.custody.exportTrusted()));
  return { ...files, created };
}
