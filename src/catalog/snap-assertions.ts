import { formatRfc3339, signAssertion, type Assertion } from '../assertions/index.js';
import { DEFAULT_PROVENANCE } from '../assertions/types/snap-revision.js';
import { revisionAuthorityRefusal, type RevisionAuthority } from '../assertions/types/revision-authority.js';
import type { Brand } from '../accounts/brands.js';
import type { Custody } from '../custody/custody.js';
import { CatalogError } from './errors.js';
import type { RevisionRecord, SnapRecord } from './snaps.js';

/**
 * The snap assertions a device checks, made under the brand's trust setup:
 * - `local`: the vault's root authority signs declarations and
 *   global-upload revisions with its store key;
 * - `canonical`: declarations come from Canonical; the vault signs a
 *   revision only where the declaration's `revision-authority` delegates
 *   that provenance to the brand and the scope fits.
 * Everything made is checked against the trust database before it is kept,
 * as a device would check it.
 */
export class SnapAssertions {
  constructor(
    private readonly custody: Custody,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** A local-authority snap-declaration for a newly registered name. */
  async declare(brand: Brand, snap: Pick<SnapRecord, 'snapId' | 'name' | 'publisherId'>): Promise<Assertion> {
    const setup = await this.custody.trustSetup(brand);
    if (setup.setup !== 'local') {
      throw new CatalogError(
        'ERR_SIGNING_REFUSED',
        `brand "${brand.accountId}" is in the canonical trust setup: a device only accepts a snap-declaration signed by Canonical, so register "${snap.name}" with Canonical and import its declaration ("serial-vault snap import")`,
      );
    }
    const signer = await this.custody.authorities.storeSigner(setup.authorityId);
    const declaration = await signAssertion(
      { type: 'snap-declaration', 'authority-id': setup.authorityId, series: '16', 'snap-id': snap.snapId, 'snap-name': snap.name, 'publisher-id': snap.publisherId, timestamp: formatRfc3339(this.clock()) },
      undefined,
      signer,
    );
    return this.checked(declaration);
  }

  /**
   * A signer of snap-revisions for `snap`, with everything it needs read
   * up front (declaration, keys, trust), so that it can run inside the
   * transaction that numbers the revision without touching the database.
   * It refuses, saying why a device would reject it, what it must not sign.
   */
  async revisionSigner(brand: Brand, snap: SnapRecord): Promise<(revision: RevisionRecord) => Promise<Assertion>> {
    const declaration = await this.custody.assertions.get('snap-declaration', ['16', snap.snapId]);
    if (!declaration?.is('snap-declaration')) throw new CatalogError('ERR_SIGNING_REFUSED', `snap "${snap.name}" has no snap-declaration in the vault`);
    const setup = await this.custody.trustSetup(brand);
    const trust = await this.custody.trust();
    trust.addBatch([declaration]);
    const storeSigner = setup.setup === 'local' ? await this.custody.authorities.storeSigner(setup.authorityId) : undefined;
    const brandSigner = await this.custody.signerFor((await this.custody.brandKey(brand)).label);
    return async (revision) => {
      const headers = {
        type: 'snap-revision',
        'snap-sha3-384': revision.sha3_384,
        ...(revision.provenance === DEFAULT_PROVENANCE ? {} : { provenance: revision.provenance }),
        'snap-id': snap.snapId,
        'snap-size': String(revision.size),
        'snap-revision': String(revision.revision),
        'developer-id': snap.publisherId,
        timestamp: formatRfc3339(this.clock()),
      };
      let signed: Assertion;
      if (revision.provenance === DEFAULT_PROVENANCE) {
        if (setup.setup !== 'local' || !storeSigner) {
          throw new CatalogError(
            'ERR_SIGNING_REFUSED',
            `a device accepts a global-upload snap-revision only from Canonical: upload "${snap.name}" to the Canonical store and import its assertions, or build it with a provenance that its declaration delegates to "${brand.accountId}"`,
          );
        }
        signed = await signAssertion({ ...headers, 'authority-id': setup.authorityId }, undefined, storeSigner);
      } else {
        const why = delegationRefusal(declaration.view.revisionAuthorities, brand.accountId, snap.storeId, revision);
        if (why) {
          throw new CatalogError(
            'ERR_SIGNING_REFUSED',
            `a device would reject revision ${revision.revision} of "${snap.name}" signed by "${brand.accountId}" with provenance "${revision.provenance}": the snap-declaration does not delegate it (${why})`,
          );
        }
        signed = await signAssertion({ ...headers, 'authority-id': brand.accountId }, undefined, brandSigner);
      }
      const verdict = trust.check(signed);
      if (!verdict.ok) throw new CatalogError('ERR_SIGNING_REFUSED', `${signed.ref} would not verify on a device: ${verdict.error.message}`);
      return signed;
    };
  }

  private async checked(a: Assertion): Promise<Assertion> {
    const verdict = (await this.custody.trust()).check(a);
    if (!verdict.ok) throw new CatalogError('ERR_SIGNING_REFUSED', `${a.ref} would not verify on a device: ${verdict.error.message}`);
    return a;
  }
}

/** Why no `revision-authority` entry lets `brandId` sign `revision` for `storeId`, or undefined when one does. */
function delegationRefusal(entries: readonly RevisionAuthority[], brandId: string, storeId: string, revision: RevisionRecord): string | undefined {
  if (entries.length === 0) return 'it has no revision-authority';
  const reasons = entries.map((ra) => {
    const why = revisionAuthorityRefusal(ra, revision.provenance, brandId, revision.revision);
    if (why) return why;
    if (ra.onStore.length > 0 && !ra.onStore.includes(storeId) && !ra.onStore.includes(brandId)) return `on-store ${ra.onStore.join(',')} does not include "${storeId}"`;
    if (ra.onBrand.length > 0 && !ra.onBrand.includes(brandId)) return `on-brand ${ra.onBrand.join(',')} does not include "${brandId}"`;
    return undefined;
  });
  return reasons.includes(undefined) ? undefined : reasons.join('; ');
}
