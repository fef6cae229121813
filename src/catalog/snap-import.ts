import { basename } from 'node:path';
import { actorOf, type Principal } from '../accounts/principal.js';
import type { Assertion } from '../assertions/index.js';
import type { Change } from '../audit/unit-of-work.js';
import type { Custody } from '../custody/custody.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import type { BlobStore } from './blobs.js';
import { openSnapFile, type BundleEntry } from './bundle-import.js';
import { CatalogError } from './errors.js';
import { readSnapYaml } from './snap-file.js';
import { parseSnapYaml, type SnapType } from './snap-yaml.js';
import { SnapRepository, type RevisionRecord, type SnapRecord } from './snaps.js';

/** What an import needs of the snap service: its database, trust, blobs, and its audited write. */
export interface SnapImportParts {
  readonly db: Database;
  readonly custody: Custody;
  readonly blobs: BlobStore;
  /** The brand store above `storeId`: the only owner of gadget and kernel snaps. */
  readonly brandRoot: (storeId: string) => Promise<string>;
  readonly write: <T>(principal: Principal, work: (trx: Database, record: (change: Change) => Promise<void>) => Promise<T>) => Promise<T>;
}

/**
 * Snaps and revisions signed elsewhere (Canonical, for brands in the
 * canonical trust setup, or another vault): taken in only when a device
 * would accept their assertions, and only with the bytes those describe.
 */
export class SnapImport {
  constructor(private readonly parts: SnapImportParts) {}

  /** Registers a snap from its snap-declaration: snap-id, name and publisher come from the declaration. */
  async declaration(principal: Principal, storeId: string, declaration: Assertion, options: { type?: SnapType; private?: boolean } = {}): Promise<SnapRecord> {
    if (!declaration.is('snap-declaration')) throw new CatalogError('ERR_SIGNING_REFUSED', `expected a snap-declaration, got ${declaration.type}`);
    const verdict = (await this.parts.custody.trust()).check(declaration);
    if (!verdict.ok) throw new CatalogError('ERR_SIGNING_REFUSED', `a device would reject ${declaration.ref}: ${verdict.error.message}`);
    const { snapName: name, snapId, publisherId } = declaration.view;
    const type = options.type ?? 'app';
    const root = await this.parts.brandRoot(storeId);
    if ((type === 'gadget' || type === 'kernel') && storeId !== root) throw new CatalogError('ERR_SNAP_OWNER', `only the brand may own ${type} snaps: import "${name}" into the brand store "${root}"`);
    if (await new SnapRepository(this.parts.db).byName(name)) throw new CatalogError('ERR_SNAP_EXISTS', `the name "${name}" is registered already`);
    return this.parts.write(principal, async (trx, record) => {
      const snap = await new SnapRepository(trx).create({ snapId, name, storeId, type, private: options.private ?? false, publisher: actorOf(principal).actor, publisherId, collaborators: [] });
      await new AssertionStore(trx).put(declaration);
      await record({ action: 'snap.import', targetType: 'snap', targetId: name, storeId, before: null, after: { snapId, type, publisherId, signedBy: declaration.authorityId } });
      return snap;
    });
  }

  /**
   * One revision from a bundle (`snap download` layout): its assertions
   * verified against the trusted roots, its file against the snap-revision's
   * digest and size, its snap.yaml against the declaration. The revision
   * keeps its number and is approved (its store reviewed it).
   */
  async revision(principal: Principal, storeId: string, entry: BundleEntry): Promise<RevisionRecord> {
    const trust = await this.parts.custody.trust();
    const refuse = (why: string) => new CatalogError('ERR_SIGNING_REFUSED', `cannot import ${basename(entry.snapFile)}: ${why}`);
    const chain = entry.assertions.filter((a) => a.type === 'account' || a.type === 'account-key');
    for (const r of trust.addBatch([...chain, entry.declaration, entry.revision])) if (r.error) throw refuse(`a device would reject ${r.assertion.ref}: ${r.error.message}`);
    const declared = entry.declaration.headerString('snap-name');
    const rev = entry.revision;
    const blob = await this.parts.blobs.receive(openSnapFile(entry));
    if (blob.sha3_384 !== rev.headerString('snap-sha3-384') || String(blob.size) !== rev.headerString('snap-size')) throw refuse('the file is not the one its snap-revision describes (digest or size differ)');
    const yaml = parseSnapYaml(await readSnapYaml(blob.path));
    if (yaml.name !== declared) throw new CatalogError('ERR_SNAP_YAML_MISMATCH', `meta/snap.yaml: "name" is "${yaml.name}", but the declaration is for "${declared}"`);
    if (yaml.provenance !== (rev.header('provenance') ?? 'global-upload')) throw refuse(`snap.yaml says provenance "${yaml.provenance}", its snap-revision another: a device would refuse it`);
    let snap = await new SnapRepository(this.parts.db).byName(declared);
    if (!snap) snap = await this.declaration(principal, storeId, entry.declaration, { type: yaml.type });
    if (snap.snapId !== entry.declaration.headerString('snap-id')) throw refuse(`"${declared}" is registered here with another snap-id`);
    const known = snap;
    const number = Number(rev.headerString('snap-revision'));
    return this.parts.write(principal, async (trx, record) => {
      const repo = new SnapRepository(trx);
      const same = await repo.revisionByDigest(known.pk, blob.sha3_384);
      if (same) return same;
      if (await repo.revision(known.pk, number)) throw refuse(`"${declared}" already has a revision ${number} with other bytes`);
      const added = await repo.addRevision(known.pk, yaml, blob, 'approved', actorOf(principal).actor, null, number);
      const store = new AssertionStore(trx);
      for (const a of [...chain, entry.declaration, rev]) await store.put(a);
      await record({ action: 'revision.import', targetType: 'snap', targetId: `${declared}/${number}`, storeId: known.storeId, before: null, after: { revision: number, sha3_384: blob.sha3_384, size: blob.size, signedBy: rev.authorityId } });
      return added;
    });
  }
}
