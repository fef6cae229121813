import type { Database, Query } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import { preparedFirst } from '../db/prepared.js';
import { modelCounter, type NumberAllocator } from './number-allocator.js';
import { NumberReservations } from './number-reservations.js';
import { ProvisioningError } from './errors.js';

export interface IssuedSerial {
  readonly id: number;
  readonly modelId: number;
  readonly serial: string;
  readonly deviceKeyId: string;
  readonly assertion: string;
}

export interface IssuanceLogEntry {
  readonly brandId: string;
  readonly model: string;
  readonly serial: string;
  readonly deviceKeyId: string;
  readonly signingKeyId: string;
  readonly outcome: 'issued' | 'repeated' | 'reprovisioned';
  readonly requestId?: string;
  readonly clientAddress?: string;
  /** The vault instance that wrote the row. */
  readonly origin?: string;
  /** The station whose API key asked. */
  readonly station?: string;
  /** On a remodel: the serial the device had, as brand/model/serial. */
  readonly original?: string;
  /** The hardware identity the device proved (its key's SHA3-384). */
  readonly hardwareIdKey?: string;
}

/** The issuance_log row of an entry. */
export function logRow(log: IssuanceLogEntry, issuedAt: string): Record<string, unknown> {
  return {
    brand_id: log.brandId,
    model: log.model,
    serial: log.serial,
    device_key_id: log.deviceKeyId,
    signing_key_id: log.signingKeyId,
    outcome: log.outcome,
    request_id: log.requestId ?? null,
    client_address: log.clientAddress ?? null,
    origin: log.origin ?? null,
    station: log.station ?? null,
    original: log.original ?? null,
    hardware_id_key: log.hardwareIdKey ?? null,
    issued_at: issuedAt,
  };
}

const toSerial = (r: Record<string, unknown>): IssuedSerial => ({
  id: Number(r['id']),
  modelId: Number(r['model_id']),
  serial: String(r['serial']),
  deviceKeyId: String(r['device_key_id']),
  assertion: String(r['assertion']),
});

// Run for every registration (prepared.ts).
const serialOfDevice = preparedFirst<Record<string, unknown>>('select * from serials where model_id = ? and device_key_id = ? limit 1');
const serialByNumber = preparedFirst<Record<string, unknown>>('select * from serials where model_id = ? and serial = ? limit 1');

/** Reservations older than this are taken as abandoned (the process that made them is gone). */
const STALE_RESERVATION_MS = 5 * 60 * 1000;
const RECHECK_FREE_MS = 30 * 1000;
/** Tries at a free number lost to concurrent requests before a new one is taken. */
const FREE_ROUNDS = 5;
/** Rounds of take-then-replenish before a new number is given up on: many requests waiting on one small lease share it a lease at a time. */
const NEW_NUMBER_ATTEMPTS = 10;

/** Issued serials, their issuance log and the numbers a serial template hands out. */
export class SerialRepository {
  /**
   * Models known to have no number to give back, and since when: saves a
   * query per serial. Looked at again after RECHECK_FREE_MS, for numbers
   * freed by another vault process on the same database.
   */
  private readonly noneFree = new Map<number, number>();

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
    /** Where new template numbers come from: the model's counter, or an appliance's leased ranges. */
    private readonly numbers: NumberAllocator = modelCounter,
  ) {
    this.reservations = new NumberReservations(db, numbers, clock);
  }

  /** New numbers taken with their reservations, many callers to a transaction. */
  private readonly reservations: NumberReservations;

  async byDevice(modelId: number, deviceKeyId: string, trx: Database = this.db): Promise<IssuedSerial | undefined> {
    const row = await serialOfDevice(trx, [modelId, deviceKeyId]);
    return row ? toSerial(row) : undefined;
  }

  async bySerial(modelId: number, serial: string, trx: Database = this.db): Promise<IssuedSerial | undefined> {
    const row = await serialByNumber(trx, [modelId, serial]);
    return row ? toSerial(row) : undefined;
  }

  async log(trx: Database, log: IssuanceLogEntry, issuedAt = nowIso(this.clock())): Promise<void> {
    await trx('issuance_log').insert(logRow(log, issuedAt));
  }

  /**
   * Reserves the lowest free number of a model's serial template: a number
   * given back (its signature failed) or abandoned comes before a new one,
   * so issued serials have no gaps, across restarts too.
   */
  async reserveNumber(modelId: number): Promise<number> {
    const at = this.clock().getTime();
    const noneFreeSince = this.noneFree.get(modelId);
    if (noneFreeSince !== undefined && at - noneFreeSince < RECHECK_FREE_MS) return this.newNumber(modelId);
    const now = nowIso(new Date(at));
    const stale = nowIso(new Date(at - STALE_RESERVATION_MS));
    const free = (q: Query) => q.where({ model_id: modelId }).andWhere((w) => w.where({ state: 'free' }).orWhere('updated_at', '<', stale));
    for (let round = 0; round < FREE_ROUNDS; round++) {
      // One statement, atomic on both databases: reuse the lowest free number.
      const reused = await free(this.db('serial_reservations'))
        .andWhere('number', '=', free(this.db('serial_reservations').min('number')))
        .update({ state: 'reserved', updated_at: now })
        .returning('number');
      const first = reused[0] as { number: number } | number | undefined;
      if (first !== undefined) return Number(typeof first === 'object' ? first.number : first);
      // On PostgreSQL a concurrent request can take the lowest free number between the MIN and the UPDATE:
      // others may still be free, and remembering "none free" would skip them for RECHECK_FREE_MS (gaps).
      if (!(await free(this.db('serial_reservations')).first('number'))) {
        this.noneFree.set(modelId, at);
        break;
      }
    }
    return this.newNumber(modelId);
  }

  /**
   * Takes the next number and records its reservation in one transaction: a
   * crash between the two would otherwise lose the number for good (the
   * counter moved, no reservation to free at the next start). With none at
   * hand (an appliance's leases used up), the allocator is asked for more
   * outside the transaction, which may mean a call to central.
   */
  private async newNumber(modelId: number): Promise<number> {
    for (let attempt = 0; attempt < NEW_NUMBER_ATTEMPTS; attempt++) {
      const number = await this.reservations.take(modelId);
      if (number !== undefined) return number;
      if (!this.numbers.replenish) break;
      await this.numbers.replenish(modelId);
    }
    // Only a model deleted under the request, or numbers taken by others as fast as they came.
    throw new ProvisioningError('ERR_TEMPORARILY_UNAVAILABLE', 'no serial number could be taken for this model just now; try again shortly');
  }

  /** The number was not used: the next device gets it. */
  async releaseNumber(modelId: number, number: number): Promise<void> {
    this.noneFree.delete(modelId);
    await this.db('serial_reservations').where({ model_id: modelId, number }).update({ state: 'free', updated_at: nowIso(this.clock()) });
  }

  /** At start-up no request is in flight: every reservation of this vault is free again. */
  async releaseAllReservations(): Promise<void> {
    this.noneFree.clear();
    await this.db('serial_reservations').where({ state: 'reserved' }).update({ state: 'free', updated_at: nowIso(this.clock()) });
  }

  async logCount(): Promise<number> {
    const [row] = await this.db('issuance_log').count({ n: '*' });
    return Number((row as { n: unknown }).n);
  }
}
