import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAssertion } from '../../src/assertions/index.js';
import { cli } from '../support/cli.js';
import { VECTORS, readVector } from '../support/vectors.js';

const v = (p: string) => join(VECTORS, p);

describe('serial-vault assertion decode', () => {
  it('prints each assertion as JSON with nested headers, body and signing key', async () => {
    const { code, stdout } = await cli('assertion', 'decode', v('generated/variants/nested-headers.serial'));
    expect(code).toBe(0);
    const [a] = JSON.parse(stdout) as [Record<string, unknown>];
    expect(a).toMatchObject({
      type: 'serial',
      primaryKey: ['test-brand', 'test-uc16', 'NEST-1'],
      signKeyId: 'NrwZQnpVwWRdDzmfzrhHoI439oXbQUbSzwhy33BkR-Y9AN8JWpjwpyqLZEgqHxe4',
      body: 'body line 1\n\nbody after blank\n.',
      headers: { 'x-map': { a: '1', b: ['p', 'q'], c: 'l1\nl2', d: { e: 'f' } }, 'x-list': ['one', { k: 'v', k2: ['w'] }, ['n1', 'n2'], 'multi\nline'] },
    });
  });

  it('names the problem in a file that does not decode', async () => {
    const { code, stderr } = await cli('assertion', 'decode', v('generated/negative/devkeyid-mismatch.serial'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot decode .*devkeyid-mismatch.serial: .*device key does not match .*\[ERR_HEADER_MISMATCH\]/);
  });
});

describe('serial-vault assertion verify', () => {
  it('prints ok per assertion and exits 0 when all verify as one batch', async () => {
    const { code, stdout } = await cli('assertion', 'verify', '--trusted', v('generated/root.trusted.assert'), v('generated/uc16-serial-stream.assert'));
    expect(stdout).toBe(
      'ok serial test-brand/test-uc16/TEST-0001\nok account test-brand\nok account-key NrwZQnpVwWRdDzmfzrhHoI439oXbQUbSzwhy33BkR-Y9AN8JWpjwpyqLZEgqHxe4\n',
    );
    expect(code).toBe(0);
  });

  it('prints the reason for each failure and exits 1', async () => {
    const { code, stdout } = await cli(
      'assertion', 'verify', '--trusted', v('generated/root.trusted.assert'),
      v('generated/brand-chain.assert'), v('generated/negative/sig-altered.serial'),
    );
    expect(stdout).toMatch(/^error serial test-brand\/test-uc16\/TEST-0001: failed signature verification/m);
    expect(code).toBe(1);
  });

  it('accepts several trusted files', async () => {
    const { code } = await cli(
      'assertion', 'verify',
      '--trusted', v('snapd/testrootorg/testrootorg.account'), '--trusted', v('snapd/testrootorg/testrootorg-root.account-key'),
      v('snapd/from-go-tests/testrootorg-uc20.serial'),
    );
    expect(code).toBe(0);
  });

  it('requires --trusted', async () => {
    const { code, stderr } = await cli('assertion', 'verify', v('generated/uc16.serial'));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--trusted/);
  });
});

describe('serial-vault assertion sign', () => {
  it('signs headers and body into exactly the bytes snapd made', async () => {
    const expected = decodeAssertion(readVector('generated/uc16.serial'));
    const dir = mkdtempSync(join(tmpdir(), 'sv-sign-'));
    writeFileSync(join(dir, 'body'), expected.body!);
    const headers = JSON.parse(readVector('generated/headers/serial-uc16.json').toString()) as Record<string, unknown>;
    headers['device-key'] = readVector('generated/keys/device.pub').toString().trim();
    headers['device-key-sha3-384'] = readVector('generated/keys/device.keyid').toString().trim();
    writeFileSync(join(dir, 'headers.json'), JSON.stringify(headers));
    const { code, stdout, stderr } = await cli(
      'assertion', 'sign', '--key', v('generated/keys/brand.pem'), '--headers', join(dir, 'headers.json'),
      '--body', join(dir, 'body'), '--signed-at', expected.signedAt.toISOString(),
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(readVector('generated/uc16.serial').toString());
  });

  it('explains invalid headers with the error code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sv-sign-'));
    writeFileSync(join(dir, 'h.json'), JSON.stringify({ type: 'model', 'authority-id': 'b', 'brand-id': 'b', series: 16, model: 'm' }));
    const { code, stderr } = await cli('assertion', 'sign', '--key', v('generated/keys/brand.pem'), '--headers', join(dir, 'h.json'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot sign: assertion model: "architecture" header is mandatory \[ERR_HEADER_MISSING\]/);
  });
});

describe('the installed command', () => {
  it('runs from the package bin and prints help', () => {
    const bin = resolve('dist/src/cli/main.js');
    const out = execFileSync(process.execPath, [bin, 'assertion', '--help'], { encoding: 'utf8' });
    expect(out).toMatch(/decode/);
    expect(out).toMatch(/verify/);
    expect(out).toMatch(/sign/);
  });
});
