import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';

/** What `writePrivateFile` did, for the caller to tell the user. */
export interface PrivateWrite {
  /** The file actually written: the target of a symlink, else the path given. */
  written: string;
  /** The mode the file had before, when it let group or others read it (now 0600). */
  wasMode?: number;
}

/**
 * Writes a file that holds the access token (an assistant's config file): into a temporary file
 * in the same directory, fsynced, then renamed over the old one, so a crash or a full disk leaves
 * the old file or the new one, never half of each. The result is 0600 whatever the old mode was.
 * A symlinked file (dotfiles kept in a repository) is written through its real path, so the link
 * stays a link.
 */
export async function writePrivateFile(file: string, text: string): Promise<PrivateWrite> {
  const target = await resolveTarget(file);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const before = await stat(target).catch(() => undefined);
  const tmp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // O_EXCL: never through a file or link someone placed at the temporary name.
    const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
  const wasMode = before && before.mode & 0o077 ? before.mode & 0o777 : undefined;
  return { written: target, wasMode };
}

/** The real path of `file` (following symlinks, dangling ones included), or `file` when it does not exist. */
async function resolveTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // A dangling link: write where it points, and keep the link.
  const link = await lstat(file).catch(() => undefined);
  if (!link?.isSymbolicLink()) return file;
  const to = await readlink(file);
  return isAbsolute(to) ? to : join(dirname(file), to);
}

/** The rename itself on disk (where the platform allows a directory to be fsynced). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open a directory; the rename is as durable as the platform makes it.
  }
}
