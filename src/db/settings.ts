import { randomBytes } from 'node:crypto';
import type { Database } from './database.js';
import { isUniqueViolation } from './errors.js';

/**
 * A random per-vault secret kept in the settings table, made on first use.
 * Several processes may race to make it: the first insert wins and the others read it.
 */
export async function vaultSecret(db: Database, name: string, bytes = 32): Promise<Buffer> {
  for (;;) {
    const row = await db('settings').where({ name }).first();
    if (row) return Buffer.from(String(row.value), 'base64');
    const secret = randomBytes(bytes);
    try {
      await db('settings').insert({ name, value: secret.toString('base64') });
      return secret;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }
}
