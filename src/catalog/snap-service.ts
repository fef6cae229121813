import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Brand } from '../accounts/brands.js';
import { actorOf, rolesOn, type Principal } from '../accounts/principal.js';
import { StoreRepository, type StoreTree } from '../accounts/stores.js';
import type { Assertion } from '../assertions/index.js';
import { UnitOfWork, type Actor, type Change } from '../audit/unit-of-work.js';
import type { Custody } from '../custody/custody.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import { BlobStore } from './blobs.js';
import { parseChannel, type Channel } from './channels.js';
import { ChannelMap, type ChannelHead, type ReleaseEvent } from './channel-map.js';
import { CurationRepository, type CurationMode } from './curation.js';
import { CatalogError } from './errors.js';
import { inheritChain, type Offered } from './offer.js';
import { OfferReads } from './offer-reads.js';
import { SnapAssertions } from './snap-assertions.js';
import { readSnapYaml } from './snap-file.js';
import type { BundleEntry } from './bundle-import.js';
import { SnapImport } from './snap-import.js';
import { isSnapName, parseSnapYaml, type SnapType } from './snap-yaml.js';
import { SnapRepository, type RevisionRecord, type SnapRecord } from './snaps.js';
import { releaseAll, type ReleaseRequest } from './releases.js';
import { newSnapId, pickDownload, revisionAssertions, type Download, type DownloadPick } from './delivery.js';

export interface SnapStatus {
  readonly snap: SnapRecord;
  readonly heads: readonly ChannelHead[];
  readonly revisions: readonly RevisionRecord[];
  readonly history: readonly ReleaseEvent[];
}

/**
 * Snaps in the catalog: registering names, uploading and numbering
 * revisions, review, releases to channels and each store's curation. The
 * admin API checks the caller's role on the store first (the policy
 * table); this checks what depends on the snap: that the store owns it, and
 * that the caller is its publisher or a collaborator.
 */
export class SnapService {
  readonly blobs: BlobStore;
  /** The read side devices and downloads use, with its caches (shared with the store listener). */
  readonly reads: OfferReads;
  private readonly assertions: SnapAssertions;
  private readonly imports: SnapImport;

  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    options: { readonly blobDir: string; readonly maxSnapBytes: number },
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.blobs = new BlobStore(options.blobDir, options.maxSnapBytes);
    this.reads = new OfferReads(db);
    this.assertions = new SnapAssertions(custody, clock);
    this.imports = new SnapImport({
      db,
      custody,
      blobs: this.blobs,
      brandRoot: async (storeId) => (await this.brandOf(await this.tree(), storeId)).root,
      write: (principal, work) => this.write(principal, work),
    });
  }

  private write<T>(principal: Principal, work: (trx: Database, record: (change: Change) => Promise<void>) => Promise<T>): Promise<T> {
    const { actor, actorKind, via, clientAddress } = actorOf(principal);
    const who: Actor = { actor, actorKind, via, clientAddress };
    return new UnitOfWork(this.db, this.clock).run(who, work);
  }

  private tree(): Promise<StoreTree> {
    return new StoreRepository(this.db).tree();
  }

  private async brandOf(tree: StoreTree, storeId: string): Promise<{ brand: Brand; root: string }> {
    const store = tree.get(storeId);
    if (!store) throw new CatalogError('ERR_SNAP_UNKNOWN', `no store "${storeId}"`);
    const brand = await this.custody.brands.byId(store.brandId);
    if (!brand) throw new CatalogError('ERR_SNAP_UNKNOWN', `store "${storeId}" has no brand`);
    return { brand, root: brand.accountId };
  }

  /** The snap, owned by `storeId`; the caller must be its publisher or collaborator there (or hold `admin`). */
  private async owned(principal: Principal, storeId: string, name: string, as: 'member' | 'any' = 'member'): Promise<SnapRecord> {
    const snap = await new SnapRepository(this.db).byName(name);
    const tree = await this.tree();
    // Reached through the store that owns it or any store above it (roles held there reach down).
    if (!snap || !tree.grantChain(snap.storeId).some((s) => s.id === storeId)) {
      throw new CatalogError('ERR_SNAP_UNKNOWN', `store "${storeId}" has no snap "${name}"`);
    }
    if (as === 'member' && principal.kind === 'person' && !rolesOn(principal, tree, snap.storeId).has('admin')) {
      const email = principal.person.email;
      if (snap.publisher !== email && !snap.collaborators.includes(email)) {
        throw new CatalogError('ERR_SNAP_NOT_COLLABORATOR', `${email} is neither the publisher of "${name}" nor one of its collaborators: ask ${snap.publisher} to add you`);
      }
    }
    return snap;
  }

  async register(principal: Principal, input: { name: string; storeId: string; type?: SnapType; private?: boolean }): Promise<SnapRecord> {
    if (!isSnapName(input.name)) throw new CatalogError('ERR_SNAP_NAME_INVALID', `"${input.name}" is not a valid snap name: use 2 to 40 lower-case letters, digits and single hyphens, with at least one letter`);
    const type = input.type ?? 'app';
    const tree = await this.tree();
    const { brand, root } = await this.brandOf(tree, input.storeId);
    if ((type === 'gadget' || type === 'kernel') && input.storeId !== root) {
      throw new CatalogError('ERR_SNAP_OWNER', `only the brand may own ${type} snaps: register "${input.name}" in the brand store "${root}", not "${input.storeId}"`);
    }
    if (await new SnapRepository(this.db).byName(input.name)) throw new CatalogError('ERR_SNAP_EXISTS', `the name "${input.name}" is registered already`);
    const publisher = actorOf(principal).actor;
    const draft = { snapId: newSnapId(), name: input.name, storeId: input.storeId, type, private: input.private ?? false, publisher, publisherId: brand.accountId, collaborators: [] };
    const declaration = await this.assertions.declare(brand, draft);
    return this.write(principal, async (trx, record) => {
      const snap = await new SnapRepository(trx).create(draft);
      await new AssertionStore(trx).put(declaration);
      await record({ action: 'snap.register', targetType: 'snap', targetId: snap.name, storeId: snap.storeId, before: null, after: { snapId: snap.snapId, type, private: snap.private, publisher } });
      return snap;
    });
  }

  /** Registers a snap from a snap-declaration signed elsewhere, checked against the trusted roots (snap-import.ts). */
  importDeclaration(principal: Principal, storeId: string, declaration: Assertion, options: { type?: SnapType; private?: boolean } = {}): Promise<SnapRecord> {
    return this.imports.declaration(principal, storeId, declaration, options);
  }

  /** Imports one revision from a `snap download` bundle, verified as a device would (snap-import.ts). */
  importRevision(principal: Principal, storeId: string, entry: BundleEntry): Promise<RevisionRecord> {
    return this.imports.revision(principal, storeId, entry);
  }

  async setCollaborators(principal: Principal, storeId: string, name: string, emails: readonly string[]): Promise<SnapRecord> {
    const snap = await this.owned(principal, storeId, name);
    const list = [...new Set(emails.map((e) => e.trim().toLowerCase()))].sort();
    await this.write(principal, async (trx, record) => {
      await new SnapRepository(trx).setCollaborators(snap.pk, list);
      await record({ action: 'snap.collaborators', targetType: 'snap', targetId: name, storeId: snap.storeId, before: { collaborators: snap.collaborators }, after: { collaborators: list } });
    });
    return { ...snap, collaborators: list };
  }

  /** Streams a file into the blob store; the upload id names it for `push`. */
  async upload(principal: Principal, source: Readable): Promise<{ uploadId: string; sha3_384: string; size: number }> {
    const blob = await this.blobs.receive(source);
    const uploadId = randomBytes(16).toString('hex');
    await this.write(principal, async (trx, record) => {
      await new SnapRepository(trx).addUpload(uploadId, blob.sha3_384, blob.size, actorOf(principal).actor);
      await record({ action: 'upload.create', targetType: 'upload', targetId: uploadId, storeId: null, before: null, after: { sha3_384: blob.sha3_384, size: blob.size } });
    });
    return { uploadId, sha3_384: blob.sha3_384, size: blob.size };
  }

  /**
   * Makes an upload a revision of `name`: snap.yaml must match the
   * registration. The same bytes uploaded again answer with the revision
   * they already are.
   */
  async push(principal: Principal, storeId: string, name: string, uploadId: string): Promise<RevisionRecord> {
    const snap = await this.owned(principal, storeId, name);
    const repo = new SnapRepository(this.db);
    const upload = await repo.upload(uploadId);
    if (!upload) throw new CatalogError('ERR_UPLOAD_UNKNOWN', `no upload "${uploadId}": upload the file first`);
    const existing = await repo.revisionByDigest(snap.pk, upload.sha3_384);
    if (existing) return existing;
    const yaml = parseSnapYaml(await readSnapYaml(this.blobs.pathOf(upload.sha3_384)));
    if (yaml.name !== snap.name) throw new CatalogError('ERR_SNAP_YAML_MISMATCH', `meta/snap.yaml: "name" is "${yaml.name}", but this upload is for "${snap.name}"`);
    if (yaml.type !== snap.type) throw new CatalogError('ERR_SNAP_YAML_MISMATCH', `meta/snap.yaml: "type" is "${yaml.type}", but "${snap.name}" is registered as ${snap.type}`);
    const { brand } = await this.brandOf(await this.tree(), snap.storeId);
    const review = await new CurationRepository(this.db).reviewRequired(snap.storeId);
    const sign = await this.assertions.revisionSigner(brand, snap);
    return this.write(principal, async (trx, record) => {
      const revisions = new SnapRepository(trx);
      const again = await revisions.revisionByDigest(snap.pk, upload.sha3_384);
      if (again) return again;
      const revision = await revisions.addRevision(snap.pk, yaml, upload, review ? 'needs-review' : 'approved', actorOf(principal).actor, uploadId);
      // Signed inside the transaction: the number is only final here. A refusal rolls the revision back.
      await new AssertionStore(trx).put(await sign(revision));
      await record({ action: 'revision.create', targetType: 'snap', targetId: `${name}/${revision.revision}`, storeId: snap.storeId, before: null, after: { revision: revision.revision, version: yaml.version, sha3_384: upload.sha3_384, size: upload.size, status: revision.status } });
      return revision;
    });
  }

  /** The revision an upload became (what snapcraft polls after a push). */
  async pushStatus(principal: Principal, storeId: string, name: string, uploadId: string): Promise<RevisionRecord> {
    const snap = await this.owned(principal, storeId, name, 'any');
    const repo = new SnapRepository(this.db);
    const upload = await repo.upload(uploadId);
    // The same bytes uploaded twice are one revision: found by digest, whichever upload made it.
    const r = upload ? await repo.revisionByDigest(snap.pk, upload.sha3_384) : undefined;
    if (!r) throw new CatalogError('ERR_UPLOAD_UNKNOWN', `no revision of "${name}" was made from upload "${uploadId}": push it first`);
    return r;
  }

  async review(principal: Principal, storeId: string, name: string, revision: number, verdict: { approve: true } | { approve: false; reason: string }): Promise<RevisionRecord> {
    const snap = await this.owned(principal, storeId, name, 'any');
    const repo = new SnapRepository(this.db);
    const rev = await repo.requireRevision(snap, revision);
    if (rev.status !== 'needs-review') throw new CatalogError('ERR_REVIEW_NOT_PENDING', `revision ${revision} of "${name}" is ${rev.status}, not waiting for review`);
    const by = actorOf(principal).actor;
    if (principal.kind === 'person' && rev.uploadedBy === by) throw new CatalogError('ERR_REVIEW_SELF', `${by} uploaded revision ${revision} of "${name}": another reviewer must review it`);
    const status = verdict.approve ? 'approved' : 'rejected';
    const reason = verdict.approve ? null : verdict.reason;
    await this.write(principal, async (trx, record) => {
      await new SnapRepository(trx).review(snap.pk, revision, status, by, reason);
      await record({ action: verdict.approve ? 'revision.approve' : 'revision.reject', targetType: 'snap', targetId: `${name}/${revision}`, storeId: snap.storeId, before: { status: rev.status }, after: { status, reason } });
    });
    return repo.requireRevision(snap, revision);
  }

  /** Releases revisions to channels, or closes channels (`revision: null`), all or nothing. */
  async release(principal: Principal, storeId: string, name: string, requests: readonly ReleaseRequest[]): Promise<SnapStatus> {
    const snap = await this.owned(principal, storeId, name);
    await this.write(principal, async (trx, record) => {
      const done = await releaseAll(trx, snap, requests, actorOf(principal).actor);
      await record({ action: 'snap.release', targetType: 'snap', targetId: name, storeId: snap.storeId, before: null, after: { releases: done } });
    });
    return this.status(principal, storeId, name);
  }

  async status(principal: Principal, storeId: string, name: string): Promise<SnapStatus> {
    const snap = await this.owned(principal, storeId, name, 'any');
    const map = new ChannelMap(this.db);
    return { snap, heads: await map.heads([snap.pk]), revisions: await new SnapRepository(this.db).revisions(snap.pk), history: await map.history(snap.pk) };
  }

  /** Include or exclude a snap in a store's offer (`null` removes the store's choice). */
  async curate(principal: Principal, storeId: string, name: string, mode: CurationMode | null): Promise<void> {
    const snap = await new SnapRepository(this.db).require(name);
    const tree = await this.tree();
    if (mode === 'include' && snap.private && !inheritChain(tree, storeId).some((s) => s.id === snap.storeId)) {
      throw new CatalogError('ERR_SNAP_OWNER', `"${name}" is private to store "${snap.storeId}" and the stores that inherit from it`);
    }
    await this.write(principal, async (trx, record) => {
      await new CurationRepository(trx).set(storeId, snap.pk, mode, actorOf(principal).actor);
      await record({ action: `store.${mode ?? 'uncurate'}`, targetType: 'snap', targetId: name, storeId, before: null, after: { mode } });
    });
  }

  /** Pins `revision` of a snap on a channel in a store's offer (`null` unpins). */
  async pin(principal: Principal, storeId: string, name: string, channelText: string, revision: number | null): Promise<void> {
    const snap = await new SnapRepository(this.db).require(name);
    const channel = parseChannel(channelText);
    if (revision !== null) {
      const rev = await new SnapRepository(this.db).requireRevision(snap, revision);
      if (rev.status !== 'approved') throw new CatalogError('ERR_REVISION_NOT_APPROVED', `revision ${revision} of "${name}" is ${rev.status}: only approved revisions can be pinned`);
    }
    await this.write(principal, async (trx, record) => {
      await new CurationRepository(trx).pin(storeId, snap.pk, channel.name, revision);
      await record({ action: revision === null ? 'store.unpin' : 'store.pin', targetType: 'snap', targetId: name, storeId, before: null, after: { channel: channel.name, revision } });
    });
  }

  async setReviewPolicy(principal: Principal, storeId: string, required: boolean): Promise<void> {
    await this.write(principal, async (trx, record) => {
      const curation = new CurationRepository(trx);
      const before = await curation.reviewRequired(storeId);
      await curation.setReviewRequired(storeId, required);
      await record({ action: 'store.review-policy', targetType: 'store', targetId: storeId, storeId, before: { reviewRequired: before }, after: { reviewRequired: required } });
    });
  }

  async hasStore(storeId: string): Promise<boolean> {
    return (await this.tree()).get(storeId) !== undefined;
  }

  reviewRequired(storeId: string): Promise<boolean> {
    return new CurationRepository(this.db).reviewRequired(storeId);
  }

  /** The snaps in a store's offer (own, inherited, included; not excluded). */
  visible(storeId: string): Promise<SnapRecord[]> {
    return this.reads.inStore(storeId);
  }

  async offer(storeId: string, names: readonly string[], channel: Channel | string, architecture: string): Promise<Map<string, Offered>> {
    return this.reads.offer({ storeId, publicOnly: false }, names, typeof channel === 'string' ? parseChannel(channel) : channel, architecture);
  }

  /** The file and assertions of what a store offers, for `snap download`. */
  download(storeId: string, name: string, pick: DownloadPick): Promise<Download> {
    return pickDownload({ db: this.db, reads: this.reads, blobs: this.blobs }, storeId, name, pick);
  }

  /** A revision's snap-revision and snap-declaration with their prerequisites, as `snap download` writes them. */
  assertionsFor(snap: SnapRecord, revision: RevisionRecord): Promise<Assertion[]> {
    return revisionAssertions(new AssertionStore(this.db), snap, revision);
  }
}
