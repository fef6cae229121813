import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR, type Principal } from '../../src/accounts/principal.js';
import { SnapService } from '../../src/catalog/snap-service.js';
import { catalogRefusal } from '../support/refusal.js';
import { buildSnap } from '../support/snaps.js';
import { removeDataDir, startAdminVault, testDataDir, type AdminTestVault } from '../support/vault.js';

const BRAND = 'demo-brand';

const code = catalogRefusal;

describe('the catalog refuses bad input with a stable code, and keeps nothing of it', () => {
  let dir: string;
  let v: AdminTestVault;
  let snaps: SnapService;
  let both: Principal;
  const upload = (file: string, by: Principal = OPERATOR) => snaps.upload(by, createReadStream(file));
  const push = async (name: string, file: string, by: Principal = OPERATOR) => snaps.push(by, BRAND, name, (await upload(file, by)).uploadId);

  beforeAll(async () => {
    dir = testDataDir();
    v = await startAdminVault(dir, 'sqlite');
    snaps = v.vault.snaps;
    const accounts = v.vault.accounts;
    await accounts.createStore(OPERATOR, { id: 'line-b', name: 'Line B', parentId: BRAND, kind: 'product' });
    await accounts.addPerson(OPERATOR, 'both@refuse.test', 'Collaborator and reviewer');
    await accounts.grant(OPERATOR, BRAND, 'both@refuse.test', 'collaborator');
    await accounts.grant(OPERATOR, BRAND, 'both@refuse.test', 'reviewer');
    const secret = (await accounts.createToken(OPERATOR, { name: 't', days: 1, forEmail: 'both@refuse.test' })).secret;
    both = (await accounts.authenticateToken(secret, '127.0.0.1'))!;
    await snaps.register(OPERATOR, { name: 'refuse-app', storeId: BRAND });
    await snaps.setCollaborators(OPERATOR, BRAND, 'refuse-app', ['both@refuse.test']);
  }, 120_000);

  afterAll(async () => {
    await v?.close();
    removeDataDir(dir);
  });

  it('a file that is not squashfs: ERR_SNAP_NOT_SQUASHFS', async () => {
    expect(await code(snaps.upload(OPERATOR, Readable.from([Buffer.from('#!/bin/sh\necho not a snap\n')])))).toMatch(/^ERR_SNAP_NOT_SQUASHFS: the file is not a snap/);
  });

  it('a truncated file: ERR_SNAP_TRUNCATED', async () => {
    const whole = readFileSync(buildSnap(dir, { name: 'refuse-app' }, randomBytes(64 * 1024)));
    expect(await code(snaps.upload(OPERATOR, Readable.from([whole.subarray(0, Math.floor(whole.length / 2))])))).toMatch(/^ERR_SNAP_TRUNCATED: the file is truncated/);
  });

  it('snap.yaml naming another snap: ERR_SNAP_YAML_MISMATCH, naming the field', async () => {
    expect(await code(push('refuse-app', buildSnap(dir, { name: 'other-app' })))).toBe('ERR_SNAP_YAML_MISMATCH: meta/snap.yaml: "name" is "other-app", but this upload is for "refuse-app"');
  });

  it('a version snapd refuses: ERR_SNAP_VERSION_INVALID', async () => {
    expect(await code(push('refuse-app', buildSnap(dir, { name: 'refuse-app', version: '1.0_beta!' })))).toMatch(/^ERR_SNAP_VERSION_INVALID: meta\/snap.yaml: version "1.0_beta!" is not valid/);
  });

  it('a devel-grade revision to stable or candidate: ERR_CHANNEL_GRADE', async () => {
    const rev = await push('refuse-app', buildSnap(dir, { name: 'refuse-app', version: '0.9', grade: 'devel' }));
    expect(await code(snaps.release(OPERATOR, BRAND, 'refuse-app', [{ revision: rev.revision, channel: 'stable' }]))).toMatch(/^ERR_CHANNEL_GRADE: .*grade devel: release it to beta or edge, not latest\/stable/);
    expect(await code(snaps.release(OPERATOR, BRAND, 'refuse-app', [{ revision: rev.revision, channel: 'edge' }, { revision: rev.revision, channel: '2.0/candidate' }]))).toMatch(/^ERR_CHANNEL_GRADE/);
    // All or nothing: the edge release before the refused one did not stay.
    expect((await snaps.status(OPERATOR, BRAND, 'refuse-app')).heads).toEqual([]);
  });

  it('an upload over the size limit: ERR_SNAP_TOO_LARGE, and no file is left behind', async () => {
    const small = new SnapService(v.vault.db, v.vault.custody, { blobDir: join(dir, 'blobs'), maxSnapBytes: 8192 });
    const before = readdirSync(join(dir, 'blobs'), { recursive: true }).length;
    expect(await code(small.upload(OPERATOR, createReadStream(buildSnap(dir, { name: 'refuse-app' }, randomBytes(64 * 1024)))))).toBe('ERR_SNAP_TOO_LARGE: the snap is larger than the limit of 8192 bytes (catalog.maxSnapBytes)');
    expect(readdirSync(join(dir, 'blobs'), { recursive: true }).length).toBe(before);
  });

  it('an unknown channel risk: ERR_CHANNEL_INVALID', async () => {
    const rev = await push('refuse-app', buildSnap(dir, { name: 'refuse-app', version: '1.0' }));
    expect(await code(snaps.release(OPERATOR, BRAND, 'refuse-app', [{ revision: rev.revision, channel: 'latest/nightly' }]))).toBe(
      'ERR_CHANNEL_INVALID: channel "latest/nightly": unknown risk "nightly" (write track/risk[/branch], risk one of stable, candidate, beta, edge)',
    );
  });

  it('the release of a rejected revision: ERR_REVISION_NOT_APPROVED, with the reason', async () => {
    await snaps.setReviewPolicy(OPERATOR, BRAND, true);
    const rev = await push('refuse-app', buildSnap(dir, { name: 'refuse-app', version: '1.1' }));
    await snaps.review(OPERATOR, BRAND, 'refuse-app', rev.revision, { approve: false, reason: 'ships a debug shell' });
    expect(await code(snaps.release(OPERATOR, BRAND, 'refuse-app', [{ revision: rev.revision, channel: 'beta' }]))).toMatch(/^ERR_REVISION_NOT_APPROVED: revision \d+ of "refuse-app" is rejected \(ships a debug shell\)/);
    await snaps.setReviewPolicy(OPERATOR, BRAND, false);
  });

  it('approving your own upload: ERR_REVIEW_SELF', async () => {
    await snaps.setReviewPolicy(OPERATOR, BRAND, true);
    const rev = await push('refuse-app', buildSnap(dir, { name: 'refuse-app', version: '1.2' }), both);
    expect(rev.status).toBe('needs-review');
    expect(await code(snaps.review(both, BRAND, 'refuse-app', rev.revision, { approve: true }))).toBe(`ERR_REVIEW_SELF: both@refuse.test uploaded revision ${rev.revision} of "refuse-app": another reviewer must review it`);
    await snaps.setReviewPolicy(OPERATOR, BRAND, false);
  });

  it('a gadget or kernel owned by anyone but the brand: ERR_SNAP_OWNER', async () => {
    expect(await code(snaps.register(OPERATOR, { name: 'line-gadget', storeId: 'line-b', type: 'gadget' }))).toBe('ERR_SNAP_OWNER: only the brand may own gadget snaps: register "line-gadget" in the brand store "demo-brand", not "line-b"');
    expect(await code(snaps.register(OPERATOR, { name: 'line-kernel', storeId: 'line-b', type: 'kernel' }))).toMatch(/^ERR_SNAP_OWNER/);
  });

  it('over HTTP the refusal is JSON with the code and the HTTP status of the one table', async () => {
    const secret = (await v.vault.accounts.createToken(OPERATOR, { name: 'h', days: 1, forEmail: 'both@refuse.test' })).secret;
    const res = await fetch(new URL('api/v1/uploads', v.adminUrl), { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/octet-stream' }, body: 'plain text' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('ERR_SNAP_NOT_SQUASHFS');
    const json = await fetch(new URL('api/v1/uploads', v.adminUrl), { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
  });
});
