import type { Assertion, SerialRequestView } from '../assertions/index.js';
import type { ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';

/** PLACEHOLDER until the hardware-identity repository lands. */
export class HardwareIdentities {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async admit(_request: Assertion<SerialRequestView>, _model: ModelRecord): Promise<{ id: number; keyDigest: string }> {
    void this.db;
    void this.clock;
    throw new Error('not yet');
  }

  async boundTo(modelId: number, deviceKeyId: string): Promise<{ id: number } | undefined> {
    const row = (await this.db('hardware_identities').where({ model_id: modelId, device_key_id: deviceKeyId }).first('id')) as { id: number } | undefined;
    return row ? { id: Number(row.id) } : undefined;
  }
}
