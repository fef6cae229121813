import type { Logger } from 'pino';
import type { LeaseKeeper, LeaseStatus } from './lease-keeper.js';
import type { Puller, PullStatus } from './puller.js';
import type { Pusher, PushStatus } from './pusher.js';

/** When an offline appliance's alarms go off (readiness detail, `sync status`); the metrics carry the raw figures. */
export const SYNC_ALARMS = {
  /** Seconds since the appliance last had everything central had. */
  lagSeconds: 300,
  /** Issuance rows central has not acknowledged. */
  backlogRows: 10_000,
} as const;

export interface SyncStatus {
  readonly role: 'appliance';
  readonly appliance: string | undefined;
  readonly upstream: string;
  readonly pull: PullStatus;
  readonly push: PushStatus;
  readonly leases: LeaseStatus;
  /** What an operator should notice now, in words; empty when all is well. */
  readonly alarms: string[];
}

/**
 * An appliance's link to central: the feed it pulls, what it pushes, the
 * serial ranges it leases. Each part retries by itself; the agent starts
 * and stops them together and reports where they stand.
 */
export class SyncAgent {
  constructor(
    private readonly parts: { readonly puller: Puller; readonly pusher: Pusher; readonly leases: LeaseKeeper },
    private readonly options: {
      readonly upstream: string;
      readonly appliance: () => Promise<string | undefined>;
      readonly logger: Logger;
      /** Told where the link stands every few seconds while it runs (the metrics). */
      readonly onStatus?: (status: SyncStatus) => void;
      readonly statusEveryMs?: number;
    },
  ) {}

  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.parts.puller.start();
    this.parts.pusher.start();
    this.parts.leases.start();
    const onStatus = this.options.onStatus;
    if (onStatus && !this.timer) {
      this.timer = setInterval(() => void this.status().then(onStatus, () => undefined), this.options.statusEveryMs ?? 5000);
      this.timer.unref();
    }
    this.options.logger.info({ upstream: this.options.upstream }, 'sync: following central');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([this.parts.puller.stop(), this.parts.pusher.stop(), this.parts.leases.stop()]);
  }

  /** One pull step (a snapshot, or a page of the feed without waiting): whether it brought anything. */
  pullOnce(): Promise<boolean> {
    return this.parts.puller.step(0);
  }

  pushNow(): Promise<void> {
    return this.parts.pusher.pushNow();
  }

  async status(): Promise<SyncStatus> {
    const [pull, push, leases, appliance] = await Promise.all([this.parts.puller.status(), this.parts.pusher.status(), this.parts.leases.status(), this.options.appliance()]);
    return { role: 'appliance', appliance, upstream: this.options.upstream, pull, push, leases, alarms: syncAlarms(pull, push, leases, this.parts.leases.threshold) };
  }
}

export function syncAlarms(pull: PullStatus, push: PushStatus, leases: LeaseStatus, leaseLow: number): string[] {
  const alarms: string[] = [];
  if (pull.cursor === undefined) alarms.push('no snapshot from central yet: this appliance serves nothing until central is reached');
  else if (pull.lagSeconds !== undefined && pull.lagSeconds > SYNC_ALARMS.lagSeconds) {
    alarms.push(`${Math.round(pull.lagSeconds)} s behind central${pull.changesBehind ? ` (${pull.changesBehind} changes or more)` : ''}: changes made on central do not reach this appliance`);
  }
  const backlog = Object.values(push.backlog).reduce((a, b) => a + b, 0);
  if (backlog > SYNC_ALARMS.backlogRows) alarms.push(`${backlog} rows not pushed to central: central's issuance log and reports are behind`);
  for (const m of leases.models) if (m.left <= leaseLow) alarms.push(`model ${m.brand}/${m.model}: ${m.left} leased serial numbers left`);
  if (pull.lastError) alarms.push(`last pull failed: ${pull.lastError.message}`);
  if (push.lastError) alarms.push(`last push failed: ${push.lastError.message}`);
  return alarms;
}
