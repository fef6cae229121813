import type { Database } from '../db/database.js';
import { isUniqueViolation, nowIso } from '../db/errors.js';
import { rowsInOrder } from '../db/pages.js';
import { isKeyStoreError, KeyStoreError } from '../keystore/errors.js';
import type { KeyInfo, KeyStore } from '../keystore/keystore.js';
import type { AuditLog } from './audit-log.js';
import { ChainWalker } from './chain.js';
import { AUDIT_KEY_LABEL, checkpointDigest, checkpointProblem, type Checkpoint } from './checkpoint.js';
import { AuditError } from './errors.js';

const toCheckpoint = (r: Record<string, unknown>): Checkpoint => ({
  seq: Number(r['seq']),
  hash: String(r['hash']),
  at: String(r['at']),
  keyId: String(r['key_id']),
  signature: String(r['signature']),
});

/** The `audit_checkpoints` table. */
export class CheckpointRepository {
  constructor(private readonly db: Database) {}

  async last(): Promise<Checkpoint | undefined> {
    const row = (await this.db('audit_checkpoints').orderBy('seq', 'desc').first()) as Record<string, unknown> | undefined;
    return row ? toCheckpoint(row) : undefined;
  }

  /** Every checkpoint up to entry `upto` (all without it), in sequence order, a page at a time. */
  async *all(upto?: number): AsyncGenerator<Checkpoint> {
    for await (const r of rowsInOrder(this.db, 'audit_checkpoints', 'seq', upto !== undefined ? { upto } : {})) yield toCheckpoint(r);
  }

  /** False when there is one at that entry already (another process signed the same head). */
  async insert(c: Checkpoint): Promise<boolean> {
    try {
      await this.db('audit_checkpoints').insert({ seq: c.seq, hash: c.hash, at: c.at, key_id: c.keyId, signature: c.signature });
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }
}

export interface CheckpointResult {
  /** Whether this call signed one; false when the head was signed already (or the log is empty). */
  readonly made: boolean;
  /** The checkpoint at the head, undefined while the log is empty. */
  readonly checkpoint: Checkpoint | undefined;
}

/**
 * Signs checkpoints with the audit key, made on first use: RSA-4096
 * generation takes seconds in SoftHSM2, so a vault that never checkpoints
 * (every CLI command, every test) never pays for it.
 */
export class CheckpointSigner {
  private making: Promise<KeyInfo> | undefined;

  constructor(
    private readonly log: AuditLog,
    private readonly repo: CheckpointRepository,
    private readonly keystore: KeyStore,
    private readonly clock: () => Date,
    private readonly onKeyMade: (key: KeyInfo) => void = () => undefined,
  ) {}

  /** The audit key, without making it. */
  auditKey(): Promise<KeyInfo | undefined> {
    return this.keystore.find(AUDIT_KEY_LABEL);
  }

  private async key(): Promise<KeyInfo> {
    const found = await this.auditKey();
    if (found) return found;
    // One generation per process; another process that made it first leaves ERR_KEY_EXISTS, and its key is found.
    this.making ??= this.keystore.generate(AUDIT_KEY_LABEL).then(
      (made) => {
        this.onKeyMade(made);
        return made;
      },
      async (e: unknown) => {
        this.making = undefined;
        const other = isKeyStoreError(e) && e.code === 'ERR_KEY_EXISTS' ? await this.auditKey() : undefined;
        if (other) return other;
        throw e;
      },
    );
    return this.making;
  }

  /**
   * Signs the chain's head, unless it is signed already. It vouches only for
   * entries that chain onto the last good checkpoint: a rewritten tail is
   * refused here rather than blessed.
   */
  async checkpoint(): Promise<CheckpointResult> {
    const head = await this.log.head();
    if (head.seq === 0) return { made: false, checkpoint: undefined };
    const last = await this.repo.last();
    const broken = (why: string) => new AuditError('ERR_AUDIT_CHAIN_BROKEN', `cannot sign a checkpoint at entry ${head.seq}: ${why}; run "serial-vault audit verify"`);
    if (last && last.seq > head.seq) throw broken(`the log ends at entry ${head.seq}, below the checkpoint at entry ${last.seq}`);
    if (last && last.seq === head.seq) {
      if (last.hash !== head.hash) throw broken(`the checkpoint at entry ${last.seq} names another hash`);
      return { made: false, checkpoint: last };
    }
    const key = await this.key();
    const lastProblem = last && checkpointProblem(key.publicKey, last);
    if (lastProblem) throw broken(`the checkpoint at entry ${last.seq} is not good (${lastProblem})`);
    const walker = new ChainWalker(last);
    for await (const row of this.log.rows(last?.seq ?? 0, head.seq)) {
      const failed = walker.step(row);
      if (failed) throw broken(`entry ${failed.seq}: ${failed.reason}`);
    }
    const ended = walker.end(head);
    if (!ended.ok) throw broken(`entry ${ended.seq}: ${ended.reason}`);

    const fields = { seq: head.seq, hash: head.hash, at: nowIso(this.clock()) };
    const signature = Buffer.from(await this.keystore.signDigest(AUDIT_KEY_LABEL, checkpointDigest(fields))).toString('base64');
    const made: Checkpoint = { ...fields, keyId: key.keyId, signature };
    // Checked as a verifier will check it: a checkpoint that would not verify is never stored.
    if (checkpointProblem(key.publicKey, made)) throw new KeyStoreError('ERR_HSM_FAILED', 'the HSM returned a checkpoint signature that does not verify with the audit key');
    if (await this.repo.insert(made)) return { made: true, checkpoint: made };
    return { made: false, checkpoint: await this.repo.last() };
  }
}
