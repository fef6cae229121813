import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The one configuration schema: every option with its default, validated at
 * start, every problem listed with its path.
 */
export const ConfigSchema = z.object({
  dataDir: z.string().min(1),
  database: z
    .discriminatedUnion('client', [
      z.object({ client: z.literal('sqlite'), filename: z.string().optional(), busyTimeoutMs: z.number().int().min(0).default(5000) }),
      z.object({ client: z.literal('pg'), connection: z.string().min(1) }),
    ])
    .default({ client: 'sqlite', busyTimeoutMs: 5000 }),
  hsm: z.object({
    /** PKCS#11 URI of the token, with module-path and pin-source; never a PIN. */
    uri: z.string().startsWith('pkcs11:'),
    /** SoftHSM2's configuration file (the embedded default keeps it in the data directory). */
    softhsmConf: z.string().optional(),
    signers: z.number().int().min(1).max(64).optional(),
    signTimeoutMs: z.number().int().min(100).default(10_000),
  }),
  device: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      basePath: z.string().regex(/^\/(?:[A-Za-z0-9._~-]+\/)*$/, 'must start and end with "/"').default('/v1/'),
      /** Serial requests at once; the rest get a fast 503. About two seconds of SoftHSM2 signing: far from snapd's 30 s timeout. */
      maxInFlight: z.number().int().min(1).default(1000),
      maxBodyBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(256 * 1024),
      requestIdTtlSeconds: z.number().int().min(10).default(600),
      /** How long a request body may take to arrive once its headers have: a client trickling bytes holds a registration slot. */
      bodyTimeoutSeconds: z.number().int().min(1).max(120).default(10),
      /** A connection whose request headers are not complete after this is closed. */
      headersTimeoutSeconds: z.number().int().min(1).max(300).default(10),
    })
    .default({ host: '127.0.0.1', port: 8080, basePath: '/v1/', maxInFlight: 1000, maxBodyBytes: 256 * 1024, requestIdTtlSeconds: 600, bodyTimeoutSeconds: 10, headersTimeoutSeconds: 10 }),
  admin: z
    .object({
      /** The admin listener: admin API, sign-in, metrics, health. Keep it off public networks, or behind a TLS proxy. */
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8081),
      /**
       * The URL browsers use to reach the admin listener (through a proxy, say): the
       * sign-in callback is `<publicUrl>auth/callback`, and with https cookies are Secure.
       * Default: http://<host>:<port>/.
       */
      publicUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** How long a browser session lasts after signing in. */
      sessionHours: z.number().min(0.1).max(24 * 30).default(8),
      /** The longest life a person may give a personal access token. */
      maxTokenDays: z.number().int().min(1).max(3650).default(365),
      /** Largest JSON body the admin API reads. */
      maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
    })
    .default({ host: '127.0.0.1', port: 8081, sessionHours: 8, maxTokenDays: 365, maxBodyBytes: 64 * 1024 }),
  /** Single sign-on for people (OpenID Connect). Without it, only access tokens sign in. */
  sso: z
    .object({
      issuer: z.url({ protocol: /^https?$/ }),
      clientId: z.string().min(1),
      /** A file holding the client secret (relative: in the data directory); absent for a public client. */
      clientSecretFile: z.string().optional(),
      scopes: z.string().default('openid email profile'),
    })
    .optional(),
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** A file to log to instead of standard output (re-opened on SIGHUP, for logrotate). */
      file: z.string().optional(),
    })
    .default({ level: 'info' }),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function parseConfig(input: unknown): Config {
  const result = ConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return result.data;
}

export const CONFIG_FILE = 'config.json';

/** Environment variables that override the configuration file, and where they go. */
export const ENV: ReadonlyArray<readonly [name: string, path: readonly string[], kind: 'string' | 'number']> = [
  ['SERIAL_VAULT_DEVICE_HOST', ['device', 'host'], 'string'],
  ['SERIAL_VAULT_DEVICE_PORT', ['device', 'port'], 'number'],
  ['SERIAL_VAULT_DEVICE_BASE_PATH', ['device', 'basePath'], 'string'],
  ['SERIAL_VAULT_DEVICE_MAX_IN_FLIGHT', ['device', 'maxInFlight'], 'number'],
  ['SERIAL_VAULT_HSM_URI', ['hsm', 'uri'], 'string'],
  ['SERIAL_VAULT_HSM_SIGNERS', ['hsm', 'signers'], 'number'],
  ['SERIAL_VAULT_ADMIN_HOST', ['admin', 'host'], 'string'],
  ['SERIAL_VAULT_ADMIN_PORT', ['admin', 'port'], 'number'],
  ['SERIAL_VAULT_ADMIN_PUBLIC_URL', ['admin', 'publicUrl'], 'string'],
  ['SERIAL_VAULT_LOG_LEVEL', ['log', 'level'], 'string'],
  ['SERIAL_VAULT_LOG_FILE', ['log', 'file'], 'string'],
];

/** Applies SERIAL_VAULT_* variables to a raw configuration; a value that is not a number is reported by name. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): { config: Record<string, unknown>; problems: string[] } {
  const config = structuredClone(raw);
  const problems: string[] = [];
  for (const [name, path, kind] of ENV) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    let value: unknown = text;
    if (kind === 'number') {
      value = Number(text);
      if (!/^\d+$/.test(text)) problems.push(`${name}: expected a whole number, got "${text}"`);
    }
    let node = config as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path.at(-1) as string] = value;
  }
  const url = env['SERIAL_VAULT_DATABASE_URL'];
  if (url) config['database'] = { client: 'pg', connection: url };
  return { config, problems };
}

/** The configuration as it may be shown: passwords in database URLs masked. */
export function maskedConfig(config: Config): Config {
  if (config.database.client !== 'pg') return config;
  return { ...config, database: { ...config.database, connection: config.database.connection.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@') } };
}

/** Reads DATA_DIR/config.json; relative paths in it are relative to the data directory. */
export async function loadConfig(dataDir: string, overrides: Partial<ConfigInput> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const dir = resolve(dataDir);
  let text: string;
  try {
    text = await readFile(join(dir, CONFIG_FILE), 'utf8');
  } catch {
    throw new ConfigError([`cannot read ${join(dir, CONFIG_FILE)}: run "serial-vault init --data-dir ${dataDir}" first`]);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError([`${join(dir, CONFIG_FILE)} is not valid JSON: ${(e as Error).message}`]);
  }
  const fromEnv = applyEnv(raw, env);
  const base = fromEnv.config;
  const merged = { ...base, ...overrides, dataDir: dir, device: { ...(base['device'] as object), ...(overrides.device as object) } };
  const result = ConfigSchema.safeParse(merged);
  const problems = [...fromEnv.problems, ...(result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`))];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return resolvePaths(result.data);
}

/**
 * Relative paths in the configuration are relative to the data directory:
 * the SoftHSM2 configuration file and a `pin-source=file:` without a leading
 * slash. The embedded defaults use them, so a data directory can move.
 */
export function resolvePaths(config: Config): Config {
  const hsm = { ...config.hsm };
  if (hsm.softhsmConf && !isAbsolute(hsm.softhsmConf)) hsm.softhsmConf = join(config.dataDir, hsm.softhsmConf);
  const sso = config.sso?.clientSecretFile && !isAbsolute(config.sso.clientSecretFile) ? { ...config.sso, clientSecretFile: join(config.dataDir, config.sso.clientSecretFile) } : config.sso;
  hsm.uri = hsm.uri.replace(/([?&]pin-source=file:)(?!\/)([^&]*)/, (_, key: string, path: string) => `${key}${join(config.dataDir, decodeURIComponent(path))}`);
  return { ...config, hsm, ...(sso ? { sso } : {}) };
}

export function databaseFile(config: Config): string | undefined {
  return config.database.client === 'sqlite' ? resolve(config.dataDir, config.database.filename ?? 'vault.db') : undefined;
}
