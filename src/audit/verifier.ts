import type { PublicKey } from '../assertions/index.js';
import { ChainWalker, type ChainFailure, type ChainProblem, type ChainRow } from './chain.js';
import { checkpointProblem, type Checkpoint } from './checkpoint.js';

/** What broke: the chain's own problems, or a checkpoint's. */
export type AuditProblem = ChainProblem | 'checkpoint-forged' | 'checkpoint-mismatch' | 'checkpoint-past-end';

export interface CheckpointTally {
  /** Checkpoints read. */
  readonly checkpoints: number;
  /** The last entry a good checkpoint covers (0: none). */
  readonly signedUpTo: number;
  /** The audit key trusted, or null when there is none. */
  readonly keyId: string | null;
}

export type AuditVerdict =
  | ({ readonly ok: true; readonly entries: number; readonly head: string } & CheckpointTally)
  | ({ readonly ok: false; readonly entries: number; readonly seq: number; readonly problem: AuditProblem; readonly reason: string } & CheckpointTally);

type Failure = Omit<ChainFailure, 'problem'> & { readonly problem: AuditProblem };

/**
 * Checks a log and its checkpoints together, for the database and for an
 * export alike. Checkpoints come first (every signature is checked against
 * the trusted key; only the sequence and hash of the good ones are kept),
 * then the entries in order: the chain must hold, pass through every good
 * checkpoint's hash, and reach its last one. Of several problems, the one at
 * the lowest sequence number is reported.
 */
export class AuditVerifier {
  private readonly walker = new ChainWalker();
  private readonly signed = new Map<number, string>();
  private checkpoints = 0;
  private highest = 0;
  /** The last good checkpoint the entries went through. */
  private passed = 0;
  private forged: Failure | undefined;
  private broken: Failure | undefined;

  /** `key` undefined: there is no audit key, so any checkpoint is unverifiable. */
  constructor(private readonly key: PublicKey | undefined) {}

  checkpoint(c: Checkpoint): void {
    this.checkpoints++;
    const why = this.key ? checkpointProblem(this.key, c) : 'there is no audit key to check it with';
    const known = this.signed.get(c.seq);
    const problem = why ?? (known !== undefined && known !== c.hash ? 'another checkpoint at the same entry names another hash' : undefined);
    if (problem) {
      const seq = Number.isSafeInteger(c.seq) ? c.seq : 0;
      if (!this.forged || seq < this.forged.seq) this.forged = { ok: false, entries: Math.max(seq - 1, 0), seq, problem: 'checkpoint-forged', reason: problem };
      return;
    }
    this.signed.set(c.seq, c.hash);
    this.highest = Math.max(this.highest, c.seq);
  }

  /** Feeds the next entry; false once the chain broke (the rest need not be read). */
  entry(row: ChainRow): boolean {
    if (this.broken) return false;
    this.broken = this.walker.step(row);
    if (this.broken) return false;
    const signedHash = this.signed.get(row.seq);
    if (signedHash === undefined) return true;
    if (signedHash !== row.hash) {
      this.broken = {
        ok: false,
        entries: this.passed,
        seq: row.seq,
        problem: 'checkpoint-mismatch',
        reason: `it is not the entry the checkpoint at entry ${row.seq} signed: entries ${this.passed + 1} to ${row.seq} were rewritten after it was signed, their hashes recomputed`,
      };
      return false;
    }
    this.passed = row.seq;
    return true;
  }

  /** `head`: what the log's head row (or an export's header) says was written last. */
  end(head: { seq: number; hash: string }): AuditVerdict {
    const tally: CheckpointTally = { checkpoints: this.checkpoints, signedUpTo: this.highest, keyId: this.key?.id ?? null };
    const chain = this.broken ?? this.walker.end(head);
    if (!chain.ok) return { ...this.lowest(chain), ...tally };
    const failure = this.highest > chain.entries ? this.pastEnd(chain.entries) : this.forged;
    return failure ? { ...this.lowest(failure), ...tally } : { ...chain, ...tally };
  }

  /** A tail cut off below the last good checkpoint (its head row set back too, or the chain would say so). */
  private pastEnd(entries: number): Failure {
    return {
      ok: false,
      entries,
      seq: entries + 1,
      problem: 'checkpoint-past-end',
      reason: `the log ends at entry ${entries}, but a checkpoint was signed at entry ${this.highest}: entries ${entries + 1} to ${this.highest} were removed`,
    };
  }

  /** The failure at the lower sequence number: `failure`, or a forged checkpoint before it. */
  private lowest(failure: Failure): Failure {
    return this.forged && this.forged.seq <= failure.seq ? this.forged : failure;
  }
}
