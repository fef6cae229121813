import type { ModelView } from '../assertions/index.js';
import { CatalogError } from './errors.js';
import type { SnapRecord } from './snaps.js';

/**
 * The snaps a model names, checked against what its brand's store offers:
 * each must be offered there with the type the model gives it, and the
 * gadget and kernel must be the brand's own. Refusals name the snap.
 */
export function checkModelSnaps(model: ModelView, storeId: string, offered: readonly SnapRecord[]): void {
  const byName = new Map(offered.map((s) => [s.name, s]));
  const named: Array<{ name: string; type: string }> = [];
  const add = (name: string | undefined, type: string) => {
    if (name && !named.some((n) => n.name === name)) named.push({ name, type });
  };
  add(model.gadget?.name, 'gadget');
  add(model.kernel?.name, 'kernel');
  add(model.base || undefined, 'base');
  for (const s of model.snaps) add(s.name, s.type);
  for (const { name, type } of named) {
    const snap = byName.get(name);
    const what = `model ${model.model} names ${type} snap "${name}"`;
    if (!snap) throw new CatalogError('ERR_MODEL_SNAP', `${what}, which store "${storeId}" does not offer: register, import or include it there first`);
    if (snap.type !== type) throw new CatalogError('ERR_MODEL_SNAP', `${what}, but "${name}" is a snap of type ${snap.type}`);
    if ((type === 'gadget' || type === 'kernel') && snap.publisherId !== model.brandId) {
      throw new CatalogError('ERR_MODEL_SNAP', `${what}, but "${name}" is published by "${snap.publisherId}", not by the brand "${model.brandId}"`);
    }
  }
}
