import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { CustodyError } from '../custody/errors.js';
import { usableAt } from '../custody/key-state.js';
import { SigningKeyRepository } from '../custody/signing-keys.js';
import { ProvisioningError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { StationQuotas, type QuotaCharge } from './quotas.js';
import { logRow, type IssuanceLogEntry, type IssuedSerial } from './serials.js';

/** One issuance to store: the serial, its log row, the request-id it uses and the template number it takes. */
export interface IssuanceWrite {
  readonly modelId: number;
  readonly signingKeyRowId: number;
  /** The serial's timestamp: its key must sign at that moment. */
  readonly signedAt: Date;
  readonly serial: string;
  readonly deviceKeyId: string;
  readonly assertion: string;
  readonly log: IssuanceLogEntry;
  readonly consume?: { readonly requestId: string; readonly apiKeyId: number; readonly hash: string; readonly expiresAt: Date };
  readonly number?: number;
  /** A serial given again to a new device key (re-provisioning). */
  readonly replaces?: IssuedSerial;
  /** The station counters the serial counts in. */
  readonly quota?: QuotaCharge;
  /** The hardware identity the serial is bound to. */
  readonly identityId?: number;
}

/** Each station window counted once per batch, by the serials of the batch in it. */
async function chargeQuotas(trx: Database, writes: readonly IssuanceWrite[]): Promise<void> {
  const sums = new Map<string, { charge: QuotaCharge; n: number }>();
  for (const w of writes) {
    if (!w.quota) continue;
    for (const window of w.quota.windows) {
      const key = `${w.quota.stationId}\0${window.window}`;
      const had = sums.get(key);
      if (had) had.n++;
      else sums.set(key, { charge: { ...w.quota, windows: [window] }, n: 1 });
    }
  }
  for (const { charge, n } of sums.values()) await StationQuotas.charge(trx, charge, n);
}

/**
 * Writes issuances in group commits: every serial waiting when the database
 * is free goes into one transaction (multi-row inserts), so throughput does
 * not depend on one round trip per statement per device. Each caller learns
 * only when its own rows are committed. If a batch fails (a unique
 * violation from a race), its writes are retried one transaction each, so
 * one bad write never fails the others.
 */
export class IssuanceWriter {
  private readonly commits: GroupCommit<IssuanceWrite, undefined>;

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.commits = new GroupCommit(
      async (writes) => {
        await this.db.transaction((trx) => this.write(trx, writes));
        return writes.map(() => undefined);
      },
      { maxBatch: 200, retryAlone: true },
    );
  }

  async submit(write: IssuanceWrite): Promise<void> {
    await this.commits.submit(write);
  }

  private async write(trx: Database, writes: readonly IssuanceWrite[]): Promise<void> {
    const at = nowIso(this.clock());
    // Every transaction starts with a write, so it never has to upgrade a read lock.
    const consumes = writes.filter((w) => w.consume);
    if (consumes.length > 0) {
      // A used request-id is a row: a second use is a unique violation.
      await trx('request_ids').insert(
        consumes.map(({ consume: c }) => ({ id: c!.requestId, api_key_id: c!.apiKeyId || null, expires_at: nowIso(c!.expiresAt), used_at: at, used_by: c!.hash })),
      );
    }
    const fresh = writes.filter((w) => !w.replaces);
    if (fresh.length > 0) {
      await trx('serials').insert(
        fresh.map((w) => ({ model_id: w.modelId, serial: w.serial, device_key_id: w.deviceKeyId, signing_key_id: w.signingKeyRowId, assertion: w.assertion, issued_at: at })),
      );
    }
    for (const w of writes.filter((x) => x.replaces)) {
      await trx('serials').where({ id: w.replaces!.id }).update({ device_key_id: w.deviceKeyId, assertion: w.assertion, signing_key_id: w.signingKeyRowId, issued_at: at });
    }
    // A key rotated or revoked since it was chosen (another process, a moment ago) must not hand out
    // what it signed: each serial's timestamp must fall in its key's window, as the key stands now.
    const keys = new Map((await new SigningKeyRepository(trx).byIds([...new Set(writes.map((w) => w.signingKeyRowId))])).map((k) => [k.id, k]));
    if (writes.some((w) => { const k = keys.get(w.signingKeyRowId); return !k || !usableAt(k, w.signedAt); })) {
      throw new CustodyError('ERR_SIGNING_KEY_UNUSABLE', 'the key chosen to sign this serial was rotated or revoked a moment ago; try again');
    }
    await chargeQuotas(trx, writes);
    for (const w of writes.filter((x) => x.identityId !== undefined)) {
      // One identity onboards one device: a second device key is refused here, whatever raced.
      const bound = await trx('hardware_identities')
        .where({ id: w.identityId })
        .andWhere((q) => q.whereNull('device_key_id').orWhere({ device_key_id: w.deviceKeyId }))
        .update({ device_key_id: w.deviceKeyId, model_id: w.modelId, serial: w.serial, bound_at: at });
      if (Number(bound) === 0) throw new ProvisioningError('ERR_HARDWARE_IDENTITY_USED', 'this hardware identity has just onboarded another device');
    }
    await trx('issuance_log').insert(writes.map(({ log }) => logRow(log, at)));
    // The change feed: each serial issued (or given to a new key) is announced in the same transaction.
    await trx('outbox').insert(writes.map(({ log }) => ({ entity: 'serial', key: `${log.brandId}/${log.model}/${log.serial}`, op: log.outcome, at })));
    const numbered = writes.filter((w) => w.number !== undefined);
    for (const modelId of new Set(numbered.map((w) => w.modelId))) {
      await trx('serial_reservations')
        .where({ model_id: modelId })
        .whereIn(
          'number',
          numbered.filter((w) => w.modelId === modelId).map((w) => w.number as number),
        )
        .delete();
    }
  }
}
