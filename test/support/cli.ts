import { readFile } from 'node:fs/promises';
import { run } from '../../src/cli/program.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured output. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const previous = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await run(argv, {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readFile: (p) => readFile(p),
    });
    return { code, stdout, stderr };
  } finally {
    process.exitCode = previous;
  }
}
