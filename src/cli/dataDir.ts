import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CliError } from './cliError';

/**
 * Makes sure the data folder exists and can be written, before anything listens: a folder that
 * is a file, cannot be created or is read-only failed with a stack trace, or (read-only) only at
 * shutdown, when the statistics of the whole run were lost.
 */
export function prepareDataDir(dir: string): void {
  const fix = 'pass --data-dir with a folder you can write (or set KEYRELAY_DATA_DIR)';
  const kind = kindOf(dir);
  if (kind === 'file') throw new CliError(`The data folder ${dir} is a file, not a folder: ${fix}.`, 2);
  if (kind === 'missing' || kind === 'blocked') {
    try {
      makeDir(dir);
    } catch (err) {
      throw new CliError(`Cannot create the data folder ${dir} (${codeOf(err)}): ${fix}.`, 2);
    }
  }
  for (const name of ['state.json', 'token']) {
    if (kindOf(join(dir, name)) === 'dir') {
      throw new CliError(
        `${join(dir, name)} is not a file: remove it (KeyRelay writes the ${name === 'token' ? 'token' : 'state'} there), or ${fix}.`,
        2,
      );
    }
  }
  const probe = join(dir, `.write-check-${process.pid}`);
  try {
    writeFileSync(probe, '', { mode: 0o600 });
    rmSync(probe, { force: true });
  } catch (err) {
    throw new CliError(
      `The data folder ${dir} is not writable (${codeOf(err)}): KeyRelay keeps the key health, statistics and token there. Make it writable ("chmod u+w ${dir}") or ${fix}.`,
      2,
    );
  }
}

/**
 * `mkdir -p`, one level at a time: Node 20's `mkdirSync(…, { recursive: true })` loops forever
 * where mkdir keeps answering ENOENT (under /proc), and the CLI hung instead of saying why.
 */
function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (codeOf(err) === 'EEXIST' && kindOf(dir) === 'dir') return;
    if (codeOf(err) !== 'ENOENT' || dirname(dir) === dir || kindOf(dirname(dir)) === 'dir') throw err;
    makeDir(dirname(dir));
    mkdirSync(dir, { mode: 0o700 });
  }
}

/** What stands at `path`: 'blocked' when it cannot be there (ENOTDIR: a file is one of its parents). */
function kindOf(path: string): 'missing' | 'dir' | 'file' | 'blocked' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch (err) {
    return codeOf(err) === 'ENOTDIR' ? 'blocked' : 'missing';
  }
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
