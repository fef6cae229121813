import { readFileSync } from 'node:fs';
import { Command, CommanderError, type CommandUnknownOpts } from '@commander-js/extra-typings';
import { accessCommands } from './commands/access.js';
import { assertionCommand } from './commands/assertion.js';
import { auditCommand } from './commands/audit.js';
import { hsmCommand } from './commands/hsm.js';
import { keyCommand } from './commands/key.js';
import { custodyCommands } from './commands/custody.js';
import { keymgrCommand } from './commands/keymgr.js';
import { brandCommands } from './commands/brand.js';
import { apikeyCommand } from './commands/apikey.js';
import { deviceCommand } from './commands/device.js';
import { snapCommand } from './commands/snap.js';
import { catalogCommand } from './commands/catalog.js';
import { vaultCommands } from './commands/vault.js';
import { stationCommands } from './commands/station.js';
import { systemUserCommand } from './commands/system-user.js';
import { hardwareIdentityCommand } from './commands/hardware-identity.js';
import { allowlistCommand } from './commands/allowlist.js';
import { applianceCommand } from './commands/appliance.js';
import { syncCommand } from './commands/sync.js';
import { CliError, type CliIo } from './io.js';

const VERSION = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

export function buildProgram(io: CliIo): Command {
  const program = new Command('serial-vault')
    .description('A hardware-backed serial vault for Ubuntu Core brand stores.')
    .version(VERSION)
    .showHelpAfterError()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  program.addCommand(assertionCommand(io));
  program.addCommand(hsmCommand(io));
  const key = keyCommand(io);
  program.addCommand(key);
  for (const cmd of [...vaultCommands(io), ...brandCommands(io), apikeyCommand(io), ...accessCommands(io), auditCommand(io)]) program.addCommand(cmd);
  // The key lifecycle joins the raw HSM commands under `key`, the brand's chain joins `export`.
  const exportCmd = program.commands.find((c) => c.name() === 'export')!;
  for (const cmd of custodyCommands(io, key, exportCmd as unknown as Command)) program.addCommand(cmd);
  for (const cmd of stationCommands(io)) program.addCommand(cmd);
  program.addCommand(systemUserCommand(io));
  program.addCommand(hardwareIdentityCommand(io));
  program.addCommand(allowlistCommand(io));
  program.addCommand(applianceCommand(io));
  program.addCommand(syncCommand(io));
  program.addCommand(deviceCommand(io));
  program.addCommand(catalogCommand(io));
  program.addCommand(snapCommand(io), { hidden: true });
  program.addCommand(keymgrCommand(io), { hidden: true }); // run by snapd as SNAPD_EXT_KEYMGR, through serial-vault-keymgr
  // Commands built apart do not inherit the program's output and exit settings.
  const inherit = (cmd: CommandUnknownOpts) => {
    for (const sub of cmd.commands) {
      sub.copyInheritedSettings(cmd);
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI and returns the exit status; never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof CliError) {
      io.stderr(`serial-vault: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr(`serial-vault: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  }
}
