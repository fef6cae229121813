import { expect } from 'vitest';
import type { Appliance, Registered, SyncCluster, VaultProcess } from '../support/sync-cluster.js';

/**
 * Every serial a device was answered over a test file, and the check made
 * after each fault: central holds each exactly once, from the appliance
 * that issued it, and no vault-allocated serial went to two devices.
 */
export class IssuanceLedger {
  readonly answered: Registered[] = [];

  constructor(private readonly cluster: () => SyncCluster) {}

  /** Registers `n` devices on an appliance and keeps the answers; every registration must succeed. */
  async register(appliance: Appliance, n: number, options: { apiKey?: string } = {}): Promise<Registered[]> {
    const r = await this.cluster().register(appliance, n, options);
    expect(r.failed).toEqual([]);
    this.answered.push(...r.ok);
    return r.ok;
  }

  /** Keeps what a background load was answered; none of it may have failed. */
  keep(results: ReadonlyArray<{ ok: readonly Registered[]; failed: readonly unknown[] }>): void {
    for (const r of results) {
      expect(r.failed).toEqual([]);
      this.answered.push(...r.ok);
    }
  }

  async expectNothingLostOrDoubled(): Promise<void> {
    const cluster = this.cluster();
    await cluster.waitForPushes(90_000);
    const report = await cluster.issuanceReport(this.answered);
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.overlapping).toEqual([]);
    for (const [name, c] of Object.entries(report.counts)) expect(c.central, name).toBe(c.local);
  }

  /**
   * Kills a central replica with -9 mid-push: the appliances' links delay
   * each way by `delayMs`, so the kill lands after central committed a
   * batch and before the appliance heard of it.
   */
  async killMidPush(replica: VaultProcess, appliances: readonly Appliance[], delayMs: number): Promise<void> {
    const cluster = this.cluster();
    await cluster.waitForPushes();
    const before = (await cluster.centralIssuance()).length;
    for (const x of appliances) x.proxy.delay(delayMs);
    await Promise.all(appliances.map((x) => this.register(x, 15)));
    await cluster.waitFor('central to commit a push', async () => (await cluster.centralIssuance()).length > before, { timeoutMs: 30_000, intervalMs: 20 });
    await replica.kill9();
    for (const x of appliances) x.proxy.clear();
  }
}
