import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve(__dirname, '../../../dist/cli.js');

export interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number>;
}

/** Starts the built CLI with a clean environment (no stray *_API_KEY from the machine). */
export function start(
  args: string[],
  env: Record<string, string> = {},
  as: Pick<SpawnOptions, 'uid' | 'gid'> = {},
): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((r) => child.on('exit', (code, sig) => r(code ?? (sig ? 128 : 1)))),
  };
  child.stdout!.on('data', (d) => {
    run.stdout += d;
  });
  child.stderr!.on('data', (d) => {
    run.stderr += d;
  });
  return run;
}
