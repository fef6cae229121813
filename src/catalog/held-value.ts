/**
 * A value read from the database and held for `maxAgeMs`. Past that age the
 * held value still answers while a fresh one is read in the background, so
 * that a periodic re-read never holds up a request; after `drop()` (a
 * change made here) the next caller waits for the fresh value instead.
 */
export class HeldValue<T> {
  private value: { at: number; value: T } | undefined;
  private loading: Promise<T> | undefined;
  private generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}

  get(): Promise<T> {
    const held = this.value;
    if (held && Date.now() - held.at <= this.maxAgeMs) return Promise.resolve(held.value);
    const loading = this.refresh();
    return held ? Promise.resolve(held.value) : loading;
  }

  drop(): void {
    this.value = undefined;
    this.loading = undefined;
    this.generation++;
  }

  private refresh(): Promise<T> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    const at = Date.now();
    const loading = this.load().then((value) => {
      // A read begun before a drop may hold what the change replaced: it answers its callers, and is not kept.
      if (this.generation === generation) this.value = { at, value };
      return value;
    });
    this.loading = loading;
    void loading.finally(() => {
      if (this.loading === loading) this.loading = undefined;
    }).catch(() => undefined);
    return loading;
  }
}
