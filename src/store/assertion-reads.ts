import { formatRfc3339, signAssertion, typeSpec, type Assertion } from '../assertions/index.js';
import { UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { Custody } from '../custody/custody.js';
import { AssertionStore } from '../db/assertion-store.js';
import type { Database } from '../db/database.js';
import type { OfferReads, View } from '../catalog/offer-reads.js';
import { SnapRepository, type SnapRecord } from '../catalog/snaps.js';
import { StoreError } from './errors.js';

/** What the store serves at `v2/assertions/…`: what a device fetches to accept a snap. Never serials, models or requests. */
export const SERVED_TYPES: ReadonlySet<string> = new Set(['account', 'account-key', 'snap-declaration', 'snap-revision', 'store']);

const STORE_ACTOR: Actor = { actor: 'store-listener', actorKind: 'operator', via: 'store', clientAddress: null };

/**
 * The full primary key from the parts snapd sends: it leaves out trailing
 * optional parts that have their default (`snap-revision/<digest>` means
 * provenance `global-upload`).
 */
export function fullPrimaryKey(type: string, parts: readonly string[]): string[] | undefined {
  const spec = typeSpec(type);
  if (parts.length > spec.primaryKey.length || parts.some((p) => p === '')) return undefined;
  const out = [...parts];
  for (const name of spec.primaryKey.slice(parts.length)) {
    const d = spec.primaryKeyDefaults?.[name];
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/**
 * Assertions as devices fetch them. A private snap's declaration and
 * revisions are found only through a view that offers the snap; everything
 * else served is public, as in the snap store. In the local trust setup a
 * store's `store` assertion is signed on first request by the local
 * authority; in the canonical setup only an imported one is served, since a
 * device rejects any other (STORE.md §8).
 */
export class AssertionReads {
  constructor(
    private readonly db: Database,
    private readonly custody: Custody,
    private readonly reads: OfferReads,
    private readonly storeUrl: () => string | undefined,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async find(view: View | null, type: string, parts: readonly string[], maxFormat = 0): Promise<Assertion> {
    const notFound = () => new StoreError('ERR_ASSERTION_NOT_FOUND', `${type} ${parts.join('/')} not found`);
    const key = SERVED_TYPES.has(type) ? fullPrimaryKey(type, parts) : undefined;
    if (!key) throw notFound();
    const a = type === 'store' ? await this.storeAssertion(key[0] as string, view) : await this.custody.assertions.get(type, key);
    if (!a || a.format > maxFormat) throw notFound();
    const snap = await this.snapOf(a);
    if (snap?.private && !(view && (await this.reads.visible(view, [snap])).length > 0)) throw notFound();
    return a;
  }

  private async snapOf(a: Assertion): Promise<SnapRecord | undefined> {
    if (a.is('snap-declaration') || a.is('snap-revision')) return (await new SnapRepository(this.db).bySnapIds([a.view.snapId]))[0];
    return undefined;
  }

  /**
   * The store assertion kept, or in the local setup one signed now for a
   * device whose session's store is that store or below it: a request
   * without a session never makes the vault sign or write anything.
   */
  private async storeAssertion(storeId: string, view: View | null): Promise<Assertion | undefined> {
    const kept = await this.custody.assertions.get('store', [storeId]);
    // An appliance serves the one central signed, if any: the authority's store key is central's.
    if (kept || !view || view.publicOnly || this.custody.appliance !== undefined) return kept;
    const tree = await this.reads.tree();
    if (!tree.grantChain(view.storeId).some((s) => s.id === storeId)) return undefined;
    const store = tree.get(storeId);
    const brand = store ? await this.custody.brands.byId(store.brandId) : undefined;
    if (!brand) return undefined;
    const setup = await this.custody.trustSetup(brand);
    if (setup.setup !== 'local') return undefined;
    const signer = await this.custody.authorities.storeSigner(setup.authorityId, STORE_ACTOR);
    const url = this.storeUrl();
    const signed = await signAssertion(
      { type: 'store', 'authority-id': setup.authorityId, store: storeId, 'operator-id': brand.accountId, ...(url ? { url } : {}), timestamp: formatRfc3339(this.clock()) },
      undefined,
      signer,
    );
    return new UnitOfWork(this.db, this.clock).run(STORE_ACTOR, async (trx, record) => {
      // Two first requests at once: the first stored wins, both answer with it.
      const raced = await new AssertionStore(trx).get('store', [storeId]);
      if (raced) return raced;
      await this.custody.assertions.put(signed, {}, trx);
      await record({ action: 'store.assertion.sign', targetType: 'store', targetId: storeId, storeId, before: null, after: { authorityId: setup.authorityId, url: url ?? null } });
      return signed;
    });
  }
}
