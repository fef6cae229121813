import type { Database } from '../db/database.js';
import type { ShortCache } from '../db/short-cache.js';
import { ProvisioningError } from './errors.js';
import type { SerialCheck } from './issuer.js';
import { compilePattern } from './station-admin.js';
import { transient } from './transient.js';

/**
 * What a station asks of each serial it gets issued: that it matches the
 * station's pattern, and that it is on the station's allow-list. Checked
 * before anything is signed; a template's number is given back.
 */
export function serialChecks(db: Database, cache: ShortCache): SerialCheck[] {
  const patterns = new Map<string, RegExp>();
  return [
    async function matchesStationPattern(serial, { station }) {
      if (!station?.pattern) return;
      let re = patterns.get(station.pattern);
      if (!re) {
        re = compilePattern(station.pattern);
        if (patterns.size > 1000) patterns.clear();
        patterns.set(station.pattern, re);
      }
      if (!re.test(serial)) throw new ProvisioningError('ERR_SERIAL_PATTERN', `serial ${serial} does not match station ${station.name}'s serial pattern ${station.pattern}`);
    },
    async function onStationAllowList(serial, { station }) {
      if (!station?.allowlist) return;
      const listed = await cache.get(`allowed\0${station.id}\0${serial}`, () => db('allowlist_serials').where({ station_id: station.id, serial }).first('serial')).catch(transient);
      if (!listed) {
        throw new ProvisioningError('ERR_SERIAL_NOT_ALLOWED', `serial ${serial} is not on the allow-list of station ${station.name}: add it with serial-vault allowlist import FILE --station ${station.name} --brand ${station.brandId}`);
      }
    },
  ];
}
