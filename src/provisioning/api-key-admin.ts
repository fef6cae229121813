import { OPERATOR_ACTOR, UnitOfWork, type Actor } from '../audit/unit-of-work.js';
import type { ModelRecord } from '../catalog/models.js';
import type { Database } from '../db/database.js';
import { ApiKeyRepository, type ApiKeyRecord } from './api-keys.js';

/** The factory lines' API keys as people change them: each change in one unit of work with its audit record. */
export class ApiKeyAdmin {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** A new API key for a model's factory line, shown once; recorded in the audit log. */
  async create(model: ModelRecord, name: string, actor: Actor = OPERATOR_ACTOR): Promise<{ record: ApiKeyRecord; key: string }> {
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      const made = await new ApiKeyRepository(trx).create(model.id, name);
      await record({ action: 'apikey.create', targetType: 'apikey', targetId: made.record.prefix, storeId: model.brandAccountId, before: null, after: { model: `${model.brandAccountId}/${model.name}`, name } });
      return made;
    });
  }

  /** Revokes an API key by its prefix; a running vault drops it within five seconds. False when there is no active one. */
  async revoke(prefix: string, actor: Actor = OPERATOR_ACTOR): Promise<boolean> {
    return new UnitOfWork(this.db, this.clock).run(actor, async (trx, record) => {
      if (!(await new ApiKeyRepository(trx).revoke(prefix))) return false;
      await record({ action: 'apikey.revoke', targetType: 'apikey', targetId: prefix, storeId: null, before: null, after: null });
      return true;
    });
  }
}
