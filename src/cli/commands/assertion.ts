import { createPrivateKey } from 'node:crypto';
import { Command } from '@commander-js/extra-typings';
import {
  AssertionError,
  NodeSigner,
  TrustDatabase,
  decodeStream,
  parseRfc3339,
  signAssertion,
  type Assertion,
  type HeaderValue,
} from '../../assertions/index.js';
import { CliError, type CliIo } from '../io.js';

/** The JSON form of an assertion printed by `assertion decode`. */
export function assertionJson(a: Assertion): Record<string, unknown> {
  return {
    type: a.type,
    primaryKey: a.primaryKey,
    signKeyId: a.signKeyId,
    signedAt: a.signedAt.toISOString(),
    headers: a.headers,
    ...(a.body ? { body: a.body.toString('utf8') } : {}),
  };
}

async function readAssertions(io: CliIo, path: string): Promise<Assertion[]> {
  let data: Buffer;
  try {
    data = await io.readFile(path);
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return decodeStream(data);
  } catch (e) {
    if (e instanceof AssertionError) throw new CliError(`cannot decode ${path}: ${e.message} [${e.code}]`, 1);
    throw e;
  }
}

/** JSON header input: strings, lists and maps; numbers and booleans are written as their text. */
function toHeaderValue(v: unknown, path: string): HeaderValue {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((x, i) => toHeaderValue(x, `${path}[${i}]`));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toHeaderValue(x, `${path}.${k}`)]));
  }
  throw new CliError(`header ${path} must be a string, number, boolean, list or map`);
}

export function assertionCommand(io: CliIo): Command {
  const cmd = new Command('assertion').description('decode, verify and sign snapd assertions');

  cmd
    .command('decode')
    .description('print each assertion of FILE as JSON (type, headers, body, signing key id)')
    .argument('<file>', 'a file with one or more assertions ("-" for standard input)')
    .action(async (file) => {
      const assertions = await readAssertions(io, file);
      io.stdout(`${JSON.stringify(assertions.map(assertionJson), null, 2)}\n`);
    });

  cmd
    .command('verify')
    .description(
      'check assertions against trusted roots; prints "ok TYPE KEY" or "error TYPE KEY: reason" per assertion and exits 0 only if all are ok',
    )
    .requiredOption('--trusted <file>', 'a file of trusted root account and account-key assertions (repeatable)', collect)
    .argument('<files...>', 'files of assertions to check; all are added as one batch, prerequisites in any order')
    .action(async (files, options) => {
      const trusted = (await Promise.all(options.trusted.map((f) => readAssertions(io, f)))).flat();
      let db: TrustDatabase;
      try {
        db = new TrustDatabase({ trusted });
      } catch (e) {
        if (e instanceof AssertionError) throw new CliError(`cannot use the trusted roots: ${e.message}`);
        throw e;
      }
      const assertions = (await Promise.all(files.map((f) => readAssertions(io, f)))).flat();
      const results = db.addBatch(assertions);
      for (const { assertion, error } of results) {
        io.stdout(error ? `error ${assertion.ref}: ${error.message}\n` : `ok ${assertion.ref}\n`);
      }
      if (results.some((r) => r.error)) process.exitCode = 1;
    });

  cmd
    .command('sign')
    .description('sign an assertion with a development key held in a PEM file (never a production key: those stay in the HSM)')
    .requiredOption('--key <pem>', 'RSA private key (PKCS#1 or PKCS#8 PEM, at least 4096 bits)')
    .requiredOption('--headers <json>', 'a JSON file with the headers ("-" for standard input)')
    .option('--body <file>', 'a file whose content becomes the body')
    .option('--signed-at <time>', 'signature creation time (RFC 3339), to reproduce a signature; default now')
    .action(async (options) => {
      let key;
      try {
        key = createPrivateKey(await io.readFile(options.key));
      } catch (e) {
        throw new CliError(`cannot load the private key from ${options.key}: ${(e as Error).message}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse((await io.readFile(options.headers)).toString('utf8'));
      } catch (e) {
        throw new CliError(`cannot read the headers from ${options.headers}: ${(e as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new CliError('the headers must be a JSON object');
      }
      const headers = toHeaderValue(parsed, 'headers') as Record<string, HeaderValue>;
      const body = options.body === undefined ? undefined : await io.readFile(options.body);
      let signedAt: Date | undefined;
      if (options.signedAt !== undefined) {
        signedAt = parseRfc3339(options.signedAt);
        if (!signedAt) throw new CliError(`--signed-at must be an RFC 3339 time, not "${options.signedAt}"`);
      }
      try {
        const a = await signAssertion(headers, body, new NodeSigner(key), signedAt ? { signedAt } : {});
        io.stdout(a.encode().toString('utf8'));
      } catch (e) {
        if (e instanceof AssertionError) throw new CliError(`cannot sign: ${e.message} [${e.code}]`, 1);
        throw e;
      }
    });

  return cmd;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
