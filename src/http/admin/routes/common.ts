import { z } from 'zod';

/** Path parameters and field shapes the admin routes share. */
export const StoreParam = z.object({ store: z.string().min(1).max(64) });
export const BrandParam = z.object({ brand: z.string().min(1).max(64) });
/** An RFC 3339 time with its offset, as a Date. */
export const Time = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
export const PersonParam = z.object({ person: z.coerce.number().int().positive() });
export const name = (max: number) => z.string().trim().min(1).max(max);

/** Drops keys whose value is undefined (the service's options are exact). */
export function strip<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
