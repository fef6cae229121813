import { applianceOrigin } from '../../src/sync/push-receiver.js';

/**
 * The sync commands, flags, codes and output the multi-process tests drive
 * (`serial-vault appliance …`, `sync status`, serve's sync listener): the
 * one place to change when they change.
 */
export const SYNC_COMMANDS = {
  /** How a central replica gets its sync listener port: the env override of config `sync.port` (exists in src/config.ts). */
  syncPortEnv: 'SERIAL_VAULT_SYNC_PORT',
  /** Also given as a flag when set (planned `serve --sync-port N`); null: env only. */
  syncPortFlag: null as string | null,
  /** What an appliance's config says to have no sync listener of its own (`sync.port: null` is "off"). */
  applianceSyncConfig: { port: null } as Record<string, unknown>,
  /** On central: makes an appliance and writes its one-time enrolment token to `tokenFile` (`--token-out`: `--token-file` is the admin access token of --url). */
  applianceAdd: (name: string, store: string, tokenFile: string, centralDir: string) => ['appliance', 'add', name, '--store', store, '--token-out', tokenFile, '--data-dir', centralDir],
  /** On the appliance: enrols against central (writes `upstream.url` into its config.json). */
  applianceEnrol: (upstreamUrl: string, tokenFile: string, applianceDir: string) => ['appliance', 'enrol', '--upstream', upstreamUrl, '--token-file', tokenFile, '--data-dir', applianceDir],
  /** On central: refuses the appliance's next sync call. */
  applianceDisable: (name: string, centralDir: string) => ['appliance', 'disable', name, '--data-dir', centralDir],
  /** On the appliance: its sync state as JSON. */
  syncStatus: (applianceDir: string) => ['sync', 'status', '--data-dir', applianceDir, '--json'],
  /** central's issuance_log.origin for rows pushed by an appliance (src/sync/push-receiver.ts: `appliance:NAME`). */
  originOf: applianceOrigin,
  /** The sync listener's URL in serve's start-up line on stderr, if it prints one (else the port we chose is used). */
  syncLine: /\bsync(?: API| listener)?(?: \([^)]*\))? on (https?:\/\/[^\s,;)]+)/,
  /** The refusal of a local write to a replicated table on an appliance. */
  readOnlyCode: 'ERR_REPLICATED_READ_ONLY',
  disabledCode: 'ERR_APPLIANCE_DISABLED',
} as const;
