import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyStoreError } from './errors.js';

/**
 * Where the user PIN comes from. Never a command-line argument or an
 * environment variable (both leak to process lists and child processes).
 *
 * - `file:/path` or `/path`: a file holding the PIN (one trailing newline
 *   ignored), readable by the vault's user only;
 * - `systemd-credential:NAME`: `$CREDENTIALS_DIRECTORY/NAME`, as systemd's
 *   `LoadCredential=` provides it;
 * - `prompt:`: asked on the terminal, not echoed.
 */
export type PinPrompt = (question: string) => Promise<string>;

const config = (message: string) => new KeyStoreError('ERR_HSM_CONFIG', message);

export async function readPin(source: string | undefined, prompt?: PinPrompt): Promise<string> {
  if (source === undefined || source === '') {
    throw config('no PIN source: add "pin-source=file:/path/to/pin" (or systemd-credential:NAME, or prompt:) to the HSM URI');
  }
  if (source === 'prompt:' || source === 'prompt') {
    if (!prompt) throw config('the PIN source is "prompt:" but there is no terminal to ask on');
    return checked(await prompt('HSM user PIN: '), 'the prompt');
  }
  if (source.startsWith('systemd-credential:')) {
    const name = source.slice('systemd-credential:'.length);
    const dir = process.env['CREDENTIALS_DIRECTORY'];
    if (!dir) throw config(`the PIN source is systemd credential "${name}" but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)`);
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw config(`invalid systemd credential name "${name}"`);
    return fromFile(join(dir, name), false);
  }
  const path = source.startsWith('file:') ? decodeURIComponent(source.slice('file:'.length).replace(/^\/\/(?=\/)/, '')) : source;
  if (!path.startsWith('/')) throw config(`the PIN source "${source}" must be an absolute path, file:/path, systemd-credential:NAME or prompt:`);
  return fromFile(path, true);
}

async function fromFile(path: string, checkMode: boolean): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw config(`cannot read the PIN file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (checkMode && (info.mode & 0o004) !== 0) {
    throw config(`the PIN file ${path} is readable by everyone: chmod 600 it (or 640 for a group)`);
  }
  const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  return checked(text, `the PIN file ${path}`);
}

function checked(pin: string, where: string): string {
  if (pin.length === 0) throw config(`${where} holds an empty PIN`);
  if (/[\r\n]/.test(pin)) throw config(`${where} holds more than one line`);
  return pin;
}

/** Asks on the controlling terminal without echo. */
export const terminalPrompt: PinPrompt = async (question) => {
  const { stdin, stderr } = process;
  if (!stdin.isTTY) throw config('cannot prompt for the PIN: standard input is not a terminal');
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let pin = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(pin);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(config('PIN entry cancelled'));
          return;
        }
        pin = ch === '\u007f' ? pin.slice(0, -1) : pin + ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
    };
    stdin.on('data', onData);
  });
};
