import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { resolve } from 'node:path';

/** Resolves once `cond()` holds, checked each time the process prints; rejects after `timeoutMs` (a bound). */
export function untilOutput(run: Run, cond: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (cond()) done();
    };
    const deadline = setTimeout(
      () => done(new Error(`not within ${timeoutMs} ms:\n${run.stdout}${run.stderr}`)),
      timeoutMs,
    );
    function done(err?: Error): void {
      clearTimeout(deadline);
      run.child.stdout!.off('data', check);
      if (err) reject(err);
      else resolve();
    }
    run.child.stdout!.on('data', check);
    check();
  });
}

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

/** The endpoint the CLI prints once it listens: read off its output as it comes, bounded by `timeoutMs`. */
export function endpointOf(run: Run, timeoutMs = 10_000): Promise<string> {
  const out = run.child.stdout!;
  return new Promise((resolve, reject) => {
    const failed = (why: string) => () =>
      finish(new Error(`CLI did not start (${why}):\n${run.stdout}\n${run.stderr}`));
    const [onTimeout, onClose] = [failed(`no address within ${timeoutMs} ms`), failed('it exited')];
    const timer = setTimeout(onTimeout, timeoutMs);
    // Registered after run()'s own listener, so run.stdout already holds the chunk.
    const check = (): void => {
      const m = /KeyRelay listening on (http:\/\/\S+)/.exec(run.stdout);
      if (m) finish(undefined, m[1]);
    };
    let settled = false;
    function finish(err: Error | undefined, endpoint?: string): void {
      settled = true;
      clearTimeout(timer);
      out.off('data', check);
      run.child.off('close', onClose);
      if (err) reject(err);
      else resolve(endpoint!);
    }
    out.on('data', check);
    run.child.on('close', onClose);
    check();
    // Already gone before we looked: 'close' will not come again.
    if (!settled && run.child.exitCode !== null && out.readableEnded) onClose();
  });
}
