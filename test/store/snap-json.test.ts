import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import type { RevisionRecord, SnapRecord } from '../../src/catalog/snaps.js';
import { Metrics } from '../../src/http/metrics.js';
import { RawJson, SnapJson, encodeWithRaw, type Publisher } from '../../src/store/snap-json.js';

/** The answer encoder and the storeSnap cache behind every snap action answer. */

describe('encodeWithRaw', () => {
  test.prop([fc.jsonValue()])('gives the bytes JSON.stringify gives, for any JSON value', (value) => {
    expect(encodeWithRaw(value).toString('utf8')).toBe(JSON.stringify(value));
  });

  test.prop([fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 8 })])('puts a raw part in as it is, at the depth a result holds it', (snaps) => {
    const raw = { results: snaps.map((s, i) => ({ result: 'refresh', 'instance-key': `k${i}`, snap: new RawJson(JSON.stringify(s)) })) };
    const plain = { results: snaps.map((s, i) => ({ result: 'refresh', 'instance-key': `k${i}`, snap: s })) };
    expect(encodeWithRaw(raw).toString('utf8')).toBe(JSON.stringify(plain));
  });

  it('encodes text beyond ASCII in both the raw parts and the rest as UTF-8', () => {
    const raw = new RawJson(JSON.stringify({ summary: 'Grüße, 设备 ✓' }));
    const bytes = encodeWithRaw({ results: [{ name: 'café', snap: raw }] });
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({ results: [{ name: 'café', snap: { summary: 'Grüße, 设备 ✓' } }] });
    expect(bytes.length).toBe(Buffer.byteLength(bytes.toString('utf8')));
  });

  it('leaves out undefined fields and writes undefined array entries as null, as JSON.stringify does', () => {
    const value = { a: undefined, b: [1, undefined, () => 0], c: { d: undefined, e: 1 } };
    expect(encodeWithRaw(value).toString('utf8')).toBe(JSON.stringify(value));
  });
});

const snap: SnapRecord = { pk: 1, snapId: 'a'.repeat(32), name: 'hello', storeId: 'brand', type: 'app', private: false, publisher: 'brand', publisherId: 'brand', collaborators: [], createdAt: '2026-01-01T00:00:00Z' } as unknown as SnapRecord;
const revision = (n: number): RevisionRecord =>
  ({ snapPk: 1, revision: n, sha3_384: Buffer.alloc(48, n).toString('base64url'), size: 4096, version: `${n}.0`, architectures: ['amd64'], grade: 'stable', confinement: 'strict', base: 'core22', epoch: '0', snapYaml: `name: hello\nversion: '${n}.0'\nsummary: Hi\n`, status: 'approved', createdAt: '2026-01-01T00:00:00Z' }) as unknown as RevisionRecord;
const publisher: Publisher = { id: 'brand', username: 'brand', 'display-name': 'Brand', validation: 'verified' };
const url = (s: SnapRecord, r: RevisionRecord) => `http://store/download/snaps/${s.snapId}_${r.revision}.snap`;

describe('a revision’s storeSnap, made once', () => {
  it('is made once for the same revision record, snap, URL and publisher', () => {
    const json = new SnapJson();
    const r = revision(1);
    const first = json.raw(snap, r, 'http://store/', url, publisher);
    expect(json.raw(snap, r, 'http://store/', url, { ...publisher })).toBe(first);
    expect(JSON.parse(first.text)).toMatchObject({ name: 'hello', revision: 1, 'snap-yaml': r.snapYaml, download: { url: url(snap, r) }, publisher });
  });

  it('is made again when the publisher, the public URL, the snap or the revision record changes', () => {
    const json = new SnapJson();
    const r = revision(2);
    const first = json.raw(snap, r, 'http://store/', url, publisher);
    const renamed = json.raw(snap, r, 'http://store/', url, { ...publisher, 'display-name': 'Brand Inc.' });
    expect(renamed).not.toBe(first);
    expect(JSON.parse(renamed.text).publisher['display-name']).toBe('Brand Inc.');
    const moved = json.raw(snap, r, 'https://proxy/store/', (s, v) => `https://proxy/store/download/snaps/${s.snapId}_${v.revision}.snap`, { ...publisher, 'display-name': 'Brand Inc.' });
    expect(JSON.parse(moved.text).download.url).toMatch(/^https:\/\/proxy\/store\//);
    const privateSnap = { ...snap, private: true } as SnapRecord;
    expect(JSON.parse(json.raw(privateSnap, r, 'https://proxy/store/', url, publisher).text).private).toBe(true);
    expect(json.raw(privateSnap, revision(2), 'https://proxy/store/', url, publisher)).not.toBe(first);
  });
});

describe('per-snap counts', () => {
  it('reach the series when it is read, and are counted once however often it is read', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 3; i++) metrics.countStoreSnap('brand', 'hello', 'refresh');
    metrics.countStoreSnap('brand', 'hello', 'file');
    metrics.countStoreSnap('other', 'hello', 'refresh');
    const text = await metrics.registry.getSingleMetricAsString('serial_vault_store_snaps_total');
    expect(text).toContain('serial_vault_store_snaps_total{store="brand",snap="hello",result="refresh"} 3');
    expect(text).toContain('serial_vault_store_snaps_total{store="brand",snap="hello",result="file"} 1');
    expect(text).toContain('serial_vault_store_snaps_total{store="other",snap="hello",result="refresh"} 1');
    metrics.countStoreSnap('brand', 'hello', 'refresh');
    expect(await metrics.registry.getSingleMetricAsString('serial_vault_store_snaps_total')).toContain('{store="brand",snap="hello",result="refresh"} 4');
    expect(await metrics.registry.metrics()).toContain('{store="brand",snap="hello",result="refresh"} 4');
  });
});
