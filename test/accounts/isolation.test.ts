import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrandRepository } from '../../src/accounts/brands.js';
import { OPERATOR, type Principal } from '../../src/accounts/principal.js';
import { AccountsService } from '../../src/accounts/service.js';
import { migrate, openDatabase, type Database } from '../../src/db/database.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { refusalCode } from '../support/refusal.js';

/**
 * Faults found under attack in the isolation of people and tokens: each
 * case failed before its fix. Two brands, `acme` and `globex`, and an
 * ecosystem store `partner` under acme.
 */

const code = refusalCode;

describe.each(['sqlite', 'pg'] as const)('isolation of people and tokens on %s', (kind) => {
  let db: Database;
  let accounts: AccountsService;
  let dir: string;
  let now = Date.parse('2026-12-01T00:00:00Z');
  const as = async (email: string): Promise<Principal> => {
    const token = await accounts.createToken(OPERATOR, { name: 't', days: 30, forEmail: email });
    return (await accounts.authenticateToken(token.secret)) as Principal;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sv-isolation-'));
    db = kind === 'sqlite' ? openDatabase({ client: 'sqlite', filename: join(dir, 'vault.db') }) : openDatabase({ client: 'pg', connection: await freshPostgresDatabase() });
    await migrate(db);
    await new BrandRepository(db).create('acme', 'ACME');
    await new BrandRepository(db).create('globex', 'Globex');
    accounts = new AccountsService(db, { clock: () => new Date(now) });
    for (const [email, store] of [['acme-admin@acme.test', 'acme'], ['globex-admin@globex.test', 'globex'], ['globex-dev@globex.test', 'globex']] as const) {
      await accounts.addPerson(OPERATOR, email, email.split('@')[0]!);
      await accounts.grant(OPERATOR, store, email, 'admin');
    }
    await accounts.createStore(OPERATOR, { id: 'partner', name: 'Partner', parentId: 'acme', kind: 'ecosystem', administrators: ['globex-dev@globex.test'] });
    await accounts.grant(OPERATOR, 'acme', 'globex-dev@globex.test', 'viewer');
    await accounts.addPerson(OPERATOR, 'loner@nowhere.test', 'Loner');
  });

  afterAll(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an administrator of one brand cannot list, rename or disable people outside their stores', async () => {
    const acme = await as('acme-admin@acme.test');
    const listed = (await accounts.listPeople(acme)).items.map((p) => p.email);
    expect(listed).toContain('acme-admin@acme.test');
    expect(listed).not.toContain('globex-admin@globex.test');
    // Nor someone who holds no role anywhere yet.
    expect(listed).not.toContain('loner@nowhere.test');
    const loner = (await accounts.listPeople(OPERATOR, { email: 'loner' })).items[0]!;
    expect(await code(accounts.updatePerson(acme, loner.id, { displayName: 'Renamed' }))).toBe('ERR_PERSON_UNKNOWN');
    expect(await code(accounts.updatePerson(acme, loner.id, { status: 'disabled' }))).toBe('ERR_PERSON_UNKNOWN');
    const globex = (await accounts.listPeople(OPERATOR, { email: 'globex-admin' })).items[0]!;
    expect(await code(accounts.person(acme, globex.id))).toBe('ERR_PERSON_UNKNOWN');
  });

  it('shows a person with only the grants the caller may see', async () => {
    // globex-dev administers globex and acme's ecosystem store partner, and views acme.
    const acme = await as('acme-admin@acme.test');
    const dev = (await accounts.listPeople(OPERATOR, { email: 'globex-dev' })).items[0]!;
    const seen = await accounts.person(acme, dev.id);
    expect(seen.grants.map((g) => `${g.storeId}/${g.role}`)).toEqual(['acme/viewer']);
    expect((await accounts.person(OPERATOR, dev.id)).grants.map((g) => g.storeId).sort()).toEqual(['acme', 'globex', 'partner']);
  });

  it('granting on one’s own store is not an oracle for which emails exist elsewhere', async () => {
    const acme = await as('acme-admin@acme.test');
    const known = await code(accounts.grant(acme, 'acme', 'globex-admin@globex.test', 'viewer'));
    const unknown = await code(accounts.grant(acme, 'acme', 'never-seen@else.test', 'viewer'));
    expect([known, unknown]).toEqual(['ok', 'ok']);
    const revokedKnown = await code(accounts.revoke(acme, 'acme', 'loner@nowhere.test', 'viewer'));
    const revokedUnknown = await code(accounts.revoke(acme, 'acme', 'nobody-at-all@else.test', 'viewer'));
    expect([revokedKnown, revokedUnknown]).toEqual(['ERR_GRANT_UNKNOWN', 'ERR_GRANT_UNKNOWN']);
  });

  it('a token made with a token never outlives its parent and stops when the parent is revoked', async () => {
    const parentMade = await accounts.createToken(OPERATOR, { name: 'parent', days: 2, forEmail: 'acme-admin@acme.test' });
    const parent = (await accounts.authenticateToken(parentMade.secret)) as Principal;
    const child = await accounts.createToken(parent, { name: 'child', days: 30 });
    expect(Date.parse(child.token.expiresAt)).toBeLessThanOrEqual(Date.parse(parentMade.token.expiresAt));
    expect(await accounts.authenticateToken(child.secret)).toBeDefined();
    const grandchild = await accounts.createToken((await accounts.authenticateToken(child.secret)) as Principal, { name: 'grandchild', days: 30 });
    await accounts.revokeToken(OPERATOR, parentMade.token.id);
    expect(await accounts.authenticateToken(child.secret)).toBeUndefined();
    expect(await accounts.authenticateToken(grandchild.secret)).toBeUndefined();
  });

  it('a child token also stops when its parent expires', async () => {
    const parentMade = await accounts.createToken(OPERATOR, { name: 'short', days: 1, forEmail: 'acme-admin@acme.test' });
    const child = await accounts.createToken((await accounts.authenticateToken(parentMade.secret)) as Principal, { name: 'child', days: 1 });
    now += 2 * 86400_000;
    try {
      expect(await accounts.authenticateToken(child.secret)).toBeUndefined();
    } finally {
      now -= 2 * 86400_000;
    }
  });
});
