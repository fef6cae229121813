import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/** What the documentation, the environment and `snap set` know of an option: written once, beside its type and default. */
export interface OptionMeta {
  readonly description: string;
  /** The SERIAL_VAULT_* variable that overrides it. */
  readonly env?: string;
  /** The `snap set serial-vault KEY=VALUE` key that sets it. */
  readonly snap?: string;
}

const opt = <T extends z.ZodType>(schema: T, meta: OptionMeta): T => schema.meta({ ...meta });

/**
 * The one configuration schema: every option with its type, default,
 * description, environment variable and snap key, validated at start, every
 * problem listed with its path; a key the schema does not know is an error
 * that names it. The environment and `snap set` tables are drawn from it
 * (`configOptions`).
 */
export const ConfigSchema = z.strictObject({
  dataDir: z.string().min(1),
  database: z
    .discriminatedUnion('client', [
      z.strictObject({ client: z.literal('sqlite'), filename: z.string().optional(), busyTimeoutMs: z.number().int().min(0).default(5000) }),
      z.strictObject({ client: z.literal('pg'), connection: z.string().min(1) }),
    ])
    .default({ client: 'sqlite', busyTimeoutMs: 5000 }),
  hsm: z.strictObject({
    uri: opt(z.string().startsWith('pkcs11:'), { description: 'PKCS#11 URI of the token, with module-path and pin-source; never a PIN', env: 'SERIAL_VAULT_HSM_URI', snap: 'hsm.uri' }),
    tokens: opt(z.array(z.string().startsWith('pkcs11:')).max(16), {
      description: "more tokens beside hsm.uri (same form): a model's serials can be signed by keys in several tokens, and a token that fails is taken out of rotation",
    }).default([]),
    softhsmConf: opt(z.string().optional(), { description: "SoftHSM2's configuration file (the embedded default keeps it in the data directory)" }),
    signers: opt(z.number().int().min(1).max(64).optional(), { description: 'signer threads, each with its own PKCS#11 session', env: 'SERIAL_VAULT_HSM_SIGNERS', snap: 'hsm.signers' }),
    signTimeoutMs: opt(z.number().int().min(100), { description: 'a signer that takes longer is replaced; its caller is told the HSM is unavailable' }).default(10_000),
  }),
  device: z
    .strictObject({
      host: opt(z.string(), { description: 'device API address', env: 'SERIAL_VAULT_DEVICE_HOST', snap: 'device.host' }).default('127.0.0.1'),
      port: opt(z.number().int().min(0).max(65535), { description: 'device API port (0 picks a free one)', env: 'SERIAL_VAULT_DEVICE_PORT', snap: 'device.port' }).default(8080),
      basePath: opt(z.string().regex(/^\/(?:[A-Za-z0-9._~-]+\/)*$/, 'must start and end with "/"'), { description: "where the gadget's device-service.url points", env: 'SERIAL_VAULT_DEVICE_BASE_PATH', snap: 'device.base-path' }).default('/v1/'),
      maxInFlight: opt(z.number().int().min(1), {
        description: "serial requests at once; the rest get a fast 503 (about two seconds of SoftHSM2 signing: far from snapd's 30 s timeout)",
        env: 'SERIAL_VAULT_DEVICE_MAX_IN_FLIGHT',
        snap: 'device.max-in-flight',
      }).default(1000),
      maxBodyBytes: opt(z.number().int().min(1024).max(4 * 1024 * 1024), { description: 'largest registration body read' }).default(256 * 1024),
      requestIdTtlSeconds: opt(z.number().int().min(10), { description: 'how long a request-id may be used', snap: 'device.request-id-ttl' }).default(600),
      bodyTimeoutSeconds: opt(z.number().int().min(1).max(120), {
        description: 'how long a request body may take to arrive once its headers have: a client trickling bytes holds a registration slot',
        snap: 'device.body-timeout',
      }).default(10),
      headersTimeoutSeconds: opt(z.number().int().min(1).max(300), { description: 'a connection whose request headers are not complete after this is closed', snap: 'device.headers-timeout' }).default(10),
      answerWithinSeconds: opt(z.number().min(0.1).max(25), {
        description: "how long a serial request waits for the HSM before it is answered 202 (snapd posts it again later and gets the serial): keep it well under snapd's 30 s timeout",
        env: 'SERIAL_VAULT_DEVICE_ANSWER_WITHIN',
        snap: 'device.answer-within',
      }).default(5),
      queueMax: opt(z.number().int().min(1), { description: 'registrations that may wait for the HSM at once (answered or not); past this a device gets a 503 and retries', snap: 'device.queue-max' }).default(1000),
      keepAnswersMinutes: opt(z.number().int().min(1).max(1440), { description: "how long the answer of a registration answered 202 is kept for snapd's re-post (it posts again every 60 s)", snap: 'device.keep-answers' }).default(10),
    })
    .prefault({}),
  admin: z
    .strictObject({
      host: opt(z.string(), { description: 'the admin listener (admin API, sign-in, metrics, health): keep it off public networks, or behind a TLS proxy', env: 'SERIAL_VAULT_ADMIN_HOST', snap: 'admin.host' }).default('127.0.0.1'),
      port: opt(z.number().int().min(0).max(65535), { description: 'admin listener port (0 picks a free one)', env: 'SERIAL_VAULT_ADMIN_PORT', snap: 'admin.port' }).default(8081),
      publicUrl: opt(z.url({ protocol: /^https?$/ }).optional(), {
        description: 'the URL browsers reach the admin listener at (through a proxy, say): the sign-in callback is <publicUrl>auth/callback, and with https cookies are Secure; default http://<host>:<port>/',
        env: 'SERIAL_VAULT_ADMIN_PUBLIC_URL',
        snap: 'admin.public-url',
      }),
      sessionHours: opt(z.number().min(0.1).max(24 * 30), { description: 'how long a browser session lasts after signing in', snap: 'admin.session-hours' }).default(8),
      maxTokenDays: opt(z.number().int().min(1).max(3650), { description: 'the longest life a person may give a personal access token' }).default(365),
      maxBodyBytes: opt(z.number().int().min(1024).max(16 * 1024 * 1024), { description: 'largest JSON body the admin API reads' }).default(64 * 1024),
    })
    .prefault({}),
  /** Single sign-on for people (OpenID Connect). Without it, only access tokens sign in. */
  sso: z
    .strictObject({
      issuer: opt(z.url({ protocol: /^https?$/ }), { description: "the OpenID Connect provider's issuer URL (found through discovery)", snap: 'sso.issuer' }),
      clientId: opt(z.string().min(1), { description: "the vault's client id at the provider", snap: 'sso.client-id' }),
      clientSecretFile: opt(z.string().optional(), { description: 'a file holding the client secret (relative: in the data directory); absent for a public client', snap: 'sso.client-secret-file' }),
      scopes: opt(z.string(), { description: 'scopes asked for at sign-in', snap: 'sso.scopes' }).default('openid email profile'),
    })
    .optional(),
  catalog: z
    .strictObject({
      maxSnapBytes: opt(z.number().int().min(4096), { description: 'largest .snap an upload may send (bytes)', env: 'SERIAL_VAULT_MAX_SNAP_BYTES', snap: 'catalog.max-snap-bytes' }).default(2 * 1024 * 1024 * 1024),
      blobDir: opt(z.string().optional(), {
        description: 'where .snap files are kept by digest (relative: in the data directory; default DATA_DIR/blobs); central replicas on several machines share one, e.g. on NFS',
        env: 'SERIAL_VAULT_BLOB_DIR',
        snap: 'catalog.blob-dir',
      }),
    })
    .prefault({}),
  store: z
    .strictObject({
      host: opt(z.string(), { description: 'store listener address: what snapd on devices talks to (sessions, snap actions, info, find, assertions, downloads)', env: 'SERIAL_VAULT_STORE_HOST', snap: 'store.host' }).default('127.0.0.1'),
      port: opt(z.number().int().min(0).max(65535), { description: 'store listener port (0 picks a free one)', env: 'SERIAL_VAULT_STORE_PORT', snap: 'store.port' }).default(8082),
      basePath: opt(z.string().regex(/^\/(?:[A-Za-z0-9._~-]+\/)*$/, 'must start and end with "/"'), { description: 'the path prefix the store is served under (behind a proxy that keeps it)', env: 'SERIAL_VAULT_STORE_BASE_PATH', snap: 'store.base-path' }).default('/'),
      publicUrl: opt(z.url({ protocol: /^https?$/ }).optional(), {
        description: 'the URL devices reach the store at (SNAPPY_FORCE_API_URL, or the url of the store assertion): download and assertion URLs are made from it; default http://<host>:<port><basePath>',
        env: 'SERIAL_VAULT_STORE_PUBLIC_URL',
        snap: 'store.public-url',
      }),
      sessionHours: opt(z.number().min(1 / 3600).max(24 * 30), { description: 'how long a device session lasts; snapd makes a new one when told it expired', snap: 'store.session-hours' }).default(24),
      nonceSeconds: opt(z.number().int().min(5).max(3600), { description: 'how long a session nonce may be used' }).default(300),
      clockSkewSeconds: opt(z.number().int().min(5).max(7 * 86400), { description: "how far a device-session-request's timestamp may be from the vault's clock", snap: 'store.clock-skew' }).default(600),
      anonymousStore: opt(z.string().min(1).optional(), { description: 'a store whose public snaps requests without a device session may see (off: they see nothing)', snap: 'store.anonymous-store' }),
    })
    .prefault({}),
  /**
   * An appliance follows a central instance of the same program: store, role
   * and catalog state come down read-only, what it issues goes up. With no
   * upstream the instance is authoritative (standalone or central).
   */
  upstream: z
    .strictObject({
      url: opt(z.url({ protocol: /^https?$/ }), { description: "central's sync listener (https in production): set by serial-vault appliance enrol", snap: 'upstream.url' }),
      caFile: opt(z.string().optional(), { description: "a PEM file of the certificate authorities central's TLS certificate is checked against (relative: in the data directory); default the system's" }),
      timeoutSeconds: opt(z.number().int().min(1).max(300), { description: 'the longest any call to central may take, long-polls included', snap: 'upstream.timeout' }).default(60),
      waitSeconds: opt(z.number().int().min(0).max(120), { description: 'how long a pull of the change feed waits at central for a change before it answers with none', snap: 'upstream.wait' }).default(25),
      pushEverySeconds: opt(z.number().min(0.05).max(3600), { description: 'how often issued serials are pushed to central (at once when a batch fills)', snap: 'upstream.push-every' }).default(2),
      leaseSize: opt(z.number().int().min(1).max(1_000_000), { description: 'vault-allocated serial numbers leased from central per model at a time; a new lease is asked for when a fifth is left', snap: 'upstream.lease-size' }).default(1000),
    })
    .optional(),
  /** Central's listener for appliances: enrolment, the change feed, pushes and serial leases. */
  sync: z
    .strictObject({
      host: opt(z.string(), { description: 'sync listener address (central): appliances reach it; put it behind TLS (sync.tlsCert) or a TLS proxy', env: 'SERIAL_VAULT_SYNC_HOST', snap: 'sync.host' }).default('127.0.0.1'),
      port: opt(z.number().int().min(0).max(65535).nullable(), { description: 'sync listener port (0 picks a free one; null: no sync listener)', env: 'SERIAL_VAULT_SYNC_PORT', snap: 'sync.port' }).default(8083),
      tlsCert: opt(z.string().optional(), { description: 'PEM certificate chain the sync listener serves HTTPS with (relative: in the data directory)', snap: 'sync.tls-cert' }),
      tlsKey: opt(z.string().optional(), { description: "the certificate's PEM private key (relative: in the data directory)", snap: 'sync.tls-key' }),
      maxBodyBytes: opt(z.number().int().min(1024).max(64 * 1024 * 1024), { description: 'largest body a sync call may send' }).default(8 * 1024 * 1024),
      tokenMinutes: opt(z.number().int().min(1).max(24 * 60), { description: "how long an appliance's sync token lasts before it signs a new challenge" }).default(15),
    })
    .prefault({}),
  /** Signed checkpoints of the audit chain, made in the background while the vault serves (`serial-vault audit checkpoint` makes one now). */
  audit: z
    .strictObject({
      checkpointEvery: opt(z.number().int().min(1).max(1_000_000), {
        description: 'sign a checkpoint of the audit chain once this many entries were written since the last one',
        env: 'SERIAL_VAULT_AUDIT_CHECKPOINT_EVERY',
        snap: 'audit.checkpoint-every',
      }).default(100),
      checkpointMinutes: opt(z.number().min(1).max(24 * 60), {
        description: 'and at least this often (minutes) while any entry was written since',
        env: 'SERIAL_VAULT_AUDIT_CHECKPOINT_MINUTES',
        snap: 'audit.checkpoint-minutes',
      }).default(15),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: opt(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), { description: 'the lowest level logged', env: 'SERIAL_VAULT_LOG_LEVEL', snap: 'log.level' }).default('info'),
      file: opt(z.string().optional(), { description: 'a file to log to instead of standard output (re-opened on SIGHUP, for logrotate)', env: 'SERIAL_VAULT_LOG_FILE' }),
    })
    .prefault({}),
});

/** One option of the schema, as the environment, `snap set` and the docs see it. */
export interface ConfigOption extends Partial<OptionMeta> {
  readonly path: readonly string[];
  readonly kind: 'string' | 'number' | 'other';
}

/** Every option of the schema with its metadata, drawn from the schema itself (nested objects walked, wrappers unwrapped). */
export function configOptions(): ConfigOption[] {
  type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType> };
  const out: ConfigOption[] = [];
  const walk = (schema: z.ZodType, path: string[]) => {
    let s = schema;
    let meta = (s.meta() ?? {}) as Partial<OptionMeta>;
    for (let def = s._zod.def as unknown as Def; ['default', 'prefault', 'optional', 'nullable'].includes(def.type) && def.innerType; def = s._zod.def as unknown as Def) {
      s = def.innerType;
      meta = { ...((s.meta() ?? {}) as Partial<OptionMeta>), ...meta };
    }
    const def = s._zod.def as unknown as Def;
    if (def.type === 'object' && def.shape) {
      for (const [k, v] of Object.entries(def.shape)) walk(v, [...path, k]);
      return;
    }
    out.push({ path, kind: def.type === 'number' ? 'number' : def.type === 'string' || def.type === 'enum' ? 'string' : 'other', ...meta });
  };
  walk(ConfigSchema, []);
  return out;
}

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

/** Environment variables that override the configuration file, and where they go: drawn from the schema. */
export const ENV: ReadonlyArray<readonly [name: string, path: readonly string[], kind: 'string' | 'number']> = configOptions().flatMap((o) =>
  o.env ? [[o.env, o.path, o.kind === 'number' ? 'number' : 'string'] as const] : [],
);

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
  const merged = { ...base, ...overrides, dataDir: dir, device: { ...(base['device'] as object), ...(overrides.device as object) }, store: { ...(base['store'] as object), ...(overrides.store as object) } };
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
  const absolutePin = (uri: string) => uri.replace(/([?&]pin-source=file:)(?!\/)([^&]*)/, (_, key: string, path: string) => `${key}${join(config.dataDir, decodeURIComponent(path))}`);
  hsm.uri = absolutePin(hsm.uri);
  hsm.tokens = hsm.tokens.map(absolutePin);
  const inDataDir = (f: string | undefined) => (f && !isAbsolute(f) ? join(config.dataDir, f) : f);
  const sync = { ...config.sync, ...(config.sync.tlsCert ? { tlsCert: inDataDir(config.sync.tlsCert) } : {}), ...(config.sync.tlsKey ? { tlsKey: inDataDir(config.sync.tlsKey) } : {}) };
  const catalog = { ...config.catalog, blobDir: inDataDir(config.catalog.blobDir) ?? join(config.dataDir, 'blobs') };
  const upstream = config.upstream?.caFile ? { ...config.upstream, caFile: inDataDir(config.upstream.caFile) } : config.upstream;
  return { ...config, hsm, sync, catalog, ...(sso ? { sso } : {}), ...(upstream ? { upstream } : {}) };
}

export function databaseFile(config: Config): string | undefined {
  return config.database.client === 'sqlite' ? resolve(config.dataDir, config.database.filename ?? 'vault.db') : undefined;
}

/**
 * Where devices reach the store listener, ending in "/": the configured
 * public URL, else its own address (a port of 0 is replaced once it
 * listens, see serveStore).
 */
export function storePublicUrl(config: Config, port = config.store.port): string {
  if (config.store.publicUrl) return config.store.publicUrl.endsWith('/') ? config.store.publicUrl : `${config.store.publicUrl}/`;
  const host = config.store.host.includes(':') ? `[${config.store.host}]` : config.store.host;
  return `http://${host}:${port}${config.store.basePath}`;
}
