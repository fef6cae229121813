import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const units = readdirSync('systemd').filter((f) => f.endsWith('.service'));
const analyze = (...args: string[]) => execFileSync('systemd-analyze', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('systemd units', () => {
  it('there are units to check', () => {
    expect(units).toContain('serial-vault.service');
  });

  it.each(units)('%s passes systemd-analyze verify', (unit) => {
    expect(() => analyze('verify', join('systemd', unit))).not.toThrow();
  });

  it('the hardware-HSM drop-in, applied, still verifies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-unit-'));
    const combined = join(dir, 'serial-vault.service');
    writeFileSync(combined, `${readFileSync('systemd/serial-vault.service', 'utf8')}\n${readFileSync('systemd/serial-vault.service.d/hardware-hsm.conf.example', 'utf8')}`);
    expect(() => analyze('verify', combined)).not.toThrow();
  });

  it('serial-vault.service is hardened (systemd-analyze security exposure below 2)', () => {
    const out = analyze('security', '--offline=yes', join('systemd', 'serial-vault.service'));
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out)?.[1]);
    expect(exposure).toBeLessThan(2);
    expect(readFileSync('systemd/serial-vault.service', 'utf8')).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });
});
