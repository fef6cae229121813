import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { nowIso } from '../db/errors.js';
import type { KeyInfo, KeyStore } from '../keystore/keystore.js';
import { AuditLog } from './audit-log.js';
import { BackgroundCheckpoints } from './background.js';
import { CheckpointRepository, CheckpointSigner, type CheckpointResult } from './checkpoints.js';
import { checkpointLine, entryLine, headerLine } from './export.js';
import { AuditVerifier, type AuditVerdict } from './verifier.js';

export interface AuditServiceOptions {
  /** Sign a checkpoint once this many entries were written since the last one (`audit.checkpointEvery`). */
  readonly checkpointEvery: number;
  /** …and every this often when any were (`audit.checkpointMinutes`). */
  readonly checkpointIntervalMs: number;
  readonly logger: Pick<Logger, 'info' | 'error'>;
  readonly clock?: () => Date;
}

/** A piece of an export: lines to write, and how far it has got. */
export interface ExportChunk {
  readonly text: string;
  readonly entries: number;
  /** Entries the export will hold: the head when it began. */
  readonly of: number;
  readonly checkpoints: number;
  /** The last entry a checkpoint in the export covers (0: none). */
  readonly signedUpTo: number;
  readonly keyId: string | null;
}

/** Lines are gathered into chunks of this many entries (or checkpoints): one write each. */
const CHUNK = 1000;

/**
 * The audit as the operator uses it: signed checkpoints (now, or in the
 * background while serving), verification of the chain with them, and
 * exports that can be verified elsewhere with no database or HSM.
 */
export class AuditService {
  private readonly log: AuditLog;
  private readonly checkpoints: CheckpointRepository;
  private readonly signer: CheckpointSigner;
  private readonly background: BackgroundCheckpoints;
  private readonly clock: () => Date;

  constructor(
    private readonly db: Database,
    keystore: KeyStore,
    options: AuditServiceOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.log = new AuditLog(db, this.clock);
    this.checkpoints = new CheckpointRepository(db);
    this.signer = new CheckpointSigner(this.log, this.checkpoints, keystore, this.clock, (key) => options.logger.info({ keyId: key.keyId }, 'audit key generated in the HSM'));
    this.background = new BackgroundCheckpoints(
      db,
      {
        headSeq: async () => (await this.log.head()).seq,
        lastSignedSeq: async () => (await this.checkpoints.last())?.seq ?? 0,
        checkpoint: () => this.signer.checkpoint(),
      },
      { every: options.checkpointEvery, intervalMs: options.checkpointIntervalMs },
      options.logger,
    );
  }

  /** The audit key, if a checkpoint made it already. */
  auditKey(): Promise<KeyInfo | undefined> {
    return this.signer.auditKey();
  }

  /** Signs the head now (making the audit key if there is none yet). */
  checkpoint(): Promise<CheckpointResult> {
    return this.signer.checkpoint();
  }

  /** Checkpoints in the background, for the server process only. */
  startCheckpoints(): void {
    this.background.start();
  }

  stopCheckpoints(): Promise<void> {
    return this.background.stop();
  }

  /**
   * The chain and the checkpoints, against the audit key in the HSM (a
   * checkpoint re-signed with any other key fails). In one read transaction,
   * so entries written meanwhile are not mistaken for ones slipped in.
   */
  async verify(): Promise<AuditVerdict> {
    const key = await this.signer.auditKey();
    const snapshot = this.db.client.config.client === 'pg' ? { isolationLevel: 'repeatable read' as const } : {};
    return this.db.transaction(async (trx) => {
      const log = new AuditLog(trx);
      const head = await log.head();
      const verifier = new AuditVerifier(key?.publicKey);
      for await (const c of new CheckpointRepository(trx).all()) verifier.checkpoint(c);
      for await (const row of log.rows()) if (!verifier.entry(row)) break;
      return verifier.end(head);
    }, snapshot);
  }

  /** The export, as chunks of JSON lines: the entries up to the head when it began, then the checkpoints up to it. */
  async *export(): AsyncGenerator<ExportChunk> {
    const head = await this.log.head();
    const key = await this.signer.auditKey();
    const keyId = key?.keyId ?? null;
    let text = headerLine(nowIso(this.clock()), head, key?.publicKey);
    let entries = 0;
    for await (const row of this.log.rows(0, head.seq)) {
      text += entryLine(row);
      if (++entries % CHUNK === 0) {
        yield { text, entries, of: head.seq, checkpoints: 0, signedUpTo: 0, keyId };
        text = '';
      }
    }
    let checkpoints = 0;
    let signedUpTo = 0;
    for await (const c of this.checkpoints.all(head.seq)) {
      text += checkpointLine(c);
      signedUpTo = c.seq;
      if (++checkpoints % CHUNK === 0) {
        yield { text, entries, of: head.seq, checkpoints, signedUpTo, keyId };
        text = '';
      }
    }
    yield { text, entries, of: head.seq, checkpoints, signedUpTo, keyId };
  }
}
