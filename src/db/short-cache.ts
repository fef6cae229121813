/**
 * What is read from the database on every request and changes rarely (API
 * keys, models, a brand's keys and chains), kept for a few seconds: a change
 * made in this process clears it at once, one made by another process shows
 * within `ttlMs`. A failed read is not kept.
 */
export class ShortCache {
  private readonly entries = new Map<string, { until: number; value: Promise<unknown> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = load();
    this.entries.set(key, { until: now + this.ttlMs, value });
    value.catch(() => this.entries.delete(key));
    if (this.entries.size > this.maxEntries) this.entries.clear();
    return value;
  }

  /** Whether `key` is held and fresh: its value may be stale by another process's change. */
  has(key: string): boolean {
    const hit = this.entries.get(key);
    return hit !== undefined && hit.until > Date.now();
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
