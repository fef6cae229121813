import { readFile } from 'node:fs/promises';

/** What commands need of the process, passed in so tests can run them in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readFile: (path: string) => Promise<Buffer>;
  /** Whether stderr is a terminal (progress bars) or a log (plain lines). */
  readonly stderrIsTerminal?: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => (path === '-' ? readStdin() : readFile(path)),
  stderrIsTerminal: process.stderr.isTTY === true,
};

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A failure the user can act on: printed as one line, no stack, with an exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
